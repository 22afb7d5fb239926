//! Free space on the file system that holds the database: what
//! `telltaled feeds` shows, so that a full disk is seen even from another
//! process than the one that fails to write.

use std::path::Path;

/// Space on a file system, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes an unprivileged process can still write.
    pub free: u64,
    /// The file system's size.
    pub total: u64,
}

/// Below this much free space the disk counts as full: SQLite needs room
/// for its write-ahead log and new pages.
pub const NEARLY_FULL: u64 = 4 * 1024 * 1024;

/// Space on the file system holding `path` (its directory, if `path` does
/// not exist yet); `None` where it cannot be asked.
pub fn disk_space(path: &Path) -> Option<DiskSpace> {
    let dir = if path.exists() {
        path
    } else {
        path.parent().filter(|p| !p.as_os_str().is_empty())?
    };
    imp::disk_space(dir)
}

#[cfg(unix)]
mod imp {
    use super::DiskSpace;
    use std::path::Path;

    pub fn disk_space(path: &Path) -> Option<DiskSpace> {
        let s = rustix::fs::statvfs(path).ok()?;
        Some(DiskSpace {
            free: s.f_bavail.saturating_mul(s.f_frsize),
            total: s.f_blocks.saturating_mul(s.f_frsize),
        })
    }
}

#[cfg(not(unix))]
mod imp {
    use super::DiskSpace;
    use std::path::Path;

    pub fn disk_space(_path: &Path) -> Option<DiskSpace> {
        None
    }
}
