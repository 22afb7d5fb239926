//! A real MQTT broker for tests: Debian's `mosquitto` on a loopback port,
//! killed with the test ([`Broker`]), and a client that publishes through
//! it ([`Publisher`]).

use crate::Peer;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A mosquitto on a loopback port, with its config in a temp dir.
pub struct Broker {
    /// Its loopback port.
    pub port: u16,
    dir: tempfile::TempDir,
    peer: Peer,
    tls: bool,
}

/// The mosquitto binary.
pub fn mosquitto() -> PathBuf {
    for p in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("mosquitto is not installed: run `bash scripts/setup.sh` (Debian package `mosquitto`)")
}

impl Broker {
    /// Anonymous clients allowed.
    pub fn start() -> Broker {
        Broker::with_users(None)
    }

    /// Only `user` with `password` may connect, when given.
    pub fn with_users(user: Option<(&str, &str)>) -> Broker {
        Broker::launch(user, false, None)
    }

    /// TLS only (`mqtts://`), with a self-signed certificate for
    /// 127.0.0.1 made by `openssl`; [`Broker::ca_file`] is what to trust.
    pub fn with_tls() -> Broker {
        Broker::launch(None, true, None)
    }

    /// TLS that asks every client for a certificate signed by `client_ca`
    /// (mosquitto's `require_certificate true`).
    pub fn with_client_certs(client_ca: &Path) -> Broker {
        Broker::launch(None, true, Some(client_ca))
    }

    /// The PEM certificate a TLS broker serves (its own CA).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn launch(user: Option<(&str, &str)>, tls: bool, client_ca: Option<&Path>) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let peer = Peer::new();
        let port = peer.port;
        // Run as root, mosquitto would switch to its own user, which
        // cannot read the temp dir (the TLS key): stay who we are.
        let me = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let mut conf = format!("listener {port} 127.0.0.1\npersistence false\nuser {me}\n");
        if tls {
            let (cert, key) = crate::self_signed_cert(dir.path());
            conf.push_str(&format!(
                "certfile {}\nkeyfile {}\n",
                cert.display(),
                key.display()
            ));
        }
        if let Some(ca) = client_ca {
            conf.push_str(&format!(
                "require_certificate true\ncafile {}\n",
                ca.display()
            ));
        }
        match user {
            None => conf.push_str("allow_anonymous true\n"),
            Some((u, p)) => {
                let file = dir.path().join("passwd");
                let ok = Command::new("mosquitto_passwd")
                    .args(["-c", "-b"])
                    .arg(&file)
                    .args([u, p])
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "mosquitto_passwd failed");
                conf.push_str(&format!(
                    "allow_anonymous false\npassword_file {}\n",
                    file.display()
                ));
            }
        }
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let mut b = Broker {
            port,
            dir,
            peer,
            tls,
        };
        b.restart();
        b
    }

    /// (Re)starts the broker on its port and waits until it listens.
    pub fn restart(&mut self) {
        let mut cmd = Command::new(mosquitto());
        cmd.arg("-c").arg(self.dir.path().join("mosquitto.conf"));
        self.peer.start("mosquitto", cmd);
    }

    /// Kills it (its port stays reserved for [`Broker::restart`]).
    pub fn stop(&mut self) {
        self.peer.stop();
    }

    /// Sends it a signal (`-STOP`, `-CONT`).
    pub fn signal(&self, sig: &str) {
        self.peer.signal(sig);
    }

    /// `mqtt://127.0.0.1:port` (`mqtts://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

/// A client certificate and its PKCS #8 key, made by `openssl`
/// (self-signed: it is its own authority, the file a broker's `cafile`
/// names).
pub struct ClientCert {
    /// The PEM certificate.
    pub cert: PathBuf,
    /// The PEM key.
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl ClientCert {
    /// A new one.
    pub fn make() -> ClientCert {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = crate::self_signed_cert(dir.path());
        ClientCert {
            cert,
            key,
            _dir: dir,
        }
    }
}

/// MQTT over secure WebSocket in front of a broker:
/// `tests/peers/mqtt-wss-relay.py` (Python's ssl and `websockets`), since
/// Debian 12's mosquitto cannot open a WebSocket listener.
pub struct WssRelay {
    /// Its loopback port.
    pub port: u16,
    dir: tempfile::TempDir,
    _peer: Peer,
}

impl WssRelay {
    /// Relays to the broker on `broker_port`; with `client_ca`, only
    /// clients with a certificate it signed get through.
    pub fn start(broker_port: u16, client_ca: Option<&Path>) -> WssRelay {
        let dir = tempfile::tempdir().unwrap();
        let (_, cert, key) = crate::ca_signed_cert(dir.path());
        let mut peer = Peer::new();
        let mut cmd = Command::new(crate::grpc::python());
        cmd.arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/mqtt-wss-relay.py"),
        )
        .arg(peer.port.to_string())
        .arg(broker_port.to_string())
        .arg(&cert)
        .arg(&key);
        if let Some(ca) = client_ca {
            cmd.arg(ca);
        }
        peer.start("the MQTT secure WebSocket relay", cmd);
        WssRelay {
            port: peer.port,
            dir,
            _peer: peer,
        }
    }

    /// `wss://127.0.0.1:port/mqtt`.
    pub fn url(&self) -> String {
        format!("wss://127.0.0.1:{}/mqtt", self.port)
    }

    /// The authority that signed the certificate it serves.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

/// A publishing client, connected.
pub struct Publisher {
    client: AsyncClient,
    acked: tokio::sync::mpsc::UnboundedReceiver<u16>,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    /// Connects to the broker on `port`.
    pub async fn connect(port: u16) -> Publisher {
        let mut o = MqttOptions::new(format!("pub-{}", fastrand::u32(..)), "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(o, 1024);
        let (tx, acked) = tokio::sync::mpsc::unbounded_channel();
        let (up_tx, up) = tokio::sync::oneshot::channel();
        let mut up_tx = Some(up_tx);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(t) = up_tx.take() {
                            let _ = t.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(a))) => {
                        let _ = tx.send(a.pkid);
                    }
                    Ok(_) => {}
                    Err(e) => panic!("publisher: {e}"),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(5), up)
            .await
            .expect("publisher connected")
            .unwrap();
        Publisher {
            client,
            acked,
            task,
        }
    }

    /// Publishes one message.
    pub async fn send(&self, topic: &str, qos: QoS, retain: bool, body: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, qos, retain, body.into())
            .await
            .unwrap();
    }

    /// Waits until the broker acknowledged `n` QoS 1 publishes.
    pub async fn acked(&mut self, n: usize) {
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(5), self.acked.recv())
                .await
                .expect("broker acknowledged the publish")
                .unwrap();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
