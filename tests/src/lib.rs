//! Support for Telltale's end-to-end tests: locating the workspace's
//! binaries, child processes that are killed when a test ends, free loopback
//! ports, and waiting for conditions with a deadline.

pub mod desktop;
pub mod hidden_libs;
pub mod tray_host;
pub mod webdriver;
pub mod x11_window;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

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

/// A child process in a process group of its own; the whole group (the
/// child and everything it started: nginx's workers, WebKitWebDriver and
/// the app under tauri-driver) is killed (SIGKILL) when dropped, also when
/// the test fails.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Spawns a command as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        use std::os::unix::process::CommandExt;
        match cmd.process_group(0).spawn() {
            Ok(c) => ChildGuard(c),
            Err(e) => panic!("cannot start {cmd:?}: {e}"),
        }
    }
    /// The process id (also the process group id).
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // The group first, so that no descendant outlives the test; then
        // the child itself (in case the group could not be signalled).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago (for servers that cannot take port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Async version of [`wait_for`].
pub async fn wait_for_async<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// A simulated fleet of `hosts` hosts at `rate` messages a second, without
/// the scripted incident, on a runtime of its own (the tests that use it
/// drive binaries from blocking code). Keep the runtime for the sim's life.
pub fn quiet_sim(hosts: usize, rate: f64) -> (tokio::runtime::Runtime, telltale_sim::SimHandle) {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a runtime for the simulator: {e}"),
    };
    let sim = match rt.block_on(telltale_sim::Sim::start(telltale_sim::SimConfig {
        hosts,
        rate,
        incident: None,
        ..Default::default()
    })) {
        Ok(sim) => sim,
        Err(e) => panic!("cannot start the simulator: {e}"),
    };
    (rt, sim)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `pid` is gone (or a zombie waiting for its new parent).
    fn gone(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        }
    }

    #[test]
    fn dropping_the_guard_kills_what_the_child_started() {
        use std::io::BufRead;
        let mut guard = ChildGuard::spawn(
            Command::new("sh")
                .args(["-c", "sleep 600 & echo $!; wait"])
                .stdout(std::process::Stdio::piped())
                // Not the test's stderr: a surviving grandchild would hold
                // it open and keep cargo waiting.
                .stderr(std::process::Stdio::null()),
        );
        let stdout = guard.0.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the grandchild's pid");
        let grandchild: u32 = line.trim().parse().expect("a pid");
        assert!(!gone(grandchild), "the grandchild runs");
        drop(guard);
        wait_for(
            "the grandchild to be killed",
            Duration::from_secs(5),
            || gone(grandchild).then_some(()),
        );
    }
}
