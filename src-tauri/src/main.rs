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

/// Gives the web view a valid language when the process runs in the C/POSIX
/// locale: WebKitGTK then reports `navigator.language` as `"C"`, which is no
/// BCP 47 tag, and `Intl.NumberFormat(navigator.language)` (uPlot does this
/// at load) throws, leaving the window blank.
fn ensure_web_language() {
    if std::env::var_os("LANGUAGE").is_some_and(|v| !v.is_empty()) {
        return;
    }
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let base = locale.split(['.', '@']).next().unwrap_or_default();
    if base.is_empty() || base == "C" || base == "POSIX" {
        // Before any thread starts: nothing else reads the environment yet.
        // GLib ignores LANGUAGE under the C locale, so set LC_ALL too (the
        // C library falls back to C if en_US is not installed).
        std::env::set_var("LC_ALL", "en_US.UTF-8");
        std::env::set_var("LANGUAGE", "en_US");
    }
}

/// Keeps JavaScriptCore's optimising JIT tiers (DFG, FTL) off in the web
/// process unless `JSC_useDFGJIT` is already set. The dashboard's scripts are
/// light (a few tiles and charts redrawn at most four times a second), the
/// baseline JIT still compiles hot code, and the optimised code and its
/// profiling data cost about 9 MiB of the web process's memory (measured:
/// 125 → 116 MiB PSS with the demo fleet). The web process inherits this
/// process's environment.
fn lighter_script_engine() {
    if cfg!(target_os = "linux") && std::env::var_os("JSC_useDFGJIT").is_none() {
        // Before any thread starts: nothing else reads the environment yet.
        std::env::set_var("JSC_useDFGJIT", "false");
    }
}

fn main() -> ExitCode {
    ensure_web_language();
    lighter_script_engine();
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
