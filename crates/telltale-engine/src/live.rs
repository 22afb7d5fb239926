//! Live fan-out: subscribers receive batches of samples, events and state
//! changes. A slow subscriber never slows ingestion: it falls behind, skips
//! what it missed, and is told how many batches it lost.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use telltale_model::{ConnState, Timestamp};
use tokio::sync::broadcast;

/// One sample, as sent live.
#[derive(Debug, Clone, Serialize)]
pub struct LiveSample {
    /// Feed id.
    pub feed_id: i64,
    /// Metric name.
    pub metric: Arc<str>,
    /// Series labels.
    pub labels: Arc<BTreeMap<String, String>>,
    /// Sample time.
    pub ts: Timestamp,
    /// Value.
    pub value: f64,
}

/// One event, as sent live (payload capped for display).
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    /// Feed id.
    pub feed_id: i64,
    /// Receive time.
    pub received_at: Timestamp,
    /// The server's id or cursor.
    pub server_id: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// The payload as text (lossy UTF-8), capped.
    pub data: String,
    /// True if `data` was cut.
    pub truncated: bool,
}

/// A state change or issue, as sent live.
#[derive(Debug, Clone, Serialize)]
pub struct LiveState {
    /// Feed id.
    pub feed_id: i64,
    /// When.
    pub ts: Timestamp,
    /// The state (after the change).
    pub state: ConnState,
    /// For issues: kind and message.
    pub issue: Option<(String, String)>,
}

/// What subscribers receive: everything one pipeline step produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveBatch {
    /// New samples.
    pub samples: Vec<LiveSample>,
    /// New events.
    pub events: Vec<LiveEvent>,
    /// State changes and issues.
    pub states: Vec<LiveState>,
}

impl LiveBatch {
    /// True when there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.events.is_empty() && self.states.is_empty()
    }
}

/// What a subscriber gets from [`LiveSubscriber::recv`].
#[derive(Debug)]
pub enum LiveItem {
    /// A batch.
    Batch(Arc<LiveBatch>),
    /// The subscriber fell behind and this many batches were skipped.
    Lagged(u64),
}

/// A live subscription.
#[derive(Debug)]
pub struct LiveSubscriber {
    rx: broadcast::Receiver<Arc<LiveBatch>>,
}

impl LiveSubscriber {
    pub(crate) fn new(rx: broadcast::Receiver<Arc<LiveBatch>>) -> Self {
        LiveSubscriber { rx }
    }

    /// The next batch, or notice of lag; `None` once the engine is gone.
    pub async fn recv(&mut self) -> Option<LiveItem> {
        match self.rx.recv().await {
            Ok(b) => Some(LiveItem::Batch(b)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(LiveItem::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

pub use LiveItem as Item;
