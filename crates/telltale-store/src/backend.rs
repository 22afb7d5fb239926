//! The storage seam: what the rest of Telltale may ask of its history, so
//! that a second backend (PostgreSQL, for the server mode where several
//! nodes share one database) can stand in for SQLite without the engine or
//! the API changing.
//!
//! It has two halves.
//!
//! * **[`Storage`]: reads and control calls.** Everything the API asks
//!   (feeds, series, events, timelines, alert history, statistics,
//!   settings, retention). The calls block: run them on a blocking thread
//!   (`spawn_blocking`), never on an async worker. [`crate::Store`]
//!   implements it; `telltale-api` reaches storage only as `&dyn Storage`.
//! * **[`Writes`]: the write path, ordered [`crate::WriteBatch`]es to
//!   one writer.** The engine's pipeline hands each step's events,
//!   samples, timeline rows and alert changes to [`Writes::send`] (async,
//!   bounded: back-pressure instead of unbounded memory), [`Writes::flush`]
//!   waits until everything sent is committed (a sample counted as
//!   committed survives `kill -9`), and [`Writes::health`] /
//!   [`Writes::watch_health`] say whether commits are failing (a full disk)
//!   and since when. Feed definitions and the alert state the engine
//!   restores on start go through it too. A backend keeps those contracts:
//!   batches applied in order and atomically, rollups and retention its own
//!   business, failures reported through health rather than by blocking
//!   the sender for ever.
//!
//! [`Backend`] is both halves: the engine holds an `Arc<dyn Backend>` and
//! the API reaches it only through the engine, so a PostgreSQL backend is
//! one more `impl` of these two traits.
//!
//! What a backend does not promise: SQLite's single-file layout, its
//! `PRAGMA`s, or the row ids' values (ids are opaque and stable).

use crate::{
    AlertHistoryRow, DbStats, EventQuery, FeedOrigin, PayloadRates, RetentionReport, SeriesData,
    SeriesInfo, SeriesQuery, StoreError, StoreHealth, StoredEvent, StoredFeed, TimelineEntry,
    WriteBatch,
};
use std::future::Future;
use std::pin::Pin;
use telltale_model::config::{Settings, StoreSettings};
use telltale_model::{FeedConfig, Timestamp};
use tokio::sync::watch;

/// A boxed `Send` future borrowing the backend (async trait methods that
/// stay object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The write path and what the engine keeps in storage (see the module
/// docs). The async calls are the hot path; the others block (run them
/// on a blocking thread).
pub trait Writes: Send + Sync {
    /// Queues a batch for the writer; waits while its queue is full.
    fn send(&self, batch: WriteBatch) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Resolves once everything sent before is committed.
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Whether commits succeed now, and what was shed while they did not.
    fn health(&self) -> StoreHealth;
    /// [`Writes::health`] as it changes.
    fn watch_health(&self) -> watch::Receiver<StoreHealth>;
    /// Events committed since the backend was opened.
    fn committed_events(&self) -> watch::Receiver<u64>;
    /// Each feed's payloads committed since the backend was opened or the
    /// feed was last saved.
    fn payload_rates(&self) -> PayloadRates;
    /// Adds or replaces a feed's definition; returns its id.
    fn upsert_feed(&self, cfg: &FeedConfig, origin: FeedOrigin) -> Result<i64, StoreError>;
    /// Deletes a feed and its history; false if there was none.
    fn delete_feed(&self, name: &str) -> Result<bool, StoreError>;
    /// The alert engine's saved rows and silences, to restore on start.
    fn load_alerts(&self) -> Result<(Vec<String>, Option<String>), StoreError>;
    /// Alert actions queued by one-off commands, oldest first.
    fn pending_alert_commands(&self) -> Result<Vec<(i64, String)>, StoreError>;
}

/// A whole storage backend: reads and control ([`Storage`]) and the write
/// path ([`Writes`]).
pub trait Backend: Storage + Writes {}

impl<T: Storage + Writes> Backend for T {}

impl Writes for crate::Store {
    fn send(&self, batch: WriteBatch) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(crate::Store::send(self, batch))
    }
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(crate::Store::flush(self))
    }
    fn health(&self) -> StoreHealth {
        crate::Store::health(self)
    }
    fn watch_health(&self) -> watch::Receiver<StoreHealth> {
        crate::Store::watch_health(self)
    }
    fn committed_events(&self) -> watch::Receiver<u64> {
        crate::Store::committed_events(self)
    }
    fn payload_rates(&self) -> PayloadRates {
        crate::Store::payload_rates(self)
    }
    fn upsert_feed(&self, cfg: &FeedConfig, origin: FeedOrigin) -> Result<i64, StoreError> {
        crate::Store::upsert_feed(self, cfg, origin)
    }
    fn delete_feed(&self, name: &str) -> Result<bool, StoreError> {
        crate::Store::delete_feed(self, name)
    }
    fn load_alerts(&self) -> Result<(Vec<String>, Option<String>), StoreError> {
        crate::Store::load_alerts(self)
    }
    fn pending_alert_commands(&self) -> Result<Vec<(i64, String)>, StoreError> {
        crate::Store::pending_alert_commands(self)
    }
}

/// Reads and control calls on Telltale's history (see the module docs).
/// Every call blocks and is bounded in time; errors are [`StoreError`]s,
/// whose messages say what to do.
pub trait Storage: Send + Sync {
    /// Every stored feed (a feed whose stored config cannot be read is
    /// left out and logged).
    fn list_feeds(&self) -> Result<Vec<StoredFeed>, StoreError>;
    /// One feed by name.
    fn feed_by_name(&self, name: &str) -> Result<Option<StoredFeed>, StoreError>;
    /// The series a feed has stored.
    fn list_series(&self, feed_id: i64) -> Result<Vec<SeriesInfo>, StoreError>;
    /// A series over a range in at most `max_points` buckets, from the
    /// coarsest tier that fills them.
    fn query_series(&self, q: &SeriesQuery) -> Result<SeriesData, StoreError>;
    /// Stored events, newest first.
    fn events(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;
    /// A feed's timeline rows in `[from, to)`, at most `limit`.
    fn timeline(
        &self,
        feed_id: i64,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>, StoreError>;
    /// A feed's state at `ts` (the last timeline row before it).
    fn state_at(&self, feed_id: i64, ts: Timestamp) -> Result<Option<TimelineEntry>, StoreError>;
    /// One alert's history (or every alert's), newest first.
    fn alert_history(
        &self,
        alert_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AlertHistoryRow>, StoreError>;
    /// Sizes, row counts and tiers.
    fn db_stats(&self) -> Result<DbStats, StoreError>;
    /// The `[store]` settings in force.
    fn settings(&self) -> StoreSettings;
    /// The settings saved in the database (none before the first save).
    fn stored_settings(&self) -> Result<crate::StoredSettings, StoreError>;
    /// Stores the settings and applies the `[store]` ones (retention).
    fn save_settings(&self, settings: &Settings) -> Result<(), StoreError>;
    /// Runs retention as of `now` and gives free space back.
    fn run_retention(&self, now: Timestamp) -> Result<RetentionReport, StoreError>;
    /// Moves raw samples older than a minute before `now` into compressed
    /// chunks (done every minute anyway; this does it now).
    fn compact_samples(&self, now: Timestamp) -> Result<crate::CompactReport, StoreError>;
}

impl Storage for crate::Store {
    fn list_feeds(&self) -> Result<Vec<StoredFeed>, StoreError> {
        crate::Store::list_feeds(self)
    }
    fn feed_by_name(&self, name: &str) -> Result<Option<StoredFeed>, StoreError> {
        crate::Store::feed_by_name(self, name)
    }
    fn list_series(&self, feed_id: i64) -> Result<Vec<SeriesInfo>, StoreError> {
        crate::Store::list_series(self, feed_id)
    }
    fn query_series(&self, q: &SeriesQuery) -> Result<SeriesData, StoreError> {
        crate::Store::query_series(self, q)
    }
    fn events(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        crate::Store::events(self, q)
    }
    fn timeline(
        &self,
        feed_id: i64,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        crate::Store::timeline(self, feed_id, from, to, limit)
    }
    fn state_at(&self, feed_id: i64, ts: Timestamp) -> Result<Option<TimelineEntry>, StoreError> {
        crate::Store::state_at(self, feed_id, ts)
    }
    fn alert_history(
        &self,
        alert_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AlertHistoryRow>, StoreError> {
        crate::Store::alert_history(self, alert_id, limit)
    }
    fn db_stats(&self) -> Result<DbStats, StoreError> {
        crate::Store::db_stats(self)
    }
    fn settings(&self) -> StoreSettings {
        crate::Store::settings(self)
    }
    fn stored_settings(&self) -> Result<crate::StoredSettings, StoreError> {
        crate::Store::stored_settings(self)
    }
    fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        crate::Store::save_settings(self, settings)
    }
    fn run_retention(&self, now: Timestamp) -> Result<RetentionReport, StoreError> {
        crate::Store::run_retention(self, now)
    }
    fn compact_samples(&self, now: Timestamp) -> Result<crate::CompactReport, StoreError> {
        crate::Store::compact_samples(self, now)
    }
}
