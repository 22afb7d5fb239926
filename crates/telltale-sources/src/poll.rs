//! The short-polling transport: one HTTP request per `poll.interval`.
//!
//! # Schedule
//!
//! The first request of each feed happens at a random phase in
//! `[0, interval)`, so a thousand feeds with the same interval do not fire
//! together. After that requests follow a fixed schedule
//! (`tokio::time::interval_at` with [`MissedTickBehavior::Delay`]): the
//! schedule does not drift with response times, and a request that overruns
//! its slot delays the next one instead of causing a burst.
//!
//! # Each response
//!
//! Every response yields one [`RawMessage`] whose `transport_metrics` carry
//! `http_status`, `response_ms` (request start to full body) and `up`
//! (1 or 0), so uptime and response time chart even when nothing changed:
//!
//! | response | message | state |
//! | --- | --- | --- |
//! | 2xx | the body; `server_id` = `ETag` if any; `up` = 1 | [`ConnState::Live`] |
//! | 304 (conditional) | empty data, `event_type = "unchanged"`; `up` = 1 | [`ConnState::Live`] |
//! | anything else | the body truncated to 4 KiB, `event_type = "http_error"`; `up` = 0; plus an `http_status` issue | [`ConnState::Retrying`] |
//! | no response (timeout, refused) | empty data, `event_type = "http_error"`; only `up` = 0 | [`ConnState::Retrying`] |
//!
//! With `poll.conditional` (the default) each request carries
//! `If-None-Match` with the last `ETag` and `If-Modified-Since` with the last
//! `Last-Modified` of a 2xx response.
//!
//! A 2xx body larger than [`MAX_BODY`] is not delivered: it is reported as an
//! `oversize` issue and counts as a failure. Bodies in `gzip`, `br` or
//! `deflate` are decoded as they stream and the cap counts decoded bytes; any
//! other `Content-Encoding` is an `encoding` issue and a failure (see
//! [`crate::http_common::undecodable_encoding`]).
//!
//! # Failures and states
//!
//! [`ConnState::Connecting`] is reported before the first request and before
//! each retry (not before every request of a healthy feed, which would make
//! the timeline flap). After a failure the next attempt comes after a delay
//! from [`Backoff`], capped at the interval; the first success after that
//! reports [`ConnState::Live`] and restarts the regular schedule from that
//! moment. The backoff is told "connected" on each transition to live, so a
//! feed that stays healthy for `backoff.reset_after` starts over from the
//! initial delay.
//!
//! **Configuration errors** (an unparsable URL, an invalid method, a header
//! referencing an unset environment variable) cannot be fixed by retrying the
//! request. They are reported as [`ConnState::Failed`] with the reason and
//! re-checked every `backoff.max` (the environment may be fixed); the sink
//! suppresses the repeated identical state. No request is sent meanwhile.
//!
//! All polling feeds of a runtime share one reqwest client (built on first
//! use; building one per feed would cost a thousand feeds many seconds of
//! CPU for TLS trust roots), and every request carries `poll.timeout` as its
//! timeout (connect to end of body). Header values are never logged or reported; reasons
//! name `host:port`, never the query string or credentials.

use crate::http_common::{describe, feed_headers};
use crate::redirect::SendError;
use crate::{SetupError, Sink};
use http::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use http::HeaderValue;
use std::sync::Arc;
use std::time::Duration;
use telltale_model::duration::format_duration;
use telltale_model::feed::PollOptions;
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage, Timestamp};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Largest 2xx body delivered (larger is an `oversize` issue and a failure).
pub const MAX_BODY: usize = 16 << 20;

/// How much of an error response's body is kept.
pub const ERROR_BODY_LIMIT: usize = 4 << 10;

/// The shortest interval honoured (config validation asks for 100 ms; this
/// only guards against a zero interval).
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Spacing of the shared schedule grid (see [`on_grid`]).
const GRID: Duration = Duration::from_millis(10);

/// Rounds a start time up to the process-wide 10 ms grid. Polls with the
/// same (whole-grid) interval then tick together in at most 100 slots a
/// second instead of a thousand distinct instants, so 1,000 feeds wake the
/// runtime far fewer times; the phase within a second stays random, so load
/// is still spread.
fn on_grid(t: Instant) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let grid = GRID.as_nanos();
    let nanos = |n: u128| Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX));
    // The first grid point at or after `t`, less than one step later.
    if t >= epoch {
        let slots = (t - epoch).as_nanos().div_ceil(grid);
        epoch + nanos(slots.saturating_mul(grid))
    } else {
        let slots = (epoch - t).as_nanos() / grid;
        epoch - nanos(slots * grid)
    }
}

/// The fixed schedule of a check every `interval`: its first tick at a
/// random phase of the interval (on the shared grid), or at once; a tick
/// that overruns delays the next instead of bursting. Shared by the TCP
/// check ([`crate::tcp`]).
pub(crate) fn schedule(interval: Duration, random_phase: bool) -> tokio::time::Interval {
    let start = if random_phase {
        on_grid(Instant::now() + interval.mul_f64(fastrand::f64()))
    } else {
        Instant::now()
    };
    let mut ticker = tokio::time::interval_at(start, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// Waits for the next attempt of a schedule: the retry delay when one is
/// set (`Some(true)`: recovering), else the next tick (`Some(false)`);
/// `None` when cancelled. Shared by polls and checks ([`crate::tcp`]).
pub(crate) async fn next_attempt(
    retry_in: &mut Option<Duration>,
    ticker: &mut tokio::time::Interval,
    cancel: &CancellationToken,
) -> Option<bool> {
    match retry_in.take() {
        Some(d) => crate::sleep_or_cancel(d, cancel).await.then_some(true),
        None => tokio::select! {
            _ = cancel.cancelled() => None,
            _ = ticker.tick() => Some(false),
        },
    }
}

/// Runs a polling feed until `cancel` fires. See the module doc; without
/// `random_phase` the first request goes out at once.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken, random_phase: bool) {
    let opts = feed.poll_options();
    let interval = opts.interval.0.max(MIN_INTERVAL);
    let timeout = opts.timeout.0.max(Duration::from_millis(1));
    let recheck = feed.backoff.max.0.max(Duration::from_secs(1));
    let mut backoff = Backoff::new(&feed.backoff);
    let mut validators = Validators::default();
    let mut live = false;
    let target = request_target(&feed.url);
    let mut redirects = crate::redirect::Redirects::new(&feed);

    let mut ticker = schedule(interval, random_phase);
    // Some(delay) while recovering from a failure: the next attempt waits
    // this long instead of for the next tick.
    let mut retry_in: Option<Duration> = None;

    loop {
        let Some(recovering) = next_attempt(&mut retry_in, &mut ticker, &cancel).await else {
            return;
        };

        let (http, request) = match prepare(&feed, &opts, timeout, &validators) {
            Ok(r) => r,
            Err(e) => {
                live = false;
                let reason = e.to_string();
                sink.state(ConnState::Failed { reason }).await;
                retry_in = Some(recheck);
                continue;
            }
        };
        if !live {
            sink.state(ConnState::Connecting).await;
        }

        let polled = tokio::select! {
            _ = cancel.cancelled() => return,
            p = poll_once(http, request, &target, timeout, &mut redirects, &sink) => p,
        };

        match polled.failure {
            None => {
                if opts.conditional {
                    validators.update(&polled);
                }
                if !live {
                    live = true;
                    backoff.connected();
                    sink.state(ConnState::Live).await;
                }
                sink.message(polled.message).await;
                if recovering {
                    // Resume the regular schedule from this success.
                    ticker.reset();
                }
            }
            Some(reason) => {
                live = false;
                sink.message(polled.message).await;
                if let Some((kind, text)) = polled.issue {
                    sink.issue(kind, text).await;
                }
                let delay = backoff.next_delay().min(interval);
                sink.retrying(backoff.attempt(), delay, reason).await;
                retry_in = Some(delay);
            }
        }
    }
}

/// The last validators seen on a 2xx response.
#[derive(Debug, Default)]
struct Validators {
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
}

impl Validators {
    fn update(&mut self, p: &Polled) {
        if p.status_ok {
            self.etag = p.etag.clone();
            self.last_modified = p.last_modified.clone();
        } else if p.not_modified {
            // A 304 may carry a refreshed ETag; keep the old one otherwise.
            if let Some(e) = &p.etag {
                self.etag = Some(e.clone());
            }
        }
    }
}

/// Builds the next request. Errors are configuration errors.
fn prepare(
    feed: &FeedConfig,
    opts: &PollOptions,
    timeout: Duration,
    validators: &Validators,
) -> Result<(reqwest::Client, reqwest::Request), SetupError> {
    let url = crate::http_common::check_http_url(&feed.url, "polling")?;
    let method_name = opts.method.trim().to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method_name.as_bytes())
        .map_err(|_| SetupError::Method(opts.method.clone()))?;
    let mut headers = feed_headers(feed)?;
    if opts.conditional {
        if let Some(etag) = &validators.etag {
            headers.insert(IF_NONE_MATCH, etag.clone());
        }
        if let Some(lm) = &validators.last_modified {
            headers.insert(IF_MODIFIED_SINCE, lm.clone());
        }
    }
    let client = crate::feed_tls::client_for(feed)?;
    let mut builder = client
        .request(method, url)
        .headers(headers)
        .timeout(timeout);
    if let Some(body) = &opts.body {
        builder = builder.body(body.clone());
    }
    let request = builder
        .build()
        .map_err(|e| SetupError::Request(describe(&e)))?;
    Ok((client, request))
}

/// `host:port` of the feed's URL: safe to show.
fn request_target(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "the server".into(),
        },
        Err(_) => "the server".into(),
    }
}

/// What one request produced.
struct Polled {
    /// Always emitted (metrics chart even on failure).
    message: RawMessage,
    /// `Some(reason)` when this counts as a failure.
    failure: Option<String>,
    /// An issue to record alongside a failure.
    issue: Option<(&'static str, String)>,
    status_ok: bool,
    not_modified: bool,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
}

/// Sends one request and reads its answer.
async fn poll_once(
    client: reqwest::Client,
    request: reqwest::Request,
    target: &str,
    timeout: Duration,
    redirects: &mut crate::redirect::Redirects,
    sink: &Sink,
) -> Polled {
    let started = std::time::Instant::now();
    let elapsed_ms = || started.elapsed().as_secs_f64() * 1000.0;
    let mut polled = Polled {
        message: RawMessage {
            received_at: Timestamp::now(),
            server_id: None,
            event_type: Some("http_error".to_string()),
            data: bytes::Bytes::new(),
            transport_metrics: vec![("up", 0.0)],
            labels: Vec::new(),
        },
        failure: None,
        issue: None,
        status_ok: false,
        not_modified: false,
        etag: None,
        last_modified: None,
    };

    let response = match redirects.send(&client, request, sink).await {
        Ok(r) => r,
        Err(SendError::Http(e)) => {
            polled.message.received_at = Timestamp::now();
            polled.failure = Some(describe_request_error(&e, target, timeout));
            return polled;
        }
        Err(SendError::Refused(reason)) => {
            polled.message.received_at = Timestamp::now();
            polled.issue = Some(("redirect", reason.clone()));
            polled.failure = Some(reason);
            return polled;
        }
    };
    let status = response.status();
    let header = |name| response.headers().get(name).cloned();
    polled.etag = header(ETAG);
    polled.last_modified = header(LAST_MODIFIED);
    let server_id = polled
        .etag
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    if let Some(reason) = crate::http_common::undecodable_encoding(response.headers()) {
        polled.message.received_at = Timestamp::now();
        polled.message.transport_metrics = metrics(status, elapsed_ms(), false);
        polled.issue = Some(("encoding", reason.clone()));
        polled.failure = Some(reason);
        return polled;
    }
    if status.is_success() {
        let body = read_body(response, MAX_BODY).await;
        let ms = elapsed_ms();
        polled.message.received_at = Timestamp::now();
        polled.message.transport_metrics = metrics(status, ms, true);
        match body {
            Ok((data, false)) => {
                polled.status_ok = true;
                polled.message.event_type = None;
                polled.message.server_id = server_id;
                polled.message.data = data;
            }
            Ok((_, true)) => {
                let text = format!(
                    "response from {target} exceeds {} MiB; it was not delivered",
                    MAX_BODY >> 20
                );
                polled.message.transport_metrics = metrics(status, ms, false);
                polled.issue = Some(("oversize", text.clone()));
                polled.failure = Some(text);
            }
            Err(e) => {
                polled.message.transport_metrics = metrics(status, ms, false);
                polled.failure = Some(describe_request_error(&e, target, timeout));
            }
        }
        return polled;
    }

    if status == reqwest::StatusCode::NOT_MODIFIED {
        let ms = elapsed_ms();
        polled.not_modified = true;
        polled.message.received_at = Timestamp::now();
        polled.message.event_type = Some("unchanged".to_string());
        polled.message.server_id = server_id;
        polled.message.transport_metrics = metrics(status, ms, true);
        return polled;
    }

    // Any other status: a failure, with what the server said.
    let body = read_body(response, ERROR_BODY_LIMIT).await;
    let ms = elapsed_ms();
    let data = match body {
        Ok((data, _)) => data,
        Err(_) => bytes::Bytes::new(),
    };
    let reason = format!(
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_string();
    let excerpt = excerpt(&data);
    let issue = if excerpt.is_empty() {
        format!("{reason} from {target}")
    } else {
        format!("{reason} from {target}: {excerpt}")
    };
    polled.message.received_at = Timestamp::now();
    polled.message.transport_metrics = metrics(status, ms, false);
    polled.message.data = data;
    polled.issue = Some(("http_status", issue));
    polled.failure = Some(reason);
    polled
}

/// `response_ms` is kept to 10 µs: finer digits are noise, and two
/// decimals store as a small integer (see `telltale_store::schema`).
fn metrics(status: reqwest::StatusCode, ms: f64, up: bool) -> Vec<(&'static str, f64)> {
    vec![
        ("http_status", f64::from(status.as_u16())),
        ("response_ms", (ms * 100.0).round() / 100.0),
        ("up", if up { 1.0 } else { 0.0 }),
    ]
}

/// Reads at most `limit` bytes; the flag says whether there was more.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(bytes::Bytes, bool), reqwest::Error> {
    if let Some(len) = response.content_length() {
        if len > limit as u64 && limit == MAX_BODY {
            return Ok((bytes::Bytes::new(), true));
        }
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - buf.len();
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf.freeze(), true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), false))
}

/// The first line of an error body, shortened, for the issue text.
fn excerpt(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(200).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

/// Human text for a request that got no (complete) response.
fn describe_request_error(e: &reqwest::Error, target: &str, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!(
            "timed out: no complete response from {target} within {}",
            format_duration(timeout)
        );
    }
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return format!("connection refused by {target}")
                }
                std::io::ErrorKind::ConnectionReset => {
                    return format!("connection reset by {target}")
                }
                std::io::ErrorKind::TimedOut => return format!("timed out connecting to {target}"),
                _ => {}
            }
        }
        src = s.source();
    }
    format!("{target}: {}", describe(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_land_on_one_grid_within_a_step() {
        let now = Instant::now();
        let mut points = std::collections::BTreeSet::new();
        for i in 0..1000u64 {
            // Before and after the grid's epoch, a thousand phases in a second.
            let t = now + Duration::from_micros(i * 997) - Duration::from_millis(5);
            let g = on_grid(t);
            assert!(g >= t && g - t < GRID, "{i}: {:?} -> {:?}", t, g);
            points.insert(g);
        }
        let first = *points.first().expect("points");
        for p in &points {
            assert_eq!((*p - first).as_nanos() % GRID.as_nanos(), 0);
        }
        assert!(points.len() <= 101, "{} distinct start times", points.len());
    }

    #[test]
    fn excerpts_are_short_single_lines() {
        assert_eq!(excerpt(b"\n  oops: db down \nmore"), "oops: db down");
        let long = "x".repeat(500);
        let e = excerpt(long.as_bytes());
        assert!(e.ends_with('…') && e.chars().count() == 201, "{e}");
    }

    #[test]
    fn targets_hide_credentials_and_query() {
        assert_eq!(
            request_target("https://u:p@example.com/health?token=abc"),
            "example.com:443"
        );
        assert_eq!(request_target("not a url"), "the server");
    }

    #[test]
    fn config_errors_name_the_problem() {
        let mut feed = FeedConfig::new(
            "f",
            telltale_model::TransportKind::Poll,
            "ws://127.0.0.1:1/x",
        );
        let opts = PollOptions::default();
        let t = Duration::from_secs(1);
        let v = Validators::default();
        let e = prepare(&feed, &opts, t, &v).err().unwrap().to_string();
        assert!(e.contains("not `ws://`"), "{e}");
        feed.url = "http://127.0.0.1:1/x".into();
        let bad = PollOptions {
            method: "GE T".into(),
            ..PollOptions::default()
        };
        let e = prepare(&feed, &bad, t, &v).err().unwrap().to_string();
        assert!(e.contains("poll.method"), "{e}");
        assert!(prepare(&feed, &opts, t, &v).is_ok());
    }
}
