//! The [`Engine`]: which feeds run, their live status, changes applied
//! without a restart, and the supervision of the pipeline it owns (a
//! crashed pipeline or a stopped writer becomes a fatal failure, never a
//! silent stop).

use crate::alerting::{AlertAction, Alerting};
use crate::live::{LiveBatch, LiveSubscriber};
use crate::pipeline::Pipeline;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use telltale_alerts::{AlertInstance, Notifier};
use telltale_model::alert::AlertSettings;
use telltale_model::config::validate_feed;
use telltale_model::extract::Extractor;
use telltale_model::{ConfigFile, ConnState, FeedConfig, Timestamp};
use telltale_sources::{FeedCounters, Ingest, IngestBudget, Sink};
use telltale_store::{Backend, FeedOrigin, StoreError};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Engine tuning.
use crate::error::EngineError;
use crate::health::EngineHealth;
use crate::shared::{FeedRuntime, FeedStatus, SeriesSeen, Shared, StatusCell};

/// Engine tuning.
#[derive(Clone)]
pub struct EngineOptions {
    /// Capacity of the queue between sources and the pipeline, in reports.
    pub ingest_queue: usize,
    /// The most bytes of messages that queue holds (default 256 MiB):
    /// beyond it sources shed, count and say so.
    pub ingest_bytes: usize,
    /// Live batches buffered per subscriber before it counts as lagging.
    pub live_buffer: usize,
    /// Alert settings (flood control, quiet hours, re-notify).
    pub alerts: AlertSettings,
    /// Where notifications go; `None` records alerts without notifying.
    pub notifier: Option<Arc<dyn Notifier>>,
    /// How often undelivered notifications are retried (default 30 s).
    pub notify_retry: Duration,
    /// Fault injection for tests: the pipeline panics on the first message
    /// of the feed with this name (a crash cannot be produced otherwise).
    #[doc(hidden)]
    pub panic_on_feed: Option<String>,
    /// An operator's one-off command (`telltaled ack`…): alerts are
    /// restored and actions applied, but nothing runs on a clock (no alert
    /// ticks, no reminders, no queued commands taken), so the command
    /// changes only what it was asked to.
    pub passive: bool,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("ingest_queue", &self.ingest_queue)
            .field("live_buffer", &self.live_buffer)
            .field("alerts", &self.alerts)
            .field("notifier", &self.notifier.is_some())
            .finish()
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            ingest_queue: 65_536,
            ingest_bytes: 256 * 1024 * 1024,
            live_buffer: 1024,
            alerts: AlertSettings::default(),
            notifier: None,
            notify_retry: Duration::from_secs(30),
            panic_on_feed: None,
            passive: false,
        }
    }
}

struct RunningFeed {
    id: i64,
    config: Arc<FeedConfig>,
    counters: Arc<FeedCounters>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// The engine. Cheap to clone; all clones drive the same feeds.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Backend>,
    pub(crate) shared: Arc<Shared>,
    ingest_tx: Mutex<Option<mpsc::Sender<Ingest>>>,
    live_tx: broadcast::Sender<Arc<LiveBatch>>,
    feeds: tokio::sync::Mutex<HashMap<String, RunningFeed>>,
    pipeline: Mutex<Option<JoinHandle<()>>>,
    shutdown: CancellationToken,
    /// See [`EngineOptions::passive`].
    passive: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts the pipeline over `store`. Feeds are added with
    /// [`Engine::import`], [`Engine::upsert_feed`] or [`Engine::start_stored`].
    /// Must be called inside a tokio runtime.
    pub fn start(
        store: impl Backend + 'static,
        opts: EngineOptions,
    ) -> Result<Engine, EngineError> {
        Engine::start_on(Arc::new(store), opts)
    }

    /// [`Engine::start`] on a backend already shared.
    pub fn start_on(store: Arc<dyn Backend>, opts: EngineOptions) -> Result<Engine, EngineError> {
        let (ingest_tx, rx) = mpsc::channel(opts.ingest_queue.max(16));
        let (live_tx, _) = broadcast::channel(opts.live_buffer.max(4));
        let alerting = Alerting::new(
            &*store,
            opts.alerts.clone(),
            opts.notifier.clone(),
            opts.notify_retry,
        )?;
        let shared = Arc::new(Shared {
            runtimes: RwLock::default(),
            status: Mutex::default(),
            alerting,
            fatal: tokio::sync::watch::channel(None).0,
            ingest_budget: IngestBudget::new(opts.ingest_bytes),
            webhooks: telltale_sources::webhook::Hub::new(),
        });
        let pipeline = Pipeline {
            rx,
            store: store.clone(),
            live: live_tx.clone(),
            shared: shared.clone(),
            panic_on_feed: opts.panic_on_feed.clone(),
        };
        let handle = supervise_pipeline(pipeline, shared.clone());
        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                shared,
                ingest_tx: Mutex::new(Some(ingest_tx)),
                live_tx,
                feeds: tokio::sync::Mutex::new(HashMap::new()),
                pipeline: Mutex::new(Some(handle)),
                shutdown: CancellationToken::new(),
                passive: opts.passive,
            }),
        };
        if !opts.passive {
            engine.spawn_rate_ticker();
            engine.spawn_alert_ticker();
            engine.spawn_health_watch();
        }
        Ok(engine)
    }

    /// Applies an operator action on alerts (ack, snooze, mute) at once.
    pub async fn alert_action(&self, action: AlertAction) -> Result<(), EngineError> {
        self.inner.shared.alerting.apply(&action)?;
        let out = match self.inner.shared.alerting.engine.lock() {
            Ok(mut e) => e.drain(),
            Err(_) => return Err(EngineError::Internal("alert engine poisoned".into())),
        };
        self.inner
            .shared
            .alerting
            .emit(&*self.inner.store, out)
            .await;
        Ok(())
    }

    /// Every alert instance (firing, pending, resolved, ok), newest change first.
    pub fn alerts(&self) -> Vec<AlertInstance> {
        let mut v: Vec<AlertInstance> = self
            .inner
            .shared
            .alerting
            .engine
            .lock()
            .map(|e| e.instances().cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|i| std::cmp::Reverse(i.since));
        v
    }

    /// The `[alerts]` settings in force.
    pub fn alert_settings(&self) -> AlertSettings {
        self.inner
            .shared
            .alerting
            .engine
            .lock()
            .map(|e| e.settings().clone())
            .unwrap_or_default()
    }

    /// Applies new `[alerts]` settings at once: the next notification
    /// decision uses the new quiet hours, flood limits and re-notify
    /// interval. (Storing them is the caller's job:
    /// [`telltale_store::Store::save_settings`].)
    pub fn set_alert_settings(&self, settings: AlertSettings) -> Result<(), EngineError> {
        let mut e = self
            .inner
            .shared
            .alerting
            .engine
            .lock()
            .map_err(|_| EngineError::Internal("alert engine poisoned".into()))?;
        e.set_settings(settings);
        Ok(())
    }

    /// Whether notifications are muted, and until when (`Some(None)`: until turned off).
    pub fn muted(&self) -> Option<Option<Timestamp>> {
        self.inner
            .shared
            .alerting
            .engine
            .lock()
            .ok()
            .and_then(|e| e.silences().muted)
    }

    fn spawn_alert_ticker(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.shutdown.is_cancelled() {
                    break;
                }
                // Commands queued by `telltaled ack|snooze|mute` in another process.
                let store = inner.store.clone();
                let queued = tokio::task::spawn_blocking(move || store.pending_alert_commands())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let mut done = Vec::new();
                for (id, json) in queued {
                    match serde_json::from_str::<AlertAction>(&json) {
                        Ok(action) => {
                            if let Err(e) = inner.shared.alerting.apply(&action) {
                                tracing::warn!("alert command {id} failed: {e}");
                            }
                        }
                        Err(e) => tracing::warn!("alert command {id} is not understood: {e}"),
                    }
                    done.push(id);
                }
                if !done.is_empty() {
                    let batch = telltale_store::WriteBatch {
                        done_commands: done,
                        ..Default::default()
                    };
                    if let Err(e) = inner.store.send(batch).await {
                        tracing::error!("cannot mark alert commands done: {e}");
                    }
                }
                inner.shared.alerting.step(&*inner.store).await;
            }
        });
    }

    /// The storage backend under the engine.
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.inner.store
    }

    /// A live subscription to samples, events and state changes.
    pub fn subscribe(&self) -> LiveSubscriber {
        LiveSubscriber::new(self.inner.live_tx.subscribe())
    }

    /// Imports a config file's feeds into the store and runs them.
    ///
    /// The file is the source of truth for the feeds it defines: each one
    /// replaces the stored feed of the same name. Feeds that came from a file
    /// earlier but are no longer in it are disabled (their history is kept).
    /// Feeds created in the GUI are left alone.
    pub async fn import(&self, file: &ConfigFile) -> Result<Vec<i64>, EngineError> {
        let mut ids = Vec::new();
        for f in &file.feeds {
            ids.push(self.upsert_feed(f.clone(), FeedOrigin::File).await?);
        }
        let names: std::collections::HashSet<String> =
            file.feeds.iter().map(|f| f.name.clone()).collect();
        for stored in self.blocking(|s| s.list_feeds()).await? {
            if stored.origin == FeedOrigin::File
                && !names.contains(&stored.config.name)
                && stored.config.enabled
            {
                let mut cfg = stored.config.clone();
                cfg.enabled = false;
                tracing::info!(
                    "feed {}: no longer in the config file; disabled (history kept)",
                    cfg.name
                );
                self.upsert_feed(cfg, FeedOrigin::File).await?;
            }
        }
        Ok(ids)
    }

    /// Starts every enabled feed stored in the database.
    pub async fn start_stored(&self) -> Result<usize, EngineError> {
        let stored = self.blocking(|s| s.list_feeds()).await?;
        let mut n = 0;
        for f in stored {
            if f.config.enabled && validate_feed(&f.config).is_empty() {
                self.run_feed(f.id, f.config).await;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Adds or replaces a feed (by name) and applies it at once: a changed
    /// feed is restarted, a disabled one stopped.
    pub async fn upsert_feed(
        &self,
        cfg: FeedConfig,
        origin: FeedOrigin,
    ) -> Result<i64, EngineError> {
        if let Some((field, message)) = validate_feed(&cfg).into_iter().next() {
            return Err(EngineError::Invalid {
                feed: cfg.name.clone(),
                field,
                message,
            });
        }
        let stored_cfg = cfg.clone();
        let id = self
            .blocking(move |s| s.upsert_feed(&stored_cfg, origin))
            .await?;
        let unchanged = {
            let feeds = self.inner.feeds.lock().await;
            feeds
                .get(&cfg.name)
                .is_some_and(|r| *r.config == cfg && r.id == id)
        };
        if unchanged {
            return Ok(id);
        }
        self.stop_feed(&cfg.name).await;
        if cfg.enabled {
            self.run_feed(id, cfg).await;
        } else if let Ok(mut alerts) = self.inner.shared.alerting.engine.lock() {
            alerts.remove_feed(id);
        }
        Ok(id)
    }

    /// Stops and deletes a feed.
    pub async fn remove_feed(&self, name: &str) -> Result<(), EngineError> {
        let id = self.inner.feeds.lock().await.get(name).map(|r| r.id);
        self.stop_feed(name).await;
        if let Some(id) = id {
            if let Ok(mut alerts) = self.inner.shared.alerting.engine.lock() {
                alerts.remove_feed(id);
            }
        }
        let n = name.to_string();
        if self.blocking(move |s| s.delete_feed(&n)).await? {
            Ok(())
        } else {
            Err(EngineError::NotFound(name.to_string()))
        }
    }

    /// The status of every running feed, by name.
    pub async fn feeds(&self) -> Vec<FeedStatus> {
        let not_stored = self.inner.store.health().shed_events;
        let feeds = self.inner.feeds.lock().await;
        let status = self
            .inner
            .shared
            .status
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut out: Vec<FeedStatus> = feeds
            .values()
            .map(|r| {
                let c = &r.counters;
                let cell = status.get(&r.id);
                FeedStatus {
                    id: r.id,
                    name: r.config.name.clone(),
                    transport: r.config.transport,
                    url: telltale_model::secret::redact_url(&r.config.url),
                    enabled: r.config.enabled,
                    state: cell
                        .map(|c| c.state.clone())
                        .unwrap_or(ConnState::Connecting),
                    state_since: cell.map(|c| c.since).unwrap_or_default(),
                    healthy: cell.and_then(|c| c.health.as_ref().map(|h| h.healthy)),
                    status_text: cell.and_then(|c| c.health.as_ref().map(|h| h.text.clone())),
                    messages: c.messages.load(Ordering::Relaxed),
                    bytes: c.bytes.load(Ordering::Relaxed),
                    reconnects: c.reconnects.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed)
                        + not_stored.get(&r.id).copied().unwrap_or(0),
                    errors: c.errors.load(Ordering::Relaxed),
                    duplicates: c.duplicates.load(Ordering::Relaxed),
                    last_message_at: c.last_message(),
                    rate: cell.map(|c| c.rate).unwrap_or(0.0),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Stops every feed, drains the pipeline, commits and closes the store.
    pub async fn shutdown(self) -> Result<(), EngineError> {
        self.inner.shutdown.cancel();
        let names: Vec<String> = self.inner.feeds.lock().await.keys().cloned().collect();
        for n in names {
            self.stop_feed(&n).await;
        }
        // Closing the ingest queue ends the pipeline once it has drained.
        if let Ok(mut tx) = self.inner.ingest_tx.lock() {
            tx.take();
        }
        let pipeline = self.inner.pipeline.lock().ok().and_then(|mut p| p.take());
        if let Some(p) = pipeline {
            p.await
                .map_err(|e| EngineError::Internal(format!("pipeline task failed: {e}")))?;
        }
        if !self.inner.passive {
            self.inner.shared.alerting.step(&*self.inner.store).await;
        }
        self.inner
            .shared
            .alerting
            .finish(&*self.inner.store, Duration::from_secs(2))
            .await;
        self.inner.store.flush().await?;
        Ok(())
    }

    async fn run_feed(&self, id: i64, cfg: FeedConfig) {
        let Some(tx) = self.inner.ingest_tx.lock().ok().and_then(|t| t.clone()) else {
            return; // shutting down
        };
        let extractor = match Extractor::new(&cfg) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("feed {}: cannot start: {:?}", cfg.name, e);
                return;
            }
        };
        let rates = extractor
            .derives()
            .then(|| Mutex::new(telltale_model::extract::Rates::new(cfg.max_series())));
        let runtime = Arc::new(FeedRuntime {
            id,
            name: Arc::from(cfg.name.as_str()),
            extractor,
            rates,
            max_event_size: cfg.max_event_size().min(usize::MAX as u64) as usize,
            max_series: cfg.max_series(),
            payloads: {
                let (keep, every) = cfg.payload_policy();
                crate::payloads::PayloadGate::new(keep, every)
            },
            series: Mutex::new(SeriesSeen::default()),
        });
        if let Ok(mut m) = self.inner.shared.runtimes.write() {
            Arc::make_mut(&mut m).insert(id, runtime);
        }
        if let Ok(mut alerts) = self.inner.shared.alerting.engine.lock() {
            let rules = cfg.effective_alerts();
            for (i, field, message) in alerts.set_feed_rules(id, &cfg.name, &rules) {
                tracing::error!(
                    "feed {}: alert[{i}].{field} {message} (rule skipped)",
                    cfg.name
                );
            }
            let units = rules
                .iter()
                .filter_map(|r| r.metric.as_ref())
                .filter_map(|m| cfg.unit_of(m).map(|u| (m.clone(), u)))
                .collect();
            alerts.set_feed_units(id, units);
            alerts.set_feed_parent(id, cfg.depends_on.as_deref());
            alerts.set_feed_tags(id, &cfg.tags);
        }
        if let Ok(mut m) = self.inner.shared.status.lock() {
            m.insert(
                id,
                StatusCell {
                    state: ConnState::Connecting,
                    since: Timestamp::now(),
                    health: None,
                    rate: 0.0,
                    last_count: 0,
                },
            );
        }
        if cfg.transport == telltale_model::TransportKind::Webhook {
            self.remember_delivery_ids(id, &cfg.name).await;
        }
        let counters = Arc::new(FeedCounters::default());
        let sink = Sink::new(id, tx, counters.clone())
            .with_budget(self.inner.shared.ingest_budget.clone())
            .with_hub(self.inner.shared.webhooks.clone());
        let cancel = self.inner.shutdown.child_token();
        let config = Arc::new(cfg);
        let task = tokio::spawn(telltale_sources::run(config.clone(), sink, cancel.clone()));
        let mut feeds = self.inner.feeds.lock().await;
        feeds.insert(
            config.name.clone(),
            RunningFeed {
                id,
                config,
                counters,
                cancel,
                task: Some(task),
            },
        );
    }

    async fn stop_feed(&self, name: &str) {
        let running = self.inner.feeds.lock().await.remove(name);
        if let Some(mut r) = running {
            r.cancel.cancel();
            if let Some(t) = r.task.take() {
                if tokio::time::timeout(Duration::from_secs(5), t)
                    .await
                    .is_err()
                {
                    tracing::warn!("feed {name}: did not stop within 5s");
                }
            }
            // The pipeline still resolves the feed's final reports ("stopped")
            // until the next start replaces the runtime; it is removed lazily.
        }
    }

    fn spawn_rate_ticker(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.shutdown.is_cancelled() {
                    break;
                }
                let counts: Vec<(i64, u64)> = inner
                    .feeds
                    .lock()
                    .await
                    .values()
                    .map(|r| (r.id, r.counters.messages.load(Ordering::Relaxed)))
                    .collect();
                if let Ok(mut m) = inner.shared.status.lock() {
                    for (id, n) in counts {
                        if let Some(c) = m.get_mut(&id) {
                            let delta = n.saturating_sub(c.last_count) as f64;
                            c.rate = if c.last_count == 0 && c.rate == 0.0 {
                                delta
                            } else {
                                0.7 * c.rate + 0.3 * delta
                            };
                            c.last_count = n;
                        }
                    }
                };
            }
        });
    }

    /// Hands a webhook feed's stored delivery ids to the hub before it
    /// starts, so that a provider's retry of a delivery stored before a
    /// restart is answered as a duplicate.
    async fn remember_delivery_ids(&self, id: i64, name: &str) {
        let q = telltale_store::EventQuery {
            feed_id: Some(id),
            limit: telltale_sources::webhook::REMEMBERED_IDS,
            ..Default::default()
        };
        match self.blocking(move |s| s.events(&q)).await {
            Ok(rows) => self
                .inner
                .shared
                .webhooks
                .remember(name, rows.into_iter().filter_map(|e| e.server_id).collect()),
            Err(e) => tracing::warn!(
                "feed {name}: cannot read its stored delivery ids ({e}); a retry of one stored before this start would be stored again"
            ),
        }
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Backend) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| EngineError::Internal(format!("blocking task failed: {e}")))?
            .map_err(EngineError::from)
    }
}

impl Engine {
    /// The engine's own health: whether the store writes, and whether
    /// anything fatal happened.
    pub fn health(&self) -> EngineHealth {
        EngineHealth {
            store: self.inner.store.health(),
            fatal: self.inner.shared.fatal.borrow().clone(),
        }
    }

    /// Where this engine's webhook feeds receive: an HTTP server hands
    /// `POST /hooks/{feed}` to it, and lists itself while it listens.
    pub fn webhooks(&self) -> &Arc<telltale_sources::webhook::Hub> {
        &self.inner.shared.webhooks
    }

    /// Becomes `Some(what happened)` when the engine can no longer work
    /// (the pipeline crashed, the store's writer stopped). Shells exit
    /// non-zero on it, so that a supervisor restarts them.
    pub fn fatal(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.inner.shared.fatal.subscribe()
    }

    /// Notifies when storage starts failing and when it recovers.
    pub(crate) fn spawn_health_watch(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut health = self.inner.store.watch_health();
        tokio::spawn(async move {
            let mut failing = false;
            while health.changed().await.is_ok() {
                let now = health.borrow_and_update().clone();
                let Some(inner) = weak.upgrade() else { break };
                match (&now.failure, failing) {
                    (Some(f), false) => {
                        failing = true;
                        inner
                            .shared
                            .alerting
                            .notify_now(crate::health::storage_failing(f));
                    }
                    (None, true) => {
                        failing = false;
                        inner
                            .shared
                            .alerting
                            .notify_now(crate::health::storage_recovered(&now));
                    }
                    _ => {}
                }
            }
        });
    }
}

/// Runs the pipeline in its own task and turns a panic into a fatal
/// engine failure instead of a silent stop. The returned task ends when the
/// pipeline does.
pub(crate) fn supervise_pipeline(pipeline: Pipeline, shared: Arc<Shared>) -> JoinHandle<()> {
    let task = tokio::spawn(pipeline.run());
    tokio::spawn(async move {
        if let Err(e) = task.await {
            let what = if e.is_panic() {
                let payload = e.into_panic();
                format!(
                    "the ingest pipeline crashed ({})",
                    crate::health::panic_message(payload.as_ref())
                )
            } else {
                "the ingest pipeline was cancelled".to_string()
            };
            shared.set_fatal(what);
        }
    })
}
