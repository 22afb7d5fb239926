//! Units of metric values, and how a value reads in one: `1.2 GiB`, `34 %`,
//! `120 ms`. The web UI formats with the same rules (`ui/src/lib/units.ts`);
//! this side writes notification text.

use serde::{Deserialize, Serialize};

/// What a metric's numbers measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum Unit {
    /// 0–100: `34 %`.
    Percent,
    /// 0–1, shown as a percentage: `0.34` reads `34 %`.
    Ratio,
    /// Bytes, in binary multiples: `1.2 GiB`.
    Bytes,
    /// Bytes per second: `3.4 MiB/s`.
    BytesPerSecond,
    /// Bits per second, in decimal multiples: `120 Mbit/s`.
    BitsPerSecond,
    /// Seconds: `120 ms`, `4.5 s`, `3 min`, `2.1 h`.
    Seconds,
    /// Milliseconds, read as durations like `seconds`.
    Ms,
    /// Days, read as durations like `seconds`: `12.5 d`, `6 h`.
    Days,
    /// Events per second: `12 /s`.
    PerSecond,
    /// Degrees Celsius: `61 °C`.
    Celsius,
}

impl Unit {
    /// The unit a Prometheus metric's name implies by the naming conventions
    /// (`_bytes`, `_seconds`, `_ratio`), and for a counter stored as its
    /// rate, per second (`_bytes_total` → bytes per second).
    pub fn infer(name: &str, is_rate: bool) -> Option<Unit> {
        let base = name.strip_suffix("_total");
        match (base, is_rate) {
            (Some(b), true) if b.ends_with("_bytes") => Some(Unit::BytesPerSecond),
            // seconds per second (CPU time, I/O time): a share of one, as a ratio
            (Some(b), true) if b.ends_with("_seconds") => Some(Unit::Ratio),
            (Some(_), true) => Some(Unit::PerSecond),
            _ if name.ends_with("_bytes") => Some(Unit::Bytes),
            _ if name.ends_with("_seconds") => Some(Unit::Seconds),
            _ if name.ends_with("_ratio") => Some(Unit::Ratio),
            _ if name.ends_with("_celsius") => Some(Unit::Celsius),
            _ => None,
        }
    }

    /// A value as it reads in this unit.
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return format!("{v}");
        }
        match self {
            Unit::Percent => format!("{} %", sig(v)),
            Unit::Ratio => format!("{} %", sig(v * 100.0)),
            Unit::Bytes => scaled(v, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], ""),
            Unit::BytesPerSecond => {
                scaled(v, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], "/s")
            }
            Unit::BitsPerSecond => scaled(
                v,
                1000.0,
                &["bit", "kbit", "Mbit", "Gbit", "Tbit", "Pbit"],
                "/s",
            ),
            Unit::Seconds => duration(v),
            Unit::Ms => duration(v / 1000.0),
            Unit::Days => duration(v * 86_400.0),
            Unit::PerSecond => format!("{} /s", sig(v)),
            Unit::Celsius => format!("{} °C", sig(v)),
        }
    }
}

/// A value in a unit, or compactly without one.
pub fn format_value(v: f64, unit: Option<Unit>) -> String {
    match unit {
        Some(u) => u.format(v),
        None => sig(v),
    }
}

/// At most 3 significant digits, no trailing zeros (`97.5`, `0.123`, `1234`).
fn sig(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        return format!("{}", v.round());
    }
    let decimals = if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // 3 significant digits below 1: 0.0123 needs 4 decimals
        (2 - a.log10().floor() as i32).clamp(0, 12) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(v: f64, step: f64, names: &[&str], suffix: &str) -> String {
    let mut x = v;
    let mut i = 0;
    while x.abs() >= step && i + 1 < names.len() {
        x /= step;
        i += 1;
    }
    format!("{} {}{suffix}", sig(x), names[i])
}

fn duration(secs: f64) -> String {
    let a = secs.abs();
    if a == 0.0 {
        "0 s".into()
    } else if a < 1e-3 {
        format!("{} µs", sig(secs * 1e6))
    } else if a < 1.0 {
        format!("{} ms", sig(secs * 1e3))
    } else if a < 60.0 {
        format!("{} s", sig(secs))
    } else if a < 3600.0 {
        format!("{} min", sig(secs / 60.0))
    } else if a < 86_400.0 {
        format!("{} h", sig(secs / 3600.0))
    } else {
        format!("{} d", sig(secs / 86_400.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(Unit::Bytes.format(1_288_490_189.0), "1.2 GiB");
        assert_eq!(Unit::Bytes.format(512.0), "512 B");
        assert_eq!(Unit::Percent.format(34.04), "34 %");
        assert_eq!(Unit::Ratio.format(0.345), "34.5 %");
        assert_eq!(Unit::Seconds.format(0.12), "120 ms");
        assert_eq!(Unit::Ms.format(120.0), "120 ms");
        assert_eq!(Unit::Days.format(12.5), "12.5 d");
        assert_eq!(Unit::Days.format(0.25), "6 h");
        assert_eq!(Unit::Days.format(-2.0), "-2 d");
        assert_eq!(Unit::Seconds.format(4.5), "4.5 s");
        assert_eq!(Unit::Seconds.format(7200.0), "2 h");
        assert_eq!(Unit::BitsPerSecond.format(120e6), "120 Mbit/s");
        assert_eq!(
            Unit::BytesPerSecond.format(3.5 * 1024.0 * 1024.0),
            "3.5 MiB/s"
        );
        assert_eq!(Unit::PerSecond.format(12.0), "12 /s");
        assert_eq!(Unit::Celsius.format(61.26), "61.3 °C");
        assert_eq!(format_value(1.23e9, None), "1230000000");
        assert_eq!(format_value(0.01234, None), "0.0123");
        assert_eq!(format_value(-2.5, None), "-2.5");
    }

    #[test]
    fn prometheus_names_imply_units() {
        assert_eq!(
            Unit::infer("node_memory_MemAvailable_bytes", false),
            Some(Unit::Bytes)
        );
        assert_eq!(
            Unit::infer("node_network_receive_bytes_total", true),
            Some(Unit::BytesPerSecond)
        );
        assert_eq!(
            Unit::infer("node_cpu_seconds_total", true),
            Some(Unit::Ratio)
        );
        assert_eq!(
            Unit::infer("http_requests_total", true),
            Some(Unit::PerSecond)
        );
        assert_eq!(Unit::infer("http_requests_total", false), None);
        assert_eq!(Unit::infer("cpu", false), None);
    }

    #[test]
    fn a_series_takes_its_rules_unit_else_its_prometheus_names() {
        let toml = r#"
            name = "node"
            transport = "poll"
            url = "http://h:9100/metrics"
            format = "prometheus"
            [[metric]]
            name = "avail"
            prometheus = "node_memory_MemAvailable_bytes"
            [[metric]]
            name = "cpu"
            prometheus = "node_cpu_seconds_total"
            [[metric]]
            name = "cpu_total"
            prometheus = "node_cpu_seconds_total"
            rate = false
            [[metric]]
            name = "temp"
            prometheus = "node_hwmon_temp_celsius"
            unit = "percent"
        "#;
        let f: crate::FeedConfig = toml::from_str(toml).unwrap();
        assert_eq!(f.unit_of("avail"), Some(Unit::Bytes));
        assert_eq!(f.unit_of("cpu"), Some(Unit::Ratio), "a rate of seconds");
        assert_eq!(
            f.unit_of("cpu_total"),
            None,
            "raw seconds-total counters read plain"
        );
        assert_eq!(
            f.unit_of("temp"),
            Some(Unit::Percent),
            "the rule's own unit wins"
        );
        assert_eq!(
            f.unit_of("node_network_receive_bytes_total"),
            Some(Unit::BytesPerSecond)
        );
        let json = crate::FeedConfig::new("j", crate::TransportKind::Websocket, "ws://h")
            .with_metric("size_bytes", "/s");
        assert_eq!(json.unit_of("size_bytes"), None, "JSON names imply nothing");
        assert_eq!(
            json.unit_of("response_ms"),
            Some(Unit::Ms),
            "a poll's own timing"
        );
    }

    #[test]
    fn units_are_spelled_in_snake_case() {
        let u: Unit = serde_json::from_str("\"bytes_per_second\"").unwrap();
        assert_eq!(u, Unit::BytesPerSecond);
        assert!(serde_json::from_str::<Unit>("\"furlongs\"").is_err());
    }
}
