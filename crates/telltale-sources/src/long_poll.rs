//! Long polling: the server holds each request until it has news.
//!
//! # Behaviour
//!
//! * Each request is a `GET` of the feed URL with the feed's headers
//!   (`${ENV}` expanded per request) and a client timeout of
//!   `long_poll.timeout` (which must exceed the server's hold). The
//!   response headers must be complete within `long_poll.hold` +
//!   `long_poll.header_timeout` (15 s by default), or the attempt fails.
//! * Cursor ([`CursorMode`]):
//!   * `body { pointer, param }`: the cursor is read from each JSON response
//!     at `pointer` and sent back as query parameter `param` (replacing a
//!     parameter of that name already in the URL; other parameters are kept
//!     byte for byte). Strings are sent as they are, numbers in JSON form.
//!   * `headers` (nchan style): the response's `Etag` is echoed as
//!     `If-None-Match` and its `Last-Modified` as `If-Modified-Since`.
//!   * `none`: the same request every time.
//! * A server-side hold timeout — `204`, `304`, `408`, or a `2xx` with an
//!   empty (or all-whitespace) body — is normal: no message, no error, it
//!   counts as activity and the next request starts at once. (If such an
//!   answer comes back in under [`FAST_EMPTY`], the next request waits
//!   `backoff.initial` (at most 1 s), so a server that does not actually hold
//!   is not hammered.)
//! * Pacing: [`NOT_HELD_AFTER`] answers in a row (news or not), each faster
//!   than a tenth of `hold` (at most [`NOT_HELD_BELOW`], 250 ms), mean the server does not hold the
//!   requests: the feed records a `not_held` notice ("not held by the
//!   server", once per such run) and waits between requests, from
//!   [`FIRST_PACE`] doubling up to [`MAX_PACE`] (or `hold` if shorter),
//!   until an answer takes longer again.
//! * A `2xx` with a body: with `items`, each element of the array at that
//!   pointer is one [`RawMessage`] whose data is the element's compact JSON
//!   (a missing or `null` array means no events; at most
//!   `long_poll.max_items` per response, the rest dropped with an
//!   `oversize` issue; the array is parsed apart from the rest of the
//!   body so that only those items are ever held, the others only counted,
//!   see [`crate::long_poll_items`]); otherwise the whole body is
//!   one message. `server_id` is the value at `id_pointer` (in each item, or
//!   the body) if set, else the new cursor (body mode) or the whole message
//!   id (headers mode: `<Last-Modified as Unix seconds>:<Etag>`, nchan's
//!   `time:tag`, see [`message_id`]; the `Etag` alone restarts from 0 every
//!   second). The next request starts at once.
//! * If the body is not what the configuration describes (not JSON, `items`
//!   not an array), it is delivered as one message so that the timeline
//!   shows it. In body mode a response without a readable cursor cannot be
//!   followed: the cursor is kept and the attempt counts as failed.
//! * A 4xx (other than `408`, a hold timeout, and `429`) is a configuration
//!   problem (wrong URL, credentials, cursor): [`ConnState::Failed`] with the
//!   reason and the time of the next attempt, retried on the slow schedule
//!   (1 min doubling to 10 min, see [`Backoff::next_slow_delay`]), keeping
//!   the cursor.
//! * Any other status (5xx, `429`), a transport error or a timeout is a
//!   failed attempt: [`ConnState::Retrying`] with a full-jitter backoff
//!   delay, keeping the cursor, so that nothing is lost or received twice. A
//!   response that delivered messages resets the backoff's attempt counter.
//! * State: [`ConnState::Connecting`] before the first request and after
//!   each failure, [`ConnState::Live`] after the first successful response
//!   (a hold timeout included).
//! * An invalid URL is [`ConnState::Failed`].
//!
//! Header values never appear in reasons, issues or logs.

use crate::http_common;
use crate::redirect::SendError;
use crate::Sink;
use http::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale_model::duration::format_duration;
use telltale_model::feed::{CursorMode, LongPollOptions};
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage, Timestamp};
use tokio_util::sync::CancellationToken;

/// A "no news" answer faster than this is followed by a short pause.
pub const FAST_EMPTY: Duration = Duration::from_millis(20);

/// Largest response body accepted, counted after decoding (gzip, br,
/// deflate), as it streams.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Answers in a row, each faster than [`Pacer::fast`], before a long poll
/// counts as not held by the server and is paced.
pub const NOT_HELD_AFTER: u32 = 5;

/// An answer faster than this (or a tenth of `hold`, if shorter) was not
/// held. Low enough that a busy but held stream (a new event every second
/// or so answers each request after about that long) is not paced.
pub const NOT_HELD_BELOW: Duration = Duration::from_millis(250);

/// The first pause of a paced long poll; it doubles up to [`MAX_PACE`].
pub const FIRST_PACE: Duration = Duration::from_millis(50);

/// The longest pause between requests of a paced long poll (also at most
/// `long_poll.hold`).
pub const MAX_PACE: Duration = Duration::from_secs(1);

/// Paces a long poll the server does not hold: a server that answers at
/// once, again and again, would otherwise be asked hundreds of times a
/// second.
#[derive(Debug)]
struct Pacer {
    /// An answer faster than this was not held.
    fast: Duration,
    /// The longest pause.
    max: Duration,
    /// Fast answers in a row.
    streak: u32,
    /// The next pause.
    pause: Duration,
    /// The notice was given for this run of fast answers.
    noticed: bool,
}

impl Pacer {
    fn new(hold: Duration) -> Pacer {
        Pacer {
            fast: (hold / 10).min(NOT_HELD_BELOW),
            max: hold.min(MAX_PACE).max(FIRST_PACE),
            streak: 0,
            pause: FIRST_PACE,
            noticed: false,
        }
    }

    /// After an answer that took `took`: the pause before the next request
    /// (if any), and whether to give the `not_held` notice now.
    fn answered(&mut self, took: Duration) -> (Option<Duration>, bool) {
        if took >= self.fast {
            // Held: back to normal.
            self.streak = 0;
            self.pause = FIRST_PACE;
            self.noticed = false;
            return (None, false);
        }
        self.streak = self.streak.saturating_add(1);
        if self.streak < NOT_HELD_AFTER {
            return (None, false);
        }
        let pause = self.pause;
        self.pause = (self.pause * 2).min(self.max);
        let notice = !std::mem::replace(&mut self.noticed, true);
        (Some(pause), notice)
    }
}

/// What one request achieved.
enum Outcome {
    /// The server answered (news or a hold timeout); ask again.
    Answered {
        /// It was a hold timeout / empty answer.
        empty: bool,
    },
    /// A failed attempt.
    Failed(String),
    /// A configuration problem (a 4xx): failed, retried on the slow schedule.
    Misconfigured(String),
}

/// Where the feed is in the server's stream, kept across failures.
#[derive(Debug, Default)]
struct Cursor {
    /// Body mode: the last cursor read.
    value: Option<String>,
    /// Headers mode: the last `Etag`.
    etag: Option<HeaderValue>,
    /// Headers mode: the last `Last-Modified`.
    last_modified: Option<HeaderValue>,
}

struct Session {
    feed: Arc<FeedConfig>,
    sink: Sink,
    opts: LongPollOptions,
    client: Option<reqwest::Client>,
    redirects: crate::redirect::Redirects,
    cursor: Cursor,
}

/// Runs a long-poll feed until `cancel` fires. See the module docs.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    if let Err(e) = crate::http_common::check_http_url(&feed.url, "long polling") {
        let reason = e.to_string();
        sink.state(ConnState::Failed { reason }).await;
        cancel.cancelled().await;
        return;
    }
    let mut backoff = Backoff::new(&feed.backoff);
    let pause = feed.backoff.initial.0.min(Duration::from_secs(1));
    let mut s = Session {
        opts: feed.long_poll_options(),
        client: None,
        redirects: crate::redirect::Redirects::new(&feed),
        cursor: Cursor::default(),
        sink: sink.clone(),
        feed,
    };
    let mut live = false;
    let mut pacer = Pacer::new(s.opts.hold.0);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        if !live {
            sink.state(ConnState::Connecting).await;
        }
        let started = Instant::now();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            o = s.request() => o,
        };
        match outcome {
            Outcome::Answered { empty } => {
                if !live {
                    live = true;
                    backoff.connected();
                }
                if !empty {
                    // Data arrived: healthy, the next failure starts the
                    // backoff over.
                    backoff.delivered();
                }
                let took = started.elapsed();
                let (paced, notice) = pacer.answered(took);
                if notice {
                    sink.notice(
                        "not_held",
                        format!(
                            "not held by the server: {NOT_HELD_AFTER} answers in a row came back in under {} (long_poll.hold is {}); requests are paced, up to {} apart, until the server holds them again",
                            format_duration(pacer.fast),
                            format_duration(s.opts.hold.0),
                            format_duration(pacer.max)
                        ),
                    )
                    .await;
                }
                let fast_empty = (empty && took < FAST_EMPTY).then_some(pause);
                if let Some(delay) = paced.max(fast_empty) {
                    if !crate::sleep_or_cancel(delay, &cancel).await {
                        return;
                    }
                }
            }
            Outcome::Failed(reason) => {
                live = false;
                sink.counters().errors.fetch_add(1, Ordering::Relaxed);
                let delay = backoff.next_delay();
                tracing::debug!(feed = %s.feed.name, %reason, ?delay, "long poll: retrying");
                sink.retrying(backoff.attempt(), delay, reason).await;
                if !crate::sleep_or_cancel(delay, &cancel).await {
                    return;
                }
            }
            Outcome::Misconfigured(reason) => {
                live = false;
                sink.counters().errors.fetch_add(1, Ordering::Relaxed);
                let delay = backoff.next_slow_delay();
                let reason = http_common::slow_retry_reason(&reason, delay);
                tracing::debug!(feed = %s.feed.name, %reason, "long poll: failed");
                sink.state(ConnState::Failed { reason }).await;
                if !crate::sleep_or_cancel(delay, &cancel).await {
                    return;
                }
            }
        }
    }
}

/// `url` with query parameter `param` set to `value`: existing parameters of
/// that name are removed, the others are kept exactly as written.
pub fn with_query_param(url: &str, param: &str, value: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (path, query) = match base.split_once('?') {
        Some((p, q)) => (p, q),
        None => (base, ""),
    };
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let key = kv.split_once('=').map_or(*kv, |(k, _)| k);
            let decoded: String = url::form_urlencoded::parse(key.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect();
            decoded != param
        })
        .map(str::to_string)
        .collect();
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    parts.push(format!("{}={}", enc(param), enc(value)));
    let mut out = format!("{path}?{}", parts.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// A JSON scalar as a cursor / id string (`None` for null, arrays, objects).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Session {
    fn client(&mut self) -> Result<reqwest::Client, crate::SetupError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let c = crate::feed_tls::client_for(&self.feed)?;
        self.client = Some(c.clone());
        Ok(c)
    }

    fn request_url(&self) -> String {
        match (&self.opts.cursor, &self.cursor.value) {
            (CursorMode::Body { param, .. }, Some(v)) => with_query_param(&self.feed.url, param, v),
            _ => self.feed.url.clone(),
        }
    }

    fn request_headers(&self) -> Result<HeaderMap, crate::SetupError> {
        let mut headers = http_common::feed_headers(&self.feed)?;
        if self.opts.cursor == CursorMode::Headers {
            if let Some(v) = &self.cursor.etag {
                headers.insert(IF_NONE_MATCH, v.clone());
            }
            if let Some(v) = &self.cursor.last_modified {
                headers.insert(IF_MODIFIED_SINCE, v.clone());
            }
        }
        Ok(headers)
    }

    /// One request and what came of it.
    async fn request(&mut self) -> Outcome {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let headers = match self.request_headers() {
            Ok(h) => h,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let timeout = self.opts.timeout();
        let timed_out = || {
            format!(
                "timed out after {} (long_poll.timeout): the server held the request longer than the client waits",
                format_duration(timeout)
            )
        };
        let request = match client
            .get(self.request_url())
            .headers(headers)
            .timeout(timeout)
            .build()
        {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(http_common::describe(&e)),
        };
        // A server may hold the request, then must send its headers
        // promptly: one that trickles them does not keep the feed waiting
        // for the whole client timeout.
        let header_deadline = self.opts.header_deadline();
        let sent = self.redirects.send(&client, request, &self.sink);
        let Ok(sent) = tokio::time::timeout(header_deadline, sent).await else {
            return Outcome::Failed(format!(
                "the server sent no complete response headers within {} (long_poll.hold + long_poll.header_timeout)",
                format_duration(header_deadline)
            ));
        };
        let mut resp = match sent {
            Ok(r) => r,
            Err(SendError::Http(e)) if e.is_timeout() => return Outcome::Failed(timed_out()),
            Err(SendError::Http(e)) => return Outcome::Failed(http_common::describe(&e)),
            Err(SendError::Refused(reason)) => return Outcome::Failed(reason),
        };
        let status = resp.status();
        if matches!(
            status,
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED | StatusCode::REQUEST_TIMEOUT
        ) {
            if status == StatusCode::NOT_MODIFIED {
                self.remember_headers(resp.headers());
            }
            self.hold_timeout().await;
            return Outcome::Answered { empty: true };
        }
        if http_common::is_configuration_status(status) {
            return Outcome::Misconfigured(crate::sse::status_reason(status));
        }
        if !status.is_success() {
            return Outcome::Failed(crate::sse::status_reason(status));
        }
        if let Some(reason) = http_common::undecodable_encoding(resp.headers()) {
            return Outcome::Misconfigured(reason);
        }
        let response_headers = resp.headers().clone();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > MAX_RESPONSE_BYTES {
                        return Outcome::Failed(format!(
                            "the response is larger than {} MiB",
                            MAX_RESPONSE_BYTES >> 20
                        ));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Outcome::Failed(timed_out()),
                Err(e) => {
                    return Outcome::Failed(format!(
                        "reading the response failed: {}",
                        http_common::describe(&e)
                    ))
                }
            }
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            self.remember_headers(&response_headers);
            self.hold_timeout().await;
            return Outcome::Answered { empty: true };
        }
        self.sink.state(ConnState::Live).await;
        self.deliver(body, &response_headers).await
    }

    async fn hold_timeout(&self) {
        self.sink.state(ConnState::Live).await;
        self.sink.activity();
    }

    /// Headers mode: keeps the validators the server sent (absent ones keep
    /// their previous value).
    fn remember_headers(&mut self, h: &HeaderMap) {
        if self.opts.cursor != CursorMode::Headers {
            return;
        }
        if let Some(v) = h.get(ETAG) {
            self.cursor.etag = Some(v.clone());
        }
        if let Some(v) = h.get(LAST_MODIFIED) {
            self.cursor.last_modified = Some(v.clone());
        }
    }

    /// Turns a non-empty 2xx body into messages and advances the cursor.
    async fn deliver(&mut self, body: Vec<u8>, headers: &HeaderMap) -> Outcome {
        let needs_json = self.opts.items.is_some()
            || self.opts.id_pointer.is_some()
            || matches!(self.opts.cursor, CursorMode::Body { .. });
        // With `items`, the array is parsed apart: at most `max` of its
        // elements are ever held (see `long_poll_items`).
        let max = self.opts.max_items();
        let mut found: Option<crate::long_poll_items::Items> = None;
        // `Err(None)`: not parsed, because nothing needs it.
        let json: Result<Value, Option<serde_json::Error>> = if needs_json {
            let parsed = match &self.opts.items {
                Some(pointer) => crate::long_poll_items::parse(&body, pointer, max).map(|p| {
                    found = p.items;
                    p.doc
                }),
                None => serde_json::from_slice(&body),
            };
            parsed.map_err(Some)
        } else {
            Err(None)
        };

        // The new position, read before delivering so that it can be the id.
        let mut cursor_error = None;
        match &self.opts.cursor {
            CursorMode::Body { pointer, .. } => {
                let found = json
                    .as_ref()
                    .map(|j| j.pointer(pointer).and_then(scalar_text));
                match found {
                    Ok(Some(c)) => self.cursor.value = Some(c),
                    Ok(None) => {
                        cursor_error = Some(format!(
                            "the response has no cursor at `{pointer}`: asking again from the previous position"
                        ))
                    }
                    Err(e) => {
                        let why = match e {
                            Some(e) => format!("the response is not JSON ({e})"),
                            None => "the response was not parsed".to_string(),
                        };
                        cursor_error = Some(format!(
                            "{why}: no cursor at `{pointer}`; asking again from the previous position"
                        ))
                    }
                }
            }
            CursorMode::Headers => self.remember_headers(headers),
            CursorMode::None => {}
        }
        let fallback_id = match &self.opts.cursor {
            CursorMode::Body { .. } if cursor_error.is_none() => self.cursor.value.clone(),
            CursorMode::Headers => message_id(headers),
            _ => None,
        };
        let id_of = |v: &Value| -> Option<String> {
            match &self.opts.id_pointer {
                Some(p) => v.pointer(p).and_then(scalar_text),
                None => fallback_id.clone(),
            }
        };

        let mut messages: Vec<RawMessage> = Vec::new();
        let mut shape_issue = None;
        let mut delivered_items = 0usize;
        match (&self.opts.items, &json) {
            (Some(items), Ok(doc)) => match (found.take(), doc.pointer(items)) {
                (Some(list), _) => {
                    // Delivered one by one; the raw body is not needed.
                    drop(body);
                    let total = list.total;
                    for item in list.kept {
                        let m = message(item.to_string().into_bytes(), id_of(&item));
                        drop(item);
                        self.sink.message(m).await;
                        delivered_items += 1;
                    }
                    if total > max {
                        self.sink
                            .issue(
                                "oversize",
                                format!(
                                    "one response held {total} items: delivered the first {max} (long_poll.max_items) and dropped {}; raise the limit if such responses are expected",
                                    total - max
                                ),
                            )
                            .await;
                    }
                }
                (None, None | Some(Value::Null)) => {}
                (None, Some(other)) => {
                    shape_issue = Some(format!(
                        "expected an array at `{items}`, found {}: delivered the whole response as one message",
                        kind_of(other)
                    ));
                    messages.push(message(body, id_of(doc)));
                }
            },
            (_, Ok(doc)) => {
                let id = id_of(doc);
                messages.push(message(body, id));
            }
            (_, Err(_)) => {
                let id = if self.opts.id_pointer.is_none() {
                    fallback_id.clone()
                } else {
                    None
                };
                messages.push(message(body, id));
            }
        }
        if let Some(m) = shape_issue {
            self.sink.issue("malformed_payload", m).await;
        }
        if messages.is_empty() && delivered_items == 0 {
            self.sink.activity();
        }
        for m in messages {
            self.sink.message(m).await;
        }
        match cursor_error {
            Some(e) => Outcome::Failed(e),
            None => Outcome::Answered { empty: false },
        }
    }
}

/// Headers mode: the whole message id. nchan's id is `<time>:<tag>`: the
/// time travels as `Last-Modified` and the tag, which starts again from 0
/// every second, as `Etag`. So the id is `<Unix seconds of
/// Last-Modified>:<Etag without quotes>` (the `Last-Modified` text as sent
/// if it is not an HTTP date), or either header alone if only one came.
pub fn message_id(headers: &HeaderMap) -> Option<String> {
    let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).trim().to_string();
    let etag = headers.get(ETAG).map(text);
    let time = headers
        .get(LAST_MODIFIED)
        .map(text)
        .map(|lm| Timestamp::parse_http_date(&lm).map_or(lm, |t| t.as_secs().to_string()));
    match (time, etag) {
        (Some(time), Some(etag)) => {
            let tag = etag.strip_prefix("W/").unwrap_or(&etag).trim_matches('"');
            Some(format!("{time}:{tag}"))
        }
        (None, etag) => etag,
        (time, None) => time,
    }
}

fn message(data: Vec<u8>, server_id: Option<String>) -> RawMessage {
    RawMessage {
        received_at: Timestamp::now(),
        server_id,
        event_type: None,
        data: bytes::Bytes::from(data),
        transport_metrics: vec![],
        labels: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_param_is_replaced_and_others_kept() {
        assert_eq!(
            with_query_param("http://h/p", "cursor", "5"),
            "http://h/p?cursor=5"
        );
        assert_eq!(
            with_query_param("http://h/p?a=x%20y&cursor=1&b", "cursor", "7"),
            "http://h/p?a=x%20y&b&cursor=7"
        );
        assert_eq!(
            with_query_param("http://h/p?cursor=1&cursor=2#frag", "cursor", "a b&c"),
            "http://h/p?cursor=a+b%26c#frag"
        );
        assert_eq!(with_query_param("http://h/p?", "c", "1"), "http://h/p?c=1");
    }

    #[test]
    fn the_message_id_joins_last_modified_and_etag() {
        let mut h = HeaderMap::new();
        assert_eq!(message_id(&h), None);
        h.insert(ETAG, HeaderValue::from_static("\"3\""));
        assert_eq!(message_id(&h).as_deref(), Some("\"3\""));
        h.insert(
            LAST_MODIFIED,
            HeaderValue::from_static("Tue, 25 Nov 2025 17:00:01 GMT"),
        );
        assert_eq!(message_id(&h).as_deref(), Some("1764090001:3"));
        h.insert(ETAG, HeaderValue::from_static("W/\"0\""));
        assert_eq!(message_id(&h).as_deref(), Some("1764090001:0"));
        h.insert(LAST_MODIFIED, HeaderValue::from_static("yesterday"));
        assert_eq!(message_id(&h).as_deref(), Some("yesterday:0"));
        h.remove(ETAG);
        assert_eq!(message_id(&h).as_deref(), Some("yesterday"));
    }

    #[test]
    fn fast_answers_in_a_row_are_paced_and_noticed_once() {
        let ms = Duration::from_millis;
        let mut p = Pacer::new(Duration::from_secs(30));
        for _ in 1..NOT_HELD_AFTER {
            assert_eq!(p.answered(ms(2)), (None, false));
        }
        assert_eq!(p.answered(ms(2)), (Some(FIRST_PACE), true));
        let mut last = FIRST_PACE;
        for _ in 0..10 {
            let (pause, notice) = p.answered(ms(2));
            let pause = pause.unwrap_or_default();
            assert!(!notice);
            assert!(pause >= last && pause <= MAX_PACE, "{pause:?}");
            last = pause;
        }
        assert_eq!(last, MAX_PACE);
        // A held answer resets everything, the notice included.
        assert_eq!(p.answered(Duration::from_secs(5)), (None, false));
        for _ in 1..NOT_HELD_AFTER {
            assert_eq!(p.answered(ms(2)), (None, false));
        }
        assert_eq!(p.answered(ms(2)), (Some(FIRST_PACE), true));
        // A short hold caps the pause.
        let mut p = Pacer::new(ms(300));
        let pauses: Vec<_> = (0..20).filter_map(|_| p.answered(ms(1)).0).collect();
        assert_eq!(pauses.last(), Some(&ms(300)));
    }

    #[test]
    fn scalars_become_text() {
        assert_eq!(scalar_text(&serde_json::json!(42)), Some("42".into()));
        assert_eq!(scalar_text(&serde_json::json!("abc")), Some("abc".into()));
        assert_eq!(scalar_text(&serde_json::json!(null)), None);
        assert_eq!(scalar_text(&serde_json::json!([1])), None);
    }
}
