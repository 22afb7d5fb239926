//! Maintenance windows (`[[alerts.maintenance]]`): while one covers a feed,
//! its alerts still fire and resolve in Telltale, but their notifications
//! are held and recorded as `suppressed`. An alert still firing (and not
//! acknowledged) when the window ends notifies then: work that left
//! something broken is not kept quiet.

use super::{AlertEngine, Key};
use crate::instance::Phase;
use crate::notifier::NotificationKind;
use telltale_model::maintenance::active_window;
use telltale_model::Timestamp;

impl AlertEngine {
    /// Sets a feed's tags, which maintenance windows may name.
    pub fn set_feed_tags(&mut self, feed_id: i64, tags: &[String]) {
        if let Some(f) = self.feeds.get_mut(&feed_id) {
            f.tags = tags.to_vec();
        }
    }

    /// The name of the maintenance window covering `feed_id` at `now`.
    pub fn maintenance_of(&self, feed_id: i64, now: Timestamp) -> Option<String> {
        let feed = self.feeds.get(&feed_id)?;
        let local = self.zone.time_zone();
        active_window(
            &self.settings.maintenance,
            &feed.name,
            &feed.tags,
            now,
            &local,
        )
        .map(|w| w.name.clone())
    }

    /// Notes a notification held by a window: a firing alert is told
    /// about when the window ends; a resolved one no longer needs to be.
    pub(super) fn held_for_maintenance(&mut self, key: &Key, kind: NotificationKind) {
        match kind {
            NotificationKind::Fired | NotificationKind::Reminder => {
                self.maintenance_held.insert(key.clone());
            }
            NotificationKind::Resolved => {
                self.maintenance_held.remove(key);
            }
            NotificationKind::Summary | NotificationKind::Health => {}
        }
    }

    /// On each tick: alerts held by a window that has ended notify if they
    /// still fire unacknowledged (through the other silences as usual).
    pub(super) fn release_after_maintenance(&mut self, now: Timestamp) {
        if self.maintenance_held.is_empty() {
            return;
        }
        let ended: Vec<Key> = self
            .maintenance_held
            .iter()
            .filter(|k| self.maintenance_of(k.0, now).is_none())
            .cloned()
            .collect();
        for key in ended {
            self.maintenance_held.remove(&key);
            let still = self
                .instances
                .get(&key)
                .is_some_and(|i| i.phase == Phase::Firing && i.acked_at.is_none());
            if still {
                self.notify(&key, NotificationKind::Fired, now);
            }
        }
    }
}
