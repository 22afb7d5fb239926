//! PostgreSQL change feeds (`[feed.pg_notify]`): which `LISTEN` channels a
//! feed follows.
//!
//! ```toml
//! [[feed]]
//! name = "orders"
//! transport = "pg_notify"
//! url = "postgres://telltale:${PGPASSWORD}@db.lan:5432/shop"
//! [feed.pg_notify]
//! channels = ["orders", "payments"]
//! ```
//!
//! Every `NOTIFY channel, 'payload'` (or `pg_notify('channel', payload)`)
//! becomes one message: the payload as data (JSON payloads get pointer
//! rules), the channel as its event type. The credentials are the URL's
//! user and password, masked and restored like every other URL credential
//! (see [`crate::secret`]).

use crate::duration::Dur;
use serde::{Deserialize, Serialize};

/// `[feed.pg_notify]`; only for `transport = "pg_notify"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct PgNotifyOptions {
    /// The channels to `LISTEN` on (at least one). Names are quoted, so
    /// they are matched exactly as written, case included.
    pub channels: Vec<String>,
    /// How often an idle connection is checked with `SELECT 1` (default
    /// 30 s, at least 1 s). No answer by the next check means the server
    /// is gone: the feed reconnects.
    pub keep_alive: Dur,
    /// A PEM file of the certificate authorities to trust instead of the
    /// system's, with `sslmode=verify-ca` or `sslmode=verify-full` in the
    /// URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

impl Default for PgNotifyOptions {
    fn default() -> Self {
        PgNotifyOptions {
            channels: Vec::new(),
            keep_alive: Dur::secs(30),
            ca_file: None,
        }
    }
}

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`): longer
/// channel names are truncated by the server, so one would never match.
pub const MAX_CHANNEL_LEN: usize = 63;

/// The `sslmode` values the transport understands, as libpq reads them:
/// `disable` (no TLS), `prefer` (the default: TLS if the server offers
/// it), `require` (TLS or nothing), both without checking the certificate;
/// `verify-ca` (TLS, certificate signed by a trusted authority) and
/// `verify-full` (that, and issued for the URL's host).
pub const SSL_MODES: [&str; 5] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

/// The URL's `sslmode`, if it has one.
pub fn ssl_mode(url: &url::Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == "sslmode")
        .map(|(_, v)| v.into_owned())
}

/// The `[feed.pg_notify]` checks serde cannot make, as `(field, message)`.
pub(crate) fn validate(feed: &crate::FeedConfig, p: &mut Vec<(String, String)>) {
    let o = feed.pg_notify.clone().unwrap_or_default();
    if o.channels.is_empty() {
        p.push((
            "pg_notify.channels".into(),
            "is empty: name at least one channel, e.g. `channels = [\"orders\"]`".into(),
        ));
    }
    for (i, c) in o.channels.iter().enumerate() {
        let field = format!("pg_notify.channels[{i}]");
        if c.is_empty() {
            p.push((field, "is empty".into()));
        } else if c.len() > MAX_CHANNEL_LEN {
            p.push((
                field,
                format!(
                    "is {} bytes long; PostgreSQL keeps {MAX_CHANNEL_LEN}, so it would never match",
                    c.len()
                ),
            ));
        } else if c.contains('\0') {
            p.push((field, "contains a NUL character".into()));
        } else if o.channels[..i].contains(c) {
            p.push((field, format!("`{c}` is listed twice")));
        }
    }
    if o.keep_alive.0 < std::time::Duration::from_secs(1) {
        p.push(("pg_notify.keep_alive".into(), "is below 1s".into()));
    }
    if let Ok(u) = url::Url::parse(&feed.url) {
        if u.path().trim_start_matches('/').is_empty() {
            p.push((
                "url".into(),
                "names no database: write `postgres://user:password@host:5432/database`".into(),
            ));
        }
        for (k, v) in u.query_pairs() {
            if k == "sslmode" && !SSL_MODES.contains(&v.as_ref()) {
                p.push((
                    "url".into(),
                    format!("has `sslmode={v}`: use `disable`, `prefer` (the default), `require`, `verify-ca` or `verify-full`"),
                ));
            }
        }
        if o.ca_file.is_some() && !ssl_mode(&u).is_some_and(|m| m.starts_with("verify-")) {
            p.push((
                "pg_notify.ca_file".into(),
                "is only read to verify the server: add `?sslmode=verify-full` (or `verify-ca`) to the URL".into(),
            ));
        }
    }
    if !feed.headers.is_empty() {
        p.push((
            "headers".into(),
            "do not apply to PostgreSQL: put the user and password in the URL (`postgres://user:password@host/database`)".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(url: &str, channels: &[&str]) -> Vec<String> {
        let mut f = crate::FeedConfig::new("pg", crate::TransportKind::PgNotify, url);
        f.pg_notify = Some(PgNotifyOptions {
            channels: channels.iter().map(|c| c.to_string()).collect(),
            ..PgNotifyOptions::default()
        });
        crate::validate::validate_feed(&f)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn the_config_checks_name_the_field() {
        assert!(problems("postgres://u:p@h:5432/db", &["orders", "Orders"]).is_empty());
        assert!(problems("postgresql://h/db?sslmode=verify-full", &["a"]).is_empty());
        assert_eq!(problems("postgres://h/db", &[]), vec!["pg_notify.channels"]);
        let long = "x".repeat(64);
        assert_eq!(
            problems("postgres://h/db", &["a", "", &long, "a"]),
            vec![
                "pg_notify.channels[1]",
                "pg_notify.channels[2]",
                "pg_notify.channels[3]"
            ]
        );
        assert_eq!(problems("postgres://h", &["a"]), vec!["url"]);
        assert_eq!(
            problems("postgres://h/db?sslmode=strict", &["a"]),
            vec!["url"]
        );
        assert_eq!(problems("http://h/db", &["a"]), vec!["url"]);
    }
}
