//! `telltaled`: Telltale's engine without a window.

mod alerts;
mod export;
mod maintenance;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use telltale_api::share::format_bytes;
use telltale_api::AlertActionInput;
use telltale_model::{ConfigFile, Timestamp};
use telltale_store::Store;

/// Telltale's headless engine: subscribe to feeds over WebSocket, SSE, short
/// and long polling, keep their history in SQLite, and export it.
///
/// Start with `telltaled check --config feeds.toml`, then
/// `telltaled run --config feeds.toml --db telltale.db`.
#[derive(Parser, Debug)]
#[command(name = "telltaled", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options of the async runtime, shared by `run` and `serve`.
#[derive(clap::Args, Debug)]
struct RuntimeArgs {
    /// Async worker threads. SQLite writes and queries have threads of
    /// their own, so one worker carries 1,000 feeds at 1 msg/s, with fewer
    /// wake-ups and less CPU than two; raise it for feeds at tens of
    /// thousands of messages a second.
    #[arg(long, env = "TELLTALE_WORKERS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Subscribe to every enabled feed and store what arrives, until Ctrl-C.
    ///
    /// With --config, the file's feeds are imported into the database first
    /// (they replace stored feeds of the same name; file feeds that were
    /// removed from the file are disabled). Without it, the feeds already in
    /// the database run.
    Run {
        /// The feeds file (TOML).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The SQLite database (created if missing).
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
        /// Print a status table this often (0 to turn it off).
        #[arg(long, default_value = "10s", value_parser = parse_dur)]
        status_every: Duration,
        /// Do not send desktop notifications (alerts are still evaluated and recorded).
        #[arg(long)]
        no_notify: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Like `run`, plus the HTTP API, live WebSocket and web UI on --listen.
    ///
    /// Listening on anything but loopback requires a token; with a token,
    /// clients send `Authorization: Bearer <token>`. Browsers may use the API
    /// only from the server's own pages (see --allow-origin), and requests
    /// that change something must be JSON/TOML or carry an
    /// `X-Telltale-Request: 1` header. Routes are listed in
    /// crates/telltale-api/README.md; security in docs/cli.md.
    Serve {
        /// Address of the HTTP server.
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: std::net::SocketAddr,
        /// The feeds file (TOML), imported as with `run`.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The SQLite database (created if missing).
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
        /// API token (required unless --listen is a loopback address).
        #[arg(long, env = "TELLTALE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The built web UI to serve at / (e.g. ui/dist).
        #[arg(long)]
        ui_dir: Option<PathBuf>,
        /// Let pages from this web origin use the API (repeatable or
        /// comma-separated), e.g. http://localhost:5173. By default only
        /// pages served by this server may; every other origin, other ports
        /// of localhost included, is refused.
        #[arg(
            long = "allow-origin",
            value_name = "ORIGIN",
            env = "TELLTALE_ALLOW_ORIGIN",
            value_delimiter = ','
        )]
        allow_origins: Vec<String>,
        /// Print a status table this often (0, the default, to turn it off).
        #[arg(long, default_value = "0s", value_parser = parse_dur)]
        status_every: Duration,
        /// Do not send desktop notifications (alerts are still evaluated and recorded).
        #[arg(long)]
        no_notify: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Validate a feeds file and print every problem with its line.
    Check {
        /// The feeds file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List the feeds in a database with their last state and counts.
    Feeds {
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
    },
    /// Write a feed's stored events (or samples) as JSON Lines or CSV.
    ///
    /// Event lines: {"feed","received_at","id","event","data"}.
    /// Sample lines (--samples): {"feed","metric","labels","ts","value"}.
    Export {
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
        /// The feed's name.
        #[arg(long)]
        feed: String,
        /// From this time: RFC 3339, a date, or an age such as 15m / 2h / 7d.
        #[arg(long)]
        since: Option<String>,
        /// Up to this time (same forms as --since).
        #[arg(long)]
        until: Option<String>,
        /// `jsonl` or `csv`.
        #[arg(long, default_value = "jsonl")]
        format: export::Format,
        /// Export samples instead of events.
        #[arg(long)]
        samples: bool,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// List alerts: firing first, then pending, resolved and ok.
    Alerts {
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
        /// Only firing alerts.
        #[arg(long)]
        firing: bool,
        /// Show one alert's history (fired, acknowledged, snoozed, resolved, notified, not delivered).
        #[arg(long, value_name = "ID")]
        history: Option<i64>,
    },
    /// Acknowledge a firing alert: no more reminders for this firing.
    Ack {
        /// The alert id (`telltaled alerts` shows it).
        id: i64,
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
    },
    /// Silence an alert's rule, one rule of a feed, or a whole feed for a while.
    Snooze {
        /// The alert id whose rule to snooze.
        #[arg(long, conflicts_with = "feed")]
        alert: Option<i64>,
        /// The feed to snooze (all its rules, or only --rule).
        #[arg(long)]
        feed: Option<String>,
        /// With --feed: only this rule.
        #[arg(long, requires = "feed")]
        rule: Option<String>,
        /// For how long (e.g. 1h, 30m).
        #[arg(long = "for", default_value = "1h", value_parser = parse_dur)]
        duration: Duration,
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
    },
    /// Mute every notification for 1h, 4h or 8h (or any duration), or until `unmute`.
    Mute {
        /// For how long; omit to mute until `telltaled unmute`.
        #[arg(long = "for", value_parser = parse_dur)]
        duration: Option<Duration>,
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
    },
    /// End a mute.
    Unmute {
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
    },
    /// List maintenance windows; with --feed or --tag start one now (alerts
    /// of those feeds do not notify, their downtime is not counted); with
    /// --end end one.
    Maintenance {
        /// Put this feed in maintenance (repeat for more).
        #[arg(long = "feed")]
        feeds: Vec<String>,
        /// Put every feed with this tag in maintenance (repeat for more).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// For how long.
        #[arg(long = "for", default_value = "1h", value_parser = parse_dur)]
        duration: Duration,
        /// A name for the new window (default: what it covers and when).
        #[arg(long)]
        name: Option<String>,
        /// End the window with this name (one running now ends now).
        #[arg(long, value_name = "NAME", conflicts_with_all = ["feeds", "tags", "name"])]
        end: Option<String>,
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
    },
    /// Print the database's feeds as a TOML config file (`${VAR}` references are kept; literal secrets, URL credentials and secret query values are masked, as in the API export).
    ExportConfig {
        /// The SQLite database.
        #[arg(long, default_value = "telltale.db")]
        db: PathBuf,
    },
}

fn parse_dur(s: &str) -> Result<Duration, telltale_model::ValueError> {
    telltale_model::duration::parse_duration(s)
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { config } => check(&config),
        Command::Run {
            config,
            db,
            status_every,
            no_notify,
            runtime,
        } => run(
            config.as_deref(),
            &db,
            status_every,
            !no_notify,
            runtime.workers,
            None,
        ),
        Command::Serve {
            listen,
            config,
            db,
            token,
            ui_dir,
            allow_origins,
            status_every,
            no_notify,
            runtime,
        } => run(
            config.as_deref(),
            &db,
            status_every,
            !no_notify,
            runtime.workers,
            Some(telltale_api::http::ServeOptions {
                listen,
                token,
                ui_dir,
                allow_origins,
            }),
        ),
        Command::Feeds { db } => feeds(&db),
        Command::Export {
            db,
            feed,
            since,
            until,
            format,
            samples,
            out,
        } => export::export(&export::Request {
            db,
            feed,
            since,
            until,
            format,
            samples,
            out,
        }),
        Command::ExportConfig { db } => export_config(&db),
        Command::Alerts {
            db,
            firing,
            history,
        } => alerts::list(&db, firing, history),
        Command::Ack { id, db } => alerts::act(&db, AlertActionInput::Ack { id }),
        Command::Snooze {
            alert,
            feed,
            rule,
            duration,
            db,
        } => snooze(&db, alert, feed, rule, duration),
        Command::Mute { duration, db } => alerts::act(
            &db,
            AlertActionInput::Mute {
                secs: duration.map(|d| d.as_secs()),
            },
        ),
        Command::Unmute { db } => alerts::act(&db, AlertActionInput::Unmute),
        Command::Maintenance {
            feeds,
            tags,
            duration,
            name,
            end,
            db,
        } => {
            let action = match end {
                Some(name) => maintenance::Action::End(name),
                None if feeds.is_empty() && tags.is_empty() => maintenance::Action::List,
                None => maintenance::Action::Start(maintenance::start(feeds, tags, duration, name)),
            };
            maintenance::run(&db, action)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("telltaled: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(config: &Path) -> Result<ExitCode, String> {
    let file = ConfigFile::load(config).map_err(|e| e.to_string())?;
    for e in &file.errors {
        eprintln!("{e}");
    }
    println!(
        "{}: {} feed(s) valid, {} problem(s)",
        config.display(),
        file.feeds.len(),
        file.errors.len()
    );
    for f in &file.feeds {
        println!(
            "  {:<24} {:<10} {}",
            f.name,
            f.transport.as_str(),
            telltale_model::secret::redact_url(&f.url)
        );
    }
    Ok(if file.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn open_store(db: &Path, settings: telltale_model::config::StoreSettings) -> Result<Store, String> {
    Store::open(db, settings).map_err(|e| e.to_string())
}

fn run(
    config: Option<&Path>,
    db: &Path,
    status_every: Duration,
    notify: bool,
    workers: u16,
    serve: Option<telltale_api::http::ServeOptions>,
) -> Result<ExitCode, String> {
    if let Some(s) = &serve {
        s.check().map_err(|e| e.to_string())?;
    }
    let file = match config {
        Some(path) => {
            let f = ConfigFile::load(path).map_err(|e| e.to_string())?;
            for e in &f.errors {
                tracing::error!("{e} (this feed is skipped; the others run)");
            }
            // Process-wide, so feeds added later through the API may use
            // these variables too; TELLTALE_SECRET_* are always allowed.
            if !f.allow_env.is_empty() {
                tracing::info!(
                    "allow_env: ${{VAR}} may expand {} besides TELLTALE_SECRET_*",
                    f.allow_env.join(", ")
                );
            }
            telltale_model::secret::set_allowed_env(f.allow_env.iter().cloned());
            Some(f)
        }
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(workers))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let result = rt.block_on(async move {
        let runtime = telltale_api::Runtime::start(telltale_api::RuntimeOptions {
            db: db.to_path_buf(),
            file,
            notify,
            panic_on_feed: fault_injection(),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let engine = runtime.engine().clone();
        // `serve`: bind before importing, so a busy port fails fast.
        let server = match serve {
            Some(opts) => {
                let server = telltale_api::http::bind(runtime.api().clone(), opts)
                    .await
                    .map_err(|e| e.to_string())?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(server.run(async move {
                    let _ = stopped.await;
                }));
                Some((stop, task))
            }
            None => None,
        };
        let n = runtime.start_feeds().await.map_err(|e| e.to_string())?;
        if n == 0 && config.is_none() {
            tracing::warn!(
                "no enabled feeds in {}: pass --config feeds.toml to import some",
                db.display()
            );
        }
        tracing::info!("telltaled running on {}; Ctrl-C to stop", db.display());
        let status_task = (!status_every.is_zero()).then(|| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(status_every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    print_status(&engine.feeds().await, &engine.health());
                }
            })
        });
        let fatal = tokio::select! {
            _ = wait_for_signal() => None,
            what = wait_fatal(engine.fatal()) => Some(what),
        };
        tracing::info!("stopping: flushing to disk…");
        if let Some(t) = status_task {
            t.abort();
        }
        let committed = engine.store().committed_events();
        let stopping = async {
            if let Some((stop, task)) = server {
                let _ = stop.send(());
                if let Ok(Err(e)) = task.await {
                    tracing::warn!("{e}");
                }
            }
            engine.shutdown().await
        };
        let code = match tokio::time::timeout(SHUTDOWN_LIMIT, stopping).await {
            Ok(Ok(())) => {
                let n = *committed.borrow();
                tracing::info!("stopped cleanly ({n} events committed this run)");
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                tracing::error!("stopped, but not everything received could be stored: {e}");
                ExitCode::FAILURE
            }
            Err(_) => {
                tracing::error!(
                    "stopping took longer than {SHUTDOWN_LIMIT:?}; exiting with what is committed"
                );
                ExitCode::FAILURE
            }
        };
        if let Some(what) = fatal {
            tracing::error!(
                "exiting because {what}; restart telltaled (a service manager does it for you)"
            );
            return Ok(ExitCode::from(EXIT_FATAL));
        }
        Ok(code)
    });
    // Blocking store calls still running (bounded by their own limits) are
    // not waited for: the process ends within its shutdown limit.
    rt.shutdown_timeout(Duration::from_millis(500));
    result
}

/// How long stopping may take after SIGTERM or Ctrl-C before the process
/// exits with what is committed.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(9);
/// The exit code when the engine failed beyond repair (EX_SOFTWARE).
const EXIT_FATAL: u8 = 70;

/// Resolves when the engine reports a fatal failure.
async fn wait_fatal(mut fatal: tokio::sync::watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(what) = fatal.borrow_and_update().clone() {
            return what;
        }
        if fatal.changed().await.is_err() {
            // The engine is gone without saying why: wait for a signal.
            std::future::pending::<()>().await;
        }
    }
}

/// Debug builds only: `TELLTALE_FAULT_PANIC_FEED=<feed>` makes the pipeline
/// panic on that feed's first message, for the end-to-end test of a crash.
fn fault_injection() -> Option<String> {
    if cfg!(debug_assertions) {
        std::env::var("TELLTALE_FAULT_PANIC_FEED").ok()
    } else {
        None
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_status(feeds: &[telltale_engine::FeedStatus], health: &telltale_engine::EngineHealth) {
    let now = Timestamp::now();
    let mut out = String::new();
    if let Some(what) = &health.fatal {
        out.push_str(&format!("\nENGINE STOPPED: {what}\n"));
    }
    if let Some(f) = &health.store.failure {
        out.push_str(&format!(
            "\nSTORAGE FAILING ({}) for {:.0}s, {} rows held, {} not stored: {}\n",
            f.code,
            now.since(f.since).as_secs_f64(),
            f.held_rows,
            health.store.shed_rows,
            f.message
        ));
    }
    out.push_str(&format!(
        "\n{:<22} {:<10} {:<11} {:>8} {:>7} {:>6} {:>7} {:>10}  {}\n",
        "FEED", "TRANSPORT", "STATE", "MSGS", "MSG/S", "RECON", "DROPPED", "LAST", "STATUS"
    ));
    for f in feeds {
        let last = f
            .last_message_at
            .map(|t| format!("{:.1}s ago", now.since(t).as_secs_f64()))
            .unwrap_or_else(|| "never".into());
        let status = match (&f.healthy, &f.status_text) {
            (Some(true), Some(t)) => format!("ok ({t})"),
            (Some(false), Some(t)) => format!("UNHEALTHY ({t})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{:<22} {:<10} {:<11} {:>8} {:>7.1} {:>6} {:>7} {:>10}  {}\n",
            f.name,
            f.transport.as_str(),
            f.state.name(),
            f.messages,
            f.rate,
            f.reconnects,
            f.dropped,
            last,
            status
        ));
    }
    println!("{out}");
}

fn feeds(db: &Path) -> Result<ExitCode, String> {
    let store = open_store(db, Default::default())?;
    print_storage(&store);
    let rows = export::feed_summaries(&store)?;
    println!(
        "{:<22} {:<10} {:<8} {:<11} {:>9}  {:<24}  URL",
        "FEED", "TRANSPORT", "ENABLED", "LAST STATE", "EVENTS", "LAST EVENT"
    );
    for r in rows {
        println!(
            "{:<22} {:<10} {:<8} {:<11} {:>9}  {:<24}  {}",
            r.name, r.transport, r.enabled, r.state, r.events, r.last_event, r.url
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The database's size and the free space beside it; a nearly full disk is
/// called out, as the process writing to it cannot store anything then.
fn print_storage(store: &Store) {
    let size = store
        .db_stats()
        .map(|s| s.file_bytes + s.wal_bytes)
        .unwrap_or(0);
    match telltale_store::disk_space(store.path()) {
        Some(space) if space.free < telltale_store::NEARLY_FULL => {
            println!(
                "storage: FULL: {} ({}) has {} free on its disk; Telltale cannot store data there. Free some space, or shorten retention (Settings → Storage, or [store] in the config)\n",
                store.path().display(),
                format_bytes(size),
                format_bytes(space.free)
            );
        }
        Some(space) => println!(
            "storage: ok: {} ({}), {} free of {}\n",
            store.path().display(),
            format_bytes(size),
            format_bytes(space.free),
            format_bytes(space.total)
        ),
        None => println!(
            "storage: {} ({})\n",
            store.path().display(),
            format_bytes(size)
        ),
    }
}

fn snooze(
    db: &Path,
    alert: Option<i64>,
    feed: Option<String>,
    rule: Option<String>,
    d: Duration,
) -> Result<ExitCode, String> {
    let target = match (alert, feed) {
        (Some(id), _) => alerts::SnoozeTarget::Alert(id),
        (None, Some(name)) => alerts::SnoozeTarget::Feed { name, rule },
        (None, None) => {
            return Err("say what to snooze: --alert ID, or --feed NAME [--rule NAME]".into())
        }
    };
    alerts::snooze(db, target, d.as_secs().max(1))
}

fn export_config(db: &Path) -> Result<ExitCode, String> {
    let store = open_store(db, Default::default())?;
    let feeds = store.list_feeds().map_err(|e| e.to_string())?;
    let settings = store
        .current_settings(&Default::default())
        .map_err(|e| e.to_string())?;
    // The API's export, so the two never differ in what they reveal.
    let export = telltale_api::export::config_export(&feeds, &settings).map_err(|e| e.message)?;
    print!("{}", export.text);
    Ok(ExitCode::SUCCESS)
}
