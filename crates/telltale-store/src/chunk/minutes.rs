//! 1-minute rollups in compressed chunks, as raw samples are (see the
//! parent module): `rollup_1m` is the head, where the writer upserts each
//! transaction's aggregates, and compaction moves minutes older than
//! [`HEAD_KEEP_US`] into `rollup_1m_chunks`, up to 120 per row.
//!
//! A chunk holds four streams over the same buckets, each encoded like a
//! raw series: the minimum, maximum and sum (as hundredths when every one
//! round-trips exactly, else as floats) and the count. At a steady cadence
//! the bucket times cost about a bit each, so a minute costs a few bytes
//! instead of the 48 of a row.
//!
//! A sample may still arrive for a minute already chunked (a server's own
//! timestamps, a clock step). Its aggregate lands in the head as usual;
//! reads merge it with the chunk's, and the next compaction folds it into
//! that chunk.

use super::codec::{self, get_varint, put_varint, BadChunk, Val};
use super::{complete_groups, damaged, insert, scan, Layout, Packed};
use crate::rollup::{Agg, MINUTE_US};
use rusqlite::{Connection, OptionalExtension, Transaction};

/// Minutes younger than this stay in the head: the current minute is
/// still being written, and a late sample finds its row there.
pub(crate) const HEAD_KEEP_US: i64 = 10 * MINUTE_US;

/// One rollup row: `(bucket, min, max, sum, count)`, as the chart folds them.
pub(crate) type Row = (i64, f64, f64, f64, i64);

/// 1-minute rollups (`rollup_1m_chunks`).
pub(crate) struct Minutes;

fn val(v: f64) -> Val {
    match crate::schema::encode_value(v) {
        rusqlite::types::Value::Integer(c) => Val::Cents(c),
        _ => Val::Real(v),
    }
}

impl Layout for Minutes {
    const TABLE: &'static str = "rollup_1m_chunks";
    const HEAD: &'static str = "rollup_1m";
    type Value = Agg;

    fn encode(items: &[(i64, Agg)]) -> Vec<u8> {
        let stream = |f: &dyn Fn(&Agg) -> Val| -> Vec<u8> {
            let s: Vec<(i64, Val)> = items.iter().map(|(t, a)| (*t, f(a))).collect();
            codec::encode(&s)
        };
        let mut out = Vec::new();
        let parts = [
            stream(&|a| val(a.min)),
            stream(&|a| val(a.max)),
            stream(&|a| val(a.sum)),
        ];
        for p in &parts {
            put_varint(&mut out, p.len() as u64);
            out.extend_from_slice(p);
        }
        out.extend_from_slice(&stream(&|a| Val::Cents(a.count)));
        out
    }

    fn decode(data: &[u8]) -> rusqlite::Result<Vec<(i64, Agg)>> {
        decode(data).map_err(damaged)
    }
}

fn decode(data: &[u8]) -> Result<Vec<(i64, Agg)>, BadChunk> {
    let mut pos = 0;
    let mut streams = Vec::with_capacity(4);
    for _ in 0..3 {
        let len = usize::try_from(get_varint(data, &mut pos)?).map_err(|_| BadChunk("length"))?;
        let end = pos.checked_add(len).ok_or(BadChunk("length"))?;
        let part = data.get(pos..end).ok_or(BadChunk("truncated stream"))?;
        streams.push(codec::decode(part)?);
        pos = end;
    }
    streams.push(codec::decode(data.get(pos..).unwrap_or_default())?);
    let [min, max, sum, count] =
        <[Vec<(i64, Val)>; 4]>::try_from(streams).map_err(|_| BadChunk("stream count"))?;
    if [max.len(), sum.len(), count.len()]
        .iter()
        .any(|&n| n != min.len())
    {
        return Err(BadChunk("streams of different lengths"));
    }
    let mut out = Vec::with_capacity(min.len());
    for i in 0..min.len() {
        let t = min[i].0;
        if max[i].0 != t || sum[i].0 != t || count[i].0 != t {
            return Err(BadChunk("streams at different times"));
        }
        let Val::Cents(n) = count[i].1 else {
            return Err(BadChunk("a count that is not an integer"));
        };
        out.push((
            t,
            Agg {
                min: min[i].1.get(),
                max: max[i].1.get(),
                sum: sum[i].1.get(),
                count: n,
            },
        ));
    }
    Ok(out)
}

/// A series' 1-minute rows with `lo <= bucket < hi` (absolute µs), chunks
/// and head merged, in bucket order (a bucket in both comes twice, side by
/// side: the chart's fold adds them).
pub(crate) fn read(conn: &Connection, series: i64, lo: i64, hi: i64) -> rusqlite::Result<Vec<Row>> {
    let mut out: Vec<Row> = Vec::new();
    if lo >= hi {
        return Ok(out);
    }
    scan::<Minutes>(conn, series, lo, hi, |(t, a)| {
        out.push((t, a.min, a.max, a.sum, a.count));
        true
    })?;
    let chunked = out.len();
    let mut stmt = conn.prepare_cached(
        "SELECT bucket, min, max, sum, count FROM rollup_1m
         WHERE series_id = ?1 AND bucket >= ?2 AND bucket < ?3 ORDER BY bucket",
    )?;
    let rows = stmt.query_map((series, lo, hi), |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    for row in rows {
        out.push(row?);
    }
    let late = chunked > 0 && out.get(chunked).is_some_and(|h| h.0 <= out[chunked - 1].0);
    if late {
        out.sort_by_key(|r| r.0);
    }
    Ok(out)
}

/// Moves a series' minutes older than [`HEAD_KEEP_US`] before `now`
/// (absolute µs) into chunks, at most `budget` rows.
pub(super) fn pack(
    tx: &Transaction<'_>,
    series: i64,
    now: i64,
    budget: usize,
) -> rusqlite::Result<Packed> {
    let mut p = Packed::default();
    let cut = now.saturating_sub(HEAD_KEEP_US);
    let mut stmt = tx.prepare_cached(
        "SELECT bucket, min, max, sum, count FROM rollup_1m
         WHERE series_id = ?1 AND bucket < ?2 ORDER BY bucket LIMIT ?3",
    )?;
    let head: Vec<(i64, Agg)> = stmt
        .query_map((series, cut, budget as i64), |r| {
            Ok((
                r.get(0)?,
                Agg {
                    min: r.get(1)?,
                    max: r.get(2)?,
                    sum: r.get(3)?,
                    count: r.get(4)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if head.is_empty() {
        return Ok(p);
    }
    p.more = head.len() == budget;
    let chunked_to: Option<i64> = tx
        .prepare_cached("SELECT max(end_ts) FROM rollup_1m_chunks WHERE series_id = ?1")?
        .query_row([series], |r| r.get(0))?;
    let late = chunked_to.map_or(0, |end| head.partition_point(|r| r.0 <= end));
    for row in &head[..late] {
        p.bytes += fold_late(tx, series, *row)? as u64;
        p.samples += 1;
    }
    let groups = complete_groups(&head[late..], p.more, now);
    let upto = groups.last().and_then(|g| g.last()).map(|r| r.0);
    for g in &groups {
        p.bytes += insert::<Minutes>(tx, series, g)? as u64;
        p.chunks += 1;
        p.samples += g.len();
    }
    let upto = upto.or(head[..late].last().map(|r| r.0));
    if let Some(upto) = upto {
        tx.prepare_cached("DELETE FROM rollup_1m WHERE series_id = ?1 AND bucket <= ?2")?
            .execute((series, upto))?;
    }
    Ok(p)
}

/// Folds a late head row into the chunk whose span it falls in, or makes
/// it a chunk of its own between two others. Returns the bytes written.
fn fold_late(
    tx: &Transaction<'_>,
    series: i64,
    (bucket, agg): (i64, Agg),
) -> rusqlite::Result<usize> {
    let before: Option<(i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT start_ts, data FROM rollup_1m_chunks WHERE series_id = ?1 AND start_ts <= ?2
             ORDER BY start_ts DESC LIMIT 1",
        )?
        .query_row((series, bucket), |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let mut items = vec![(bucket, agg)];
    if let Some((start, data)) = before.filter(|b| bucket - b.0 < super::MAX_SPAN_US) {
        let mut old = Minutes::decode(&data)?;
        match old.binary_search_by_key(&bucket, |r| r.0) {
            Ok(i) => old[i].1.merge(&agg),
            Err(i) => old.insert(i, (bucket, agg)),
        }
        items = old;
        tx.prepare_cached("DELETE FROM rollup_1m_chunks WHERE series_id = ?1 AND start_ts = ?2")?
            .execute((series, start))?;
    }
    insert::<Minutes>(tx, series, &items)
}

/// Deletes every series' 1-minute rows before `before` (absolute µs), at
/// most about `budget`: the disk budget's cut, head and chunks alike.
/// Returns the rows deleted and whether more are left.
pub(crate) fn delete_all_before(
    tx: &Transaction<'_>,
    before: i64,
    budget: u64,
) -> rusqlite::Result<(u64, bool)> {
    let budget_i = budget.min(i64::MAX as u64) as i64;
    let series: Vec<i64> = tx
        .prepare_cached(
            "SELECT DISTINCT series_id FROM rollup_1m_chunks WHERE start_ts < ?1 LIMIT ?2",
        )?
        .query_map((before, (budget_i / 120).max(1)), |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut n = 0u64;
    for s in series {
        let (d, more) = super::delete_before::<Minutes>(tx, s, before, budget.saturating_sub(n))?;
        n += d;
        if more || n >= budget {
            return Ok((n, true));
        }
    }
    let head = tx
        .prepare_cached(
            "DELETE FROM rollup_1m WHERE (series_id, bucket) IN
               (SELECT series_id, bucket FROM rollup_1m WHERE bucket < ?1 LIMIT ?2)",
        )?
        .execute((before, (budget - n.min(budget)).min(i64::MAX as u64) as i64))?;
    n += head as u64;
    Ok((n, n >= budget))
}

/// The bucket before which the oldest 1-minute rows hold about `bytes`
/// (chunks at their size, head rows at `row_bytes`), for the disk budget.
pub(crate) fn oldest_worth(
    conn: &Connection,
    bytes: u64,
    row_bytes: u64,
) -> rusqlite::Result<Option<i64>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT ts, n FROM (
           SELECT end_ts + 1 AS ts, length(data) + {} AS n FROM rollup_1m_chunks
           UNION ALL SELECT bucket + 1, {row_bytes} FROM rollup_1m)
         ORDER BY ts",
        super::CHUNK_OVERHEAD
    ))?;
    let mut rows = stmt.query([])?;
    let mut sum = 0u64;
    while let Some(r) = rows.next()? {
        sum += r.get::<_, i64>(1)?.max(0) as u64;
        if sum >= bytes {
            return Ok(Some(r.get(0)?));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    /// A late head row in a chunk's span is folded into it; one before
    /// every chunk, or in a gap more than 2 h after a chunk's start,
    /// becomes a chunk of its own.
    #[test]
    fn late_rows_find_their_place() {
        let mut c = Connection::open_in_memory().unwrap();
        schema::migrate(&mut c).unwrap();
        let head = |c: &Connection, bucket: i64, v: f64| {
            c.execute(
                "INSERT INTO rollup_1m (series_id, bucket, min, max, sum, count)
                 VALUES (1, ?1, ?2, ?2, ?2, 1)",
                (bucket, v),
            )
            .unwrap();
        };
        // Chunks of 120 minutes at 0 h and at 5 h.
        for m in (0..120).chain(300..420) {
            head(&c, m * MINUTE_US, 1.0);
        }
        let pack_all = |c: &mut Connection| {
            let tx = c.transaction().unwrap();
            let p = pack(&tx, 1, 100 * super::super::MAX_SPAN_US, 10_000).unwrap();
            tx.commit().unwrap();
            p
        };
        assert_eq!(pack_all(&mut c).chunks, 2);
        for (m, v) in [(-30, 5.0), (7, 2.0), (130, 3.0), (250, 4.0)] {
            head(&c, m * MINUTE_US, v);
        }
        let p = pack_all(&mut c);
        assert_eq!((p.samples, p.chunks), (4, 0));
        let rows = read(&c, 1, i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows.len(), 240 + 3);
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "one row a minute");
        let at = |m: i64| rows.iter().find(|r| r.0 == m * MINUTE_US).copied();
        assert_eq!(at(7), Some((7 * MINUTE_US, 1.0, 2.0, 3.0, 2)));
        assert_eq!(at(-30).map(|r| r.4), Some(1));
        assert_eq!(at(130).map(|r| r.4), Some(1));
        let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(n("SELECT count(*) FROM rollup_1m"), 0);
        // 7 is in the first chunk's span; -30, 130 and 250 are not within
        // 2 h of a chunk's start before them.
        assert_eq!(n("SELECT count(*) FROM rollup_1m_chunks"), 5);
        assert_eq!(
            n("SELECT max(end_ts) FROM rollup_1m_chunks WHERE start_ts = 0"),
            119 * MINUTE_US
        );
    }

    fn agg(min: f64, max: f64, sum: f64, count: i64) -> Agg {
        Agg {
            min,
            max,
            sum,
            count,
        }
    }

    #[test]
    fn aggregates_round_trip_exactly() {
        let items: Vec<(i64, Agg)> = (0..120)
            .map(|i| {
                let v = (i % 9) as f64 * 0.25;
                let x = if i % 17 == 0 { 0.1 + 0.2 } else { v };
                (
                    1_700_000_000_000_000 + i * MINUTE_US,
                    agg(v, v + 3.0, x * 4.0, 4 + i % 2),
                )
            })
            .collect();
        let data = Minutes::encode(&items);
        assert_eq!(Minutes::decode(&data).unwrap(), items);
        // Noisy values, one stream of floats: still a fraction of a row's 48 B.
        assert!(data.len() < items.len() * 12, "{} bytes", data.len());
        // A steady gauge at a steady cadence: a few bits a minute.
        let steady: Vec<(i64, Agg)> = (0..120)
            .map(|i| (i * MINUTE_US, agg(41.5, 42.0 + (i % 2) as f64, 167.0, 4)))
            .collect();
        let small = Minutes::encode(&steady);
        assert_eq!(Minutes::decode(&small).unwrap(), steady);
        assert!(small.len() < steady.len() * 3, "{} bytes", small.len());
        // Damage is an error, never a panic.
        for cut in 0..data.len() {
            let _ = Minutes::decode(&data[..cut]);
        }
        assert!(Minutes::decode(&data[..data.len() / 2]).is_err());
    }
}
