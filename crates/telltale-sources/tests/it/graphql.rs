//! GraphQL subscriptions against the reference servers (Node's
//! `graphql-ws` and `subscriptions-transport-ws`, started per test on a
//! loopback port by `telltale_testsupport::node`). Only the malformed
//! message comes from a fake server: a real one never sends one.

use crate::support::{fast_backoff, sink, Events, Running};
use std::collections::BTreeMap;
use std::time::Duration;
use telltale_model::duration::Dur;
use telltale_model::graphql::{GraphqlOptions, GraphqlProtocol};
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sources::websocket;
use telltale_testsupport::node::{Flavour, Server};

fn feed(url: &str, query: &str) -> FeedConfig {
    let mut f = FeedConfig::new("gql", TransportKind::Graphql, url);
    f.backoff = fast_backoff();
    f.graphql = Some(GraphqlOptions {
        query: query.into(),
        ..GraphqlOptions::default()
    });
    f
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    (Running::spawn(websocket::run, f, s), Events::new(rx))
}

fn tick(seq: u32) -> String {
    let cpu = seq as f64 / 10.0;
    format!(r#"{{"data":{{"ticks":{{"seq":{seq},"cpu":{cpu}}}}}}}"#)
}

async fn texts(ev: &mut Events, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(String::from_utf8_lossy(&ev.message().await.data).into_owned());
    }
    out
}

async fn failed(ev: &mut Events) -> String {
    match ev.state("failed").await {
        ConnState::Failed { reason } => reason,
        _ => unreachable!(),
    }
}

async fn happy_path(flavour: Flavour) {
    let server = Server::start(flavour);
    let query = "subscription Ticks($n: Int!) { ticks(count: $n) { seq cpu } }";
    let mut f = feed(&server.url(), query);
    if let Some(g) = f.graphql.as_mut() {
        g.variables = Some(r#"{"n": 4}"#.into());
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    let want: Vec<String> = (1..=4).map(tick).collect();
    assert_eq!(texts(&mut ev, 4).await, want);
    // The server completes the subscription: the feed subscribes again.
    let reason = ev.retrying().await;
    assert!(reason.contains("completed the subscription"), "{reason}");
    ev.state("live").await;
    assert_eq!(texts(&mut ev, 1).await, vec![tick(1)]);
    run.stop().await;
}

#[tokio::test]
async fn graphql_transport_ws_delivers_results_in_order_and_resubscribes() {
    happy_path(Flavour::Modern).await;
}

#[tokio::test]
async fn legacy_graphql_ws_is_negotiated_and_delivers_in_order() {
    happy_path(Flavour::Legacy).await;
}

#[tokio::test]
async fn a_server_restart_reconnects_and_subscribes_again() {
    let mut server = Server::start(Flavour::Modern);
    let (run, mut ev) = start(feed(
        &server.url(),
        "subscription { forever(everyMs: 30) { seq } }",
    ));
    ev.state("live").await;
    ev.message().await;
    server.stop();
    let reason = ev.retrying().await;
    assert!(reason.contains(&server.port.to_string()), "{reason}");
    server.restart();
    ev.expect_within("live again", Duration::from_secs(20), |e| {
        matches!(e, SourceEvent::State(ConnState::Live))
    })
    .await;
    // A new subscription starts the sequence over.
    let first = texts(&mut ev, 1).await;
    assert_eq!(first, vec![r#"{"data":{"forever":{"seq":1}}}"#.to_string()]);
    run.stop().await;
}

#[tokio::test]
async fn a_frozen_server_is_found_dead_by_the_pings() {
    let server = Server::start(Flavour::Modern);
    let mut f = feed(
        &server.url(),
        "subscription { forever(everyMs: 600000) { seq } }",
    );
    if let Some(g) = f.graphql.as_mut() {
        g.ping_interval = Dur::millis(200);
        g.pong_timeout = Dur::millis(500);
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
async fn a_refused_token_fails_slowly_in_both_protocols_without_showing_it() {
    for (flavour, says) in [
        (
            Flavour::Modern,
            "4403 (forbidden: check graphql.connection_params)",
        ),
        (Flavour::Legacy, "refused connection_init"),
    ] {
        let server = Server::with_token(flavour, Some("right-token"));
        let mut f = feed(&server.url(), "subscription { ticks(count: 1) { seq } }");
        if let Some(g) = f.graphql.as_mut() {
            g.connection_params = BTreeMap::from([("token".into(), "wrong-token".into())]);
        }
        let (run, mut ev) = start(f.clone());
        let reason = failed(&mut ev).await;
        assert!(reason.contains(says), "{flavour:?}: {reason}");
        assert!(!ev.all_text().contains("wrong-token"), "{}", ev.log());
        run.stop().await;
        if let Some(g) = f.graphql.as_mut() {
            g.connection_params = BTreeMap::from([("token".into(), "right-token".into())]);
        }
        let (run, mut ev) = start(f);
        ev.state("live").await;
        ev.message().await;
        run.stop().await;
    }
}

#[tokio::test]
async fn a_failing_subscription_fails_slowly_with_the_servers_message() {
    let server = Server::start(Flavour::Modern);
    let (run, mut ev) = start(feed(&server.url(), "subscription { broken { seq } }"));
    let reason = failed(&mut ev).await;
    assert!(
        reason.contains("always fails") && reason.contains("check graphql.query"),
        "{reason}"
    );
    run.stop().await;
    // A query the schema does not have: refused the same way.
    let (run, mut ev) = start(feed(&server.url(), "subscription { nope }"));
    let reason = failed(&mut ev).await;
    assert!(reason.contains("nope"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn a_malformed_message_is_a_retry_that_says_so() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    use tokio_tungstenite::tungstenite::Message;
    // A fake server: accepts graphql-transport-ws, acknowledges, then
    // answers the subscribe with text that is not a protocol message.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            // tungstenite's callback type, not ours.
            #[allow(clippy::result_large_err)]
            let pick = |_: &Request, mut resp: Response| {
                resp.headers_mut().insert(
                    "sec-websocket-protocol",
                    "graphql-transport-ws".parse().unwrap(),
                );
                Ok(resp)
            };
            let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, pick).await else {
                continue;
            };
            let _ = ws.next().await; // connection_init
            let _ = ws.send(Message::text(r#"{"type":"connection_ack"}"#)).await;
            let _ = ws.next().await; // subscribe
            let _ = ws.send(Message::text("<html>oops</html>")).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let url = format!("ws://127.0.0.1:{port}/graphql");
    let (run, mut ev) = start(feed(&url, "subscription { a }"));
    ev.state("live").await;
    let reason = ev.retrying().await;
    assert!(
        reason.contains("malformed graphql-transport-ws message") && reason.contains("oops"),
        "{reason}"
    );
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_protocol_the_server_does_not_speak_is_named() {
    let server = Server::start(Flavour::Legacy);
    let mut f = feed(&server.url(), "subscription { ticks(count: 1) { seq } }");
    if let Some(g) = f.graphql.as_mut() {
        g.protocol = GraphqlProtocol::TransportWs;
    }
    let (run, mut ev) = start(f);
    let r = ev
        .expect_within("a retry or failure", Duration::from_secs(10), |e| {
            matches!(
                e,
                SourceEvent::State(ConnState::Retrying { .. } | ConnState::Failed { .. })
            )
        })
        .await;
    let text = format!("{r:?}");
    assert!(
        text.contains("1002") || text.contains("subprotocol"),
        "{text}"
    );
    run.stop().await;
}
