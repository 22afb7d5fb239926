//! MQTT options (`[feed.mqtt]`) and topic filters: which topics a feed
//! subscribes to, and which topic levels become series labels.
//!
//! ```toml
//! [[feed]]
//! name = "fleet"
//! transport = "mqtt"
//! url = "mqtt://telltale:${…}@broker.lan:1883"   # or mqtts://, ws://, wss://
//! [feed.mqtt]
//! topics = [{ filter = "fleet/+/health", qos = 1, labels = ["host"] }]
//! ```
//!
//! The credentials are the URL's user and password, so they are masked and
//! restored like every other URL credential (see [`crate::secret`]).

use crate::duration::{ByteSize, Dur};
use serde::{Deserialize, Serialize};

/// The MQTT protocol version spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum MqttVersion {
    /// MQTT 3.1.1 (protocol level 4), what every broker speaks.
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.
    #[serde(rename = "5")]
    V5,
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct MqttTopic {
    /// A topic filter: levels separated by `/`, `+` for one level, `#` for
    /// the rest (last level only).
    pub filter: String,
    /// 0 (at most once) or 1 (at least once; with `clean_session = false`,
    /// messages published while Telltale was away arrive on reconnect).
    #[serde(default)]
    pub qos: u8,
    /// Names for the filter's wildcards, in order: the topic level matched
    /// by each `+` (then the rest matched by `#`) becomes a label of every
    /// sample from that message. `fleet/+/health` with `labels = ["host"]`
    /// gives `host = "web-1"` for `fleet/web-1/health`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<String>>"))]
    pub labels: Vec<String>,
}

/// MQTT options; only for `transport = "mqtt"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct MqttOptions {
    /// `3.1.1` (default) or `5`.
    pub version: MqttVersion,
    /// What to subscribe to (at least one).
    pub topics: Vec<MqttTopic>,
    /// The client id. Default: `telltale-` and the feed's name. Two clients
    /// with one id disconnect each other, so give each Telltale its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `true` (default): the broker forgets this client when it
    /// disconnects. `false`: a persistent session: the broker keeps the
    /// subscriptions and queues QoS 1 messages while Telltale is away.
    pub clean_session: bool,
    /// How often the client pings an idle broker (default 30 s, at least
    /// 1 s). No answer by the next ping means the broker is gone.
    pub keep_alive: Dur,
    /// Largest accepted packet (default 16 MiB). Larger is a feed error.
    pub max_packet_size: ByteSize,
    /// `mqtts://` and `wss://` only: a PEM file of the certificate authorities to trust
    /// instead of the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// `mqtts://` and `wss://` only: a PEM client certificate (with `client_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// `mqtts://` and `wss://` only: the client certificate's PEM key
    /// (PKCS #8; for `wss://` also PKCS #1 or SEC1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
}

impl Default for MqttOptions {
    fn default() -> Self {
        MqttOptions {
            version: MqttVersion::V311,
            topics: Vec::new(),
            client_id: None,
            clean_session: true,
            keep_alive: Dur::secs(30),
            max_packet_size: ByteSize(16 << 20),
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }
}

/// Longest client id every broker accepts (MQTT 3.1.1 allows servers to
/// refuse longer ones).
pub const MAX_PORTABLE_CLIENT_ID: usize = 23;

/// Why a topic filter is invalid, or `None`.
pub fn filter_problem(filter: &str) -> Option<String> {
    if filter.is_empty() {
        return Some("is empty: write a topic such as `sensors/+/temperature`".into());
    }
    if filter.contains('\0') {
        return Some("contains a NUL character".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Some(format!(
                "`{filter}`: `#` must be a whole level and the last one (`a/b/#`)"
            ));
        }
        if level.contains('+') && *level != "+" {
            return Some(format!(
                "`{filter}`: `+` must be a whole level (`a/+/c`), not part of one"
            ));
        }
    }
    None
}

/// The number of wildcards (`+` levels, and a final `#`) in a filter.
pub fn wildcards(filter: &str) -> usize {
    filter.split('/').filter(|l| *l == "+" || *l == "#").count()
}

/// When `topic` matches `filter`, the levels its wildcards matched, in
/// order (a `#` gives the rest of the topic as one value). `None` when it
/// does not match. Topics starting with `$` match no leading wildcard
/// (MQTT 3.1.1 §4.7.2).
pub fn captures<'a>(filter: &str, topic: &'a str) -> Option<Vec<&'a str>> {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = Some(topic);
    for f in filter.split('/') {
        if f == "#" {
            // `a/#` also matches `a` itself (the parent level).
            out.push(rest.unwrap_or(""));
            return Some(out);
        }
        let r = rest?;
        let (level, tail) = match r.split_once('/') {
            Some((l, t)) => (l, Some(t)),
            None => (r, None),
        };
        if f == "+" {
            out.push(level);
        } else if f != level {
            return None;
        }
        rest = tail;
    }
    rest.is_none().then_some(out)
}

/// The `[feed.mqtt]` checks serde cannot make, as `(field, message)`.
pub(crate) fn validate(feed: &crate::FeedConfig, p: &mut Vec<(String, String)>) {
    let o = feed.mqtt_options();
    if o.topics.is_empty() {
        p.push((
            "mqtt.topics".into(),
            "is empty: subscribe to at least one topic, e.g. `topics = [{ filter = \"sensors/#\" }]`".into(),
        ));
    }
    for (i, t) in o.topics.iter().enumerate() {
        if let Some(m) = filter_problem(&t.filter) {
            p.push((format!("mqtt.topics[{i}].filter"), m));
        }
        if t.qos > 1 {
            p.push((
                format!("mqtt.topics[{i}].qos"),
                format!("is {}: Telltale subscribes with QoS 0 or 1", t.qos),
            ));
        }
        let n = wildcards(&t.filter);
        if t.labels.len() > n {
            p.push((
                format!("mqtt.topics[{i}].labels"),
                format!(
                    "names {} labels, but `{}` has {n} wildcard(s) (`+` or `#`) to take them from",
                    t.labels.len(),
                    t.filter
                ),
            ));
        }
        for l in &t.labels {
            if l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                p.push((
                    format!("mqtt.topics[{i}].labels"),
                    format!("`{l}` is not a label name: use letters, digits and `_`"),
                ));
            }
        }
    }
    let keep_alive = o.keep_alive.0;
    if keep_alive < std::time::Duration::from_secs(1) || keep_alive.as_secs() > u16::MAX as u64 {
        p.push((
            "mqtt.keep_alive".into(),
            "must be between 1s and 65535s (whole seconds on the wire)".into(),
        ));
    }
    if o.client_id.as_deref().is_some_and(str::is_empty) {
        p.push((
            "mqtt.client_id".into(),
            "is empty: leave it out for the default (`telltale-` and the feed's name)".into(),
        ));
    }
    if o.max_packet_size.0 < 64 {
        p.push(("mqtt.max_packet_size".into(), "is too small".into()));
    }
    // As the transport reads it: the parsed (lower-case) scheme.
    let tls = url::Url::parse(&feed.url).is_ok_and(|u| matches!(u.scheme(), "mqtts" | "wss"));
    for (field, set) in [
        ("mqtt.ca_file", o.ca_file.is_some()),
        ("mqtt.client_cert", o.client_cert.is_some()),
        ("mqtt.client_key", o.client_key.is_some()),
    ] {
        if set && !tls {
            p.push((
                field.into(),
                "applies to `mqtts://` and `wss://` URLs only".into(),
            ));
        }
    }
    if o.client_cert.is_some() != o.client_key.is_some() {
        p.push((
            "mqtt.client_key".into(),
            "and `client_cert` go together: give both or neither".into(),
        ));
    }
    if !feed.headers.is_empty() {
        p.push((
            "headers".into(),
            "do not apply to MQTT: put the broker's user and password in the URL (`mqtt://user:password@host`)".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_capture_their_wildcards() {
        assert_eq!(
            captures("fleet/+/health", "fleet/web-1/health"),
            Some(vec!["web-1"])
        );
        assert_eq!(captures("fleet/+/health", "fleet/web-1/load"), None);
        assert_eq!(captures("fleet/+/health", "fleet/web-1/health/x"), None);
        assert_eq!(captures("fleet/+", "fleet"), None);
        assert_eq!(captures("a/#", "a/b/c"), Some(vec!["b/c"]));
        assert_eq!(captures("a/#", "a"), Some(vec![""]));
        assert_eq!(captures("+/+/#", "x/y/z/w"), Some(vec!["x", "y", "z/w"]));
        assert_eq!(captures("#", "$SYS/broker/load"), None);
        assert_eq!(
            captures("$SYS/#", "$SYS/broker/load"),
            Some(vec!["broker/load"])
        );
        assert_eq!(captures("a//b", "a//b"), Some(vec![]));
        assert_eq!(captures("a/+/b", "a//b"), Some(vec![""]));
    }

    fn problems(url: &str, o: MqttOptions) -> Vec<String> {
        let mut f = crate::FeedConfig::new("m", crate::TransportKind::Mqtt, url);
        f.mqtt = Some(o);
        crate::validate::validate_feed(&f)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn the_config_checks_name_the_field() {
        let topic = |filter: &str, qos: u8, labels: &[&str]| MqttTopic {
            filter: filter.into(),
            qos,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        };
        let ok = MqttOptions {
            topics: vec![topic("a/+/b", 1, &["x"])],
            ..MqttOptions::default()
        };
        assert!(problems("mqtt://h", ok.clone()).is_empty());
        assert_eq!(
            problems("mqtt://h", MqttOptions::default()),
            vec!["mqtt.topics"]
        );
        let bad = MqttOptions {
            topics: vec![topic("a/#/b", 2, &["x", "y"])],
            ..MqttOptions::default()
        };
        assert_eq!(
            problems("mqtt://h", bad),
            vec![
                "mqtt.topics[0].filter",
                "mqtt.topics[0].qos",
                "mqtt.topics[0].labels"
            ]
        );
        // TLS files go with a TLS URL, however its scheme is written.
        let tls = MqttOptions {
            ca_file: Some("/ca.pem".into()),
            ..ok
        };
        assert!(problems("MQTTS://h", tls.clone()).is_empty());
        assert!(problems("wss://h/mqtt", tls.clone()).is_empty());
        assert_eq!(problems("mqtt://h", tls), vec!["mqtt.ca_file"]);
        assert_eq!(problems("https://h", MqttOptions::default())[0], "url");
    }

    #[test]
    fn misplaced_wildcards_are_refused() {
        assert!(filter_problem("a/#/b").is_some());
        assert!(filter_problem("a/b#").is_some());
        assert!(filter_problem("a/b+/c").is_some());
        assert!(filter_problem("").is_some());
        assert_eq!(filter_problem("a/+/b/#"), None);
        assert_eq!(wildcards("a/+/b/#"), 2);
    }
}
