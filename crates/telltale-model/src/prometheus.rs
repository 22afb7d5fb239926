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
#[derive(Debug, Clone, PartialEq)]
pub struct PromError {
    /// 1-based line number in the payload.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for PromError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
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
            Err(message) => errors.push(PromError {
                line: i + 1,
                message,
            }),
        }
    }
    (samples, errors)
}

fn parse_line(line: &str) -> Result<PromSample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or_else(|| format!("`{line}` has no value"))?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("`{name}` is not a valid metric name"));
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
        .ok_or_else(|| format!("`{name}` has no value"))?;
    let value = parse_value(value_text)
        .ok_or_else(|| format!("`{value_text}` is not a number (metric `{name}`)"))?;
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

fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or("a label has no `=`")?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start();
        let body = s.strip_prefix('"').ok_or("a label value is not quoted")?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c2)) => value.push(c2),
                    None => return Err("a label value ends in `\\`".into()),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or("a label value is not closed")?;
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
