//! Secrets go only where they belong (issue 13 §3), through a real server:
//! masked headers come back only for the stored scheme, host and port, and
//! `${VAR}` references only name variables the operator allowed.
//!
//! Two simulators on different ports are two origins: the "other" one must
//! never see the stored `Authorization` or `X-Api-Key`.

use serde_json::{json, Value};
use std::net::SocketAddr;
use telltale_api::http::{self, ServeOptions};
use telltale_api::Api;
use telltale_engine::{Engine, EngineOptions};
use telltale_sim::{Sim, SimConfig, SimHandle};
use telltale_store::Store;

struct Harness {
    engine: Engine,
    addr: SocketAddr,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
        let engine = Engine::start(store, EngineOptions::default()).unwrap();
        let server = http::bind(
            Api::new(engine.clone()),
            ServeOptions::new("127.0.0.1:0".parse().unwrap()),
        )
        .await
        .unwrap();
        let addr = server.local_addr();
        tokio::spawn(server.run(std::future::pending::<()>()));
        Harness {
            engine,
            addr,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .http
            .request(method, format!("http://{}{path}", self.addr))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn text(&self, method: reqwest::Method, path: &str, body: String) -> String {
        self.http
            .request(method, format!("http://{}{path}", self.addr))
            .header("content-type", "application/toml")
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

async fn sim() -> SimHandle {
    Sim::start(SimConfig {
        hosts: 1,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// Every value of `header` the simulator received.
fn seen(sim: &SimHandle, header: &str) -> Vec<String> {
    sim.requests("")
        .iter()
        .filter_map(|r| r.header(header).map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_headers_are_not_restored_for_another_host() {
    let h = Harness::start().await;
    let home = sim().await;
    let other = sim().await;
    let feed = json!({
        "name": "secret",
        "transport": "poll",
        "url": format!("{}/poll/host-1", home.base_url()),
        "enabled": false,
        "headers": {"Authorization": "Bearer s3cret-token", "X-Api-Key": "k3y-value"},
        "poll": {"interval": "1m"},
    });
    let (status, view) = h.send(reqwest::Method::POST, "/api/feeds", &feed).await;
    assert_eq!(status, 200, "{view}");
    let (_, detail) = h
        .send(reqwest::Method::GET, "/api/feeds/secret", &Value::Null)
        .await;
    let masked = detail["config"].clone();
    assert_eq!(masked["headers"]["X-Api-Key"], "••••••", "{detail}");

    // The same server, another path: the secrets are restored and sent.
    let mut same = masked.clone();
    same["url"] = json!(format!("{}/poll/host-1?again=1", home.base_url()));
    let (status, report) = h
        .send(
            reqwest::Method::POST,
            "/api/probe",
            &json!({"config": same, "limits": {"max_messages": 1, "timeout_secs": 5}}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(seen(&home, "x-api-key"), vec!["k3y-value".to_string()]);

    // *Test connection*, save and import pointing at the other server are
    // refused, naming the feed and the masked header.
    let mut moved = masked.clone();
    moved["url"] = json!(format!("{}/poll/host-1", other.base_url()));
    let (status, err) = h
        .send(
            reqwest::Method::POST,
            "/api/probe",
            &json!({"config": moved, "limits": {"max_messages": 1, "timeout_secs": 5}}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], "invalid_feed", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("feed `secret`")
            && message.contains("headers.")
            && message.contains("another host")
            && message.contains("type the value again"),
        "{message}"
    );
    let (status, err) = h
        .send(reqwest::Method::PUT, "/api/feeds/secret", &moved)
        .await;
    assert_eq!(status, 400, "{err}");
    let export = h
        .text(reqwest::Method::GET, "/api/config/export", String::new())
        .await;
    let moved_export = export.replace(&home.base_url(), &other.base_url());
    assert_ne!(moved_export, export);
    let report = h
        .text(reqwest::Method::POST, "/api/config/import", moved_export)
        .await;
    assert!(
        report.contains("another host") && !report.contains("\"imported\":[\"secret\"]"),
        "{report}"
    );

    // Nothing reached the other server, and nothing changed in the store.
    assert!(other.requests("").is_empty(), "{:?}", other.requests(""));
    let stored = h.engine.store().feed_by_name("secret").unwrap().unwrap();
    assert!(stored.config.url.starts_with(&home.base_url()));
    assert_eq!(stored.config.headers["X-Api-Key"], "k3y-value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_environment_variables_are_accepted() {
    let h = Harness::start().await;
    // PATH is set in every process: without the allow-list any feed could
    // send it (or any other variable of the process) to any server.
    let feed = |name: &str, value: &str| {
        json!({
            "name": name,
            "transport": "poll",
            "url": "http://127.0.0.1:9/x",
            "enabled": false,
            "headers": {"X-Api-Key": value},
        })
    };
    let (status, err) = h
        .send(
            reqwest::Method::POST,
            "/api/feeds",
            &feed("leaky", "${PATH}"),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("feed `leaky`")
            && message.contains("headers.X-Api-Key")
            && message.contains("`PATH`")
            && message.contains("TELLTALE_SECRET_")
            && message.contains("allow_env"),
        "{message}"
    );
    let (status, err) = h
        .send(
            reqwest::Method::POST,
            "/api/probe",
            &json!({"config": feed("leaky", "${PATH}")}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, view) = h
        .send(
            reqwest::Method::POST,
            "/api/feeds",
            &feed("fine", "${TELLTALE_SECRET_API_TEST_KEY}"),
        )
        .await;
    assert_eq!(status, 200, "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_is_on_the_timeline_and_gets_no_secrets() {
    let h = Harness::start().await;
    let other = sim().await;
    // The feed's own server answers every poll with a redirect to the
    // simulator, another origin (another port).
    let target = format!("{}/poll/host-1", other.base_url());
    let app = axum::Router::new().route(
        "/moved",
        axum::routing::get(move || {
            let target = target.clone();
            async move {
                (
                    axum::http::StatusCode::MOVED_PERMANENTLY,
                    [("location", target)],
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let home = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let feed = json!({
        "name": "moved",
        "transport": "poll",
        "url": format!("http://{home}/moved"),
        "headers": {"Authorization": "Bearer s3cret-token", "X-Api-Key": "k3y-value"},
        "poll": {"interval": "200ms"},
    });
    let (status, view) = h.send(reqwest::Method::POST, "/api/feeds", &feed).await;
    assert_eq!(status, 200, "{view}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let entry = loop {
        let (_, timeline) = h
            .send(
                reqwest::Method::GET,
                "/api/feeds/moved/timeline",
                &Value::Null,
            )
            .await;
        let found = timeline["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["kind"] == "redirect")
            .cloned();
        if let Some(e) = found {
            break e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no redirect on the timeline: {timeline}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let detail = entry["detail"].as_str().unwrap();
    assert!(
        detail.contains("HTTP 301") && detail.contains("another origin"),
        "{entry}"
    );
    let sent = other.requests("/poll");
    assert!(!sent.is_empty());
    for r in &sent {
        assert!(
            r.header("x-api-key").is_none() && r.header("authorization").is_none(),
            "a secret followed the redirect: {r:?}"
        );
    }
}
