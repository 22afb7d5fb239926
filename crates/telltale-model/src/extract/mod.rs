//! Turning payloads into numbers: metric extraction and the health status.
//!
//! An [`Extractor`] is compiled once per feed (regexes, pointers validated) and
//! then applied to every message.

use crate::feed::{FeedConfig, MetricRule, PayloadFormat, StatusRule};
use crate::message::RawMessage;
use regex::Regex;
use std::collections::BTreeMap;

/// One number taken from a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractedSample {
    /// Series metric name.
    pub metric: String,
    /// Series labels (empty for JSON/text metrics; the matched series' labels for Prometheus).
    pub labels: BTreeMap<String, String>,
    /// The value as the payload has it.
    pub value: f64,
    /// What is stored: the value, or what [`Rates`] derives from it.
    pub derive: Derive,
    /// A histogram quantile's buckets: `(le, cumulative count)`, ascending,
    /// ending with `+Inf`; empty for everything else.
    pub buckets: Vec<(f64, f64)>,
}

/// What is stored for an extracted value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Derive {
    /// The value itself (a gauge).
    #[default]
    Value,
    /// A counter: its per-second rate since the previous payload.
    Rate,
    /// A histogram's or summary's `_sum` (the value) with its `_count`:
    /// the mean of the observations since the previous payload.
    Mean {
        /// The `_count` beside the `_sum`.
        count: f64,
    },
    /// A histogram's buckets (in [`ExtractedSample::buckets`]): this
    /// quantile of the observations since the previous payload.
    Quantile {
        /// 0 < q < 1.
        q: f64,
    },
}

mod prom;
mod rates;
pub use rates::Rates;

/// The health verdict for one payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// True if the status rule says healthy.
    pub healthy: bool,
    /// The status text seen (the pointer's value, or the matching text).
    pub text: String,
}

/// Everything one payload yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extraction {
    /// Numbers, in rule order.
    pub samples: Vec<ExtractedSample>,
    /// The status verdict, when the feed has a status rule.
    pub health: Option<Health>,
    /// Problems worth telling the operator about (malformed payload, missing field).
    pub problems: Vec<Problem>,
}

/// One problem with a payload. Its [`Problem::key`] names the rule and the
/// kind of problem, never a value from the payload, so that rate limits
/// hold however the payload varies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The rule concerned: `payload`, `status` or `metric <name>`.
    pub rule: String,
    /// `malformed`, `missing`, `not_a_number` or `no_match`.
    pub kind: &'static str,
    /// What to tell the operator.
    pub message: String,
}

impl Problem {
    fn new(rule: impl Into<String>, kind: &'static str, message: String) -> Problem {
        Problem {
            rule: rule.into(),
            kind,
            message,
        }
    }

    fn metric(name: &str, kind: &'static str, message: String) -> Problem {
        Problem::new(format!("metric {name}"), kind, message)
    }

    /// `rule/kind`: what rate limits count by.
    pub fn key(&self) -> String {
        format!("{}/{}", self.rule, self.kind)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Pointer {
        name: String,
        pointer: String,
        /// The pointer's unescaped reference tokens, split once here rather
        /// than on every message.
        tokens: Vec<String>,
        derive: Derive,
    },
    Prom(prom::PromRule),
    Regex {
        name: String,
        re: Regex,
        derive: Derive,
    },
}

/// A feed's compiled extraction rules.
#[derive(Debug, Clone)]
pub struct Extractor {
    format: PayloadFormat,
    rules: Vec<Rule>,
    status_pointer: Option<String>,
    healthy: Vec<String>,
    unhealthy: Option<Regex>,
    /// The top-level keys any pointer starts with, or `None` when a pointer
    /// needs the whole document (see [`parse_pruned`]).
    keep: Option<Vec<String>>,
}

/// A rule that cannot be compiled: which field and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    /// Dotted field path inside the feed (`metric[2].pointer`).
    pub field: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

/// Checks an RFC 6901 JSON Pointer's syntax.
pub fn check_pointer(p: &str) -> Result<(), crate::ValueError> {
    if !p.is_empty() && !p.starts_with('/') {
        return Err(crate::ValueError::PointerStart { text: p.into() });
    }
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.peek(), Some('0') | Some('1')) {
            return Err(crate::ValueError::PointerEscape { text: p.into() });
        }
    }
    Ok(())
}

impl Extractor {
    /// Compiles a feed's rules, or says which field is wrong.
    pub fn new(feed: &FeedConfig) -> Result<Extractor, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        for (i, m) in feed.metrics.iter().enumerate() {
            match compile_rule(feed.format, m, i) {
                Ok(r) => rules.push(r),
                Err(e) => errors.push(e),
            }
        }
        let (status_pointer, healthy, unhealthy) = match &feed.effective_status() {
            None => (None, Vec::new(), None),
            Some(s) => match compile_status(s) {
                Ok(x) => x,
                Err(e) => {
                    errors.push(e);
                    (None, Vec::new(), None)
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let keep = top_level_keys(&rules, status_pointer.as_deref());
        Ok(Extractor {
            format: feed.format,
            rules,
            status_pointer,
            healthy,
            unhealthy,
            keep,
        })
    }

    /// Whether some value may need [`Rates`]: a Prometheus rule (its
    /// family's type is known only from the payload) or a counter rule.
    pub fn derives(&self) -> bool {
        self.rules.iter().any(|r| match r {
            Rule::Prom(_) => true,
            Rule::Pointer { derive, .. } | Rule::Regex { derive, .. } => *derive != Derive::Value,
        })
    }

    /// Applies the rules to one message. Labels the transport attached
    /// (MQTT topic levels) go on every sample that does not already have
    /// a label of that name.
    pub fn extract(&self, msg: &RawMessage) -> Extraction {
        let mut out = self.extract_payload(msg);
        if !msg.labels.is_empty() {
            for s in &mut out.samples {
                for (k, v) in &msg.labels {
                    s.labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        out
    }

    fn extract_payload(&self, msg: &RawMessage) -> Extraction {
        let mut out = Extraction::default();
        for (name, v) in &msg.transport_metrics {
            out.samples.push(ExtractedSample {
                metric: (*name).to_string(),
                labels: BTreeMap::new(),
                value: *v,
                derive: Derive::Value,
                buckets: Vec::new(),
            });
        }
        if msg.data.is_empty() {
            return out;
        }
        match self.format {
            PayloadFormat::Json => self.extract_json(msg, &mut out),
            PayloadFormat::Prometheus => self.extract_prom(msg, &mut out),
            PayloadFormat::Text => self.extract_text(msg, &mut out),
        }
        if let Some(re) = &self.unhealthy {
            let text = String::from_utf8_lossy(&msg.data);
            let m = re.find(&text).map(|m| m.as_str().to_string());
            let healthy = m.is_none();
            if out.health.is_none() || !healthy {
                out.health = Some(Health {
                    healthy,
                    text: m.unwrap_or_else(|| "ok".into()),
                });
            }
        }
        out
    }

    fn extract_json(&self, msg: &RawMessage, out: &mut Extraction) {
        let pruned = self
            .keep
            .as_deref()
            .and_then(|keep| parse_pruned(&msg.data, keep));
        let parsed = match pruned {
            Some(doc) => Ok(doc),
            None => serde_json::from_slice(&msg.data),
        };
        let doc: serde_json::Value = match parsed {
            Ok(v) => v,
            Err(e) => {
                out.problems.push(Problem::new("payload", "malformed", format!(
                    "malformed payload: expected JSON ({e}); it was stored as text. Set `format = \"text\"` if this feed is not JSON"
                )));
                return;
            }
        };
        for r in &self.rules {
            if let Rule::Pointer {
                name,
                pointer,
                tokens,
                derive,
            } = r
            {
                match lookup(&doc, tokens) {
                    Some(v) => match json_number(v) {
                        Some(value) => out.samples.push(ExtractedSample {
                            metric: name.clone(),
                            labels: BTreeMap::new(),
                            value,
                            derive: *derive,
                            buckets: Vec::new(),
                        }),
                        None => out.problems.push(Problem::metric(
                            name,
                            "not_a_number",
                            format!("metric `{name}`: `{pointer}` is {}, not a number", short(v)),
                        )),
                    },
                    None => out.problems.push(Problem::metric(
                        name,
                        "missing",
                        format!("metric `{name}`: `{pointer}` is not in the payload"),
                    )),
                }
            }
        }
        if let Some(p) = &self.status_pointer {
            let text = match doc.pointer(p) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => {
                    out.problems.push(Problem::new(
                        "status",
                        "missing",
                        format!("status: `{p}` is not in the payload"),
                    ));
                    return;
                }
            };
            let healthy = self.healthy.iter().any(|h| h == &text);
            out.health = Some(Health { healthy, text });
        }
    }

    fn extract_text(&self, msg: &RawMessage, out: &mut Extraction) {
        let text = String::from_utf8_lossy(&msg.data);
        for r in &self.rules {
            if let Rule::Regex { name, re, derive } = r {
                let captured = re
                    .captures(&text)
                    .and_then(|c| c.get(1).or_else(|| c.get(0)))
                    .map(|m| m.as_str().trim().to_string());
                match captured.as_deref().map(str::parse::<f64>) {
                    Some(Ok(value)) => out.samples.push(ExtractedSample {
                        metric: name.clone(),
                        labels: BTreeMap::new(),
                        value,
                        derive: *derive,
                        buckets: Vec::new(),
                    }),
                    Some(Err(_)) => out.problems.push(Problem::metric(
                        name,
                        "not_a_number",
                        format!(
                            "metric `{name}`: captured `{}`, which is not a number",
                            captured.unwrap_or_default()
                        ),
                    )),
                    None => {}
                }
            }
        }
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}…", &s[..s.floor_char_boundary(40)])
    } else {
        s
    }
}

/// Reads a JSON value as a number: numbers, numeric strings and booleans.
pub fn json_number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The first reference token of every pointer in the rules, or `None` when
/// one is the empty pointer (the whole document).
fn top_level_keys(rules: &[Rule], status_pointer: Option<&str>) -> Option<Vec<String>> {
    let mut keep = Vec::new();
    for r in rules {
        if let Rule::Pointer { tokens, .. } = r {
            keep.push(tokens.first()?.clone());
        }
    }
    if let Some(p) = status_pointer {
        let first = p.strip_prefix('/')?.split('/').next()?;
        keep.push(first.replace("~1", "/").replace("~0", "~"));
    }
    keep.sort();
    keep.dedup();
    Some(keep)
}

/// Parses a JSON object keeping only the members named in `keep` (other
/// values are validated and skipped without being built), so that
/// extracting three numbers from a health message does not allocate its
/// every string and nested object. `None` when the payload is not a JSON
/// object or is malformed: the caller then parses it in full, which gives
/// the same values and the usual error message.
fn parse_pruned(data: &[u8], keep: &[String]) -> Option<serde_json::Value> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::borrow::Cow;

    /// An object key, borrowed from the input unless it had escapes.
    struct Key<'de>(Cow<'de, str>);
    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object key")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v)))
                }
            }
            d.deserialize_str(V)
        }
    }

    struct Pruned<'k>(&'k [String]);
    impl<'de> DeserializeSeed<'de> for Pruned<'_> {
        type Value = serde_json::Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Pruned<'_> {
        type Value = serde_json::Value;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = serde_json::Map::new();
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if self.0.iter().any(|w| *w == *k) {
                    out.insert(k.into_owned(), map.next_value()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(serde_json::Value::Object(out))
        }
    }

    let mut de = serde_json::Deserializer::from_slice(data);
    let doc = Pruned(keep).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(doc)
}

/// `serde_json::Value::pointer` over pre-split tokens (same semantics:
/// array indexes without `+` or leading zeros).
fn lookup<'a>(doc: &'a serde_json::Value, tokens: &[String]) -> Option<&'a serde_json::Value> {
    let mut v = doc;
    for t in tokens {
        v = match v {
            serde_json::Value::Object(map) => map.get(t.as_str())?,
            serde_json::Value::Array(list) => {
                if t.starts_with('+') || (t.starts_with('0') && t.len() != 1) {
                    return None;
                }
                list.get(t.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(v)
}

fn compile_rule(format: PayloadFormat, m: &MetricRule, i: usize) -> Result<Rule, RuleError> {
    let field = |f: &str| format!("metric[{i}].{f}");
    prom::check_quantile(format, m.quantile, &field("quantile"))?;
    if m.name.trim().is_empty() {
        return Err(RuleError {
            field: field("name"),
            message: "is empty: give the metric a name such as `cpu`".into(),
        });
    }
    match format {
        PayloadFormat::Json => {
            let pointer = m.pointer.clone().ok_or_else(|| RuleError {
                field: field("pointer"),
                message: format!(
                    "is missing: a JSON feed's metric `{}` needs `pointer = \"/path/to/number\"`",
                    m.name
                ),
            })?;
            check_pointer(&pointer).map_err(|message| RuleError {
                field: field("pointer"),
                message: message.to_string(),
            })?;
            let tokens = pointer
                .split('/')
                .skip(1)
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect();
            Ok(Rule::Pointer {
                name: m.name.clone(),
                pointer,
                tokens,
                derive: marked(m),
            })
        }
        PayloadFormat::Prometheus => Ok(Rule::Prom(prom::PromRule {
            name: m.name.clone(),
            family: m.prometheus.clone().unwrap_or_else(|| m.name.clone()),
            labels: m.labels.clone(),
            keep: m.keep_labels.clone(),
            drop: m.drop_labels.clone(),
            kind: m.kind,
            rate: m.rate.unwrap_or(true),
            quantile: m.quantile,
        })),
        PayloadFormat::Text => {
            let src = m.regex.clone().ok_or_else(|| RuleError {
                field: field("regex"),
                message: format!(
                    "is missing: a text feed's metric `{}` needs `regex = \"cpu=([0-9.]+)\"` (first capture group is the number)",
                    m.name
                ),
            })?;
            let re = Regex::new(&src).map_err(|e| RuleError {
                field: field("regex"),
                message: format!("is not a valid regular expression (Rust regex syntax): {e}"),
            })?;
            Ok(Rule::Regex {
                name: m.name.clone(),
                re,
                derive: marked(m),
            })
        }
    }
}

/// A JSON or text rule's values: rates for a counter (unless `rate =
/// false`), the values themselves otherwise.
fn marked(m: &MetricRule) -> Derive {
    match (m.kind, m.rate) {
        (Some(crate::feed::MetricKind::Counter), None | Some(true)) => Derive::Rate,
        _ => Derive::Value,
    }
}

type CompiledStatus = (Option<String>, Vec<String>, Option<Regex>);

fn compile_status(s: &StatusRule) -> Result<CompiledStatus, RuleError> {
    if let Some(p) = &s.pointer {
        check_pointer(p).map_err(|message| RuleError {
            field: "status.pointer".into(),
            message: message.to_string(),
        })?;
        if s.healthy.is_empty() {
            return Err(RuleError {
                field: "status.healthy".into(),
                message: "is empty: list the values that mean healthy, e.g. `healthy = [\"ok\"]`"
                    .into(),
            });
        }
    }
    let unhealthy = match &s.unhealthy_pattern {
        Some(src) => Some(Regex::new(src).map_err(|e| RuleError {
            field: "status.unhealthy_pattern".into(),
            message: format!("is not a valid regular expression (Rust regex syntax): {e}"),
        })?),
        None => None,
    };
    if s.pointer.is_none() && unhealthy.is_none() {
        return Err(RuleError {
            field: "status".into(),
            message: "needs `pointer` (with `healthy`) or `unhealthy_pattern`".into(),
        });
    }
    Ok((s.pointer.clone(), s.healthy.clone(), unhealthy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::TransportKind;

    fn msg(s: &str) -> RawMessage {
        RawMessage::new(s.as_bytes().to_vec())
    }

    #[test]
    fn pruned_parsing_gives_what_a_full_parse_gives() {
        let mut f = FeedConfig::new("a", TransportKind::Websocket, "ws://x")
            .with_metric("cpu", "/cpu")
            .with_metric("n", "/nested/1/n")
            .with_metric("slash", "/a~1b")
            .with_metric("esc", "/k\\u0065y");
        f.status = Some(StatusRule {
            pointer: Some("/st~0x".into()),
            healthy: vec!["ok".into()],
            unhealthy_pattern: None,
        });
        let pruned = Extractor::new(&f).unwrap();
        assert_eq!(
            pruned.keep.as_deref(),
            Some(
                &[
                    "a/b".to_string(),
                    "cpu".into(),
                    "k\\u0065y".into(),
                    "nested".into(),
                    "st~x".into()
                ][..]
            )
        );
        let mut full = pruned.clone();
        full.keep = None;
        for payload in [
            r#"{"cpu":1.5,"skip":{"deep":[1,2,{"x":"y"}]},"nested":[{},{"n":7}],"a/b":2,"st~x":"ok"}"#,
            r#"{"c\u0070u":3,"key":4,"k\u0065y":5,"st~x":"bad","cpu":6}"#,
            r#"{"cpu":"7.5","cpu":8}"#,
            r#"{"cpu":{"not":"a number"}}"#,
            r#"[1,2,3]"#,
            r#"42"#,
            r#"{"cpu":1} trailing"#,
            r#"{"cpu":1,"skip":[1,2"#,
            r#"{}"#,
        ] {
            let (a, b) = (pruned.extract(&msg(payload)), full.extract(&msg(payload)));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{payload}");
        }
        // A pointer to the whole document turns pruning off.
        let whole = FeedConfig::new("w", TransportKind::Websocket, "ws://x").with_metric("v", "");
        assert_eq!(Extractor::new(&whole).unwrap().keep, None);
    }

    #[test]
    fn json_metrics_and_status() {
        let mut f = FeedConfig::new("a", TransportKind::Websocket, "ws://x")
            .with_metric("cpu", "/cpu")
            .with_metric("n", "/nested/0/n")
            .with_metric("up", "/up")
            .with_metric("s", "/s");
        f.status = Some(StatusRule {
            pointer: Some("/status".into()),
            healthy: vec!["ok".into()],
            unhealthy_pattern: None,
        });
        let x = Extractor::new(&f).unwrap();
        let out = x.extract(&msg(
            r#"{"cpu":12.5,"nested":[{"n":3}],"up":true,"s":"4.5","status":"degraded"}"#,
        ));
        let vals: Vec<_> = out
            .samples
            .iter()
            .map(|s| (s.metric.as_str(), s.value))
            .collect();
        assert_eq!(
            vals,
            vec![("cpu", 12.5), ("n", 3.0), ("up", 1.0), ("s", 4.5)]
        );
        assert_eq!(
            out.health,
            Some(Health {
                healthy: false,
                text: "degraded".into()
            })
        );
        assert!(out.problems.is_empty());
    }

    #[test]
    fn malformed_json_is_a_problem_not_a_panic() {
        let f = FeedConfig::new("a", TransportKind::Sse, "http://x").with_metric("cpu", "/cpu");
        let out = Extractor::new(&f)
            .unwrap()
            .extract(&msg("this is {not json"));
        assert!(out.samples.is_empty());
        assert!(out.problems[0].message.contains("malformed payload"));
    }

    #[test]
    fn bad_rules_name_the_field() {
        let f = FeedConfig::new("a", TransportKind::Sse, "http://x").with_metric("cpu", "cpu");
        let e = Extractor::new(&f).unwrap_err();
        assert_eq!(e[0].field, "metric[0].pointer");
        assert!(e[0].message.contains("start with `/`"));
    }

    #[test]
    fn prometheus_with_label_matchers() {
        let mut f = FeedConfig::new("p", TransportKind::Poll, "http://x");
        f.format = PayloadFormat::Prometheus;
        f.metrics.push(MetricRule {
            name: "idle".into(),
            prometheus: Some("node_cpu_seconds_total".into()),
            labels: [("mode".to_string(), "idle".to_string())].into(),
            ..Default::default()
        });
        let out = Extractor::new(&f).unwrap().extract(&msg(
            "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 10\nnode_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 20\nnode_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 5\n",
        ));
        assert_eq!(out.samples.len(), 2);
        assert_eq!(out.samples[1].labels["cpu"], "1");
        assert_eq!(out.samples[1].value, 20.0);
    }

    #[test]
    fn prometheus_labels_can_be_kept_or_dropped() {
        let mut f = FeedConfig::new("p", TransportKind::Poll, "http://x");
        f.format = PayloadFormat::Prometheus;
        f.metrics.push(MetricRule {
            name: "reqs".into(),
            prometheus: Some("http_requests".into()),
            drop_labels: vec!["request_id".into()],
            ..Default::default()
        });
        f.metrics.push(MetricRule {
            name: "by_code".into(),
            prometheus: Some("http_requests".into()),
            keep_labels: vec!["code".into()],
            ..Default::default()
        });
        let out = Extractor::new(&f).unwrap().extract(&msg(
            "http_requests{code=\"200\",path=\"/a\",request_id=\"r1\"} 1
http_requests{code=\"200\",path=\"/b\",request_id=\"r2\"} 2
http_requests{code=\"500\",path=\"/a\",request_id=\"r3\"} 3
",
        ));
        let reqs: Vec<_> = out.samples.iter().filter(|s| s.metric == "reqs").collect();
        assert_eq!(reqs.len(), 3);
        assert!(reqs.iter().all(|s| !s.labels.contains_key("request_id")));
        let by_code: Vec<_> = out
            .samples
            .iter()
            .filter(|s| s.metric == "by_code")
            .collect();
        // Two label sets remain: code 200 (the last of its two samples) and 500.
        assert_eq!(by_code.len(), 2, "{by_code:?}");
        assert_eq!(by_code[0].labels.keys().collect::<Vec<_>>(), vec!["code"]);
        assert_eq!(by_code[0].value, 2.0);
        assert_eq!(by_code[1].value, 3.0);
    }

    #[test]
    fn json_and_text_metrics_are_counters_only_when_marked() {
        use crate::feed::MetricKind;
        let mut f = FeedConfig::new("j", TransportKind::Sse, "http://x");
        for (name, kind, rate) in [
            ("plain", None, None),
            ("total", Some(MetricKind::Counter), None),
            ("raw_total", Some(MetricKind::Counter), Some(false)),
        ] {
            f.metrics.push(MetricRule {
                name: name.into(),
                pointer: Some("/n".into()),
                kind,
                rate,
                ..Default::default()
            });
        }
        let out = Extractor::new(&f).unwrap().extract(&msg(r#"{"n": 5}"#));
        let derive: Vec<Derive> = out.samples.iter().map(|s| s.derive).collect();
        assert_eq!(derive, [Derive::Value, Derive::Rate, Derive::Value]);
    }

    #[test]
    fn text_regex_and_keyword_status() {
        let mut f = FeedConfig::new("t", TransportKind::Sse, "http://x");
        f.format = PayloadFormat::Text;
        f.metrics.push(MetricRule {
            name: "cpu".into(),
            regex: Some(r"cpu=([0-9.]+)".into()),
            ..Default::default()
        });
        f.status = Some(StatusRule {
            unhealthy_pattern: Some("level=critical".into()),
            ..Default::default()
        });
        let x = Extractor::new(&f).unwrap();
        let out = x.extract(&msg("level=critical cpu=97.5 host=a"));
        assert_eq!(out.samples[0].value, 97.5);
        assert!(!out.health.unwrap().healthy);
        let ok = x.extract(&msg("level=info cpu=3"));
        assert!(ok.health.unwrap().healthy);
    }
}
