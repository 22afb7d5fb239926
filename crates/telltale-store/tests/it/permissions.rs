//! The database holds secrets: it is created 0600, its -wal/-shm files
//! follow, a directory Telltale creates for it is 0700, and an existing
//! world-readable database is tightened when opened.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use telltale_model::{FeedConfig, TransportKind};
use telltale_store::{create_private_dir, FeedOrigin, Store};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_database_and_its_wal_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("app/data");
    create_private_dir(&data).unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&dir.path().join("app")), 0o700);

    let db = data.join("t.db");
    let store = Store::open(&db, Default::default()).unwrap();
    let f = FeedConfig::new("f", TransportKind::Sse, "http://h/x");
    store.upsert_feed(&f, FeedOrigin::Gui).unwrap();
    assert_eq!(mode(&db), 0o600);
    for suffix in ["-wal", "-shm"] {
        let p = data.join(format!("t.db{suffix}"));
        assert!(p.exists(), "{} missing (WAL mode?)", p.display());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    drop(store);
}

#[test]
fn an_existing_readable_database_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    drop(Store::open(&db, Default::default()).unwrap());
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Store::open(&db, Default::default()).unwrap());
    assert_eq!(mode(&db), 0o600);
    // An existing directory is left alone.
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    create_private_dir(&shared).unwrap();
    assert_eq!(mode(&shared), 0o755);
}
