//! Redirects in the HTTP transports, against two real servers on
//! 127.0.0.1 with different ports (two origins): a redirect to the other
//! origin must not carry any of the feed's configured headers, a redirect
//! within the origin keeps them, and the redirect shows on the timeline.

use crate::support::{fast_backoff, sink, Events, Running};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use telltale_model::duration::Dur;
use telltale_model::feed::{LongPollOptions, PollOptions};
use telltale_model::{FeedConfig, SourceEvent, TransportKind};
use telltale_sources::{long_poll, poll, sse};

type Seen = Arc<Mutex<Vec<(String, HeaderMap)>>>;

/// A server that records every request's path and headers. `/data` answers
/// JSON, `/events` an SSE stream, `/here` redirects to `/data` on the same
/// server and `/away` to `target` (another origin).
async fn server(target: Option<SocketAddr>) -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let record = |seen: &Seen, path: &str, headers: HeaderMap| {
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path.to_string(), headers));
    };
    let (s1, s2, s3, s4) = (seen.clone(), seen.clone(), seen.clone(), seen.clone());
    let app = Router::new()
        .route(
            "/data",
            get(move |h: HeaderMap| async move {
                record(&s1, "/data", h);
                "{\"events\":[{\"id\":1}],\"ok\":true}"
            }),
        )
        .route(
            "/events",
            get(move |h: HeaderMap| async move {
                record(&s2, "/events", h);
                (
                    [("content-type", "text/event-stream")],
                    "data: {\"ok\":true}\n\n",
                )
            }),
        )
        .route(
            "/here",
            get(move |h: HeaderMap| async move {
                record(&s3, "/here", h);
                redirect(StatusCode::FOUND, "/data")
            }),
        )
        .route(
            "/away/{*rest}",
            get(
                move |axum::extract::Path(rest): axum::extract::Path<String>, h: HeaderMap| async move {
                    record(&s4, "/away", h);
                    let to = match target {
                        Some(t) => format!("http://{t}/{rest}"),
                        None => "/data".into(),
                    };
                    redirect(StatusCode::TEMPORARY_REDIRECT, &to)
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

fn redirect(status: StatusCode, to: &str) -> Response {
    (status, [("location", to.to_string())]).into_response()
}

fn seen_at(seen: &Seen, path: &str) -> Vec<HeaderMap> {
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, h)| h.clone())
        .collect()
}

/// The `redirect` issues seen so far.
fn redirect_issues(ev: &Events) -> Vec<String> {
    ev.seen
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Issue(i) if i.kind == "redirect" => Some(i.message.clone()),
            _ => None,
        })
        .collect()
}

fn with_secrets(mut f: FeedConfig) -> FeedConfig {
    f.backoff = fast_backoff();
    f.headers
        .insert("Authorization".into(), "Bearer s3cret-token".into());
    f.headers.insert("X-Api-Key".into(), "k3y-value".into());
    f.headers.insert("X-Tenant".into(), "acme".into());
    f
}

fn poll_feed(url: String) -> FeedConfig {
    let mut f = FeedConfig::new("redirected", TransportKind::Poll, url);
    f.poll = Some(PollOptions {
        interval: Dur::millis(100),
        timeout: Dur::secs(2),
        ..PollOptions::default()
    });
    with_secrets(f)
}

fn assert_no_feed_headers(headers: &[HeaderMap]) {
    assert!(!headers.is_empty(), "the other origin saw no request");
    for h in headers {
        for name in ["authorization", "x-api-key", "x-tenant", "cookie"] {
            assert!(
                h.get(name).is_none(),
                "`{name}` reached the other origin: {h:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_poll_redirected_to_another_origin_sends_none_of_the_feeds_headers() {
    let (other, other_seen) = server(None).await;
    let (home, home_seen) = server(Some(other)).await;
    let (sink, rx) = sink();
    let mut ev = Events::new(rx);
    let run = Running::spawn(
        |f, s, c| poll::run(f, s, c, false),
        poll_feed(format!("http://{home}/away/data")),
        sink,
    );
    // The body comes from the other origin…
    let m = ev.message().await;
    assert!(String::from_utf8_lossy(&m.data).contains("\"ok\":true"));
    ev.message().await;
    ev.message().await;
    run.stop().await;
    // … which got none of the feed's headers; the first origin got them.
    assert_no_feed_headers(&seen_at(&other_seen, "/data"));
    let first = seen_at(&home_seen, "/away");
    assert_eq!(first[0]["x-api-key"], "k3y-value");

    // The redirect is on the timeline, once, though every poll is redirected.
    let redirects = redirect_issues(&ev);
    assert_eq!(redirects.len(), 1, "{}", ev.log());
    assert!(
        redirects[0].contains(&format!("http://{other}/data"))
            && redirects[0].contains("another origin"),
        "{redirects:?}"
    );
}

#[tokio::test]
async fn a_redirect_within_the_origin_keeps_the_headers() {
    let (home, home_seen) = server(None).await;
    let (sink, rx) = sink();
    let mut ev = Events::new(rx);
    let run = Running::spawn(
        |f, s, c| poll::run(f, s, c, false),
        poll_feed(format!("http://{home}/here")),
        sink,
    );
    let issue = ev.issue("redirect").await;
    assert!(
        issue.message.contains("HTTP 302") && !issue.message.contains("another origin"),
        "{issue:?}"
    );
    ev.message().await;
    run.stop().await;
    let data = seen_at(&home_seen, "/data");
    assert_eq!(data[0]["x-api-key"], "k3y-value");
    assert_eq!(data[0]["authorization"], "Bearer s3cret-token");
}

#[tokio::test]
async fn sse_and_long_poll_redirects_to_another_origin_drop_the_headers() {
    let (other, other_seen) = server(None).await;
    let (home, _) = server(Some(other)).await;

    let f = with_secrets(FeedConfig::new(
        "sse-redirected",
        TransportKind::Sse,
        format!("http://{home}/away/events"),
    ));
    let (sse_sink, rx) = sink();
    let mut ev = Events::new(rx);
    let run = Running::spawn(sse::run, f, sse_sink);
    ev.message().await;
    run.stop().await;
    let events = seen_at(&other_seen, "/events");
    assert_no_feed_headers(&events);
    // The transport's own headers still go.
    assert_eq!(events[0]["accept"], "text/event-stream");
    assert_eq!(redirect_issues(&ev).len(), 1, "{}", ev.log());

    let mut f = with_secrets(FeedConfig::new(
        "long-poll-redirected",
        TransportKind::LongPoll,
        format!("http://{home}/away/data"),
    ));
    f.long_poll = Some(LongPollOptions {
        items: Some("/events".into()),
        ..LongPollOptions::default()
    });
    let (sink, rx) = sink();
    let mut ev = Events::new(rx);
    let run = Running::spawn(long_poll::run, f, sink);
    ev.message().await;
    run.stop().await;
    assert_no_feed_headers(&seen_at(&other_seen, "/data"));
    assert_eq!(redirect_issues(&ev).len(), 1, "{}", ev.log());
}

#[tokio::test]
async fn too_many_redirects_are_a_failure() {
    // `/loop` redirects to itself, forever.
    let app = Router::new().route(
        "/loop",
        get(|| async { redirect(StatusCode::FOUND, "/loop") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (sink, rx) = sink();
    let mut ev = Events::new(rx);
    let run = Running::spawn(
        |f, s, c| poll::run(f, s, c, false),
        poll_feed(format!("http://{addr}/loop")),
        sink,
    );
    let reason = ev.retrying().await;
    assert!(reason.contains("more than 10 redirects"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn a_websocket_does_not_follow_redirects() {
    // tokio-tungstenite treats a 3xx answer to the upgrade as a failed
    // handshake: the other origin never sees a request.
    let (other, other_seen) = server(None).await;
    let (home, home_seen) = server(Some(other)).await;
    let f = with_secrets(FeedConfig::new(
        "ws-redirected",
        TransportKind::Websocket,
        format!("ws://{home}/away/data"),
    ));
    let (sink, rx) = sink();
    let mut ev = Events::new(rx);
    let run = Running::spawn(telltale_sources::websocket::run, f, sink);
    let reason = ev.retrying().await;
    run.stop().await;
    assert!(reason.contains("307"), "{reason}");
    assert_eq!(seen_at(&home_seen, "/away").len(), 1);
    assert!(
        other_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty(),
        "the WebSocket followed the redirect"
    );
}
