//! Small helpers: percentiles, number formatting, /proc readings, payloads.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The `q` quantile (0..=1) of `v`, sorting it; NaN when empty.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

/// `1234567.0` → `1,234,567`.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let n = v.round() as i64;
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A float with `d` decimals, or `n/a`.
pub fn fixed(v: f64, d: usize) -> String {
    if v.is_finite() {
        format!("{v:.d$}")
    } else {
        "n/a".into()
    }
}

/// Milliseconds of a duration as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident set size of a process in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// Proportional set size of a process in bytes (`/proc/PID/smaps_rollup`).
pub fn pss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb = s
        .lines()
        .find(|l| l.starts_with("Pss:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// User + system CPU time of a process (all its threads).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line (11th and 12th after it).
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Samples a process's RSS and CPU over a window.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Mean RSS over the window, bytes.
    pub rss_mean: f64,
    /// Largest RSS seen, bytes.
    pub rss_max: f64,
    /// CPU over the window, percent of one core.
    pub cpu_pct: f64,
}

/// Watches `pid` for `window`, sampling RSS every second.
pub async fn usage(pid: u32, window: Duration) -> Option<Usage> {
    let t0 = std::time::Instant::now();
    let c0 = cpu_time(pid)?;
    let mut rss = Vec::new();
    while t0.elapsed() < window {
        if let Some(r) = rss_bytes(pid) {
            rss.push(r as f64);
        }
        tokio::time::sleep(Duration::from_secs(1).min(window)).await;
    }
    let c1 = cpu_time(pid)?;
    let elapsed = t0.elapsed().as_secs_f64();
    let mean = rss.iter().sum::<f64>() / rss.len().max(1) as f64;
    let max = rss.iter().copied().fold(0.0, f64::max);
    Some(Usage {
        rss_mean: mean,
        rss_max: max,
        cpu_pct: 100.0 * (c1 - c0).as_secs_f64() / elapsed,
    })
}

/// MiB from bytes.
pub fn mib(b: f64) -> f64 {
    b / (1024.0 * 1024.0)
}

/// The directory of this executable (where `cargo build` put the other
/// binaries of the workspace).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

/// A workspace binary next to this one, or an explanation of how to build it.
pub fn workspace_bin(name: &str) -> anyhow::Result<PathBuf> {
    let p = bin_dir().join(name);
    if p.exists() {
        Ok(p)
    } else {
        let profile = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        anyhow::bail!(
            "{} is missing: build it first with `cargo build{profile} -p {}`",
            p.display(),
            if name == "telltale" {
                "telltale-desktop"
            } else {
                name
            }
        )
    }
}

/// A program on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// A health message of about 200 bytes, like a server agent's, with the
/// send time `ts` in µs since the epoch.
pub fn payload(seq: u64, ts_us: i64) -> String {
    let cpu = fastrand::f64() * 100.0;
    let mem = 20.0 + fastrand::f64() * 60.0;
    let disk = 40.0 + fastrand::f64() * 50.0;
    let load = fastrand::f64() * 4.0;
    let lat = 5.0 + fastrand::f64() * 40.0;
    format!(
        r#"{{"host":"bench-{h}","seq":{seq},"ts":{ts_us},"cpu":{cpu:.1},"mem":{mem:.1},"disk":{disk:.1},"load":{load:.2},"latency_ms":{lat:.1},"status":"ok","region":"eu-west-1","agent":"telltale-bench/1"}}"#,
        h = seq % 7
    )
}

/// Reads `"ts":<digits>` from a payload without a JSON parser.
pub fn payload_ts(data: &str) -> Option<i64> {
    let i = data.find("\"ts\":")? + 5;
    let digits: String = data[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Sends SIGTERM to `child`, waits up to `grace` for it to exit, then kills
/// it. The bench's process guards call this on drop.
pub fn stop_gracefully(child: &mut std::process::Child, grace: Duration) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A store for a bench database: no automatic retention, so that nothing
/// is deleted while it is measured.
pub fn bench_store(path: &std::path::Path) -> anyhow::Result<telltale_store::Store> {
    Ok(telltale_store::Store::open_with(
        path,
        Default::default(),
        telltale_store::StoreOptions {
            retention_interval: None,
            ..Default::default()
        },
    )?)
}
