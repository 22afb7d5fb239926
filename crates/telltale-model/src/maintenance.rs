//! Maintenance windows (`[[alerts.maintenance]]`): planned work on some
//! feeds, named by feed or by tag, during which their alerts do not notify,
//! their tiles read *maintenance* rather than down, and uptime leaves the
//! time out.
//!
//! A window is either one-off (`start` and `end`) or recurring (`from` and
//! `to`, local times of day, on `days`, every day when empty), in
//! `time_zone` or the system's. Recurring times are wall-clock times: a
//! window from 02:00 to 04:00 in `Europe/Berlin` stays at 02:00–04:00
//! Berlin time across daylight saving, so it lasts one hour on the night
//! the clocks skip 02:00–03:00 and three on the night they repeat it.

use crate::Timestamp;
use jiff::civil;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// One maintenance window as configured.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct MaintenanceWindow {
    /// A name for it, unique among windows ("patch Tuesday").
    pub name: String,
    /// The feeds it covers, by name.
    #[serde(default)]
    pub feeds: Vec<String>,
    /// The feeds it covers, by tag: every feed with one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// One-off: when it starts. RFC 3339 (`2026-12-10T22:00:00Z`), or a
    /// local date and time (`2026-12-10 22:00`) in `time_zone`.
    #[serde(default)]
    pub start: Option<String>,
    /// One-off: when it ends, in the same forms.
    #[serde(default)]
    pub end: Option<String>,
    /// Recurring: the days it starts on (`mon` … `sun`); empty: every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Recurring: the local time of day it starts, `HH:MM`.
    #[serde(default)]
    pub from: Option<String>,
    /// Recurring: the local time of day it ends, `HH:MM`; earlier than
    /// `from` ends the next day, equal to it lasts a whole day.
    #[serde(default)]
    pub to: Option<String>,
    /// The IANA time zone of its local times (`Europe/Berlin`); absent: the
    /// system's.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// What is wrong with a window, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct MaintenanceError {
    /// The field at fault (`from`, `days`, …).
    pub field: &'static str,
    /// What is wrong and what to write instead.
    pub problem: String,
}

fn bad(field: &'static str, problem: impl Into<String>) -> MaintenanceError {
    MaintenanceError {
        field,
        problem: problem.into(),
    }
}

/// When a window is in force, read from its fields.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Once, `[start, end)`.
    Once {
        /// Start.
        start: Timestamp,
        /// End.
        end: Timestamp,
    },
    /// On some days of each week, between two local times of day.
    Weekly {
        /// Monday first.
        days: [bool; 7],
        /// Minutes after local midnight.
        from: u32,
        /// Minutes after local midnight; `<= from` ends the next day.
        to: u32,
        /// The window's zone; `None`: the local one given when asked.
        zone: Option<TimeZone>,
    },
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The longest range whose spans are worked out (a longer one keeps its
/// most recent part): over a year of daily windows.
const MAX_DAYS: i64 = 400;

impl MaintenanceWindow {
    /// Whether it covers the feed `feed` with tags `tags`.
    pub fn covers(&self, feed: &str, tags: &[String]) -> bool {
        self.feeds.iter().any(|f| f == feed) || self.tags.iter().any(|t| tags.contains(t))
    }

    /// Checks every field and reads the schedule. `local` is the zone of
    /// one-off local times when the window names none.
    pub fn schedule(&self, local: &TimeZone) -> Result<Schedule, MaintenanceError> {
        if self.name.trim().is_empty() {
            return Err(bad("name", "is empty: give the window a name"));
        }
        if self.feeds.is_empty() && self.tags.is_empty() {
            return Err(bad(
                "feeds",
                "and `tags` are both empty: name the feeds it covers, or their tags",
            ));
        }
        let zone = match self.time_zone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(TimeZone::get(name).map_err(|_| {
                bad(
                    "time_zone",
                    format!(
                        "is `{name}`, not a time zone this system knows: use an IANA name such as Europe/Berlin or UTC"
                    ),
                )
            })?),
        };
        let once = self.start.is_some() || self.end.is_some();
        let weekly = self.from.is_some() || self.to.is_some() || !self.days.is_empty();
        match (once, weekly) {
            (true, true) => Err(bad(
                "start",
                "and `from`/`to`/`days` are both given: a window is one-off (`start`, `end`) or recurring (`from`, `to`, `days`), not both",
            )),
            (false, false) => Err(bad(
                "start",
                "is missing: give `start` and `end` for a one-off window, or `from` and `to` for a recurring one",
            )),
            (true, false) => {
                let zone = zone.as_ref().unwrap_or(local);
                let start = moment("start", self.start.as_deref(), zone)?;
                let end = moment("end", self.end.as_deref(), zone)?;
                if end <= start {
                    return Err(bad("end", "is not after `start`: the window would be empty"));
                }
                Ok(Schedule::Once { start, end })
            }
            (false, true) => {
                let from = hhmm("from", self.from.as_deref())?;
                let to = hhmm("to", self.to.as_deref())?;
                let mut days = [self.days.is_empty(); 7];
                for d in &self.days {
                    let i = DAY_NAMES
                        .iter()
                        .position(|n| d.trim().to_ascii_lowercase().starts_with(n))
                        .ok_or_else(|| {
                            bad("days", format!("has `{d}`, not a day: write mon, tue, wed, thu, fri, sat or sun"))
                        })?;
                    days[i] = true;
                }
                Ok(Schedule::Weekly {
                    days,
                    from,
                    to,
                    zone,
                })
            }
        }
    }
}

fn moment(
    field: &'static str,
    text: Option<&str>,
    zone: &TimeZone,
) -> Result<Timestamp, MaintenanceError> {
    let Some(text) = text.map(str::trim) else {
        return Err(bad(
            field,
            "is missing: a one-off window needs both `start` and `end`",
        ));
    };
    let micros = if let Ok(t) = text.parse::<jiff::Timestamp>() {
        Some(t.as_microsecond())
    } else if let Ok(dt) = text.parse::<civil::DateTime>() {
        dt.to_zoned(zone.clone())
            .ok()
            .map(|z| z.timestamp().as_microsecond())
    } else {
        None
    };
    micros.map(Timestamp).ok_or_else(|| {
        bad(
            field,
            format!(
                "is `{text}`, not a time: write 2026-12-10 22:00 (local) or 2026-12-10T21:00:00Z"
            ),
        )
    })
}

fn hhmm(field: &'static str, text: Option<&str>) -> Result<u32, MaintenanceError> {
    let Some(text) = text.map(str::trim) else {
        return Err(bad(
            field,
            "is missing: a recurring window needs both `from` and `to`",
        ));
    };
    let not = || {
        bad(
            field,
            format!("is `{text}`, not a time of day: write HH:MM, e.g. 02:00"),
        )
    };
    let (h, m) = text.split_once(':').ok_or_else(not)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| not())?, m.parse().map_err(|_| not())?);
    if h > 23 || m > 59 {
        return Err(not());
    }
    Ok(h * 60 + m)
}

/// The instant of local `date` at `minute` of the day in `zone` (a time
/// the clocks skip moves forward by the gap, as `jiff` does).
fn at(date: civil::Date, minute: u32, zone: &TimeZone) -> Option<i64> {
    let h = i8::try_from(minute / 60).ok()?;
    let m = i8::try_from(minute % 60).ok()?;
    let z = date.at(h, m, 0, 0).to_zoned(zone.clone()).ok()?;
    Some(z.timestamp().as_microsecond())
}

impl Schedule {
    /// The stretches of `[from, to)` it is in force, in order, clipped to
    /// the range. `local` is the zone of a weekly window that names none.
    pub fn spans(
        &self,
        from: Timestamp,
        to: Timestamp,
        local: &TimeZone,
    ) -> Vec<(Timestamp, Timestamp)> {
        if to <= from {
            return Vec::new();
        }
        let clip = |s: i64, e: i64| {
            let (s, e) = (s.max(from.0), e.min(to.0));
            (s < e).then_some((Timestamp(s), Timestamp(e)))
        };
        match self {
            Schedule::Once { start, end } => clip(start.0, end.0).into_iter().collect(),
            Schedule::Weekly {
                days,
                from: f,
                to: t,
                zone,
            } => {
                let zone = zone.as_ref().unwrap_or(local);
                let from = Timestamp(from.0.max(to.0 - MAX_DAYS * 86_400_000_000));
                let date_of = |ts: Timestamp| {
                    jiff::Timestamp::from_microsecond(ts.0)
                        .ok()
                        .map(|t| t.to_zoned(zone.clone()).date())
                };
                let (Some(first), Some(last)) = (date_of(from), date_of(to)) else {
                    return Vec::new();
                };
                // A window that began the day before may still run.
                let mut day = first.yesterday().unwrap_or(first);
                let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
                while day <= last {
                    let weekday = day.weekday().to_monday_zero_offset() as usize;
                    if days[weekday] {
                        let end_day = if t <= f {
                            day.tomorrow().ok()
                        } else {
                            Some(day)
                        };
                        if let (Some(s), Some(e)) =
                            (at(day, *f, zone), end_day.and_then(|d| at(d, *t, zone)))
                        {
                            if let Some((s, e)) = clip(s, e) {
                                match out.last_mut() {
                                    Some(prev) if prev.1 >= s => prev.1 = prev.1.max(e),
                                    _ => out.push((s, e)),
                                }
                            }
                        }
                    }
                    match day.tomorrow() {
                        Ok(d) => day = d,
                        Err(_) => break,
                    }
                }
                out
            }
        }
    }

    /// When the stretch in force at `now` ends, if one is (for a weekly
    /// window that runs on for days, at most two days ahead).
    pub fn active_until(&self, now: Timestamp, local: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Once { start, end } => (*start <= now && now < *end).then_some(*end),
            Schedule::Weekly { .. } => self
                .spans(now, Timestamp(now.0 + 2 * 86_400_000_000), local)
                .into_iter()
                .next()
                .filter(|s| s.0 == now)
                .map(|s| s.1),
        }
    }
}

/// The first of `windows` covering the feed `feed` (with `tags`) at `now`.
pub fn active_window<'a>(
    windows: &'a [MaintenanceWindow],
    feed: &str,
    tags: &[String],
    now: Timestamp,
    local: &TimeZone,
) -> Option<&'a MaintenanceWindow> {
    windows.iter().filter(|w| w.covers(feed, tags)).find(|w| {
        w.schedule(local)
            .is_ok_and(|s| s.active_until(now, local).is_some())
    })
}

/// The stretches of `[from, to)` that `windows` cover the feed, each with
/// its window's name, in order of start.
pub fn spans_for<'a>(
    windows: &'a [MaintenanceWindow],
    feed: &str,
    tags: &[String],
    from: Timestamp,
    to: Timestamp,
    local: &TimeZone,
) -> Vec<(Timestamp, Timestamp, &'a str)> {
    let mut out: Vec<(Timestamp, Timestamp, &str)> = windows
        .iter()
        .filter(|w| w.covers(feed, tags))
        .filter_map(|w| Some((w, w.schedule(local).ok()?)))
        .flat_map(|(w, s)| {
            s.spans(from, to, local)
                .into_iter()
                .map(move |(a, b)| (a, b, w.name.as_str()))
        })
        .collect();
    out.sort_by_key(|s| (s.0, s.1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_microsecond())
    }

    fn weekly(days: &[&str], from: &str, to: &str, zone: Option<&str>) -> MaintenanceWindow {
        MaintenanceWindow {
            name: "w".into(),
            tags: vec!["db".into()],
            days: days.iter().map(|d| d.to_string()).collect(),
            from: Some(from.into()),
            to: Some(to.into()),
            time_zone: zone.map(Into::into),
            ..Default::default()
        }
    }

    fn hours(spans: &[(Timestamp, Timestamp)]) -> Vec<f64> {
        spans
            .iter()
            .map(|(s, e)| (e.0 - s.0) as f64 / 3_600_000_000.0)
            .collect()
    }

    #[test]
    fn a_recurring_window_keeps_its_wall_clock_times_across_daylight_saving() {
        // Berlin skips 02:00–03:00 on 2026-03-29 and repeats 02:00–03:00 on
        // 2026-10-25; a 01:00–04:00 window is 2 h and 4 h long those nights.
        let w = weekly(&["sun"], "01:00", "04:00", Some("Europe/Berlin"));
        let utc = TimeZone::UTC;
        let s = w.schedule(&utc).unwrap();
        let march = s.spans(ts("2026-03-22T00:00:00Z"), ts("2026-04-06T00:00:00Z"), &utc);
        assert_eq!(
            march.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![
                ts("2026-03-22T00:00:00Z"), // 01:00 CET
                ts("2026-03-29T00:00:00Z"), // 01:00 CET, the night of the change
                ts("2026-04-04T23:00:00Z"), // 01:00 CEST
            ]
        );
        assert_eq!(hours(&march)[..2], [3.0, 2.0]);
        let october = s.spans(ts("2026-10-24T00:00:00Z"), ts("2026-10-27T00:00:00Z"), &utc);
        assert_eq!(
            october,
            vec![(ts("2026-10-24T23:00:00Z"), ts("2026-10-25T03:00:00Z"))]
        );
        assert_eq!(hours(&october), [4.0]);
    }

    #[test]
    fn a_window_past_midnight_is_found_from_the_day_after() {
        let w = weekly(&["fri"], "22:00", "02:00", None);
        let utc = TimeZone::UTC;
        let s = w.schedule(&utc).unwrap();
        // 2026-12-11 is a Friday; ask from Saturday 00:30
        let now = ts("2026-12-12T00:30:00Z");
        assert_eq!(s.active_until(now, &utc), Some(ts("2026-12-12T02:00:00Z")));
        assert_eq!(s.active_until(ts("2026-12-12T02:00:00Z"), &utc), None);
        assert_eq!(s.active_until(ts("2026-12-11T21:59:59Z"), &utc), None);
        // the system's zone places a window that names none
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            s.active_until(ts("2026-12-12T03:30:00Z"), &ny),
            Some(ts("2026-12-12T07:00:00Z"))
        );
    }

    #[test]
    fn every_day_when_no_days_and_a_whole_day_when_from_equals_to() {
        let utc = TimeZone::UTC;
        let s = weekly(&[], "00:00", "00:00", None).schedule(&utc).unwrap();
        let spans = s.spans(ts("2026-12-01T00:00:00Z"), ts("2026-12-04T00:00:00Z"), &utc);
        assert_eq!(
            spans,
            vec![(ts("2026-12-01T00:00:00Z"), ts("2026-12-04T00:00:00Z"))]
        );
    }

    #[test]
    fn a_one_off_window_reads_local_and_absolute_times() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let w = MaintenanceWindow {
            name: "move".into(),
            feeds: vec!["web-1".into()],
            start: Some("2026-12-10 22:00".into()),
            end: Some("2026-12-10T23:30:00Z".into()),
            ..Default::default()
        };
        let Schedule::Once { start, end } = w.schedule(&berlin).unwrap() else {
            panic!("one-off");
        };
        assert_eq!(
            (start, end),
            (ts("2026-12-10T21:00:00Z"), ts("2026-12-10T23:30:00Z"))
        );
        assert!(w.covers("web-1", &[]));
        assert!(!w.covers("web-2", &["db".into()]));
    }

    #[test]
    fn a_config_file_names_the_window_and_field_at_fault() {
        let good = "[alerts]\nflood_max = 3\n\n[[alerts.maintenance]]\nname = \"patch\"\ntags = [\"db\"]\ndays = [\"sun\"]\nfrom = \"02:00\"\nto = \"04:00\"\ntime_zone = \"Europe/Berlin\"\n";
        let c = crate::ConfigFile::parse("t.toml", good);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.alerts.maintenance.len(), 1);
        assert_eq!(c.alerts.flood_max, 3);
        let bad = good.replace("\"04:00\"", "\"4 am\"");
        let c = crate::ConfigFile::parse("t.toml", &bad);
        let e = &c.errors[0];
        assert_eq!(e.field.as_deref(), Some("alerts.maintenance[0].to"));
        assert!(
            e.message.contains("`4 am`, not a time of day"),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(9), "{e:?}");
        // No `[alerts]` header, after a feed: the same windows.
        let headless = format!(
            "[[feed]]\nname = \"a\"\ntransport = \"sse\"\nurl = \"http://h/x\"\n\n{}",
            good.replace("[alerts]\nflood_max = 3\n\n", "")
        );
        let c = crate::ConfigFile::parse("t.toml", &headless);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!((c.feeds.len(), c.alerts.maintenance.len()), (1, 1));
        assert_eq!(c.alerts_keys, ["maintenance"]);
    }

    #[test]
    fn mistakes_name_their_field() {
        let utc = TimeZone::UTC;
        let field = |w: MaintenanceWindow| w.schedule(&utc).unwrap_err().field;
        assert_eq!(field(weekly(&["someday"], "01:00", "02:00", None)), "days");
        assert_eq!(field(weekly(&[], "25:00", "02:00", None)), "from");
        assert_eq!(field(weekly(&[], "01:00", "2", None)), "to");
        assert_eq!(
            field(weekly(&[], "01:00", "02:00", Some("Mars/Olympus"))),
            "time_zone"
        );
        let mut w = weekly(&[], "01:00", "02:00", None);
        w.tags.clear();
        assert_eq!(field(w.clone()), "feeds");
        w.tags = vec!["x".into()];
        w.start = Some("2026-12-10 22:00".into());
        assert_eq!(field(w), "start");
        let once = MaintenanceWindow {
            name: "x".into(),
            feeds: vec!["a".into()],
            start: Some("2026-12-10 22:00".into()),
            end: Some("2026-12-10 21:00".into()),
            ..Default::default()
        };
        assert_eq!(field(once.clone()), "end");
        let e = MaintenanceWindow {
            end: Some("tomorrow".into()),
            ..once
        }
        .schedule(&utc)
        .unwrap_err();
        assert!(
            e.to_string().contains("`end` is `tomorrow`, not a time"),
            "{e}"
        );
    }
}
