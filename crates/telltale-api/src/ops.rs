//! The one list of the API's operations: each is declared once below with
//! its request type (defaults included), its response type and its REST
//! routes. From the list come [`dispatch`] (the desktop app's one IPC
//! command, `call`, and the HTTP route `POST /api/call/{op}`), the REST
//! routes the HTTP server serves ([`ROUTES`], read by [`rest_request`]),
//! the TypeScript map `Operations` (`ui/src/lib/bindings/Operations.ts`),
//! from which the UI's client is typed, and the routes table in
//! `docs/cli.md`. An operation missing from any of them cannot compile or
//! drifts a generated file, which the tests catch.
//!
//! Adding an operation: one line in [`operations!`] below, plus its
//! implementation (an [`Api`] method). Nothing in the shells changes.

use crate::rest::{RestInput, RestMethod, Route};
use crate::{
    AlertActionInput, AlertHistoryView, AlertView, Api, ApiError, CompactView, DbStatsView,
    ErrorCode, EventPage, FeedDetail, FeedView, HealthView, ImportReport, LabelsView, MuteView,
    SeriesView, SettingsInput, SettingsView, TimelineView,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use telltale_model::{FeedConfig, Timestamp};
use ts_rs::TS;

/// Chart points when a series request does not say.
pub const DEFAULT_MAX_POINTS: u32 = 600;
/// Events per page when a request does not say.
pub const DEFAULT_EVENTS_LIMIT: u32 = 100;
/// The time range when a request gives neither end: the last hour.
pub const DEFAULT_RANGE_MS: i64 = 3_600_000;

/// `[from, to)` in ms with the defaults: `to` is now (inclusive of the
/// current millisecond), `from` an hour before `to`.
pub fn range(from: Option<i64>, to: Option<i64>) -> (i64, i64) {
    let to = to.unwrap_or_else(|| Timestamp::now().as_millis() + 1);
    (from.unwrap_or(to - DEFAULT_RANGE_MS), to)
}

/// No arguments (`{}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct NoArgs {}

/// A feed by name.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct FeedName {
    /// The feed's name.
    pub name: String,
}

/// Every feed with a tag, for a while.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct SnoozeTagRequest {
    /// The tag.
    pub tag: String,
    /// Seconds.
    #[ts(type = "number")]
    pub secs: u64,
}

/// An alert by id.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct AlertId {
    /// The alert's id.
    #[ts(type = "number")]
    pub id: i64,
}

/// One series of a feed over a time range.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct SeriesRequest {
    /// The feed.
    pub feed: String,
    /// The metric.
    pub metric: String,
    /// The series' labels (none when left out; in a query string, as JSON
    /// text).
    #[serde(default)]
    #[ts(optional, as = "Option<LabelsView>")]
    pub labels: crate::rest::LabelsParam,
    /// Start (ms); an hour before `to` when left out.
    #[serde(default)]
    #[ts(optional, as = "Option<f64>")]
    pub from: Option<i64>,
    /// End (ms, exclusive); now when left out.
    #[serde(default)]
    #[ts(optional, as = "Option<f64>")]
    pub to: Option<i64>,
    /// At most this many points ([`DEFAULT_MAX_POINTS`] when left out).
    #[serde(default)]
    #[ts(optional)]
    pub max_points: Option<u32>,
}

/// A page of stored events, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct EventsRequest {
    /// Only this feed's events.
    #[serde(default)]
    #[ts(optional)]
    pub feed: Option<String>,
    /// Only events older than this id (the previous page's last).
    #[serde(default)]
    #[ts(optional, as = "Option<f64>")]
    pub before_id: Option<i64>,
    /// Only events whose payload contains this text.
    #[serde(default)]
    #[ts(optional)]
    pub search: Option<String>,
    /// At most this many ([`DEFAULT_EVENTS_LIMIT`] when left out).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// A feed's timeline over a time range.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct TimelineRequest {
    /// The feed.
    pub feed: String,
    /// Start (ms); an hour before `to` when left out.
    #[serde(default)]
    #[ts(optional, as = "Option<f64>")]
    pub from: Option<i64>,
    /// End (ms, exclusive); now when left out.
    #[serde(default)]
    #[ts(optional, as = "Option<f64>")]
    pub to: Option<i64>,
}

/// A config file's text, to import.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ImportRequest {
    /// TOML, as `telltaled run --config` reads it.
    pub text: String,
}

/// Declares the operations:
/// `name(Request) -> Response [METHOD "/path", …] = |api, request| body;`
macro_rules! operations {
    ($( $(#[doc = $doc:literal])+
        $name:ident($req:ty) -> $res:ty [$($method:ident $path:literal),*]
        = |$api:ident, $r:ident| $body:expr; )+) => {
        /// Every operation's name, in declaration order.
        pub const OPERATIONS: &[&str] = &[$(stringify!($name)),+];

        /// Every REST route, in declaration order.
        pub const ROUTES: &[Route] = &[$($(Route {
            method: RestMethod::$method,
            path: $path,
            op: stringify!($name),
        },)*)+];

        /// Operation `op`'s request as JSON, read from a REST call of one
        /// of its [`ROUTES`].
        pub fn rest_request(op: &str, input: RestInput) -> Result<serde_json::Value, ApiError> {
            match op {
                $(stringify!($name) => {
                    crate::rest::request_value::<$req>(op, request_code(op), input)
                })+
                other => Err(ApiError::not_found(format!("there is no operation `{other}`"))),
            }
        }

        /// The routes table of `docs/cli.md`.
        pub fn routes_markdown() -> String {
            let cfg = ts_rs::Config::new().with_large_int("number");
            let mut table = String::from(
                "| method | path | operation | request | answer |\n|---|---|---|---|---|\n",
            );
            $($(
                table.push_str(&crate::rest::markdown_row(
                    &Route { method: RestMethod::$method, path: $path, op: stringify!($name) },
                    &<$req as TS>::name(&cfg),
                    &<$res as TS>::name(&cfg),
                ));
            )*)+
            table
        }

        /// Runs operation `op` with its request as JSON (`null` counts as
        /// `{}`) and answers its response as JSON text, its fields in their
        /// declared order (a `serde_json::Value` would sort them).
        pub async fn dispatch(
            api: &Api,
            op: &str,
            request: serde_json::Value,
        ) -> Result<Box<RawValue>, ApiError> {
            match op {
                $(stringify!($name) => {
                    let $r: $req = request_of(stringify!($name), request)?;
                    let $api = api;
                    let response: $res = $body;
                    answer(response)
                })+
                other => Err(ApiError::not_found(format!(
                    "there is no operation `{other}`; the operations are {}",
                    OPERATIONS.join(", ")
                ))),
            }
        }

        /// Exports every operation's request and response types (and what
        /// they use) as TypeScript bindings, so a new operation's types
        /// need no list of their own.
        pub fn export_operation_types(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {
            $(
                export_type::<$req>(cfg)?;
                export_type::<$res>(cfg)?;
            )+
            Ok(())
        }

        /// `Operations.ts`: every operation's request and response types.
        pub fn operations_typescript() -> String {
            let cfg = ts_rs::Config::new().with_large_int("number");
            let mut entries = String::new();
            let mut names: Vec<String> = Vec::new();
            $(
                let (req, res) = (<$req as TS>::name(&cfg), <$res as TS>::name(&cfg));
                names.extend(type_names(&req));
                names.extend(type_names(&res));
                let doc = [$($doc),+].map(str::trim).join(" ");
                entries.push_str(&format!(
                    "  /** {doc} */\n  {}: {{ request: {req}; response: {res} }};\n",
                    stringify!($name)
                ));
            )+
            render_typescript(names, &entries, OPERATIONS)
        }
    };
}

operations! {
    /// Every stored feed with its status.
    list_feeds(NoArgs) -> Vec<FeedView> [GET "/feeds"] = |api, _r| api.list_feeds().await?;
    /// One feed: config (secrets masked), series and status.
    get_feed(FeedName) -> FeedDetail [GET "/feeds/{name}"] = |api, r| api.get_feed(&r.name).await?;
    /// Adds or replaces the feed of that name.
    upsert_feed(FeedConfig) -> FeedView [POST "/feeds", PUT "/feeds/{name}"] =
        |api, r| api.upsert_feed(r).await?;
    /// Deletes a feed and its history.
    delete_feed(FeedName) -> () [DELETE "/feeds/{name}"] = |api, r| api.delete_feed(&r.name).await?;
    /// Connects once with a draft config and reports what arrives.
    test_feed(crate::ProbeInput) -> crate::ProbeReport [POST "/probe"] =
        |api, r| api.test_feed(r).await?;
    /// One series over a time range, in at most `max_points` buckets.
    series(SeriesRequest) -> SeriesView [GET "/feeds/{feed}/series"] = |api, r| {
        let (from, to) = range(r.from, r.to);
        let points = r.max_points.unwrap_or(DEFAULT_MAX_POINTS);
        api.series(&r.feed, &r.metric, &r.labels.0, from, to, points).await?
    };
    /// A page of stored events, newest first.
    events(EventsRequest) -> EventPage [GET "/events"] = |api, r| {
        let limit = r.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
        api.events(r.feed.as_deref(), r.before_id, r.search.as_deref(), limit).await?
    };
    /// A feed's connection states and issues over a time range.
    timeline(TimelineRequest) -> TimelineView [GET "/feeds/{feed}/timeline"] = |api, r| {
        let (from, to) = range(r.from, r.to);
        api.timeline(&r.feed, from, to).await?
    };
    /// Every alert instance.
    alerts(NoArgs) -> Vec<AlertView> [GET "/alerts"] = |api, _r| api.alerts().await?;
    /// Acknowledge, snooze, mute or unmute.
    alert_action(AlertActionInput) -> () [POST "/alerts/actions"] = |api, r| api.alert_action(r).await?;
    /// One alert's history, newest first.
    alert_history(AlertId) -> Vec<AlertHistoryView> [GET "/alerts/{id}/history"] = |api, r| api.alert_history(r.id).await?;
    /// Snoozes a tag: every feed with it, tagged now or later; answers the names of those that have it now.
    snooze_tag(SnoozeTagRequest) -> Vec<String> [POST "/tags/{tag}/snooze"] =
        |api, r| api.snooze_tag(&r.tag, r.secs).await?;
    /// Every maintenance window: when it runs and what it covers.
    maintenance(NoArgs) -> Vec<crate::MaintenanceView> [GET "/maintenance"] = |api, _r| api.maintenance().await?;
    /// Maintenance from now on, for a while, of some feeds or tags.
    start_maintenance(crate::StartMaintenanceRequest) -> crate::MaintenanceView [POST "/maintenance"] =
        |api, r| api.start_maintenance(r).await?;
    /// Ends a maintenance window (one running now ends now and is kept).
    end_maintenance(crate::MaintenanceName) -> () [DELETE "/maintenance/{name}"] =
        |api, r| api.end_maintenance(&r.name).await?;
    /// Whether notifications are muted, and until when.
    mute_state(NoArgs) -> MuteView [GET "/mute"] = |api, _r| api.mute_state().await?;
    /// The server's version, and whether it is storing data.
    health(NoArgs) -> HealthView [GET "/health"] = |api, _r| api.health().await?;
    /// Telltale's worst state in one level and one line (the tray lamp).
    overview(NoArgs) -> crate::OverviewView [GET "/overview"] = |api, _r| api.overview().await?;
    /// The server's version and the operations it offers.
    about(NoArgs) -> crate::health::AboutView [GET "/about"] = |api, _r| api.about();
    /// The database's size and tiers.
    db_stats(NoArgs) -> DbStatsView [GET "/db/stats"] = |api, _r| api.db_stats().await?;
    /// Runs retention now and gives free pages back to the disk.
    compact_db(NoArgs) -> CompactView [POST "/db/compact"] = |api, _r| api.compact_db().await?;
    /// The settings in force.
    settings(NoArgs) -> SettingsView [GET "/settings"] = |api, _r| api.settings().await?;
    /// Replaces every setting; stored and applied at once.
    update_settings(SettingsInput) -> SettingsView [PUT "/settings"] = |api, r| api.update_settings(r).await?;
    /// Every feed and the settings as a config file (secrets masked).
    /// (REST: `GET /api/config/export` answers the TOML file itself.)
    export_config(NoArgs) -> String [] = |api, _r| api.export_config().await?;
    /// Adds or replaces the feeds of a config file and applies its settings.
    /// (REST: `POST /api/config/import` takes the TOML file itself.)
    import_config(ImportRequest) -> ImportReport [] = |api, r| api.import_config(&r.text).await?;
}

/// The code for a request that cannot be read: a feed's or the settings'
/// own code where the request is one, so the editor can point at the field.
pub(crate) fn request_code(op: &str) -> ErrorCode {
    match op {
        "upsert_feed" | "test_feed" => ErrorCode::InvalidFeed,
        "update_settings" => ErrorCode::InvalidSettings,
        _ => ErrorCode::InvalidRequest,
    }
}

/// Reads `op`'s request, naming the field at fault.
fn request_of<T: DeserializeOwned>(op: &str, request: serde_json::Value) -> Result<T, ApiError> {
    let request = match request {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        other => other,
    };
    serde_path_to_error::deserialize(request).map_err(|e| {
        let path = e.path().to_string();
        let text = e.into_inner().to_string();
        let text = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m)
            .to_string();
        let code = request_code(op);
        if path == "." || path.is_empty() {
            ApiError::new(code, format!("the request of `{op}`: {text}"))
        } else {
            ApiError::new(code, format!("field `{path}`: {text}"))
        }
    })
}

fn answer<T: Serialize>(response: T) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(&response)
        .map_err(|e| ApiError::internal(format!("cannot write the response: {e}")))
}

/// Exports `T` if it has a bindings file of its own, else what it refers
/// to (`Vec<FeedView>` → `FeedView`).
fn export_type<T: TS + 'static + ?Sized>(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {
    struct Deps<'a> {
        cfg: &'a ts_rs::Config,
        error: Option<ts_rs::ExportError>,
    }
    impl ts_rs::TypeVisitor for Deps<'_> {
        fn visit<U: TS + 'static + ?Sized>(&mut self) {
            if self.error.is_none() && U::output_path().is_some() {
                self.error = U::export_all(self.cfg).err();
            }
        }
    }
    if T::output_path().is_some() {
        return T::export_all(cfg);
    }
    let mut deps = Deps { cfg, error: None };
    T::visit_dependencies(&mut deps);
    deps.error.map_or(Ok(()), Err)
}

/// The exported type names in a TypeScript type expression
/// (`Array<FeedView>` → `FeedView`).
fn type_names(expr: &str) -> Vec<String> {
    const BUILTIN: [&str; 4] = ["Array", "Record", "Partial", "Promise"];
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()) && !BUILTIN.contains(w))
        .map(str::to_string)
        .collect()
}

fn render_typescript(mut names: Vec<String>, entries: &str, ops: &[&str]) -> String {
    names.sort();
    names.dedup();
    let imports: String = names
        .iter()
        .map(|n| format!("import type {{ {n} }} from \"./{n}\";\n"))
        .collect();
    let list = ops
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "// Generated from crates/telltale-api/src/ops.rs by `cargo test -p telltale-api`. Do not edit.\n\
         {imports}\n\
         /** Every API operation: its request and its response. */\n\
         export interface Operations {{\n{entries}}}\n\n\
         /** The operations' names, in declaration order. */\n\
         export const OPERATION_NAMES = [{list}] as const;\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_operations() {
        // Written beside the ts-rs bindings on every test run, like them;
        // the bindings test and CI's `git diff` catch drift.
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
        std::fs::write(dir.join("Operations.ts"), operations_typescript()).unwrap();
    }

    #[test]
    fn the_routes_table_in_the_docs_is_current() {
        const BEGIN: &str = "<!-- routes: generated from crates/telltale-api/src/ops.rs by `cargo test -p telltale-api` -->\n";
        const END: &str = "<!-- /routes -->";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let start = doc.find(BEGIN).expect("docs/cli.md has the routes markers") + BEGIN.len();
        let end = start
            + doc[start..]
                .find(END)
                .expect("docs/cli.md has the end marker");
        let table = routes_markdown();
        if doc[start..end] != table {
            let updated = format!("{}{table}{}", &doc[..start], &doc[end..]);
            std::fs::write(&path, updated).unwrap();
            panic!(
                "docs/cli.md's routes table did not match ops.rs; it has been rewritten: commit it"
            );
        }
        assert!(table.contains("| PUT | `/api/feeds/{name}` | `upsert_feed` | `FeedConfig` (JSON body) | `FeedView` |"), "{table}");
        assert!(table.contains("| DELETE | `/api/feeds/{name}` | `delete_feed` | `FeedName` (path and query) | 204, no body |"), "{table}");
    }

    #[test]
    fn every_operation_is_in_the_typescript_map() {
        let ts = operations_typescript();
        for op in OPERATIONS {
            assert!(ts.contains(&format!("  {op}: {{ request: ")), "{op}");
        }
        assert!(
            ts.contains("list_feeds: { request: NoArgs; response: Array<FeedView> }"),
            "{ts}"
        );
        assert!(
            ts.contains("delete_feed: { request: FeedName; response: null }"),
            "{ts}"
        );
        assert!(
            ts.contains("import type { FeedView } from \"./FeedView\";"),
            "{ts}"
        );
    }

    #[test]
    fn requests_take_defaults_and_name_the_bad_field() {
        let r: SeriesRequest =
            request_of("series", serde_json::json!({"feed": "a", "metric": "cpu"})).unwrap();
        assert!(r.labels.0.is_empty() && r.from.is_none() && r.max_points.is_none());
        let r: NoArgs = request_of("alerts", serde_json::Value::Null).unwrap();
        let _ = r;
        let e =
            request_of::<SeriesRequest>("series", serde_json::json!({"feed": "a", "metric": 3}))
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(
            e.message.starts_with("field `metric`: invalid type"),
            "{}",
            e.message
        );
        let e = request_of::<FeedConfig>(
            "upsert_feed",
            serde_json::json!({"name": "x", "transport": "poll", "url": "http://h/", "poll": {"interval": "soon"}}),
        )
        .unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::InvalidFeed,
            "the editor points at the field"
        );
        assert!(e.message.contains("`poll.interval`"), "{}", e.message);
        let (from, to) = range(None, Some(10_000_000));
        assert_eq!((from, to), (10_000_000 - DEFAULT_RANGE_MS, 10_000_000));
    }
}
