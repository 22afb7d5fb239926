//! The gRPC reference server for tests: `tests/peers/grpc-server.py` on
//! grpcio (with grpcio-health-checking and grpcio-reflection, installed by
//! `scripts/setup.sh` into `tests/peers/.venv`), on a loopback port,
//! killed with the test. It serves `grpc.health.v1.Health` (SIGUSR1 flips
//! `fleet.v1.Fleet` between SERVING and NOT_SERVING), `fleet.v1.Fleet`
//! (`Watch` streams samples; `Garbage` one sample, then bytes that are not
//! protobuf) and reflection v1alpha only.

use crate::Peer;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A grpcio server on a loopback port.
pub struct GrpcServer {
    /// Its loopback port.
    pub port: u16,
    token: Option<String>,
    tls: Option<(PathBuf, PathBuf)>,
    peer: Peer,
}

fn peers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// The tests' Python, in the venv `scripts/setup.sh` makes.
pub(crate) fn python() -> PathBuf {
    let p = peers().join(".venv/bin/python");
    assert!(
        p.exists(),
        "the Python test peers are not installed: run `bash scripts/setup.sh` (a venv in tests/peers with tests/peers/requirements.txt)"
    );
    p
}

impl GrpcServer {
    /// Serves anyone, in plain text.
    pub fn start() -> GrpcServer {
        GrpcServer::with(None, None)
    }

    /// With a token, every call needs `authorization: Bearer <token>`;
    /// with `(cert, key)` it serves TLS.
    pub fn with(token: Option<&str>, tls: Option<(&Path, &Path)>) -> GrpcServer {
        let peer = Peer::new();
        let mut s = GrpcServer {
            port: peer.port,
            token: token.map(str::to_string),
            tls: tls.map(|(c, k)| (c.to_path_buf(), k.to_path_buf())),
            peer,
        };
        s.restart();
        s
    }

    /// (Re)starts it on its port and waits until it listens.
    pub fn restart(&mut self) {
        let mut cmd = Command::new(python());
        cmd.current_dir(peers())
            .arg("grpc-server.py")
            .arg(self.port.to_string());
        if let Some(t) = &self.token {
            cmd.args(["--token", t]);
        }
        if let Some((c, k)) = &self.tls {
            cmd.arg("--cert").arg(c).arg("--key").arg(k);
        }
        self.peer.start("the gRPC server", cmd);
    }

    /// Kills it (its port stays reserved for [`GrpcServer::restart`]).
    pub fn stop(&mut self) {
        self.peer.stop();
    }

    /// Sends it a signal (`-USR1` flips the fleet's health, `-STOP`,
    /// `-CONT`).
    pub fn signal(&self, sig: &str) {
        self.peer.signal(sig);
    }

    /// `http://127.0.0.1:port`, or `https://127.0.0.1:port` with TLS.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("https://127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// What it printed.
    pub fn log(&self) -> String {
        self.peer.log()
    }
}

/// Writes the fleet service's `FileDescriptorSet` (as `protoc
/// --descriptor_set_out` would) to `path`.
pub fn write_descriptor_set(path: &Path) {
    let ok = Command::new(python())
        .current_dir(peers())
        .arg("grpc-server.py")
        .arg("0")
        .arg("--write-descriptor")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "grpc-server.py --write-descriptor failed");
}

/// `tests/peers/fleet.proto`'s directory, for `proto_include`.
pub fn proto_dir() -> PathBuf {
    peers()
}

/// `tests/peers/tls-server.py` on a loopback port: HTTPS (`{"ok": 1}` at
/// any path) and a secure WebSocket at `/ws` (`{"n": …}` every 50 ms),
/// with `cert` and `key`; with `client_ca`, only for clients presenting a
/// certificate it signed.
pub fn tls_server(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Peer {
    let mut peer = Peer::new();
    let mut cmd = Command::new(python());
    cmd.current_dir(peers())
        .arg("tls-server.py")
        .arg(peer.port.to_string())
        .arg(cert)
        .arg(key);
    if let Some(ca) = client_ca {
        cmd.arg(ca);
    }
    peer.start("the TLS server", cmd);
    peer
}
