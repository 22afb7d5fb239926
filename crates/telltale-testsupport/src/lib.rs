//! What Telltale's tests share, in every crate: child processes killed
//! with everything they started when a test ends ([`ChildGuard`]), free
//! loopback ports, waiting for a condition with a deadline (blocking
//! [`wait_for`], async [`until`] and [`wait_for_async`]), and the simulated
//! fleet without its scripted incident ([`quiet_sim`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod dns;
pub mod grpc;
pub mod mqtt;
pub mod node;
pub mod postgres;
pub mod proxy;

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use telltale_sim::{Sim, SimConfig, SimHandle};

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

/// A server process a test starts on a loopback port, as the reference
/// implementations are (mosquitto, the Node and Python peers): started by
/// a command that it may run again on the same port ([`Peer::start`]),
/// killed with the test, its output kept for failure messages.
#[derive(Debug)]
pub struct Peer {
    /// Its loopback port.
    pub port: u16,
    child: Option<ChildGuard>,
    log: tempfile::NamedTempFile,
}

impl Peer {
    /// A peer on a free port, not started yet.
    pub fn new() -> Peer {
        Peer {
            port: free_port(),
            child: None,
            log: tempfile::NamedTempFile::new().unwrap(),
        }
    }

    /// (Re)starts it with `cmd` (its output to the log) and waits until
    /// its port accepts connections; `what` names it in the timeout.
    pub fn start(&mut self, what: &str, mut cmd: Command) {
        self.child = None;
        let log = self.log.reopen().unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        self.child = Some(ChildGuard::spawn(&mut cmd));
        let port = self.port;
        wait_for(
            &format!("{what} to listen"),
            Duration::from_secs(20),
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
        );
    }

    /// Kills it (its port stays reserved for [`Peer::start`]).
    pub fn stop(&mut self) {
        self.child = None;
    }

    /// Sends it a signal (`-STOP`, `-CONT`, `-USR1`).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id();
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
    }

    /// What it printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Default for Peer {
    fn default() -> Self {
        Peer::new()
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

/// Polls `f` (a quick, non-blocking check) every 10 ms on the async
/// runtime until it returns `Some`, or panics with `what` after `within`.
pub async fn until<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A simulated fleet of `hosts` hosts at `rate` messages a second on
/// `127.0.0.1:0`, without the scripted incident.
pub async fn quiet_sim(hosts: usize, rate: f64) -> SimHandle {
    match Sim::start(quiet(hosts, rate)).await {
        Ok(sim) => sim,
        Err(e) => panic!("cannot start the simulator: {e}"),
    }
}

/// [`quiet_sim`] on a runtime of its own, for tests that drive binaries
/// from blocking code. Keep the runtime for the sim's life.
pub fn quiet_sim_on_own_runtime(hosts: usize, rate: f64) -> (tokio::runtime::Runtime, SimHandle) {
    sim_on_own_runtime(quiet(hosts, rate))
}

/// The simulator with `cfg` on a runtime of its own (see
/// [`quiet_sim_on_own_runtime`]).
pub fn sim_on_own_runtime(cfg: SimConfig) -> (tokio::runtime::Runtime, SimHandle) {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a runtime for the simulator: {e}"),
    };
    let sim = match rt.block_on(Sim::start(cfg)) {
        Ok(sim) => sim,
        Err(e) => panic!("cannot start the simulator: {e}"),
    };
    (rt, sim)
}

fn quiet(hosts: usize, rate: f64) -> SimConfig {
    SimConfig {
        hosts,
        rate,
        incident: None,
        ..Default::default()
    }
}

/// A self-signed certificate for `127.0.0.1` (2 days, RSA 2048) made by
/// `openssl` in `dir`: `(cert.pem, key.pem)`. The certificate is its own
/// authority: trusting it is what a test client's `ca_file` does.
pub fn self_signed_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl could not make a certificate");
    (cert, key)
}

/// A certificate authority and a certificate for `127.0.0.1` it signed
/// (2 days, RSA 2048), made by `openssl` in `dir`: `(ca.pem, cert.pem,
/// key.pem)`. For clients such as rustls's that refuse a CA certificate
/// as a server's own.
pub fn ca_signed_cert(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert, key, csr, ext) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("cert.csr"),
        dir.join("cert.ext"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let ok = Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl could not make a certificate");
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    openssl(&[
        os("req"),
        os("-x509"),
        os("-newkey"),
        os("rsa:2048"),
        os("-nodes"),
        os("-days"),
        os("2"),
        os("-subj"),
        os("/CN=telltale test CA"),
        os("-keyout"),
        ca_key.as_os_str(),
        os("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        os("req"),
        os("-new"),
        os("-newkey"),
        os("rsa:2048"),
        os("-nodes"),
        os("-subj"),
        os("/CN=127.0.0.1"),
        os("-keyout"),
        key.as_os_str(),
        os("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        os("x509"),
        os("-req"),
        os("-days"),
        os("2"),
        os("-in"),
        csr.as_os_str(),
        os("-CA"),
        ca.as_os_str(),
        os("-CAkey"),
        ca_key.as_os_str(),
        os("-CAcreateserial"),
        os("-extfile"),
        ext.as_os_str(),
        os("-out"),
        cert.as_os_str(),
    ]);
    (ca, cert, key)
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
