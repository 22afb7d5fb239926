//! Scenario 6: desktop footprint. The app (`telltale`, with
//! `TELLTALE_DEMO=1` so the demo fleet runs without a click) and a blank
//! Tauri window (`telltale-blank-window`, same Tauri build) each run under
//! their own `dbus-run-session` on one Xvfb display; the footprint is the
//! PSS (`/proc/PID/smaps_rollup`) summed over the process and all its
//! descendants (WebKit's web and network processes).

use crate::report::Section;
use crate::util::{fixed, mib, pss_bytes, which, workspace_bin};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Scenario sizes.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Time with the demo fleet running before measuring.
    pub settle: Duration,
    /// Growth run length after that (zero: none).
    pub growth: Duration,
}

/// A child process group stopped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        for pid in descendants(self.0.id()).into_iter().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        crate::util::stop_gracefully(&mut self.0, Duration::from_secs(10));
    }
}

/// (pid, parent, command name) of every process.
fn processes() -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map(|x| x.1).unwrap_or("").to_string();
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        out.push((pid, ppid, name));
    }
    out
}

/// Every descendant of `root`, parents first.
fn descendants(root: u32) -> Vec<u32> {
    let procs = processes();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, ppid, _) in &procs {
        children.entry(*ppid).or_default().push(*pid);
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for c in children.get(&p).into_iter().flatten() {
            out.push(*c);
            stack.push(*c);
        }
    }
    out
}

/// PSS of the app's tree under `session` (skipping the D-Bus daemon), by
/// process name.
fn tree_pss(session: u32) -> Vec<(String, u64)> {
    let names: HashMap<u32, String> = processes().into_iter().map(|(p, _, n)| (p, n)).collect();
    descendants(session)
        .into_iter()
        .filter_map(|pid| {
            let name = names.get(&pid)?.clone();
            if name.starts_with("dbus") {
                return None;
            }
            Some((name, pss_bytes(pid)?))
        })
        .collect()
}

fn launch(bin: &Path, display: &str, home: &Path, env: &[(&str, String)]) -> Result<Proc> {
    std::fs::create_dir_all(home)?;
    let mut cmd = Command::new("dbus-run-session");
    cmd.arg("--")
        .arg(bin)
        .env("DISPLAY", display)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(home.join("stderr.log"))?);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(Proc(
        cmd.spawn()
            .with_context(|| format!("starting {}", bin.display()))?,
    ))
}

/// Waits until the tree has a WebKit web process, then `settle`; returns
/// the PSS per process name (summed) and the total.
async fn measure(p: &Proc, settle: Duration) -> Result<(u64, Vec<(String, u64)>)> {
    let t0 = Instant::now();
    loop {
        let tree = tree_pss(p.0.id());
        if tree.iter().any(|(n, _)| n.starts_with("WebKitWebProces")) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            bail!("no WebKit web process after 60 s (tree: {tree:?})");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(settle).await;
    Ok(sum(tree_pss(p.0.id())))
}

fn sum(tree: Vec<(String, u64)>) -> (u64, Vec<(String, u64)>) {
    let mut by: Vec<(String, u64)> = Vec::new();
    for (n, b) in tree {
        match by.iter_mut().find(|(m, _)| *m == n) {
            Some(e) => e.1 += b,
            None => by.push((n, b)),
        }
    }
    (by.iter().map(|(_, b)| b).sum(), by)
}

fn describe(parts: &[(String, u64)]) -> String {
    parts
        .iter()
        .map(|(n, b)| format!("{n} {} MiB", fixed(mib(*b as f64), 0)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the scenario.
pub async fn run(o: Opts) -> Section {
    let mut s = Section::new(
        6,
        "Desktop footprint (PSS of the app and its WebKit processes)",
        &["process tree", "total PSS", "by process"],
    );
    if let Err(e) = inner(&mut s, o).await {
        s.fail(format!("{e:#}"));
    }
    s
}

async fn inner(s: &mut Section, o: Opts) -> Result<()> {
    if which("Xvfb").is_none() || which("dbus-run-session").is_none() {
        bail!("needs Xvfb and dbus-run-session (`apt-get install -y xvfb dbus`)");
    }
    let app = workspace_bin("telltale")?;
    let blank = workspace_bin("telltale-blank-window")?;
    let dir = tempfile::tempdir()?;
    let display = format!(":{}", 90 + std::process::id() % 100);
    let xvfb = Proc(
        Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1600x1000x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb")?,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Baseline: the blank window.
    let base_settle = o.settle.min(Duration::from_secs(30));
    let (base, base_parts) = {
        let p = launch(&blank, &display, &dir.path().join("blank"), &[])?;
        measure(&p, base_settle).await?
    };
    s.row(vec![
        "blank Tauri window (baseline)".into(),
        format!("{} MiB", fixed(mib(base as f64), 1)),
        describe(&base_parts),
    ]);

    // The app with the demo fleet.
    let home = dir.path().join("app");
    let db = home.join("telltale.db");
    std::fs::create_dir_all(&home)?;
    let p = launch(
        &app,
        &display,
        &home,
        &[
            ("TELLTALE_DB", db.display().to_string()),
            ("TELLTALE_DEMO", "1".into()),
        ],
    )?;
    let (total, parts) = measure(&p, o.settle).await?;
    s.row(vec![
        format!("Telltale app, demo fleet running {} s", o.settle.as_secs()),
        format!("{} MiB", fixed(mib(total as f64), 1)),
        describe(&parts),
    ]);
    let ratio = total as f64 / base as f64;
    s.metric("blank_pss_mib", mib(base as f64));
    s.metric("app_pss_mib", mib(total as f64));
    s.metric("ratio", ratio);
    s.target(
        "app with demo fleet vs blank window, PSS",
        "≤ 1.3 ×",
        format!("{} ×", fixed(ratio, 2)),
        Some(ratio <= 1.3),
    );
    // The demo fleet must really be stored, or the footprint means little.
    let events =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
    if events == 0 {
        s.fail("the app stored no event from the demo fleet");
    }
    s.note(format!(
        "Under Xvfb {display}, each under its own dbus-run-session; PSS summed over the process and its descendants (the D-Bus daemon excluded). The blank window settles {} s. The app had stored {events} events when measured.",
        base_settle.as_secs()
    ));

    if !o.growth.is_zero() {
        let step = (o.growth / 20).max(Duration::from_secs(5));
        let t0 = Instant::now();
        let mut points: Vec<(f64, f64)> = vec![(0.0, mib(total as f64))];
        let mut last_parts = parts.clone();
        while t0.elapsed() < o.growth {
            tokio::time::sleep(step).await;
            let (t, by) = sum(tree_pss(p.0.id()));
            points.push((t0.elapsed().as_secs_f64() / 60.0, mib(t as f64)));
            last_parts = by;
        }
        let n = points.len() as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let first = points.first().map(|p| p.1).unwrap_or(0.0);
        let last = points.last().map(|p| p.1).unwrap_or(0.0);
        let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
        s.row(vec![
            format!(
                "growth over {} min",
                fixed(o.growth.as_secs_f64() / 60.0, 0)
            ),
            format!("{} → {} MiB", fixed(first, 1), fixed(last, 1)),
            format!(
                "max {} MiB; trend {} MiB/hour over {} samples; at the end: {}",
                fixed(max, 1),
                fixed(slope * 60.0, 1),
                points.len(),
                describe(&last_parts)
            ),
        ]);
        s.metric("growth_minutes", o.growth.as_secs_f64() / 60.0);
        s.metric("growth_first_mib", first);
        s.metric("growth_last_mib", last);
        s.metric("growth_trend_mib_per_hour", slope * 60.0);
        s.target(
            "growth with the demo fleet",
            "no trend",
            format!("{} MiB/hour", fixed(slope * 60.0, 1)),
            Some(slope * 60.0 < 5.0),
        );
    } else {
        s.note("No growth run at this scale (`--growth-minutes N`; full scale: 30).");
    }
    drop(p);
    drop(xvfb);
    Ok(())
}
