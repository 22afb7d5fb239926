//! A parser for the Prometheus / OpenMetrics text exposition format, as
//! node_exporter serves it. Only samples are kept; `# HELP` / `# TYPE` lines
//! and timestamps are read past.

use std::collections::BTreeMap;

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

/// Parses a whole exposition. Bad lines are reported but do not stop the rest.
pub fn parse(text: &str) -> (Vec<PromSample>, Vec<PromError>) {
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(s) => samples.push(s),
            Err(problem) => errors.push(PromError {
                line: i + 1,
                problem,
            }),
        }
    }
    (samples, errors)
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
}
