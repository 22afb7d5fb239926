//! The config file: `[[feed]]` tables plus optional `[store]` settings.
//!
//! Reading is forgiving in one way: a bad feed is reported with the file,
//! line, feed and field, and the good feeds are still returned, so one typo
//! never stops the whole fleet.

use crate::alert::AlertSettings;
use crate::duration::Dur;
use crate::feed::FeedConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A config problem, precise enough to fix without guessing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigError {
    /// The file, as given.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The feed's name (or `feed #N` when it has none).
    pub feed: Option<String>,
    /// Dotted field path within the feed (`poll.interval`).
    pub field: Option<String>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        f.write_str(": ")?;
        if let Some(feed) = &self.feed {
            write!(f, "feed `{feed}`: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}` ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Storage settings (`[store]`): retention and rollups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Raw events older than this are deleted (default 7 days).
    pub events_max_age: Dur,
    /// At most this many raw events are kept per feed (default 100,000).
    pub events_max_per_feed: u64,
    /// Raw samples older than this are deleted; rollups outlive them (default 7 days).
    pub samples_max_age: Dur,
    /// 1-minute rollups are kept this long (default 90 days).
    pub rollup_1m_max_age: Dur,
    /// 1-hour rollups are kept this long (default 2 years).
    pub rollup_1h_max_age: Dur,
    /// Connection-state history and alert history are kept this long (default 90 days).
    pub states_max_age: Dur,
    /// The writer commits at least this often (default 100 ms).
    pub commit_interval: Dur,
    /// … or after this many rows, whichever comes first (default 20,000).
    pub commit_rows: usize,
    /// The most the database may hold; retention then deletes by size too,
    /// oldest raw data first, fairly per feed (default: none; the desktop
    /// app starts with 1 GiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_budget: Option<crate::duration::ByteSize>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            events_max_age: Dur::secs(7 * 86_400),
            events_max_per_feed: 100_000,
            samples_max_age: Dur::secs(7 * 86_400),
            rollup_1m_max_age: Dur::secs(90 * 86_400),
            rollup_1h_max_age: Dur::secs(730 * 86_400),
            states_max_age: Dur::secs(90 * 86_400),
            commit_interval: Dur::millis(100),
            commit_rows: 20_000,
            disk_budget: None,
        }
    }
}

/// A parsed config file: the valid feeds, and an error for each invalid one.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// Feeds that passed validation, in file order.
    pub feeds: Vec<FeedConfig>,
    /// Store settings (defaults when absent).
    pub store: StoreSettings,
    /// Alert settings (defaults when absent).
    pub alerts: AlertSettings,
    /// The keys the file's `[store]` table actually gives (empty when the
    /// table is absent or invalid): only these override stored settings.
    pub store_keys: Vec<String>,
    /// The keys the file's `[alerts]` table actually gives (as `store_keys`).
    pub alerts_keys: Vec<String>,
    /// Top-level `allow_env`: environment variables `${VAR}` may expand
    /// besides `TELLTALE_SECRET_*` (see [`crate::secret::expand_env`]).
    pub allow_env: Vec<String>,
    /// Problems found. Feeds named here are not in `feeds`.
    pub errors: Vec<ConfigError>,
}

/// The settings an operator may change while Telltale runs: `[store]` and
/// `[alerts]`. The database keeps the current ones (see
/// [`ConfigFile::settings_over`] for how a config file's values combine
/// with them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[store]`: retention and commit batching.
    pub store: StoreSettings,
    /// `[alerts]`: quiet hours, flood control, re-notify.
    pub alerts: AlertSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoot {
    #[serde(default)]
    allow_env: Option<toml::Spanned<toml::Value>>,
    #[serde(default)]
    feed: Vec<toml::Spanned<toml::Value>>,
    #[serde(default)]
    store: Option<toml::Spanned<toml::Value>>,
    /// Read again below without a span: `toml` cannot give the span of a
    /// table only its sub-tables define (`[[alerts.maintenance]]` without
    /// an `[alerts]` header).
    #[serde(default)]
    alerts: Option<serde::de::IgnoredAny>,
}

/// The file layout when written back (export).
#[derive(Serialize)]
struct OutRoot<'a> {
    store: &'a StoreSettings,
    alerts: &'a AlertSettings,
    feed: &'a [FeedConfig],
}

impl ConfigFile {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            feed: None,
            field: None,
            message: format!("cannot be read: {e}"),
        })?;
        Ok(ConfigFile::parse(&file, &text))
    }

    /// Parses config text; `file` is only used in messages.
    pub fn parse(file: &str, text: &str) -> ConfigFile {
        let mut out = ConfigFile::default();
        let root: RawRoot = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start));
                out.errors.push(ConfigError {
                    file: file.into(),
                    line,
                    feed: None,
                    field: None,
                    message: format!(
                        "is not a valid config: {}. The file holds an optional top-level `allow_env` list, `[[feed]]` tables and optional `[store]` and `[alerts]` tables",
                        e.message()
                    ),
                });
                return out;
            }
        };
        if let Some(allow) = root.allow_env {
            let line = line_of(text, allow.span().start);
            match crate::secret::allow_env_names(file, line, allow.into_inner()) {
                Ok(names) => out.allow_env = names,
                Err(e) => out.errors.push(e),
            }
        }
        if let Some(store) = root.store {
            let keys = table_keys(store.get_ref());
            let start = store.span().start;
            if let Some(settings) = section::<StoreSettings>(
                file,
                text,
                "store",
                (store.into_inner(), start),
                |_| Ok(()),
                &mut out.errors,
            ) {
                out.store = settings;
                out.store_keys = keys;
            }
        }
        let alerts = root
            .alerts
            .and_then(|_| toml::from_str::<toml::Table>(text).ok()?.remove("alerts"));
        if let Some(alerts) = alerts {
            let keys = table_keys(&alerts);
            // where the first `[alerts]` or `[[alerts.…]]` header is
            let start = text
                .lines()
                .scan(0, |at, l| {
                    let here = *at;
                    *at += l.len() + 1;
                    Some((here, l.trim_start()))
                })
                .find(|(_, l)| l.starts_with("[alerts") || l.starts_with("[[alerts"))
                .map_or(0, |(at, _)| at);
            let check = |a: &AlertSettings| {
                if let Some(q) = &a.quiet_hours {
                    match (q.minutes(), q.zone()) {
                        (Err(e), _) => return Err(("quiet_hours".into(), e.to_string())),
                        (_, Err(e)) => return Err(("quiet_hours.time_zone".into(), e.to_string())),
                        _ => {}
                    }
                }
                a.lists_problem().map_or(Ok(()), Err)
            };
            if let Some(settings) = section::<AlertSettings>(
                file,
                text,
                "alerts",
                (alerts, start),
                check,
                &mut out.errors,
            ) {
                out.alerts = settings;
                out.alerts_keys = keys;
            }
        }
        let mut seen = std::collections::HashMap::new();
        // A feed's span covers its `[[feed]]` keys but not its sub-tables, so
        // its region for locating fields runs to the next feed's start.
        let starts: Vec<usize> = root.feed.iter().map(|f| f.span().start).collect();
        for (i, spanned) in root.feed.into_iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            let span = spanned.span().start..end.max(spanned.span().end);
            let value = spanned.into_inner();
            let label = value
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("feed #{}", i + 1));
            let err = |field: Option<String>, message: String| ConfigError {
                file: file.into(),
                line: Some(match &field {
                    Some(f) => find_key_line(text, span.clone(), f),
                    None => line_of(text, span.start),
                }),
                feed: Some(label.clone()),
                field,
                message,
            };
            let feed: FeedConfig = match serde_path_to_error::deserialize(value) {
                Ok(f) => f,
                Err(e) => {
                    let path = e.path().to_string();
                    let field = (path != ".").then_some(path);
                    out.errors
                        .push(err(field, clean_serde_message(&e.inner().to_string())));
                    continue;
                }
            };
            let mut problems = validate_feed(&feed);
            problems.extend(crate::secret::refused_header_refs(&feed, |n| {
                crate::secret::env_allowed(n) || out.allow_env.iter().any(|a| a == n)
            }));
            if !problems.is_empty() {
                for (field, message) in problems {
                    out.errors.push(err(Some(field), message));
                }
                continue;
            }
            if let Some(first_line) = seen.get(&feed.name) {
                out.errors.push(err(
                    Some("name".into()),
                    format!(
                        "is already used by the feed on line {first_line}: feed names must be unique"
                    ),
                ));
                continue;
            }
            seen.insert(feed.name.clone(), line_of(text, span.start));
            out.feeds.push(feed);
        }
        out
    }

    /// Serializes feeds and settings back to TOML (for export).
    pub fn to_toml(
        feeds: &[FeedConfig],
        store: &StoreSettings,
        alerts: &AlertSettings,
    ) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(&OutRoot {
            store,
            alerts,
            feed: feeds,
        })
    }

    /// The settings to run with: `current` (what the database holds),
    /// overridden by the keys this file's `[store]` and `[alerts]` tables
    /// give explicitly. Keys the file leaves out keep their current value,
    /// so a file that sets only `events_max_age` does not reset what was
    /// changed in the GUI.
    pub fn settings_over(&self, current: &Settings) -> Settings {
        Settings {
            store: overlay(&current.store, &self.store, &self.store_keys),
            alerts: overlay(&current.alerts, &self.alerts, &self.alerts_keys),
        }
    }
}

/// The keys of a TOML table (none when it is not a table).
fn table_keys(value: &toml::Value) -> Vec<String> {
    value
        .as_table()
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

/// `base` with the `keys` of `explicit` copied over it (through their
/// serialized form, so it works for any settings table).
fn overlay<T>(base: &T, explicit: &T, keys: &[String]) -> T
where
    T: Serialize + serde::de::DeserializeOwned + Clone,
{
    if keys.is_empty() {
        return base.clone();
    }
    let (Ok(serde_json::Value::Object(mut out)), Ok(serde_json::Value::Object(given))) =
        (serde_json::to_value(base), serde_json::to_value(explicit))
    else {
        return explicit.clone();
    };
    for key in keys {
        match given.get(key) {
            Some(v) => {
                out.insert(key.clone(), v.clone());
            }
            None => {
                out.remove(key);
            }
        }
    }
    serde_json::from_value(serde_json::Value::Object(out)).unwrap_or_else(|_| explicit.clone())
}

/// Reads a settings table such as `[store]`; on error records where and why.
fn section<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    name: &str,
    (value, start): (toml::Value, usize),
    check: impl Fn(&T) -> Result<(), (String, String)>,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let (field, message) = match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => match check(&v) {
            Ok(()) => return Some(v),
            Err((field, message)) => (field, message),
        },
        Err(e) => (
            e.path().to_string(),
            clean_serde_message(&e.inner().to_string()),
        ),
    };
    // The table's span ends before its sub-tables (`[[alerts.maintenance]]`),
    // which come later in the file.
    errors.push(ConfigError {
        file: file.into(),
        line: Some(find_key_line(text, start..text.len(), &field)),
        feed: None,
        field: Some(format!("{name}.{field}")),
        message,
    });
    None
}

pub use crate::validate::validate_feed;

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Finds the line where the last segment of `field` is set inside `span`;
/// falls back to the span's first line.
fn find_key_line(text: &str, span: std::ops::Range<usize>, field: &str) -> usize {
    let mut start = span.start.min(text.len());
    let end = span.end.min(text.len());
    // Narrow to the N-th `[[feed.metric]]`-style table for `metric[N]` segments.
    for seg in field.split('.') {
        if let Some((name, idx)) = seg.split_once('[') {
            let Ok(idx) = idx.trim_end_matches(']').parse::<usize>() else {
                continue;
            };
            let header = format!(".{name}]]");
            let mut offset = start;
            let mut seen = 0;
            for line in text[start..end].split_inclusive('\n') {
                if line.trim_start().starts_with("[[") && line.contains(&header) {
                    if seen == idx {
                        start = offset;
                        break;
                    }
                    seen += 1;
                }
                offset += line.len();
            }
        }
    }
    let region = &text[start..end];
    let segments: Vec<&str> = field
        .split(['.', '['])
        .map(|s| s.trim_end_matches(']'))
        .filter(|s| !s.is_empty() && s.parse::<usize>().is_err())
        .collect();
    // Look for the deepest segment first, then its parents.
    for key in segments.iter().rev() {
        let mut offset = 0;
        for line in region.split_inclusive('\n') {
            let t = line.trim_start();
            let t = t.trim_start_matches('"');
            let key_here = t.starts_with(key)
                && t[key.len()..]
                    .trim_start_matches('"')
                    .trim_start()
                    .starts_with('=');
            let table_here = t.starts_with('[') && t.contains(&format!(".{key}]"));
            let inline_here = t.contains(&format!("{key} =")) || t.contains(&format!("{key}="));
            if key_here || table_here || inline_here {
                return line_of(text, start + offset);
            }
            offset += line.len();
        }
    }
    line_of(text, start)
}

fn clean_serde_message(m: &str) -> String {
    // serde says "unknown field `x`, expected one of `a`, `b`": keep it, it lists what is valid.
    let first = m.split("\nin `").next().unwrap_or(m);
    first.trim_end().replace("variant", "value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_keys_a_file_gives_override_current_settings() {
        let file = ConfigFile::parse(
            "f",
            "[store]\nevents_max_age = \"3d\"\n[alerts]\nquiet_hours = { start = \"22:00\", end = \"06:00\" }\n",
        );
        assert!(file.errors.is_empty(), "{:?}", file.errors);
        assert_eq!(file.store_keys, vec!["events_max_age".to_string()]);
        let mut current = Settings::default();
        current.store.samples_max_age = Dur::secs(86_400);
        current.alerts.flood_max = 9;
        let merged = file.settings_over(&current);
        assert_eq!(merged.store.events_max_age, Dur::secs(3 * 86_400));
        assert_eq!(merged.store.samples_max_age, Dur::secs(86_400));
        assert_eq!(merged.alerts.flood_max, 9);
        assert_eq!(
            merged.alerts.quiet_hours.as_ref().map(|q| q.end.as_str()),
            Some("06:00")
        );
        // No tables: nothing changes.
        let empty = ConfigFile::parse("f", "");
        assert_eq!(empty.settings_over(&current), current);
    }

    const GOOD: &str = r#"
[store]
events_max_age = "3d"

[[feed]]
name = "ws"
transport = "websocket"
url = "ws://127.0.0.1:1/ws"
[[feed.metric]]
name = "cpu"
pointer = "/cpu"
[feed.websocket]
subscribe = ['{"subscribe":"host-2"}']

[[feed]]
name = "bad-interval"
transport = "poll"
url = "http://127.0.0.1:1/poll"
[feed.poll]
interval = "soon"

[[feed]]
name = "wrong-scheme"
transport = "sse"
url = "ws://127.0.0.1:1/sse"

[[feed]]
name = "typo"
transport = "sse"
url = "http://127.0.0.1:1/sse"
retries = 3

[[feed]]
name = "ws"
transport = "websocket"
url = "ws://127.0.0.1:1/other"
"#;

    #[test]
    fn good_feeds_survive_bad_ones_and_errors_are_located() {
        let c = ConfigFile::parse("feeds.toml", GOOD);
        assert_eq!(c.feeds.len(), 1, "{:?}", c.errors);
        assert_eq!(c.feeds[0].name, "ws");
        assert_eq!(c.store.events_max_age, Dur::secs(3 * 86_400));
        let msgs: Vec<String> = c.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(c.errors.len(), 4, "{msgs:#?}");

        let e = &c.errors[0];
        assert_eq!(e.feed.as_deref(), Some("bad-interval"));
        assert_eq!(e.field.as_deref(), Some("poll.interval"));
        assert_eq!(e.line, Some(20));
        assert!(e.message.contains("500ms, 30s"), "{}", e.message);

        let e = &c.errors[1];
        assert_eq!(e.field.as_deref(), Some("url"));
        assert_eq!(e.line, Some(25));
        assert!(
            e.message.contains("`http://` or `https://`"),
            "{}",
            e.message
        );

        let e = &c.errors[2];
        assert_eq!(e.line, Some(31));
        assert!(
            e.message.contains("unknown field `retries`"),
            "{}",
            e.message
        );
        assert!(e.message.contains("expected one of"), "{}", e.message);

        let e = &c.errors[3];
        assert_eq!(e.field.as_deref(), Some("name"));
        assert!(e.message.contains("already used"), "{}", e.message);
        assert!(
            msgs[3].starts_with("feeds.toml:34: feed `ws`: field `name`"),
            "{}",
            msgs[3]
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let c = ConfigFile::parse("f.toml", "[[feed]]\nname = \"x\nurl = 1\n");
        assert!(c.feeds.is_empty());
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.errors[0].line, Some(2));
    }

    #[test]
    fn long_poll_timeout_must_exceed_hold() {
        let c = ConfigFile::parse(
            "f.toml",
            "[[feed]]\nname = \"lp\"\ntransport = \"long_poll\"\nurl = \"http://h/x\"\n[feed.long_poll]\nhold = \"30s\"\ntimeout = \"20s\"\n",
        );
        assert_eq!(c.errors[0].field.as_deref(), Some("long_poll.timeout"));
        assert_eq!(c.errors[0].line, Some(7));
    }

    #[test]
    fn limits_parse_and_zero_is_refused() {
        let lp = "[[feed]]\nname = \"lp\"\ntransport = \"long_poll\"\nurl = \"http://h/x\"\n[feed.long_poll]\n";
        let c = ConfigFile::parse(
            "f.toml",
            &format!("{lp}header_timeout = \"5s\"\nmax_items = 500\n"),
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let o = c.feeds[0].long_poll_options();
        assert_eq!(o.max_items(), 500);
        assert_eq!(o.header_deadline(), std::time::Duration::from_secs(35));
        let c = ConfigFile::parse("f.toml", &format!("{lp}max_items = 0\n"));
        assert_eq!(c.errors[0].field.as_deref(), Some("long_poll.max_items"));
        let sse = "[[feed]]\nname = \"s\"\ntransport = \"sse\"\nurl = \"http://h/x\"\n[feed.sse]\n";
        let c = ConfigFile::parse("f.toml", &format!("{sse}header_timeout = \"2s\"\n"));
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(
            c.feeds[0].sse_options().header_timeout(),
            std::time::Duration::from_secs(2)
        );
        let c = ConfigFile::parse("f.toml", &format!("{sse}header_timeout = \"0s\"\n"));
        assert_eq!(c.errors[0].field.as_deref(), Some("sse.header_timeout"));
    }

    #[test]
    fn alert_rules_and_settings_parse_and_errors_are_located() {
        let text = "[alerts]\nflood_max = 3\nquiet_hours = { start = \"22:00\", end = \"07:00\" }\n\n[[feed]]\nname = \"a\"\ntransport = \"sse\"\nurl = \"http://h/x\"\n[[feed.metric]]\nname = \"cpu\"\npointer = \"/cpu\"\n[[feed.alert]]\nname = \"cpu high\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">\"\nvalue = 90\nfor = \"30s\"\n[[feed.alert]]\nname = \"bad\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \"~\"\n";
        let c = ConfigFile::parse("f.toml", text);
        assert_eq!(c.alerts.flood_max, 3);
        assert!(c.feeds.is_empty());
        let e = &c.errors[0];
        assert_eq!(e.field.as_deref(), Some("alert[1].op"), "{e}");
        assert_eq!(e.line, Some(23), "{e}");
        let fixed = text.replace("op = \"~\"", "op = \"<\"\nvalue = 5");
        let c = ConfigFile::parse("f.toml", &fixed);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.feeds[0].alerts.len(), 2);
        assert_eq!(
            c.feeds[0].alerts[0].for_duration(),
            std::time::Duration::from_secs(30)
        );
    }

    #[test]
    fn an_unknown_quiet_hours_time_zone_is_named() {
        let bad = ConfigFile::parse(
            "f.toml",
            "[alerts]\nquiet_hours = { start = \"22:00\", end = \"07:00\", time_zone = \"Europe/Berln\" }\n",
        );
        assert_eq!(bad.errors.len(), 1, "{:?}", bad.errors);
        let e = &bad.errors[0];
        assert_eq!(e.field.as_deref(), Some("alerts.quiet_hours.time_zone"));
        assert!(
            e.message.contains("Europe/Berln") && e.message.contains("IANA"),
            "{}",
            e.message
        );
        assert_eq!(bad.alerts, AlertSettings::default());
        let good = ConfigFile::parse(
            "f.toml",
            "[alerts]\nquiet_hours = { start = \"22:00\", end = \"07:00\", time_zone = \"Europe/Berlin\" }\n",
        );
        assert!(good.errors.is_empty(), "{:?}", good.errors);
        let q = good
            .alerts
            .quiet_hours
            .as_ref()
            .map(|q| q.time_zone.as_deref());
        assert_eq!(q, Some(Some("Europe/Berlin")));
    }

    #[test]
    fn settings_tables_report_their_field_and_line() {
        let c = ConfigFile::parse(
            "f.toml",
            "[store]\ncommit_rows = \"many\"\n\n[alerts]\nflood_max = 3\nquiet_hours = { start = \"25:00\", end = \"07:00\" }\n",
        );
        let fields: Vec<_> = c
            .errors
            .iter()
            .map(|e| (e.field.clone().unwrap(), e.line))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("store.commit_rows".to_string(), Some(2)),
                ("alerts.quiet_hours".to_string(), Some(6))
            ]
        );
        assert!(
            c.errors[1].message.contains("HH:MM"),
            "{}",
            c.errors[1].message
        );
        assert_eq!(
            c.alerts,
            AlertSettings::default(),
            "a bad table is not half-applied"
        );
    }

    #[test]
    fn export_round_trips() {
        let c = ConfigFile::parse("f.toml", GOOD);
        let text = ConfigFile::to_toml(&c.feeds, &c.store, &c.alerts).unwrap();
        let again = ConfigFile::parse("export.toml", &text);
        assert!(again.errors.is_empty(), "{:?}\n{text}", again.errors);
        assert_eq!(again.feeds, c.feeds);
        assert_eq!(again.store, c.store);
        assert_eq!(again.alerts, c.alerts);
    }
}
