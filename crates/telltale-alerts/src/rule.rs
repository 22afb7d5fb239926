//! Compiled rules and summary templates.

use regex::Regex;
use std::collections::BTreeMap;
use telltale_model::alert::{AlertKind, AlertRule, CmpOp};
use telltale_model::duration::format_duration;
use telltale_model::unit::{format_value, Unit};

/// A rule ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// As configured.
    pub rule: AlertRule,
    /// Keyword rules: the compiled pattern.
    pub pattern: Option<Regex>,
}

impl CompiledRule {
    /// Compiles a rule or returns its problems as `(field, message)`.
    pub fn new(rule: &AlertRule) -> Result<CompiledRule, Vec<(String, String)>> {
        let problems = rule.validate();
        if !problems.is_empty() {
            return Err(problems);
        }
        let pattern = match (&rule.kind, &rule.pattern) {
            (AlertKind::Keyword, Some(p)) => {
                Some(Regex::new(p).map_err(|e| vec![("pattern".to_string(), e.to_string())])?)
            }
            _ => None,
        };
        Ok(CompiledRule {
            rule: rule.clone(),
            pattern,
        })
    }

    /// True if a threshold rule watches this series.
    pub fn watches(&self, metric: &str, labels: &BTreeMap<String, String>) -> bool {
        self.rule.kind == AlertKind::Threshold
            && self.rule.metric.as_deref() == Some(metric)
            && self
                .rule
                .labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
    }

    /// Threshold parts: (op, value, clear).
    pub fn threshold(&self) -> Option<(CmpOp, f64, f64)> {
        let op = self.rule.op?;
        let v = self.rule.value?;
        Some((op, v, self.rule.clear.unwrap_or(v)))
    }

    /// Renders the summary for a feed and value; `{value}` and `{threshold}`
    /// read in the metric's unit (`1.2 GiB`, `34 %`).
    pub fn summary(
        &self,
        feed: &str,
        value: Option<f64>,
        status: Option<&str>,
        unit: Option<Unit>,
    ) -> String {
        let r = &self.rule;
        let template = r.summary.clone().unwrap_or_else(|| match r.kind {
            AlertKind::Threshold => "{feed}: {metric} is {value} ({op} {threshold})".into(),
            AlertKind::Stale => "{feed}: no data for {after}".into(),
            AlertKind::Down => "{feed} is down".into(),
            AlertKind::Status => "{feed}: status is {status}".into(),
            AlertKind::Keyword => "{feed}: payload matches `{pattern}`".into(),
        });
        let num = |v: f64| match unit {
            Some(_) => format_value(v, unit),
            None => fmt_num(v),
        };
        let value_text = value.map(num).unwrap_or_else(|| "-".into());
        template
            .replace("{feed}", feed)
            .replace("{rule}", &r.name)
            .replace("{metric}", r.metric.as_deref().unwrap_or("-"))
            .replace("{value}", &value_text)
            .replace(
                "{threshold}",
                &r.value.map(num).unwrap_or_else(|| "-".into()),
            )
            .replace("{op}", r.op.map(CmpOp::symbol).unwrap_or("-"))
            .replace("{severity}", r.severity.as_str())
            .replace("{status}", status.unwrap_or("-"))
            .replace("{pattern}", r.pattern.as_deref().unwrap_or("-"))
            .replace(
                "{after}",
                &r.after
                    .map(|d| format_duration(d.0))
                    .unwrap_or_else(|| "-".into()),
            )
    }
}

/// Formats a number compactly (`90`, `97.5`, `0.123`).
pub fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_template_fills_placeholders() {
        let rule: AlertRule = toml::from_str(
            "name = \"cpu high\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">\"\nvalue = 90\nsummary = \"{feed} {rule}: {metric}={value} {op} {threshold} [{severity}]\"\n",
        )
        .unwrap();
        let c = CompiledRule::new(&rule).unwrap();
        assert_eq!(
            c.summary("web-1", Some(97.25), None, None),
            "web-1 cpu high: cpu=97.25 > 90 [warning]"
        );
    }

    #[test]
    fn summary_values_read_in_the_metric_unit() {
        let rule: AlertRule = toml::from_str(
            "name = \"mem low\"\nkind = \"threshold\"\nmetric = \"avail\"\nop = \"<\"\nvalue = 536870912\n",
        )
        .unwrap();
        let c = CompiledRule::new(&rule).unwrap();
        assert_eq!(
            c.summary("web-1", Some(1_288_490_189.0), None, Some(Unit::Bytes)),
            "web-1: avail is 1.2 GiB (< 512 MiB)"
        );
    }
}
