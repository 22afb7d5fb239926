//! What an operator configures: a feed, its transport and its extraction rules.
//!
//! These types are both the TOML schema (`[[feed]]` tables) and what the store
//! keeps. Validation that serde cannot express lives in [`crate::config`].

use crate::duration::{ByteSize, Dur};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a feed reaches its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum TransportKind {
    /// A WebSocket subscription (`ws://` or `wss://`).
    Websocket,
    /// Server-Sent Events (`text/event-stream`).
    Sse,
    /// Short polling: one HTTP request per interval.
    Poll,
    /// Long polling: the server holds each request until it has news.
    LongPoll,
    /// An MQTT subscription (`mqtt://`, `mqtts://` or `ws://`).
    Mqtt,
    /// PostgreSQL `LISTEN` (`postgres://`): each `NOTIFY` is a message.
    PgNotify,
    /// GraphQL subscriptions over WebSocket (`ws://`, `wss://`).
    Graphql,
    /// Socket.IO (Engine.IO 4 over WebSocket): `http(s)://` or `ws(s)://`.
    Socketio,
    /// Inbound webhooks: the sender posts to `/hooks/{feed}`.
    Webhook,
    /// gRPC server streaming (`http://`, `https://`).
    Grpc,
    /// A TCP check (`tcp://host:port`): a connection attempt per
    /// `poll.interval`.
    Tcp,
    /// A DNS check (`dns://server/name?type=A`): a query per
    /// `poll.interval`.
    Dns,
}

impl TransportKind {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Websocket => "websocket",
            TransportKind::Sse => "sse",
            TransportKind::Poll => "poll",
            TransportKind::LongPoll => "long_poll",
            TransportKind::Mqtt => "mqtt",
            TransportKind::PgNotify => "pg_notify",
            TransportKind::Graphql => "graphql",
            TransportKind::Socketio => "socketio",
            TransportKind::Webhook => "webhook",
            TransportKind::Grpc => "grpc",
            TransportKind::Tcp => "tcp",
            TransportKind::Dns => "dns",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum PayloadFormat {
    /// A JSON document; metrics are addressed by JSON Pointer (RFC 6901).
    #[default]
    Json,
    /// Plain text; metrics are taken by regular expression.
    Text,
    /// Prometheus / OpenMetrics text exposition format.
    Prometheus,
}

/// Which payloads a feed stores as events (`payloads = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum PayloadKeep {
    /// Every payload.
    All,
    /// A payload unlike the last one kept.
    Changes,
    /// Only payloads that fail to parse or yield a problem.
    Errors,
    /// No payload (samples, states and alerts still are).
    None,
}

impl PayloadKeep {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadKeep::All => "all",
            PayloadKeep::Changes => "changes",
            PayloadKeep::Errors => "errors",
            PayloadKeep::None => "none",
        }
    }
}

/// One feed as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct FeedConfig {
    /// Unique, human-chosen name (`web-1`, `payments-api`).
    pub name: String,
    /// `websocket`, `sse`, `poll`, `long_poll`, `mqtt`, `pg_notify`,
    /// `graphql`, `socketio`, `webhook`, `grpc`, `tcp` or `dns`.
    pub transport: TransportKind,
    /// `ws://`, `wss://` (also for `graphql`), `http://` or `https://` (also
    /// for `socketio`, either); for MQTT `mqtt://`,
    /// `mqtts://` or `ws://`, with the broker's user and password as the
    /// URL's credentials; for `pg_notify` `postgres://user:password@host/db`;
    /// for `webhook` optional, a link to the sender; for `tcp`
    /// `tcp://host:port`; for `dns` `dns://server/name?type=A` (or
    /// `dns:///name` for the system's resolvers).
    #[serde(default)]
    pub url: String,
    /// A disabled feed is kept but not subscribed.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// How payloads are parsed (default `json`).
    #[serde(default)]
    pub format: PayloadFormat,
    /// Request headers. Values may reference environment variables as
    /// `${NAME}`: names starting with `TELLTALE_SECRET_`, or listed in the
    /// config file's `allow_env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The feed this one depends on (`depends_on = "router"`): while it is
    /// down, this feed's notifications are held and summarised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub depends_on: Option<String>,
    /// Tags (`tags = ["prod", "db"]`): filter the overview by them, snooze
    /// every feed with one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Metric extraction rules (`[[feed.metric]]`).
    #[serde(default, rename = "metric", skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricRule>,
    /// What says the server is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusRule>,
    /// No message for this long marks the feed stale. Default: 3 × poll
    /// interval for polls, 60 s otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<Dur>,
    /// Payloads larger than this are stored truncated (default 64 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_event_size: Option<ByteSize>,
    /// Which payloads are stored as events: `all`, `changes` (a payload
    /// equal to the last kept one is not stored again), `errors` (only
    /// payloads that fail to parse or yield a problem) or `none`. Default:
    /// `errors` for Prometheus text (its samples are what matters; a scrape
    /// is large and alike), `all` otherwise. Samples, states and alerts do
    /// not depend on it, and live data still shows every payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payloads: Option<PayloadKeep>,
    /// Besides what `payloads` keeps, keep one payload per this interval
    /// (and the first after a start), so the editor and the event log have
    /// a recent body. With `payloads = "all"` it instead thins them to one
    /// per interval. Default: `10m` for Prometheus text, none otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payloads_every: Option<Dur>,
    /// At most this many series (metric and label set) per feed (default
    /// 1,000): samples of further new series are dropped, and the feed says
    /// so, rather than filling the disk with one series per scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_series: Option<u32>,
    /// Alert rules (`[[feed.alert]]`).
    #[serde(default, rename = "alert", skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<crate::alert::AlertRule>,
    /// Reconnection policy.
    #[serde(default, skip_serializing_if = "BackoffConfig::is_default")]
    pub backoff: BackoffConfig,
    /// The proxy of an HTTP or WebSocket feed, `http://host:port`, or
    /// `none` to ignore `HTTPS_PROXY` and the like (see [`crate::proxy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub proxy: Option<String>,
    /// TLS settings of HTTP and WebSocket feeds (`[feed.tls]`): a CA file,
    /// a client certificate, or no verification at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub tls: Option<crate::tls::TlsOptions>,
    /// WebSocket options; only for `transport = "websocket"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebsocketOptions>,
    /// SSE options; only for `transport = "sse"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<SseOptions>,
    /// Poll options; only for `transport = "poll"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<PollOptions>,
    /// Long-poll options; only for `transport = "long_poll"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_poll: Option<LongPollOptions>,
    /// MQTT options; only for `transport = "mqtt"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<crate::mqtt::MqttOptions>,
    /// PostgreSQL `LISTEN` options; only for `transport = "pg_notify"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_notify: Option<crate::pg_notify::PgNotifyOptions>,
    /// GraphQL subscription options; only for `transport = "graphql"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<crate::graphql::GraphqlOptions>,
    /// Socket.IO options; only for `transport = "socketio"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socketio: Option<crate::socketio::SocketioOptions>,
    /// Inbound webhook options; only for `transport = "webhook"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhook::WebhookOptions>,
    /// gRPC streaming options; only for `transport = "grpc"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<crate::grpc::GrpcOptions>,
}

fn default_true() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

/// Series per feed unless `max_series` says otherwise.
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// Default payload cap for stored events.
pub const DEFAULT_MAX_EVENT_SIZE: u64 = 64 * 1024;

impl FeedConfig {
    /// A minimal feed; handy in tests and for the GUI's "new feed".
    pub fn new(name: impl Into<String>, transport: TransportKind, url: impl Into<String>) -> Self {
        FeedConfig {
            name: name.into(),
            transport,
            url: url.into(),
            enabled: true,
            format: PayloadFormat::Json,
            headers: BTreeMap::new(),
            metrics: Vec::new(),
            status: None,
            stale_after: None,
            max_event_size: None,
            payloads: None,
            payloads_every: None,
            max_series: None,
            alerts: Vec::new(),
            backoff: BackoffConfig::default(),
            websocket: None,
            sse: None,
            poll: None,
            long_poll: None,
            mqtt: None,
            pg_notify: None,
            graphql: None,
            socketio: None,
            webhook: None,
            grpc: None,
            tls: None,
            proxy: None,
            tags: Vec::new(),
            depends_on: None,
        }
    }

    /// The unit of a stored series by its metric name: its rule's, else (for
    /// Prometheus text) what the name implies.
    pub fn unit_of(&self, metric: &str) -> Option<crate::unit::Unit> {
        match self.metrics.iter().find(|m| m.name == metric) {
            Some(m) => m.effective_unit(self.format),
            // what every poll records beside its payload's metrics
            None if metric == "response_ms" => Some(crate::unit::Unit::Ms),
            None if metric == crate::alert::TLS_DAYS_LEFT => Some(crate::unit::Unit::Days),
            // a Prometheus family kept without a rule reads as a rule of its name would
            None => MetricRule {
                name: metric.to_string(),
                ..MetricRule::default()
            }
            .effective_unit(self.format),
        }
    }

    /// Adds a JSON-pointer metric (builder style).
    pub fn with_metric(mut self, name: &str, pointer: &str) -> Self {
        self.metrics.push(MetricRule {
            name: name.into(),
            pointer: Some(pointer.into()),
            ..MetricRule::default()
        });
        self
    }

    /// The effective staleness window; `None` when silence is normal and
    /// the connection's own keepalive is the liveness check: a gRPC health
    /// watch sends a status only when it changes.
    pub fn stale_after(&self) -> Option<Duration> {
        if let Some(d) = self.stale_after {
            return Some(d.0);
        }
        if self.transport == TransportKind::Grpc && self.grpc.as_ref().is_none_or(|g| g.is_health())
        {
            return None;
        }
        Some(match self.transport {
            TransportKind::Poll | TransportKind::Tcp | TransportKind::Dns => {
                self.poll_options().interval.0 * 3
            }
            TransportKind::LongPoll => {
                self.long_poll_options().hold.0 * 2 + Duration::from_secs(10)
            }
            // Deliveries come when something happens: an hour of quiet is
            // worth a look, a minute is not.
            TransportKind::Webhook => Duration::from_secs(3600),
            _ => Duration::from_secs(60),
        })
    }

    /// Which payloads are stored, and how often one is kept regardless
    /// (see [`FeedConfig::payloads`]).
    pub fn payload_policy(&self) -> (PayloadKeep, Option<Duration>) {
        let prometheus = self.format == PayloadFormat::Prometheus;
        let keep = self.payloads.unwrap_or(if prometheus {
            PayloadKeep::Errors
        } else {
            PayloadKeep::All
        });
        let every = match self.payloads_every {
            Some(d) if d.0.is_zero() => None,
            Some(d) => Some(d.0),
            None if prometheus && self.payloads.is_none() => Some(Duration::from_secs(600)),
            None => None,
        };
        (keep, every)
    }

    /// The effective series cap.
    pub fn max_series(&self) -> usize {
        self.max_series.map_or(DEFAULT_MAX_SERIES, |n| n as usize)
    }

    /// The effective stored-payload cap.
    pub fn max_event_size(&self) -> u64 {
        self.max_event_size
            .map(|b| b.0)
            .unwrap_or(DEFAULT_MAX_EVENT_SIZE)
    }

    /// WebSocket options or their defaults.
    pub fn websocket_options(&self) -> WebsocketOptions {
        self.websocket.clone().unwrap_or_default()
    }
    /// SSE options or their defaults.
    pub fn sse_options(&self) -> SseOptions {
        self.sse.clone().unwrap_or_default()
    }
    /// Poll options or their defaults.
    pub fn poll_options(&self) -> PollOptions {
        self.poll.clone().unwrap_or_default()
    }
    /// Long-poll options or their defaults.
    pub fn long_poll_options(&self) -> LongPollOptions {
        self.long_poll.clone().unwrap_or_default()
    }
    /// MQTT options or their defaults.
    pub fn mqtt_options(&self) -> crate::mqtt::MqttOptions {
        self.mqtt.clone().unwrap_or_default()
    }
    /// PostgreSQL `LISTEN` options or their defaults.
    pub fn pg_notify_options(&self) -> crate::pg_notify::PgNotifyOptions {
        self.pg_notify.clone().unwrap_or_default()
    }
    /// GraphQL subscription options or their defaults.
    pub fn graphql_options(&self) -> crate::graphql::GraphqlOptions {
        self.graphql.clone().unwrap_or_default()
    }
    /// gRPC options or their defaults.
    pub fn grpc_options(&self) -> crate::grpc::GrpcOptions {
        self.grpc.clone().unwrap_or_default()
    }

    /// The status rule in force: the configured one, or for a gRPC health
    /// watch `status == "SERVING"`.
    pub fn effective_status(&self) -> Option<StatusRule> {
        if self.status.is_some() {
            return self.status.clone();
        }
        (self.transport == TransportKind::Grpc && self.grpc_options().is_health()).then(|| {
            StatusRule {
                pointer: Some("/status".into()),
                healthy: vec!["SERVING".into()],
                unhealthy_pattern: None,
            }
        })
    }

    /// Webhook options or their defaults.
    pub fn webhook_options(&self) -> crate::webhook::WebhookOptions {
        self.webhook.clone().unwrap_or_default()
    }
    /// Socket.IO options or their defaults.
    pub fn socketio_options(&self) -> crate::socketio::SocketioOptions {
        self.socketio.clone().unwrap_or_default()
    }
}

/// One metric to extract from each payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct MetricRule {
    /// The series name (`cpu`, `latency_ms`).
    pub name: String,
    /// JSON formats: an RFC 6901 pointer to a number, numeric string or bool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Prometheus format: the metric family name to read (default: `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// Prometheus format: label matchers; every listed label must be equal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Text format: a regular expression whose first capture group is the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Prometheus format: keep only these labels on the stored series
    /// (empty: keep all). Series whose labels become equal merge: the last
    /// sample of a scrape wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<String>>"))]
    pub keep_labels: Vec<String>,
    /// Prometheus format: drop these labels from the stored series (a label
    /// that changes every scrape, such as a request id, would otherwise
    /// make a new series each time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<String>>"))]
    pub drop_labels: Vec<String>,
    /// `counter`: an ever-growing total, stored as a per-second rate (see
    /// `rate`); `gauge`: the value as it is. Prometheus text says it itself
    /// (`# TYPE`); JSON and text metrics are gauges unless marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub kind: Option<MetricKind>,
    /// Counters are stored as per-second rates, across resets (default
    /// `true`); `false` keeps the raw total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub rate: Option<bool>,
    /// What the values measure (`percent`, `bytes`, `seconds`, …): axes,
    /// tiles and notifications read `1.2 GiB`, not `1288490188`. Prometheus
    /// metrics default to what their name says (`_bytes`, `_seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub unit: Option<crate::unit::Unit>,
    /// Prometheus histograms: store this quantile (0 < q < 1, `0.99`) of the
    /// observations since the previous scrape, from the `_bucket` counts,
    /// interpolated within a bucket as Prometheus's `histogram_quantile`
    /// does, per label set (without `le`). Without it a histogram stores
    /// its mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub quantile: Option<f64>,
}

impl MetricRule {
    /// The unit of this rule's series: as set, else what a Prometheus
    /// family's name implies.
    pub fn effective_unit(&self, format: PayloadFormat) -> Option<crate::unit::Unit> {
        if self.unit.is_some() || format != PayloadFormat::Prometheus {
            return self.unit;
        }
        let family = self.prometheus.as_deref().unwrap_or(&self.name);
        let counter = self.kind == Some(MetricKind::Counter)
            || (self.kind.is_none() && family.ends_with("_total"));
        crate::unit::Unit::infer(family, counter && self.rate != Some(false))
    }
}

/// What a metric's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum MetricKind {
    /// Any value: stored as it is.
    Gauge,
    /// Only goes up, or resets to 0 when its process restarts.
    Counter,
}

/// What says the server behind a feed is healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct StatusRule {
    /// JSON: pointer to the status value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// JSON: values that mean healthy (compared as text, e.g. `"ok"`, `"true"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub healthy: Vec<String>,
    /// Text (or any format): a regular expression that, when it matches the
    /// payload, means unhealthy (e.g. `level=critical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_pattern: Option<String>,
}

/// Reconnection policy: exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct BackoffConfig {
    /// First delay bound (default 500 ms).
    pub initial: Dur,
    /// Upper bound on any delay (default 30 s).
    pub max: Dur,
    /// A connection that stays up this long resets the attempt count (default 30 s).
    pub reset_after: Dur,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Dur::millis(500),
            max: Dur::secs(30),
            reset_after: Dur::secs(30),
        }
    }
}

impl BackoffConfig {
    fn is_default(&self) -> bool {
        *self == BackoffConfig::default()
    }
}

/// WebSocket options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct WebsocketOptions {
    /// Offered in `Sec-WebSocket-Protocol`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subprotocols: Vec<String>,
    /// Text messages sent after every (re)connect, e.g. subscriptions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscribe: Vec<String>,
    /// How often to ping (default 15 s).
    pub ping_interval: Dur,
    /// No pong or data this long after a ping means the peer is dead (default 10 s).
    pub pong_timeout: Dur,
    /// Largest accepted message (default 16 MiB). Larger is a feed error.
    pub max_message_size: ByteSize,
    /// Optional JSON pointer to each message's id. When set, messages whose
    /// id was already received (a server replaying after a reconnect) are
    /// dropped and counted, and `{last_id}` in `subscribe` expands to the
    /// last id received.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub id_pointer: Option<String>,
}

impl Default for WebsocketOptions {
    fn default() -> Self {
        WebsocketOptions {
            subprotocols: Vec::new(),
            subscribe: Vec::new(),
            ping_interval: Dur::secs(15),
            pong_timeout: Dur::secs(10),
            max_message_size: ByteSize(16 << 20),
            id_pointer: None,
        }
    }
}

/// Server-Sent Events options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct SseOptions {
    /// Event types to keep (`message` is the unnamed default). Empty: keep all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// No byte (event, comment or heartbeat) for this long: reconnect (default 90 s).
    pub read_timeout: Dur,
    /// Largest accepted event (default 16 MiB). A line that grows past it
    /// drops the connection.
    pub max_event_size: ByteSize,
    /// The response headers must be complete within this (default 15 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_timeout: Option<Dur>,
}

impl Default for SseOptions {
    fn default() -> Self {
        SseOptions {
            events: Vec::new(),
            read_timeout: Dur::secs(90),
            max_event_size: ByteSize(16 << 20),
            header_timeout: None,
        }
    }
}

impl SseOptions {
    /// The effective limit for the response headers.
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout.map_or(DEFAULT_HEADER_TIMEOUT, |d| d.0)
    }
}

/// How long an HTTP server may take to send complete response headers
/// (after its hold, for a long poll).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// Default cap on the items one long-poll response delivers.
pub const DEFAULT_MAX_ITEMS: u32 = 10_000;

/// Short-poll options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct PollOptions {
    /// Time between polls (default 10 s). Each feed gets a random phase.
    pub interval: Dur,
    /// Per-request timeout (default 10 s, at most the interval is sensible).
    pub timeout: Dur,
    /// HTTP method (default GET).
    pub method: String,
    /// Request body, for POST-style health endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Send If-None-Match / If-Modified-Since (default true).
    pub conditional: bool,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions {
            interval: Dur::secs(10),
            timeout: Dur::secs(10),
            method: "GET".into(),
            body: None,
            conditional: true,
        }
    }
}

/// Where a long-poll cursor comes from and how it is sent back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum CursorMode {
    /// nchan style: echo `Etag` / `Last-Modified` as `If-None-Match` / `If-Modified-Since`.
    Headers,
    /// Read a JSON Pointer from each response body and send it as a query parameter.
    Body {
        /// Pointer to the cursor in the response (e.g. `/cursor`).
        pointer: String,
        /// Query parameter that carries it (e.g. `since`).
        param: String,
    },
    /// No cursor: just re-request.
    None,
}

/// Long-poll options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct LongPollOptions {
    /// How long the server holds a request (default 30 s).
    pub hold: Dur,
    /// Client timeout; must exceed `hold` (default `hold` + 10 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    /// Cursor handling (default `{ from = "headers" }`).
    pub cursor: CursorMode,
    /// Optional pointer to an array in the body; each element is one event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// Optional pointer (inside each item, or the body) to the server's event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_pointer: Option<String>,
    /// After the hold, the response headers must be complete within this
    /// (default 15 s; `long_poll.timeout` still bounds the whole request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_timeout: Option<Dur>,
    /// Most items delivered from one response (default 10 000); the rest
    /// are dropped and reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u32>,
}

impl Default for LongPollOptions {
    fn default() -> Self {
        LongPollOptions {
            hold: Dur::secs(30),
            timeout: None,
            cursor: CursorMode::Headers,
            items: None,
            id_pointer: None,
            header_timeout: None,
            max_items: None,
        }
    }
}

impl LongPollOptions {
    /// The effective client timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .map(|d| d.0)
            .unwrap_or(self.hold.0 + Duration::from_secs(10))
    }

    /// How long to wait for complete response headers: the hold, then
    /// `header_timeout`, never longer than the client timeout.
    pub fn header_deadline(&self) -> Duration {
        let after_hold = self.header_timeout.map_or(DEFAULT_HEADER_TIMEOUT, |d| d.0);
        (self.hold.0 + after_hold).min(self.timeout())
    }

    /// The effective cap on items per response.
    pub fn max_items(&self) -> usize {
        usize::try_from(self.max_items.unwrap_or(DEFAULT_MAX_ITEMS)).unwrap_or(usize::MAX)
    }
}
