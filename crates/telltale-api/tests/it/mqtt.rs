//! An MQTT feed through the whole runtime, against Debian's mosquitto:
//! topic levels become series labels, topics are the event log's types.

use crate::start_runtime as runtime;
use rumqttc::QoS;
use std::time::{Duration, Instant};
use telltale_testsupport::mqtt::{Broker, Publisher};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt_feed_stores_samples_labelled_by_topic_and_events_by_topic() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir).await;
    let api = rt.api();
    let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "fleet",
        "transport": "mqtt",
        "url": broker.url(),
        "mqtt": {"topics": [{"filter": "fleet/+/health", "qos": 1, "labels": ["host"]}]},
        "metric": [{"name": "cpu", "pointer": "/cpu"}],
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();
    let p = Publisher::connect(broker.port).await;
    // Published until the subscription is in place, then a known set.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        p.send(
            "fleet/web-1/health",
            QoS::AtLeastOnce,
            false,
            r#"{"cpu":1}"#,
        )
        .await;
        let f = api.get_feed("fleet").await.unwrap();
        if f.feed.messages > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no message arrived: {:?}",
            f.feed
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (host, cpu) in [("web-2", 42.5), ("db", 7.0)] {
        let body = format!(r#"{{"cpu":{cpu}}}"#);
        p.send(
            &format!("fleet/{host}/health"),
            QoS::AtLeastOnce,
            false,
            body,
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let series = loop {
        let s = api.get_feed("fleet").await.unwrap().series;
        if s.len() == 3 {
            break s;
        }
        assert!(Instant::now() < deadline, "series: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut hosts: Vec<String> = series
        .iter()
        .map(|s| format!("{}{:?}", s.metric, s.labels))
        .collect();
    hosts.sort();
    assert_eq!(
        hosts,
        vec![
            r#"cpu{"host": "db"}"#,
            r#"cpu{"host": "web-1"}"#,
            r#"cpu{"host": "web-2"}"#
        ]
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = api
            .events(Some("fleet"), None, Some("42.5"), 10)
            .await
            .unwrap();
        if let Some(e) = page.events.first() {
            assert_eq!(e.event_type.as_deref(), Some("fleet/web-2/health"));
            assert_eq!(e.data, r#"{"cpu":42.5}"#);
            break;
        }
        assert!(Instant::now() < deadline, "the event was not stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rt.shutdown().await.unwrap();
}

/// *Test connection* on a saved MQTT feed: its password is masked in the
/// feed's view, and the probe connects with the stored one; a password
/// typed wrong gets the broker's refusal with what to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_uses_the_stored_password_behind_the_mask() {
    let broker = Broker::with_users(Some(("telltale", "s3cret-pw")));
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir).await;
    let api = rt.api();
    let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "secure",
        "transport": "mqtt",
        "url": format!("mqtt://telltale:s3cret-pw@127.0.0.1:{}", broker.port),
        "mqtt": {"topics": [{"filter": "a/#"}]},
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();
    let shown = api.get_feed("secure").await.unwrap().config;
    assert!(!shown.url.contains("s3cret-pw"), "{}", shown.url);
    assert!(
        shown.url.contains(telltale_model::secret::MASK),
        "{}",
        shown.url
    );
    let limits = telltale_api::ProbeLimits {
        max_messages: Some(1),
        timeout_secs: Some(2),
    };
    let names = |r: &telltale_api::ProbeReport| -> String {
        r.states
            .iter()
            .map(|s| format!("{:?} {:?}\n", s.state, s.issue))
            .collect()
    };
    let report = api
        .test_feed(telltale_api::ProbeInput {
            config: shown.clone(),
            limits: Some(limits.clone()),
        })
        .await
        .unwrap();
    let seen = names(&report);
    assert!(seen.contains("Live"), "{seen}");
    let mut wrong = shown;
    wrong.url = format!("mqtt://telltale:typo@127.0.0.1:{}", broker.port);
    let report = api
        .test_feed(telltale_api::ProbeInput {
            config: wrong,
            limits: Some(limits),
        })
        .await
        .unwrap();
    let seen = names(&report);
    assert!(seen.contains("password in the feed's URL"), "{seen}");
    assert!(!seen.contains("typo"), "{seen}");
    rt.shutdown().await.unwrap();
}
