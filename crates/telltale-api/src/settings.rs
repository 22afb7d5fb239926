//! The `[store]` and `[alerts]` settings as the UI reads and writes them,
//! and their validation.
//!
//! Durations travel as the config file writes them (`7d`, `30s`, `0s`), so
//! what the GUI shows can be pasted into a config file and back.

use crate::error::ApiError;
use crate::views::DbStatsView;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use telltale_model::alert::{AlertSettings, QuietHours};
use telltale_model::config::{Settings, StoreSettings};
use telltale_model::duration::{format_duration, parse_duration, Dur};
use telltale_model::maintenance::MaintenanceWindow;
use ts_rs::TS;

/// Most notifications flood control can allow per window.
pub const MAX_FLOOD: u32 = 10_000;

/// Every operator-changeable setting, as `GET /api/settings` returns it
/// and `PUT /api/settings` takes it back (all fields, replacing the
/// current ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct SettingsView {
    /// Storage: retention and commit batching (`[store]`).
    pub store: StoreSettingsView,
    /// Notifications: quiet hours, flood control, re-notify (`[alerts]`).
    pub alerts: AlertSettingsView,
}

/// What `update_settings` takes: the same shape as [`SettingsView`].
pub type SettingsInput = SettingsView;

/// `[store]`. Ages are durations such as `7d`; `0s` (or a count of 0)
/// keeps that kind of data forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct StoreSettingsView {
    /// Raw events older than this are deleted.
    pub events_max_age: String,
    /// At most this many raw events are kept per feed.
    #[ts(type = "number")]
    pub events_max_per_feed: u64,
    /// Raw samples older than this are deleted (rollups outlive them).
    pub samples_max_age: String,
    /// 1-minute rollups are kept this long.
    pub rollup_1m_max_age: String,
    /// 1-hour rollups are kept this long.
    pub rollup_1h_max_age: String,
    /// Connection timeline and alert history are kept this long.
    pub states_max_age: String,
    /// The writer commits at least this often.
    pub commit_interval: String,
    /// … or after this many rows.
    #[ts(type = "number")]
    pub commit_rows: u64,
    /// The most the database may hold (`1GiB`, `500MiB`); past it,
    /// retention deletes the oldest raw data first, fairly per feed.
    /// `null`: no budget.
    #[serde(default)]
    pub disk_budget: Option<String>,
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct AlertSettingsView {
    /// Only critical alerts notify in this local-time period; `null`: never quiet.
    pub quiet_hours: Option<QuietHoursView>,
    /// More than this many notifications within `flood_window` …
    pub flood_max: u32,
    /// … become one summary notification.
    pub flood_window: String,
    /// Remind about unacknowledged firing alerts this often; `null`: never.
    pub renotify: Option<String>,
    /// Notify when an alert resolves.
    pub notify_resolved: bool,
    /// Maintenance windows: while one covers a feed its alerts do not
    /// notify, its tile reads maintenance and uptime leaves the time out.
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
    /// Routing by tag: the first route whose tags a feed has decides where
    /// its notifications go (the desktop, or nowhere) and from which
    /// severity.
    #[serde(default)]
    pub route: Vec<telltale_model::route::Route>,
}

/// Quiet hours, local time `HH:MM`; may wrap past midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct QuietHoursView {
    /// Start, e.g. `22:00`.
    pub start: String,
    /// End, e.g. `07:00`.
    pub end: String,
    /// The IANA time zone of start and end (`Europe/Berlin`); `null`: the
    /// system's. The offset is read at each moment, so daylight saving
    /// does not move quiet hours.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// What "Compact now" did: older raw samples moved into compressed chunks,
/// a retention run with the settings in force, ending in an incremental
/// vacuum that gives free pages back to the file system, and the
/// database's statistics afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct CompactView {
    /// Raw samples moved into compressed chunks.
    #[ts(type = "number")]
    pub samples_chunked: u64,
    /// Rows deleted by retention (events, samples, rollups, timeline).
    #[ts(type = "number")]
    pub rows_deleted: u64,
    /// Bytes given back to the file system.
    #[ts(type = "number")]
    pub bytes_freed: u64,
    /// How long it took, in ms.
    #[ts(type = "number")]
    pub took_ms: u64,
    /// Size and row counts afterwards.
    pub stats: DbStatsView,
}

impl From<&Settings> for SettingsView {
    fn from(s: &Settings) -> SettingsView {
        let d = |d: Dur| format_duration(d.0);
        let st = &s.store;
        let al = &s.alerts;
        SettingsView {
            store: StoreSettingsView {
                events_max_age: d(st.events_max_age),
                events_max_per_feed: st.events_max_per_feed,
                samples_max_age: d(st.samples_max_age),
                rollup_1m_max_age: d(st.rollup_1m_max_age),
                rollup_1h_max_age: d(st.rollup_1h_max_age),
                states_max_age: d(st.states_max_age),
                commit_interval: d(st.commit_interval),
                commit_rows: st.commit_rows as u64,
                disk_budget: st.disk_budget.map(|b| {
                    serde_json::to_value(b)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| b.0.to_string())
                }),
            },
            alerts: AlertSettingsView {
                quiet_hours: al.quiet_hours.as_ref().map(|q| QuietHoursView {
                    start: q.start.clone(),
                    end: q.end.clone(),
                    time_zone: q.time_zone.clone(),
                }),
                flood_max: al.flood_max,
                flood_window: d(al.flood_window),
                renotify: al.renotify.map(d),
                notify_resolved: al.notify_resolved,
                maintenance: al.maintenance.clone(),
                route: al.route.clone(),
            },
        }
    }
}

/// `invalid_settings` naming the field.
fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        crate::ErrorCode::InvalidSettings,
        format!("field `{field}` {message}"),
    )
}

/// A duration field between `min` and `max` (a zero allowed when `zero_ok`).
fn duration(
    field: &str,
    text: &str,
    min: Duration,
    max: Duration,
    zero_ok: bool,
) -> Result<Dur, ApiError> {
    let d = parse_duration(text).map_err(|e| invalid(field, e))?;
    if d.is_zero() && zero_ok {
        return Ok(Dur(d));
    }
    if d < min || d > max {
        let zero = if zero_ok {
            " (or 0s to keep forever)"
        } else {
            ""
        };
        return Err(invalid(
            field,
            format!(
                "is `{text}`: it must be between {} and {}{zero}",
                format_duration(min),
                format_duration(max)
            ),
        ));
    }
    Ok(Dur(d))
}

fn time_of_day(field: &str, text: &str) -> Result<(), ApiError> {
    QuietHours {
        start: text.into(),
        end: text.into(),
        time_zone: None,
    }
    .minutes()
    .map(|_| ())
    .map_err(|_| {
        invalid(
            field,
            format!("is `{text}`, not a time of day: write HH:MM, e.g. 22:00"),
        )
    })
}

impl SettingsView {
    /// Checks every field and converts to the model's settings; the first
    /// problem is an `invalid_settings` error naming the field
    /// (`store.events_max_age`) and saying what would be valid.
    pub fn validate(&self) -> Result<Settings, ApiError> {
        const MINUTE: Duration = Duration::from_secs(60);
        const DAY: Duration = Duration::from_secs(86_400);
        const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);
        let s = &self.store;
        let age = |field: &str, text: &str| duration(field, text, MINUTE, FOREVER, true);
        let store = StoreSettings {
            events_max_age: age("store.events_max_age", &s.events_max_age)?,
            events_max_per_feed: s.events_max_per_feed,
            samples_max_age: age("store.samples_max_age", &s.samples_max_age)?,
            rollup_1m_max_age: age("store.rollup_1m_max_age", &s.rollup_1m_max_age)?,
            rollup_1h_max_age: age("store.rollup_1h_max_age", &s.rollup_1h_max_age)?,
            states_max_age: age("store.states_max_age", &s.states_max_age)?,
            commit_interval: duration(
                "store.commit_interval",
                &s.commit_interval,
                Duration::from_millis(10),
                Duration::from_secs(10),
                false,
            )?,
            commit_rows: match usize::try_from(s.commit_rows) {
                Ok(n) if (100..=1_000_000).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "store.commit_rows",
                        format!("is {}: it must be between 100 and 1000000", s.commit_rows),
                    ))
                }
            },
            disk_budget: match s.disk_budget.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(text) => match telltale_model::duration::parse_size(text) {
                    Ok(b) if b >= 16 << 20 => Some(telltale_model::duration::ByteSize(b)),
                    Ok(_) => {
                        return Err(invalid(
                            "store.disk_budget",
                            format!("is `{text}`: a budget under 16 MiB leaves no room for history; write e.g. 1GiB, or leave it empty for none"),
                        ))
                    }
                    Err(e) => {
                        return Err(invalid(
                            "store.disk_budget",
                            format!("is `{text}`, not a size ({e}): write e.g. 1GiB or 500MiB"),
                        ))
                    }
                },
            },
        };
        let a = &self.alerts;
        let quiet_hours = match &a.quiet_hours {
            None => None,
            Some(q) => {
                time_of_day("alerts.quiet_hours.start", &q.start)?;
                time_of_day("alerts.quiet_hours.end", &q.end)?;
                let q = QuietHours {
                    start: q.start.trim().into(),
                    end: q.end.trim().into(),
                    time_zone: q
                        .time_zone
                        .as_deref()
                        .map(str::trim)
                        .filter(|z| !z.is_empty())
                        .map(Into::into),
                };
                if let Err(e) = q.zone() {
                    return Err(invalid("alerts.quiet_hours.time_zone", e.to_string()));
                }
                if q.minutes().is_ok_and(|(s, e)| s == e) {
                    return Err(invalid(
                        "alerts.quiet_hours.end",
                        "equals the start, which makes an empty quiet period: choose another end, or turn quiet hours off",
                    ));
                }
                Some(q)
            }
        };
        if a.flood_max == 0 || a.flood_max > MAX_FLOOD {
            return Err(invalid(
                "alerts.flood_max",
                format!(
                    "is {}: it must be between 1 and {MAX_FLOOD} notifications per window",
                    a.flood_max
                ),
            ));
        }
        let alerts = AlertSettings {
            quiet_hours,
            flood_max: a.flood_max,
            flood_window: duration(
                "alerts.flood_window",
                &a.flood_window,
                Duration::from_secs(1),
                DAY,
                false,
            )?,
            renotify: match &a.renotify {
                None => None,
                Some(t) => Some(duration("alerts.renotify", t, MINUTE, 7 * DAY, false)?),
            },
            notify_resolved: a.notify_resolved,
            maintenance: a.maintenance.clone(),
            route: a.route.clone(),
        };
        if let Some((field, problem)) = alerts.lists_problem() {
            return Err(invalid(&format!("alerts.{field}"), problem));
        }
        Ok(Settings { store, alerts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_bad_fields_are_named() {
        let view = SettingsView::from(&Settings::default());
        assert_eq!(view.store.events_max_age, "7d");
        assert_eq!(view.validate().unwrap(), Settings::default());

        let mut bad = view.clone();
        bad.store.samples_max_age = "soon".into();
        let e = bad.validate().unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidSettings);
        assert!(
            e.message.contains("`store.samples_max_age`"),
            "{}",
            e.message
        );

        let mut bad = view.clone();
        bad.alerts.quiet_hours = Some(QuietHoursView {
            start: "22:00".into(),
            end: "25:00".into(),
            time_zone: None,
        });
        let e = bad.validate().unwrap_err();
        assert!(
            e.message.contains("alerts.quiet_hours.end"),
            "{}",
            e.message
        );

        let mut bad = view.clone();
        bad.alerts.quiet_hours = Some(QuietHoursView {
            start: "22:00".into(),
            end: "07:00".into(),
            time_zone: Some("Mars/Olympus_Mons".into()),
        });
        let e = bad.validate().unwrap_err();
        assert!(
            e.message.contains("alerts.quiet_hours.time_zone") && e.message.contains("IANA"),
            "{}",
            e.message
        );
        bad.alerts.quiet_hours = Some(QuietHoursView {
            start: "22:00".into(),
            end: "07:00".into(),
            time_zone: Some(" Europe/Berlin ".into()),
        });
        let q = bad.validate().unwrap().alerts.quiet_hours.unwrap();
        assert_eq!(q.time_zone.as_deref(), Some("Europe/Berlin"));

        let mut bad = view.clone();
        bad.alerts.flood_max = 0;
        assert!(bad
            .validate()
            .unwrap_err()
            .message
            .contains("alerts.flood_max"));

        let mut ok = view;
        ok.store.events_max_age = "0s".into();
        ok.alerts.renotify = Some("30m".into());
        let s = ok.validate().unwrap();
        assert!(s.store.events_max_age.0.is_zero());
        assert_eq!(s.alerts.renotify, Some(Dur::secs(1800)));
    }
}
