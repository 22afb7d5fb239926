//! The overview: Telltale's worst state in one level and one line, as the
//! tray lamp shows it (and any other glance: a server-mode desktop, a
//! status bar). The order is fixed: Telltale itself failing (not storing
//! data, or stopped) outranks firing alerts, which outrank feeds that are
//! not live.

use crate::api::Api;
use crate::error::ApiError;
use crate::{AlertView, ConnStateView, FeedView, HealthView, PhaseView};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The worst state, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum OverviewLevel {
    /// No enabled feeds.
    Idle,
    /// Every enabled feed is live and nothing fires.
    Ok,
    /// Some enabled feeds are not live.
    Degraded,
    /// Alerts are firing.
    Firing,
    /// Telltale cannot store data, or stopped.
    Failing,
}

/// `GET /api/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct OverviewView {
    /// The worst state.
    pub level: OverviewLevel,
    /// It in words: "2 alerts firing, 1 feed not live", "all feeds live",
    /// "NOT STORING DATA: disk full"…, with "(notifications muted)" when
    /// they are.
    pub text: String,
    /// Firing alerts.
    pub firing: u32,
    /// Enabled feeds.
    pub enabled: u32,
    /// Enabled feeds that are not live.
    pub not_live: u32,
    /// Whether notifications are muted.
    pub muted: bool,
}

impl Api {
    /// Telltale's worst state in one level and one line.
    pub async fn overview(&self) -> Result<OverviewView, ApiError> {
        let alerts = self.alerts().await?;
        let feeds = self.list_feeds().await?;
        let muted = self.mute_state().await?.muted;
        let health = self.health().await?;
        Ok(overview(&alerts, &feeds, muted, Some(&health)))
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The overview of these alerts, feeds and health.
pub fn overview(
    alerts: &[AlertView],
    feeds: &[FeedView],
    muted: bool,
    health: Option<&HealthView>,
) -> OverviewView {
    // Feeds in a maintenance window are planned work, not trouble.
    let maintained: std::collections::HashSet<&str> = feeds
        .iter()
        .filter(|f| f.maintenance.is_some())
        .map(|f| f.name.as_str())
        .collect();
    let firing = alerts
        .iter()
        .filter(|a| a.phase == PhaseView::Firing && !maintained.contains(a.feed.as_str()))
        .count();
    let enabled = feeds.iter().filter(|f| f.enabled).count();
    let not_live = feeds
        .iter()
        .filter(|f| f.enabled && f.maintenance.is_none() && !matches!(f.state, ConnStateView::Live))
        .count();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let failing = health.and_then(|h| match h.status.as_str() {
        "fatal" => Some(format!(
            "STOPPED: {}",
            h.fatal.as_deref().unwrap_or("the engine failed")
        )),
        "failing" => Some(format!(
            "NOT STORING DATA: {}",
            h.storage
                .code
                .as_deref()
                .unwrap_or("write error")
                .replace('_', " ")
        )),
        _ => None,
    });
    let (level, text) = if let Some(text) = failing {
        (OverviewLevel::Failing, text)
    } else if firing > 0 {
        let mut t = format!("{} firing", plural(firing, "alert", "alerts"));
        if not_live > 0 {
            t.push_str(&format!(", {} not live", plural(not_live, "feed", "feeds")));
        }
        (OverviewLevel::Firing, t)
    } else if not_live > 0 {
        (
            OverviewLevel::Degraded,
            format!(
                "{} of {enabled} not live",
                plural(not_live, "feed", "feeds")
            ),
        )
    } else if enabled == 0 {
        (OverviewLevel::Idle, "no feeds".to_string())
    } else {
        (OverviewLevel::Ok, "all feeds live".to_string())
    };
    let mute = if muted { " (notifications muted)" } else { "" };
    OverviewView {
        level,
        text: format!("{text}{mute}"),
        firing: count(firing),
        enabled: count(enabled),
        not_live: count(not_live),
        muted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageHealthView;

    #[test]
    fn no_feeds_is_idle() {
        let o = overview(&[], &[], false, None);
        assert_eq!(
            (o.level, o.text.as_str(), o.firing),
            (OverviewLevel::Idle, "no feeds", 0)
        );
        let o = overview(&[], &[], true, None);
        assert!(o.text.ends_with("(notifications muted)"), "{}", o.text);
    }

    #[test]
    fn storage_that_fails_outranks_everything() {
        let health = HealthView {
            version: "0".into(),
            status: "failing".into(),
            storage: StorageHealthView {
                ok: false,
                code: Some("disk_full".into()),
                message: Some("the disk is full".into()),
                since: Some(0),
                attempts: 3,
                held_rows: 10,
                shed_rows: 0,
                discarded_rows: 0,
            },
            fatal: None,
        };
        let o = overview(&[], &[], false, Some(&health));
        assert_eq!(o.level, OverviewLevel::Failing);
        assert_eq!(o.text, "NOT STORING DATA: disk full");
        let fatal = HealthView {
            status: "fatal".into(),
            fatal: Some("the ingest pipeline crashed".into()),
            ..health
        };
        let o = overview(&[], &[], false, Some(&fatal));
        assert_eq!(o.level, OverviewLevel::Failing);
        assert!(
            o.text.contains("STOPPED: the ingest pipeline crashed"),
            "{}",
            o.text
        );
        assert!(OverviewLevel::Failing > OverviewLevel::Firing);
    }
}
