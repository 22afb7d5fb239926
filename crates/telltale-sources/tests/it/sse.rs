//! Integration tests of the SSE transport against real sockets: the
//! simulator (`telltale-sim`) and a few purpose-built axum servers.

// Test helpers outside `#[test]` functions may unwrap too.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telltale_model::duration::{ByteSize, Dur};
use telltale_model::feed::{BackoffConfig, SseOptions};
use telltale_model::{ConnState, FeedConfig, SourceEvent, Timestamp, TransportKind};
use telltale_sim::{Faults, Sim, SimConfig};
use telltale_sources::sse;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Harness

fn feed(url: impl Into<String>) -> FeedConfig {
    let mut f = FeedConfig::new("sse-test", TransportKind::Sse, url);
    f.backoff = BackoffConfig {
        initial: Dur::millis(50),
        max: Dur::millis(200),
        reset_after: Dur::secs(30),
    };
    f
}

fn with_opts(mut f: FeedConfig, edit: impl FnOnce(&mut SseOptions)) -> FeedConfig {
    let mut o = f.sse_options();
    edit(&mut o);
    f.sse = Some(o);
    f
}

use crate::recorder;
use recorder::Run;

/// Serves `app` on a fresh 127.0.0.1 port.
async fn serve(app: Router) -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), h)
}

/// An event-stream response that sends `chunks` and then either ends or
/// stays open forever.
fn event_stream(chunks: Vec<String>, end: bool) -> Response {
    let items = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from(c))),
    );
    let body = if end {
        Body::from_stream(items)
    } else {
        Body::from_stream(items.chain(futures_util::stream::pending()))
    };
    (
        [(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Resume: the core promise.

#[tokio::test]
async fn resumes_without_loss_or_duplicates_when_the_server_drops_every_7_events() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!(
        "{}/sse?host=host-1&rate=500&count=60&drop_every=7",
        sim.base_url()
    );
    let mut run = Run::start(sse::run, feed(url));
    run.until("60 messages", WAIT, |r| r.messages().len() >= 60)
        .await;
    // Nothing more must come (a duplicate would show up here).
    let extra = run.during(Duration::from_millis(300)).await;
    assert!(
        !extra.iter().any(|e| matches!(e, SourceEvent::Message(_))),
        "unexpected extra messages:\n{}",
        run.summary()
    );
    assert_eq!(
        run.ids(),
        (1..=60).collect::<Vec<u64>>(),
        "{}",
        run.summary()
    );
    for m in run.messages() {
        assert_eq!(m.event_type.as_deref(), Some("health"));
        let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
        assert_eq!(v["seq"].to_string(), m.server_id.clone().unwrap());
    }

    // 60 events in connections of 7: 9 connections, each resuming after the
    // last complete event of the previous one.
    let reqs = sim.requests("/sse");
    assert_eq!(reqs.len(), 9, "{reqs:#?}");
    let sent: Vec<Option<&str>> = reqs.iter().map(|r| r.header("last-event-id")).collect();
    let want: Vec<Option<String>> = (0..9)
        .map(|i| (i > 0).then(|| (i * 7).to_string()))
        .collect();
    assert_eq!(sent, want.iter().map(|o| o.as_deref()).collect::<Vec<_>>());
    for r in &reqs {
        assert_eq!(r.header("accept"), Some("text/event-stream"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
    }
    let retries = run.retries();
    assert_eq!(retries.len(), 8, "{}", run.summary());
    assert!(retries
        .iter()
        .all(|(_, _, reason)| reason == "the server ended the stream"));
    assert_eq!(run.count_live(), 9);
    // A clean end of a live stream is not an error.
    assert_eq!(run.counters.errors.load(Ordering::Relaxed), 0);
    assert_eq!(run.counters.reconnects.load(Ordering::Relaxed), 8);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_in_the_middle_of_an_event_resumes_after_the_last_complete_one() {
    #[derive(Clone, Default)]
    struct S {
        conns: Arc<AtomicUsize>,
        seen: Arc<Mutex<Vec<Option<String>>>>,
    }
    async fn handler(State(s): State<S>, headers: HeaderMap) -> Response {
        let lei = headers
            .get("last-event-id")
            .map(|v| v.to_str().unwrap().to_string());
        s.seen.lock().unwrap().push(lei);
        match s.conns.fetch_add(1, Ordering::SeqCst) {
            // Event 2 is cut before its terminating empty line.
            0 => event_stream(vec!["id: 1\ndata: a\n\nid: 2\ndata: b".into()], true),
            _ => event_stream(vec!["id: 2\ndata: b\n\nid: 3\ndata: c\n\n".into()], false),
        }
    }
    let s = S::default();
    let (base, server) = serve(
        Router::new()
            .route("/events", get(handler))
            .with_state(s.clone()),
    )
    .await;
    let mut run = Run::start(sse::run, feed(format!("{base}/events")));
    run.until("3 messages", WAIT, |r| r.messages().len() >= 3)
        .await;
    assert_eq!(run.ids(), vec![1, 2, 3], "{}", run.summary());
    let data: Vec<_> = run
        .messages()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data).into_owned())
        .collect();
    assert_eq!(data, vec!["a", "b", "c"]);
    assert!(run
        .messages()
        .iter()
        .all(|m| m.event_type.as_deref() == Some("message")));
    assert_eq!(*s.seen.lock().unwrap(), vec![None, Some("1".to_string())]);
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_server_restart_on_the_same_port_resumes_with_last_event_id() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let addr = sim.addr();
    let url = format!("{}/sse?host=host-1&rate=100&count=40", sim.base_url());
    let mut run = Run::start(sse::run, feed(url));
    run.until("10 messages", WAIT, |r| r.messages().len() >= 10)
        .await;
    sim.shutdown().await;
    let before = run.messages().len();
    let sim = Sim::start(SimConfig {
        listen: addr,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    run.until("40 messages", WAIT, |r| r.messages().len() >= 40)
        .await;
    let extra = run.during(Duration::from_millis(200)).await;
    assert!(!extra.iter().any(|e| matches!(e, SourceEvent::Message(_))));
    assert_eq!(
        run.ids(),
        (1..=40).collect::<Vec<u64>>(),
        "{}",
        run.summary()
    );
    // The new server was asked to resume after what the old one delivered.
    let reqs = sim.requests("/sse");
    let first = reqs[0]
        .header("last-event-id")
        .map(|v| v.parse::<u64>().unwrap());
    let delivered_then = run.ids()[before - 1];
    assert!(
        first.is_some_and(|f| f >= delivered_then),
        "first request after restart had Last-Event-ID {first:?}, {delivered_then} was already delivered"
    );
    assert!(!run.retries().is_empty());
    run.stop().await;
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// Failures and their reasons.

#[tokio::test]
async fn a_wrong_content_type_fails_with_a_clear_reason_and_is_retried_slowly() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let mut run = Run::start(sse::run, feed(format!("{}/sse-wrongtype", sim.base_url())));
    run.until("a failed state", WAIT, |r| {
        r.states().iter().any(|s| s.name() == "failed")
    })
    .await;
    let reason = match run.states().last() {
        Some(ConnState::Failed { reason }) => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        reason.starts_with(
            "expected content-type text/event-stream, got text/plain: is this URL an SSE endpoint?; a configuration problem: next attempt in "
        ),
        "{reason}"
    );
    // A configuration problem is not retried within the normal backoff
    // (200 ms here): the slow schedule starts at a minute.
    run.during(Duration::from_millis(800)).await;
    assert_eq!(sim.requests("/sse-wrongtype").len(), 1, "{}", run.summary());
    assert!(run.retries().is_empty(), "{}", run.summary());
    assert_eq!(run.count_live(), 0, "{}", run.summary());
    assert!(run.messages().is_empty());
    assert_eq!(run.counters.errors.load(Ordering::Relaxed), 1);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_then_the_stream_recovers() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        fail_next: 2,
        ..Faults::default()
    });
    let url = format!("{}/sse?host=host-1&rate=200&count=5", sim.base_url());
    let mut run = Run::start(sse::run, feed(url));
    run.until("5 messages", WAIT, |r| r.messages().len() >= 5)
        .await;
    assert_eq!(run.ids(), vec![1, 2, 3, 4, 5]);
    let retries = run.retries();
    assert_eq!(retries.len(), 2, "{}", run.summary());
    for (i, (attempt, next_at, reason)) in retries.iter().enumerate() {
        assert_eq!(*attempt, i as u32 + 1);
        assert_eq!(reason, "HTTP 503 Service Unavailable");
        // Backoff bound: never beyond the configured cap.
        assert!(next_at.since(Timestamp::now()) <= Duration::from_millis(200));
    }
    let states: Vec<&str> = run.states().iter().map(|s| s.name()).collect();
    assert_eq!(
        states,
        vec![
            "connecting",
            "retrying",
            "connecting",
            "retrying",
            "connecting",
            "live"
        ]
    );
    assert_eq!(run.counters.errors.load(Ordering::Relaxed), 2);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stalled_stream_is_reconnected_after_the_read_timeout() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!(
        "{}/sse?host=host-1&rate=200&count=12&stall_after=5",
        sim.base_url()
    );
    let f = with_opts(feed(url), |o| o.read_timeout = Dur::millis(300));
    let mut run = Run::start(sse::run, f);
    run.until("12 messages", WAIT, |r| r.messages().len() >= 12)
        .await;
    assert_eq!(
        run.ids(),
        (1..=12).collect::<Vec<u64>>(),
        "{}",
        run.summary()
    );
    let retries = run.retries();
    assert_eq!(retries.len(), 2, "{}", run.summary());
    for (_, _, reason) in &retries {
        assert_eq!(reason, "no data or heartbeat for 300ms: reconnecting");
    }
    let lei: Vec<_> = sim
        .requests("/sse")
        .iter()
        .map(|r| r.header("last-event-id").map(str::to_string))
        .collect();
    assert_eq!(lei, vec![None, Some("5".into()), Some("10".into())]);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn no_response_headers_within_the_read_timeout_is_retried() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let f = with_opts(feed(format!("http://{addr}/events")), |o| {
        o.read_timeout = Dur::millis(300)
    });
    let mut run = Run::start(sse::run, f);
    run.until("a failed attempt", WAIT, |r| !r.retries().is_empty())
        .await;
    assert_eq!(
        run.retries()[0].2,
        "the server sent no complete response headers within 300ms (sse.read_timeout): reconnecting"
    );
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn http_204_stops_the_feed_until_the_operator_resumes_it() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/events",
        get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::NO_CONTENT }
        }),
    );
    let (base, server) = serve(app).await;
    let mut run = Run::start(sse::run, feed(format!("{base}/events")));
    run.until("stopped by server", WAIT, |r| {
        r.states().iter().any(|s| s.name() == "stopped_by_server")
    })
    .await;
    match run.states().last() {
        Some(ConnState::StoppedByServer { reason }) => assert!(
            reason.starts_with("HTTP 204 No Content: the server asks clients to stop reconnecting"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    // No further attempt (the normal backoff would retry within 200 ms),
    // and the task waits for the operator instead of ending.
    let more = run.during(Duration::from_millis(800)).await;
    assert!(more.is_empty(), "{}", run.summary());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(!run.task.is_finished());
    assert!(run.retries().is_empty(), "{}", run.summary());
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn an_invalid_url_fails_without_retrying() {
    let mut run = Run::start(sse::run, feed("ws://127.0.0.1:1/events"));
    run.until("a state", WAIT, |r| !r.states().is_empty()).await;
    assert_eq!(
        run.states()[0],
        &ConnState::Failed {
            reason: "invalid URL: SSE needs `http://` or `https://`, not `ws://`".into()
        }
    );
    let more = run.during(Duration::from_millis(200)).await;
    assert!(more.is_empty(), "{more:?}");
    run.stop().await;
}

// ---------------------------------------------------------------------------
// Stream content.

#[tokio::test]
async fn heartbeats_are_activity_but_not_messages() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!(
        "{}/sse?host=host-1&rate=100&count=1&heartbeat_ms=50",
        sim.base_url()
    );
    // Heartbeats alone keep a 300 ms read timeout from firing.
    let f = with_opts(feed(url), |o| o.read_timeout = Dur::millis(300));
    let mut run = Run::start(sse::run, f);
    run.until("1 message", WAIT, |r| !r.messages().is_empty())
        .await;
    let message_at = run.messages()[0].received_at;
    let later = run.during(Duration::from_millis(700)).await;
    assert!(later.is_empty(), "expected silence, got {later:?}");
    let activity = Timestamp(run.counters.last_activity_at.load(Ordering::Relaxed));
    assert!(
        activity.since(message_at) >= Duration::from_millis(500),
        "last activity {activity} is not after the heartbeats (message at {message_at})"
    );
    assert_eq!(run.counters.messages.load(Ordering::Relaxed), 1);
    assert_eq!(run.states().last(), Some(&&ConnState::Live));
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn only_the_configured_event_types_are_kept() {
    let body = "event: health\ndata: h1\n\n: hb\n\ndata: m1\n\nevent: other\ndata: o1\n\nevent: health\ndata: h2\n\n";
    let (base, server) = serve(Router::new().route(
        "/events",
        get(move || async move { event_stream(vec![body.to_string()], false) }),
    ))
    .await;

    let f = with_opts(feed(format!("{base}/events")), |o| {
        o.events = vec!["health".into(), "message".into()]
    });
    let mut run = Run::start(sse::run, f);
    run.until("3 messages", WAIT, |r| r.messages().len() >= 3)
        .await;
    run.during(Duration::from_millis(200)).await;
    let got: Vec<(Option<String>, String)> = run
        .messages()
        .iter()
        .map(|m| {
            (
                m.event_type.clone(),
                String::from_utf8_lossy(&m.data).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("health".into()), "h1".into()),
            (Some("message".into()), "m1".into()),
            (Some("health".into()), "h2".into()),
        ]
    );
    run.stop().await;

    // Without a filter, everything arrives.
    let mut run = Run::start(sse::run, feed(format!("{base}/events")));
    run.until("4 messages", WAIT, |r| r.messages().len() >= 4)
        .await;
    assert_eq!(run.messages()[2].event_type.as_deref(), Some("other"));
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn malformed_json_payloads_are_still_delivered() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!(
        "{}/sse?host=host-1&rate=200&count=9&garbage_every=3",
        sim.base_url()
    );
    let mut run = Run::start(sse::run, feed(url));
    run.until("9 messages", WAIT, |r| r.messages().len() >= 9)
        .await;
    assert_eq!(run.ids(), (1..=9).collect::<Vec<u64>>());
    for m in run.messages() {
        let id: u64 = m.server_id.as_deref().unwrap().parse().unwrap();
        let json = serde_json::from_slice::<serde_json::Value>(&m.data);
        assert_eq!(json.is_err(), id.is_multiple_of(3), "id {id}: {:?}", m.data);
    }
    assert_eq!(&run.messages()[2].data[..], b"this is {not json");
    assert!(run.retries().is_empty());
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_oversize_event_is_reported_and_the_stream_goes_on() {
    // Ten lines of 50 bytes: each line fits, the event (509 bytes) does not.
    let line = format!("data: {}\n", "x".repeat(50));
    let big = format!(
        "id: 1\nevent: big\n{}\nid: 2\ndata: small\n\n",
        line.repeat(10)
    );
    let (base, server) = serve(Router::new().route(
        "/events",
        get(move || {
            let big = big.clone();
            async move { event_stream(vec![big], false) }
        }),
    ))
    .await;
    let f = with_opts(feed(format!("{base}/events")), |o| {
        o.max_event_size = ByteSize(100)
    });
    let mut run = Run::start(sse::run, f);
    run.until("1 message", WAIT, |r| !r.messages().is_empty())
        .await;
    assert_eq!(run.ids(), vec![2]);
    assert_eq!(&run.messages()[0].data[..], b"small");
    let issues = run.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].0, "oversize");
    assert!(
        issues[0].1.contains("`big` event of 509 bytes") && issues[0].1.contains("(100 bytes)"),
        "{}",
        issues[0].1
    );
    assert!(run.retries().is_empty());
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn feed_headers_are_sent_with_env_expansion_and_never_reported() {
    std::env::set_var("TELLTALE_SECRET_SSE_TEST_TOKEN", "s3cret-value");
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/sse?host=host-1&rate=100&count=1", sim.base_url());
    let mut f = feed(url);
    f.headers.insert(
        "Authorization".into(),
        "Bearer ${TELLTALE_SECRET_SSE_TEST_TOKEN}".into(),
    );
    // A header that cannot be expanded makes the attempt fail, naming the header only.
    let mut bad = f.clone();
    bad.headers.insert(
        "X-Other".into(),
        "${TELLTALE_SECRET_SSE_TEST_MISSING}".into(),
    );

    let mut run = Run::start(sse::run, f);
    run.until("1 message", WAIT, |r| !r.messages().is_empty())
        .await;
    let req = &sim.requests("/sse")[0];
    assert_eq!(req.header("authorization"), Some("Bearer s3cret-value"));
    run.stop().await;

    let mut run = Run::start(sse::run, bad);
    run.until("a failed attempt", WAIT, |r| !r.retries().is_empty())
        .await;
    let reason = run.retries()[0].2.clone();
    assert!(
        reason.contains("X-Other") && reason.contains("TELLTALE_SECRET_SSE_TEST_MISSING"),
        "{reason}"
    );
    let log = run.stop().await;
    assert!(!format!("{log:?}").contains("s3cret"));
    sim.shutdown().await;
}
