//! Socket.IO against the reference server (Node's `socket.io` 4, started
//! per test on a loopback port by `telltale_testsupport::node`). Only the
//! malformed packet comes from a fake server: a real one never sends one.

use crate::support::{fast_backoff, sink, Events, Running};
use std::collections::BTreeMap;
use std::time::Duration;
use telltale_model::duration::Dur;
use telltale_model::socketio::SocketioOptions;
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sources::websocket;
use telltale_testsupport::node::{Flavour, Server};

fn feed(url: &str, namespace: &str, events: &[&str]) -> FeedConfig {
    let mut f = FeedConfig::new("io", TransportKind::Socketio, url);
    f.backoff = fast_backoff();
    f.socketio = Some(SocketioOptions {
        namespace: namespace.into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        ..SocketioOptions::default()
    });
    f
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    (Running::spawn(websocket::run, f, s), Events::new(rx))
}

/// The next `n` messages as `(event, data)`.
async fn next(ev: &mut Events, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let m = ev.message().await;
        out.push((
            m.event_type.unwrap_or_default(),
            String::from_utf8_lossy(&m.data).into_owned(),
        ));
    }
    out
}

fn tick(seq: u32, ns: &str) -> (String, String) {
    let cpu = seq as f64 / 10.0;
    (
        "tick".into(),
        format!(r#"{{"seq":{seq},"cpu":{cpu},"ns":"{ns}"}}"#),
    )
}

#[tokio::test]
async fn events_arrive_in_order_filtered_by_name() {
    let server = Server::start(Flavour::SocketIo);
    let url = format!("{}/?count=5&everyMs=20", server.url());
    let (run, mut ev) = start(feed(&url, "/", &["tick"]));
    ev.state("live").await;
    let want: Vec<_> = (1..=5).map(|i| tick(i, "/")).collect();
    assert_eq!(next(&mut ev, 5).await, want);
    // `hello` came first, and was left out by `events`.
    assert!(!ev.all_text().contains("welcome"), "{}", ev.log());
    run.stop().await;
}

#[tokio::test]
async fn a_namespace_gets_its_own_events_and_every_name_by_default() {
    let server = Server::start(Flavour::SocketIo);
    let url = format!("{}/?count=2", server.url());
    let (run, mut ev) = start(feed(&url, "/fleet", &[]));
    ev.state("live").await;
    let mut want = vec![("hello".to_string(), r#""welcome""#.to_string())];
    want.extend((1..=2).map(|i| tick(i, "/fleet")));
    assert_eq!(next(&mut ev, 3).await, want);
    run.stop().await;
}

#[tokio::test]
async fn a_server_restart_reconnects_and_joins_the_namespace_again() {
    let mut server = Server::start(Flavour::SocketIo);
    let url = format!("{}/?everyMs=30", server.url());
    let (run, mut ev) = start(feed(&url, "/", &["tick"]));
    ev.state("live").await;
    assert_eq!(next(&mut ev, 1).await, vec![tick(1, "/")]);
    server.stop();
    let reason = ev.retrying().await;
    assert!(reason.contains(&server.port.to_string()), "{reason}");
    server.restart();
    ev.expect_within("live again", Duration::from_secs(20), |e| {
        matches!(e, SourceEvent::State(ConnState::Live))
    })
    .await;
    // A new connection: the server counts from 1 again.
    assert_eq!(next(&mut ev, 1).await, vec![tick(1, "/")]);
    run.stop().await;
}

#[tokio::test]
async fn a_frozen_server_is_found_dead_by_the_pings() {
    let server = Server::start(Flavour::SocketIo);
    let url = format!("{}/?count=1", server.url());
    let mut f = feed(&url, "/", &[]);
    if let Some(o) = f.socketio.as_mut() {
        o.ping_interval = Dur::millis(200);
        o.pong_timeout = Dur::millis(500);
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    server.signal("-STOP");
    let reason = ev.retrying_within(Duration::from_secs(8)).await;
    server.signal("-CONT");
    assert!(reason.contains("no pong"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn a_refused_token_fails_slowly_with_the_servers_reason() {
    let server = Server::with_token(Flavour::SocketIo, Some("right-token"));
    let url = format!("{}/?count=1", server.url());
    let mut f = feed(&url, "/fleet", &[]);
    if let Some(o) = f.socketio.as_mut() {
        o.auth = BTreeMap::from([("token".into(), "wrong-token".into())]);
    }
    let (run, mut ev) = start(f.clone());
    let reason = match ev.state("failed").await {
        ConnState::Failed { reason } => reason,
        _ => unreachable!(),
    };
    assert!(
        reason.contains("invalid token") && reason.contains("socketio.auth"),
        "{reason}"
    );
    assert!(!ev.all_text().contains("wrong-token"), "{}", ev.log());
    run.stop().await;
    if let Some(o) = f.socketio.as_mut() {
        o.auth = BTreeMap::from([("token".into(), "right-token".into())]);
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    assert_eq!(next(&mut ev, 1).await[0].0, "hello");
    run.stop().await;
}

#[tokio::test]
async fn a_malformed_packet_is_a_retry_that_says_so() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    // A fake server: a correct opening, then text that is no packet.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                continue;
            };
            let open = r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;
            let _ = ws.send(Message::text(open)).await;
            let _ = ws.next().await; // 40
            let _ = ws.send(Message::text(r#"40{"sid":"n"}"#)).await;
            let _ = ws.send(Message::text("hello world")).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let (run, mut ev) = start(feed(&url, "/", &[]));
    ev.state("live").await;
    let reason = ev.retrying().await;
    assert!(
        reason.contains("malformed Socket.IO packet") && reason.contains("hello world"),
        "{reason}"
    );
    run.stop().await;
    server.abort();
}
