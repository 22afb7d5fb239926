//! GraphQL and Socket.IO feeds through the whole runtime, against their
//! reference servers (`graphql-ws`, `socket.io`): results and events
//! become samples, and the token (`graphql.connection_params`,
//! `socketio.auth`) is masked in views, kept behind the mask on save, and
//! never sent to another host.

use crate::start_runtime;
use std::time::{Duration, Instant};
use telltale_api::ConnStateView;
use telltale_testsupport::node::{Flavour, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graphql_feed_keeps_its_token_behind_the_mask_and_stores_results() {
    let server = Server::with_token(Flavour::Modern, Some("tok-s3cret"));
    let dir = tempfile::tempdir().unwrap();
    let rt = start_runtime(&dir).await;
    let api = rt.api();
    let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "gql",
        "transport": "graphql",
        "url": server.url(),
        "graphql": {
            "query": "subscription { forever(everyMs: 50) { seq cpu } }",
            "connection_params": {"token": "tok-s3cret"},
        },
        "metric": [{"name": "cpu", "pointer": "/data/forever/cpu"}],
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();
    let shown = api.get_feed("gql").await.unwrap().config;
    let text = serde_json::to_string(&shown).unwrap();
    assert!(!text.contains("tok-s3cret"), "{text}");
    // Saved back as shown (the editor's round trip): the token stays.
    api.upsert_feed(shown.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let f = api.get_feed("gql").await.unwrap();
        if f.series
            .first()
            .and_then(|s| s.last_value)
            .is_some_and(|v| v > 0.0)
        {
            assert!(matches!(f.feed.state, ConnStateView::Live), "{:?}", f.feed);
            break;
        }
        assert!(Instant::now() < deadline, "no sample: {:?}", f.feed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The masked token does not follow the feed to another server.
    let mut elsewhere = shown;
    elsewhere.url = "ws://127.0.0.1:9/graphql".into();
    let e = api.upsert_feed(elsewhere).await.unwrap_err();
    assert!(
        e.message.contains("graphql.connection_params.token") && e.message.contains("another host"),
        "{}",
        e.message
    );
    rt.shutdown().await.unwrap();
}

/// The same for a Socket.IO feed's `auth`, against the `socket.io`
/// reference server: events by name become the event log's types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socketio_feed_keeps_its_auth_behind_the_mask_and_stores_events() {
    let server = Server::with_token(Flavour::SocketIo, Some("io-s3cret"));
    let dir = tempfile::tempdir().unwrap();
    let rt = start_runtime(&dir).await;
    let api = rt.api();
    let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "io",
        "transport": "socketio",
        "url": format!("{}/?everyMs=50", server.url()),
        "socketio": {"namespace": "/fleet", "auth": {"token": "io-s3cret"}},
        "metric": [{"name": "cpu", "pointer": "/cpu"}],
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();
    let shown = api.get_feed("io").await.unwrap().config;
    let text = serde_json::to_string(&shown).unwrap();
    assert!(!text.contains("io-s3cret"), "{text}");
    api.upsert_feed(shown).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = api.events(Some("io"), None, None, 50).await.unwrap();
        let types: Vec<_> = page
            .events
            .iter()
            .filter_map(|e| e.event_type.clone())
            .collect();
        let f = api.get_feed("io").await.unwrap();
        if types.iter().any(|t| t == "hello")
            && f.series
                .first()
                .and_then(|s| s.last_value)
                .is_some_and(|v| v > 0.0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "types {types:?}, feed {:?}",
            f.feed
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rt.shutdown().await.unwrap();
}
