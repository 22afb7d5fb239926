//! Redirects for the HTTP transports (poll, SSE, long poll), followed by
//! hand so that a feed's secrets go only to the server they were written
//! for.
//!
//! reqwest's own redirect policy strips only `Authorization`, `Cookie` and
//! `Proxy-Authorization` when a redirect leaves the origin: a feed's
//! `X-Api-Key` would follow it to any server that the first one (or anyone
//! who controls its responses) names. The shared client therefore follows
//! no redirect itself (`Policy::none()`), and [`Redirects::send`] does:
//!
//! * up to [`MAX_REDIRECTS`] hops; more is a failure;
//! * to another origin (scheme, host or port), **every configured header**
//!   of the feed is left out, plus `Authorization`, `Cookie` and
//!   `Proxy-Authorization` (which URL credentials become); transport headers
//!   such as `Accept` or `Last-Event-ID` are kept;
//! * from `https` to `http` is refused: the request, and what the server
//!   answers, would travel unencrypted;
//! * 301/302/303 turn a non-GET request into a GET without a body (as
//!   browsers do); 307/308 repeat it;
//! * each request hop gets what is left of the request's timeout.
//!
//! A redirect shows on the feed's timeline as a `redirect` issue, once per
//! distinct chain (a poll redirected on every request does not repeat it).
//!
//! The WebSocket transport does not follow redirects at all:
//! tokio-tungstenite treats a 3xx answer to the upgrade request as a failed
//! handshake.

use crate::Sink;
use http::header::{
    HeaderName, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION,
    PROXY_AUTHORIZATION,
};
use reqwest::{Method, StatusCode};
use telltale_model::secret::{redact_url, same_origin};
use telltale_model::FeedConfig;
use tokio::time::Instant;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;

/// Why a request got no usable response.
#[derive(Debug)]
pub enum SendError {
    /// The request itself failed (connect, timeout, …).
    Http(reqwest::Error),
    /// A redirect was refused; the text says why (no secrets in it).
    Refused(String),
}

/// Follows a feed's redirects (see the module docs) and remembers what it
/// last reported.
#[derive(Debug)]
pub struct Redirects {
    configured: Vec<HeaderName>,
    reported: Option<String>,
}

impl Redirects {
    /// For `feed`: its configured header names are the ones another origin
    /// never sees.
    pub fn new(feed: &FeedConfig) -> Redirects {
        Redirects {
            configured: feed
                .headers
                .keys()
                .filter_map(|k| HeaderName::from_bytes(k.as_bytes()).ok())
                .collect(),
            reported: None,
        }
    }

    /// Sends `request` with `client` (which must not follow redirects
    /// itself: see [`crate::http_common::client`]), following redirects.
    /// The response is the first one that is not a redirect.
    pub async fn send(
        &mut self,
        client: &reqwest::Client,
        request: reqwest::Request,
        sink: &Sink,
    ) -> Result<reqwest::Response, SendError> {
        let deadline = request.timeout().map(|t| Instant::now() + *t);
        let mut hops: Vec<String> = Vec::new();
        let mut current = request;
        loop {
            let again = current.try_clone();
            let method = current.method().clone();
            let response = client.execute(current).await.map_err(SendError::Http)?;
            let status = response.status();
            let location = response.headers().get(LOCATION).cloned();
            let (true, Some(location)) = (is_redirect(status), location) else {
                self.report(&hops, sink).await;
                sink.peer_certificate_of(&response);
                return Ok(response);
            };
            let from = response.url().clone();
            drop(response);
            let to = location
                .to_str()
                .ok()
                .and_then(|l| from.join(l).ok())
                .ok_or_else(|| {
                    SendError::Refused(format!(
                        "HTTP {} from {} with a Location that is not a URL",
                        status.as_u16(),
                        redact_url(from.as_str())
                    ))
                })?;
            let shown = redact_url(to.as_str());
            if hops.len() >= MAX_REDIRECTS {
                return Err(SendError::Refused(format!(
                    "more than {MAX_REDIRECTS} redirects (the last to {shown}): point the feed at the final URL"
                )));
            }
            let other_origin =
                check_hop(&from, &to).map_err(|e| SendError::Refused(e.to_string()))?;
            let Some(mut next) = again else {
                return Err(SendError::Refused(format!(
                    "cannot follow the redirect to {shown}: the request body cannot be sent twice"
                )));
            };
            *next.url_mut() = to;
            if matches!(status.as_u16(), 301..=303)
                && method != Method::GET
                && method != Method::HEAD
            {
                *next.method_mut() = Method::GET;
                *next.body_mut() = None;
                for h in [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING] {
                    next.headers_mut().remove(h);
                }
            }
            if other_origin {
                let headers = next.headers_mut();
                for h in self.configured.iter().cloned().chain([
                    AUTHORIZATION,
                    COOKIE,
                    PROXY_AUTHORIZATION,
                ]) {
                    headers.remove(h);
                }
            }
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                *next.timeout_mut() = Some(left.max(std::time::Duration::from_millis(1)));
            }
            hops.push(if other_origin {
                format!(
                    "HTTP {} to {shown} (another origin: the feed's headers were not sent there; if the feed moved, point it at the new URL)",
                    status.as_u16()
                )
            } else {
                format!("HTTP {} to {shown}", status.as_u16())
            });
            current = next;
        }
    }

    /// Reports a redirect chain on the timeline once, and again when it
    /// changes.
    async fn report(&mut self, hops: &[String], sink: &Sink) {
        if hops.is_empty() {
            self.reported = None;
            return;
        }
        let text = format!("redirected: {}", hops.join(", then "));
        if self.reported.as_deref() != Some(text.as_str()) {
            sink.notice("redirect", text.clone()).await;
            self.reported = Some(text);
        }
    }
}

/// Why a redirect is not followed (URLs redacted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum HopRefused {
    /// To a scheme other than http(s).
    #[error("refused a redirect to {to}: only http:// and https:// are followed")]
    Scheme { to: String },
    /// From https to http.
    #[error("refused a redirect from https to plain http ({from} → {to}): the request and its answer would travel unencrypted. If the server really moved, point the feed at the new URL")]
    Downgrade { from: String, to: String },
}

/// Whether a redirect from `from` to `to` may be followed: `Ok(true)` when
/// it leaves the origin (the feed's headers must stay behind), `Ok(false)`
/// within it, `Err(why)` when refused.
fn check_hop(from: &url::Url, to: &url::Url) -> Result<bool, HopRefused> {
    let shown = redact_url(to.as_str());
    if !matches!(to.scheme(), "http" | "https") {
        return Err(HopRefused::Scheme { to: shown });
    }
    if from.scheme() == "https" && to.scheme() == "http" {
        return Err(HopRefused::Downgrade {
            from: redact_url(from.as_str()),
            to: shown,
        });
    }
    Ok(!same_origin(from.as_str(), to.as_str()))
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(from: &str, to: &str) -> Result<bool, String> {
        check_hop(
            &url::Url::parse(from).unwrap(),
            &url::Url::parse(to).unwrap(),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn https_to_http_is_refused_and_origins_are_compared() {
        let e = hop("https://h.example/a", "http://h.example/a?token=t").unwrap_err();
        assert!(e.contains("https to plain http"), "{e}");
        assert!(!e.contains("token=t"), "{e}");
        assert!(hop("https://h/a", "ftp://h/a").is_err());
        assert_eq!(hop("http://h/a", "https://h/b"), Ok(true));
        assert_eq!(hop("https://h/a", "https://h:443/b"), Ok(false));
        assert_eq!(hop("https://h/a", "https://h:8443/b"), Ok(true));
        assert_eq!(hop("https://h/a", "https://other/a"), Ok(true));
    }
}
