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

use crate::pipeline::Pipeline;
use crate::registry::{Engine, Shared};
use serde::Serialize;
use std::sync::Arc;
use telltale_alerts::{Notification, NotificationKind};
use telltale_model::alert::Severity;
use telltale_store::{StoreFailure, StoreHealth};
use tokio::task::JoinHandle;

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
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

impl Engine {
    /// The engine's own health: whether the store writes, and whether
    /// anything fatal happened.
    pub fn health(&self) -> EngineHealth {
        EngineHealth {
            store: self.inner.store.health(),
            fatal: self.inner.shared.fatal.borrow().clone(),
        }
    }

    /// Becomes `Some(what happened)` when the engine can no longer work
    /// (the pipeline crashed, the store's writer stopped). Shells exit
    /// non-zero on it, so that a supervisor restarts them.
    pub fn fatal(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.inner.shared.fatal.subscribe()
    }

    /// Notifies when storage starts failing and when it recovers.
    pub(crate) fn spawn_health_watch(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut health = self.inner.store.watch_health();
        tokio::spawn(async move {
            let mut failing = false;
            while health.changed().await.is_ok() {
                let now = health.borrow_and_update().clone();
                let Some(inner) = weak.upgrade() else { break };
                match (&now.failure, failing) {
                    (Some(f), false) => {
                        failing = true;
                        inner
                            .shared
                            .alerting
                            .notify_now(crate::health::storage_failing(f));
                    }
                    (None, true) => {
                        failing = false;
                        inner
                            .shared
                            .alerting
                            .notify_now(crate::health::storage_recovered(&now));
                    }
                    _ => {}
                }
            }
        });
    }
}

/// Runs the pipeline in its own task and turns a panic into a fatal
/// engine failure instead of a silent stop. The returned task ends when the
/// pipeline does.
pub(crate) fn supervise_pipeline(pipeline: Pipeline, shared: Arc<Shared>) -> JoinHandle<()> {
    let task = tokio::spawn(pipeline.run());
    tokio::spawn(async move {
        if let Err(e) = task.await {
            let what = if e.is_panic() {
                let payload = e.into_panic();
                format!(
                    "the ingest pipeline crashed ({})",
                    crate::health::panic_message(payload.as_ref())
                )
            } else {
                "the ingest pipeline was cancelled".to_string()
            };
            shared.set_fatal(what);
        }
    })
}
