//! `telltaled alerts`, `ack`, `snooze`, `mute`, `unmute`.
//!
//! Actions are queued in the database. A running `telltaled run` on the same
//! database applies them within a second (so its in-memory state stays the
//! one truth); when none is running, the command applies them itself.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale_alerts::silence::Silences;
use telltale_alerts::{AlertEngine, AlertInstance, Phase};
use telltale_engine::AlertAction;
use telltale_model::time::SystemClock;
use telltale_model::Timestamp;
use telltale_store::Store;

fn open(db: &Path) -> Result<Store, String> {
    if !db.exists() {
        return Err(format!(
            "{} does not exist: pass the database that `telltaled run --db` uses",
            db.display()
        ));
    }
    Store::open(db, Default::default()).map_err(|e| e.to_string())
}

fn load(store: &Store) -> Result<(Vec<AlertInstance>, Silences), String> {
    let (rows, silences) = store.load_alerts().map_err(|e| e.to_string())?;
    let instances = rows
        .iter()
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect();
    let silences = silences
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    Ok((instances, silences))
}

/// `telltaled alerts`.
pub fn list(db: &Path, firing_only: bool, history: Option<i64>) -> Result<ExitCode, String> {
    let store = open(db)?;
    let (mut instances, silences) = load(&store)?;
    if let Some(id) = history {
        let rows = store
            .alert_history(Some(id), 1000)
            .map_err(|e| e.to_string())?;
        if rows.is_empty() && !instances.iter().any(|i| i.id == id) {
            return Err(format!(
                "there is no alert {id}: `telltaled alerts` lists them"
            ));
        }
        println!("{:<24}  {:<13} {:>8}  DETAIL", "TIME", "EVENT", "VALUE");
        for h in rows {
            println!(
                "{:<24}  {:<13} {:>8}  {}",
                h.ts.to_rfc3339_millis(),
                h.kind,
                h.value.map(fmt_value).unwrap_or_default(),
                h.detail
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if firing_only {
        instances.retain(|i| i.phase == Phase::Firing);
    }
    instances.sort_by(|a, b| {
        (b.phase == Phase::Firing)
            .cmp(&(a.phase == Phase::Firing))
            .then(b.severity.cmp(&a.severity))
            .then(b.since.cmp(&a.since))
    });
    match silences.muted {
        Some(None) => println!("notifications: MUTED until unmuted"),
        Some(Some(t)) if t > Timestamp::now() => {
            println!("notifications: MUTED until {}", t.to_rfc3339_millis())
        }
        _ => {}
    }
    println!(
        "{:>4}  {:<9} {:<8} {:<18} {:<16} {:<24} {:>8}  {:<5} SUMMARY",
        "ID", "STATE", "SEVERITY", "FEED", "RULE", "SINCE", "VALUE", "ACKED"
    );
    for i in &instances {
        println!(
            "{:>4}  {:<9} {:<8} {:<18} {:<16} {:<24} {:>8}  {:<5} {}",
            i.id,
            i.phase.as_str(),
            i.severity.as_str(),
            i.feed,
            i.rule,
            i.since.to_rfc3339_millis(),
            i.value.map(fmt_value).unwrap_or_default(),
            if i.acked_at.is_some() { "yes" } else { "" },
            i.summary
        );
    }
    if instances.is_empty() {
        println!("(no {}alerts)", if firing_only { "firing " } else { "" });
    }
    Ok(ExitCode::SUCCESS)
}

fn fmt_value(v: f64) -> String {
    telltale_alerts::rule::fmt_num(v)
}

/// Resolves a feed name to its id.
pub fn feed_id(db: &Path, name: &str) -> Result<i64, String> {
    let store = open(db)?;
    store
        .feed_by_name(name)
        .map_err(|e| e.to_string())?
        .map(|f| f.id)
        .ok_or_else(|| format!("there is no feed named `{name}`: `telltaled feeds` lists them"))
}

/// Queues an action; applies it here if no `telltaled run` picks it up.
pub fn act(db: &Path, action: AlertAction) -> Result<ExitCode, String> {
    let store = open(db)?;
    // Validate against the stored state first, for a clear error.
    let (instances, silences) = load(&store)?;
    if let AlertAction::Ack { id } | AlertAction::SnoozeAlert { id, .. } = &action {
        match instances.iter().find(|i| i.id == *id) {
            None => {
                return Err(format!(
                    "there is no alert {id}: `telltaled alerts` lists them"
                ))
            }
            Some(i) if matches!(action, AlertAction::Ack { .. }) && i.phase != Phase::Firing => {
                return Err(format!(
                    "alert {id} is {}, not firing: there is nothing to acknowledge",
                    i.phase.as_str()
                ))
            }
            _ => {}
        }
    }
    let json = serde_json::to_string(&action).map_err(|e| e.to_string())?;
    let cmd = store.push_alert_command(&json).map_err(|e| e.to_string())?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
        let pending = store.pending_alert_commands().map_err(|e| e.to_string())?;
        if !pending.iter().any(|(id, _)| *id == cmd) {
            println!("done: the running telltaled applied it");
            return Ok(ExitCode::SUCCESS);
        }
    }
    // Nobody picked it up: take it back and apply it here.
    if !store.take_alert_command(cmd).map_err(|e| e.to_string())? {
        println!("done: the running telltaled applied it");
        return Ok(ExitCode::SUCCESS);
    }
    let mut engine = AlertEngine::new(Default::default(), Arc::new(SystemClock), 0);
    engine.restore(instances, silences);
    telltale_engine::alerting::apply_to(&mut engine, &action).map_err(|e| e.to_string())?;
    let mut out = engine.drain();
    // Nothing here can close a popup: keep its id, so that the next
    // telltaled closes the popup of an alert acknowledged here.
    for w in &out.withdrawn {
        if let Some(i) = out.changed.iter_mut().find(|i| i.id == w.alert_id) {
            i.notice_id = w.notice_id;
        }
    }
    let silences = out
        .silences_changed
        .then(|| serde_json::to_string(engine.silences()).ok())
        .flatten();
    let batch = telltale_engine::alerting::output_batch(&out, silences);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        store.send(batch).await.map_err(|e| e.to_string())?;
        store.flush().await.map_err(|e| e.to_string())
    })?;
    println!(
        "done (no telltaled was running on {}; applied directly)",
        db.display()
    );
    Ok(ExitCode::SUCCESS)
}
