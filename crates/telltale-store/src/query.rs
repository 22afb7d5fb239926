//! Reading history back: series for charts (with automatic tier choice),
//! events with paging and search, raw samples for export, the connection
//! timeline, and counts.
//!
//! All functions here are blocking and run on a read-only connection.
//! Time ranges are half-open: `from <= t < to`.

use crate::batch::Labels;
use crate::retention::Coverage;
use crate::rollup::{Tier, HOUR_US, MINUTE_US};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use std::path::Path;
use telltale_model::Timestamp;

/// A chart request for one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesQuery {
    /// The series (from [`crate::Store::list_series`]).
    pub series_id: i64,
    /// Start of the range (inclusive).
    pub from: Timestamp,
    /// End of the range (exclusive).
    pub to: Timestamp,
    /// The most points wanted (e.g. the chart's width in pixels).
    pub max_points: usize,
}

/// A series over a range, grouped into buckets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesData {
    /// The tier the points were computed from.
    pub tier: Tier,
    /// The width of each point's bucket in µs.
    pub bucket_us: i64,
    /// One point per non-empty bucket, oldest first.
    pub points: Vec<Point>,
}

/// One bucket of a series. `min` and `max` are over every sample in the
/// bucket, so a single spike survives any amount of grouping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Start of the bucket (a multiple of `bucket_us` since the Unix epoch).
    pub ts: Timestamp,
    /// Smallest value in the bucket.
    pub min: f64,
    /// Largest value in the bucket.
    pub max: f64,
    /// Mean of the values in the bucket.
    pub avg: f64,
    /// How many raw samples the bucket summarizes.
    pub count: u64,
}

/// A series and its most recent raw sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesInfo {
    /// The series id.
    pub id: i64,
    /// Its feed.
    pub feed_id: i64,
    /// The metric's name.
    pub metric: String,
    /// Its labels (empty for unlabelled metrics).
    pub labels: Labels,
    /// The newest retained raw sample's time (`None` when no raw sample is left).
    pub last_ts: Option<Timestamp>,
    /// The newest retained raw sample's value.
    pub last_value: Option<f64>,
}

/// Event order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Order {
    /// Newest first (for browsing).
    #[default]
    NewestFirst,
    /// Oldest first (for export).
    OldestFirst,
}

/// Which events to read.
///
/// One feed's events are ordered by `(received_at, id)`; all feeds' by
/// `id`, their arrival order at the store (the same up to the few
/// milliseconds between a message's stamp and its commit). `before_id` /
/// `after_id` are keyset cursors: pass the last id of the previous page to
/// get the next one (`before_id` when paging newest-first, `after_id`
/// oldest-first). If the cursor's event has meanwhile been deleted by
/// retention, the cursor falls back to comparing ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// One feed, or all feeds.
    pub feed_id: Option<i64>,
    /// Only events received at or after this instant.
    pub from: Option<Timestamp>,
    /// Only events received before this instant.
    pub until: Option<Timestamp>,
    /// Only events whose payload contains this text (ASCII case-insensitive).
    pub search: Option<String>,
    /// Only events before (older than) this event.
    pub before_id: Option<i64>,
    /// Only events after (newer than) this event.
    pub after_id: Option<i64>,
    /// At most this many events.
    pub limit: usize,
    /// Newest or oldest first.
    pub order: Order,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            feed_id: None,
            from: None,
            until: None,
            search: None,
            before_id: None,
            after_id: None,
            limit: 100,
            order: Order::NewestFirst,
        }
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// Its id (arrival order).
    pub id: i64,
    /// Its feed.
    pub feed_id: i64,
    /// When it was received.
    pub received_at: Timestamp,
    /// The server's id or sequence, if any.
    pub server_id: Option<String>,
    /// The event type, if any.
    pub event_type: Option<String>,
    /// The payload (possibly truncated).
    pub data: Vec<u8>,
    /// The original payload size.
    pub size: u32,
    /// True when `data` was cut short.
    pub truncated: bool,
}

/// Which raw samples to read (for export), ordered by `(series_id, ts)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleQuery {
    /// The feed.
    pub feed_id: i64,
    /// Only samples at or after this instant.
    pub from: Option<Timestamp>,
    /// Only samples before this instant.
    pub until: Option<Timestamp>,
    /// Paging cursor: only samples after this `(series_id, ts)`.
    pub after: Option<(i64, Timestamp)>,
    /// At most this many samples.
    pub limit: usize,
}

/// One raw sample with its series' identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSample {
    /// The series id.
    pub series_id: i64,
    /// The metric's name.
    pub metric: String,
    /// The series labels.
    pub labels: Labels,
    /// When (after same-µs de-duplication, see [`crate::SampleRow`]).
    pub ts: Timestamp,
    /// The value.
    pub value: f64,
}

/// One entry of a feed's connection timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub ts: Timestamp,
    /// `state`, or an issue kind.
    pub kind: String,
    /// The state's name (for issues: the state the feed was in).
    pub state: String,
    /// The state as JSON, or the message.
    pub detail: Option<String>,
}

/// Size and row counts of the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DbStats {
    /// Size of the database in bytes (`page_count * page_size`).
    pub file_bytes: u64,
    /// Bytes in free pages (reusable; given back by retention's vacuum).
    pub free_bytes: u64,
    /// Current size of the `-wal` file.
    pub wal_bytes: u64,
    /// The page size.
    pub page_size: u64,
    /// Rows in `feeds`.
    pub feeds: u64,
    /// Rows in `events`.
    pub events: u64,
    /// Rows in `series`.
    pub series: u64,
    /// Rows in `samples`.
    pub samples: u64,
    /// 1-minute rollups (head rows and chunked).
    pub rollup_1m: u64,
    /// Rows in `rollup_1h`.
    pub rollup_1h: u64,
    /// Rows in `feed_states`.
    pub feed_states: u64,
    /// Bytes in use (pages not free), what the disk budget counts.
    pub used_bytes: u64,
    /// What each feed holds, largest first.
    pub per_feed: Vec<FeedStorage>,
}

/// What one feed holds. Bytes are estimates from row counts and payload
/// lengths (indexes included), the ones the disk budget plans with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedStorage {
    /// The feed.
    pub feed_id: i64,
    /// Stored events.
    pub events: u64,
    /// Their payloads as stored (compressed) plus their rows.
    pub event_bytes: u64,
    /// Raw samples.
    pub samples: u64,
    /// Their bytes.
    pub sample_bytes: u64,
    /// Rollup rows (both tiers).
    pub rollups: u64,
    /// Their bytes.
    pub rollup_bytes: u64,
}

impl FeedStorage {
    /// All of the feed's bytes.
    pub fn bytes(&self) -> u64 {
        self.event_bytes + self.sample_bytes + self.rollup_bytes
    }
}

fn conversion(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e))
}

fn parse_labels(col: usize, text: &str) -> rusqlite::Result<Labels> {
    serde_json::from_str(text).map_err(|e| conversion(col, e))
}

/// Every series of a feed, by metric and labels.
pub(crate) fn list_series(
    conn: &Connection,
    feed_id: i64,
    epoch: i64,
) -> rusqlite::Result<Vec<SeriesInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.feed_id, s.metric, s.labels,
                (SELECT ts FROM samples WHERE series_id = s.id ORDER BY ts DESC LIMIT 1),
                (SELECT CASE typeof(value) WHEN 'integer' THEN value / 100.0 ELSE value END
                 FROM samples WHERE series_id = s.id ORDER BY ts DESC LIMIT 1)
         FROM series s WHERE s.feed_id = ?1 ORDER BY s.metric, s.labels",
    )?;
    let rows = stmt.query_map([feed_id], |r| {
        let labels: String = r.get(3)?;
        Ok(SeriesInfo {
            id: r.get(0)?,
            feed_id: r.get(1)?,
            metric: r.get(2)?,
            labels: parse_labels(3, &labels)?,
            last_ts: r.get::<_, Option<i64>>(4)?.map(|t| Timestamp(t + epoch)),
            last_value: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// Picks the tier and bucket width for a range.
///
/// The needed width is `range / max_points`. The tier is the coarsest one
/// whose resolution is not coarser than that (raw below a minute, 1m below
/// an hour, else 1h), moved to a coarser tier while retention has already
/// deleted that tier's data at `from`. The bucket width is then
/// `range / (max_points - 1)` rounded up to a multiple of the tier's
/// resolution, so that buckets aligned to multiples of the width never
/// number more than `max_points`.
pub fn choose_tier(
    from: Timestamp,
    to: Timestamp,
    max_points: usize,
    complete_from: impl Fn(Tier) -> i64,
) -> (Tier, i64) {
    let span = to.0.saturating_sub(from.0).max(1);
    let max_points = max_points.max(1) as i64;
    let needed = ceil_div(span, max_points);
    let mut tier = if needed >= HOUR_US {
        Tier::Hour
    } else if needed >= MINUTE_US {
        Tier::Minute
    } else {
        Tier::Raw
    };
    while from.0 < complete_from(tier) {
        match tier.coarser() {
            Some(t) => tier = t,
            None => break,
        }
    }
    let res = tier.resolution_us();
    let width = ceil_div(span, (max_points - 1).max(1));
    let width = ceil_div(width, res).saturating_mul(res).max(1);
    (tier, width)
}

fn ceil_div(a: i64, b: i64) -> i64 {
    let q = a / b;
    if a % b > 0 {
        q + 1
    } else {
        q
    }
}

// Rollup rows in key order; they are folded into chart buckets in Rust
// (`fold_rollups`): a `GROUP BY` on the bucket expression made SQLite sort
// all 10,080 minute rows of a 7-day chart through a temporary B-tree.
const HOUR_ROWS: &str = "SELECT bucket, min, max, sum, count FROM rollup_1h
     WHERE series_id = ?1 AND bucket >= ?2 AND bucket < ?3 ORDER BY bucket";

/// One chart bucket being accumulated from rollup rows.
struct Fold {
    ts: i64,
    min: f64,
    max: f64,
    sum: f64,
    count: i64,
}

impl Fold {
    fn point(&self) -> Point {
        Point {
            ts: Timestamp(self.ts),
            min: self.min,
            max: self.max,
            avg: if self.count > 0 {
                self.sum / self.count as f64
            } else {
                0.0
            },
            count: self.count.max(0) as u64,
        }
    }
}

/// Folds rollup rows (in bucket order) into buckets `width` wide.
struct Folder {
    width: i64,
    points: Vec<Point>,
    cur: Option<Fold>,
}

impl Folder {
    fn new(width: i64) -> Folder {
        Folder {
            width: width.max(1),
            points: Vec::new(),
            cur: None,
        }
    }

    fn push(&mut self, (bucket, min, max, sum, count): (i64, f64, f64, f64, i64)) {
        let ts = bucket.div_euclid(self.width) * self.width;
        match self.cur.as_mut() {
            Some(f) if f.ts == ts => {
                f.min = f.min.min(min);
                f.max = f.max.max(max);
                f.sum += sum;
                f.count += count;
            }
            _ => {
                if let Some(f) = self.cur.take() {
                    self.points.push(f.point());
                }
                self.cur = Some(Fold {
                    ts,
                    min,
                    max,
                    sum,
                    count,
                });
            }
        }
    }

    fn finish(mut self) -> Vec<Point> {
        if let Some(f) = self.cur.take() {
            self.points.push(f.point());
        }
        self.points
    }
}

fn fold_rollups(
    rows: impl Iterator<Item = rusqlite::Result<(i64, f64, f64, f64, i64)>>,
    width: i64,
) -> rusqlite::Result<Vec<Point>> {
    let mut f = Folder::new(width);
    for row in rows {
        f.push(row?);
    }
    Ok(f.finish())
}

/// A series over a range, from the best tier (see [`choose_tier`]).
pub(crate) fn query_series(
    conn: &Connection,
    q: &SeriesQuery,
    epoch: i64,
    coverage: &Coverage,
) -> rusqlite::Result<SeriesData> {
    let (tier, width) = choose_tier(q.from, q.to, q.max_points, |t| coverage.from(t));
    let mut data = SeriesData {
        tier,
        bucket_us: width,
        points: Vec::new(),
    };
    if q.to <= q.from {
        return Ok(data);
    }
    data.points = match tier {
        Tier::Raw => {
            // Head rows and decoded chunks alike (see `crate::chunk`),
            // folded as they are decoded.
            let mut f = Folder::new(width);
            crate::chunk::for_each(
                conn,
                q.series_id,
                q.from.0.saturating_sub(epoch),
                q.to.0.saturating_sub(epoch),
                |ts, v| {
                    f.push((ts.saturating_add(epoch), v, v, v, 1));
                    true
                },
            )?;
            f.finish()
        }
        Tier::Minute => {
            // Head rows and decoded chunks alike (see `crate::chunk::minutes`).
            let lo = crate::rollup::bucket_start(q.from.0, MINUTE_US);
            let rows = crate::chunk::minutes::read(conn, q.series_id, lo, q.to.0)?;
            fold_rollups(rows.into_iter().map(Ok), width)?
        }
        Tier::Hour => {
            let mut stmt = conn.prepare_cached(HOUR_ROWS)?;
            let rows = stmt.query_map(
                (
                    q.series_id,
                    crate::rollup::bucket_start(q.from.0, HOUR_US),
                    q.to.0,
                ),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            fold_rollups(rows, width)?
        }
    };
    if data.points.len() > q.max_points.max(1) {
        data.points = merge_to(&data.points, q.max_points.max(1));
    }
    Ok(data)
}

/// Merges neighbouring points until at most `max` remain (only needed when
/// `max_points` is 1 and the range straddles a bucket boundary).
fn merge_to(points: &[Point], max: usize) -> Vec<Point> {
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .map(|c| {
            let count: u64 = c.iter().map(|p| p.count).sum();
            let sum: f64 = c.iter().map(|p| p.avg * p.count as f64).sum();
            Point {
                ts: c[0].ts,
                min: c.iter().map(|p| p.min).fold(f64::INFINITY, f64::min),
                max: c.iter().map(|p| p.max).fold(f64::NEG_INFINITY, f64::max),
                avg: if count > 0 { sum / count as f64 } else { 0.0 },
                count,
            }
        })
        .collect()
}

/// Raw samples of a feed, series by series.
pub(crate) fn samples(
    conn: &Connection,
    q: &SampleQuery,
    epoch: i64,
) -> rusqlite::Result<Vec<StoredSample>> {
    let mut out = Vec::new();
    if q.limit == 0 {
        return Ok(out);
    }
    let from = q.from.map_or(i64::MIN, |t| t.0);
    let until = q.until.map_or(i64::MAX, |t| t.0);
    let (first_series, after_ts) = match q.after {
        Some((s, t)) => (s, Some((s, t.0))),
        None => (i64::MIN, None),
    };
    let series: Vec<(i64, String, String)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id, metric, labels FROM series WHERE feed_id = ?1 AND id >= ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map((q.feed_id, first_series), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, metric, labels_text) in series {
        let remaining = q.limit - out.len();
        if remaining == 0 {
            break;
        }
        let lower = match after_ts {
            Some((s, t)) if s == id => from.max(t.saturating_add(1)),
            _ => from,
        };
        if lower >= until {
            continue;
        }
        let labels = parse_labels(2, &labels_text)?;
        let rows = crate::chunk::read(
            conn,
            id,
            lower.saturating_sub(epoch),
            until.saturating_sub(epoch),
            remaining,
        )?;
        for (ts, value) in rows {
            out.push(StoredSample {
                series_id: id,
                metric: metric.clone(),
                labels: labels.clone(),
                ts: Timestamp(ts + epoch),
                value,
            });
        }
    }
    Ok(out)
}

/// The newest `limit` timeline entries in a range, oldest first.
pub(crate) fn timeline(
    conn: &Connection,
    feed_id: i64,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
) -> rusqlite::Result<Vec<TimelineEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts, kind, state, detail FROM (
            SELECT id, ts, kind, state, detail FROM feed_states
            WHERE feed_id = ?1 AND ts >= ?2 AND ts < ?3
            ORDER BY ts DESC, id DESC LIMIT ?4)
         ORDER BY ts, id",
    )?;
    let rows = stmt.query_map(
        (feed_id, from.0, to.0, limit.min(i64::MAX as usize) as i64),
        timeline_entry,
    )?;
    rows.collect()
}

/// The last state change at or before `ts`.
pub(crate) fn state_at(
    conn: &Connection,
    feed_id: i64,
    ts: Timestamp,
) -> rusqlite::Result<Option<TimelineEntry>> {
    conn.prepare_cached(
        "SELECT ts, kind, state, detail FROM feed_states
         WHERE feed_id = ?1 AND ts <= ?2 AND kind = 'state'
         ORDER BY ts DESC, id DESC LIMIT 1",
    )?
    .query_row((feed_id, ts.0), timeline_entry)
    .optional()
}

fn timeline_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimelineEntry> {
    Ok(TimelineEntry {
        ts: Timestamp(r.get(0)?),
        kind: r.get(1)?,
        state: r.get(2)?,
        detail: r.get(3)?,
    })
}

/// Events of one feed, or of all.
pub(crate) fn event_count(conn: &Connection, feed_id: Option<i64>) -> rusqlite::Result<u64> {
    let n: i64 = match feed_id {
        Some(f) => conn
            .prepare_cached("SELECT count(*) FROM events WHERE feed_id = ?1")?
            .query_row([f], |r| r.get(0))?,
        None => conn
            .prepare_cached("SELECT count(*) FROM events")?
            .query_row([], |r| r.get(0))?,
    };
    Ok(n.max(0) as u64)
}

fn count(conn: &Connection, sql: &str) -> rusqlite::Result<u64> {
    let n: i64 = conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Raw samples of all series.
pub(crate) fn sample_count(conn: &Connection) -> rusqlite::Result<u64> {
    crate::chunk::total::<crate::chunk::Samples>(conn)
}

/// Size and row counts.
pub(crate) fn db_stats(conn: &Connection, path: &Path) -> rusqlite::Result<DbStats> {
    let pragma = |name: &str| -> rusqlite::Result<u64> {
        let v: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(v.max(0) as u64)
    };
    let page_size = pragma("page_size")?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    Ok(DbStats {
        file_bytes: pragma("page_count")? * page_size,
        free_bytes: pragma("freelist_count")? * page_size,
        wal_bytes: std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
        page_size,
        feeds: count(conn, "SELECT count(*) FROM feeds")?,
        events: count(conn, "SELECT count(*) FROM events")?,
        series: count(conn, "SELECT count(*) FROM series")?,
        samples: crate::chunk::total::<crate::chunk::Samples>(conn)?,
        rollup_1m: crate::chunk::total::<crate::chunk::minutes::Minutes>(conn)?,
        rollup_1h: count(conn, "SELECT count(*) FROM rollup_1h")?,
        feed_states: count(conn, "SELECT count(*) FROM feed_states")?,
        used_bytes: crate::budget::used_bytes(conn)?,
        per_feed: crate::budget::per_feed(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn all(_: Tier) -> i64 {
        i64::MIN
    }

    #[test]
    fn short_ranges_are_raw_and_long_ones_rolled_up() {
        let t = Timestamp(1_764_000_000_000_000);
        let (tier, w) = choose_tier(t, Timestamp(t.0 + 600_000_000), 1000, all);
        assert_eq!(tier, Tier::Raw);
        assert_eq!(w, ceil_div(600_000_000, 999));
        let (tier, w) = choose_tier(t, Timestamp(t.0 + 7 * DAY), 1000, all);
        assert_eq!(tier, Tier::Minute);
        assert_eq!(w % MINUTE_US, 0);
        assert!(7 * DAY / w < 1000);
        let (tier, _) = choose_tier(t, Timestamp(t.0 + 365 * DAY), 1000, all);
        assert_eq!(tier, Tier::Hour);
    }

    #[test]
    fn retention_pushes_to_a_coarser_tier() {
        let t = Timestamp(1_764_000_000_000_000);
        let raw_gone = |tier: Tier| if tier == Tier::Raw { t.0 + 1 } else { i64::MIN };
        let (tier, w) = choose_tier(t, Timestamp(t.0 + 600_000_000), 1000, raw_gone);
        assert_eq!((tier, w), (Tier::Minute, MINUTE_US));
        let all_gone = |_: Tier| i64::MAX;
        let (tier, _) = choose_tier(t, Timestamp(t.0 + 600_000_000), 1000, all_gone);
        assert_eq!(tier, Tier::Hour);
    }

    #[test]
    fn merging_keeps_extremes_and_weights() {
        let p = |ts, min, max, avg, count| Point {
            ts: Timestamp(ts),
            min,
            max,
            avg,
            count,
        };
        let m = merge_to(&[p(0, 1.0, 2.0, 1.5, 2), p(10, -5.0, 9.0, 3.0, 1)], 1);
        assert_eq!(m, vec![p(0, -5.0, 9.0, 2.0, 3)]);
    }
}
