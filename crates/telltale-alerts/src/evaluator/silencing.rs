//! Silencing from the operator: snoozing an alert's rule, a feed or a tag
//! for a while, and muting everything. What each silences is decided in
//! [`crate::silence`]; this records them and their history.

use super::{ActionError, AlertEngine};
use crate::instance::{AlertInstance, HistoryEntry, HistoryKind};
use crate::silence::rule_key;
use std::time::Duration;
use telltale_model::Timestamp;

impl AlertEngine {
    /// Snoozes the rule behind an alert for `d`.
    pub fn snooze_alert(&mut self, alert_id: i64, d: Duration) -> Result<Timestamp, ActionError> {
        let inst = self
            .instances
            .values()
            .find(|i| i.id == alert_id)
            .ok_or(ActionError::NotFound(alert_id))?;
        let (feed_id, rule) = (inst.feed_id, inst.rule.clone());
        Ok(self.snooze_rule(feed_id, &rule, d))
    }

    /// Silences one rule of a feed for `d`.
    pub fn snooze_rule(&mut self, feed_id: i64, rule: &str, d: Duration) -> Timestamp {
        let now = self.clock.now();
        let until = now.plus(d);
        self.silences.rules.insert(rule_key(feed_id, rule), until);
        self.out.silences_changed = true;
        self.record_snooze(|i| i.feed_id == feed_id && i.rule == rule, until, now);
        until
    }

    /// Silences a whole feed for `d`.
    pub fn snooze_feed(&mut self, feed_id: i64, d: Duration) -> Timestamp {
        let now = self.clock.now();
        let until = now.plus(d);
        self.silences.feeds.insert(feed_id, until);
        self.out.silences_changed = true;
        self.record_snooze(|i| i.feed_id == feed_id, until, now);
        until
    }

    /// Silences every feed with `tag` for `d`, including feeds given the
    /// tag later.
    pub fn snooze_tag(&mut self, tag: &str, d: Duration) -> Timestamp {
        let now = self.clock.now();
        let until = now.plus(d);
        self.silences.tags.insert(tag.to_string(), until);
        self.out.silences_changed = true;
        let tagged: Vec<i64> = self
            .feeds
            .iter()
            .filter(|(_, f)| f.tags.iter().any(|t| t == tag))
            .map(|(id, _)| *id)
            .collect();
        self.record_snooze(|i| tagged.contains(&i.feed_id), until, now);
        until
    }

    /// Mutes every notification for `d`, or until [`AlertEngine::unmute`] with `None`.
    pub fn mute(&mut self, d: Option<Duration>) -> Option<Timestamp> {
        let until = d.map(|d| self.clock.now().plus(d));
        self.silences.muted = Some(until);
        self.out.silences_changed = true;
        until
    }

    /// Ends a global mute.
    pub fn unmute(&mut self) {
        self.silences.muted = None;
        self.out.silences_changed = true;
    }

    pub(super) fn record_snooze(
        &mut self,
        pred: impl Fn(&AlertInstance) -> bool,
        until: Timestamp,
        now: Timestamp,
    ) {
        let ids: Vec<(i64, Option<f64>)> = self
            .instances
            .values()
            .filter(|i| pred(i))
            .map(|i| (i.id, i.value))
            .collect();
        for (id, value) in ids {
            self.out.history.push(HistoryEntry {
                alert_id: id,
                ts: now,
                kind: HistoryKind::Snoozed,
                value,
                detail: format!("snoozed until {}", until.to_rfc3339_millis()),
            });
        }
    }
}
