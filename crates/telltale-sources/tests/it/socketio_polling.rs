//! Socket.IO over Engine.IO's HTTP long-polling (`socketio.transport =
//! "polling"`) and its upgrade to WebSocket (`"auto"`), against the
//! reference server (Node's `socket.io` 4, `SIO_TRANSPORTS` and
//! `SIO_BLOCK_WS` as `tests/peers/socketio-server.mjs` reads them). Only the
//! Engine.IO 3 server is a fake: Socket.IO 2 is not among the peers.

use crate::support::{fast_backoff, sink, Events, Running};
use std::time::Duration;
use telltale_model::socketio::{SocketioOptions, SocketioTransport};
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sources::websocket;
use telltale_testsupport::node::Server;

fn feed(url: &str, transport: SocketioTransport) -> FeedConfig {
    let mut f = FeedConfig::new("io", TransportKind::Socketio, url);
    f.backoff = fast_backoff();
    f.socketio = Some(SocketioOptions {
        events: vec!["tick".into()],
        transport,
        ..SocketioOptions::default()
    });
    f
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    (Running::spawn(websocket::run, f, s), Events::new(rx))
}

/// The next `n` ticks as `(seq, via)`.
async fn ticks(ev: &mut Events, n: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let m = ev.message().await;
        assert_eq!(m.event_type.as_deref(), Some("tick"));
        let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
        out.push((
            v["seq"].as_u64().unwrap(),
            v["via"].as_str().unwrap_or("").to_string(),
        ));
    }
    out
}

fn notices(ev: &Events, kind: &str) -> Vec<String> {
    ev.all_text()
        .lines()
        .filter(|l| l.contains(&format!("kind: \"{kind}\"")))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_polling_only_server_is_read_in_order_over_long_polls() {
    let server = Server::socketio_with(&[("SIO_TRANSPORTS", "polling")]);
    let url = format!("{}/?count=5&everyMs=20&via=1", server.url());
    let (run, mut ev) = start(feed(&url, SocketioTransport::Polling));
    ev.state("live").await;
    let want: Vec<_> = (1..=5).map(|i| (i, "polling".to_string())).collect();
    assert_eq!(ticks(&mut ev, 5).await, want);
    // The server's pings (every second) are answered: the session lasts.
    assert!(
        ev.quiet_for(Duration::from_millis(2500)).await.is_none(),
        "{}",
        ev.log()
    );
    run.stop().await;
}

#[tokio::test]
async fn a_websocket_feed_to_a_polling_only_server_says_to_poll() {
    let server = Server::socketio_with(&[("SIO_TRANSPORTS", "polling")]);
    let (run, mut ev) = start(feed(&server.url(), SocketioTransport::Websocket));
    let reason = match ev.state("failed").await {
        ConnState::Failed { reason } => reason,
        _ => unreachable!(),
    };
    assert!(
        reason.contains("Transport unknown")
            && reason.contains(r#"socketio.transport = "polling""#),
        "{reason}"
    );
    run.stop().await;
}

#[tokio::test]
async fn auto_upgrades_to_websocket_and_loses_nothing() {
    let server = Server::socketio_with(&[]);
    let url = format!("{}/?everyMs=10&via=1", server.url());
    let (run, mut ev) = start(feed(&url, SocketioTransport::Auto));
    ev.state("live").await;
    let got = ticks(&mut ev, 40).await;
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>(), "no loss, no duplicate");
    assert_eq!(got[39].1, "websocket", "{got:?}");
    let upgraded = notices(&ev, "upgrade");
    assert!(
        upgraded.len() == 1 && upgraded[0].contains("upgraded from HTTP long-polling to WebSocket"),
        "{}",
        ev.log()
    );
    run.stop().await;
}

#[tokio::test]
async fn auto_stays_on_polling_when_websocket_is_blocked() {
    let server = Server::socketio_with(&[("SIO_BLOCK_WS", "1")]);
    let url = format!("{}/?everyMs=20&via=1", server.url());
    let (run, mut ev) = start(feed(&url, SocketioTransport::Auto));
    ev.state("live").await;
    let got = ticks(&mut ev, 10).await;
    let want: Vec<_> = (1..=10).map(|i| (i, "polling".to_string())).collect();
    assert_eq!(got, want);
    let failed = notices(&ev, "upgrade");
    assert!(
        failed.len() == 1 && failed[0].contains("staying on HTTP long-polling"),
        "{}",
        ev.log()
    );
    run.stop().await;
}

#[tokio::test]
async fn a_restart_mid_stream_reconnects_over_polling() {
    let mut server = Server::socketio_with(&[("SIO_TRANSPORTS", "polling")]);
    let url = format!("{}/?everyMs=30&via=1", server.url());
    let (run, mut ev) = start(feed(&url, SocketioTransport::Polling));
    ev.state("live").await;
    assert_eq!(ticks(&mut ev, 1).await, [(1, "polling".to_string())]);
    server.stop();
    let reason = ev.retrying().await;
    assert!(reason.contains(&server.port.to_string()), "{reason}");
    server.restart();
    ev.expect_within("live again", Duration::from_secs(20), |e| {
        matches!(e, SourceEvent::State(ConnState::Live))
    })
    .await;
    // A new session: the server counts from 1 again.
    assert_eq!(ticks(&mut ev, 1).await, [(1, "polling".to_string())]);
    run.stop().await;
}

#[tokio::test]
async fn a_frozen_server_is_found_dead_when_a_long_poll_outlives_its_pings() {
    let server = Server::socketio_with(&[("SIO_TRANSPORTS", "polling")]);
    let url = format!("{}/?count=1", server.url());
    let (run, mut ev) = start(feed(&url, SocketioTransport::Polling));
    ev.state("live").await;
    server.signal("-STOP");
    // pingInterval 1 s + pingTimeout 1 s + 5 s of slack.
    let reason = ev.retrying_within(Duration::from_secs(12)).await;
    server.signal("-CONT");
    assert!(reason.contains("peer presumed dead"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn an_engine_io_3_server_is_refused_by_name() {
    // Socket.IO 2's polling payload: `<length>:<packet>`.
    let app = axum::Router::new().fallback(|| async {
        r#"96:0{"sid":"s","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}2:40"#
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(l, app).await });
    let (run, mut ev) = start(feed(
        &format!("http://127.0.0.1:{port}"),
        SocketioTransport::Polling,
    ));
    let reason = match ev.state("failed").await {
        ConnState::Failed { reason } => reason,
        _ => unreachable!(),
    };
    assert!(reason.contains("Engine.IO 3 (Socket.IO 2)"), "{reason}");
    run.stop().await;
    server.abort();
}
