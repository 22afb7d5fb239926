//! The web-platform-tests `eventsource/` suite, ported case by case to the
//! SSE transport against an in-process server on 127.0.0.1.
//!
//! Each test is named after its WPT file (`format-field-data.htm` →
//! `format_field_data`) and cites it. WPT serves its streams from
//! `resources/message.py` (a body, by default followed by `\n\n`) and a few
//! purpose-built scripts; here [`Script`] plays their part: connection `n`
//! gets reply `n` (the last reply repeats). Format cases end their stream
//! and the reconnect gets [`END`], so that "everything the first stream
//! dispatched" is exactly the messages before it — an event left
//! incomplete at the end of a stream is discarded, as the standard says.
//!
//! Browser-only cases (constructor, prototype, EventTarget, workers, CORS,
//! credentials, bfcache, realms, document.domain) have no counterpart in a
//! monitor and are not ported. Where Telltale deliberately differs from a
//! browser (it keeps retrying what a browser gives up on), the case says why.
//! Delays are scaled down (`retry: 3000` → 400 ms) and asserted as lower
//! bounds only.

// Test helpers outside `#[test]` functions may unwrap too.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telltale_model::duration::Dur;
use telltale_model::feed::BackoffConfig;
use telltale_model::{ConnState, FeedConfig, TransportKind};
use telltale_sources::sse;

use crate::recorder;
use recorder::Run;

const WAIT: Duration = Duration::from_secs(10);

/// The sentinel stream served after a format case's stream ended.
const END: &str = "data:__end__\n\n";

// ---------------------------------------------------------------------------
// Harness

/// One HTTP reply.
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    /// Keep the stream open after the body (else end it).
    open: bool,
}

fn stream(body: impl Into<Vec<u8>>) -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: "text/event-stream",
        body: body.into(),
        open: false,
    }
}

fn open(body: impl Into<Vec<u8>>) -> Reply {
    Reply {
        open: true,
        ..stream(body)
    }
}

fn status(code: u16) -> Reply {
    Reply {
        status: StatusCode::from_u16(code).unwrap(),
        ..stream("data: should not be read\n\n")
    }
}

fn typed(content_type: &'static str, body: &str) -> Reply {
    Reply {
        content_type,
        ..open(body)
    }
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    last_event_id: Option<String>,
    accept: Option<String>,
    cache_control: Option<String>,
}

/// Replies by connection number, and every request received.
#[derive(Clone)]
struct Script {
    replies: Arc<Vec<Reply>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Script {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn handler(State(s): State<Script>, headers: HeaderMap) -> Response {
    let text = |h: header::HeaderName| {
        headers
            .get(h)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let n = {
        let mut seen = s.seen.lock().unwrap();
        seen.push(Seen {
            at: Instant::now(),
            last_event_id: text(header::HeaderName::from_static("last-event-id")),
            accept: text(header::ACCEPT),
            cache_control: text(header::CACHE_CONTROL),
        });
        seen.len() - 1
    };
    let r = s.replies[n.min(s.replies.len() - 1)].clone();
    let chunk = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(r.body))]);
    let body = if r.open {
        use futures_util::StreamExt;
        Body::from_stream(chunk.chain(futures_util::stream::pending()))
    } else {
        Body::from_stream(chunk)
    };
    (r.status, [(header::CONTENT_TYPE, r.content_type)], body).into_response()
}

/// A server playing `replies` (plus redirects: `/redirect/<status>` sends
/// to `/es`), and the SSE transport running against `path`.
async fn start(path: &str, replies: Vec<Reply>) -> (Run, Script) {
    let script = Script {
        replies: Arc::new(replies),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/es", get(handler))
        .route(
            "/redirect/{status}",
            get(
                |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                    (
                        StatusCode::from_u16(code).unwrap(),
                        [(header::LOCATION, "/es")],
                    )
                },
            ),
        )
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut f = FeedConfig::new("wpt", TransportKind::Sse, format!("http://{addr}{path}"));
    f.backoff = BackoffConfig {
        initial: Dur::millis(10),
        max: Dur::secs(2),
        reset_after: Dur::secs(30),
    };
    (Run::start(sse::run, f), script)
}

/// A dispatched event as the tests compare it: (type, data, last event id).
type Ev = (String, String, Option<String>);

fn ev(data: &str) -> Ev {
    ("message".into(), data.into(), None)
}

fn events(run: &Run) -> Vec<Ev> {
    run.messages()
        .iter()
        .map(|m| {
            (
                m.event_type.clone().unwrap_or_default(),
                String::from_utf8_lossy(&m.data).into_owned(),
                m.server_id.clone(),
            )
        })
        .collect()
}

/// Serves `body` as one stream that ends, then [`END`]; returns the events
/// the first stream dispatched.
async fn dispatched(body: impl Into<Vec<u8>>) -> Vec<Ev> {
    dispatched_by(vec![stream(body), open(END)]).await
}

async fn dispatched_by(replies: Vec<Reply>) -> Vec<Ev> {
    let (mut run, _) = start("/es", replies).await;
    run.until("the end sentinel", WAIT, |r| {
        r.messages().iter().any(|m| &m.data[..] == b"__end__")
    })
    .await;
    let mut got = events(&run);
    got.pop();
    run.stop().await;
    got
}

/// Runs until a reconnect, and returns the gap between the two requests.
async fn reconnect_gap(body: &str) -> Duration {
    let (mut run, script) = start("/es", vec![stream(body), open(END)]).await;
    run.until("a reconnect", WAIT, |_| script.requests().len() >= 2)
        .await;
    let seen = script.requests();
    run.stop().await;
    seen[1].at - seen[0].at
}

/// Runs a script whose first reply is an error, until the transport reports
/// a state other than connecting; returns it and the requests seen after a
/// further `settle`.
async fn first_verdict(reply: Reply, settle: Duration) -> (ConnState, usize) {
    let (mut run, script) = start("/es", vec![reply, open("data: ok\n\n")]).await;
    run.until("a verdict", WAIT, |r| {
        r.states().iter().any(|s| s.name() != "connecting")
    })
    .await;
    let verdict = run
        .states()
        .into_iter()
        .find(|s| s.name() != "connecting")
        .cloned()
        .unwrap();
    run.during(settle).await;
    let n = script.requests().len();
    run.stop().await;
    (verdict, n)
}

// ---------------------------------------------------------------------------
// Stream format

/// WPT `format-bom.htm`: one leading BOM is stripped; a BOM later in the
/// stream is part of a field name, so that line is ignored.
#[tokio::test]
async fn format_bom() {
    let got = dispatched("\u{feff}data:1\n\n\u{feff}data:2\n\ndata:3\n\n").await;
    assert_eq!(got, vec![ev("1"), ev("3")]);
}

/// WPT `format-bom-2.htm`: only the first of two BOMs is stripped.
#[tokio::test]
async fn format_bom_2() {
    let got = dispatched("\u{feff}\u{feff}data:1\n\ndata:2\n\ndata:3\n\n").await;
    assert_eq!(got, vec![ev("2"), ev("3")]);
}

/// WPT `format-comments.htm`: comments (empty, with NUL, 2 KiB long, looking
/// like a field) between data lines, with every kind of line end. (WPT's
/// stream ends `data:4\n`; the final empty line that dispatches the event is
/// written out here.)
#[tokio::test]
async fn format_comments() {
    let long = "x".repeat(2 * 1024);
    let body =
        format!("data:1\r:\0\n:\r\ndata:2\n:{long}\rdata:3\n:data:fail\r:{long}\ndata:4\n\n");
    assert_eq!(dispatched(body).await, vec![ev("1\n2\n3\n4")]);
}

/// WPT `format-data-before-final-empty-line.htm`: an event without its final
/// empty line is not dispatched when the stream ends, and its `id` is not
/// kept: every reconnect dispatches `test1` only, without Last-Event-ID.
#[tokio::test]
async fn format_data_before_final_empty_line() {
    let body = "retry:100\ndata:test1\n\nid:test\ndata:test2";
    let (mut run, script) = start("/es", vec![stream(body), stream(body), open(END)]).await;
    run.until("the end sentinel", WAIT, |r| r.messages().len() >= 3)
        .await;
    assert_eq!(events(&run), vec![ev("test1"), ev("test1"), ev("__end__")]);
    let ids: Vec<Option<String>> = script
        .requests()
        .into_iter()
        .map(|s| s.last_event_id)
        .collect();
    assert_eq!(ids, vec![None, None, None]);
    run.stop().await;
}

/// WPT `format-field-data.htm`: `data:` adds an empty line, a bare `data`
/// likewise; an event whose data is one empty line is still dispatched.
#[tokio::test]
async fn format_field_data() {
    let got = dispatched("data:\n\ndata\ndata\n\ndata:test\n\n").await;
    assert_eq!(got, vec![ev(""), ev("\n"), ev("test")]);
}

/// WPT `format-field-event.htm`: `event:` names the type, for one event only.
#[tokio::test]
async fn format_field_event() {
    let got = dispatched("event:test\ndata:x\n\ndata:x\n\n").await;
    assert_eq!(got, vec![("test".into(), "x".into(), None), ev("x")]);
}

/// WPT `format-field-event-empty.htm`: an empty type means `message`.
#[tokio::test]
async fn format_field_event_empty() {
    assert_eq!(dispatched("event: \ndata:data\n\n").await, vec![ev("data")]);
}

/// WPT `format-field-id.htm`: the last event id is sent back as
/// `Last-Event-ID` on reconnect.
#[tokio::test]
async fn format_field_id() {
    let (mut run, script) = start("/es", vec![stream("id: 1\ndata: 1\n\n"), open(END)]).await;
    run.until("a reconnect", WAIT, |r| r.messages().len() >= 2)
        .await;
    let ids: Vec<Option<String>> = script
        .requests()
        .into_iter()
        .map(|s| s.last_event_id)
        .collect();
    assert_eq!(ids, vec![None, Some("1".into())]);
    assert_eq!(run.messages()[0].server_id.as_deref(), Some("1"));
    run.stop().await;
}

/// WPT `format-field-id-2.htm`: an empty `id` resets the last event id, so
/// the reconnect sends no `Last-Event-ID`.
#[tokio::test]
async fn format_field_id_2() {
    let body = "id:1\ndata:1\n\nid:\ndata:2\n\n";
    let (mut run, script) = start("/es", vec![stream(body), open(END)]).await;
    run.until("a reconnect", WAIT, |r| r.messages().len() >= 3)
        .await;
    assert_eq!(
        events(&run)[..2],
        [("message".into(), "1".into(), Some("1".into())), ev("2")]
    );
    assert_eq!(script.requests()[1].last_event_id, None);
    run.stop().await;
}

/// WPT `format-field-id-3.htm`: the last event id persists across events
/// without `id`, changes with a new one, and is reset by a bare `id`.
#[tokio::test]
async fn format_field_id_3() {
    let id = |d: &str, i: Option<&str>| ("message".to_string(), d.to_string(), i.map(String::from));
    let persists = dispatched("id:1\ndata:a\n\ndata:b\n\n").await;
    assert_eq!(persists, vec![id("a", Some("1")), id("b", Some("1"))]);
    let changes = dispatched("id:1\ndata:a\n\nid:2\ndata:b\n\ndata:c\n\n").await;
    assert_eq!(
        changes,
        vec![id("a", Some("1")), id("b", Some("2")), id("c", Some("2"))]
    );
    let resets = dispatched("id:1\ndata:a\n\nid\ndata:b\n\ndata:c\n\n").await;
    assert_eq!(
        resets,
        vec![id("a", Some("1")), id("b", None), id("c", None)]
    );
}

/// WPT `format-field-id-null.htm`: an `id` containing U+0000 is ignored (the
/// current standard; the WPT file predates it and expected `"\0\0"`), so
/// the reconnect sends no `Last-Event-ID`.
#[tokio::test]
async fn format_field_id_null() {
    let (mut run, script) = start("/es", vec![stream("id:\0\0\ndata:hello\n\n"), open(END)]).await;
    run.until("a reconnect", WAIT, |r| r.messages().len() >= 2)
        .await;
    assert_eq!(events(&run)[0], ev("hello"));
    assert_eq!(script.requests()[1].last_event_id, None);
    run.stop().await;
}

/// WPT `format-field-parsing.htm`: field names are case-sensitive and exact;
/// one space after the colon is removed, no more.
#[tokio::test]
async fn format_field_parsing() {
    let body = "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n";
    assert_eq!(dispatched(body).await, vec![ev("\0\n 2\n1\n3\n\n4")]);
}

/// WPT `format-field-retry.htm`: `retry:` (leading zeros allowed) sets the
/// reconnection time. The standard waits exactly that long; Telltale waits
/// at least that long (jitter goes above it, see docs/config.md).
#[tokio::test]
async fn format_field_retry() {
    let gap = reconnect_gap("retry:0400\ndata:x\n\n").await;
    assert!(
        gap >= Duration::from_millis(400),
        "reconnected after {gap:?}"
    );
}

/// WPT `format-field-retry-bogus.htm`: a `retry:` that is not all digits is
/// ignored; the previous one stays.
#[tokio::test]
async fn format_field_retry_bogus() {
    let gap = reconnect_gap("retry:400\nretry:100x\ndata:x\n\n").await;
    assert!(
        gap >= Duration::from_millis(400),
        "reconnected after {gap:?}"
    );
}

/// WPT `format-field-retry-empty.htm`: a bare `retry` is ignored and does
/// not disturb the event.
#[tokio::test]
async fn format_field_retry_empty() {
    assert_eq!(dispatched("retry\ndata:test\n\n").await, vec![ev("test")]);
}

/// WPT `format-field-unknown.htm`: unknown fields, lines without a colon and
/// a field name with a leading space are ignored.
#[tokio::test]
async fn format_field_unknown() {
    let body =
        "data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n";
    assert_eq!(dispatched(body).await, vec![ev("test\n\ntest")]);
}

/// WPT `format-leading-space.htm`: only a space is removed after the colon,
/// not a tab.
#[tokio::test]
async fn format_leading_space() {
    let got = dispatched("data:\ttest\rdata: \ndata:test\n\n").await;
    assert_eq!(got, vec![ev("\ttest\n\ntest")]);
}

/// WPT `format-newlines.htm`: CRLF, LF and CR all end a line.
#[tokio::test]
async fn format_newlines() {
    let got = dispatched("data:test\r\ndata\ndata:test\r\n\r\n").await;
    assert_eq!(got, vec![ev("test\n\ntest")]);
}

/// WPT `format-null-character.html`: U+0000 in data is kept.
#[tokio::test]
async fn format_null_character() {
    assert_eq!(dispatched("data:\0\n\n\n\n").await, vec![ev("\0")]);
}

/// WPT `format-utf-8.htm`: the stream is always UTF-8, whatever charset the
/// content type declares; invalid bytes become U+FFFD (the standard's UTF-8
/// decode).
#[tokio::test]
async fn format_utf_8() {
    let got = dispatched_by(vec![
        Reply {
            content_type: "text/event-stream;charset=windows-1252",
            ..stream("data:ok\u{2026}\n\n")
        },
        open(END),
    ])
    .await;
    assert_eq!(got, vec![ev("ok\u{2026}")]);
    let mut body = b"data:".to_vec();
    body.push(0xff);
    body.extend_from_slice(b"!\n\n");
    assert_eq!(dispatched(body).await, vec![ev("\u{fffd}!")]);
}

// ---------------------------------------------------------------------------
// MIME type

/// The stream is accepted with this content type.
async fn accepts(ctype: &'static str) {
    let (mut run, _) = start("/es", vec![typed(ctype, "data:x\n\n")]).await;
    run.until(ctype, WAIT, |r| !r.messages().is_empty()).await;
    assert_eq!(events(&run), vec![ev("x")], "{ctype}");
    run.stop().await;
}

/// WPT `format-mime-trailing-semicolon.htm`.
#[tokio::test]
async fn format_mime_trailing_semicolon() {
    accepts("text/event-stream;").await;
}

/// WPT `format-mime-valid-1.htm`: a parameter without a space.
#[tokio::test]
async fn format_mime_valid_1() {
    accepts("text/event-stream;charset=utf-8").await;
}

/// WPT `format-mime-valid-2.htm`: a parameter after a space. (The essence is
/// compared ASCII case-insensitively, as MIME types are.)
#[tokio::test]
async fn format_mime_valid_2() {
    accepts("text/event-stream; charset=utf-8").await;
    accepts("TEXT/Event-Stream").await;
}

/// WPT `format-mime-bogus.htm` / `format-mime-valid-bogus.htm`: another
/// content type fails the connection. A browser never retries; Telltale
/// reports `failed` and retries after a minute (the endpoint may be fixed).
/// `text/event-streams` is rejected although it starts with the right text.
#[tokio::test]
async fn format_mime_bogus() {
    for ctype in ["text/x-bogus", "text/event-streams", "text/plain"] {
        let (verdict, requests) =
            first_verdict(typed(ctype, "data:x\n\n"), Duration::from_millis(300)).await;
        match verdict {
            ConnState::Failed { reason } => assert!(
                reason.starts_with(&format!(
                    "expected content-type text/event-stream, got {ctype}"
                )),
                "{reason}"
            ),
            other => panic!("{ctype}: {other:?}"),
        }
        assert_eq!(requests, 1, "{ctype}: retried before the slow schedule");
    }
}

// ---------------------------------------------------------------------------
// Requests and connection

/// WPT `request-accept.htm`: `Accept: text/event-stream`.
#[tokio::test]
async fn request_accept() {
    let (mut run, script) = start("/es", vec![open("data:x\n\n")]).await;
    run.until("a message", WAIT, |r| !r.messages().is_empty())
        .await;
    assert_eq!(
        script.requests()[0].accept.as_deref(),
        Some("text/event-stream")
    );
    run.stop().await;
}

/// WPT `request-cache-control.htm`: the standard lets a client send
/// `Cache-Control: no-cache`; Telltale always does, so no cache between it
/// and the server replays an old stream.
#[tokio::test]
async fn request_cache_control() {
    let (mut run, script) = start("/es", vec![open("data:x\n\n")]).await;
    run.until("a message", WAIT, |r| !r.messages().is_empty())
        .await;
    assert_eq!(
        script.requests()[0].cache_control.as_deref(),
        Some("no-cache")
    );
    run.stop().await;
}

/// WPT `request-redirect.htm`: 301, 302, 303 and 307 are followed.
#[tokio::test]
async fn request_redirect() {
    for code in [301, 302, 303, 307, 308] {
        let (mut run, _) = start(&format!("/redirect/{code}"), vec![open("data:x\n\n")]).await;
        run.until("a message", WAIT, |r| !r.messages().is_empty())
            .await;
        assert_eq!(events(&run), vec![ev("x")], "{code}");
        run.stop().await;
    }
}

/// WPT `request-status-error.htm`, 204: the server asks the client to stop.
/// Like a browser, Telltale makes no further attempt (`stopped by server`,
/// until the operator resumes the feed).
#[tokio::test]
async fn request_status_error_204() {
    let (verdict, requests) = first_verdict(status(204), Duration::from_millis(300)).await;
    assert_eq!(verdict.name(), "stopped_by_server", "{verdict:?}");
    assert_eq!(requests, 1);
}

/// WPT `request-status-error.htm`, 205, 210, 299, 404, 410: a browser fails
/// the connection for good. Telltale reports `failed` and retries on the
/// slow schedule (a minute, growing to ten): a monitor must notice when the
/// endpoint comes back, without hammering it meanwhile.
#[tokio::test]
async fn request_status_error_other_than_5xx() {
    for code in [205, 210, 299, 404, 410] {
        let (verdict, requests) = first_verdict(status(code), Duration::from_millis(300)).await;
        match verdict {
            ConnState::Failed { reason } => assert!(
                reason.starts_with(&format!("HTTP {code}"))
                    && reason.contains("a configuration problem: next attempt in "),
                "{reason}"
            ),
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(requests, 1, "{code}: retried before the slow schedule");
    }
}

/// WPT `request-status-error.htm`, 503: a browser gives up. Telltale retries
/// with the normal backoff: a server restarting behind a proxy answers 503
/// for a few seconds, and a monitor must ride that out.
#[tokio::test]
async fn request_status_error_503() {
    let (mut run, script) = start("/es", vec![status(503), open("data:back\n\n")]).await;
    run.until("the stream after the 503", WAIT, |r| {
        !r.messages().is_empty()
    })
    .await;
    assert_eq!(events(&run), vec![ev("back")]);
    assert_eq!(run.retries()[0].2, "HTTP 503 Service Unavailable");
    assert_eq!(script.requests().len(), 2);
    run.stop().await;
}

/// WPT `eventsource-reconnect.htm`: a stream the server ends is reconnected
/// and the new stream's events are dispatched.
#[tokio::test]
async fn eventsource_reconnect() {
    let (mut run, script) = start("/es", vec![stream("retry: 2\n"), open("data: data\n\n")]).await;
    run.until("the second stream's event", WAIT, |r| {
        !r.messages().is_empty()
    })
    .await;
    assert_eq!(events(&run), vec![ev("data")]);
    assert_eq!(script.requests().len(), 2);
    assert_eq!(run.count_live(), 2);
    run.stop().await;
}

/// WPT `eventsource-close.htm`: closing (here: cancelling the feed) stops
/// the transport, and nothing reconnects afterwards.
#[tokio::test]
async fn eventsource_close() {
    let (mut run, script) = start("/es", vec![open("data:x\n\n")]).await;
    run.until("a message", WAIT, |r| !r.messages().is_empty())
        .await;
    run.stop().await; // fails if the task does not end promptly
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(script.requests().len(), 1);
}
