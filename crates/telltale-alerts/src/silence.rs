//! Silencing: acknowledgement is per firing (on the instance); these are the
//! wider ones — snoozed rules, feeds and tags, a global mute, and quiet
//! hours.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use telltale_model::alert::{QuietHours, Severity};
use telltale_model::Timestamp;

/// Active silences. Persisted so that a restart keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Silences {
    /// Global mute: `Some(None)` until turned off, `Some(Some(t))` until `t`.
    pub muted: Option<Option<Timestamp>>,
    /// Snoozed feeds, by feed id, until.
    pub feeds: BTreeMap<i64, Timestamp>,
    /// Snoozed rules, by `(feed id, rule name)` encoded as `"id/rule"`, until.
    pub rules: BTreeMap<String, Timestamp>,
    /// Snoozed tags, until: every feed with the tag, including feeds
    /// tagged after the snooze began.
    #[serde(default)]
    pub tags: BTreeMap<String, Timestamp>,
}

/// Why a notification was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Global mute.
    Muted,
    /// The feed is snoozed.
    FeedSnoozed,
    /// The rule is snoozed.
    RuleSnoozed,
    /// One of the feed's tags is snoozed.
    TagSnoozed,
    /// Quiet hours, and the alert is not critical.
    QuietHours,
}

impl Hold {
    /// A readable reason.
    pub fn reason(self) -> &'static str {
        match self {
            Hold::Muted => "notifications are muted",
            Hold::FeedSnoozed => "the feed is snoozed",
            Hold::RuleSnoozed => "the rule is snoozed",
            Hold::TagSnoozed => "a tag of the feed is snoozed",
            Hold::QuietHours => "quiet hours (only critical alerts notify)",
        }
    }
}

/// The key for a snoozed rule.
pub fn rule_key(feed_id: i64, rule: &str) -> String {
    format!("{feed_id}/{rule}")
}

impl Silences {
    /// Drops silences that have expired; returns true if any did.
    pub fn expire(&mut self, now: Timestamp) -> bool {
        let before = (
            self.muted,
            self.feeds.len(),
            self.rules.len(),
            self.tags.len(),
        );
        if let Some(Some(until)) = self.muted {
            if until <= now {
                self.muted = None;
            }
        }
        self.feeds.retain(|_, until| *until > now);
        self.rules.retain(|_, until| *until > now);
        self.tags.retain(|_, until| *until > now);
        before
            != (
                self.muted,
                self.feeds.len(),
                self.rules.len(),
                self.tags.len(),
            )
    }

    /// Whether (and why) a notification for this alert is held back now.
    #[allow(clippy::too_many_arguments)]
    pub fn hold(
        &self,
        now: Timestamp,
        feed_id: i64,
        tags: &[String],
        rule: &str,
        severity: Severity,
        quiet: Option<&QuietHours>,
        zone: &crate::LocalZone,
    ) -> Option<Hold> {
        match self.muted {
            Some(None) => return Some(Hold::Muted),
            Some(Some(until)) if until > now => return Some(Hold::Muted),
            _ => {}
        }
        if self.feeds.get(&feed_id).is_some_and(|u| *u > now) {
            return Some(Hold::FeedSnoozed);
        }
        if self
            .rules
            .get(&rule_key(feed_id, rule))
            .is_some_and(|u| *u > now)
        {
            return Some(Hold::RuleSnoozed);
        }
        if tags
            .iter()
            .any(|t| self.tags.get(t).is_some_and(|u| *u > now))
        {
            return Some(Hold::TagSnoozed);
        }
        if severity < Severity::Critical {
            if let Some(q) = quiet {
                if q.contains(zone.minute_of_day(q, now)) {
                    return Some(Hold::QuietHours);
                }
            }
        }
        None
    }
}
