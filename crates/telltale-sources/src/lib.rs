//! Telltale's transports.
//!
//! Each transport is one module with one entry point, `run(feed, sink,
//! cancel)`, that owns its connection loop: connect, read, report, and on
//! failure back off with full jitter and try again, until cancelled. Sources
//! never touch storage: they report [`telltale_model::SourceEvent`]s through a [`Sink`].
//!
//! [`run`] picks the transport for a feed and adds the staleness watchdog
//! that every transport shares.

pub mod cert;
pub mod dns;
mod ended;
pub mod error;
pub mod feed_tls;
mod graphql;
pub mod grpc;
pub mod http_common;
pub mod long_poll;
pub mod long_poll_items;
pub mod mqtt;
pub mod pg_notify;
pub mod poll;
mod proxy;
pub mod redirect;
pub mod replay;
pub mod sink;
mod socketio;
pub mod sse;
pub mod tcp;
mod tls_files;
pub mod webhook;
pub mod websocket;

pub use error::SetupError;
pub use sink::{FeedCounters, Ingest, IngestBudget, Sink};
use std::sync::Arc;
use std::time::Duration;
use telltale_model::{ConnState, FeedConfig, TransportKind};
use tokio_util::sync::CancellationToken;

/// Runs a feed until `cancel` fires, then reports [`ConnState::Stopped`].
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    run_with(feed, sink, cancel, true).await
}

/// Like [`run`], for a short-lived probe (*Test connection*): a polling feed
/// sends its first request at once instead of at a random phase of its
/// interval, so the probe answers without waiting up to one interval.
pub async fn run_now(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    run_with(feed, sink, cancel, false).await
}

async fn run_with(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken, phase: bool) {
    let transport = {
        let feed = feed.clone();
        let sink = sink.clone();
        let cancel = cancel.clone();
        async move {
            match feed.transport {
                TransportKind::Websocket => websocket::run(feed, sink, cancel).await,
                TransportKind::Sse => sse::run(feed, sink, cancel).await,
                TransportKind::Poll => poll::run(feed, sink, cancel, phase).await,
                TransportKind::LongPoll => long_poll::run(feed, sink, cancel).await,
                TransportKind::Mqtt => mqtt::run(feed, sink, cancel).await,
                TransportKind::PgNotify => pg_notify::run(feed, sink, cancel).await,
                TransportKind::Webhook => webhook::run(feed, sink, cancel).await,
                TransportKind::Grpc => grpc::run(feed, sink, cancel).await,
                TransportKind::Tcp => tcp::run(feed, sink, cancel, phase).await,
                TransportKind::Dns => dns::run(feed, sink, cancel, phase).await,
                TransportKind::Graphql | TransportKind::Socketio => {
                    websocket::run(feed, sink, cancel).await
                }
            }
        }
    };
    // Transports watch `cancel` themselves (a WebSocket sends its Close
    // frame); the grace period only bounds one that does not finish.
    let grace = async {
        cancel.cancelled().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    tokio::select! {
        _ = transport => {}
        _ = watch_staleness(feed.stale_after(), &sink) => {}
        _ = grace => {}
    }
    sink.state(ConnState::Stopped).await;
}

/// Marks the feed stale when it is live but silent for `stale_after`
/// (never, for `None`).
/// (A message arriving while stale flips it back to live: see [`Sink::message`].)
async fn watch_staleness(stale_after: Option<Duration>, sink: &Sink) {
    let Some(stale_after) = stale_after else {
        return std::future::pending().await;
    };
    let tick = (stale_after / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Some(silent) = sink.silent_for() {
            if silent >= stale_after && sink.current_state().is_some_and(|s| s == ConnState::Live) {
                sink.state(ConnState::Stale {
                    silent_ms: silent.as_millis() as u64,
                })
                .await;
            }
        }
    }
}

/// Sleeps for `d` unless cancelled first; returns false when cancelled.
pub async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = cancel.cancelled() => false,
    }
}
