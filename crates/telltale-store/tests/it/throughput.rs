//! A quick look at write throughput; prints numbers (run with
//! `--nocapture`), never asserts on timing.

use crate::common::*;
use std::sync::Arc;
use std::time::Instant;
use telltale_model::Timestamp;
use telltale_store::{SampleRow, WriteBatch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_throughput() {
    let dir = tempfile::tempdir().unwrap();
    // TELLTALE_BENCH_COMMIT_ROWS overrides the size bound of a commit.
    let mut settings = telltale_model::config::StoreSettings::default();
    if let Some(n) = std::env::var("TELLTALE_BENCH_COMMIT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.commit_rows = n;
    }
    let store = open_with(&dir.path().join("t.db"), settings);
    // TELLTALE_BENCH_FEEDS=1000 spreads the load over more series.
    let n_feeds: usize = std::env::var("TELLTALE_BENCH_FEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let feeds: Vec<i64> = (0..n_feeds)
        .map(|i| add_feed(&store, &format!("f{i}")))
        .collect();
    let metrics: Vec<Arc<str>> = ["cpu", "mem", "lat"]
        .iter()
        .map(|m| Arc::from(*m))
        .collect();
    let labels = Arc::new(telltale_store::Labels::new());
    let payload = bytes::Bytes::from(
        r#"{"host":"web-1","cpu":0.4213,"mem":1234567,"lat":12.5,"status":"ok","seq":1}"#,
    );
    let messages: i64 = if cfg!(debug_assertions) {
        60_000
    } else {
        600_000
    };
    let per_batch = 2_000i64;
    let started = Instant::now();
    let mut batch = WriteBatch::new();
    for i in 0..messages {
        let feed = feeds[(i % feeds.len() as i64) as usize];
        let ts = Timestamp(T0 + i * 50);
        let mut e = event(feed, ts.0, "");
        e.data = payload.clone();
        e.size = payload.len() as u32;
        batch.events.push(e);
        for (k, m) in metrics.iter().enumerate() {
            batch.samples.push(SampleRow {
                feed_id: feed,
                metric: m.clone(),
                labels: labels.clone(),
                ts,
                value: (i as f64 * 0.37 + k as f64).sin() * 100.0,
            });
        }
        if batch.events.len() as i64 == per_batch {
            store.send(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let took = started.elapsed().as_secs_f64();
    let rows = messages * 4;
    println!(
        "{messages} messages (1 event + 3 samples each, {n_feeds} feeds) in {took:.2}s: {:.0} messages/s, {:.0} rows/s{}",
        messages as f64 / took,
        rows as f64 / took,
        if cfg!(debug_assertions) {
            " (debug build: try --release)"
        } else {
            ""
        }
    );
    assert_eq!(store.event_count(None).unwrap(), messages as u64);
    assert_eq!(store.sample_count().unwrap(), 3 * messages as u64);
}
