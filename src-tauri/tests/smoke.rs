//! Builds the desktop app on Tauri's mock runtime with the same
//! configuration as `telltale` ([`telltale_desktop::configure`]: plugins,
//! commands, setup with the engine over a temporary SQLite file) and calls
//! its commands through the IPC layer, as the UI does.
//!
//! One test builds one app: the log plugin installs the process-wide logger
//! and the single-instance plugin owns a D-Bus name, so a second app in the
//! same process would fail (or, with a session bus, exit as a "second
//! instance").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow};
use telltale_desktop::{configure, AppOptions, MAIN_WINDOW};

fn invoke(
    w: &WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

/// Runs an API operation through the one `call` command.
fn op(
    w: &WebviewWindow<tauri::test::MockRuntime>,
    op: &str,
    request: Value,
) -> Result<Value, Value> {
    invoke(w, "call", json!({ "op": op, "request": request }))
}

const FEED: &str = r#"
[[feed]]
name = "web"
transport = "poll"
url = "http://127.0.0.1:9/health"
enabled = false
[[feed.metric]]
name = "cpu"
pointer = "/cpu"
"#;

#[test]
fn commands_answer_over_ipc() {
    // A second instance is detected through the session bus; keep this test
    // independent of whatever desktop session runs it.
    std::env::remove_var("DBUS_SESSION_BUS_ADDRESS");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested").join("telltale.db");
    let opts = AppOptions {
        db: Some(db.clone()),
        notify: false,
        tray: false, // the tray needs GTK, which the mock runtime does not start
        desktop_plugins: true,
    };
    let mut context = mock_context(noop_assets());
    // The mock config has an empty identifier, which is no valid D-Bus name
    // for the single-instance plugin.
    context.config_mut().identifier = "dev.telltale.smoke-test".into();
    let mut app = configure(mock_builder(), opts)
        .build(context)
        .expect("the app builds");
    // Setup runs when the event loop starts; one (mock, no-op) iteration runs
    // it without entering a loop.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    assert!(
        db.is_file(),
        "setup opened the database at {}",
        db.display()
    );
    assert!(
        app.try_state::<telltale_api::Api>().is_some(),
        "Api is managed"
    );
    let w = tauri::WebviewWindowBuilder::new(&app, MAIN_WINDOW, Default::default())
        .build()
        .unwrap();

    // An empty database lists no feeds.
    assert_eq!(op(&w, "list_feeds", json!({})).unwrap(), json!([]));

    // Unknown feed: the API's error, as {code, message}.
    let err = op(&w, "get_feed", json!({ "name": "nope" })).unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    assert!(err["message"].as_str().unwrap().contains("nope"), "{err}");

    // Import, then list and get.
    let report = op(&w, "import_config", json!({ "text": FEED })).unwrap();
    assert_eq!(report["imported"], json!(["web"]), "{report}");
    let feeds = op(&w, "list_feeds", json!({})).unwrap();
    assert_eq!(feeds.as_array().unwrap().len(), 1, "{feeds}");
    assert_eq!(feeds[0]["name"], "web");
    assert_eq!(feeds[0]["transport"], "poll");
    assert_eq!(feeds[0]["enabled"], false);
    let detail = op(&w, "get_feed", json!({ "name": "web" })).unwrap();
    assert_eq!(detail["feed"]["name"], "web", "{detail}");
    assert_eq!(detail["config"]["url"], "http://127.0.0.1:9/health");

    // Test connection: the stored (disabled) feed's config, probed; port 9
    // refuses, so the probe ends at the first failed attempt with its reason.
    let probe = op(
        &w,
        "test_feed",
        json!({ "config": detail["config"], "limits": { "timeout_secs": 5 } }),
    )
    .unwrap();
    assert!(
        probe["states"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"]["state"] == "retrying"),
        "{probe}"
    );

    // Requests with defaults: events with `before_id`, series with
    // `max_points` and no range.
    let page = op(
        &w,
        "events",
        json!({ "feed": "web", "before_id": null, "limit": 10 }),
    )
    .unwrap();
    assert_eq!(page["events"], json!([]), "{page}");
    let err = op(
        &w,
        "series",
        json!({ "feed": "web", "metric": "cpu", "labels": {}, "max_points": 50 }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_found", "no samples yet: {err}");
    let err = op(
        &w,
        "series",
        json!({ "feed": "web", "metric": "cpu", "max_points": 0 }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_request", "{err}");
    let tl = op(&w, "timeline", json!({ "feed": "web" })).unwrap();
    assert_eq!(tl["feed"], "web", "{tl}");

    // Alerts, mute, stats, export.
    assert_eq!(op(&w, "alerts", json!({})).unwrap(), json!([]));
    let err = op(&w, "alert_history", json!({ "id": 999 })).unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    op(
        &w,
        "alert_action",
        json!({ "action": "mute", "secs": 3600 }),
    )
    .unwrap();
    let mute = op(&w, "mute_state", json!({})).unwrap();
    assert_eq!(mute["muted"], true, "{mute}");
    op(&w, "alert_action", json!({ "action": "unmute" })).unwrap();
    assert_eq!(op(&w, "mute_state", json!({})).unwrap()["muted"], false);
    let err = op(&w, "alert_action", json!({ "action": "ack", "id": 5 })).unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    let stats = op(&w, "db_stats", json!({})).unwrap();
    assert_eq!(stats["feeds"], 1, "{stats}");
    let toml = op(&w, "export_config", json!({})).unwrap();
    assert!(toml.as_str().unwrap().contains("name = \"web\""), "{toml}");

    // Settings: read, change, read back; a bad field is named.
    let mut settings = op(&w, "settings", json!({})).unwrap();
    assert_eq!(settings["store"]["events_max_age"], "7d", "{settings}");
    settings["alerts"]["flood_max"] = json!(3);
    let saved = op(&w, "update_settings", settings.clone()).unwrap();
    assert_eq!(saved["alerts"]["flood_max"], 3, "{saved}");
    settings["store"]["events_max_age"] = json!("soon");
    let err = op(&w, "update_settings", settings).unwrap_err();
    assert_eq!(err["code"], "invalid_settings", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("store.events_max_age"),
        "{err}"
    );
    let compact = op(&w, "compact_db", json!({})).unwrap();
    assert!(
        compact["stats"]["file_bytes"].as_u64().unwrap() > 0,
        "{compact}"
    );

    // A malformed argument is refused by Tauri before the API runs.
    assert!(op(&w, "get_feed", json!({})).is_err());
    // An operation that does not exist is named in the refusal.
    let err = op(&w, "drop_database", json!({})).unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("drop_database"),
        "{err}"
    );
    // The old per-operation commands are gone: one `call` serves them all.
    assert!(invoke(&w, "list_feeds", json!({})).is_err());

    // The live stream: a channel id as the JS `Channel` serializes it.
    let live = invoke(&w, "subscribe_live", json!({ "channel": "__CHANNEL__:7" })).unwrap();
    assert_eq!(live, Value::Null);
    let err = invoke(&w, "subscribe_live", json!({ "channel": 7 })).unwrap_err();
    assert!(err.to_string().contains("channel"), "{err}");

    // Delete.
    assert_eq!(
        op(&w, "delete_feed", json!({ "name": "web" })).unwrap(),
        Value::Null
    );
    assert_eq!(op(&w, "list_feeds", json!({})).unwrap(), json!([]));

    // The demo fleet: starts the sim once, imports its feeds; idempotent.
    #[cfg(feature = "demo")]
    {
        let first = invoke(&w, "add_demo_fleet", json!({})).unwrap();
        let names = first["imported"].as_array().unwrap().len();
        assert!(names >= 5, "{first}");
        let again = invoke(&w, "add_demo_fleet", json!({})).unwrap();
        assert_eq!(again["imported"], first["imported"]);
        let feeds = op(&w, "list_feeds", json!({})).unwrap();
        assert_eq!(feeds.as_array().unwrap().len(), names);
    }
    // Without it, the command says so.
    #[cfg(not(feature = "demo"))]
    {
        let e = invoke(&w, "add_demo_fleet", json!({})).unwrap_err();
        assert!(e.to_string().contains("no demo fleet"), "{e}");
    }

    // Clean shutdown (what Quit does).
    tauri::async_runtime::block_on(telltale_desktop::shutdown(app.handle()));
}
