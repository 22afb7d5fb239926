//! Scenario 7: disk, with the default settings, beside Prometheus scraping
//! the same targets in the same run.
//!
//! * (a) `feeds` hosts of the sim's Prometheus text polled every second
//!   (scenario 3's rules, the default payload policy for Prometheus text);
//! * (b) `node_feeds` feeds of a real `prometheus-node-exporter` (Debian)
//!   polled every 15 s with the rules of a host dashboard (CPU, memory,
//!   load, file systems, network, disks). Prometheus keeps every series of
//!   the exposition; telltaled keeps the families its rules name.
//!
//! * (c) the desktop's demo fleet (5 hosts of the sim, 10 feeds: JSON
//!   over WebSocket, Socket.IO, GraphQL, SSE, polling and long polling,
//!   Prometheus text and a gRPC health watch), telltaled alone:
//!   Prometheus cannot scrape it.
//!
//! For (a) and (b), telltaled and Prometheus run side by side. After the warm-up
//! the database's bytes in use (pages not free) and Prometheus's data
//! directory are read every 5 s over the window; growth is their
//! least-squares slope. Then telltaled stops and a copy of its database is
//! compacted as the running store does within hours, which gives the bytes
//! of a chunked sample and of a chunked 1-minute rollup; the steady-state
//! day is samples/day × the first + minutes/day × the second + an hour
//! row per 60 minutes + payload bytes/day. Prometheus runs with
//! 2-minute blocks (`--storage.tsdb.min-block-duration`, a hidden flag) so
//! that its head is compacted within the window; its day is its blocks'
//! bytes per second of data they cover.

use crate::fleet::{all_live, telltaled, Proc};
use crate::report::Section;
use crate::util::{fixed, thousands, which};
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use telltale_model::Timestamp;
use telltale_store::{Store, StoreOptions};

/// Scenario sizes.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub feeds: usize,
    pub node_feeds: usize,
    pub warmup: Duration,
    pub window: Duration,
}

/// A 1-hour rollup row on disk (docs/benchmarks.md).
const ROLLUP_ROW_BYTES: f64 = 48.0;
/// A gibibyte: the desktop's default disk budget.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// An event row besides its payload (store's budget estimate).
const EVENT_ROW_BYTES: f64 = 64.0;
const DAY: f64 = 86_400.0;

const NODE_RULES: &[(&str, &str)] = &[
    ("cpu_seconds", "node_cpu_seconds_total"),
    ("mem_available", "node_memory_MemAvailable_bytes"),
    ("load1", "node_load1"),
    ("fs_avail", "node_filesystem_avail_bytes"),
    ("net_rx", "node_network_receive_bytes_total"),
    ("net_tx", "node_network_transmit_bytes_total"),
    ("disk_read", "node_disk_read_bytes_total"),
    ("disk_written", "node_disk_written_bytes_total"),
];

fn node_config(url: &str, n: usize) -> String {
    let mut s = String::new();
    for i in 1..=n {
        let _ = write!(
            s,
            "[[feed]]\nname = \"node-{i}\"\ntransport = \"poll\"\nurl = \"{url}?feed={i}\"\nformat = \"prometheus\"\n"
        );
        for (name, family) in NODE_RULES {
            let _ = write!(
                s,
                "[[feed.metric]]\nname = \"{name}\"\nprometheus = \"{family}\"\n"
            );
        }
        s.push_str("[feed.poll]\ninterval = \"15s\"\ntimeout = \"5s\"\n\n");
    }
    s
}

fn node_prometheus_yml(addr: &str, n: usize) -> String {
    let mut s = String::from(
        "global:\n  scrape_interval: 15s\n  scrape_timeout: 5s\n  evaluation_interval: 1m\nscrape_configs:\n  - job_name: node\n    static_configs:\n",
    );
    for i in 1..=n {
        let _ = writeln!(
            s,
            "      - targets: ['{addr}']\n        labels: {{host: 'node-{i}', __param_feed: '{i}'}}"
        );
    }
    s
}

/// What the database holds at one instant.
#[derive(Debug, Clone, Copy, Default)]
struct DbPoint {
    t: f64,
    used: f64,
    samples: f64,
    events: f64,
    event_bytes: f64,
    /// 1-minute rollups, head and chunked.
    minutes: f64,
}

fn db_point(db: &Path, t0: Instant) -> Result<DbPoint> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.busy_timeout(Duration::from_secs(5))?;
    let p = |n: &str| -> Result<f64> {
        Ok(c.query_row(&format!("PRAGMA {n}"), [], |r| r.get::<_, i64>(0))? as f64)
    };
    let used = (p("page_count")? - p("freelist_count")?) * p("page_size")?;
    let (samples, events, event_bytes, minutes): (i64, i64, i64, i64) = c.query_row(
        "SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(count), 0) FROM sample_chunks),
                (SELECT count(*) FROM events), (SELECT coalesce(sum(length(data)), 0) FROM events),
                (SELECT count(*) FROM rollup_1m) + (SELECT coalesce(sum(count), 0) FROM rollup_1m_chunks)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    Ok(DbPoint {
        t: t0.elapsed().as_secs_f64(),
        used,
        samples: samples as f64,
        events: events as f64,
        event_bytes: event_bytes as f64,
        minutes: minutes as f64,
    })
}

/// Bytes the files under `dir` take on disk.
fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

/// Prometheus's blocks: (bytes, chunk bytes, samples, seconds covered).
fn prometheus_blocks(tsdb: &Path) -> (f64, f64, f64, f64) {
    let mut out = (0.0, 0.0, 0.0, 0.0);
    let Ok(entries) = std::fs::read_dir(tsdb) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("meta.json")) else {
            continue;
        };
        let Ok(meta) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let samples = meta["stats"]["numSamples"].as_f64().unwrap_or(0.0);
        let span = (meta["maxTime"].as_f64().unwrap_or(0.0)
            - meta["minTime"].as_f64().unwrap_or(0.0))
            / 1000.0;
        out.0 += dir_bytes(&e.path()) as f64;
        out.1 += dir_bytes(&e.path().join("chunks")) as f64;
        out.2 += samples;
        out.3 += span;
    }
    out
}

fn start_prometheus(dir: &Path, name: &str, yml: &str) -> Result<(Proc, PathBuf)> {
    let bin = which("prometheus").context("prometheus is not installed")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cfg = dir.join(format!("{name}-prometheus.yml"));
    std::fs::write(&cfg, yml)?;
    let tsdb = dir.join(format!("{name}-tsdb"));
    let log = std::fs::File::create(dir.join(format!("{name}-prometheus.log")))?;
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.min-block-duration=2m")
        .arg("--storage.tsdb.max-block-duration=2m")
        .arg("--storage.tsdb.retention.time=1d")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    Ok((Proc(child), tsdb))
}

/// One case: telltaled's config and Prometheus's, run side by side.
struct Case<'a> {
    label: &'a str,
    name: &'a str,
    feeds: usize,
    telltaled: String,
    /// Prometheus's config for the same targets, if it can scrape them.
    prometheus: Option<String>,
}

async fn measure(s: &mut Section, dir: &Path, o: &Opts, case: Case<'_>) -> Result<()> {
    let (tt, db, started) = telltaled(dir, case.name, &case.telltaled)?;
    let prom = match case
        .prometheus
        .as_deref()
        .map(|yml| start_prometheus(dir, case.name, yml))
    {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            s.note(format!(
                "{}: Prometheus's side was NOT measured: {e:#}",
                case.label
            ));
            None
        }
    };
    all_live(&db, case.feeds, started, Duration::from_secs(120)).await?;
    tokio::time::sleep(o.warmup).await;
    let t0 = Instant::now();
    let mut points = Vec::new();
    let mut prom_sizes = Vec::new();
    while t0.elapsed() < o.window {
        points.push(db_point(&db, t0)?);
        if let Some((_, tsdb)) = &prom {
            prom_sizes.push((t0.elapsed().as_secs_f64(), dir_bytes(tsdb) as f64));
        }
        tokio::time::sleep(Duration::from_secs(5).min(o.window)).await;
    }
    points.push(db_point(&db, t0)?);
    drop(tt);
    let prom_blocks = prom.as_ref().map(|(_, tsdb)| prometheus_blocks(tsdb));
    let prom_end = prom.as_ref().map(|(_, tsdb)| dir_bytes(tsdb) as f64);
    drop(prom);
    let (first, last) = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.t > a.t => (*a, *b),
        _ => bail!("no window measured"),
    };
    let secs = last.t - first.t;
    let samples_s = (last.samples - first.samples) / secs;
    let events_s = (last.events - first.events) / secs;
    let payload_s = (last.event_bytes - first.event_bytes) / secs;
    let minutes_s = (last.minutes - first.minutes) / secs;
    let used_slope = slope(&points.iter().map(|p| (p.t, p.used)).collect::<Vec<_>>());
    if samples_s <= 0.0 {
        s.fail(format!(
            "{}: telltaled stored no samples in the window",
            case.label
        ));
    }

    // What the running store makes of these samples within hours.
    let copy = dir.join(format!("{}-compacted.db", case.name));
    std::fs::copy(&db, &copy)?;
    let (per_sample, encoded, head, per_minute) = tokio::task::spawn_blocking(move || -> Result<(f64, f64, f64, f64)> {
        let store = Store::open_with(
            &copy,
            Default::default(),
            StoreOptions {
                retention_interval: None,
                compact_every: None,
                ..Default::default()
            },
        )?;
        store.compact_samples(Timestamp(Timestamp::now().0 + 3 * 3_600_000_000))?;
        drop(store);
        let c = rusqlite::Connection::open(&copy)?;
        let (pages, bytes, n, head): (i64, i64, i64, i64) = c.query_row(
            "SELECT (SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ('sample_chunks', 'sample_chunks_by_series')),
                    (SELECT coalesce(sum(length(data)), 0) FROM sample_chunks),
                    (SELECT coalesce(sum(count), 0) FROM sample_chunks),
                    (SELECT count(*) FROM samples)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        if n == 0 {
            bail!("compacting a copy of the database made no chunk");
        }
        let (minute_pages, minutes): (i64, i64) = c.query_row(
            "SELECT (SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ('rollup_1m_chunks', 'rollup_1m_chunks_by_series')),
                    (SELECT coalesce(sum(count), 0) FROM rollup_1m_chunks)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if minutes == 0 {
            bail!("compacting a copy of the database chunked no 1-minute rollup");
        }
        Ok((pages as f64 / n as f64, bytes as f64 / n as f64, head as f64, minute_pages as f64 / minutes as f64))
    })
    .await??;
    let day_samples = samples_s * DAY * per_sample;
    let day_payloads = (payload_s + events_s * EVENT_ROW_BYTES) * DAY;
    let day_rollups = minutes_s * DAY * (per_minute + ROLLUP_ROW_BYTES / 60.0);
    let day = day_samples + day_payloads + day_rollups;
    let key = case.name;
    let gb = |b: f64| format!("{} GB", fixed(b / 1e9, 2));
    s.row(vec![
        format!("{}: telltaled, steady day", case.label),
        gb(day),
        format!(
            "{} samples/s × {} B + payloads {} KB/s + {} minutes/s × ({} B + 1/60 of an hour row)",
            thousands(samples_s),
            fixed(per_sample, 2),
            fixed((payload_s + events_s * EVENT_ROW_BYTES) / 1e3, 1),
            fixed(minutes_s, 1),
            fixed(per_minute, 2)
        ),
    ]);
    let week = 7.0 * day + last.used;
    s.row(vec![
        format!("{}: telltaled, a week", case.label),
        gb(week),
        format!(
            "7 steady days + the {} MB at the window's end (samples {}, rollups {}, payloads {} a day)",
            fixed(last.used / 1e6, 1),
            gb(day_samples),
            gb(day_rollups),
            gb(day_payloads)
        ),
    ]);
    s.metric(&format!("{key}_telltaled_bytes_per_week"), week);
    s.metric(&format!("{key}_bytes_per_chunked_minute"), per_minute);
    if case.name == "node" {
        s.target(
            &format!("{}: {} hosts for a week", case.label, case.feeds),
            "≤ 1 GiB",
            gb(week),
            Some(week <= GIB),
        );
    }
    s.row(vec![
        format!("{}: telltaled, growth in the window", case.label),
        gb(used_slope * DAY),
        format!(
            "{} KB/s over {:.0} s (bytes in use, least squares), {} MB at the end; head {} samples uncompressed",
            fixed(used_slope / 1e3, 1),
            secs,
            fixed(last.used / 1e6, 1),
            thousands(head)
        ),
    ]);
    s.row(vec![
        format!("{}: telltaled, bytes per chunked sample", case.label),
        fixed(per_sample, 2),
        format!(
            "{} B encoded; on disk with its index and page space",
            fixed(encoded, 2)
        ),
    ]);
    s.row(vec![
        format!("{}: telltaled, bytes per chunked 1-minute rollup", case.label),
        fixed(per_minute, 2),
        "on disk with its index; the window's minutes make chunks far shorter than a steady 120, so this is an upper bound".into(),
    ]);
    s.metric(&format!("{key}_telltaled_bytes_per_day"), day);
    s.metric(&format!("{key}_telltaled_growth_bytes_per_s"), used_slope);
    s.metric(&format!("{key}_bytes_per_chunked_sample"), per_sample);
    s.metric(&format!("{key}_samples_per_s"), samples_s);
    s.target(
        &format!("{}: bytes per chunked sample", case.label),
        "≤ 2",
        fixed(per_sample, 2),
        Some(per_sample <= 2.0),
    );
    if let (Some((bytes, chunk_bytes, samples, covered)), Some(end)) = (prom_blocks, prom_end) {
        let growth = slope(&prom_sizes);
        s.row(vec![
            format!("{}: Prometheus, growth in the window", case.label),
            gb(growth * DAY),
            format!(
                "{} KB/s (data directory, least squares), {} MB at the end",
                fixed(growth / 1e3, 1),
                fixed(end / 1e6, 1)
            ),
        ]);
        if samples > 0.0 && covered > 0.0 {
            let prom_day = bytes / covered * DAY;
            s.row(vec![
                format!("{}: Prometheus, steady day (its blocks)", case.label),
                gb(prom_day),
                format!(
                    "{} samples/s; {} B/sample in blocks, {} B/sample of chunks alone",
                    thousands(samples / covered),
                    fixed(bytes / samples, 2),
                    fixed(chunk_bytes / samples, 2)
                ),
            ]);
            s.metric(&format!("{key}_prometheus_bytes_per_day"), prom_day);
            s.metric(
                &format!("{key}_prometheus_bytes_per_sample"),
                bytes / samples,
            );
            s.target(
                &format!("{}: a day on disk, default settings", case.label),
                "≤ Prometheus",
                format!("{} vs {}", gb(day), gb(prom_day)),
                Some(day <= prom_day),
            );
        } else {
            s.note(format!(
                "{}: Prometheus cut no block within the window (it needs 3 minutes of data)",
                case.label
            ));
        }
    }
    Ok(())
}

/// Runs the scenario.
pub async fn run(o: Opts) -> Section {
    let mut s = Section::new(
        7,
        "Storage: a day on disk with the default settings, beside Prometheus",
        &["measurement", "value", "notes"],
    );
    if let Err(e) = inner(&mut s, o).await {
        s.fail(format!("{e:#}"));
    }
    s
}

async fn inner(s: &mut Section, o: Opts) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sim = crate::fleet::quiet_sim(o.feeds).await?;
    let base = sim.base_url();
    let a = Case {
        label: "(a) Prometheus text, 1 s",
        name: "prom",
        feeds: o.feeds,
        telltaled: crate::fleet::prom_config(&base, o.feeds, ""),
        prometheus: Some(crate::fleet::prometheus_yml(
            &sim.addr().to_string(),
            o.feeds,
        )),
    };
    let r = measure(s, dir.path(), &o, a).await;
    sim.shutdown().await;
    r?;
    node_case(s, dir.path(), &o).await?;
    // (c) The desktop's demo fleet as *Add demo fleet* starts it: JSON over
    // WebSocket, SSE and polling, every payload stored (the default for
    // JSON), the scripted incident on host-3.
    let sim = telltale_sim::Sim::start(telltale_sim::SimConfig {
        hosts: 5,
        incident: Some(telltale_sim::Incident {
            host: "host-3".into(),
            start_after: Duration::from_secs(45),
            ramp: Duration::from_secs(20),
            hold: Duration::from_secs(60),
        }),
        record: 0,
        ..Default::default()
    })
    .await?;
    let toml = telltale_sim::feeds_toml(&sim.base_url(), 5);
    let c = Case {
        label: "(c) the demo fleet",
        name: "demo",
        feeds: toml.matches("[[feed]]").count(),
        telltaled: toml,
        prometheus: None,
    };
    let r = measure(s, dir.path(), &o, c).await;
    sim.shutdown().await;
    r?;
    s.note(format!(
        "Each case: warm-up {} s after every feed is live, then a {} s window. A day = samples/day × bytes per chunked sample + minutes/day × bytes per chunked minute + an hour row per 60 minutes + payloads (telltaled; the head of recent samples is a constant, not growth) or the blocks' bytes per second covered × 86,400 (Prometheus, 2-minute blocks: each block repeats its index, so this overstates a default 2-hour block's day). A week = 7 days + the bytes in use at the window's end.",
        o.warmup.as_secs(),
        o.window.as_secs()
    ));
    Ok(())
}

/// (b): a real `prometheus-node-exporter`, 100 feeds of it at 15 s.
async fn node_case(s: &mut Section, dir: &Path, o: &Opts) -> Result<()> {
    let Some(exporter) = which("prometheus-node-exporter") else {
        s.note("(b) was NOT measured: `prometheus-node-exporter` is not installed.");
        return Ok(());
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let node = Proc(
        Command::new(exporter)
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let url = format!("http://{addr}/metrics");
    let mut body = None;
    for _ in 0..50 {
        if let Ok(r) = reqwest::get(&url).await {
            if let Ok(t) = r.text().await {
                body = Some(t);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = body.context("prometheus-node-exporter did not answer")?;
    let series = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    s.note(format!(
        "(b) serves a real `prometheus-node-exporter` body of {} KB with {series} series; telltaled keeps the {} families its rules name, Prometheus all of them.",
        body.len() / 1000,
        NODE_RULES.len()
    ));
    let b = Case {
        label: "(b) node_exporter, 15 s",
        name: "node",
        feeds: o.node_feeds,
        telltaled: node_config(&url, o.node_feeds),
        prometheus: Some(node_prometheus_yml(&addr, o.node_feeds)),
    };
    let r = measure(s, dir, o, b).await;
    drop(node);
    r
}
