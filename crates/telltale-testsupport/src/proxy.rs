//! Debian's tinyproxy as the HTTP proxy of the proxy tests, on a loopback
//! port, in the foreground, its log kept.

use crate::Peer;
use std::process::Command;

/// A running tinyproxy.
pub struct Tinyproxy {
    /// The process and its log.
    pub peer: Peer,
    _config: tempfile::TempDir,
}

impl Tinyproxy {
    /// `http://[user:password@]127.0.0.1:PORT`.
    pub fn url(&self, auth: Option<(&str, &str)>) -> String {
        match auth {
            Some((u, p)) => format!("http://{u}:{p}@127.0.0.1:{}", self.peer.port),
            None => format!("http://127.0.0.1:{}", self.peer.port),
        }
    }
}

/// tinyproxy allowing CONNECT to any port from 127.0.0.1; with `auth`, only
/// for that user and password (Basic).
pub fn tinyproxy(auth: Option<(&str, &str)>) -> Tinyproxy {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = Peer::new();
    let mut conf = format!(
        "Port {}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\nLogLevel Info\n",
        peer.port
    );
    if let Some((u, p)) = auth {
        conf.push_str(&format!("BasicAuth {u} {p}\n"));
    }
    let path = dir.path().join("tinyproxy.conf");
    std::fs::write(&path, conf).unwrap();
    let bin = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("tinyproxy is not installed: run `bash scripts/setup.sh` (Debian package `tinyproxy-bin`)")
        });
    let mut cmd = Command::new(bin);
    cmd.arg("-d").arg("-c").arg(&path);
    peer.start("tinyproxy", cmd);
    Tinyproxy { peer, _config: dir }
}
