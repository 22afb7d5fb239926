//! Scenario 3: many feeds at 1 msg/s each against an in-process
//! `telltale-sim`, watched from outside `telltaled`'s process.
//!
//! * Mixed: a third each of WebSocket, SSE and 1-second polls (JSON,
//!   3 metrics). Reports steady-state RSS, CPU, time until all feeds are
//!   live, and the p99 scheduling drift of the polls.
//! * Peer: `telltaled` polling the same hosts' Prometheus text every second
//!   next to Prometheus scraping them every second, both measured over the
//!   same window.

use crate::report::Section;
use crate::util::{fixed, mib, quantile, usage, which, workspace_bin, Usage};
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use telltale_sim::{Sim, SimConfig};

/// Scenario sizes.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Number of feeds (hosts).
    pub feeds: usize,
    /// Time after all are live before measuring.
    pub warmup: Duration,
    /// Measurement window.
    pub window: Duration,
}

const METRICS: &str = r#"
[[feed.metric]]
name = "cpu"
pointer = "/cpu"

[[feed.metric]]
name = "mem"
pointer = "/mem"

[[feed.metric]]
name = "disk"
pointer = "/disk"
"#;

const PROM_METRICS: &str = r#"
[[feed.metric]]
name = "cpu"
prometheus = "node_cpu_usage_percent"

[[feed.metric]]
name = "mem"
prometheus = "node_memory_usage_percent"

[[feed.metric]]
name = "disk"
prometheus = "node_disk_usage_percent"
"#;

fn mixed_config(base: &str, ws: &str, n: usize) -> String {
    let mut s = String::new();
    for i in 1..=n {
        let host = format!("host-{i}");
        let _ = match i % 3 {
            0 => write!(
                s,
                "[[feed]]\nname = \"ws-{i}\"\ntransport = \"websocket\"\nurl = \"{ws}/ws?host={host}\"\n{METRICS}\n"
            ),
            1 => write!(
                s,
                "[[feed]]\nname = \"sse-{i}\"\ntransport = \"sse\"\nurl = \"{base}/sse?host={host}\"\n{METRICS}\n"
            ),
            _ => write!(
                s,
                "[[feed]]\nname = \"poll-{i}\"\ntransport = \"poll\"\nurl = \"{base}/poll/{host}\"\n{METRICS}\n[feed.poll]\ninterval = \"1s\"\ntimeout = \"1s\"\nconditional = false\n\n"
            ),
        };
    }
    s
}

/// Every scrape's payload is stored (`payloads = "all"`), as in the runs
/// recorded before payload policies: the poll drift is read from the stored
/// responses. The default for Prometheus text stores far fewer.
/// `n` feeds polling the sim's Prometheus text every second; `payloads`
/// is the feed's line for it (empty: the default policy).
pub(crate) fn prom_config(base: &str, n: usize, payloads: &str) -> String {
    let mut s = String::new();
    for i in 1..=n {
        let _ = write!(
            s,
            "[[feed]]\nname = \"prom-{i}\"\ntransport = \"poll\"\nurl = \"{base}/metrics/host-{i}\"\nformat = \"prometheus\"\n{payloads}\n{PROM_METRICS}\n[feed.poll]\ninterval = \"1s\"\ntimeout = \"1s\"\nconditional = false\n\n"
        );
    }
    s
}

pub(crate) fn prometheus_yml(addr: &str, n: usize) -> String {
    let mut s = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1m\nscrape_configs:\n  - job_name: sim\n    static_configs:\n",
    );
    for i in 1..=n {
        let _ = writeln!(
            s,
            "      - targets: ['{addr}']\n        labels: {{__metrics_path__: '/metrics/host-{i}', host: 'host-{i}'}}"
        );
    }
    s
}

/// The sim with `hosts` hosts at 1 msg/s, recording nothing: the bench
/// reads no records, and 1,000 requests a second would fill them.
pub(crate) async fn quiet_sim(hosts: usize) -> Result<telltale_sim::SimHandle> {
    Ok(Sim::start(SimConfig {
        hosts,
        rate: 1.0,
        incident: None,
        record: 0,
        ..Default::default()
    })
    .await?)
}

/// A child process that is stopped (SIGTERM, then waited for) on drop.
pub(crate) struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        crate::util::stop_gracefully(&mut self.0, Duration::from_secs(20));
    }
}

pub(crate) fn telltaled(dir: &Path, name: &str, config: &str) -> Result<(Proc, PathBuf, i64)> {
    let bin = workspace_bin("telltaled")?;
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, config)?;
    let db = dir.join(format!("{name}.db"));
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let started = crate::util::now_us();
    let child = Command::new(&bin)
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok((Proc(child), db, started))
}

/// Waits until `n` feeds have reported `live`; returns the time from
/// `started` to the last one's first `live` (from the feeds' timelines).
pub(crate) async fn all_live(db: &Path, n: usize, started: i64, limit: Duration) -> Result<f64> {
    let t0 = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = (|| -> rusqlite::Result<(i64, Option<i64>)> {
            let c = rusqlite::Connection::open_with_flags(
                db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            c.busy_timeout(Duration::from_secs(2))?;
            c.query_row(
                "SELECT count(*), max(t) FROM (SELECT min(ts) AS t FROM feed_states WHERE state = 'live' GROUP BY feed_id)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })();
        if let Ok((count, Some(last))) = got {
            if count as usize >= n {
                return Ok((last - started) as f64 / 1e6);
            }
        }
        if t0.elapsed() > limit {
            bail!(
                "after {limit:?} only {:?} of {n} feeds were live",
                got.ok().map(|g| g.0)
            );
        }
    }
}

/// Per-feed event counts and the p99 |interval − 1 s| of poll feeds since `from`.
fn poll_drift(db: &Path, from: i64) -> Result<(f64, usize, i64)> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.busy_timeout(Duration::from_secs(5))?;
    let mut st = c.prepare(
        "SELECT e.feed_id, e.received_at FROM events e JOIN feeds f ON f.id = e.feed_id
         WHERE (f.name LIKE 'poll-%' OR f.name LIKE 'prom-%') AND e.received_at >= ?1
         ORDER BY e.feed_id, e.received_at",
    )?;
    let mut rows = st.query([from])?;
    let mut drift = Vec::new();
    let mut prev: Option<(i64, i64)> = None;
    while let Some(r) = rows.next()? {
        let (f, t): (i64, i64) = (r.get(0)?, r.get(1)?);
        if let Some((pf, pt)) = prev {
            if pf == f {
                drift.push(((t - pt) as f64 / 1000.0 - 1000.0).abs());
            }
        }
        prev = Some((f, t));
    }
    let without: i64 = c.query_row(
        "SELECT count(*) FROM feeds f WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.feed_id = f.id)",
        [],
        |r| r.get(0),
    )?;
    let n = drift.len();
    Ok((quantile(&mut drift, 0.99), n, without))
}

fn usage_cells(u: &Option<Usage>) -> (String, String) {
    match u {
        Some(u) => (
            format!(
                "{} MiB (max {})",
                fixed(mib(u.rss_mean), 1),
                fixed(mib(u.rss_max), 1)
            ),
            format!("{} %", fixed(u.cpu_pct, 1)),
        ),
        None => ("n/a".into(), "n/a".into()),
    }
}

/// Runs both parts.
pub async fn run(o: Opts) -> Section {
    let mut s = Section::new(
        3,
        &format!("Many feeds: {} feeds at 1 msg/s", o.feeds),
        &[
            "process",
            "feeds",
            "RSS (mean over window)",
            "CPU (% of one core)",
            "all live after",
            "poll drift p99",
        ],
    );
    if let Err(e) = inner(&mut s, o).await {
        s.fail(format!("{e:#}"));
    }
    s
}

async fn inner(s: &mut Section, o: Opts) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sim = quiet_sim(o.feeds).await?;
    let base = sim.base_url();
    let n = o.feeds;

    // Part 1: the mix.
    let (proc_, db, started) =
        telltaled(dir.path(), "mixed", &mixed_config(&base, &sim.ws_url(), n))?;
    let live = all_live(&db, n, started, Duration::from_secs(120)).await?;
    tokio::time::sleep(o.warmup).await;
    let from = crate::util::now_us();
    let u = usage(proc_.0.id(), o.window).await;
    let (drift, intervals, silent) = poll_drift(&db, from)?;
    drop(proc_);
    let (rss, cpu) = usage_cells(&u);
    s.row(vec![
        "telltaled (WS + SSE + 1 s polls, JSON)".into(),
        n.to_string(),
        rss,
        cpu,
        format!("{} s", fixed(live, 2)),
        format!("{} ms ({intervals} intervals)", fixed(drift, 1)),
    ]);
    if silent > 0 {
        s.fail(format!("{silent} of {n} mixed feeds stored no event"));
    }
    if let Some(u) = u {
        s.metric("mixed_rss_mib", mib(u.rss_mean));
        s.metric("mixed_cpu_pct", u.cpu_pct);
        if n >= 1000 {
            s.target(
                "RSS, 1,000 feeds",
                "≤ 100 MB",
                format!("{} MiB", fixed(mib(u.rss_mean), 1)),
                Some(u.rss_mean <= 100e6),
            );
            s.target(
                "CPU, 1,000 feeds",
                "≤ 10 % of one core",
                format!("{} %", fixed(u.cpu_pct, 1)),
                Some(u.cpu_pct <= 10.0),
            );
        }
    }
    s.metric("all_live_s", live);
    s.metric("poll_drift_p99_ms", drift);
    if n >= 1000 {
        s.target(
            "all feeds live",
            "≤ 10 s",
            format!("{} s", fixed(live, 2)),
            Some(live <= 10.0),
        );
    }

    // Part 2: the Prometheus peer.
    let (proc_, db, started) = telltaled(
        dir.path(),
        "prom",
        &prom_config(&base, n, "payloads = \"all\""),
    )?;
    let prom = match which("prometheus") {
        Some(bin) => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let yml = dir.path().join("prometheus.yml");
            std::fs::write(&yml, prometheus_yml(&sim.addr().to_string(), n))?;
            let log = std::fs::File::create(dir.path().join("prometheus.log"))?;
            let child = Command::new(bin)
                .arg(format!("--config.file={}", yml.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--storage.tsdb.retention.time=1h")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()?;
            Some((Proc(child), port))
        }
        None => {
            s.note("Prometheus is not installed (`apt-get install -y prometheus`): its side of the comparison was NOT measured.");
            None
        }
    };
    let live_p = all_live(&db, n, started, Duration::from_secs(120)).await?;
    tokio::time::sleep(o.warmup).await;
    let from = crate::util::now_us();
    let tt = usage(proc_.0.id(), o.window);
    let pr = async {
        match &prom {
            Some((p, _)) => usage(p.0.id(), o.window).await,
            None => None,
        }
    };
    let (ut, up) = tokio::join!(tt, pr);
    let (drift_p, intervals_p, silent_p) = poll_drift(&db, from)?;
    let up_count = match &prom {
        Some((_, port)) => prom_up(*port).await.ok(),
        None => None,
    };
    drop(proc_);
    drop(prom);
    if silent_p > 0 {
        s.fail(format!(
            "{silent_p} of {n} Prometheus-format feeds stored no event"
        ));
    }
    let (rss, cpu) = usage_cells(&ut);
    s.row(vec![
        "telltaled (1 s polls, Prometheus text)".into(),
        n.to_string(),
        rss,
        cpu,
        format!("{} s", fixed(live_p, 2)),
        format!("{} ms ({intervals_p} intervals)", fixed(drift_p, 1)),
    ]);
    let (rss, cpu) = usage_cells(&up);
    s.row(vec![
        "Prometheus 2.42 (1 s scrapes, same endpoints, same window)".into(),
        format!(
            "{} ({} up)",
            n,
            up_count
                .map(|c| c.to_string())
                .unwrap_or_else(|| "?".into())
        ),
        rss,
        cpu,
        "".into(),
        "".into(),
    ]);
    if let Some(u) = ut {
        s.metric("prom_feeds_telltaled_rss_mib", mib(u.rss_mean));
        s.metric("prom_feeds_telltaled_cpu_pct", u.cpu_pct);
        if let Some(p) = up {
            s.metric("prometheus_rss_mib", mib(p.rss_mean));
            s.metric("prometheus_cpu_pct", p.cpu_pct);
            s.target(
                "below Prometheus on RSS and CPU",
                "telltaled < Prometheus",
                format!(
                    "RSS {} vs {} MiB, CPU {} vs {} %",
                    fixed(mib(u.rss_mean), 1),
                    fixed(mib(p.rss_mean), 1),
                    fixed(u.cpu_pct, 1),
                    fixed(p.cpu_pct, 1)
                ),
                Some(u.rss_mean < p.rss_mean && u.cpu_pct < p.cpu_pct),
            );
        }
    }
    s.note(format!(
        "telltale-sim (in the bench process) serves {n} hosts at 1 msg/s; telltaled runs as its own process (release build, `telltaled run --config`), measured from /proc: RSS sampled every second over a {} s window that starts {} s after all feeds are live; CPU = (utime + stime) over the window. Live times come from the feeds' timelines (first `live` of the last feed, from process start). Poll drift = |interval between consecutive stored poll responses − 1 s|. Polls are unconditional (no ETag) so every poll stores an event; every feed is checked to have stored events.",
        o.window.as_secs(),
        o.warmup.as_secs()
    ));
    s.note("Reference from the issue: Prometheus 2.42 ≈ 125 MB RSS, 19 % of one core for 1,000 small targets at 1 s.");
    sim.shutdown().await;
    Ok(())
}

async fn prom_up(port: u16) -> Result<u64> {
    let v = reqwest::get(format!(
        "http://127.0.0.1:{port}/api/v1/query?query=count(up%3D%3D1)"
    ))
    .await?
    .text()
    .await?;
    let v: serde_json::Value = serde_json::from_str(&v)?;
    let n = v
        .pointer("/data/result/0/value/1")
        .and_then(|x| x.as_str())
        .and_then(|x| x.parse().ok())
        .context("no answer")?;
    Ok(n)
}
