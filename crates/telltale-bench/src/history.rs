//! Scenario 5: history. The bench builds a database of `days` of 1 Hz
//! samples for 20 series (4 feeds × 5 metrics) through the store's own
//! write path, interleaved in time as live ingestion writes them, moves
//! them into compressed chunks as the running store does, then measures
//! chart queries, bytes on disk per sample, and how long `telltaled run`
//! takes from start to ready on that database. Then the event log's page
//! and search latency (`crate::eventlog`).

use crate::report::Section;
use crate::util::{fixed, ms, quantile, thousands, workspace_bin};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use telltale_model::{FeedConfig, Timestamp, TransportKind};
use telltale_store::{FeedOrigin, SampleRow, SeriesQuery, WriteBatch};

const METRICS: [&str; 5] = ["cpu", "mem", "disk", "load", "latency_ms"];
const SEC: i64 = 1_000_000;

/// Builds the database; returns (path's store, series ids, end time, samples).
async fn build(path: &std::path::Path, days: f64) -> Result<(Vec<i64>, i64, u64)> {
    let store = crate::util::bench_store(path)?;
    let mut feeds = Vec::new();
    for i in 0..4 {
        // A closed port: telltaled starts these feeds when it opens the
        // database, as it would a real one, and they retry quietly.
        let cfg = FeedConfig::new(
            format!("history-{i}"),
            TransportKind::Websocket,
            "ws://127.0.0.1:9/ws",
        );
        let s = store.clone();
        feeds.push(
            tokio::task::spawn_blocking(move || s.upsert_feed(&cfg, FeedOrigin::Gui)).await??,
        );
    }
    let secs = (days * 86_400.0) as i64;
    let end = Timestamp::now().0 / SEC * SEC;
    let start = end - secs * SEC;
    let mut value = [50.0f64; 20];
    let metric_names: Vec<std::sync::Arc<str>> =
        METRICS.iter().map(|m| std::sync::Arc::from(*m)).collect();
    let mut batch = WriteBatch::new();
    let mut n = 0u64;
    for t in 0..secs {
        let ts = Timestamp(start + t * SEC);
        for (f, &feed_id) in feeds.iter().enumerate() {
            for (m, name) in metric_names.iter().enumerate() {
                let v = &mut value[f * 5 + m];
                *v = (*v + (fastrand::f64() - 0.5) * 2.0).clamp(0.0, 100.0);
                batch.samples.push(SampleRow::new(
                    feed_id,
                    name.clone(),
                    ts,
                    (*v * 100.0).round() / 100.0,
                ));
                n += 1;
            }
        }
        // About 10 minutes per batch.
        if t % 600 == 599 {
            store.send(std::mem::take(&mut batch)).await?;
        }
    }
    store.send(batch).await?;
    store.flush().await?;
    let mut series = Vec::new();
    for &f in &feeds {
        let s = store.clone();
        for info in tokio::task::spawn_blocking(move || s.list_series(f)).await?? {
            series.push(info.id);
        }
    }
    let stored = store.sample_count()?;
    store.close().await?;
    if stored != n {
        bail!("built {n} samples but {stored} are stored");
    }
    Ok((series, end, n))
}

/// (bytes of samples incl. indexes, bytes of rollups, file bytes, raw rows).
fn sizes(path: &std::path::Path) -> Result<(f64, f64, f64, f64, f64)> {
    let c = rusqlite::Connection::open(path)?;
    let sum = |names: &str| -> Result<f64> {
        let q = format!(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({names})
             OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names}))"
        );
        Ok(c.query_row(&q, [], |r| r.get::<_, i64>(0))? as f64)
    };
    let samples = sum("'samples', 'sample_chunks'")?;
    let rollups = sum("'rollup_1m', 'rollup_1m_chunks', 'rollup_1h'")?;
    let rollup_rows: i64 = c.query_row(
        "SELECT (SELECT count(*) FROM rollup_1m) + (SELECT coalesce(sum(count), 0) FROM rollup_1m_chunks)
              + (SELECT count(*) FROM rollup_1h)",
        [],
        |r| r.get(0),
    )?;
    let file: i64 = c.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |r| r.get(0),
    )?;
    let rows: i64 = c.query_row(
        "SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(count), 0) FROM sample_chunks)",
        [],
        |r| r.get(0),
    )?;
    Ok((
        samples,
        rollups,
        file as f64,
        rows as f64,
        rollup_rows as f64,
    ))
}

/// Spawn-to-"running" of `telltaled run --db`, in ms.
fn open_to_ready(path: &std::path::Path) -> Result<f64> {
    let bin = workspace_bin("telltaled")?;
    let t0 = Instant::now();
    let mut child = Command::new(&bin)
        .args(["run", "--db"])
        .arg(path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut ready = None;
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if line.contains("telltaled running on") {
            ready = Some(ms(t0.elapsed()));
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    ready.context("telltaled never said it was running")
}

/// Runs the scenario.
pub async fn run(days: f64, queries: usize) -> Section {
    let mut s = Section::new(
        5,
        "History: chart queries, bytes per sample, open-to-ready, the event log",
        &["measurement", "p50", "p99", "notes"],
    );
    match inner(&mut s, days, queries).await {
        Ok(()) => {}
        Err(e) => s.fail(format!("{e:#}")),
    }
    s
}

async fn inner(s: &mut Section, days: f64, queries: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("history.db");
    let t0 = Instant::now();
    let (series, end, n) = build(&path, days).await?;
    let build_secs = t0.elapsed().as_secs_f64();
    s.note(format!(
        "Database: {} samples ({days} days × 1 Hz × {} series) written through the store in {:.1} s ({} samples/s), time-interleaved like live ingestion, 10-minute batches.",
        thousands(n as f64),
        series.len(),
        build_secs,
        thousands(n as f64 / build_secs)
    ));
    let store = crate::util::bench_store(&path)?;
    // What a running store has done by the time these are hours old.
    let st = store.clone();
    let t = Instant::now();
    let compacted =
        tokio::task::spawn_blocking(move || st.compact_samples(Timestamp(end + 3 * 3600 * SEC)))
            .await??;
    let compact_secs = t.elapsed().as_secs_f64();
    s.row(vec![
        "compaction into chunks".into(),
        format!(
            "{} samples/s",
            thousands(compacted.samples as f64 / compact_secs)
        ),
        "".into(),
        format!(
            "{} samples into {} chunks of {} B/sample in {:.1} s, in steps between commits",
            thousands(compacted.samples as f64),
            thousands(compacted.chunks as f64),
            fixed(compacted.bytes as f64 / compacted.samples.max(1) as f64, 2),
            compact_secs
        ),
    ]);
    s.metric(
        "compact_samples_per_s",
        compacted.samples as f64 / compact_secs,
    );
    let ranges: Vec<(&str, i64)> = [("7 d", 7 * 86_400), ("24 h", 86_400), ("1 h", 3_600)]
        .into_iter()
        .filter(|(_, secs)| (*secs as f64) <= days * 86_400.0 + 1.0)
        .collect();
    for (label, secs) in ranges {
        let st = store.clone();
        let ids = series.clone();
        let (mut times, points) =
            tokio::task::spawn_blocking(move || -> Result<(Vec<f64>, usize)> {
                let mut times = Vec::new();
                let mut points = 0;
                for i in 0..queries {
                    let q = SeriesQuery {
                        series_id: ids[i % ids.len()],
                        from: Timestamp(end - secs * SEC),
                        to: Timestamp(end + SEC),
                        max_points: 1000,
                    };
                    let t = Instant::now();
                    let d = st.query_series(&q)?;
                    times.push(ms(t.elapsed()));
                    points = d.points.len();
                }
                Ok((times, points))
            })
            .await??;
        let (p50, p99) = (quantile(&mut times, 0.5), quantile(&mut times, 0.99));
        s.row(vec![
            format!("chart query, {label}, 1,000 points"),
            format!("{} ms", fixed(p50, 2)),
            format!("{} ms", fixed(p99, 2)),
            format!(
                "{points} points returned; {queries} queries over {} series",
                series.len()
            ),
        ]);
        let key = label.replace(' ', "");
        s.metric(&format!("query_p50_ms_{key}"), p50);
        s.metric(&format!("query_p99_ms_{key}"), p99);
        if secs == 7 * 86_400 {
            s.target(
                "chart query 7 d / 1,000 points, p99",
                "≤ 10 ms",
                format!("{} ms", fixed(p99, 2)),
                Some(p99 <= 10.0),
            );
        }
    }
    store.close().await?;
    let (samples, rollups, file, rows, rollup_rows) = sizes(&path)?;
    let per = samples / rows;
    s.row(vec![
        "bytes on disk per raw sample (chunks, head, indexes)".into(),
        fixed(per, 2),
        "".into(),
        format!(
            "{} MiB for {} samples",
            fixed(samples / 1048576.0, 1),
            thousands(rows)
        ),
    ]);
    s.row(vec![
        "rollups (1 m + 1 h), bytes per raw sample".into(),
        fixed(rollups / rows, 2),
        "".into(),
        format!(
            "{} rollups (1-minute ones in chunks), {} B each",
            thousands(rollup_rows),
            fixed(rollups / rollup_rows.max(1.0), 1)
        ),
    ]);
    s.row(vec![
        "whole file per raw sample".into(),
        fixed(file / rows, 2),
        "".into(),
        format!("{} MiB", fixed(file / 1048576.0, 1)),
    ]);
    s.metric("bytes_per_raw_sample", per);
    s.metric("rollup_bytes_per_raw_sample", rollups / rows);
    s.metric("file_bytes_per_raw_sample", file / rows);
    s.target(
        "bytes per raw sample incl. indexes",
        "≤ 2",
        fixed(per, 2),
        Some(per <= 2.0),
    );
    let mut opens = Vec::new();
    for _ in 0..5 {
        let p = path.clone();
        match tokio::task::spawn_blocking(move || open_to_ready(&p)).await? {
            Ok(v) => opens.push(v),
            Err(e) => {
                s.fail(format!("open-to-ready: {e:#}"));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !opens.is_empty() {
        let worst = opens.iter().copied().fold(0.0, f64::max);
        let med = quantile(&mut opens, 0.5);
        s.row(vec![
            "telltaled open-to-ready".into(),
            format!("{} ms", fixed(med, 0)),
            format!("{} ms (max of 5)", fixed(worst, 0)),
            "spawn of `telltaled run --db` until it logs that it is running (its feeds started)"
                .into(),
        ]);
        s.metric("open_to_ready_ms_median", med);
        s.metric("open_to_ready_ms_max", worst);
        s.target(
            "telltaled open-to-ready",
            "≤ 500 ms",
            format!("{} ms (max {})", fixed(med, 0), fixed(worst, 0)),
            Some(worst <= 500.0),
        );
    }
    // The event log, on a database of its own: 4 feeds at the default
    // cap of 100,000 events (a tenth of it at smoke scale).
    let per_feed = if days >= 1.0 { 100_000 } else { 10_000 };
    if let Err(e) = crate::eventlog::run(s, 4, per_feed, queries.min(40)).await {
        s.fail(format!("event log: {e:#}"));
    }
    Ok(())
}
