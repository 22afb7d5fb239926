//! `telltaled alerts`, `ack`, `snooze`, `mute`, `unmute`, through the same
//! [`Api`] the UI uses.
//!
//! The commands open the database with a passive [`Runtime`] (no feeds, no
//! clock: nothing changes but what was asked). Actions are first queued in
//! the database: a running `telltaled run` on the same database applies
//! them within a second, so that its in-memory state stays the one truth.
//! When none is running, the command applies them itself with
//! `Api::alert_action`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use telltale_api::{AlertActionInput, AlertView, Api, PhaseView, Runtime, RuntimeOptions};
use telltale_engine::AlertAction;
use telltale_model::Timestamp;

/// Runs `f` on a passive runtime over `db`, then commits and closes it.
pub(crate) fn with_api<T, F, Fut>(db: &Path, f: F) -> Result<T, String>
where
    F: FnOnce(Api) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    if !db.exists() {
        return Err(format!(
            "{} does not exist: pass the database that `telltaled run --db` uses",
            db.display()
        ));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(async {
        let runtime = Runtime::start(RuntimeOptions {
            db: db.to_path_buf(),
            passive: true,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let out = f(runtime.api().clone()).await;
        runtime.shutdown().await.map_err(|e| e.to_string())?;
        out
    })
}

/// `telltaled alerts`.
pub fn list(db: &Path, firing_only: bool, history: Option<i64>) -> Result<ExitCode, String> {
    with_api(db, |api| async move {
        let mut alerts = api.alerts().await.map_err(|e| e.message)?;
        if let Some(id) = history {
            if !alerts.iter().any(|a| a.id == id) {
                return Err(format!(
                    "there is no alert {id}: `telltaled alerts` lists them"
                ));
            }
            let rows = api.alert_history(id).await.map_err(|e| e.message)?;
            println!("{:<24}  {:<13} {:>8}  DETAIL", "TIME", "EVENT", "VALUE");
            for h in rows {
                println!(
                    "{:<24}  {:<13} {:>8}  {}",
                    time(h.ts),
                    h.kind,
                    h.value.map(fmt_value).unwrap_or_default(),
                    h.detail
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        if firing_only {
            alerts.retain(|a| a.phase == PhaseView::Firing);
        }
        alerts.sort_by(|a, b| {
            (b.phase == PhaseView::Firing)
                .cmp(&(a.phase == PhaseView::Firing))
                .then(b.severity.cmp(&a.severity))
                .then(b.since.cmp(&a.since))
        });
        let mute = api.mute_state().await.map_err(|e| e.message)?;
        match (mute.muted, mute.until) {
            (true, None) => println!("notifications: MUTED until unmuted"),
            (true, Some(t)) => println!("notifications: MUTED until {}", time(t)),
            _ => {}
        }
        print_table(&alerts, firing_only);
        Ok(ExitCode::SUCCESS)
    })
}

fn print_table(alerts: &[AlertView], firing_only: bool) {
    println!(
        "{:>4}  {:<9} {:<8} {:<18} {:<16} {:<24} {:>8}  {:<5} SUMMARY",
        "ID", "STATE", "SEVERITY", "FEED", "RULE", "SINCE", "VALUE", "ACKED"
    );
    for a in alerts {
        println!(
            "{:>4}  {:<9} {:<8} {:<18} {:<16} {:<24} {:>8}  {:<5} {}",
            a.id,
            phase(a.phase),
            a.severity.as_str(),
            a.feed,
            a.rule,
            time(a.since),
            a.value.map(fmt_value).unwrap_or_default(),
            if a.acked_at.is_some() { "yes" } else { "" },
            a.summary
        );
    }
    if alerts.is_empty() {
        println!("(no {}alerts)", if firing_only { "firing " } else { "" });
    }
}

fn phase(p: PhaseView) -> &'static str {
    match p {
        PhaseView::Ok => "ok",
        PhaseView::Pending => "pending",
        PhaseView::Firing => "firing",
        PhaseView::Resolved => "resolved",
    }
}

fn time(ms: i64) -> String {
    Timestamp::from_millis(ms).to_rfc3339_millis()
}

fn fmt_value(v: f64) -> String {
    telltale_alerts::rule::fmt_num(v)
}

/// What to snooze, before feed names are resolved.
pub enum SnoozeTarget {
    /// The rule behind an alert.
    Alert(i64),
    /// One rule of a feed, or the whole feed.
    Feed {
        /// The feed's name.
        name: String,
        /// The rule's name, or every rule.
        rule: Option<String>,
    },
}

/// `telltaled snooze`.
pub fn snooze(db: &Path, target: SnoozeTarget, secs: u64) -> Result<ExitCode, String> {
    let action = match target {
        SnoozeTarget::Alert(id) => AlertActionInput::SnoozeAlert { id, secs },
        SnoozeTarget::Feed { name, rule } => {
            let feed_id = with_api(db, |api| async move {
                match api.get_feed(&name).await {
                    Ok(f) => Ok(f.feed.id),
                    Err(e) if e.code == telltale_api::ErrorCode::NotFound => Err(format!(
                        "there is no feed named `{name}`: `telltaled feeds` lists them"
                    )),
                    Err(e) => Err(e.message),
                }
            })?;
            match rule {
                Some(rule) => AlertActionInput::SnoozeRule {
                    feed_id,
                    rule,
                    secs,
                },
                None => AlertActionInput::SnoozeFeed { feed_id, secs },
            }
        }
    };
    act(db, action)
}

/// Queues an action for a running `telltaled run`; applies it here through
/// the API if none picks it up.
pub fn act(db: &Path, action: AlertActionInput) -> Result<ExitCode, String> {
    // Check against the stored state first, for a clear error.
    let alerts = with_api(db, |api| async move {
        api.alerts().await.map_err(|e| e.message)
    })?;
    check(&alerts, &action)?;
    if queue(db, &AlertAction::from(action.clone()))? {
        println!("done: the running telltaled applied it");
        return Ok(ExitCode::SUCCESS);
    }
    with_api(db, |api| async move {
        api.alert_action(action).await.map_err(|e| e.message)
    })?;
    println!(
        "done (no telltaled was running on {}; applied directly)",
        db.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Queues `action` for a running `telltaled run` on `db`: true once it
/// applied it (within 3 s); false, with the action taken back, when none
/// did.
pub(crate) fn queue(db: &Path, action: &AlertAction) -> Result<bool, String> {
    let store = telltale_store::Store::open(db, Default::default()).map_err(|e| e.to_string())?;
    let json = serde_json::to_string(action).map_err(|e| e.to_string())?;
    let cmd = store.push_alert_command(&json).map_err(|e| e.to_string())?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
        let pending = store.pending_alert_commands().map_err(|e| e.to_string())?;
        if !pending.iter().any(|(id, _)| *id == cmd) {
            return Ok(true);
        }
    }
    // Nobody picked it up: take it back (unless taken meanwhile).
    Ok(!store.take_alert_command(cmd).map_err(|e| e.to_string())?)
}

fn check(alerts: &[AlertView], action: &AlertActionInput) -> Result<(), String> {
    let id = match action {
        AlertActionInput::Ack { id } | AlertActionInput::SnoozeAlert { id, .. } => *id,
        _ => return Ok(()),
    };
    match alerts.iter().find(|a| a.id == id) {
        None => Err(format!(
            "there is no alert {id}: `telltaled alerts` lists them"
        )),
        Some(a)
            if matches!(action, AlertActionInput::Ack { .. }) && a.phase != PhaseView::Firing =>
        {
            Err(format!(
                "alert {id} is {}, not firing: there is nothing to acknowledge",
                phase(a.phase)
            ))
        }
        Some(_) => Ok(()),
    }
}
