//! End-to-end tests of the sim's routes over real sockets on 127.0.0.1:0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use telltale_sim::{Faults, Sim, SimConfig, SimHandle};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(5);

async fn start(rate: f64) -> SimHandle {
    Sim::start(SimConfig {
        rate,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

// ---------------------------------------------------------------------------
// Poll

#[tokio::test]
async fn poll_etag_then_304() {
    // One seq per 100 s: the seq cannot move during the test.
    let sim = start(0.01).await;
    let c = reqwest::Client::new();
    let url = format!("{}/poll/host-2", sim.base_url());
    let r = c
        .get(&url)
        .header("Authorization", "Bearer s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, "\"1\"");
    assert!(r.headers()["last-modified"]
        .to_str()
        .unwrap()
        .ends_with(" GMT"));
    assert_eq!(r.headers()["content-type"], "application/json");
    let v = json(&r.text().await.unwrap());
    assert_eq!(v["host"], "host-2");
    assert_eq!(v["seq"], 1);
    assert_eq!(v["status"], "ok");

    let r = c
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.text().await.unwrap().is_empty());

    let r = c
        .get(&url)
        .header("If-None-Match", "\"999\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The sim recorded what was sent.
    let reqs = sim.requests("/poll/host-2");
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer s3cret"));
    assert_eq!(reqs[1].header("If-None-Match"), Some("\"1\""));
    assert!(sim.requests("/sse").is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn poll_seq_follows_the_clock_and_faults_apply() {
    let t0 = Instant::now();
    let sim = start(20.0).await;
    let c = reqwest::Client::new();
    let base = sim.base_url();
    let get = |path: String| {
        let c = c.clone();
        async move { c.get(path).send().await.unwrap() }
    };
    tokio::time::sleep(Duration::from_millis(160)).await;
    let v = json(
        &get(format!("{base}/poll/host-1"))
            .await
            .text()
            .await
            .unwrap(),
    );
    let seq = v["seq"].as_u64().unwrap();
    let most = (t0.elapsed().as_secs_f64() * 20.0) as u64 + 1;
    assert!((4..=most).contains(&seq), "seq {seq}, at most {most}");

    let r = get(format!("{base}/poll/host-9")).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("unknown host `host-9`"));

    let r = get(format!("{base}/poll/host-1?status=500")).await;
    assert_eq!(r.status(), 500);
    let r = get(format!("{base}/poll/host-1?garbage_every=1")).await;
    assert_eq!(r.text().await.unwrap(), "this is {not json");

    let t0 = Instant::now();
    let r = get(format!("{base}/poll/host-1?slow_ms=150")).await;
    assert_eq!(r.status(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(150));
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// Long poll

#[tokio::test]
async fn longpoll_cursor_is_continuous() {
    let sim = start(50.0).await;
    let c = reqwest::Client::new();
    let mut cursor = 0u64;
    let mut seen = Vec::new();
    while seen.len() < 12 {
        let r = c
            .get(format!(
                "{}/longpoll/host-1?cursor={cursor}",
                sim.base_url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v = json(&r.text().await.unwrap());
        let events = v["events"].as_array().unwrap();
        assert!(!events.is_empty());
        for e in events {
            assert_eq!(e["host"], "host-1");
            seen.push(e["seq"].as_u64().unwrap());
        }
        cursor = v["cursor"].as_u64().unwrap();
        assert_eq!(cursor, *seen.last().unwrap());
    }
    let expected: Vec<u64> = (1..=seen.len() as u64).collect();
    assert_eq!(seen, expected, "no gap, no duplicate");
    let reqs = sim.requests("/longpoll/");
    assert_eq!(reqs[0].query_param("cursor"), Some("0"));
    sim.shutdown().await;
}

#[tokio::test]
async fn longpoll_caps_at_100_and_holds() {
    let sim = start(2000.0).await;
    let c = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let v = json(
        &c.get(format!("{}/longpoll/host-3", sim.base_url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(v["cursor"], 100);
    assert_eq!(v["events"].as_array().unwrap().len(), 100);
    assert_eq!(v["events"][99]["seq"], 100);

    // Held until the next seq is due (rate=5: every 200 ms).
    let now = json(
        &c.get(format!("{}/poll/host-3?rate=5", sim.base_url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )["seq"]
        .as_u64()
        .unwrap();
    let t0 = Instant::now();
    let url = format!("{}/longpoll/host-3?rate=5&cursor={now}", sim.base_url());
    let v = json(&c.get(url).send().await.unwrap().text().await.unwrap());
    let events = v["events"].as_array().unwrap();
    assert_eq!(events[0]["seq"], now + 1);
    assert_eq!(v["cursor"], events.last().unwrap()["seq"]);
    assert!(t0.elapsed() < Duration::from_secs(2));
    sim.shutdown().await;
}

#[tokio::test]
async fn longpoll_204_after_hold() {
    // Seq 2 is due after 1000 s.
    let sim = start(0.001).await;
    let c = reqwest::Client::new();
    let t0 = Instant::now();
    let r = c
        .get(format!(
            "{}/longpoll/host-1?cursor=1&hold_ms=200",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(2),
        "{took:?}"
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// SSE

/// Reads an SSE body until `done` says so (or panics after 5 s).
async fn read_sse(r: reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut body = r.bytes_stream();
    let mut text = String::new();
    tokio::time::timeout(T, async {
        while !done(&text) {
            match body.next().await {
                Some(Ok(b)) => text.push_str(std::str::from_utf8(&b).unwrap()),
                _ => break,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("SSE timed out; got: {text:?}"));
    text
}

fn sse_ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|s| s.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn sse_resumes_after_last_event_id() {
    let sim = start(100.0).await;
    let c = reqwest::Client::new();
    let url = format!("{}/sse?host=host-1&count=6", sim.base_url());

    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = read_sse(r, |t| sse_ids(t).len() >= 6).await;
    assert!(text.starts_with("retry: 1000\n"), "{text:?}");
    assert_eq!(sse_ids(&text), [1, 2, 3, 4, 5, 6]);
    let first = text.split("\n\n").nth(1).unwrap();
    let mut lines = first.lines();
    assert_eq!(lines.next(), Some("id: 1"));
    assert_eq!(lines.next(), Some("event: health"));
    let v = json(lines.next().unwrap().strip_prefix("data: ").unwrap());
    assert_eq!(v["seq"], 1);
    assert_eq!(v["host"], "host-1");

    let r = c
        .get(&url)
        .header("Last-Event-ID", "3")
        .send()
        .await
        .unwrap();
    let text = read_sse(r, |t| sse_ids(t).len() >= 3).await;
    assert_eq!(sse_ids(&text), [4, 5, 6]);
    let reqs = sim.requests("/sse");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("last-event-id"), Some("3"));
    sim.shutdown().await;
}

#[tokio::test]
async fn sse_heartbeat_drop_and_garbage() {
    let sim = start(100.0).await;
    let c = reqwest::Client::new();
    let base = sim.base_url();

    // count=1 then idle: only heartbeats follow.
    let r = c
        .get(format!("{base}/sse?host=host-2&count=1&heartbeat_ms=50"))
        .send()
        .await
        .unwrap();
    let text = read_sse(r, |t| t.matches(": hb\n\n").count() >= 2).await;
    assert_eq!(sse_ids(&text), [1]);

    // drop_every=3: the body ends after 3 events.
    let r = c
        .get(format!("{base}/sse?host=host-2&drop_every=3"))
        .send()
        .await
        .unwrap();
    let text = read_sse(r, |_| false).await;
    assert_eq!(sse_ids(&text), [1, 2, 3]);

    let r = c
        .get(format!("{base}/sse?host=host-2&garbage_every=2&count=4"))
        .send()
        .await
        .unwrap();
    let text = read_sse(r, |t| sse_ids(t).len() >= 4).await;
    assert_eq!(text.matches("data: this is {not json\n").count(), 2);

    let r = c.get(format!("{base}/sse-wrongtype")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");

    let r = c.get(format!("{base}/sse?host=nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// WebSocket

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Next data frame as text, `None` when the connection ended.
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(T, ws.next())
            .await
            .expect("ws timed out")
        {
            Some(Ok(Message::Text(t))) => return Some(t.to_string()),
            Some(Ok(Message::Binary(b))) => return Some(String::from_utf8(b.to_vec()).unwrap()),
            Some(Ok(Message::Close(f))) => panic!("unexpected close frame {f:?}"),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn ws_drop_every_then_reconnect_continues() {
    let sim = start(100.0).await;
    let url = format!("{}/ws?host=host-1&drop_every=3", sim.ws_url());
    let mut seqs = Vec::new();
    for _ in 0..2 {
        let mut c = ws(&url).await;
        for _ in 0..3 {
            let v = json(&next_text(&mut c).await.expect("message"));
            assert_eq!(v["host"], "host-1");
            seqs.push(v["seq"].as_u64().unwrap());
        }
        // Dropped without a close frame.
        assert_eq!(next_text(&mut c).await, None);
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    sim.shutdown().await;
}

#[tokio::test]
async fn ws_subprotocol_subscribe_and_client_messages() {
    let sim = start(50.0).await;
    let mut req = format!("{}/ws?host=host-1&count=2", sim.ws_url())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "telltale.v1".parse().unwrap());
    let (mut c, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "telltale.v1");
    let a = json(&next_text(&mut c).await.unwrap());
    let b = json(&next_text(&mut c).await.unwrap());
    assert_eq!((a["seq"].as_u64(), b["seq"].as_u64()), (Some(1), Some(2)));

    c.send(Message::Text("hello".into())).await.unwrap();
    c.send(Message::Text(r#"{"subscribe":"host-2"}"#.into()))
        .await
        .unwrap();
    let x = json(&next_text(&mut c).await.unwrap());
    let y = json(&next_text(&mut c).await.unwrap());
    assert_eq!((&x["host"], &x["seq"]), (&"host-2".into(), &1.into()));
    assert_eq!((&y["host"], &y["seq"]), (&"host-2".into(), &2.into()));
    assert_eq!(
        sim.ws_client_messages(),
        ["hello", r#"{"subscribe":"host-2"}"#]
    );

    // Idle now, but pings are answered.
    c.send(Message::Ping(b"p1".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(T, c.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(b"p1".to_vec().into()));

    let reqs = sim.requests("/ws");
    assert_eq!(
        reqs[0].header("sec-websocket-protocol"),
        Some("telltale.v1")
    );
    c.close(None).await.unwrap();
    sim.shutdown().await;
}

/// `record` caps what is remembered: the newest N requests and client
/// messages, or nothing at all with 0 (a long-running fleet's setting).
#[tokio::test]
async fn records_keep_the_newest_and_zero_keeps_none() {
    for (cap, want) in [(2usize, vec!["/poll/host-2", "/poll/host-3"]), (0, vec![])] {
        let sim = Sim::start(SimConfig {
            record: cap,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let http = reqwest::Client::new();
        for host in ["host-1", "host-2", "host-3"] {
            let r = http
                .get(format!("{}/poll/{host}", sim.base_url()))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
        let paths: Vec<String> = sim.requests("").into_iter().map(|r| r.path).collect();
        assert_eq!(paths, want, "record = {cap}");
        let (mut c, _) =
            tokio_tungstenite::connect_async(format!("{}/ws?host=host-1", sim.ws_url()))
                .await
                .unwrap();
        for m in ["a", "b", "c"] {
            c.send(Message::Text(m.into())).await.unwrap();
        }
        // The sim answers a ping after it has read the messages before it.
        c.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
        loop {
            let m = tokio::time::timeout(T, c.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if matches!(m, Message::Pong(_)) {
                break;
            }
        }
        let want_msgs: &[&str] = if cap == 0 { &[] } else { &["b", "c"] };
        assert_eq!(sim.ws_client_messages(), want_msgs, "record = {cap}");
        c.close(None).await.unwrap();
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn ws_all_hosts_binary_big_and_garbage() {
    let sim = start(50.0).await;
    let mut c = ws(&format!("{}/ws?count=1&binary=1", sim.ws_url())).await;
    let mut hosts = Vec::new();
    for _ in 0..3 {
        match tokio::time::timeout(T, c.next()).await.unwrap() {
            Some(Ok(Message::Binary(b))) => {
                hosts.push(json(std::str::from_utf8(&b).unwrap())["host"].to_string())
            }
            other => panic!("{other:?}"),
        }
    }
    hosts.sort();
    assert_eq!(hosts, ["\"host-1\"", "\"host-2\"", "\"host-3\""]);

    let mut c = ws(&format!(
        "{}/ws?host=host-3&big_bytes=5000&garbage_every=2",
        sim.ws_url()
    ))
    .await;
    let big = next_text(&mut c).await.unwrap();
    assert_eq!(big.len(), 5000);
    assert!(json(&big)["pad"].as_str().unwrap().starts_with("xxx"));
    json(&next_text(&mut c).await.unwrap());
    assert_eq!(next_text(&mut c).await.unwrap(), "this is {not json");

    let err = tokio_tungstenite::connect_async(format!("{}/ws?host=host-4", sim.ws_url())).await;
    assert!(err.is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn ws_stall_after_sends_nothing_more() {
    let sim = start(200.0).await;
    let mut c = ws(&format!("{}/ws?host=host-1&stall_after=2", sim.ws_url())).await;
    next_text(&mut c).await.unwrap();
    next_text(&mut c).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), c.next()).await;
    assert!(quiet.is_err(), "expected silence, got {quiet:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn ws_high_rate_burst() {
    let sim = start(1.0).await;
    let n = 20_000u64;
    let mut c = ws(&format!(
        "{}/ws?host=host-1&rate=200000&count={n}",
        sim.ws_url()
    ))
    .await;
    let t0 = Instant::now();
    for want in 1..=n {
        let t = next_text(&mut c).await.unwrap();
        if want % 5000 == 0 || want == 1 {
            assert_eq!(json(&t)["seq"], want);
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// Metrics, health, control

#[tokio::test]
async fn metrics_text_format() {
    let sim = start(1.0).await;
    let r = reqwest::get(format!("{}/metrics/host-2", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4");
    let text = r.text().await.unwrap();
    for name in [
        "node_cpu_usage_percent",
        "node_memory_usage_percent",
        "node_disk_usage_percent",
        "node_load1",
        "probe_latency_ms",
        "telltale_sim_seq",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}\n{text}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}\n{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{host=\"host-2\"}} ")))
            .unwrap_or_else(|| panic!("{name}\n{text}"));
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(value >= 0.0);
    }
    assert!(text.contains("telltale_sim_seq{host=\"host-2\"} 1\n"));
    let r = reqwest::get(format!("{}/metrics/host-2?status=503", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = reqwest::get(format!("{}/healthz", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    sim.shutdown().await;
}

#[tokio::test]
async fn global_faults_fail_next_then_recover() {
    let sim = start(1.0).await;
    let c = reqwest::Client::new();
    let base = sim.base_url();
    sim.set_faults(Faults {
        fail_next: 2,
        slow: Duration::ZERO,
    });
    // Not counted: not a faultable route.
    assert_eq!(
        c.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for want in [503, 503, 200] {
        let r = c.get(format!("{base}/poll/host-1")).send().await.unwrap();
        assert_eq!(r.status(), want);
    }

    let r = c
        .post(format!("{base}/control/faults"))
        .body(r#"{"fail_next":1,"slow_ms":100}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        sim.faults(),
        Faults {
            fail_next: 1,
            slow: Duration::from_millis(100)
        }
    );
    let t0 = Instant::now();
    assert_eq!(
        c.get(format!("{base}/metrics/host-1"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        c.get(format!("{base}/metrics/host-1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(t0.elapsed() >= Duration::from_millis(100));
    let v = json(
        &c.get(format!("{base}/control/faults"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(v, json(r#"{"fail_next":0,"slow_ms":100}"#));
    let r = c
        .post(format!("{base}/control/faults"))
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// Shutdown and restart

#[tokio::test]
async fn shutdown_drops_connections_and_restart_rebinds() {
    let sim = start(20.0).await;
    let addr = sim.addr();
    assert_eq!(sim.base_url(), format!("http://127.0.0.1:{}", addr.port()));
    assert_eq!(sim.ws_url(), format!("ws://127.0.0.1:{}", addr.port()));

    let mut w = ws(&format!("{}/ws?host=host-1", sim.ws_url())).await;
    next_text(&mut w).await.unwrap();
    let c = reqwest::Client::new();
    let sse = c
        .get(format!("{}/sse?host=host-1", sim.base_url()))
        .send()
        .await
        .unwrap();
    let mut sse_body = sse.bytes_stream();
    sse_body.next().await.unwrap().unwrap();
    let held = tokio::spawn({
        let c = c.clone();
        let url = format!("{}/longpoll/host-1?cursor=1000000", sim.base_url());
        async move { c.get(url).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let t0 = Instant::now();
    sim.shutdown().await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());

    // WebSocket: ends without a close frame (next_text panics on one).
    loop {
        match tokio::time::timeout(T, w.next()).await.unwrap() {
            Some(Ok(Message::Text(_))) => continue,
            Some(Ok(m)) => panic!("unexpected {m:?}"),
            Some(Err(_)) | None => break,
        }
    }
    // SSE: the body is cut.
    while let Some(Ok(_)) = tokio::time::timeout(T, sse_body.next()).await.unwrap() {}
    // Long poll: answered (503) or cut, promptly.
    let held = tokio::time::timeout(T, held).await.unwrap().unwrap();
    assert!(held.map(|s| s == 503).unwrap_or(true));

    // Nothing listens any more.
    assert!(reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .is_err());

    // Restart on the same address.
    let sim = Sim::start(SimConfig {
        listen: addr,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(sim.addr(), addr);
    let r = c
        .get(format!("{}/healthz", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_prompt_even_when_clients_do_not_read() {
    let sim = start(1.0).await;
    // Flood connections whose client never reads: the sim blocks writing.
    let mut w = ws(&format!("{}/ws?rate=200000", sim.ws_url())).await;
    let sse = reqwest::get(format!("{}/sse?host=host-1&rate=200000", sim.base_url()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    sim.shutdown().await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // Both end (after whatever was buffered).
    let drained = tokio::time::timeout(T, async {
        while let Some(Ok(m)) = w.next().await {
            assert!(!m.is_close(), "no close frame expected");
        }
        let mut body = sse.bytes_stream();
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(drained.is_ok());
}

#[tokio::test]
async fn invalid_rate_is_rejected() {
    let err = Sim::start(SimConfig {
        rate: 0.0,
        ..SimConfig::default()
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let sim = start(1.0).await;
    let r = reqwest::get(format!("{}/poll/host-1?rate=-1", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sim.shutdown().await;
}

/// Benchmark rates stay correct: 20,000 messages at 200,000/s arrive with
/// consecutive sequence numbers on both streaming routes. (The rate itself
/// is printed, never asserted: timings belong in benchmarks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmark_rates_deliver_consecutive_sequences() {
    let sim = start(1.0).await;
    let mut c = ws(&format!(
        "{}/ws?host=host-1&rate=200000&count=20000",
        sim.ws_url()
    ))
    .await;
    let t0 = Instant::now();
    for expected in 1..=20_000u64 {
        let text = next_text(&mut c).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["seq"], expected);
    }
    println!("ws: {:.0} msg/s", 20_000.0 / t0.elapsed().as_secs_f64());
    let r = reqwest::Client::new()
        .get(format!(
            "{}/sse?host=host-1&rate=200000&count=5000",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    let text = read_sse(r, |t| {
        t.ends_with("id: 5000\n") || t.contains("id: 5000\nevent")
    })
    .await;
    assert_eq!(sse_ids(&text), (1..=5_000u64).collect::<Vec<_>>());
    sim.shutdown().await;
}

#[tokio::test]
async fn extreme_parameters_do_not_break_the_sim() {
    let sim = start(1.0).await;
    let base = sim.base_url();
    let c = reqwest::Client::new();
    let max = u64::MAX;
    for path in [
        "/poll/host-1?rate=1e300".to_string(),
        "/metrics/host-1?rate=1e300".to_string(),
        format!("/longpoll/host-1?rate=1e300&cursor={max}&hold_ms=50"),
        format!("/longpoll/host-1?cursor={max}&hold_ms=50"),
        "/longpoll/host-1?rate=1e-300&hold_ms=50".to_string(),
        "/poll/host-1?cursor=abc".to_string(),
        "/poll/host-1?status=99".to_string(),
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
    }
    let r = c
        .get(format!(
            "{base}/sse?host=host-1&count={max}&heartbeat_ms={max}"
        ))
        .header("Last-Event-ID", max.to_string())
        .send()
        .await
        .unwrap();
    let text = read_sse(r, |t| !sse_ids(t).is_empty()).await;
    assert_eq!(sse_ids(&text), [max]);
    let mut w = ws(&format!(
        "{}/ws?host=host-2&count={max}&rate=1e300",
        sim.ws_url()
    ))
    .await;
    for _ in 0..3 {
        next_text(&mut w).await.unwrap();
    }
    // Still serving.
    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// Socket.IO

#[tokio::test]
async fn socketio_opens_connects_a_namespace_and_sends_health_events() {
    let sim = start(20.0).await;
    let base = sim.ws_url();
    let mut io = ws(&format!(
        "{base}/socket.io/?host=host-2&EIO=4&transport=websocket"
    ))
    .await;
    let open = next_text(&mut io).await.unwrap();
    let hello = json(open.strip_prefix('0').expect("an Engine.IO open packet"));
    assert_eq!(hello["pingInterval"], 25000);
    io.send(Message::Text(r#"40/fleet,{"token":"t"}"#.into()))
        .await
        .unwrap();
    let ack = next_text(&mut io).await.unwrap();
    assert!(ack.starts_with("40/fleet,{\"sid\""), "{ack}");
    for seq in 1..=2 {
        let ev = next_text(&mut io).await.unwrap();
        let args = json(ev.strip_prefix("42/fleet,").expect("an event in /fleet"));
        assert_eq!(args[0], "health");
        assert_eq!(args[1]["host"], "host-2");
        assert_eq!(args[1]["seq"], seq);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn socketio_refuses_polling_and_engine_io_3_by_name() {
    let sim = start(1.0).await;
    let base = sim.base_url();
    for query in ["EIO=4&transport=polling", "EIO=3&transport=websocket"] {
        let r = reqwest::get(format!("{base}/socket.io/?host=host-1&{query}"))
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let text = r.text().await.unwrap();
        assert!(text.contains("Engine.IO 4 over WebSocket only"), "{text}");
    }
    sim.shutdown().await;
}
