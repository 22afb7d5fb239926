//! A `pg_notify` feed through the whole runtime, against Debian's
//! PostgreSQL 15: JSON payloads get pointer rules, channels are the event
//! log's types, and the password in the URL stays masked.

use crate::start_runtime;
use std::time::{Duration, Instant};
use telltale_testsupport::postgres::{Postgres, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_notify_feed_stores_samples_and_events_by_channel() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let rt = start_runtime(&dir).await;
    let api = rt.api();
    let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "orders",
        "transport": "pg_notify",
        "url": pg.url(),
        "pg_notify": {"channels": ["orders", "refunds"]},
        "metric": [{"name": "amount", "pointer": "/amount"}],
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();
    let shown = api.get_feed("orders").await.unwrap().config;
    assert!(!shown.url.contains(PASSWORD), "{}", shown.url);
    let deadline = Instant::now() + Duration::from_secs(15);
    // Live means LISTEN is in place: nothing sent from now on is missed.
    loop {
        let f = api.get_feed("orders").await.unwrap().feed;
        if matches!(f.state, telltale_api::ConnStateView::Live) {
            break;
        }
        assert!(Instant::now() < deadline, "{f:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pg.notify("orders", r#"{"amount": 12.5}"#).await;
    pg.notify("refunds", r#"{"amount": -3}"#).await;
    pg.notify("orders", "not json").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page = api.events(Some("orders"), None, None, 10).await.unwrap();
        if page.events.len() >= 3 {
            break page;
        }
        assert!(Instant::now() < deadline, "events: {:?}", page.events);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Newest first.
    let seen: Vec<(Option<String>, String)> = page
        .events
        .iter()
        .map(|e| (e.event_type.clone(), e.data.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some("orders".into()), "not json".into()),
            (Some("refunds".into()), r#"{"amount": -3}"#.into()),
            (Some("orders".into()), r#"{"amount": 12.5}"#.into()),
        ]
    );
    let f = api.get_feed("orders").await.unwrap();
    assert_eq!(f.series.len(), 1, "{:?}", f.series);
    assert_eq!(f.series[0].metric, "amount");
    assert_eq!(f.series[0].last_value, Some(-3.0), "{:?}", f.series[0]);
    rt.shutdown().await.unwrap();
}
