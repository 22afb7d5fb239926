//! `telltale-sim`: run a fake server fleet, or print a Telltale config for one.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use telltale_sim::{feeds_toml, parse_duration, Incident, Sim, SimConfig};

/// A fake fleet of servers emitting health data over WebSocket, Server-Sent
/// Events, short polling, long polling and Prometheus text, for Telltale's
/// demo, tests and benchmarks.
///
/// Without a subcommand, `serve` runs. Point Telltale at it with the config
/// printed by `telltale-sim config`. `GET /` on the running sim lists its
/// routes and fault-injection query parameters.
#[derive(Debug, Parser)]
#[command(
    name = "telltale-sim",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  \
        telltale-sim                          5 hosts on 127.0.0.1:9700; host-3 degrades after 45s\n  \
        telltale-sim config > feeds.toml      a Telltale config covering that fleet\n  \
        telltale-sim --rate 10 --no-incident  faster, and calm\n  \
        curl 127.0.0.1:9700/poll/host-1\n  \
        curl -d '{\"fail_next\":3}' 127.0.0.1:9700/control/faults   the next 3 polls get 503"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sim (the default).
    Serve(ServeArgs),
    /// Print a Telltale config file (TOML) with feeds covering the fleet.
    ///
    /// Every host gets two feeds, round-robin: `host-1` (WebSocket) and
    /// `host-1-sse`, `host-2` (WebSocket) and `host-2-poll`, `host-3`
    /// (WebSocket) and `host-3-grpc` (health watch), `host-4` (Socket.IO)
    /// and `host-4-prom`, `host-5` (GraphQL) and `host-5-longpoll`, then
    /// host-6 as host-1, …
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9700", value_name = "ADDR")]
    listen: SocketAddr,
    /// Number of hosts, named host-1 … host-N.
    #[arg(long, default_value_t = 5, value_name = "N")]
    hosts: usize,
    /// Messages per second per host per stream (routes accept ?rate= too).
    #[arg(long, default_value_t = 1.0, value_name = "PER_SEC")]
    rate: f64,
    /// Seed of the deterministic data generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Host whose CPU climbs to ~97 % (status "degraded" above 90 %).
    #[arg(long, default_value = "host-3", value_name = "HOST")]
    incident_host: String,
    /// Time from start until the incident begins.
    #[arg(long, default_value = "45s", value_parser = parse_duration, value_name = "DURATION")]
    incident_after: Duration,
    /// How long the CPU takes to climb to the peak (and to fall back).
    #[arg(long, default_value = "20s", value_parser = parse_duration, value_name = "DURATION")]
    incident_ramp: Duration,
    /// How long the CPU stays at the peak.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    incident_hold: Duration,
    /// Run without the incident.
    #[arg(long)]
    no_incident: bool,
    /// Interval of the SSE heartbeat comment.
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION")]
    sse_heartbeat: Duration,
    /// How long a long-poll request is held without news before 204.
    #[arg(long, default_value = "25s", value_parser = parse_duration, value_name = "DURATION")]
    long_poll_hold: Duration,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Base URL of the running sim.
    #[arg(long, default_value = "http://127.0.0.1:9700", value_name = "URL")]
    base: String,
    /// Number of hosts the sim runs.
    #[arg(long, default_value_t = 5, value_name = "N")]
    hosts: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Config(c)) => {
            print!("{}", feeds_toml(&c.base, c.hosts));
            ExitCode::SUCCESS
        }
        Some(Command::Serve(s)) => serve(s),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("telltale-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: ServeArgs) -> ExitCode {
    let incident = (!args.no_incident).then(|| Incident {
        host: args.incident_host.clone(),
        start_after: args.incident_after,
        ramp: args.incident_ramp,
        hold: args.incident_hold,
    });
    if let Some(i) = &incident {
        let known = i
            .host
            .strip_prefix("host-")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=args.hosts).contains(&n));
        if !known {
            eprintln!(
                "telltale-sim: warning: incident host `{}` is not one of host-1 … host-{}; no host will degrade",
                i.host, args.hosts
            );
        }
    }
    let cfg = SimConfig {
        listen: args.listen,
        hosts: args.hosts,
        rate: args.rate,
        seed: args.seed,
        incident: incident.clone(),
        sse_heartbeat: args.sse_heartbeat,
        long_poll_hold: args.long_poll_hold,
        // Records are for in-process tests; the binary has no route to read them.
        record: 0,
    };
    let sim = match Sim::start(cfg).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("telltale-sim: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!(
        "telltale-sim listening on {} ({} hosts)",
        sim.base_url(),
        args.hosts
    );
    match &incident {
        Some(i) => println!(
            "incident: {} climbs to ~97% cpu after {}, ramp {}, hold {}",
            i.host,
            telltale_sim::format_duration(i.start_after),
            telltale_sim::format_duration(i.ramp),
            telltale_sim::format_duration(i.hold)
        ),
        None => println!("incident: none"),
    }
    println!(
        "feeds: telltale-sim config --base {} --hosts {}",
        sim.base_url(),
        args.hosts
    );
    wait_for_signal().await;
    println!("telltale-sim: shutting down");
    sim.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM on Unix.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: run until killed.
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_and_subcommands() {
        let c = Cli::try_parse_from(["telltale-sim"]).unwrap();
        assert!(c.command.is_none());
        assert_eq!(c.serve.hosts, 5);
        assert_eq!(c.serve.incident_host, "host-3");
        assert_eq!(c.serve.incident_after, Duration::from_secs(45));
        assert!(!c.serve.no_incident);

        let c = Cli::try_parse_from([
            "telltale-sim",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--incident-after",
            "500ms",
            "--no-incident",
        ])
        .unwrap();
        match c.command {
            Some(Command::Serve(s)) => {
                assert_eq!(s.incident_after, Duration::from_millis(500));
                assert!(s.no_incident);
            }
            other => panic!("{other:?}"),
        }

        let c =
            Cli::try_parse_from(["telltale-sim", "--hosts", "2", "--incident-ramp", "2m"]).unwrap();
        assert_eq!(c.serve.hosts, 2);
        assert_eq!(c.serve.incident_ramp, Duration::from_secs(120));

        let c = Cli::try_parse_from(["telltale-sim", "config", "--hosts", "7"]).unwrap();
        match c.command {
            Some(Command::Config(a)) => {
                assert_eq!(a.hosts, 7);
                assert_eq!(a.base, "http://127.0.0.1:9700");
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["telltale-sim", "--incident-after", "soon"]).is_err());
    }
}
