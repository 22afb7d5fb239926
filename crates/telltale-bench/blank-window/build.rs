//! Generates the Tauri context of the blank window.

fn main() {
    tauri_build::build();
}
