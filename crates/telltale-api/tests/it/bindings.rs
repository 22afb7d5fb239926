//! The committed TypeScript bindings in `ui/src/lib/bindings/` must match
//! the Rust types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use telltale_api::*;
use ts_rs::{Config, TS};

const FIX: &str = "run `cargo test -p telltale-api export_bindings` and commit ui/src/lib/bindings";

fn export_all_into(cfg: &Config) {
    // Every exported type; their dependencies come along.
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( <$t as TS>::export_all(cfg).unwrap(); )* };
    }
    all!(
        ApiError,
        AlertActionInput,
        telltale_model::FeedConfig,
        telltale_model::feed::CursorMode,
        telltale_model::alert::AlertRule,
        AlertHistoryView,
        AlertSettingsView,
        AlertView,
        CompactView,
        ConnStateView,
        DbStatsView,
        EventPage,
        EventView,
        FeedDetail,
        FeedOriginView,
        FeedView,
        HealthView,
        ImportErrorView,
        ImportReport,
        LiveBatchView,
        LiveEventView,
        LiveIssueView,
        LiveMessage,
        LiveSampleView,
        LiveStateView,
        ProbeInput,
        ProbeReport,
        MuteView,
        PhaseView,
        PointView,
        QuietHoursView,
        SeriesInfoView,
        SeriesView,
        SettingsView,
        StoreSettingsView,
        TierView,
        TimelineEntryView,
        TimelineView,
        ops::NoArgs,
        ops::FeedName,
        ops::AlertId,
        ops::SeriesRequest,
        ops::EventsRequest,
        ops::TimelineRequest,
        ops::ImportRequest,
    );
    // Every operation's request and response, whatever it is.
    ops::export_operation_types(cfg).unwrap();
}

fn ts_files(dir: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ts"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn bindings_are_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    // The types export to `../../../ui/src/lib/bindings/` relative to
    // ts-rs's base directory (`<crate>/bindings` in `cargo test`); a base
    // at the same depth inside the temp dir mirrors the repository layout.
    let base: PathBuf = tmp.path().join("crates/telltale-api/bindings");
    export_all_into(&Config::from_env().with_out_dir(&base));
    // The operations' map is generated from the same declaration.
    std::fs::write(
        tmp.path().join("ui/src/lib/bindings/Operations.ts"),
        ops::operations_typescript(),
    )
    .unwrap();
    let fresh = ts_files(&tmp.path().join("ui/src/lib/bindings"));
    assert!(fresh.len() > 30, "only {} files generated", fresh.len());

    let committed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
    let committed_dir = committed_dir.canonicalize().unwrap_or(committed_dir);
    let committed = ts_files(&committed_dir);
    let mut problems = Vec::new();
    for (name, text) in &fresh {
        match committed.get(name) {
            None => problems.push(format!("{name} is missing")),
            Some(old) if old != text => problems.push(format!("{name} is out of date")),
            Some(_) => {}
        }
    }
    for name in committed.keys() {
        if !fresh.contains_key(name) {
            problems.push(format!(
                "{name} is no longer generated (delete it, or add its type to tests/bindings.rs)"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "TypeScript bindings in {} drifted from the Rust types:\n  {}\n{FIX}",
        committed_dir.display(),
        problems.join("\n  ")
    );
}
