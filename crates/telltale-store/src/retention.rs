//! Retention: deleting history that is older than the configured ages (or
//! beyond the per-feed event count) and giving the space back.
//!
//! A retention run is a job executed by the writer thread in small steps:
//! each step is its own transaction deleting at most [`CHUNK_ROWS`] rows, and
//! between steps the writer keeps committing incoming data, so even a large
//! clean-up never stalls ingestion for long. The last step runs
//! `PRAGMA incremental_vacuum` (the file is created with
//! `auto_vacuum = INCREMENTAL`) so that the file really shrinks.
//!
//! Before deleting, the job records its cut-offs in `meta` and in memory:
//! [`crate::Store::query_series`] uses them to know which tier still covers
//! a time range. A zero age (or a zero `events_max_per_feed`) disables that
//! limit. The newest `state` entry of each feed is kept regardless of age,
//! so a feed's current state is always known.

use crate::budget::{self, Cut};
use crate::rollup::Tier;
use crate::schema;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use telltale_model::config::StoreSettings;
use telltale_model::Timestamp;

/// Rows deleted per transaction.
pub(crate) const CHUNK_ROWS: u64 = 20_000;
/// The budget an empty step uses up, so one transaction visits at most
/// `CHUNK_ROWS / STEP_COST` series or feeds.
const STEP_COST: u64 = 20;
/// One incremental-vacuum step: release up to 4096 pages (16 MiB).
const VACUUM_STEP: &str = "PRAGMA incremental_vacuum(4096)";

/// What one retention run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// When the run considered "now".
    pub now: Timestamp,
    /// Events older than `events_max_age`.
    pub events_by_age: u64,
    /// Events beyond `events_max_per_feed` (oldest first).
    pub events_by_count: u64,
    /// Raw samples older than `samples_max_age`.
    pub samples: u64,
    /// 1-minute rollups older than `rollup_1m_max_age`.
    pub rollup_1m: u64,
    /// 1-hour rollups older than `rollup_1h_max_age`.
    pub rollup_1h: u64,
    /// Timeline entries and alert history entries older than `states_max_age`.
    pub states: u64,
    /// Events deleted to bring the database under its disk budget.
    pub events_by_budget: u64,
    /// Raw samples deleted for the disk budget.
    pub samples_by_budget: u64,
    /// 1-minute rollups deleted for the disk budget.
    pub rollup_1m_by_budget: u64,
    /// Bytes in use when the budget was checked, if one is set.
    pub used_bytes: Option<u64>,
    /// Pages given back to the file system by incremental vacuum.
    pub pages_freed: u64,
    /// How long the run took (wall clock, including interleaved writes).
    pub took: Duration,
}

impl RetentionReport {
    /// All rows deleted.
    pub fn rows(&self) -> u64 {
        self.events_by_age
            + self.events_by_count
            + self.samples
            + self.rollup_1m
            + self.rollup_1h
            + self.states
            + self.events_by_budget
            + self.samples_by_budget
            + self.rollup_1m_by_budget
    }
}

/// Absolute µs cut-offs of one run; `None` disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cutoffs {
    pub events: Option<i64>,
    pub events_per_feed: Option<u64>,
    pub samples: Option<i64>,
    pub minute: Option<i64>,
    pub hour: Option<i64>,
    pub states: Option<i64>,
}

impl Cutoffs {
    pub fn new(s: &StoreSettings, now: Timestamp) -> Cutoffs {
        let age = |d: telltale_model::duration::Dur| (!d.0.is_zero()).then(|| now.minus(d.0).0);
        Cutoffs {
            events: age(s.events_max_age),
            events_per_feed: (s.events_max_per_feed > 0).then_some(s.events_max_per_feed),
            samples: age(s.samples_max_age),
            minute: age(s.rollup_1m_max_age),
            hour: age(s.rollup_1h_max_age),
            states: age(s.states_max_age),
        }
    }
}

/// From when on each tier is complete: data before these instants may have
/// been deleted by retention. Shared between the writer and readers.
#[derive(Debug)]
pub(crate) struct Coverage {
    raw: AtomicI64,
    minute: AtomicI64,
    hour: AtomicI64,
}

const COVERAGE_KEYS: [(Tier, &str); 3] = [
    (Tier::Raw, "retention.samples_cutoff"),
    (Tier::Minute, "retention.rollup_1m_cutoff"),
    (Tier::Hour, "retention.rollup_1h_cutoff"),
];

impl Coverage {
    /// Reads the cut-offs recorded by earlier runs.
    pub fn load(conn: &Connection) -> rusqlite::Result<Coverage> {
        let c = Coverage {
            raw: AtomicI64::new(i64::MIN),
            minute: AtomicI64::new(i64::MIN),
            hour: AtomicI64::new(i64::MIN),
        };
        for (tier, key) in COVERAGE_KEYS {
            if let Some(v) = schema::meta_i64(conn, key)? {
                c.cell(tier).store(v, Ordering::Relaxed);
            }
        }
        Ok(c)
    }

    fn cell(&self, tier: Tier) -> &AtomicI64 {
        match tier {
            Tier::Raw => &self.raw,
            Tier::Minute => &self.minute,
            Tier::Hour => &self.hour,
        }
    }

    /// The earliest instant from which `tier` is known to be complete.
    pub fn from(&self, tier: Tier) -> i64 {
        self.cell(tier).load(Ordering::Relaxed)
    }

    /// Moves one tier's cut-off forward to `cut` (a size-based deletion).
    fn raise(&self, conn: &Connection, tier: Tier, cut: i64) -> rusqlite::Result<()> {
        let Some((_, key)) = COVERAGE_KEYS.iter().find(|(t, _)| *t == tier) else {
            return Ok(());
        };
        let v = self.cell(tier).fetch_max(cut, Ordering::Relaxed).max(cut);
        schema::set_meta(conn, key, &v.to_string())
    }

    /// Records the cut-offs of a starting run (they only move forward).
    fn advance(&self, conn: &Connection, c: &Cutoffs) -> rusqlite::Result<()> {
        for (tier, key) in COVERAGE_KEYS {
            let cut = match tier {
                Tier::Raw => c.samples,
                Tier::Minute => c.minute,
                Tier::Hour => c.hour,
            };
            if let Some(cut) = cut {
                let v = self.cell(tier).fetch_max(cut, Ordering::Relaxed).max(cut);
                schema::set_meta(conn, key, &v.to_string())?;
            }
        }
        Ok(())
    }
}

/// One unit of work of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    EventsByAge(i64),
    EventsByCount(i64),
    Samples(i64),
    Rollup(Tier, i64),
    States(i64),
    /// Alert history older than the state-history age (alert state itself is kept).
    AlertHistory,
    /// Measure against the disk budget and plan [`Step::Cut`]s if over.
    Budget(u64),
    /// One deletion for the disk budget.
    Cut(Cut),
    Vacuum,
}

/// A retention run in progress.
#[derive(Debug)]
pub(crate) struct RetentionJob {
    cutoffs: Cutoffs,
    steps: VecDeque<Step>,
    report: RetentionReport,
    started: Instant,
    /// Budget plans made so far in this run (see [`BUDGET_PASSES`]).
    budget_passes: u8,
}

/// A run measures the budget again after its cuts and plans more if it is
/// still over (the plan works from estimated sizes), at most this often.
const BUDGET_PASSES: u8 = 3;

impl RetentionJob {
    /// Plans a run: records its cut-offs, then lists its steps.
    pub fn start(
        conn: &mut Connection,
        settings: &StoreSettings,
        now: Timestamp,
        coverage: &Coverage,
    ) -> rusqlite::Result<RetentionJob> {
        let started = Instant::now();
        let cutoffs = Cutoffs::new(settings, now);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        coverage.advance(&tx, &cutoffs)?;
        let feeds = crate::feeds::ids(&tx)?;
        let series: Vec<i64> = {
            let mut stmt = tx.prepare_cached("SELECT id FROM series ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.commit()?;
        let mut steps = VecDeque::new();
        if cutoffs.events.is_some() {
            steps.extend(feeds.iter().map(|&f| Step::EventsByAge(f)));
        }
        if cutoffs.events_per_feed.is_some() {
            steps.extend(feeds.iter().map(|&f| Step::EventsByCount(f)));
        }
        if cutoffs.samples.is_some() {
            steps.extend(series.iter().map(|&s| Step::Samples(s)));
        }
        if cutoffs.minute.is_some() {
            steps.extend(series.iter().map(|&s| Step::Rollup(Tier::Minute, s)));
        }
        if cutoffs.hour.is_some() {
            steps.extend(series.iter().map(|&s| Step::Rollup(Tier::Hour, s)));
        }
        if cutoffs.states.is_some() {
            steps.extend(feeds.iter().map(|&f| Step::States(f)));
            steps.push_back(Step::AlertHistory);
        }
        if let Some(b) = settings.disk_budget.filter(|b| b.0 > 0) {
            steps.push_back(Step::Budget(b.0));
        }
        steps.push_back(Step::Vacuum);
        Ok(RetentionJob {
            cutoffs,
            steps,
            report: RetentionReport {
                now,
                ..RetentionReport::default()
            },
            started,
            budget_passes: 0,
        })
    }

    /// Runs one transaction's worth of work. Returns true when the run is done.
    pub fn step(
        &mut self,
        conn: &mut Connection,
        epoch: i64,
        coverage: &Coverage,
    ) -> rusqlite::Result<bool> {
        if let Some(&Step::Budget(budget)) = self.steps.front() {
            self.steps.pop_front();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let planned = budget::plan(&tx, budget, epoch)?;
            // The report tells what the run found, before its own cuts.
            if self.report.used_bytes.is_none() {
                self.report.used_bytes = Some(match &planned {
                    Some(p) => p.used,
                    None => budget::used_bytes(&tx)?,
                });
            }
            if let Some(p) = planned {
                if self.budget_passes > 0 {
                    tracing::debug!(
                        "still {} MiB after the budget's cuts: planning more",
                        p.used >> 20
                    );
                } else {
                    tracing::warn!(
                    "the database holds {} MiB, over its disk budget of {} MiB: deleting the oldest payloads, then raw samples, then 1-minute rollups, fairly per feed",
                    p.used >> 20,
                    p.budget >> 20
                );
                }
                self.plan_cuts(&tx, p, budget, coverage)?;
            }
            tx.commit()?;
            return Ok(self.steps.is_empty());
        }
        if self.steps.front() == Some(&Step::Vacuum) {
            let before = page_pragma(conn, "freelist_count")?;
            // The pragma yields one row per page released: step through all of them.
            let mut stmt = conn.prepare_cached(VACUUM_STEP)?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            drop(stmt);
            let after = page_pragma(conn, "freelist_count")?;
            self.report.pages_freed += before.saturating_sub(after).max(0) as u64;
            if after == 0 || after >= before {
                self.steps.pop_front();
            }
            return Ok(self.steps.is_empty());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut budget = CHUNK_ROWS;
        while budget > 0 {
            let Some(&step) = self.steps.front() else {
                break;
            };
            if matches!(step, Step::Vacuum | Step::Budget(_)) {
                break;
            }
            let (n, more) = delete_chunk(&tx, step, &self.cutoffs, epoch, budget)?;
            match step {
                Step::EventsByAge(_) => self.report.events_by_age += n,
                Step::EventsByCount(_) => self.report.events_by_count += n,
                Step::Samples(_) => self.report.samples += n,
                Step::Rollup(Tier::Hour, _) => self.report.rollup_1h += n,
                Step::Rollup(_, _) => self.report.rollup_1m += n,
                Step::States(_) | Step::AlertHistory => self.report.states += n,
                Step::Cut(Cut::Events { .. }) => self.report.events_by_budget += n,
                Step::Cut(Cut::Samples { .. }) => self.report.samples_by_budget += n,
                Step::Cut(Cut::Minute { .. }) => self.report.rollup_1m_by_budget += n,
                Step::Budget(_) | Step::Vacuum => {}
            }
            if !more {
                self.steps.pop_front();
            }
            // Even a step that deletes nothing costs a few queries.
            budget = budget.saturating_sub(n.max(STEP_COST));
        }
        tx.commit()?;
        Ok(self.steps.is_empty())
    }

    /// Queues a budget plan's cuts, then (up to [`BUDGET_PASSES`]) another
    /// measurement after them.
    fn plan_cuts(
        &mut self,
        tx: &Transaction<'_>,
        p: budget::Plan,
        budget: u64,
        coverage: &Coverage,
    ) -> rusqlite::Result<()> {
        if let Some(cut) = p.raw_cutoff {
            coverage.raise(tx, Tier::Raw, cut)?;
        }
        if let Some(cut) = p.minute_cutoff {
            coverage.raise(tx, Tier::Minute, cut)?;
        }
        self.budget_passes += 1;
        if self.budget_passes < BUDGET_PASSES && !p.cuts.is_empty() {
            self.steps.push_front(Step::Budget(budget));
        }
        for c in p.cuts.into_iter().rev() {
            self.steps.push_front(Step::Cut(c));
        }
        Ok(())
    }

    /// Records the run in `meta` and returns its report.
    pub fn finish(mut self, conn: &Connection) -> rusqlite::Result<RetentionReport> {
        self.report.took = self.started.elapsed();
        schema::set_meta(conn, "retention.last_run", &self.report.now.0.to_string())?;
        let json = serde_json::to_string(&self.report).unwrap_or_default();
        schema::set_meta(conn, "retention.last_report", &json)?;
        // Push the freed pages through the WAL so the file itself shrinks.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(self.report)
    }
}

fn page_pragma(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
}

/// Deletes at most `budget` rows for one step; returns how many went and
/// whether the step has more to delete.
fn delete_chunk(
    tx: &Transaction<'_>,
    step: Step,
    c: &Cutoffs,
    epoch: i64,
    budget: u64,
) -> rusqlite::Result<(u64, bool)> {
    let budget_i = budget.min(i64::MAX as u64) as i64;
    let n = match step {
        Step::EventsByAge(feed) => {
            let Some(cut) = c.events else {
                return Ok((0, false));
            };
            tx.prepare_cached(
                "DELETE FROM events WHERE id IN
                   (SELECT id FROM events INDEXED BY events_feed_time
                     WHERE feed_id = ?1 AND received_at < ?2 LIMIT ?3)",
            )?
            .execute((feed, cut, budget_i))?
        }
        Step::EventsByCount(feed) => {
            let Some(keep) = c.events_per_feed else {
                return Ok((0, false));
            };
            // The newest event that no longer fits; it and everything older go.
            let edge: Option<(i64, i64)> = tx
                .prepare_cached(
                    "SELECT received_at, id FROM events WHERE feed_id = ?1
                     ORDER BY received_at DESC, id DESC LIMIT 1 OFFSET ?2",
                )?
                .query_row((feed, keep.min(i64::MAX as u64) as i64), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((t, id)) = edge else {
                return Ok((0, false));
            };
            tx.prepare_cached(
                "DELETE FROM events WHERE id IN
                   (SELECT id FROM events WHERE feed_id = ?1 AND received_at <= ?2
                      AND (received_at < ?2 OR id <= ?3) LIMIT ?4)",
            )?
            .execute((feed, t, id, budget_i))?
        }
        Step::Samples(series) => {
            let Some(cut) = c.samples else {
                return Ok((0, false));
            };
            return delete_samples(tx, series, cut.saturating_sub(epoch), budget);
        }
        Step::Rollup(Tier::Hour, series) => {
            let Some(cut) = c.hour else {
                return Ok((0, false));
            };
            range_delete(
                tx,
                "SELECT bucket FROM rollup_1h WHERE series_id = ?1 AND bucket < ?2 ORDER BY bucket LIMIT 1 OFFSET ?3",
                "DELETE FROM rollup_1h WHERE series_id = ?1 AND bucket < ?2",
                series,
                cut,
                budget_i,
            )?
        }
        Step::Rollup(_, series) => {
            let Some(cut) = c.minute else {
                return Ok((0, false));
            };
            return delete_minutes(tx, series, cut, budget);
        }
        Step::States(feed) => {
            let Some(cut) = c.states else {
                return Ok((0, false));
            };
            tx.prepare_cached(
                "DELETE FROM feed_states WHERE id IN
                   (SELECT id FROM feed_states WHERE feed_id = ?1 AND ts < ?2
                      AND id <> coalesce((SELECT id FROM feed_states
                                          WHERE feed_id = ?1 AND kind = 'state'
                                          ORDER BY ts DESC, id DESC LIMIT 1), -1)
                    LIMIT ?3)",
            )?
            .execute((feed, cut, budget_i))?
        }
        Step::AlertHistory => {
            let Some(cut) = c.states else {
                return Ok((0, false));
            };
            tx.prepare_cached(
                "DELETE FROM alert_history WHERE id IN
                   (SELECT id FROM alert_history WHERE ts < ?1 ORDER BY ts LIMIT ?2)",
            )?
            .execute((cut, budget_i))?
        }
        Step::Cut(Cut::Events { feed, at, id }) => tx
            .prepare_cached(
                "DELETE FROM events WHERE id IN
                   (SELECT id FROM events WHERE feed_id = ?1 AND received_at <= ?2
                      AND (received_at < ?2 OR id <= ?3) LIMIT ?4)",
            )?
            .execute((feed, at, id, budget_i))?,
        Step::Cut(Cut::Samples { series, before }) => {
            return delete_samples(tx, series, before, budget);
        }
        Step::Cut(Cut::Minute { before }) => {
            return crate::chunk::minutes::delete_all_before(tx, before, budget);
        }
        Step::Budget(_) | Step::Vacuum => 0,
    };
    Ok((n as u64, n as u64 >= budget))
}

/// Deletes a series' raw samples older than `cut` (relative µs): its
/// chunks first (they are the older ones), then head rows.
fn delete_samples(
    tx: &Transaction<'_>,
    series: i64,
    cut: i64,
    budget: u64,
) -> rusqlite::Result<(u64, bool)> {
    chunks_then_head::<crate::chunk::Samples>(
        tx,
        [
            "SELECT ts FROM samples WHERE series_id = ?1 AND ts < ?2 ORDER BY ts LIMIT 1 OFFSET ?3",
            "DELETE FROM samples WHERE series_id = ?1 AND ts < ?2",
        ],
        series,
        cut,
        budget,
    )
}

/// Deletes a series' 1-minute rollups older than `cut` (absolute µs), as
/// [`delete_samples`] does.
fn delete_minutes(
    tx: &Transaction<'_>,
    series: i64,
    cut: i64,
    budget: u64,
) -> rusqlite::Result<(u64, bool)> {
    chunks_then_head::<crate::chunk::minutes::Minutes>(
        tx,
        ["SELECT bucket FROM rollup_1m WHERE series_id = ?1 AND bucket < ?2 ORDER BY bucket LIMIT 1 OFFSET ?3",
         "DELETE FROM rollup_1m WHERE series_id = ?1 AND bucket < ?2"],
        series,
        cut,
        budget,
    )
}

fn chunks_then_head<L: crate::chunk::Layout>(
    tx: &Transaction<'_>,
    [find_edge, delete_below]: [&str; 2],
    series: i64,
    cut: i64,
    budget: u64,
) -> rusqlite::Result<(u64, bool)> {
    let (chunked, more) = crate::chunk::delete_before::<L>(tx, series, cut, budget)?;
    if more || chunked >= budget {
        return Ok((chunked, true));
    }
    let head = range_delete(
        tx,
        find_edge,
        delete_below,
        series,
        cut,
        (budget - chunked).min(i64::MAX as u64) as i64,
    )?;
    let n = chunked + head as u64;
    Ok((n, n >= budget))
}

/// Deletes the oldest rows of one series below `cut`, at most `budget` of
/// them, as a key range (cheaper than a list of keys).
fn range_delete(
    tx: &Transaction<'_>,
    find_edge: &str,
    delete_below: &str,
    series: i64,
    cut: i64,
    budget: i64,
) -> rusqlite::Result<usize> {
    let edge: Option<i64> = tx
        .prepare_cached(find_edge)?
        .query_row((series, cut, budget), |r| r.get(0))
        .optional()?;
    tx.prepare_cached(delete_below)?
        .execute((series, edge.unwrap_or(cut)))
}
