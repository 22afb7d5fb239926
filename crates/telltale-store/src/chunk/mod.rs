//! Raw samples in compressed chunks.
//!
//! New samples go to the `samples` table, the **head**: one row each, so a
//! commit stays a cheap append and a sample counted as committed is on
//! disk like any other row. A compaction job on the writer thread then
//! moves older head samples into `sample_chunks`: up to [`CHUNK_SAMPLES`]
//! samples of one series, spanning less than [`MAX_SPAN_US`], encoded by
//! [`codec`] into one row. Inserting a chunk and deleting its head rows is
//! one transaction, so a crash leaves each sample in exactly one place.
//!
//! Every series keeps its newest sample and the last [`HEAD_KEEP_US`] in
//! the head (live charts and "last value" read plain rows). A series' chunks
//! never overlap and are all older than its head, so a range is read as
//! its chunks, then its head rows.

mod codec;
pub(crate) mod minutes;

pub(crate) use codec::Val;

use crate::rollup::HOUR_US;
use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::VecDeque;
use telltale_model::Timestamp;

/// Samples per chunk (Gorilla's and Prometheus's choice).
pub(crate) const CHUNK_SAMPLES: usize = 120;
/// A chunk spans less than this, so a range query knows where to start.
pub(crate) const MAX_SPAN_US: i64 = 2 * HOUR_US;
/// Samples younger than this stay in the head.
pub(crate) const HEAD_KEEP_US: i64 = 60_000_000;
/// What a chunk row costs besides its data (key, times, count, cell).
pub(crate) const CHUNK_OVERHEAD: u64 = 24;
/// Samples moved per compaction transaction.
const STEP_SAMPLES: usize = 20_000;
/// What visiting a series costs a step even when nothing moves.
const VISIT_COST: usize = 20;

fn damaged(e: codec::BadChunk) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, Type::Blob, Box::new(e))
}

fn decode(data: &[u8]) -> rusqlite::Result<Vec<(i64, Val)>> {
    codec::decode(data).map_err(damaged)
}

/// What a chunk table holds: rows of `(ts, value)` per series, `TABLE`
/// having the columns of `sample_chunks`.
pub(crate) trait Layout {
    const TABLE: &'static str;
    /// The head table the chunks are made from.
    const HEAD: &'static str;
    type Value: Copy;
    fn encode(items: &[(i64, Self::Value)]) -> Vec<u8>;
    fn decode(data: &[u8]) -> rusqlite::Result<Vec<(i64, Self::Value)>>;
}

/// Raw samples (`sample_chunks`).
pub(crate) struct Samples;

impl Layout for Samples {
    const TABLE: &'static str = "sample_chunks";
    const HEAD: &'static str = "samples";
    type Value = Val;
    fn encode(items: &[(i64, Val)]) -> Vec<u8> {
        codec::encode(items)
    }
    fn decode(data: &[u8]) -> rusqlite::Result<Vec<(i64, Val)>> {
        decode(data)
    }
}

/// Calls `f` with each chunked item of a series with `lo <= ts < hi`,
/// oldest first, until it returns false; returns false if it did.
pub(crate) fn scan<L: Layout>(
    conn: &Connection,
    series: i64,
    lo: i64,
    hi: i64,
    mut f: impl FnMut((i64, L::Value)) -> bool,
) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT data FROM {}
         WHERE series_id = ?1 AND start_ts >= ?2 AND start_ts < ?3 AND end_ts >= ?4
         ORDER BY start_ts",
        L::TABLE
    ))?;
    let mut rows = stmt.query((series, lo.saturating_sub(MAX_SPAN_US), hi, lo))?;
    while let Some(r) = rows.next()? {
        for item in L::decode(r.get_ref(0)?.as_blob()?)? {
            if item.0 >= lo && item.0 < hi && !f(item) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A head value as stored (hundredths or a float).
pub(crate) fn head_value(v: ValueRef<'_>) -> rusqlite::Result<Val> {
    match v {
        ValueRef::Integer(i) => Ok(Val::Cents(i)),
        ValueRef::Real(f) => Ok(Val::Real(f)),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            1,
            other.data_type(),
            "a sample value is neither INTEGER nor REAL".into(),
        )),
    }
}

/// Raw samples of a series with `lo <= ts < hi` (relative µs), oldest
/// first, at most `limit`.
pub(crate) fn read(
    conn: &Connection,
    series: i64,
    lo: i64,
    hi: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, f64)>> {
    let mut out = Vec::new();
    for_each(conn, series, lo, hi, |ts, v| {
        if out.len() < limit {
            out.push((ts, v));
        }
        out.len() < limit
    })?;
    Ok(out)
}

/// Calls `f` with a series' raw samples with `lo <= ts < hi` (relative
/// µs), oldest first, chunks then head, until it returns false. Nothing is
/// collected: a chart folds them as they are decoded.
pub(crate) fn for_each(
    conn: &Connection,
    series: i64,
    lo: i64,
    hi: i64,
    mut f: impl FnMut(i64, f64) -> bool,
) -> rusqlite::Result<()> {
    if lo >= hi {
        return Ok(());
    }
    if !scan::<Samples>(conn, series, lo, hi, |(ts, v)| f(ts, v.get()))? {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3
         ORDER BY ts",
    )?;
    let mut rows = stmt.query((series, lo, hi))?;
    while let Some(r) = rows.next()? {
        if !f(r.get(0)?, head_value(r.get_ref(1)?)?.get()) {
            break;
        }
    }
    Ok(())
}

/// The newest timestamp of a series (relative µs).
pub(crate) fn last_ts(conn: &Connection, series: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT coalesce((SELECT max(ts) FROM samples WHERE series_id = ?1),
                         (SELECT max(end_ts) FROM sample_chunks WHERE series_id = ?1))",
    )?
    .query_row([series], |r| r.get(0))
}

/// Rows of all series, head and chunks.
pub(crate) fn total<L: Layout>(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT (SELECT count(*) FROM {})
                  + (SELECT coalesce(sum(count), 0) FROM {})",
            L::HEAD,
            L::TABLE
        ))?
        .query_row([], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Each feed's chunked rows and their bytes as stored: `(feed, rows, bytes)`.
pub(crate) fn per_feed<L: Layout>(conn: &Connection) -> rusqlite::Result<Vec<(i64, u64, u64)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT r.feed_id, sum(c.count), sum(length(c.data) + {CHUNK_OVERHEAD})
         FROM {} c JOIN series r ON r.id = c.series_id GROUP BY r.feed_id",
        L::TABLE
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?.max(0) as u64,
            r.get::<_, i64>(2)?.max(0) as u64,
        ))
    })?;
    rows.collect()
}

/// Samples of one series: `(in the head, in chunks)`.
pub(crate) fn series_count(conn: &Connection, series: i64) -> rusqlite::Result<(u64, u64)> {
    let (head, chunked): (i64, i64) = conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM samples WHERE series_id = ?1),
                    (SELECT coalesce(sum(count), 0) FROM sample_chunks WHERE series_id = ?1)",
        )?
        .query_row([series], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((head.max(0) as u64, chunked.max(0) as u64))
}

/// The timestamp of the sample that has `n` newer ones in its series,
/// whose head holds `head` samples (from [`series_count`]).
pub(crate) fn nth_newest_ts(
    conn: &Connection,
    series: i64,
    n: u64,
    head: u64,
) -> rusqlite::Result<Option<i64>> {
    if n < head {
        return conn
            .prepare_cached(
                "SELECT ts FROM samples WHERE series_id = ?1 ORDER BY ts DESC LIMIT 1 OFFSET ?2",
            )?
            .query_row((series, n as i64), |r| r.get(0))
            .optional();
    }
    let mut left = n - head;
    let mut stmt = conn.prepare_cached(
        "SELECT count, data FROM sample_chunks WHERE series_id = ?1 ORDER BY start_ts DESC",
    )?;
    let mut rows = stmt.query([series])?;
    while let Some(r) = rows.next()? {
        let count = r.get::<_, i64>(0)?.max(0) as u64;
        if left < count {
            let samples = decode(r.get_ref(1)?.as_blob()?)?;
            let i = samples.len() as u64 - 1 - left.min(samples.len() as u64 - 1);
            return Ok(samples.get(i as usize).map(|s| s.0));
        }
        left -= count;
    }
    Ok(None)
}

/// Deletes a series' chunked samples older than `cut` (relative µs), at
/// most about `budget` of them; a chunk across `cut` is re-encoded without
/// its older part. Returns the samples deleted, and whether whole chunks
/// were left for another call.
pub(crate) fn delete_before<L: Layout>(
    tx: &Transaction<'_>,
    series: i64,
    cut: i64,
    budget: u64,
) -> rusqlite::Result<(u64, bool)> {
    let table = L::TABLE;
    let limit = (budget / CHUNK_SAMPLES as u64).max(1);
    let whole: Vec<(i64, i64)> = tx
        .prepare_cached(&format!(
            "SELECT start_ts, count FROM {table} WHERE series_id = ?1 AND end_ts < ?2
             ORDER BY start_ts LIMIT ?3"
        ))?
        .query_map((series, cut, limit as i64), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut deleted: u64 = whole.iter().map(|w| w.1.max(0) as u64).sum();
    if let Some(&(last, _)) = whole.last() {
        tx.prepare_cached(&format!(
            "DELETE FROM {table} WHERE series_id = ?1 AND start_ts <= ?2"
        ))?
        .execute((series, last))?;
    }
    if whole.len() as u64 == limit {
        return Ok((deleted, true));
    }
    let across: Option<(i64, Vec<u8>)> = tx
        .prepare_cached(&format!(
            "SELECT start_ts, data FROM {table}
             WHERE series_id = ?1 AND start_ts < ?2 AND end_ts >= ?2"
        ))?
        .query_row((series, cut), |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((start, data)) = across {
        let items = L::decode(&data)?;
        let keep: Vec<(i64, L::Value)> = items.iter().copied().filter(|s| s.0 >= cut).collect();
        deleted += (items.len() - keep.len()) as u64;
        tx.prepare_cached(&format!(
            "DELETE FROM {table} WHERE series_id = ?1 AND start_ts = ?2"
        ))?
        .execute((series, start))?;
        insert::<L>(tx, series, &keep)?;
    }
    Ok((deleted, false))
}

pub(crate) fn insert<L: Layout>(
    tx: &Transaction<'_>,
    series: i64,
    items: &[(i64, L::Value)],
) -> rusqlite::Result<usize> {
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Ok(0);
    };
    let data = L::encode(items);
    tx.prepare_cached(&format!(
        "INSERT INTO {} (series_id, start_ts, end_ts, count, data)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        L::TABLE
    ))?
    .execute((series, first.0, last.0, items.len() as i64, &data))?;
    Ok(data.len())
}

/// Cuts rows (oldest first) into chunks of at most [`CHUNK_SAMPLES`]
/// spanning less than [`MAX_SPAN_US`]; the last one is left out (to wait
/// for more) unless it is full or, with nothing `more` unread, its first
/// row is older than `now` minus [`MAX_SPAN_US`].
pub(crate) fn complete_groups<V>(rows: &[(i64, V)], more: bool, now: i64) -> Vec<&[(i64, V)]> {
    let mut groups: Vec<&[(i64, V)]> = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len()
            || i - start == CHUNK_SAMPLES
            || rows[i].0.saturating_sub(rows[start].0) >= MAX_SPAN_US
        {
            groups.push(&rows[start..i]);
            start = i;
        }
    }
    if let Some(last) = groups.last() {
        let complete = last.len() == CHUNK_SAMPLES
            || (!more
                && last
                    .first()
                    .is_some_and(|s| s.0 < now.saturating_sub(MAX_SPAN_US)));
        if !complete {
            groups.pop();
        }
    }
    groups
}

impl crate::Store {
    /// Moves raw samples older than a minute before `now` into compressed
    /// chunks now, on the writer thread, and waits for it (the writer also
    /// does this every `compact_every`). Blocking.
    pub fn compact_samples(&self, now: Timestamp) -> Result<CompactReport, crate::StoreError> {
        self.call("compacting samples", crate::RETENTION_TIMEOUT, |reply| {
            crate::writer::Command::Compact { now, reply }
        })
    }
}

/// What a compaction run moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Series visited.
    pub series: u64,
    /// Samples moved from the head into chunks.
    pub samples: u64,
    /// Chunks written (samples' and minutes').
    pub chunks: u64,
    /// 1-minute rollups moved from their head into chunks.
    pub minutes: u64,
    /// Their encoded bytes (samples' and minutes' chunks).
    pub bytes: u64,
}

/// A compaction run in progress: every series, a few per transaction.
#[derive(Debug)]
pub(crate) struct CompactJob {
    series: VecDeque<i64>,
    /// "Now" relative to the samples epoch.
    now: i64,
    epoch: i64,
    /// The front series' samples are done; its minutes are next.
    minutes: bool,
    pub report: CompactReport,
}

impl CompactJob {
    pub fn start(conn: &Connection, now: Timestamp, epoch: i64) -> rusqlite::Result<CompactJob> {
        let series = conn
            .prepare_cached("SELECT id FROM series ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(CompactJob {
            series,
            now: now.0.saturating_sub(epoch),
            epoch,
            minutes: false,
            report: CompactReport::default(),
        })
    }

    /// One transaction's worth; true when the run is done.
    pub fn step(&mut self, conn: &mut Connection) -> rusqlite::Result<bool> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut budget = STEP_SAMPLES;
        while budget > VISIT_COST {
            let Some(&series) = self.series.front() else {
                break;
            };
            let packed = if self.minutes {
                let now = self.now.saturating_add(self.epoch);
                let p = minutes::pack(&tx, series, now, budget)?;
                self.report.minutes += p.samples as u64;
                p
            } else {
                let p = pack(&tx, series, self.now, budget)?;
                self.report.samples += p.samples as u64;
                p
            };
            self.report.chunks += packed.chunks;
            self.report.bytes += packed.bytes;
            if !packed.more {
                if self.minutes {
                    self.series.pop_front();
                    self.report.series += 1;
                }
                self.minutes = !self.minutes;
            }
            budget = budget.saturating_sub(packed.samples.max(VISIT_COST));
        }
        tx.commit()?;
        Ok(self.series.is_empty())
    }
}

#[derive(Default)]
struct Packed {
    samples: usize,
    chunks: u64,
    bytes: u64,
    /// More head rows were left than `budget` allowed reading.
    more: bool,
}

/// Moves a series' older head samples into chunks.
fn pack(tx: &Transaction<'_>, series: i64, now: i64, budget: usize) -> rusqlite::Result<Packed> {
    let mut p = Packed::default();
    let newest: Option<i64> = tx
        .prepare_cached("SELECT max(ts) FROM samples WHERE series_id = ?1")?
        .query_row([series], |r| r.get(0))?;
    let Some(newest) = newest else { return Ok(p) };
    let cut = now.saturating_sub(HEAD_KEEP_US).min(newest);
    let mut stmt = tx.prepare_cached(
        "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3",
    )?;
    let mut rows = stmt.query((series, cut, budget as i64))?;
    let mut head: Vec<(i64, Val)> = Vec::new();
    while let Some(r) = rows.next()? {
        head.push((r.get(0)?, head_value(r.get_ref(1)?)?));
    }
    drop(rows);
    p.more = head.len() == budget;
    let groups = complete_groups(&head, p.more, now);
    let Some(upto) = groups.last().and_then(|g| g.last()).map(|s| s.0) else {
        return Ok(p);
    };
    for g in &groups {
        p.bytes += insert::<Samples>(tx, series, g)? as u64;
        p.chunks += 1;
        p.samples += g.len();
    }
    tx.prepare_cached("DELETE FROM samples WHERE series_id = ?1 AND ts <= ?2")?
        .execute((series, upto))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        schema::migrate(&mut c).unwrap();
        c
    }

    fn add(c: &Connection, series: i64, samples: &[(i64, f64)]) {
        for (ts, v) in samples {
            c.execute(
                "INSERT INTO samples (series_id, ts, value) VALUES (?1, ?2, ?3)",
                (series, ts, schema::encode_value(*v)),
            )
            .unwrap();
        }
    }

    fn compact(c: &mut Connection, now: i64) -> CompactReport {
        c.execute("INSERT OR IGNORE INTO feeds (id, name, config, origin, created_at, updated_at) VALUES (1, 'f', '{}', 'gui', 0, 0)", []).unwrap();
        c.execute(
            "INSERT OR IGNORE INTO series (id, feed_id, metric) VALUES (1, 1, 'm'), (2, 1, 'n')",
            [],
        )
        .unwrap();
        let mut job = CompactJob::start(c, Timestamp(now), 0).unwrap();
        while !job.step(c).unwrap() {}
        job.report
    }

    #[test]
    fn compaction_keeps_every_sample_readable_and_the_newest_in_the_head() {
        let mut c = db();
        let s1: Vec<(i64, f64)> = (0..1_000)
            .map(|i| (i * 1_000_000 + i % 7, (i % 13) as f64 * 0.25))
            .collect();
        let s2: Vec<(i64, f64)> = (0..300)
            .map(|i| (i * 15_000_000, 1e9 + i as f64 / 3.0))
            .collect();
        add(&c, 1, &s1);
        add(&c, 2, &s2);
        let before1 = read(&c, 1, i64::MIN, i64::MAX, usize::MAX).unwrap();
        let before2 = read(&c, 2, 0, i64::MAX, usize::MAX).unwrap();
        let r = compact(&mut c, 100_000_000_000);
        assert_eq!(r.series, 2);
        assert_eq!(r.samples, 999 + 299, "all but each series' newest: {r:?}");
        assert_eq!(
            read(&c, 1, i64::MIN, i64::MAX, usize::MAX).unwrap(),
            before1
        );
        assert_eq!(read(&c, 2, 0, i64::MAX, usize::MAX).unwrap(), before2);
        // A window in the middle, and a limit.
        let mid = read(&c, 1, 500_000_000, 620_000_000, 50).unwrap();
        assert_eq!(mid, before1[500..550].to_vec());
        assert_eq!(total::<Samples>(&c).unwrap(), 1_300);
        assert_eq!(last_ts(&c, 1).unwrap(), Some(999_000_000 + 999 % 7));
        let head: i64 = c
            .query_row("SELECT count(*) FROM samples", [], |r| r.get(0))
            .unwrap();
        assert_eq!(head, 2);
        // The newest-n lookup agrees with the plain list.
        for n in [0u64, 1, 119, 120, 500, 999] {
            assert_eq!(
                nth_newest_ts(&c, 1, n, 1).unwrap(),
                Some(before1[999 - n as usize].0),
                "n = {n}"
            );
        }
        assert_eq!(series_count(&c, 1).unwrap(), (1, 999));
        assert_eq!(nth_newest_ts(&c, 1, 1_000, 1).unwrap(), None);
        // A second run finds nothing more to move.
        assert_eq!(compact(&mut c, 100_000_000_000).samples, 0);
    }

    #[test]
    fn recent_samples_and_unfilled_chunks_wait_in_the_head() {
        let mut c = db();
        let s: Vec<(i64, f64)> = (0..200).map(|i| (i * 1_000_000, i as f64)).collect();
        add(&c, 1, &s);
        // "Now" is right after the last sample: the last minute stays, and
        // 200 - 60 = 140 older ones make one full chunk plus a waiting part.
        let r = compact(&mut c, 200_000_000);
        assert_eq!((r.chunks, r.samples), (1, 120));
        let all = read(&c, 1, 0, i64::MAX, usize::MAX).unwrap();
        assert_eq!(all.len(), 200);
        // Two hours later the rest goes, but for the newest sample.
        let r = compact(&mut c, 200_000_000 + MAX_SPAN_US);
        assert_eq!(r.samples, 79);
        assert_eq!(read(&c, 1, 0, i64::MAX, usize::MAX).unwrap(), all);
    }

    #[test]
    fn deleting_before_a_cut_reencodes_the_chunk_across_it() {
        let mut c = db();
        let s: Vec<(i64, f64)> = (0..500).map(|i| (i * 1_000, i as f64)).collect();
        add(&c, 1, &s);
        compact(&mut c, i64::MAX / 2);
        let tx = c.transaction().unwrap();
        let (n, more) = delete_before::<Samples>(&tx, 1, 250_000, 1_000_000).unwrap();
        assert!(!more);
        tx.commit().unwrap();
        assert_eq!(n, 250);
        let left = read(&c, 1, i64::MIN, i64::MAX, usize::MAX).unwrap();
        assert_eq!(left, s[250..].to_vec());
        assert_eq!(
            series_count(&c, 1).unwrap(),
            (1, 249),
            "the newest stays in the head"
        );
    }

    #[test]
    fn a_damaged_chunk_is_an_error_not_a_panic() {
        let mut c = db();
        add(&c, 1, &(0..300).map(|i| (i, 1.5)).collect::<Vec<_>>());
        compact(&mut c, i64::MAX / 2);
        c.execute("UPDATE sample_chunks SET data = x'0305'", [])
            .unwrap();
        assert!(read(&c, 1, 0, i64::MAX, usize::MAX).is_err());
    }
}
