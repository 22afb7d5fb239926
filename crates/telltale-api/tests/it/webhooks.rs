//! Webhook feeds through the whole runtime and its HTTP receiver
//! (`POST /hooks/{feed}`), with deliveries signed by the providers' own
//! libraries (`tests/peers/webhook-sender.mjs`): a valid delivery is
//! stored once, a provider's retry is answered 2xx and not stored again,
//! and a tampered or replayed one is answered 401 and never stored.

use crate::start_runtime;
use std::time::{Duration, Instant};
use telltale_api::http::{bind, ServeOptions};
use telltale_api::{Api, ConnStateView};
use telltale_testsupport::node::send_webhooks;

/// Serves `api` on a loopback port, as `telltaled serve` does; returns its
/// base URL.
async fn serve(api: &Api) -> String {
    let server = bind(
        api.clone(),
        ServeOptions::new("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run(std::future::pending()));
    base
}

async fn add(api: &Api, feed: serde_json::Value) {
    api.upsert_feed(serde_json::from_value(feed).unwrap())
        .await
        .unwrap();
}

async fn wait_state(api: &Api, feed: &str, want: impl Fn(&ConnStateView) -> bool) -> ConnStateView {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = api.get_feed(feed).await.unwrap().feed.state;
        if want(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{feed}: still {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(server_id, event_type)` of a feed's stored events, oldest first, once
/// `n` are there.
async fn stored(api: &Api, feed: &str, n: usize) -> Vec<(Option<String>, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = api.events(Some(feed), None, None, 100).await.unwrap();
        if page.events.len() >= n || Instant::now() > deadline {
            let mut v: Vec<_> = page
                .events
                .into_iter()
                .map(|e| (e.server_id, e.event_type))
                .collect();
            v.reverse();
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_providers_signature_is_checked_and_a_retry_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = start_runtime(&dir).await;
    let api = rt.api();
    let secrets = [
        ("gh", "github", "It's a Secret to Everybody"),
        ("st", "stripe", "whsec_stripe_test_secret"),
        ("sw", "standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("tk", "token", "t0ken-s3cret"),
    ];
    for (name, verify, secret) in secrets {
        let mut w = serde_json::json!({"verify": verify, "secret": secret});
        if verify == "token" {
            w["id_header"] = "Idempotency-Key".into();
        }
        add(
            api,
            serde_json::json!({
                "name": name, "transport": "webhook", "webhook": w,
                "metric": [{"name": "n", "pointer": "/n"}],
            }),
        )
        .await;
    }
    // Nothing listens yet: the feed says so, and how to fix it.
    let s = wait_state(api, "gh", |s| matches!(s, ConnStateView::Failed { .. })).await;
    assert!(format!("{s:?}").contains("telltaled serve"), "{s:?}");
    let base = serve(api).await;
    for (name, ..) in secrets {
        wait_state(api, name, |s| matches!(s, ConnStateView::Live)).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut plan = Vec::new();
    let mut want = Vec::new();
    for (name, verify, secret) in secrets {
        let url = format!("{base}/hooks/{name}");
        let d = |id: &str, n: u32| {
            let mut d = serde_json::json!({
                "url": url, "scheme": verify, "secret": secret, "id": id, "event": "build",
                "body": format!(r#"{{"id":"{id}","type":"build","n":{n}}}"#),
            });
            if verify == "token" {
                d["headers"] = serde_json::json!({"Idempotency-Key": id});
            }
            d
        };
        let id = |k: &str| format!("{name}-{k}");
        plan.push(d(&id("1"), 1));
        want.push(202);
        plan.push(d(&id("1"), 1)); // the provider's retry
        want.push(200);
        if verify != "token" {
            // A token proves the sender, not the body: only signatures
            // catch a body changed on the way.
            let mut tampered = d(&id("x"), 9);
            tampered["tamper"] = true.into();
            plan.push(tampered);
            want.push(401);
        }
        let mut wrong = d(&id("y"), 9);
        wrong["secret"] = if verify == "standard" {
            "whsec_d3Jvbmcgc2VjcmV0IGtleQ==".into()
        } else {
            "wrong".into()
        };
        plan.push(wrong);
        want.push(401);
        if matches!(verify, "stripe" | "standard") {
            let mut old = d(&id("z"), 9);
            old["timestamp"] = (now - 3600).into(); // a replay from an hour ago
            plan.push(old);
            want.push(401);
        }
        plan.push(d(&id("2"), 2));
        want.push(202);
    }
    let plan = serde_json::to_string(&plan).unwrap();
    let got = tokio::task::spawn_blocking(move || send_webhooks(&plan))
        .await
        .unwrap();
    assert_eq!(got, want);
    for (name, verify, _) in secrets {
        let event = |_| match verify {
            "token" => None,
            _ => Some("build".to_string()),
        };
        assert_eq!(
            stored(api, name, 2).await,
            [
                (Some(format!("{name}-1")), event(1)),
                (Some(format!("{name}-2")), event(2))
            ],
            "{name}"
        );
        let f = api.get_feed(name).await.unwrap();
        assert_eq!(f.series[0].last_value, Some(2.0), "{name}");
        let refused = want_refused(verify);
        assert_eq!(
            (f.feed.errors, f.feed.duplicates),
            (refused, 1),
            "{name}: refusals and retries are counted: {:?}",
            f.feed
        );
    }
    // Nothing refused was stored, even later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (name, ..) in secrets {
        let page = api.events(Some(name), None, None, 100).await.unwrap();
        assert_eq!(page.events.len(), 2, "{name}");
    }
    rt.shutdown().await.unwrap();
}

/// The deliveries the plan above has refused for a scheme.
fn want_refused(verify: &str) -> u64 {
    match verify {
        "token" => 1,
        "github" => 2,
        _ => 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_unknown_feeds_staleness_and_the_desktop_receiver() {
    let dir = tempfile::tempdir().unwrap();
    // The desktop's own receiver (a port of its own, loopback only).
    let rt = telltale_api::Runtime::start(telltale_api::RuntimeOptions {
        db: dir.path().join("t.db"),
        hooks_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    })
    .await
    .unwrap();
    let api = rt.api();
    let base = rt.webhook_receivers().pop().expect("a receiver listens");
    add(
        api,
        serde_json::json!({
            "name": "small", "transport": "webhook", "stale_after": "1s",
            "webhook": {"secret": "tok", "max_body": "64B", "rate_per_minute": 2},
        }),
    )
    .await;
    wait_state(api, "small", |s| matches!(s, ConnStateView::Live)).await;
    let http = reqwest::Client::new();
    let post = |body: String| {
        http.post(format!("{base}/hooks/small"))
            .header("Authorization", "Bearer tok")
            .body(body)
            .send()
    };
    let r = post("x".repeat(65)).await.unwrap();
    assert_eq!(r.status(), 413);
    // 2 a minute, in bursts of 2 (the refused body took none).
    assert_eq!(post("{}".into()).await.unwrap().status(), 202);
    assert_eq!(post("{}".into()).await.unwrap().status(), 202);
    let r = post("{}".into()).await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let r = http
        .post(format!("{base}/hooks/nobody"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("`nobody`"));
    // The receiver's port answers nothing else.
    let r = http.get(format!("{base}/api/feeds")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // No delivery for `stale_after`: stale, like any feed.
    wait_state(api, "small", |s| matches!(s, ConnStateView::Stale { .. })).await;
    rt.shutdown().await.unwrap();
}

/// *Test connection* on a webhook feed not saved yet: the probe receives
/// for its time, and shows the first delivery without storing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_shows_a_delivery_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = start_runtime(&dir).await;
    let api = rt.api().clone();
    let base = serve(&api).await;
    let cfg: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "try", "transport": "webhook", "webhook": {"secret": "tok"},
        "metric": [{"name": "n", "pointer": "/n"}],
    }))
    .unwrap();
    let probe = {
        let api = api.clone();
        tokio::spawn(async move {
            api.test_feed(telltale_api::ProbeInput {
                config: cfg,
                limits: Some(telltale_api::ProbeLimits {
                    max_messages: Some(1),
                    timeout_secs: Some(10),
                }),
            })
            .await
        })
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http
            .post(format!("{base}/hooks/try"))
            .header("Authorization", "Bearer tok")
            .body(r#"{"n":7}"#)
            .send()
            .await
            .unwrap();
        if r.status() == 202 {
            break;
        }
        assert_eq!(r.status(), 404, "before the probe listens");
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = probe.await.unwrap().unwrap();
    assert_eq!(report.messages.len(), 1, "{report:?}");
    assert_eq!(report.messages[0].samples[0].value, 7.0);
    assert!(api.get_feed("try").await.is_err(), "nothing was saved");
    rt.shutdown().await.unwrap();
}

/// A provider's retry that arrives after Telltale restarted: the delivery
/// ids stored before are remembered, so it is answered 200, not stored
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_across_a_restart_is_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let post = |base: String, id: &'static str| async move {
        reqwest::Client::new()
            .post(format!("{base}/hooks/ci"))
            .header("Authorization", "Bearer tok")
            .header("Idempotency-Key", id)
            .body(format!(r#"{{"id":"{id}"}}"#))
            .send()
            .await
            .unwrap()
            .status()
    };
    let rt = start_runtime(&dir).await;
    add(
        rt.api(),
        serde_json::json!({
            "name": "ci", "transport": "webhook",
            "webhook": {"secret": "tok", "id_header": "Idempotency-Key"},
        }),
    )
    .await;
    let base = serve(rt.api()).await;
    wait_state(rt.api(), "ci", |s| matches!(s, ConnStateView::Live)).await;
    assert_eq!(post(base, "d-1").await, 202);
    assert_eq!(stored(rt.api(), "ci", 1).await.len(), 1);
    rt.shutdown().await.unwrap();

    let rt = start_runtime(&dir).await;
    rt.start_feeds().await.unwrap();
    let base = serve(rt.api()).await;
    wait_state(rt.api(), "ci", |s| matches!(s, ConnStateView::Live)).await;
    assert_eq!(
        post(base.clone(), "d-1").await,
        200,
        "the retry of a stored delivery"
    );
    assert_eq!(post(base, "d-2").await, 202);
    let ids: Vec<_> = stored(rt.api(), "ci", 2)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, [Some("d-1".to_string()), Some("d-2".to_string())]);
    rt.shutdown().await.unwrap();
}

/// A feed saved while a *Test connection* of its name still receives waits
/// for the probe to end, then receives: it does not fail for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_saved_during_its_test_connection_receives_once_the_probe_ends() {
    let dir = tempfile::tempdir().unwrap();
    let rt = start_runtime(&dir).await;
    let api = rt.api().clone();
    let base = serve(&api).await;
    let json =
        serde_json::json!({"name": "race", "transport": "webhook", "webhook": {"secret": "tok"}});
    let probe = {
        let api = api.clone();
        let config = serde_json::from_value(json.clone()).unwrap();
        tokio::spawn(async move {
            api.test_feed(telltale_api::ProbeInput {
                config,
                limits: Some(telltale_api::ProbeLimits {
                    max_messages: Some(5),
                    timeout_secs: Some(2),
                }),
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    add(&api, json).await;
    let s = wait_state(&api, "race", |s| matches!(s, ConnStateView::Failed { .. })).await;
    assert!(format!("{s:?}").contains("already receives"), "{s:?}");
    probe.await.unwrap().unwrap();
    wait_state(&api, "race", |s| matches!(s, ConnStateView::Live)).await;
    let status = reqwest::Client::new()
        .post(format!("{base}/hooks/race"))
        .header("Authorization", "Bearer tok")
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
    assert_eq!(stored(&api, "race", 1).await.len(), 1);
    rt.shutdown().await.unwrap();
}

/// The demo fleet posts its deployments to the desktop's receiver: the
/// `deploys` feed is added with the rest and its messages arrive, with
/// their delivery ids and extracted metrics. (With the `demo` feature, as
/// `cargo test --workspace` builds it through the desktop crate.)
#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fleet_sends_its_deployments_as_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let rt = telltale_api::Runtime::start(telltale_api::RuntimeOptions {
        db: dir.path().join("t.db"),
        hooks_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    })
    .await
    .unwrap();
    let api = rt.api();
    let demo = telltale_api::demo::DemoFleet::default();
    let report = telltale_api::demo::add(&demo, api).await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.imported.len(), 11, "{:?}", report.imported);
    assert!(report.imported.iter().any(|n| n == "deploys"));
    wait_state(api, "deploys", |s| matches!(s, ConnStateView::Live)).await;
    let page = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let page = api.events(Some("deploys"), None, None, 10).await.unwrap();
            if !page.events.is_empty() {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("a deployment within 20 s");
    let first = &page.events[0];
    assert!(
        first
            .server_id
            .as_deref()
            .is_some_and(|id| id.starts_with("demo-")),
        "{first:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let detail = api.get_feed("deploys").await.unwrap();
        let metrics: Vec<&str> = detail.series.iter().map(|s| s.metric.as_str()).collect();
        if metrics.contains(&"duration") && metrics.contains(&"ok") {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    demo.stop().await;
    rt.shutdown().await.unwrap();
}
