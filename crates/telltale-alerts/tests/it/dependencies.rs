//! `depends_on`: while a parent feed is down, its dependents' notifications
//! are held and summarised once per outage; a cycle holds nothing.

use std::sync::Arc;
use telltale_alerts::{AlertEngine, NotificationKind, Phase};
use telltale_model::alert::{AlertRule, AlertSettings};
use telltale_model::time::ManualClock;
use telltale_model::{ConnState, Timestamp};

use crate::{held, retrying, said, step};

fn down_rule() -> AlertRule {
    toml::from_str("name = \"down\"\nkind = \"down\"\nafter = \"10s\"\nseverity = \"critical\"\n")
        .unwrap()
}

/// A router (id 1) and hosts behind it (ids 2, 3), each with a down rule.
fn fleet(parent_of_hosts: &str) -> (AlertEngine, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_secs(1_764_000_000));
    let mut e = AlertEngine::new(AlertSettings::default(), Arc::new(clock.clone()), 0);
    for (id, name) in [(1, "router"), (2, "web-1"), (3, "web-2")] {
        assert!(e.set_feed_rules(id, name, &[down_rule()]).is_empty());
        e.on_state(id, &ConnState::Live);
    }
    e.set_feed_parent(2, Some(parent_of_hosts));
    e.set_feed_parent(3, Some(parent_of_hosts));
    (e, clock)
}

#[test]
fn a_down_parent_holds_its_dependents_and_summarises_them_once() {
    let (mut e, c) = fleet("router");
    e.drain();
    for id in [1, 2, 3] {
        e.on_state(id, &retrying());
    }
    let out = step(&mut e, &c, 11);
    // All three fire; only the router notifies, then one summary.
    assert_eq!(
        e.instances().filter(|i| i.phase == Phase::Firing).count(),
        3
    );
    let fired = said(&out, NotificationKind::Fired);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].starts_with("router"), "{fired:?}");
    let summaries: Vec<_> = out
        .notifications
        .iter()
        .filter(|n| n.kind == NotificationKind::Summary)
        .collect();
    assert_eq!(summaries.len(), 1);
    assert_eq!(
        summaries[0].summary,
        "router is down: alerts of 2 feeds behind it held"
    );
    assert!(summaries[0]
        .body
        .starts_with("web-1, web-2 depend on router."));
    let held = held(&out);
    assert_eq!(held.len(), 2);
    assert!(held[0].contains("router, which this feed depends on, is down"));

    // The same outage is summarised once.
    let out = step(&mut e, &c, 60);
    assert!(out
        .notifications
        .iter()
        .all(|n| n.kind != NotificationKind::Summary));

    // The router comes back; a host failing alone now notifies.
    e.on_state(1, &ConnState::Live);
    e.on_state(2, &ConnState::Live);
    e.on_state(3, &ConnState::Live);
    step(&mut e, &c, 1);
    e.on_state(2, &retrying());
    let out = step(&mut e, &c, 11);
    let fired = said(&out, NotificationKind::Fired);
    assert_eq!(fired.len(), 1);
    assert!(fired[0].starts_with("web-1"), "{fired:?}");
}

#[test]
fn a_cycle_or_an_unknown_parent_holds_nothing() {
    let (mut e, c) = fleet("nowhere");
    e.drain();
    e.on_state(2, &retrying());
    let out = step(&mut e, &c, 11);
    assert_eq!(said(&out, NotificationKind::Fired).len(), 1);

    // web-1 and the router depend on each other: both down, both notify.
    let (mut e, c) = fleet("router");
    e.set_feed_parent(1, Some("web-1"));
    e.drain();
    e.on_state(1, &retrying());
    e.on_state(2, &retrying());
    let out = step(&mut e, &c, 11);
    assert_eq!(said(&out, NotificationKind::Fired).len(), 2);
}
