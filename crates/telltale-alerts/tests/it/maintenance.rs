//! Maintenance windows: alerts of the feeds a window covers (by name or by
//! tag) fire in Telltale but do not notify; one still firing when the
//! window ends notifies then; feeds outside it notify as usual.

use std::sync::Arc;
use telltale_alerts::{AlertEngine, NotificationKind, Phase};
use telltale_model::alert::{AlertRule, AlertSettings};
use telltale_model::maintenance::MaintenanceWindow;
use telltale_model::time::ManualClock;
use telltale_model::{ConnState, Timestamp};

use crate::{held, retrying, said, step};

fn said_fired(out: &telltale_alerts::Output) -> Vec<String> {
    said(out, NotificationKind::Fired)
}

fn down_rule() -> AlertRule {
    toml::from_str("name = \"down\"\nkind = \"down\"\nafter = \"10s\"\n").unwrap()
}

/// 2026-12-12 (a Saturday) 01:00 UTC.
const START: i64 = 1_797_037_200;

/// web-1 (id 1, tagged `db`) and web-2 (id 2), with a window on `db`
/// every Saturday 01:00–01:30 UTC (fixed-offset engine zone: UTC).
fn fleet() -> (AlertEngine, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_secs(START - 60));
    let settings = AlertSettings {
        maintenance: vec![MaintenanceWindow {
            name: "patch night".into(),
            tags: vec!["db".into()],
            days: vec!["sat".into()],
            from: Some("01:00".into()),
            to: Some("01:30".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(settings.lists_problem(), None);
    let mut e = AlertEngine::new(settings, Arc::new(clock.clone()), 0);
    for (id, name) in [(1, "web-1"), (2, "web-2")] {
        assert!(e.set_feed_rules(id, name, &[down_rule()]).is_empty());
        e.on_state(id, &ConnState::Live);
    }
    e.set_feed_tags(1, &["db".to_string()]);
    (e, clock)
}

#[test]
fn a_window_holds_its_feeds_alerts_and_tells_what_still_fires_when_it_ends() {
    let (mut e, c) = fleet();
    e.drain();
    // 01:00:30: inside the window; both feeds go down
    let _ = step(&mut e, &c, 90);
    assert_eq!(
        e.maintenance_of(1, c_now(&c)).as_deref(),
        Some("patch night")
    );
    assert_eq!(e.maintenance_of(2, c_now(&c)), None);
    e.on_state(1, &retrying());
    e.on_state(2, &retrying());
    let out = step(&mut e, &c, 11);
    assert_eq!(
        e.instances().filter(|i| i.phase == Phase::Firing).count(),
        2,
        "both fire in Telltale"
    );
    let f = said_fired(&out);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].starts_with("web-2"),
        "only the feed outside the window notifies: {f:?}"
    );
    let held = held(&out);
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].contains("in maintenance (patch night)"), "{held:?}");
    // Still in the window a while later: nothing more.
    assert!(said_fired(&step(&mut e, &c, 600)).is_empty());
    // 01:30: the window ends with web-1 still down: it notifies now, once.
    let out = step(&mut e, &c, 30 * 60);
    let f = said_fired(&out);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].starts_with("web-1"), "{f:?}");
    assert!(said_fired(&step(&mut e, &c, 60)).is_empty());
}

#[test]
fn an_alert_that_resolves_inside_the_window_never_notifies() {
    let (mut e, c) = fleet();
    e.drain();
    let _ = step(&mut e, &c, 90);
    e.on_state(1, &retrying());
    let out = step(&mut e, &c, 11);
    assert!(said_fired(&out).is_empty());
    e.on_state(1, &ConnState::Live);
    let out = step(&mut e, &c, 1);
    assert!(out.notifications.is_empty(), "{:?}", out.notifications);
    // after the window: nothing to tell
    let out = step(&mut e, &c, 40 * 60);
    assert!(out.notifications.is_empty(), "{:?}", out.notifications);
}

fn c_now(c: &ManualClock) -> Timestamp {
    use telltale_model::time::Clock;
    c.now()
}
