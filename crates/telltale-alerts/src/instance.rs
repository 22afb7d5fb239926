//! Alert instances (one per rule and series) and their history.

use serde::{Deserialize, Serialize};
use telltale_model::alert::Severity;
use telltale_model::Timestamp;

/// Where an alert instance is in its life cycle: `ok → pending → firing → resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The condition does not hold.
    Ok,
    /// The condition holds, but not yet for the rule's `for` duration.
    Pending,
    /// Firing: operators are told.
    Firing,
    /// Was firing, now clear. Behaves like `ok` for the next evaluation.
    Resolved,
}

impl Phase {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ok => "ok",
            Phase::Pending => "pending",
            Phase::Firing => "firing",
            Phase::Resolved => "resolved",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "ok" => Phase::Ok,
            "pending" => Phase::Pending,
            "firing" => Phase::Firing,
            "resolved" => Phase::Resolved,
            _ => return None,
        })
    }
}

/// One rule applied to one series of one feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertInstance {
    /// Stable id (used by `ack`).
    pub id: i64,
    /// Feed id.
    pub feed_id: i64,
    /// Feed name.
    pub feed: String,
    /// Rule name.
    pub rule: String,
    /// The series' labels as canonical JSON (`{}` for unlabelled metrics and non-metric rules).
    pub series: String,
    /// Severity.
    pub severity: Severity,
    /// Phase.
    pub phase: Phase,
    /// When the current phase began.
    pub since: Timestamp,
    /// The value that caused the last transition, if numeric.
    pub value: Option<f64>,
    /// When the current (or last) firing began.
    pub fired_at: Option<Timestamp>,
    /// When the last firing resolved.
    pub resolved_at: Option<Timestamp>,
    /// When the current firing was acknowledged.
    pub acked_at: Option<Timestamp>,
    /// When operators were last notified about this firing.
    pub last_notified_at: Option<Timestamp>,
    /// The notification server's id for the popup showing this firing, once
    /// a server has taken it; cleared when the popup is withdrawn. Persisted,
    /// so that after a restart the stale popup (whose buttons no longer reach
    /// anything) is replaced or closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_id: Option<u32>,
    /// The rendered summary.
    pub summary: String,
}

/// What happened to an alert, for its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// Condition started holding.
    Pending,
    /// Fired.
    Fired,
    /// Cleared before firing.
    Cancelled,
    /// Resolved.
    Resolved,
    /// Acknowledged by an operator.
    Acknowledged,
    /// Snoozed by an operator.
    Snoozed,
    /// A notification server took a notification (the detail says
    /// `(after N retries)` when it took a retry).
    Notified,
    /// A notification could not be shown; the detail says why and whether
    /// it is retried.
    NotDelivered,
    /// A notification was held back (muted, snoozed, quiet hours, flood).
    Suppressed,
}

impl HistoryKind {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Pending => "pending",
            HistoryKind::Fired => "fired",
            HistoryKind::Cancelled => "cancelled",
            HistoryKind::Resolved => "resolved",
            HistoryKind::Acknowledged => "acknowledged",
            HistoryKind::Snoozed => "snoozed",
            HistoryKind::Notified => "notified",
            HistoryKind::NotDelivered => "not_delivered",
            HistoryKind::Suppressed => "suppressed",
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The instance.
    pub alert_id: i64,
    /// When.
    pub ts: Timestamp,
    /// What.
    pub kind: HistoryKind,
    /// The value at that moment, if numeric.
    pub value: Option<f64>,
    /// Details (the summary, why it was suppressed, who acknowledged).
    pub detail: String,
}
