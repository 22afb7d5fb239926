//! Settings changed at run time: stored in the database, read back after a
//! reopen, and used by retention at once.

use crate::common::*;
use telltale_model::alert::QuietHours;
use telltale_model::config::{Settings, StoreSettings};
use telltale_model::duration::Dur;
use telltale_model::Timestamp;
use telltale_store::{StoredSettings, WriteBatch};

fn changed() -> Settings {
    let mut s = Settings::default();
    s.store.events_max_age = Dur::secs(2 * 86_400);
    s.store.events_max_per_feed = 500;
    s.alerts.flood_max = 2;
    s.alerts.renotify = Some(Dur::secs(600));
    s.alerts.quiet_hours = Some(QuietHours {
        start: "23:00".into(),
        end: "06:30".into(),
        time_zone: None,
    });
    s
}

#[test]
fn settings_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let store = open(&path);
        assert_eq!(store.stored_settings().unwrap(), StoredSettings::default());
        store.save_settings(&changed()).unwrap();
        assert_eq!(store.settings(), changed().store);
    }
    // Opened with other settings: the stored ones are still there and win
    // in `current_settings`.
    let store = open_with(&path, StoreSettings::default());
    let stored = store.stored_settings().unwrap();
    assert_eq!(stored.store, Some(changed().store));
    assert_eq!(stored.alerts, Some(changed().alerts));
    assert_eq!(
        store.current_settings(&Settings::default()).unwrap(),
        changed()
    );
    // Saving again replaces them.
    store.save_settings(&Settings::default()).unwrap();
    drop(store);
    let store = open(&path);
    assert_eq!(
        store.stored_settings().unwrap().alerts,
        Some(Settings::default().alerts)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_uses_settings_saved_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    let a = add_feed(&store, "a");
    // Five days of events, one an hour.
    let mut batch = WriteBatch::new();
    for h in 0..(5 * 24) {
        batch.events.push(event(a, T0 - h * HOUR, "tick"));
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    // Default ages (7 days): nothing goes.
    let s = store.clone();
    let report = tokio::task::spawn_blocking(move || s.run_retention(Timestamp(T0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.events_by_age, 0);
    // Two days from now on, without reopening.
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.save_settings(&changed()))
        .await
        .unwrap()
        .unwrap();
    let s = store.clone();
    let report = tokio::task::spawn_blocking(move || s.run_retention(Timestamp(T0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.events_by_age, 5 * 24 - 2 * 24 - 1);
    assert_eq!(store.event_count(Some(a)).unwrap(), 2 * 24 + 1);
}

#[test]
fn a_config_file_overrides_only_the_keys_it_gives_and_they_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open(&path);
    // A new database starts with the defaults, and stores them.
    assert_eq!(
        store.start_settings(None, &Settings::default()).unwrap(),
        Settings::default()
    );
    assert_eq!(
        store.stored_settings().unwrap().store,
        Some(StoreSettings::default())
    );
    // The GUI changes two settings.
    store.save_settings(&changed()).unwrap();
    drop(store);
    // A restart with a file that sets one store key and one alerts key.
    let file = telltale_model::ConfigFile::parse(
        "feeds.toml",
        "[store]\nevents_max_age = \"1d\"\n[alerts]\nnotify_resolved = false\n",
    );
    let store = open(&path);
    let s = store
        .start_settings(Some(&file), &Settings::default())
        .unwrap();
    assert_eq!(s.store.events_max_age, Dur::secs(86_400));
    assert!(!s.alerts.notify_resolved);
    // What the file leaves out keeps the GUI's value.
    assert_eq!(s.store.events_max_per_feed, 500);
    assert_eq!(s.alerts.flood_max, 2);
    assert_eq!(store.settings(), s.store, "the writer uses them at once");
    drop(store);
    // A later start without the file keeps what the last start stored.
    let store = open(&path);
    assert_eq!(store.start_settings(None, &Settings::default()).unwrap(), s);
}
