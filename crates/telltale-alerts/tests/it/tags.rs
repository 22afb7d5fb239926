//! Snoozing a tag silences every feed with it, including one tagged after
//! the snooze began, and survives a restart with the other silences.

use std::sync::Arc;
use std::time::Duration;
use telltale_alerts::silence::Silences;
use telltale_alerts::{AlertEngine, NotificationKind};
use telltale_model::alert::{AlertRule, AlertSettings};
use telltale_model::time::ManualClock;
use telltale_model::{ConnState, Timestamp};

use crate::{held, retrying, said, step};

fn down_rule() -> AlertRule {
    toml::from_str("name = \"down\"\nkind = \"down\"\nafter = \"10s\"\n").unwrap()
}

#[test]
fn a_snoozed_tag_holds_its_feeds_and_feeds_tagged_later() {
    let clock = ManualClock::new(Timestamp::from_secs(1_797_037_200));
    let mut e = AlertEngine::new(AlertSettings::default(), Arc::new(clock.clone()), 0);
    for (id, name) in [(1, "web-1"), (2, "web-2"), (3, "web-3")] {
        assert!(e.set_feed_rules(id, name, &[down_rule()]).is_empty());
        e.on_state(id, &ConnState::Live);
    }
    e.set_feed_tags(1, &["prod".to_string()]);
    let until = e.snooze_tag("prod", Duration::from_secs(3600));
    assert!(e.drain().silences_changed);
    // web-2 is tagged after the snooze; web-3 never is.
    e.set_feed_tags(2, &["db".to_string(), "prod".to_string()]);
    for id in [1, 2, 3] {
        e.on_state(id, &retrying());
    }
    let out = step(&mut e, &clock, 11);
    let fired = said(&out, NotificationKind::Fired);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].starts_with("web-3"), "{fired:?}");
    let held = held(&out)
        .into_iter()
        .filter(|d| d.contains("a tag of the feed is snoozed"))
        .count();
    assert_eq!(held, 2);
    // Kept across a restart, and gone once over.
    let saved: Silences =
        serde_json::from_str(&serde_json::to_string(e.silences()).unwrap()).unwrap();
    assert_eq!(saved.tags.get("prod"), Some(&until));
    clock.advance(Duration::from_secs(3600));
    e.tick();
    assert!(e.silences().tags.is_empty());
    // An old saved form, without tags, still reads.
    let old: Silences = serde_json::from_str(r#"{"muted":null,"feeds":{},"rules":{}}"#).unwrap();
    assert!(old.tags.is_empty());
}

#[test]
fn routes_by_tag_decide_what_reaches_the_desktop() {
    let clock = ManualClock::new(Timestamp::from_secs(1_797_037_200));
    let settings: AlertSettings = toml::from_str(
        "[[route]]\ntags = [\"lab\"]\nnotify = \"none\"\n\n[[route]]\ntags = [\"staging\"]\nmin_severity = \"critical\"\n",
    )
    .unwrap();
    assert_eq!(settings.lists_problem(), None);
    let mut e = AlertEngine::new(settings, Arc::new(clock.clone()), 0);
    let critical: AlertRule = toml::from_str(
        "name = \"down hard\"\nkind = \"down\"\nafter = \"10s\"\nseverity = \"critical\"\n",
    )
    .unwrap();
    for (id, name, tags) in [
        (1, "lab-1", "lab"),
        (2, "stage-1", "staging"),
        (3, "prod-1", "prod"),
    ] {
        assert!(e
            .set_feed_rules(id, name, &[down_rule(), critical.clone()])
            .is_empty());
        e.set_feed_tags(id, &[tags.to_string()]);
        e.on_state(id, &ConnState::Live);
    }
    for id in [1, 2, 3] {
        e.on_state(id, &retrying());
    }
    let out = step(&mut e, &clock, 11);
    let mut fired = said(&out, NotificationKind::Fired);
    fired.sort();
    // lab: nothing; staging: only the critical rule; prod: both.
    assert_eq!(fired.len(), 3, "{fired:?}");
    assert!(fired.iter().all(|f| !f.starts_with("lab-1")), "{fired:?}");
    assert_eq!(
        fired.iter().filter(|f| f.starts_with("stage-1")).count(),
        1,
        "{fired:?}"
    );
    let held = held(&out);
    assert_eq!(held.len(), 3, "{held:?}");
    assert_eq!(
        held.iter()
            .filter(|d| d.contains("routed to none (the route for tags lab)"))
            .count(),
        2
    );
    assert!(
        held.iter()
            .any(|d| d.contains("below critical (the route for tags staging)")),
        "{held:?}"
    );
}
