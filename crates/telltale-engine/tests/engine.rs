//! The engine over real sockets (telltale-sim) and a real SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "engine/certificates.rs"]
mod certificates;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telltale_alerts::notifier::RecordingNotifier;
use telltale_alerts::{Notification, NotificationKind, Notifier, NotifyError, Phase, Withdrawal};
use telltale_engine::live::Item;
use telltale_engine::{Engine, EngineError, EngineOptions};
use telltale_model::alert::AlertRule;
use telltale_model::{ConfigFile, ConnState, FeedConfig, TransportKind};
use telltale_sim::{Incident, Sim, SimConfig, SimHandle};
use telltale_store::{EventQuery, FeedOrigin, Order, Store, StoreOptions};
use telltale_testsupport::{quiet_sim, until};

/// Two quiet hosts at `rate` messages a second.
async fn sim(rate: f64) -> SimHandle {
    quiet_sim(2, rate).await
}

fn ws_feed(name: &str, sim: &SimHandle, host: &str) -> FeedConfig {
    FeedConfig::new(
        name,
        TransportKind::Websocket,
        format!("{}/ws?host={host}", sim.ws_url()),
    )
    .with_metric("cpu", "/cpu")
}

fn newest_event(store: &Store, feed_id: i64) -> Option<serde_json::Value> {
    let e = store
        .events(&EventQuery {
            feed_id: Some(feed_id),
            limit: 1,
            order: Order::NewestFirst,
            ..Default::default()
        })
        .ok()?
        .pop()?;
    serde_json::from_slice(&e.data).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_batches_carry_samples_events_and_states() {
    let sim = sim(100.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    let mut live = engine.subscribe();
    let id = engine
        .upsert_feed(ws_feed("a", &sim, "host-1"), FeedOrigin::Gui)
        .await
        .unwrap();
    let (mut samples, mut events, mut live_state) = (0, 0, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while (samples < 50 || events < 50 || !live_state) && Instant::now() < deadline {
        if let Ok(Some(Item::Batch(b))) =
            tokio::time::timeout(Duration::from_secs(1), live.recv()).await
        {
            samples += b
                .samples
                .iter()
                .filter(|s| s.feed_id == id && &*s.metric == "cpu")
                .count();
            events += b.events.iter().filter(|e| e.feed_id == id).count();
            live_state |= b
                .states
                .iter()
                .any(|s| s.feed_id == id && s.state == ConnState::Live);
        }
    }
    assert!(
        samples >= 50 && events >= 50 && live_state,
        "{samples} samples, {events} events, live {live_state}"
    );
    store.flush().await.unwrap();
    assert!(store.event_count(Some(id)).unwrap() >= 50);
    let status = engine.feeds().await;
    assert_eq!(status[0].state, ConnState::Live);
    assert!(status[0].messages >= 50);
    engine.shutdown().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_lags_and_is_told_without_slowing_ingestion() {
    let sim = sim(2000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            live_buffer: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let mut slow = engine.subscribe(); // never read until the end
    let id = engine
        .upsert_feed(ws_feed("fast", &sim, "host-1"), FeedOrigin::Gui)
        .await
        .unwrap();
    let store2 = store.clone();
    until("3,000 stored events", Duration::from_secs(30), || {
        (store2.event_count(Some(id)).ok()? >= 3000).then_some(())
    })
    .await;
    match slow.recv().await {
        Some(Item::Lagged(n)) => assert!(n > 0),
        other => panic!("expected a lag notice, got {other:?}"),
    }
    assert_eq!(
        engine.feeds().await[0].dropped,
        0,
        "ingestion shed load for a slow subscriber"
    );
    engine.shutdown().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_changes_apply_without_a_restart() {
    let sim = sim(50.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    let id = engine
        .upsert_feed(ws_feed("a", &sim, "host-1"), FeedOrigin::Gui)
        .await
        .unwrap();
    let s = store.clone();
    until("host-1 events", Duration::from_secs(10), || {
        (newest_event(&s, id)?["host"] == "host-1").then_some(())
    })
    .await;
    // Edit: same name, another host. Same id, new data, no restart.
    let id2 = engine
        .upsert_feed(ws_feed("a", &sim, "host-2"), FeedOrigin::Gui)
        .await
        .unwrap();
    assert_eq!(id, id2);
    let s = store.clone();
    until(
        "host-2 events after the edit",
        Duration::from_secs(10),
        || (newest_event(&s, id)?["host"] == "host-2").then_some(()),
    )
    .await;
    // Disable: it stops and stays stopped.
    let mut cfg = ws_feed("a", &sim, "host-2");
    cfg.enabled = false;
    engine.upsert_feed(cfg, FeedOrigin::Gui).await.unwrap();
    assert!(engine.feeds().await.is_empty());
    store.flush().await.unwrap();
    let before = store.event_count(Some(id)).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    store.flush().await.unwrap();
    assert_eq!(store.event_count(Some(id)).unwrap(), before);
    let timeline = store
        .timeline(
            id,
            telltale_model::Timestamp(0),
            telltale_model::Timestamp::now(),
            100,
        )
        .unwrap();
    assert_eq!(timeline.last().unwrap().state, "stopped");
    // Invalid edits are refused with the field named; the feed is untouched.
    let bad = FeedConfig::new("a", TransportKind::Websocket, "http://wrong");
    match engine.upsert_feed(bad, FeedOrigin::Gui).await {
        Err(EngineError::Invalid { field, .. }) => assert_eq!(field, "url"),
        other => panic!("{other:?}"),
    }
    engine.remove_feed("a").await.unwrap();
    assert!(matches!(
        engine.remove_feed("a").await,
        Err(EngineError::NotFound(_))
    ));
    engine.shutdown().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_a_file_disables_feeds_removed_from_it() {
    let sim = sim(5.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    let text = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("[[feed]]\nname = \"{n}\"\ntransport = \"websocket\"\nurl = \"{}/ws?host=host-1\"\n", sim.ws_url()))
            .collect::<String>()
    };
    engine
        .import(&ConfigFile::parse("a.toml", &text(&["one", "two"])))
        .await
        .unwrap();
    engine
        .upsert_feed(ws_feed("gui", &sim, "host-2"), FeedOrigin::Gui)
        .await
        .unwrap();
    engine
        .import(&ConfigFile::parse("a.toml", &text(&["one"])))
        .await
        .unwrap();
    let stored = store.list_feeds().unwrap();
    let enabled = |n: &str| {
        stored
            .iter()
            .find(|f| f.config.name == n)
            .unwrap()
            .config
            .enabled
    };
    assert!(enabled("one"));
    assert!(
        !enabled("two"),
        "removed from the file: disabled, history kept"
    );
    assert!(enabled("gui"), "GUI feeds are not the file's business");
    let running: Vec<String> = engine.feeds().await.into_iter().map(|f| f.name).collect();
    assert_eq!(running, vec!["gui", "one"]);
    engine.shutdown().await.unwrap();
    sim.shutdown().await;
}

/// Fails its first `fail` calls, then records (server ids 101, 102, …).
#[derive(Default)]
struct Flaky {
    fail: usize,
    /// How long a successful call takes.
    slow: Duration,
    calls: AtomicUsize,
    shown: Mutex<Vec<Notification>>,
    withdrawn: Mutex<Vec<Withdrawal>>,
}

impl Notifier for Flaky {
    fn notify(&self, n: &Notification) -> Result<Option<u32>, NotifyError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.fail {
            std::thread::sleep(Duration::from_millis(200)); // and slow, too
            return Err(NotifyError::Rejected(
                "org.freedesktop.Notifications was not provided by any .service files".into(),
            ));
        }
        std::thread::sleep(self.slow);
        let mut shown = self.shown.lock().unwrap();
        shown.push(n.clone());
        Ok(Some(100 + shown.len() as u32))
    }

    fn withdraw(&self, w: &Withdrawal) -> Result<(), NotifyError> {
        self.withdrawn.lock().unwrap().push(w.clone());
        Ok(())
    }
}

/// The alert's history rows as (kind, detail), oldest first.
fn history(store: &Store, alert_id: i64) -> Vec<(String, String)> {
    let mut rows = store.alert_history(Some(alert_id), 100).unwrap();
    rows.sort_by_key(|r| r.id);
    rows.into_iter().map(|r| (r.kind, r.detail)).collect()
}

fn always_rule() -> AlertRule {
    toml::from_str("name = \"any cpu\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">=\"\nvalue = 0\nseverity = \"critical\"\n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_notification_server_is_retried_and_never_blocks_ingestion() {
    let sim = sim(200.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let flaky = Arc::new(Flaky {
        fail: 3,
        ..Default::default()
    });
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            notifier: Some(flaky.clone()),
            notify_retry: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .unwrap();
    let mut feed = ws_feed("a", &sim, "host-1");
    feed.alerts.push(always_rule());
    let id = engine.upsert_feed(feed, FeedOrigin::Gui).await.unwrap();
    let f = flaky.clone();
    let shown = until(
        "the notification after retries",
        Duration::from_secs(15),
        || {
            let v = f.shown.lock().unwrap().clone();
            (!v.is_empty()).then_some(v)
        },
    )
    .await;
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].kind, NotificationKind::Fired);
    assert!(
        shown[0].summary.starts_with("a: cpu is "),
        "{}",
        shown[0].summary
    );
    assert!(flaky.calls.load(Ordering::SeqCst) >= 4);
    // The history tells the truth: not delivered at first, then shown.
    let alert_id = engine.alerts()[0].id;
    let rows = until(
        "the delivery in the alert's history",
        Duration::from_secs(10),
        || {
            let rows = history(&store, alert_id);
            rows.iter().any(|(k, _)| k == "notified").then_some(rows)
        },
    )
    .await;
    let notes: Vec<&(String, String)> = rows
        .iter()
        .filter(|(k, _)| k == "notified" || k == "not_delivered")
        .collect();
    assert_eq!(notes.len(), 2, "{rows:?}");
    assert_eq!(notes[0].0, "not_delivered");
    assert!(
        notes[0]
            .1
            .ends_with("was not provided by any .service files (retrying)"),
        "{rows:?}"
    );
    assert_eq!(notes[1].0, "notified");
    assert!(notes[1].1.ends_with(" (after 3 retries)"), "{rows:?}");
    // Ingestion kept going throughout.
    store.flush().await.unwrap();
    assert!(store.event_count(Some(id)).unwrap() > 100);
    assert_eq!(engine.alerts()[0].phase, Phase::Firing);
    engine.shutdown().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_shown_while_stopping_is_still_in_the_history() {
    let sim = sim(20.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let slow = Arc::new(Flaky {
        slow: Duration::from_millis(800),
        ..Default::default()
    });
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            notifier: Some(slow.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut feed = ws_feed("a", &sim, "host-1");
    feed.alerts.push(always_rule());
    engine.upsert_feed(feed, FeedOrigin::Gui).await.unwrap();
    let s = slow.clone();
    until(
        "the notification on its way",
        Duration::from_secs(10),
        || (s.calls.load(Ordering::SeqCst) > 0).then_some(()),
    )
    .await;
    // The server is still taking it when the engine stops.
    let alert_id = engine.alerts()[0].id;
    engine.shutdown().await.unwrap();
    assert_eq!(slow.shown.lock().unwrap().len(), 1);
    let rows = history(&store, alert_id);
    assert!(rows.iter().any(|(k, _)| k == "notified"), "{rows:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_alerts_survive_a_restart_their_popup_renewed_once_and_ack_closes_it() {
    let sim = sim(20.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let first = Arc::new(Flaky::default());
    let mut feed = ws_feed("a", &sim, "host-1");
    feed.alerts.push(always_rule());
    let alert_id = {
        let store = Store::open(&path, Default::default()).unwrap();
        let engine = Engine::start(
            store,
            EngineOptions {
                notifier: Some(first.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        engine
            .upsert_feed(feed.clone(), FeedOrigin::Gui)
            .await
            .unwrap();
        // The popup's server id is kept with the alert.
        let e = engine.clone();
        until(
            "the popup's id on the alert",
            Duration::from_secs(10),
            || (e.alerts().first()?.notice_id == Some(101)).then_some(()),
        )
        .await;
        let id = engine.alerts()[0].id;
        engine.shutdown().await.unwrap();
        id
    };
    let second = Arc::new(Flaky::default());
    let store = Store::open(&path, Default::default()).unwrap();
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            notifier: Some(second.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let before = engine.alerts();
    assert_eq!(before.len(), 1);
    assert_eq!((before[0].id, before[0].phase), (alert_id, Phase::Firing));
    engine.start_stored().await.unwrap();
    let s = store.clone();
    let id = s.feed_by_name("a").unwrap().unwrap().id;
    let start_count = s.event_count(Some(id)).unwrap();
    until(
        "new data after the restart",
        Duration::from_secs(10),
        || (s.event_count(Some(id)).ok()? > start_count + 20).then_some(()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The popup shown before the restart has buttons that reach nothing:
    // it is replaced, once, by one whose buttons work. Not a new firing.
    let renewed = second.shown.lock().unwrap().clone();
    assert_eq!(renewed.len(), 1, "{renewed:?}");
    assert_eq!(
        (renewed[0].kind, renewed[0].alert_id, renewed[0].replaces),
        (NotificationKind::Reminder, Some(alert_id), Some(101))
    );
    let rows = history(&store, alert_id);
    assert_eq!(rows.iter().filter(|(k, _)| k == "fired").count(), 1);
    assert_eq!(
        rows.iter().filter(|(k, _)| k == "notified").count(),
        2,
        "{rows:?}"
    );
    // Acknowledging closes the popup.
    engine
        .alert_action(telltale_engine::AlertAction::Ack { id: alert_id })
        .await
        .unwrap();
    let s2 = second.clone();
    let w = until("the popup withdrawn", Duration::from_secs(10), || {
        s2.withdrawn.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!((w.alert_id, w.notice_id), (alert_id, Some(101)));
    engine.shutdown().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_disk_sheds_load_visibly_and_loses_nothing_silently() {
    let sim = sim(3000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open_with(
        &path,
        Default::default(),
        StoreOptions {
            queue_capacity: 2,
            busy_timeout: Duration::from_millis(100),
            // The writer holds what arrives while the disk stalls; beyond
            // this it sheds, and the feed counts it as dropped.
            hold_while_failing: 256 * 1024,
            ..Default::default()
        },
    )
    .unwrap();
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            ingest_queue: 64,
            ..Default::default()
        },
    )
    .unwrap();
    let id = engine
        .upsert_feed(ws_feed("fast", &sim, "host-1"), FeedOrigin::Gui)
        .await
        .unwrap();
    let s = store.clone();
    until("first commits", Duration::from_secs(10), || {
        (s.event_count(Some(id)).ok()? > 100).then_some(())
    })
    .await;

    // Another process-like connection takes the write lock: the "disk" stalls.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let e = engine.clone();
    let shed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let f = &e.feeds().await[0];
            if f.dropped > 0 {
                return f.dropped;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the sources never shed load while the disk was stalled");
    assert!(shed > 0);
    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);

    // The disk is back: ingestion resumes, and every message received is
    // either stored or counted as dropped.
    let s = store.clone();
    let before = s.event_count(Some(id)).unwrap();
    until("ingestion to resume", Duration::from_secs(20), || {
        (s.event_count(Some(id)).ok()? > before + 1000).then_some(())
    })
    .await;
    // Stop the source, let the counters settle, then drain everything.
    sim.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let f = engine.feeds().await.remove(0);
    engine.shutdown().await.unwrap();
    let stored = store.event_count(Some(id)).unwrap();
    assert!(f.dropped >= shed);
    assert!(
        stored <= f.messages && stored + f.dropped >= f.messages,
        "{} received, {stored} stored, {} dropped: some vanished",
        f.messages,
        f.dropped
    );
}

fn cpu_high_rule() -> AlertRule {
    toml::from_str("name = \"cpu high\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">\"\nvalue = 90\nseverity = \"critical\"\n").unwrap()
}

fn shown(n: &RecordingNotifier) -> Vec<Notification> {
    n.0.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_notified_while_alerts_and_live_data_go_on() {
    let incident_after = Duration::from_secs(10);
    let started = Instant::now();
    let sim = Sim::start(SimConfig {
        hosts: 2,
        rate: 20.0,
        incident: Some(Incident {
            host: "host-2".into(),
            start_after: incident_after,
            ramp: Duration::from_secs(1),
            hold: Duration::from_secs(120),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A real SQLITE_FULL once the file reaches 1 MiB, as on a full disk.
    let store = Store::open_with(
        &dir.path().join("t.db"),
        Default::default(),
        StoreOptions {
            max_db_bytes: Some(1024 * 1024),
            hold_while_failing: 512 * 1024,
            ..Default::default()
        },
    )
    .unwrap();
    let notifier = RecordingNotifier::default();
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            notifier: Some(Arc::new(notifier.clone())),
            notify_retry: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .unwrap();
    let mut watched = ws_feed("watched", &sim, "host-2");
    watched.alerts.push(cpu_high_rule());
    let watched_id = engine.upsert_feed(watched, FeedOrigin::Gui).await.unwrap();
    let filler = FeedConfig::new(
        "filler",
        TransportKind::Websocket,
        format!("{}/ws?host=host-1&rate=3000", sim.ws_url()),
    );
    engine.upsert_feed(filler, FeedOrigin::Gui).await.unwrap();

    let e = engine.clone();
    let failure = until(
        "the store to report a failure",
        Duration::from_secs(30),
        || e.health().store.failure,
    )
    .await;
    assert_eq!(failure.code, "disk_full", "{failure:?}");
    assert!(
        started.elapsed() < incident_after,
        "the database filled only after the incident began: this run proves nothing"
    );
    let n = notifier.clone();
    let note = until("the built-in notification", Duration::from_secs(10), || {
        shown(&n)
            .into_iter()
            .find(|x| x.kind == NotificationKind::Health)
    })
    .await;
    assert_eq!(note.summary, "Telltale cannot store data: disk full");
    assert!(note.body.contains("full"), "{}", note.body);

    // Live data keeps flowing while nothing can be stored.
    let mut live = engine.subscribe();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut live_samples = 0;
    while live_samples < 5 && Instant::now() < deadline {
        if let Ok(Some(Item::Batch(b))) =
            tokio::time::timeout(Duration::from_secs(1), live.recv()).await
        {
            live_samples += b.samples.iter().filter(|s| s.feed_id == watched_id).count();
        }
    }
    assert!(live_samples >= 5, "live data stopped with the store");

    // The incident fires its alert while the store still fails.
    let n = notifier.clone();
    let fired = until(
        "the cpu alert while the disk is full",
        Duration::from_secs(40),
        || {
            shown(&n)
                .into_iter()
                .find(|x| x.kind == NotificationKind::Fired)
        },
    )
    .await;
    assert!(
        fired.summary.starts_with("watched: cpu"),
        "{}",
        fired.summary
    );
    assert!(engine.health().store.failure.is_some());
    // Messages that could not be stored show on their feed.
    let e = engine.clone();
    until(
        "not-stored messages counted on the feed",
        Duration::from_secs(30),
        || {
            let feeds = futures_lite(e.feeds());
            feeds
                .into_iter()
                .find(|f| f.name == "filler" && f.dropped > 0)
                .map(|_| ())
        },
    )
    .await;

    // Shutting down does not hang on the full disk.
    let stopped = tokio::time::timeout(Duration::from_secs(20), engine.shutdown()).await;
    assert!(stopped.is_ok(), "shutdown hung on a full disk");
    sim.shutdown().await;
}

/// Runs a future to completion from a synchronous closure inside the test's
/// multi-threaded runtime.
fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_pipeline_is_fatal_logged_and_notified_not_silent() {
    let sim = sim(20.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let notifier = RecordingNotifier::default();
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            notifier: Some(Arc::new(notifier.clone())),
            panic_on_feed: Some("boom".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut fatal = engine.fatal();
    assert!(fatal.borrow().is_none());
    engine
        .upsert_feed(ws_feed("boom", &sim, "host-1"), FeedOrigin::Gui)
        .await
        .unwrap();
    let what = tokio::time::timeout(Duration::from_secs(20), fatal.wait_for(|f| f.is_some()))
        .await
        .expect("a crashed pipeline went unnoticed")
        .unwrap()
        .clone()
        .unwrap();
    assert!(what.contains("pipeline crashed"), "{what}");
    assert!(what.contains("panic_on_feed"), "{what}");
    let health = engine.health();
    assert!(!health.is_ok());
    assert_eq!(health.fatal.as_deref(), Some(what.as_str()));
    let n = notifier.clone();
    let note = until("the fatal notification", Duration::from_secs(10), || {
        shown(&n)
            .into_iter()
            .find(|x| x.kind == NotificationKind::Health)
    })
    .await;
    assert_eq!(note.summary, "Telltale stopped monitoring");
    sim.shutdown().await;
}

/// A server that answers every request with `204 No Content`, counting them.
async fn no_content_server() -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (format!("http://{addr}/events"), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_204_stops_the_feed_until_the_operator_resumes_it() {
    let (url, hits) = no_content_server().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    let mut cfg = FeedConfig::new("stopper", TransportKind::Sse, url);
    cfg.backoff.initial = telltale_model::duration::Dur::millis(10);
    cfg.backoff.max = telltale_model::duration::Dur::millis(100);
    engine
        .upsert_feed(cfg.clone(), FeedOrigin::Gui)
        .await
        .unwrap();
    let stopped_by_server = |feeds: &[telltale_engine::FeedStatus]| {
        feeds
            .iter()
            .any(|f| matches!(f.state, ConnState::StoppedByServer { .. }))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stopped_by_server(&engine.feeds().await) {
        assert!(Instant::now() < deadline, "never stopped by server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing restarts it: no second request within many backoff periods.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(stopped_by_server(&engine.feeds().await));
    // Resume: disable and enable.
    let mut off = cfg.clone();
    off.enabled = false;
    engine.upsert_feed(off, FeedOrigin::Gui).await.unwrap();
    engine.upsert_feed(cfg, FeedOrigin::Gui).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while hits.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "not resumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_inside_a_payload_problem_does_not_defeat_its_rate_limit() {
    let sim = sim(50.0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    // A text rule whose capture is never a number, and differs in every
    // message (`"seq":42`): each message has the same problem, worded with
    // another value.
    let mut feed = ws_feed("seq", &sim, "host-1");
    feed.format = telltale_model::feed::PayloadFormat::Text;
    feed.metrics = vec![toml::from_str("name = \"seq\"\nregex = '(\"seq\":\\d+)'\n").unwrap()];
    let id = engine.upsert_feed(feed, FeedOrigin::Gui).await.unwrap();
    let s = store.clone();
    until("60 messages", Duration::from_secs(20), || {
        (s.event_count(Some(id)).ok()? >= 60).then_some(())
    })
    .await;
    store.flush().await.unwrap();
    let payload_issues = store
        .timeline(
            id,
            telltale_model::Timestamp(0),
            telltale_model::Timestamp::now(),
            1000,
        )
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "payload")
        .collect::<Vec<_>>();
    assert_eq!(payload_issues.len(), 1, "{payload_issues:?}");
    assert!(
        payload_issues[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("which is not a number"),
        "{payload_issues:?}"
    );
    engine.shutdown().await.unwrap();
    sim.shutdown().await;
}

/// A Prometheus endpoint whose label changes on every scrape.
async fn churning_metrics_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok((mut sock, _)) = listener.accept().await {
            n += 1;
            let body = format!("# TYPE reqs gauge\nreqs{{request_id=\"r{n}\",code=\"200\"}} {n}\n");
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/metrics")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_that_changes_every_scrape_stops_at_the_series_cap() {
    let url = churning_metrics_server().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    let cfg: ConfigFile = ConfigFile::parse(
        "feeds.toml",
        &format!(
            "[[feed]]\nname = \"churn\"\ntransport = \"poll\"\nurl = \"{url}\"\nformat = \"prometheus\"\npayloads = \"all\"\nmax_series = 8\n[[feed.metric]]\nname = \"reqs\"\n[feed.poll]\ninterval = \"100ms\"\n"
        ),
    );
    assert!(cfg.errors.is_empty(), "{:?}", cfg.errors);
    let id = engine
        .upsert_feed(cfg.feeds[0].clone(), FeedOrigin::Gui)
        .await
        .unwrap();
    let s = store.clone();
    until("20 scrapes", Duration::from_secs(30), || {
        (s.event_count(Some(id)).ok()? >= 20).then_some(())
    })
    .await;
    store.flush().await.unwrap();
    // http_status, response_ms and up, plus the first five label sets of `reqs`.
    let series = store.list_series(id).unwrap();
    assert_eq!(series.len(), 8, "{series:?}");
    let issues: Vec<_> = store
        .timeline(
            id,
            telltale_model::Timestamp(0),
            telltale_model::Timestamp::now(),
            1000,
        )
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.detail
                .as_deref()
                .unwrap_or("")
                .contains("more than 8 series")
        })
        .collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    engine.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_keep_their_samples_but_not_every_payload() {
    let url = churning_metrics_server().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    let cfg = ConfigFile::parse(
        "feeds.toml",
        &format!(
            "[[feed]]\nname = \"scrape\"\ntransport = \"poll\"\nurl = \"{url}\"\nformat = \"prometheus\"\n[[feed.metric]]\nname = \"reqs\"\n[feed.poll]\ninterval = \"100ms\"\n"
        ),
    );
    assert!(cfg.errors.is_empty(), "{:?}", cfg.errors);
    let id = engine
        .upsert_feed(cfg.feeds[0].clone(), FeedOrigin::Gui)
        .await
        .unwrap();
    let e = engine.clone();
    telltale_testsupport::wait_for_async("10 scrapes", Duration::from_secs(30), || {
        let e = e.clone();
        async move {
            let f = e.feeds().await;
            f.iter()
                .any(|f| f.name == "scrape" && f.messages >= 10)
                .then_some(())
        }
    })
    .await;
    store.flush().await.unwrap();
    // The default for Prometheus text: the first payload after a start (and
    // one per 10 minutes), not one per scrape; every scrape's samples.
    assert_eq!(store.event_count(Some(id)).unwrap(), 1);
    let series = store.list_series(id).unwrap();
    assert!(series.len() >= 10, "{} series", series.len());
    let notes: Vec<_> = store
        .timeline(
            id,
            telltale_model::Timestamp(0),
            telltale_model::Timestamp::now(),
            1000,
        )
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == "payloads")
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0]
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("fail to parse"));
    engine.shutdown().await.unwrap();
}
