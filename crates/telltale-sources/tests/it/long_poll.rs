//! Integration tests of the long-poll transport against real sockets: the
//! simulator (`telltale-sim`) and small purpose-built axum servers.

// Test helpers outside `#[test]` functions may unwrap too.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telltale_model::duration::Dur;
use telltale_model::feed::{BackoffConfig, CursorMode, LongPollOptions};
use telltale_model::{ConnState, FeedConfig, SourceEvent, Timestamp, TransportKind};
use telltale_sim::{Faults, Sim, SimConfig};
use telltale_sources::long_poll;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Harness

fn feed(url: impl Into<String>, opts: LongPollOptions) -> FeedConfig {
    let mut f = FeedConfig::new("lp-test", TransportKind::LongPoll, url);
    f.backoff = BackoffConfig {
        initial: Dur::millis(50),
        max: Dur::millis(200),
        reset_after: Dur::secs(30),
    };
    f.long_poll = Some(opts);
    f
}

/// The sim's long-poll shape: `{"cursor":M,"events":[{"seq":..},..]}`.
fn sim_opts() -> LongPollOptions {
    LongPollOptions {
        hold: Dur::secs(2),
        timeout: None,
        cursor: CursorMode::Body {
            pointer: "/cursor".into(),
            param: "cursor".into(),
        },
        items: Some("/events".into()),
        id_pointer: Some("/seq".into()),
        ..LongPollOptions::default()
    }
}

use crate::recorder;
use recorder::Run;

/// Asserts `ids` is exactly 1..=n.
fn assert_gap_free(run: &Run) {
    let ids = run.json_ids();
    let want: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(
        ids,
        want,
        "sequence has a gap or a duplicate:\n{}",
        run.summary()
    );
}

/// Serves `app` on a fresh 127.0.0.1 port.
async fn serve(app: Router) -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), h)
}

// ---------------------------------------------------------------------------
// Body cursor against the simulator.

#[tokio::test]
async fn body_cursor_gives_an_exact_sequence_across_many_requests() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/longpoll/host-1?rate=1000&hold_ms=2000", sim.base_url());
    let mut run = Run::start(long_poll::run, feed(url, sim_opts()));
    run.until("seq 300", WAIT, |r| r.max_json_id() >= 300).await;
    assert_gap_free(&run);
    for m in run.messages() {
        let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
        assert_eq!(v["seq"].to_string(), m.server_id.clone().unwrap());
        assert_eq!(v["host"], "host-1");
        // Compact JSON of the item.
        assert!(!m.data.contains(&b'\n') && !m.data.starts_with(b"{ "));
    }
    assert!(run.retries().is_empty(), "{}", run.summary());
    let states: Vec<&str> = run.states().iter().map(|s| s.name()).collect();
    assert_eq!(states, vec!["connecting", "live"]);

    // Each request carried the cursor of the previous response; the other
    // parameters stayed as configured.
    let reqs = sim.requests("/longpoll/host-1");
    assert!(reqs.len() >= 3, "{reqs:#?}");
    assert_eq!(reqs[0].query_param("cursor"), None);
    let cursors: Vec<u64> = reqs[1..]
        .iter()
        .map(|r| r.query_param("cursor").unwrap().parse().unwrap())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    for r in &reqs {
        assert_eq!(r.query_param("rate"), Some("1000"));
        assert_eq!(r.query_param("hold_ms"), Some("2000"));
    }
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hold_timeout_is_not_an_error() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    // Seq 1 at once, seq 2 only after 5 s: meanwhile every request is held
    // 150 ms and answered 204.
    let url = format!("{}/longpoll/host-1?rate=0.2&hold_ms=150", sim.base_url());
    // The feed's `hold` says what the server does: a server that answers
    // far sooner than `hold` is paced (and reported as not held).
    let opts = LongPollOptions {
        hold: Dur::millis(150),
        ..sim_opts()
    };
    let mut run = Run::start(long_poll::run, feed(url, opts));
    run.until("seq 1", WAIT, |r| r.max_json_id() >= 1).await;
    let first_at = run.messages()[0].received_at;
    let later = run.during(Duration::from_millis(800)).await;
    assert!(later.is_empty(), "expected nothing, got {later:?}");
    assert_eq!(run.json_ids(), vec![1]);
    assert!(run.retries().is_empty());
    let states: Vec<&str> = run.states().iter().map(|s| s.name()).collect();
    assert_eq!(states, vec!["connecting", "live"]);
    // The 204s were requests with the cursor, each one activity.
    let held: Vec<_> = sim
        .requests("/longpoll/host-1")
        .into_iter()
        .filter(|r| r.query_param("cursor") == Some("1"))
        .collect();
    assert!(held.len() >= 3, "only {} held requests", held.len());
    let activity = Timestamp(run.counters.last_activity_at.load(Ordering::Relaxed));
    assert!(activity.since(first_at) >= Duration::from_millis(300));
    assert_eq!(run.counters.errors.load(Ordering::Relaxed), 0);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_without_losing_events() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/longpoll/host-1?rate=1000&hold_ms=2000", sim.base_url());
    let mut run = Run::start(long_poll::run, feed(url, sim_opts()));
    run.until("seq 100", WAIT, |r| r.max_json_id() >= 100).await;
    sim.set_faults(Faults {
        fail_next: 3,
        ..Faults::default()
    });
    run.until("3 failures", WAIT, |r| r.retries().len() >= 3)
        .await;
    let after = run.max_json_id();
    run.until("recovery", WAIT, |r| r.max_json_id() >= after + 200)
        .await;
    assert_gap_free(&run);
    let retries = run.retries();
    assert_eq!(retries.len(), 3, "{}", run.summary());
    for (i, (attempt, _, reason)) in retries.iter().enumerate() {
        assert_eq!(*attempt, i as u32 + 1);
        assert_eq!(reason, "HTTP 503 Service Unavailable");
    }
    assert_eq!(run.states().last(), Some(&&ConnState::Live));
    assert_eq!(run.counters.errors.load(Ordering::Relaxed), 3);
    // The failed requests and the one after them asked for the same cursor.
    let reqs = sim.requests("/longpoll/host-1");
    let cursors: Vec<&str> = reqs
        .iter()
        .filter_map(|r| r.query_param("cursor"))
        .collect();
    assert!(
        cursors.windows(4).any(|w| w.iter().all(|c| *c == w[0])),
        "no repeated cursor across the failures: {cursors:?}"
    );
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_server_restart_loses_nothing() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let addr = sim.addr();
    let url = format!("{}/longpoll/host-1?rate=200&hold_ms=2000", sim.base_url());
    let mut run = Run::start(long_poll::run, feed(url, sim_opts()));
    run.until("seq 50", WAIT, |r| r.max_json_id() >= 50).await;
    sim.shutdown().await;
    // At 200 events/s the sim answers at once, so the feed is paced (up to
    // 1 s between requests): stay down long enough for a request to fail.
    tokio::time::sleep(long_poll::MAX_PACE + Duration::from_millis(500)).await;
    let before = run.max_json_id();
    let sim = Sim::start(SimConfig {
        listen: addr,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    run.until("seq +50 after the restart", WAIT, |r| {
        r.max_json_id() >= before + 50
    })
    .await;
    assert_gap_free(&run);
    assert!(!run.retries().is_empty(), "{}", run.summary());
    let first = &sim.requests("/longpoll/host-1")[0];
    assert!(first.query_param("cursor").unwrap().parse::<u64>().unwrap() >= before);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_request_held_longer_than_the_client_timeout_is_retried() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    // cursor=1 with a slow rate: the sim holds for 5 s; the client waits 300 ms.
    let url = format!(
        "{}/longpoll/host-1?rate=0.01&hold_ms=5000&cursor=1",
        sim.base_url()
    );
    let opts = LongPollOptions {
        timeout: Some(Dur::millis(300)),
        ..sim_opts()
    };
    let mut run = Run::start(long_poll::run, feed(url, opts));
    run.until("2 failures", WAIT, |r| r.retries().len() >= 2)
        .await;
    let retries = run.retries();
    assert!(
        retries[0].2.starts_with("timed out after 300ms"),
        "{}",
        retries[0].2
    );
    assert_eq!((retries[0].0, retries[1].0), (1, 2));
    assert!(run.messages().is_empty());
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unreadable_body_is_delivered_and_the_cursor_kept() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!(
        "{}/longpoll/host-1?rate=1000&hold_ms=2000&garbage_every=2",
        sim.base_url()
    );
    let mut run = Run::start(long_poll::run, feed(url, sim_opts()));
    let garbage_of = |r: &Run| -> usize {
        r.messages()
            .iter()
            .filter(|m| &m.data[..] == b"this is {not json")
            .count()
    };
    run.until("seq 200 and 2 garbage responses", WAIT, |r| {
        r.max_json_id() >= 200 && garbage_of(r) >= 2
    })
    .await;
    assert_gap_free(&run);
    let garbage: Vec<_> = run
        .messages()
        .into_iter()
        .filter(|m| &m.data[..] == b"this is {not json")
        .collect();
    assert!(garbage.iter().all(|m| m.server_id.is_none()));
    let retries = run.retries();
    assert!(!retries.is_empty());
    assert!(
        retries[0].2.starts_with("the response is not JSON")
            && retries[0].2.contains("no cursor at `/cursor`"),
        "{}",
        retries[0].2
    );
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_invalid_url_fails_without_retrying() {
    let mut run = Run::start(long_poll::run, feed("not a url", sim_opts()));
    run.until("a state", WAIT, |r| !r.states().is_empty()).await;
    assert!(
        matches!(run.states()[0], ConnState::Failed { reason } if reason.starts_with("invalid URL `not a url`: relative URL")),
        "{}",
        run.summary()
    );
    assert!(run.during(Duration::from_millis(200)).await.is_empty());
    run.stop().await;
}

// ---------------------------------------------------------------------------
// Headers mode (nchan style) and other shapes, against our own servers.

/// (If-None-Match, If-Modified-Since) of one request.
type Validators = (Option<String>, Option<String>);

#[derive(Clone, Default)]
struct Nchan {
    seen: Arc<Mutex<Vec<Validators>>>,
}

fn last_modified(n: usize) -> String {
    format!("Tue, 25 Nov 2025 17:00:0{n} GMT")
}

/// Publishes messages 1..=3, one per request, then holds and answers 304.
async fn nchan(State(s): State<Nchan>, headers: HeaderMap) -> Response {
    let get = |h: header::HeaderName| headers.get(h).map(|v| v.to_str().unwrap().to_string());
    let inm = get(header::IF_NONE_MATCH);
    let ims = get(header::IF_MODIFIED_SINCE);
    s.seen.lock().unwrap().push((inm.clone(), ims.clone()));
    let current = match inm.as_deref() {
        None => 0,
        Some(tag) => tag.trim_matches('"').parse::<usize>().unwrap_or(99),
    };
    // Both validators must be consistent.
    if current > 0 && ims != Some(last_modified(current)) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    if current >= 3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let next = current + 1;
    (
        [
            (header::ETAG, format!("\"{next}\"")),
            (header::LAST_MODIFIED, last_modified(next)),
            (header::CONTENT_TYPE, "application/json".to_string()),
        ],
        format!("{{\"n\":{next}}}"),
    )
        .into_response()
}

#[tokio::test]
async fn headers_mode_echoes_etag_and_last_modified() {
    let s = Nchan::default();
    let (base, server) = serve(
        Router::new()
            .route("/sub", get(nchan))
            .with_state(s.clone()),
    )
    .await;
    let opts = LongPollOptions {
        cursor: CursorMode::Headers,
        ..LongPollOptions::default()
    };
    let mut run = Run::start(long_poll::run, feed(format!("{base}/sub"), opts));
    run.until("3 messages", WAIT, |r| r.messages().len() >= 3)
        .await;
    run.during(Duration::from_millis(350)).await;
    let got: Vec<(Option<String>, String)> = run
        .messages()
        .iter()
        .map(|m| {
            (
                m.server_id.clone(),
                String::from_utf8_lossy(&m.data).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            // nchan's whole message id: Last-Modified (17:00:0n) : Etag.
            (Some("1764090001:1".into()), r#"{"n":1}"#.into()),
            (Some("1764090002:2".into()), r#"{"n":2}"#.into()),
            (Some("1764090003:3".into()), r#"{"n":3}"#.into()),
        ]
    );
    assert!(run.retries().is_empty(), "{}", run.summary());
    let seen = s.seen.lock().unwrap().clone();
    assert!(seen.len() >= 4, "{seen:?}");
    assert_eq!(seen[0], (None, None));
    for (i, (inm, ims)) in seen.iter().enumerate().skip(1) {
        let n = i.min(3);
        assert_eq!(inm.as_deref(), Some(format!("\"{n}\"").as_str()));
        assert_eq!(ims.as_deref(), Some(last_modified(n).as_str()));
    }
    run.stop().await;
    server.abort();
}

/// nchan: the Etag is a counter that restarts from 0 every second; only
/// together with Last-Modified does it identify a message.
#[tokio::test]
async fn nchan_message_ids_stay_unique_when_the_etag_restarts_every_second() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/sub",
        get(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                if n >= 4 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                // Two messages in second 1, two in second 2.
                (
                    [
                        (header::ETAG, (n % 2).to_string()),
                        (header::LAST_MODIFIED, last_modified(1 + n / 2)),
                    ],
                    format!("{{\"n\":{n}}}"),
                )
                    .into_response()
            }
        }),
    );
    let (base, server) = serve(app).await;
    let opts = LongPollOptions {
        cursor: CursorMode::Headers,
        ..LongPollOptions::default()
    };
    let mut run = Run::start(long_poll::run, feed(format!("{base}/sub"), opts));
    run.until("4 messages", WAIT, |r| r.messages().len() >= 4)
        .await;
    let ids: Vec<Option<String>> = run.messages().iter().map(|m| m.server_id.clone()).collect();
    assert_eq!(
        ids,
        [
            "1764090001:0",
            "1764090001:1",
            "1764090002:0",
            "1764090002:1"
        ]
        .map(|s| Some(s.to_string()))
        .to_vec()
    );
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn whole_bodies_without_cursor_and_every_kind_of_hold_timeout() {
    let n = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route(
        "/lp",
        get(move || {
            let n = n.clone();
            async move {
                let i = n.fetch_add(1, Ordering::SeqCst);
                match i {
                    0 => (StatusCode::OK, r#"{"id":"a","v":1}"#).into_response(),
                    1 => (StatusCode::OK, "").into_response(),
                    2 => StatusCode::REQUEST_TIMEOUT.into_response(),
                    3 => (StatusCode::OK, "  \r\n").into_response(),
                    4 => StatusCode::NOT_MODIFIED.into_response(),
                    5 => (StatusCode::OK, "plain text").into_response(),
                    6 => (StatusCode::OK, r#"{"v":2}"#).into_response(),
                    _ => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        StatusCode::NO_CONTENT.into_response()
                    }
                }
            }
        }),
    );
    let (base, server) = serve(app).await;
    let opts = LongPollOptions {
        cursor: CursorMode::None,
        id_pointer: Some("/id".into()),
        ..LongPollOptions::default()
    };
    let mut run = Run::start(long_poll::run, feed(format!("{base}/lp"), opts));
    run.until("3 messages", WAIT, |r| r.messages().len() >= 3)
        .await;
    run.during(Duration::from_millis(300)).await;
    let got: Vec<(Option<String>, String)> = run
        .messages()
        .iter()
        .map(|m| {
            (
                m.server_id.clone(),
                String::from_utf8_lossy(&m.data).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("a".into()), r#"{"id":"a","v":1}"#.into()),
            (None, "plain text".into()),
            (None, r#"{"v":2}"#.into()),
        ]
    );
    assert!(run.retries().is_empty(), "{}", run.summary());
    let states: Vec<&str> = run.states().iter().map(|s| s.name()).collect();
    assert_eq!(states, vec!["connecting", "live"]);
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn items_that_are_not_an_array_are_reported_and_delivered_whole() {
    let app = Router::new().route(
        "/lp",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            r#"{"cursor":"c1","events":{"not":"a list"}}"#
        }),
    );
    let (base, server) = serve(app).await;
    let opts = LongPollOptions {
        cursor: CursorMode::Body {
            pointer: "/cursor".into(),
            param: "since".into(),
        },
        items: Some("/events".into()),
        ..LongPollOptions::default()
    };
    let mut run = Run::start(long_poll::run, feed(format!("{base}/lp?x=1"), opts));
    run.until("1 message", WAIT, |r| !r.messages().is_empty())
        .await;
    let m = run.messages()[0].clone();
    assert_eq!(&m.data[..], br#"{"cursor":"c1","events":{"not":"a list"}}"#);
    assert_eq!(m.server_id.as_deref(), Some("c1"));
    let issues: Vec<_> = run
        .log
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Issue(i) => Some(i.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(issues[0].kind, "malformed_payload");
    assert!(
        issues[0]
            .message
            .contains("expected an array at `/events`, found an object"),
        "{}",
        issues[0].message
    );
    run.stop().await;
    server.abort();
}
