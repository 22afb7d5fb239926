//! [`AlertActionInput`]: an operator action on alerts, as the UI sends it.
//!
//! Feed configs cross the boundary as [`telltale_model::FeedConfig`] itself:
//! the model derives `ts_rs::TS` (feature `ts`), so there is one source for
//! the Rust and TypeScript types.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
    use telltale_model::{ConfigFile, FeedConfig};

    const FULL: &str = r#"
[[feed]]
name = "ws"
transport = "websocket"
url = "wss://u:p@h.example/stream"
enabled = false
headers = { Authorization = "Bearer ${TELLTALE_SECRET_TOKEN}", Accept = "application/json" }
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
    fn every_config_round_trips_through_json() {
        let file = ConfigFile::parse("full.toml", FULL);
        assert!(file.errors.is_empty(), "{:?}", file.errors);
        assert_eq!(file.feeds.len(), 4);
        for cfg in file.feeds {
            // What the UI receives reads back to the same config.
            let json = serde_json::to_value(&cfg).unwrap();
            let back: FeedConfig = serde_json::from_value(json).unwrap();
            assert_eq!(back, cfg);
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<FeedConfig>(
            r#"{"name":"x","transport":"sse","url":"http://h/x","retries":3}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("retries"), "{e}");
    }
}
