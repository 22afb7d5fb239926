//! The writer thread: the only code that writes to the database.
//!
//! It owns the read-write connection and receives [`Command`]s from a bounded
//! channel. Batches are collected until either `commit_interval` has passed
//! since the first uncommitted batch arrived or `commit_rows` rows are
//! waiting (checked between batches), and then written in one transaction
//! with cached prepared statements. A flush, a feed change or shutdown
//! commits at once.
//!
//! While rows are pending the thread sleeps until their commit deadline
//! instead of waking for each batch; [`crate::Store`] unparks it for any
//! other command, and for a batch that leaves the queue half full, so
//! neither replies nor senders wait for the deadline.
//!
//! If a commit fails (disk full, I/O error, lock held by another process),
//! the transaction is rolled back, the error is logged, and the very same
//! batches are retried with exponential backoff (50 ms doubling to 5 s)
//! until they commit. Meanwhile nothing more is read from the channel, so
//! senders feel back-pressure instead of memory growing: no data is dropped.
//!
//! Rows are only ever skipped, with a rate-limited warning, when they cannot
//! be stored meaningfully: rows for a feed id that is not (or no longer) in
//! `feeds`, and samples with a non-finite value.
//!
//! Between commits the writer advances a running retention job one chunk at
//! a time, and starts one automatically every `retention_interval`.

use crate::batch::{Labels, WriteBatch};
use crate::error::StoreError;
use crate::feeds::{self, FeedOrigin};
use crate::retention::{Coverage, RetentionJob, RetentionReport};
use crate::rollup::Rollups;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};
use telltale_model::config::StoreSettings;
use telltale_model::Timestamp;
use tokio::sync::{mpsc, oneshot, watch};

/// Where a blocking caller waits for its answer.
pub(crate) type Reply<T> = std::sync::mpsc::SyncSender<Result<T, StoreError>>;

/// What the writer thread is asked to do.
pub(crate) enum Command {
    /// Store these rows.
    Batch(WriteBatch),
    /// Answer once everything received before is committed.
    Flush(oneshot::Sender<()>),
    /// Insert or update a feed.
    UpsertFeed {
        name: String,
        config: String,
        origin: FeedOrigin,
        now: Timestamp,
        reply: Reply<i64>,
    },
    /// Delete a feed and its history.
    DeleteFeed { name: String, reply: Reply<bool> },
    /// Store settings rows and apply `apply` to the writer.
    SaveSettings {
        apply: Box<StoreSettings>,
        rows: Vec<(&'static str, String)>,
        now: Timestamp,
        reply: Reply<()>,
    },
    /// Run retention as of `now` and report.
    Retention {
        now: Timestamp,
        reply: Reply<RetentionReport>,
    },
    /// Commit everything, stop, then answer.
    Shutdown(oneshot::Sender<()>),
}

/// Everything the writer thread needs.
pub(crate) struct WriterSetup {
    pub conn: Connection,
    pub path: PathBuf,
    pub rx: mpsc::Receiver<Command>,
    pub settings: StoreSettings,
    pub shared_settings: Arc<RwLock<StoreSettings>>,
    pub epoch: i64,
    pub coverage: Arc<Coverage>,
    pub committed: watch::Sender<u64>,
    pub retention_first: Option<Duration>,
    pub retention_every: Option<Duration>,
    pub release_cache_every: Option<Duration>,
}

/// Rows per multi-row `INSERT`. One statement step per this many rows
/// instead of one per row, with the table's cursor kept open across them:
/// the store's throughput test went from ~236k to ~280k messages/s with
/// this and the sorted samples (docs/benchmarks.md).
const ROWS_PER_INSERT: usize = 32;

/// A table's insert statements, built once: one for [`ROWS_PER_INSERT`]
/// rows and one for a single row, each row binding `columns` parameters.
struct RowInsert {
    columns: usize,
    many: String,
    one: String,
}

impl RowInsert {
    /// `head` is `INSERT INTO t (..) VALUES `.
    fn new(head: &str, columns: usize) -> RowInsert {
        RowInsert {
            columns,
            many: multi_row_sql(head, columns, ROWS_PER_INSERT),
            one: multi_row_sql(head, columns, 1),
        }
    }
}

static EVENT_INSERT: LazyLock<RowInsert> = LazyLock::new(|| {
    RowInsert::new(
        "INSERT INTO events (feed_id, received_at, server_id, event_type, data, size, truncated) VALUES ",
        7,
    )
});

static SAMPLE_INSERT: LazyLock<RowInsert> =
    LazyLock::new(|| RowInsert::new("INSERT INTO samples (series_id, ts, value) VALUES ", 3));
const INSERT_STATE: &str =
    "INSERT INTO feed_states (feed_id, ts, state, detail, kind) VALUES (?1, ?2, ?3, ?4, ?5)";
const FIND_SERIES: &str =
    "SELECT id FROM series WHERE feed_id = ?1 AND metric = ?2 AND labels = ?3";
const INSERT_SERIES: &str = "INSERT INTO series (feed_id, metric, labels) VALUES (?1, ?2, ?3)";
const LAST_TS: &str = "SELECT max(ts) FROM samples WHERE series_id = ?1";

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const SKIP_LOG_EVERY: Duration = Duration::from_secs(30);
/// How soon after a settings change automatic retention runs.
const SETTINGS_RETENTION_DELAY: Duration = Duration::from_secs(5);

/// A known series and the last timestamp written to it (absolute µs).
struct SeriesEntry {
    id: i64,
    last_ts: Option<i64>,
}

/// `(feed, metric, labels)` → series, with the newest timestamp per series
/// so that samples of one series never collide.
#[derive(Default)]
struct SeriesCache {
    entries: Vec<SeriesEntry>,
    index: HashMap<i64, FeedSeries>,
    /// The last few lookups, compared by `Arc` identity: the pipeline shares
    /// one `Arc` per metric name and label set, so most samples are found
    /// here without hashing a string and a label map. Holding the `Arc`s
    /// keeps their addresses from being reused.
    recent: Vec<(i64, Arc<str>, Arc<Labels>, usize)>,
}

/// Lookups remembered in `SeriesCache::recent`.
const RECENT_SERIES: usize = 32;

/// One feed's series: metric → labels → index into `SeriesCache::entries`.
type FeedSeries = HashMap<Arc<str>, HashMap<Arc<Labels>, usize>>;

impl SeriesCache {
    fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
        self.recent.clear();
    }

    fn forget_feed(&mut self, feed_id: i64) {
        self.index.remove(&feed_id);
        self.recent.retain(|r| r.0 != feed_id);
    }

    /// The entry index for a series, creating the series row if needed.
    fn resolve(
        &mut self,
        tx: &Transaction<'_>,
        feed_id: i64,
        metric: &Arc<str>,
        labels: &Arc<Labels>,
        epoch: i64,
    ) -> rusqlite::Result<usize> {
        if let Some(r) = self
            .recent
            .iter()
            .find(|r| r.0 == feed_id && Arc::ptr_eq(&r.1, metric) && Arc::ptr_eq(&r.2, labels))
        {
            return Ok(r.3);
        }
        if let Some(&i) = self
            .index
            .get(&feed_id)
            .and_then(|m| m.get(&**metric))
            .and_then(|m| m.get(&**labels))
        {
            self.remember(feed_id, metric, labels, i);
            return Ok(i);
        }
        let labels_json = serde_json::to_string(&**labels).unwrap_or_else(|_| "{}".into());
        let found: Option<i64> = tx
            .prepare_cached(FIND_SERIES)?
            .query_row((feed_id, &**metric, &labels_json), |r| r.get(0))
            .optional()?;
        let (id, last_ts) = match found {
            Some(id) => {
                let last: Option<i64> =
                    tx.prepare_cached(LAST_TS)?.query_row([id], |r| r.get(0))?;
                (id, last.map(|t| t + epoch))
            }
            None => {
                tx.prepare_cached(INSERT_SERIES)?
                    .execute((feed_id, &**metric, &labels_json))?;
                (tx.last_insert_rowid(), None)
            }
        };
        let i = self.entries.len();
        self.entries.push(SeriesEntry { id, last_ts });
        self.index
            .entry(feed_id)
            .or_default()
            .entry(metric.clone())
            .or_default()
            .insert(labels.clone(), i);
        self.remember(feed_id, metric, labels, i);
        Ok(i)
    }

    fn remember(&mut self, feed_id: i64, metric: &Arc<str>, labels: &Arc<Labels>, i: usize) {
        if self.recent.len() >= RECENT_SERIES {
            self.recent.remove(0);
        }
        self.recent
            .push((feed_id, metric.clone(), labels.clone(), i));
    }
}

/// Rows skipped since the last warning.
#[derive(Default)]
struct Skipped {
    unknown_feed: u64,
    unknown_feed_ids: HashSet<i64>,
    non_finite: u64,
    last_log: Option<Instant>,
}

impl Skipped {
    fn log(&mut self, force: bool) {
        if self.unknown_feed == 0 && self.non_finite == 0 {
            return;
        }
        if !force && self.last_log.is_some_and(|t| t.elapsed() < SKIP_LOG_EVERY) {
            return;
        }
        if self.unknown_feed > 0 {
            let mut ids: Vec<i64> = self.unknown_feed_ids.iter().copied().collect();
            ids.sort_unstable();
            tracing::warn!(
                "skipped {} rows for feed ids {ids:?}, which are not in the feeds table (deleted while their data was in flight?)",
                self.unknown_feed
            );
        }
        if self.non_finite > 0 {
            tracing::warn!(
                "skipped {} samples whose value was NaN or infinite (they cannot be charted or aggregated)",
                self.non_finite
            );
        }
        *self = Skipped {
            last_log: Some(Instant::now()),
            ..Skipped::default()
        };
    }
}

/// What one commit wrote.
#[derive(Default)]
struct Written {
    events: u64,
    samples: u64,
    states: u64,
}

/// Outcome of waiting for a command.
enum Received {
    Command(Command),
    Timeout,
    Closed,
}

/// The writer thread's state.
pub(crate) struct Writer {
    conn: Connection,
    path: PathBuf,
    rx: mpsc::Receiver<Command>,
    runtime: tokio::runtime::Runtime,
    settings: StoreSettings,
    shared_settings: Arc<RwLock<StoreSettings>>,
    commit_interval: Duration,
    commit_rows: usize,
    epoch: i64,
    coverage: Arc<Coverage>,
    committed: watch::Sender<u64>,
    committed_events: u64,
    pending: Vec<WriteBatch>,
    pending_rows: usize,
    pending_since: Option<Instant>,
    series: SeriesCache,
    feeds: HashSet<i64>,
    rollups: Rollups,
    skipped: Skipped,
    job: Option<RetentionJob>,
    job_replies: Vec<Reply<RetentionReport>>,
    queued_runs: Vec<(Timestamp, Reply<RetentionReport>)>,
    next_auto_retention: Option<Instant>,
    retention_every: Option<Duration>,
    /// See [`Writer::maybe_release_cache`].
    release_cache_every: Option<Duration>,
    next_cache_release: Option<Instant>,
    shutdown_acks: Vec<oneshot::Sender<()>>,
}

impl Writer {
    pub fn new(s: WriterSetup, runtime: tokio::runtime::Runtime) -> Result<Writer, StoreError> {
        let feeds = feeds::ids(&s.conn)
            .map_err(|e| StoreError::sqlite(&s.path, "loading feeds", e))?
            .into_iter()
            .collect();
        let now = Instant::now();
        Ok(Writer {
            commit_interval: s.settings.commit_interval.0.max(Duration::from_millis(1)),
            commit_rows: s.settings.commit_rows.max(1),
            conn: s.conn,
            path: s.path,
            rx: s.rx,
            runtime,
            settings: s.settings,
            shared_settings: s.shared_settings,
            epoch: s.epoch,
            coverage: s.coverage,
            committed: s.committed,
            committed_events: 0,
            pending: Vec::new(),
            pending_rows: 0,
            pending_since: None,
            series: SeriesCache::default(),
            feeds,
            rollups: Rollups::default(),
            skipped: Skipped::default(),
            job: None,
            job_replies: Vec::new(),
            queued_runs: Vec::new(),
            next_auto_retention: s.retention_every.and(s.retention_first).map(|d| now + d),
            retention_every: s.retention_every,
            release_cache_every: s.release_cache_every,
            next_cache_release: s.release_cache_every.map(|d| now + d),
            shutdown_acks: Vec::new(),
        })
    }

    /// Runs until shutdown or until every sender is gone, committing
    /// everything received.
    pub fn run(mut self) {
        let mut open = true;
        while open {
            let wait = self.wait_budget();
            let received = match wait {
                // Rows are pending: sleep until their commit deadline rather
                // than waking for every small batch (with 1,000 slow feeds
                // that was ~1,000 wake-ups a second). The store wakes this
                // thread early for every command except a batch, and for a
                // batch that leaves the queue half full (see `Store::send`).
                // (Never while a retention run has chunks left: the budget
                // is then zero.)
                Some(d) if self.pending_since.is_some() && !d.is_zero() => {
                    std::thread::park_timeout(d);
                    Received::Timeout
                }
                _ => self.receive(wait),
            };
            match received {
                Received::Command(c) => open = self.handle(c),
                Received::Timeout => {}
                Received::Closed => open = false,
            }
            while open && !self.bounds_reached() {
                match self.rx.try_recv() {
                    Ok(c) => open = self.handle(c),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => open = false,
                }
            }
            if !open || self.bounds_reached() {
                self.commit_pending();
            }
            if open {
                self.maybe_start_auto_retention();
                self.advance_retention();
            }
        }
        // Refuse new commands, but commit whatever was accepted before.
        self.rx.close();
        while let Ok(c) = self.rx.try_recv() {
            match c {
                Command::Retention { reply, .. } => {
                    let _ = reply.send(Err(StoreError::Closed));
                }
                other => {
                    self.handle(other);
                }
            }
        }
        self.commit_pending();
        self.skipped.log(true);
        if self.job.take().is_some() {
            tracing::info!("retention run abandoned at shutdown; the next start runs it again");
        }
        for reply in self.job_replies.drain(..) {
            let _ = reply.send(Err(StoreError::Closed));
        }
        for (_, reply) in self.queued_runs.drain(..) {
            let _ = reply.send(Err(StoreError::Closed));
        }
        // Leave a small WAL behind, but do not wait long for readers.
        let checkpoint = self
            .conn
            .busy_timeout(Duration::from_millis(200))
            .and_then(|_| {
                self.conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            });
        if let Err(e) = checkpoint {
            tracing::debug!("final checkpoint of {} skipped: {e}", self.path.display());
        }
        let acks = std::mem::take(&mut self.shutdown_acks);
        drop(self);
        for ack in acks {
            let _ = ack.send(());
        }
    }

    /// How long to wait for the next command: not at all while retention
    /// has work, until the commit deadline when rows are pending, else
    /// until the next automatic retention run.
    fn wait_budget(&self) -> Option<Duration> {
        // A running retention job takes its next chunk at once, pending rows
        // or not; their commit still happens at its deadline (the loop checks
        // `bounds_reached` after every chunk).
        if self.job.is_some() {
            return Some(Duration::ZERO);
        }
        if let Some(since) = self.pending_since {
            return Some(self.commit_interval.saturating_sub(since.elapsed()));
        }
        self.next_auto_retention
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    fn receive(&mut self, wait: Option<Duration>) -> Received {
        match wait {
            None => match self.rx.blocking_recv() {
                Some(c) => Received::Command(c),
                None => Received::Closed,
            },
            Some(d) if d.is_zero() => match self.rx.try_recv() {
                Ok(c) => Received::Command(c),
                Err(mpsc::error::TryRecvError::Empty) => Received::Timeout,
                Err(mpsc::error::TryRecvError::Disconnected) => Received::Closed,
            },
            Some(d) => {
                let rx = &mut self.rx;
                match self
                    .runtime
                    .block_on(async { tokio::time::timeout(d, rx.recv()).await })
                {
                    Ok(Some(c)) => Received::Command(c),
                    Ok(None) => Received::Closed,
                    Err(_) => Received::Timeout,
                }
            }
        }
    }

    fn bounds_reached(&self) -> bool {
        self.pending_rows >= self.commit_rows
            || self
                .pending_since
                .is_some_and(|t| t.elapsed() >= self.commit_interval)
    }

    /// Handles one command; returns false when the writer should stop.
    fn handle(&mut self, c: Command) -> bool {
        match c {
            Command::Batch(b) => {
                if !b.is_empty() {
                    self.pending_rows += b.len();
                    self.pending.push(b);
                    self.pending_since.get_or_insert_with(Instant::now);
                }
            }
            Command::Flush(ack) => {
                self.commit_pending();
                let _ = ack.send(());
            }
            Command::UpsertFeed {
                name,
                config,
                origin,
                now,
                reply,
            } => {
                self.commit_pending();
                let r = feeds::upsert(&mut self.conn, &name, &config, origin, now);
                if let Ok(id) = r {
                    self.feeds.insert(id);
                }
                let _ = reply.send(r.map_err(|e| self.error("storing a feed", e)));
            }
            Command::DeleteFeed { name, reply } => {
                self.commit_pending();
                let r = feeds::delete(&mut self.conn, &name);
                if let Ok(Some(id)) = r {
                    self.feeds.remove(&id);
                    self.series.forget_feed(id);
                    tracing::info!("feed {name} and its history deleted");
                }
                let _ = reply.send(
                    r.map(|id| id.is_some())
                        .map_err(|e| self.error("deleting a feed", e)),
                );
            }
            Command::SaveSettings {
                apply,
                rows,
                now,
                reply,
            } => {
                self.commit_pending();
                let r = save_settings(&mut self.conn, &rows, now);
                if r.is_ok() {
                    self.apply_settings(*apply);
                }
                let _ = reply.send(r.map_err(|e| self.error("saving settings", e)));
            }
            Command::Retention { now, reply } => {
                self.queued_runs.push((now, reply));
                if self.job.is_none() {
                    self.start_queued_retention();
                }
            }
            Command::Shutdown(ack) => {
                self.shutdown_acks.push(ack);
                return false;
            }
        }
        true
    }

    /// Uses new `[store]` settings from now on. A retention run already
    /// under way finishes with the old ages; the next automatic one is
    /// brought forward so that shorter ages take effect within seconds.
    fn apply_settings(&mut self, settings: StoreSettings) {
        if settings == self.settings {
            return;
        }
        self.commit_interval = settings.commit_interval.0.max(Duration::from_millis(1));
        self.commit_rows = settings.commit_rows.max(1);
        match self.shared_settings.write() {
            Ok(mut s) => *s = settings.clone(),
            Err(p) => *p.into_inner() = settings.clone(),
        }
        self.settings = settings;
        if self.retention_every.is_some() {
            let soon = Instant::now() + SETTINGS_RETENTION_DELAY;
            self.next_auto_retention = Some(self.next_auto_retention.map_or(soon, |t| t.min(soon)));
        }
        tracing::info!("store settings changed; retention and commits use them from now on");
    }

    fn error(&self, doing: &'static str, e: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, doing, e)
    }

    /// Commits every pending batch, retrying until it works.
    fn commit_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let rows = self.pending_rows;
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u32;
        let first_failure = Instant::now();
        loop {
            let result = write_pending(
                &mut self.conn,
                &self.pending,
                &mut self.series,
                &self.feeds,
                &mut self.rollups,
                &mut self.skipped,
                self.epoch,
            );
            match result {
                Ok(w) => {
                    if failures > 0 {
                        tracing::info!(
                            "commit to {} succeeded after {failures} failed attempts over {:.1?}; nothing was lost",
                            self.path.display(),
                            first_failure.elapsed()
                        );
                    }
                    self.committed_events += w.events;
                    self.committed.send_replace(self.committed_events);
                    tracing::trace!(
                        "committed {} events, {} samples, {} timeline entries",
                        w.events,
                        w.samples,
                        w.states
                    );
                    break;
                }
                Err(e) => {
                    failures += 1;
                    // The rolled-back transaction may have created series or
                    // advanced their last timestamps: forget all of it.
                    self.series.clear();
                    self.rollups.clear();
                    self.skipped = Skipped {
                        last_log: self.skipped.last_log,
                        ..Skipped::default()
                    };
                    let err = self.error("committing a batch", e);
                    tracing::error!(
                        "cannot commit {rows} rows: {err}. They are kept in memory and retried in {backoff:?} (attempt {failures}); new data waits upstream until this succeeds"
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.skipped.log(false);
        self.pending.clear();
        self.pending_rows = 0;
        self.pending_since = None;
        // Before a flush that asked for this commit is answered, so the
        // release never waits behind rows that arrived meanwhile.
        self.maybe_release_cache();
    }

    /// Right after a commit, once every `release_cache_every`, hands the
    /// page cache's unused pages back to the allocator (`PRAGMA
    /// shrink_memory`).
    ///
    /// SQLite evicts nothing until the cache is full, so every page the
    /// writer ever appended stays cached: the cache grows with the file, at
    /// the rate data arrives, up to its cap (64 MiB by default). Releasing it
    /// keeps only what the next commits touch, re-read from the OS's file
    /// cache, so memory follows the working set instead of the file's size.
    fn maybe_release_cache(&mut self) {
        let (Some(due), Some(every)) = (self.next_cache_release, self.release_cache_every) else {
            return;
        };
        if Instant::now() < due {
            return;
        }
        self.next_cache_release = Some(Instant::now() + every);
        if let Err(e) = self.conn.execute_batch("PRAGMA shrink_memory") {
            tracing::debug!("releasing the page cache of {}: {e}", self.path.display());
        }
    }

    fn maybe_start_auto_retention(&mut self) {
        let Some(due) = self.next_auto_retention else {
            return;
        };
        if Instant::now() < due || self.job.is_some() {
            return;
        }
        self.next_auto_retention = self.retention_every.map(|d| Instant::now() + d);
        self.start_job(Timestamp::now());
    }

    fn start_queued_retention(&mut self) {
        if self.queued_runs.is_empty() {
            return;
        }
        // Requests that arrived together share one run as of the latest `now`.
        let now = self
            .queued_runs
            .iter()
            .map(|(t, _)| *t)
            .max()
            .unwrap_or_else(Timestamp::now);
        self.job_replies = self.queued_runs.drain(..).map(|(_, r)| r).collect();
        self.start_job(now);
    }

    fn start_job(&mut self, now: Timestamp) {
        match RetentionJob::start(&mut self.conn, &self.settings, now, &self.coverage) {
            Ok(job) => self.job = Some(job),
            Err(e) => self.fail_job(e),
        }
    }

    fn fail_job(&mut self, e: rusqlite::Error) {
        self.job = None;
        for reply in self.job_replies.drain(..) {
            let copy = StoreError::sqlite(&self.path, "running retention", clone_error(&e));
            let _ = reply.send(Err(copy));
        }
        let err = self.error("running retention", e);
        tracing::error!("retention run failed: {err}; it is tried again at the next run");
        self.start_queued_retention();
    }

    /// Runs one chunk of the current retention job, if any.
    fn advance_retention(&mut self) {
        let Some(job) = self.job.as_mut() else {
            return;
        };
        match job.step(&mut self.conn, self.epoch) {
            Ok(false) => {}
            Ok(true) => {
                let Some(job) = self.job.take() else { return };
                match job.finish(&self.conn) {
                    Ok(report) => {
                        tracing::info!(
                            "retention on {}: deleted {} events by age, {} by count, {} samples, {} 1m and {} 1h rollups, {} timeline entries; freed {} pages; took {:.1?}",
                            self.path.display(),
                            report.events_by_age,
                            report.events_by_count,
                            report.samples,
                            report.rollup_1m,
                            report.rollup_1h,
                            report.states,
                            report.pages_freed,
                            report.took
                        );
                        for reply in self.job_replies.drain(..) {
                            let _ = reply.send(Ok(report.clone()));
                        }
                        self.start_queued_retention();
                    }
                    Err(e) => self.fail_job(e),
                }
            }
            Err(e) => self.fail_job(e),
        }
    }
}

/// A copy of a SQLite error good enough for a second recipient.
fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// Writes settings rows (`key`, JSON) in one transaction.
fn save_settings(
    conn: &mut Connection,
    rows: &[(&'static str, String)],
    now: Timestamp,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )?;
        for (key, value) in rows {
            st.execute((key, value, now.0))?;
        }
    }
    tx.commit()
}

/// Writes a batch's alert rows.
fn write_alerts(tx: &rusqlite::Transaction<'_>, batch: &WriteBatch) -> rusqlite::Result<()> {
    if !batch.alerts.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT OR REPLACE INTO alerts (id, feed_id, rule, phase, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for a in &batch.alerts {
            st.execute((a.id, a.feed_id, &a.rule, &a.phase, &a.json))?;
        }
    }
    if !batch.removed_alerts.is_empty() {
        let mut st = tx.prepare_cached("DELETE FROM alerts WHERE id = ?1")?;
        for id in &batch.removed_alerts {
            st.execute([id])?;
        }
    }
    if !batch.alert_history.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT INTO alert_history (alert_id, ts, kind, value, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for h in &batch.alert_history {
            st.execute((h.alert_id, h.ts.0, &h.kind, h.value, &h.detail))?;
        }
    }
    if let Some(json) = &batch.silences {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('alert_silences', ?1)",
        )?
        .execute([json])?;
    }
    if !batch.done_commands.is_empty() {
        let mut st = tx.prepare_cached("DELETE FROM alert_commands WHERE id = ?1")?;
        for id in &batch.done_commands {
            st.execute([id])?;
        }
    }
    Ok(())
}

/// Writes all pending batches in one transaction.
fn write_pending(
    conn: &mut Connection,
    pending: &[WriteBatch],
    series: &mut SeriesCache,
    feeds: &HashSet<i64>,
    rollups: &mut Rollups,
    skipped: &mut Skipped,
    epoch: i64,
) -> rusqlite::Result<Written> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut w = Written::default();
    let compact = crate::schema::compact_values(&tx)?;
    {
        let mut insert_state = tx.prepare_cached(INSERT_STATE)?;
        let mut events = Vec::new();
        let mut samples = Vec::new();
        for batch in pending {
            for e in &batch.events {
                if !feeds.contains(&e.feed_id) {
                    skipped.unknown_feed += 1;
                    skipped.unknown_feed_ids.insert(e.feed_id);
                    continue;
                }
                events.push(e);
            }
            for s in &batch.samples {
                if !feeds.contains(&s.feed_id) {
                    skipped.unknown_feed += 1;
                    skipped.unknown_feed_ids.insert(s.feed_id);
                    continue;
                }
                if !s.value.is_finite() {
                    skipped.non_finite += 1;
                    continue;
                }
                let i = series.resolve(&tx, s.feed_id, &s.metric, &s.labels, epoch)?;
                let entry = &mut series.entries[i];
                // Strictly increasing per series: a same-µs or older sample
                // is moved to just after the previous one.
                let ts = match entry.last_ts {
                    Some(last) if s.ts.0 <= last => last.saturating_add(1),
                    _ => s.ts.0,
                };
                entry.last_ts = Some(ts);
                let value = if compact {
                    crate::schema::encode_value(s.value)
                } else {
                    rusqlite::types::Value::Real(s.value)
                };
                samples.push((entry.id, ts.saturating_sub(epoch), value));
                rollups.add(entry.id, ts, s.value);
            }
            for t in &batch.timeline {
                if !feeds.contains(&t.feed_id) {
                    skipped.unknown_feed += 1;
                    skipped.unknown_feed_ids.insert(t.feed_id);
                    continue;
                }
                insert_state.execute((
                    t.feed_id,
                    t.ts.0,
                    &t.state,
                    t.detail.as_deref(),
                    &t.kind,
                ))?;
                w.states += 1;
            }
            write_alerts(&tx, batch)?;
        }
        // Events keep their arrival order (their ids are the order of the
        // log). Samples go in key order: consecutive rows of a series land
        // next to each other in the same, already cached, B-tree pages.
        w.events = insert_rows(&tx, &EVENT_INSERT, &events, |st, at, e| {
            st.raw_bind_parameter(at, e.feed_id)?;
            st.raw_bind_parameter(at + 1, e.received_at.0)?;
            st.raw_bind_parameter(at + 2, e.server_id.as_deref())?;
            st.raw_bind_parameter(at + 3, e.event_type.as_deref())?;
            st.raw_bind_parameter(at + 4, &e.data[..])?;
            st.raw_bind_parameter(at + 5, e.size)?;
            st.raw_bind_parameter(at + 6, e.truncated)
        })?;
        samples.sort_unstable_by_key(|(series, ts, _)| (*series, *ts));
        w.samples = insert_rows(&tx, &SAMPLE_INSERT, &samples, |st, at, s| {
            st.raw_bind_parameter(at, s.0)?;
            st.raw_bind_parameter(at + 1, s.1)?;
            st.raw_bind_parameter(at + 2, &s.2)
        })?;
    }
    rollups.write(&tx)?;
    tx.commit()?;
    Ok(w)
}

/// Inserts `rows` with `insert`, in statements of [`ROWS_PER_INSERT`] rows
/// and single-row ones for the rest; `bind` binds one row's values starting
/// at parameter `at`. Returns the number of rows inserted.
fn insert_rows<T>(
    tx: &Transaction<'_>,
    insert: &RowInsert,
    rows: &[T],
    bind: impl Fn(&mut rusqlite::CachedStatement<'_>, usize, &T) -> rusqlite::Result<()>,
) -> rusqlite::Result<u64> {
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let mut st = tx.prepare_cached(&insert.many)?;
        for chunk in &mut chunks {
            for (k, row) in chunk.iter().enumerate() {
                bind(&mut st, k * insert.columns + 1, row)?;
            }
            st.raw_execute()?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut st = tx.prepare_cached(&insert.one)?;
        for row in rest {
            bind(&mut st, 1, row)?;
            st.raw_execute()?;
        }
    }
    Ok(rows.len() as u64)
}

/// `head` followed by `rows` groups of `columns` numbered parameters.
fn multi_row_sql(head: &str, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + rows * columns * 6);
    sql.push_str(head);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", r * columns + c + 1));
        }
        sql.push(')');
    }
    sql
}
