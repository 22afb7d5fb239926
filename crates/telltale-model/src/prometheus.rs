//! A parser for the Prometheus / OpenMetrics text exposition format, as
//! node_exporter serves it: the samples, and each family's `# TYPE`
//! ([`Exposition::type_of`]), which decides whether a value is a counter to
//! store as a rate. `# HELP` lines and timestamps are read past.

use std::collections::{BTreeMap, HashMap};

/// A family's `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromType {
    /// Only goes up (or resets to 0): read as a per-second rate.
    Counter,
    /// Any value.
    Gauge,
    /// `_bucket`, `_sum` and `_count` series.
    Histogram,
    /// Quantiles, `_sum` and `_count`.
    Summary,
    /// No `# TYPE`, or `untyped` / `unknown`: read as a gauge.
    Untyped,
}

impl PromType {
    fn parse(s: &str) -> PromType {
        match s {
            "counter" => PromType::Counter,
            "gauge" => PromType::Gauge,
            "histogram" | "gaugehistogram" => PromType::Histogram,
            "summary" => PromType::Summary,
            _ => PromType::Untyped,
        }
    }
}

/// A whole exposition: its samples, the lines that could not be read, and
/// the families' types.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Sample lines, in order.
    pub samples: Vec<PromSample>,
    /// Lines that could not be read.
    pub errors: Vec<PromError>,
    types: HashMap<String, PromType>,
}

impl Exposition {
    /// The type of the family a sample name belongs to: its own `# TYPE`,
    /// or its base's for the suffixes a type adds (`_total` and `_created`
    /// of an OpenMetrics counter, `_sum`, `_count` and `_bucket` of a
    /// histogram or summary).
    pub fn type_of(&self, name: &str) -> PromType {
        if let Some(t) = self.types.get(name) {
            return *t;
        }
        for suffix in ["_total", "_created", "_sum", "_count", "_bucket"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if let Some(t) = self.types.get(base) {
                    return *t;
                }
            }
        }
        PromType::Untyped
    }
}

/// One sample line: `name{label="value",…} 12.5 [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    /// Metric name.
    pub name: String,
    /// Labels, sorted.
    pub labels: BTreeMap<String, String>,
    /// Value (`NaN`, `+Inf`, `-Inf` allowed).
    pub value: f64,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct PromError {
    /// 1-based line number in the payload.
    pub line: usize,
    /// What was wrong.
    pub problem: LineProblem,
}

/// What is wrong with a sample line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// A name (or the line) with nothing after it.
    #[error("`{0}` has no value")]
    NoValue(String),
    /// A metric name with characters a name cannot have.
    #[error("`{0}` is not a valid metric name")]
    BadName(String),
    /// A value that is not a number.
    #[error("`{value}` is not a number (metric `{metric}`)")]
    NotANumber {
        /// The text where the value should be.
        value: String,
        /// The metric.
        metric: String,
    },
    /// `{a}` instead of `{a="b"}`.
    #[error("a label has no `=`")]
    LabelWithoutEquals,
    /// `{a=b}` instead of `{a="b"}`.
    #[error("a label value is not quoted")]
    UnquotedLabel,
    /// A label value ending in a lone backslash.
    #[error("a label value ends in `\\`")]
    LabelEndsInBackslash,
    /// A label value with no closing quote.
    #[error("a label value is not closed")]
    UnclosedLabel,
}

/// Parses a whole exposition's samples. Bad lines are reported but do not
/// stop the rest.
pub fn parse(text: &str) -> (Vec<PromSample>, Vec<PromError>) {
    let e = parse_exposition(text);
    (e.samples, e.errors)
}

/// Parses a whole exposition, with the families' types. Bad lines are
/// reported but do not stop the rest.
pub fn parse_exposition(text: &str) -> Exposition {
    let mut e = Exposition::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            if let (Some("TYPE"), Some(name), Some(kind)) =
                (words.next(), words.next(), words.next())
            {
                e.types.insert(name.to_string(), PromType::parse(kind));
            }
            continue;
        }
        match parse_line(line) {
            Ok(s) => e.samples.push(s),
            Err(problem) => e.errors.push(PromError {
                line: i + 1,
                problem,
            }),
        }
    }
    e
}

fn parse_line(line: &str) -> Result<PromSample, LineProblem> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or_else(|| LineProblem::NoValue(line.to_string()))?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(LineProblem::BadName(name.to_string()));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if rest.starts_with('{') {
        let (l, after) = parse_labels(&rest[1..])?;
        labels = l;
        rest = after;
    }
    let mut parts = rest.split_whitespace();
    let value_text = parts
        .next()
        .ok_or_else(|| LineProblem::NoValue(name.to_string()))?;
    let value = parse_value(value_text).ok_or_else(|| LineProblem::NotANumber {
        value: value_text.to_string(),
        metric: name.to_string(),
    })?;
    Ok(PromSample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), LineProblem> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or(LineProblem::LabelWithoutEquals)?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start();
        let body = s.strip_prefix('"').ok_or(LineProblem::UnquotedLabel)?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c2)) => value.push(c2),
                    None => return Err(LineProblem::LabelEndsInBackslash),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or(LineProblem::UnclosedLabel)?;
        labels.insert(key, value);
        s = body[end + 1..].trim_start();
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_node_exporter_style() {
        let text = "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.42\nnode_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1234.5 1700000000000\nweird{path=\"a\\\"b\\\\c\"} +Inf\nbad line here\n";
        let (s, e) = parse(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].name, "node_load1");
        assert_eq!(s[0].value, 0.42);
        assert_eq!(s[1].labels["mode"], "idle");
        assert_eq!(s[1].value, 1234.5);
        assert_eq!(s[2].labels["path"], "a\"b\\c");
        assert!(s[2].value.is_infinite());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 6);
    }

    #[test]
    fn types_are_kept_per_family_with_their_suffixes() {
        let text = "# TYPE node_load1 gauge\nnode_load1 0.4\n\
                    # TYPE node_cpu_seconds_total counter\nnode_cpu_seconds_total{cpu=\"0\"} 12\n\
                    # TYPE http_requests counter\nhttp_requests_total 3\nhttp_requests_created 1.7e9\n\
                    # TYPE rpc_seconds histogram\nrpc_seconds_bucket{le=\"1\"} 2\nrpc_seconds_sum 0.9\nrpc_seconds_count 2\n\
                    # TYPE gc_seconds summary\ngc_seconds{quantile=\"0.5\"} 0.1\n\
                    # TYPE up untyped\nup 1\nno_type 5\n";
        let e = parse_exposition(text);
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert_eq!(e.type_of("node_load1"), PromType::Gauge);
        assert_eq!(e.type_of("node_cpu_seconds_total"), PromType::Counter);
        assert_eq!(
            e.type_of("http_requests_total"),
            PromType::Counter,
            "OpenMetrics"
        );
        assert_eq!(e.type_of("rpc_seconds_sum"), PromType::Histogram);
        assert_eq!(e.type_of("rpc_seconds_bucket"), PromType::Histogram);
        assert_eq!(e.type_of("gc_seconds"), PromType::Summary);
        assert_eq!(e.type_of("up"), PromType::Untyped);
        assert_eq!(e.type_of("no_type"), PromType::Untyped);
    }
}
