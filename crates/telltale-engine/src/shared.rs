//! What the engine and its pipeline share: each feed's runtime (its
//! extractor and series cap), the feeds' live status, the alerting and the
//! fatal-failure signal. The engine ([`crate::Engine`]) writes it when feeds
//! change; the pipeline reads it on every step.

use crate::alerting::Alerting;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use telltale_model::extract::{Extractor, Health};
use telltale_model::{ConnState, Timestamp, TransportKind};
use telltale_sources::IngestBudget;

/// One feed's status, for lists and tiles.
#[derive(Debug, Clone, Serialize)]
pub struct FeedStatus {
    /// Store id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Transport.
    pub transport: TransportKind,
    /// URL with any credentials removed.
    pub url: String,
    /// Whether it is subscribed.
    pub enabled: bool,
    /// Current connection state.
    pub state: ConnState,
    /// Since when.
    pub state_since: Timestamp,
    /// The latest status verdict, if the feed has a status rule.
    pub healthy: Option<bool>,
    /// The latest status text.
    pub status_text: Option<String>,
    /// Messages received since the engine started.
    pub messages: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Messages not stored: shed because the store could not keep up, or
    /// because commits kept failing (a full disk) for too long.
    pub dropped: u64,
    /// Problems reported.
    pub errors: u64,
    /// Messages skipped as replays of ones already received
    /// (`websocket.id_pointer`).
    pub duplicates: u64,
    /// Last message time.
    pub last_message_at: Option<Timestamp>,
    /// Messages per second over the last few seconds.
    pub rate: f64,
}

/// What the pipeline needs to know about a feed.
pub(crate) struct FeedRuntime {
    pub id: i64,
    pub name: Arc<str>,
    pub extractor: Extractor,
    pub max_event_size: usize,
    /// The feed's series cap (`max_series`).
    pub max_series: usize,
    /// Which payloads are stored (`payloads`, `payloads_every`).
    pub payloads: crate::payloads::PayloadGate,
    /// Metric names and the label sets seen with them, under one lock.
    pub(crate) series: Mutex<SeriesSeen>,
    /// Counters' and histograms' previous readings, for feeds that have
    /// any ([`Extractor::derives`]).
    pub(crate) rates: Option<Mutex<telltale_model::extract::Rates>>,
}

/// The label sets seen with one metric name.
pub(crate) type LabelSets = std::collections::HashSet<BTreeMap<String, String>>;

/// Metric name → its shared name and the label sets seen with it.
#[derive(Default)]
pub(crate) struct SeriesSeen {
    pub(crate) known: HashMap<String, (Arc<str>, LabelSets)>,
    pub(crate) count: usize,
}

impl FeedRuntime {
    /// The metric's shared name (so that samples do not allocate names),
    /// or `None` when the sample must not be stored: a new series while
    /// the feed already has `max_series`. One lock and one lookup per
    /// sample, on the pipeline's hot path.
    pub fn admit(&self, metric: &str, labels: &BTreeMap<String, String>) -> Option<Arc<str>> {
        let Ok(mut seen) = self.series.lock() else {
            return Some(Arc::from(metric));
        };
        let seen = &mut *seen;
        if let Some((name, sets)) = seen.known.get_mut(metric) {
            if sets.contains(labels) {
                return Some(name.clone());
            }
            if seen.count >= self.max_series {
                return None;
            }
            seen.count += 1;
            sets.insert(labels.clone());
            return Some(name.clone());
        }
        if seen.count >= self.max_series {
            return None;
        }
        seen.count += 1;
        let name: Arc<str> = Arc::from(metric);
        seen.known.insert(
            metric.to_string(),
            (
                name.clone(),
                std::collections::HashSet::from([labels.clone()]),
            ),
        );
        Some(name)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct StatusCell {
    pub(crate) state: ConnState,
    pub(crate) since: Timestamp,
    pub(crate) health: Option<Health>,
    pub(crate) rate: f64,
    pub(crate) last_count: u64,
}

/// State shared by the engine and its pipeline.
pub(crate) struct Shared {
    /// Copy-on-write: the pipeline takes a cheap `Arc` snapshot per step
    /// instead of cloning the map (docs/benchmarks.md, 1,000 feeds).
    pub(crate) runtimes: RwLock<Arc<HashMap<i64, Arc<FeedRuntime>>>>,
    pub(crate) status: Mutex<HashMap<i64, StatusCell>>,
    pub alerting: Alerting,
    /// See [`Engine::fatal`].
    pub(crate) fatal: tokio::sync::watch::Sender<Option<String>>,
    /// Bytes of messages queued for the pipeline (see `EngineOptions::ingest_bytes`).
    pub ingest_budget: Arc<IngestBudget>,
    /// Where webhook feeds receive (see [`crate::Engine::webhooks`]).
    pub webhooks: Arc<telltale_sources::webhook::Hub>,
}

impl Shared {
    pub fn runtime_snapshot(&self) -> Arc<HashMap<i64, Arc<FeedRuntime>>> {
        self.runtimes
            .read()
            .map(|m| Arc::clone(&m))
            .unwrap_or_default()
    }
    pub fn set_state(&self, id: i64, state: ConnState, ts: Timestamp) {
        if let Ok(mut m) = self.status.lock() {
            if let Some(c) = m.get_mut(&id) {
                c.state = state;
                c.since = ts;
            }
        }
    }
    pub fn set_health(&self, id: i64, h: Health) {
        if let Ok(mut m) = self.status.lock() {
            if let Some(c) = m.get_mut(&id) {
                c.health = Some(h);
            }
        }
    }
    /// Records a failure the engine cannot recover from: logged and
    /// notified once, then shown as health and signalled to the shell.
    pub fn set_fatal(&self, what: String) {
        let first = self.fatal.send_if_modified(|f| {
            if f.is_some() {
                false
            } else {
                *f = Some(what.clone());
                true
            }
        });
        if first {
            tracing::error!(
                "{what}: Telltale no longer stores, evaluates or shows new data; restart it"
            );
            self.alerting.notify_now(crate::health::fatal(&what));
        }
    }

    pub fn state_of(&self, id: i64) -> Option<ConnState> {
        self.status
            .lock()
            .ok()
            .and_then(|m| m.get(&id).map(|c| c.state.clone()))
    }
}
