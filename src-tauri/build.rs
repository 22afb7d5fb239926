//! Generates Tauri's context and the permissions of the app's own commands
//! (`allow-<command>` / `deny-<command>`, used by `capabilities/default.json`).

/// Every command the shell registers (keep in sync with `src/commands.rs`).
const COMMANDS: &[&str] = &[
    "list_feeds",
    "get_feed",
    "upsert_feed",
    "delete_feed",
    "test_feed",
    "series",
    "events",
    "timeline",
    "alerts",
    "alert_action",
    "alert_history",
    "mute_state",
    "health",
    "db_stats",
    "compact_db",
    "settings",
    "update_settings",
    "export_config",
    "import_config",
    "subscribe_live",
    "add_demo_fleet",
];

fn main() {
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri-build failed: {e:#}"));
}
