//! The database holds secrets (feed headers, URL credentials), so only its
//! owner may read it: the file is created `0600`, a directory Telltale
//! creates for it `0700` ([`create_private_dir`]), and an existing database
//! (or its `-wal`/`-shm` files) that others may read is tightened to `0600`
//! when opened. SQLite creates `-wal` and `-shm` with the database file's
//! permissions, so they follow.
//!
//! Unix only; elsewhere files and directories get the platform's defaults.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Opens the database file, creating it readable by its owner only, and
/// tightens an existing one (and its `-wal`/`-shm`/`-journal` files) that
/// group or others may read.
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    unix::private_mode(&mut options);
    options.open(path)?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        unix::tighten(Path::new(&p));
    }
    Ok(())
}

/// Creates `dir` and any missing parents, readable by their owner only
/// (`0700` on Unix); directories that already exist are left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        unix::create_dir(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(unix)]
mod unix {
    use std::fs::{DirBuilder, OpenOptions, Permissions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    pub(super) fn private_mode(options: &mut OpenOptions) {
        options.mode(0o600);
    }

    pub(super) fn create_dir(dir: &Path) -> io::Result<()> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }

    /// `chmod go-rwx` on an existing file; a file that does not exist or
    /// that we may not change is left alone (with a warning for the latter).
    pub(super) fn tighten(path: &Path) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 == 0 {
            return;
        }
        let private = mode & 0o700;
        match std::fs::set_permissions(path, Permissions::from_mode(private)) {
            Ok(()) => tracing::info!(
                "{} was readable by other users ({:o}); it holds feed secrets, so it is now {:o}",
                path.display(),
                mode & 0o777,
                private
            ),
            Err(e) => tracing::warn!(
                "{} is readable by other users ({:o}) and holds feed secrets, but its mode cannot be changed: {e}",
                path.display(),
                mode & 0o777
            ),
        }
    }
}
