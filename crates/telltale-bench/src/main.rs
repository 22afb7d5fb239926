//! `telltale-bench`: Telltale's benchmarks, each measured against its
//! baseline in the same run. Prints tables and writes `benchmarks.md` and
//! `benchmarks.json` to `--out`.
//!
//! ```text
//! cargo build --release -p telltaled -p telltale-bench
//! cargo run --release -p telltale-bench -- [--scale smoke|full] [--only 1,2,...] [--out docs]
//! ```
//!
//! The smoke scale runs every scenario for a few seconds and checks
//! correctness only (row counts, no lost messages); CI runs it. The exit
//! status is 1 when a correctness check failed, never for a timing.

mod desktop;
mod eventlog;
mod fleet;
mod history;
mod ingest;
mod latency;
mod mqtt_ingest;
mod report;
mod socketio_ingest;
mod storage;
mod util;

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// How big each scenario is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scale {
    /// Seconds per scenario; correctness only.
    Smoke,
    /// The sizes the issue asks for.
    Full,
}

/// Runs Telltale's benchmarks and writes docs/benchmarks.md and .json.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Scenario sizes.
    #[arg(long, value_enum, default_value = "full")]
    scale: Scale,
    /// Only these scenarios (comma-separated numbers 1-9; `0` runs none,
    /// which with `--merge` re-renders an existing report).
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// Where to write benchmarks.md and benchmarks.json.
    #[arg(long, default_value = "docs")]
    out: PathBuf,
    /// Scenario 6's growth run, in minutes (default: 30 at full scale).
    #[arg(long)]
    growth_minutes: Option<f64>,
    /// Keep the other scenarios' results from an earlier run in `--out`
    /// (for re-running one scenario; each says when it was measured).
    #[arg(long)]
    merge: bool,
}

const PREAMBLE: &str = include_str!("preamble.md");
const POSTSCRIPT: &str = include_str!("postscript.md");

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("telltale-bench: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let full = args.scale == Scale::Full;
    let want = |n: u8| args.only.is_empty() || args.only.contains(&n);
    let scale = if full { "full" } else { "smoke" };
    let mut rep = report::Report {
        machine: report::machine(scale),
        sections: Vec::new(),
    };
    eprintln!(
        "telltale-bench: {scale} scale, load average {}",
        rep.machine.load_start
    );
    // Scenarios 1 and 2: messages per client, and interleaved rounds.
    let (ingest_n, rounds) = if full { (1_000_000, 5) } else { (20_000, 1) };
    if want(1) {
        eprintln!("telltale-bench: 1. WebSocket ingest");
        rep.sections
            .push(ingest::run(ingest::Transport::Ws, ingest_n, rounds).await);
    }
    if want(2) {
        eprintln!("telltale-bench: 2. SSE ingest");
        rep.sections
            .push(ingest::run(ingest::Transport::Sse, ingest_n, rounds).await);
    }
    if want(3) {
        eprintln!("telltale-bench: 3. many feeds");
        let opts = if full {
            fleet::Opts {
                feeds: 1000,
                warmup: std::time::Duration::from_secs(20),
                window: std::time::Duration::from_secs(60),
            }
        } else {
            fleet::Opts {
                feeds: 30,
                warmup: std::time::Duration::from_secs(3),
                window: std::time::Duration::from_secs(4),
            }
        };
        rep.sections.push(fleet::run(opts).await);
    }
    if want(4) {
        eprintln!("telltale-bench: 4. latency");
        let s = if full {
            latency::run(&[1_000.0, 10_000.0, 50_000.0], 15.0).await
        } else {
            latency::run(&[200.0, 1_000.0], 2.0).await
        };
        rep.sections.push(s);
    }
    if want(5) {
        eprintln!("telltale-bench: 5. history");
        let s = if full {
            history::run(7.0, 200).await
        } else {
            history::run(2.0 / 24.0, 20).await
        };
        rep.sections.push(s);
    }
    if want(6) {
        eprintln!("telltale-bench: 6. desktop footprint");
        let opts = if full {
            desktop::Opts {
                settle: std::time::Duration::from_secs(300),
                growth: std::time::Duration::from_secs_f64(
                    args.growth_minutes.unwrap_or(30.0) * 60.0,
                ),
            }
        } else {
            desktop::Opts {
                settle: std::time::Duration::from_secs(8),
                growth: std::time::Duration::from_secs_f64(
                    args.growth_minutes.unwrap_or(0.0) * 60.0,
                ),
            }
        };
        rep.sections.push(desktop::run(opts).await);
    }
    if want(7) {
        eprintln!("telltale-bench: 7. storage");
        let opts = if full {
            storage::Opts {
                feeds: 1000,
                node_feeds: 100,
                warmup: std::time::Duration::from_secs(180),
                window: std::time::Duration::from_secs(300),
            }
        } else {
            storage::Opts {
                feeds: 20,
                node_feeds: 3,
                warmup: std::time::Duration::from_secs(2),
                // Longer than (b)'s 15 s polls, so that every feed stores
                // samples in the window.
                window: std::time::Duration::from_secs(16),
            }
        };
        rep.sections.push(storage::run(opts).await);
    }
    if want(8) {
        eprintln!("telltale-bench: 8. MQTT ingest");
        let n = if full { 200_000 } else { 5_000 };
        rep.sections
            .push(ingest::run(ingest::Transport::Mqtt, n, rounds).await);
    }
    if want(9) {
        eprintln!("telltale-bench: 9. Socket.IO ingest");
        rep.sections
            .push(ingest::run(ingest::Transport::SocketIo, ingest_n, rounds).await);
    }
    rep.machine.load_end = report::loadavg();
    if args.merge {
        let old = std::fs::read_to_string(args.out.join("benchmarks.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<report::Report>(&t).ok());
        if let Some(old) = old {
            if rep.sections.is_empty() {
                // Only re-rendering (`--only 0`): keep the run's own facts.
                rep.machine = old.machine;
            }
            for s in old.sections {
                if !rep.sections.iter().any(|n| n.id == s.id) {
                    rep.sections.push(s);
                }
            }
            rep.sections.sort_by_key(|s| s.id);
        }
    }
    report::print(&rep);
    let failed = rep.sections.iter().any(|s| !s.failures.is_empty());
    if let Err(e) = write(&args.out, &rep) {
        eprintln!("telltale-bench: cannot write the report: {e}");
        return ExitCode::FAILURE;
    }
    if failed {
        eprintln!("telltale-bench: correctness checks failed (see above)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn write(out: &std::path::Path, rep: &report::Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("benchmarks.md"),
        report::markdown(rep, PREAMBLE, POSTSCRIPT),
    )?;
    std::fs::write(
        out.join("benchmarks.json"),
        serde_json::to_string_pretty(rep)? + "\n",
    )?;
    eprintln!(
        "telltale-bench: wrote {} and {}",
        out.join("benchmarks.md").display(),
        out.join("benchmarks.json").display()
    );
    Ok(())
}
