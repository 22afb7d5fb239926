//! A real PostgreSQL for tests: Debian's `postgresql-15`, a cluster made
//! by `initdb` once per test binary and copied for each [`Postgres`], on a
//! loopback port, killed with the test. Run as root (CI), the server runs
//! as the `postgres` user, since PostgreSQL refuses to run as root.

use crate::{free_port, wait_for, ChildGuard};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The superuser of every test cluster.
pub const USER: &str = "telltale";
/// Its password (SCRAM-SHA-256 over TCP).
pub const PASSWORD: &str = "pg-s3cret";

/// A PostgreSQL server on a loopback port, its data in a temp dir.
pub struct Postgres {
    /// Its loopback port.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<ChildGuard>,
    tls: bool,
}

/// A PostgreSQL server program (`initdb`, `postgres`).
pub fn bin(name: &str) -> PathBuf {
    for v in ["17", "16", "15"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/{name}"));
        if p.exists() {
            return p;
        }
    }
    panic!(
        "PostgreSQL is not installed: run `bash scripts/setup.sh` (Debian package `postgresql-15`)"
    )
}

/// Who runs the server: `(uid, gid)` of `postgres` when we are root.
fn runner() -> Option<(u32, u32)> {
    let out = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&out.stdout).trim() != "0" {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "no `postgres` user: install postgresql-15"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    Some((id("-u"), id("-g")))
}

fn as_runner(cmd: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = runner() {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn give_to_runner(path: &Path) {
    if let Some((uid, gid)) = runner() {
        let ok = Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown {path:?}");
    }
}

/// A cluster made once per process, copied by each server.
fn template() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let pw = dir.join("pw");
        std::fs::write(&pw, PASSWORD).unwrap();
        give_to_runner(&dir);
        let out = as_runner(
            Command::new(bin("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-U", USER, "-A", "scram-sha-256", "-E", "UTF8"])
                .args(["--locale=C", "--no-sync", "--no-instructions"])
                .arg(format!("--pwfile={}", pw.display())),
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("data")
    })
}

impl Postgres {
    /// A server without TLS.
    pub fn start() -> Postgres {
        Postgres::launch(false)
    }

    /// A server that also speaks TLS, with a self-signed certificate for
    /// 127.0.0.1 made by `openssl`; [`Postgres::ca_file`] is what to trust.
    pub fn with_tls() -> Postgres {
        Postgres::launch(true)
    }

    fn launch(tls: bool) -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("cp")
            .arg("-a")
            .arg(template())
            .arg(dir.path().join("data"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "copying the template cluster");
        if tls {
            let (_, key) = crate::self_signed_cert(dir.path());
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        give_to_runner(dir.path());
        let mut pg = Postgres {
            port: free_port(),
            dir,
            child: None,
            tls,
        };
        pg.restart();
        pg
    }

    /// The certificate a TLS server serves (its own CA).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// (Re)starts the server on its port and waits until it listens.
    pub fn restart(&mut self) {
        self.child = None;
        let d = self.dir.path();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let mut cmd = Command::new(bin("postgres"));
        cmd.arg("-D")
            .arg(d.join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "fsync=off", "-c", "max_connections=20"]);
        if self.tls {
            cmd.args(["-c", "ssl=on"])
                .arg("-c")
                .arg(format!("ssl_cert_file={}", d.join("cert.pem").display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", d.join("key.pem").display()));
        }
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        self.child = Some(ChildGuard::spawn(as_runner(&mut cmd)));
        let port = self.port;
        wait_for("PostgreSQL to listen", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
    }

    /// Kills it (its port stays reserved for [`Postgres::restart`]).
    pub fn stop(&mut self) {
        self.child = None;
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// `postgres://telltale:…@127.0.0.1:port/postgres`.
    pub fn url(&self) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// A client session (no TLS).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(
            &format!("{}?sslmode=disable", self.url()),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL: {e}\n{}", self.log()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// `pg_notify(channel, payload)` in a session of its own.
    pub async fn notify(&self, channel: &str, payload: &str) {
        self.client()
            .await
            .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .await
            .unwrap();
    }

    /// The server processes serving sessions with this `application_name`.
    pub async fn backends(&self, application_name: &str) -> Vec<i32> {
        self.client()
            .await
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                &[&application_name],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

/// Sends a signal (`-STOP`, `-CONT`) to a process.
pub fn signal(pid: i32, sig: &str) {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
}
