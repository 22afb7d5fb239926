//! Whether the store is writing: what the engine, the API, the UI and the
//! tray show so that a full disk never leaves the monitor blind in silence.

use serde::Serialize;
use std::collections::BTreeMap;
use telltale_model::Timestamp;

/// The store's write health, published by the writer thread after every
/// change (see [`crate::Store::health`] and [`crate::Store::watch_health`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreHealth {
    /// `None` while commits succeed; the current failure otherwise.
    pub failure: Option<StoreFailure>,
    /// Rows dropped since the store was opened because commits kept
    /// failing and the rows held for them reached
    /// [`crate::StoreOptions::hold_while_failing`].
    pub shed_rows: u64,
    /// Events among `shed_rows`, by feed id (messages that were received
    /// but not stored).
    pub shed_events: BTreeMap<i64, u64>,
    /// Rows discarded since the store was opened because SQLite refused
    /// them for good (corruption, a constraint): the batch that failed is
    /// set aside so that the others can still be stored.
    pub discarded_rows: u64,
    /// The last discard's reason.
    pub discarded_reason: Option<String>,
}

impl StoreHealth {
    /// True while commits succeed.
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// A failure that is going on: commits have failed since `since`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreFailure {
    /// Stable code: `disk_full`, `locked`, `read_only`, `permission_denied`,
    /// `io`, `corrupt` or `error` (see [`crate::StoreError::code`]).
    pub code: &'static str,
    /// What went wrong and what to do, as [`crate::StoreError`] says it.
    pub message: String,
    /// When the first failing commit was tried.
    pub since: Timestamp,
    /// Commit attempts that failed so far.
    pub attempts: u32,
    /// Rows received and held in memory, waiting for a commit that works.
    pub held_rows: u64,
    /// Their approximate size in bytes.
    pub held_bytes: u64,
}
