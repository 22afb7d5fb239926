//! The server's version and health: whether Telltale is storing what it
//! receives. What the UI header, the tray lamp and `telltaled feeds` show.

use crate::api::Api;
use crate::error::ApiError;
use crate::views::ms;
use serde::{Deserialize, Serialize};
use telltale_engine::EngineHealth;
use ts_rs::TS;

/// `GET /api/health`: the version, and whether the engine is storing data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct HealthView {
    /// Telltale's version.
    pub version: String,
    /// `ok`, `degraded` (rows were shed or set aside, but commits work),
    /// `failing` (commits fail now) or `fatal` (the engine stopped).
    pub status: String,
    /// The store's side.
    pub storage: StorageHealthView,
    /// What stopped the engine, if anything did; restart Telltale.
    pub fatal: Option<String>,
}

/// Whether the store is writing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct StorageHealthView {
    /// True while commits succeed.
    pub ok: bool,
    /// A stable code for the failure: `disk_full`, `locked`, `read_only`,
    /// `permission_denied`, `io`, `corrupt` or `error`.
    pub code: Option<String>,
    /// The failure in words, saying what to do.
    pub message: Option<String>,
    /// When commits began to fail (ms since the epoch).
    #[ts(type = "number | null")]
    pub since: Option<i64>,
    /// Failed commit attempts so far.
    pub attempts: u32,
    /// Rows held in memory, waiting for a commit that works.
    #[ts(type = "number")]
    pub held_rows: u64,
    /// Rows not stored since Telltale started, because commits failed for
    /// too long.
    #[ts(type = "number")]
    pub shed_rows: u64,
    /// Rows SQLite refused for good (corruption, a constraint) and that
    /// were set aside since Telltale started.
    #[ts(type = "number")]
    pub discarded_rows: u64,
}

impl From<&EngineHealth> for HealthView {
    fn from(h: &EngineHealth) -> Self {
        let s = &h.store;
        let f = s.failure.as_ref();
        let status = if h.fatal.is_some() {
            "fatal"
        } else if f.is_some() {
            "failing"
        } else if s.shed_rows > 0 || s.discarded_rows > 0 {
            "degraded"
        } else {
            "ok"
        };
        HealthView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            status: status.to_string(),
            storage: StorageHealthView {
                ok: f.is_none(),
                code: f.map(|f| f.code.to_string()),
                message: f.map(|f| f.message.clone()),
                since: f.map(|f| ms(f.since)),
                attempts: f.map_or(0, |f| f.attempts),
                held_rows: f.map_or(0, |f| f.held_rows),
                shed_rows: s.shed_rows,
                discarded_rows: s.discarded_rows,
            },
            fatal: h.fatal.clone(),
        }
    }
}

/// The server's version and the operations it offers: a client talking to
/// another version of Telltale (a desktop attached to a server, later) can
/// tell what it may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct AboutView {
    /// Telltale's version.
    pub version: String,
    /// Every operation's name (`POST /api/call/{op}`, IPC `call`).
    pub operations: Vec<String>,
    /// Where webhook senders reach this engine (`http://127.0.0.1:7879`):
    /// a webhook feed receives at `{receiver}/hooks/{feed}`. Empty when
    /// nothing listens (`telltaled` without `serve`).
    pub webhook_receivers: Vec<String>,
}

impl Api {
    /// The version and the operations this server offers.
    pub fn about(&self) -> AboutView {
        AboutView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            operations: crate::OPERATIONS.iter().map(|o| o.to_string()).collect(),
            webhook_receivers: self.engine().webhooks().receivers(),
        }
    }

    /// The version, and whether Telltale is storing what it receives.
    pub async fn health(&self) -> Result<HealthView, ApiError> {
        Ok(HealthView::from(&self.engine().health()))
    }
}
