//! Stored payloads are compressed (zstd with a dictionary per feed) and
//! read back, searched and counted as they came.

use crate::common::*;
use telltale_store::{EventQuery, WriteBatch};

fn health(i: i64) -> String {
    format!(
        r#"{{"host":"host-{}","status":"{}","cpu":{{"usage":{}.{}}},"memory":{{"used_bytes":{}}},"uptime_seconds":{},"version":"2.4.1"}}"#,
        i % 5,
        if i == 250 { "Degraded" } else { "ok" },
        i % 97,
        i % 10,
        4_000_000_000i64 + i * 7919,
        86_400 + i
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_payloads_read_back_exactly_and_search_sees_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let feed = add_feed(&store, "api");
    let mut raw = 0usize;
    for chunk in 0..10 {
        let mut b = WriteBatch::new();
        for i in chunk * 40..(chunk + 1) * 40 {
            let p = health(i);
            raw += p.len();
            b.events.push(event(feed, T0 + i * 1000, &p));
        }
        store.send(b).await.unwrap();
        store.flush().await.unwrap();
    }
    let all = store
        .events(&EventQuery {
            feed_id: Some(feed),
            limit: 1000,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 400);
    for e in &all {
        let i = (e.received_at.0 - T0) / 1000;
        assert_eq!(String::from_utf8_lossy(&e.data), health(i), "event {i}");
        assert_eq!(e.size as usize, health(i).len());
    }
    // Search reads the decoded text, ignoring ASCII case.
    let found = store
        .events(&EventQuery {
            search: Some("degraded".into()),
            limit: 10,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].received_at.0, T0 + 250 * 1000);
    // On disk: one dictionary; all payloads smaller, and those compressed
    // with it (after the first 64) several times smaller.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (stored, dicts, with, with_raw): (i64, i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT sum(length(data)) FROM events), (SELECT count(*) FROM payload_dicts),
                    (SELECT sum(length(data)) FROM events WHERE dict IS NOT NULL),
                    (SELECT sum(size) FROM events WHERE dict IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(dicts, 1);
    let ratio = raw as f64 / stored as f64;
    let dict_ratio = with_raw as f64 / with as f64;
    eprintln!("all payloads {ratio:.1}x, with the dictionary {dict_ratio:.1}x");
    assert!(
        ratio > 2.0,
        "payloads {raw} B stored in {stored} B ({ratio:.1}x)"
    );
    assert!(
        dict_ratio > 3.0,
        "with the dictionary: {with_raw} B in {with} B ({dict_ratio:.1}x)"
    );
    // Deleting the feed deletes its dictionary too.
    let s = store.clone();
    assert!(tokio::task::spawn_blocking(move || s.delete_feed("api"))
        .await
        .unwrap()
        .unwrap());
    let dicts: i64 = conn
        .query_row("SELECT count(*) FROM payload_dicts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dicts, 0);
}
