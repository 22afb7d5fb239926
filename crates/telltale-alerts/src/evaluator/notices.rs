//! The notification side of the alert engine: which notifications an alert
//! gets and what they say, what is withdrawn from the screen, and what the
//! history records once the notifier reports what reached the screen.
//!
//! The history says `notified` only when a notification server took the
//! notification (reported back through [`AlertEngine::record_delivery`]);
//! deciding to notify records nothing by itself.

use super::{AlertEngine, Key};
use crate::instance::{AlertInstance, HistoryEntry, HistoryKind, Phase};
use crate::notifier::{Delivery, DeliveryOutcome, Notification, NotificationKind, Withdrawal};
use crate::rule::{fmt_num, CompiledRule};
use std::collections::BTreeMap;
use std::time::Duration;
use telltale_model::alert::{AlertKind, Severity};
use telltale_model::route::route_for;
use telltale_model::Timestamp;

impl AlertEngine {
    /// Records what became of a notification: `notified` (with
    /// `(after N retries)` when a retry got it through) or `not_delivered`
    /// with the reason. A shown fired or reminder popup's server id is kept
    /// on the alert, so acknowledging or resolving it can withdraw it, also
    /// after a restart. Notifications about no alert (flood summaries,
    /// Telltale's own health) have no alert history and are ignored.
    pub fn record_delivery(&mut self, d: &Delivery) {
        let n = &d.notification;
        let Some(alert_id) = n.alert_id else {
            return;
        };
        let inst = self.instances.values_mut().find(|i| i.id == alert_id);
        let value = inst.as_ref().and_then(|i| i.value);
        let retries = match d.retries {
            0 => String::new(),
            1 => " (after 1 retry)".to_string(),
            r => format!(" (after {r} retries)"),
        };
        let (kind, detail) = match &d.outcome {
            DeliveryOutcome::Shown(id) => {
                if let Some(inst) = inst {
                    let popup_with_buttons =
                        matches!(n.kind, NotificationKind::Fired | NotificationKind::Reminder);
                    if popup_with_buttons
                        && inst.phase == Phase::Firing
                        && inst.acked_at.is_none()
                        && id.is_some()
                        && inst.notice_id != *id
                    {
                        inst.notice_id = *id;
                        self.out.changed.push(inst.clone());
                    }
                }
                (HistoryKind::Notified, format!("{}{retries}", n.summary))
            }
            DeliveryOutcome::Failed { reason, retrying } => {
                let what = match (retrying, d.retries) {
                    (true, _) => "retrying".to_string(),
                    (false, 0) => "not retried".to_string(),
                    (false, r) => format!("gave up after {r} retries"),
                };
                (
                    HistoryKind::NotDelivered,
                    format!("{}: {reason} ({what})", n.summary),
                )
            }
            DeliveryOutcome::Dropped(why) => (
                HistoryKind::NotDelivered,
                format!("{}: no longer shown, {why}", n.summary),
            ),
        };
        self.out.history.push(HistoryEntry {
            alert_id,
            ts: d.at,
            kind,
            value,
            detail,
        });
    }

    /// After [`AlertEngine::restore`], in a process that shows
    /// notifications: a popup shown before the restart has buttons that
    /// reach nothing now. A firing, unacknowledged alert's popup is replaced
    /// by a fresh one with working buttons (if silences let it through); any
    /// other is closed. (Not for one-off commands such as `telltaled ack`
    /// without a daemon, which show nothing.)
    pub fn refresh_popups_after_restart(&mut self) {
        let now = self.clock.now();
        let stale: Vec<(Key, bool)> = self
            .instances
            .iter()
            .filter(|(_, i)| i.notice_id.is_some())
            .map(|(k, i)| (k.clone(), i.phase == Phase::Firing && i.acked_at.is_none()))
            .collect();
        for (key, firing) in stale {
            if firing && self.notify(&key, NotificationKind::Reminder, now) {
                if let Some(n) = self.out.notifications.last_mut() {
                    n.body.push_str(" · shown again after Telltale restarted");
                }
                continue;
            }
            self.withdraw(&key, "Telltale restarted");
        }
    }

    /// Asks the notifier to take an alert's popup off the screen and forgets
    /// its server id.
    pub(super) fn withdraw(&mut self, key: &Key, why: &'static str) {
        let Some(inst) = self.instances.get_mut(key) else {
            return;
        };
        self.out.withdrawn.push(Withdrawal {
            alert_id: inst.id,
            notice_id: inst.notice_id.take(),
            why,
        });
        self.out.changed.push(inst.clone());
    }

    /// Flood control's summary of `held` notifications.
    pub(super) fn push_flood_summary(&mut self, held: usize) {
        let firing: Vec<&AlertInstance> = self
            .instances
            .values()
            .filter(|i| i.phase == Phase::Firing)
            .collect();
        let feeds: std::collections::HashSet<i64> = firing.iter().map(|i| i.feed_id).collect();
        let severity = firing
            .iter()
            .map(|i| i.severity)
            .max()
            .unwrap_or(Severity::Warning);
        self.out.notifications.push(Notification {
            alert_id: None,
            kind: NotificationKind::Summary,
            summary: format!(
                "{} alert{} firing on {} feed{}",
                firing.len(),
                if firing.len() == 1 { "" } else { "s" },
                feeds.len(),
                if feeds.len() == 1 { "" } else { "s" }
            ),
            body: format!(
                "{held} notification{} held back by flood control. Open Telltale to see them all.",
                if held == 1 { " was" } else { "s were" }
            ),
            severity,
            replaces: None,
        });
    }

    /// Records a notification of alert `id` held back, and why.
    fn held_back(&mut self, id: i64, now: Timestamp, value: Option<f64>, detail: String) {
        self.out.history.push(HistoryEntry {
            alert_id: id,
            ts: now,
            kind: HistoryKind::Suppressed,
            value,
            detail,
        });
    }

    /// Queues a notification about an alert unless silences or flood
    /// control hold it back (recorded as `suppressed`). Returns whether it
    /// was queued.
    pub(super) fn notify(&mut self, key: &Key, kind: NotificationKind, now: Timestamp) -> bool {
        let rule = self.rule_for(key);
        let Some(inst) = self.instances.get(key) else {
            return false;
        };
        let no_tags = Vec::new();
        let tags = self.feeds.get(&inst.feed_id).map_or(&no_tags, |f| &f.tags);
        let hold = self.silences.hold(
            now,
            inst.feed_id,
            tags,
            &inst.rule,
            inst.severity,
            self.settings.quiet_hours.as_ref(),
            &self.zone,
        );
        let (id, value, severity) = (inst.id, inst.value, inst.severity);
        if let Some(window) = self.maintenance_of(inst.feed_id, now) {
            self.held_back(
                id,
                now,
                value,
                format!(
                    "{kind:?} notification held back: the feed is in maintenance ({window}){}",
                    if kind == NotificationKind::Resolved {
                        ""
                    } else {
                        "; told when the window ends if still firing"
                    }
                ),
            );
            self.held_for_maintenance(key, kind);
            return false;
        }
        if let Some((parent, parent_name)) = self.parent_down(inst.feed_id) {
            let (child, severity) = (
                self.feeds
                    .get(&inst.feed_id)
                    .map(|f| f.name.clone())
                    .unwrap_or_default(),
                inst.severity,
            );
            self.held_back(id, now, value, format!(
                "{kind:?} notification held back: {parent_name}, which this feed depends on, is down (summarised)"
            ));
            self.held_for_parent(parent, &child, severity);
            return false;
        }
        if let Some(h) = hold {
            self.held_back(
                id,
                now,
                value,
                format!("{:?} notification held back: {}", kind, h.reason()),
            );
            return false;
        }
        if let Some(why) = route_for(&self.settings.route, tags).and_then(|r| r.holds(severity)) {
            self.held_back(
                id,
                now,
                value,
                format!("{kind:?} notification held back: {why}"),
            );
            return false;
        }
        if !self.flood.admit(now) {
            self.held_back(
                id,
                now,
                value,
                format!("{kind:?} notification held back by flood control (summarised)"),
            );
            return false;
        }
        let Some(inst) = self.instances.get_mut(key) else {
            return false;
        };
        let (summary, body) = texts(inst, rule.as_ref(), kind, now);
        inst.last_notified_at = Some(now);
        let copy = inst.clone();
        self.out.notifications.push(Notification {
            alert_id: Some(copy.id),
            kind,
            summary,
            body,
            severity: if kind == NotificationKind::Resolved {
                Severity::Info
            } else {
                copy.severity
            },
            replaces: copy.notice_id,
        });
        self.out.changed.push(copy);
        true
    }
}

/// A notification's title and body.
fn texts(
    inst: &AlertInstance,
    rule: Option<&CompiledRule>,
    kind: NotificationKind,
    now: Timestamp,
) -> (String, String) {
    match kind {
        NotificationKind::Resolved => resolved_texts(inst, rule, now),
        NotificationKind::Reminder => (
            format!("Still firing: {}", inst.summary),
            format!("{} · {} · {}", inst.feed, inst.rule, inst.severity.as_str()),
        ),
        _ => (
            inst.summary.clone(),
            format!(
                "{} · {} · {}{}",
                inst.feed,
                inst.rule,
                inst.severity.as_str(),
                inst.value
                    .map(|v| format!(" · value {}", fmt_num(v)))
                    .unwrap_or_default()
            ),
        ),
    }
}

/// "Resolved after 4 min 12 s: web-1: cpu is 41 (threshold 90)": the value
/// now, not the one that fired, and how long it fired; the body keeps what
/// the fired notification said.
fn resolved_texts(
    inst: &AlertInstance,
    rule: Option<&CompiledRule>,
    now: Timestamp,
) -> (String, String) {
    let after = inst
        .fired_at
        .map(|t| format!(" after {}", fmt_span(now.since(t))))
        .unwrap_or_default();
    let threshold = rule.filter(|r| r.rule.kind == AlertKind::Threshold);
    let what = match (threshold, inst.value) {
        (Some(r), Some(v)) => {
            let labels: BTreeMap<String, String> =
                serde_json::from_str(&inst.series).unwrap_or_default();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(" {{{}}}", l.join(", "))
            };
            format!(
                "{}{labels}: {} is {} (threshold {})",
                inst.feed,
                r.rule.metric.as_deref().unwrap_or("-"),
                fmt_num(v),
                r.rule.value.map(fmt_num).unwrap_or_else(|| "-".into()),
            )
        }
        _ => inst.summary.clone(),
    };
    let body = if what == inst.summary {
        format!("{} · {}", inst.feed, inst.rule)
    } else {
        format!("Fired as: {} · {}", inst.summary, inst.rule)
    };
    (format!("Resolved{after}: {what}"), body)
}

/// A span for people: `45 s`, `4 min 12 s`, `2 h 5 min`, `3 d 4 h`.
pub fn fmt_span(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let two = |a: u64, ua: &str, b: u64, ub: &str| {
        if b == 0 {
            format!("{a} {ua}")
        } else {
            format!("{a} {ua} {b} {ub}")
        }
    };
    if days > 0 {
        two(days, "d", h, "h")
    } else if h > 0 {
        two(h, "h", m, "min")
    } else if m > 0 {
        two(m, "min", s, "s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_span;
    use std::time::Duration;

    #[test]
    fn spans_read_like_a_person_wrote_them() {
        let f = |s| fmt_span(Duration::from_secs(s));
        assert_eq!(f(0), "0 s");
        assert_eq!(f(45), "45 s");
        assert_eq!(f(252), "4 min 12 s");
        assert_eq!(f(300), "5 min");
        assert_eq!(f(7500), "2 h 5 min");
        assert_eq!(f(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
    }
}
