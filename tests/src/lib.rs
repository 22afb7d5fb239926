//! Support for Telltale's end-to-end tests: locating the workspace's
//! binaries, the desktop session, and (from `telltale-testsupport`, shared
//! with every crate's tests) child processes that are killed when a test
//! ends, free loopback ports, and waiting for conditions with a deadline.

pub mod desktop;
pub mod hidden_libs;
pub mod tray_host;
pub mod webdriver;
pub mod x11_window;

pub use telltale_testsupport::{
    free_port, quiet_sim_on_own_runtime as quiet_sim, wait_for, wait_for_async, ChildGuard,
};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The path of a workspace binary in the same profile as this test,
/// building it first if it is missing.
pub fn bin(name: &str) -> PathBuf {
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target/debug"));
    let path = profile_dir.join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bin", name])
            .current_dir(workspace_root())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "could not build `{name}`; run `cargo build --workspace --bins` first"
        );
    }
    path
}

/// Counts rows in a table of a live database through a read-only connection.
pub fn count_rows(db: &Path, sql: &str) -> Option<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    conn.busy_timeout(Duration::from_secs(2)).ok()?;
    conn.query_row(sql, [], |r| r.get(0)).ok()
}
