//! Socket.IO over Engine.IO 4's HTTP long-polling (`socketio.transport =
//! "polling"`), and its upgrade to WebSocket (`"auto"`), for servers behind
//! proxies that block WebSocket.
//!
//! 1. `GET …/socket.io/?EIO=4&transport=polling` answers the Engine.IO
//!    `open` packet: the session id (`sid`), the upgrades the server
//!    offers, and its ping interval and timeout.
//! 2. The namespace `CONNECT` is `POST`ed (`&sid=…`); long polls (`GET`,
//!    held by the server until it has packets) read until the server's
//!    `CONNECT` comes back: the feed is `live`.
//! 3. With `auto`, when the server offers `websocket`, a WebSocket to the
//!    same session probes (`2probe`, answered `3probe`) and upgrades (`5`);
//!    the session then runs on the WebSocket loop of [`super::read_loop`].
//!    A failed upgrade (a proxy that refuses it) is a notice, and the feed
//!    stays on polling.
//! 4. Otherwise long polls go on: each payload's packets (separated by
//!    `0x1e`) go through the same protocol hook as WebSocket frames; pongs
//!    and acknowledgements are `POST`ed. The server pings every
//!    `pingInterval`, so a long poll unanswered for `pingInterval +
//!    pingTimeout` means a dead peer. A session the server no longer knows
//!    (`Session ID unknown`, e.g. after its restart) is a reconnect.
//!
//! Binary attachments arrive as base64 packets (`b…`) after their event's
//! header: the header is counted as a skipped binary event (as on
//! WebSocket) and the attachments are dropped.

use super::hook::{Action, Hook, Opener};
use super::{build_request, deliver, dial, read_loop, report_dropped, send_text, Link, Target};
use super::{Ws, CONNECT_TIMEOUT, WRITE_TIMEOUT};
use crate::ended::Ended;
use crate::http_common;
use crate::replay::Replay;
use crate::socketio::Session;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode};
use std::sync::atomic::Ordering;
use std::time::Duration;
use telltale_model::duration::format_duration;
use telltale_model::{Backoff, ConnState, FeedConfig};
use tokio_tungstenite::tungstenite::Message;

/// Separates packets in a polling payload.
const SEPARATOR: char = '\x1e';

/// Added to the server's `pingInterval + pingTimeout` before a long poll
/// is given up.
const SLACK: Duration = Duration::from_secs(5);

/// What the server's `open` packet says.
#[derive(Debug, PartialEq)]
struct Open {
    sid: String,
    upgrades: Vec<String>,
    ping_interval: Duration,
    ping_timeout: Duration,
}

/// `0{"sid":…,"upgrades":[…],"pingInterval":…,"pingTimeout":…}`.
fn parse_open(packet: &str) -> Option<Open> {
    let v: serde_json::Value = serde_json::from_str(packet.strip_prefix('0')?).ok()?;
    let ms = |k: &str, default: u64| Duration::from_millis(v[k].as_u64().unwrap_or(default));
    Some(Open {
        sid: v["sid"].as_str()?.to_string(),
        upgrades: v["upgrades"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        ping_interval: ms("pingInterval", 25_000),
        ping_timeout: ms("pingTimeout", 20_000),
    })
}

/// An Engine.IO 3 payload (Socket.IO 2) frames each packet as
/// `<length>:<packet>`.
fn is_engine_io_3(body: &str) -> bool {
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && body[digits..].starts_with(':')
}

/// Why a body could not be read.
enum BodyError {
    Http(reqwest::Error),
    Ended(Ended),
}

/// The polling side of one Engine.IO session.
struct Poller<'a> {
    client: reqwest::Client,
    url: url::Url,
    headers: HeaderMap,
    target: &'a Target,
    max: usize,
}

impl Poller<'_> {
    fn with_sid(&mut self, sid: &str) {
        self.url.query_pairs_mut().append_pair("sid", sid);
    }

    /// One long poll: the payload, or how the session ended.
    async fn get(&self, wait: Duration) -> Result<String, Ended> {
        let request = self
            .client
            .get(self.url.clone())
            .headers(self.headers.clone())
            .timeout(wait);
        let dead = |e: &reqwest::Error| {
            if e.is_timeout() {
                Ended::Retry(format!(
                    "no long-poll answer from {} within {}: peer presumed dead",
                    self.target.host_port,
                    format_duration(wait)
                ))
            } else {
                self.failed("long poll", e)
            }
        };
        let response = request.send().await.map_err(|e| dead(&e))?;
        let status = response.status();
        let body = self.body(response).await.map_err(|e| match e {
            BodyError::Http(e) => dead(&e),
            BodyError::Ended(e) => e,
        })?;
        if status == StatusCode::OK {
            return Ok(body);
        }
        Err(self.refused(status, &body))
    }

    /// Sends packets (a `CONNECT`, a pong, an acknowledgement).
    async fn post(&self, packets: &str) -> Result<(), Ended> {
        let request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain;charset=UTF-8"),
            )
            .body(packets.to_string())
            .timeout(WRITE_TIMEOUT);
        let response = request.send().await.map_err(|e| self.failed("post", &e))?;
        let status = response.status();
        let body = self.body(response).await.map_err(|e| match e {
            BodyError::Http(e) => self.failed("post", &e),
            BodyError::Ended(e) => e,
        })?;
        if status == StatusCode::OK {
            return Ok(());
        }
        Err(self.refused(status, &body))
    }

    async fn body(&self, mut response: reqwest::Response) -> Result<String, BodyError> {
        let mut buf = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(BodyError::Http)? {
            if buf.len() + chunk.len() > self.max {
                return Err(BodyError::Ended(Ended::Retry(format!(
                    "a long-polling payload from {} is over socketio.max_message_size ({} bytes)",
                    self.target.host_port, self.max
                ))));
            }
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf).map_err(|_| {
            BodyError::Ended(Ended::Retry(format!(
                "{} sent a long-polling payload that is not UTF-8: binary payloads are Engine.IO 3's; Telltale speaks Socket.IO 3 and 4",
                self.target.host_port
            )))
        })
    }

    fn failed(&self, what: &str, e: &reqwest::Error) -> Ended {
        Ended::Retry(format!(
            "{what} to {} failed: {}",
            self.target.host_port,
            http_common::describe(e)
        ))
    }

    /// A status other than 200, with Engine.IO's `{"code","message"}` body.
    fn refused(&self, status: StatusCode, body: &str) -> Ended {
        let host = &self.target.host_port;
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string));
        match message.as_deref() {
            Some("Transport unknown") => Ended::RetrySlowly(format!(
                "{host} does not allow HTTP long-polling (Transport unknown): set socketio.transport = \"websocket\""
            )),
            Some("Session ID unknown") => Ended::Retry(format!(
                "{host} no longer knows this Engine.IO session (Session ID unknown; did it restart?)"
            )),
            Some("Unsupported protocol version") => Ended::RetrySlowly(format!(
                "{host} does not speak Engine.IO 4 (Unsupported protocol version): Telltale speaks Socket.IO 3 and 4"
            )),
            _ if status.is_redirection() => Ended::RetrySlowly(format!(
                "{host} answered {status} (a redirect): redirects are not followed for Socket.IO, put the final URL in the feed"
            )),
            other => {
                let why = other.map_or(String::new(), |m| format!(": {m}"));
                let what = format!("{host} answered {status} to Engine.IO long-polling{why}");
                if http_common::is_configuration_status(status) {
                    Ended::RetrySlowly(what)
                } else {
                    Ended::Retry(what)
                }
            }
        }
    }
}

/// How the polling part of a session ended.
enum Outcome {
    Ended(Ended),
    /// Upgraded: the session goes on on this WebSocket.
    Upgraded(Box<(Ws, Session)>),
}

impl From<Ended> for Outcome {
    fn from(e: Ended) -> Self {
        Outcome::Ended(e)
    }
}

/// One Engine.IO session over long-polling, upgraded to WebSocket when
/// `upgrade` and the server allow.
pub(super) async fn connection(
    feed: &FeedConfig,
    link: &Link<'_>,
    backoff: &mut Backoff,
    replay: &mut Replay,
    upgrade: bool,
) -> Ended {
    let sink = link.sink;
    let before = sink.counters().messages.load(Ordering::Relaxed);
    let outcome = tokio::select! {
        _ = link.cancel.cancelled() => Outcome::Ended(Ended::Cancelled),
        o = session(feed, link, backoff, replay, upgrade) => o,
    };
    // The WebSocket loop watches `cancel` itself, to send its Close frame.
    let ended = match outcome {
        Outcome::Ended(e) => e,
        Outcome::Upgraded(up) => {
            let (ws, s) = *up;
            read_loop(ws, link, Some(&Hook::Socketio(s)), replay).await
        }
    };
    report_dropped(replay, sink).await;
    if sink.counters().messages.load(Ordering::Relaxed) != before {
        backoff.delivered();
    }
    ended
}

async fn session(
    feed: &FeedConfig,
    link: &Link<'_>,
    backoff: &mut Backoff,
    replay: &mut Replay,
    upgrade: bool,
) -> Outcome {
    let Link {
        opts, target, sink, ..
    } = *link;
    let Opener::Socketio(o, auth) = &link.opener else {
        return Ended::RetrySlowly("long-polling is for Socket.IO feeds only".into()).into();
    };
    let prepared = crate::socketio::polling_url(&feed.url)
        .and_then(|u| url::Url::parse(&u).map_err(|e| crate::SetupError::url(&feed.url, e)))
        .and_then(|url| {
            Ok((
                url,
                http_common::feed_headers(feed)?,
                crate::feed_tls::client_for(feed)?,
            ))
        });
    let (url, headers, client) = match prepared {
        Ok(p) => p,
        Err(e) => return Ended::RetrySlowly(e.to_string()).into(),
    };
    let mut poller = Poller {
        client,
        url,
        headers,
        target,
        max: usize::try_from(opts.max_message_size.0).unwrap_or(usize::MAX),
    };
    let session = Session::new(o, auth.clone(), &target.host_port);

    // 1. The handshake.
    let body = match poller.get(CONNECT_TIMEOUT).await {
        Ok(b) => b,
        Err(e) => return e.into(),
    };
    let mut packets = body.split(SEPARATOR);
    let Some(open) = packets.next().and_then(parse_open) else {
        if is_engine_io_3(&body) {
            return Ended::RetrySlowly(format!(
                "{} speaks Engine.IO 3 (Socket.IO 2): Telltale speaks Socket.IO 3 and 4 (Engine.IO 4)",
                target.host_port
            )).into();
        }
        let shown: String = body.chars().take(200).collect();
        return Ended::Retry(format!(
            "{} did not open an Engine.IO session: {shown}: is this a Socket.IO 3 or 4 server?",
            target.host_port
        ))
        .into();
    };
    poller.with_sid(&open.sid);
    let wait = open.ping_interval + open.ping_timeout + SLACK;

    // 2. The namespace.
    if let Err(e) = poller.post(&session.connect()).await {
        return e.into();
    }
    let mut early: Vec<String> = packets.map(str::to_string).collect();
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut connected = false;
    while !connected {
        if early.is_empty() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ended::Retry(format!(
                    "no Socket.IO namespace connect from {} within {}",
                    target.host_port,
                    format_duration(CONNECT_TIMEOUT)
                ))
                .into();
            }
            match poller.get(left.min(wait)).await {
                Ok(b) => early = b.split(SEPARATOR).map(str::to_string).collect(),
                Err(e) => return e.into(),
            }
        }
        let mut rest = std::mem::take(&mut early).into_iter();
        for p in rest.by_ref() {
            match session.on_open_wait(&p) {
                Ok((done, reply)) => {
                    if let Some(r) = reply {
                        if let Err(e) = poller.post(&r).await {
                            return e.into();
                        }
                    }
                    if done {
                        connected = true;
                        break;
                    }
                }
                Err(e) => return e.into(),
            }
        }
        early = rest.collect();
    }
    sink.state(ConnState::Live).await;
    backoff.connected();
    for p in early {
        if let Some(e) = handle(&p, &session, &poller, replay, link).await {
            return e.into();
        }
    }

    // 3. The upgrade.
    if upgrade && open.upgrades.iter().any(|u| u == "websocket") {
        match upgraded(feed, link, &open.sid).await {
            Ok(ws) => {
                sink.notice(
                    "upgrade",
                    format!(
                        "{}: upgraded from HTTP long-polling to WebSocket",
                        target.host_port
                    ),
                )
                .await;
                return Outcome::Upgraded(Box::new((ws, session)));
            }
            Err(why) => {
                sink.notice(
                    "upgrade",
                    format!("the WebSocket upgrade failed ({why}): staying on HTTP long-polling"),
                )
                .await;
            }
        }
    }

    // 4. Long polls.
    loop {
        let body = match poller.get(wait).await {
            Ok(b) => b,
            Err(e) => return Outcome::Ended(e),
        };
        for p in body.split(SEPARATOR) {
            if let Some(e) = handle(p, &session, &poller, replay, link).await {
                return e.into();
            }
        }
    }
}

/// One packet of a polling payload; `Some` when it ends the session.
async fn handle(
    packet: &str,
    session: &Session,
    poller: &Poller<'_>,
    replay: &mut Replay,
    link: &Link<'_>,
) -> Option<Ended> {
    let sink = link.sink;
    if packet.starts_with('b') {
        // A binary attachment, skipped with its event.
        return None;
    }
    match session.on_text(packet) {
        Action::Deliver(m) | Action::DeliverWithIssue(m, _) => deliver(m, replay, sink).await,
        Action::DeliverAndReply(m, reply) => {
            deliver(m, replay, sink).await;
            if let Err(e) = poller.post(&reply).await {
                return Some(e);
            }
        }
        Action::Issue(kind, text) => sink.issue(kind, text).await,
        Action::Reply(reply) => {
            sink.activity();
            if let Err(e) = poller.post(&reply).await {
                return Some(e);
            }
        }
        Action::Nothing => sink.activity(),
        Action::End(e) => return Some(e),
    }
    None
}

/// Why the upgrade from long-polling to WebSocket did not happen; the
/// session then stays on long-polling.
#[derive(Debug, thiserror::Error)]
enum UpgradeFailed {
    /// The feed's URL has no WebSocket form.
    #[error("no WebSocket URL")]
    NoUrl,
    /// The upgrade request cannot be built.
    #[error(transparent)]
    Request(#[from] crate::SetupError),
    /// The dial or a write failed.
    #[error("{0}")]
    Ended(String),
    /// The probe was answered with something else.
    #[error("the probe was answered `{0}`, not `3probe`")]
    WrongProbe(String),
    /// The socket closed before answering the probe.
    #[error("the WebSocket closed during the probe")]
    Closed,
    /// No answer in time.
    #[error("no probe answer within {}", format_duration(*.0))]
    NoAnswer(Duration),
}

impl From<Ended> for UpgradeFailed {
    fn from(e: Ended) -> UpgradeFailed {
        UpgradeFailed::Ended(e.reason().to_string())
    }
}

/// The WebSocket of session `sid`, probed and upgraded; or why not.
async fn upgraded(feed: &FeedConfig, link: &Link<'_>, sid: &str) -> Result<Ws, UpgradeFailed> {
    let Link { opts, target, .. } = *link;
    let mut url = crate::socketio::ws_url(&feed.url)
        .ok()
        .and_then(|u| url::Url::parse(&u).ok())
        .ok_or(UpgradeFailed::NoUrl)?;
    url.query_pairs_mut().append_pair("sid", sid);
    let request = build_request(feed, url.as_str(), opts)?;
    let (mut ws, _) = dial(request, link).await?;
    send_text(&mut ws, "2probe".into(), target).await?;
    let answer = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return Some(t.to_string()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    match answer {
        Ok(Some(t)) if t == "3probe" => {}
        Ok(Some(t)) => return Err(UpgradeFailed::WrongProbe(t.chars().take(80).collect())),
        Ok(None) => return Err(UpgradeFailed::Closed),
        Err(_) => return Err(UpgradeFailed::NoAnswer(CONNECT_TIMEOUT)),
    }
    send_text(&mut ws, "5".into(), target).await?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_packets_are_read() {
        let open = parse_open(
            r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":1000,"pingTimeout":500,"maxPayload":1000000}"#,
        )
        .unwrap();
        assert_eq!(
            open,
            Open {
                sid: "abc".into(),
                upgrades: vec!["websocket".into()],
                ping_interval: Duration::from_millis(1000),
                ping_timeout: Duration::from_millis(500),
            }
        );
        assert!(parse_open(r#"0{"upgrades":[]}"#).is_none(), "no sid");
        assert!(parse_open("40").is_none());
    }

    #[test]
    fn engine_io_3_payloads_are_recognised() {
        assert!(is_engine_io_3(r#"96:0{"sid":"x"}2:40"#));
        assert!(!is_engine_io_3(r#"0{"sid":"x"}"#));
        assert!(!is_engine_io_3("40"));
    }
}
