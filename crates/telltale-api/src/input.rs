//! [`FeedInput`]: a feed's config as the UI reads and edits it.
//!
//! It mirrors [`telltale_model::FeedConfig`] field for field (same names,
//! same JSON shape as the config file's `[[feed]]` tables), with every
//! optional part present in output (`null` or its default) so that the
//! TypeScript type is simple, and every optional part accepted when missing
//! on input. Durations are strings (`"500ms"`, `"30s"`, `"5m"`), sizes too
//! (`"64KiB"`). Conversions both ways are exhaustive, so a field added to the
//! model does not compile here until it is mirrored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use telltale_model::alert::{AlertKind, AlertRule, CmpOp};
use telltale_model::duration::{ByteSize, Dur};
use telltale_model::feed::{
    BackoffConfig, CursorMode, LongPollOptions, MetricRule, PollOptions, SseOptions, StatusRule,
    WebsocketOptions,
};
use telltale_model::{FeedConfig, PayloadFormat, TransportKind};
use ts_rs::TS;

use crate::views::SeverityView;

/// How a feed reaches its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum TransportKindView {
    /// WebSocket (`ws://`, `wss://`).
    Websocket,
    /// Server-Sent Events.
    Sse,
    /// Short polling.
    Poll,
    /// Long polling.
    LongPoll,
}

impl From<TransportKind> for TransportKindView {
    fn from(t: TransportKind) -> Self {
        match t {
            TransportKind::Websocket => TransportKindView::Websocket,
            TransportKind::Sse => TransportKindView::Sse,
            TransportKind::Poll => TransportKindView::Poll,
            TransportKind::LongPoll => TransportKindView::LongPoll,
        }
    }
}

impl From<TransportKindView> for TransportKind {
    fn from(t: TransportKindView) -> Self {
        match t {
            TransportKindView::Websocket => TransportKind::Websocket,
            TransportKindView::Sse => TransportKind::Sse,
            TransportKindView::Poll => TransportKind::Poll,
            TransportKindView::LongPoll => TransportKind::LongPoll,
        }
    }
}

/// How payloads are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum PayloadFormatView {
    /// JSON; metrics by JSON Pointer.
    #[default]
    Json,
    /// Plain text; metrics by regex.
    Text,
    /// Prometheus text exposition.
    Prometheus,
}

impl From<PayloadFormat> for PayloadFormatView {
    fn from(f: PayloadFormat) -> Self {
        match f {
            PayloadFormat::Json => PayloadFormatView::Json,
            PayloadFormat::Text => PayloadFormatView::Text,
            PayloadFormat::Prometheus => PayloadFormatView::Prometheus,
        }
    }
}

impl From<PayloadFormatView> for PayloadFormat {
    fn from(f: PayloadFormatView) -> Self {
        match f {
            PayloadFormatView::Json => PayloadFormat::Json,
            PayloadFormatView::Text => PayloadFormat::Text,
            PayloadFormatView::Prometheus => PayloadFormat::Prometheus,
        }
    }
}

fn default_true() -> bool {
    true
}

/// A feed's configuration, as edited in the UI (see the README's config
/// format for what each field means).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct FeedInput {
    /// Unique name.
    pub name: String,
    /// Transport.
    pub transport: TransportKindView,
    /// `ws(s)://` for websocket, `http(s)://` otherwise.
    pub url: String,
    /// Subscribe or not (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Payload format (default `json`).
    #[serde(default)]
    pub format: PayloadFormatView,
    /// Request headers; values may use `${ENV_VAR}`. Masked values sent back
    /// unchanged keep the stored secret.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Metric extraction rules.
    #[serde(default, rename = "metric")]
    pub metrics: Vec<MetricRuleInput>,
    /// What says the server is healthy.
    #[serde(default)]
    pub status: Option<StatusRuleInput>,
    /// No message this long marks the feed stale (e.g. `"60s"`).
    #[serde(default)]
    #[ts(type = "string | null")]
    pub stale_after: Option<Dur>,
    /// Stored payloads are cut to this size (e.g. `"64KiB"`).
    #[serde(default)]
    #[ts(type = "string | null")]
    pub max_event_size: Option<ByteSize>,
    /// Alert rules.
    #[serde(default, rename = "alert")]
    pub alerts: Vec<AlertRuleInput>,
    /// Reconnection policy.
    #[serde(default)]
    pub backoff: BackoffInput,
    /// WebSocket options (only for `websocket`).
    #[serde(default)]
    pub websocket: Option<WebsocketInput>,
    /// SSE options (only for `sse`).
    #[serde(default)]
    pub sse: Option<SseInput>,
    /// Poll options (only for `poll`).
    #[serde(default)]
    pub poll: Option<PollInput>,
    /// Long-poll options (only for `long_poll`).
    #[serde(default)]
    pub long_poll: Option<LongPollInput>,
}

impl From<FeedConfig> for FeedInput {
    fn from(c: FeedConfig) -> Self {
        let FeedConfig {
            name,
            transport,
            url,
            enabled,
            format,
            headers,
            metrics,
            status,
            stale_after,
            max_event_size,
            alerts,
            backoff,
            websocket,
            sse,
            poll,
            long_poll,
        } = c;
        FeedInput {
            name,
            transport: transport.into(),
            url,
            enabled,
            format: format.into(),
            headers,
            metrics: metrics.into_iter().map(Into::into).collect(),
            status: status.map(Into::into),
            stale_after,
            max_event_size,
            alerts: alerts.into_iter().map(Into::into).collect(),
            backoff: backoff.into(),
            websocket: websocket.map(Into::into),
            sse: sse.map(Into::into),
            poll: poll.map(Into::into),
            long_poll: long_poll.map(Into::into),
        }
    }
}

impl From<FeedInput> for FeedConfig {
    fn from(i: FeedInput) -> Self {
        let FeedInput {
            name,
            transport,
            url,
            enabled,
            format,
            headers,
            metrics,
            status,
            stale_after,
            max_event_size,
            alerts,
            backoff,
            websocket,
            sse,
            poll,
            long_poll,
        } = i;
        FeedConfig {
            name,
            transport: transport.into(),
            url,
            enabled,
            format: format.into(),
            headers,
            metrics: metrics.into_iter().map(Into::into).collect(),
            status: status.map(Into::into),
            stale_after,
            max_event_size,
            alerts: alerts.into_iter().map(Into::into).collect(),
            backoff: backoff.into(),
            websocket: websocket.map(Into::into),
            sse: sse.map(Into::into),
            poll: poll.map(Into::into),
            long_poll: long_poll.map(Into::into),
        }
    }
}

/// One metric to extract from each payload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct MetricRuleInput {
    /// Series name.
    pub name: String,
    /// JSON: RFC 6901 pointer to the number.
    #[serde(default)]
    pub pointer: Option<String>,
    /// Prometheus: metric family name (default: `name`).
    #[serde(default)]
    pub prometheus: Option<String>,
    /// Prometheus: label matchers.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Text: a regex whose first capture group is the number.
    #[serde(default)]
    pub regex: Option<String>,
}

impl From<MetricRule> for MetricRuleInput {
    fn from(m: MetricRule) -> Self {
        let MetricRule {
            name,
            pointer,
            prometheus,
            labels,
            regex,
        } = m;
        MetricRuleInput {
            name,
            pointer,
            prometheus,
            labels,
            regex,
        }
    }
}

impl From<MetricRuleInput> for MetricRule {
    fn from(m: MetricRuleInput) -> Self {
        let MetricRuleInput {
            name,
            pointer,
            prometheus,
            labels,
            regex,
        } = m;
        MetricRule {
            name,
            pointer,
            prometheus,
            labels,
            regex,
        }
    }
}

/// What says the server is healthy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct StatusRuleInput {
    /// JSON: pointer to the status value.
    #[serde(default)]
    pub pointer: Option<String>,
    /// Values that mean healthy.
    #[serde(default)]
    pub healthy: Vec<String>,
    /// A regex that, when it matches the payload, means unhealthy.
    #[serde(default)]
    pub unhealthy_pattern: Option<String>,
}

impl From<StatusRule> for StatusRuleInput {
    fn from(s: StatusRule) -> Self {
        let StatusRule {
            pointer,
            healthy,
            unhealthy_pattern,
        } = s;
        StatusRuleInput {
            pointer,
            healthy,
            unhealthy_pattern,
        }
    }
}

impl From<StatusRuleInput> for StatusRule {
    fn from(s: StatusRuleInput) -> Self {
        let StatusRuleInput {
            pointer,
            healthy,
            unhealthy_pattern,
        } = s;
        StatusRule {
            pointer,
            healthy,
            unhealthy_pattern,
        }
    }
}

/// Reconnection policy: exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct BackoffInput {
    /// First delay bound (default `"500ms"`).
    #[ts(type = "string")]
    pub initial: Dur,
    /// Upper bound (default `"30s"`).
    #[ts(type = "string")]
    pub max: Dur,
    /// A connection up this long resets the attempts (default `"30s"`).
    #[ts(type = "string")]
    pub reset_after: Dur,
}

impl Default for BackoffInput {
    fn default() -> Self {
        BackoffConfig::default().into()
    }
}

impl From<BackoffConfig> for BackoffInput {
    fn from(b: BackoffConfig) -> Self {
        let BackoffConfig {
            initial,
            max,
            reset_after,
        } = b;
        BackoffInput {
            initial,
            max,
            reset_after,
        }
    }
}

impl From<BackoffInput> for BackoffConfig {
    fn from(b: BackoffInput) -> Self {
        let BackoffInput {
            initial,
            max,
            reset_after,
        } = b;
        BackoffConfig {
            initial,
            max,
            reset_after,
        }
    }
}

/// WebSocket options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct WebsocketInput {
    /// Offered subprotocols.
    pub subprotocols: Vec<String>,
    /// Text messages sent after every (re)connect.
    pub subscribe: Vec<String>,
    /// Ping interval (default `"15s"`).
    #[ts(type = "string")]
    pub ping_interval: Dur,
    /// Dead-peer timeout after a ping (default `"10s"`).
    #[ts(type = "string")]
    pub pong_timeout: Dur,
    /// Largest accepted message (default `"16MiB"`).
    #[ts(type = "string")]
    pub max_message_size: ByteSize,
}

impl Default for WebsocketInput {
    fn default() -> Self {
        WebsocketOptions::default().into()
    }
}

impl From<WebsocketOptions> for WebsocketInput {
    fn from(o: WebsocketOptions) -> Self {
        let WebsocketOptions {
            subprotocols,
            subscribe,
            ping_interval,
            pong_timeout,
            max_message_size,
        } = o;
        WebsocketInput {
            subprotocols,
            subscribe,
            ping_interval,
            pong_timeout,
            max_message_size,
        }
    }
}

impl From<WebsocketInput> for WebsocketOptions {
    fn from(o: WebsocketInput) -> Self {
        let WebsocketInput {
            subprotocols,
            subscribe,
            ping_interval,
            pong_timeout,
            max_message_size,
        } = o;
        WebsocketOptions {
            subprotocols,
            subscribe,
            ping_interval,
            pong_timeout,
            max_message_size,
        }
    }
}

/// Server-Sent Events options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct SseInput {
    /// Event types to keep (empty: all).
    pub events: Vec<String>,
    /// Silence this long means reconnect (default `"90s"`).
    #[ts(type = "string")]
    pub read_timeout: Dur,
    /// Largest accepted event (default `"16MiB"`).
    #[ts(type = "string")]
    pub max_event_size: ByteSize,
}

impl Default for SseInput {
    fn default() -> Self {
        SseOptions::default().into()
    }
}

impl From<SseOptions> for SseInput {
    fn from(o: SseOptions) -> Self {
        let SseOptions {
            events,
            read_timeout,
            max_event_size,
        } = o;
        SseInput {
            events,
            read_timeout,
            max_event_size,
        }
    }
}

impl From<SseInput> for SseOptions {
    fn from(o: SseInput) -> Self {
        let SseInput {
            events,
            read_timeout,
            max_event_size,
        } = o;
        SseOptions {
            events,
            read_timeout,
            max_event_size,
        }
    }
}

/// Short-poll options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct PollInput {
    /// Time between polls (default `"10s"`).
    #[ts(type = "string")]
    pub interval: Dur,
    /// Per-request timeout (default `"10s"`).
    #[ts(type = "string")]
    pub timeout: Dur,
    /// HTTP method (default `GET`).
    pub method: String,
    /// Request body.
    pub body: Option<String>,
    /// Conditional requests (default true).
    pub conditional: bool,
}

impl Default for PollInput {
    fn default() -> Self {
        PollOptions::default().into()
    }
}

impl From<PollOptions> for PollInput {
    fn from(o: PollOptions) -> Self {
        let PollOptions {
            interval,
            timeout,
            method,
            body,
            conditional,
        } = o;
        PollInput {
            interval,
            timeout,
            method,
            body,
            conditional,
        }
    }
}

impl From<PollInput> for PollOptions {
    fn from(o: PollInput) -> Self {
        let PollInput {
            interval,
            timeout,
            method,
            body,
            conditional,
        } = o;
        PollOptions {
            interval,
            timeout,
            method,
            body,
            conditional,
        }
    }
}

/// Where a long-poll cursor comes from (tagged by `from`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
// Unlike the model's `CursorMode`, no `deny_unknown_fields` (ts-rs cannot
// read it on enums): every field here is required, so typos still fail.
#[serde(tag = "from", rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum CursorInput {
    /// nchan style: `Etag` / `Last-Modified` echoed back.
    Headers,
    /// A JSON Pointer in each body, sent back as a query parameter.
    Body {
        /// Pointer to the cursor (e.g. `/cursor`).
        pointer: String,
        /// Query parameter (e.g. `since`).
        param: String,
    },
    /// No cursor.
    None,
}

impl From<CursorMode> for CursorInput {
    fn from(c: CursorMode) -> Self {
        match c {
            CursorMode::Headers => CursorInput::Headers,
            CursorMode::Body { pointer, param } => CursorInput::Body { pointer, param },
            CursorMode::None => CursorInput::None,
        }
    }
}

impl From<CursorInput> for CursorMode {
    fn from(c: CursorInput) -> Self {
        match c {
            CursorInput::Headers => CursorMode::Headers,
            CursorInput::Body { pointer, param } => CursorMode::Body { pointer, param },
            CursorInput::None => CursorMode::None,
        }
    }
}

/// Long-poll options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct LongPollInput {
    /// How long the server holds a request (default `"30s"`).
    #[ts(type = "string")]
    pub hold: Dur,
    /// Client timeout, above `hold` (default hold + 10 s).
    #[ts(type = "string | null")]
    pub timeout: Option<Dur>,
    /// Cursor handling (default `{ from: "headers" }`).
    pub cursor: CursorInput,
    /// Pointer to an array of events in the body.
    pub items: Option<String>,
    /// Pointer to each event's id.
    pub id_pointer: Option<String>,
}

impl Default for LongPollInput {
    fn default() -> Self {
        LongPollOptions::default().into()
    }
}

impl From<LongPollOptions> for LongPollInput {
    fn from(o: LongPollOptions) -> Self {
        let LongPollOptions {
            hold,
            timeout,
            cursor,
            items,
            id_pointer,
        } = o;
        LongPollInput {
            hold,
            timeout,
            cursor: cursor.into(),
            items,
            id_pointer,
        }
    }
}

impl From<LongPollInput> for LongPollOptions {
    fn from(o: LongPollInput) -> Self {
        let LongPollInput {
            hold,
            timeout,
            cursor,
            items,
            id_pointer,
        } = o;
        LongPollOptions {
            hold,
            timeout,
            cursor: cursor.into(),
            items,
            id_pointer,
        }
    }
}

/// What an alert rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum AlertKindView {
    /// A metric against a threshold.
    Threshold,
    /// No message for `after`.
    Stale,
    /// Not live for `after`.
    Down,
    /// The status rule says unhealthy.
    Status,
    /// The payload matches `pattern`.
    Keyword,
}

impl From<AlertKind> for AlertKindView {
    fn from(k: AlertKind) -> Self {
        match k {
            AlertKind::Threshold => AlertKindView::Threshold,
            AlertKind::Stale => AlertKindView::Stale,
            AlertKind::Down => AlertKindView::Down,
            AlertKind::Status => AlertKindView::Status,
            AlertKind::Keyword => AlertKindView::Keyword,
        }
    }
}

impl From<AlertKindView> for AlertKind {
    fn from(k: AlertKindView) -> Self {
        match k {
            AlertKindView::Threshold => AlertKind::Threshold,
            AlertKindView::Stale => AlertKind::Stale,
            AlertKindView::Down => AlertKind::Down,
            AlertKindView::Status => AlertKind::Status,
            AlertKindView::Keyword => AlertKind::Keyword,
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum CmpOpView {
    /// Greater than.
    #[serde(rename = ">")]
    Gt,
    /// Greater than or equal.
    #[serde(rename = ">=")]
    Ge,
    /// Less than.
    #[serde(rename = "<")]
    Lt,
    /// Less than or equal.
    #[serde(rename = "<=")]
    Le,
    /// Equal.
    #[serde(rename = "==")]
    Eq,
    /// Not equal.
    #[serde(rename = "!=")]
    Ne,
}

impl From<CmpOp> for CmpOpView {
    fn from(o: CmpOp) -> Self {
        match o {
            CmpOp::Gt => CmpOpView::Gt,
            CmpOp::Ge => CmpOpView::Ge,
            CmpOp::Lt => CmpOpView::Lt,
            CmpOp::Le => CmpOpView::Le,
            CmpOp::Eq => CmpOpView::Eq,
            CmpOp::Ne => CmpOpView::Ne,
        }
    }
}

impl From<CmpOpView> for CmpOp {
    fn from(o: CmpOpView) -> Self {
        match o {
            CmpOpView::Gt => CmpOp::Gt,
            CmpOpView::Ge => CmpOp::Ge,
            CmpOpView::Lt => CmpOp::Lt,
            CmpOpView::Le => CmpOp::Le,
            CmpOpView::Eq => CmpOp::Eq,
            CmpOpView::Ne => CmpOp::Ne,
        }
    }
}

/// One alert rule on a feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct AlertRuleInput {
    /// Unique within the feed.
    pub name: String,
    /// What it watches.
    pub kind: AlertKindView,
    /// Threshold: the metric.
    #[serde(default)]
    pub metric: Option<String>,
    /// Threshold: only series with these labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Threshold: the comparison.
    #[serde(default)]
    pub op: Option<CmpOpView>,
    /// Threshold: the value.
    #[serde(default)]
    pub value: Option<f64>,
    /// Threshold: hysteresis (default `value`).
    #[serde(default)]
    pub clear: Option<f64>,
    /// Stale/down: how long before it counts (e.g. `"30s"`).
    #[serde(default)]
    #[ts(type = "string | null")]
    pub after: Option<Dur>,
    /// Keyword: a regex.
    #[serde(default)]
    pub pattern: Option<String>,
    /// How long the condition must hold before firing.
    #[serde(default, rename = "for")]
    #[ts(type = "string | null")]
    pub for_duration: Option<Dur>,
    /// Severity (default `warning`).
    #[serde(default = "default_severity")]
    pub severity: SeverityView,
    /// Notification text with `{feed}`, `{rule}`, `{value}`… placeholders.
    #[serde(default)]
    pub summary: Option<String>,
}

fn default_severity() -> SeverityView {
    telltale_model::alert::Severity::default().into()
}

impl From<AlertRule> for AlertRuleInput {
    fn from(r: AlertRule) -> Self {
        let AlertRule {
            name,
            kind,
            metric,
            labels,
            op,
            value,
            clear,
            after,
            pattern,
            for_duration,
            severity,
            summary,
        } = r;
        AlertRuleInput {
            name,
            kind: kind.into(),
            metric,
            labels,
            op: op.map(Into::into),
            value,
            clear,
            after,
            pattern,
            for_duration,
            severity: severity.into(),
            summary,
        }
    }
}

impl From<AlertRuleInput> for AlertRule {
    fn from(r: AlertRuleInput) -> Self {
        let AlertRuleInput {
            name,
            kind,
            metric,
            labels,
            op,
            value,
            clear,
            after,
            pattern,
            for_duration,
            severity,
            summary,
        } = r;
        AlertRule {
            name,
            kind: kind.into(),
            metric,
            labels,
            op: op.map(Into::into),
            value,
            clear,
            after,
            pattern,
            for_duration,
            severity: severity.into(),
            summary,
        }
    }
}

/// An operator action on alerts (tagged by `action`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum AlertActionInput {
    /// Acknowledge a firing alert.
    Ack {
        /// Alert id.
        #[ts(type = "number")]
        id: i64,
    },
    /// Snooze the rule behind an alert.
    SnoozeAlert {
        /// Alert id.
        #[ts(type = "number")]
        id: i64,
        /// Seconds.
        #[ts(type = "number")]
        secs: u64,
    },
    /// Snooze one rule of a feed.
    SnoozeRule {
        /// Feed id.
        #[ts(type = "number")]
        feed_id: i64,
        /// Rule name.
        rule: String,
        /// Seconds.
        #[ts(type = "number")]
        secs: u64,
    },
    /// Snooze a whole feed.
    SnoozeFeed {
        /// Feed id.
        #[ts(type = "number")]
        feed_id: i64,
        /// Seconds.
        #[ts(type = "number")]
        secs: u64,
    },
    /// Mute every notification for `secs`, or until unmuted (`null`).
    Mute {
        /// Seconds, or `null` until unmuted.
        #[ts(as = "Option<f64>")]
        secs: Option<u64>,
    },
    /// End a mute.
    Unmute,
}

impl From<AlertActionInput> for telltale_engine::AlertAction {
    fn from(a: AlertActionInput) -> Self {
        use telltale_engine::AlertAction as A;
        match a {
            AlertActionInput::Ack { id } => A::Ack { id },
            AlertActionInput::SnoozeAlert { id, secs } => A::SnoozeAlert { id, secs },
            AlertActionInput::SnoozeRule {
                feed_id,
                rule,
                secs,
            } => A::SnoozeRule {
                feed_id,
                rule,
                secs,
            },
            AlertActionInput::SnoozeFeed { feed_id, secs } => A::SnoozeFeed { feed_id, secs },
            AlertActionInput::Mute { secs } => A::Mute { secs },
            AlertActionInput::Unmute => A::Unmute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_model::ConfigFile;

    const FULL: &str = r#"
[[feed]]
name = "ws"
transport = "websocket"
url = "wss://u:p@h.example/stream"
enabled = false
headers = { Authorization = "Bearer ${TOKEN}", Accept = "application/json" }
stale_after = "45s"
max_event_size = "32KiB"
[[feed.metric]]
name = "cpu"
pointer = "/cpu"
[feed.status]
pointer = "/status"
healthy = ["ok"]
unhealthy_pattern = "critical"
[[feed.alert]]
name = "cpu high"
kind = "threshold"
metric = "cpu"
labels = { core = "0" }
op = ">="
value = 90
clear = 80
for = "30s"
severity = "critical"
summary = "{feed} hot"
[[feed.alert]]
name = "down"
kind = "down"
after = "1m"
[feed.backoff]
initial = "1s"
max = "1m"
reset_after = "2m"
[feed.websocket]
subprotocols = ["v1"]
subscribe = ['{"sub":1}']
ping_interval = "5s"
pong_timeout = "3s"
max_message_size = "1MiB"

[[feed]]
name = "lp"
transport = "long_poll"
url = "http://h.example/changes"
[feed.long_poll]
hold = "20s"
timeout = "25s"
cursor = { from = "body", pointer = "/cursor", param = "since" }
items = "/events"
id_pointer = "/id"

[[feed]]
name = "poll"
transport = "poll"
url = "http://h.example/metrics"
format = "prometheus"
[[feed.metric]]
name = "idle"
prometheus = "node_cpu_seconds_total"
labels = { mode = "idle" }
[feed.poll]
interval = "15s"
timeout = "5s"
method = "POST"
body = "{}"
conditional = false

[[feed]]
name = "sse"
transport = "sse"
url = "http://h.example/events"
format = "text"
[[feed.metric]]
name = "n"
regex = "n=(\\d+)"
[feed.sse]
events = ["health"]
read_timeout = "1m"
max_event_size = "2MiB"
"#;

    #[test]
    fn every_config_round_trips_through_the_input_type() {
        let file = ConfigFile::parse("full.toml", FULL);
        assert!(file.errors.is_empty(), "{:?}", file.errors);
        assert_eq!(file.feeds.len(), 4);
        for cfg in file.feeds {
            // Rust conversions.
            let input = FeedInput::from(cfg.clone());
            assert_eq!(FeedConfig::from(input.clone()), cfg);
            // The UI's JSON (everything present) and the config file's
            // shape (defaults omitted) both read back to the same config.
            let ui_json = serde_json::to_value(&input).unwrap();
            let back: FeedInput = serde_json::from_value(ui_json).unwrap();
            assert_eq!(FeedConfig::from(back), cfg);
            let file_json = serde_json::to_value(&cfg).unwrap();
            let back: FeedInput = serde_json::from_value(file_json).unwrap();
            assert_eq!(FeedConfig::from(back), cfg);
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<FeedInput>(
            r#"{"name":"x","transport":"sse","url":"http://h/x","retries":3}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("retries"), "{e}");
    }
}
