//! Where quiet hours read the local time of day.
//!
//! The offset from UTC is read at each moment, not once at start, so quiet
//! hours stay at the same wall-clock times across a daylight-saving change.

use telltale_model::alert::QuietHours;
use telltale_model::Timestamp;

/// The engine's local time zone.
#[derive(Debug, Clone)]
pub enum LocalZone {
    /// A fixed offset in minutes east of UTC (tests, or a system whose
    /// zone cannot be read).
    Fixed(i32),
    /// A time zone with its rules (the system's, or a named one).
    Zone(jiff::tz::TimeZone),
}

impl LocalZone {
    /// The system's time zone (`TZ`, else `/etc/localtime`); UTC if neither
    /// can be read.
    pub fn system() -> LocalZone {
        LocalZone::Zone(jiff::tz::TimeZone::system())
    }

    /// As a `jiff` time zone (a fixed offset becomes one).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        match self {
            LocalZone::Fixed(m) => jiff::tz::Offset::from_seconds(m.saturating_mul(60))
                .map(jiff::tz::TimeZone::fixed)
                .unwrap_or(jiff::tz::TimeZone::UTC),
            LocalZone::Zone(tz) => tz.clone(),
        }
    }

    /// Minutes east of UTC at `now`.
    pub fn offset_minutes(&self, now: Timestamp) -> i32 {
        match self {
            LocalZone::Fixed(m) => *m,
            LocalZone::Zone(tz) => jiff::Timestamp::from_microsecond(now.as_micros())
                .map(|t| tz.to_offset(t).seconds() / 60)
                .unwrap_or(0),
        }
    }

    /// The minute of the local day at `now` for quiet hours `q`: in the
    /// zone `q` names, or else in this one. A name that is not known (the
    /// settings are checked when saved, so only a system that lost its time
    /// zone database) falls back to this zone.
    pub fn minute_of_day(&self, q: &QuietHours, now: Timestamp) -> u32 {
        let offset = match q.zone() {
            Ok(Some(tz)) => LocalZone::Zone(tz).offset_minutes(now),
            _ => self.offset_minutes(now),
        };
        let local_secs = now.as_micros().div_euclid(1_000_000) + i64::from(offset) * 60;
        (local_secs.rem_euclid(86_400) / 60) as u32
    }
}

impl From<i32> for LocalZone {
    fn from(minutes: i32) -> Self {
        LocalZone::Fixed(minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> Timestamp {
        let t: jiff::Timestamp = rfc3339.parse().unwrap();
        Timestamp(t.as_microsecond())
    }

    fn quiet(tz: Option<&str>) -> QuietHours {
        QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            time_zone: tz.map(Into::into),
        }
    }

    #[test]
    fn quiet_hours_keep_their_wall_clock_times_across_daylight_saving() {
        // Europe/Berlin leaves summer time on 2026-10-25 at 03:00 CEST.
        let berlin = LocalZone::Zone(jiff::tz::TimeZone::get("Europe/Berlin").unwrap());
        let q = quiet(None);
        // 06:30 local the day before: 04:30 UTC (UTC+2)…
        let before = at("2026-10-24T04:30:00Z");
        assert_eq!(berlin.minute_of_day(&q, before), 6 * 60 + 30);
        assert!(q.contains(berlin.minute_of_day(&q, before)));
        // …and the day after, 06:30 local is 05:30 UTC (UTC+1). The same
        // UTC time as before, 04:30, is now 05:30 local.
        let after = at("2026-10-26T05:30:00Z");
        assert_eq!(berlin.minute_of_day(&q, after), 6 * 60 + 30);
        assert_eq!(
            berlin.minute_of_day(&q, at("2026-10-26T04:30:00Z")),
            5 * 60 + 30
        );
        // 07:15 local after the change (06:15 UTC) is no longer quiet.
        let end = at("2026-10-26T06:15:00Z");
        assert!(!q.contains(berlin.minute_of_day(&q, end)));
        // An offset read once in summer (+2 h) puts 06:30 local of the
        // winter day at 07:30: not quiet, an hour off.
        let frozen = LocalZone::Fixed(120);
        assert_eq!(
            frozen.minute_of_day(&q, at("2026-10-26T05:30:00Z")),
            7 * 60 + 30
        );
    }

    #[test]
    fn a_named_zone_wins_over_the_engine_zone() {
        let utc = LocalZone::Fixed(0);
        let q = quiet(Some("America/New_York"));
        // 03:00 UTC in January is 22:00 in New York (UTC-5).
        assert_eq!(utc.minute_of_day(&q, at("2026-01-15T03:00:00Z")), 22 * 60);
        // In July (UTC-4), 22:00 in New York is 02:00 UTC.
        assert_eq!(utc.minute_of_day(&q, at("2026-07-15T02:00:00Z")), 22 * 60);
    }
}
