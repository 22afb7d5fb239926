//! The alert tables: instances, history, silences and the commands that
//! `telltaled ack|snooze|mute` queue for a running engine. Alert rows are
//! written by the writer with the data (see [`crate::WriteBatch`]); these are
//! the reads, and the rare writes of a command-line process.

use crate::{AlertHistoryRow, Store, StoreError};
use rusqlite::{Connection, OptionalExtension};
use telltale_model::Timestamp;

impl Store {
    /// Every stored alert instance (as JSON) and the silences (as JSON).
    pub fn load_alerts(&self) -> Result<(Vec<String>, Option<String>), StoreError> {
        self.read("reading alerts", |c| {
            let mut st = c.prepare("SELECT data FROM alerts ORDER BY id")?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let silences = c
                .query_row(
                    "SELECT value FROM meta WHERE key = 'alert_silences'",
                    [],
                    |r| r.get::<_, String>(0),
                )
                .optional()?;
            Ok((rows, silences))
        })
    }

    /// Alert history: one alert's, oldest first, or everything's, newest first.
    pub fn alert_history(
        &self,
        alert_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AlertHistoryRow>, StoreError> {
        self.read("reading alert history", |c| {
            let map = |r: &rusqlite::Row<'_>| {
                Ok(AlertHistoryRow {
                    id: r.get(0)?,
                    alert_id: r.get(1)?,
                    ts: Timestamp(r.get(2)?),
                    kind: r.get(3)?,
                    value: r.get(4)?,
                    detail: r.get(5)?,
                })
            };
            let limit = limit.min(i64::MAX as usize) as i64;
            match alert_id {
                Some(id) => c
                    .prepare(
                        "SELECT id, alert_id, ts, kind, value, detail FROM alert_history WHERE alert_id = ?1 ORDER BY ts, id LIMIT ?2",
                    )?
                    .query_map((id, limit), map)?
                    .collect(),
                None => c
                    .prepare(
                        "SELECT id, alert_id, ts, kind, value, detail FROM alert_history ORDER BY ts DESC, id DESC LIMIT ?1",
                    )?
                    .query_map([limit], map)?
                    .collect(),
            }
        })
    }

    /// Queued operator commands (id, JSON), oldest first.
    pub fn pending_alert_commands(&self) -> Result<Vec<(i64, String)>, StoreError> {
        self.read("reading alert commands", |c| {
            c.prepare("SELECT id, command FROM alert_commands ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Queues an operator command for a running engine (used by the CLI,
    /// from another process). Returns its id.
    pub fn push_alert_command(&self, json: &str) -> Result<i64, StoreError> {
        self.side_write("queueing an alert command", |c| {
            c.execute(
                "INSERT INTO alert_commands (ts, command) VALUES (?1, ?2)",
                (Timestamp::now().0, json),
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Takes a queued command back; false if someone already applied it.
    pub fn take_alert_command(&self, id: i64) -> Result<bool, StoreError> {
        self.side_write("taking back an alert command", |c| {
            Ok(c.execute("DELETE FROM alert_commands WHERE id = ?1", [id])? == 1)
        })
    }

    /// A short write on a connection of its own, for the rare writes a
    /// command-line process makes to a database another process may be
    /// writing (SQLite's locking serialises them).
    fn side_write<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = &self.inner.path;
        let conn = Connection::open(path).map_err(|e| StoreError::sqlite(path, doing, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| StoreError::sqlite(path, doing, e))?;
        f(&conn).map_err(|e| StoreError::sqlite(path, doing, e))
    }
}
