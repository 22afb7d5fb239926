//! Server-Sent Events (`text/event-stream`) with lossless resume.
//!
//! # Behaviour
//!
//! * Each attempt is a `GET` of the feed URL with the feed's headers
//!   (`${ENV}` expanded at connect time), `Accept: text/event-stream`,
//!   `Cache-Control: no-cache` and, once an event with an id has been seen,
//!   `Last-Event-ID`. The last event id lives for the whole of [`run`], so
//!   every reconnect resumes where the previous stream stopped.
//! * The response must be `200` with the content type `text/event-stream`
//!   (parameters such as `charset` are ignored). Otherwise:
//!   * `204 No Content` is the standard's "stop reconnecting": the feed goes
//!     to [`ConnState::StoppedByServer`] and makes no further attempt until
//!     the operator resumes it (disabling and enabling the feed, or editing
//!     it, starts a new task).
//!   * A 4xx (except `408` and `429`), a 2xx other than `200`, or a wrong
//!     content type is a configuration problem: [`ConnState::Failed`] with a
//!     reason that says what was received and when the next attempt is,
//!     retried on the slow schedule (1 min doubling to 10 min, see [`Backoff::next_slow_delay`]).
//!     The standard would give up for good; a monitor keeps checking, slowly,
//!     because the server side may be fixed.
//!   * Anything else (5xx, `408`, `429`, other statuses) is a failed attempt
//!     retried with the normal backoff. (The standard gives up on a 5xx too;
//!     a monitor must ride out a server restart.)
//! * The body is parsed by [`parser::Parser`] (our own WHATWG-conformant,
//!   incremental parser). Each event becomes one [`RawMessage`] with
//!   `server_id` = the last event id and `event_type` = the event's type
//!   (`message` when unnamed). If `sse.events` is not empty, other types are
//!   skipped (they still count as liveness). Comments (heartbeats) and any
//!   other bytes count as activity. Events larger than `sse.max_event_size`
//!   are dropped with an `oversize` issue; the stream goes on. A single
//!   line that grows past that size is reported (`oversize`) the moment it
//!   crosses it, and the connection is dropped and re-established: the line
//!   may never end.
//! * `retry:` is the minimum reconnection delay (the standard's
//!   "reconnection time"): the backoff's jitter is added above it, never
//!   below. It is clamped to the feed's `backoff.max` (the operator's cap
//!   wins over the server's wish).
//! * The response headers must be complete within `sse.header_timeout`
//!   (15 s by default), redirects included; then no byte at all for
//!   `sse.read_timeout`: the connection is dropped and re-established.
//! * Every other end of a connection (error, timeout, server closing the
//!   stream) leads to [`ConnState::Retrying`] with a jittered backoff delay.
//!   A connection that delivered an event, or that stayed up for
//!   `backoff.reset_after`, resets the backoff's attempt counter, so a server
//!   that closes cleanly every few events is reconnected to promptly.
//!   Failed attempts (not a clean end of a live stream, nor a 204) also
//!   count in [`crate::FeedCounters::errors`].
//! * An invalid URL is [`ConnState::Failed`]: nothing to retry.
//!
//! Header values never appear in reasons, issues or logs.

pub mod parser;

use crate::http_common;
use crate::redirect::SendError;
use crate::Sink;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, StatusCode};
use parser::{Output, Parser};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use telltale_model::duration::format_duration;
use telltale_model::feed::SseOptions;
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage, Timestamp};
use tokio_util::sync::CancellationToken;

/// The header that carries the last event id on reconnects.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Why a connection ended.
#[derive(Debug)]
struct Ended {
    reason: String,
    /// What to do next.
    then: Then,
    /// A failed attempt, counted in the error counter (not a clean end).
    error: bool,
}

/// What follows the end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Reconnect after the normal backoff (network error, 5xx, clean end).
    Retry,
    /// A configuration problem (4xx, wrong content type): [`ConnState::Failed`]
    /// and the slow schedule.
    RetrySlowly,
    /// HTTP 204: [`ConnState::StoppedByServer`] until the operator resumes.
    Stop,
}

impl Ended {
    fn failed(reason: impl Into<String>) -> Self {
        Ended {
            reason: reason.into(),
            then: Then::Retry,
            error: true,
        }
    }

    fn misconfigured(reason: impl Into<String>) -> Self {
        Ended {
            reason: reason.into(),
            then: Then::RetrySlowly,
            error: true,
        }
    }
}

/// One feed's SSE state, kept across reconnects.
struct Session {
    feed: Arc<FeedConfig>,
    sink: Sink,
    opts: SseOptions,
    parser: Parser,
    backoff: Backoff,
    client: Option<reqwest::Client>,
    redirects: crate::redirect::Redirects,
    /// Whether the "last event id cannot be sent" issue was reported.
    warned_id: bool,
}

/// Runs an SSE feed until `cancel` fires. See the module docs.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    if let Err(e) = crate::http_common::check_http_url(&feed.url, "SSE") {
        let reason = e.to_string();
        sink.state(ConnState::Failed { reason }).await;
        cancel.cancelled().await;
        return;
    }
    let opts = feed.sse_options();
    let max_event = usize::try_from(opts.max_event_size.0).unwrap_or(usize::MAX);
    let mut s = Session {
        parser: Parser::new(max_event),
        backoff: Backoff::new(&feed.backoff),
        client: None,
        redirects: crate::redirect::Redirects::new(&feed),
        warned_id: false,
        opts,
        sink: sink.clone(),
        feed,
    };
    loop {
        if cancel.is_cancelled() {
            return;
        }
        sink.state(ConnState::Connecting).await;
        let ended = tokio::select! {
            _ = cancel.cancelled() => return,
            ended = s.connect_and_read() => ended,
        };
        if ended.error {
            sink.counters().errors.fetch_add(1, Ordering::Relaxed);
        }
        let delay = match ended.then {
            Then::Stop => {
                tracing::info!(feed = %s.feed.name, reason = %ended.reason, "sse: stopped by the server");
                sink.state(ConnState::StoppedByServer {
                    reason: ended.reason,
                })
                .await;
                // Resuming is the operator's call (disable and enable the
                // feed): the engine then starts a new task.
                cancel.cancelled().await;
                return;
            }
            Then::RetrySlowly => {
                let delay = s.backoff.next_slow_delay();
                let reason = http_common::slow_retry_reason(&ended.reason, delay);
                tracing::debug!(feed = %s.feed.name, %reason, "sse: failed");
                sink.state(ConnState::Failed { reason }).await;
                delay
            }
            Then::Retry => {
                let delay = s.backoff.next_delay();
                tracing::debug!(feed = %s.feed.name, reason = %ended.reason, ?delay, "sse: reconnecting");
                sink.retrying(s.backoff.attempt(), delay, ended.reason)
                    .await;
                delay
            }
        };
        if !crate::sleep_or_cancel(delay, &cancel).await {
            return;
        }
    }
}

impl Session {
    /// One connection: request, check the response, read until it ends.
    async fn connect_and_read(&mut self) -> Ended {
        let client = match &self.client {
            Some(c) => c.clone(),
            None => match crate::feed_tls::client_for(&self.feed) {
                Ok(c) => {
                    self.client = Some(c.clone());
                    c
                }
                Err(e) => return Ended::failed(e.to_string()),
            },
        };
        let headers = match self.request_headers().await {
            Ok(h) => h,
            Err(e) => return Ended::failed(e.to_string()),
        };
        let read_timeout = self.opts.read_timeout.0;
        let request = match client.get(self.feed.url.as_str()).headers(headers).build() {
            Ok(r) => r,
            Err(e) => return Ended::failed(http_common::describe(&e)),
        };
        let sent = self.redirects.send(&client, request, &self.sink);
        // A server that trickles its headers must not hold the feed in
        // `connecting` for as long as it likes.
        // (A shorter `read_timeout` bounds the wait too.)
        let (header_timeout, key) = if self.opts.header_timeout() <= read_timeout {
            (self.opts.header_timeout(), "sse.header_timeout")
        } else {
            (read_timeout, "sse.read_timeout")
        };
        let mut resp = match tokio::time::timeout(header_timeout, sent).await {
            Err(_) => {
                return Ended::failed(format!(
                    "the server sent no complete response headers within {} ({key}): reconnecting",
                    format_duration(header_timeout)
                ))
            }
            Ok(Err(SendError::Http(e))) => return Ended::failed(http_common::describe(&e)),
            Ok(Err(SendError::Refused(reason))) => return Ended::failed(reason),
            Ok(Ok(r)) => r,
        };
        if let Err(ended) = check_response(&resp) {
            return ended;
        }

        self.sink.state(ConnState::Live).await;
        self.backoff.connected();
        self.parser.reset();
        let mut out = Vec::new();
        loop {
            let chunk = match tokio::time::timeout(read_timeout, resp.chunk()).await {
                Err(_) => {
                    return Ended::failed(format!(
                        "no data or heartbeat for {}: reconnecting",
                        format_duration(read_timeout)
                    ))
                }
                Ok(Err(e)) => {
                    return Ended::failed(format!(
                        "the stream broke: {}",
                        http_common::describe(&e)
                    ))
                }
                Ok(Ok(None)) => {
                    return Ended {
                        reason: "the server ended the stream".into(),
                        then: Then::Retry,
                        error: false,
                    }
                }
                Ok(Ok(Some(chunk))) => chunk,
            };
            // Any byte from the server is a sign of life.
            self.sink.activity();
            self.parser.feed(&chunk, &mut out);
            for o in out.drain(..) {
                if let Some(ended) = self.handle(o).await {
                    return ended;
                }
            }
        }
    }

    /// The feed's headers plus the SSE ones.
    async fn request_headers(&mut self) -> Result<http::HeaderMap, crate::SetupError> {
        let mut headers = http_common::feed_headers(&self.feed)?;
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Some(id) = self.parser.last_event_id() {
            match HeaderValue::from_str(id) {
                Ok(v) => {
                    headers.insert(LAST_EVENT_ID, v);
                }
                Err(_) => {
                    if !self.warned_id {
                        self.warned_id = true;
                        self.sink
                            .issue(
                                "resume",
                                "the last event id contains control characters and cannot be sent as Last-Event-ID: the server cannot resume this stream",
                            )
                            .await;
                    }
                }
            }
        }
        Ok(headers)
    }

    /// Handles one parser output; `Some` ends the connection.
    async fn handle(&mut self, o: Output) -> Option<Ended> {
        match o {
            Output::LineTooLong { size, limit } => {
                // The line may never end: say so now and drop the
                // connection rather than reading it for ever.
                let reason = format!(
                    "a line of the stream passed {size} bytes without ending: larger than sse.max_event_size ({limit} bytes); dropped the connection (raise the limit if such events are expected)"
                );
                self.sink.issue("oversize", reason.clone()).await;
                return Some(Ended::failed(reason));
            }
            Output::Event(ev) => {
                // A connection that delivers events is healthy: the next
                // reconnect starts the backoff over.
                self.backoff.delivered();
                if !self.opts.events.is_empty() && !self.opts.events.contains(&ev.event_type) {
                    return None;
                }
                self.sink
                    .message(RawMessage {
                        received_at: Timestamp::now(),
                        server_id: ev.id,
                        event_type: Some(ev.event_type),
                        data: bytes::Bytes::from(ev.data),
                        transport_metrics: vec![],
                        labels: Vec::new(),
                    })
                    .await;
            }
            Output::Comment(_) => self.sink.activity(),
            Output::Retry(d) => self.backoff.set_floor(d),
            Output::Oversize {
                event_type,
                size,
                limit,
            } => {
                self.sink
                    .issue(
                        "oversize",
                        format!(
                            "dropped a `{event_type}` event of {size} bytes: larger than sse.max_event_size ({limit} bytes); raise the limit if such events are expected"
                        ),
                    )
                    .await;
            }
        }
        None
    }
}

/// Accepts `200` with an event-stream content type.
fn check_response(resp: &reqwest::Response) -> Result<(), Ended> {
    let status = resp.status();
    if status == StatusCode::NO_CONTENT {
        return Err(Ended {
            reason: "HTTP 204 No Content: the server asks clients to stop reconnecting; disable and enable the feed to resume".into(),
            then: Then::Stop,
            error: false,
        });
    }
    // A 4xx, or a success other than 200 (205, 299, …): not an SSE stream,
    // and retrying soon will not change that.
    if http_common::is_configuration_status(status)
        || (status.is_success() && status != StatusCode::OK)
    {
        return Err(Ended::misconfigured(status_reason(status)));
    }
    if status != StatusCode::OK {
        return Err(Ended::failed(status_reason(status)));
    }
    let ctype = resp
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string());
    if let Some(reason) = http_common::undecodable_encoding(resp.headers()) {
        return Err(Ended::misconfigured(reason));
    }
    if !is_event_stream(ctype.as_deref()) {
        let got = match ctype.as_deref() {
            None | Some("") => "no content-type".to_string(),
            Some(c) => shorten(c, 80),
        };
        return Err(Ended::misconfigured(format!(
            "expected content-type text/event-stream, got {got}: is this URL an SSE endpoint?"
        )));
    }
    Ok(())
}

/// Whether a content type is `text/event-stream` (the essence, compared
/// ASCII case-insensitively; parameters such as `charset` are ignored).
fn is_event_stream(ctype: Option<&str>) -> bool {
    ctype.is_some_and(|c| {
        let essence = c.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("text/event-stream")
    })
}

/// `HTTP 503 Service Unavailable`, with a hint for the usual suspects.
pub(crate) fn status_reason(status: StatusCode) -> String {
    let base = format!("HTTP {status}");
    match status.as_u16() {
        401 | 403 => format!("{base}: check the feed's credentials (headers)"),
        404 => format!("{base}: check the feed URL"),
        _ => base,
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}
