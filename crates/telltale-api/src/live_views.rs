//! What the live stream carries: batches of samples, events and state
//! changes, as the UI receives them over a Tauri Channel or the `/api/live`
//! WebSocket. Times are milliseconds since the Unix epoch, as in
//! [`crate::views`].

use crate::secrets::scrub_credentials;
use crate::views::*;
use serde::{Deserialize, Serialize};
use telltale_engine::LiveBatch;
use ts_rs::TS;

/// One live sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct LiveSampleView {
    /// Feed id.
    #[ts(type = "number")]
    pub feed_id: i64,
    /// Metric name.
    pub metric: String,
    /// Labels.
    pub labels: LabelsView,
    /// Sample time (ms).
    #[ts(type = "number")]
    pub ts: i64,
    /// Value.
    pub value: f64,
}

/// One live event (payload capped at 8 KiB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct LiveEventView {
    /// Feed id.
    #[ts(type = "number")]
    pub feed_id: i64,
    /// Receive time (ms).
    #[ts(type = "number")]
    pub received_at: i64,
    /// The server's id or cursor.
    pub server_id: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// The payload as text.
    pub data: String,
    /// True if `data` was cut.
    pub truncated: bool,
}

/// An issue that is not a state change (malformed payload, close code, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct LiveIssueView {
    /// Kind (`payload`, `oversize`, `close`, `shed`, …).
    pub kind: String,
    /// Explanation.
    pub message: String,
}

/// A state change or issue, live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct LiveStateView {
    /// Feed id.
    #[ts(type = "number")]
    pub feed_id: i64,
    /// When (ms).
    #[ts(type = "number")]
    pub ts: i64,
    /// The state (after the change).
    pub state: ConnStateView,
    /// Set for issues.
    pub issue: Option<LiveIssueView>,
}

/// Everything that happened during one live window (at most ~33 ms):
/// engine batches merged, so a client gets at most ~30 of these a second.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct LiveBatchView {
    /// New samples, in arrival order.
    pub samples: Vec<LiveSampleView>,
    /// New events (the newest 500 of the window).
    pub events: Vec<LiveEventView>,
    /// State changes and issues.
    pub states: Vec<LiveStateView>,
    /// Events of this window left out to keep the message small (they are stored).
    #[ts(type = "number")]
    pub events_omitted: u64,
}

impl LiveBatchView {
    /// True when there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
            && self.events.is_empty()
            && self.states.is_empty()
            && self.events_omitted == 0
    }

    /// Appends an engine batch.
    pub(crate) fn absorb(&mut self, b: &LiveBatch) {
        self.samples
            .extend(b.samples.iter().map(|s| LiveSampleView {
                feed_id: s.feed_id,
                metric: s.metric.to_string(),
                labels: (*s.labels).clone(),
                ts: ms(s.ts),
                value: s.value,
            }));
        self.events.extend(b.events.iter().map(|e| LiveEventView {
            feed_id: e.feed_id,
            received_at: ms(e.received_at),
            server_id: e.server_id.clone(),
            event_type: e.event_type.clone(),
            data: e.data.clone(),
            truncated: e.truncated,
        }));
        self.states.extend(b.states.iter().map(|s| LiveStateView {
            feed_id: s.feed_id,
            ts: ms(s.ts),
            state: ConnStateView::from(&s.state),
            issue: s.issue.as_ref().map(|(kind, message)| LiveIssueView {
                kind: kind.clone(),
                message: scrub_credentials(message),
            }),
        }));
    }

    /// Keeps the newest `max` events, counting the others as omitted.
    pub(crate) fn cap_events(&mut self, max: usize) {
        if self.events.len() > max {
            let extra = self.events.len() - max;
            self.events.drain(..extra);
            self.events_omitted += extra as u64;
        }
    }
}

/// One message of the live stream: a merged batch, or notice that this
/// client fell behind and `lagged` engine batches were skipped (reload
/// charts from the history API to fill the hole).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(untagged)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum LiveMessage {
    /// Skipped batches.
    Lagged {
        /// How many engine batches were skipped.
        #[ts(type = "number")]
        lagged: u64,
    },
    /// A merged batch.
    Batch(LiveBatchView),
}
