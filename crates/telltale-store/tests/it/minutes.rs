//! 1-minute rollups in compressed chunks: charts read the same before and
//! after compaction, a late sample for a chunked minute still counts,
//! retention and the budget cut through chunks, and a minute is small.

use crate::common::*;
use telltale_model::config::StoreSettings;
use telltale_model::duration::Dur;
use telltale_model::Timestamp;
use telltale_store::{SeriesData, SeriesQuery, Store, Tier, WriteBatch};

/// `hours` of a two-decimal gauge walking and a float every 15 s (a
/// node_exporter's cadence).
async fn fill(store: &Store, feed: i64, hours: i64) {
    let mut rng = fastrand::Rng::with_seed(3);
    let mut batch = WriteBatch::new();
    let n = hours * 240;
    let mut load = 1.0f64;
    for i in 0..n {
        let t = T0 - n * 15 * SEC + i * 15 * SEC;
        load = ((load * 100.0 + rng.i32(-5..=5) as f64).abs()).round() / 100.0;
        batch.samples.push(sample(feed, "load", t, load));
        batch.samples.push(sample(feed, "ratio", t, load / 7.0));
        if i % 400 == 399 {
            store.send(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
}

/// Charts of every series over ranges the 1-minute tier serves.
fn charts(store: &Store, feed: i64) -> Vec<SeriesData> {
    let mut out = Vec::new();
    for s in store.list_series(feed).unwrap() {
        for (from, to, points) in [
            (T0 - 6 * HOUR, T0, 360),
            (T0 - 5 * HOUR - 7 * MIN, T0 - 2 * HOUR + 13 * SEC, 100),
            (T0 - 20 * MIN, T0 + 10 * MIN, 15),
        ] {
            let d = store
                .query_series(&SeriesQuery {
                    series_id: s.id,
                    from: Timestamp(from),
                    to: Timestamp(to),
                    max_points: points,
                })
                .unwrap();
            assert_eq!(d.tier, Tier::Minute, "{from}..{to} by {points}");
            out.push(d);
        }
    }
    out
}

fn minute_stats(path: &std::path::Path) -> (i64, i64, i64) {
    let c = raw(path);
    (
        scalar(&c, "SELECT count(*) FROM rollup_1m_chunks"),
        scalar(&c, "SELECT coalesce(sum(count), 0) FROM rollup_1m_chunks"),
        scalar(&c, "SELECT count(*) FROM rollup_1m"),
    )
}

fn count(d: &SeriesData) -> u64 {
    d.points.iter().map(|p| p.count).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_minutes_read_the_same_and_are_small() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let feed = add_feed(&store, "node");
    fill(&store, feed, 8).await;
    let before = charts(&store, feed);
    let rows = store.db_stats().unwrap().rollup_1m;
    assert_eq!(rows, 2 * 8 * 60);
    let bytes_before = store.db_stats().unwrap().per_feed[0].rollup_bytes;

    let r = store.compact_samples(Timestamp(T0)).unwrap();
    let (chunks, chunked, head) = minute_stats(&path);
    assert_eq!(r.minutes as i64, chunked);
    // 8 hours = 4 full chunks a series; the last 2 hours wait in the head
    // until they fill a chunk or grow old.
    assert_eq!(chunks, 2 * 3, "{r:?}");
    assert_eq!(chunked + head, rows as i64, "every minute is in one place");
    assert_eq!(charts(&store, feed), before, "charts are unchanged");
    assert_eq!(store.db_stats().unwrap().rollup_1m, rows);

    // Two hours later the rest goes but for the last 10 minutes.
    let r = store.compact_samples(Timestamp(T0 + 2 * HOUR)).unwrap();
    assert_eq!(r.minutes, 2 * 120);
    assert_eq!(minute_stats(&path).2, 0, "the head is empty");
    assert_eq!(charts(&store, feed), before, "charts are unchanged");

    // A minute costs a few bytes instead of a 48-byte row: hundredths
    // (sums included) as integers, other values as XOR-ed floats.
    let after = store.db_stats().unwrap().per_feed[0].rollup_bytes;
    println!("rollup bytes {bytes_before} → {after}");
    let c = raw(&path);
    let per_minute = |metric: &str| {
        let bytes = scalar(
            &c,
            &format!(
                "SELECT sum(length(data)) FROM rollup_1m_chunks c
                 JOIN series s ON s.id = c.series_id WHERE s.metric = '{metric}'"
            ),
        );
        bytes as f64 / (8 * 60) as f64
    };
    let (cents, floats) = (per_minute("load"), per_minute("ratio"));
    println!("{cents:.2} B a minute of hundredths, {floats:.2} of floats");
    assert!(cents < 6.0, "{cents:.2} B a minute");
    assert!(floats < 32.0, "{floats:.2} B a minute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_sample_for_a_chunked_minute_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let feed = add_feed(&store, "node");
    fill(&store, feed, 6).await;
    store.compact_samples(Timestamp(T0 + 3 * HOUR)).unwrap();
    let (chunks, _, head) = minute_stats(&path);
    assert_eq!((chunks, head), (2 * 3, 0));
    let load = |store: &Store| {
        let s = store.list_series(feed).unwrap();
        let s = s.iter().find(|s| s.metric == "load").unwrap().id;
        store
            .query_series(&SeriesQuery {
                series_id: s,
                from: Timestamp(T0 - 6 * HOUR),
                to: Timestamp(T0),
                max_points: 360,
            })
            .unwrap()
    };
    let before = load(&store);
    // A sample from a server whose clock went back: the writer moves it to
    // just after the series' newest, in a minute already chunked.
    let mut b = WriteBatch::new();
    b.samples.push(sample(feed, "load", T0 - 4 * HOUR, 1000.0));
    store.send(b).await.unwrap();
    store.flush().await.unwrap();
    let with_late = load(&store);
    assert_eq!(count(&with_late), count(&before) + 1);
    let bucket = with_late
        .points
        .iter()
        .find(|p| p.max == 1000.0)
        .expect("the late sample's bucket");
    assert_eq!(bucket.ts.0 + with_late.bucket_us, T0, "the last bucket");
    assert_eq!(minute_stats(&path).2, 1, "the late minute is in the head");
    // The next compaction folds it into its chunk; charts stay the same.
    let r = store.compact_samples(Timestamp(T0 + 3 * HOUR)).unwrap();
    assert_eq!(r.minutes, 1);
    assert_eq!(minute_stats(&path), (2 * 3, 2 * 6 * 60, 0));
    assert_eq!(load(&store), with_late);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_cuts_minutes_inside_a_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let settings = StoreSettings {
        rollup_1m_max_age: Dur::secs(3 * 3600 + 17 * 60),
        ..StoreSettings::default()
    };
    let store = open_with(&path, settings);
    let feed = add_feed(&store, "node");
    fill(&store, feed, 6).await;
    store.compact_samples(Timestamp(T0 + 3 * HOUR)).unwrap();
    let report = store.run_retention(Timestamp(T0)).unwrap();
    let cut = T0 - 3 * HOUR - 17 * MIN;
    // 2 series × the 163 minutes before the cut.
    assert_eq!(report.rollup_1m, 2 * 163, "{report:?}");
    assert_eq!(store.db_stats().unwrap().rollup_1m, 2 * (6 * 60 - 163));
    let c = raw(&path);
    assert_eq!(
        scalar(&c, "SELECT min(start_ts) FROM rollup_1m_chunks"),
        cut
    );
}

/// Over the disk budget the oldest minutes go, chunked or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_cuts_chunked_minutes_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let feed = add_feed(&store, "node");
    fill(&store, feed, 12).await;
    store.compact_samples(Timestamp(T0)).unwrap();
    // Leave only rollups: the raw samples would be cut first.
    let c = raw(&path);
    c.execute_batch("DELETE FROM samples; DELETE FROM sample_chunks; VACUUM")
        .unwrap();
    let used = store.db_stats().unwrap().used_bytes;
    let rows = store.db_stats().unwrap().rollup_1m;
    store
        .save_settings(&telltale_model::config::Settings {
            store: StoreSettings {
                disk_budget: Some(telltale_model::duration::ByteSize(used - 4096)),
                ..StoreSettings::default()
            },
            ..Default::default()
        })
        .unwrap();
    let report = store.run_retention(Timestamp(T0)).unwrap();
    assert!(report.rollup_1m_by_budget > 0, "{report:?}");
    assert_eq!(
        store.db_stats().unwrap().rollup_1m,
        rows - report.rollup_1m_by_budget
    );
    // What is left is the newest minutes, without a gap.
    let oldest_chunk = scalar(&c, "SELECT min(start_ts) FROM rollup_1m_chunks");
    let oldest_head = scalar(&c, "SELECT coalesce(min(bucket), 0) FROM rollup_1m");
    assert!(oldest_chunk > T0 - 12 * HOUR, "the oldest minutes went");
    assert!(oldest_head == 0 || oldest_head > oldest_chunk);
    let kept = (T0 - oldest_chunk) / MIN;
    assert_eq!(2 * kept as u64, rows - report.rollup_1m_by_budget);
}
