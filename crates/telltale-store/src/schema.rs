//! The database schema, its migrations, and how connections are configured.
//!
//! Migrations are a list of SQL steps; step `i` takes `PRAGMA user_version`
//! from `i` to `i + 1` in one transaction. Opening an up-to-date database
//! runs none of them, and a database newer than [`SCHEMA_VERSION`] is
//! refused rather than misread.
//!
//! ## Tables (version 1)
//!
//! | table | holds | key / indexes |
//! |---|---|---|
//! | `meta` | key/value facts (`samples_epoch_us`, retention cut-offs, last run) | `key` |
//! | `feeds` | feed configs as JSON, origin `file`/`gui` | `id`, unique `name` |
//! | `events` | raw messages (payload already truncated by the engine) | `id`; `(feed_id, received_at)`, `(received_at)` (dropped in version 7) |
//! | `series` | one row per (feed, metric, labels) | `id`; unique `(feed_id, metric, labels)` |
//! | `samples` | raw values | `(series_id, ts)`, WITHOUT ROWID |
//! | `rollup_1m`, `rollup_1h` | min/max/sum/count per series and bucket | `(series_id, bucket)`, WITHOUT ROWID |
//! | `feed_states` | connection timeline: states and issues | `id`; `(feed_id, ts)` |
//!
//! Version 5 adds `sample_chunks` (`series_id`, `start_ts`, `end_ts`,
//! `count`, `data`): raw samples compressed 120 at a time, unique index
//! `(series_id, start_ts)`; `samples` is then the head of recent samples
//! (see `crate::chunk`). Version 6 adds `rollup_1m_chunks`, laid out the
//! same way (`start_ts` and `end_ts` being buckets, in absolute µs): 1-minute
//! rollups compressed 120 minutes at a time, `rollup_1m` then being their
//! head.
//!
//! Version 2 adds `alerts`, `alert_history` and `alert_commands`; version 3
//! adds `settings` (`key` = `store` or `alerts`, `value` = that section as
//! JSON, `updated_at`), the `[store]`/`[alerts]` settings currently in force.
//!
//! All times are microseconds since the Unix epoch, except `samples.ts`,
//! which is stored relative to the per-database `meta.samples_epoch_us`
//! (midnight UTC of the day the database was created). A raw sample is the
//! bulk of the file, and a relative timestamp fits SQLite's 6-byte integer
//! (±4.4 years around that day) instead of 8 bytes, which keeps a sample
//! near 24 bytes on disk. Values outside that window are still stored
//! correctly, just in 8 bytes.
//!
//! `samples.value` has no declared type: a value with at most two decimals
//! that survives the round trip exactly (`12.34`, `97`, `0.5`) is stored
//! as INTEGER hundredths (`1234`: 2 bytes instead of 8), any other value as
//! a REAL; every read decodes (see [`encode_value`]). With the 6-byte
//! timestamp a typical gauge sample is a 13-byte record, about 18 bytes on
//! disk. Databases created before this (the column declared `REAL`) keep
//! REALs: [`compact_values`] tells the writer which kind it has.
//!
//! The view `samples_abs` shows absolute times and decoded values for
//! ad-hoc inspection with the `sqlite3` shell: of head rows only, since
//! version 5 (chunks are decoded in Rust; `telltaled export --samples`
//! reads both).
//!
//! Feed and series ids are `AUTOINCREMENT`: an id is never reused after a
//! delete, so rows still in flight for a deleted feed (or an id a client
//! still holds) can never be attributed to a new feed.
//!
//! `samples` and the rollups carry no foreign keys (a per-row parent
//! lookup would slow the hot path); the writer deletes them explicitly when
//! a feed is deleted.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// The migration steps; `MIGRATIONS[i]` upgrades version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 7: events lose their `(received_at)` index. It was a second
/// B-tree insert for every message on the writer's hot path, and only the
/// all-feeds event log and retention by age used it: the first now reads in
/// arrival (`id`) order, the second goes feed by feed through
/// `(feed_id, received_at)`.
const V7: &str = "DROP INDEX IF EXISTS events_time;";

/// Version 6: 1-minute rollups in compressed chunks (see
/// `crate::chunk::minutes`), laid out as `sample_chunks`. `rollup_1m` stays
/// as the head of recent minutes; an upgraded database keeps its rollups
/// there until the first compaction runs over them.
const V6: &str = r#"
CREATE TABLE rollup_1m_chunks (
    id           INTEGER PRIMARY KEY,
    series_id    INTEGER NOT NULL,
    start_ts     INTEGER NOT NULL,
    end_ts       INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    data         BLOB NOT NULL
);
CREATE UNIQUE INDEX rollup_1m_chunks_by_series ON rollup_1m_chunks (series_id, start_ts);
"#;

/// Version 5: raw samples in compressed chunks (see `crate::chunk`).
/// `samples` stays as the head of recent samples; compaction moves older
/// ones into `sample_chunks`, so an upgraded database keeps its history in
/// the head until the first compaction runs over it. Chunks are a rowid
/// table with an index rather than WITHOUT ROWID on `(series_id,
/// start_ts)`: a run writes series after series, and rows of ~700 bytes
/// inserted into the middle of a key-ordered tree left its pages half empty
/// (16 B/sample on disk for 6 B/sample of chunk); appended by rowid they
/// fill their pages.
const V5: &str = r#"
CREATE TABLE sample_chunks (
    id        INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    start_ts  INTEGER NOT NULL,
    end_ts    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE UNIQUE INDEX sample_chunks_by_series ON sample_chunks (series_id, start_ts);
"#;

/// Version 4: compressed payloads. `events.codec` is 0 for `data` as it
/// came, 1 for zstd (with the dictionary `events.dict` of
/// `payload_dicts`, or none when NULL); older rows stay raw.
const V4: &str = r#"
ALTER TABLE events ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN dict INTEGER;
CREATE TABLE payload_dicts (
    id         INTEGER PRIMARY KEY,
    feed_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    dict       BLOB NOT NULL
);
CREATE INDEX payload_dicts_by_feed ON payload_dicts (feed_id);
"#;

/// Version 3: operator settings changed at run time (the GUI, an import,
/// or a config file's explicit `[store]`/`[alerts]` keys at start). One row
/// per section (`store`, `alerts`), its value the section as JSON.
const V3: &str = r#"
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
"#;

/// Version 2: alert instances, their history, and queued operator commands.
const V2: &str = r#"
CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    feed_id    INTEGER NOT NULL,
    rule       TEXT NOT NULL,
    phase      TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX alerts_by_phase ON alerts (phase);
CREATE TABLE alert_history (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    value    REAL,
    detail   TEXT NOT NULL
);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, ts);
CREATE INDEX alert_history_by_ts ON alert_history (ts);
CREATE TABLE alert_commands (
    id      INTEGER PRIMARY KEY,
    ts      INTEGER NOT NULL,
    command TEXT NOT NULL
);
"#;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
INSERT INTO meta (key, value) VALUES (
    'samples_epoch_us',
    CAST((CAST(strftime('%s', 'now') AS INTEGER) / 86400) * 86400000000 AS TEXT)
);

CREATE TABLE feeds (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    config     TEXT NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('file', 'gui')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    feed_id     INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL,
    server_id   TEXT,
    event_type  TEXT,
    data        BLOB NOT NULL,
    size        INTEGER NOT NULL,
    truncated   INTEGER NOT NULL
);
CREATE INDEX events_feed_time ON events (feed_id, received_at);
CREATE INDEX events_time ON events (received_at);

CREATE TABLE series (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    metric  TEXT NOT NULL,
    labels  TEXT NOT NULL DEFAULT '{}',
    UNIQUE (feed_id, metric, labels)
);

CREATE TABLE samples (
    series_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    value     NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

CREATE TABLE rollup_1m (
    series_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;

CREATE TABLE rollup_1h (
    series_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;

CREATE TABLE feed_states (
    id      INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    ts      INTEGER NOT NULL,
    state   TEXT NOT NULL,
    detail  TEXT,
    kind    TEXT NOT NULL
);
CREATE INDEX feed_states_feed_time ON feed_states (feed_id, ts);

CREATE VIEW samples_abs AS
    SELECT series_id,
           ts + (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'samples_epoch_us') AS ts,
           CASE typeof(value) WHEN 'integer' THEN value / 100.0 ELSE value END AS value
    FROM samples;
"#;

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// `user_version` before.
    pub from: i64,
    /// `user_version` after.
    pub to: i64,
}

/// Why [`migrate`] failed.
#[derive(Debug)]
pub enum MigrateError {
    /// The database is newer than the steps given.
    TooNew {
        /// Its `user_version`.
        found: i64,
    },
    /// A step failed (nothing of that step was applied).
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

/// Brings the database up to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<Migration, MigrateError> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies the pending `steps` (step `i` upgrades version `i` to `i + 1`),
/// each in its own immediate transaction together with its version bump.
pub fn migrate_with(conn: &mut Connection, steps: &[&str]) -> Result<Migration, MigrateError> {
    let from = user_version(conn)?;
    let target = steps.len() as i64;
    if from > target {
        return Err(MigrateError::TooNew { found: from });
    }
    let mut version = from;
    while version < target {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let current = user_version(&tx)?;
        if current != version {
            version = current;
            tx.commit()?;
            if version > target {
                return Err(MigrateError::TooNew { found: version });
            }
            continue;
        }
        let Some(step) = steps.get(version as usize) else {
            break;
        };
        tx.execute_batch(step)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
        tx.commit()?;
        version += 1;
        tracing::info!("database schema migrated to version {version}");
    }
    Ok(Migration { from, to: version })
}

/// `PRAGMA user_version`.
pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Opens the read-write connection and applies the pragmas every writer
/// needs: incremental auto-vacuum (effective on a new file), WAL,
/// `synchronous=NORMAL`, foreign keys, in-memory temp storage, a page cache
/// of `cache_mib`, and a cap on the WAL file's idle size.
/// Caps the file at `bytes` (rounded down to whole pages, never below its
/// current size): a commit past it fails with `SQLITE_FULL`.
pub(crate) fn cap_size(conn: &Connection, bytes: u64) -> rusqlite::Result<()> {
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages = bytes / page.max(512) as u64;
    conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
}

pub(crate) fn open_writer(
    path: &Path,
    busy_timeout: Duration,
    cache_mib: u32,
) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    // Must precede the first table; a no-op on existing files.
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            "{}: SQLite refused WAL mode (got `{mode}`); readers will block the writer. Is the file on a network filesystem?",
            path.display()
        );
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{};",
        u64::from(cache_mib.max(1)) * 1024
    ))?;
    // Returns the new limit as a row; the WAL file is truncated back to
    // 64 MiB after checkpoints instead of keeping its largest size forever.
    conn.query_row("PRAGMA journal_size_limit = 67108864", [], |_| Ok(()))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// How a raw value is stored when the `samples.value` column is untyped:
/// INTEGER hundredths when that round-trips exactly, else the REAL itself.
pub fn encode_value(v: f64) -> rusqlite::types::Value {
    let hundredths = (v * 100.0).round();
    // Below 2^53 every integer is exact in an f64, and the division on the
    // way back is the same IEEE operation as the check here.
    if hundredths.abs() < 9.0e15 && hundredths / 100.0 == v {
        rusqlite::types::Value::Integer(hundredths as i64)
    } else {
        rusqlite::types::Value::Real(v)
    }
}

/// True when `samples.value` is untyped, so [`encode_value`] may be used;
/// false for databases created when it was declared `REAL` (whose affinity
/// would turn hundredths into wrong REALs).
pub fn compact_values(conn: &Connection) -> rusqlite::Result<bool> {
    let ty: String = conn
        .prepare_cached("SELECT type FROM pragma_table_info('samples') WHERE name = 'value'")?
        .query_row([], |r| r.get(0))?;
    Ok(ty.is_empty())
}

/// Opens a read-only connection for queries.
pub(crate) fn open_reader(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Converts a file created without incremental auto-vacuum (by something
/// else, at version 0) so that retention can give space back.
pub(crate) fn ensure_incremental_vacuum(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode == 2 {
        return Ok(());
    }
    if user_version(conn)? == 0 {
        tracing::info!(
            "{}: enabling incremental auto-vacuum (one-time VACUUM)",
            path.display()
        );
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
    } else {
        tracing::warn!(
            "{}: incremental auto-vacuum is off, so retention frees pages for reuse but the file never shrinks; run `VACUUM` once with telltaled stopped to fix",
            path.display()
        );
    }
    Ok(())
}

/// The per-database origin of `samples.ts`.
pub(crate) fn samples_epoch(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'samples_epoch_us'",
        [],
        |r| r.get(0),
    )
}

/// Reads an integer from `meta`.
pub(crate) fn meta_i64(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

/// Writes a value into `meta`.
pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute((key, value))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_apply_incrementally_and_only_once() {
        let mut c = Connection::open_in_memory().unwrap();
        let steps = ["CREATE TABLE a (x)", "CREATE TABLE b (y)"];
        let m = migrate_with(&mut c, &steps[..1]).unwrap();
        assert_eq!(m, Migration { from: 0, to: 1 });
        let m = migrate_with(&mut c, &steps).unwrap();
        assert_eq!(m, Migration { from: 1, to: 2 });
        let m = migrate_with(&mut c, &steps).unwrap();
        assert_eq!(m, Migration { from: 2, to: 2 });
        c.execute("INSERT INTO b VALUES (1)", []).unwrap();
        assert!(matches!(
            migrate_with(&mut c, &steps[..1]),
            Err(MigrateError::TooNew { found: 2 })
        ));
    }

    #[test]
    fn a_failing_step_leaves_the_previous_version() {
        let mut c = Connection::open_in_memory().unwrap();
        let steps = ["CREATE TABLE a (x)", "CREATE TABLE b (y); SELEC nonsense"];
        assert!(migrate_with(&mut c, &steps).is_err());
        assert_eq!(user_version(&c).unwrap(), 1);
        let tables: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn the_real_schema_applies_to_a_fresh_database() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        assert_eq!(user_version(&c).unwrap(), SCHEMA_VERSION);
        let epoch = samples_epoch(&c).unwrap();
        assert_eq!(epoch % 86_400_000_000, 0);
        assert!(epoch > 1_700_000_000_000_000);
    }
}
