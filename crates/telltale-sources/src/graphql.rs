//! GraphQL subscriptions over WebSocket: the WebSocket transport's loop
//! (connect, keepalive, close, backoff: see [`crate::websocket`]) with this
//! module as its protocol hook.
//!
//! Both protocols are spoken:
//! - `graphql-transport-ws` (the `graphql-ws` library): `connection_init`
//!   → `connection_ack`, `subscribe` → `next`… `complete`, `ping` ↔ `pong`;
//! - `graphql-ws` (the legacy `subscriptions-transport-ws`):
//!   `connection_init` → `connection_ack`, `start` → `data`… `complete`,
//!   `ka` keepalives.
//!
//! With `protocol = "auto"` both names are offered and the one the server
//! picks in `Sec-WebSocket-Protocol` is spoken.
//!
//! After every (re)connect: `connection_init` with
//! `graphql.connection_params` (`${VAR}` expanded now), wait for the ack
//! (bounded by [`crate::websocket::CONNECT_TIMEOUT`]), subscribe; only then
//! is the feed live. Each result payload (`{"data": …, "errors": …}`) is
//! one message. A result with errors and no data, an `error` message, a
//! refused `connection_init` (4401, 4403 or `connection_error`) are
//! `failed` and retried slowly: the operator must fix the query or the
//! credentials. A `complete` from the server (the subscription ended) is a
//! retry: the feed subscribes again.

use crate::ended::Ended;
use crate::websocket::Action;
use crate::SetupError;
use serde_json::{json, Map, Value};
use telltale_model::feed::WebsocketOptions;
use telltale_model::graphql::{GraphqlOptions, GraphqlProtocol};
use telltale_model::{RawMessage, Timestamp};

/// The one subscription's id on every connection.
const ID: &str = "1";

/// The socket settings a GraphQL feed's WebSocket uses.
pub(crate) fn socket_options(g: &GraphqlOptions) -> WebsocketOptions {
    WebsocketOptions {
        subprotocols: g.protocol.offer().iter().map(|s| s.to_string()).collect(),
        subscribe: Vec::new(),
        ping_interval: g.ping_interval,
        pong_timeout: g.pong_timeout,
        max_message_size: g.max_message_size,
        id_pointer: None,
    }
}

/// The `connection_init` payload, `${VAR}` expanded (a configuration
/// error names the parameter, never its value).
pub(crate) fn init_payload(g: &GraphqlOptions) -> Result<Map<String, Value>, SetupError> {
    let mut out = Map::new();
    for (name, value) in &g.connection_params {
        let v = telltale_model::secret::expand_env(value).map_err(|problem| {
            SetupError::GraphqlParam {
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
    legacy: bool,
    host: String,
}

impl Session {
    /// The session for the protocol the server picked (`picked`, its
    /// `Sec-WebSocket-Protocol` answer).
    pub(crate) fn new(
        picked: Option<&str>,
        configured: GraphqlProtocol,
        host: &str,
    ) -> Result<Session, Ended> {
        let legacy = match (picked, configured) {
            (Some("graphql-ws"), _) => true,
            (Some("graphql-transport-ws"), _) => false,
            (None, GraphqlProtocol::TransportWs) => false,
            (None, GraphqlProtocol::LegacyWs) => true,
            (other, _) => {
                return Err(Ended::RetrySlowly(format!(
                    "{host} picked {} as the WebSocket subprotocol: set graphql.protocol to the one the server speaks (`graphql-transport-ws` or `graphql-ws`)",
                    other.map_or("none".to_string(), |p| format!("`{p}`"))
                )))
            }
        };
        Ok(Session {
            legacy,
            host: host.to_string(),
        })
    }

    /// The protocol's name, for messages.
    pub(crate) fn protocol(&self) -> &'static str {
        if self.legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        }
    }

    /// The `connection_init` message.
    pub(crate) fn init(&self, payload: Map<String, Value>) -> String {
        json!({"type": "connection_init", "payload": payload}).to_string()
    }

    /// The subscribe (`start` in the legacy protocol) message.
    pub(crate) fn subscribe(&self, g: &GraphqlOptions) -> String {
        let mut payload = Map::new();
        payload.insert("query".into(), Value::String(g.query.clone()));
        if let Some(v) = g
            .variables
            .as_deref()
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
        {
            payload.insert("variables".into(), v);
        }
        if let Some(op) = &g.operation_name {
            payload.insert("operationName".into(), Value::String(op.clone()));
        }
        let kind = if self.legacy { "start" } else { "subscribe" };
        json!({"id": ID, "type": kind, "payload": payload}).to_string()
    }

    /// While waiting for `connection_ack`: `Ok(true)` once acknowledged,
    /// `Ok(false)` to keep waiting (with a reply to send, if any).
    pub(crate) fn on_ack_wait(&self, text: &str) -> Result<(bool, Option<String>), Ended> {
        let msg = self.parse(text)?;
        match msg_type(&msg) {
            "connection_ack" => Ok((true, None)),
            "ka" => Ok((false, None)),
            "ping" => Ok((false, Some(pong()))),
            "connection_error" => Err(Ended::RetrySlowly(format!(
                "{} refused connection_init: {}: check graphql.connection_params (a token?)",
                self.host,
                error_text(msg.get("payload"))
            ))),
            other => Err(Ended::Retry(format!(
                "{} sent `{other}` before connection_ack: is this a {} server?",
                self.host,
                self.protocol()
            ))),
        }
    }

    /// A text frame after subscribing.
    pub(crate) fn on_text(&self, text: &str) -> Action {
        let msg = match self.parse(text) {
            Ok(m) => m,
            Err(e) => return Action::End(e),
        };
        match msg_type(&msg) {
            "next" | "data" => self.result(text, msg.get("payload")),
            "ping" => Action::Reply(pong()),
            "pong" | "ka" | "connection_ack" => Action::Nothing,
            "complete" => Action::End(Ended::Retry(format!(
                "{} completed the subscription; subscribing again",
                self.host
            ))),
            "error" => Action::End(Ended::RetrySlowly(format!(
                "{} refused the subscription: {}: check graphql.query and graphql.variables",
                self.host,
                error_text(msg.get("payload"))
            ))),
            "connection_error" => Action::End(Ended::RetrySlowly(format!(
                "{} refused the connection: {}: check graphql.connection_params",
                self.host,
                error_text(msg.get("payload"))
            ))),
            other => Action::End(Ended::Retry(format!(
                "{} sent a `{other}` message, which {} does not have",
                self.host,
                self.protocol()
            ))),
        }
    }

    /// A result: `text` is the whole message, `payload` its parsed
    /// payload. The payload is delivered as the server wrote it (key
    /// order, number formatting), not re-serialised.
    fn result(&self, text: &str, payload: Option<&Value>) -> Action {
        let Some(payload) = payload.filter(|p| p.is_object()) else {
            return Action::End(Ended::Retry(format!(
                "{} sent a result without a payload object",
                self.host
            )));
        };
        let data_missing = payload.get("data").is_none_or(Value::is_null);
        let errors = payload
            .get("errors")
            .filter(|e| e.as_array().is_some_and(|a| !a.is_empty()));
        let message = RawMessage {
            received_at: Timestamp::now(),
            server_id: None,
            event_type: None,
            data: bytes::Bytes::from(raw_payload(text).unwrap_or_else(|| payload.to_string())),
            transport_metrics: Vec::new(),
            labels: Vec::new(),
        };
        match errors {
            Some(e) if data_missing => Action::End(Ended::RetrySlowly(format!(
                "the subscription failed on {}: {}: check graphql.query and graphql.variables",
                self.host,
                error_text(Some(e))
            ))),
            Some(e) => Action::DeliverWithIssue(message, error_text(Some(e))),
            None => Action::Deliver(message),
        }
    }

    fn parse(&self, text: &str) -> Result<Value, Ended> {
        match serde_json::from_str::<Value>(text) {
            Ok(v) if v.get("type").is_some_and(Value::is_string) => Ok(v),
            _ => Err(Ended::Retry(format!(
                "{} sent a malformed {} message (not a JSON object with a `type`): {}",
                self.host,
                self.protocol(),
                shorten(text)
            ))),
        }
    }

    /// What a close code from a GraphQL server means, and whether only
    /// the operator can fix it.
    pub(crate) fn close_meaning(code: u16) -> Option<(&'static str, bool)> {
        Some(match code {
            4400 => ("bad request", false),
            4401 => ("unauthorized: check graphql.connection_params", true),
            4403 => ("forbidden: check graphql.connection_params", true),
            4406 => ("subprotocol not acceptable: set graphql.protocol", true),
            4408 => ("connection_init timeout", false),
            4409 => ("subscriber already exists", false),
            4429 => ("too many initialisation requests", false),
            4499 => ("terminated", false),
            4500 => ("internal server error", false),
            _ => return None,
        })
    }
}

/// The `payload` member of a message, as written.
fn raw_payload(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        payload: Option<&'a serde_json::value::RawValue>,
    }
    serde_json::from_str::<Envelope>(text)
        .ok()?
        .payload
        .map(|p| p.get().to_string())
}

fn pong() -> String {
    json!({"type": "pong"}).to_string()
}

fn msg_type(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// The messages of a GraphQL error payload (an error, a list of them, or
/// anything else as text).
fn error_text(v: Option<&Value>) -> String {
    let one = |e: &Value| -> String {
        e.get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| shorten(&e.to_string()))
    };
    match v {
        None | Some(Value::Null) => "no reason given".into(),
        Some(Value::Array(a)) => a.iter().map(one).collect::<Vec<_>>().join("; "),
        Some(e) => one(e),
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_errors_and_control_messages() {
        let s = Session::new(Some("graphql-transport-ws"), GraphqlProtocol::Auto, "h:1")
            .unwrap_or_else(|_| panic!("session"));
        match s.on_text(r#"{"id":"1","type":"next","payload":{"data":{"t":{"seq":1}}}}"#) {
            Action::Deliver(m) => assert_eq!(&m.data[..], br#"{"data":{"t":{"seq":1}}}"#),
            _ => panic!("not delivered"),
        }
        assert!(
            matches!(s.on_text(r#"{"type":"ping"}"#), Action::Reply(p) if p == r#"{"type":"pong"}"#)
        );
        assert!(matches!(
            s.on_text(r#"{"id":"1","type":"next","payload":{"data":null,"errors":[{"message":"boom"}]}}"#),
            Action::End(Ended::RetrySlowly(r)) if r.contains("boom")
        ));
        assert!(matches!(
            s.on_text(r#"{"id":"1","type":"next","payload":{"data":{"a":1},"errors":[{"message":"half"}]}}"#),
            Action::DeliverWithIssue(_, e) if e == "half"
        ));
        assert!(
            matches!(s.on_text("not json"), Action::End(Ended::Retry(r)) if r.contains("malformed"))
        );
        assert!(matches!(
            s.on_text(r#"{"id":"1","type":"complete"}"#),
            Action::End(Ended::Retry(_))
        ));
        let legacy = Session::new(Some("graphql-ws"), GraphqlProtocol::Auto, "h:1")
            .unwrap_or_else(|_| panic!("session"));
        let g = GraphqlOptions {
            query: "subscription { t }".into(),
            variables: Some(r#"{"n":2}"#.into()),
            ..GraphqlOptions::default()
        };
        assert_eq!(
            legacy.subscribe(&g),
            r#"{"id":"1","payload":{"query":"subscription { t }","variables":{"n":2}},"type":"start"}"#
        );
        assert!(Session::new(None, GraphqlProtocol::Auto, "h:1").is_err());
    }
}
