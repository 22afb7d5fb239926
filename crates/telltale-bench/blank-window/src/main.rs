//! `telltale-blank-window`: one Tauri window with a static page and nothing
//! else: no commands, plugins, tray or engine. `telltale-bench` measures
//! its memory next to the real app's as the baseline of scenario 6.

use std::process::ExitCode;

fn main() -> ExitCode {
    match tauri::Builder::default().run(tauri::generate_context!()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("telltale-blank-window: {e}");
            ExitCode::FAILURE
        }
    }
}
