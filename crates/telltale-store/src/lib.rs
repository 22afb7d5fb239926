//! Telltale's history: feeds, raw events, metric samples with 1-minute and
//! 1-hour rollups, and each feed's connection timeline, in one SQLite file.
//!
//! # Design
//!
//! * **One writer.** A dedicated thread owns the only read-write connection.
//!   Everything that writes goes through its bounded channel: data batches
//!   ([`Store::send`]), feed changes ([`Store::upsert_feed`],
//!   [`Store::delete_feed`]), settings ([`Store::save_settings`]) and
//!   retention runs. Feed changes therefore
//!   never race the writer's caches, and SQLite never sees two writers of
//!   ours. (Another process, e.g. `telltaled export`, may open the same file:
//!   SQLite serializes writers and [`StoreError::Locked`] explains a
//!   timeout.)
//! * **Batching.** Batches are committed together once `commit_interval`
//!   (default 100 ms) has passed since the first uncommitted one arrived,
//!   or once `commit_rows` rows wait, in one transaction with cached
//!   prepared statements. Meanwhile the writer sleeps rather than waking
//!   for each batch; any other command, or a half-full queue, wakes it.
//!   WAL mode with `synchronous=NORMAL`: a commit is atomic and survives a
//!   crash of the process; a power loss may lose the last commits but never
//!   corrupts the file.
//! * **Durability signal.** [`Store::flush`] resolves once everything sent
//!   before it is committed; [`Store::committed_events`] counts committed
//!   events.
//! * **No silent loss.** [`Store::send`] waits when the queue is full
//!   (back-pressure) and [`Store::try_send`] hands the batch back. A failing
//!   commit is logged and retried with backoff, holding the same rows,
//!   until it succeeds. Dropping the last [`Store`] (or [`Store::close`])
//!   commits what is queued before the writer stops.
//! * **Readers** use a small pool of read-only connections; in WAL mode
//!   they never block the writer nor see half a commit. Reads are blocking
//!   functions: call them from `spawn_blocking` in async code.
//! * **Samples** are stored once per `(series, µs)`: the writer keeps each
//!   series' last timestamp and moves a sample that is not later than it to
//!   last + 1 µs, so same-µs samples never collide and every series is
//!   strictly increasing. Rollups are maintained incrementally per commit.
//! * **Retention** (see [`Store::run_retention`]) runs inside the writer in
//!   small transactions interleaved with ingestion, automatically shortly
//!   after start and then every 10 minutes, and ends with an incremental
//!   vacuum so the file shrinks.
//! * **Settings** (`[store]` and `[alerts]`) live in the `settings` table:
//!   [`Store::start_settings`] decides them at start (stored values, with a
//!   config file's explicit keys on top), [`Store::save_settings`] stores new
//!   ones and applies the `[store]` part to the writer at once.
//!
//! The schema is described in [`schema`].

#![warn(missing_docs)]

mod alerts;
mod backend;
mod batch;
mod budget;
mod chunk;
mod error;
mod events;
mod feeds;
mod health;
mod meter;
mod options;
mod payload;
mod perms;
mod query;
mod readers;
mod retention;
mod rollup;
pub mod schema;
mod space;
mod writer;

pub use backend::{Backend, BoxFuture, Storage, Writes};
pub use batch::{AlertHistoryRow, AlertRow, EventRow, Labels, SampleRow, TimelineRow, WriteBatch};
pub use chunk::CompactReport;
pub use error::StoreError;
pub use feeds::{FeedOrigin, StoredFeed};
pub use health::{StoreFailure, StoreHealth};
pub use meter::{FeedPayloads, PayloadRates};
pub use options::StoreOptions;
pub use perms::create_private_dir;
pub use query::{
    choose_tier, DbStats, EventQuery, FeedStorage, Order, Point, SampleQuery, SeriesData,
    SeriesInfo, SeriesQuery, StoredEvent, StoredSample, TimelineEntry,
};
pub use retention::RetentionReport;
pub use rollup::{bucket_start, Tier, HOUR_US, MINUTE_US};
pub use space::{disk_space, DiskSpace, NEARLY_FULL};

use readers::Readers;
use retention::Coverage;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use telltale_model::alert::AlertSettings;
use telltale_model::config::{Settings, StoreSettings};
use telltale_model::{FeedConfig, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};
use writer::{Command, Writer, WriterSetup};

/// The longest a blocking store call (a feed change, settings) waits for
/// the writer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest [`Store::run_retention`] waits: a first run on a large,
/// old database deletes millions of rows in small steps.
pub const RETENTION_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest [`Store::flush`] waits.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest [`Store::close`] waits for the writer, per step.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

fn timeout(doing: &'static str, after: Duration) -> StoreError {
    StoreError::Timeout { doing, after }
}

/// The settings found in the database's `settings` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSettings {
    /// `[store]`, if ever saved.
    pub store: Option<StoreSettings>,
    /// `[alerts]`, if ever saved.
    pub alerts: Option<AlertSettings>,
}

/// The store: cheap to clone (an `Arc` inside). The writer thread stops
/// after [`Store::close`] or when the last clone is dropped, in both cases
/// after committing everything that was sent.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    /// The `[store]` settings in force; the writer owns its own copy and
    /// both change together in [`Store::save_settings`].
    settings: Arc<RwLock<StoreSettings>>,
    drop_wait: Duration,
    epoch: i64,
    coverage: Arc<Coverage>,
    tx: Option<mpsc::Sender<Command>>,
    /// The writer thread, to unpark from its nap (see [`Inner::wake`]).
    writer_thread: std::thread::Thread,
    /// A batch that leaves at most this much room in the queue wakes the
    /// writer (half the capacity).
    wake_below: usize,
    committed: watch::Receiver<u64>,
    meter: Arc<meter::PayloadMeter>,
    health: watch::Receiver<StoreHealth>,
    readers: Readers,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    /// Wakes the writer if it is napping with rows pending, so that the
    /// command just queued is handled now rather than at the commit
    /// deadline. Harmless when it is not napping.
    fn wake(&self) {
        self.writer_thread.unpark();
    }

    /// After a batch: wakes the writer once the queue is half full, so that
    /// senders never wait for a sleeping writer's deadline.
    fn wake_if_filling(&self, tx: &mpsc::Sender<Command>) {
        if tx.capacity() <= self.wake_below {
            self.wake();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel makes the writer commit what is queued and stop.
        self.tx.take();
        self.wake();
        let Some(handle) = lock(&self.writer).take() else {
            return;
        };
        let deadline = Instant::now() + self.drop_wait;
        while !handle.is_finished() {
            if Instant::now() >= deadline {
                tracing::error!(
                    "the writer of {} is still retrying a failing commit after {:?}; giving up on it, so its uncommitted rows are lost",
                    self.path.display(),
                    self.drop_wait
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if handle.join().is_err() {
            tracing::error!("the writer of {} had crashed", self.path.display());
        }
    }
}

impl Store {
    /// Opens (creating the file if needed, mode 0600, but not its
    /// directory: see [`create_private_dir`]) and migrates the database,
    /// then starts the writer thread. Synchronous
    /// but quick; may be called inside a Tokio runtime.
    pub fn open(path: &Path, settings: StoreSettings) -> Result<Store, StoreError> {
        Store::open_with(path, settings, StoreOptions::default())
    }

    /// [`Store::open`] with explicit tuning.
    pub fn open_with(
        path: &Path,
        settings: StoreSettings,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        // Create the file ourselves: the OS error says why it failed
        // (missing directory, permissions) better than SQLite's CANTOPEN,
        // and it is created readable by its owner only (see `perms`).
        perms::create_private_file(path)
            .map_err(|e| StoreError::io(path, "creating the database file", e))?;
        let sql = |doing: &'static str| move |e| StoreError::sqlite(path, doing, e);
        let mut conn = schema::open_writer(path, options.busy_timeout, options.cache_mib)
            .map_err(sql("opening the database"))?;
        schema::ensure_incremental_vacuum(&conn, path)
            .map_err(sql("enabling incremental vacuum"))?;
        match schema::migrate(&mut conn) {
            Ok(_) => {}
            Err(schema::MigrateError::TooNew { found }) => {
                return Err(StoreError::TooNew {
                    path: path.to_path_buf(),
                    found,
                    supported: schema::SCHEMA_VERSION,
                })
            }
            Err(schema::MigrateError::Sqlite(e)) => {
                return Err(sql("migrating the schema")(e));
            }
        }
        if let Some(bytes) = options.max_db_bytes {
            schema::cap_size(&conn, bytes).map_err(sql("capping the database size"))?;
        }
        let epoch = schema::samples_epoch(&conn).map_err(sql("reading the samples epoch"))?;
        let coverage = Arc::new(Coverage::load(&conn).map_err(sql("reading retention cut-offs"))?);
        let readers = Readers::new(path.to_path_buf(), options.busy_timeout, options.readers);
        // Surface reader problems now rather than at the first query.
        drop(readers.get()?);

        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let (committed_tx, committed_rx) = watch::channel(0u64);
        let (health_tx, health_rx) = watch::channel(StoreHealth::default());
        let shared_settings = Arc::new(RwLock::new(settings.clone()));
        let meter = Arc::new(meter::PayloadMeter::new());
        let setup = WriterSetup {
            conn,
            path: path.to_path_buf(),
            rx,
            settings,
            shared_settings: shared_settings.clone(),
            epoch,
            coverage: coverage.clone(),
            committed: committed_tx,
            meter: meter.clone(),
            retention_first: Some(options.retention_first_run),
            retention_every: options.retention_interval,
            compact_every: options.compact_every,
            release_cache_every: options.release_cache_every,
            health: health_tx,
            hold_limit: options.hold_while_failing,
        };
        let (started_tx, started_rx) = std::sync::mpsc::sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("telltale-store-writer".into())
            .spawn(move || writer_thread(setup, started_tx))
            .map_err(|e| StoreError::io(path, "starting the writer thread", e))?;
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(StoreError::Closed),
        }
        let writer_thread = handle.thread().clone();
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                settings: shared_settings,
                drop_wait: options.drop_wait,
                epoch,
                coverage,
                wake_below: options.queue_capacity.max(1) / 2,
                writer_thread,
                tx: Some(tx),
                committed: committed_rx,
                meter,
                health: health_rx,
                readers,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The `[store]` settings in force: those the store was opened with,
    /// or the last ones given to [`Store::save_settings`].
    pub fn settings(&self) -> StoreSettings {
        match self.inner.settings.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The settings stored in the database (`None` for a section never
    /// saved, e.g. in a new database). Blocking.
    pub fn stored_settings(&self) -> Result<StoredSettings, StoreError> {
        let rows: Vec<(String, String)> = self.read("reading settings", |c| {
            let mut st = c.prepare_cached("SELECT key, value FROM settings")?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        let mut out = StoredSettings::default();
        for (key, value) in rows {
            let bad = |e: serde_json::Error| {
                tracing::error!(
                    "the stored `[{key}]` settings cannot be read ({e}); using the defaults until they are saved again"
                );
            };
            match key.as_str() {
                "store" => out.store = serde_json::from_str(&value).map_err(bad).ok(),
                "alerts" => out.alerts = serde_json::from_str(&value).map_err(bad).ok(),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Stores `settings` in the database and applies the `[store]` part to
    /// the writer at once: retention runs from now on use the new ages
    /// (the next automatic run is brought forward to within a few
    /// seconds), and commits use the new batching. The `[alerts]` part is
    /// only stored; the alert engine applies it. Runs on the writer
    /// thread. Blocking.
    pub fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        let store = serde_json::to_string(&settings.store).map_err(StoreError::settings)?;
        let alerts = serde_json::to_string(&settings.alerts).map_err(StoreError::settings)?;
        let apply = Box::new(settings.store.clone());
        self.call("saving settings", CALL_TIMEOUT, |reply| {
            Command::SaveSettings {
                apply,
                rows: vec![("store", store), ("alerts", alerts)],
                now: Timestamp::now(),
                reply,
            }
        })
    }

    /// Decides the settings to start with and makes them the stored ones:
    /// the stored settings (`defaults` for a section never stored), with the
    /// keys a config file's `[store]`/`[alerts]` tables give explicitly
    /// written over them (see [`ConfigFile::settings_over`]). The `[store]`
    /// part is applied to the writer at once; the caller starts the alert
    /// engine with the `[alerts]` part. Blocking.
    ///
    /// [`ConfigFile::settings_over`]: telltale_model::ConfigFile::settings_over
    pub fn start_settings(
        &self,
        file: Option<&telltale_model::ConfigFile>,
        defaults: &Settings,
    ) -> Result<Settings, StoreError> {
        let stored = self.stored_settings()?;
        let current = Settings {
            store: stored
                .store
                .clone()
                .unwrap_or_else(|| defaults.store.clone()),
            alerts: stored
                .alerts
                .clone()
                .unwrap_or_else(|| defaults.alerts.clone()),
        };
        let settings = match file {
            Some(f) => f.settings_over(&current),
            None => current,
        };
        let unchanged = stored.store.as_ref() == Some(&settings.store)
            && stored.alerts.as_ref() == Some(&settings.alerts)
            && self.settings() == settings.store;
        if !unchanged {
            self.save_settings(&settings)?;
        }
        Ok(settings)
    }

    /// The settings to run with now: the stored ones, falling back to
    /// `fallback` for a section never stored. Blocking.
    pub fn current_settings(&self, fallback: &Settings) -> Result<Settings, StoreError> {
        let stored = self.stored_settings()?;
        Ok(Settings {
            store: stored.store.unwrap_or_else(|| fallback.store.clone()),
            alerts: stored.alerts.unwrap_or_else(|| fallback.alerts.clone()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// True once the writer has stopped accepting data.
    pub fn is_closed(&self) -> bool {
        self.inner.tx.as_ref().is_none_or(|tx| tx.is_closed())
    }

    fn sender(&self) -> Result<&mpsc::Sender<Command>, StoreError> {
        self.inner.tx.as_ref().ok_or(StoreError::Closed)
    }

    /// Queues a batch for the writer, waiting while the queue is full.
    pub async fn send(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self.sender()?;
        tx.send(Command::Batch(batch))
            .await
            .map_err(|_| StoreError::Closed)?;
        self.inner.wake_if_filling(tx);
        Ok(())
    }

    /// Queues a batch if there is room; otherwise (or when closed) hands it
    /// back so the caller can decide what to shed.
    pub fn try_send(&self, batch: WriteBatch) -> Result<(), Box<WriteBatch>> {
        if batch.is_empty() {
            return Ok(());
        }
        let Some(tx) = self.inner.tx.as_ref() else {
            return Err(Box::new(batch));
        };
        match tx.try_send(Command::Batch(batch)) {
            Ok(()) => {
                self.inner.wake_if_filling(tx);
                Ok(())
            }
            Err(e) => match e.into_inner() {
                Command::Batch(b) => Err(Box::new(b)),
                _ => Err(Box::default()),
            },
        }
    }

    /// Resolves once everything sent before this call is committed. While
    /// commits fail it waits up to 5 s for one that works, then answers
    /// [`StoreError::WriteFailing`]; it never waits longer than
    /// [`FLUSH_TIMEOUT`] in all.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let doing = "flushing";
        let (ack, done) = oneshot::channel();
        let sent = tokio::time::timeout(FLUSH_TIMEOUT, self.sender()?.send(Command::Flush(ack)));
        match sent.await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(StoreError::Closed),
            Err(_) => return Err(timeout(doing, FLUSH_TIMEOUT)),
        }
        self.inner.wake();
        match tokio::time::timeout(FLUSH_TIMEOUT, done).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(StoreError::Closed),
            Err(_) => Err(timeout(doing, FLUSH_TIMEOUT)),
        }
    }

    /// Whether commits work, and what was shed or set aside (see
    /// [`StoreHealth`]).
    pub fn health(&self) -> StoreHealth {
        self.inner.health.borrow().clone()
    }

    /// [`Store::health`] as a watch that changes when it does.
    pub fn watch_health(&self) -> watch::Receiver<StoreHealth> {
        self.inner.health.clone()
    }

    /// The number of events committed since the store was opened.
    pub fn committed_events(&self) -> watch::Receiver<u64> {
        self.inner.committed.clone()
    }

    /// Each feed's payloads committed since the store was opened.
    pub fn payload_rates(&self) -> PayloadRates {
        self.inner.meter.snapshot()
    }

    /// Commits everything sent, stops the writer thread and waits for it.
    /// Other clones can still read afterwards; their writes fail with
    /// [`StoreError::Closed`]. Closing an already closed store is a no-op.
    ///
    /// Bounded by [`CLOSE_TIMEOUT`]: a writer stuck on a failing disk makes
    /// it return [`StoreError::Timeout`] rather than hang.
    pub async fn close(self) -> Result<(), StoreError> {
        let doing = "closing the store";
        let (ack, done) = oneshot::channel();
        if let Some(tx) = self.inner.tx.as_ref() {
            let shutdown = async {
                if tx.send(Command::Shutdown(ack)).await.is_ok() {
                    self.inner.wake();
                    // An error here means the writer died; the join below tells.
                    let _ = done.await;
                }
            };
            if tokio::time::timeout(CLOSE_TIMEOUT, shutdown).await.is_err() {
                return Err(timeout(doing, CLOSE_TIMEOUT));
            }
        }
        let handle = lock(&self.inner.writer).take();
        if let Some(h) = handle {
            let join = tokio::task::spawn_blocking(move || h.join());
            match tokio::time::timeout(CLOSE_TIMEOUT, join).await {
                Ok(Ok(Ok(()))) => {}
                Ok(_) => return Err(StoreError::Closed),
                Err(_) => return Err(timeout(doing, CLOSE_TIMEOUT)),
            }
        }
        Ok(())
    }

    /// Sends a command from blocking code and waits for its reply. Works
    /// inside or outside a runtime (it never uses `blocking_send`, which
    /// panics inside one), but blocks the calling thread: call it from
    /// `spawn_blocking` in async code.
    ///
    /// Waits at most `limit` in all, then answers [`StoreError::Timeout`].
    fn call<T>(
        &self,
        doing: &'static str,
        limit: Duration,
        make: impl FnOnce(writer::Reply<T>) -> Command,
    ) -> Result<T, StoreError> {
        let deadline = Instant::now() + limit;
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let tx = self.sender()?;
        let mut cmd = make(reply);
        let mut pause = Duration::from_micros(100);
        loop {
            match tx.try_send(cmd) {
                Ok(()) => {
                    self.inner.wake();
                    break;
                }
                Err(mpsc::error::TrySendError::Full(c)) => {
                    if Instant::now() >= deadline {
                        return Err(timeout(doing, limit));
                    }
                    cmd = c;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(StoreError::Closed),
            }
        }
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(timeout(doing, limit)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Closed),
        }
    }

    fn read<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self.inner.readers.get()?;
        f(&conn).map_err(|e| StoreError::sqlite(&self.inner.path, doing, e))
    }

    // ---- feeds ----------------------------------------------------------

    /// Inserts or replaces the feed named `cfg.name`; returns its id.
    ///
    /// Runs on the writer thread (after the data queued before it), so the
    /// writer immediately accepts rows for the returned id. Blocking.
    pub fn upsert_feed(&self, cfg: &FeedConfig, origin: FeedOrigin) -> Result<i64, StoreError> {
        let config = serde_json::to_string(cfg).map_err(|e| StoreError::FeedNotStorable {
            name: cfg.name.clone(),
            source: e,
        })?;
        let name = cfg.name.clone();
        let id = self.call("storing a feed", CALL_TIMEOUT, |reply| {
            Command::UpsertFeed {
                name,
                config,
                origin,
                now: Timestamp::now(),
                reply,
            }
        })?;
        // Its payload rate is measured again from now (a new policy).
        self.inner.meter.reset(id);
        Ok(id)
    }

    /// Deletes a feed and, in the same transaction, all its history
    /// (events, series, samples, rollups, timeline). Returns false when no
    /// feed has that name. Runs on the writer thread after the data queued
    /// before it; rows for the deleted id that arrive later are skipped
    /// with a warning. Blocking.
    pub fn delete_feed(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.call("deleting a feed", CALL_TIMEOUT, |reply| {
            Command::DeleteFeed { name, reply }
        })
    }

    /// Every stored feed, by name. A feed whose stored config cannot be
    /// read (e.g. written by a newer Telltale) is left out with an error
    /// in the log, so that one bad row does not stop all the others.
    pub fn list_feeds(&self) -> Result<Vec<StoredFeed>, StoreError> {
        let rows = self.read("listing feeds", feeds::list)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.into_stored() {
                Ok(f) => Some(f),
                Err((name, e)) => {
                    tracing::error!("{}", StoreError::BadFeedConfig { name, source: e });
                    None
                }
            })
            .collect())
    }

    /// One feed by name.
    pub fn feed_by_name(&self, name: &str) -> Result<Option<StoredFeed>, StoreError> {
        let row = self.read("reading a feed", |c| feeds::by_name(c, name))?;
        row.map(|r| {
            r.into_stored()
                .map_err(|(name, source)| StoreError::BadFeedConfig { name, source })
        })
        .transpose()
    }

    // ---- queries ---------------------------------------------------------

    /// Every series of a feed with its newest raw sample.
    pub fn list_series(&self, feed_id: i64) -> Result<Vec<SeriesInfo>, StoreError> {
        let epoch = self.inner.epoch;
        self.read("listing series", |c| query::list_series(c, feed_id, epoch))
    }

    /// A series over a range in at most `max_points` buckets, each keeping
    /// min, max, mean and count. The tier is chosen by [`choose_tier`]: raw
    /// samples for short ranges, 1-minute rollups up to ranges where a
    /// bucket spans an hour, 1-hour rollups beyond, and always a tier whose
    /// data retention has not yet deleted at `from`.
    pub fn query_series(&self, q: &SeriesQuery) -> Result<SeriesData, StoreError> {
        if q.max_points == 0 {
            return Err(StoreError::InvalidQuery(
                "max_points must be at least 1".into(),
            ));
        }
        let epoch = self.inner.epoch;
        let coverage = &self.inner.coverage;
        self.read("querying a series", |c| {
            query::query_series(c, q, epoch, coverage)
        })
    }

    /// Events matching `q` (see [`EventQuery`] for order and paging).
    pub fn events(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        self.read("reading events", |c| events::events(c, q))
    }

    /// Raw samples of a feed for export, ordered by series then time.
    pub fn samples(&self, q: &SampleQuery) -> Result<Vec<StoredSample>, StoreError> {
        let epoch = self.inner.epoch;
        self.read("reading samples", |c| query::samples(c, q, epoch))
    }

    /// The newest `limit` timeline entries (states and issues) of a feed in
    /// `from <= ts < to`, oldest first.
    pub fn timeline(
        &self,
        feed_id: i64,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        self.read("reading the timeline", |c| {
            query::timeline(c, feed_id, from, to, limit)
        })
    }

    /// The state a feed was in at `ts`: its last state change at or before it.
    pub fn state_at(
        &self,
        feed_id: i64,
        ts: Timestamp,
    ) -> Result<Option<TimelineEntry>, StoreError> {
        self.read("reading the timeline", |c| query::state_at(c, feed_id, ts))
    }

    /// Stored events of one feed, or of all feeds.
    pub fn event_count(&self, feed_id: Option<i64>) -> Result<u64, StoreError> {
        self.read("counting events", |c| query::event_count(c, feed_id))
    }

    /// Stored raw samples.
    pub fn sample_count(&self) -> Result<u64, StoreError> {
        self.read("counting samples", query::sample_count)
    }

    /// File size and row counts (counting scans whole tables: not for hot paths).
    pub fn db_stats(&self) -> Result<DbStats, StoreError> {
        let path = self.inner.path.clone();
        self.read("reading database statistics", |c| query::db_stats(c, &path))
    }

    /// Runs retention as of `now` on the writer thread and waits for it:
    /// deletes events older than `events_max_age` and beyond
    /// `events_max_per_feed` (newest kept), raw samples older than
    /// `samples_max_age`, rollups older than their ages, and timeline
    /// entries older than `states_max_age` (keeping each feed's newest
    /// state); then vacuums incrementally so the file shrinks. Data keeps
    /// being committed between its steps. Blocking.
    pub fn run_retention(&self, now: Timestamp) -> Result<RetentionReport, StoreError> {
        self.call("running retention", RETENTION_TIMEOUT, |reply| {
            Command::Retention { now, reply }
        })
    }
}

/// The writer thread's body: builds the timer runtime it waits with, reports
/// that it started, and runs the writer.
fn writer_thread(setup: WriterSetup, started: std::sync::mpsc::SyncSender<Result<(), StoreError>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = started.send(Err(StoreError::io(
                &setup.path,
                "starting the writer's timer",
                e,
            )));
            return;
        }
    };
    let writer = match Writer::new(setup, runtime) {
        Ok(w) => w,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let _ = started.send(Ok(()));
    writer.run();
}
