//! Servers on Node for tests, built on the reference libraries installed
//! by `scripts/setup.sh` (`npm ci` in `tests/peers`), on a loopback port,
//! killed with the test: GraphQL subscriptions (`graphql-server.mjs`:
//! `graphql-ws`, or the legacy `subscriptions-transport-ws`) and Socket.IO
//! (`socketio-server.mjs`: the `socket.io` package).

use crate::Peer;
use std::path::PathBuf;
use std::process::Command;

/// Which library serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// `graphql-ws`: protocol `graphql-transport-ws`.
    Modern,
    /// `subscriptions-transport-ws`: protocol `graphql-ws`.
    Legacy,
    /// `socket.io` 4.
    SocketIo,
}

/// A GraphQL or Socket.IO server on a loopback port.
pub struct Server {
    /// Its loopback port.
    pub port: u16,
    flavour: Flavour,
    token: Option<String>,
    /// Environment for the server (Socket.IO: `SIO_TRANSPORTS`,
    /// `SIO_BLOCK_WS`; see `socketio-server.mjs`).
    env: Vec<(String, String)>,
    peer: Peer,
}

fn peers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

impl Server {
    /// Serves anyone.
    pub fn start(flavour: Flavour) -> Server {
        Server::with_token(flavour, None)
    }

    /// A Socket.IO server started with this environment (see
    /// `socketio-server.mjs`): e.g. `[("SIO_TRANSPORTS", "polling")]`.
    pub fn socketio_with(env: &[(&str, &str)]) -> Server {
        Server::new(Flavour::SocketIo, None, env)
    }

    /// With a token, `connection_init` must carry `{"token": token}`.
    pub fn with_token(flavour: Flavour, token: Option<&str>) -> Server {
        Server::new(flavour, token, &[])
    }

    fn new(flavour: Flavour, token: Option<&str>, env: &[(&str, &str)]) -> Server {
        assert!(
            peers().join("node_modules/graphql-ws").exists()
                && peers().join("node_modules/socket.io").exists(),
            "the Node test servers are not installed: run `bash scripts/setup.sh` (npm ci in tests/peers)"
        );
        let peer = Peer::new();
        let mut s = Server {
            port: peer.port,
            flavour,
            token: token.map(str::to_string),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            peer,
        };
        s.restart();
        s
    }

    /// (Re)starts it on its port and waits until it listens.
    pub fn restart(&mut self) {
        let mut cmd = Command::new("node");
        cmd.current_dir(peers());
        match self.flavour {
            Flavour::Modern | Flavour::Legacy => {
                cmd.arg("graphql-server.mjs")
                    .arg(self.port.to_string())
                    .arg(if self.flavour == Flavour::Modern {
                        "modern"
                    } else {
                        "legacy"
                    });
            }
            Flavour::SocketIo => {
                cmd.arg("socketio-server.mjs").arg(self.port.to_string());
            }
        }
        if let Some(t) = &self.token {
            cmd.arg(t);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let what = match self.flavour {
            Flavour::SocketIo => "the Socket.IO server",
            _ => "the GraphQL server",
        };
        self.peer.start(what, cmd);
    }

    /// Kills it (its port stays reserved for [`Server::restart`]).
    pub fn stop(&mut self) {
        self.peer.stop();
    }

    /// Sends it a signal (`-STOP`, `-CONT`).
    pub fn signal(&self, sig: &str) {
        self.peer.signal(sig);
    }

    /// `ws://127.0.0.1:port/graphql`; for Socket.IO `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        match self.flavour {
            Flavour::SocketIo => format!("http://127.0.0.1:{}", self.port),
            _ => format!("ws://127.0.0.1:{}/graphql", self.port),
        }
    }

    /// What it printed.
    pub fn log(&self) -> String {
        self.peer.log()
    }
}

/// Posts webhook deliveries signed by the providers' own libraries
/// (`webhook-sender.mjs`: `@octokit/webhooks-methods`, `stripe`,
/// `standardwebhooks`), in order; `plan` is that script's JSON plan.
/// Returns the HTTP status of each answer.
pub fn send_webhooks(plan: &str) -> Vec<u16> {
    assert!(
        peers().join("node_modules/standardwebhooks").exists(),
        "the webhook signers are not installed: run `bash scripts/setup.sh` (npm ci in tests/peers)"
    );
    let out = Command::new("node")
        .current_dir(peers())
        .arg("webhook-sender.mjs")
        .arg(plan)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "webhook-sender.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect()
}
