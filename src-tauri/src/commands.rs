//! The IPC commands: one-line adapters over [`telltale_api::Api`].
//!
//! Command names are snake_case; Tauri converts each Rust parameter name to
//! camelCase, so the UI calls them exactly like this (`invoke(name, args)`):
//!
//! | command | args (JSON keys) | resolves to |
//! |---|---|---|
//! | `list_feeds` | – | `FeedView[]` |
//! | `get_feed` | `{ name }` | `FeedDetail` |
//! | `upsert_feed` | `{ input }` (a `FeedConfig`) | `FeedView` |
//! | `delete_feed` | `{ name }` | `null` |
//! | `test_feed` | `{ input }` (a `ProbeInput`) | `ProbeReport` |
//! | `series` | `{ feed, metric, labels?, from?, to?, maxPoints? }` | `SeriesView` |
//! | `events` | `{ feed?, beforeId?, search?, limit? }` | `EventPage` |
//! | `timeline` | `{ feed, from?, to? }` | `TimelineView` |
//! | `alerts` | – | `AlertView[]` |
//! | `alert_action` | `{ action }` (an `AlertActionInput`) | `null` |
//! | `alert_history` | `{ id }` | `AlertHistoryView[]` |
//! | `mute_state` | – | `MuteView` |
//! | `health` | – | `HealthView` |
//! | `db_stats` | – | `DbStatsView` |
//! | `compact_db` | – | `CompactView` |
//! | `settings` | – | `SettingsView` |
//! | `update_settings` | `{ settings }` (a `SettingsView`) | `SettingsView` |
//! | `export_config` | – | TOML `string` |
//! | `import_config` | `{ text }` | `ImportReport` |
//! | `subscribe_live` | `{ channel }` (a `Channel<LiveMessage>`) | `null`; then messages on the channel |
//! | `add_demo_fleet` | – | `ImportReport` |
//!
//! Optional args may be left out or `null`. Defaults match the HTTP API:
//! `from`/`to` the last hour (ms since the Unix epoch), `labels` `{}`,
//! `maxPoints` 600, `limit` 100. Every failure rejects with the API's
//! `{code, message}` ([`ApiError`]).
//!
//! The live stream: `subscribe_live` starts a task that forwards
//! [`Api::live`] messages (already merged to at most ~30 a second) to the
//! channel until a send fails or the page that subscribed is reloaded.
//!
//! The window also receives the event `alert-open` (payload: the alert id)
//! when a desktop notification is clicked.

use crate::{DemoFleet, LiveTasks};
use tauri::ipc::Channel;
use tauri::State;
use telltale_api::{
    AlertActionInput, AlertHistoryView, AlertView, Api, ApiError, CompactView, DbStatsView,
    EventPage, FeedConfig, FeedDetail, FeedView, ImportReport, LabelsView, LiveMessage, MuteView,
    SeriesView, SettingsInput, SettingsView, TimelineView,
};
use telltale_model::Timestamp;

/// Default chart resolution, as in the HTTP API.
const DEFAULT_MAX_POINTS: u32 = 600;
/// Default events page, as in the HTTP API.
const DEFAULT_EVENTS_LIMIT: u32 = 100;
/// Default time range: the last hour.
const DEFAULT_RANGE_MS: i64 = 3_600_000;

/// `[from, to)` with the HTTP API's defaults (the last hour).
fn range(from: Option<i64>, to: Option<i64>) -> (i64, i64) {
    let to = to.unwrap_or_else(|| Timestamp::now().as_millis());
    (from.unwrap_or(to - DEFAULT_RANGE_MS), to)
}

/// Every stored feed with its status.
#[tauri::command]
pub async fn list_feeds(api: State<'_, Api>) -> Result<Vec<FeedView>, ApiError> {
    api.list_feeds().await
}

/// One feed: config (secrets masked), series and status.
#[tauri::command]
pub async fn get_feed(api: State<'_, Api>, name: String) -> Result<FeedDetail, ApiError> {
    api.get_feed(&name).await
}

/// Adds or replaces the feed named `input.name`.
#[tauri::command]
pub async fn upsert_feed(api: State<'_, Api>, input: FeedConfig) -> Result<FeedView, ApiError> {
    api.upsert_feed(input).await
}

/// Stops and deletes a feed with its history.
#[tauri::command]
pub async fn delete_feed(api: State<'_, Api>, name: String) -> Result<(), ApiError> {
    api.delete_feed(&name).await
}

/// One series of a feed over `[from, to)`.
#[tauri::command]
pub async fn series(
    api: State<'_, Api>,
    feed: String,
    metric: String,
    labels: Option<LabelsView>,
    from: Option<i64>,
    to: Option<i64>,
    max_points: Option<u32>,
) -> Result<SeriesView, ApiError> {
    let (from, to) = range(from, to);
    let labels = labels.unwrap_or_default();
    let max_points = max_points.unwrap_or(DEFAULT_MAX_POINTS);
    api.series(&feed, &metric, &labels, from, to, max_points)
        .await
}

/// Stored events, newest first, one page.
#[tauri::command]
pub async fn events(
    api: State<'_, Api>,
    feed: Option<String>,
    before_id: Option<i64>,
    search: Option<String>,
    limit: Option<u32>,
) -> Result<EventPage, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
    api.events(feed.as_deref(), before_id, search.as_deref(), limit)
        .await
}

/// A feed's connection timeline over `[from, to)`.
#[tauri::command]
pub async fn timeline(
    api: State<'_, Api>,
    feed: String,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<TimelineView, ApiError> {
    let (from, to) = range(from, to);
    api.timeline(&feed, from, to).await
}

/// Every alert, newest change first.
#[tauri::command]
pub async fn alerts(api: State<'_, Api>) -> Result<Vec<AlertView>, ApiError> {
    api.alerts().await
}

/// Acknowledges, snoozes, mutes or unmutes.
#[tauri::command]
pub async fn alert_action(api: State<'_, Api>, action: AlertActionInput) -> Result<(), ApiError> {
    api.alert_action(action).await
}

/// One alert's history, oldest first.
#[tauri::command]
pub async fn alert_history(
    api: State<'_, Api>,
    id: i64,
) -> Result<Vec<AlertHistoryView>, ApiError> {
    api.alert_history(id).await
}

/// Whether notifications are muted, and until when.
#[tauri::command]
pub async fn mute_state(api: State<'_, Api>) -> Result<MuteView, ApiError> {
    api.mute_state().await
}

/// The version, and whether Telltale is storing what it receives.
#[tauri::command]
pub async fn health(api: State<'_, Api>) -> Result<telltale_api::HealthView, ApiError> {
    api.health().await
}

/// Database size and row counts.
#[tauri::command]
pub async fn db_stats(api: State<'_, Api>) -> Result<DbStatsView, ApiError> {
    api.db_stats().await
}

/// *Test connection*: runs the feed's source briefly without storing anything.
#[tauri::command]
pub async fn test_feed(
    api: State<'_, Api>,
    input: telltale_api::ProbeInput,
) -> Result<telltale_api::ProbeReport, ApiError> {
    api.test_feed(input).await
}

/// Runs retention now and gives free pages back to the file system.
#[tauri::command]
pub async fn compact_db(api: State<'_, Api>) -> Result<CompactView, ApiError> {
    api.compact_db().await
}

/// The `[store]` and `[alerts]` settings in force.
#[tauri::command]
pub async fn settings(api: State<'_, Api>) -> Result<SettingsView, ApiError> {
    api.settings().await
}

/// Replaces, stores and applies every setting (no restart needed).
#[tauri::command]
pub async fn update_settings(
    api: State<'_, Api>,
    settings: SettingsInput,
) -> Result<SettingsView, ApiError> {
    api.update_settings(settings).await
}

/// The stored feeds as TOML (secrets masked).
#[tauri::command]
pub async fn export_config(api: State<'_, Api>) -> Result<String, ApiError> {
    api.export_config().await
}

/// Imports config text (TOML).
#[tauri::command]
pub async fn import_config(api: State<'_, Api>, text: String) -> Result<ImportReport, ApiError> {
    api.import_config(&text).await
}

/// Streams live data to `channel`, in merged batches (≤ ~30 messages/s).
#[tauri::command]
pub async fn subscribe_live<R: tauri::Runtime>(
    webview: tauri::Webview<R>,
    api: State<'_, Api>,
    tasks: State<'_, LiveTasks>,
    channel: Channel<LiveMessage>,
) -> Result<(), ApiError> {
    let mut live = api.live();
    let task = tauri::async_runtime::spawn(async move {
        while let Some(msg) = live.next().await {
            if channel.send(msg).is_err() {
                break;
            }
        }
    });
    tasks.add(webview.label(), task);
    Ok(())
}

/// Starts the simulated fleet in-process (once) and imports its five feeds.
#[tauri::command]
pub async fn add_demo_fleet(
    api: State<'_, Api>,
    demo: State<'_, DemoFleet>,
) -> Result<ImportReport, ApiError> {
    let base = demo.start().await?;
    api.import_config(&telltale_sim::feeds_toml(&base, crate::DEMO_HOSTS))
        .await
}
