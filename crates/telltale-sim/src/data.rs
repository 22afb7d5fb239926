//! The deterministic host-health generator.
//!
//! Every value is a pure function of `(seed, host_index, seq)`, plus the
//! incident curve, which is a pure function of the elapsed time since the sim
//! started. Values follow smooth pseudo-random walks (layered value noise), so
//! consecutive samples look like a real machine rather than white noise, and
//! any sample can be computed on its own: replaying seq 1..N needs no history.

use crate::{Incident, SimConfig};
use std::fmt::Write as _;
use std::time::Duration;

/// CPU percentage the incident host reaches at the top of the incident.
pub const INCIDENT_PEAK_CPU: f64 = 97.0;

/// CPU percentage above which a host reports `"status":"degraded"`.
pub const DEGRADED_CPU: f64 = 90.0;

/// One host's health at one sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSample {
    /// `host-1`, `host-2`, …
    pub host: String,
    /// Per-host, per-stream sequence number, starting at 1.
    pub seq: u64,
    /// CPU usage in percent (5–60 normally; up to ~97 during the incident).
    pub cpu: f64,
    /// Memory usage in percent (30–80).
    pub mem: f64,
    /// Disk usage in percent (40–90, slowly rising, with the odd clean-up).
    pub disk: f64,
    /// One-minute load average (0–4 normally).
    pub load: f64,
    /// Probe latency in milliseconds (5–80 normally).
    pub latency_ms: f64,
    /// `"ok"`, or `"degraded"` while `cpu > 90`.
    pub status: &'static str,
}

impl HostSample {
    /// Compact JSON, e.g.
    /// `{"host":"host-1","seq":42,"ts":1764090000123,"cpu":12.3,"mem":45.6,"disk":70.1,"load":0.8,"latency_ms":23.4,"status":"ok"}`.
    pub fn to_json(&self, ts_ms: u64) -> String {
        let mut s = String::with_capacity(160);
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            r#"{{"host":"{}","seq":{},"ts":{},"cpu":{:.1},"mem":{:.1},"disk":{:.1},"load":{:.1},"latency_ms":{:.1},"status":"{}"}}"#,
            self.host,
            self.seq,
            ts_ms,
            self.cpu,
            self.mem,
            self.disk,
            self.load,
            self.latency_ms,
            self.status
        );
        s
    }

    /// Prometheus text exposition (format 0.0.4) of this sample, with
    /// `# HELP` and `# TYPE` lines: `node_cpu_usage_percent`,
    /// `node_memory_usage_percent`, `node_disk_usage_percent`, `node_load1`,
    /// `probe_latency_ms`, `telltale_sim_degraded` (0/1) and the counter
    /// `telltale_sim_seq`, each labelled `{host="host-N"}`.
    pub fn to_prometheus(&self) -> String {
        let h = &self.host;
        let mut s = String::with_capacity(1024);
        let gauges: [(&str, &str, f64); 5] = [
            ("node_cpu_usage_percent", "CPU usage in percent.", self.cpu),
            (
                "node_memory_usage_percent",
                "Memory usage in percent.",
                self.mem,
            ),
            (
                "node_disk_usage_percent",
                "Root filesystem usage in percent.",
                self.disk,
            ),
            ("node_load1", "One-minute load average.", self.load),
            (
                "probe_latency_ms",
                "Health probe latency in milliseconds.",
                self.latency_ms,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = write!(
                s,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{host=\"{h}\"}} {v:.1}\n"
            );
        }
        let degraded = u8::from(self.status != "ok");
        let _ = write!(
            s,
            "# HELP telltale_sim_degraded 1 while the host reports status degraded.\n\
             # TYPE telltale_sim_degraded gauge\n\
             telltale_sim_degraded{{host=\"{h}\"}} {degraded}\n\
             # HELP telltale_sim_seq Sequence number of this sample.\n\
             # TYPE telltale_sim_seq counter\n\
             telltale_sim_seq{{host=\"{h}\"}} {}\n",
            self.seq
        );
        s
    }
}

/// The name of the host at `host_index` (0-based): index 0 is `host-1`.
pub fn host_name(host_index: usize) -> String {
    format!("host-{}", host_index + 1)
}

/// The deterministic data generator.
///
/// `host_index` is 0-based (`0` is `host-1`), `seq` starts at 1, `elapsed` is
/// the time since the sim started and only matters for the incident host
/// (see [`incident_level`]). Values depend on `cfg.seed`, `host_index` and
/// `seq` only; all are rounded to one decimal.
pub fn sample(host_index: usize, seq: u64, elapsed: Duration, cfg: &SimConfig) -> HostSample {
    let host = host_name(host_index);
    let key = Key {
        seed: cfg.seed,
        host: host_index as u64,
    };
    let x = seq as f64;

    let mut cpu = 5.0 + 55.0 * stretch(key.noise(CH_CPU, x, 30.0)) + key.jitter(CH_CPU_J, seq, 1.5);
    cpu = cpu.clamp(5.0, 60.0);

    let mem = (30.0 + 50.0 * stretch(key.noise(CH_MEM, x, 180.0)) + key.jitter(CH_MEM_J, seq, 0.4))
        .clamp(30.0, 80.0);

    // Disk: a per-host baseline, a slow rise, and a clean-up when it nears
    // the top (a sawtooth), plus a little wobble.
    let base = 45.0 + 15.0 * key.unit(CH_DISK, 0);
    let span = 87.0 - base;
    let disk =
        (base + (0.002 * x) % span + 1.5 * (key.noise(CH_DISK, x, 60.0) - 0.5)).clamp(40.0, 90.0);

    let mut latency =
        5.0 + 75.0 * key.noise(CH_LAT, x, 20.0).powi(2) + key.jitter(CH_LAT_J, seq, 2.0);
    latency = latency.clamp(5.0, 80.0);

    let mut level = 0.0;
    if let Some(inc) = &cfg.incident {
        if inc.host == host {
            level = incident_level(inc, elapsed);
        }
    }
    if level > 0.0 {
        let peak = INCIDENT_PEAK_CPU + key.jitter(CH_CPU_J, seq, 0.5);
        cpu += (peak - cpu) * level;
        latency += 150.0 * level;
    }
    let cpu = round1(cpu);

    let load_noise = 1.2 * key.noise(CH_LOAD, x, 15.0);
    let load = if level > 0.0 {
        (cpu / 25.0 + load_noise).clamp(0.0, 8.0)
    } else {
        (cpu / 25.0 + load_noise).clamp(0.0, 4.0)
    };

    HostSample {
        host,
        seq,
        cpu,
        mem: round1(mem),
        disk: round1(disk),
        load: round1(load),
        latency_ms: round1(latency),
        status: if cpu > DEGRADED_CPU { "degraded" } else { "ok" },
    }
}

/// How far into the incident the sim is at `elapsed`, from 0 (no incident)
/// to 1 (peak).
///
/// Zero until `start_after`, then rises linearly to 1 over `ramp`, stays at 1
/// for `hold`, falls linearly back to 0 over `ramp`, and stays 0 afterwards.
/// The incident host's CPU is `normal + (97 - normal) * level`.
pub fn incident_level(inc: &Incident, elapsed: Duration) -> f64 {
    let Some(t) = elapsed.checked_sub(inc.start_after) else {
        return 0.0;
    };
    let t = t.as_secs_f64();
    let ramp = inc.ramp.as_secs_f64();
    let hold = inc.hold.as_secs_f64();
    if t < ramp {
        t / ramp
    } else if t < ramp + hold {
        1.0
    } else if t < ramp + hold + ramp {
        1.0 - (t - ramp - hold) / ramp
    } else {
        0.0
    }
}

/// Rounds to one decimal and normalises `-0.0`.
fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0 + 0.0
}

/// Spreads layered noise (which clusters around 0.5) back over `[0, 1]`.
fn stretch(v: f64) -> f64 {
    ((v - 0.5) * 1.7 + 0.5).clamp(0.0, 1.0)
}

const CH_CPU: u64 = 1;
const CH_CPU_J: u64 = 2;
const CH_MEM: u64 = 3;
const CH_MEM_J: u64 = 4;
const CH_DISK: u64 = 5;
const CH_LAT: u64 = 6;
const CH_LAT_J: u64 = 7;
const CH_LOAD: u64 = 8;

struct Key {
    seed: u64,
    host: u64,
}

impl Key {
    /// A uniform value in `[0, 1)` for `(seed, host, channel, k)`.
    fn unit(&self, channel: u64, k: u64) -> f64 {
        let h = splitmix(
            self.seed
                ^ splitmix(self.host.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (channel << 56))
                ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03),
        );
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Symmetric per-sample jitter in `[-amp, amp)`.
    fn jitter(&self, channel: u64, seq: u64, amp: f64) -> f64 {
        (self.unit(channel, seq) * 2.0 - 1.0) * amp
    }

    /// Smooth value noise in `[0, 1]`: three octaves, the slowest with a
    /// feature length of `period` samples.
    fn noise(&self, channel: u64, x: f64, period: f64) -> f64 {
        let mut total = 0.0;
        let mut norm = 0.0;
        let mut amp = 1.0;
        let mut freq = 1.0 / period;
        for octave in 0..3u64 {
            let p = x * freq + octave as f64 * 1000.0;
            let k = p.floor();
            let f = p - k;
            let s = f * f * (3.0 - 2.0 * f);
            let ch = (channel << 4) | octave;
            let a = self.unit(ch, k as u64);
            let b = self.unit(ch, k as u64 + 1);
            total += amp * (a + (b - a) * s);
            norm += amp;
            amp *= 0.5;
            freq *= 2.7;
        }
        total / norm
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            ..SimConfig::default()
        }
    }

    #[test]
    fn deterministic_and_in_range() {
        let c = cfg(7);
        for host in 0..5 {
            let mut prev: Option<HostSample> = None;
            for seq in 1..5000 {
                let s = sample(host, seq, Duration::from_secs(seq), &c);
                assert_eq!(s, sample(host, seq, Duration::ZERO, &c));
                assert!((5.0..=60.0).contains(&s.cpu), "{s:?}");
                assert!((30.0..=80.0).contains(&s.mem), "{s:?}");
                assert!((40.0..=90.0).contains(&s.disk), "{s:?}");
                assert!((0.0..=4.0).contains(&s.load), "{s:?}");
                assert!((5.0..=80.0).contains(&s.latency_ms), "{s:?}");
                assert_eq!(s.status, "ok");
                assert_eq!(s.seq, seq);
                if let Some(p) = prev {
                    // Smooth: no huge jumps between consecutive samples.
                    assert!((s.cpu - p.cpu).abs() < 15.0, "{p:?} -> {s:?}");
                    assert!((s.mem - p.mem).abs() < 5.0, "{p:?} -> {s:?}");
                }
                prev = Some(s);
            }
        }
        assert_ne!(
            sample(0, 1, Duration::ZERO, &cfg(1)),
            sample(0, 1, Duration::ZERO, &cfg(2))
        );
        assert_ne!(
            sample(0, 1, Duration::ZERO, &c).cpu,
            sample(1, 1, Duration::ZERO, &c).cpu
        );
    }

    #[test]
    fn values_wander_over_the_range() {
        let c = cfg(1);
        let cpus: Vec<f64> = (1..3000)
            .map(|s| sample(0, s, Duration::ZERO, &c).cpu)
            .collect();
        let min = cpus.iter().cloned().fold(f64::MAX, f64::min);
        let max = cpus.iter().cloned().fold(f64::MIN, f64::max);
        assert!(min < 20.0 && max > 40.0, "cpu range {min}..{max}");
    }

    #[test]
    fn json_shape() {
        let s = sample(0, 42, Duration::ZERO, &cfg(1));
        let j = s.to_json(1_764_090_000_123);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["host"], "host-1");
        assert_eq!(v["seq"], 42);
        assert_eq!(v["ts"], 1_764_090_000_123u64);
        assert_eq!(v["cpu"].as_f64().unwrap(), s.cpu);
        assert_eq!(v["status"], "ok");
        assert!(j.len() < 200, "{j}");
    }

    #[test]
    fn incident_curve() {
        let inc = Incident {
            host: "host-2".into(),
            start_after: Duration::from_secs(10),
            ramp: Duration::from_secs(20),
            hold: Duration::from_secs(30),
        };
        let lv = |s: f64| incident_level(&inc, Duration::from_secs_f64(s));
        assert_eq!(lv(0.0), 0.0);
        assert_eq!(lv(9.9), 0.0);
        assert!((lv(20.0) - 0.5).abs() < 1e-9);
        assert_eq!(lv(30.0), 1.0);
        assert_eq!(lv(59.0), 1.0);
        assert!((lv(70.0) - 0.5).abs() < 1e-9);
        assert_eq!(lv(80.0), 0.0);
        assert_eq!(lv(1000.0), 0.0);

        let c = SimConfig {
            incident: Some(inc.clone()),
            ..cfg(3)
        };
        let at = |host: usize, secs: u64| sample(host, 5, Duration::from_secs(secs), &c);
        // Other hosts never notice.
        assert_eq!(at(0, 40), sample(0, 5, Duration::ZERO, &c));
        // Before: normal.
        assert_eq!(at(1, 5).status, "ok");
        assert!(at(1, 5).cpu <= 60.0);
        // Ramp: strictly rising, in between.
        let (a, b, m) = (at(1, 12).cpu, at(1, 20).cpu, at(1, 28).cpu);
        assert!(a < b && b < m, "{a} {b} {m}");
        // Hold: ~97 and degraded.
        for t in [31, 45, 59] {
            let s = at(1, t);
            assert!((96.0..=98.0).contains(&s.cpu), "{s:?}");
            assert_eq!(s.status, "degraded");
            assert!(s.latency_ms > 100.0);
        }
        // Falling back, then normal again.
        assert!(at(1, 65).cpu > at(1, 75).cpu);
        assert_eq!(at(1, 85), sample(1, 5, Duration::ZERO, &c));
        assert_eq!(at(1, 85).status, "ok");
    }

    #[test]
    fn zero_ramp_incident_jumps() {
        let inc = Incident {
            host: "host-1".into(),
            start_after: Duration::ZERO,
            ramp: Duration::ZERO,
            hold: Duration::from_secs(1),
        };
        assert_eq!(incident_level(&inc, Duration::from_millis(500)), 1.0);
        assert_eq!(incident_level(&inc, Duration::from_secs(2)), 0.0);
    }

    #[test]
    fn prometheus_text() {
        let s = sample(2, 9, Duration::ZERO, &cfg(1));
        let t = s.to_prometheus();
        assert!(t.contains("# TYPE node_cpu_usage_percent gauge\n"));
        assert!(t.contains(&format!(
            "node_cpu_usage_percent{{host=\"host-3\"}} {:.1}\n",
            s.cpu
        )));
        assert!(t.contains("telltale_sim_seq{host=\"host-3\"} 9\n"));
        assert!(t.ends_with('\n'));
    }
}
