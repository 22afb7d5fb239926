//! `telltale`: the desktop app (see the `telltale_desktop` library).
//!
//! Environment: `TELLTALE_DB` overrides the database path (default
//! `telltale.db` in the app data directory, e.g.
//! `~/.local/share/dev.telltale.app/`). `TELLTALE_DEMO=1` starts the demo
//! fleet and adds its feeds at launch, like the *Add demo fleet* button.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;
use telltale_desktop::{run_app, AppOptions};

fn main() -> ExitCode {
    // Before any thread starts: nothing else reads the environment yet.
    for (k, v) in telltale_api::shell::web_view_environment(|k| std::env::var(k).ok()) {
        std::env::set_var(k, v);
    }
    let opts = AppOptions {
        db: std::env::var_os("TELLTALE_DB").map(Into::into),
        ..AppOptions::default()
    };
    match run_app(tauri::Builder::default(), tauri::generate_context!(), opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("telltale: {e}");
            ExitCode::FAILURE
        }
    }
}
