//! Maintenance windows through the API: the list with what each covers and
//! when it runs, "maintenance now, for a while" for feeds or tags, and
//! ending one. They live in the alert settings (`[[alerts.maintenance]]`),
//! so the settings screen and a config file see the same windows.

use crate::views::ms;
use crate::{Api, ApiError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;
use telltale_model::duration::format_duration;
use telltale_model::maintenance::{MaintenanceWindow, Schedule};
use telltale_model::Timestamp;
use ts_rs::TS;

/// A stretch of a range under maintenance (in a feed's timeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct MaintenanceSpanView {
    /// Start (ms), clipped to the range.
    #[ts(type = "number")]
    pub start: i64,
    /// End (ms), clipped to the range.
    #[ts(type = "number")]
    pub end: i64,
    /// The window's name.
    pub name: String,
}

impl From<(Timestamp, Timestamp, &str)> for MaintenanceSpanView {
    fn from((s, e, name): (Timestamp, Timestamp, &str)) -> Self {
        MaintenanceSpanView {
            start: ms(s),
            end: ms(e),
            name: name.to_string(),
        }
    }
}

/// A maintenance window and where it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct MaintenanceView {
    /// The window as configured.
    pub window: MaintenanceWindow,
    /// When the stretch in force now ends (ms); `null`: not in force.
    #[ts(as = "Option<f64>")]
    pub active_until: Option<i64>,
    /// When it next starts within a week (ms); `null`: not within a week.
    #[ts(as = "Option<f64>")]
    pub next_start: Option<i64>,
    /// The feeds it covers now, by name or by tag.
    pub covers: Vec<String>,
}

/// Maintenance from now on, for a while, of some feeds or tags.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct StartMaintenanceRequest {
    /// Its name; absent: the feeds and tags and the end time.
    #[serde(default)]
    pub name: Option<String>,
    /// Feeds, by name.
    #[serde(default)]
    pub feeds: Vec<String>,
    /// Tags: every feed that has one.
    #[serde(default)]
    pub tags: Vec<String>,
    /// For how long, in seconds (1 minute to 30 days).
    #[ts(type = "number")]
    pub secs: u64,
}

/// A maintenance window by name.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct MaintenanceName {
    /// The window's name.
    pub name: String,
}

const WEEK_MICROS: i64 = 7 * 86_400_000_000;
const MAX_SECS: u64 = 30 * 86_400;

impl Api {
    /// Every maintenance window, with when it runs and what it covers.
    pub async fn maintenance(&self) -> Result<Vec<MaintenanceView>, ApiError> {
        let feeds = self.blocking(|s| s.list_feeds()).await?;
        let windows = self.live_settings().alerts.maintenance;
        let (now, local) = (Timestamp::now(), jiff::tz::TimeZone::system());
        Ok(windows
            .into_iter()
            .map(|w| {
                let schedule = w.schedule(&local).ok();
                let covers = feeds
                    .iter()
                    .filter(|f| w.covers(&f.config.name, &f.config.tags))
                    .map(|f| f.config.name.clone())
                    .collect();
                let active_until = schedule
                    .as_ref()
                    .and_then(|s| s.active_until(now, &local))
                    .map(ms);
                let next_start = schedule.as_ref().and_then(|s| {
                    s.spans(now, Timestamp(now.0 + WEEK_MICROS), &local)
                        .into_iter()
                        .map(|x| x.0)
                        .find(|start| *start > now)
                        .map(ms)
                });
                MaintenanceView {
                    window: w,
                    active_until,
                    next_start,
                    covers,
                }
            })
            .collect())
    }

    /// Starts maintenance now for `secs` of the named feeds and tagged
    /// feeds: a one-off window, stored with the settings. A feed or tag
    /// that nothing has is refused, naming it.
    pub async fn start_maintenance(
        &self,
        r: StartMaintenanceRequest,
    ) -> Result<MaintenanceView, ApiError> {
        if r.feeds.is_empty() && r.tags.is_empty() {
            return Err(ApiError::invalid_request(
                "name the feeds (`feeds`) or tags (`tags`) to put in maintenance",
            ));
        }
        if !(60..=MAX_SECS).contains(&r.secs) {
            return Err(ApiError::invalid_request(format!(
                "`secs` is {}: maintenance lasts from 1 minute to 30 days (60 to {MAX_SECS})",
                r.secs
            )));
        }
        let feeds = self.blocking(|s| s.list_feeds()).await?;
        if let Some(f) = r
            .feeds
            .iter()
            .find(|n| !feeds.iter().any(|f| &f.config.name == *n))
        {
            return Err(ApiError::not_found(format!("there is no feed named `{f}`")));
        }
        let known: BTreeSet<&str> = feeds
            .iter()
            .flat_map(|f| f.config.tags.iter().map(String::as_str))
            .collect();
        if let Some(t) = r.tags.iter().find(|t| !known.contains(t.as_str())) {
            return Err(ApiError::not_found(format!(
                "no feed has the tag `{t}`: add it to a feed's tags first"
            )));
        }
        let now = Timestamp::now();
        let end = Timestamp(now.0 + (r.secs as i64) * 1_000_000);
        let minute = |t: Timestamp| {
            t.to_rfc3339_millis()
                .get(..16)
                .unwrap_or_default()
                .to_string()
                + "Z"
        };
        let targets: Vec<&str> = r.feeds.iter().chain(&r.tags).map(String::as_str).collect();
        let name = r
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                format!(
                    "{} for {} from {}",
                    targets.join(", "),
                    format_duration(Duration::from_secs(r.secs)),
                    minute(now)
                )
            });
        let window = MaintenanceWindow {
            name: name.clone(),
            feeds: r.feeds,
            tags: r.tags,
            start: Some(now.to_rfc3339_millis()),
            end: Some(end.to_rfc3339_millis()),
            ..Default::default()
        };
        self.edit_alert_settings(|a| {
            if a.maintenance.iter().any(|w| w.name == name) {
                return Err(ApiError::invalid_request(format!(
                    "a maintenance window is already named `{name}`: give this one another name"
                )));
            }
            a.maintenance.push(window);
            Ok(())
        })
        .await?;
        self.maintenance()
            .await?
            .into_iter()
            .find(|m| m.window.name == name)
            .ok_or_else(|| ApiError::internal("the new maintenance window was not kept"))
    }

    /// Ends a maintenance window: one running now (one-off) ends now and
    /// stays in the record, so uptime still leaves its time out; any other
    /// is removed.
    pub async fn end_maintenance(&self, name: &str) -> Result<(), ApiError> {
        let now = Timestamp::now();
        let local = jiff::tz::TimeZone::system();
        self.edit_alert_settings(|a| {
            let Some(i) = a.maintenance.iter().position(|w| w.name == name) else {
                return Err(ApiError::not_found(format!(
                    "there is no maintenance window named `{name}`: `telltaled maintenance` lists them"
                )));
            };
            let running_once = match a.maintenance[i].schedule(&local) {
                Ok(s @ Schedule::Once { .. }) => s.active_until(now, &local).is_some(),
                _ => false,
            };
            if running_once {
                a.maintenance[i].end = Some(now.to_rfc3339_millis());
            } else {
                a.maintenance.remove(i);
            }
            Ok(())
        })
        .await
    }
}
