//! The engine watches itself: whether the store is writing and whether the
//! pipeline is running. A monitor that goes blind must say so.
//!
//! * [`EngineHealth`] is what the API, the CLI, the UI header and the tray
//!   lamp show.
//! * When commits start failing (a full disk), a built-in critical
//!   notification says so ("Telltale cannot store data: disk full") and
//!   another one says when writing works again. They are sent whatever the
//!   mute and quiet hours: they are about the monitor itself.
//! * A crashed pipeline or a writer thread that stopped is fatal: logged
//!   once, shown as health, and signalled through [`crate::Engine::fatal`]
//!   so that the shells exit non-zero and a supervisor restarts them.

use serde::Serialize;
use telltale_alerts::{Notification, NotificationKind};
use telltale_model::alert::Severity;
use telltale_store::{StoreFailure, StoreHealth};

/// The engine's own health.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineHealth {
    /// Whether the store is writing.
    pub store: StoreHealth,
    /// Set when the engine can no longer work (the pipeline crashed, the
    /// writer stopped): what happened. The process should be restarted.
    pub fatal: Option<String>,
}

impl EngineHealth {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.store.is_ok() && self.fatal.is_none()
    }
}

/// The title of the built-in notification for a storage failure.
pub fn storage_summary(f: &StoreFailure) -> String {
    let what = match f.code {
        "disk_full" => "disk full",
        "locked" => "the database is locked by another process",
        "read_only" => "the database is read-only",
        "permission_denied" => "permission denied",
        "io" => "I/O error",
        "corrupt" => "the database is damaged",
        _ => "write error",
    };
    format!("Telltale cannot store data: {what}")
}

/// The notification for a storage failure that began.
pub(crate) fn storage_failing(f: &StoreFailure) -> Notification {
    Notification {
        alert_id: None,
        kind: NotificationKind::Health,
        summary: storage_summary(f),
        body: format!(
            "{} Feeds, alerts and the live view go on; what arrives meanwhile is held in memory for a while.",
            f.message
        ),
        severity: Severity::Critical,
        replaces: None,
    }
}

/// The notification for storage that works again.
pub(crate) fn storage_recovered(h: &StoreHealth) -> Notification {
    let shed: u64 = h.shed_rows;
    let body = if shed > 0 {
        format!("Writing works again. {shed} rows received while it failed could not be kept.")
    } else {
        "Writing works again; nothing received meanwhile was lost.".to_string()
    };
    Notification {
        alert_id: None,
        kind: NotificationKind::Health,
        summary: "Telltale stores data again".into(),
        body,
        severity: Severity::Info,
        replaces: None,
    }
}

/// The notification for a fatal engine failure.
pub(crate) fn fatal(what: &str) -> Notification {
    Notification {
        alert_id: None,
        kind: NotificationKind::Health,
        summary: "Telltale stopped monitoring".into(),
        body: format!("{what}. Restart Telltale."),
        severity: Severity::Critical,
        replaces: None,
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
