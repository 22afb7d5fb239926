//! Scenario 4: latency from the server's send (a µs timestamp in the
//! payload) to a live subscriber's receipt and to the durable commit, at
//! fixed aggregate rates spread over several WebSocket feeds.
//!
//! The live subscriber sees events in pipeline order, which is also the
//! order in which the store commits them; a watcher records the store's
//! committed-event counter with the time of each change, so message `i` of
//! the live order was durable at the first recorded change whose count
//! exceeds `i` (an upper bound: changes between two wake-ups are recorded
//! late, never early).

use crate::ingest::{feed, Transport};
use crate::report::Section;
use crate::util::{fixed, now_us, payload, payload_ts, quantile, thousands};
use anyhow::{bail, Result};
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telltale_engine::live::Item;
use telltale_engine::{Engine, EngineOptions};
use telltale_store::{FeedOrigin, Store};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Accepts `conns` WebSocket connections and sends `per_conn` messages on
/// each at `rate` per second, stamped at send time.
async fn paced_server(
    conns: usize,
    rate: f64,
    per_conn: u64,
    stop: CancellationToken,
) -> Result<String> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/ws", l.local_addr()?);
    tokio::spawn(async move {
        for _ in 0..conns {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let t0 = Instant::now();
                let mut sent = 0u64;
                let mut tick = tokio::time::interval(Duration::from_millis(1));
                while sent < per_conn {
                    tick.tick().await;
                    let due = ((t0.elapsed().as_secs_f64() * rate) as u64 + 1).min(per_conn);
                    while sent < due {
                        sent += 1;
                        if ws
                            .feed(Message::text(payload(sent, now_us())))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    if ws.flush().await.is_err() {
                        return;
                    }
                }
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        m = ws.next() => match m {
                            Some(Ok(_)) => { let _ = ws.flush().await; }
                            _ => break,
                        },
                    }
                }
            });
        }
    });
    Ok(url)
}

/// What the live subscriber saw: receipt latencies (ms) and send times
/// (µs), both in pipeline order, and batches lost to lag.
type Seen = (Vec<f64>, Vec<i64>, u64);

/// Latencies of one rate level, in ms.
struct Level {
    live: Vec<f64>,
    durable: Vec<f64>,
    lagged: u64,
}

async fn level(rate: f64, secs: f64, conns: usize, dir: &std::path::Path) -> Result<Level> {
    let per_conn = ((rate / conns as f64) * secs).round().max(1.0) as u64;
    let total = per_conn * conns as u64;
    let stop = CancellationToken::new();
    let path = dir.join(format!("latency-{rate}.db"));
    let store = Store::open(&path, Default::default())?;
    let engine = Engine::start(store.clone(), EngineOptions::default())?;
    let mut live = engine.subscribe();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let seen2 = seen.clone();
    let subscriber = tokio::spawn(async move {
        while let Some(item) = live.recv().await {
            let now = now_us();
            let Ok(mut g) = seen2.lock() else { return };
            match item {
                Item::Batch(b) => {
                    for e in &b.events {
                        if let Some(ts) = payload_ts(&e.data) {
                            g.0.push((now - ts) as f64 / 1000.0);
                            g.1.push(ts);
                        }
                    }
                }
                Item::Lagged(k) => g.2 += k,
            }
        }
    });
    let mut committed = store.committed_events();
    let commits: Arc<Mutex<Vec<(u64, i64)>>> = Arc::default();
    let commits2 = commits.clone();
    let watcher = tokio::spawn(async move {
        while committed.changed().await.is_ok() {
            let c = *committed.borrow_and_update();
            if let Ok(mut v) = commits2.lock() {
                v.push((c, now_us()));
            }
            if c >= total {
                break;
            }
        }
    });
    // Feeds are created before the server starts sending.
    let url = paced_server(conns, rate / conns as f64, per_conn, stop.clone()).await?;
    for i in 0..conns {
        engine
            .upsert_feed(
                feed(Transport::Ws, &format!("lat-{i}"), &url),
                FeedOrigin::Gui,
            )
            .await?;
    }
    let deadline = Duration::from_secs_f64(secs + 30.0);
    let done = tokio::time::timeout(deadline, watcher).await.is_ok();
    stop.cancel();
    let n = store.event_count(None)?;
    engine.shutdown().await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), subscriber).await;
    if !done || n != total {
        bail!("{rate} msg/s: {n} of {total} events committed");
    }
    let (live_ms, order, lagged) = {
        let g = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (g.0.clone(), g.1.clone(), g.2)
    };
    let commits = commits
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    let mut durable = Vec::with_capacity(order.len());
    let mut j = 0;
    for (i, ts) in order.iter().enumerate() {
        while j < commits.len() && commits[j].0 <= i as u64 {
            j += 1;
        }
        if let Some((_, at)) = commits.get(j) {
            durable.push((at - ts) as f64 / 1000.0);
        }
    }
    Ok(Level {
        live: live_ms,
        durable,
        lagged,
    })
}

/// Runs every rate level.
pub async fn run(rates: &[f64], secs: f64) -> Section {
    let mut s = Section::new(
        4,
        "Latency: server send → live subscriber, → durable commit",
        &[
            "aggregate rate",
            "messages",
            "live p50 ms",
            "live p99 ms",
            "live p99.9 ms",
            "durable p50 ms",
            "durable p99 ms",
            "durable p99.9 ms",
        ],
    );
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            s.fail(format!("no temp dir: {e}"));
            return s;
        }
    };
    for &rate in rates {
        let conns = if rate >= 10_000.0 { 10 } else { 4 };
        match level(rate, secs, conns, dir.path()).await {
            Ok(mut l) => {
                let n = l.live.len();
                let q = |v: &mut Vec<f64>, p| quantile(v, p);
                let (l50, l99, l999) = (
                    q(&mut l.live, 0.5),
                    q(&mut l.live, 0.99),
                    q(&mut l.live, 0.999),
                );
                let (d50, d99, d999) = (
                    q(&mut l.durable, 0.5),
                    q(&mut l.durable, 0.99),
                    q(&mut l.durable, 0.999),
                );
                s.row(vec![
                    format!("{} msg/s over {conns} feeds", thousands(rate)),
                    thousands(n as f64),
                    fixed(l50, 2),
                    fixed(l99, 2),
                    fixed(l999, 2),
                    fixed(d50, 1),
                    fixed(d99, 1),
                    fixed(d999, 1),
                ]);
                let k = format!("{}", rate as u64);
                s.metric(&format!("live_p50_ms_{k}"), l50);
                s.metric(&format!("live_p99_ms_{k}"), l99);
                s.metric(&format!("live_p999_ms_{k}"), l999);
                s.metric(&format!("durable_p50_ms_{k}"), d50);
                s.metric(&format!("durable_p99_ms_{k}"), d99);
                s.metric(&format!("durable_p999_ms_{k}"), d999);
                if l.lagged > 0 {
                    s.note(format!(
                        "at {} msg/s the subscriber lagged ({} batches skipped)",
                        thousands(rate),
                        l.lagged
                    ));
                }
                if rate == 10_000.0 {
                    s.target(
                        "p99 to live subscriber at 10k msg/s",
                        "≤ 10 ms",
                        format!("{} ms", fixed(l99, 2)),
                        Some(l99 <= 10.0),
                    );
                    s.target(
                        "p99 to durable commit at 10k msg/s",
                        "≤ 250 ms",
                        format!("{} ms", fixed(d99, 1)),
                        Some(d99 <= 250.0),
                    );
                }
            }
            Err(e) => s.fail(format!("{e:#}")),
        }
    }
    s.note(format!(
        "Each level runs {secs} s of paced WebSocket traffic (1 ms send ticks) from a loopback server in the bench process into a fresh engine and store; every message is checked to be committed. The store commits every 100 ms or 20,000 rows (its defaults), which bounds the durable latency from below."
    ));
    s
}
