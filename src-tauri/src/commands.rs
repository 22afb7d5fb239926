//! The IPC commands. Every API operation goes through one command, `call`,
//! which runs [`telltale_api::dispatch`]: the operations are declared once
//! in `telltale_api::ops`, with their request types and defaults, and the
//! UI's client is typed from the generated `Operations` map:
//!
//! | command | args (JSON keys) | resolves to |
//! |---|---|---|
//! | `call` | `{ op, request }` (e.g. `{ op: "series", request: { feed, metric } }`) | the operation's response |
//! | `subscribe_live` | `{ channel }` (a `Channel<LiveMessage>`) | `null`; then messages on the channel |
//! | `add_demo_fleet` | – | `ImportReport` |
//!
//! Every failure rejects with the API's `{code, message}` ([`ApiError`]).
//!
//! The live stream: `subscribe_live` starts a task that forwards
//! [`Api::live`] messages (already merged to at most ~30 a second) to the
//! channel until a send fails or the page that subscribed is reloaded.
//! `add_demo_fleet` belongs to the desktop shell (the simulator runs in it).
//!
//! The window also receives the event `alert-open` (payload: the alert id)
//! when a desktop notification is clicked, and `shell-notice` (a line of
//! text) when the shell wants to say something in the window.

use crate::LiveTasks;
use tauri::ipc::Channel;
use tauri::State;
use telltale_api::demo::{self, DemoFleet};
use telltale_api::{Api, ApiError, ImportReport, LiveMessage};

/// Runs the API operation `op` (see `telltale_api::ops`) with `request`.
#[tauri::command]
pub async fn call(
    api: State<'_, Api>,
    op: String,
    request: serde_json::Value,
) -> Result<Box<serde_json::value::RawValue>, ApiError> {
    // JSON text, so the fields keep their declared order.
    telltale_api::dispatch(&api, &op, request).await
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

/// Starts the simulated fleet in-process (once) and imports its five feeds
/// (see [`telltale_api::demo`]).
#[tauri::command]
pub async fn add_demo_fleet(
    api: State<'_, Api>,
    demo: State<'_, DemoFleet>,
) -> Result<ImportReport, ApiError> {
    demo::add(&demo, &api).await
}
