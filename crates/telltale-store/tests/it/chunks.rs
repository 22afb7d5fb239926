//! Raw samples in compressed chunks: every read sees the same history
//! before and after compaction, retention cuts through chunks, an upgraded
//! database keeps its samples, a writer restarted on chunked series goes on
//! after them, and a chunked sample is small.

use crate::common::*;
use telltale_model::config::StoreSettings;
use telltale_model::duration::Dur;
use telltale_model::Timestamp;
use telltale_store::{
    schema, SampleQuery, SeriesData, SeriesQuery, Store, StoredSample, Tier, WriteBatch,
};

/// Three hours at 1 Hz with up to ±3 ms of jitter for three shapes of
/// series per feed: a two-decimal gauge walking, a counter, a float.
async fn fill(store: &Store, feeds: &[i64], seconds: i64) {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut gauge = 50.0f64;
    let mut counter = 0.0f64;
    let mut batch = WriteBatch::new();
    for i in 0..seconds {
        let t = T0 - seconds * SEC + i * SEC + rng.i64(-3_000..3_000);
        gauge = ((gauge + rng.f64() - 0.5) * 100.0).round() / 100.0;
        counter += rng.u32(0..40) as f64;
        for &f in feeds {
            batch.samples.push(sample(f, "load", t, gauge));
            batch.samples.push(sample(f, "requests_total", t, counter));
            batch.samples.push(sample(f, "ratio", t, gauge / 3.0));
        }
        if i % 50 == 49 {
            store.send(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
}

/// Everything a reader can ask of the feeds' samples.
fn snapshot(store: &Store, feeds: &[i64]) -> (Vec<StoredSample>, Vec<SeriesData>, Vec<String>) {
    let mut samples = Vec::new();
    let mut charts = Vec::new();
    let mut series = Vec::new();
    for &f in feeds {
        // Paged export, in pages that end inside chunks.
        let mut after = None;
        loop {
            let page = store
                .samples(&SampleQuery {
                    feed_id: f,
                    from: Some(Timestamp(T0 - 2 * HOUR - 7 * SEC)),
                    until: None,
                    after,
                    limit: 997,
                })
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.series_id, last.ts));
            samples.extend(page);
        }
        for s in store.list_series(f).unwrap() {
            series.push(format!("{} {:?} {:?}", s.metric, s.last_ts, s.last_value));
            for (from, to, points) in [
                (T0 - 10 * MIN, T0, 600),
                (T0 - 3 * HOUR, T0, 400),
                (T0 - 5 * HOUR, T0 + HOUR, 50),
                (T0 - 90 * MIN - 13 * SEC, T0 - 61 * MIN, 1000),
            ] {
                charts.push(
                    store
                        .query_series(&SeriesQuery {
                            series_id: s.id,
                            from: Timestamp(from),
                            to: Timestamp(to),
                            max_points: points,
                        })
                        .unwrap(),
                );
            }
        }
    }
    (samples, charts, series)
}

/// Every sample of a feed, series by series.
fn every_sample(feed_id: i64) -> SampleQuery {
    SampleQuery {
        feed_id,
        from: None,
        until: None,
        after: None,
        limit: usize::MAX,
    }
}

fn chunk_stats(path: &std::path::Path) -> (i64, i64, i64) {
    let c = raw(path);
    c.query_row(
        "SELECT (SELECT count(*) FROM sample_chunks),
                (SELECT coalesce(sum(count), 0) FROM sample_chunks),
                (SELECT count(*) FROM samples)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_changes_no_answer_and_makes_a_sample_small() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let feeds: Vec<i64> = (0..3).map(|i| add_feed(&store, &format!("f{i}"))).collect();
    fill(&store, &feeds, 3 * 3600).await;
    let total = store.sample_count().unwrap();
    assert_eq!(total, 3 * 3 * 3 * 3600);
    let before = snapshot(&store, &feeds);
    assert!(before.1.iter().any(|d| d.tier == Tier::Raw));
    assert_eq!(chunk_stats(&path).0, 0, "nothing is chunked before a run");

    let report = store.compact_samples(Timestamp(T0)).unwrap();
    let (chunks, chunked, head) = chunk_stats(&path);
    assert_eq!(report.samples as i64, chunked);
    assert_eq!(chunked + head, total as i64, "every sample is in one place");
    // The last minute stays in the head, and so does the unfilled chunk
    // before it (10,740 older samples a series = 89 chunks + 60).
    assert!((9 * 118..=9 * 122).contains(&head), "head {head}");
    assert!(chunks >= chunked / 120, "{chunks} chunks");
    assert_eq!(store.sample_count().unwrap(), total);
    assert_eq!(snapshot(&store, &feeds), before, "reads are unchanged");

    // Per-feed storage counts the chunks' real size.
    let stats = store.db_stats().unwrap();
    assert_eq!(stats.samples, total);
    let f = &stats.per_feed[0];
    let per_sample = f.sample_bytes as f64 / f.samples as f64;
    let c = raw(&path);
    let (disk,): (i64,) = c
        .query_row(
            "SELECT sum(pgsize) FROM dbstat
             WHERE name IN ('sample_chunks', 'sample_chunks_by_series')",
            [],
            |r| Ok((r.get(0)?,)),
        )
        .unwrap();
    let on_disk = disk as f64 / chunked as f64;
    let encoded = report.bytes as f64 / report.samples as f64;
    println!(
        "{chunked} chunked samples in {chunks} chunks: {encoded:.2} B/sample encoded, {on_disk:.2} B/sample on disk, {per_sample:.2} B/sample counted per feed"
    );
    // Each shape's cost: a bit for the times (jitter within 1 % of the
    // cadence is aligned away), ~11 for the gauge's and the counter's
    // deltas, ~55 for the float's XOR: about 3.3 B a sample, where a head
    // row costs ~18 B (see retention.rs).
    assert!(encoded < 4.0, "{encoded:.2} B/sample encoded");
    // Chunks are appended, so their pages are nearly full; each chunk's
    // row and index entry add about a byte a sample.
    assert!(
        on_disk < encoded * 1.2 + 0.6,
        "{on_disk:.2} B/sample on disk"
    );
    assert!(per_sample < 8.0, "{per_sample:.2} B/sample per feed");

    // A second run has nothing left to move; new samples append after the
    // chunks, also across a restart of the writer.
    assert_eq!(store.compact_samples(Timestamp(T0)).unwrap().samples, 0);
    store.close().await.unwrap();
    let store = open(&path);
    let mut b = WriteBatch::new();
    // An old timestamp is moved after the series' newest, as always.
    b.samples.push(sample(feeds[0], "load", T0 - 2 * HOUR, 1.0));
    store.send(b).await.unwrap();
    store.flush().await.unwrap();
    store.compact_samples(Timestamp(T0 + 3 * HOUR)).unwrap();
    let load = store
        .list_series(feeds[0])
        .unwrap()
        .into_iter()
        .find(|s| s.metric == "load")
        .unwrap();
    assert_eq!(load.last_value, Some(1.0));
    let all = store.samples(&every_sample(feeds[0])).unwrap();
    let mine: Vec<_> = all.iter().filter(|s| s.series_id == load.id).collect();
    assert_eq!(mine.len(), 3 * 3600 + 1);
    assert!(mine.windows(2).all(|w| w[0].ts < w[1].ts));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_cuts_through_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let settings = StoreSettings {
        samples_max_age: Dur::secs(3600 + 17),
        ..StoreSettings::default()
    };
    let store = open_with(&path, settings);
    let feed = add_feed(&store, "f");
    fill(&store, &[feed], 3 * 3600).await;
    store.compact_samples(Timestamp(T0)).unwrap();
    let report = store.run_retention(Timestamp(T0)).unwrap();
    let left = store.samples(&every_sample(feed)).unwrap();
    let cut = T0 - HOUR - 17 * SEC;
    assert!(left.iter().all(|s| s.ts.0 >= cut));
    // 3,617 s of each of the three series, give or take the jitter.
    let n = left.len() as i64;
    assert!((3 * 3617 - 3..=3 * 3617 + 3).contains(&n), "{n} left");
    assert_eq!(report.samples as i64 + n, 3 * 3 * 3600);
    assert_eq!(store.sample_count().unwrap() as i64, n);
    // The chunk across the cut was re-encoded: its first sample is the
    // oldest one left.
    let c = raw(&path);
    let oldest_chunk: i64 = scalar(&c, "SELECT min(start_ts) FROM sample_chunks");
    let epoch: i64 = scalar(
        &c,
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'samples_epoch_us'",
    );
    assert_eq!(
        oldest_chunk + epoch,
        left.iter().map(|s| s.ts.0).min().unwrap()
    );
}

/// A database written by an earlier release (schema 4, every sample and
/// 1-minute rollup a head row) opens, keeps its samples and rollups, and
/// compacts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_database_keeps_and_compacts_its_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let mut c = rusqlite::Connection::open(&path).unwrap();
        schema::migrate_with(&mut c, &schema::MIGRATIONS[..4]).unwrap();
        c.execute_batch(
            "INSERT INTO feeds (id, name, config, origin, created_at, updated_at)
               VALUES (1, 'old', '{\"name\":\"old\",\"transport\":\"websocket\",\"url\":\"ws://127.0.0.1:9/\"}', 'file', 0, 0);
             INSERT INTO series (id, feed_id, metric) VALUES (1, 1, 'm');",
        )
        .unwrap();
        let epoch: i64 = scalar(
            &c,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'samples_epoch_us'",
        );
        let tx = c.transaction().unwrap();
        for i in 0..1_000i64 {
            tx.execute(
                "INSERT INTO samples (series_id, ts, value) VALUES (1, ?1, ?2)",
                (
                    T0 - epoch - 2 * HOUR + i * SEC,
                    schema::encode_value(i as f64 / 4.0),
                ),
            )
            .unwrap();
        }
        for m in 0..300i64 {
            tx.execute(
                "INSERT INTO rollup_1m (series_id, bucket, min, max, sum, count)
                 VALUES (1, ?1, ?2, ?2 + 1, ?2 * 6 + 0.1, 6)",
                (T0 - 6 * HOUR + m * MIN, m as f64 / 3.0),
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let store = open(&path);
    let c = raw(&path);
    assert_eq!(scalar(&c, "PRAGMA user_version"), schema::SCHEMA_VERSION);
    let q = every_sample(1);
    let before = store.samples(&q).unwrap();
    assert_eq!(before.len(), 1_000);
    assert_eq!(before[999].value, 999.0 / 4.0);
    let chart = |store: &Store| {
        store
            .query_series(&SeriesQuery {
                series_id: 1,
                from: Timestamp(T0 - 6 * HOUR),
                to: Timestamp(T0 - HOUR),
                max_points: 100,
            })
            .unwrap()
    };
    let minutes = chart(&store);
    assert_eq!(minutes.tier, Tier::Minute);
    assert_eq!(minutes.points.iter().map(|p| p.count).sum::<u64>(), 6 * 300);
    let r = store.compact_samples(Timestamp(T0 + 3 * HOUR)).unwrap();
    assert_eq!(r.samples, 999);
    assert_eq!(r.minutes, 300);
    assert_eq!(store.samples(&q).unwrap(), before);
    assert_eq!(chart(&store), minutes);
}

/// Over the disk budget, chunked samples are cut like head rows: the
/// noisy feed's oldest first, the quiet feed keeps all of its own, and
/// what is left of each series is its newest samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_cuts_chunked_samples_fairly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let noisy = add_feed(&store, "noisy");
    let quiet = add_feed(&store, "quiet");
    let n = 20_000i64;
    let start = T0 - HOUR - n * SEC;
    let mut rng = fastrand::Rng::with_seed(5);
    for part in 0..20 {
        let mut b = WriteBatch::new();
        for i in part * n / 20..(part + 1) * n / 20 {
            let t = start + i * SEC + rng.i64(0..2_000);
            for s in 0..20 {
                let v = (rng.f64() * 1e6).round() / 100.0;
                b.samples.push(sample(noisy, &format!("m{s}"), t, v));
            }
            if i % 10 == 0 {
                b.samples.push(sample(quiet, "up", t, 1.0));
            }
        }
        store.send(b).await.unwrap();
    }
    store.flush().await.unwrap();
    store.compact_samples(Timestamp(T0)).unwrap();
    let stats = store.db_stats().unwrap();
    let used = stats.used_bytes;
    let budget = used / 2;
    store
        .save_settings(&telltale_model::config::Settings {
            store: StoreSettings {
                disk_budget: Some(telltale_model::duration::ByteSize(budget)),
                ..StoreSettings::default()
            },
            ..Default::default()
        })
        .unwrap();
    let report = store.run_retention(Timestamp(T0)).unwrap();
    println!("{used} bytes over a budget of {budget}: {report:?}");
    assert!(report.samples_by_budget > 0);
    let after = store.db_stats().unwrap();
    assert!(
        after.used_bytes <= budget,
        "{} > {budget}",
        after.used_bytes
    );
    let all = |feed| store.samples(&every_sample(feed)).unwrap();
    assert_eq!(all(quiet).len() as i64, n / 10, "the quiet feed keeps all");
    let left = all(noisy);
    let mut per_series = std::collections::BTreeMap::new();
    for s in &left {
        per_series
            .entry(s.series_id)
            .or_insert_with(Vec::new)
            .push(s.ts.0);
    }
    assert_eq!(per_series.len(), 20);
    for ts in per_series.values() {
        let kept = ts.len() as i64;
        assert!(kept < n && kept > n / 20, "{kept} kept");
        // The newest, without a gap: every second up to the end.
        assert!(ts.windows(2).all(|w| w[1] - w[0] < SEC + 2_000));
        assert!(*ts.last().unwrap() >= start + (n - 1) * SEC);
    }
    assert_eq!(
        report.samples_by_budget as usize + left.len(),
        (20 * n) as usize
    );
}

/// Where [`crash_child`] writes; set only in the child process.
const CHILD_DB: &str = "TELLTALE_CHUNKS_CRASH_CHILD_DB";

/// Writes two series while compaction runs every 10 ms, printing each
/// commit. Alone, it stops after 30,000 samples a series and checks that
/// every one is there once, in order. With its variable set, it is the
/// process [`kill_dash_nine_during_compaction_loses_no_committed_sample`]
/// kills, and writes until then.
#[test]
fn crash_child() {
    let dir = tempfile::tempdir().unwrap();
    let (path, limit) = match std::env::var_os(CHILD_DB) {
        Some(p) => (std::path::PathBuf::from(p), i64::MAX),
        None => (dir.path().join("t.db"), 30_000),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let committed = rt.block_on(async {
        let options = telltale_store::StoreOptions {
            compact_every: Some(std::time::Duration::from_millis(10)),
            ..options()
        };
        let store = Store::open_with(&path, StoreSettings::default(), options).unwrap();
        let feed = add_feed(&store, "f");
        // Ten days old, so that every sample is due for compaction at once.
        let start = Timestamp::now().0 - 10 * DAY;
        let mut i = 0i64;
        while i < limit {
            let mut b = WriteBatch::new();
            for _ in 0..500 {
                b.samples.push(sample(feed, "a", start + i * SEC, i as f64));
                b.samples
                    .push(sample(feed, "b", start + i * SEC, -(i as f64)));
                i += 1;
            }
            store.send(b).await.unwrap();
            store.flush().await.unwrap();
            println!("committed {i}");
        }
        // Alone, the writes can end before the first compaction on a busy
        // machine: give it its chance (it runs every 10 ms) before closing.
        let chunked = || {
            scalar(
                &raw(&path),
                "SELECT coalesce(sum(count), 0) FROM sample_chunks",
            )
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while chunked() == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        store.close().await.unwrap();
        i
    });
    let chunked = scalar(
        &raw(&path),
        "SELECT coalesce(sum(count), 0) FROM sample_chunks",
    );
    assert!(chunked > 0, "compaction ran within 20 s of the last commit");
    every_sample_once(&path, committed);
}

/// Both series of feed 1 hold at least `committed` samples, `±i` at
/// position `i`: no gap, no duplicate.
fn every_sample_once(path: &std::path::Path, committed: i64) {
    let store = open(path);
    let all = store.samples(&every_sample(1)).unwrap();
    let series = store.list_series(1).unwrap();
    assert_eq!(series.len(), 2);
    for (k, s) in series.iter().enumerate() {
        let values: Vec<f64> = all
            .iter()
            .filter(|x| x.series_id == s.id)
            .map(|x| x.value)
            .collect();
        let n = values.len() as i64;
        assert!(
            n >= committed,
            "{n} samples of {}, {committed} committed",
            s.metric
        );
        let sign = if k == 0 { 1.0 } else { -1.0 };
        for (i, v) in values.iter().enumerate() {
            assert_eq!(
                *v,
                sign * i as f64,
                "sample {i} of {}: no gap, no duplicate",
                s.metric
            );
        }
    }
}

/// Moving samples into chunks is one transaction with deleting them from
/// the head: a process killed at any moment leaves every committed sample
/// exactly once.
#[test]
fn kill_dash_nine_during_compaction_loses_no_committed_sample() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "chunks::crash_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut child = Kill(child);
    let mut committed = 0i64;
    let mut chunked = 0i64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            committed = n.parse().unwrap();
        }
        if committed >= 50_000 && committed % 5_000 == 0 {
            chunked = raw(&path)
                .query_row(
                    "SELECT coalesce(sum(count), 0) FROM sample_chunks",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(0);
        }
        // Kill while chunks are being written, after a good many exist.
        if chunked >= 40_000 || std::time::Instant::now() > deadline {
            break;
        }
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    assert!(
        chunked >= 40_000,
        "only {chunked} samples were chunked in time"
    );

    let c = raw(&path);
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    every_sample_once(&path, committed);
    println!("{committed} committed, {chunked} of them chunked, before kill -9: all there");
}
