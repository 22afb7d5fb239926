//! [`StoreOptions`]: tuning that is not part of the `[store]` settings.

use std::time::Duration;

/// Tuning that is not part of the user-facing `[store]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Batches the writer queue holds before [`Store::send`](crate::Store::send) waits (default 64).
    pub queue_capacity: usize,
    /// Idle read-only connections kept for reuse (default 4).
    pub readers: usize,
    /// How long SQLite waits for a lock held by another connection (default 5 s).
    pub busy_timeout: Duration,
    /// The writer connection's page cache in MiB (default 64).
    pub cache_mib: u32,
    /// Automatic retention period; `None` disables it (default 10 minutes).
    pub retention_interval: Option<Duration>,
    /// Delay of the first automatic retention run after opening (default 15 s).
    pub retention_first_run: Duration,
    /// How often raw samples are compressed into chunks (default 60 s; `None`: never).
    pub compact_every: Option<Duration>,
    /// How long dropping the last [`Store`](crate::Store) waits for the writer to commit
    /// before giving up with an error log (default 10 s).
    pub drop_wait: Duration,
    /// While commits fail, how many bytes of received rows are held in
    /// memory for the retry; beyond it their events and samples are shed
    /// and counted in [`StoreHealth`](crate::StoreHealth) (default 64 MiB).
    pub hold_while_failing: usize,
    /// A hard cap on the database file's size (SQLite's `max_page_count`):
    /// past it a commit fails as on a full disk. `None` (the default): only
    /// the file system limits it.
    pub max_db_bytes: Option<u64>,
    /// How often the writer hands its page cache's unused pages back, so
    /// that its memory follows the pages it is using rather than growing
    /// with the file up to `cache_mib`; `None` never does (default 60 s).
    pub release_cache_every: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            queue_capacity: 64,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            cache_mib: 64,
            retention_interval: Some(Duration::from_secs(600)),
            retention_first_run: Duration::from_secs(15),
            compact_every: Some(Duration::from_secs(60)),
            drop_wait: Duration::from_secs(10),
            hold_while_failing: 64 * 1024 * 1024,
            max_db_bytes: None,
            release_cache_every: Some(Duration::from_secs(60)),
        }
    }
}
