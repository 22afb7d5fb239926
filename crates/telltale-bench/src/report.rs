//! Results: one [`Section`] per scenario, printed as tables and written as
//! Markdown (`benchmarks.md`) and JSON (`benchmarks.json`).

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A target from the issue and where the run stands against it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// What is measured.
    pub what: String,
    /// The target, as text (`≥ 0.6`).
    pub target: String,
    /// The measured value, as text.
    pub measured: String,
    /// Whether it is met; `None` when it could not be measured.
    pub met: Option<bool>,
}

/// One scenario's results.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Section {
    /// Scenario number (1–6).
    pub id: u8,
    /// Title.
    pub title: String,
    /// Table header.
    pub columns: Vec<String>,
    /// Table rows (same length as `columns`).
    pub rows: Vec<Vec<String>>,
    /// Targets and where the run stands.
    pub targets: Vec<Target>,
    /// Method, caveats, verification results.
    pub notes: Vec<String>,
    /// The raw numbers, for machines.
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Correctness failures (lost messages, wrong row counts). Non-empty
    /// makes the bench exit with status 1.
    pub failures: Vec<String>,
    /// When the scenario ran and the load average then.
    #[serde(default)]
    pub ran: String,
}

impl Section {
    /// An empty section.
    pub fn new(id: u8, title: &str, columns: &[&str]) -> Self {
        Section {
            id,
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            ran: format!(
                "{}, load average {}",
                chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
                loadavg()
            ),
            ..Default::default()
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Records a number for the JSON file.
    pub fn metric(&mut self, key: &str, v: f64) {
        let v = if v.is_finite() {
            serde_json::json!((v * 1000.0).round() / 1000.0)
        } else {
            serde_json::Value::Null
        };
        self.metrics.insert(key.into(), v);
    }

    /// Adds a target; `met` from comparing.
    pub fn target(&mut self, what: &str, target: &str, measured: String, met: Option<bool>) {
        self.targets.push(Target {
            what: what.into(),
            target: target.into(),
            measured,
            met,
        });
    }

    /// Adds a note.
    pub fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }

    /// Records a correctness failure.
    pub fn fail(&mut self, f: impl Into<String>) {
        let f = f.into();
        eprintln!("telltale-bench: FAILED: {f}");
        self.failures.push(f);
    }
}

/// Where and when the run happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory in MiB.
    pub mem_mib: u64,
    /// Kernel.
    pub kernel: String,
    /// Load average at start.
    pub load_start: String,
    /// Load average at the end.
    pub load_end: String,
    /// `smoke` or `full`.
    pub scale: String,
    /// The git commit measured.
    pub commit: String,
    /// Debug or release build of the bench.
    pub profile: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Machine facts.
    pub machine: Machine,
    /// The scenarios run.
    pub sections: Vec<Section>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The load average now (1, 5, 15 min).
pub fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Machine facts, from /proc.
pub fn machine(scale: &str) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_mib = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| k / 1024)
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Machine {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        cpu,
        cpus,
        mem_mib,
        kernel,
        load_start: loadavg(),
        load_end: String::new(),
        scale: scale.into(),
        commit,
        profile: if cfg!(debug_assertions) {
            "debug".into()
        } else {
            "release".into()
        },
    }
}

fn table(out: &mut String, columns: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        columns.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// Plain-text tables for the terminal.
pub fn print(r: &Report) {
    for s in &r.sections {
        println!("\n== {}. {} ==", s.id, s.title);
        let widths: Vec<usize> = (0..s.columns.len())
            .map(|i| {
                s.rows
                    .iter()
                    .map(|row| row.get(i).map_or(0, |c| c.chars().count()))
                    .chain([s.columns[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}", w = *w))
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!("{}", line(&s.columns));
        for row in &s.rows {
            println!("{}", line(row));
        }
        for t in &s.targets {
            println!(
                "  target {}: {} — measured {} ({})",
                t.what,
                t.target,
                t.measured,
                verdict(t.met).trim_matches('*')
            );
        }
        for f in &s.failures {
            println!("  FAILED: {f}");
        }
    }
}

/// The Markdown report. `preamble` and `postscript` are fixed text (what
/// the scenarios do, the fixes made and their before/after figures).
pub fn markdown(r: &Report, preamble: &str, postscript: &str) -> String {
    let m = &r.machine;
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Generated by `telltale-bench` ({} scale, {} build) on {} at commit `{}`. \
         Do not edit by hand: run `cargo run --release -p telltale-bench -- --scale full` instead.\n",
        m.scale, m.profile, m.date, m.commit
    );
    let _ = writeln!(out, "| machine | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} × {} |", m.cpus, m.cpu);
    let _ = writeln!(out, "| memory | {} MiB |", m.mem_mib);
    let _ = writeln!(out, "| kernel | {} |", m.kernel);
    let _ = writeln!(
        out,
        "| load average (1/5/15 min) | {} at start, {} at end |\n",
        m.load_start, m.load_end
    );
    out.push_str(preamble);
    out.push('\n');
    let mut all_targets = Vec::new();
    for s in &r.sections {
        for t in &s.targets {
            all_targets.push(vec![
                format!("{}. {}", s.id, t.what),
                t.target.clone(),
                t.measured.clone(),
                verdict(t.met).into(),
            ]);
        }
    }
    if !all_targets.is_empty() {
        let _ = writeln!(out, "## Targets at a glance\n");
        table(
            &mut out,
            &[
                "target".into(),
                "wanted".into(),
                "measured".into(),
                "".into(),
            ],
            &all_targets,
        );
        out.push('\n');
    }
    for s in &r.sections {
        let _ = writeln!(out, "## {}. {}\n", s.id, s.title);
        let _ = writeln!(out, "*Measured {}.*\n", s.ran);
        if !s.rows.is_empty() {
            table(&mut out, &s.columns, &s.rows);
            out.push('\n');
        }
        if !s.targets.is_empty() {
            let rows: Vec<Vec<String>> = s
                .targets
                .iter()
                .map(|t| {
                    vec![
                        t.what.clone(),
                        t.target.clone(),
                        t.measured.clone(),
                        verdict(t.met).into(),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "target".into(),
                    "wanted".into(),
                    "measured".into(),
                    "".into(),
                ],
                &rows,
            );
            out.push('\n');
        }
        for n in &s.notes {
            let _ = writeln!(out, "- {n}");
        }
        for f in &s.failures {
            let _ = writeln!(out, "- **FAILED**: {f}");
        }
        out.push('\n');
    }
    out.push_str(postscript);
    out
}
