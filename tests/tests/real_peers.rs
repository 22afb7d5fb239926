//! Against real third-party servers from Debian, started on loopback ports:
//! nginx with the nchan module (WebSocket, SSE and long-poll subscribers on
//! one channel) and prometheus-node-exporter (Prometheus text over polling).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use telltale_e2e::{free_port, wait_for, wait_for_async, ChildGuard};
use telltale_engine::{Engine, EngineOptions};
use telltale_model::feed::{CursorMode, LongPollOptions, PollOptions};
use telltale_model::{FeedConfig, PayloadFormat, TransportKind};
use telltale_store::{EventQuery, FeedOrigin, Order, Store};

const NCHAN_MODULE: &str = "/usr/lib/nginx/modules/ngx_nchan_module.so";

fn start_nginx(dir: &Path) -> (ChildGuard, u16) {
    assert!(
        Path::new(NCHAN_MODULE).exists(),
        "nchan is missing: run scripts/setup.sh (installs nginx-light and libnginx-mod-nchan)"
    );
    let port = free_port();
    let user = if unsafe_is_root() { "user root;" } else { "" };
    let conf = format!(
        r#"
load_module {NCHAN_MODULE};
{user}
daemon off;
master_process on;
worker_processes 1;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /pub {{
            nchan_publisher;
            nchan_channel_id health;
            nchan_message_buffer_length 1000;
        }}
        location = /sub {{
            nchan_subscriber;
            nchan_channel_id health;
            nchan_subscriber_first_message oldest;
            nchan_subscriber_timeout 2s;
        }}
    }}
}}
"#,
        dir = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = ChildGuard::spawn(
        Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    wait_for("nginx to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    (child, port)
}

fn unsafe_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

async fn stored(store: &Store, feed_id: i64) -> Vec<String> {
    store
        .events(&EventQuery {
            feed_id: Some(feed_id),
            from: None,
            until: None,
            search: None,
            before_id: None,
            after_id: None,
            limit: 10_000,
            order: Order::OldestFirst,
        })
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8_lossy(&e.data).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nchan_websocket_sse_and_long_poll_receive_every_message_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_nginx, port) = start_nginx(dir.path());
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();

    let mut ws = FeedConfig::new(
        "nchan-ws",
        TransportKind::Websocket,
        format!("ws://127.0.0.1:{port}/sub"),
    )
    .with_metric("cpu", "/cpu");
    ws.backoff.initial = telltale_model::duration::Dur::millis(100);
    let sse = FeedConfig::new(
        "nchan-sse",
        TransportKind::Sse,
        format!("http://127.0.0.1:{port}/sub"),
    )
    .with_metric("cpu", "/cpu");
    let mut lp = FeedConfig::new(
        "nchan-lp",
        TransportKind::LongPoll,
        format!("http://127.0.0.1:{port}/sub"),
    )
    .with_metric("cpu", "/cpu");
    lp.long_poll = Some(LongPollOptions {
        hold: telltale_model::duration::Dur::secs(5),
        cursor: CursorMode::Headers,
        ..Default::default()
    });
    let mut ids = vec![];
    for f in [ws, sse, lp] {
        ids.push(engine.upsert_feed(f, FeedOrigin::Gui).await.unwrap());
    }
    // Streaming feeds are live once connected; a long poll only once a
    // response came back, which here is nchan's 2 s hold timing out (an
    // empty answer that must not count as an error).
    wait_for_async("all nchan feeds live", Duration::from_secs(15), || {
        let engine = engine.clone();
        async move {
            let feeds = engine.feeds().await;
            feeds.iter().all(|f| f.state.is_up()).then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await; // at least one hold timeout
    let lp = engine
        .feeds()
        .await
        .into_iter()
        .find(|f| f.name == "nchan-lp")
        .unwrap();
    assert_eq!(lp.errors, 0, "a hold timeout is not an error: {lp:?}");
    assert!(lp.state.is_up(), "{lp:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let client = reqwest::Client::new();
    let sent: Vec<String> = (1..=20)
        .map(|i| format!("{{\"seq\":{i},\"cpu\":{}.5}}", i * 3))
        .collect();
    for body in &sent {
        let r = client
            .post(format!("http://127.0.0.1:{port}/pub"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "publish failed: {}", r.status());
    }
    for (i, id) in ids.iter().enumerate() {
        let store = store.clone();
        let id = *id;
        let got = wait_for_async(
            &format!("feed {i} to store 20 messages"),
            Duration::from_secs(20),
            || {
                let store = store.clone();
                async move {
                    store.flush().await.ok()?;
                    let got = stored(&store, id).await;
                    (got.len() >= 20).then_some(got)
                }
            },
        )
        .await;
        assert_eq!(
            got, sent,
            "feed #{i} must store every message once, in order"
        );
    }
    let series = store.list_series(ids[0]).unwrap();
    assert!(series.iter().any(|s| s.metric == "cpu"));
    engine.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_exporter_is_scraped_as_prometheus_text() {
    let exporter = "/usr/bin/prometheus-node-exporter";
    assert!(
        Path::new(exporter).exists(),
        "node_exporter is missing: run scripts/setup.sh (installs prometheus-node-exporter)"
    );
    let port = free_port();
    let _child = ChildGuard::spawn(
        Command::new(exporter)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("node_exporter to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store.clone(), EngineOptions::default()).unwrap();
    let mut f = FeedConfig::new(
        "node",
        TransportKind::Poll,
        format!("http://127.0.0.1:{port}/metrics"),
    );
    f.format = PayloadFormat::Prometheus;
    f.poll = Some(PollOptions {
        interval: telltale_model::duration::Dur::millis(300),
        ..Default::default()
    });
    f.metrics.push(telltale_model::feed::MetricRule {
        name: "load1".into(),
        prometheus: Some("node_load1".into()),
        ..Default::default()
    });
    f.metrics.push(telltale_model::feed::MetricRule {
        name: "cpu_idle".into(),
        prometheus: Some("node_cpu_seconds_total".into()),
        labels: [("mode".to_string(), "idle".to_string())].into(),
        ..Default::default()
    });
    let id = engine.upsert_feed(f, FeedOrigin::Gui).await.unwrap();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let series = wait_for_async("node_exporter samples", Duration::from_secs(20), || {
        let store = store.clone();
        async move {
            store.flush().await.ok()?;
            let s = store.list_series(id).ok()?;
            let idle = s.iter().filter(|s| s.metric == "cpu_idle").count();
            (s.iter().any(|s| s.metric == "load1") && idle >= cpus).then_some(s)
        }
    })
    .await;
    // One cpu_idle series per CPU, told apart by the `cpu` label.
    let idle: Vec<_> = series.iter().filter(|s| s.metric == "cpu_idle").collect();
    assert!(idle
        .iter()
        .all(|s| s.labels.get("mode").map(String::as_str) == Some("idle")));
    assert!(idle
        .iter()
        .any(|s| s.labels.get("cpu").map(String::as_str) == Some("0")));
    // Uptime comes for free: the HTTP status is a series too.
    assert!(series.iter().any(|s| s.metric == "http_status"));
    engine.shutdown().await.unwrap();
}
