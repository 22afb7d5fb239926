//! From a feed's URL and `[feed.pg_notify]` to what a connection needs.
//! Every error here is a configuration error naming the field to fix.

use crate::SetupError;
use postgres_native_tls::MakeTlsConnector;
use std::time::Duration;
use telltale_model::pg_notify::{ssl_mode, PgNotifyOptions};
use telltale_model::FeedConfig;
use tokio_postgres::config::SslMode;

/// Everything one connection needs, checked.
pub struct Setup {
    /// `host:port`, for messages.
    pub host_port: String,
    /// The connection parameters (URL, `application_name`, timeouts).
    pub config: tokio_postgres::Config,
    /// TLS as `sslmode` asks.
    pub tls: MakeTlsConnector,
    /// The `LISTEN` statements, names quoted.
    pub listen: String,
    /// See [`PgNotifyOptions::keep_alive`].
    pub keep_alive: Duration,
}

impl Setup {
    /// Checks the feed's URL and options.
    pub fn of(feed: &FeedConfig, opts: &PgNotifyOptions) -> Result<Setup, SetupError> {
        let mut url = url::Url::parse(&feed.url).map_err(|e| SetupError::url(&feed.url, e))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(SetupError::Scheme {
                transport: "pg_notify",
                scheme: url.scheme().to_string(),
                expected: "`postgres://` or `postgresql://`",
            });
        }
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.to_string(),
            _ => return Err(SetupError::url(&feed.url, "it has no host")),
        };
        let host_port = format!("{host}:{}", url.port().unwrap_or(5432));
        // tokio-postgres knows `disable`, `prefer` and `require`; the
        // `verify-*` modes are `require` with a verifying connector.
        let mode = ssl_mode(&url).unwrap_or_else(|| "prefer".into());
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "sslmode")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut config: tokio_postgres::Config = url
            .as_str()
            .parse()
            .map_err(|e| SetupError::url(&feed.url, e))?;
        let (ssl, verify_chain, verify_host) = match mode.as_str() {
            "disable" => (SslMode::Disable, false, false),
            "prefer" => (SslMode::Prefer, false, false),
            "require" => (SslMode::Require, false, false),
            "verify-ca" => (SslMode::Require, true, false),
            "verify-full" => (SslMode::Require, true, true),
            other => {
                return Err(SetupError::url(
                    &feed.url,
                    format!("`sslmode={other}` is not one of disable, prefer, require, verify-ca, verify-full"),
                ))
            }
        };
        config.ssl_mode(ssl);
        if config.get_application_name().is_none() {
            config.application_name("telltale");
        }
        config.connect_timeout(super::CONNECT_TIMEOUT);
        let mut b = native_tls::TlsConnector::builder();
        // libpq's `prefer` and `require` encrypt without checking who
        // answers; `verify-ca` and `verify-full` check.
        b.danger_accept_invalid_certs(!verify_chain);
        b.danger_accept_invalid_hostnames(!verify_host);
        if let Some(path) = &opts.ca_file {
            crate::tls_files::trust_only(&mut b, path).map_err(|e| SetupError::PgNotify {
                field: "pg_notify.ca_file",
                problem: e.to_string(),
            })?;
        }
        let tls = b.build().map_err(|e| SetupError::PgNotify {
            field: "url",
            problem: format!("cannot set up TLS: {e}"),
        })?;
        if opts.channels.is_empty() {
            return Err(SetupError::PgNotify {
                field: "pg_notify.channels",
                problem: "is empty: name at least one channel".into(),
            });
        }
        let listen = opts
            .channels
            .iter()
            .map(|c| format!("LISTEN {};", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Setup {
            host_port,
            config,
            tls: MakeTlsConnector::new(tls),
            listen,
            keep_alive: opts.keep_alive.0.max(Duration::from_secs(1)),
        })
    }
}

/// A channel name as a quoted SQL identifier: matched exactly, and no
/// name can end the statement.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_model::TransportKind;

    fn setup(url: &str) -> Result<Setup, SetupError> {
        let mut f = FeedConfig::new("pg", TransportKind::PgNotify, url);
        f.pg_notify = Some(PgNotifyOptions {
            channels: vec!["orders".into(), "we\"ird; DROP".into()],
            ..PgNotifyOptions::default()
        });
        Setup::of(&f, &f.pg_notify_options())
    }

    #[test]
    fn the_url_gives_host_database_and_quoted_channels() {
        let s =
            setup("postgres://u:p%40ss@db.lan/shop?sslmode=verify-full&connect_timeout=3").unwrap();
        assert_eq!(s.host_port, "db.lan:5432");
        assert_eq!(s.config.get_dbname(), Some("shop"));
        assert_eq!(s.config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(s.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(s.config.get_application_name(), Some("telltale"));
        assert_eq!(s.listen, r#"LISTEN "orders"; LISTEN "we""ird; DROP";"#);
        let s = setup("postgresql://db.lan:6543/shop?sslmode=disable").unwrap();
        assert_eq!(s.host_port, "db.lan:6543");
        assert_eq!(s.config.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn bad_urls_name_the_problem_without_the_password() {
        let e = setup("postgres://u:hunter2@db.lan/shop?sslmode=strict")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("sslmode=strict") && !e.contains("hunter2"),
            "{e}"
        );
        let e = setup("http://db.lan/shop").err().unwrap().to_string();
        assert!(e.contains("postgres://"), "{e}");
    }
}
