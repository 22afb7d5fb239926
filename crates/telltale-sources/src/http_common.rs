//! What the HTTP transports (SSE, poll, long-poll) share: building a client
//! and a request with the feed's headers, `${ENV}` expanded at connect time
//! (only variables the operator allowed: see
//! [`telltale_model::secret::expand_env`]). Redirects are followed by
//! [`crate::redirect`], never by the client.

use crate::SetupError;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Mutex;
use telltale_model::FeedConfig;

/// Builds the feed's configured headers, expanding `${ENV}` references.
///
/// The error names the header (never its value) and says what to do.
pub fn feed_headers(feed: &FeedConfig) -> Result<HeaderMap, SetupError> {
    let mut map = HeaderMap::new();
    for (name, raw) in &feed.headers {
        let value =
            telltale_model::secret::expand_env(raw).map_err(|problem| SetupError::HeaderEnv {
                name: name.clone(),
                problem,
            })?;
        let name_h = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| SetupError::HeaderName(name.clone()))?;
        let mut value_h =
            HeaderValue::from_str(&value).map_err(|_| SetupError::HeaderValue(name.clone()))?;
        if telltale_model::secret::is_sensitive_header(name) {
            value_h.set_sensitive(true);
        }
        map.insert(name_h, value_h);
    }
    Ok(map)
}

/// A new reqwest client. `timeout` bounds each whole request, or
/// `None` for streams (SSE), where liveness is watched instead.
///
/// It follows no redirect: [`crate::redirect::Redirects::send`] does, so
/// that a feed's headers never follow a redirect to another origin.
pub fn client(timeout: Option<std::time::Duration>) -> Result<reqwest::Client, SetupError> {
    let mut b = builder();
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().map_err(|e| SetupError::Client(describe(&e)))
}

/// The settings every client starts from (also those with a feed's own
/// TLS settings, [`crate::feed_tls`]).
pub(crate) fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("telltale/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .tcp_nodelay(true)
        // the server certificate, for its expiry (`crate::cert`)
        .tls_info(true)
}

/// The HTTP client all HTTP feeds (poll, SSE, long poll) of this tokio
/// runtime share; each request sets its own timeout where it needs one.
///
/// Building a client loads the TLS trust roots, which costs tens of
/// milliseconds of CPU on the async runtime; a thousand feeds each building
/// their own would stall the process for many seconds at startup. One shared
/// client (its pool keyed by host) with a per-request timeout behaves the
/// same and also reuses connections between feeds of the same server.
///
/// It is shared per runtime, not per process: a hyper connection belongs to
/// the runtime that opened it, and reusing a pooled connection from a
/// runtime that has since shut down fails (reqwest#1148, #2501) — which
/// happens as soon as several `#[tokio::test]`s poll.
pub fn shared_client() -> Result<reqwest::Client, SetupError> {
    const KEEP: usize = 8;
    static CLIENTS: Mutex<Vec<(Option<tokio::runtime::Id>, reqwest::Client)>> =
        Mutex::new(Vec::new());
    let runtime = tokio::runtime::Handle::try_current().ok().map(|h| h.id());
    let lock = || CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = lock().iter().find(|(id, _)| *id == runtime) {
        return Ok(c.clone());
    }
    // Built without holding the lock; a concurrent builder may win the race.
    let built = client(None)?;
    let mut clients = lock();
    if let Some((_, c)) = clients.iter().find(|(id, _)| *id == runtime) {
        return Ok(c.clone());
    }
    if clients.len() >= KEEP {
        // Runtimes are few in production (one); tests create many and never
        // come back to an old one.
        clients.remove(0);
    }
    clients.push((runtime, built.clone()));
    Ok(built)
}

/// A short, secret-free description of a reqwest error.
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body failed"
    } else if e.is_request() {
        "the request failed"
    } else {
        "HTTP error"
    };
    let mut msg = kind.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
        depth += 1;
        if depth > 3 {
            break;
        }
    }
    msg
}

/// A reason to refuse a response whose body is still encoded.
///
/// The client asks for and decodes `gzip`, `br` and `deflate` (reqwest then
/// removes the `Content-Encoding` header), so the transports' size caps
/// apply to the decoded bytes as they stream. Any other coding (`zstd`,
/// `compress`, a stack such as `gzip, br`) would reach the timeline as
/// garbled compressed bytes: it is refused, naming the coding.
pub fn undecodable_encoding(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_ENCODING)?;
    let text = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
    let identity = text
        .split(',')
        .all(|c| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity"));
    if identity {
        return None;
    }
    let shown: String = text.chars().take(40).collect();
    Some(format!(
        "the response is encoded with `{shown}` (Content-Encoding), which Telltale cannot decode: only gzip, br and deflate are supported"
    ))
}

/// Accepts only absolute `http://` and `https://` URLs, and gives the
/// parsed URL; `transport` names the transport in the message (e.g. "SSE",
/// "long polling").
pub fn check_http_url(raw: &str, transport: &'static str) -> Result<url::Url, SetupError> {
    let url = url::Url::parse(raw).map_err(|e| SetupError::url(raw, e))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(SetupError::Scheme {
            transport,
            scheme: other.to_string(),
            expected: "`http://` or `https://`",
        }),
    }
}

/// The reason shown for a configuration problem retried on the slow
/// schedule: what went wrong, then when the next attempt is (in whole
/// seconds, and as a time).
pub fn slow_retry_reason(reason: &str, delay: std::time::Duration) -> String {
    let shown = std::time::Duration::from_secs(delay.as_secs().max(1));
    format!(
        "{reason}; a configuration problem: next attempt in {} (at {})",
        telltale_model::duration::format_duration(shown),
        telltale_model::Timestamp::now()
            .plus(delay)
            .to_rfc3339_millis()
    )
}

/// A 4xx that retrying soon cannot fix: the URL, the credentials or the
/// request is wrong. `408 Request Timeout` and `429 Too Many Requests` are
/// about timing, not configuration, and keep the normal backoff.
pub fn is_configuration_status(status: http::StatusCode) -> bool {
    status.is_client_error()
        && status != http::StatusCode::REQUEST_TIMEOUT
        && status != http::StatusCode::TOO_MANY_REQUESTS
}
