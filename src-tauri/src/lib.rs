//! Telltale's desktop app: a thin Tauri 2 shell over [`telltale_api::Api`].
//!
//! All networking happens in Rust (the engine and its sources); the web UI
//! (`ui/dist`, served from the app's own assets, no remote content) talks to
//! the engine only through the IPC commands in [`commands`], and receives
//! live data in merged batches over a Tauri `Channel`. Errors cross the IPC
//! boundary as `{code, message}` ([`telltale_api::ApiError`]).
//!
//! [`configure`] adds everything to a `tauri::Builder` for any runtime (so
//! tests can use `tauri::test::mock_builder()`), [`run_app`] builds and runs
//! it. On start the app opens `telltale.db` in the app data directory,
//! starts the engine with the stored feeds, notifies on the desktop where a
//! session bus exists, and puts a lamp in the system tray. Closing the
//! window hides it while a tray exists; without one (the tray library is
//! missing) the window stays open and a second close quits ([`no_tray`]).
//! *Quit* stops the engine cleanly.

pub mod commands;
mod no_tray;
mod tray;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tauri::async_runtime::JoinHandle;
use tauri::{Emitter, Manager, RunEvent, Runtime, WindowEvent};
use telltale_api::demo::{self, DemoFleet};
use telltale_api::{Api, RuntimeOptions, StoreOptions};

/// Label of the one window.
pub const MAIN_WINDOW: &str = "main";
/// Event sent to the UI when a notification is clicked (payload: alert id).
pub const ALERT_OPEN_EVENT: &str = "alert-open";
/// The SQLite writer's page cache in the desktop app, in MiB. The store's
/// default (64) suits `telltaled` with a thousand feeds; a desktop's tens
/// of feeds have a small hot set, so a smaller cache bounds the app
/// process's memory (the store also releases it every minute:
/// `StoreOptions::release_cache_every`; figures in docs/benchmarks.md).
pub const DESKTOP_CACHE_MIB: u32 = 8;

/// How the app starts.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The SQLite database; `None` for `telltale.db` in the app data dir.
    pub db: Option<PathBuf>,
    /// Send desktop notifications (where a D-Bus session bus exists).
    pub notify: bool,
    /// Put an icon in the system tray.
    pub tray: bool,
    /// Register the single-instance, window-state and log plugins.
    pub desktop_plugins: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            db: None,
            notify: true,
            tray: true,
            desktop_plugins: true,
        }
    }
}

/// The live-stream forwarding tasks, by webview label; a page reload ends
/// that webview's tasks (its channels are gone).
#[derive(Debug, Default)]
pub struct LiveTasks(Mutex<HashMap<String, Vec<JoinHandle<()>>>>);

impl LiveTasks {
    /// Keeps a task for `label`.
    pub fn add(&self, label: &str, task: JoinHandle<()>) {
        if let Ok(mut m) = self.0.lock() {
            m.entry(label.to_string()).or_default().push(task);
        }
    }

    /// Ends every task of `label`.
    pub fn abort(&self, label: &str) {
        let tasks = self.0.lock().ok().and_then(|mut m| m.remove(label));
        for t in tasks.into_iter().flatten() {
            t.abort();
        }
    }
}

/// Set once the engine has been asked to stop, so that it stops once.
#[derive(Debug, Default)]
struct Stopping(AtomicBool);

/// Whether a tray icon exists (then closing the window only hides it).
#[derive(Debug, Default)]
pub struct TrayPresent(pub AtomicBool);

/// Stops the demo fleet and the engine (flushing to disk), once.
pub async fn shutdown<R: Runtime>(app: &tauri::AppHandle<R>) {
    let Some(stopping) = app.try_state::<Stopping>() else {
        return;
    };
    if stopping.0.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Some(demo) = app.try_state::<DemoFleet>() {
        demo.stop().await;
    }
    if let Some(api) = app.try_state::<Api>() {
        let engine = api.engine().clone();
        match engine.shutdown().await {
            Ok(()) => tracing::info!("engine stopped cleanly"),
            Err(e) => tracing::warn!("engine shutdown: {e}"),
        }
    }
}

/// Shows, unminimizes and focuses the main window.
pub fn show_main<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// The log: stdout and `<app log dir>/Telltale.log` (on Linux
/// `~/.local/share/dev.telltale.app/logs/`), rotated at 1 MiB keeping 5
/// older files, at the levels `RUST_LOG` asks for (default `info`).
fn log_plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    use telltale_api::shell::{LogFilter, LOG_FILES_KEPT, LOG_FILE_BYTES};
    let level = |l: tracing::level_filters::LevelFilter| match l.into_level() {
        None => log::LevelFilter::Off,
        Some(tracing::Level::ERROR) => log::LevelFilter::Error,
        Some(tracing::Level::WARN) => log::LevelFilter::Warn,
        Some(tracing::Level::INFO) => log::LevelFilter::Info,
        Some(tracing::Level::DEBUG) => log::LevelFilter::Debug,
        Some(tracing::Level::TRACE) => log::LevelFilter::Trace,
    };
    let filter = LogFilter::parse(std::env::var("RUST_LOG").ok().as_deref());
    let mut b = tauri_plugin_log::Builder::new()
        .level(level(filter.default))
        .max_file_size(u128::from(LOG_FILE_BYTES))
        .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(LOG_FILES_KEPT));
    for (target, l) in filter.targets {
        b = b.level_for(target, level(l));
    }
    if !filter.ignored.is_empty() {
        eprintln!(
            "telltale: RUST_LOG: ignored {:?} (not a level or target=level)",
            filter.ignored
        );
    }
    b.build()
}

/// Adds Telltale's plugins, commands, state, setup and window handling to
/// `builder` (any runtime: the real one or `tauri::test::mock_builder()`).
pub fn configure<R: Runtime>(builder: tauri::Builder<R>, opts: AppOptions) -> tauri::Builder<R> {
    let mut builder = builder;
    if opts.desktop_plugins {
        // Single-instance first: a second launch focuses this one and exits.
        builder = builder
            .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
                show_main(app);
            }))
            .plugin(tauri_plugin_window_state::Builder::default().build())
            .plugin(log_plugin());
    }
    builder
        .manage(LiveTasks::default())
        .manage(DemoFleet::default())
        .manage(Stopping::default())
        .manage(TrayPresent::default())
        .manage(no_tray::CloseWarned::default())
        .invoke_handler(tauri::generate_handler![
            commands::call,
            commands::subscribe_live,
            commands::add_demo_fleet,
        ])
        .on_page_load(|webview, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Started {
                if let Some(tasks) = webview.try_state::<LiveTasks>() {
                    tasks.abort(webview.label());
                }
            }
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let tray = window
                    .try_state::<TrayPresent>()
                    .is_some_and(|t| t.0.load(Ordering::SeqCst));
                if tray && window.label() == MAIN_WINDOW {
                    // Monitoring goes on in the tray.
                    api.prevent_close();
                    let _ = window.hide();
                } else if !tray {
                    // Nothing could bring a hidden window back: it stays
                    // open, and the first close explains instead.
                    let go = window
                        .try_state::<no_tray::CloseWarned>()
                        .is_none_or(|w| no_tray::close_requested(window, &w));
                    if !go {
                        api.prevent_close();
                    }
                }
            }
        })
        .setup(move |app| {
            let api = start_engine(app.handle(), &opts)?;
            app.manage(api.clone());
            if std::env::var_os("TELLTALE_DEMO").is_some_and(|v| v == "1") {
                start_demo(app.handle().clone(), api.clone());
            }
            if opts.tray {
                match no_tray::create_tray(app.handle()) {
                    Ok(()) => {
                        app.state::<TrayPresent>().0.store(true, Ordering::SeqCst);
                        tray::spawn_updates(app.handle().clone(), api);
                    }
                    Err(e) => tracing::warn!(
                        "no tray icon: {e}. Telltale runs without one; closing the window \
                         asks first, since it stops monitoring"
                    ),
                }
            }
            Ok(())
        })
}

/// `TELLTALE_DEMO=1`: starts the demo fleet and adds its feeds at launch,
/// as *Add demo fleet* does (for benchmarks and unattended demos).
fn start_demo<R: Runtime>(app: tauri::AppHandle<R>, api: Api) {
    tauri::async_runtime::spawn(async move {
        let Some(demo) = app.try_state::<DemoFleet>() else {
            return;
        };
        if let Err(e) = demo::add(&demo, &api).await {
            tracing::warn!("TELLTALE_DEMO: cannot add the demo fleet: {}", e.message);
        }
    });
}

/// A desktop's disk is shared with everything else on it: a new database
/// gets a 1 GiB disk budget (changeable in Settings → Storage).
fn desktop_defaults() -> telltale_api::Settings {
    let mut s = telltale_api::Settings::default();
    s.store.disk_budget = Some(telltale_api::ByteSize(DESKTOP_DISK_BUDGET));
    s
}

/// The disk budget of a new desktop database.
pub const DESKTOP_DISK_BUDGET: u64 = 1 << 30;

/// Starts Telltale's [`telltale_api::Runtime`] on the database (the app
/// data directory's `telltale.db` unless given) with the stored feeds; a
/// click on a notification shows the window on that alert.
fn start_engine<R: Runtime>(
    app: &tauri::AppHandle<R>,
    opts: &AppOptions,
) -> Result<Api, Box<dyn std::error::Error>> {
    let db = match &opts.db {
        Some(p) => p.clone(),
        None => app.path().app_data_dir()?.join("telltale.db"),
    };
    let open_alert = {
        let app = app.clone();
        Arc::new(move |id: i64| {
            show_main(&app);
            if let Err(e) = app.emit_to(MAIN_WINDOW, ALERT_OPEN_EVENT, id) {
                tracing::warn!("cannot tell the UI about alert {id}: {e}");
            }
        })
    };
    let runtime = tauri::async_runtime::block_on(async {
        let runtime = telltale_api::Runtime::start(RuntimeOptions {
            db: db.clone(),
            store: StoreOptions {
                cache_mib: DESKTOP_CACHE_MIB,
                ..Default::default()
            },
            notify: opts.notify,
            on_open_alert: Some(open_alert),
            defaults: desktop_defaults(),
            hooks_listen: telltale_api::hooks_listen_from_env(),
            ..Default::default()
        })
        .await?;
        let n = runtime.start_feeds().await?;
        tracing::info!("Telltale running on {} with {n} feed(s)", db.display());
        let app = app.clone();
        runtime.on_fatal(move |_| app.exit(70));
        Ok::<_, telltale_api::RuntimeError>(runtime)
    })?;
    Ok(runtime.api().clone())
}

/// Builds the app from `builder` and `context`, and runs it until *Quit*.
pub fn run_app<R: Runtime>(
    builder: tauri::Builder<R>,
    context: tauri::Context<R>,
    opts: AppOptions,
) -> tauri::Result<()> {
    let app = configure(builder, opts).build(context)?;
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            tauri::async_runtime::block_on(shutdown(app));
        }
    });
    Ok(())
}
