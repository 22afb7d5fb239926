//! The SQL a commit runs: multi-row inserts, the series cache that resolves
//! `(feed, metric, labels)` to a series id, and the alert and settings rows.

use crate::batch::{Labels, WriteBatch};
use crate::payload::PayloadCodec;
use crate::rollup::Rollups;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use telltale_model::Timestamp;

const SKIP_LOG_EVERY: Duration = Duration::from_secs(30);
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
        "INSERT INTO events (feed_id, received_at, server_id, event_type, data, size, truncated, codec, dict) VALUES ",
        9,
    )
});

static SAMPLE_INSERT: LazyLock<RowInsert> =
    LazyLock::new(|| RowInsert::new("INSERT INTO samples (series_id, ts, value) VALUES ", 3));
const INSERT_STATE: &str =
    "INSERT INTO feed_states (feed_id, ts, state, detail, kind) VALUES (?1, ?2, ?3, ?4, ?5)";
const FIND_SERIES: &str =
    "SELECT id FROM series WHERE feed_id = ?1 AND metric = ?2 AND labels = ?3";
const INSERT_SERIES: &str = "INSERT INTO series (feed_id, metric, labels) VALUES (?1, ?2, ?3)";

/// A known series, the last timestamp written to it (absolute µs) and the
/// cadence its samples arrive at (see [`align`]).
struct SeriesEntry {
    id: i64,
    last_ts: Option<i64>,
    cadence: Option<i64>,
}

/// `(feed, metric, labels)` → series, with the newest timestamp per series
/// so that samples of one series never collide.
#[derive(Default)]
pub(super) struct SeriesCache {
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
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
        self.recent.clear();
    }

    pub(super) fn forget_feed(&mut self, feed_id: i64) {
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
                let last = crate::chunk::last_ts(tx, id)?;
                (id, last.map(|t| t + epoch))
            }
            None => {
                tx.prepare_cached(INSERT_SERIES)?
                    .execute((feed_id, &**metric, &labels_json))?;
                (tx.last_insert_rowid(), None)
            }
        };
        let i = self.entries.len();
        self.entries.push(SeriesEntry {
            id,
            last_ts,
            cadence: None,
        });
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
pub(super) struct Skipped {
    pub(super) unknown_feed: u64,
    pub(super) unknown_feed_ids: HashSet<i64>,
    pub(super) non_finite: u64,
    pub(super) last_log: Option<Instant>,
}

impl Skipped {
    pub(super) fn log(&mut self, force: bool) {
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
pub(super) struct Written {
    pub(super) events: u64,
    /// Each event's feed and bytes as stored (see `crate::meter`).
    pub(super) payloads: Vec<(i64, u64)>,
    pub(super) samples: u64,
    pub(super) states: u64,
}

/// Writes settings rows (`key`, JSON) in one transaction.
pub(super) fn save_settings(
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
#[allow(clippy::too_many_arguments)]
pub(super) fn write_pending(
    conn: &mut Connection,
    pending: &[WriteBatch],
    series: &mut SeriesCache,
    codec: &mut PayloadCodec,
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
                let stored = codec.encode(&tx, e.feed_id, &e.data, e.received_at.0)?;
                let bytes = stored.data.len() as u64 + crate::budget::EVENT_OVERHEAD;
                w.payloads.push((e.feed_id, bytes));
                events.push((e, stored));
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
                    Some(last) => align(last, s.ts.0, &mut entry.cadence),
                    None => s.ts.0,
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
        w.events = insert_rows(&tx, &EVENT_INSERT, &events, |st, at, (e, stored)| {
            st.raw_bind_parameter(at, e.feed_id)?;
            st.raw_bind_parameter(at + 1, e.received_at.0)?;
            st.raw_bind_parameter(at + 2, e.server_id.as_deref())?;
            st.raw_bind_parameter(at + 3, e.event_type.as_deref())?;
            st.raw_bind_parameter(at + 4, &stored.data[..])?;
            st.raw_bind_parameter(at + 5, e.size)?;
            st.raw_bind_parameter(at + 6, e.truncated)?;
            st.raw_bind_parameter(at + 7, stored.codec)?;
            st.raw_bind_parameter(at + 8, stored.dict)
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

/// Cadences are whole multiples of this (polls run on a 10 ms grid).
const CADENCE_STEP: i64 = 10_000;
/// Only cadences of at least this are aligned (polls, not streams).
const MIN_CADENCE: i64 = 100_000;
/// The most a time is moved: 1 % of the cadence, at most this.
const MAX_SHIFT: i64 = 25_000;

/// Aligns a sample's time to its series' cadence, as Prometheus does with
/// its scrape timestamps (2 ms tolerance): a sample that arrives within 1 %
/// of the cadence (at most 25 ms) of `last + cadence` is stored at exactly
/// that instant. A regular feed's timestamps then compress to a bit each
/// (delta-of-delta 0, see `crate::chunk`) instead of paying for its
/// network jitter; a stored time is never more than that tolerance from
/// the arrival, events keep their exact `received_at`, and a sample off
/// its cadence (a retry, a restart) keeps its own time and sets the
/// cadence anew, rounded to 10 ms.
pub(super) fn align(last: i64, ts: i64, cadence: &mut Option<i64>) -> i64 {
    if let Some(c) = *cadence {
        let expected = last.saturating_add(c);
        if ts.saturating_sub(expected).saturating_abs() <= (c / 100).min(MAX_SHIFT) {
            return expected;
        }
    }
    let delta = ts.saturating_sub(last);
    let rounded = delta.saturating_add(CADENCE_STEP / 2) / CADENCE_STEP * CADENCE_STEP;
    *cadence = (rounded >= MIN_CADENCE).then_some(rounded);
    ts
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

#[cfg(test)]
mod tests {
    use super::align;

    #[test]
    fn jittered_polls_are_aligned_and_streams_are_not() {
        let mut cadence = None;
        let mut last = 1_000_000_000i64;
        let mut stored = vec![last];
        // 1 s polls arriving 0.3..2.8 ms late.
        for (k, jitter) in [2_100, 300, 2_800, 900, 1_500, 400].iter().enumerate() {
            let t = 1_000_000_000 + (k as i64 + 1) * 1_000_000 + jitter;
            last = align(last, t, &mut cadence);
            assert!((last - t).abs() <= 10_000, "moved by at most 1 %");
            stored.push(last);
        }
        let deltas: Vec<i64> = stored.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(deltas[1..], [1_000_000; 5], "{deltas:?}");
        // A late poll keeps its time and starts the cadence over.
        let late = last + 1_500_000;
        assert_eq!(align(last, late, &mut cadence), late);
        // A stream of 10 ms messages is never moved.
        let mut cadence = None;
        let mut last = 0;
        for t in [10_000, 20_300, 30_100, 40_900] {
            assert_eq!(align(last, t, &mut cadence), t);
            last = t;
        }
        // A lying server's times at the ends of the range are kept as they
        // are, without overflowing.
        let mut cadence = Some(1_000_000);
        assert_eq!(align(i64::MIN, i64::MAX, &mut cadence), i64::MAX);
        assert_eq!(align(i64::MAX, i64::MIN, &mut cadence), i64::MIN);
    }
}
