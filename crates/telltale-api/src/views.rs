//! What the API returns: plain data made for the UI, each type with a
//! TypeScript twin in `ui/src/lib/bindings/`.
//!
//! Conventions:
//!
//! * **Times are milliseconds since the Unix epoch** (UTC), as a TypeScript
//!   `number` (what `new Date(ms)` takes). Internally Telltale keeps
//!   microseconds; the API truncates to milliseconds.
//! * Ids and counters are 64-bit in Rust and `number` in TypeScript: they
//!   stay far below 2^53.
//! * Secrets never appear in clear: header values are masked (`Bearer ••••••`)
//!   and URL credentials redacted (`https://••••••@host/…`).

use crate::secrets::scrub_credentials;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use telltale_alerts::{AlertInstance, Phase};
use telltale_engine::FeedStatus;
use telltale_model::alert::Severity;
use telltale_model::secret::{mask_headers, redact_url};
use telltale_model::{ConnState, Timestamp};
use telltale_model::{FeedConfig, PayloadFormat, TransportKind};
use telltale_store::{
    AlertHistoryRow, DbStats, FeedOrigin, Point, SeriesInfo, StoredEvent, StoredFeed, Tier,
    TimelineEntry,
};
use ts_rs::TS;

/// Milliseconds since the Unix epoch.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millis()
}

/// Series labels (`{"cpu": "0", "mode": "idle"}`); empty for unlabelled metrics.
pub type LabelsView = BTreeMap<String, String>;

/// A feed's connection state (tagged by `state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum ConnStateView {
    /// Opening a connection (or sending the first request).
    Connecting,
    /// Connected and receiving.
    Live,
    /// Connected, but silent for the staleness window.
    Stale {
        /// Time since the last message, in ms.
        #[ts(type = "number")]
        silent_ms: u64,
    },
    /// Waiting to reconnect after a failure.
    Retrying {
        /// Attempt number, from 1.
        attempt: u32,
        /// When the next attempt starts (ms since the epoch).
        #[ts(type = "number")]
        next_at: i64,
        /// Why the last attempt failed.
        reason: String,
    },
    /// Not subscribed (disabled, removed or shutting down).
    Stopped,
    /// The server asked the client to stop (SSE `204`); waits until the
    /// operator resumes the feed.
    StoppedByServer {
        /// What the server answered.
        reason: String,
    },
    /// Failed: a configuration problem (not retried, or retried slowly).
    Failed {
        /// Why.
        reason: String,
    },
}

impl From<&ConnState> for ConnStateView {
    fn from(s: &ConnState) -> Self {
        match s {
            ConnState::Connecting => ConnStateView::Connecting,
            ConnState::Live => ConnStateView::Live,
            ConnState::Stale { silent_ms } => ConnStateView::Stale {
                silent_ms: *silent_ms,
            },
            ConnState::Retrying {
                attempt,
                next_at,
                reason,
            } => ConnStateView::Retrying {
                attempt: *attempt,
                next_at: ms(*next_at),
                reason: scrub_credentials(reason),
            },
            ConnState::Stopped => ConnStateView::Stopped,
            ConnState::StoppedByServer { reason } => ConnStateView::StoppedByServer {
                reason: scrub_credentials(reason),
            },
            ConnState::Failed { reason } => ConnStateView::Failed {
                reason: scrub_credentials(reason),
            },
        }
    }
}

/// Where a feed's definition lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum FeedOriginView {
    /// Imported from the config file given to `telltaled run|serve --config`.
    File,
    /// Created or edited in the UI.
    Gui,
}

impl From<FeedOrigin> for FeedOriginView {
    fn from(o: FeedOrigin) -> Self {
        match o {
            FeedOrigin::File => FeedOriginView::File,
            FeedOrigin::Gui => FeedOriginView::Gui,
        }
    }
}

/// One feed for lists and tiles: its config summary and live status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct FeedView {
    /// Store id (live messages refer to feeds by it).
    #[ts(type = "number")]
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Transport.
    pub transport: TransportKind,
    /// URL, credentials redacted.
    pub url: String,
    /// Whether it should be subscribed.
    pub enabled: bool,
    /// Where its definition came from.
    pub origin: FeedOriginView,
    /// Payload format.
    pub format: PayloadFormat,
    /// Request headers, secret values masked.
    pub headers: LabelsView,
    /// Names of the metrics it extracts.
    pub metrics: Vec<String>,
    /// The units of those metrics that have one (set, or implied by a
    /// Prometheus name), by metric name.
    pub units: std::collections::BTreeMap<String, telltale_model::Unit>,
    /// Names of its alert rules.
    pub alert_rules: Vec<String>,
    /// True while the engine runs a source for it.
    pub running: bool,
    /// Connection state (`stopped` when not running).
    pub state: ConnStateView,
    /// Since when (ms), if running.
    #[ts(as = "Option<f64>")]
    pub state_since: Option<i64>,
    /// The latest status verdict, if the feed has a status rule.
    pub healthy: Option<bool>,
    /// The latest status text.
    pub status_text: Option<String>,
    /// Messages received since the engine started.
    #[ts(type = "number")]
    pub messages: u64,
    /// Payload bytes received.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Reconnections.
    #[ts(type = "number")]
    pub reconnects: u64,
    /// Messages not stored: shed because the store could not keep up, or
    /// because writing kept failing (a full disk) for too long.
    #[ts(type = "number")]
    pub dropped: u64,
    /// Problems reported.
    #[ts(type = "number")]
    pub errors: u64,
    /// Messages skipped as replays of ones already received
    /// (`websocket.id_pointer`).
    #[ts(type = "number")]
    pub duplicates: u64,
    /// Last message time (ms).
    #[ts(as = "Option<f64>")]
    pub last_message_at: Option<i64>,
    /// Messages per second over the last few seconds.
    pub rate: f64,
    /// Why its payloads would take more than its share of the disk budget
    /// (and what to do), if they would (see `share.rs`).
    pub storage_warning: Option<String>,
    /// The feed's tags.
    pub tags: Vec<String>,
    /// The feed this one depends on, if any.
    pub depends_on: Option<String>,
    /// `[feed.tls] skip_verify`: the server's certificate is not checked,
    /// which the tile shows as a warning.
    pub tls_unverified: bool,
    /// The maintenance window covering it now, by name.
    pub maintenance: Option<String>,
    /// Its uptime over the last 24 hours (0–1): live time over the time
    /// its state is known, stopped and maintenance time left out; `null`
    /// when none is known.
    pub uptime_24h: Option<f64>,
}

impl FeedView {
    /// Builds the view from the stored feed and, if it runs, its status.
    pub(crate) fn new(stored: &StoredFeed, status: Option<&FeedStatus>) -> FeedView {
        let c = &stored.config;
        FeedView {
            id: stored.id,
            name: c.name.clone(),
            transport: c.transport,
            url: redact_url(&c.url),
            enabled: c.enabled,
            origin: stored.origin.into(),
            format: c.format,
            headers: mask_headers(&c.headers),
            metrics: c.metrics.iter().map(|m| m.name.clone()).collect(),
            units: c
                .metrics
                .iter()
                .filter_map(|m| m.effective_unit(c.format).map(|u| (m.name.clone(), u)))
                .chain(
                    c.uses_tls()
                        .then(|| {
                            let m = telltale_model::alert::TLS_DAYS_LEFT;
                            c.unit_of(m).map(|u| (m.to_string(), u))
                        })
                        .flatten(),
                )
                .collect(),
            // with the default certificate rule of a TLS feed
            alert_rules: c
                .effective_alerts()
                .iter()
                .map(|a| a.name.clone())
                .collect(),
            running: status.is_some(),
            state: status
                .map(|s| ConnStateView::from(&s.state))
                .unwrap_or(ConnStateView::Stopped),
            state_since: status.map(|s| ms(s.state_since)),
            healthy: status.and_then(|s| s.healthy),
            status_text: status.and_then(|s| s.status_text.clone()),
            messages: status.map_or(0, |s| s.messages),
            bytes: status.map_or(0, |s| s.bytes),
            reconnects: status.map_or(0, |s| s.reconnects),
            dropped: status.map_or(0, |s| s.dropped),
            errors: status.map_or(0, |s| s.errors),
            duplicates: status.map_or(0, |s| s.duplicates),
            last_message_at: status.and_then(|s| s.last_message_at.map(ms)),
            rate: status.map_or(0.0, |s| s.rate),
            storage_warning: None,
            tls_unverified: c.tls.as_ref().is_some_and(|t| t.skip_verify),
            tags: c.tags.clone(),
            depends_on: c.depends_on.clone(),
            maintenance: None,
            uptime_24h: None,
        }
    }
}

/// One series of a feed and its newest raw sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct SeriesInfoView {
    /// Series id.
    #[ts(type = "number")]
    pub id: i64,
    /// Metric name.
    pub metric: String,
    /// Labels.
    pub labels: LabelsView,
    /// Newest retained raw sample's time (ms).
    #[ts(as = "Option<f64>")]
    pub last_ts: Option<i64>,
    /// Newest retained raw sample's value.
    pub last_value: Option<f64>,
    /// What the values measure: the metric rule's `unit`, or what a
    /// Prometheus name implies; null when unknown.
    pub unit: Option<telltale_model::Unit>,
}

impl SeriesInfoView {
    /// A stored series with its unit from the feed's config.
    pub fn new(s: SeriesInfo, config: &telltale_model::FeedConfig) -> Self {
        SeriesInfoView {
            id: s.id,
            unit: config.unit_of(&s.metric),
            metric: s.metric,
            labels: s.labels,
            last_ts: s.last_ts.map(ms),
            last_value: s.last_value,
        }
    }
}

/// One feed in full: its editable config (secrets masked), its series and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct FeedDetail {
    /// Summary and status.
    pub feed: FeedView,
    /// The config, ready to edit and send back to `upsert_feed`: masked
    /// header values (`••••••`, `Bearer ••••••`) and redacted URL
    /// credentials sent back unchanged keep the stored secret.
    pub config: FeedConfig,
    /// Its series.
    pub series: Vec<SeriesInfoView>,
    /// When it was first stored (ms).
    #[ts(type = "number")]
    pub created_at: i64,
    /// When its config last changed (ms).
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// The storage tier a series was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum TierView {
    /// Raw samples.
    Raw,
    /// 1-minute rollups.
    Minute,
    /// 1-hour rollups.
    Hour,
}

impl From<Tier> for TierView {
    fn from(t: Tier) -> Self {
        match t {
            Tier::Raw => TierView::Raw,
            Tier::Minute => TierView::Minute,
            Tier::Hour => TierView::Hour,
        }
    }
}

/// One bucket of a chart. `min` and `max` cover every sample in it, so
/// spikes survive any grouping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct PointView {
    /// Start of the bucket (ms).
    #[ts(type = "number")]
    pub ts: i64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub avg: f64,
    /// Samples summarized.
    #[ts(type = "number")]
    pub count: u64,
}

impl From<Point> for PointView {
    fn from(p: Point) -> Self {
        PointView {
            ts: ms(p.ts),
            min: p.min,
            max: p.max,
            avg: p.avg,
            count: p.count,
        }
    }
}

/// A series over a range, at most `max_points` buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct SeriesView {
    /// Feed name.
    pub feed: String,
    /// Series id.
    #[ts(type = "number")]
    pub series_id: i64,
    /// Metric name.
    pub metric: String,
    /// Labels.
    pub labels: LabelsView,
    /// Start of the range (ms, inclusive).
    #[ts(type = "number")]
    pub from: i64,
    /// End of the range (ms, exclusive).
    #[ts(type = "number")]
    pub to: i64,
    /// The tier the points come from.
    pub tier: TierView,
    /// Width of each bucket in ms (fractional for very short ranges).
    pub bucket_ms: f64,
    /// One point per non-empty bucket, oldest first. Missing buckets are gaps.
    pub points: Vec<PointView>,
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct EventView {
    /// Event id (arrival order); pass as `before_id` to page back.
    #[ts(type = "number")]
    pub id: i64,
    /// Feed id.
    #[ts(type = "number")]
    pub feed_id: i64,
    /// Feed name.
    pub feed: String,
    /// When it was received (ms).
    #[ts(type = "number")]
    pub received_at: i64,
    /// The server's id or cursor.
    pub server_id: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// The payload as text (invalid UTF-8 replaced), at most 16 KiB.
    pub data: String,
    /// The original payload size in bytes.
    pub size: u32,
    /// True when `data` is not the whole payload.
    pub truncated: bool,
}

/// Payload text in event listings is cut to this many bytes.
pub(crate) const EVENT_TEXT_CAP: usize = 16 * 1024;

impl EventView {
    pub(crate) fn new(e: StoredEvent, feed: String) -> EventView {
        let cut = e.data.len().min(EVENT_TEXT_CAP);
        EventView {
            id: e.id,
            feed_id: e.feed_id,
            feed,
            received_at: ms(e.received_at),
            server_id: e.server_id,
            event_type: e.event_type,
            data: String::from_utf8_lossy(&e.data[..cut]).into_owned(),
            size: e.size,
            truncated: e.truncated || cut < e.data.len(),
        }
    }
}

/// A page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct EventPage {
    /// The events.
    pub events: Vec<EventView>,
    /// Pass as `before_id` for the next (older) page; `null` at the end.
    #[ts(as = "Option<f64>")]
    pub next_before_id: Option<i64>,
}

/// One entry of a feed's connection timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct TimelineEntryView {
    /// When (ms).
    #[ts(type = "number")]
    pub ts: i64,
    /// `state` for state changes, else the issue kind (`payload`, `oversize`, `close`, …).
    pub kind: String,
    /// The state's name (for issues: the state the feed was in).
    pub state: String,
    /// For states, a description (`retrying (attempt 2, …): connection refused`);
    /// for issues, the message.
    pub detail: Option<String>,
}

impl From<TimelineEntry> for TimelineEntryView {
    fn from(e: TimelineEntry) -> Self {
        let detail = if e.kind == "state" {
            e.detail
                .map(|d| match serde_json::from_str::<ConnState>(&d) {
                    Ok(s) => s.describe(),
                    Err(_) => d,
                })
        } else {
            e.detail
        };
        TimelineEntryView {
            ts: ms(e.ts),
            kind: e.kind,
            state: e.state,
            detail,
        }
    }
}

/// A feed's timeline over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct TimelineView {
    /// Feed name.
    pub feed: String,
    /// Start of the range (ms).
    #[ts(type = "number")]
    pub from: i64,
    /// End of the range (ms).
    #[ts(type = "number")]
    pub to: i64,
    /// The state the feed was in at `from` (its last state change before it).
    pub initial: Option<TimelineEntryView>,
    /// State changes and issues in the range, oldest first (the newest 10,000).
    pub entries: Vec<TimelineEntryView>,
    /// Maintenance windows over the range: not counted against uptime.
    pub maintenance: Vec<crate::maintenance::MaintenanceSpanView>,
}

/// Where an alert is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum PhaseView {
    /// The condition does not hold.
    Ok,
    /// The condition holds, not yet for long enough.
    Pending,
    /// Firing.
    Firing,
    /// Was firing, now clear.
    Resolved,
}

impl From<Phase> for PhaseView {
    fn from(p: Phase) -> Self {
        match p {
            Phase::Ok => PhaseView::Ok,
            Phase::Pending => PhaseView::Pending,
            Phase::Firing => PhaseView::Firing,
            Phase::Resolved => PhaseView::Resolved,
        }
    }
}

/// One alert: a rule applied to one series of one feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct AlertView {
    /// Alert id (for actions and history).
    #[ts(type = "number")]
    pub id: i64,
    /// Feed id.
    #[ts(type = "number")]
    pub feed_id: i64,
    /// Feed name.
    pub feed: String,
    /// Rule name.
    pub rule: String,
    /// The series' labels (empty for unlabelled metrics and non-metric rules).
    pub labels: LabelsView,
    /// Severity.
    pub severity: Severity,
    /// Phase.
    pub phase: PhaseView,
    /// When the current phase began (ms).
    #[ts(type = "number")]
    pub since: i64,
    /// The value behind the last transition, if numeric.
    pub value: Option<f64>,
    /// When the current (or last) firing began (ms).
    #[ts(as = "Option<f64>")]
    pub fired_at: Option<i64>,
    /// When the last firing resolved (ms).
    #[ts(as = "Option<f64>")]
    pub resolved_at: Option<i64>,
    /// When the current firing was acknowledged (ms).
    #[ts(as = "Option<f64>")]
    pub acked_at: Option<i64>,
    /// When operators were last notified (ms).
    #[ts(as = "Option<f64>")]
    pub last_notified_at: Option<i64>,
    /// The rendered summary.
    pub summary: String,
}

impl From<AlertInstance> for AlertView {
    fn from(i: AlertInstance) -> Self {
        AlertView {
            id: i.id,
            feed_id: i.feed_id,
            feed: i.feed,
            rule: i.rule,
            labels: serde_json::from_str(&i.series).unwrap_or_default(),
            severity: i.severity,
            phase: i.phase.into(),
            since: ms(i.since),
            value: i.value,
            fired_at: i.fired_at.map(ms),
            resolved_at: i.resolved_at.map(ms),
            acked_at: i.acked_at.map(ms),
            last_notified_at: i.last_notified_at.map(ms),
            summary: i.summary,
        }
    }
}

/// One entry of an alert's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct AlertHistoryView {
    /// Entry id.
    #[ts(type = "number")]
    pub id: i64,
    /// The alert.
    #[ts(type = "number")]
    pub alert_id: i64,
    /// When (ms).
    #[ts(type = "number")]
    pub ts: i64,
    /// `pending`, `fired`, `cancelled`, `resolved`, `acknowledged`, `snoozed`, `notified` (a notification server took it), `not_delivered` (with the reason), `suppressed`.
    pub kind: String,
    /// The value at that moment, if numeric.
    pub value: Option<f64>,
    /// Details.
    pub detail: String,
}

impl From<AlertHistoryRow> for AlertHistoryView {
    fn from(h: AlertHistoryRow) -> Self {
        AlertHistoryView {
            id: h.id,
            alert_id: h.alert_id,
            ts: ms(h.ts),
            kind: h.kind,
            value: h.value,
            detail: h.detail,
        }
    }
}

/// Whether notifications are muted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct MuteView {
    /// True while muted.
    pub muted: bool,
    /// Until when (ms); `null` with `muted` means until unmuted.
    #[ts(as = "Option<f64>")]
    pub until: Option<i64>,
}

/// Database size and row counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct DbStatsView {
    /// Database size in bytes.
    #[ts(type = "number")]
    pub file_bytes: u64,
    /// Bytes in free pages.
    #[ts(type = "number")]
    pub free_bytes: u64,
    /// Size of the `-wal` file.
    #[ts(type = "number")]
    pub wal_bytes: u64,
    /// Page size.
    #[ts(type = "number")]
    pub page_size: u64,
    /// Feeds.
    #[ts(type = "number")]
    pub feeds: u64,
    /// Stored events.
    #[ts(type = "number")]
    pub events: u64,
    /// Series.
    #[ts(type = "number")]
    pub series: u64,
    /// Raw samples.
    #[ts(type = "number")]
    pub samples: u64,
    /// 1-minute rollup rows.
    #[ts(type = "number")]
    pub rollup_1m: u64,
    /// 1-hour rollup rows.
    #[ts(type = "number")]
    pub rollup_1h: u64,
    /// Timeline rows.
    #[ts(type = "number")]
    pub feed_states: u64,
    /// Bytes in use (pages not free): what the disk budget counts.
    #[ts(type = "number")]
    pub used_bytes: u64,
    /// The disk budget in force, if any.
    #[ts(as = "Option<f64>")]
    pub budget_bytes: Option<u64>,
    /// What each feed holds, largest first (estimates).
    pub per_feed: Vec<FeedStorageView>,
}

/// What one feed holds on disk (estimated from rows and payload lengths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct FeedStorageView {
    /// The feed's name.
    pub feed: String,
    /// Stored events.
    #[ts(type = "number")]
    pub events: u64,
    /// Their bytes (payloads as stored, compressed, plus rows).
    #[ts(type = "number")]
    pub event_bytes: u64,
    /// Raw samples.
    #[ts(type = "number")]
    pub samples: u64,
    /// Their bytes.
    #[ts(type = "number")]
    pub sample_bytes: u64,
    /// Rollup rows' bytes.
    #[ts(type = "number")]
    pub rollup_bytes: u64,
}

impl DbStatsView {
    /// The view of `s`, naming feeds from `names`.
    pub fn new(
        s: DbStats,
        names: &std::collections::HashMap<i64, String>,
        budget_bytes: Option<u64>,
    ) -> DbStatsView {
        let per_feed = s
            .per_feed
            .iter()
            .map(|f| FeedStorageView {
                feed: names
                    .get(&f.feed_id)
                    .cloned()
                    .unwrap_or_else(|| format!("feed #{}", f.feed_id)),
                events: f.events,
                event_bytes: f.event_bytes,
                samples: f.samples,
                sample_bytes: f.sample_bytes,
                rollup_bytes: f.rollup_bytes,
            })
            .collect();
        DbStatsView {
            used_bytes: s.used_bytes,
            budget_bytes,
            per_feed,
            ..DbStatsView::from(s)
        }
    }
}

impl From<DbStats> for DbStatsView {
    fn from(s: DbStats) -> Self {
        DbStatsView {
            used_bytes: s.used_bytes,
            budget_bytes: None,
            per_feed: Vec::new(),
            file_bytes: s.file_bytes,
            free_bytes: s.free_bytes,
            wal_bytes: s.wal_bytes,
            page_size: s.page_size,
            feeds: s.feeds,
            events: s.events,
            series: s.series,
            samples: s.samples,
            rollup_1m: s.rollup_1m,
            rollup_1h: s.rollup_1h,
            feed_states: s.feed_states,
        }
    }
}

/// One problem found while importing a config text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ImportErrorView {
    /// 1-based line in the imported text, when known.
    pub line: Option<u32>,
    /// The feed's name (or `feed #N`).
    pub feed: Option<String>,
    /// Field path within the feed (`poll.interval`).
    pub field: Option<String>,
    /// What is wrong and what would be valid.
    pub message: String,
}

/// What an import did. Feeds with errors are skipped; the others are applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ImportReport {
    /// Names of the feeds added or replaced.
    pub imported: Vec<String>,
    /// Problems, each naming line, feed and field where known.
    pub errors: Vec<ImportErrorView>,
    /// Remarks (e.g. settings that only apply at startup).
    pub notes: Vec<String>,
}

pub use crate::live_views::*;
