//! Generates Tauri's context and the permissions of the app's own commands
//! (`allow-<command>` / `deny-<command>`, used by `capabilities/default.json`).

/// Every command the shell registers (keep in sync with `src/commands.rs`):
/// the API's operations all go through `call`.
const COMMANDS: &[&str] = &["call", "subscribe_live", "add_demo_fleet"];

fn main() {
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri-build failed: {e:#}"));
}
