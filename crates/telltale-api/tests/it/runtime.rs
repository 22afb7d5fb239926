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

/// Over a disk budget, a feed whose payloads would take more than its
/// share is flagged on its tile, saying why and what to do; a feed that
/// stores no payloads is not, and without a budget nothing is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_over_its_share_of_the_disk_budget_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = desktop_like(dir.path().join("t.db"));
    opts.defaults.store.disk_budget = Some(ByteSize(16 << 20));
    opts.defaults.store.events_max_per_feed = 1_000_000;
    let rt = Runtime::start(opts).await.unwrap();
    let api = rt.api();
    let sim = telltale_sim::Sim::start(telltale_sim::SimConfig::default())
        .await
        .unwrap();
    let ws = sim.ws_url();
    let feed = |name: &str, payloads: &str| -> telltale_api::FeedConfig {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "transport": "websocket",
            "url": format!("{ws}/ws?host=host-1&rate=200"),
            "payloads": payloads,
            "metric": [{"name": "cpu", "pointer": "/cpu"}],
        }))
        .unwrap()
    };
    api.upsert_feed(feed("noisy", "all")).await.unwrap();
    api.upsert_feed(feed("quiet", "none")).await.unwrap();
    let find = |feeds: &[telltale_api::FeedView], name: &str| {
        feeds.iter().find(|f| f.name == name).unwrap().clone()
    };
    // 16 MiB over two feeds is 8.4 MB each; a million stored events of at
    // least their 64-byte row are 64 MB, and at 200 a second the 7-day age
    // is far more: the lesser is over the share. The quiet feed stores no
    // payload at all.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let warning = loop {
        let feeds = api.list_feeds().await.unwrap();
        if let Some(w) = find(&feeds, "noisy").storage_warning {
            assert_eq!(find(&feeds, "quiet").storage_warning, None);
            assert!(find(&feeds, "quiet").messages > 0, "the quiet feed runs");
            break w;
        }
        assert!(std::time::Instant::now() < deadline, "never flagged");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(warning.contains("share of the disk budget"), "{warning}");
    assert!(warning.contains("over 2 feeds"), "{warning}");
    assert!(warning.contains("\"Payloads stored\""), "{warning}");
    let detail = api.get_feed("noisy").await.unwrap();
    assert!(detail.feed.storage_warning.is_some());
    // The operator follows the advice: saving the feed measures it again
    // from then (saved twice, so that messages in flight under the old
    // policy are behind the second save).
    api.upsert_feed(feed("noisy", "errors")).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    api.upsert_feed(feed("noisy", "errors")).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let feeds = api.list_feeds().await.unwrap();
    assert!(find(&feeds, "noisy").messages > 0, "it still runs");
    assert_eq!(find(&feeds, "noisy").storage_warning, None);
    api.upsert_feed(feed("noisy", "all")).await.unwrap();
    // No budget, nothing to exceed (flagged again first: all payloads).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while find(&api.list_feeds().await.unwrap(), "noisy")
        .storage_warning
        .is_none()
    {
        assert!(std::time::Instant::now() < deadline, "never flagged again");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mut s = api.settings().await.unwrap();
    s.store.disk_budget = None;
    api.update_settings(s).await.unwrap();
    let feeds = api.list_feeds().await.unwrap();
    assert_eq!(find(&feeds, "noisy").storage_warning, None);
    sim.shutdown().await;
    rt.shutdown().await.unwrap();
}

/// Snoozing a tag answers the feeds that have it and keeps the tag as a
/// silence; a tag no feed has is `not_found`, saying what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snoozing_a_tag_snoozes_the_feeds_that_have_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let rt = Runtime::start(desktop_like(db.clone())).await.unwrap();
    let api = rt.api();
    for (name, tags) in [
        ("a", vec!["prod"]),
        ("b", vec!["prod", "db"]),
        ("c", vec!["db"]),
    ] {
        let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
            "name": name,
            "transport": "websocket",
            "url": "ws://127.0.0.1:9/ws",
            "enabled": false,
            "tags": tags,
        }))
        .unwrap();
        api.upsert_feed(feed).await.unwrap();
    }
    let listed = api.list_feeds().await.unwrap();
    let b = listed.iter().find(|f| f.name == "b").unwrap();
    assert_eq!(b.tags, ["prod", "db"]);
    let mut names = api.snooze_tag("prod", 3600).await.unwrap();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    let e = api.snooze_tag("staging", 60).await.unwrap_err();
    assert_eq!(e.code, telltale_api::ErrorCode::NotFound);
    assert!(e.message.contains("`staging`"), "{}", e.message);
    rt.shutdown().await.unwrap();

    // What the engine keeps across a restart: the tag, so that a feed
    // tagged prod later is snoozed too (crates/telltale-alerts tests that).
    let store = telltale_store::Store::open(&db, Default::default()).unwrap();
    let (_, silences) = store.load_alerts().unwrap();
    let silences: serde_json::Value = serde_json::from_str(&silences.unwrap()).unwrap();
    assert!(
        silences["tags"]["prod"].is_number() || silences["tags"]["prod"].is_string(),
        "{silences}"
    );
    assert!(silences["tags"].get("db").is_none(), "{silences}");
}

/// `depends_on` must name a feed that exists (through the API), and shows
/// on the feed's view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_names_an_existing_feed() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::start(desktop_like(dir.path().join("t.db")))
        .await
        .unwrap();
    let api = rt.api();
    let feed = |name: &str, parent: Option<&str>| -> telltale_api::FeedConfig {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "transport": "tcp",
            "url": "tcp://127.0.0.1:9",
            "enabled": false,
            "depends_on": parent,
        }))
        .unwrap()
    };
    let e = api
        .upsert_feed(feed("web-1", Some("router")))
        .await
        .unwrap_err();
    assert_eq!(e.code, telltale_api::ErrorCode::InvalidFeed);
    assert!(
        e.message.contains("depends_on") && e.message.contains("`router`"),
        "{}",
        e.message
    );
    api.upsert_feed(feed("router", None)).await.unwrap();
    let v = api
        .upsert_feed(feed("web-1", Some("router")))
        .await
        .unwrap();
    assert_eq!(v.depends_on.as_deref(), Some("router"));
    rt.shutdown().await.unwrap();
}
