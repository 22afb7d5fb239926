//! WebSocket connections through an HTTP proxy: which proxy a feed uses
//! ([`telltale_model::proxy`]: its own `proxy`, else the environment's
//! `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` unless `NO_PROXY` names the host),
//! and the `CONNECT` tunnel the WebSocket handshake (and its TLS) then runs
//! in. HTTP feeds get the same choice from reqwest ([`crate::feed_tls`]).

use crate::ended::Ended;
use crate::SetupError;
use base64::Engine as _;
use telltale_model::duration::format_duration;
use telltale_model::FeedConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP proxy to tunnel through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    host: String,
    port: u16,
    /// `Basic …` from the proxy URL's credentials.
    authorization: Option<String>,
    /// Where the choice came from, for messages (never the credentials).
    from: &'static str,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({})", self.host, self.port, self.from)
    }
}

fn parse(raw: &str, from: &'static str) -> Result<Proxy, SetupError> {
    let bad = |problem: String| SetupError::Proxy {
        field: from,
        problem,
    };
    let url = url::Url::parse(raw).map_err(|e| bad(format!("is not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(bad(format!(
            "has scheme `{}`: write `http://host:port` (CONNECT carries the TLS)",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("names no host".into()))?;
    let authorization = (!url.username().is_empty()).then(|| {
        let user = percent_encoding::percent_decode_str(url.username()).decode_utf8_lossy();
        let pass =
            percent_encoding::percent_decode_str(url.password().unwrap_or("")).decode_utf8_lossy();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        format!("Basic {token}")
    });
    Ok(Proxy {
        host: host.trim_matches(['[', ']']).to_string(),
        port: url.port().unwrap_or(80),
        authorization,
        from,
    })
}

/// The proxy for `feed`'s connection to `host` (`tls`: `wss://`), if any.
pub(crate) fn for_host(
    feed: &FeedConfig,
    tls: bool,
    host: &str,
) -> Result<Option<Proxy>, SetupError> {
    choose(feed, tls, host, |n| std::env::var(n).ok())
}

/// [`for_host`] with the environment as a function.
fn choose(
    feed: &FeedConfig,
    tls: bool,
    host: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, SetupError> {
    // The first of `names` set (and not empty).
    let env = |names: &[&'static str]| {
        names
            .iter()
            .find_map(|n| var(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
    };
    match feed.proxy.as_deref() {
        Some(telltale_model::proxy::NONE) => return Ok(None),
        Some(raw) => return parse(raw, "proxy").map(Some),
        None => {}
    }
    let names: &[&'static str] = if tls {
        &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    };
    let Some((name, raw)) = env(names) else {
        return Ok(None);
    };
    if let Some((_, list)) = env(&["no_proxy", "NO_PROXY"]) {
        if telltale_model::proxy::bypassed(&list, host) {
            return Ok(None);
        }
    }
    parse(&raw, name).map(Some)
}

/// Biggest `CONNECT` answer read (its status line and headers).
const MAX_ANSWER: usize = 8 * 1024;

/// A TCP connection to `host:port` through `proxy`'s `CONNECT`, within
/// `timeout`.
pub(crate) async fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    timeout: std::time::Duration,
) -> Result<TcpStream, Ended> {
    let at = format!("the proxy {}:{} ({})", proxy.host, proxy.port, proxy.from);
    let work = async {
        let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
            .await
            .map_err(|e| Ended::Retry(format!("cannot reach {at}: {e}")))?;
        tcp.set_nodelay(true).ok();
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut ask = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(a) = &proxy.authorization {
            ask.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        ask.push_str("\r\n");
        tcp.write_all(ask.as_bytes())
            .await
            .map_err(|e| Ended::Retry(format!("{at} closed the connection: {e}")))?;
        let mut answer = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        // Byte by byte: what follows the blank line belongs to the tunnel.
        while !answer.ends_with(b"\r\n\r\n") {
            if answer.len() >= MAX_ANSWER {
                return Err(Ended::Retry(format!(
                    "{at} answered CONNECT with more than {MAX_ANSWER} bytes of headers"
                )));
            }
            match tcp.read(&mut byte).await {
                Ok(0) => {
                    return Err(Ended::Retry(format!(
                        "{at} closed the connection before answering CONNECT"
                    )))
                }
                Ok(_) => answer.push(byte[0]),
                Err(e) => return Err(Ended::Retry(format!("{at} failed: {e}"))),
            }
        }
        let text = String::from_utf8_lossy(&answer);
        let status_line = text.lines().next().unwrap_or_default().trim().to_string();
        let code = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok());
        match code {
            Some(200..=299) => Ok(tcp),
            Some(407) => Err(Ended::RetrySlowly(format!(
                "{at} wants credentials ({status_line}): put them in the proxy URL, http://user:password@host:port"
            ))),
            _ => Err(Ended::Retry(format!(
                "{at} refused CONNECT to {authority}: {status_line}"
            ))),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(Ended::Retry(format!(
            "no tunnel through {at} within {}",
            format_duration(timeout)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_gives_host_port_and_basic_credentials() {
        let p = parse("http://me:p%40ss@proxy.lan:3128", "proxy").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.lan", 3128));
        // base64("me:p@ss")
        assert_eq!(p.authorization.as_deref(), Some("Basic bWU6cEBzcw=="));
        assert!(!format!("{p:?}").contains("p@ss"));
        assert_eq!(parse("http://proxy.lan", "proxy").unwrap().port, 80);
        let e = parse("socks5://proxy.lan:1080", "HTTPS_PROXY").unwrap_err();
        assert!(e.to_string().contains("HTTPS_PROXY"), "{e}");
    }

    #[test]
    fn the_environment_decides_unless_the_feed_does() {
        let env = |n: &str| match n {
            "HTTPS_PROXY" => Some("http://secure.lan:3128".to_string()),
            "http_proxy" => Some("http://plain.lan:3128".to_string()),
            "NO_PROXY" => Some("localhost,.internal".to_string()),
            _ => None,
        };
        let feed = telltale_model::FeedConfig::new(
            "f",
            telltale_model::TransportKind::Websocket,
            "wss://h/",
        );
        let host = |tls, h| choose(&feed, tls, h, env).unwrap().map(|p| p.host);
        assert_eq!(host(true, "api.example.com").as_deref(), Some("secure.lan"));
        assert_eq!(host(false, "api.example.com").as_deref(), Some("plain.lan"));
        assert_eq!(host(true, "db.internal"), None);
        assert_eq!(host(true, "localhost"), None);
        let mut own = feed.clone();
        own.proxy = Some("none".into());
        assert!(choose(&own, true, "api.example.com", env)
            .unwrap()
            .is_none());
        own.proxy = Some("http://mine.lan:8080".into());
        let p = choose(&own, true, "db.internal", env).unwrap().unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.from),
            ("mine.lan", 8080, "proxy")
        );
    }
}
