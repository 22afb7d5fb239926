//! What the engine hands to the writer: batches of events, samples and
//! timeline entries.

use std::collections::BTreeMap;
use std::sync::Arc;
use telltale_model::message::FeedIssue;
use telltale_model::{ConnState, Timestamp};

/// Series labels (`{"cpu": "0", "mode": "idle"}`), sorted by key.
pub type Labels = BTreeMap<String, String>;

/// Rows to store, sent to the writer in one piece. Rows of one batch are
/// always committed in the same transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// Raw messages.
    pub events: Vec<EventRow>,
    /// Extracted metric values.
    pub samples: Vec<SampleRow>,
    /// Connection states and issues.
    pub timeline: Vec<TimelineRow>,
    /// Alert instances to insert or replace (by id).
    pub alerts: Vec<AlertRow>,
    /// Alert instances to delete (their rule was removed).
    pub removed_alerts: Vec<i64>,
    /// Alert history to append.
    pub alert_history: Vec<AlertHistoryRow>,
    /// The alert silences (mute, snoozes) as JSON, when they changed.
    pub silences: Option<String>,
    /// Queued alert commands that were applied (deleted).
    pub done_commands: Vec<i64>,
}

/// One alert instance, stored as JSON with its key columns.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    /// Instance id.
    pub id: i64,
    /// Feed id.
    pub feed_id: i64,
    /// Rule name.
    pub rule: String,
    /// `ok`, `pending`, `firing` or `resolved`.
    pub phase: String,
    /// The whole instance as JSON.
    pub json: String,
}

/// One alert history entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertHistoryRow {
    /// Row id (0 when writing).
    pub id: i64,
    /// The alert instance.
    pub alert_id: i64,
    /// When.
    pub ts: Timestamp,
    /// `pending`, `fired`, `acknowledged`, `snoozed`, `resolved`, `notified`, `not_delivered`, `suppressed`, …
    pub kind: String,
    /// The value at the time.
    pub value: Option<f64>,
    /// Details.
    pub detail: String,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// True when the batch holds no rows at all.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.samples.is_empty()
            && self.timeline.is_empty()
            && self.alerts.is_empty()
            && self.removed_alerts.is_empty()
            && self.alert_history.is_empty()
            && self.silences.is_none()
            && self.done_commands.is_empty()
    }

    /// The number of rows (events + samples + timeline entries).
    pub fn len(&self) -> usize {
        self.events.len()
            + self.samples.len()
            + self.timeline.len()
            + self.alerts.len()
            + self.removed_alerts.len()
            + self.alert_history.len()
            + usize::from(self.silences.is_some())
            + self.done_commands.len()
    }
}

/// One received message.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The feed's id (from [`crate::Store::upsert_feed`]).
    pub feed_id: i64,
    /// When Telltale received it.
    pub received_at: Timestamp,
    /// The server's id or sequence, if any.
    pub server_id: Option<String>,
    /// The event type, if any.
    pub event_type: Option<String>,
    /// The payload, already truncated by the caller to the feed's cap.
    pub data: bytes::Bytes,
    /// The payload's original size in bytes.
    pub size: u32,
    /// True when `data` is shorter than the original payload.
    pub truncated: bool,
}

/// One metric value.
///
/// The writer resolves `(feed_id, metric, labels)` to a series id (creating
/// the series on first sight) and keeps each series' timestamps strictly
/// increasing: a sample whose `ts` is not after the series' previous sample
/// is stored at previous + 1 µs. Non-finite values (NaN, ±∞) cannot be
/// charted or aggregated and are skipped (counted in the log).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    /// The feed's id.
    pub feed_id: i64,
    /// The metric's name (`cpu`, `latency_ms`).
    pub metric: Arc<str>,
    /// The series labels; share one empty map for unlabelled metrics.
    pub labels: Arc<Labels>,
    /// When the value was observed.
    pub ts: Timestamp,
    /// The value.
    pub value: f64,
}

impl SampleRow {
    /// A sample of an unlabelled metric.
    pub fn new(feed_id: i64, metric: impl Into<Arc<str>>, ts: Timestamp, value: f64) -> Self {
        SampleRow {
            feed_id,
            metric: metric.into(),
            labels: Arc::new(Labels::new()),
            ts,
            value,
        }
    }
}

/// One entry of a feed's connection timeline: a state change or an issue.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    /// The feed's id.
    pub feed_id: i64,
    /// When it happened.
    pub ts: Timestamp,
    /// `state` for a state change, else the issue kind (`oversize`, `payload`, …).
    pub kind: String,
    /// The state's name (`live`, `retrying`, …); for issues, the state the feed was in.
    pub state: String,
    /// For states the [`ConnState`] as JSON; for issues the message.
    pub detail: Option<String>,
}

impl TimelineRow {
    /// A state change.
    pub fn state(feed_id: i64, ts: Timestamp, state: &ConnState) -> Self {
        TimelineRow {
            feed_id,
            ts,
            kind: "state".into(),
            state: state.name().into(),
            detail: serde_json::to_string(state).ok(),
        }
    }

    /// An issue that happened while the feed was in `state`.
    pub fn issue(feed_id: i64, ts: Timestamp, state: &ConnState, issue: &FeedIssue) -> Self {
        TimelineRow {
            feed_id,
            ts,
            kind: issue.kind.clone(),
            state: state.name().into(),
            detail: Some(issue.message.clone()),
        }
    }
}
