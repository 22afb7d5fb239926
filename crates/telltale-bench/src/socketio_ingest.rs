//! Scenario 9's server and clients: one Socket.IO feed at full speed,
//! measured like scenarios 1 and 2 (see [`crate::ingest`]).
//!
//! The server is in the bench process, like scenarios 1 and 2's: it
//! speaks Engine.IO 4 over WebSocket as the `socket.io` package does (the
//! `open` packet, the namespace `CONNECT` answered, then `n` events
//! `42["health",{…}]` as fast as the socket takes them). Node's `socket.io`
//! would measure Node instead: on two cores it would take one of them.
//! The transport itself is tested against the real `socket.io` package
//! (`crates/telltale-sources/tests/it/socketio.rs`).

use crate::ingest::{naive_db, parse_naive, templates, write_naive, EngineRun};
use anyhow::{bail, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const OPEN: &str = r#"0{"sid":"bench","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

/// A loopback Socket.IO server for one connection: the opening, `n`
/// events, then the connection held open until `stop`. Returns its
/// `http://` URL.
async fn serve(n: u64, stop: CancellationToken) -> Result<(String, JoinHandle<Result<()>>)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    let frames: Vec<Utf8Bytes> = templates()
        .into_iter()
        .map(|t| Utf8Bytes::from(format!(r#"42["health",{t}]"#)))
        .collect();
    let task = tokio::spawn(async move {
        let (tcp, _) = tokio::select! {
            a = l.accept() => a?,
            _ = stop.cancelled() => return Ok(()),
        };
        tcp.set_nodelay(true)?;
        let mut ws = tokio_tungstenite::accept_async(tcp).await?;
        ws.send(Message::text(OPEN)).await?;
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with("40") => {}
            other => bail!("expected the namespace CONNECT, got {other:?}"),
        }
        ws.send(Message::text(r#"40{"sid":"bench-ns"}"#)).await?;
        crate::ingest::send_and_hold(ws, &frames, n, &stop).await
    });
    Ok((url, task))
}

/// A hand-written client's opening: connect, read `open`, join `/`.
async fn join(url: &str) -> Result<Ws> {
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.replacen("http://", "ws://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str()).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.starts_with('0') => {}
        other => bail!("expected the Engine.IO open packet, got {other:?}"),
    }
    ws.send(Message::text("40")).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.starts_with("40") => Ok(ws),
        other => bail!("expected the namespace CONNECT, got {other:?}"),
    }
}

/// (a): count event frames. Returns messages per second.
pub async fn bare(n: u64) -> Result<f64> {
    let stop = CancellationToken::new();
    let (url, server) = serve(n, stop.clone()).await?;
    let t0 = Instant::now();
    let mut ws = join(&url).await?;
    let mut count = 0u64;
    while count < n {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with("42") => count += 1,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => break,
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    stop.cancel();
    server.await??;
    if count != n {
        bail!("bare client received {count} of {n} events");
    }
    Ok(n as f64 / secs)
}

/// (b): split each event with serde_json, parse its argument, insert in
/// batches of 1,000. Returns messages per second.
pub async fn naive(n: u64, dir: &std::path::Path) -> Result<f64> {
    const BATCH: usize = 1000;
    let stop = CancellationToken::new();
    let (url, server) = serve(n, stop.clone()).await?;
    let mut db = naive_db(&dir.join("naive-socketio.db"))?;
    let mut rows = Vec::with_capacity(BATCH);
    let t0 = Instant::now();
    let mut ws = join(&url).await?;
    let mut count = 0u64;
    while count < n {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let Some(body) = t.strip_prefix("42") else {
                    continue;
                };
                let (_name, arg): (String, &RawValue) = serde_json::from_str(body)?;
                rows.push(parse_naive(arg.get().as_bytes())?);
                count += 1;
                if rows.len() >= BATCH {
                    write_naive(&mut db, &mut rows)?;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => break,
        }
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

/// (c): the engine's Socket.IO feed.
pub async fn engine(n: u64, dir: &std::path::Path) -> Result<EngineRun> {
    let stop = CancellationToken::new();
    let (url, server) = serve(n, stop.clone()).await?;
    let feed = crate::ingest::feed(crate::ingest::Transport::SocketIo, "bench", &url);
    let run = crate::ingest::engine_with(feed, n, dir).await;
    stop.cancel();
    server.await??;
    run
}
