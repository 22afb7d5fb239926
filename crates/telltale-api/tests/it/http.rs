//! The HTTP server end to end: a real engine over a temp SQLite file, the
//! simulated fleet as the feeds' source, and a real client on 127.0.0.1.

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use telltale_api::http::{self, ServeError, ServeOptions, CSP};
use telltale_api::Api;
use telltale_engine::{Engine, EngineOptions};
use telltale_sim::{Sim, SimConfig, SimHandle};
use telltale_store::Store;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite;

#[path = "http/guard.rs"]
mod guard;
#[path = "http/rest.rs"]
mod rest;

struct Harness {
    engine: Engine,
    addr: SocketAddr,
    sim: SimHandle,
    http: reqwest::Client,
    token: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), ServeError>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(token: Option<&str>, ui_dir: Option<std::path::PathBuf>) -> Harness {
        Harness::start_with(ServeOptions {
            token: token.map(str::to_string),
            ui_dir,
            ..ServeOptions::new("127.0.0.1:0".parse().unwrap())
        })
        .await
    }

    async fn start_with(opts: ServeOptions) -> Harness {
        let token = opts.token.clone();
        let token = token.as_deref();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
        let engine = Engine::start(store, EngineOptions::default()).unwrap();
        let server = http::bind(Api::new(engine.clone()), opts).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let sim = Sim::start(SimConfig {
            hosts: 2,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        Harness {
            engine,
            addr,
            sim,
            http: reqwest::Client::new(),
            token: token.map(str::to_string),
            stop: Some(stop),
            server,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.req(reqwest::Method::GET, path).send().await.unwrap();
        let status = res.status().as_u16();
        (status, json_of(res).await)
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .req(method, path)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, json_of(res).await)
    }

    /// Polls `GET path` until `ok` holds for the body (10 s at most).
    async fn wait_for(&self, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self.get(path).await;
            if status == 200 && ok(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ws(&self, query: &str) -> Result<WsStream, tungstenite::Error> {
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/api/live{query}", self.addr)).await?;
        Ok(ws)
    }
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket feed on one simulated host at `rate` messages a second,
/// with the given metric rules (`[name, pointer]` pairs).
fn sim_ws_feed(name: &str, ws_url: &str, rate: u32, metrics: &[[&str; 2]]) -> Value {
    json!({
        "name": name,
        "transport": "websocket",
        "url": format!("{ws_url}/ws?host=host-1&rate={rate}"),
        "metric": metrics
            .iter()
            .map(|[n, p]| json!({"name": n, "pointer": p}))
            .collect::<Vec<_>>(),
    })
}

/// The body as JSON (`null` if it is not JSON).
async fn json_of(res: reqwest::Response) -> Value {
    serde_json::from_str(&res.text().await.unwrap()).unwrap_or(Value::Null)
}

fn feed_state(feeds: &Value, name: &str) -> Option<String> {
    feeds
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)
        .map(|f| f["state"]["state"].as_str().unwrap_or("").to_string())
}

fn now_ms() -> i64 {
    telltale_model::Timestamp::now().as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_added_over_http_goes_live_and_its_history_is_served() {
    let h = Harness::start(None, None).await;
    let feed = json!({
        "name": "host-1",
        "transport": "sse",
        "url": format!("{}/sse?host=host-1&rate=20", h.sim.base_url()),
        "metric": [{"name": "cpu", "pointer": "/cpu"}],
    });
    let (status, view) = h.send(reqwest::Method::POST, "/api/feeds", &feed).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["name"], "host-1");
    assert_eq!(view["origin"], "gui");

    h.wait_for("/api/feeds", "the feed to go live", |f| {
        feed_state(f, "host-1").as_deref() == Some("live")
    })
    .await;

    let from = now_ms() - 60_000;
    let path = format!(
        "/api/feeds/host-1/series?metric=cpu&from={from}&to={}&max_points=100",
        now_ms() + 60_000
    );
    let series = h
        .wait_for(&path, "stored samples", |s| {
            s["points"].as_array().is_some_and(|p| p.len() >= 3)
        })
        .await;
    assert_eq!(series["tier"], "raw");
    let p = &series["points"][0];
    assert!(p["ts"].as_i64().unwrap() >= from - 60_000, "{p}");
    assert!(p["min"].as_f64().unwrap() <= p["max"].as_f64().unwrap());
    assert!(p["count"].as_u64().unwrap() >= 1);

    // Events, newest first, paged by id.
    let page = h
        .wait_for("/api/events?feed=host-1&limit=3", "3 events", |p| {
            p["events"].as_array().is_some_and(|e| e.len() == 3)
        })
        .await;
    let first = &page["events"][0];
    assert_eq!(first["feed"], "host-1");
    assert_eq!(first["event_type"], "health");
    assert!(first["data"].as_str().unwrap().contains("\"cpu\""));
    let before = page["next_before_id"].as_i64().unwrap();
    let (status, older) = h
        .get(&format!(
            "/api/events?feed=host-1&limit=3&before_id={before}"
        ))
        .await;
    assert_eq!(status, 200);
    for e in older["events"].as_array().unwrap() {
        assert!(e["id"].as_i64().unwrap() < before);
    }
    let (_, found) = h.get("/api/events?search=HOST-1&limit=1").await;
    assert_eq!(found["events"].as_array().unwrap().len(), 1);

    // Detail, timeline, stats.
    let (status, detail) = h.get("/api/feeds/host-1").await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["series"][0]["metric"], "cpu");
    assert_eq!(detail["config"]["transport"], "sse");
    let (status, tl) = h.get("/api/feeds/host-1/timeline").await;
    assert_eq!(status, 200, "{tl}");
    assert!(
        tl["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["state"] == "live"),
        "{tl}"
    );
    let (status, stats) = h.get("/api/db/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["feeds"], 1);

    // Unknown series and feeds are 404 with a code.
    let (status, err) = h.get("/api/feeds/host-1/series?metric=nope").await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
    assert!(err["message"].as_str().unwrap().contains("cpu"), "{err}");
    let (status, err) = h.get("/api/feeds/ghost").await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));

    // Delete: gone from the list and from the store.
    let res = h
        .req(reqwest::Method::DELETE, "/api/feeds/host-1")
        .header("x-telltale-request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (_, feeds) = h.get("/api/feeds").await;
    assert_eq!(feeds, json!([]));
    let (status, _) = h.get("/api/feeds/host-1").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_feeds_are_400_naming_the_field() {
    let h = Harness::start(None, None).await;
    for (feed, field) in [
        // Caught by validation.
        (
            json!({"name": "bad", "transport": "poll", "url": "http://127.0.0.1:1/x", "poll": {"interval": "10ms"}}),
            "poll.interval",
        ),
        // Caught while reading the JSON.
        (
            json!({"name": "bad", "transport": "poll", "url": "http://127.0.0.1:1/x", "poll": {"interval": "soon"}}),
            "poll.interval",
        ),
        (
            json!({"name": "bad", "transport": "sse", "url": "ws://127.0.0.1:1/x"}),
            "url",
        ),
        (
            json!({"name": "bad", "transport": "carrier_pigeon", "url": "http://h/"}),
            "transport",
        ),
    ] {
        let (status, err) = h.send(reqwest::Method::POST, "/api/feeds", &feed).await;
        assert_eq!(status, 400, "{feed}: {err}");
        assert_eq!(err["code"], "invalid_feed", "{err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{message}");
        assert_eq!(
            err.as_object().unwrap().len(),
            2,
            "only code and message: {err}"
        );
    }
    let res = h
        .req(reqwest::Method::POST, "/api/feeds")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let (_, feeds) = h.get("/api/feeds").await;
    assert_eq!(feeds, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_headers_are_masked_and_survive_an_update_that_sends_the_mask_back() {
    let h = Harness::start(None, None).await;
    let feed = json!({
        "name": "secret",
        "transport": "sse",
        "url": format!("{}/sse?host=host-2&rate=20", h.sim.base_url()),
        "headers": {"Authorization": "Bearer s3cret-token", "X-Api-Key": "k3y-value", "Accept": "text/event-stream"},
        "metric": [{"name": "cpu", "pointer": "/cpu"}],
    });
    let (status, view) = h.send(reqwest::Method::POST, "/api/feeds", &feed).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["headers"]["Authorization"], "Bearer ••••••");

    let list = h.http.get(h.url("/api/feeds")).send().await.unwrap();
    let list = list.text().await.unwrap();
    let detail = h.http.get(h.url("/api/feeds/secret")).send().await.unwrap();
    let detail = json_of(detail).await;
    for text in [list.clone(), detail.to_string()] {
        assert!(!text.contains("s3cret") && !text.contains("k3y"), "{text}");
    }
    assert_eq!(
        detail["config"]["headers"]["Authorization"],
        "Bearer ••••••"
    );
    assert_eq!(detail["config"]["headers"]["X-Api-Key"], "••••••");
    assert_eq!(detail["config"]["headers"]["Accept"], "text/event-stream");

    h.wait_for("/api/feeds", "the feed to go live", |f| {
        feed_state(f, "secret").as_deref() == Some("live")
    })
    .await;

    // Edit something else and send the masked config back.
    let mut config = detail["config"].clone();
    config["metric"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "mem", "pointer": "/mem"}));
    let (status, view) = h
        .send(reqwest::Method::PUT, "/api/feeds/secret", &config)
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["metrics"], json!(["cpu", "mem"]));
    let stored = h
        .engine
        .store()
        .feed_by_name("secret")
        .unwrap()
        .expect("stored");
    assert_eq!(
        stored.config.headers["Authorization"],
        "Bearer s3cret-token"
    );
    assert_eq!(stored.config.headers["X-Api-Key"], "k3y-value");
    assert_eq!(stored.config.metrics.len(), 2);
    // … and the restarted feed really sends it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent: Vec<_> = h
            .sim
            .requests("/sse")
            .into_iter()
            .filter_map(|r| r.header("authorization").map(str::to_string))
            .collect();
        if sent.len() >= 2 {
            assert!(sent.iter().all(|a| a == "Bearer s3cret-token"), "{sent:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the feed did not reconnect: {:?}",
            h.sim.requests("")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A mask that stands for nothing stored is refused.
    let mut bad = config.clone();
    bad["name"] = json!("other");
    let (status, err) = h.send(reqwest::Method::POST, "/api/feeds", &bad).await;
    assert_eq!(status, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("headers.Authorization"),
        "{err}"
    );
    // Renaming through PUT is refused.
    let (status, _) = h
        .send(reqwest::Method::PUT, "/api/feeds/secret", &bad)
        .await;
    assert_eq!(status, 400);

    // Export masks literal secrets; importing the export keeps them.
    let export = h
        .http
        .get(h.url("/api/config/export"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(export.contains("Bearer ••••••"), "{export}");
    assert!(!export.contains("s3cret"), "{export}");
    let report = h
        .http
        .post(h.url("/api/config/import"))
        .header("content-type", "application/toml")
        .body(format!(
            "{export}\n[[feed]]\nname = \"broken\"\ntransport = \"poll\"\nurl = \"http://h/x\"\n[feed.poll]\ninterval = \"1ms\"\n"
        ))
        .send()
        .await
        .unwrap();
    let report = json_of(report).await;
    assert_eq!(report["imported"], json!(["secret"]), "{report}");
    let e = &report["errors"][0];
    assert_eq!(e["feed"], "broken", "{report}");
    assert_eq!(e["field"], "poll.interval", "{report}");
    assert!(e["line"].as_u64().unwrap() > 1, "{report}");
    let stored = h.engine.store().feed_by_name("secret").unwrap().unwrap();
    assert_eq!(
        stored.config.headers["Authorization"],
        "Bearer s3cret-token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_websocket_merges_batches_to_at_most_30_messages_a_second() {
    let h = Harness::start(None, None).await;
    let feed = sim_ws_feed(
        "fast",
        &h.sim.ws_url(),
        200,
        &[["seq", "/seq"], ["cpu", "/cpu"]],
    );
    let (status, view) = h.send(reqwest::Method::POST, "/api/feeds", &feed).await;
    assert_eq!(status, 200, "{view}");
    let feed_id = view["id"].as_i64().unwrap();
    let mut ws = h.ws("").await.unwrap();

    // Wait until samples flow, then count for 2 s.
    let seqs_in = |msg: &Value| -> Vec<f64> {
        msg["samples"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter(|s| s["feed_id"] == feed_id && s["metric"] == "seq")
                    .map(|s| s["value"].as_f64().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut seqs = Vec::new();
    let warmup = Instant::now() + Duration::from_secs(10);
    while seqs.is_empty() {
        let msg = tokio::time::timeout_at(warmup.into(), ws.next())
            .await
            .expect("live samples within 10 s")
            .unwrap()
            .unwrap();
        let msg: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        seqs = seqs_in(&msg);
    }
    let (mut messages, mut samples, mut cpu) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    let end = start + Duration::from_secs(2);
    while let Ok(Some(msg)) = tokio::time::timeout_at(end.into(), ws.next()).await {
        let msg: Value = serde_json::from_str(msg.unwrap().to_text().unwrap()).unwrap();
        assert!(msg.get("lagged").is_none(), "lagged: {msg}");
        messages += 1;
        samples += msg["samples"].as_array().unwrap().len();
        cpu += msg["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["metric"] == "cpu")
            .count();
        seqs.extend(seqs_in(&msg));
    }
    let elapsed = start.elapsed().as_secs_f64();
    eprintln!("{messages} messages, {samples} samples in {elapsed:.2}s");
    assert!(messages <= 70, "{messages} messages in 2 s");
    assert!(messages >= 10, "only {messages} messages in 2 s");
    // The samples inside add up: every seq exactly once, in order, at ~200/s.
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0] + 1.0, "a sample was lost or repeated");
    }
    assert_eq!(samples, 2 * cpu, "seq and cpu come in pairs");
    assert!(cpu >= 200, "only {cpu} messages' samples in 2 s at 200/s");
    assert!(samples > 2 * messages, "batches were not merged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_the_api_and_every_response_is_hardened() {
    let h = Harness::start(Some("t0k-abc-123"), None).await;
    let res = h.http.get(h.url("/api/feeds")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-security-policy"], CSP);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let err = json_of(res).await;
    assert_eq!(err["code"], "unauthorized");
    let res = h
        .http
        .get(h.url("/api/feeds"))
        .bearer_auth("t0k-abc-124")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = h
        .req(reqwest::Method::GET, "/api/feeds")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-security-policy"], CSP);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    // The WebSocket takes the token as a query parameter.
    match h.ws("").await {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    let mut ws = h.ws("?token=t0k-abc-123").await.unwrap();
    ws.close(None).await.unwrap();

    // The page without a UI directory.
    let res = h.http.get(h.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-security-policy"], CSP);
    assert!(res.text().await.unwrap().contains("--ui-dir"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sites_and_host_names_are_refused_without_a_token() {
    let h = Harness::start(None, None).await;
    let res = h
        .http
        .get(h.url("/api/feeds"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = h
        .http
        .get(h.url("/api/feeds"))
        .header("host", "evil.example:7878")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = h
        .http
        .get(h.url("/api/feeds"))
        .header("origin", format!("http://{}", h.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, err) = h.get("/api/nope").await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_address_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store, EngineOptions::default()).unwrap();
    let api = Api::new(engine);
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let err = http::serve(api.clone(), any, None, None).await.unwrap_err();
    assert!(matches!(err, ServeError::TokenRequired { .. }), "{err}");
    assert!(err.to_string().contains("--token"), "{err}");
    let server = http::bind(
        api,
        ServeOptions {
            token: Some("long-random-token".into()),
            ..ServeOptions::new(any)
        },
    )
    .await
    .unwrap();
    assert_ne!(server.local_addr().port(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_directory_is_served_with_a_fallback_to_index() {
    let ui = tempfile::tempdir().unwrap();
    std::fs::write(ui.path().join("index.html"), "<h1>Telltale</h1>").unwrap();
    std::fs::write(ui.path().join("app.js"), "console.log(1)").unwrap();
    let h = Harness::start(None, Some(ui.path().to_path_buf())).await;
    for (path, body) in [
        ("/", "<h1>Telltale</h1>"),
        ("/app.js", "console.log(1)"),
        ("/feeds/host-1", "<h1>Telltale</h1>"),
    ] {
        let res = h.http.get(h.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-security-policy"], CSP);
        assert_eq!(res.text().await.unwrap(), body, "{path}");
    }
    let (status, err) = h.get("/api/nope").await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_live_sockets_and_stops_the_server() {
    let mut h = Harness::start(None, None).await;
    let mut ws = h.ws("").await.unwrap();
    h.stop.take().unwrap().send(()).unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("closed within 3 s");
    assert_eq!(u16::from(frame.unwrap().code), 1001);
    let served = tokio::time::timeout(Duration::from_secs(3), &mut h.server)
        .await
        .expect("the server stops within 3 s");
    served.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_client_that_falls_behind_is_told_how_much_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(
        store,
        EngineOptions {
            live_buffer: 4,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let api = Api::new(engine);
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let mut live = api.live();
    let feed: telltale_api::FeedConfig =
        serde_json::from_value(sim_ws_feed("fast", &sim.ws_url(), 200, &[["cpu", "/cpu"]]))
            .unwrap();
    api.upsert_feed(feed).await.unwrap();
    // Read nothing while far more than 4 engine batches pile up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.engine().feeds().await[0].messages < 100 {
        assert!(Instant::now() < deadline, "the feed did not deliver");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .unwrap()
        .unwrap();
    let json = serde_json::to_value(&first).unwrap();
    assert!(json["lagged"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json.as_object().unwrap().len(), 1, "{json}");
    // Then batches flow again.
    let next = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(next, telltale_api::LiveMessage::Batch(_)),
        "{next:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_read_changed_validated_and_applied_live() {
    let h = Harness::start(None, None).await;
    let (status, mut settings) = h.get("/api/settings").await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["store"]["events_max_age"], "7d");
    assert_eq!(settings["alerts"]["flood_max"], 5);
    assert_eq!(settings["alerts"]["quiet_hours"], Value::Null);

    settings["store"]["events_max_age"] = json!("3d");
    settings["alerts"]["flood_max"] = json!(2);
    settings["alerts"]["quiet_hours"] =
        json!({"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"});
    settings["alerts"]["renotify"] = json!("30m");
    let (status, saved) = h
        .send(reqwest::Method::PUT, "/api/settings", &settings)
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, settings);
    // Applied to the running engine and store, and stored in the database.
    assert_eq!(h.engine.alert_settings().flood_max, 2);
    assert_eq!(
        h.engine
            .alert_settings()
            .quiet_hours
            .and_then(|q| q.time_zone)
            .as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(
        h.engine.store().settings().events_max_age.0,
        Duration::from_secs(3 * 86_400)
    );
    let stored = h.engine.store().stored_settings().unwrap();
    assert_eq!(stored.alerts.unwrap().flood_max, 2);
    let (_, again) = h.get("/api/settings").await;
    assert_eq!(again, settings);
    // The export carries the live settings.
    let text = h
        .req(reqwest::Method::GET, "/api/config/export")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("events_max_age = \"3d\""), "{text}");
    assert!(text.contains("flood_max = 2"), "{text}");
    assert!(text.contains("time_zone = \"Europe/Berlin\""), "{text}");

    // A bad field: 400 naming it, and nothing changes.
    let mut bad = settings.clone();
    bad["alerts"]["quiet_hours"]["start"] = json!("25:99");
    let (status, err) = h.send(reqwest::Method::PUT, "/api/settings", &bad).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], "invalid_settings");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("alerts.quiet_hours.start"), "{msg}");
    assert!(msg.contains("HH:MM"), "{msg}");
    let mut bad = settings.clone();
    bad["store"]["commit_rows"] = json!("many");
    let (status, err) = h.send(reqwest::Method::PUT, "/api/settings", &bad).await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("store.commit_rows"),
        "{err}"
    );
    let (_, unchanged) = h.get("/api/settings").await;
    assert_eq!(unchanged, settings);

    // An import applies the keys it gives and leaves the others alone.
    let res = h
        .req(reqwest::Method::POST, "/api/config/import")
        .header("content-type", "application/toml")
        .body("[alerts]\nflood_max = 7\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let report = json_of(res).await;
    assert_eq!(report["errors"], json!([]), "{report}");
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("alerts.flood_max"),
        "{report}"
    );
    let (_, after) = h.get("/api/settings").await;
    assert_eq!(after["alerts"]["flood_max"], 7);
    assert_eq!(after["alerts"]["renotify"], "30m");
    assert_eq!(after["store"]["events_max_age"], "3d");
    // An imported setting the GUI would refuse is reported, not applied.
    let res = h
        .req(reqwest::Method::POST, "/api/config/import")
        .header("content-type", "application/toml")
        .body("[alerts]\nflood_max = 0\n")
        .send()
        .await
        .unwrap();
    let report = json_of(res).await;
    assert_eq!(report["errors"][0]["field"], "alerts.flood_max", "{report}");
    assert_eq!(h.engine.alert_settings().flood_max, 7);

    // Compact now: samples into chunks, a retention run with an incremental
    // vacuum, then the stats.
    let (status, compact) = h
        .send(reqwest::Method::POST, "/api/db/compact", &json!({}))
        .await;
    assert_eq!(status, 200, "{compact}");
    assert!(
        compact["stats"]["file_bytes"].as_u64().unwrap() > 0,
        "{compact}"
    );
    assert!(compact["rows_deleted"].is_u64(), "{compact}");
    assert!(compact["samples_chunked"].is_u64(), "{compact}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_shows_first_messages_and_failures_without_storing_anything() {
    let h = Harness::start(None, None).await;
    // A working WebSocket feed: three messages with the numbers its
    // metric rules find in them.
    let feed = sim_ws_feed(
        "probe-me",
        &h.sim.ws_url(),
        20,
        &[["cpu", "/cpu"], ["nope", "/missing"]],
    );
    let (status, report) = h
        .send(
            reqwest::Method::POST,
            "/api/probe",
            &json!({"config": feed, "limits": {"max_messages": 3, "timeout_secs": 10}}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let msgs = report["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{report}");
    assert_eq!(report["timed_out"], false);
    for m in msgs {
        let payload: Value = serde_json::from_str(m["data"].as_str().unwrap()).unwrap();
        assert_eq!(payload["host"], "host-1");
        let cpu = m["samples"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["metric"] == "cpu")
            .unwrap();
        assert_eq!(cpu["value"].as_f64(), payload["cpu"].as_f64());
        assert!(
            m["problems"].to_string().contains("/missing"),
            "the missing field is reported: {m}"
        );
    }
    assert!(
        report["states"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"]["state"] == "live"),
        "{report}"
    );
    // Nothing was stored or started.
    let (_, feeds) = h.get("/api/feeds").await;
    assert_eq!(feeds.as_array().unwrap().len(), 0, "{feeds}");
    let (_, events) = h.get("/api/events?limit=10").await;
    assert_eq!(events["events"].as_array().unwrap().len(), 0, "{events}");

    // A closed port: the first failed attempt ends the probe with its reason.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    // (A 60 s poll interval: the probe must not wait for a random phase.)
    let (status, report) = h
        .send(
            reqwest::Method::POST,
            "/api/probe",
            &json!({"config": {
                "name": "down",
                "transport": "poll",
                "url": format!("http://127.0.0.1:{port}/health"),
                "poll": {"interval": "60s"},
            }, "limits": {"timeout_secs": 30}}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["timed_out"], false,
        "the failed attempt ended it: {report}"
    );
    // A failed poll still records `up = 0` (a message without payload).
    for m in report["messages"].as_array().unwrap() {
        assert_eq!(m["data"], "", "{report}");
        assert!(m["samples"].to_string().contains("\"up\""), "{report}");
    }
    let retry = report["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"]["state"] == "retrying")
        .unwrap_or_else(|| panic!("a retrying state: {report}"));
    assert!(
        retry["state"]["reason"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "the reason names the address: {retry}"
    );

    // An invalid config is refused at its field.
    let (status, err) = h
        .send(
            reqwest::Method::POST,
            "/api/probe",
            &json!({"config": {"name": "bad", "transport": "poll", "url": "ftp://x"}}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], "invalid_feed");
    assert!(err["message"].as_str().unwrap().contains("url"), "{err}");
}

/// The operations' one route: `POST /api/call/{op}` with the request as
/// JSON, what the UI uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_served_at_api_call() {
    let h = Harness::start(None, None).await;
    let (status, feeds) = h
        .send(reqwest::Method::POST, "/api/call/list_feeds", &json!({}))
        .await;
    assert_eq!((status, feeds), (200, json!([])));
    // An empty body is an empty request.
    let res = h
        .req(reqwest::Method::POST, "/api/call/health")
        .header("X-Telltale-Request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let health = json_of(res).await;
    assert_eq!(health["status"], "ok", "{health}");
    // A feed that cannot be read is invalid_feed naming the field, as on
    // the REST route, so the editor can point at it.
    let bad = json!({"name": "bad", "transport": "poll", "url": "http://127.0.0.1:1/x", "poll": {"interval": "soon"}});
    let (status, err) = h
        .send(reqwest::Method::POST, "/api/call/upsert_feed", &bad)
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_feed")),
        "{err}"
    );
    assert!(
        err["message"].as_str().unwrap().contains("`poll.interval`"),
        "{err}"
    );
    // A good one is stored and listed; defaults fill the series request.
    let feed = json!({"name": "web", "transport": "poll", "url": "http://127.0.0.1:9/x", "enabled": false});
    let (status, view) = h
        .send(reqwest::Method::POST, "/api/call/upsert_feed", &feed)
        .await;
    assert_eq!(status, 200, "{view}");
    let (status, err) = h
        .send(
            reqwest::Method::POST,
            "/api/call/series",
            &json!({"feed": "web", "metric": "cpu"}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("not_found")),
        "no samples yet: {err}"
    );
    let (status, err) = h
        .send(
            reqwest::Method::POST,
            "/api/call/series",
            &json!({"feed": "web"}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_request")),
        "{err}"
    );
    assert!(err["message"].as_str().unwrap().contains("metric"), "{err}");
    // `about` lists what the server offers, itself included.
    let (status, about) = h
        .send(reqwest::Method::POST, "/api/call/about", &json!({}))
        .await;
    assert_eq!(status, 200, "{about}");
    let ops: Vec<&str> = about["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    for op in ["about", "list_feeds", "series", "upsert_feed"] {
        assert!(ops.contains(&op), "{op} in {about}");
    }
    // Unknown operations are named; other methods are refused.
    let (status, err) = h
        .send(reqwest::Method::POST, "/api/call/drop_all", &json!({}))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );
    assert!(
        err["message"].as_str().unwrap().contains("drop_all"),
        "{err}"
    );
    let (status, _) = h.get("/api/call/list_feeds").await;
    assert_eq!(status, 405);
    let (status, _) = h
        .send(
            reqwest::Method::POST,
            "/api/call/delete_feed",
            &json!({"name": "web"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, feeds) = h
        .send(reqwest::Method::POST, "/api/call/list_feeds", &json!({}))
        .await;
    assert_eq!(feeds, json!([]));
}
