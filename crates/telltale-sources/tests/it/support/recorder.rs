//! A running transport and everything it reported, for the SSE and
//! long-poll suites (shared so the two stay one harness).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;
use telltale_model::{ConnState, FeedConfig, RawMessage, SourceEvent, Timestamp};
use telltale_sources::{FeedCounters, Ingest, Sink};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One running transport and everything it reported so far.
pub struct Run {
    pub rx: mpsc::Receiver<Ingest>,
    pub counters: Arc<FeedCounters>,
    pub cancel: CancellationToken,
    pub task: JoinHandle<()>,
    pub log: Vec<SourceEvent>,
}

impl Run {
    /// Starts `transport` (e.g. `sse::run`) on `feed` with a fresh sink.
    pub fn start<F, Fut>(transport: F, feed: FeedConfig) -> Run
    where
        F: FnOnce(Arc<FeedConfig>, Sink, CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(10_000);
        let counters = Arc::new(FeedCounters::default());
        let sink = Sink::new(1, tx, counters.clone());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(transport(Arc::new(feed), sink, cancel.clone()));
        Run {
            rx,
            counters,
            cancel,
            task,
            log: Vec::new(),
        }
    }

    /// Receives until `done(log)` holds; fails with the log after `within`.
    pub async fn until(&mut self, what: &str, within: Duration, done: impl Fn(&Run) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(i)) => {
                    assert_eq!(i.feed_id, 1);
                    self.log.push(i.event);
                }
                Ok(None) => panic!("the sink channel closed while waiting for {what}"),
                Err(_) => panic!(
                    "timed out after {within:?} waiting for {what}; got:\n{}",
                    self.summary()
                ),
            }
        }
    }

    /// Everything reported during `d` (expecting the transport to carry on).
    pub async fn during(&mut self, d: Duration) -> Vec<SourceEvent> {
        let deadline = tokio::time::Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(Some(i)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.log.push(i.event.clone());
            got.push(i.event);
        }
        got
    }

    pub fn messages(&self) -> Vec<&RawMessage> {
        self.log
            .iter()
            .filter_map(|e| match e {
                SourceEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    pub fn ids(&self) -> Vec<u64> {
        self.messages()
            .iter()
            .map(|m| {
                m.server_id
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("message without numeric id: {m:?}"))
            })
            .collect()
    }

    /// Numeric server ids of the messages whose data is JSON.
    pub fn json_ids(&self) -> Vec<u64> {
        self.messages()
            .iter()
            .filter(|m| serde_json::from_slice::<serde_json::Value>(&m.data).is_ok())
            .map(|m| {
                m.server_id
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("message without numeric id: {m:?}"))
            })
            .collect()
    }

    pub fn max_json_id(&self) -> u64 {
        self.json_ids().into_iter().max().unwrap_or(0)
    }

    pub fn states(&self) -> Vec<&ConnState> {
        self.log
            .iter()
            .filter_map(|e| match e {
                SourceEvent::State(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    pub fn retries(&self) -> Vec<(u32, Timestamp, String)> {
        self.states()
            .into_iter()
            .filter_map(|s| match s {
                ConnState::Retrying {
                    attempt,
                    next_at,
                    reason,
                } => Some((*attempt, *next_at, reason.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn count_live(&self) -> usize {
        self.states()
            .into_iter()
            .filter(|s| **s == ConnState::Live)
            .count()
    }

    pub fn issues(&self) -> Vec<(String, String)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                SourceEvent::Issue(i) => Some((i.kind.clone(), i.message.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn summary(&self) -> String {
        self.log
            .iter()
            .map(|e| match e {
                SourceEvent::State(s) => format!("  state {}", s.describe()),
                SourceEvent::Message(m) => format!(
                    "  message id={:?} type={:?} {:?}",
                    m.server_id,
                    m.event_type,
                    String::from_utf8_lossy(&m.data)
                ),
                SourceEvent::Issue(i) => format!("  issue {}: {}", i.kind, i.message),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Cancels and checks that the transport stops promptly.
    pub async fn stop(self) -> Vec<SourceEvent> {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .expect("run() did not return within 2 s of cancel")
            .expect("run() panicked");
        self.log
    }
}
