//! GraphQL subscriptions over WebSocket (`[feed.graphql]`): the operation
//! a feed subscribes to, and which of the two WebSocket protocols it
//! speaks.
//!
//! ```toml
//! [[feed]]
//! name = "fleet-gql"
//! transport = "graphql"
//! url = "wss://api.example.com/graphql"
//! [feed.graphql]
//! query = "subscription { health(host: \"web-1\") { cpu mem } }"
//! connection_params = { authorization = "Bearer ${TELLTALE_SECRET_GQL}" }
//! ```
//!
//! Every `next` (or legacy `data`) payload becomes one message: the
//! payload's JSON (`{"data": …, "errors": …}`), so metrics point into
//! `/data/…`.

use crate::duration::{ByteSize, Dur};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which GraphQL-over-WebSocket protocol is spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum GraphqlProtocol {
    /// Offer both and speak what the server picks (default).
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// `graphql-transport-ws`: the `graphql-ws` library's protocol
    /// (Apollo Server 4, GraphQL Yoga, Hasura, most servers today).
    #[serde(rename = "graphql-transport-ws")]
    TransportWs,
    /// `graphql-ws`: the legacy `subscriptions-transport-ws` protocol
    /// (Apollo Server 2 and 3, older Hasura).
    #[serde(rename = "graphql-ws")]
    LegacyWs,
}

impl GraphqlProtocol {
    /// The `Sec-WebSocket-Protocol` names to offer, in order.
    pub fn offer(self) -> &'static [&'static str] {
        match self {
            // The legacy name first: servers built on
            // subscriptions-transport-ws take the first name offered,
            // while graphql-ws servers pick their own wherever it is.
            GraphqlProtocol::Auto => &["graphql-ws", "graphql-transport-ws"],
            GraphqlProtocol::TransportWs => &["graphql-transport-ws"],
            GraphqlProtocol::LegacyWs => &["graphql-ws"],
        }
    }
}

/// `[feed.graphql]`; only for `transport = "graphql"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct GraphqlOptions {
    /// The subscription document, e.g. `subscription { health { cpu } }`.
    pub query: String,
    /// Its variables: a JSON object, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<String>,
    /// Which operation of the document to run, when it has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    /// `auto` (default), `graphql-transport-ws` or `graphql-ws`.
    pub protocol: GraphqlProtocol,
    /// The `connection_init` payload (string values; `${VAR}` is expanded
    /// at connect time). Values are masked in every view, like headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<BTreeMap<String, String>>"))]
    pub connection_params: BTreeMap<String, String>,
    /// A WebSocket ping this often (default 30 s).
    pub ping_interval: Dur,
    /// No answer to a ping within this: the server is presumed dead
    /// (default 10 s).
    pub pong_timeout: Dur,
    /// Largest accepted message (default 1 MiB).
    pub max_message_size: ByteSize,
}

impl Default for GraphqlOptions {
    fn default() -> Self {
        GraphqlOptions {
            query: String::new(),
            variables: None,
            operation_name: None,
            protocol: GraphqlProtocol::Auto,
            connection_params: BTreeMap::new(),
            ping_interval: Dur::secs(30),
            pong_timeout: Dur::secs(10),
            max_message_size: ByteSize(1 << 20),
        }
    }
}

/// The `[feed.graphql]` checks serde cannot make, as `(field, message)`.
pub(crate) fn validate(feed: &crate::FeedConfig, p: &mut Vec<(String, String)>) {
    let o = feed.graphql.clone().unwrap_or_default();
    let q = o.query.trim_start();
    if q.is_empty() {
        p.push((
            "graphql.query".into(),
            "is empty: write the subscription, e.g. `subscription { health { cpu } }`".into(),
        ));
    } else if q.starts_with("query") || q.starts_with("mutation") || q.starts_with('{') {
        p.push((
            "graphql.query".into(),
            "is a query or mutation: a feed needs a `subscription { … }` (poll a query with transport `poll` and a POST body instead)".into(),
        ));
    }
    if let Some(v) = &o.variables {
        match serde_json::from_str::<serde_json::Value>(v) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => p.push((
                "graphql.variables".into(),
                "must be a JSON object, e.g. `{\"host\": \"web-1\"}`".into(),
            )),
            Err(e) => p.push(("graphql.variables".into(), format!("is not JSON: {e}"))),
        }
    }
    crate::validate::socket_settings(
        "graphql",
        (o.ping_interval, o.pong_timeout, o.max_message_size),
        p,
    );
    crate::validate::env_refs("graphql.connection_params", &o.connection_params, p);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(query: &str, variables: Option<&str>) -> Vec<String> {
        let mut f = crate::FeedConfig::new("g", crate::TransportKind::Graphql, "ws://h/graphql");
        f.graphql = Some(GraphqlOptions {
            query: query.into(),
            variables: variables.map(str::to_string),
            ..GraphqlOptions::default()
        });
        crate::validate::validate_feed(&f)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn the_config_checks_name_the_field() {
        let sub = "subscription { ticks(count: 3) { seq } }";
        assert!(problems(sub, Some(r#"{"a":1}"#)).is_empty());
        assert_eq!(problems("", None), vec!["graphql.query"]);
        assert_eq!(problems("{ hello }", None), vec!["graphql.query"]);
        assert_eq!(problems(sub, Some("[1]")), vec!["graphql.variables"]);
        assert_eq!(problems(sub, Some("{")), vec!["graphql.variables"]);
    }
}
