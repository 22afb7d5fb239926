//! What can go wrong, phrased so that an operator knows what to do next.

use rusqlite::ErrorCode;
use std::path::{Path, PathBuf};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another connection (usually another process) holds the write lock.
    #[error("database {path} is locked by another process (is another telltaled running on it?)")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The file or its directory is not readable/writable by this user.
    #[error("cannot open database {path}: permission denied; give the user running telltaled read and write access to the file and to its directory (SQLite creates -wal and -shm files next to it)")]
    PermissionDenied {
        /// The database file.
        path: PathBuf,
    },
    /// SQLite cannot write: the file, its directory or the file system is read-only.
    #[error("database {path} is read-only (file mode, directory permissions or a read-only file system); make it writable for the user running telltaled")]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// The directory that should hold the database does not exist.
    #[error("cannot open database {path}: directory {dir} does not exist; create it first")]
    MissingDirectory {
        /// The database file.
        path: PathBuf,
        /// Its missing parent directory.
        dir: PathBuf,
    },
    /// The file exists but is not a (readable) SQLite database.
    #[error("{path} is not a Telltale database (it is not SQLite, or it is encrypted or corrupt: {detail}); move it aside or choose another database path")]
    NotADatabase {
        /// The database file.
        path: PathBuf,
        /// SQLite's own words.
        detail: String,
    },
    /// The database was written by a newer Telltale.
    #[error("database {path} has schema version {found}, but this build of Telltale only knows versions up to {supported}; run a newer telltaled or use another database file")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build can migrate to.
        supported: i64,
    },
    /// The disk is full.
    #[error("the disk holding {path} is full; free some space, or shorten retention in the [store] settings (events_max_age, samples_max_age, …)")]
    DiskFull {
        /// The database file.
        path: PathBuf,
    },
    /// Commits are failing, so what was asked cannot be confirmed as stored.
    #[error("{cause} (rows received meanwhile are held in memory, up to a limit, and committed once writing works again)")]
    WriteFailing {
        /// The failure, as the writer last saw it.
        cause: String,
    },
    /// The writer did not answer in time.
    #[error("the database writer did not answer within {after:?} while {doing}; it may be stuck on a slow or failing disk: check `telltaled feeds` or the storage status in the app")]
    Timeout {
        /// What was asked.
        doing: &'static str,
        /// How long the caller waited.
        after: std::time::Duration,
    },
    /// The writer thread has stopped (after [`crate::Store::close`]).
    #[error("the store is closed: its writer thread has stopped, so nothing more can be written")]
    Closed,
    /// A stored feed config cannot be read back.
    #[error("feed `{name}` in the database has an unreadable config ({source}); re-import it from the config file, or delete the feed")]
    BadFeedConfig {
        /// The feed's name.
        name: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A feed config cannot be serialized (should not happen).
    #[error("feed `{name}` cannot be stored: {source}")]
    FeedNotStorable {
        /// The feed's name.
        name: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// Settings cannot be serialized (should not happen).
    #[error("the settings cannot be stored: {0}")]
    SettingsNotStorable(serde_json::Error),
    /// The query itself makes no sense.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// Any other SQLite failure.
    #[error("database error on {path} while {doing}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What the store was doing.
        doing: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// An operating-system error outside SQLite.
    #[error("{doing} for {path} failed: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// What the store was doing.
        doing: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

impl StoreError {
    /// [`StoreError::SettingsNotStorable`].
    pub(crate) fn settings(e: serde_json::Error) -> StoreError {
        StoreError::SettingsNotStorable(e)
    }

    /// Turns a SQLite error into the most helpful variant.
    pub(crate) fn sqlite(path: &Path, doing: &'static str, e: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
            Some(ErrorCode::PermissionDenied) => StoreError::PermissionDenied { path },
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::NotADatabase {
                    path,
                    detail: e.to_string(),
                }
            }
            Some(ErrorCode::CannotOpen) => match missing_parent(&path) {
                Some(dir) => StoreError::MissingDirectory { path, dir },
                None => StoreError::Sqlite {
                    path,
                    doing,
                    source: e,
                },
            },
            _ => StoreError::Sqlite {
                path,
                doing,
                source: e,
            },
        }
    }

    /// Turns an I/O error while creating or opening the file into the most
    /// helpful variant.
    pub(crate) fn io(path: &Path, doing: &'static str, e: std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => StoreError::PermissionDenied { path },
            std::io::ErrorKind::NotFound => match missing_parent(&path) {
                Some(dir) => StoreError::MissingDirectory { path, dir },
                None => StoreError::Io {
                    path,
                    doing,
                    source: e,
                },
            },
            _ => StoreError::Io {
                path,
                doing,
                source: e,
            },
        }
    }

    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Locked { .. } => "locked",
            StoreError::PermissionDenied { .. } => "permission_denied",
            StoreError::ReadOnly { .. } => "read_only",
            StoreError::MissingDirectory { .. } => "missing_directory",
            StoreError::NotADatabase { .. } => "corrupt",
            StoreError::TooNew { .. } => "too_new",
            StoreError::DiskFull { .. } => "disk_full",
            StoreError::WriteFailing { .. } => "write_failing",
            StoreError::Timeout { .. } => "timeout",
            StoreError::Closed => "closed",
            StoreError::BadFeedConfig { .. } | StoreError::FeedNotStorable { .. } => "bad_feed",
            StoreError::SettingsNotStorable(_) => "bad_settings",
            StoreError::InvalidQuery(_) => "invalid_query",
            StoreError::Io { .. } => "io",
            StoreError::Sqlite { .. } => "error",
        }
    }

    /// True for failures that retrying later may fix (lock contention, a
    /// full disk, I/O errors, permissions an operator can restore), false
    /// for those that the same rows will always hit again (corruption, a
    /// constraint, a value SQLite cannot take). A failing commit is retried
    /// while this is true; otherwise its batch is set aside.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::NotADatabase { .. }
            | StoreError::TooNew { .. }
            | StoreError::BadFeedConfig { .. }
            | StoreError::FeedNotStorable { .. }
            | StoreError::SettingsNotStorable(_)
            | StoreError::InvalidQuery(_)
            | StoreError::Closed => false,
            StoreError::Sqlite { source, .. } => match source.sqlite_error_code() {
                Some(
                    ErrorCode::ConstraintViolation
                    | ErrorCode::TooBig
                    | ErrorCode::TypeMismatch
                    | ErrorCode::ParameterOutOfRange
                    | ErrorCode::DatabaseCorrupt
                    | ErrorCode::NotADatabase
                    | ErrorCode::ApiMisuse,
                ) => false,
                Some(_) => true,
                // Not from SQLite itself: a value that could not be bound.
                None => false,
            },
            _ => true,
        }
    }
}

/// The parent directory of `path`, if it does not exist.
fn missing_parent(path: &Path) -> Option<PathBuf> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    (!parent.exists()).then(|| parent.to_path_buf())
}
