//! Where sources report to: a bounded queue into the pipeline, plus per-feed
//! counters that anyone can read without asking the pipeline.
//!
//! Back-pressure is bounded: if the pipeline queue stays full for
//! [`SHED_AFTER`], the message is dropped, counted in
//! [`FeedCounters::dropped`], and reported as a `shed` issue. A slow disk
//! therefore slows a network reader by at most that long per message, and
//! nothing is lost silently.
//!
//! The queue is bounded in bytes too: with an [`IngestBudget`] (the engine
//! gives every sink the same one), messages queued but not yet taken by the
//! pipeline hold at most its limit (256 MiB by default) whatever their
//! sizes; beyond it a message waits up to [`SHED_AFTER`] for room, then is
//! shed and counted the same way.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telltale_model::message::FeedIssue;
use telltale_model::secret::scrub_urls;
use telltale_model::{ConnState, RawMessage, SourceEvent, Timestamp};
use tokio::sync::mpsc;

/// How long a source waits for room in the pipeline queue before shedding.
pub const SHED_AFTER: Duration = Duration::from_millis(500);

/// One report, tagged with the feed's id.
#[derive(Debug)]
pub struct Ingest {
    /// The feed's store id.
    pub feed_id: i64,
    /// What happened.
    pub event: SourceEvent,
    /// Bytes drawn from the sink's [`IngestBudget`] for this report; whoever
    /// takes it off the queue gives them back ([`IngestBudget::release`]).
    pub charged: usize,
}

/// The bytes of messages waiting between the sources and the pipeline,
/// with a limit shared by every feed of an engine.
#[derive(Debug)]
pub struct IngestBudget {
    queued: std::sync::atomic::AtomicUsize,
    limit: usize,
    /// Senders waiting for room: only then does a release notify, so the
    /// common case (room to spare) costs two atomic operations a message.
    waiting: std::sync::atomic::AtomicUsize,
    freed: tokio::sync::Notify,
}

impl IngestBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<IngestBudget> {
        Arc::new(IngestBudget {
            queued: std::sync::atomic::AtomicUsize::new(0),
            limit: limit.max(1),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            freed: tokio::sync::Notify::new(),
        })
    }

    /// Bytes queued now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Gives `bytes` back once their report left the queue.
    pub fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(bytes))
            });
        if self.waiting.load(Ordering::Acquire) > 0 {
            self.freed.notify_waiters();
        }
    }

    /// Takes `bytes` if they fit (a message larger than the whole limit
    /// fits an empty queue, so that it is not refused for ever).
    fn try_take(&self, bytes: usize) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |q| {
                (q == 0 || q.saturating_add(bytes) <= self.limit).then(|| q.saturating_add(bytes))
            })
            .is_ok()
    }

    /// Takes `bytes`, waiting up to `wait` for room.
    async fn take(&self, bytes: usize, wait: Duration) -> bool {
        if self.try_take(bytes) {
            return true;
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let deadline = tokio::time::Instant::now() + wait;
        let taken = loop {
            let freed = self.freed.notified();
            if self.try_take(bytes) {
                break true;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                break self.try_take(bytes);
            }
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        taken
    }
}

/// Live counters of one feed, shared between its source and readers.
#[derive(Debug, Default)]
pub struct FeedCounters {
    /// Messages received.
    pub messages: AtomicU64,
    /// Payload bytes received.
    pub bytes: AtomicU64,
    /// Connections (re)established after the first.
    pub reconnects: AtomicU64,
    /// Messages dropped because the pipeline stayed full (load shedding).
    pub dropped: AtomicU64,
    /// Errors reported (malformed payloads, oversize frames, failed attempts).
    pub errors: AtomicU64,
    /// Messages dropped as replays of ones already received (`websocket.id_pointer`).
    pub duplicates: AtomicU64,
    /// Microsecond timestamp of the last message, 0 if none.
    pub last_message_at: AtomicI64,
    /// Microsecond timestamp of the last sign of life (message, heartbeat, pong).
    pub last_activity_at: AtomicI64,
    /// Microsecond timestamp of the last transition to `live`.
    pub live_since: AtomicI64,
}

impl FeedCounters {
    /// The last message time, if any.
    pub fn last_message(&self) -> Option<Timestamp> {
        match self.last_message_at.load(Ordering::Relaxed) {
            0 => None,
            t => Some(Timestamp(t)),
        }
    }
}

/// A source's handle to the pipeline. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sink {
    feed_id: i64,
    tx: mpsc::Sender<Ingest>,
    counters: Arc<FeedCounters>,
    state: Arc<Mutex<Option<ConnState>>>,
    connected_once: Arc<std::sync::atomic::AtomicBool>,
    /// Set once the pipeline is found gone, so that it is logged once.
    orphaned: Arc<std::sync::atomic::AtomicBool>,
    budget: Option<Arc<IngestBudget>>,
    hub: Option<Arc<crate::webhook::Hub>>,
    /// The server certificate's expiry, reported on messages (`crate::cert`).
    cert: Arc<crate::cert::CertWatch>,
}

impl Sink {
    /// A sink for one feed.
    pub fn new(feed_id: i64, tx: mpsc::Sender<Ingest>, counters: Arc<FeedCounters>) -> Self {
        Sink {
            feed_id,
            tx,
            counters,
            state: Arc::new(Mutex::new(None)),
            connected_once: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            orphaned: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            budget: None,
            hub: None,
            cert: Arc::default(),
        }
    }

    /// Where a webhook feed receives its deliveries (the engine's hub).
    pub fn with_hub(mut self, hub: Arc<crate::webhook::Hub>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// The webhook hub, if this sink's owner has one.
    pub fn hub(&self) -> Option<&Arc<crate::webhook::Hub>> {
        self.hub.as_ref()
    }

    /// Bounds the bytes this sink's messages may hold in the queue, with a
    /// budget the pipeline releases (see [`IngestBudget`]).
    pub fn with_budget(mut self, budget: Arc<IngestBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The feed's counters.
    pub fn counters(&self) -> &Arc<FeedCounters> {
        &self.counters
    }

    /// The feed id.
    pub fn feed_id(&self) -> i64 {
        self.feed_id
    }

    /// The last state reported.
    pub fn current_state(&self) -> Option<ConnState> {
        self.state.lock().ok().and_then(|s| s.clone())
    }

    /// Time without a message: since the last message, or since the feed
    /// went live if none came after that. Heartbeats, comments and pongs
    /// prove the connection is alive, but they are not data, so they do not
    /// count here.
    pub fn silent_for(&self) -> Option<Duration> {
        let last = self
            .counters
            .last_message_at
            .load(Ordering::Relaxed)
            .max(self.counters.live_since.load(Ordering::Relaxed));
        (last != 0).then(|| Timestamp::now().since(Timestamp(last)))
    }

    /// Records a sign of life that is not a message (comment, heartbeat, pong).
    pub fn activity(&self) {
        self.counters
            .last_activity_at
            .store(Timestamp::now().0, Ordering::Relaxed);
    }

    /// Reports a state change (repeats of the same state are suppressed).
    /// A reason that quotes a URL has its credentials and secret query
    /// values masked ([`telltale_model::secret::scrub_urls`]).
    pub async fn state(&self, s: ConnState) {
        let s = match s {
            ConnState::Failed { reason } => ConnState::Failed {
                reason: scrub_urls(&reason),
            },
            ConnState::Retrying {
                attempt,
                next_at,
                reason,
            } => ConnState::Retrying {
                attempt,
                next_at,
                reason: scrub_urls(&reason),
            },
            other => other,
        };
        {
            let Ok(mut cur) = self.state.lock() else {
                return;
            };
            if cur.as_ref() == Some(&s) {
                return;
            }
            if s == ConnState::Live {
                if self.connected_once.swap(true, Ordering::Relaxed) {
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                // A fresh connection starts the staleness clock.
                self.activity();
                self.counters
                    .live_since
                    .store(Timestamp::now().0, Ordering::Relaxed);
            }
            *cur = Some(s.clone());
        }
        self.send(SourceEvent::State(s)).await;
    }

    /// Reports `Retrying` for attempt `attempt`, next try after `delay`.
    pub async fn retrying(&self, attempt: u32, delay: Duration, reason: String) {
        self.state(ConnState::Retrying {
            attempt,
            next_at: Timestamp::now().plus(delay),
            reason,
        })
        .await;
    }

    /// Reports a problem that is not a state change (URLs in the message
    /// are masked as in [`Sink::state`]).
    pub async fn issue(&self, kind: &str, message: impl Into<String>) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.notice(kind, message).await;
    }

    /// Reports something worth seeing on the timeline that is not a
    /// problem (a followed redirect, replayed messages dropped): an issue
    /// that does not count as an error.
    pub async fn notice(&self, kind: &str, message: impl Into<String>) {
        self.send(SourceEvent::Issue(FeedIssue {
            kind: kind.into(),
            message: scrub_urls(&message.into()),
        }))
        .await;
    }

    /// Records the leaf certificate (DER) a TLS server presented: the days
    /// until it expires go out as `tls_days_left` with the next message,
    /// then hourly (see [`crate::cert`]).
    pub fn peer_certificate(&self, der: &[u8]) {
        self.cert.presented(der);
    }

    /// [`Sink::peer_certificate`] of an HTTP response, if it came over TLS
    /// (the client must be built with `tls_info`).
    pub fn peer_certificate_of(&self, response: &reqwest::Response) {
        if let Some(der) = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
        {
            self.peer_certificate(der);
        }
    }

    /// Reports a message. A message while stale flips the feed back to live.
    pub async fn message(&self, m: RawMessage) {
        self.deliver(m).await;
    }

    /// Like [`Sink::message`], and says whether the message was queued for
    /// the pipeline (false: shed, or the pipeline is gone), for a source
    /// that must answer its sender (a webhook) honestly.
    pub async fn deliver(&self, mut m: RawMessage) -> bool {
        if let Some(days) = self.cert.due(m.received_at) {
            m.transport_metrics.push((crate::cert::METRIC, days));
        }
        let c = &self.counters;
        c.messages.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(m.data.len() as u64, Ordering::Relaxed);
        c.last_message_at.store(m.received_at.0, Ordering::Relaxed);
        c.last_activity_at.store(m.received_at.0, Ordering::Relaxed);
        let stale = matches!(self.current_state(), Some(ConnState::Stale { .. }));
        if stale {
            self.state(ConnState::Live).await;
        }
        self.send(SourceEvent::Message(m)).await
    }

    async fn send(&self, event: SourceEvent) -> bool {
        let charged = match (&self.budget, &event) {
            (Some(budget), SourceEvent::Message(m)) => {
                let bytes = m.data.len();
                if !budget.take(bytes, SHED_AFTER).await {
                    self.shed(&format!(
                        "the pipeline's queue holds {} MiB of messages (its limit) for {SHED_AFTER:?}: shedding load (the disk or the pipeline is slower than the feeds)",
                        budget.queued() / (1024 * 1024)
                    ));
                    return false;
                }
                bytes
            }
            _ => 0,
        };
        let ingest = Ingest {
            feed_id: self.feed_id,
            event,
            charged,
        };
        let give_back = |charged: usize| {
            if let Some(b) = &self.budget {
                b.release(charged);
            }
        };
        match self.tx.try_send(ingest) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(ingest)) => {
                give_back(ingest.charged);
                // Normal while the engine shuts down; otherwise the pipeline
                // crashed, which the engine reports too. Said once per feed.
                if !self.orphaned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        feed_id = self.feed_id,
                        "the engine's pipeline is gone: this feed's data is no longer stored or evaluated"
                    );
                }
                false
            }
            Err(mpsc::error::TrySendError::Full(ingest)) => {
                let charged = ingest.charged;
                match tokio::time::timeout(SHED_AFTER, self.tx.send(ingest)).await {
                    Ok(Ok(())) => true,
                    Ok(Err(_)) => {
                        give_back(charged);
                        false
                    }
                    Err(_) => {
                        give_back(charged);
                        self.shed(&format!(
                            "pipeline queue full for {SHED_AFTER:?}: shedding load (the disk is slower than the feeds)"
                        ));
                        false
                    }
                }
            }
        }
    }

    /// Counts a shed message and says so (at the 1st, 2nd, 4th, 8th, …).
    fn shed(&self, why: &str) {
        let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n.is_power_of_two() {
            tracing::warn!(feed_id = self.feed_id, dropped = n, "{why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reasons_and_issues_never_echo_url_secrets() {
        let (tx, mut rx) = mpsc::channel(8);
        let sink = Sink::new(1, tx, Arc::new(FeedCounters::default()));
        let url = "https://user:hunter2@h.example/x?token=t0k3n&page=2";
        sink.state(ConnState::Failed {
            reason: format!("error sending request for url ({url})"),
        })
        .await;
        sink.retrying(1, Duration::from_secs(1), format!("failed: {url}"))
            .await;
        sink.issue("http_status", format!("HTTP 500 from {url}"))
            .await;
        drop(sink);
        let mut texts = Vec::new();
        while let Some(i) = rx.recv().await {
            texts.push(format!("{:?}", i.event));
        }
        assert_eq!(texts.len(), 3, "{texts:?}");
        for t in &texts {
            assert!(!t.contains("hunter2") && !t.contains("t0k3n"), "{t}");
            assert!(
                t.contains("https://••••••@h.example/x?token=••••••&page=2"),
                "{t}"
            );
        }
    }

    fn message(bytes: usize) -> RawMessage {
        RawMessage::new(bytes::Bytes::from(vec![b'x'; bytes]))
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_bytes_whatever_its_length() {
        // Room for 10,000 messages, but only 1 MiB: the budget decides.
        let (tx, mut rx) = mpsc::channel(10_000);
        let counters = Arc::new(FeedCounters::default());
        let budget = IngestBudget::new(1024 * 1024);
        let sink = Sink::new(1, tx, counters.clone()).with_budget(budget.clone());
        for _ in 0..20 {
            sink.message(message(100 * 1024)).await;
        }
        // Ten fit; the others waited for room, found none, and were shed.
        assert_eq!(budget.queued(), 10 * 100 * 1024);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 10);
        // Taking reports off the queue and releasing their bytes makes room.
        let mut taken = 0;
        while let Ok(i) = rx.try_recv() {
            if matches!(i.event, SourceEvent::Message(_)) {
                taken += 1;
            }
            budget.release(i.charged);
        }
        assert_eq!(taken, 10);
        assert_eq!(budget.queued(), 0);
        sink.message(message(100 * 1024)).await;
        assert_eq!(budget.queued(), 100 * 1024);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 10);
    }

    #[tokio::test]
    async fn a_message_larger_than_the_budget_passes_an_empty_queue() {
        let (tx, _rx) = mpsc::channel(8);
        let budget = IngestBudget::new(1024);
        let sink = Sink::new(1, tx, Arc::new(FeedCounters::default())).with_budget(budget.clone());
        sink.message(message(4096)).await;
        assert_eq!(budget.queued(), 4096);
    }
}
