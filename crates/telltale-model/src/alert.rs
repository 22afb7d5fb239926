//! Alert rules as configured (`[[feed.alert]]`) and global alert settings
//! (`[alerts]`).

use crate::duration::Dur;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum AlertKind {
    /// A metric compared with a threshold.
    Threshold,
    /// No message for `after`.
    Stale,
    /// The feed is not live (connecting, retrying, failed, or failing HTTP status) for `after`.
    Down,
    /// The feed's status rule says unhealthy.
    Status,
    /// The payload text matches `pattern`.
    Keyword,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum CmpOp {
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

impl CmpOp {
    /// Applies the comparison.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            CmpOp::Gt => value > threshold,
            CmpOp::Ge => value >= threshold,
            CmpOp::Lt => value < threshold,
            CmpOp::Le => value <= threshold,
            CmpOp::Eq => value == threshold,
            CmpOp::Ne => value != threshold,
        }
    }

    /// True when a firing alert may clear: the value is back on the healthy
    /// side of `clear` (for `>`/`>=`, below it; for `<`/`<=`, above it).
    pub fn cleared(self, value: f64, clear: f64) -> bool {
        match self {
            CmpOp::Gt | CmpOp::Ge => value < clear,
            CmpOp::Lt | CmpOp::Le => value > clear,
            CmpOp::Eq => value != clear,
            CmpOp::Ne => value == clear,
        }
    }

    /// The symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// How loud an alert is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum Severity {
    /// For the record.
    Info,
    /// Look soon.
    #[default]
    Warning,
    /// Look now. Passes quiet hours.
    Critical,
}

impl Severity {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert rule on a feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct AlertRule {
    /// Unique within the feed (`cpu high`).
    pub name: String,
    /// `threshold`, `stale`, `down`, `status` or `keyword`.
    pub kind: AlertKind,
    /// Threshold: the metric to watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Threshold: only series whose labels include these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Threshold: the comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<CmpOp>,
    /// Threshold: the value compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Threshold: hysteresis. A firing alert resolves only once the value is
    /// back past this (default: `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<f64>,
    /// Stale/down: how long the condition lasts before it counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Dur>,
    /// Keyword: a regular expression (Rust `regex` crate syntax) matched against payload text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// How long the condition must hold before firing (default 0).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<Dur>,
    /// How long a firing alert's condition must stay cleared before it
    /// resolves (default 0): the counterpart of `for`, so that a value
    /// that dips below the line for a moment does not resolve and fire
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub resolve_for: Option<Dur>,
    /// `info`, `warning` (default) or `critical`.
    #[serde(default)]
    pub severity: Severity,
    /// Notification text; may use `{feed}`, `{rule}`, `{metric}`, `{value}`,
    /// `{threshold}`, `{op}`, `{severity}`, `{status}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl AlertRule {
    /// Checks what serde cannot. Returns `(field, message)` pairs, with
    /// fields relative to the rule (`op`, `value`).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        let need = |p: &mut Vec<(String, String)>, ok: bool, field: &str, msg: &str| {
            if !ok {
                p.push((field.to_string(), msg.to_string()));
            }
        };
        need(
            &mut p,
            !self.name.trim().is_empty(),
            "name",
            "is empty: name the rule, e.g. `cpu high`",
        );
        match self.kind {
            AlertKind::Threshold => {
                need(&mut p, self.metric.is_some(), "metric", "is missing: a threshold rule needs the metric it watches, e.g. `metric = \"cpu\"`");
                need(
                    &mut p,
                    self.op.is_some(),
                    "op",
                    "is missing: use one of >, >=, <, <=, ==, !=",
                );
                need(
                    &mut p,
                    self.value.is_some_and(f64::is_finite),
                    "value",
                    "is missing: the threshold, e.g. `value = 90`",
                );
                if let (Some(op), Some(v), Some(c)) = (self.op, self.value, self.clear) {
                    let ok = match op {
                        CmpOp::Gt | CmpOp::Ge => c <= v,
                        CmpOp::Lt | CmpOp::Le => c >= v,
                        CmpOp::Eq | CmpOp::Ne => true,
                    };
                    need(&mut p, ok, "clear", "must be on the healthy side of `value` (below it for > and >=, above it for < and <=)");
                }
            }
            AlertKind::Stale | AlertKind::Down => {
                need(
                    &mut p,
                    self.after.is_some(),
                    "after",
                    "is missing: how long before it counts, e.g. `after = \"30s\"`",
                );
            }
            AlertKind::Keyword => match &self.pattern {
                None => p.push((
                    "pattern".into(),
                    "is missing: a regular expression such as `level=critical`".into(),
                )),
                Some(src) => {
                    if let Err(e) = regex::Regex::new(src) {
                        p.push((
                            "pattern".into(),
                            format!("is not a valid regular expression (Rust regex syntax): {e}"),
                        ));
                    }
                }
            },
            AlertKind::Status => {}
        }
        p
    }

    /// The `for` duration, zero by default.
    pub fn for_duration(&self) -> std::time::Duration {
        self.for_duration.map(|d| d.0).unwrap_or_default()
    }

    /// `resolve_for`, or zero.
    pub fn resolve_for(&self) -> std::time::Duration {
        self.resolve_for.map(|d| d.0).unwrap_or_default()
    }
}

/// Quiet hours: local time of day, `HH:MM`, wrapping past midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Start, e.g. `22:00`.
    pub start: String,
    /// End, e.g. `07:00`.
    pub end: String,
    /// The IANA time zone the times are in (`Europe/Berlin`); absent: the
    /// system's. Either way the offset is read at each moment, so quiet
    /// hours stay at the same wall-clock times across daylight saving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl QuietHours {
    /// Minutes since midnight of start and end, or an error naming the bad one.
    pub fn minutes(&self) -> Result<(u32, u32), crate::ValueError> {
        Ok((
            parse_hhmm(&self.start, "start")?,
            parse_hhmm(&self.end, "end")?,
        ))
    }

    /// The named time zone, `None` for the system's, or an error saying
    /// the name is unknown.
    pub fn zone(&self) -> Result<Option<jiff::tz::TimeZone>, crate::ValueError> {
        match self.time_zone.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(name) => jiff::tz::TimeZone::get(name).map(Some).map_err(|_| {
                crate::ValueError::UnknownTimeZone {
                    text: name.to_string(),
                }
            }),
        }
    }

    /// True if `minute_of_day` falls in the quiet period.
    pub fn contains(&self, minute_of_day: u32) -> bool {
        match self.minutes() {
            Ok((s, e)) if s <= e => minute_of_day >= s && minute_of_day < e,
            Ok((s, e)) => minute_of_day >= s || minute_of_day < e,
            Err(_) => false,
        }
    }
}

fn parse_hhmm(s: &str, field: &'static str) -> Result<u32, crate::ValueError> {
    let bad = || crate::ValueError::NotATimeOfDay {
        field,
        text: s.into(),
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Global alert settings (`[alerts]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Only critical alerts notify during these hours (local time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// More than this many notifications within `flood_window` …
    pub flood_max: u32,
    /// … become one summary notification.
    pub flood_window: Dur,
    /// Remind about alerts still firing (and not acknowledged) this often. Off by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renotify: Option<Dur>,
    /// Send a notification when an alert resolves (default true).
    pub notify_resolved: bool,
    /// Maintenance windows (`[[alerts.maintenance]]`): while one covers a
    /// feed, its alerts do not notify and its downtime is not counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<crate::maintenance::MaintenanceWindow>,
    /// Routing by tag (`[[alerts.route]]`): which alerts of which feeds
    /// reach the desktop; the first route whose tags a feed has decides.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<crate::route::Route>,
}

impl AlertSettings {
    /// Checks the maintenance windows and routes: the first problem, as
    /// the field path (`maintenance[1].from`) and the message, or `None`.
    pub fn lists_problem(&self) -> Option<(String, String)> {
        if let Some(p) = crate::route::problem(&self.route) {
            return Some(p);
        }
        let local = jiff::tz::TimeZone::UTC;
        let mut names = std::collections::HashSet::new();
        for (i, w) in self.maintenance.iter().enumerate() {
            if let Err(e) = w.schedule(&local) {
                return Some((format!("maintenance[{i}].{}", e.field), e.problem));
            }
            if !names.insert(w.name.trim()) {
                return Some((
                    format!("maintenance[{i}].name"),
                    format!(
                        "is `{}`, which an earlier window has: give each window its own name",
                        w.name
                    ),
                ));
            }
        }
        None
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            quiet_hours: None,
            flood_max: 5,
            flood_window: Dur::secs(60),
            renotify: None,
            notify_resolved: true,
            maintenance: Vec::new(),
            route: Vec::new(),
        }
    }
}

/// The metric every TLS feed (`https://`, `wss://`) records: days until
/// the server certificate expires, negative once it has.
pub const TLS_DAYS_LEFT: &str = "tls_days_left";

/// The rule a TLS feed has unless one of its own watches
/// [`TLS_DAYS_LEFT`]: a warning 14 days before the certificate expires,
/// resolved once a renewed one has more than 15.
pub fn certificate_rule() -> AlertRule {
    AlertRule {
        name: "certificate expiry".into(),
        kind: AlertKind::Threshold,
        metric: Some(TLS_DAYS_LEFT.into()),
        labels: BTreeMap::new(),
        op: Some(CmpOp::Lt),
        value: Some(14.0),
        clear: Some(15.0),
        after: None,
        pattern: None,
        for_duration: None,
        resolve_for: None,
        severity: Severity::Warning,
        summary: Some("{feed}: the server certificate expires in {value}: renew it".into()),
    }
}

impl crate::FeedConfig {
    /// Whether the feed connects over TLS to an `https://` or `wss://` URL,
    /// and so records [`TLS_DAYS_LEFT`]. (A webhook's URL is only a link to
    /// its sender: it connects nowhere.)
    pub fn uses_tls(&self) -> bool {
        let scheme = self.url.split("://").next().unwrap_or_default();
        self.transport != crate::TransportKind::Webhook
            && (scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss"))
    }

    /// The rules the alert engine evaluates: the feed's own, and for a TLS
    /// feed whose rules do not watch [`TLS_DAYS_LEFT`] (or use its name),
    /// [`certificate_rule`].
    pub fn effective_alerts(&self) -> std::borrow::Cow<'_, [AlertRule]> {
        let default = certificate_rule();
        let own = self
            .alerts
            .iter()
            .any(|r| r.metric.as_deref() == Some(TLS_DAYS_LEFT) || r.name == default.name);
        if !self.uses_tls() || own {
            return std::borrow::Cow::Borrowed(&self.alerts);
        }
        let mut all = self.alerts.clone();
        all.push(default);
        std::borrow::Cow::Owned(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_sides() {
        assert!(CmpOp::Gt.holds(91.0, 90.0));
        assert!(!CmpOp::Gt.cleared(85.0, 80.0));
        assert!(CmpOp::Gt.cleared(79.0, 80.0));
        assert!(CmpOp::Lt.cleared(21.0, 20.0));
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            time_zone: None,
        };
        assert!(q.contains(23 * 60));
        assert!(q.contains(6 * 60 + 59));
        assert!(!q.contains(7 * 60));
        assert!(!q.contains(12 * 60));
        assert!(QuietHours {
            start: "25:00".into(),
            end: "1:00".into(),
            time_zone: None,
        }
        .minutes()
        .is_err());
    }

    #[test]
    fn quiet_hours_name_their_time_zone() {
        let q = |tz: &str| QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            time_zone: Some(tz.into()),
        };
        assert!(q("Europe/Berlin").zone().unwrap().is_some());
        assert!(q("").zone().unwrap().is_none());
        let e = q("Europe/Berln").zone().unwrap_err().to_string();
        assert!(e.contains("Europe/Berln") && e.contains("IANA"), "{e}");
    }

    #[test]
    fn threshold_rules_need_their_fields() {
        let r: AlertRule = toml::from_str("name = \"x\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">\"\nclear = 95\nvalue = 90\n").unwrap();
        let p = r.validate();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "clear");
    }

    #[test]
    fn tls_feeds_get_the_certificate_rule_unless_they_have_their_own() {
        let feed = |url: &str| crate::FeedConfig::new("f", crate::TransportKind::Poll, url);
        assert!(certificate_rule().validate().is_empty());
        let f = feed("https://h.example/health");
        assert_eq!(f.effective_alerts().len(), 1);
        assert_eq!(
            f.effective_alerts()[0].metric.as_deref(),
            Some(TLS_DAYS_LEFT)
        );
        assert!(feed("WSS://h.example/").uses_tls());
        assert!(feed("http://h.example/").effective_alerts().is_empty());
        assert!(feed("mqtts://h.example/").effective_alerts().is_empty());
        let mut hook = feed("https://github.com/org/repo");
        hook.transport = crate::TransportKind::Webhook;
        assert!(
            hook.effective_alerts().is_empty(),
            "a webhook's URL is a link"
        );
        let mut own = feed("wss://h.example/");
        let mut mine = certificate_rule();
        mine.name = "cert soon".into();
        mine.value = Some(30.0);
        own.alerts.push(mine);
        let rules = own.effective_alerts();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].value, Some(30.0));
    }
}
