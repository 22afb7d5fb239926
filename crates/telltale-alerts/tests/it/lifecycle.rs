//! The alert life cycle under a controlled clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use telltale_alerts::silence::Silences;
use telltale_alerts::{AlertEngine, HistoryKind, NotificationKind, Phase};
use telltale_model::alert::{AlertRule, AlertSettings, QuietHours};
use telltale_model::time::ManualClock;
use telltale_model::{ConnState, Timestamp};

const T0: i64 = 1_764_000_000; // 2025-11-24T16:00:00Z

fn rule(toml_text: &str) -> AlertRule {
    toml::from_str(toml_text).unwrap()
}

fn cpu_rule() -> AlertRule {
    rule("name = \"cpu high\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">\"\nvalue = 90\nclear = 80\nfor = \"30s\"\nseverity = \"critical\"\n")
}

fn setup(settings: AlertSettings, rules: &[AlertRule]) -> (AlertEngine, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_secs(T0));
    let mut e = AlertEngine::new(settings, Arc::new(clock.clone()), 0);
    assert!(e.set_feed_rules(1, "web-1", rules).is_empty());
    (e, clock)
}

fn cpu(e: &mut AlertEngine, v: f64) {
    e.on_sample(1, "cpu", &BTreeMap::new(), v);
}

fn step(e: &mut AlertEngine, c: &ManualClock, secs: u64) {
    c.advance(Duration::from_secs(secs));
    e.tick();
}

fn kinds(out: &telltale_alerts::Output) -> Vec<NotificationKind> {
    out.notifications.iter().map(|n| n.kind).collect()
}

#[test]
fn fires_only_after_the_for_duration() {
    let (mut e, c) = setup(AlertSettings::default(), &[cpu_rule()]);
    cpu(&mut e, 95.0);
    let out = e.drain();
    assert!(out.notifications.is_empty());
    assert_eq!(out.changed[0].phase, Phase::Pending);
    step(&mut e, &c, 20);
    assert!(
        e.drain().notifications.is_empty(),
        "fired before `for` elapsed"
    );
    step(&mut e, &c, 10);
    let out = e.drain();
    assert_eq!(kinds(&out), vec![NotificationKind::Fired]);
    let n = &out.notifications[0];
    assert_eq!(n.summary, "web-1: cpu is 95 (> 90)");
    assert_eq!(n.severity, telltale_model::alert::Severity::Critical);
    assert_eq!(out.changed.last().unwrap().phase, Phase::Firing);
    // Still above: no duplicate.
    cpu(&mut e, 97.0);
    step(&mut e, &c, 60);
    assert!(e.drain().notifications.is_empty());
}

#[test]
fn hysteresis_keeps_a_hovering_value_from_flapping() {
    let mut r = cpu_rule();
    r.for_duration = None;
    let (mut e, c) = setup(AlertSettings::default(), &[r]);
    cpu(&mut e, 91.0);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Fired]);
    // Hovering between clear (80) and value (90): stays firing, says nothing.
    for v in [89.0, 91.0, 85.0, 90.5, 81.0, 92.0] {
        cpu(&mut e, v);
        step(&mut e, &c, 5);
    }
    let out = e.drain();
    assert!(out.notifications.is_empty(), "{:?}", out.notifications);
    assert!(e.instances().all(|i| i.phase == Phase::Firing));
    cpu(&mut e, 79.0);
    let out = e.drain();
    assert_eq!(kinds(&out), vec![NotificationKind::Resolved]);
    assert_eq!(
        out.notifications[0].summary, "Resolved after 30 s: web-1: cpu is 79 (threshold 90)",
        "the value now and how long it fired, not the value that fired it"
    );
    assert_eq!(
        out.notifications[0].body,
        "Fired as: web-1: cpu is 91 (> 90) · cpu high"
    );
    assert!(out
        .history
        .iter()
        .any(|h| h.kind == HistoryKind::Resolved && h.value == Some(79.0)));
}

#[test]
fn resolve_for_holds_a_cleared_alert_until_it_stays_cleared() {
    let mut r = cpu_rule();
    r.for_duration = None;
    r.resolve_for = Some(telltale_model::duration::Dur::secs(60));
    let (mut e, c) = setup(AlertSettings::default(), &[r]);
    cpu(&mut e, 95.0);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Fired]);
    // A dip below `clear` for 30 s, then back up: still firing, nothing said.
    cpu(&mut e, 70.0);
    step(&mut e, &c, 30);
    cpu(&mut e, 93.0);
    step(&mut e, &c, 45);
    let out = e.drain();
    assert!(out.notifications.is_empty(), "{:?}", out.notifications);
    assert!(out.history.iter().all(|h| h.kind != HistoryKind::Resolved));
    assert!(e.instances().all(|i| i.phase == Phase::Firing));
    // Cleared again; the wait starts over and resolves 60 s later, on a
    // tick, although no sample came meanwhile.
    cpu(&mut e, 60.0);
    step(&mut e, &c, 59);
    assert!(
        e.drain().notifications.is_empty(),
        "resolved before resolve_for"
    );
    step(&mut e, &c, 1);
    let out = e.drain();
    assert_eq!(kinds(&out), vec![NotificationKind::Resolved]);
    assert!(out
        .history
        .iter()
        .any(|h| h.kind == HistoryKind::Resolved && h.value == Some(60.0)));
    assert!(e.instances().all(|i| i.phase == Phase::Resolved));
}

#[test]
fn flapping_input_never_reaches_firing() {
    let (mut e, c) = setup(AlertSettings::default(), &[cpu_rule()]);
    for _ in 0..20 {
        cpu(&mut e, 95.0);
        step(&mut e, &c, 10);
        cpu(&mut e, 50.0);
        step(&mut e, &c, 10);
    }
    let out = e.drain();
    assert!(out.notifications.is_empty());
    assert_eq!(
        out.history
            .iter()
            .filter(|h| h.kind == HistoryKind::Cancelled)
            .count(),
        20
    );
    assert!(!out.history.iter().any(|h| h.kind == HistoryKind::Fired));
}

#[test]
fn restart_neither_renotifies_nor_forgets() {
    let mut r = cpu_rule();
    r.for_duration = None;
    let (mut e, c) = setup(AlertSettings::default(), &[r.clone()]);
    cpu(&mut e, 99.0);
    let out = e.drain();
    assert_eq!(out.notifications.len(), 1);
    let persisted: Vec<_> = e.instances().cloned().collect();

    // "Restart": a new engine restored from what was persisted.
    let mut e2 = AlertEngine::new(AlertSettings::default(), Arc::new(c.clone()), 0);
    e2.set_feed_rules(1, "web-1", &[r]);
    e2.restore(persisted, Silences::default());
    cpu(&mut e2, 99.0);
    step(&mut e2, &c, 120);
    assert!(
        e2.drain().notifications.is_empty(),
        "re-notified after restart"
    );
    let id = e2.instances().next().unwrap().id;
    assert_eq!(e2.instances().next().unwrap().phase, Phase::Firing);
    cpu(&mut e2, 10.0);
    let out = e2.drain();
    assert_eq!(kinds(&out), vec![NotificationKind::Resolved]);
    assert_eq!(out.notifications[0].alert_id, Some(id));
}

#[test]
fn ack_stops_reminders_for_this_firing_only() {
    let mut r = cpu_rule();
    r.for_duration = None;
    let settings = AlertSettings {
        renotify: Some(telltale_model::duration::Dur::secs(300)),
        ..Default::default()
    };
    let (mut e, c) = setup(settings, &[r]);
    cpu(&mut e, 99.0);
    e.drain();
    step(&mut e, &c, 300);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Reminder]);
    let id = e.instances().next().unwrap().id;
    e.ack(id, "test").unwrap();
    let out = e.drain();
    assert!(out
        .history
        .iter()
        .any(|h| h.kind == HistoryKind::Acknowledged));
    step(&mut e, &c, 900);
    assert!(e.drain().notifications.is_empty(), "reminded after ack");
    // Resolve, fire again: a new firing is not acknowledged.
    cpu(&mut e, 10.0);
    cpu(&mut e, 99.0);
    let out = e.drain();
    assert_eq!(
        kinds(&out),
        vec![NotificationKind::Resolved, NotificationKind::Fired]
    );
    step(&mut e, &c, 300);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Reminder]);
    assert!(e.ack(9999, "x").is_err());
}

#[test]
fn snooze_and_mute_hold_notifications_until_they_expire() {
    let mut r = cpu_rule();
    r.for_duration = None;
    let (mut e, c) = setup(AlertSettings::default(), &[r]);
    e.snooze_feed(1, Duration::from_secs(3600));
    cpu(&mut e, 99.0);
    let out = e.drain();
    assert!(out.notifications.is_empty());
    assert!(out
        .history
        .iter()
        .any(|h| h.kind == HistoryKind::Suppressed && h.detail.contains("snoozed")));
    assert!(
        out.history.iter().any(|h| h.kind == HistoryKind::Fired),
        "history keeps the firing"
    );
    cpu(&mut e, 10.0);
    e.drain();
    step(&mut e, &c, 3601);
    assert!(e.drain().silences_changed, "expired snooze is dropped");
    cpu(&mut e, 99.0);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Fired]);
    cpu(&mut e, 10.0);
    e.drain();

    // Global mute for 1 h, then it expires.
    e.mute(Some(Duration::from_secs(3600)));
    cpu(&mut e, 99.0);
    assert!(e.drain().notifications.is_empty());
    cpu(&mut e, 10.0);
    e.drain();
    step(&mut e, &c, 3600);
    cpu(&mut e, 99.0);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Fired]);
    cpu(&mut e, 10.0);
    e.drain();

    // Mute until turned off.
    e.mute(None);
    step(&mut e, &c, 86_400);
    cpu(&mut e, 99.0);
    assert!(e.drain().notifications.is_empty());
    e.unmute();
    cpu(&mut e, 10.0);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Resolved]);

    // Snoozing one rule via an alert id (the notification's "Snooze 1 h").
    let id = e.instances().next().unwrap().id;
    e.snooze_alert(id, Duration::from_secs(3600)).unwrap();
    cpu(&mut e, 99.0);
    assert!(e.drain().notifications.is_empty());
}

#[test]
fn quiet_hours_let_only_critical_through_and_end() {
    let warn =
        rule("name = \"mem\"\nkind = \"threshold\"\nmetric = \"mem\"\nop = \">=\"\nvalue = 90\n");
    let mut crit = cpu_rule();
    crit.for_duration = None;
    // T0 is 16:00 UTC; quiet 15:00-17:00.
    let settings = AlertSettings {
        quiet_hours: Some(QuietHours {
            start: "15:00".into(),
            end: "17:00".into(),
            time_zone: None,
        }),
        ..Default::default()
    };
    let (mut e, c) = setup(settings, &[warn, crit]);
    e.on_sample(1, "mem", &BTreeMap::new(), 95.0);
    cpu(&mut e, 99.0);
    let out = e.drain();
    assert_eq!(out.notifications.len(), 1);
    assert!(out.notifications[0].summary.contains("cpu"));
    assert!(out.history.iter().any(|h| h.detail.contains("quiet hours")));
    e.on_sample(1, "mem", &BTreeMap::new(), 10.0);
    e.drain();
    step(&mut e, &c, 3600); // 17:00: quiet hours over
    e.on_sample(1, "mem", &BTreeMap::new(), 95.0);
    let out = e.drain();
    assert_eq!(out.notifications.len(), 1);
    assert!(out.notifications[0].summary.contains("mem"));
}

#[test]
fn flood_control_summarises_and_keeps_history() {
    let rules: Vec<AlertRule> = (0..8)
        .map(|i| {
            rule(&format!(
                "name = \"r{i}\"\nkind = \"threshold\"\nmetric = \"m{i}\"\nop = \">\"\nvalue = 1\n"
            ))
        })
        .collect();
    let settings = AlertSettings {
        flood_max: 3,
        flood_window: telltale_model::duration::Dur::secs(60),
        ..Default::default()
    };
    let clock = ManualClock::new(Timestamp::from_secs(T0));
    let mut e = AlertEngine::new(settings, Arc::new(clock.clone()), 0);
    e.set_feed_rules(1, "a", &rules[..4]);
    e.set_feed_rules(2, "b", &rules[4..6]);
    e.set_feed_rules(3, "c", &rules[6..]);
    for (feed, range) in [(1, 0..4), (2, 4..6), (3, 6..8)] {
        for i in range {
            e.on_sample(feed, &format!("m{i}"), &BTreeMap::new(), 5.0);
        }
    }
    let out = e.drain();
    assert_eq!(out.notifications.len(), 3);
    assert_eq!(
        out.history
            .iter()
            .filter(|h| h.kind == HistoryKind::Fired)
            .count(),
        8
    );
    assert_eq!(
        out.history
            .iter()
            .filter(|h| h.kind == HistoryKind::Suppressed && h.detail.contains("flood"))
            .count(),
        5
    );
    clock.advance(Duration::from_secs(60));
    e.tick();
    let out = e.drain();
    assert_eq!(kinds(&out), vec![NotificationKind::Summary]);
    assert_eq!(out.notifications[0].summary, "8 alerts firing on 3 feeds");
    assert!(out.notifications[0]
        .body
        .contains("5 notifications were held back"));
}

#[test]
fn down_stale_status_and_keyword_rules() {
    let rules = vec![
        rule("name = \"down\"\nkind = \"down\"\nafter = \"30s\"\nseverity = \"critical\"\n"),
        rule("name = \"stale\"\nkind = \"stale\"\nafter = \"60s\"\n"),
        rule("name = \"status\"\nkind = \"status\"\n"),
        rule("name = \"kw\"\nkind = \"keyword\"\npattern = \"level=critical\"\n"),
    ];
    let (mut e, c) = setup(
        AlertSettings {
            flood_max: 100,
            ..Default::default()
        },
        &rules,
    );
    e.on_state(1, &ConnState::Live);
    e.on_message(1, "level=info", Some((true, "ok")));
    step(&mut e, &c, 10);
    assert!(e.drain().notifications.is_empty());

    e.on_state(
        1,
        &ConnState::Retrying {
            attempt: 1,
            next_at: Timestamp(0),
            reason: "refused".into(),
        },
    );
    step(&mut e, &c, 20);
    assert!(
        e.drain().notifications.is_empty(),
        "down fired before `after`"
    );
    step(&mut e, &c, 10);
    let out = e.drain();
    assert_eq!(out.notifications.len(), 1);
    assert_eq!(out.notifications[0].summary, "web-1 is down");
    step(&mut e, &c, 30); // 60 s since the last message
    let out = e.drain();
    assert_eq!(out.notifications.len(), 1);
    assert_eq!(out.notifications[0].summary, "web-1: no data for 1m");
    e.on_state(1, &ConnState::Live);
    e.on_message(1, "level=critical disk failing", Some((false, "degraded")));
    let out = e.drain();
    let summaries: Vec<&str> = out
        .notifications
        .iter()
        .map(|n| n.summary.as_str())
        .collect();
    assert!(
        summaries.contains(&"Resolved after 30 s: web-1 is down"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"Resolved after 0 s: web-1: no data for 1m"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"web-1: status is degraded"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"web-1: payload matches `level=critical`"),
        "{summaries:?}"
    );

    // An HTTP failure (`up` = 0) counts as down too.
    let (mut e, c) = setup(AlertSettings::default(), &rules[..1]);
    e.on_state(1, &ConnState::Live);
    e.on_sample(1, "up", &BTreeMap::new(), 0.0);
    step(&mut e, &c, 31);
    assert_eq!(e.drain().notifications.len(), 1);
    e.on_sample(1, "up", &BTreeMap::new(), 1.0);
    assert_eq!(kinds(&e.drain()), vec![NotificationKind::Resolved]);
}

#[test]
fn labelled_series_alert_separately() {
    let r = rule("name = \"disk\"\nkind = \"threshold\"\nmetric = \"disk\"\nop = \">\"\nvalue = 90\nlabels = { mount = \"/\" }\n");
    let (mut e, _c) = setup(AlertSettings::default(), &[r]);
    let root: BTreeMap<String, String> =
        [("mount".into(), "/".into()), ("dev".into(), "sda".into())].into();
    let other: BTreeMap<String, String> = [("mount".into(), "/boot".into())].into();
    e.on_sample(1, "disk", &other, 99.0);
    assert!(e.drain().notifications.is_empty(), "label matcher ignored");
    e.on_sample(1, "disk", &root, 99.0);
    let out = e.drain();
    assert_eq!(out.notifications.len(), 1);
    assert!(out.changed[0].series.contains("sda"));
}

#[test]
fn settings_changed_while_running_apply_to_the_next_decision() {
    let rules: Vec<AlertRule> = (0..6)
        .map(|i| {
            rule(&format!(
                "name = \"r{i}\"\nkind = \"threshold\"\nmetric = \"m{i}\"\nop = \">\"\nvalue = 1\n"
            ))
        })
        .collect();
    let (mut e, c) = setup(AlertSettings::default(), &rules);
    let fire = |e: &mut AlertEngine, i: usize| {
        e.on_sample(1, &format!("m{i}"), &BTreeMap::new(), 5.0);
        e.drain()
    };
    // Default flood_max is 5; lowered to 2 while running.
    e.set_settings(AlertSettings {
        flood_max: 2,
        ..AlertSettings::default()
    });
    let sent: usize = (0..4).map(|i| fire(&mut e, i).notifications.len()).sum();
    assert_eq!(sent, 2, "flood_max 2 must hold back the 3rd and 4th");
    // Another change within the window keeps what was held …
    e.set_settings(AlertSettings {
        flood_max: 2,
        notify_resolved: false,
        ..AlertSettings::default()
    });
    // … so the held ones are still summarised after the window.
    step(&mut e, &c, 60);
    let out = e.drain();
    assert_eq!(kinds(&out), vec![NotificationKind::Summary]);
    assert!(out.notifications[0]
        .body
        .contains("2 notifications were held back"));
    // Quiet hours turned on (it is 16:00 UTC): a warning is held back.
    e.set_settings(AlertSettings {
        flood_max: 10,
        quiet_hours: Some(QuietHours {
            start: "15:00".into(),
            end: "17:00".into(),
            time_zone: None,
        }),
        ..AlertSettings::default()
    });
    let out = fire(&mut e, 4);
    assert!(out.notifications.is_empty(), "{:?}", out.notifications);
    assert!(out.history.iter().any(|h| h.detail.contains("quiet hours")));
    // … and off again: the next one notifies.
    e.set_settings(AlertSettings {
        flood_max: 10,
        ..AlertSettings::default()
    });
    assert_eq!(kinds(&fire(&mut e, 5)), vec![NotificationKind::Fired]);
    // No reminders by default; turning re-notify on sends them.
    step(&mut e, &c, 300);
    assert!(e.drain().notifications.is_empty());
    e.set_settings(AlertSettings {
        flood_max: 10,
        renotify: Some(telltale_model::duration::Dur::secs(120)),
        ..AlertSettings::default()
    });
    step(&mut e, &c, 1);
    let out = e.drain();
    assert!(!out.notifications.is_empty());
    assert!(kinds(&out).iter().all(|k| *k == NotificationKind::Reminder));
}

#[test]
fn quiet_hours_follow_their_time_zone_across_daylight_saving() {
    // Quiet 22:00-07:00 in Berlin. Berlin leaves summer time on
    // 2026-10-25: 06:30 local is 04:30 UTC before it and 05:30 UTC after.
    let warn =
        rule("name = \"mem\"\nkind = \"threshold\"\nmetric = \"mem\"\nop = \">=\"\nvalue = 90\n");
    let settings = AlertSettings {
        quiet_hours: Some(QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            time_zone: Some("Europe/Berlin".into()),
        }),
        ..Default::default()
    };
    let at = |s: &str| Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_microsecond());
    // The engine's own zone is UTC: only the named zone can hold these.
    let clock = ManualClock::new(at("2026-10-24T04:30:00Z"));
    let mut e = AlertEngine::new(settings, Arc::new(clock.clone()), 0);
    assert!(e.set_feed_rules(1, "web-1", &[warn]).is_empty());
    let fire_and_clear = |e: &mut AlertEngine| {
        e.on_sample(1, "mem", &BTreeMap::new(), 95.0);
        let out = e.drain();
        e.on_sample(1, "mem", &BTreeMap::new(), 10.0);
        e.drain();
        out
    };
    let held = |out: &telltale_alerts::Output| {
        out.notifications.is_empty() && out.history.iter().any(|h| h.detail.contains("quiet hours"))
    };
    assert!(held(&fire_and_clear(&mut e)), "06:30 in summer time");
    clock.set(at("2026-10-26T05:30:00Z"));
    assert!(held(&fire_and_clear(&mut e)), "06:30 in winter time");
    // 07:15 in winter time is 06:15 UTC: an offset read once in summer
    // would put it at 08:15 and, for 05:30 UTC above, at 07:30 (not quiet).
    clock.set(at("2026-10-26T06:15:00Z"));
    let out = fire_and_clear(&mut e);
    assert_eq!(out.notifications.len(), 1, "07:15: quiet hours are over");
}
