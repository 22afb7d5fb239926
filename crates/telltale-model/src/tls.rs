//! A feed's own TLS settings (`[feed.tls]`) for the transports that speak
//! HTTP or WebSocket: `poll`, `sse`, `long_poll`, `websocket`, `graphql`
//! and `socketio`. (MQTT, PostgreSQL and gRPC name their CA file in their
//! own section.)
//!
//! ```toml
//! [[feed]]
//! name = "lab-api"
//! transport = "poll"
//! url = "https://lab.internal:8443/health"
//! [feed.tls]
//! ca_file = "/etc/telltale/lab-ca.pem"        # trust this CA instead of the system's
//! client_cert = "/etc/telltale/telltale.pem"  # mutual TLS
//! client_key = "/etc/telltale/telltale.key"
//! # skip_verify = true                         # any certificate: shown as a warning
//! ```
//!
//! The files are read when the feed connects, so a renewed certificate is
//! picked up on the next connection.

use crate::feed::{FeedConfig, TransportKind};
use serde::{Deserialize, Serialize};

/// `[feed.tls]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct TlsOptions {
    /// A PEM file of the certificate authorities to trust, instead of the
    /// system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub ca_file: Option<String>,
    /// A PEM client certificate (and its chain) for mutual TLS; needs
    /// `client_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub client_cert: Option<String>,
    /// The PEM private key (PKCS#8, `BEGIN PRIVATE KEY`) of `client_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub client_key: Option<String>,
    /// Accept any server certificate: self-signed, expired, for another
    /// name. The connection is still encrypted but no longer authenticated;
    /// the feed's tile says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_verify: bool,
}

impl TlsOptions {
    /// Whether nothing is set (the shared client and the system's roots).
    pub fn is_default(&self) -> bool {
        *self == TlsOptions::default()
    }
}

/// The transports `[feed.tls]` applies to.
pub fn applies_to(t: TransportKind) -> bool {
    matches!(
        t,
        TransportKind::Poll
            | TransportKind::Sse
            | TransportKind::LongPoll
            | TransportKind::Websocket
            | TransportKind::Graphql
            | TransportKind::Socketio
    )
}

/// Problems with `[feed.tls]`, as `(field, message)`.
pub(crate) fn validate(feed: &FeedConfig, p: &mut Vec<(String, String)>) {
    let Some(t) = &feed.tls else { return };
    if !applies_to(feed.transport) {
        let own = match feed.transport {
            TransportKind::Mqtt => {
                "`[feed.mqtt]` has its own `ca_file`, `client_cert` and `client_key`"
            }
            TransportKind::PgNotify => "`[feed.pg_notify]` has its own `ca_file`",
            TransportKind::Grpc => "`[feed.grpc]` has its own `ca_file`",
            _ => "this transport makes no TLS connection",
        };
        p.push((
            "tls".into(),
            format!("does not apply to transport `{}`: {own}", feed.transport),
        ));
        return;
    }
    let empty = |v: &Option<String>| v.as_deref().is_some_and(|s| s.trim().is_empty());
    for (field, v) in [
        ("ca_file", &t.ca_file),
        ("client_cert", &t.client_cert),
        ("client_key", &t.client_key),
    ] {
        if empty(v) {
            p.push((
                format!("tls.{field}"),
                "is empty: name a PEM file, or remove the line".into(),
            ));
        }
    }
    match (&t.client_cert, &t.client_key) {
        (Some(_), None) => p.push((
            "tls.client_key".into(),
            "is missing: `client_cert` needs the key it was issued for".into(),
        )),
        (None, Some(_)) => p.push((
            "tls.client_cert".into(),
            "is missing: `client_key` is only used with its certificate".into(),
        )),
        _ => {}
    }
    if t.skip_verify && t.ca_file.is_some() {
        p.push((
            "tls.skip_verify".into(),
            "and `ca_file` contradict each other: trust the CA file, or accept any certificate"
                .into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(toml: &str) -> Vec<(String, String)> {
        let feed: FeedConfig = toml::from_str(toml).unwrap();
        let mut p = Vec::new();
        validate(&feed, &mut p);
        p
    }

    #[test]
    fn tls_options_name_the_field_at_fault() {
        let base = "name = \"a\"\ntransport = \"poll\"\nurl = \"https://h/\"\n";
        assert!(problems(&format!("{base}[tls]\nca_file = \"/ca.pem\"\n")).is_empty());
        let p = problems(&format!("{base}[tls]\nclient_cert = \"/c.pem\"\n"));
        assert_eq!(p[0].0, "tls.client_key");
        let p = problems(&format!(
            "{base}[tls]\nca_file = \"/ca.pem\"\nskip_verify = true\n"
        ));
        assert_eq!(p[0].0, "tls.skip_verify");
        let p = problems(
            "name = \"a\"\ntransport = \"mqtt\"\nurl = \"mqtts://h/\"\n[tls]\nskip_verify = true\n",
        );
        assert_eq!(p[0].0, "tls");
        assert!(p[0].1.contains("[feed.mqtt]"), "{}", p[0].1);
        let bad: Result<FeedConfig, _> = toml::from_str(&format!("{base}[tls]\nverify = false\n"));
        assert!(bad.is_err());
    }
}
