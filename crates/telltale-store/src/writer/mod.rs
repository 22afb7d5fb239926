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
//! the transaction is rolled back and the writer keeps going: see
//! [`failing`] for the retries, the rows held meanwhile, what is shed or set
//! aside, and the [`crate::StoreHealth`] it publishes.
//!
//! Rows are only ever skipped, with a rate-limited warning, when they cannot
//! be stored meaningfully: rows for a feed id that is not (or no longer) in
//! `feeds`, and samples with a non-finite value.
//!
//! Between commits the writer advances a running retention job one chunk at
//! a time, and starts one automatically every `retention_interval`; the
//! same way it runs sample compaction (see `crate::chunk`) every
//! `compact_every`.

mod compact;
mod failing;
mod sql;

use crate::batch::WriteBatch;
use crate::error::StoreError;
use crate::feeds::{self, FeedOrigin};
use crate::health::StoreHealth;
use crate::retention::{Coverage, RetentionJob, RetentionReport};
use crate::rollup::Rollups;
use failing::{Failing, FlushWaiter};
use rusqlite::Connection;
use sql::{save_settings, SeriesCache, Skipped};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
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
    /// Answer once everything received before is committed, or with the
    /// failure if commits keep failing for [`failing::FLUSH_WAIT`].
    Flush(oneshot::Sender<Result<(), StoreError>>),
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
    /// Move older raw samples into chunks as of `now` and report.
    Compact {
        now: Timestamp,
        reply: Reply<crate::chunk::CompactReport>,
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
    pub meter: Arc<crate::meter::PayloadMeter>,
    pub retention_first: Option<Duration>,
    pub retention_every: Option<Duration>,
    pub compact_every: Option<Duration>,
    pub release_cache_every: Option<Duration>,
    pub health: watch::Sender<StoreHealth>,
    pub hold_limit: usize,
}

/// How soon after a settings change automatic retention runs.
const SETTINGS_RETENTION_DELAY: Duration = Duration::from_secs(5);
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
    meter: Arc<crate::meter::PayloadMeter>,
    pending: Vec<WriteBatch>,
    pending_rows: usize,
    pending_since: Option<Instant>,
    series: SeriesCache,
    /// Payload compression: each feed's dictionary.
    codec: crate::payload::PayloadCodec,
    feeds: HashSet<i64>,
    rollups: Rollups,
    skipped: Skipped,
    job: Option<RetentionJob>,
    job_replies: Vec<Reply<RetentionReport>>,
    queued_runs: Vec<(Timestamp, Reply<RetentionReport>)>,
    next_auto_retention: Option<Instant>,
    retention_every: Option<Duration>,
    /// Sample compaction: see [`compact`].
    compaction: compact::Compaction,
    /// See [`Writer::maybe_release_cache`].
    release_cache_every: Option<Duration>,
    next_cache_release: Option<Instant>,
    shutdown_acks: Vec<oneshot::Sender<()>>,
    /// See [`failing`].
    failing: Option<Failing>,
    flush_waiters: Vec<FlushWaiter>,
    held_bytes: usize,
    hold_limit: usize,
    health: watch::Sender<StoreHealth>,
    health_now: StoreHealth,
    shed_reminded: Instant,
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
            meter: s.meter,
            committed_events: 0,
            pending: Vec::new(),
            pending_rows: 0,
            pending_since: None,
            series: SeriesCache::default(),
            codec: Default::default(),
            feeds,
            rollups: Rollups::default(),
            skipped: Skipped::default(),
            job: None,
            job_replies: Vec::new(),
            queued_runs: Vec::new(),
            next_auto_retention: s.retention_every.and(s.retention_first).map(|d| now + d),
            retention_every: s.retention_every,
            compaction: compact::Compaction::new(s.compact_every),
            release_cache_every: s.release_cache_every,
            next_cache_release: s.release_cache_every.map(|d| now + d),
            shutdown_acks: Vec::new(),
            failing: None,
            flush_waiters: Vec::new(),
            held_bytes: 0,
            hold_limit: s.hold_limit,
            health: s.health,
            health_now: StoreHealth::default(),
            shed_reminded: now,
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
                // While commits fail the queue is drained instead, so that
                // senders never wait on a broken disk.
                Some(d)
                    if self.pending_since.is_some() && self.failing.is_none() && !d.is_zero() =>
                {
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
            self.expire_flushes();
            if open {
                self.maybe_start_auto_retention();
                self.advance_retention();
                self.advance_compaction();
            }
        }
        // Refuse new commands, but commit whatever was accepted before.
        self.rx.close();
        while let Ok(c) = self.rx.try_recv() {
            match c {
                Command::Retention { reply, .. } => {
                    let _ = reply.send(Err(StoreError::Closed));
                }
                Command::Compact { reply, .. } => {
                    let _ = reply.send(Err(StoreError::Closed));
                }
                other => {
                    self.handle(other);
                }
            }
        }
        self.final_commit();
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
        self.compaction.abandon();
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
        // (Compaction waits while commits fail: see `compact`.)
        if self.job.is_some() || (self.compaction.running() && self.failing.is_none()) {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let due = self.due();
        if let Some(at) = self.failing_deadline() {
            let wait = at.saturating_duration_since(now);
            return Some(match due {
                Some(r) => wait.min(r.saturating_duration_since(now)),
                None => wait,
            });
        }
        if let Some(since) = self.pending_since {
            return Some(self.commit_interval.saturating_sub(since.elapsed()));
        }
        due.map(|t| t.saturating_duration_since(now))
    }

    /// The next automatic retention or compaction run (compaction waits
    /// while commits fail).
    fn due(&self) -> Option<Instant> {
        let compaction = self.compaction.next().filter(|_| self.failing.is_none());
        match (self.next_auto_retention, compaction) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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

    /// Whether pending rows are due for a commit (while commits fail: for
    /// the next retry).
    fn bounds_reached(&self) -> bool {
        if let Some(f) = &self.failing {
            return Instant::now() >= f.next_retry;
        }
        self.pending_rows >= self.commit_rows
            || self
                .pending_since
                .is_some_and(|t| t.elapsed() >= self.commit_interval)
    }

    /// Handles one command; returns false when the writer should stop.
    fn handle(&mut self, c: Command) -> bool {
        match c {
            Command::Batch(b) => self.hold(b),
            Command::Flush(ack) => self.flush(ack),
            Command::UpsertFeed {
                name,
                config,
                origin,
                now,
                reply,
            } => {
                self.commit_if_healthy();
                let r = feeds::upsert(&mut self.conn, &name, &config, origin, now);
                if let Ok(id) = r {
                    self.feeds.insert(id);
                }
                let _ = reply.send(r.map_err(|e| self.error("storing a feed", e)));
            }
            Command::DeleteFeed { name, reply } => {
                self.commit_if_healthy();
                let r = feeds::delete(&mut self.conn, &name);
                if let Ok(Some(id)) = r {
                    self.feeds.remove(&id);
                    self.series.forget_feed(id);
                    self.codec.forget_feed(id);
                    tracing::info!("feed {name} and its history deleted");
                    self.retry_soon();
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
                self.commit_if_healthy();
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
            Command::Compact { now, reply } => self.compaction.request(now, reply),
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

    /// Commits pending rows before a control command, unless commits are
    /// failing: then the command goes first (it may be the remedy) and the
    /// rows wait for their retry.
    fn commit_if_healthy(&mut self) {
        if self.failing.is_none() {
            self.commit_pending();
        }
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
        match job.step(&mut self.conn, self.epoch, &self.coverage) {
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
                        if report.rows() > 0 {
                            self.retry_soon();
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
