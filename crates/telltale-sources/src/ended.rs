//! How a held connection (WebSocket, MQTT) ends, and the wait that follows:
//! one place for the retry states every such transport reports.

use crate::Sink;
use std::time::Duration;
use telltale_model::{Backoff, ConnState, FeedConfig};
use tokio_util::sync::CancellationToken;

/// How one connection ended.
pub(crate) enum Ended {
    /// Cancelled: stop.
    Cancelled,
    /// Failed or closed: retry with backoff, for this reason.
    Retry(String),
    /// Refused in a way retrying soon cannot fix (a 4xx, credentials):
    /// failed, retried on the slow schedule.
    RetrySlowly(String),
}

impl Ended {
    /// Why it ended, in words.
    pub(crate) fn reason(&self) -> &str {
        match self {
            Ended::Cancelled => "stopped",
            Ended::Retry(r) | Ended::RetrySlowly(r) => r,
        }
    }
}

/// Reports what `ended` calls for (`retrying` with the backoff's next
/// delay, or `failed` with the slow one) and waits it out. False when the
/// feed is cancelled (also when `ended` is [`Ended::Cancelled`]).
pub(crate) async fn wait_after(
    ended: Ended,
    backoff: &mut Backoff,
    sink: &Sink,
    cancel: &CancellationToken,
) -> bool {
    match ended {
        Ended::Cancelled => false,
        Ended::Retry(reason) => {
            let delay = backoff.next_delay();
            sink.retrying(backoff.attempt(), delay, reason).await;
            crate::sleep_or_cancel(delay, cancel).await
        }
        Ended::RetrySlowly(reason) => {
            let delay = backoff.next_slow_delay();
            let reason = crate::http_common::slow_retry_reason(&reason, delay);
            sink.state(ConnState::Failed { reason }).await;
            crate::sleep_or_cancel(delay, cancel).await
        }
    }
}

/// A configuration error nothing can retry away (an unparsable URL, an
/// unset variable): `failed`, re-checked every `backoff.max` (the
/// environment may get fixed). False when cancelled.
pub(crate) async fn config_failed(
    reason: String,
    feed: &FeedConfig,
    sink: &Sink,
    cancel: &CancellationToken,
) -> bool {
    sink.state(ConnState::Failed { reason }).await;
    let recheck = feed.backoff.max.0.max(Duration::from_secs(1));
    crate::sleep_or_cancel(recheck, cancel).await
}
