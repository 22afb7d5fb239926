//! Socket.IO 4 (protocol 5, on Engine.IO 4's WebSocket transport): the
//! WebSocket transport's loop (connect, keepalive, close, backoff: see
//! [`crate::websocket`]) with this module as its protocol hook.
//!
//! 1. The feed's URL (`http(s)://` or `ws(s)://`; an empty path becomes
//!    `/socket.io/`) gets `EIO=4&transport=websocket`: a direct WebSocket
//!    connection, no long-polling first. With `socketio.transport =
//!    "polling"` or `"auto"` the same session runs over HTTP long-polling
//!    instead (and upgrades, for `auto`): see `websocket::polling`.
//! 2. The server's Engine.IO `open` packet (`0{…}`) is answered with a
//!    namespace `CONNECT` (`40`, the namespace, the `auth` object with
//!    `${VAR}` expanded now); the feed is live once the server's `CONNECT`
//!    comes back. A `CONNECT_ERROR` (`44`, e.g. a middleware refusing the
//!    token) is `failed` and retried slowly with the server's message.
//! 3. Each `EVENT` (`42["name", args…]`) of the namespace becomes one
//!    message: the name as event type, the first argument as data (several
//!    arguments: a JSON array of them), as the server wrote them. An event
//!    that asks for an acknowledgement gets an empty one. Binary events
//!    are reported as an issue and skipped.
//! 4. Engine.IO pings (`2`) are answered (`3`); the server's `DISCONNECT`
//!    (`41`) or `close` ends the connection, retried with backoff.

use crate::ended::Ended;
use crate::websocket::Action;
use crate::SetupError;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use telltale_model::feed::WebsocketOptions;
use telltale_model::socketio::SocketioOptions;
use telltale_model::{RawMessage, Timestamp};

/// The socket settings a Socket.IO feed's WebSocket uses.
pub(crate) fn socket_options(o: &SocketioOptions) -> WebsocketOptions {
    WebsocketOptions {
        subprotocols: Vec::new(),
        subscribe: Vec::new(),
        ping_interval: o.ping_interval,
        pong_timeout: o.pong_timeout,
        max_message_size: o.max_message_size,
        id_pointer: None,
    }
}

/// The WebSocket URL for a feed's URL: `ws(s)://`, `/socket.io/` when no
/// path is given, `EIO=4&transport=websocket` added to its query.
pub(crate) fn ws_url(raw: &str) -> Result<String, SetupError> {
    engine_url(raw, false)
}

/// The long-polling URL for a feed's URL: the same with `http(s)://` and
/// `transport=polling`.
pub(crate) fn polling_url(raw: &str) -> Result<String, SetupError> {
    engine_url(raw, true)
}

fn engine_url(raw: &str, polling: bool) -> Result<String, SetupError> {
    let mut url = url::Url::parse(raw).map_err(|e| SetupError::url(raw, e))?;
    let scheme = match (url.scheme(), polling) {
        ("http" | "ws", false) => "ws",
        ("https" | "wss", false) => "wss",
        ("http" | "ws", true) => "http",
        ("https" | "wss", true) => "https",
        (other, _) => {
            return Err(SetupError::Scheme {
                transport: "Socket.IO",
                scheme: other.to_string(),
                expected: "`http://`, `https://`, `ws://` or `wss://`",
            })
        }
    };
    url.set_scheme(scheme)
        .map_err(|_| SetupError::url(raw, "its scheme cannot be changed for Engine.IO"))?;
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/socket.io/");
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "EIO" && k != "transport")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("EIO", "4")
        .append_pair("transport", if polling { "polling" } else { "websocket" });
    Ok(url.to_string())
}

/// The handshake's `auth` object, `${VAR}` expanded (a configuration error
/// names the field, never its value).
pub(crate) fn auth_payload(o: &SocketioOptions) -> Result<Map<String, Value>, SetupError> {
    let mut out = Map::new();
    for (name, value) in &o.auth {
        let v = telltale_model::secret::expand_env(value).map_err(|problem| {
            SetupError::SocketioAuth {
                name: name.clone(),
                problem,
            }
        })?;
        out.insert(name.clone(), Value::String(v));
    }
    Ok(out)
}

/// One connection's protocol state.
pub(crate) struct Session {
    namespace: String,
    events: Vec<String>,
    auth: Map<String, Value>,
    host: String,
}

/// One Socket.IO packet inside an Engine.IO message.
struct Packet<'a> {
    kind: u8,
    namespace: &'a str,
    ack_id: Option<&'a str>,
    json: &'a str,
}

impl Session {
    pub(crate) fn new(o: &SocketioOptions, auth: Map<String, Value>, host: &str) -> Session {
        Session {
            namespace: o.namespace.clone(),
            events: o.events.clone(),
            auth,
            host: host.to_string(),
        }
    }

    /// `40`, the namespace and the auth object.
    pub(crate) fn connect(&self) -> String {
        let mut s = String::from("40");
        if self.namespace != "/" {
            s.push_str(&self.namespace);
            s.push(',');
        }
        if !self.auth.is_empty() {
            s.push_str(&Value::Object(self.auth.clone()).to_string());
        }
        s
    }

    /// Before the namespace is connected: `Ok(true)` once it is, `Ok(false)`
    /// to keep waiting (with a reply to send, if any).
    pub(crate) fn on_open_wait(&self, text: &str) -> Result<(bool, Option<String>), Ended> {
        match text.as_bytes().first() {
            Some(b'0') => Ok((false, Some(self.connect()))),
            Some(b'2') => Ok((false, Some(format!("3{}", &text[1..])))),
            Some(b'6') => Ok((false, None)),
            Some(b'4') => match self.packet(text) {
                Some(p) if p.namespace != self.namespace => Ok((false, None)),
                Some(Packet { kind: b'0', .. }) => Ok((true, None)),
                Some(Packet {
                    kind: b'4', json, ..
                }) => Err(self.refused(json)),
                // Socket.IO 5 sends nothing else on a namespace before
                // its CONNECT: anything else is out of order.
                _ => Err(self.malformed(text)),
            },
            _ => Err(self.malformed(text)),
        }
    }

    /// A text frame once connected.
    pub(crate) fn on_text(&self, text: &str) -> Action {
        match text.as_bytes().first() {
            Some(b'2') => return Action::Reply(format!("3{}", &text[1..])),
            Some(b'3') | Some(b'6') => return Action::Nothing,
            Some(b'1') => {
                return Action::End(Ended::Retry(format!(
                    "{} closed the Engine.IO session",
                    self.host
                )))
            }
            Some(b'4') => {}
            _ => return Action::End(Ended::Retry(self.malformed_text(text))),
        }
        let Some(p) = self.packet(text) else {
            return Action::End(Ended::Retry(self.malformed_text(text)));
        };
        if p.namespace != self.namespace {
            return Action::Nothing;
        }
        match p.kind {
            b'2' => self.event(&p),
            b'1' => Action::End(Ended::Retry(format!(
                "{} disconnected this client from namespace `{}`",
                self.host, self.namespace
            ))),
            b'4' => Action::End(self.refused(p.json)),
            b'5' | b'6' => Action::Issue(
                "unsupported",
                "a binary Socket.IO event was skipped: Telltale reads text events only".into(),
            ),
            _ => Action::Nothing,
        }
    }

    fn event(&self, p: &Packet<'_>) -> Action {
        let Ok(args) = serde_json::from_str::<Vec<&RawValue>>(p.json) else {
            return Action::End(Ended::Retry(self.malformed_text(p.json)));
        };
        let Some(name) = args
            .first()
            .and_then(|n| serde_json::from_str::<String>(n.get()).ok())
        else {
            return Action::End(Ended::Retry(self.malformed_text(p.json)));
        };
        let ack = p.ack_id.map(|id| {
            let ns = if self.namespace == "/" {
                String::new()
            } else {
                format!("{},", self.namespace)
            };
            format!("43{ns}{id}[]")
        });
        if !self.events.is_empty() && !self.events.contains(&name) {
            return ack.map_or(Action::Nothing, Action::Reply);
        }
        let data = match &args[1..] {
            [] => "null".to_string(),
            [one] => one.get().to_string(),
            many => format!(
                "[{}]",
                many.iter().map(|a| a.get()).collect::<Vec<_>>().join(",")
            ),
        };
        let message = RawMessage {
            received_at: Timestamp::now(),
            server_id: None,
            event_type: Some(name),
            data: bytes::Bytes::from(data),
            transport_metrics: Vec::new(),
            labels: Vec::new(),
        };
        match ack {
            Some(reply) => Action::DeliverAndReply(message, reply),
            None => Action::Deliver(message),
        }
    }

    /// Splits `4<type>[<n>-][/ns,][id]<json>`.
    fn packet<'a>(&self, text: &'a str) -> Option<Packet<'a>> {
        let rest = text.strip_prefix('4')?;
        let kind = *rest.as_bytes().first()?;
        if !kind.is_ascii_digit() {
            return None;
        }
        let mut rest = &rest[1..];
        if matches!(kind, b'5' | b'6') {
            let dash = rest.find('-')?;
            rest = &rest[dash + 1..];
        }
        let mut namespace = "/";
        if rest.starts_with('/') {
            let comma = rest.find(',').unwrap_or(rest.len());
            namespace = &rest[..comma];
            rest = rest.get(comma + 1..).unwrap_or("");
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let ack_id = (digits > 0).then(|| &rest[..digits]);
        Some(Packet {
            kind,
            namespace,
            ack_id,
            json: &rest[digits..],
        })
    }

    fn refused(&self, json: &str) -> Ended {
        let why = serde_json::from_str::<BTreeMap<String, Value>>(json)
            .ok()
            .and_then(|m| m.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| "no reason given".into());
        Ended::RetrySlowly(format!(
            "{} refused the connection to namespace `{}`: {why}: check socketio.auth and socketio.namespace",
            self.host, self.namespace
        ))
    }

    fn malformed(&self, text: &str) -> Ended {
        Ended::Retry(self.malformed_text(text))
    }

    fn malformed_text(&self, text: &str) -> String {
        let shown: String = text.chars().take(200).collect();
        format!(
            "{} sent a malformed Socket.IO packet: {shown}: is this a Socket.IO 3 or 4 server?",
            self.host
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(ns: &str, events: &[&str]) -> Session {
        let o = SocketioOptions {
            namespace: ns.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            ..SocketioOptions::default()
        };
        let mut auth = Map::new();
        auth.insert("token".into(), Value::String("t".into()));
        Session::new(&o, auth, "h:1")
    }

    #[test]
    fn urls_get_the_engine_io_path_and_query() {
        assert_eq!(
            ws_url("https://h/").unwrap(),
            "wss://h/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            ws_url("http://h:3000/custom/?x=1&EIO=3").unwrap(),
            "ws://h:3000/custom/?x=1&EIO=4&transport=websocket"
        );
        assert!(ws_url("mqtt://h").is_err());
    }

    #[test]
    fn packets_events_and_acks() {
        let s = session("/fleet", &["tick"]);
        assert!(
            matches!(s.on_open_wait(r#"0{"sid":"a"}"#), Ok((false, Some(c))) if c == r#"40/fleet,{"token":"t"}"#)
        );
        assert!(matches!(
            s.on_open_wait(r#"40/fleet,{"sid":"b"}"#),
            Ok((true, None))
        ));
        assert!(matches!(
            s.on_open_wait(r#"44/fleet,{"message":"invalid token"}"#),
            Err(Ended::RetrySlowly(r)) if r.contains("invalid token")
        ));
        match s.on_text(r#"42/fleet,["tick",{"seq":1, "cpu":0.1}]"#) {
            Action::Deliver(m) => {
                assert_eq!(m.event_type.as_deref(), Some("tick"));
                assert_eq!(&m.data[..], br#"{"seq":1, "cpu":0.1}"#);
            }
            _ => panic!("not delivered"),
        }
        match s.on_text(r#"42/fleet,17["tick",1,"two"]"#) {
            Action::DeliverAndReply(m, r) => {
                assert_eq!(&m.data[..], br#"[1,"two"]"#);
                assert_eq!(r, "43/fleet,17[]");
            }
            _ => panic!("not acknowledged"),
        }
        assert!(matches!(
            s.on_text(r#"42/fleet,["other",1]"#),
            Action::Nothing
        ));
        assert!(matches!(s.on_text(r#"42["tick",1]"#), Action::Nothing));
        assert!(matches!(s.on_text("2"), Action::Reply(r) if r == "3"));
        assert!(matches!(
            s.on_text("41/fleet,"),
            Action::End(Ended::Retry(_))
        ));
        assert!(
            matches!(s.on_text("<html>"), Action::End(Ended::Retry(r)) if r.contains("malformed"))
        );
        assert!(matches!(
            s.on_text(r#"42/fleet,{"not":"an array"}"#),
            Action::End(Ended::Retry(_))
        ));
    }
}
