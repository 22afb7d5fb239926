//! The WebSocket transport against real sockets on 127.0.0.1: the simulator
//! for data streams, and small purpose-built servers for close codes, a
//! silent peer and shutdown.

use crate::support;
use crate::support::{closed_port, fast_backoff, sink, until, Events, Running};
use axum::extract::ws::{CloseFrame as AxCloseFrame, Message as AxMessage, WebSocketUpgrade};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telltale_model::duration::{ByteSize, Dur};
use telltale_model::feed::WebsocketOptions;
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sim::{Sim, SimConfig, SimHandle};
use telltale_sources::websocket;
use tokio::sync::mpsc;

fn feed(url: String, opts: WebsocketOptions) -> FeedConfig {
    let mut f = FeedConfig::new("ws-test", TransportKind::Websocket, url);
    f.backoff = fast_backoff();
    f.websocket = Some(opts);
    f
}

fn start(feed: FeedConfig) -> (Running, Events) {
    let (sink, rx) = sink();
    (Running::spawn(websocket::run, feed, sink), Events::new(rx))
}

async fn sim() -> SimHandle {
    Sim::start(SimConfig::default()).await.expect("sim starts")
}

/// Serves `app` on a fresh local port.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn json(m: &telltale_model::RawMessage) -> serde_json::Value {
    serde_json::from_slice(&m.data)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&m.data)))
}

#[tokio::test]
async fn text_and_binary_frames_are_delivered() {
    let sim = sim().await;
    let url = format!("{}/ws?host=host-1&rate=50&count=3", sim.ws_url());
    let (run, mut ev) = start(feed(url, WebsocketOptions::default()));
    assert_eq!(ev.state("connecting").await, ConnState::Connecting);
    ev.state("live").await;
    for seq in 1..=3 {
        let m = ev.message().await;
        assert_eq!(m.event_type, None, "text frames have no event type");
        let v = json(&m);
        assert_eq!(v["host"], "host-1");
        assert_eq!(v["seq"], seq);
    }
    run.stop().await;

    let url = format!("{}/ws?host=host-2&rate=50&count=2&binary=1", sim.ws_url());
    let (run, mut ev) = start(feed(url, WebsocketOptions::default()));
    for seq in 1..=2 {
        let m = ev.message().await;
        assert_eq!(m.event_type.as_deref(), Some("binary"));
        assert_eq!(json(&m)["seq"], seq);
        assert!(m.transport_metrics.is_empty());
    }
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn custom_header_and_subprotocol_reach_the_server() {
    std::env::set_var("TELLTALE_SECRET_WS_TEST_TOKEN", "s3cret-ws-token");
    let sim = sim().await;
    let url = format!("{}/ws?host=host-1&rate=20&count=1", sim.ws_url());
    let mut f = feed(
        url,
        WebsocketOptions {
            subprotocols: vec!["telltale.v1".into(), "other.v2".into()],
            ..WebsocketOptions::default()
        },
    );
    f.headers.insert("X-Telltale-Test".into(), "yes".into());
    f.headers.insert(
        "Authorization".into(),
        "Bearer ${TELLTALE_SECRET_WS_TEST_TOKEN}".into(),
    );
    let (run, mut ev) = start(f);
    ev.state("live").await;
    ev.message().await;
    let reqs = sim.requests("/ws");
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let r = &reqs[0];
    assert_eq!(r.header("x-telltale-test"), Some("yes"));
    assert_eq!(r.header("authorization"), Some("Bearer s3cret-ws-token"));
    assert_eq!(
        r.header("sec-websocket-protocol"),
        Some("telltale.v1, other.v2")
    );
    run.stop().await;
    assert!(
        !ev.all_text().contains("s3cret"),
        "a header value leaked into events: {}",
        ev.log()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn subscriptions_are_resent_after_a_reconnect() {
    let sim = sim().await;
    // The server drops the connection (no close frame) after every 2nd message.
    let url = format!("{}/ws?host=host-1&rate=20&drop_every=2", sim.ws_url());
    let subscribe = r#"{"subscribe":"host-2"}"#.to_string();
    let (run, mut ev) = start(feed(
        url,
        WebsocketOptions {
            subscribe: vec![subscribe.clone()],
            ..WebsocketOptions::default()
        },
    ));
    ev.state("live").await;
    ev.state("retrying").await;
    ev.state("live").await;
    until(
        "two subscribe messages reached the server",
        support::WAIT,
        || (sim.ws_client_messages().len() >= 2).then_some(()),
    )
    .await;
    let got = sim.ws_client_messages();
    assert_eq!(&got[..2], &[subscribe.clone(), subscribe.clone()]);
    assert!(sim.requests("/ws").len() >= 2);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_is_retried_and_messages_continue() {
    let sim = sim().await;
    let url = format!("{}/ws?host=host-1&rate=40&drop_every=3", sim.ws_url());
    let (run, mut ev) = start(feed(url, WebsocketOptions::default()));
    ev.state("live").await;
    let first = json(&ev.message().await)["seq"].as_u64().unwrap_or(0);
    let reason = ev.retrying().await;
    assert!(
        reason.contains("dropped without a close frame") || reason.contains("reset by"),
        "unexpected reason: {reason}"
    );
    assert!(
        reason.contains("127.0.0.1:"),
        "reason names the peer: {reason}"
    );
    ev.state("live").await;
    let later = json(&ev.message().await)["seq"].as_u64().unwrap_or(0);
    assert!(later > first, "messages continue after the reconnect");
    assert!(
        run_counters_reconnects(&ev) >= 1,
        "expected a second Live: {}",
        ev.log()
    );
    run.stop().await;
    sim.shutdown().await;
}

fn run_counters_reconnects(ev: &Events) -> usize {
    ev.seen
        .iter()
        .filter(|e| matches!(e, SourceEvent::State(ConnState::Live)))
        .count()
        .saturating_sub(1)
}

#[tokio::test]
async fn server_restart_on_the_same_port_is_survived() {
    let sim = sim().await;
    let addr = sim.addr();
    let url = format!("{}/ws?host=host-1&rate=20", sim.ws_url());
    let (run, mut ev) = start(feed(url, WebsocketOptions::default()));
    ev.state("live").await;
    ev.message().await;

    sim.shutdown().await;
    ev.retrying().await;
    let refused = format!("connection refused by {addr}");
    ev.expect("a `connection refused` retry", |e| {
        matches!(e, SourceEvent::State(ConnState::Retrying { reason, .. }) if *reason == refused)
    })
    .await;

    let sim = Sim::start(SimConfig {
        listen: addr,
        ..SimConfig::default()
    })
    .await
    .expect("the same port can be bound again");
    ev.state("live").await;
    let m = ev.message().await;
    assert_eq!(json(&m)["host"], "host-1");
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_connection_is_retried_with_growing_attempts() {
    let port = closed_port().await;
    let (run, mut ev) = start(feed(
        format!("ws://127.0.0.1:{port}/ws"),
        WebsocketOptions::default(),
    ));
    let mut attempts = Vec::new();
    for _ in 0..3 {
        ev.state("connecting").await;
        match ev.state("retrying").await {
            ConnState::Retrying {
                attempt, reason, ..
            } => {
                assert_eq!(reason, format!("connection refused by 127.0.0.1:{port}"));
                attempts.push(attempt);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(attempts, vec![1, 2, 3]);
    run.stop().await;
}

/// A peer that completes the handshake and then never reads again, so our
/// pings are never answered.
#[tokio::test]
async fn keepalive_detects_a_peer_that_stopped_answering() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(Mutex::new(0usize));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                // Keep the socket open but never poll it again.
                held.push(ws);
                *counter.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            }
        }
    });
    let (run, mut ev) = start(feed(
        format!("ws://{addr}/"),
        WebsocketOptions {
            ping_interval: Dur::millis(200),
            pong_timeout: Dur::millis(300),
            ..WebsocketOptions::default()
        },
    ));
    ev.state("live").await;
    let live_at = tokio::time::Instant::now();
    let reason = ev.retrying().await;
    let took = live_at.elapsed();
    assert_eq!(reason, "no pong within 300ms of ping: peer presumed dead");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "dead peer detected after {took:?}, expected about 500ms (ping 200ms + timeout 300ms)"
    );
    // And it reconnects.
    ev.state("live").await;
    until(
        "the server accepted a second connection",
        support::WAIT,
        || (*accepted.lock().unwrap_or_else(|e| e.into_inner()) >= 2).then_some(()),
    )
    .await;
    run.stop().await;
}

/// Pongs (and pings from the server) keep a quiet connection alive.
#[tokio::test]
async fn answered_pings_keep_a_quiet_connection_live() {
    let sim = sim().await;
    // count=1: one message, then silence, but the sim answers pings.
    let url = format!("{}/ws?host=host-1&rate=20&count=1", sim.ws_url());
    let (sink, rx) = sink();
    let counters = sink.counters().clone();
    let run = Running::spawn(
        websocket::run,
        feed(
            url,
            WebsocketOptions {
                ping_interval: Dur::millis(100),
                pong_timeout: Dur::millis(1000),
                ..WebsocketOptions::default()
            },
        ),
        sink,
    );
    let mut ev = Events::new(rx);
    ev.state("live").await;
    ev.message().await;
    let after_message = counters
        .last_activity_at
        .load(std::sync::atomic::Ordering::Relaxed);
    // Pongs advance the activity clock although no message arrives.
    until("a pong is recorded as activity", support::WAIT, || {
        (counters
            .last_activity_at
            .load(std::sync::atomic::Ordering::Relaxed)
            > after_message)
            .then_some(())
    })
    .await;
    // No retry happens over several ping rounds.
    // A dead peer would be declared after 1.1s; wait longer than that.
    if let Some(e) = ev.quiet_for(Duration::from_millis(1500)).await {
        panic!(
            "expected no events on a quiet, answered connection, got {}; log: {}",
            support::short(&e),
            ev.log()
        );
    }
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn oversize_message_is_an_issue_and_the_feed_reconnects() {
    let sim = sim().await;
    let url = format!("{}/ws?host=host-1&rate=20&big_bytes=65536", sim.ws_url());
    let (run, mut ev) = start(feed(
        url,
        WebsocketOptions {
            max_message_size: ByteSize(1024),
            ..WebsocketOptions::default()
        },
    ));
    ev.state("live").await;
    let issue = ev.issue("oversize").await;
    assert_eq!(
        issue.message,
        "message of 65536 bytes exceeds websocket.max_message_size (1 KiB); raise it if this is expected"
    );
    let reason = ev.retrying().await;
    assert!(reason.contains("65536 bytes"), "{reason}");
    ev.state("live").await;
    ev.issue("oversize").await;
    assert!(
        !run.task.as_ref().is_some_and(|t| t.is_finished()),
        "still running"
    );
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn close_code_and_reason_are_recorded() {
    let app = Router::new().route(
        "/",
        get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut s| async move {
                let _ = s
                    .send(AxMessage::Close(Some(AxCloseFrame {
                        code: 1011,
                        reason: "database unavailable".into(),
                    })))
                    .await;
                // Wait for the client's close reply.
                while let Some(Ok(_)) = s.recv().await {}
            })
        }),
    );
    let addr = serve(app).await;
    let (run, mut ev) = start(feed(format!("ws://{addr}/"), WebsocketOptions::default()));
    ev.state("live").await;
    let want = "server closed with code 1011 (internal error): database unavailable";
    assert_eq!(ev.issue("close").await.message, want);
    assert_eq!(ev.retrying().await, want);
    ev.state("live").await;
    run.stop().await;
}

#[tokio::test]
async fn malformed_payload_is_still_delivered() {
    let sim = sim().await;
    let url = format!(
        "{}/ws?host=host-1&rate=50&count=2&garbage_every=2",
        sim.ws_url()
    );
    let (run, mut ev) = start(feed(url, WebsocketOptions::default()));
    let first = ev.message().await;
    assert_eq!(json(&first)["seq"], 1);
    let second = ev.message().await;
    assert_eq!(&second.data[..], b"this is {not json");
    assert_eq!(second.event_type, None);
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn cancel_sends_a_close_frame_and_stops() {
    let (tx, mut closes) = mpsc::unbounded_channel::<Option<(u16, String)>>();
    let app = Router::new().route(
        "/",
        get(move |ws: WebSocketUpgrade| {
            let tx = tx.clone();
            async move {
                ws.on_upgrade(move |mut s| async move {
                    while let Some(Ok(m)) = s.recv().await {
                        if let AxMessage::Close(f) = m {
                            let _ = tx.send(f.map(|f| (f.code, f.reason.to_string())));
                            break;
                        }
                    }
                })
            }
        }),
    );
    let addr = serve(app).await;
    let (run, mut ev) = start(feed(format!("ws://{addr}/"), WebsocketOptions::default()));
    ev.state("live").await;
    run.stop().await;
    let close = tokio::time::timeout(Duration::from_secs(2), closes.recv())
        .await
        .expect("server saw a close frame");
    assert_eq!(close, Some(Some((1000, "telltale stopping".to_string()))));
}

#[tokio::test]
async fn handshake_rejection_and_missing_env_are_explained() {
    let sim = sim().await;
    // Unknown host: the sim answers 404 instead of upgrading.
    let url = format!("{}/ws?host=host-99", sim.ws_url());
    let (run, mut ev) = start(feed(url, WebsocketOptions::default()));
    // A 404 is a configuration problem: failed, retried on the slow schedule.
    match ev.state("failed").await {
        ConnState::Failed { reason } => assert!(
            reason.starts_with(&format!(
                "{} rejected the WebSocket handshake with HTTP 404 Not Found: check the feed URL; a configuration problem: next attempt in ",
                sim.addr()
            )),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    run.stop().await;

    let mut f = feed(
        format!("{}/ws?host=host-1", sim.ws_url()),
        WebsocketOptions::default(),
    );
    f.headers.insert(
        "Authorization".into(),
        "Bearer ${TELLTALE_SECRET_WS_TEST_DEFINITELY_UNSET}".into(),
    );
    let (run, mut ev) = start(f);
    match ev.state("failed").await {
        ConnState::Failed { reason } => {
            assert!(
                reason.starts_with("invalid header: header `Authorization` references the environment variable `TELLTALE_SECRET_WS_TEST_DEFINITELY_UNSET`, which is not set"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(sim.requests("/ws").iter().all(|r| r.query != "host=host-1"));
    run.stop().await;
    sim.shutdown().await;
}

/// A connection that stays up (pings answered) but carries no data goes
/// `stale` after `stale_after`, without reconnecting: staleness is watched
/// by the shared supervisor in `telltale_sources::run`.
#[tokio::test]
async fn a_silent_but_alive_connection_goes_stale_not_retrying() {
    let sim = sim().await;
    let mut f = feed(
        format!("{}/ws?host=host-1&rate=50&stall_after=3", sim.ws_url()),
        WebsocketOptions {
            ping_interval: Dur::millis(100),
            pong_timeout: Dur::millis(2000),
            ..WebsocketOptions::default()
        },
    );
    f.stale_after = Some(Dur::millis(400));
    let (sink, rx) = sink();
    let running = Running::spawn(telltale_sources::run, f, sink);
    let mut ev = Events::new(rx);
    ev.state("live").await;
    for _ in 0..3 {
        ev.message().await;
    }
    match ev.state("stale").await {
        ConnState::Stale { silent_ms } => assert!(silent_ms >= 400, "{silent_ms}"),
        other => panic!("{other:?}"),
    }
    // Still connected: no retry within a while.
    if let Some(e) = ev.quiet_for(Duration::from_millis(800)).await {
        assert!(
            !matches!(e, SourceEvent::State(ConnState::Retrying { .. })),
            "{e:?}"
        );
    }
    running.stop().await;
    sim.shutdown().await;
}
