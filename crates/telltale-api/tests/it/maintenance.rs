//! Maintenance windows through the API: started for a tag, shown on the
//! feeds it covers and in their timelines, the tray lamp left alone,
//! refused when it names nothing, ended and kept, and checked when the
//! settings are saved.

use telltale_api::{
    ErrorCode, FeedConfig, MaintenanceName, OverviewLevel, StartMaintenanceRequest,
};

async fn add(api: &telltale_api::Api, name: &str, tags: &[&str]) {
    let feed: FeedConfig = serde_json::from_value(serde_json::json!({
        "name": name,
        "transport": "websocket",
        // nothing listens: the feed is never live
        "url": "ws://127.0.0.1:9/ws",
        "tags": tags,
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_of_a_tag_covers_its_feeds_until_ended() {
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::start_runtime(&dir).await;
    let api = rt.api();
    add(api, "db-1", &["db"]).await;
    add(api, "web-1", &[]).await;
    assert_eq!(api.overview().await.unwrap().not_live, 2);

    let start = |tags: &[&str], feeds: &[&str], secs| StartMaintenanceRequest {
        name: None,
        feeds: feeds.iter().map(|s| s.to_string()).collect(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        secs,
    };
    // Names nothing that exists, or lasts no time: refused, saying why.
    let e = api
        .start_maintenance(start(&["dbs"], &[], 3600))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("`dbs`"), "{}", e.message);
    let e = api
        .start_maintenance(start(&[], &["db-2"], 3600))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = api
        .start_maintenance(start(&["db"], &[], 5))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.contains("1 minute"), "{}", e.message);

    let m = api
        .start_maintenance(start(&["db"], &[], 7200))
        .await
        .unwrap();
    assert_eq!(m.covers, ["db-1"]);
    let until = m.active_until.unwrap();
    let now = telltale_model::Timestamp::now().as_millis();
    assert!((until - now - 7_200_000).abs() < 60_000, "{until} vs {now}");
    let feeds = api.list_feeds().await.unwrap();
    let of = |n: &str| {
        feeds
            .iter()
            .find(|f| f.name == n)
            .unwrap()
            .maintenance
            .clone()
    };
    assert_eq!(of("db-1").as_deref(), Some(m.window.name.as_str()));
    assert_eq!(of("web-1"), None);
    // The lamp counts only web-1 as not live.
    let o = api.overview().await.unwrap();
    assert_eq!(
        (o.not_live, o.level),
        (1, OverviewLevel::Degraded),
        "{}",
        o.text
    );
    // The timeline of the last hour carries the window from its start.
    let tl = api
        .timeline("db-1", now - 3_600_000, now + 1)
        .await
        .unwrap();
    assert_eq!(tl.maintenance.len(), 1, "{:?}", tl.maintenance);
    assert_eq!(tl.maintenance[0].end, now + 1);
    assert!(tl.maintenance[0].start >= now - 60_000);
    assert!(api
        .timeline("web-1", now - 3_600_000, now + 1)
        .await
        .unwrap()
        .maintenance
        .is_empty());
    // A second window with the same name is refused.
    let mut again = start(&[], &["web-1"], 600);
    again.name = Some(m.window.name.clone());
    assert_eq!(
        api.start_maintenance(again).await.unwrap_err().code,
        ErrorCode::InvalidRequest
    );

    // Ended: it stops covering db-1 but stays on record for uptime.
    api.end_maintenance(&m.window.name).await.unwrap();
    let listed = api.maintenance().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].active_until, None);
    let feeds = api.list_feeds().await.unwrap();
    assert!(feeds.iter().all(|f| f.maintenance.is_none()));
    let later = telltale_model::Timestamp::now().as_millis();
    let tl = api
        .timeline("db-1", now - 3_600_000, later + 1)
        .await
        .unwrap();
    assert_eq!(tl.maintenance.len(), 1);
    assert!(tl.maintenance[0].end <= later, "ended at once");
    // Ending it again removes it; a name nothing has is not_found.
    api.end_maintenance(&m.window.name).await.unwrap();
    assert!(api.maintenance().await.unwrap().is_empty());
    let e = api.end_maintenance("nope").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    // Through the one operation list too.
    let r = telltale_api::dispatch(
        api,
        "end_maintenance",
        serde_json::to_value(MaintenanceName {
            name: "nope".into(),
        })
        .unwrap(),
    )
    .await;
    assert!(r.is_err());
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_settings_check_every_window_and_route_and_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::start_runtime(&dir).await;
    let api = rt.api();
    let mut s = api.settings().await.unwrap();
    s.alerts.maintenance = serde_json::from_value(serde_json::json!([
        {"name": "patch", "tags": ["db"], "days": ["sun"], "from": "02:00", "to": "04:00", "time_zone": "Europe/Berlin"},
        {"name": "move", "feeds": ["web-1"], "days": ["sun"], "from": "02:00", "to": "4"}
    ]))
    .unwrap();
    let e = api.update_settings(s.clone()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidSettings);
    assert!(
        e.message
            .starts_with("field `alerts.maintenance[1].to` is `4`"),
        "{}",
        e.message
    );
    s.alerts.maintenance[1].to = Some("04:30".into());
    let saved = api.update_settings(s).await.unwrap();
    assert_eq!(saved.alerts.maintenance.len(), 2);
    assert_eq!(saved.alerts.maintenance[1].to.as_deref(), Some("04:30"));
    let listed = api.maintenance().await.unwrap();
    assert!(
        listed
            .iter()
            .all(|m| m.next_start.is_some() || m.active_until.is_some()),
        "{listed:?}"
    );
    // Routes by tag are checked the same way, and kept.
    let mut s = api.settings().await.unwrap();
    s.alerts.route = serde_json::from_value(serde_json::json!([
        {"tags": ["lab"], "notify": "none"},
        {"tags": [], "min_severity": "critical"}
    ]))
    .unwrap();
    let e = api.update_settings(s.clone()).await.unwrap_err();
    assert!(
        e.message
            .starts_with("field `alerts.route[1].tags` is empty"),
        "{}",
        e.message
    );
    s.alerts.route[1].tags = vec!["staging".into()];
    let saved = api.update_settings(s).await.unwrap();
    assert_eq!(saved.alerts.route.len(), 2);
    assert_eq!(
        saved.alerts.route[0].notify,
        telltale_model::route::RouteTarget::None
    );
    assert_eq!(
        api.engine().alert_settings().route,
        saved.alerts.route,
        "applied to the running engine"
    );
    rt.shutdown().await.unwrap();
}
