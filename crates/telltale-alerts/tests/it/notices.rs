//! What the notification history and the popups tell, under a controlled
//! clock: `notified` only once a server took the notification, popups
//! withdrawn or replaced when their alert is acknowledged or resolves, and
//! after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use telltale_alerts::silence::Silences;
use telltale_alerts::{
    AlertEngine, Delivery, DeliveryOutcome, HistoryKind, NotificationKind, Withdrawal,
};
use telltale_model::alert::{AlertRule, AlertSettings};
use telltale_model::time::{Clock, ManualClock};
use telltale_model::Timestamp;

const T0: i64 = 1_764_000_000;

fn cpu_rule() -> AlertRule {
    toml::from_str("name = \"cpu high\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">\"\nvalue = 90\nclear = 80\nseverity = \"critical\"\n").unwrap()
}

fn setup(settings: AlertSettings) -> (AlertEngine, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_secs(T0));
    let mut e = AlertEngine::new(settings, Arc::new(clock.clone()), 0);
    assert!(e.set_feed_rules(1, "web-1", &[cpu_rule()]).is_empty());
    (e, clock)
}

fn cpu(e: &mut AlertEngine, v: f64) {
    e.on_sample(1, "cpu", &BTreeMap::new(), v);
}

fn history_kinds(out: &telltale_alerts::Output) -> Vec<HistoryKind> {
    out.history.iter().map(|h| h.kind).collect()
}

/// Fires, and reports the fired popup as shown with server id `id`.
fn fire_and_show(e: &mut AlertEngine, c: &ManualClock, id: u32) -> i64 {
    cpu(e, 97.0);
    let out = e.drain();
    let n = out.notifications[0].clone();
    e.record_delivery(&Delivery {
        notification: n.clone(),
        outcome: DeliveryOutcome::Shown(Some(id)),
        retries: 0,
        at: c.now(),
    });
    e.drain();
    n.alert_id.unwrap()
}

#[test]
fn firing_is_not_recorded_as_notified_before_a_server_takes_it() {
    let (mut e, _c) = setup(AlertSettings::default());
    cpu(&mut e, 97.0);
    let out = e.drain();
    assert_eq!(out.notifications.len(), 1, "the decision to notify");
    assert_eq!(
        history_kinds(&out),
        vec![HistoryKind::Pending, HistoryKind::Fired],
        "no `notified` until a notification server took it"
    );
}

#[test]
fn delivery_reports_become_history() {
    let (mut e, c) = setup(AlertSettings::default());
    cpu(&mut e, 97.0);
    let n = e.drain().notifications[0].clone();
    let id = n.alert_id.unwrap();
    let report = |outcome, retries| Delivery {
        notification: n.clone(),
        outcome,
        retries,
        at: c.now(),
    };
    e.record_delivery(&report(
        DeliveryOutcome::Failed {
            reason: "org.freedesktop.Notifications was not provided".into(),
            retrying: true,
        },
        0,
    ));
    e.record_delivery(&report(DeliveryOutcome::Shown(Some(42)), 2));
    let out = e.drain();
    let rows: Vec<(HistoryKind, &str)> = out
        .history
        .iter()
        .map(|h| (h.kind, h.detail.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                HistoryKind::NotDelivered,
                "web-1: cpu is 97 (> 90): org.freedesktop.Notifications was not provided (retrying)"
            ),
            (
                HistoryKind::Notified,
                "web-1: cpu is 97 (> 90) (after 2 retries)"
            ),
        ]
    );
    assert!(out.history.iter().all(|h| h.alert_id == id));
    assert_eq!(e.instances().next().unwrap().notice_id, Some(42));

    // Notifications about no alert (flood summary, Telltale's health) have
    // no per-alert history.
    let mut summary = n.clone();
    summary.alert_id = None;
    summary.kind = NotificationKind::Summary;
    e.record_delivery(&Delivery {
        notification: summary,
        outcome: DeliveryOutcome::Shown(Some(43)),
        retries: 0,
        at: c.now(),
    });
    assert!(e.drain().history.is_empty());
}

#[test]
fn acknowledging_withdraws_the_popup() {
    let (mut e, c) = setup(AlertSettings::default());
    let id = fire_and_show(&mut e, &c, 7);
    e.ack(id, "operator").unwrap();
    let out = e.drain();
    assert_eq!(
        out.withdrawn,
        vec![Withdrawal {
            alert_id: id,
            notice_id: Some(7),
            why: "the alert was acknowledged",
        }]
    );
    assert_eq!(out.changed.last().unwrap().notice_id, None);
    // Acknowledging twice withdraws once.
    e.ack(id, "operator").unwrap();
    assert!(e.drain().withdrawn.is_empty());
}

#[test]
fn resolving_replaces_the_popup_or_closes_it() {
    let (mut e, c) = setup(AlertSettings::default());
    fire_and_show(&mut e, &c, 7);
    cpu(&mut e, 50.0);
    let out = e.drain();
    assert_eq!(out.notifications[0].kind, NotificationKind::Resolved);
    assert_eq!(out.notifications[0].replaces, Some(7));
    assert!(out.withdrawn.is_empty(), "replaced, not closed");
    assert_eq!(e.instances().next().unwrap().notice_id, None);

    // Without resolved notifications the popup is closed.
    let (mut e, c) = setup(AlertSettings {
        notify_resolved: false,
        ..Default::default()
    });
    let id2 = fire_and_show(&mut e, &c, 8);
    cpu(&mut e, 50.0);
    let out = e.drain();
    assert!(out.notifications.is_empty());
    assert_eq!(
        out.withdrawn,
        vec![Withdrawal {
            alert_id: id2,
            notice_id: Some(8),
            why: "the alert resolved",
        }]
    );
}

#[test]
fn resolved_notification_tells_the_value_now_and_how_long_it_fired() {
    let (mut e, c) = setup(AlertSettings::default());
    let labels: BTreeMap<String, String> = [("host".to_string(), "host-3".to_string())].into();
    e.on_sample(1, "cpu", &labels, 97.0);
    e.drain();
    c.advance(Duration::from_secs(4 * 60 + 12));
    e.on_sample(1, "cpu", &labels, 41.0);
    let out = e.drain();
    let n = &out.notifications[0];
    assert_eq!(n.kind, NotificationKind::Resolved);
    assert_eq!(
        n.summary,
        "Resolved after 4 min 12 s: web-1 {host=host-3}: cpu is 41 (threshold 90)"
    );
    assert_eq!(n.body, "Fired as: web-1: cpu is 97 (> 90) · cpu high");
}

#[test]
fn a_popup_from_before_a_restart_is_shown_again_with_working_buttons_or_closed() {
    let (mut e, c) = setup(AlertSettings::default());
    let id = fire_and_show(&mut e, &c, 7);
    let persisted: Vec<_> = e.instances().cloned().collect();
    assert_eq!(persisted[0].notice_id, Some(7));

    // Still firing, not acknowledged: a fresh popup replaces the stale one.
    let mut e2 = AlertEngine::new(AlertSettings::default(), Arc::new(c.clone()), 0);
    e2.restore(persisted.clone(), Silences::default());
    assert!(e2.drain().is_empty(), "restoring alone shows nothing");
    e2.refresh_popups_after_restart();
    let out = e2.drain();
    assert_eq!(out.notifications.len(), 1);
    let n = &out.notifications[0];
    assert_eq!(
        (n.kind, n.alert_id, n.replaces),
        (NotificationKind::Reminder, Some(id), Some(7))
    );
    assert!(
        n.body.ends_with("shown again after Telltale restarted"),
        "{}",
        n.body
    );
    assert!(out.withdrawn.is_empty());

    // Acknowledged before the restart (but its popup never withdrawn): closed.
    let mut acked = persisted.clone();
    acked[0].acked_at = Some(c.now());
    let mut e3 = AlertEngine::new(AlertSettings::default(), Arc::new(c.clone()), 0);
    e3.restore(acked, Silences::default());
    e3.refresh_popups_after_restart();
    let out = e3.drain();
    assert!(out.notifications.is_empty());
    assert_eq!(out.withdrawn.len(), 1);
    assert_eq!(out.withdrawn[0].notice_id, Some(7));
    assert_eq!(out.changed[0].notice_id, None, "forgotten, persisted");

    // Muted: not shown again, and the dead popup is closed.
    let mut e4 = AlertEngine::new(AlertSettings::default(), Arc::new(c.clone()), 0);
    e4.restore(
        persisted,
        Silences {
            muted: Some(None),
            ..Default::default()
        },
    );
    e4.refresh_popups_after_restart();
    let out = e4.drain();
    assert!(out.notifications.is_empty());
    assert_eq!(out.withdrawn.len(), 1);
}
