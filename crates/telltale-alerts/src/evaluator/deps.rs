//! Dependencies (`depends_on`): while the feed a feed depends on is down
//! (a router, the host a container runs on), the dependent feed's
//! notifications are held back and recorded as `suppressed`, and each
//! outage of the parent sends one summary naming the feeds held behind it.
//! Their alerts still fire and resolve in Telltale; only the noise goes.
//!
//! "Down" is the parent's connection: not live, or its last poll failed,
//! as its `down` rules see it. A chain (router → switch → host) holds at
//! every level; a cycle (a → b → a) holds nothing, so two feeds that name
//! each other cannot silence each other.

use super::AlertEngine;
use crate::notifier::{Notification, NotificationKind};
use std::collections::{BTreeMap, BTreeSet};
use telltale_model::alert::Severity;

/// The longest chain of `depends_on` followed.
const MAX_CHAIN: usize = 16;

/// Feeds whose notifications were held because their parent was down, by
/// parent feed id.
#[derive(Debug, Default)]
pub(super) struct Held {
    by_parent: BTreeMap<i64, Outage>,
}

#[derive(Debug, Default)]
struct Outage {
    /// The dependent feeds held so far.
    children: BTreeSet<String>,
    /// The worst severity held.
    severity: Option<Severity>,
    /// Whether this outage's summary went out.
    summarised: bool,
}

impl AlertEngine {
    /// Sets the feed `feed_id` depends on, by name (`depends_on`), or none.
    /// A name no feed has holds nothing.
    pub fn set_feed_parent(&mut self, feed_id: i64, parent: Option<&str>) {
        if let Some(f) = self.feeds.get_mut(&feed_id) {
            f.parent = parent.map(str::to_string);
        }
    }

    fn parent_of(&self, feed_id: i64) -> Option<i64> {
        let name = self.feeds.get(&feed_id)?.parent.as_deref()?;
        self.feeds
            .iter()
            .find(|(id, f)| f.name == name && **id != feed_id)
            .map(|(id, _)| *id)
    }

    fn is_down(&self, feed_id: i64) -> bool {
        self.feeds
            .get(&feed_id)
            .is_some_and(|f| f.down_since.is_some() || f.http_down_since.is_some())
    }

    /// The parent of `feed_id` (its id and name) when it is down now, unless
    /// following `depends_on` from it leads back to `feed_id`.
    pub(super) fn parent_down(&self, feed_id: i64) -> Option<(i64, String)> {
        let parent = self.parent_of(feed_id)?;
        let mut at = parent;
        for _ in 0..MAX_CHAIN {
            match self.parent_of(at) {
                Some(p) if p == feed_id => return None,
                Some(p) => at = p,
                None => break,
            }
        }
        let name = self.feeds.get(&parent)?.name.clone();
        self.is_down(parent).then_some((parent, name))
    }

    /// Notes a notification of `child` held back because `parent` is down.
    pub(super) fn held_for_parent(&mut self, parent: i64, child: &str, severity: Severity) {
        let o = self.held.by_parent.entry(parent).or_default();
        o.children.insert(child.to_string());
        o.severity = o.severity.max(Some(severity));
    }

    /// On each tick: forgets outages that ended, and sends each new one's
    /// summary (after the tick that held its first notification, so that
    /// feeds failing together are named together).
    pub(super) fn summarise_held(&mut self) {
        let ended: Vec<i64> = self
            .held
            .by_parent
            .keys()
            .filter(|p| !self.is_down(**p))
            .copied()
            .collect();
        for p in ended {
            self.held.by_parent.remove(&p);
        }
        for (parent, o) in self.held.by_parent.iter_mut() {
            if o.summarised {
                continue;
            }
            o.summarised = true;
            let name = self
                .feeds
                .get(parent)
                .map(|f| f.name.clone())
                .unwrap_or_default();
            let n = o.children.len();
            let list: Vec<&str> = o.children.iter().map(String::as_str).collect();
            self.out.notifications.push(Notification {
                alert_id: None,
                kind: NotificationKind::Summary,
                summary: format!(
                    "{name} is down: alerts of {n} feed{} behind it held",
                    if n == 1 { "" } else { "s" }
                ),
                body: format!(
                    "{} depend{} on {name}. Their alerts show in Telltale but do not notify while {name} is down.",
                    list.join(", "),
                    if n == 1 { "s" } else { "" }
                ),
                severity: o.severity.unwrap_or(Severity::Warning),
                replaces: None,
            });
        }
    }
}
