//! The WebSocket transport.
//!
//! One task per feed runs this loop until cancelled:
//!
//! 1. Build the handshake request from the feed's URL, its headers (with
//!    `${ENV}` expanded now, see [`crate::http_common::feed_headers`]) and
//!    `Sec-WebSocket-Protocol` from `websocket.subprotocols` (comma-joined).
//! 2. Report [`ConnState::Connecting`] and connect, with a
//!    [`CONNECT_TIMEOUT`] for TCP + TLS + handshake together. Both
//!    `max_message_size` and `max_frame_size` are set to
//!    `websocket.max_message_size`.
//! 3. After the handshake, report [`ConnState::Live`], tell the backoff that
//!    we are connected (a connection that stays up for `backoff.reset_after`,
//!    or that delivers a message, resets the attempt count), and send every
//!    `websocket.subscribe` string as a text message — after *every*
//!    (re)connect, with `{last_id}` replaced by the id of the last message
//!    received (see below).
//! 4. Read in a single `tokio::select!` over the socket, the ping timer and
//!    cancellation:
//!    * text frames become a [`RawMessage`] with `event_type = None`;
//!      binary frames one with `event_type = Some("binary")`. Payloads are
//!      passed on unchecked: a malformed payload is the pipeline's to flag.
//!    * pings are answered by tungstenite (the pong is flushed on the next
//!      read, which the loop always performs); pongs are reported as
//!      [`Sink::activity`](crate::Sink::activity). Unwritten bytes are
//!      bounded by [`MAX_WRITE_BUFFER`]: a server that floods pings and
//!      never reads the pongs gets its connection dropped (and retried with
//!      the backoff) rather than a queue that grows without bound.
//!    * keepalive: a ping every `websocket.ping_interval`; if neither a pong
//!      nor any other frame arrives within `websocket.pong_timeout` of the
//!      oldest unanswered ping, the peer is presumed dead and the socket is
//!      dropped.
//! 5. Whatever ends a connection — close frame, dropped TCP connection,
//!    oversize message, protocol error, dead peer — ends in
//!    [`ConnState::Retrying`] with a human reason and a delay from
//!    [`Backoff`]; then back to 1. Close frames are also recorded as a
//!    `close` issue (code, its meaning and the server's reason); oversize
//!    messages as an `oversize` issue; text frames that are not UTF-8 as a
//!    `malformed` issue.
//!
//! **Servers that replay on reconnect**: with `websocket.id_pointer` set,
//! each message's id is read at that JSON pointer (it becomes the message's
//! `server_id`); a message whose id was already received (among the last
//! [`crate::replay::WINDOW`]) is dropped, counted in
//! [`crate::FeedCounters::duplicates`] and summed up in a `replay` issue
//! (not an error); the others are delivered in the order they came. See
//! [`crate::replay`].
//!
//! On cancellation a Close frame (1000, "telltale stopping") is sent on a
//! best-effort basis, bounded by [`CLOSE_TIMEOUT`].
//!
//! **Configuration errors** (an unparsable URL, a header referencing an unset
//! environment variable, a subprotocol list HTTP cannot carry) cannot be fixed
//! by retrying the connection. They are reported as [`ConnState::Failed`]
//! with the reason, and re-checked every `backoff.max` (the environment may
//! get fixed); the repeated identical `Failed` state is suppressed by the
//! sink, so the timeline shows it once. Nothing is connected meanwhile.
//!
//! Header values are never logged or reported: reasons name headers, hosts
//! and ports only (never the URL's query string or credentials).
//!
//! **GraphQL subscriptions** (`transport = "graphql"`) and **Socket.IO**
//! (`transport = "socketio"`) run this same loop with a protocol hook
//! ([`crate::graphql`], [`crate::socketio`]): its opening exchange
//! (`connection_init` and ack, or Engine.IO open and namespace connect)
//! happens between the handshake and `live`, and it reads every text
//! frame ([`Action`]).

mod describe;
mod hook;
mod polling;

use crate::ended::{config_failed, wait_after, Ended};
use crate::replay::{Replay, Verdict};
use crate::SetupError;
use crate::Sink;
use describe::{describe_connect_error, describe_io_error, format_size};
use futures_util::{SinkExt, StreamExt};
pub(crate) use hook::Action;
use hook::{closed, Hook, Opener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use telltale_model::duration::format_duration;
use telltale_model::feed::WebsocketOptions;
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage, Timestamp, TransportKind};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Read buffer per connection (tungstenite's default is 128 KiB).
const READ_BUFFER: usize = 16 * 1024;

/// Most bytes waiting to be written (pongs, pings, subscriptions) before the
/// connection is given up. A server that floods pings and never reads the
/// pongs would otherwise grow the client without bound: tungstenite queues
/// every pong it cannot write.
pub const MAX_WRITE_BUFFER: usize = 1 << 20;

/// Bound on TCP connect + TLS + WebSocket handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on sending our Close frame when stopping or abandoning a socket.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Bound on sending one small control or subscribe message. A peer whose
/// receive window stays closed this long is as good as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs a WebSocket feed until `cancel` fires. See the module doc.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    let opts = match feed.transport {
        TransportKind::Graphql => crate::graphql::socket_options(&feed.graphql_options()),
        TransportKind::Socketio => crate::socketio::socket_options(&feed.socketio_options()),
        _ => feed.websocket_options(),
    };
    let mut backoff = Backoff::new(&feed.backoff);
    let mut replay = Replay::new(opts.id_pointer.clone());
    let target = Target::of(&feed.url);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let prepared = Opener::of(&feed).and_then(|(url, opener)| {
            let request = build_request(&feed, &url, &opts)?;
            let proxy = {
                let uri = request.uri();
                let tls = uri.scheme_str() == Some("wss");
                crate::proxy::for_host(&feed, tls, uri.host().unwrap_or_default())?
            };
            Ok((
                request,
                opener,
                crate::feed_tls::connector_for(&feed)?,
                proxy,
            ))
        });
        let (request, opener, tls, proxy) = match prepared {
            Ok(r) => r,
            Err(e) => {
                if !config_failed(e.to_string(), &feed, &sink, &cancel).await {
                    return;
                }
                continue;
            }
        };
        sink.state(ConnState::Connecting).await;
        let link = Link {
            opts: &opts,
            opener,
            tls,
            proxy,
            target: &target,
            sink: &sink,
            cancel: &cancel,
        };
        let ended = match polling_mode(&feed) {
            Some(upgrade) => {
                polling::connection(&feed, &link, &mut backoff, &mut replay, upgrade).await
            }
            None => connection(request, &link, &mut backoff, &mut replay).await,
        };
        if !wait_after(ended, &mut backoff, &sink, &cancel).await {
            return;
        }
    }
}

/// For a Socket.IO feed on long-polling: whether it upgrades to WebSocket.
fn polling_mode(feed: &FeedConfig) -> Option<bool> {
    use telltale_model::socketio::SocketioTransport;
    if feed.transport != TransportKind::Socketio {
        return None;
    }
    match feed.socketio_options().transport {
        SocketioTransport::Websocket => None,
        SocketioTransport::Polling => Some(false),
        SocketioTransport::Auto => Some(true),
    }
}

/// The feed's URL in a form safe to show: `host:port` only.
struct Target {
    host_port: String,
}

impl Target {
    fn of(url: &str) -> Target {
        let host_port = match url::Url::parse(url) {
            Ok(u) => match (u.host_str(), u.port_or_known_default()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => "the server".to_string(),
            },
            Err(_) => "the server".to_string(),
        };
        Target { host_port }
    }
}

/// Builds the handshake request to `raw` (the feed's URL, or what the
/// protocol makes of it); errors are configuration errors.
fn build_request(
    feed: &FeedConfig,
    raw: &str,
    opts: &WebsocketOptions,
) -> Result<Request, SetupError> {
    let url = url::Url::parse(raw).map_err(|e| SetupError::url(raw, e))?;
    if !matches!(url.scheme(), "ws" | "wss") {
        return Err(SetupError::Scheme {
            transport: "WebSocket",
            scheme: url.scheme().to_string(),
            expected: "`ws://` or `wss://`",
        });
    }
    let mut request = raw
        .into_client_request()
        .map_err(|e| SetupError::url(raw, e))?;
    let headers = crate::http_common::feed_headers(feed)?;
    for (name, value) in headers.iter() {
        // `insert` per name: the handshake's own headers (key, version,
        // upgrade) stay as tungstenite generated them unless overridden.
        request.headers_mut().insert(name.clone(), value.clone());
    }
    if !opts.subprotocols.is_empty() {
        let joined = opts.subprotocols.join(", ");
        let value = http::HeaderValue::from_str(&joined).map_err(|_| SetupError::Subprotocols)?;
        request
            .headers_mut()
            .insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    Ok(request)
}

/// What one connection needs from its feed.
struct Link<'a> {
    opts: &'a WebsocketOptions,
    /// The protocol spoken over the socket, if any.
    opener: Opener,
    /// The feed's own TLS settings (`[feed.tls]`), if any.
    tls: Option<native_tls::TlsConnector>,
    /// The HTTP proxy to tunnel through, if any (`crate::proxy`).
    proxy: Option<crate::proxy::Proxy>,
    target: &'a Target,
    sink: &'a Sink,
    cancel: &'a CancellationToken,
}

/// One connection: connect, open the protocol (if any), subscribe, read
/// until it ends.
async fn connection(
    request: Request,
    link: &Link<'_>,
    backoff: &mut Backoff,
    replay: &mut Replay,
) -> Ended {
    let Link {
        opts,
        target,
        sink,
        cancel,
        ..
    } = *link;
    let (mut ws, response) = match dial(request, link).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    let session = match &link.opener {
        Opener::Plain => None,
        opener => {
            let picked = response
                .headers()
                .get(http::header::SEC_WEBSOCKET_PROTOCOL)
                .and_then(|v| v.to_str().ok());
            let open = opener.open(&mut ws, picked, target);
            let opened = tokio::select! {
                _ = cancel.cancelled() => return close_for_cancel(ws).await,
                r = tokio::time::timeout(CONNECT_TIMEOUT, open) => r,
            };
            match opened {
                Ok(Ok(s)) => Some(s),
                Ok(Err(e)) => return e,
                Err(_) => {
                    return Ended::Retry(format!(
                        "no {} from {} within {}",
                        link.opener.awaited(),
                        target.host_port,
                        format_duration(CONNECT_TIMEOUT)
                    ))
                }
            }
        }
    };
    sink.state(ConnState::Live).await;
    backoff.connected();

    for text in &opts.subscribe {
        let text = replay.expand(text);
        let sent = tokio::select! {
            _ = cancel.cancelled() => return close_for_cancel(ws).await,
            r = send_text(&mut ws, text, target) => r,
        };
        if let Err(e) = sent {
            return e;
        }
    }

    let before = sink.counters().messages.load(Ordering::Relaxed);
    let ended = read_loop(ws, link, session.as_ref(), replay).await;
    report_dropped(replay, sink).await;
    if sink.counters().messages.load(Ordering::Relaxed) != before {
        // The connection delivered data: healthy, whatever ended it. The
        // next reconnect starts the backoff over.
        backoff.delivered();
    }
    ended
}

/// Connects and shakes hands, with [`CONNECT_TIMEOUT`] for it all and the
/// socket limits of `opts`.
async fn dial(
    request: Request,
    link: &Link<'_>,
) -> Result<
    (
        Ws,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    Ended,
> {
    let Link {
        opts,
        target,
        sink,
        cancel,
        ..
    } = link;
    let max = usize::try_from(opts.max_message_size.0).unwrap_or(usize::MAX);
    // tungstenite allocates a 128 KiB read buffer per connection up front
    // and buffers writes up to 128 KiB; with hundreds of feeds that is most
    // of the process's memory. Health messages are small: 16 KiB still
    // reads dozens per syscall, and our writes (subscriptions, pongs) are
    // few and small, so they go out at once.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let connector = link
        .tls
        .clone()
        .map(tokio_tungstenite::Connector::NativeTls);
    /// Why a connection attempt failed: the tunnel, or the handshake.
    enum Failed {
        Tunnel(Ended),
        Ws(WsError),
    }
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, async {
        match &link.proxy {
            None => tokio_tungstenite::connect_async_tls_with_config(
                request,
                Some(config),
                true,
                connector,
            )
            .await
            .map_err(Failed::Ws),
            Some(proxy) => {
                let uri = request.uri();
                let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
                let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                    Some("wss") => 443,
                    _ => 80,
                });
                let stream = crate::proxy::tunnel(proxy, host, port, CONNECT_TIMEOUT)
                    .await
                    .map_err(Failed::Tunnel)?;
                tokio_tungstenite::client_async_tls_with_config(
                    request,
                    stream,
                    Some(config),
                    connector,
                )
                .await
                .map_err(Failed::Ws)
            }
        }
    });
    let ws = tokio::select! {
        _ = cancel.cancelled() => return Err(Ended::Cancelled),
        r = connect => match r {
            Err(_) => {
                return Err(Ended::Retry(format!(
                    "no WebSocket handshake with {} within {}",
                    target.host_port,
                    format_duration(CONNECT_TIMEOUT)
                )))
            }
            Ok(Err(Failed::Tunnel(e))) => return Err(e),
            Ok(Err(Failed::Ws(e))) => {
                let reason = describe_connect_error(&e, target, opts);
                return Err(match &e {
                    WsError::Http(resp)
                        if crate::http_common::is_configuration_status(resp.status()) =>
                    {
                        Ended::RetrySlowly(reason)
                    }
                    _ => Ended::Retry(reason),
                });
            }
            Ok(Ok((ws, response))) => (ws, response),
        },
    };
    if let MaybeTlsStream::NativeTls(tls) = ws.0.get_ref() {
        if let Ok(Some(cert)) = tls.get_ref().peer_certificate() {
            if let Ok(der) = cert.to_der() {
                sink.peer_certificate(&der);
            }
        }
    }
    Ok(ws)
}

/// Sends one small text message (a subscription, a GraphQL control
/// message), bounded by [`WRITE_TIMEOUT`].
async fn send_text(ws: &mut Ws, text: String, target: &Target) -> Result<(), Ended> {
    match tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Ended::Retry(format!(
            "could not send a message to {}: {}",
            target.host_port,
            describe_io_error(&e, target)
        ))),
        Err(_) => Err(Ended::Retry(format!(
            "could not send a message to {} within {}: peer presumed dead",
            target.host_port,
            format_duration(WRITE_TIMEOUT)
        ))),
    }
}

/// Reads until the connection ends or `cancel` fires.
async fn read_loop(
    mut ws: Ws,
    link: &Link<'_>,
    session: Option<&Hook>,
    replay: &mut Replay,
) -> Ended {
    let Link {
        opts,
        target,
        sink,
        cancel,
        ..
    } = *link;
    // A zero interval would make `interval_at` panic; config validation
    // rejects < 100 ms anyway.
    let ping_every = opts.ping_interval.0.max(Duration::from_millis(10));
    let pong_timeout = opts.pong_timeout.0.max(Duration::from_millis(1));
    let mut ping_timer = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The deadline for an answer to the oldest unanswered ping.
    let mut answer_by: Option<Instant> = None;
    // Bytes of pongs owed since the socket last took everything we wrote.
    let mut pong_backlog: usize = 0;

    loop {
        tokio::select! {
            // Biased: frames already received are always read before the
            // pong deadline is judged (the loop may have been held up by a
            // full pipeline queue while the pong sat in the socket buffer).
            biased;
            _ = cancel.cancelled() => return close_for_cancel(ws).await,
            frame = ws.next() => {
                let frame = match frame {
                    None => {
                        return Ended::Retry(format!(
                            "connection to {} dropped without a close frame",
                            target.host_port
                        ))
                    }
                    Some(Err(e)) => return ended_by_error(e, ws, opts, target, sink).await,
                    Some(Ok(frame)) => frame,
                };
                // Any frame proves the peer alive.
                answer_by = None;
                match frame {
                    Message::Text(text) => match session.map(|s| s.on_text(&text)) {
                        None => deliver(raw(bytes::Bytes::from(text), None), replay, sink).await,
                        Some(Action::Deliver(m)) => deliver(m, replay, sink).await,
                        Some(Action::DeliverWithIssue(m, errors)) => {
                            sink.issue("graphql", format!("the result has errors: {errors}")).await;
                            deliver(m, replay, sink).await
                        }
                        Some(Action::DeliverAndReply(m, reply)) => {
                            deliver(m, replay, sink).await;
                            if let Err(e) = send_text(&mut ws, reply, target).await {
                                return e;
                            }
                        }
                        Some(Action::Issue(kind, text)) => sink.issue(kind, text).await,
                        Some(Action::Reply(reply)) => {
                            sink.activity();
                            if let Err(e) = send_text(&mut ws, reply, target).await {
                                return e;
                            }
                        }
                        Some(Action::Nothing) => sink.activity(),
                        Some(Action::End(e)) => {
                            let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(None)).await;
                            return e;
                        }
                    },
                    Message::Binary(data) => {
                        deliver(raw(data, Some("binary".to_string())), replay, sink).await
                    }
                    // tungstenite queued the pong; the next read flushes it.
                    Message::Ping(payload) => {
                        sink.activity();
                        // Pong frame: 2 header bytes, 4 mask bytes, payload.
                        pong_backlog = pong_backlog.saturating_add(payload.len() + 6);
                        if let Some(reason) = pongs_stuck(&mut ws, &mut pong_backlog, target) {
                            return reason;
                        }
                    }
                    Message::Pong(_) => sink.activity(),
                    Message::Close(frame) => {
                        let ended = closed(frame.as_ref(), session.is_some_and(Hook::is_graphql));
                        let (Ended::Retry(what) | Ended::RetrySlowly(what)) = &ended else {
                            return ended;
                        };
                        sink.issue("close", what.clone()).await;
                        // Completes the closing handshake (flushes our reply).
                        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(None)).await;
                        return ended;
                    }
                    Message::Frame(_) => {}
                }
            }
            _ = tokio::time::sleep_until(answer_by.unwrap_or_else(Instant::now)), if answer_by.is_some() => {
                return Ended::Retry(format!(
                    "no pong within {} of ping: peer presumed dead",
                    format_duration(pong_timeout)
                ));
            }
            _ = ping_timer.tick() => {
                let bound = WRITE_TIMEOUT.min(pong_timeout);
                match tokio::time::timeout(bound, ws.send(Message::Ping(bytes::Bytes::new()))).await {
                    Ok(Ok(())) => {
                        if answer_by.is_none() {
                            answer_by = Some(Instant::now() + pong_timeout);
                        }
                    }
                    Ok(Err(e)) => return ended_by_error(e, ws, opts, target, sink).await,
                    Err(_) => {
                        return Ended::Retry(format!(
                            "could not send a ping within {}: peer presumed dead",
                            format_duration(bound)
                        ));
                    }
                }
            }
        }
    }
}

/// Delivers a message unless it is a replay of one already received.
async fn deliver(mut m: RawMessage, replay: &mut Replay, sink: &Sink) {
    match replay.check(&m.data) {
        Verdict::Duplicate => {
            sink.counters().duplicates.fetch_add(1, Ordering::Relaxed);
            sink.activity();
        }
        Verdict::Deliver(id) => {
            // The first new message after a replay: say what was dropped.
            report_dropped(replay, sink).await;
            m.server_id = id;
            sink.message(m).await;
        }
    }
}

/// Records the replayed messages dropped since the last report, if any.
async fn report_dropped(replay: &mut Replay, sink: &Sink) {
    let n = replay.take_dropped();
    if n > 0 {
        sink.notice(
            "replay",
            format!(
                "dropped {n} replayed message{} already received (same id at websocket.id_pointer)",
                if n == 1 { "" } else { "s" }
            ),
        )
        .await;
    }
}

fn raw(data: bytes::Bytes, event_type: Option<String>) -> RawMessage {
    RawMessage {
        received_at: Timestamp::now(),
        server_id: None,
        event_type,
        data,
        transport_metrics: Vec::new(),
        labels: Vec::new(),
    }
}

/// Sends a Close frame, best effort, then reports cancellation.
async fn close_for_cancel(mut ws: Ws) -> Ended {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "telltale stopping".into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
    Ended::Cancelled
}

/// After a ping: tries to write what is owed without waiting. A server
/// that floods pings and never reads our pongs would make them queue
/// without bound (tungstenite's write buffer is capped at
/// [`MAX_WRITE_BUFFER`], which keeps memory bounded but the connection
/// useless): once more than that is owed, the connection is given up.
fn pongs_stuck(ws: &mut Ws, backlog: &mut usize, target: &Target) -> Option<Ended> {
    use futures_util::FutureExt;
    match ws.flush().now_or_never() {
        Some(Ok(())) => {
            *backlog = 0;
            None
        }
        Some(Err(e)) => Some(Ended::Retry(describe_io_error(&e, target))),
        None if *backlog > MAX_WRITE_BUFFER => Some(Ended::Retry(format!(
            "{} sends pings but does not read our pongs: more than {} of pongs waiting to be written; dropped the connection",
            target.host_port,
            format_size(MAX_WRITE_BUFFER as u64)
        ))),
        None => None,
    }
}

/// Turns a read/write error into a retry reason, recording issues where the
/// error is about the data rather than the connection.
async fn ended_by_error(
    e: WsError,
    mut ws: Ws,
    opts: &WebsocketOptions,
    target: &Target,
    sink: &Sink,
) -> Ended {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { size, .. }) => {
            let msg = format!(
                "message of {size} bytes exceeds websocket.max_message_size ({}); raise it if this is expected",
                format_size(opts.max_message_size.0)
            );
            sink.issue("oversize", msg.clone()).await;
            let frame = CloseFrame {
                code: CloseCode::Size,
                reason: "message too big".into(),
            };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
            Ended::Retry(msg)
        }
        WsError::Utf8 => {
            let msg = format!(
                "{} sent a text frame that is not valid UTF-8",
                target.host_port
            );
            sink.issue("malformed", msg.clone()).await;
            Ended::Retry(msg)
        }
        other => Ended::Retry(describe_io_error(&other, target)),
    }
}

#[cfg(test)]
mod tests {
    use super::describe::describe_close;
    use super::*;

    #[test]
    fn close_descriptions_are_human() {
        let f = CloseFrame {
            code: CloseCode::from(1011),
            reason: "db down".into(),
        };
        assert_eq!(
            describe_close(Some(&f)),
            "server closed with code 1011 (internal error): db down"
        );
        let f = CloseFrame {
            code: CloseCode::from(4321),
            reason: "".into(),
        };
        assert_eq!(
            describe_close(Some(&f)),
            "server closed with code 4321 (private application code)"
        );
        assert_eq!(describe_close(None), "server closed without a status code");
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(format_size(16 << 20), "16 MiB");
        assert_eq!(format_size(1024), "1 KiB");
        assert_eq!(format_size(1500), "1500 bytes");
    }

    #[test]
    fn targets_never_show_credentials_or_query() {
        let t = Target::of("wss://user:pw@example.com/feed?token=abc");
        assert_eq!(t.host_port, "example.com:443");
    }

    #[test]
    fn config_errors_name_the_problem() {
        let mut feed = FeedConfig::new(
            "f",
            telltale_model::TransportKind::Websocket,
            "http://127.0.0.1:1/x",
        );
        let opts = WebsocketOptions::default();
        let e = build_request(&feed, &feed.url, &opts)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not `http://`"), "{e}");
        feed.url = "ws://127.0.0.1:1/x".into();
        feed.headers.insert(
            "Authorization".into(),
            "Bearer ${TELLTALE_SECRET_WS_UNIT_TEST_UNSET}".into(),
        );
        let e = build_request(&feed, &feed.url, &opts)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("invalid header: header `Authorization`")
                && e.contains("TELLTALE_SECRET_WS_UNIT_TEST_UNSET"),
            "{e}"
        );
    }
}
