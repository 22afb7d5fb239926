//! Memory and time have bounds (issue 13 §2): servers that trickle their
//! headers, compress their bodies (or bomb), never end a line, answer a long
//! poll at once, send too many items, or flood pings without reading the
//! pongs. Each server here is a raw in-process socket that lies or floods.

// Test helpers outside `#[test]` functions may unwrap too.

use futures_util::SinkExt;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telltale_model::duration::{ByteSize, Dur};
use telltale_model::feed::{
    BackoffConfig, CursorMode, LongPollOptions, PollOptions, SseOptions, WebsocketOptions,
};
use telltale_model::{ConnState, FeedConfig, TransportKind};
use telltale_sources::{long_poll, poll, sse, websocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::recorder;
use recorder::Run;

const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Harness

fn feed(transport: TransportKind, url: String) -> FeedConfig {
    let mut f = FeedConfig::new("bounds-test", transport, url);
    f.backoff = BackoffConfig {
        initial: Dur::millis(50),
        max: Dur::millis(200),
        reset_after: Dur::secs(30),
    };
    f
}

fn sse_feed(addr: SocketAddr, edit: impl FnOnce(&mut SseOptions)) -> FeedConfig {
    let mut f = feed(TransportKind::Sse, format!("http://{addr}/events"));
    let mut o = SseOptions::default();
    edit(&mut o);
    f.sse = Some(o);
    f
}

fn lp_feed(addr: SocketAddr, opts: LongPollOptions) -> FeedConfig {
    let mut f = feed(TransportKind::LongPoll, format!("http://{addr}/lp"));
    f.long_poll = Some(opts);
    f
}

fn lp_opts() -> LongPollOptions {
    LongPollOptions {
        hold: Dur::secs(2),
        cursor: CursorMode::None,
        ..LongPollOptions::default()
    }
}

/// A server whose every connection is handed to `handle` (with the
/// connection's number, from 0); it counts connections.
async fn raw_server<F, Fut>(handle: F) -> (SocketAddr, Arc<AtomicUsize>, JoinHandle<()>)
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let handle = Arc::new(handle);
    let task = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let handle = handle.clone();
            tokio::spawn(async move { handle(sock, n).await });
        }
    });
    (addr, count, task)
}

/// A server that answers every request `200 OK` with `body` (already
/// gzip-compressed), `Content-Encoding: gzip` and `content_type`, if any.
async fn gzip_server(
    body: Vec<u8>,
    content_type: Option<&'static str>,
) -> (SocketAddr, Arc<AtomicUsize>, JoinHandle<()>) {
    let body = Arc::new(body);
    raw_server(move |mut sock, _n| {
        let body = body.clone();
        async move {
            read_head(&mut sock).await;
            let mut headers = vec![("Content-Encoding", "gzip")];
            if let Some(t) = content_type {
                headers.insert(0, ("Content-Type", t));
            }
            respond(&mut sock, "200 OK", &headers, &body).await;
        }
    })
    .await
}

/// Reads a request head (up to the blank line).
async fn read_head(sock: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match sock.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Writes a whole response (closing the connection after it).
async fn respond(sock: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body).await;
    let _ = sock.flush().await;
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Gzip of `n` bytes of `byte` after `prefix`, compressed in blocks (a bomb:
/// a few hundred KiB that decode to `n` bytes).
fn gzip_bomb(prefix: &[u8], byte: u8, n: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(prefix).unwrap();
    let block = vec![byte; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        enc.write_all(&block[..k]).unwrap();
        left -= k;
    }
    enc.finish().unwrap()
}

fn notices(run: &Run, kind: &str) -> Vec<String> {
    run.issues()
        .into_iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, m)| m)
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Response headers within their own time limit

/// Sends a status line and then header bytes, one every 50 ms, for ever.
async fn trickle_headers(mut sock: TcpStream, _n: usize) {
    read_head(&mut sock).await;
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Pad: ";
    for b in head.iter().copied().chain(std::iter::repeat(b'a')) {
        if sock.write_all(&[b]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sse_headers_trickled_byte_by_byte_are_cut_at_the_header_timeout() {
    let (addr, conns, server) = raw_server(trickle_headers).await;
    // The read timeout (30 s) would be the only bound before.
    let f = sse_feed(addr, |o| {
        o.read_timeout = Dur::secs(30);
        o.header_timeout = Some(Dur::millis(500));
    });
    let mut run = Run::start(sse::run, f);
    run.until("a failed attempt", WAIT, |r| !r.retries().is_empty())
        .await;
    assert_eq!(
        run.retries()[0].2,
        "the server sent no complete response headers within 500ms (sse.header_timeout): reconnecting"
    );
    run.until("a second connection", WAIT, |_| {
        conns.load(Ordering::SeqCst) >= 2
    })
    .await;
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn long_poll_headers_trickled_byte_by_byte_are_cut_after_hold_and_header_timeout() {
    let (addr, _conns, server) = raw_server(trickle_headers).await;
    // The client timeout (60 s) would be the only bound before.
    let f = lp_feed(
        addr,
        LongPollOptions {
            hold: Dur::millis(300),
            timeout: Some(Dur::secs(60)),
            header_timeout: Some(Dur::millis(500)),
            ..lp_opts()
        },
    );
    let mut run = Run::start(long_poll::run, f);
    run.until("a failed attempt", WAIT, |r| !r.retries().is_empty())
        .await;
    let reason = &run.retries()[0].2;
    assert!(
        reason.contains("no complete response headers within 800ms"),
        "{reason}"
    );
    run.stop().await;
    server.abort();
}

// ---------------------------------------------------------------------------
// 2. Content-Encoding

#[tokio::test]
async fn a_gzip_long_poll_body_is_stored_decoded() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let (addr, _conns, server) = raw_server(move |mut sock, n| {
        let seen = seen.clone();
        async move {
            let head = read_head(&mut sock).await;
            seen.lock().unwrap().push(head);
            if n == 0 {
                let body = gzip(br#"{"cpu": 42}"#);
                let headers = [
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", "gzip"),
                ];
                respond(&mut sock, "200 OK", &headers, &body).await;
            } else {
                tokio::time::sleep(Duration::from_secs(2)).await;
                respond(&mut sock, "204 No Content", &[], b"").await;
            }
        }
    })
    .await;
    let mut run = Run::start(long_poll::run, lp_feed(addr, lp_opts()));
    run.until("a message", WAIT, |r| !r.messages().is_empty())
        .await;
    assert_eq!(&run.messages()[0].data[..], br#"{"cpu": 42}"#);
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        head.contains("accept-encoding") && head.contains("gzip"),
        "{head}"
    );
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_gzip_event_stream_is_parsed_decoded() {
    let body = gzip(b"id: 1\ndata: {\"cpu\": 7}\n\n");
    let (addr, _conns, server) = gzip_server(body, Some("text/event-stream")).await;
    let mut run = Run::start(sse::run, sse_feed(addr, |_| {}));
    run.until("a message", WAIT, |r| !r.messages().is_empty())
        .await;
    assert_eq!(&run.messages()[0].data[..], br#"{"cpu": 7}"#);
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_gzip_poll_body_is_stored_decoded() {
    let body = gzip(br#"{"up": true}"#);
    let (addr, _conns, server) = gzip_server(body, Some("application/json")).await;
    let mut f = feed(TransportKind::Poll, format!("http://{addr}/health"));
    f.poll = Some(PollOptions {
        interval: Dur::millis(300),
        timeout: Dur::secs(5),
        ..PollOptions::default()
    });
    let mut run = Run::start(|f, s, c| poll::run(f, s, c, false), f);
    run.until("a message", WAIT, |r| !r.messages().is_empty())
        .await;
    assert_eq!(&run.messages()[0].data[..], br#"{"up": true}"#);
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_long_poll_gzip_bomb_is_cut_at_the_body_cap() {
    // About 100 KiB that decode to 80 MiB: above the 64 MiB cap.
    let bomb = gzip_bomb(b"", b'0', 80 << 20);
    let (addr, _conns, server) = gzip_server(bomb, None).await;
    let mut run = Run::start(long_poll::run, lp_feed(addr, lp_opts()));
    // (A feed that delivers the compressed bytes floods the channel, which
    // `until`'s own deadline would never notice: give up on the clock.)
    let started = std::time::Instant::now();
    run.until("a failed attempt", Duration::from_secs(30), |r| {
        !r.retries().is_empty() || started.elapsed() > Duration::from_secs(30)
    })
    .await;
    assert!(!run.retries().is_empty(), "no failed attempt in 30 s");
    let reason = &run.retries()[0].2;
    assert!(reason.contains("larger than 64 MiB"), "{reason}");
    assert!(run.messages().is_empty(), "{}", run.summary());
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_poll_gzip_bomb_is_cut_at_the_body_cap() {
    // Decodes to 20 MiB: above poll's 16 MiB cap.
    let bomb = gzip_bomb(b"", b'0', 20 << 20);
    let (addr, _conns, server) = gzip_server(bomb, None).await;
    let mut f = feed(TransportKind::Poll, format!("http://{addr}/health"));
    f.poll = Some(PollOptions {
        interval: Dur::millis(300),
        timeout: Dur::secs(20),
        ..PollOptions::default()
    });
    let mut run = Run::start(|f, s, c| poll::run(f, s, c, false), f);
    run.until("an oversize issue", Duration::from_secs(30), |r| {
        !notices(r, "oversize").is_empty()
    })
    .await;
    let issue = &notices(&run, "oversize")[0];
    assert!(issue.contains("exceeds 16 MiB"), "{issue}");
    assert!(
        run.messages().iter().all(|m| m.event_type.is_some()),
        "the bomb was delivered as data: {}",
        run.summary()
    );
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn an_sse_gzip_bomb_line_is_cut_at_the_event_cap() {
    // One line that decodes to 20 MiB, never ended.
    let bomb = gzip_bomb(b"data: ", b'x', 20 << 20);
    let (addr, conns, server) = gzip_server(bomb, Some("text/event-stream")).await;
    let f = sse_feed(addr, |o| o.max_event_size = ByteSize(64 << 10));
    let mut run = Run::start(sse::run, f);
    run.until("an oversize issue and a reconnect", WAIT, |r| {
        !notices(r, "oversize").is_empty() && !r.retries().is_empty()
    })
    .await;
    assert!(notices(&run, "oversize")[0].contains("sse.max_event_size"));
    assert!(run.messages().is_empty(), "{}", run.summary());
    run.until("a second connection", WAIT, |_| {
        conns.load(Ordering::SeqCst) >= 2
    })
    .await;
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn an_unknown_content_encoding_is_refused_naming_it() {
    let (addr, _conns, server) = raw_server(|mut sock, _n| async move {
        read_head(&mut sock).await;
        let headers = [("Content-Encoding", "zstd")];
        respond(&mut sock, "200 OK", &headers, b"\x28\xb5\x2f\xfd garbled").await;
    })
    .await;
    let mut run = Run::start(long_poll::run, lp_feed(addr, lp_opts()));
    run.until("a failed state", WAIT, |r| {
        r.states()
            .iter()
            .any(|s| matches!(s, ConnState::Failed { .. }))
    })
    .await;
    let reason = run
        .states()
        .into_iter()
        .find_map(|s| match s {
            ConnState::Failed { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        reason.contains("`zstd`") && reason.contains("cannot decode"),
        "{reason}"
    );
    assert!(run.messages().is_empty(), "{}", run.summary());
    run.stop().await;
    server.abort();
}

// ---------------------------------------------------------------------------
// 3. An SSE line over the cap

#[tokio::test]
async fn an_sse_line_over_the_cap_is_reported_before_it_ends_and_the_connection_dropped() {
    let (addr, conns, server) = raw_server(|mut sock, _n| async move {
        read_head(&mut sock).await;
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: ";
        if sock.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        // A line that never ends.
        let block = vec![b'x'; 1024];
        while sock.write_all(&block).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let f = sse_feed(addr, |o| o.max_event_size = ByteSize(4096));
    let mut run = Run::start(sse::run, f);
    run.until("an oversize issue and a reconnect", WAIT, |r| {
        !notices(r, "oversize").is_empty() && !r.retries().is_empty()
    })
    .await;
    let issue = &notices(&run, "oversize")[0];
    assert!(
        issue.contains("without ending") && issue.contains("sse.max_event_size (4096 bytes)"),
        "{issue}"
    );
    run.until("a second connection", WAIT, |_| {
        conns.load(Ordering::SeqCst) >= 2
    })
    .await;
    run.stop().await;
    server.abort();
}

// ---------------------------------------------------------------------------
// 4. Long-poll pacing

#[tokio::test]
async fn a_long_poll_the_server_does_not_hold_is_paced_and_reported() {
    let (addr, requests, server) = raw_server(|mut sock, _n| async move {
        read_head(&mut sock).await;
        respond(&mut sock, "200 OK", &[], br#"{"x": 1}"#).await;
    })
    .await;
    let mut run = Run::start(long_poll::run, lp_feed(addr, lp_opts()));
    run.during(Duration::from_secs(3)).await;
    let n = requests.load(Ordering::SeqCst);
    // Unpaced, this is hundreds; paced, about a dozen.
    assert!(n < 50, "{n} requests in 3 s");
    assert!(n >= 2, "{n} requests in 3 s");
    let not_held = notices(&run, "not_held");
    assert_eq!(not_held.len(), 1, "{}", run.summary());
    assert!(
        not_held[0].contains("not held by the server"),
        "{}",
        not_held[0]
    );
    // A notice, not an error.
    assert_eq!(run.counters.errors.load(Ordering::Relaxed), 0);
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_long_poll_the_server_holds_is_not_paced() {
    let (addr, requests, server) = raw_server(|mut sock, _n| async move {
        read_head(&mut sock).await;
        // Held for a while (a fifth of `hold`), then news.
        tokio::time::sleep(Duration::from_millis(400)).await;
        respond(&mut sock, "200 OK", &[], br#"{"x": 1}"#).await;
    })
    .await;
    let mut run = Run::start(long_poll::run, lp_feed(addr, lp_opts()));
    run.during(Duration::from_secs(3)).await;
    assert!(notices(&run, "not_held").is_empty(), "{}", run.summary());
    assert!(requests.load(Ordering::SeqCst) >= 3);
    run.stop().await;
    server.abort();
}

// ---------------------------------------------------------------------------
// 5. Long-poll items cap

#[tokio::test]
async fn long_poll_items_beyond_max_items_are_dropped_and_reported() {
    let items: Vec<String> = (0..50_000).map(|i| format!("{{\"n\":{i}}}")).collect();
    let body = Arc::new(format!("{{\"events\":[{}]}}", items.join(",")));
    let (addr, _conns, server) = raw_server(move |mut sock, n| {
        let body = body.clone();
        async move {
            read_head(&mut sock).await;
            if n == 0 {
                respond(&mut sock, "200 OK", &[], body.as_bytes()).await;
            } else {
                tokio::time::sleep(Duration::from_secs(2)).await;
                respond(&mut sock, "204 No Content", &[], b"").await;
            }
        }
    })
    .await;
    let f = lp_feed(
        addr,
        LongPollOptions {
            items: Some("/events".into()),
            max_items: Some(1000),
            ..lp_opts()
        },
    );
    let mut run = Run::start(long_poll::run, f);
    run.until("an oversize issue", WAIT, |r| {
        !notices(r, "oversize").is_empty()
    })
    .await;
    // Nothing more comes from that response.
    run.during(Duration::from_millis(500)).await;
    assert_eq!(run.messages().len(), 1000);
    assert_eq!(&run.messages()[0].data[..], br#"{"n":0}"#);
    assert_eq!(&run.messages()[999].data[..], br#"{"n":999}"#);
    let issue = &notices(&run, "oversize")[0];
    assert!(
        issue.contains("50000 items") && issue.contains("long_poll.max_items"),
        "{issue}"
    );
    run.stop().await;
    server.abort();
}

// ---------------------------------------------------------------------------
// 6. WebSocket ping flood

#[tokio::test]
async fn a_websocket_server_that_floods_pings_and_never_reads_pongs_is_dropped() {
    let (addr, conns, server) = raw_server(|sock, _n| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(sock).await else {
            return;
        };
        let payload = bytes::Bytes::from(vec![b'p'; 125]);
        // Never reads: the client's pongs pile up in the socket.
        while ws
            .feed(tokio_tungstenite::tungstenite::Message::Ping(
                payload.clone(),
            ))
            .await
            .is_ok()
        {}
    })
    .await;
    let mut f = feed(TransportKind::Websocket, format!("ws://{addr}/"));
    // Keepalive far away: only the pong backlog can end the connection.
    f.websocket = Some(WebsocketOptions {
        ping_interval: Dur::secs(60),
        pong_timeout: Dur::secs(60),
        ..WebsocketOptions::default()
    });
    let mut run = Run::start(websocket::run, f);
    run.until("a failed connection", Duration::from_secs(30), |r| {
        !r.retries().is_empty()
    })
    .await;
    let reason = &run.retries()[0].2;
    assert!(
        reason.contains("sends pings but does not read our pongs"),
        "{reason}"
    );
    run.until("a second connection", WAIT, |_| {
        conns.load(Ordering::SeqCst) >= 2
    })
    .await;
    run.stop().await;
    server.abort();
}
