//! Retention by age and count, bounded file size, automatic runs, and the
//! on-disk cost of a sample.

use crate::common::*;
use std::time::{Duration, Instant};
use telltale_model::config::StoreSettings;
use telltale_model::duration::Dur;
use telltale_model::Timestamp;
use telltale_store::{EventQuery, Order, Store, StoreOptions, WriteBatch};

fn days(n: u64) -> Dur {
    Dur::secs(n * 86_400)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_by_age_and_by_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let settings = StoreSettings {
        events_max_age: days(3),
        events_max_per_feed: 1000,
        samples_max_age: days(2),
        rollup_1m_max_age: days(4),
        rollup_1h_max_age: days(5),
        states_max_age: days(1),
        ..StoreSettings::default()
    };
    let store = open_with(&path, settings);
    let a = add_feed(&store, "a");
    let b = add_feed(&store, "b");
    // Ten days, one row of each kind per feed every 10 minutes;
    // feed b also gets a burst of 3000 events in the last minutes.
    let start = T0 - 10 * DAY;
    let mut batch = WriteBatch::new();
    let mut t = start;
    while t < T0 {
        for feed in [a, b] {
            batch.events.push(event(feed, t, "tick"));
            batch.samples.push(sample(feed, "m", t, 1.0));
            batch.timeline.push(state(feed, t, "live"));
        }
        t += 10 * MIN;
    }
    // (Between the last two ticks, so the newest 1000 are all burst.)
    for i in 0..3000 {
        batch
            .events
            .push(event(b, T0 - 9 * MIN + i * SEC / 10, "burst"));
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let per_day: u64 = 144;
    assert_eq!(store.event_count(Some(a)).unwrap(), 10 * per_day);

    let report = store.run_retention(Timestamp(T0)).unwrap();
    println!("{report:?}");
    // Events: 7 of 10 days go by age for both feeds; then b keeps its newest 1000.
    assert_eq!(report.events_by_age, 2 * 7 * per_day);
    assert_eq!(store.event_count(Some(a)).unwrap(), 3 * per_day);
    assert_eq!(store.event_count(Some(b)).unwrap(), 1000);
    assert_eq!(report.events_by_count, 3 * per_day + 3000 - 1000);
    let newest_b = store
        .events(&EventQuery {
            feed_id: Some(b),
            limit: 1000,
            order: Order::OldestFirst,
            ..EventQuery::default()
        })
        .unwrap();
    assert!(newest_b.iter().all(|e| &e.data[..] == b"burst"));
    assert_eq!(
        newest_b.last().unwrap().received_at.0,
        T0 - 9 * MIN + 2999 * SEC / 10
    );
    // Samples: 8 of 10 days go, per feed.
    assert_eq!(report.samples, 2 * 8 * per_day);
    assert_eq!(store.sample_count().unwrap(), 2 * 2 * per_day);
    // Rollups: one 1m row per sample; one 1h row per 6 samples.
    assert_eq!(report.rollup_1m, 2 * 6 * per_day);
    assert_eq!(report.rollup_1h, 2 * 5 * 24);
    // Timeline: 9 of 10 days go.
    assert_eq!(report.states, 2 * 9 * per_day);
    let stats = store.db_stats().unwrap();
    assert_eq!(stats.feed_states, 2 * per_day);
    assert_eq!(stats.rollup_1m, 2 * 4 * per_day);
    assert_eq!(stats.rollup_1h, 2 * 5 * 24);
    assert_eq!(report.rows(), {
        report.events_by_age
            + report.events_by_count
            + report.samples
            + report.rollup_1m
            + report.rollup_1h
            + report.states
    });
    // The last run is recorded.
    let c = raw(&path);
    assert_eq!(
        scalar(
            &c,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'retention.last_run'"
        ),
        T0
    );
    // Running again deletes nothing more.
    let again = store.run_retention(Timestamp(T0)).unwrap();
    assert_eq!(again.rows(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_state_survives_any_age() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        states_max_age: days(1),
        ..StoreSettings::default()
    };
    let store = open_with(&dir.path().join("t.db"), settings);
    let a = add_feed(&store, "a");
    let mut batch = WriteBatch::new();
    batch.timeline.push(state(a, T0 - 30 * DAY, "live"));
    batch.timeline.push(state(a, T0 - 20 * DAY, "failed"));
    let mut issue = state(a, T0 - 19 * DAY, "failed");
    issue.kind = "close".into();
    batch.timeline.push(issue);
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let r = store.run_retention(Timestamp(T0)).unwrap();
    assert_eq!(r.states, 2);
    let s = store.state_at(a, Timestamp(T0)).unwrap().unwrap();
    assert_eq!(s.state, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_alert_history_is_deleted_but_alert_state_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        states_max_age: days(1),
        ..StoreSettings::default()
    };
    let store = open_with(&dir.path().join("t.db"), settings);
    let a = add_feed(&store, "a");
    let mut batch = WriteBatch::new();
    batch.alerts.push(telltale_store::AlertRow {
        id: 7,
        feed_id: a,
        rule: "cpu".into(),
        phase: "firing".into(),
        json: "{}".into(),
    });
    for (age_days, kind) in [(30, "fired"), (2, "acknowledged"), (0, "notified")] {
        batch.alert_history.push(telltale_store::AlertHistoryRow {
            id: 0,
            alert_id: 7,
            ts: Timestamp(T0 - age_days * DAY),
            kind: kind.into(),
            value: Some(1.0),
            detail: String::new(),
        });
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let r = store.run_retention(Timestamp(T0)).unwrap();
    assert_eq!(r.states, 2);
    let left: Vec<String> = store
        .alert_history(Some(7), 10)
        .unwrap()
        .into_iter()
        .map(|h| h.kind)
        .collect();
    assert_eq!(left, vec!["notified"]);
    assert_eq!(store.load_alerts().unwrap().0.len(), 1);
}

/// Size of the database file on disk after checkpointing the WAL into it.
fn disk_size(path: &std::path::Path) -> u64 {
    let c = raw(path);
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    std::fs::metadata(path).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_does_not_grow_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    // Keep one "day"; each cycle writes a day and then runs retention.
    let settings = StoreSettings {
        events_max_age: days(1),
        samples_max_age: days(1),
        rollup_1m_max_age: days(1),
        rollup_1h_max_age: days(1),
        states_max_age: days(1),
        ..StoreSettings::default()
    };
    let store = open_with(&path, settings);
    let feeds: Vec<i64> = (0..4).map(|i| add_feed(&store, &format!("f{i}"))).collect();
    let payload = "x".repeat(400);
    let per_cycle = 6000i64;
    let mut sizes = Vec::new();
    for cycle in 0..8i64 {
        let day_start = T0 + cycle * DAY;
        let mut batch = WriteBatch::new();
        for i in 0..per_cycle {
            let ts = day_start + i * (DAY / per_cycle);
            let feed = feeds[(i % 4) as usize];
            batch.events.push(event(feed, ts, &payload));
            for m in ["a", "b", "c"] {
                batch.samples.push(sample(feed, m, ts, fastrand::f64()));
            }
            if batch.len() >= 8000 {
                store.send(std::mem::take(&mut batch)).await.unwrap();
            }
        }
        store.send(batch).await.unwrap();
        store.flush().await.unwrap();
        let report = store.run_retention(Timestamp(day_start + DAY)).unwrap();
        let stats = store.db_stats().unwrap();
        let disk = disk_size(&path);
        println!(
            "cycle {cycle}: deleted {} rows, freed {} pages; {} KiB logical, {} KiB free, {} KiB on disk; {} events",
            report.rows(),
            report.pages_freed,
            stats.file_bytes / 1024,
            stats.free_bytes / 1024,
            disk / 1024,
            stats.events
        );
        assert!(stats.events <= per_cycle as u64);
        sizes.push((stats.file_bytes, disk));
    }
    // After the first cycles reach steady state, the size stays put.
    let steady = sizes[2].0.max(sizes[1].0);
    for (cycle, &(logical, disk)) in sizes.iter().enumerate().skip(3) {
        assert!(
            logical <= steady + steady / 4,
            "cycle {cycle}: {logical} bytes vs {steady} at steady state"
        );
        assert!(
            disk <= steady + steady / 4,
            "cycle {cycle}: {disk} bytes on disk vs {steady}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_also_runs_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        events_max_age: days(1),
        ..StoreSettings::default()
    };
    let opts = StoreOptions {
        retention_first_run: Duration::from_millis(50),
        retention_interval: Some(Duration::from_secs(3600)),
        ..StoreOptions::default()
    };
    let store = Store::open_with(&dir.path().join("t.db"), settings, opts).unwrap();
    let a = add_feed(&store, "a");
    let now = Timestamp::now().0;
    let mut batch = WriteBatch::new();
    batch.events.push(event(a, now - 3 * DAY, "old"));
    batch.events.push(event(a, now, "new"));
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.event_count(None).unwrap() != 1 {
        assert!(Instant::now() < deadline, "automatic retention did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_sample_costs_about_18_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let feeds: Vec<i64> = (0..10)
        .map(|i| add_feed(&store, &format!("f{i}")))
        .collect();
    fastrand::seed(3);
    // 30 series at 1 Hz for ~3 hours, committed in 100 ms-sized slices like
    // live ingestion; values like real gauges (two decimals).
    let n_per_series = 10_000i64;
    let mut batch = WriteBatch::new();
    for i in 0..n_per_series {
        for &f in &feeds {
            for m in ["cpu", "mem", "lat"] {
                let v = (fastrand::f64() * 10_000.0).round() / 100.0;
                batch.samples.push(sample(f, m, T0 + i * SEC, v));
            }
        }
        if i % 10 == 9 {
            store.send(std::mem::take(&mut batch)).await.unwrap();
            store.flush().await.unwrap();
        }
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let c = raw(&path);
    let (rows, payload, bytes): (i64, i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM samples), sum(payload), sum(pgsize)
             FROM dbstat WHERE name = 'samples'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let (rollup_bytes,): (i64,) = c
        .query_row(
            "SELECT sum(pgsize) FROM dbstat WHERE name IN ('rollup_1m', 'rollup_1h')",
            [],
            |r| Ok((r.get(0)?,)),
        )
        .unwrap();
    let per_sample = bytes as f64 / rows as f64;
    println!(
        "{rows} samples: {:.1} B/sample on disk (record {:.1} B = {:.0}% of the pages), rollups {:.2} B/sample more",
        per_sample,
        payload as f64 / rows as f64,
        100.0 * payload as f64 / bytes as f64,
        rollup_bytes as f64 / rows as f64
    );
    // The record itself: 4-byte header, 1-byte series id, 6-byte relative
    // timestamp, 2-byte INTEGER hundredths (two-decimal gauges).
    assert!(payload as f64 / rows as f64 <= 13.5);
    // Page fill under interleaved appends is ~90% (measured 18.1 B/sample).
    assert!(per_sample <= 20.0, "{per_sample:.1} B/sample");
}

/// A retention run of several chunks goes on between them while new rows
/// wait for their commit deadline: the writer neither sleeps until that
/// deadline nor waits for the next batch before the next chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_going_while_rows_wait_for_their_commit() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        events_max_age: days(1),
        ..minute_long_commits()
    };
    let store = open_with(&dir.path().join("t.db"), settings);
    let a = add_feed(&store, "a");
    // 100,000 old events: five retention chunks.
    let old = T0 - 3 * DAY;
    let mut batch = WriteBatch::new();
    for i in 0..100_000 {
        batch.events.push(event(a, old + i, "old"));
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    // One row that is not due for commit for a minute.
    let mut batch = WriteBatch::new();
    batch.events.push(event(a, T0, "new"));
    store.send(batch).await.unwrap();
    let s = store.clone();
    let run = tokio::task::spawn_blocking(move || s.run_retention(Timestamp(T0)));
    let report = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("retention waited for the commit deadline between its chunks")
        .unwrap()
        .unwrap();
    assert_eq!(report.events_by_age, 100_000);
    store.flush().await.unwrap();
    assert_eq!(store.event_count(None).unwrap(), 1);
}
