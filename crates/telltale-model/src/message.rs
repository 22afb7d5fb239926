//! What sources report: messages, connection states and errors.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One message as received from a feed, before parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    /// When Telltale received it.
    pub received_at: Timestamp,
    /// The server's id or sequence (SSE `id`, long-poll cursor), if any.
    pub server_id: Option<String>,
    /// The event type (SSE `event`, `binary` for WebSocket binary frames), if any.
    pub event_type: Option<String>,
    /// The payload bytes. Text transports give UTF-8.
    pub data: bytes::Bytes,
    /// Extra numbers the transport itself measured (HTTP status, response time).
    pub transport_metrics: Vec<(&'static str, f64)>,
    /// Labels the transport attached to every sample of this message (MQTT
    /// topic levels captured by the feed's topic filter).
    pub labels: Vec<(String, String)>,
}

impl RawMessage {
    /// A message received now with the given payload.
    pub fn new(data: impl Into<bytes::Bytes>) -> Self {
        RawMessage {
            received_at: Timestamp::now(),
            server_id: None,
            event_type: None,
            data: data.into(),
            transport_metrics: Vec::new(),
            labels: Vec::new(),
        }
    }
}

/// A feed's connection state. Recorded with timestamps so that charts can
/// show gaps honestly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    /// Opening a connection (or sending the first request).
    Connecting,
    /// Connected and receiving.
    Live,
    /// Connected, but nothing arrived for the staleness window.
    Stale {
        /// Time since the last message, in milliseconds.
        silent_ms: u64,
    },
    /// Waiting to reconnect after a failure.
    Retrying {
        /// Attempt number, from 1.
        attempt: u32,
        /// When the next attempt starts.
        next_at: Timestamp,
        /// Why the last attempt failed.
        reason: String,
    },
    /// Stopped by the operator (disabled, removed, shutdown).
    Stopped,
    /// The server asked the client to stop (SSE `204 No Content`): no more
    /// attempts until the operator resumes the feed (disables and enables
    /// it, or edits it).
    StoppedByServer {
        /// What the server answered.
        reason: String,
    },
    /// Failed: a configuration problem. Either nothing to retry (an invalid
    /// URL) or retried on the slow schedule (a 4xx, a wrong content type),
    /// as the reason says.
    Failed {
        /// Why.
        reason: String,
    },
}

impl ConnState {
    /// The one-word name (`live`, `retrying`, …).
    pub fn name(&self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Live => "live",
            ConnState::Stale { .. } => "stale",
            ConnState::Retrying { .. } => "retrying",
            ConnState::Stopped => "stopped",
            ConnState::StoppedByServer { .. } => "stopped_by_server",
            ConnState::Failed { .. } => "failed",
        }
    }

    /// True while the feed delivers data.
    pub fn is_up(&self) -> bool {
        matches!(self, ConnState::Live | ConnState::Stale { .. })
    }

    /// A readable one-line description.
    pub fn describe(&self) -> String {
        match self {
            ConnState::Connecting => "connecting".into(),
            ConnState::Live => "live".into(),
            ConnState::Stale { silent_ms } => {
                format!("stale (silent for {:.1}s)", *silent_ms as f64 / 1000.0)
            }
            ConnState::Retrying {
                attempt,
                next_at,
                reason,
            } => format!(
                "retrying (attempt {attempt}, next at {}): {reason}",
                next_at.to_rfc3339_millis()
            ),
            ConnState::Stopped => "stopped".into(),
            ConnState::StoppedByServer { reason } => format!("stopped by server: {reason}"),
            ConnState::Failed { reason } => format!("failed: {reason}"),
        }
    }
}

/// A problem with one feed that does not (by itself) change its state, such
/// as a malformed payload or an oversize frame. Recorded in the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedIssue {
    /// Short machine-readable kind: `oversize`, `malformed_payload`, `close`, `shed`, …
    pub kind: String,
    /// Human explanation naming what happened and what to do.
    pub message: String,
}

/// What a source reports to the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// The connection state changed.
    State(ConnState),
    /// A message arrived.
    Message(RawMessage),
    /// Something worth recording happened that is not a state change.
    Issue(FeedIssue),
}
