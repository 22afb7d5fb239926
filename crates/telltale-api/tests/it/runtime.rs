//! The one composition root: defaults for a new database, a passive
//! runtime for one-off commands, and the storage view.

use telltale_api::{ByteSize, Runtime, RuntimeOptions, Settings};

fn desktop_like(db: std::path::PathBuf) -> RuntimeOptions {
    let mut defaults = Settings::default();
    defaults.store.disk_budget = Some(ByteSize(1 << 30));
    RuntimeOptions {
        db,
        defaults,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_starts_with_the_shells_defaults_and_keeps_what_the_operator_saved() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let rt = Runtime::start(desktop_like(db.clone())).await.unwrap();
    let s = rt.api().settings().await.unwrap();
    assert_eq!(s.store.disk_budget.as_deref(), Some("1GiB"));
    // The operator turns the budget off; a restart keeps that.
    let mut off = s.clone();
    off.store.disk_budget = None;
    rt.api().update_settings(off).await.unwrap();
    let stats = rt.api().db_stats().await.unwrap();
    assert_eq!(stats.budget_bytes, None);
    assert!(stats.used_bytes > 0 && stats.used_bytes <= stats.file_bytes);
    rt.shutdown().await.unwrap();
    let rt = Runtime::start(desktop_like(db)).await.unwrap();
    assert_eq!(rt.api().settings().await.unwrap().store.disk_budget, None);
    // A budget that leaves no room is refused, naming the field.
    let mut tiny = rt.api().settings().await.unwrap();
    tiny.store.disk_budget = Some("1MiB".into());
    let err = rt.api().update_settings(tiny).await.unwrap_err();
    assert!(err.message.contains("store.disk_budget"), "{}", err.message);
    rt.shutdown().await.unwrap();
}
