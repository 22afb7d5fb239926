//! A gRPC health watch through the whole runtime, against grpcio: serving
//! and not serving become the feed's health verdict and its `up` series,
//! and the token (a header, sent as metadata) is masked in views.

use crate::start_runtime;
use std::time::{Duration, Instant};
use telltale_testsupport::grpc::GrpcServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_watch_becomes_the_feeds_status_and_its_up_series() {
    let server = GrpcServer::with(Some("g-s3cret"), None);
    let dir = tempfile::tempdir().unwrap();
    let rt = start_runtime(&dir).await;
    let api = rt.api();
    let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "health",
        "transport": "grpc",
        "url": server.url(),
        "headers": {"authorization": "Bearer g-s3cret"},
        "grpc": {"service": "fleet.v1.Fleet"},
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();
    let shown = api.get_feed("health").await.unwrap().config;
    assert!(!serde_json::to_string(&shown).unwrap().contains("g-s3cret"));
    let verdict = |want: bool| async move {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let f = api.get_feed("health").await.unwrap();
            let up = f
                .series
                .iter()
                .find(|s| s.metric == "up")
                .and_then(|s| s.last_value);
            if f.feed.healthy == Some(want) && up == Some(if want { 1.0 } else { 0.0 }) {
                return f.feed.status_text;
            }
            assert!(
                Instant::now() < deadline,
                "healthy {want}? {:?} up {up:?}",
                f.feed
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert_eq!(verdict(true).await.as_deref(), Some("SERVING"));
    server.signal("-USR1");
    assert_eq!(verdict(false).await.as_deref(), Some("NOT_SERVING"));
    rt.shutdown().await.unwrap();
}
