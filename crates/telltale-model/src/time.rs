//! Wall-clock timestamps in microseconds since the Unix epoch, and a clock
//! abstraction so that time-dependent logic can be tested with a fake clock.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Microseconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Timestamp(chrono::Utc::now().timestamp_micros())
    }

    /// Builds a timestamp from milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(1000))
    }

    /// Builds a timestamp from whole seconds since the epoch.
    pub fn from_secs(s: i64) -> Self {
        Timestamp(s.saturating_mul(1_000_000))
    }

    /// Microseconds since the epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// Milliseconds since the epoch (truncated).
    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This timestamp plus a duration.
    pub fn plus(self, d: std::time::Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(d.as_micros().min(i64::MAX as u128) as i64),
        )
    }

    /// This timestamp minus a duration.
    pub fn minus(self, d: std::time::Duration) -> Self {
        Timestamp(
            self.0
                .saturating_sub(d.as_micros().min(i64::MAX as u128) as i64),
        )
    }

    /// The duration from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> std::time::Duration {
        std::time::Duration::from_micros(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-25T17:00:00.123Z`.
    pub fn to_rfc3339_millis(self) -> String {
        match chrono::DateTime::from_timestamp_micros(self.0) {
            Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            None => format!("@{}us", self.0),
        }
    }

    /// Parses an HTTP date (`Tue, 25 Nov 2025 17:00:01 GMT`, as in
    /// `Last-Modified`); `None` if it is not one.
    pub fn parse_http_date(s: &str) -> Option<Timestamp> {
        chrono::DateTime::parse_from_rfc2822(s.trim())
            .ok()
            .map(|dt| Timestamp(dt.timestamp_micros()))
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Parses RFC 3339 (`2026-11-25T17:00:00Z`), a date (`2026-11-25`), or a
    /// relative age such as `15m` / `2h` / `7d` meaning that long before `now`.
    pub fn parse_flexible(s: &str, now: Timestamp) -> Result<Timestamp, crate::ValueError> {
        let s = s.trim();
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
            return Ok(Timestamp(dt.timestamp_micros()));
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            if let Some(dt) = d.and_hms_opt(0, 0, 0) {
                return Ok(Timestamp(dt.and_utc().timestamp_micros()));
            }
        }
        if let Ok(d) = crate::duration::parse_duration(s) {
            return Ok(now.minus(d));
        }
        Err(crate::ValueError::NotATime { text: s.into() })
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339_millis())
    }
}

/// A source of the current time. Production code uses [`SystemClock`]; tests
/// of time-dependent logic use [`ManualClock`].
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A manual clock starting at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.0)))
    }
    /// Moves the clock forward.
    pub fn advance(&self, d: std::time::Duration) {
        self.0.fetch_add(d.as_micros() as i64, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_millis_and_z() {
        let t = Timestamp(1_764_090_000_123_456);
        assert_eq!(t.to_rfc3339_millis(), "2025-11-25T17:00:00.123Z");
    }

    #[test]
    fn parse_flexible_accepts_three_forms() {
        let now = Timestamp::from_secs(1_000_000);
        assert_eq!(
            Timestamp::parse_flexible("1970-01-12T13:46:40Z", now).unwrap(),
            now
        );
        assert_eq!(
            Timestamp::parse_flexible("10s", now).unwrap(),
            Timestamp::from_secs(999_990)
        );
        assert_eq!(
            Timestamp::parse_flexible("1970-01-02", now).unwrap(),
            Timestamp::from_secs(86_400)
        );
        assert!(Timestamp::parse_flexible("yesterday", now).is_err());
    }
}
