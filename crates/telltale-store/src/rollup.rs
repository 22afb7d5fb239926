//! Rollup tiers: per-series minimum, maximum, sum and count per minute and
//! per hour, maintained incrementally by the writer.
//!
//! Within one transaction the writer aggregates samples in memory per
//! (series, bucket) and then upserts each key once, merging with what is
//! already stored (`min = min(min, new)`, `sum = sum + new`, …). Since every
//! sample lands in exactly one transaction, the stored rollups always equal
//! an aggregate over all raw samples ever written, even after the raw
//! samples themselves are deleted by retention.

use rusqlite::Transaction;
use serde::Serialize;
use std::collections::HashMap;

/// One minute in microseconds.
pub const MINUTE_US: i64 = 60_000_000;
/// One hour in microseconds.
pub const HOUR_US: i64 = 3_600_000_000;

/// A resolution at which series are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Raw samples.
    Raw,
    /// 1-minute rollups (`rollup_1m`).
    Minute,
    /// 1-hour rollups (`rollup_1h`).
    Hour,
}

impl Tier {
    /// The width of one stored bucket in µs (1 for raw samples).
    pub fn resolution_us(self) -> i64 {
        match self {
            Tier::Raw => 1,
            Tier::Minute => MINUTE_US,
            Tier::Hour => HOUR_US,
        }
    }

    /// The next coarser tier, if any.
    pub fn coarser(self) -> Option<Tier> {
        match self {
            Tier::Raw => Some(Tier::Minute),
            Tier::Minute => Some(Tier::Hour),
            Tier::Hour => None,
        }
    }

    /// `raw`, `1m` or `1h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The start of the bucket of width `width` holding `ts` (floor division).
pub fn bucket_start(ts: i64, width: i64) -> i64 {
    ts.div_euclid(width) * width
}

/// An aggregate of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Agg {
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: i64,
}

/// `a + b`, exact when both are whole hundredths (as a raw value is
/// stored, see `crate::schema::encode_value`): `0.1 + 0.2` is `0.3`, not
/// `0.30000000000000004`. A sum that stays in hundredths compresses as
/// integers in a chunk (see `crate::chunk::minutes`); its float noise
/// would make the whole stream floats.
pub(crate) fn add_sum(a: f64, b: f64) -> f64 {
    fn cents(v: f64) -> Option<f64> {
        let h = (v * 100.0).round();
        (h.abs() < 9.0e15 && h / 100.0 == v).then_some(h)
    }
    match (cents(a), cents(b)) {
        (Some(x), Some(y)) if (x + y).abs() < 9.0e15 => (x + y) / 100.0,
        _ => a + b,
    }
}

/// The same rule in SQL, for the upsert's `sum + excluded.sum`.
macro_rules! sum_sql {
    () => {
        "CASE WHEN abs(round(sum * 100)) < 9.0e15 AND round(sum * 100) / 100.0 = sum
               AND abs(round(excluded.sum * 100)) < 9.0e15
               AND round(excluded.sum * 100) / 100.0 = excluded.sum
               AND abs(round(sum * 100) + round(excluded.sum * 100)) < 9.0e15
          THEN (round(sum * 100) + round(excluded.sum * 100)) / 100.0
          ELSE sum + excluded.sum END"
    };
}

impl Agg {
    fn of(v: f64) -> Agg {
        Agg {
            min: v,
            max: v,
            sum: v,
            count: 1,
        }
    }

    fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum = add_sum(self.sum, v);
        self.count += 1;
    }

    /// Adds another aggregate of the same bucket (as the upsert does).
    pub fn merge(&mut self, o: &Agg) {
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum = add_sum(self.sum, o.sum);
        self.count += o.count;
    }
}

const UPSERT_1M: &str = concat!(
    "INSERT INTO rollup_1m (series_id, bucket, min, max, sum, count)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (series_id, bucket) DO UPDATE SET
       min = min(min, excluded.min), max = max(max, excluded.max),
       count = count + excluded.count, sum = ",
    sum_sql!()
);

const UPSERT_1H: &str = concat!(
    "INSERT INTO rollup_1h (series_id, bucket, min, max, sum, count)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (series_id, bucket) DO UPDATE SET
       min = min(min, excluded.min), max = max(max, excluded.max),
       count = count + excluded.count, sum = ",
    sum_sql!()
);

/// A fast hasher for the writer's own integer keys (series id, bucket):
/// SipHash's resistance to chosen keys buys nothing here, and it was a
/// tenth of the writer's time at full ingest speed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IntHasher(u64);

impl IntHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.add(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
}

type IntMap<V> = HashMap<(i64, i64), V, std::hash::BuildHasherDefault<IntHasher>>;

/// The in-memory aggregates of one transaction.
#[derive(Debug, Default)]
pub(crate) struct Rollups {
    minute: IntMap<Agg>,
    hour: IntMap<Agg>,
    scratch: Vec<((i64, i64), Agg)>,
}

impl Rollups {
    /// Adds one sample (absolute µs timestamp).
    pub fn add(&mut self, series_id: i64, ts: i64, value: f64) {
        for (map, width) in [(&mut self.minute, MINUTE_US), (&mut self.hour, HOUR_US)] {
            map.entry((series_id, bucket_start(ts, width)))
                .and_modify(|a| a.add(value))
                .or_insert_with(|| Agg::of(value));
        }
    }

    /// Forgets everything aggregated so far (after a failed transaction).
    pub fn clear(&mut self) {
        self.minute.clear();
        self.hour.clear();
    }

    /// Upserts every aggregate (in key order, for locality) and clears them.
    /// Returns the number of upserts.
    pub fn write(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<usize> {
        let mut n = 0;
        for (sql, tier) in [(UPSERT_1M, Tier::Minute), (UPSERT_1H, Tier::Hour)] {
            let map = match tier {
                Tier::Hour => &mut self.hour,
                _ => &mut self.minute,
            };
            self.scratch.clear();
            self.scratch.extend(map.drain());
            self.scratch.sort_unstable_by_key(|(k, _)| *k);
            let mut stmt = tx.prepare_cached(sql)?;
            for ((series, bucket), a) in &self.scratch {
                stmt.execute((series, bucket, a.min, a.max, a.sum, a.count))?;
                n += 1;
            }
        }
        self.scratch.clear();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_floor_even_before_the_epoch() {
        assert_eq!(bucket_start(59_999_999, MINUTE_US), 0);
        assert_eq!(bucket_start(60_000_000, MINUTE_US), MINUTE_US);
        assert_eq!(bucket_start(-1, MINUTE_US), -MINUTE_US);
    }

    #[test]
    fn sums_of_hundredths_stay_exact() {
        assert_eq!(add_sum(0.1, 0.2), 0.3);
        assert_eq!(add_sum(1e10, 0.01), 10_000_000_000.01);
        assert_eq!(add_sum(0.5, 1.0 / 3.0), 0.5 + 1.0 / 3.0);
        assert_eq!(
            add_sum(8.0e13, 8.0e13),
            1.6e14,
            "beyond 2^53 hundredths: plain"
        );
        let mut a = Agg::of(0.1);
        for _ in 0..9 {
            a.add(0.1);
        }
        assert_eq!(a.sum, 1.0);
    }

    #[test]
    fn tiers_get_coarser() {
        assert_eq!(Tier::Raw.coarser(), Some(Tier::Minute));
        assert_eq!(Tier::Hour.coarser(), None);
        assert_eq!(
            Tier::Hour.resolution_us(),
            60 * Tier::Minute.resolution_us()
        );
    }
}
