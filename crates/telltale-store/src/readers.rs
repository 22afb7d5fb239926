//! A small pool of read-only connections. In WAL mode readers never block
//! the writer and see the last committed state.

use crate::error::StoreError;
use crate::schema;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Idle read-only connections, opened on demand.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub fn new(path: PathBuf, busy_timeout: Duration, max_idle: usize) -> Readers {
        Readers {
            path,
            busy_timeout,
            max_idle: max_idle.max(1),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, or a new one.
    pub fn get(&self) -> Result<Lease<'_>, StoreError> {
        let conn = match self.idle().pop() {
            Some(c) => c,
            None => schema::open_reader(&self.path, self.busy_timeout)
                .map_err(|e| StoreError::sqlite(&self.path, "opening a read-only connection", e))?,
        };
        Ok(Lease {
            pool: self,
            conn: Some(conn),
        })
    }
}

/// A connection borrowed from the pool; returned when dropped.
pub(crate) struct Lease<'a> {
    pool: &'a Readers,
    conn: Option<Connection>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `Drop` takes the connection out.
        match &self.conn {
            Some(c) => c,
            None => unreachable!("lease used after drop"),
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            let mut idle = self.pool.idle();
            if idle.len() < self.pool.max_idle {
                idle.push(c);
            }
        }
    }
}
