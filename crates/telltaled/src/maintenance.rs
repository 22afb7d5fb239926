//! `telltaled maintenance`: lists the maintenance windows, starts one now
//! for feeds or tags, or ends one, through the same [`Api`] the UI uses.
//!
//! The windows are stored with the settings in the database; a running
//! `telltaled run` on it is handed the new list through the command queue
//! (as `ack` and `mute` are) and applies it within a second.

use crate::alerts::{queue, with_api};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use telltale_api::{MaintenanceView, StartMaintenanceRequest};
use telltale_engine::AlertAction;
use telltale_model::Timestamp;

/// What to do.
pub enum Action {
    /// Print the windows.
    List,
    /// Start one now.
    Start(StartMaintenanceRequest),
    /// End the one with this name.
    End(String),
}

/// `telltaled maintenance`.
pub fn run(db: &Path, action: Action) -> Result<ExitCode, String> {
    let list = matches!(action, Action::List);
    let (views, said) = with_api(db, |api| async move {
        let said = match action {
            Action::List => None,
            Action::Start(r) => {
                let v = api.start_maintenance(r).await.map_err(|e| e.message)?;
                Some(format!(
                    "maintenance `{}` started: {} until {}",
                    v.window.name,
                    covers(&v),
                    v.active_until.map(time).unwrap_or_default()
                ))
            }
            Action::End(name) => {
                api.end_maintenance(&name).await.map_err(|e| e.message)?;
                Some(format!("maintenance `{name}` ended"))
            }
        };
        Ok((api.maintenance().await.map_err(|e| e.message)?, said))
    })?;
    if list {
        print_list(&views);
        return Ok(ExitCode::SUCCESS);
    }
    let windows = views.into_iter().map(|v| v.window).collect();
    let applied = queue(db, &AlertAction::SetMaintenance { windows })?;
    println!(
        "{}{}",
        said.unwrap_or_default(),
        if applied {
            "; the running telltaled applied it"
        } else {
            "; stored (no telltaled is running on this database)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn covers(v: &MaintenanceView) -> String {
    if v.covers.is_empty() {
        "no feed now".into()
    } else {
        v.covers.join(", ")
    }
}

fn print_list(views: &[MaintenanceView]) {
    if views.is_empty() {
        println!("no maintenance windows: `telltaled maintenance --feed NAME --for 2h` starts one");
        return;
    }
    println!("{:<32}  {:<28}  {:<36}  COVERS", "NAME", "WHEN", "STATE");
    for v in views {
        let w = &v.window;
        let when = match (&w.start, &w.end, &w.from, &w.to) {
            (Some(s), Some(e), _, _) => format!("{s} – {e}"),
            (_, _, Some(f), Some(t)) => {
                let days = if w.days.is_empty() {
                    "daily".to_string()
                } else {
                    w.days.join(",")
                };
                format!(
                    "{days} {f}–{t}{}",
                    w.time_zone
                        .as_deref()
                        .map(|z| format!(" {z}"))
                        .unwrap_or_default()
                )
            }
            _ => String::new(),
        };
        let state = match (v.active_until, v.next_start) {
            (Some(u), _) => format!("in force until {}", time(u)),
            (None, Some(n)) => format!("next from {}", time(n)),
            (None, None) => "not within a week".into(),
        };
        println!("{:<32}  {:<28}  {:<36}  {}", w.name, when, state, covers(v));
    }
}

fn time(ms: i64) -> String {
    Timestamp::from_millis(ms).to_rfc3339_millis()
}

/// The request for `--feed`/`--tag`/`--for`/`--name`.
pub fn start(
    feeds: Vec<String>,
    tags: Vec<String>,
    duration: Duration,
    name: Option<String>,
) -> StartMaintenanceRequest {
    StartMaintenanceRequest {
        name,
        feeds,
        tags,
        secs: duration.as_secs(),
    }
}
