//! A feed's proxy (`proxy = "http://proxy.lan:3128"`, or `"none"`).
//!
//! Without `proxy`, HTTP feeds (polls, SSE, long polls, Socket.IO's
//! long-polling) and WebSocket feeds (with GraphQL and Socket.IO) honour the
//! environment as curl does: `HTTPS_PROXY` for `https://` and `wss://`,
//! `HTTP_PROXY` for `http://` and `ws://`, `ALL_PROXY` for both, and
//! `NO_PROXY` (host names, `.domain` suffixes, IP addresses, `*`) for the
//! hosts reached directly. `proxy = "none"` ignores the environment; a URL
//! sends every connection of the feed through that proxy, with its
//! credentials as `Proxy-Authorization`.

use crate::feed::{FeedConfig, TransportKind};

/// The value that ignores the environment's proxies.
pub const NONE: &str = "none";

/// The transports `proxy` applies to.
pub fn applies_to(t: TransportKind) -> bool {
    crate::tls::applies_to(t)
}

/// Problems with `proxy`, as `(field, message)`.
pub(crate) fn validate(feed: &FeedConfig, p: &mut Vec<(String, String)>) {
    let Some(raw) = &feed.proxy else { return };
    if !applies_to(feed.transport) {
        p.push((
            "proxy".into(),
            format!(
                "does not apply to transport `{}`: only HTTP and WebSocket feeds go through a proxy",
                feed.transport
            ),
        ));
        return;
    }
    if raw == NONE {
        return;
    }
    match url::Url::parse(raw) {
        Ok(u) if u.scheme() == "http" && u.host_str().is_some_and(|h| !h.is_empty()) => {}
        Ok(u) if u.scheme() != "http" => p.push((
            "proxy".into(),
            format!(
                "has scheme `{}`: Telltale speaks to proxies in plain HTTP (`http://host:port`), CONNECT tunnels the TLS",
                u.scheme()
            ),
        )),
        _ => p.push((
            "proxy".into(),
            "is not `http://host:port` (or `none` to ignore HTTPS_PROXY and the like)".into(),
        )),
    }
}

/// Whether `NO_PROXY` (its text) says `host` is reached directly.
pub fn bypassed(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|e| {
            if e == "*" {
                return true;
            }
            // `host:port` entries: the host part decides.
            let e = match e.rsplit_once(':') {
                Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
                    h.to_string()
                }
                _ => e,
            };
            let domain = e.trim_start_matches('.');
            host == domain || host.ends_with(&format!(".{domain}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_hosts_suffixes_and_everything() {
        let list = "localhost, .lan,example.com:8443,10.0.0.7";
        assert!(bypassed(list, "localhost"));
        assert!(bypassed(list, "db.lan"));
        assert!(bypassed(list, "api.example.com"));
        assert!(bypassed(list, "example.com"));
        assert!(bypassed(list, "10.0.0.7"));
        assert!(!bypassed(list, "10.0.0.70"));
        assert!(!bypassed(list, "notexample.com"));
        assert!(!bypassed(list, "lan.example.org"));
        assert!(bypassed("*", "anything"));
        assert!(!bypassed("", "anything"));
        assert!(bypassed("::1", "[::1]"));
    }

    #[test]
    fn proxy_is_an_http_url_or_none() {
        let feed = |proxy: &str, t: TransportKind| {
            let mut f = FeedConfig::new("f", t, "wss://h/");
            f.proxy = Some(proxy.into());
            let mut p = Vec::new();
            validate(&f, &mut p);
            p
        };
        assert!(feed("http://proxy.lan:3128", TransportKind::Websocket).is_empty());
        assert!(feed("none", TransportKind::Poll).is_empty());
        assert!(feed("https://proxy.lan", TransportKind::Websocket)[0]
            .1
            .contains("plain HTTP"));
        assert!(feed("proxy.lan:3128", TransportKind::Websocket)[0]
            .1
            .contains("http://host:port"));
        assert!(feed("http://p:1", TransportKind::Mqtt)[0]
            .1
            .contains("does not apply"));
    }
}
