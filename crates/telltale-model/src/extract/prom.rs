//! Prometheus text rules: samples by family and labels, read as their
//! `# TYPE` says. A counter is stored as a rate ([`Derive::Rate`]); a rule
//! naming a histogram or summary yields the mean of its observations
//! ([`Derive::Mean`], `_sum` over `_count`), unless it asks for a summary's
//! `quantile`, which is a gauge.

use super::{Derive, ExtractedSample, Extraction, Extractor, Problem, Rule};
use crate::feed::MetricKind;
use crate::message::RawMessage;
use crate::prometheus::{self, Exposition, PromSample, PromType};
use std::collections::BTreeMap;

/// One compiled `prometheus = "family"` rule.
#[derive(Debug, Clone)]
pub(super) struct PromRule {
    pub(super) name: String,
    pub(super) family: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) keep: Vec<String>,
    pub(super) drop: Vec<String>,
    pub(super) kind: Option<MetricKind>,
    pub(super) rate: bool,
    /// A histogram quantile to store instead of the mean.
    pub(super) quantile: Option<f64>,
}

impl Extractor {
    pub(super) fn extract_prom(&self, msg: &RawMessage, out: &mut Extraction) {
        let text = String::from_utf8_lossy(&msg.data);
        let expo = prometheus::parse_exposition(&text);
        if let Some(e) = expo.errors.first() {
            out.problems.push(Problem::new(
                "payload",
                "malformed",
                format!(
                    "malformed Prometheus text ({} bad lines; first: {e})",
                    expo.errors.len()
                ),
            ));
        }
        for r in &self.rules {
            if let Rule::Prom(r) = r {
                r.extract(&expo, out);
            }
        }
    }
}

/// A rule's `quantile` (at `field`): only on Prometheus text, strictly
/// between 0 and 1.
pub(super) fn check_quantile(
    format: crate::feed::PayloadFormat,
    quantile: Option<f64>,
    field: &str,
) -> Result<(), super::RuleError> {
    let problem = match quantile {
        None => return Ok(()),
        Some(_) if format != crate::feed::PayloadFormat::Prometheus => {
            "is for Prometheus histograms: this feed's format is not prometheus".to_string()
        }
        Some(q) if q.is_nan() || q <= 0.0 || q >= 1.0 => {
            format!("is {q}: give a fraction between 0 and 1, such as 0.99")
        }
        Some(_) => return Ok(()),
    };
    Err(super::RuleError {
        field: field.to_string(),
        message: problem,
    })
}

/// A histogram's or summary's own series: `_sum`, `_count`, `_bucket`.
fn is_part(name: &str) -> bool {
    ["_sum", "_count", "_bucket"]
        .iter()
        .any(|s| name.ends_with(s))
}

impl PromRule {
    /// How values of a family of type `t` are stored under this rule.
    fn derive_for(&self, t: PromType, name: &str) -> Derive {
        if !self.rate {
            return Derive::Value;
        }
        // `_sum`, `_count` and `_bucket` read on their own only grow.
        let part_of_many = matches!(t, PromType::Histogram | PromType::Summary) && is_part(name);
        match (self.kind, t) {
            (Some(MetricKind::Gauge), _) => Derive::Value,
            (Some(MetricKind::Counter), _) | (None, PromType::Counter) => Derive::Rate,
            (None, _) if part_of_many => Derive::Rate,
            _ => Derive::Value,
        }
    }

    fn extract(&self, expo: &Exposition, out: &mut Extraction) {
        let t = expo.type_of(&self.family);
        let first = out.samples.len();
        let wants_quantile = self.labels.contains_key("quantile");
        let mean = matches!(t, PromType::Histogram | PromType::Summary)
            && self.rate
            && self.kind.is_none()
            && !wants_quantile
            && !is_part(&self.family);
        let found = if let Some(q) = self.quantile {
            if t == PromType::Summary {
                let (name, family) = (&self.name, &self.family);
                out.problems.push(Problem::metric(
                    name,
                    "no_match",
                    format!(
                        "metric `{name}`: `{family}` is a summary, whose quantiles come ready-made: \
                         use `labels = {{ quantile = \"{q}\" }}` instead of `quantile = {q}`"
                    ),
                ));
                return;
            }
            self.quantiles(q, expo, out)
        } else if mean {
            self.means(expo, out)
        } else {
            let derive = self.derive_for(t, &self.family);
            let mut found = false;
            for s in expo.samples.iter().filter(|s| s.name == self.family) {
                if self.matches(s) {
                    found = true;
                    self.push(out, first, self.stored_labels(&s.labels), s.value, derive);
                }
            }
            found
        };
        if !found {
            let name = &self.name;
            let family = &self.family;
            out.problems.push(Problem::metric(
                name,
                "no_match",
                format!("metric `{name}`: no `{family}` sample matches the labels"),
            ));
        }
    }

    /// `_sum` over `_count` for each label set of a histogram or summary.
    fn means(&self, expo: &Exposition, out: &mut Extraction) -> bool {
        let first = out.samples.len();
        let (sum_name, count_name) = (
            format!("{}_sum", self.family),
            format!("{}_count", self.family),
        );
        let counts: Vec<&PromSample> = expo
            .samples
            .iter()
            .filter(|s| s.name == count_name && self.matches(s))
            .collect();
        let mut found = false;
        for sum in expo
            .samples
            .iter()
            .filter(|s| s.name == sum_name && self.matches(s))
        {
            let Some(count) = counts.iter().find(|c| c.labels == sum.labels) else {
                continue;
            };
            found = true;
            let derive = Derive::Mean { count: count.value };
            self.push(
                out,
                first,
                self.stored_labels(&sum.labels),
                sum.value,
                derive,
            );
        }
        found
    }

    /// Each label set's `_bucket` counts (without `le`), for `q` of the
    /// observations since the previous scrape ([`super::Rates`] does the rest).
    fn quantiles(&self, q: f64, expo: &Exposition, out: &mut Extraction) -> bool {
        let first = out.samples.len();
        let bucket_name = format!("{}_bucket", self.family);
        let mut sets: Vec<(Labels, Buckets)> = Vec::new();
        for b in expo
            .samples
            .iter()
            .filter(|s| s.name == bucket_name && self.matches(s))
        {
            let Some(le) = b.labels.get("le").and_then(|v| parse_le(v)) else {
                continue;
            };
            let mut labels = b.labels.clone();
            labels.remove("le");
            match sets.iter_mut().find(|(l, _)| *l == labels) {
                Some((_, buckets)) => buckets.push((le, b.value)),
                None => sets.push((labels, vec![(le, b.value)])),
            }
        }
        let mut found = false;
        for (labels, mut buckets) in sets {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            // without `+Inf` the total is unknown
            let Some(&(last, total)) = buckets.last() else {
                continue;
            };
            if last != f64::INFINITY {
                continue;
            }
            found = true;
            let labels = self.stored_labels(&labels);
            if !self.keep.is_empty() || !self.drop.is_empty() {
                if let Some(same) = out.samples[first..].iter_mut().find(|x| x.labels == labels) {
                    // merged label sets: their buckets add up where they share `le`s
                    if same.buckets.len() == buckets.len()
                        && same.buckets.iter().zip(&buckets).all(|(a, b)| a.0 == b.0)
                    {
                        for (a, b) in same.buckets.iter_mut().zip(&buckets) {
                            a.1 += b.1;
                        }
                        same.value += total;
                    }
                    continue;
                }
            }
            out.samples.push(ExtractedSample {
                metric: self.name.clone(),
                labels,
                value: total,
                derive: Derive::Quantile { q },
                buckets,
            });
        }
        found
    }

    fn matches(&self, s: &PromSample) -> bool {
        self.labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
    }

    fn stored_labels(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut l = labels.clone();
        if !self.keep.is_empty() {
            l.retain(|k, _| self.keep.contains(k));
        }
        l.retain(|k, _| !self.drop.contains(k));
        l
    }

    /// Adds a sample. Label sets that `keep`/`drop` made equal merge: the
    /// last value wins for a gauge, and counters (and a mean's sum and
    /// count) add up, so that the rate is the total's.
    fn push(
        &self,
        out: &mut Extraction,
        first: usize,
        labels: BTreeMap<String, String>,
        value: f64,
        derive: Derive,
    ) {
        if !self.keep.is_empty() || !self.drop.is_empty() {
            if let Some(same) = out.samples[first..].iter_mut().find(|x| x.labels == labels) {
                match (&mut same.derive, derive) {
                    (Derive::Value, _) => same.value = value,
                    (Derive::Rate, _) => same.value += value,
                    (Derive::Mean { count }, Derive::Mean { count: more }) => {
                        same.value += value;
                        *count += more;
                    }
                    (Derive::Mean { .. } | Derive::Quantile { .. }, _) => same.value = value,
                }
                return;
            }
        }
        out.samples.push(ExtractedSample {
            metric: self.name.clone(),
            labels,
            value,
            derive,
            buckets: Vec::new(),
        });
    }
}

type Labels = BTreeMap<String, String>;
/// `(le, cumulative count)` of one label set.
type Buckets = Vec<(f64, f64)>;

/// A bucket's upper bound: a number, or `+Inf`.
fn parse_le(v: &str) -> Option<f64> {
    match v.trim() {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        x => x.parse::<f64>().ok().filter(|f| !f.is_nan()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Rates;
    use super::*;
    use crate::feed::{FeedConfig, MetricRule, PayloadFormat};
    use crate::time::Timestamp;
    use crate::TransportKind;

    const TEXT: &str = "# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 100
node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 10
node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 200
node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 20
# TYPE node_load1 gauge
node_load1 0.5
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le=\"1\",op=\"get\"} 3
rpc_seconds_bucket{le=\"+Inf\",op=\"get\"} 4
rpc_seconds_sum{op=\"get\"} 2
rpc_seconds_count{op=\"get\"} 4
# TYPE gc_seconds summary
gc_seconds{quantile=\"0.99\"} 0.25
gc_seconds_sum 1
gc_seconds_count 10
";

    fn feed(rules: Vec<MetricRule>) -> FeedConfig {
        let mut f = FeedConfig::new("p", TransportKind::Poll, "http://x");
        f.format = PayloadFormat::Prometheus;
        f.metrics = rules;
        f
    }

    fn rule(name: &str, family: &str) -> MetricRule {
        MetricRule {
            name: name.into(),
            prometheus: Some(family.into()),
            ..MetricRule::default()
        }
    }

    fn extract(f: &FeedConfig, text: &str) -> Vec<ExtractedSample> {
        let m = RawMessage::new(text.to_string());
        let out = Extractor::new(f).unwrap().extract(&m);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        out.samples
    }

    #[test]
    fn the_type_decides_rate_or_value_and_the_rule_can_say_otherwise() {
        let raw = MetricRule {
            rate: Some(false),
            ..rule("cpu_raw", "node_cpu_seconds_total")
        };
        let forced = MetricRule {
            kind: Some(MetricKind::Counter),
            ..rule("load_as_counter", "node_load1")
        };
        let f = feed(vec![
            rule("cpu", "node_cpu_seconds_total"),
            raw,
            rule("load", "node_load1"),
            forced,
        ]);
        let derive: Vec<(String, Derive)> = extract(&f, TEXT)
            .into_iter()
            .map(|s| (s.metric, s.derive))
            .collect();
        let of = |m: &str| {
            derive
                .iter()
                .filter(|(n, _)| n == m)
                .map(|(_, d)| *d)
                .collect::<Vec<_>>()
        };
        assert_eq!(of("cpu"), vec![Derive::Rate; 4]);
        assert_eq!(of("cpu_raw"), vec![Derive::Value; 4]);
        assert_eq!(of("load"), vec![Derive::Value]);
        assert_eq!(of("load_as_counter"), vec![Derive::Rate]);
    }

    #[test]
    fn merged_counters_add_up_so_the_rate_is_the_totals() {
        let per_mode = MetricRule {
            keep_labels: vec!["mode".into()],
            ..rule("cpu", "node_cpu_seconds_total")
        };
        let f = feed(vec![per_mode]);
        let s = extract(&f, TEXT);
        let got: Vec<(String, f64)> = s
            .iter()
            .map(|s| (s.labels["mode"].clone(), s.value))
            .collect();
        assert_eq!(
            got,
            [("idle".to_string(), 300.0), ("user".to_string(), 30.0)]
        );
        // Ten seconds later both CPUs were idle 8 s more each: 1.6 per second.
        let later = TEXT
            .replace("idle\"} 100", "idle\"} 108")
            .replace("idle\"} 200", "idle\"} 208");
        let mut r = Rates::new(100);
        let mut first = s;
        r.apply(&mut first, Timestamp(0));
        let mut next = extract(&f, &later);
        r.apply(&mut next, Timestamp(10_000_000));
        assert_eq!(next[0].value, 1.6);
        assert_eq!(next[1].value, 0.0);
    }

    #[test]
    fn a_histogram_quantile_gathers_each_label_sets_buckets() {
        let p90 = MetricRule {
            quantile: Some(0.9),
            ..rule("rpc_p90", "rpc_seconds")
        };
        let s = extract(&feed(vec![p90]), TEXT);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].derive, Derive::Quantile { q: 0.9 });
        assert_eq!(s[0].buckets, vec![(1.0, 3.0), (f64::INFINITY, 4.0)]);
        assert_eq!(
            s[0].labels,
            BTreeMap::from([("op".to_string(), "get".to_string())]),
            "`le` is not a label of the stored series"
        );
        // a summary's quantiles come ready-made: the rule is told so
        let on_summary = MetricRule {
            quantile: Some(0.99),
            ..rule("gc_p99", "gc_seconds")
        };
        let f = feed(vec![on_summary]);
        let m = RawMessage::new(TEXT.to_string());
        let out = Extractor::new(&f).unwrap().extract(&m);
        assert!(out.samples.is_empty());
        assert!(
            out.problems[0]
                .message
                .contains("labels = { quantile = \"0.99\" }"),
            "{:?}",
            out.problems
        );
        // outside (0, 1), or on JSON, the rule does not compile
        let mut bad = rule("x", "rpc_seconds");
        bad.quantile = Some(1.5);
        let err = Extractor::new(&feed(vec![bad])).unwrap_err();
        assert!(format!("{err:?}").contains("metric[0].quantile"), "{err:?}");
    }

    #[test]
    fn histograms_and_summaries_give_means_and_summary_quantiles_stay_gauges() {
        let p99 = MetricRule {
            labels: BTreeMap::from([("quantile".to_string(), "0.99".to_string())]),
            ..rule("gc_p99", "gc_seconds")
        };
        let f = feed(vec![
            rule("rpc", "rpc_seconds"),
            rule("gc", "gc_seconds"),
            p99,
            rule("rpc_n", "rpc_seconds_count"),
        ]);
        let s = extract(&f, TEXT);
        let got: Vec<(&str, f64, Derive)> = s
            .iter()
            .map(|s| (s.metric.as_str(), s.value, s.derive))
            .collect();
        assert_eq!(
            got,
            [
                ("rpc", 2.0, Derive::Mean { count: 4.0 }),
                ("gc", 1.0, Derive::Mean { count: 10.0 }),
                ("gc_p99", 0.25, Derive::Value),
                ("rpc_n", 4.0, Derive::Rate),
            ]
        );
        assert_eq!(
            s[0].labels,
            BTreeMap::from([("op".to_string(), "get".to_string())])
        );
    }
}
