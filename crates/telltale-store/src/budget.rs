//! The disk budget (`[store] disk_budget`): when the database holds more
//! than its budget, retention deletes by size as well as by age, oldest raw
//! data first and rollups last, with a fair share per feed so that one
//! noisy feed cannot evict everyone else's history.
//!
//! A run measures the bytes in use (pages that are not free) and, if over
//! the budget, plans to bring them down to [`TARGET`] of it:
//! 1. **Payloads** (events): the feeds' event bytes are cut by
//!    *water-filling* — every feed over a common level is cut down to it,
//!    feeds under it keep everything — oldest first, keeping at least
//!    [`KEEP_EVENTS`] newest events of each feed.
//! 2. **Raw samples**, the same way by feed; each series of a cut feed
//!    keeps the same newest fraction of its samples. Charts then read the
//!    1-minute rollups for the range cut (the raw tier's coverage moves).
//! 3. **1-minute rollups**, oldest first. 1-hour rollups are never cut by
//!    size: they are what is left of the long history.
//!
//! Sizes per feed are estimated from row counts, payload lengths and
//! chunk lengths (the bytes per row below, measured with indexes); the
//! plan scales them to the measured total.

use crate::query::FeedStorage;
use rusqlite::Connection;
use std::collections::HashMap;

/// A run over budget aims at this share of it, so that the next few
/// minutes of data do not put it over again at once.
pub(crate) const TARGET: f64 = 0.9;
/// Each feed keeps at least this many newest events.
pub(crate) const KEEP_EVENTS: i64 = 100;
/// Bytes an event row costs besides its payload (row and two indexes).
pub(crate) const EVENT_OVERHEAD: u64 = 64;
/// Bytes a raw sample in the head costs, indexes included
/// (docs/benchmarks.md: 17.4); chunked samples count their real size.
const SAMPLE_BYTES: u64 = 18;
/// Bytes a rollup row costs (in a head, or the hour tier).
const ROLLUP_BYTES: u64 = 48;

/// One deletion the plan asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// A feed's events at or before `(received_at, id)`.
    Events { feed: i64, at: i64, id: i64 },
    /// A series' raw samples before `ts` (relative to the store's epoch).
    Samples { series: i64, before: i64 },
    /// 1-minute rollups before `bucket` (absolute µs).
    Minute { before: i64 },
}

/// What a budget run found and planned.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    /// Bytes in use when planned.
    pub used: u64,
    /// The budget.
    pub budget: u64,
    pub cuts: Vec<Cut>,
    /// The newest raw-sample cut-off (absolute µs), for the chart tiers.
    pub raw_cutoff: Option<i64>,
    /// The 1-minute rollups' cut-off (absolute µs).
    pub minute_cutoff: Option<i64>,
}

/// Bytes in use: pages that are not on the free list.
pub(crate) fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let p = |name: &str| conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0));
    let pages = p("page_count")? - p("freelist_count")?;
    Ok((pages.max(0) as u64) * p("page_size")?.max(0) as u64)
}

/// How much each entry must lose so that `amount` goes in all, cutting
/// every entry above a common level down to it (water-filling). Returns the
/// level; entries at or below it lose nothing.
pub(crate) fn level(sizes: &[u64], amount: u64) -> u64 {
    let total: u64 = sizes.iter().sum();
    if amount >= total {
        return 0;
    }
    let mut sorted: Vec<u64> = sizes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    // Lower the level past each entry in turn until enough is removed.
    let mut removed_above = 0u64; // removed when the level is at sorted[i]
    for i in 0..sorted.len() {
        let next = sorted.get(i + 1).copied().unwrap_or(0);
        // Lowering from sorted[i] to `next` removes (i + 1) × the step.
        let step = (sorted[i] - next) * (i as u64 + 1);
        if removed_above + step >= amount {
            let need = amount - removed_above;
            return sorted[i] - need.div_ceil(i as u64 + 1);
        }
        removed_above += step;
    }
    0
}

/// Plans the cuts that bring the database under its budget, or `None`
/// when it is within it.
pub(crate) fn plan(conn: &Connection, budget: u64, epoch: i64) -> rusqlite::Result<Option<Plan>> {
    let used = used_bytes(conn)?;
    if used <= budget {
        return Ok(None);
    }
    let mut plan = Plan {
        used,
        budget,
        ..Plan::default()
    };
    let held = per_feed(conn)?;
    // Rollup bytes are the 1-minute tier's but for the small hour tier.
    let estimated = held.iter().map(FeedStorage::bytes).sum::<u64>();
    let minute_bytes: u64 = held.iter().map(|f| f.rollup_bytes).sum();
    // Scale the estimate to what the file really holds.
    let scale = if estimated > 0 {
        used as f64 / estimated as f64
    } else {
        1.0
    };
    let target = (budget as f64 * TARGET) as u64;
    let mut need = ((used - target.min(used)) as f64 / scale) as u64;

    // 1. Payloads, fairly, keeping the newest few of each feed.
    let mut newest = conn.prepare_cached(&format!(
        "SELECT coalesce(sum(length(data)) + count(*) * {EVENT_OVERHEAD}, 0) FROM
           (SELECT data FROM events WHERE feed_id = ?1 ORDER BY received_at DESC, id DESC LIMIT ?2)"
    ))?;
    let feeds: Vec<(i64, u64, u64)> = held
        .iter()
        .filter(|f| f.events > 0)
        .map(|f| {
            let keep: i64 = newest.query_row((f.feed_id, KEEP_EVENTS), |r| r.get(0))?;
            Ok((f.feed_id, f.event_bytes, keep.max(0) as u64))
        })
        .collect::<rusqlite::Result<_>>()?;
    let cuttable: Vec<u64> = feeds.iter().map(|(_, b, k)| b.saturating_sub(*k)).collect();
    let from_events = need.min(cuttable.iter().sum());
    if from_events > 0 {
        let lvl = level(&cuttable, from_events);
        for ((feed, _, keep), c) in feeds.iter().zip(&cuttable) {
            if *c > lvl {
                if let Some((at, id)) = event_edge(conn, *feed, keep + lvl)? {
                    plan.cuts.push(Cut::Events {
                        feed: *feed,
                        at,
                        id,
                    });
                }
            }
        }
        need -= from_events;
    }
    // 2. Raw samples, fairly.
    if need > 0 {
        let feeds: Vec<(i64, u64)> = held
            .iter()
            .filter(|f| f.samples > 0)
            .map(|f| (f.feed_id, f.sample_bytes))
            .collect();
        let sizes: Vec<u64> = feeds.iter().map(|f| f.1).collect();
        let from_samples = need.min(sizes.iter().sum());
        if from_samples > 0 {
            let lvl = level(&sizes, from_samples);
            for (feed, size) in &feeds {
                if *size > lvl {
                    let keep = lvl as f64 / *size as f64;
                    sample_cuts(conn, *feed, keep, epoch, &mut plan)?;
                }
            }
            need -= from_samples;
        }
    }
    // 3. 1-minute rollups, oldest first.
    if need > 0 && minute_bytes > 0 {
        let edge = crate::chunk::minutes::oldest_worth(conn, need, ROLLUP_BYTES)?;
        let before = edge.unwrap_or(i64::MAX);
        plan.cuts.push(Cut::Minute { before });
        plan.minute_cutoff = Some(before);
    }
    Ok(Some(plan))
}

/// What each feed holds, largest first.
pub(crate) fn per_feed(conn: &Connection) -> rusqlite::Result<Vec<crate::query::FeedStorage>> {
    let mut out: HashMap<i64, crate::query::FeedStorage> = HashMap::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT feed_id, count(*), sum(length(data)) + count(*) * {EVENT_OVERHEAD} FROM events GROUP BY feed_id"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (feed, n, bytes) = row?;
        let e = out.entry(feed).or_default();
        e.events = n.max(0) as u64;
        e.event_bytes = bytes.max(0) as u64;
    }
    let mut stmt = conn.prepare(
        "SELECT r.feed_id,
                sum((SELECT count(*) FROM samples s WHERE s.series_id = r.id)),
                sum((SELECT count(*) FROM rollup_1m m WHERE m.series_id = r.id)
                  + (SELECT count(*) FROM rollup_1h h WHERE h.series_id = r.id))
         FROM series r GROUP BY r.feed_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (feed, samples, rollups) = row?;
        let e = out.entry(feed).or_default();
        e.samples = samples.max(0) as u64;
        e.sample_bytes = e.samples * SAMPLE_BYTES;
        e.rollups = rollups.max(0) as u64;
        e.rollup_bytes = e.rollups * ROLLUP_BYTES;
    }
    // Chunked samples and minutes: their encoded size as stored.
    use crate::chunk::{minutes::Minutes, Samples};
    for (feed, n, bytes) in crate::chunk::per_feed::<Samples>(conn)? {
        let e = out.entry(feed).or_default();
        e.samples += n;
        e.sample_bytes += bytes;
    }
    for (feed, n, bytes) in crate::chunk::per_feed::<Minutes>(conn)? {
        let e = out.entry(feed).or_default();
        e.rollups += n;
        e.rollup_bytes += bytes;
    }
    let mut v: Vec<_> = out
        .into_iter()
        .map(|(feed_id, mut f)| {
            f.feed_id = feed_id;
            f
        })
        .collect();
    v.sort_by(|a, b| b.bytes().cmp(&a.bytes()).then(a.feed_id.cmp(&b.feed_id)));
    Ok(v)
}

/// The newest event of `feed` that no longer fits in `keep` bytes: it and
/// everything older go.
fn event_edge(conn: &Connection, feed: i64, keep: u64) -> rusqlite::Result<Option<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT received_at, id, length(data) + {EVENT_OVERHEAD} FROM events
         WHERE feed_id = ?1 ORDER BY received_at DESC, id DESC"
    ))?;
    let mut rows = stmt.query([feed])?;
    let mut kept = 0u64;
    while let Some(r) = rows.next()? {
        kept += r.get::<_, i64>(2)?.max(0) as u64;
        if kept > keep {
            return Ok(Some((r.get(0)?, r.get(1)?)));
        }
    }
    Ok(None)
}

/// Cuts each series of `feed` to its newest `keep` fraction.
fn sample_cuts(
    conn: &Connection,
    feed: i64,
    keep: f64,
    epoch: i64,
    plan: &mut Plan,
) -> rusqlite::Result<()> {
    let list: Vec<i64> = conn
        .prepare_cached("SELECT id FROM series WHERE feed_id = ?1")?
        .query_map([feed], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in list {
        let (head, chunked) = crate::chunk::series_count(conn, id)?;
        let n = head + chunked;
        let keep_n = (n as f64 * keep).floor() as u64;
        let Some(ts) = crate::chunk::nth_newest_ts(conn, id, keep_n, head)? else {
            continue;
        };
        // Delete this sample and everything older.
        let before = ts.saturating_add(1);
        plan.cuts.push(Cut::Samples { series: id, before });
        let abs = before.saturating_add(epoch);
        plan.raw_cutoff = Some(plan.raw_cutoff.map_or(abs, |c| c.max(abs)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed(sizes: &[u64], lvl: u64) -> u64 {
        sizes.iter().map(|s| s.saturating_sub(lvl)).sum()
    }

    #[test]
    fn water_filling_cuts_the_largest_down_to_a_common_level() {
        let sizes = [1000, 100, 50];
        let l = level(&sizes, 500);
        assert_eq!(l, 500, "only the noisy feed is cut");
        assert_eq!(removed(&sizes, l), 500);
        let l = level(&sizes, 950);
        assert!(removed(&sizes, l) >= 950 && l <= 100, "level {l}");
        assert!(removed(&sizes, l) < 950 + 3);
        assert_eq!(level(&sizes, 2000), 0, "more than there is: everything");
        assert_eq!(level(&sizes, 0), 1000, "nothing to remove");
        assert_eq!(level(&[], 10), 0);
    }
}
