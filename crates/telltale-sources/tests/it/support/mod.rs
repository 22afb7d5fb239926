//! Shared helpers for the transport tests: a sink wired to a channel, a
//! running feed that is cancelled on drop, and "await the next matching
//! event" with a timeout that fails the test with everything seen so far.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use telltale_model::duration::Dur;
use telltale_model::feed::BackoffConfig;
use telltale_model::message::FeedIssue;
use telltale_model::{ConnState, FeedConfig, RawMessage, SourceEvent};
use telltale_sources::{FeedCounters, Ingest, Sink};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Default wait for one expected event.
pub const WAIT: Duration = Duration::from_secs(5);

/// Short backoff so tests reconnect quickly.
pub fn fast_backoff() -> BackoffConfig {
    BackoffConfig {
        initial: Dur::millis(50),
        max: Dur::millis(200),
        reset_after: Dur::secs(30),
    }
}

/// A sink plus the receiving end of its queue.
pub fn sink() -> (Sink, mpsc::Receiver<Ingest>) {
    let (tx, rx) = mpsc::channel(4096);
    (Sink::new(1, tx, Arc::new(FeedCounters::default())), rx)
}

/// A transport running in the background; cancelled when dropped.
pub struct Running {
    pub cancel: CancellationToken,
    pub task: Option<JoinHandle<()>>,
}

impl Running {
    /// Spawns `run(feed, sink, cancel)`.
    pub fn spawn<F, Fut>(run: F, feed: FeedConfig, sink: Sink) -> Running
    where
        F: FnOnce(Arc<FeedConfig>, Sink, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(Arc::new(feed), sink, cancel.clone()));
        Running {
            cancel,
            task: Some(task),
        }
    }

    /// Cancels and waits (bounded) for the task to end; fails if it doesn't.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(3), task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("transport task failed: {e}"),
                Err(_) => panic!("transport did not stop within 3s of cancel"),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Reads events, keeping a log, and awaits ones matching a predicate.
pub struct Events {
    pub rx: mpsc::Receiver<Ingest>,
    pub seen: Vec<SourceEvent>,
}

impl Events {
    pub fn new(rx: mpsc::Receiver<Ingest>) -> Events {
        Events {
            rx,
            seen: Vec::new(),
        }
    }

    /// The next event matching `pred` within `within`; panics naming `what`
    /// and listing every event seen otherwise.
    pub async fn expect_within(
        &mut self,
        what: &str,
        within: Duration,
        pred: impl Fn(&SourceEvent) -> bool,
    ) -> SourceEvent {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(ingest)) => {
                    self.seen.push(ingest.event.clone());
                    if pred(&ingest.event) {
                        return ingest.event;
                    }
                }
                Ok(None) => panic!("sink closed while waiting for {what}; seen: {}", self.log()),
                Err(_) => panic!(
                    "no {what} within {within:?}; seen {} events: {}",
                    self.seen.len(),
                    self.log()
                ),
            }
        }
    }

    /// [`Self::expect_within`] with [`WAIT`].
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&SourceEvent) -> bool) -> SourceEvent {
        self.expect_within(what, WAIT, pred).await
    }

    /// The first event within `d`, or `None` if the feed stays silent.
    pub async fn quiet_for(&mut self, d: Duration) -> Option<SourceEvent> {
        match tokio::time::timeout(d, self.rx.recv()).await {
            Ok(Some(ingest)) => {
                self.seen.push(ingest.event.clone());
                Some(ingest.event)
            }
            Ok(None) | Err(_) => None,
        }
    }

    /// The next state with this name (`live`, `retrying`, …).
    pub async fn state(&mut self, name: &str) -> ConnState {
        let what = format!("state `{name}`");
        match self
            .expect(
                &what,
                |e| matches!(e, SourceEvent::State(s) if s.name() == name),
            )
            .await
        {
            SourceEvent::State(s) => s,
            other => panic!("not a state: {other:?}"),
        }
    }

    /// The next `Retrying` reason.
    pub async fn retrying(&mut self) -> String {
        match self.state("retrying").await {
            ConnState::Retrying { reason, .. } => reason,
            other => panic!("not retrying: {other:?}"),
        }
    }

    /// The reason of the next `Retrying` within `d` (e.g. a dead peer
    /// found by a keepalive).
    pub async fn retrying_within(&mut self, d: Duration) -> String {
        match self
            .expect_within("a retry", d, |e| {
                matches!(e, SourceEvent::State(ConnState::Retrying { .. }))
            })
            .await
        {
            SourceEvent::State(ConnState::Retrying { reason, .. }) => reason,
            other => panic!("not retrying: {other:?}"),
        }
    }

    /// The next message.
    pub async fn message(&mut self) -> RawMessage {
        match self
            .expect("a message", |e| matches!(e, SourceEvent::Message(_)))
            .await
        {
            SourceEvent::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    /// The next issue of this kind.
    pub async fn issue(&mut self, kind: &str) -> FeedIssue {
        let what = format!("issue `{kind}`");
        match self
            .expect(
                &what,
                |e| matches!(e, SourceEvent::Issue(i) if i.kind == kind),
            )
            .await
        {
            SourceEvent::Issue(i) => i,
            other => panic!("not an issue: {other:?}"),
        }
    }

    /// Everything seen so far, one per line.
    pub fn log(&self) -> String {
        self.seen
            .iter()
            .map(|e| format!("\n  {}", short(e)))
            .collect()
    }

    /// Every event seen so far rendered as text (for "never shows X" checks).
    pub fn all_text(&self) -> String {
        self.seen.iter().map(|e| format!("{e:?}\n")).collect()
    }
}

/// A one-line rendering of an event (payloads shortened).
pub fn short(e: &SourceEvent) -> String {
    match e {
        SourceEvent::Message(m) => {
            let text = String::from_utf8_lossy(&m.data);
            let text: String = text.chars().take(80).collect();
            format!(
                "message type={:?} id={:?} metrics={:?} data={text:?} ({} bytes)",
                m.event_type,
                m.server_id,
                m.transport_metrics,
                m.data.len()
            )
        }
        other => format!("{other:?}"),
    }
}

/// The value of a transport metric, if present.
pub fn metric(m: &RawMessage, name: &str) -> Option<f64> {
    m.transport_metrics
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
}

pub use telltale_testsupport::until;

/// A local port with nothing listening on it.
pub async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}
