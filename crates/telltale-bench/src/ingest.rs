//! Scenarios 1 and 2: one feed at full speed over WebSocket or SSE, from a
//! loopback server that sends `n` small health messages as fast as the
//! socket takes them. Three clients in the same run:
//!
//! * (a) the bare limit: a minimal client that only counts messages;
//! * (b) a naive best effort: a hand-written loop that parses each message
//!   with serde_json and inserts it (one row: time, 3 values, payload) into
//!   rusqlite in batches of 1,000 (WAL, `synchronous = NORMAL`, a prepared
//!   statement), on the task that reads the socket;
//! * (c) the Telltale engine: the feed's source, extraction of 3 metrics,
//!   the store's event and sample rows (with rollups) and the live fan-out
//!   to one subscriber; the clock stops when the store has committed all
//!   `n` events, and the row counts are checked.

use crate::report::Section;
use crate::util::{fixed, payload, thousands};
use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale_engine::live::Item;
use telltale_engine::{Engine, EngineOptions};
use telltale_model::{FeedConfig, TransportKind};
use telltale_store::{FeedOrigin, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

/// Which transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket text frames.
    Ws,
    /// `text/event-stream`.
    Sse,
    /// MQTT through mosquitto (scenario 8, [`crate::mqtt_ingest`]).
    Mqtt,
    /// Socket.IO events (scenario 9, [`crate::socketio_ingest`]).
    SocketIo,
}

/// Distinct payloads the server cycles through (formatting each message at
/// send time would make the server the bottleneck of (a)).
pub(crate) const TEMPLATES: usize = 4096;

pub(crate) fn templates() -> Vec<String> {
    let t = crate::util::now_us();
    (0..TEMPLATES as u64).map(|i| payload(i + 1, t)).collect()
}

/// A loopback server for one connection; sends `n` messages, then keeps
/// the connection open (answering pings) until `stop`.
async fn serve(
    kind: Transport,
    n: u64,
    stop: CancellationToken,
) -> Result<(String, JoinHandle<Result<()>>)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    let url = match kind {
        Transport::Ws => format!("ws://{addr}/ws"),
        Transport::Sse => format!("http://{addr}/sse"),
        Transport::Mqtt | Transport::SocketIo => {
            bail!("{kind:?} messages come from their own server, not this one")
        }
    };
    let msgs = templates();
    let task = tokio::spawn(async move {
        let (tcp, _) = tokio::select! {
            a = l.accept() => a?,
            _ = stop.cancelled() => return Ok(()),
        };
        tcp.set_nodelay(true)?;
        match kind {
            Transport::Ws => {
                let msgs: Vec<Utf8Bytes> = msgs.into_iter().map(Utf8Bytes::from).collect();
                let ws = tokio_tungstenite::accept_async(tcp).await?;
                send_and_hold(ws, &msgs, n, &stop).await?;
            }
            Transport::Mqtt | Transport::SocketIo => {}
            Transport::Sse => {
                let mut tcp = tcp;
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let k = tcp.read(&mut buf).await?;
                    if k == 0 {
                        return Ok(());
                    }
                    req.extend_from_slice(&buf[..k]);
                }
                tcp.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
                )
                .await?;
                let mut out = Vec::with_capacity(128 * 1024);
                for i in 0..n as usize {
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(msgs[i % TEMPLATES].as_bytes());
                    out.extend_from_slice(b"\n\n");
                    if out.len() >= 64 * 1024 {
                        tcp.write_all(&out).await?;
                        out.clear();
                    }
                }
                tcp.write_all(&out).await?;
                tcp.flush().await?;
                stop.cancelled().await;
            }
        }
        Ok(())
    });
    Ok((url, task))
}

/// Sends `n` text frames (cycling through `frames`) as fast as the socket
/// takes them, then keeps the connection open, answering pings, until
/// `stop`.
pub(crate) async fn send_and_hold(
    mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    frames: &[Utf8Bytes],
    n: u64,
    stop: &CancellationToken,
) -> Result<()> {
    for i in 0..n as usize {
        ws.feed(Message::Text(frames[i % frames.len()].clone()))
            .await?;
        if i % 256 == 255 {
            ws.flush().await?;
        }
    }
    ws.flush().await?;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            m = ws.next() => match m {
                Some(Ok(_)) => ws.flush().await?,
                _ => break,
            },
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

/// (a): count messages, nothing else. Returns messages per second.
async fn bare(kind: Transport, n: u64) -> Result<f64> {
    match kind {
        Transport::Mqtt => return crate::mqtt_ingest::bare(n).await,
        Transport::SocketIo => return crate::socketio_ingest::bare(n).await,
        _ => {}
    }
    let stop = CancellationToken::new();
    let (url, server) = serve(kind, n, stop.clone()).await?;
    let t0 = Instant::now();
    let mut count = 0u64;
    match kind {
        Transport::Ws => {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
            while count < n {
                match ws.next().await {
                    Some(Ok(Message::Text(_) | Message::Binary(_))) => count += 1,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => break,
                }
            }
        }
        Transport::Sse => {
            let resp = reqwest::get(url.as_str()).await?;
            let mut body = resp.bytes_stream();
            let mut prev = 0u8;
            while count < n {
                let Some(chunk) = body.next().await else {
                    break;
                };
                for &b in chunk?.iter() {
                    if b == b'\n' && prev == b'\n' {
                        count += 1;
                    }
                    prev = b;
                }
            }
        }
        Transport::Mqtt | Transport::SocketIo => {}
    }
    let secs = t0.elapsed().as_secs_f64();
    stop.cancel();
    server.await??;
    if count != n {
        bail!("bare client received {count} of {n} messages");
    }
    Ok(n as f64 / secs)
}

/// The naive loop's database: one row per message with its 3 values.
pub(crate) fn naive_db(path: &std::path::Path) -> Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE messages (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL,
                                cpu REAL, mem REAL, disk REAL, data BLOB NOT NULL);",
    )?;
    Ok(c)
}

/// What the naive loop keeps per message until the batch is written.
pub(crate) struct Parsed {
    ts: i64,
    data: Vec<u8>,
    values: [f64; 3],
}

pub(crate) fn write_naive(c: &mut rusqlite::Connection, rows: &mut Vec<Parsed>) -> Result<()> {
    let tx = c.transaction()?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO messages (received_at, cpu, mem, disk, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for r in rows.drain(..) {
            ins.execute((r.ts, r.values[0], r.values[1], r.values[2], &r.data))?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn parse_naive(text: &[u8]) -> Result<Parsed> {
    let v: serde_json::Value = serde_json::from_slice(text)?;
    let f = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    Ok(Parsed {
        ts: crate::util::now_us(),
        data: text.to_vec(),
        values: [f("cpu"), f("mem"), f("disk")],
    })
}

/// (b): parse with serde_json, insert in batches of 1,000. Returns msg/s.
async fn naive(kind: Transport, n: u64, dir: &std::path::Path) -> Result<f64> {
    match kind {
        Transport::Mqtt => return crate::mqtt_ingest::naive(n, dir).await,
        Transport::SocketIo => return crate::socketio_ingest::naive(n, dir).await,
        _ => {}
    }
    const BATCH: usize = 1000;
    let stop = CancellationToken::new();
    let (url, server) = serve(kind, n, stop.clone()).await?;
    let path = dir.join(format!("naive-{kind:?}.db"));
    let mut db = naive_db(&path)?;
    let mut rows: Vec<Parsed> = Vec::with_capacity(BATCH);
    let t0 = Instant::now();
    let mut count = 0u64;
    match kind {
        Transport::Ws => {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
            while count < n {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        rows.push(parse_naive(t.as_bytes())?);
                        count += 1;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => break,
                }
                if rows.len() >= BATCH {
                    write_naive(&mut db, &mut rows)?;
                }
            }
        }
        Transport::Sse => {
            let resp = reqwest::get(url.as_str()).await?;
            let mut body = resp.bytes_stream();
            let mut pending: Vec<u8> = Vec::new();
            while count < n {
                let Some(chunk) = body.next().await else {
                    break;
                };
                pending.extend_from_slice(&chunk?);
                let mut start = 0;
                while let Some(end) = pending[start..].windows(2).position(|w| w == b"\n\n") {
                    let ev = &pending[start..start + end];
                    for line in ev.split(|b| *b == b'\n') {
                        if let Some(data) = line.strip_prefix(b"data: ") {
                            rows.push(parse_naive(data)?);
                            count += 1;
                        }
                    }
                    start += end + 2;
                    if rows.len() >= BATCH {
                        write_naive(&mut db, &mut rows)?;
                    }
                }
                pending.drain(..start);
            }
        }
        Transport::Mqtt | Transport::SocketIo => {}
    }
    write_naive(&mut db, &mut rows)?;
    let secs = t0.elapsed().as_secs_f64();
    stop.cancel();
    server.await??;
    let stored: i64 = db.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
    if stored as u64 != n {
        bail!("naive loop stored {stored} rows for {n} messages");
    }
    Ok(n as f64 / secs)
}

/// What (c) measured.
pub struct EngineRun {
    /// Messages per second, durable.
    pub rate: f64,
    /// Events the live subscriber saw.
    pub live_events: u64,
    /// Batches the live subscriber lost to lag.
    pub lagged: u64,
    /// Messages the source shed.
    pub dropped: u64,
}

/// A feed config for the bench server.
pub fn feed(kind: Transport, name: &str, url: &str) -> FeedConfig {
    let t = match kind {
        Transport::Ws => TransportKind::Websocket,
        Transport::Sse => TransportKind::Sse,
        Transport::Mqtt => TransportKind::Mqtt,
        Transport::SocketIo => TransportKind::Socketio,
    };
    let mut f = FeedConfig::new(name, t, url)
        .with_metric("cpu", "/cpu")
        .with_metric("mem", "/mem")
        .with_metric("disk", "/disk");
    if kind == Transport::Mqtt {
        f.mqtt = Some(telltale_model::mqtt::MqttOptions {
            topics: vec![telltale_model::mqtt::MqttTopic {
                filter: "bench/health".into(),
                qos: 1,
                labels: Vec::new(),
            }],
            clean_session: false,
            ..Default::default()
        });
    }
    if kind == Transport::SocketIo {
        f.socketio = Some(telltale_model::socketio::SocketioOptions {
            events: vec!["health".into()],
            ..Default::default()
        });
    }
    f
}

/// (c): the full engine, until all `n` events are committed; verifies the
/// stored row counts.
async fn engine(kind: Transport, n: u64, dir: &std::path::Path) -> Result<EngineRun> {
    match kind {
        Transport::Mqtt => return crate::mqtt_ingest::engine(n, dir).await,
        Transport::SocketIo => return crate::socketio_ingest::engine(n, dir).await,
        _ => {}
    }
    let stop = CancellationToken::new();
    let (url, server) = serve(kind, n, stop.clone()).await?;
    let run = engine_with(feed(kind, "bench", &url), n, dir).await;
    stop.cancel();
    server.await??;
    run
}

/// (c) for a feed whose server is already sending.
pub(crate) async fn engine_with(
    feed: FeedConfig,
    n: u64,
    dir: &std::path::Path,
) -> Result<EngineRun> {
    let path = dir.join(format!("engine-{}.db", feed.transport));
    let store = Store::open(&path, Default::default())?;
    let engine = Engine::start(store.clone(), EngineOptions::default())?;
    let mut live = engine.subscribe();
    let live_events = Arc::new(AtomicU64::new(0));
    let lagged = Arc::new(AtomicU64::new(0));
    let (le, lg) = (live_events.clone(), lagged.clone());
    let subscriber = tokio::spawn(async move {
        while let Some(item) = live.recv().await {
            match item {
                Item::Batch(b) => {
                    le.fetch_add(b.events.len() as u64, Ordering::Relaxed);
                }
                Item::Lagged(k) => {
                    lg.fetch_add(k, Ordering::Relaxed);
                }
            }
        }
    });
    let mut committed = store.committed_events();
    let t0 = Instant::now();
    let id = engine.upsert_feed(feed, FeedOrigin::Gui).await?;
    let deadline = t0 + Duration::from_secs(30 + n / 10_000);
    loop {
        if *committed.borrow_and_update() >= n {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = tokio::time::timeout(left, committed.changed()).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let dropped = engine.feeds().await.first().map(|f| f.dropped).unwrap_or(0);
    // Verify what is durably in SQLite, through a fresh connection.
    let events = store.event_count(Some(id))?;
    let samples = store.sample_count()?;
    engine.shutdown().await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), subscriber).await;
    if events != n || samples != 3 * n {
        bail!(
            "engine: {events} events and {samples} samples committed for {n} messages sent ({dropped} shed)"
        );
    }
    Ok(EngineRun {
        rate: n as f64 / secs,
        live_events: live_events.load(Ordering::Relaxed),
        lagged: lagged.load(Ordering::Relaxed),
        dropped,
    })
}

/// The median of some rates (NaN when there are none).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        k if k % 2 == 1 => v[k / 2],
        k => (v[k / 2 - 1] + v[k / 2]) / 2.0,
    }
}

/// Runs (a), (b) and (c) for one transport, `rounds` times interleaved
/// (a, b, c, a, b, c, ...), and reports each client's median round. This
/// machine's speed wanders by ±15% over seconds, so one pass of each can
/// land (b) in a fast moment and (c) in a slow one; interleaving exposes
/// all three to the same moments. Every round's (c) is verified.
pub async fn run(kind: Transport, n: u64, rounds: usize) -> Section {
    let (id, title) = match kind {
        Transport::Ws => (1, "WebSocket ingest, one feed at full speed"),
        Transport::Sse => (2, "SSE ingest, one feed at full speed"),
        Transport::Mqtt => (8, "MQTT ingest, one feed at full speed through mosquitto"),
        Transport::SocketIo => (9, "Socket.IO ingest, one feed at full speed"),
    };
    let mut s = Section::new(
        id,
        title,
        &[
            "client",
            "msg/s (median)",
            "vs (a)",
            "vs (b)",
            "rounds",
            "messages",
        ],
    );
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            s.fail(format!("no temp dir: {e}"));
            return s;
        }
    };
    let (mut a_rates, mut b_rates, mut c_runs) = (Vec::new(), Vec::new(), Vec::new());
    let mut errors: [Option<anyhow::Error>; 3] = [None, None, None];
    for round in 0..rounds.max(1) {
        match bare(kind, n).await.context("(a) bare client") {
            Ok(v) => a_rates.push(v),
            Err(e) => errors[0] = Some(e),
        }
        let sub = dir.path().join(format!("round-{round}"));
        if let Err(e) = std::fs::create_dir_all(&sub) {
            s.fail(format!("cannot create {}: {e}", sub.display()));
            return s;
        }
        match naive(kind, n, &sub).await.context("(b) naive loop") {
            Ok(v) => b_rates.push(v),
            Err(e) => errors[1] = Some(e),
        }
        match engine(kind, n, &sub).await.context("(c) engine") {
            Ok(r) => c_runs.push(r),
            Err(e) => errors[2] = Some(e),
        }
        // Each round's databases go before the next, so the disk is as
        // empty for the last round as for the first.
        let _ = std::fs::remove_dir_all(&sub);
    }
    let c_rates: Vec<f64> = c_runs.iter().map(|r| r.rate).collect();
    let (a_rate, b_rate, c_rate) = (median(&a_rates), median(&b_rates), median(&c_rates));
    let names = [
        "(a) bare: count only",
        "(b) naive: serde_json + a rusqlite row per message",
        "(c) Telltale engine, durable",
    ];
    for (k, (name, (rate, runs))) in names
        .iter()
        .zip([(a_rate, &a_rates), (b_rate, &b_rates), (c_rate, &c_rates)])
        .enumerate()
    {
        if let Some(e) = errors[k].take() {
            s.row(vec![
                (*name).into(),
                "failed".into(),
                "".into(),
                "".into(),
                runs.len().to_string(),
                thousands(n as f64),
            ]);
            s.fail(format!("{e:#}"));
        } else {
            s.row(vec![
                (*name).into(),
                thousands(rate),
                fixed(rate / a_rate, 3),
                fixed(rate / b_rate, 2),
                runs.len().to_string(),
                thousands(n as f64),
            ]);
        }
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|r| thousands(*r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if rounds > 1 {
        s.note(format!(
            "Rounds, in order: (a) {}; (b) {}; (c) {}. Per-round c/b: {}.",
            list(&a_rates),
            list(&b_rates),
            list(&c_rates),
            b_rates
                .iter()
                .zip(&c_rates)
                .map(|(b, c)| fixed(c / b, 2))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s.metric("rounds", rounds as f64);
    s.metric("messages", n as f64);
    s.metric("a_msg_per_s", a_rate);
    s.metric("b_msg_per_s", b_rate);
    s.metric("c_msg_per_s", c_rate);
    s.metric("c_over_a", c_rate / a_rate);
    s.metric("c_over_b", c_rate / b_rate);
    let cb = c_rate / b_rate;
    s.target(
        "c/b (engine vs naive loop)",
        "≥ 0.6",
        fixed(cb, 2),
        cb.is_finite().then_some(cb >= 0.6),
    );
    if kind == Transport::Ws {
        s.target(
            "engine, durable msg/s",
            "≥ 150,000",
            thousands(c_rate),
            c_rate.is_finite().then_some(c_rate >= 150_000.0),
        );
    }
    let len = templates().iter().map(String::len).sum::<usize>() / TEMPLATES;
    let source = match kind {
        Transport::Mqtt => "replayed at QoS 1 by Debian's mosquitto from each client's persistent session (published into it first; no limit on queued or in-flight messages), the clock running from the client's connect",
        Transport::SocketIo => "as Socket.IO events (`42[\"health\",{…}]`, after the Engine.IO open and namespace connect) from a loopback server in the bench process that sends them as fast as the socket takes them, the clock running from the client's connect",
        _ => "from a loopback server in the bench process that sends them as fast as the socket takes them",
    };
    s.note(format!(
        "{n} messages of {len} bytes of JSON {source}; ratio c/a = {}, c/b = {}.",
        fixed(c_rate / a_rate, 3),
        fixed(cb, 2)
    ));
    if !c_runs.is_empty() {
        let sum = |f: fn(&EngineRun) -> u64| c_runs.iter().map(f).sum::<u64>();
        s.note(format!(
            "(c) verified in each of its {} rounds: all {} events and {} samples committed in SQLite when the clock stopped; the live subscriber saw {} events in all ({} batches lost to lag); the source shed {}.",
            c_runs.len(),
            thousands(n as f64),
            thousands(3.0 * n as f64),
            thousands(sum(|r| r.live_events) as f64),
            sum(|r| r.lagged),
            sum(|r| r.dropped)
        ));
    }
    s
}
