//! Opening, migrating, writing, flushing, feeds, and surviving failures.

#[path = "writing/full_disk.rs"]
mod full_disk;

use crate::common::*;
use std::time::{Duration, Instant};
use telltale_model::config::StoreSettings;
use telltale_model::Timestamp;
use telltale_store::schema::SCHEMA_VERSION;
use telltale_store::{
    EventQuery, FeedOrigin, Order, SampleQuery, Store, StoreError, StoreOptions, WriteBatch,
};

#[test]
fn a_fresh_database_is_migrated_and_reopening_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let epoch = {
        let c = raw(&path);
        assert_eq!(scalar(&c, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_eq!(
            scalar(&c, "PRAGMA auto_vacuum"),
            2,
            "incremental auto-vacuum"
        );
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        for table in [
            "meta",
            "feeds",
            "events",
            "series",
            "samples",
            "rollup_1m",
            "rollup_1h",
            "feed_states",
        ] {
            let n = c
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap();
            assert_eq!(n, 1, "table {table}");
        }
        scalar(
            &c,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'samples_epoch_us'",
        )
    };
    let feed = add_feed(&store, "a");
    drop(store);

    let store = open(&path);
    let c = raw(&path);
    assert_eq!(scalar(&c, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(
        scalar(
            &c,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'samples_epoch_us'"
        ),
        epoch,
        "re-opening must not re-run migrations"
    );
    assert_eq!(store.feed_by_name("a").unwrap().unwrap().id, feed);
}

#[test]
fn a_version_0_file_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v0.db");
    {
        // An older, foreign file: rollback journal, no auto-vacuum, a table of its own.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES ('kept');")
            .unwrap();
        assert_eq!(scalar(&c, "PRAGMA auto_vacuum"), 0);
    }
    let store = open(&path);
    add_feed(&store, "a");
    drop(store);
    let c = raw(&path);
    assert_eq!(scalar(&c, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(scalar(&c, "PRAGMA auto_vacuum"), 2);
    assert_eq!(scalar(&c, "SELECT count(*) FROM notes"), 1);
    assert_eq!(scalar(&c, "SELECT count(*) FROM feeds"), 1);
    drop(c);
    // And once more: nothing to do.
    let store = open(&path);
    assert_eq!(store.list_feeds().unwrap().len(), 1);
}

/// A database written by the release before schema 7 (events indexed by
/// time as well as by feed and time) opens without that index and keeps
/// its events: one feed's log, all feeds' and retention by age read them
/// through the index that is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_6_database_keeps_its_events_without_the_time_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    {
        let mut c = rusqlite::Connection::open(&path).unwrap();
        telltale_store::schema::migrate_with(&mut c, &telltale_store::schema::MIGRATIONS[..6])
            .unwrap();
        let index = "SELECT count(*) FROM sqlite_master WHERE name = 'events_time'";
        assert_eq!(scalar(&c, index), 1);
        for (id, name) in [(1, "a"), (2, "b")] {
            c.execute(
                "INSERT INTO feeds (id, name, config, origin, created_at, updated_at)
                 VALUES (?1, ?2, json_object('name', ?2, 'transport', 'websocket', 'url', 'ws://127.0.0.1:9/'), 'file', 0, 0)",
                (id, name),
            )
            .unwrap();
        }
        // Ten days, one event an hour per feed, stored as the old writer did.
        let tx = c.transaction().unwrap();
        for h in 0..240i64 {
            for feed in [1, 2] {
                tx.execute(
                    "INSERT INTO events (feed_id, received_at, data, size, truncated, codec)
                     VALUES (?1, ?2, CAST(?3 AS BLOB), length(?3), 0, 0)",
                    (feed, T0 - 10 * DAY + h * HOUR, format!("{{\"h\":{h}}}")),
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let settings = StoreSettings {
        events_max_age: telltale_model::duration::Dur::secs(3 * 86_400),
        ..StoreSettings::default()
    };
    let store = open_with(&path, settings);
    let c = raw(&path);
    assert_eq!(scalar(&c, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(
        scalar(
            &c,
            "SELECT count(*) FROM sqlite_master WHERE name = 'events_time'"
        ),
        0
    );
    let all = store
        .events(&EventQuery {
            limit: 1000,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 480);
    assert_eq!(all[0].data, br#"{"h":239}"#.to_vec());
    let b = store.feed_by_name("b").unwrap().unwrap().id;
    let newest_b = store
        .events(&EventQuery {
            feed_id: Some(b),
            limit: 2,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(newest_b[0].received_at.0, T0 - 10 * DAY + 239 * HOUR);
    assert!(newest_b.iter().all(|e| e.feed_id == b));
    // Seven of ten days go by age, from both feeds.
    let report = store.run_retention(Timestamp(T0)).unwrap();
    assert_eq!(report.events_by_age, 2 * 7 * 24);
    assert_eq!(store.event_count(Some(b)).unwrap(), 3 * 24);
    assert_eq!(store.event_count(None).unwrap(), 2 * 3 * 24);
}

#[test]
fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let err = Store::open_with(&path, StoreSettings::default(), options()).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer telltaled"), "{err}");
}

#[test]
fn open_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/t.db");
    let err = Store::open_with(&missing, StoreSettings::default(), options()).unwrap_err();
    assert!(
        matches!(err, StoreError::MissingDirectory { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("create it first"), "{err}");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    let err = Store::open_with(&garbage, StoreSettings::default(), options()).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("move it aside"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_committed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let a = add_feed(&store, "a");
    let b = add_feed(&store, "b");
    let committed = store.committed_events();
    for i in 0..100i64 {
        let mut batch = WriteBatch::new();
        for (feed, n) in [(a, 3), (b, 2)] {
            for k in 0..n {
                let ts = T0 + i * SEC + k;
                batch
                    .events
                    .push(event(feed, ts, &format!("{{\"i\":{i}}}")));
                batch.samples.push(sample(feed, "cpu", ts, i as f64));
                batch
                    .samples
                    .push(labelled(feed, "disk", &[("dev", "sda")], ts, k as f64));
            }
        }
        batch.timeline.push(state(a, T0 + i * SEC, "live"));
        assert_eq!(batch.len(), 5 + 10 + 1);
        store.send(batch).await.unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(*committed.borrow(), 500);
    assert_eq!(store.event_count(None).unwrap(), 500);
    assert_eq!(store.event_count(Some(a)).unwrap(), 300);
    assert_eq!(store.event_count(Some(b)).unwrap(), 200);
    assert_eq!(store.sample_count().unwrap(), 1000);
    let stats = store.db_stats().unwrap();
    assert_eq!(stats.feeds, 2);
    assert_eq!(stats.series, 4);
    assert_eq!(stats.feed_states, 100);
    assert!(stats.file_bytes > 0 && stats.page_size == 4096, "{stats:?}");
    let series = store.list_series(a).unwrap();
    assert_eq!(series.len(), 2);
    let cpu = series.iter().find(|s| s.metric == "cpu").unwrap();
    assert!(cpu.labels.is_empty());
    assert_eq!(cpu.last_value, Some(99.0));
    assert_eq!(cpu.last_ts, Some(Timestamp(T0 + 99 * SEC + 2)));
    let disk = series.iter().find(|s| s.metric == "disk").unwrap();
    assert_eq!(disk.labels.get("dev").map(String::as_str), Some("sda"));
    // Empty batches are accepted and cost nothing.
    store.send(WriteBatch::default()).await.unwrap();
    assert!(store.try_send(WriteBatch::default()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_commits_what_was_sent_before_it() {
    let dir = tempfile::tempdir().unwrap();
    // Without a flush nothing would be committed for a minute.
    let store = open_with(&dir.path().join("t.db"), minute_long_commits());
    let a = add_feed(&store, "a");
    for i in 0..50 {
        let mut batch = WriteBatch::new();
        batch.events.push(event(a, T0 + i, "x"));
        store.send(batch).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.event_count(None).unwrap(), 0, "still batching");
    let started = Instant::now();
    store.flush().await.unwrap();
    assert_eq!(store.event_count(None).unwrap(), 50);
    assert!(started.elapsed() < Duration::from_secs(30));
    // A flush with nothing pending resolves at once.
    store.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_sleeping_until_its_deadline_is_woken_by_a_full_queue_and_by_commands() {
    let dir = tempfile::tempdir().unwrap();
    // The writer sleeps until a commit deadline a minute away.
    let settings = minute_long_commits();
    let options = StoreOptions {
        queue_capacity: 4,
        ..options()
    };
    let store = Store::open_with(&dir.path().join("t.db"), settings, options).unwrap();
    let a = add_feed(&store, "a");
    // Fifty times the queue's capacity: senders would wait out the deadline
    // (again and again) if a half-full queue did not wake the writer.
    let sending = async {
        for i in 0..200 {
            let mut batch = WriteBatch::new();
            batch.events.push(event(a, T0 + i, "x"));
            store.send(batch).await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(30), sending)
        .await
        .expect("senders waited for the writer's commit deadline");
    assert_eq!(store.event_count(None).unwrap(), 0, "still batching");
    // A command that waits for a reply wakes the writer (and commits first).
    let started = Instant::now();
    let store2 = store.clone();
    let b = tokio::task::spawn_blocking(move || add_feed(&store2, "b"))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the upsert waited for the deadline"
    );
    assert_ne!(a, b);
    assert_eq!(store.event_count(None).unwrap(), 200);
    // Rows pending again; closing wakes the writer and commits them.
    let mut batch = WriteBatch::new();
    batch.events.push(event(b, T0, "y"));
    store.send(batch).await.unwrap();
    let reader = store.clone();
    let started = Instant::now();
    store.close().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "close waited for the deadline"
    );
    assert_eq!(reader.event_count(None).unwrap(), 201);
}

/// The writer inserts a commit's rows in multi-row statements of 32 (and
/// single rows for the rest), samples sorted by series: every column of
/// every row must still arrive, events in their arrival order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_commit_keeps_every_column_and_the_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open_with(&path, minute_long_commits());
    let a = add_feed(&store, "a");
    let b = add_feed(&store, "b");
    // 75 events (two full statements and 11 single rows), 150 samples
    // over four series, interleaved as they would arrive from two feeds.
    let mut want_events = Vec::new();
    let mut want_samples = Vec::new();
    let mut batch = WriteBatch::new();
    for i in 0..75i64 {
        let feed = if i % 3 == 0 { b } else { a };
        // Arrival order is not time order across feeds.
        let ts = T0 + (75 - i) * SEC;
        let mut e = event(feed, ts, &format!("{{\"i\":{i}}}"));
        e.server_id = (i % 2 == 0).then(|| format!("id-{i}"));
        e.event_type = (i % 5 == 0).then(|| "tick".to_string());
        e.truncated = i % 7 == 0;
        want_events.push((
            feed,
            ts,
            e.server_id.clone(),
            e.event_type.clone(),
            e.data.to_vec(),
            e.size as i64,
            e.truncated,
        ));
        batch.events.push(e);
        for (metric, value) in [("cpu", i as f64 * 1.5), ("mem", 1e6 + i as f64 / 3.0)] {
            let sts = T0 + i * SEC;
            batch.samples.push(sample(feed, metric, sts, value));
            want_samples.push((feed, metric.to_string(), sts, value));
        }
        if i % 10 == 9 {
            store.send(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();

    let c = raw(&path);
    let mut st = c
        .prepare(
            "SELECT feed_id, received_at, server_id, event_type, data, size, truncated
             FROM events ORDER BY id",
        )
        .unwrap();
    let got_events: Vec<_> = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, bool>(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got_events, want_events);

    let mut got_samples = Vec::new();
    for feed in [a, b] {
        let rows = store
            .samples(&SampleQuery {
                feed_id: feed,
                from: None,
                until: None,
                after: None,
                limit: 1000,
            })
            .unwrap();
        got_samples.extend(
            rows.into_iter()
                .map(|s| (feed, s.metric.to_string(), s.ts.0, s.value)),
        );
    }
    let key = |s: &(i64, String, i64, f64)| (s.0, s.1.clone(), s.2);
    got_samples.sort_by_key(key);
    want_samples.sort_by_key(key);
    assert_eq!(got_samples, want_samples);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_in_the_same_microsecond_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let a = add_feed(&store, "a");
    let mut batch = WriteBatch::new();
    for v in 0..5 {
        batch.samples.push(sample(a, "x", T0, v as f64));
    }
    // Another series at the same instant is independent.
    batch.samples.push(sample(a, "y", T0, 9.0));
    store.send(batch).await.unwrap();
    // An older sample in a later batch goes after the newest one.
    let mut batch = WriteBatch::new();
    batch.samples.push(sample(a, "x", T0 - SEC, 5.0));
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let got = store
        .samples(&SampleQuery {
            feed_id: a,
            from: None,
            until: None,
            after: None,
            limit: 100,
        })
        .unwrap();
    let x: Vec<(i64, f64)> = got
        .iter()
        .filter(|s| s.metric == "x")
        .map(|s| (s.ts.0 - T0, s.value))
        .collect();
    assert_eq!(
        x,
        vec![(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0)]
    );
    let y: Vec<i64> = got
        .iter()
        .filter(|s| s.metric == "y")
        .map(|s| s.ts.0 - T0)
        .collect();
    assert_eq!(y, vec![0]);
    store.close().await.unwrap();

    // After a restart the writer learns the last timestamp from the file.
    let store = open(&path);
    let mut batch = WriteBatch::new();
    batch.samples.push(sample(a, "x", T0, 6.0));
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let last = store
        .list_series(a)
        .unwrap()
        .into_iter()
        .find(|s| s.metric == "x")
        .unwrap();
    assert_eq!(last.last_ts, Some(Timestamp(T0 + 6)));
    assert_eq!(last.last_value, Some(6.0));
    assert_eq!(store.sample_count().unwrap(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_and_drop_both_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let a = add_feed(&store, "a");
    let mut batch = WriteBatch::new();
    batch.events.push(event(a, T0, "closed"));
    store.send(batch).await.unwrap();
    let clone = store.clone();
    store.close().await.unwrap();
    // The clone can still read, but no longer write.
    assert_eq!(clone.event_count(None).unwrap(), 1);
    assert!(clone.is_closed());
    let mut batch = WriteBatch::new();
    batch.events.push(event(a, T0, "late"));
    assert!(matches!(
        clone.send(batch.clone()).await,
        Err(StoreError::Closed)
    ));
    assert_eq!(
        clone.try_send(batch),
        Err(Box::new(event_batch(a, T0, "late")))
    );
    assert!(matches!(clone.flush().await, Err(StoreError::Closed)));
    clone.clone().close().await.unwrap(); // closing twice is fine
    drop(clone);

    // Dropping without close still commits what was queued.
    let store = open(&path);
    let mut batch = WriteBatch::new();
    batch.events.push(event(a, T0 + 1, "dropped"));
    store.send(batch).await.unwrap();
    drop(store);

    let store = open(&path);
    let all = store
        .events(&EventQuery {
            order: Order::OldestFirst,
            ..EventQuery::default()
        })
        .unwrap();
    let data: Vec<&[u8]> = all.iter().map(|e| &e.data[..]).collect();
    assert_eq!(data, vec![&b"closed"[..], &b"dropped"[..]]);
}

fn event_batch(feed: i64, ts: i64, data: &str) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.events.push(event(feed, ts, data));
    b
}

#[test]
fn feeds_are_upserted_listed_and_deleted_with_their_history() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let b = add_feed(&store, "b");
    let mut cfg = feed_config("a");
    let a = store.upsert_feed(&cfg, FeedOrigin::Gui).unwrap();
    assert_ne!(a, b);
    let before = store.feed_by_name("a").unwrap().unwrap();
    assert_eq!(before.origin, FeedOrigin::Gui);
    assert_eq!(before.created_at, before.updated_at);

    // Same config again: same id, nothing changes.
    assert_eq!(store.upsert_feed(&cfg, FeedOrigin::Gui).unwrap(), a);
    assert_eq!(store.feed_by_name("a").unwrap().unwrap(), before);
    // A change keeps the id and moves updated_at.
    std::thread::sleep(Duration::from_millis(2));
    cfg.url = "ws://127.0.0.1:10/other".into();
    cfg.enabled = false;
    assert_eq!(store.upsert_feed(&cfg, FeedOrigin::File).unwrap(), a);
    let after = store.feed_by_name("a").unwrap().unwrap();
    assert_eq!(after.config, cfg);
    assert_eq!(after.origin, FeedOrigin::File);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at > before.updated_at);

    let names: Vec<String> = store
        .list_feeds()
        .unwrap()
        .into_iter()
        .map(|f| f.config.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(store.feed_by_name("zzz").unwrap().is_none());

    rt.block_on(async {
        for feed in [a, b] {
            let mut batch = WriteBatch::new();
            batch.events.push(event(feed, T0, "e"));
            batch.samples.push(sample(feed, "m", T0, 1.0));
            batch.timeline.push(state(feed, T0, "live"));
            store.send(batch).await.unwrap();
        }
        store.flush().await.unwrap();
    });
    assert!(store.delete_feed("a").unwrap());
    assert!(!store.delete_feed("a").unwrap());
    assert!(store.feed_by_name("a").unwrap().is_none());
    let stats = store.db_stats().unwrap();
    assert_eq!(
        (
            stats.feeds,
            stats.events,
            stats.series,
            stats.samples,
            stats.rollup_1m,
            stats.rollup_1h,
            stats.feed_states
        ),
        (1, 1, 1, 1, 1, 1, 1),
        "only feed b's history is left"
    );

    // Rows still in flight for the deleted feed are skipped, not fatal.
    rt.block_on(async {
        let mut batch = WriteBatch::new();
        batch.events.push(event(a, T0 + 1, "orphan"));
        batch.samples.push(sample(a, "m", T0 + 1, 1.0));
        batch.events.push(event(b, T0 + 1, "fine"));
        store.send(batch).await.unwrap();
        store.flush().await.unwrap();
    });
    assert_eq!(store.event_count(None).unwrap(), 2);
    assert_eq!(store.sample_count().unwrap(), 1);
    // Re-creating the name gives a fresh feed with a fresh history.
    let again = add_feed(&store, "a");
    assert_ne!(again, a);
    assert!(store.list_series(again).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_values_are_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let a = add_feed(&store, "a");
    let mut batch = WriteBatch::new();
    for v in [f64::NAN, f64::INFINITY, 1.5, f64::NEG_INFINITY] {
        batch.samples.push(sample(a, "m", T0, v));
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.sample_count().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_run_concurrently_with_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let a = add_feed(&store, "a");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|i| {
            let store = store.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut last_count = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let n = store.event_count(Some(a)).unwrap();
                    assert!(n >= last_count, "counts never go backwards");
                    last_count = n;
                    match i {
                        0 => {
                            store
                                .events(&EventQuery {
                                    feed_id: Some(a),
                                    limit: 50,
                                    ..EventQuery::default()
                                })
                                .unwrap();
                        }
                        1 => {
                            for s in store.list_series(a).unwrap() {
                                store
                                    .query_series(&telltale_store::SeriesQuery {
                                        series_id: s.id,
                                        from: Timestamp(T0),
                                        to: Timestamp(T0 + HOUR),
                                        max_points: 100,
                                    })
                                    .unwrap();
                            }
                        }
                        _ => {
                            store.db_stats().unwrap();
                        }
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 0..200i64 {
        let mut batch = WriteBatch::new();
        for k in 0..50 {
            let ts = T0 + (i * 50 + k) * 10_000;
            batch.events.push(event(a, ts, "payload payload payload"));
            batch.samples.push(sample(a, "cpu", ts, k as f64));
        }
        store.send(batch).await.unwrap();
        if i % 20 == 0 {
            store.flush().await.unwrap();
        }
    }
    store.flush().await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    assert_eq!(store.event_count(Some(a)).unwrap(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_commit_is_retried_without_losing_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let opts = StoreOptions {
        busy_timeout: Duration::from_millis(50),
        queue_capacity: 2,
        ..options()
    };
    let store = Store::open_with(&path, StoreSettings::default(), opts).unwrap();
    let a = add_feed(&store, "a");

    // Another process takes the write lock: every commit attempt fails with
    // SQLITE_BUSY until it lets go.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let lock_path = path.clone();
    let holder = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(&lock_path).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        c.execute_batch("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();

    store.send(event_batch(a, T0, "first")).await.unwrap();
    let flush = {
        let store = store.clone();
        tokio::spawn(async move { store.flush().await })
    };
    // The failure is published, naming the cause.
    let failure = full_disk::wait_for_failure(&store).await;
    assert_eq!(failure.code, "locked", "{failure:?}");
    // While the writer retries it keeps reading its queue: a queue of two
    // takes a hundred batches without refusing one (it used to stop reading
    // until the commit worked, so the third was refused).
    for i in 1..100 {
        let mut batch = event_batch(a, T0 + i, "more");
        let mut tries = 0;
        while let Err(b) = store.try_send(batch) {
            batch = *b;
            tries += 1;
            assert!(tries < 2000, "the writer stopped reading its queue");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(store.event_count(None).unwrap(), 0);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    flush.await.unwrap().unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.event_count(None).unwrap(), 100);
    let health = store.health();
    assert!(health.is_ok(), "{health:?}");
    assert_eq!(health.shed_rows, 0);
}

#[test]
fn blocking_calls_work_outside_any_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let a = add_feed(&store, "a");
    assert!(store.try_send(event_batch(a, T0, "x")).is_ok());
    let report = store.run_retention(Timestamp(T0)).unwrap();
    assert_eq!(report.rows(), 0);
    drop(store);
}

#[test]
fn permission_problems_are_named() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
    let path = locked.join("t.db");
    if std::fs::File::create(&path).is_ok() {
        println!("skipped: running with privileges that ignore file modes");
        return;
    }
    let err = Store::open_with(&path, StoreSettings::default(), options()).unwrap_err();
    assert!(
        matches!(err, StoreError::PermissionDenied { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("permission denied"), "{err}");
}
