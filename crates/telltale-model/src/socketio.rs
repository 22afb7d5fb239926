//! Socket.IO (`[feed.socketio]`): which namespace and events a feed
//! follows, over Engine.IO 4's WebSocket or HTTP long-polling transport.
//!
//! ```toml
//! [[feed]]
//! name = "fleet-io"
//! transport = "socketio"
//! url = "https://status.example.com"       # the path defaults to /socket.io/
//! [feed.socketio]
//! namespace = "/fleet"
//! events = ["health"]
//! transport = "auto"     # websocket (default) | polling | auto (polling, then upgrade)
//! auth = { token = "${TELLTALE_SECRET_IO}" }
//! ```
//!
//! Every event becomes one message: its name is the event type, its first
//! argument the data (several arguments: a JSON array of them).

use crate::duration::{ByteSize, Dur};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[feed.socketio]`; only for `transport = "socketio"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct SocketioOptions {
    /// The namespace to connect to (default `/`).
    pub namespace: String,
    /// How Engine.IO carries the packets (default `websocket`).
    pub transport: SocketioTransport,
    /// Keep only these events (default: all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<String>>"))]
    pub events: Vec<String>,
    /// The handshake's `auth` object (string values; `${VAR}` expanded at
    /// connect time). Values are masked in every view, like headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<BTreeMap<String, String>>"))]
    pub auth: BTreeMap<String, String>,
    /// A WebSocket ping this often (default 25 s, Socket.IO's own
    /// `pingInterval`).
    pub ping_interval: Dur,
    /// No answer to a ping within this: the server is presumed dead
    /// (default 20 s, Socket.IO's `pingTimeout`).
    pub pong_timeout: Dur,
    /// Largest accepted message (default 1 MiB, Socket.IO's
    /// `maxHttpBufferSize`).
    pub max_message_size: ByteSize,
}

/// Engine.IO's transports, as `socketio.transport` picks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum SocketioTransport {
    /// A WebSocket from the start (`EIO=4&transport=websocket`).
    #[default]
    Websocket,
    /// HTTP long-polling only, for proxies that block WebSocket.
    Polling,
    /// Long-polling first, upgraded to WebSocket when the server offers it
    /// and the upgrade gets through; on polling otherwise, as the
    /// Socket.IO client does.
    Auto,
}

impl Default for SocketioOptions {
    fn default() -> Self {
        SocketioOptions {
            namespace: "/".into(),
            transport: SocketioTransport::Websocket,
            events: Vec::new(),
            auth: BTreeMap::new(),
            ping_interval: Dur::secs(25),
            pong_timeout: Dur::secs(20),
            max_message_size: ByteSize(1 << 20),
        }
    }
}

/// The `[feed.socketio]` checks serde cannot make, as `(field, message)`.
pub(crate) fn validate(feed: &crate::FeedConfig, p: &mut Vec<(String, String)>) {
    let o = feed.socketio.clone().unwrap_or_default();
    if !o.namespace.starts_with('/') || o.namespace.contains(',') {
        p.push((
            "socketio.namespace".into(),
            format!(
                "`{}` is not a namespace: it starts with `/` and has no comma, e.g. `/` or `/fleet`",
                o.namespace
            ),
        ));
    }
    if o.events.iter().any(String::is_empty) {
        p.push(("socketio.events".into(), "has an empty name".into()));
    }
    crate::validate::socket_settings(
        "socketio",
        (o.ping_interval, o.pong_timeout, o.max_message_size),
        p,
    );
    crate::validate::env_refs("socketio.auth", &o.auth, p);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(url: &str, namespace: &str) -> Vec<String> {
        let mut f = crate::FeedConfig::new("s", crate::TransportKind::Socketio, url);
        f.socketio = Some(SocketioOptions {
            namespace: namespace.into(),
            ..SocketioOptions::default()
        });
        crate::validate::validate_feed(&f)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn the_config_checks_name_the_field() {
        assert!(problems("https://h", "/").is_empty());
        assert!(problems("ws://h:3000/custom/", "/fleet").is_empty());
        assert_eq!(problems("http://h", "fleet"), vec!["socketio.namespace"]);
        assert_eq!(problems("mqtt://h", "/"), vec!["url"]);
    }
}
