//! Debian's dnsmasq as the DNS server of the DNS-check tests, on a loopback
//! port, answering only what it is told (no upstream, no /etc/hosts).

use crate::Peer;
use std::path::Path;
use std::process::Command;

/// The dnsmasq binary (in `/usr/sbin`, which a non-root PATH may lack).
fn binary() -> &'static str {
    ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("dnsmasq is not installed: run `bash scripts/setup.sh` (Debian package `dnsmasq-base`)")
        })
}

/// dnsmasq on a loopback port, with `args` such as
/// `--address=/web.test/10.1.2.3` (an A record), `--address=/gone.test/`
/// (NXDOMAIN) or `--txt-record=web.test,hello`.
pub fn dnsmasq(args: &[&str]) -> Peer {
    let mut peer = Peer::new();
    let mut cmd = Command::new(binary());
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--pid-file=",
        "--log-facility=-",
        "--log-queries",
    ])
    .arg(format!("--port={}", peer.port))
    .args(args);
    peer.start("dnsmasq", cmd);
    peer
}
