//! Stored feeds: their configs (as JSON), where they came from, and the SQL
//! that creates, reads and deletes them.
//!
//! Changes run on the writer thread (see [`crate::Store::upsert_feed`]), so
//! the writer's caches of known feeds and series never go stale; reads use
//! the read-only pool.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};
use telltale_model::{FeedConfig, Timestamp};

/// Where a feed's definition lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedOrigin {
    /// Imported from the config file (the file is the source of truth).
    File,
    /// Created or edited in the GUI.
    Gui,
}

impl FeedOrigin {
    /// `file` or `gui`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedOrigin::File => "file",
            FeedOrigin::Gui => "gui",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<FeedOrigin> {
        match s {
            "file" => Some(FeedOrigin::File),
            "gui" => Some(FeedOrigin::Gui),
            _ => None,
        }
    }
}

impl std::fmt::Display for FeedOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A feed as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFeed {
    /// Its id; events, series and timeline entries refer to it.
    pub id: i64,
    /// The configuration.
    pub config: FeedConfig,
    /// Where the configuration came from.
    pub origin: FeedOrigin,
    /// When the feed was first stored.
    pub created_at: Timestamp,
    /// When its config or origin last changed.
    pub updated_at: Timestamp,
}

/// A feed row whose config is still JSON text.
pub(crate) struct FeedRow {
    pub id: i64,
    pub name: String,
    pub config: String,
    pub origin: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FeedRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<FeedRow> {
        Ok(FeedRow {
            id: r.get(0)?,
            name: r.get(1)?,
            config: r.get(2)?,
            origin: r.get(3)?,
            created_at: r.get(4)?,
            updated_at: r.get(5)?,
        })
    }

    /// Parses the config.
    pub fn into_stored(self) -> Result<StoredFeed, (String, serde_json::Error)> {
        let config: FeedConfig = serde_json::from_str(&self.config).map_err(|e| (self.name, e))?;
        Ok(StoredFeed {
            id: self.id,
            config,
            origin: FeedOrigin::parse(&self.origin).unwrap_or(FeedOrigin::Gui),
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

const COLUMNS: &str = "id, name, config, origin, created_at, updated_at";

/// Every feed, by name.
pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Vec<FeedRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM feeds ORDER BY name"))?;
    let rows = stmt.query_map([], FeedRow::from_row)?;
    rows.collect()
}

/// One feed by name.
pub(crate) fn by_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<FeedRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM feeds WHERE name = ?1"))?
        .query_row([name], FeedRow::from_row)
        .optional()
}

/// The ids of all feeds.
pub(crate) fn ids(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM feeds")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Inserts or updates a feed by name; `updated_at` only moves when the
/// config or origin actually changed. Returns the id.
pub(crate) fn upsert(
    conn: &mut Connection,
    name: &str,
    config_json: &str,
    origin: FeedOrigin,
    now: Timestamp,
) -> rusqlite::Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO feeds (name, config, origin, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (name) DO UPDATE SET
               config = excluded.config, origin = excluded.origin, updated_at = excluded.updated_at
             WHERE config IS NOT excluded.config OR origin IS NOT excluded.origin
             RETURNING id",
        )?
        .query_row((name, config_json, origin.as_str(), now.0), |r| r.get(0))
        .optional()?;
    let id = match changed {
        Some(id) => id,
        None => tx
            .prepare_cached("SELECT id FROM feeds WHERE name = ?1")?
            .query_row([name], |r| r.get(0))?,
    };
    tx.commit()?;
    Ok(id)
}

/// Deletes a feed and all its history (events, series, samples and their
/// chunks, rollups,
/// timeline) in one transaction. Returns the deleted feed's id, or `None`
/// when there was no such feed.
pub(crate) fn delete(conn: &mut Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id: Option<i64> = tx
        .prepare_cached("SELECT id FROM feeds WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    for sql in [
        "DELETE FROM samples WHERE series_id IN (SELECT id FROM series WHERE feed_id = ?1)",
        "DELETE FROM sample_chunks WHERE series_id IN (SELECT id FROM series WHERE feed_id = ?1)",
        "DELETE FROM rollup_1m WHERE series_id IN (SELECT id FROM series WHERE feed_id = ?1)",
        "DELETE FROM rollup_1m_chunks WHERE series_id IN (SELECT id FROM series WHERE feed_id = ?1)",
        "DELETE FROM rollup_1h WHERE series_id IN (SELECT id FROM series WHERE feed_id = ?1)",
        "DELETE FROM series WHERE feed_id = ?1",
        "DELETE FROM events WHERE feed_id = ?1",
        "DELETE FROM payload_dicts WHERE feed_id = ?1",
        "DELETE FROM feed_states WHERE feed_id = ?1",
        "DELETE FROM feeds WHERE id = ?1",
    ] {
        tx.prepare_cached(sql)?.execute([id])?;
    }
    tx.commit()?;
    Ok(Some(id))
}
