//! The polling transport against real sockets on 127.0.0.1: the simulator's
//! `/poll/{host}` route (ETag/304, injected failures, slowness) and small
//! purpose-built servers that record when each request arrived.

use crate::support::{closed_port, fast_backoff, metric, sink, until, Events, Running};
use axum::extract::Path;
use axum::http::Method;
use axum::routing::any;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telltale_model::duration::Dur;
use telltale_model::feed::PollOptions;
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sim::{Faults, Sim, SimConfig, SimHandle};
use telltale_sources::poll;
use tokio::time::Instant;

fn feed(url: String, interval_ms: u64) -> FeedConfig {
    let mut f = FeedConfig::new("poll-test", TransportKind::Poll, url);
    f.backoff = fast_backoff();
    f.poll = Some(PollOptions {
        interval: Dur::millis(interval_ms),
        timeout: Dur::secs(2),
        ..PollOptions::default()
    });
    f
}

fn start(feed: FeedConfig) -> (Running, Events) {
    let (sink, rx) = sink();
    // The engine's way: each feed at a random phase of its interval.
    let run = |feed, sink, cancel| poll::run(feed, sink, cancel, true);
    (Running::spawn(run, feed, sink), Events::new(rx))
}

async fn sim() -> SimHandle {
    Sim::start(SimConfig::default()).await.expect("sim starts")
}

/// One request as seen by a test server.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    path: String,
    method: Method,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn log_of(log: &Log) -> Vec<Seen> {
    log.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A server answering every path with `{"ok":true}` after `delay`,
/// recording arrival times, methods and bodies.
async fn recording_server(delay: Duration) -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let app = Router::new().route(
        "/{*path}",
        any(
            move |Path(path): Path<String>, method: Method, body: String| {
                let l = l.clone();
                async move {
                    l.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
                        at: Instant::now(),
                        path,
                        method,
                        body,
                    });
                    tokio::time::sleep(delay).await;
                    "{\"ok\":true}"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, log)
}

#[tokio::test]
async fn happy_path_reports_body_status_and_response_time() {
    let sim = sim().await;
    let (run, mut ev) = start(feed(format!("{}/poll/host-1", sim.base_url()), 300));
    assert_eq!(ev.state("connecting").await, ConnState::Connecting);
    ev.state("live").await;
    let m = ev.message().await;
    assert_eq!(m.event_type, None);
    let v: serde_json::Value = serde_json::from_slice(&m.data).expect("JSON body");
    assert_eq!(v["host"], "host-1");
    assert_eq!(
        m.server_id.as_deref(),
        Some(format!("\"{}\"", v["seq"]).as_str()),
        "server_id is the ETag"
    );
    assert_eq!(metric(&m, "http_status"), Some(200.0));
    assert_eq!(metric(&m, "up"), Some(1.0));
    let ms = metric(&m, "response_ms").expect("response_ms");
    assert!((0.0..1000.0).contains(&ms), "response_ms = {ms}");
    // Polling goes on, without flapping through Connecting.
    ev.message().await;
    assert!(
        !ev.seen
            .iter()
            .skip(2)
            .any(|e| matches!(e, SourceEvent::State(_))),
        "a healthy feed reports no further states: {}",
        ev.log()
    );
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn etag_makes_the_next_request_conditional_and_304_is_unchanged() {
    let sim = sim().await;
    // A very low rate: the sample (and its ETag) does not change during the test.
    let url = format!("{}/poll/host-1?rate=0.001", sim.base_url());
    let (run, mut ev) = start(feed(url, 200));
    let first = ev.message().await;
    assert_eq!(metric(&first, "http_status"), Some(200.0));
    let etag = first.server_id.clone().expect("an ETag");

    let second = ev.message().await;
    assert_eq!(second.event_type.as_deref(), Some("unchanged"));
    assert!(second.data.is_empty(), "a 304 carries no data");
    assert_eq!(second.server_id.as_deref(), Some(etag.as_str()));
    assert_eq!(metric(&second, "http_status"), Some(304.0));
    assert_eq!(metric(&second, "up"), Some(1.0));
    assert!(metric(&second, "response_ms").is_some());

    let reqs = sim.requests("/poll/host-1");
    assert!(reqs.len() >= 2, "{reqs:?}");
    assert_eq!(reqs[0].header("if-none-match"), None);
    assert_eq!(reqs[1].header("if-none-match"), Some(etag.as_str()));
    assert!(reqs[1].header("if-modified-since").is_some());
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn conditional_false_sends_no_validators() {
    let sim = sim().await;
    let url = format!("{}/poll/host-1?rate=0.001", sim.base_url());
    let mut f = feed(url, 150);
    if let Some(p) = f.poll.as_mut() {
        p.conditional = false;
    }
    let (run, mut ev) = start(f);
    for _ in 0..2 {
        let m = ev.message().await;
        assert_eq!(metric(&m, "http_status"), Some(200.0));
    }
    let reqs = sim.requests("/poll/host-1");
    assert!(reqs.iter().all(|r| r.header("if-none-match").is_none()));
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_then_recovery() {
    let sim = sim().await;
    sim.set_faults(Faults {
        fail_next: 3,
        ..Faults::default()
    });
    let (run, mut ev) = start(feed(format!("{}/poll/host-1", sim.base_url()), 300));
    ev.state("connecting").await;
    let err = ev.message().await;
    assert_eq!(err.event_type.as_deref(), Some("http_error"));
    assert_eq!(metric(&err, "http_status"), Some(503.0));
    assert_eq!(metric(&err, "up"), Some(0.0));
    assert!(metric(&err, "response_ms").is_some());
    assert!(
        String::from_utf8_lossy(&err.data).contains("injected failure"),
        "the error body is kept"
    );
    let issue = ev.issue("http_status").await;
    assert!(
        issue
            .message
            .starts_with("HTTP 503 Service Unavailable from 127.0.0.1:"),
        "{}",
        issue.message
    );
    assert_eq!(ev.retrying().await, "HTTP 503 Service Unavailable");
    ev.state("live").await;
    let ok = ev.message().await;
    assert_eq!(metric(&ok, "up"), Some(1.0));
    assert_eq!(metric(&ok, "http_status"), Some(200.0));
    let retries: Vec<u32> = ev
        .seen
        .iter()
        .filter_map(|e| match e {
            SourceEvent::State(ConnState::Retrying { attempt, .. }) => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(retries, vec![1, 2, 3], "{}", ev.log());
    // Retries come from the backoff (≤ 200ms here), not the 300ms schedule.
    assert_eq!(sim.requests("/poll/host-1").len(), 4);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn error_bodies_are_truncated_to_4_kib() {
    let app = Router::new().route(
        "/big",
        any(|| async {
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "e".repeat(100_000),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (run, mut ev) = start(feed(format!("http://{addr}/big"), 200));
    let m = ev.message().await;
    assert_eq!(m.data.len(), 4096);
    assert_eq!(metric(&m, "http_status"), Some(500.0));
    assert_eq!(ev.retrying().await, "HTTP 500 Internal Server Error");
    run.stop().await;
}

#[tokio::test]
async fn timeout_is_a_retry_with_up_zero() {
    let sim = sim().await;
    let url = format!("{}/poll/host-1?slow_ms=2000", sim.base_url());
    let mut f = feed(url, 300);
    if let Some(p) = f.poll.as_mut() {
        p.timeout = Dur::millis(200);
    }
    let (run, mut ev) = start(f);
    let m = ev.message().await;
    assert_eq!(m.event_type.as_deref(), Some("http_error"));
    assert_eq!(m.transport_metrics, vec![("up", 0.0)]);
    let reason = ev.retrying().await;
    assert_eq!(
        reason,
        format!(
            "timed out: no complete response from {} within 200ms",
            sim.addr()
        )
    );
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_connection_is_a_retry_with_a_reason() {
    let port = closed_port().await;
    let (run, mut ev) = start(feed(format!("http://127.0.0.1:{port}/x"), 200));
    let m = ev.message().await;
    assert_eq!(m.transport_metrics, vec![("up", 0.0)]);
    assert_eq!(
        ev.retrying().await,
        format!("connection refused by 127.0.0.1:{port}")
    );
    ev.state("connecting").await;
    run.stop().await;
}

#[tokio::test]
async fn first_polls_are_spread_over_the_interval() {
    let (addr, log) = recording_server(Duration::ZERO).await;
    let started = Instant::now();
    let runs: Vec<(Running, Events)> = (0..20)
        .map(|i| start(feed(format!("http://{addr}/f/{i}"), 1000)))
        .collect();
    let distinct = || {
        let mut paths: Vec<String> = log_of(&log).into_iter().map(|s| s.path).collect();
        paths.sort();
        paths.dedup();
        paths.len()
    };
    until("all 20 feeds polled once", Duration::from_secs(3), || {
        (distinct() == 20).then_some(())
    })
    .await;
    let mut firsts = std::collections::BTreeMap::new();
    for s in log_of(&log) {
        firsts.entry(s.path).or_insert(s.at);
    }
    let times: Vec<Duration> = firsts.values().map(|t| t.duration_since(started)).collect();
    let (min, max) = (
        times.iter().min().copied().unwrap_or_default(),
        times.iter().max().copied().unwrap_or_default(),
    );
    assert!(
        max < Duration::from_millis(1500),
        "every first poll falls within the interval: {times:?}"
    );
    // 20 uniform phases in [0, 1s) span less than 300ms with probability ~1e-9.
    assert!(
        max - min > Duration::from_millis(300),
        "first polls are bunched together: {times:?}"
    );
    let mut buckets: Vec<u128> = times.iter().map(|t| t.as_millis() / 10).collect();
    buckets.dedup();
    assert!(buckets.len() > 1, "all in the same 10ms: {times:?}");
    for (run, _) in runs {
        run.stop().await;
    }
}

#[tokio::test]
async fn schedule_does_not_drift() {
    // Each response takes 60ms; a naive sleep(interval) loop would drift by
    // that much per poll.
    let (addr, log) = recording_server(Duration::from_millis(60)).await;
    let (run, mut ev) = start(feed(format!("http://{addr}/drift"), 200));
    for _ in 0..7 {
        ev.message().await;
    }
    // (7 responses: 6 regular intervals after the first request.)
    run.stop().await;
    // The first request also opens the connection; measure from the second.
    let at: Vec<Instant> = log_of(&log).into_iter().skip(1).map(|s| s.at).collect();
    assert!(at.len() >= 6);
    let first = at[0];
    for (k, t) in at.iter().enumerate().take(6) {
        let expected = first + Duration::from_millis(200) * k as u32;
        let off = if *t > expected {
            *t - expected
        } else {
            expected - *t
        };
        assert!(
            off < Duration::from_millis(100),
            "request {k} is {off:?} off its slot; arrivals: {:?}",
            at.iter()
                .map(|t| t.duration_since(first))
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn custom_headers_are_sent_and_never_reported() {
    std::env::set_var("TELLTALE_SECRET_POLL_TEST_TOKEN", "s3cret-poll-token");
    let sim = sim().await;
    let mut f = feed(format!("{}/poll/host-2", sim.base_url()), 200);
    f.headers.insert("X-Telltale-Test".into(), "poll".into());
    f.headers.insert(
        "Authorization".into(),
        "Bearer ${TELLTALE_SECRET_POLL_TEST_TOKEN}".into(),
    );
    let (run, mut ev) = start(f);
    ev.message().await;
    let reqs = sim.requests("/poll/host-2");
    assert_eq!(reqs[0].header("x-telltale-test"), Some("poll"));
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer s3cret-poll-token")
    );
    run.stop().await;
    assert!(!ev.all_text().contains("s3cret"), "{}", ev.log());
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_env_var_is_a_clear_failure_and_nothing_is_sent() {
    let sim = sim().await;
    let mut f = feed(format!("{}/poll/host-1", sim.base_url()), 100);
    f.headers.insert(
        "Authorization".into(),
        "Bearer ${TELLTALE_SECRET_POLL_TEST_DEFINITELY_UNSET}".into(),
    );
    let (run, mut ev) = start(f);
    match ev.state("failed").await {
        ConnState::Failed { reason } => assert_eq!(
            reason,
            "invalid header: header `Authorization` references the environment variable \
             `TELLTALE_SECRET_POLL_TEST_DEFINITELY_UNSET`, which is not set: export TELLTALE_SECRET_POLL_TEST_DEFINITELY_UNSET=… before starting Telltale"
        ),
        other => panic!("{other:?}"),
    }
    // The same failure is not repeated, and no request goes out.
    assert!(
        ev.quiet_for(Duration::from_millis(300)).await.is_none(),
        "{}",
        ev.log()
    );
    assert!(sim.requests("/poll").is_empty());
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn method_and_body_are_sent() {
    let (addr, log) = recording_server(Duration::ZERO).await;
    let mut f = feed(format!("http://{addr}/health"), 200);
    if let Some(p) = f.poll.as_mut() {
        p.method = "post".into();
        p.body = Some("{\"check\":\"deep\"}".into());
    }
    let (run, mut ev) = start(f);
    let m = ev.message().await;
    assert_eq!(&m.data[..], b"{\"ok\":true}");
    run.stop().await;
    let seen = log_of(&log);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].body, "{\"check\":\"deep\"}");
    assert_eq!(seen[0].path, "health");
}
