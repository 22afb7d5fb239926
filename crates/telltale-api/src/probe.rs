//! *Test connection*: runs a feed's source for a few seconds without storing
//! anything, and reports the first messages (with the numbers its metric
//! rules extract from them) and every connection state on the way.
//!
//! The probe uses the same source code as a running feed, so what it shows
//! is what the feed will do; nothing reaches the store, the live stream,
//! alerting or the tray. It ends at the first of: `max_messages` messages,
//! the time limit, or a failed attempt (`retrying` or `failed`, with the
//! reason), and always stops its source.

use crate::views::{ConnStateView, LabelsView};
use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale_model::config::validate_feed;
use telltale_model::extract::Extractor;
use telltale_model::{ConnState, FeedConfig, SourceEvent, Timestamp};
use telltale_sources::{FeedCounters, Sink};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

/// Most messages a probe collects.
pub const MAX_PROBE_MESSAGES: u32 = 20;
/// Longest a probe runs.
pub const MAX_PROBE_SECS: u32 = 30;
/// Payload text kept per message.
const MAX_PROBE_TEXT: usize = 64 * 1024;

/// How long and how much to probe (both optional, clamped to the maxima).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ProbeLimits {
    /// Stop after this many messages (default 3, at most 20).
    #[ts(optional)]
    pub max_messages: Option<u32>,
    /// Stop after this many seconds (default 10, at most 30).
    #[ts(optional)]
    pub timeout_secs: Option<u32>,
}

/// A *Test connection* request: the feed as edited (masked secrets of a
/// stored feed with the same name are restored) and the limits.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ProbeInput {
    /// The feed config to try.
    pub config: FeedConfig,
    /// How long and how much.
    #[serde(default)]
    #[ts(optional)]
    pub limits: Option<ProbeLimits>,
}

/// One number a metric rule extracted from a probed message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ProbeSampleView {
    /// Metric name.
    pub metric: String,
    /// Labels (Prometheus series).
    pub labels: LabelsView,
    /// The value in the payload.
    pub value: f64,
    /// How it is stored: `value`, `rate` (a counter: per second), `mean`
    /// (a histogram's or summary's mean observation) or `quantile` (a
    /// histogram's quantile of its new observations).
    pub stored_as: String,
    /// What would be stored for it (a rate or mean needs the previous
    /// reading: none for the first).
    pub stored: Option<f64>,
}

/// A sample as the probe shows it: raw, and what would be stored.
fn sample_view(
    s: telltale_model::extract::ExtractedSample,
    rates: &mut telltale_model::extract::Rates,
    at: telltale_model::Timestamp,
) -> ProbeSampleView {
    use telltale_model::extract::Derive;
    let stored_as = match s.derive {
        Derive::Value => "value",
        Derive::Rate => "rate",
        Derive::Mean { .. } => "mean",
        Derive::Quantile { .. } => "quantile",
    };
    let mut one = vec![s.clone()];
    rates.apply(&mut one, at);
    ProbeSampleView {
        metric: s.metric,
        labels: s.labels,
        value: s.value,
        stored_as: stored_as.into(),
        stored: one.first().map(|d| d.value),
    }
}

/// One message received by a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ProbeMessageView {
    /// When it arrived (ms).
    #[ts(type = "number")]
    pub received_at: i64,
    /// Server id or cursor, if any.
    pub server_id: Option<String>,
    /// Event type, if any.
    pub event_type: Option<String>,
    /// Payload as text (lossy UTF-8), at most 64 KiB.
    pub data: String,
    /// True if `data` was cut.
    pub truncated: bool,
    /// What the feed's metric rules extract from it.
    pub samples: Vec<ProbeSampleView>,
    /// Extraction problems (missing field, malformed payload), for the operator.
    pub problems: Vec<String>,
}

/// A connection state or issue seen by a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ProbeStateView {
    /// When (ms).
    #[ts(type = "number")]
    pub ts: i64,
    /// The state, for state changes.
    pub state: Option<ConnStateView>,
    /// The issue's kind and message, for issues.
    pub issue: Option<String>,
}

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ProbeReport {
    /// The first messages, in arrival order.
    pub messages: Vec<ProbeMessageView>,
    /// Connection states and issues, in order.
    pub states: Vec<ProbeStateView>,
    /// True if the time limit ended it before `max_messages` arrived.
    pub timed_out: bool,
    /// How long it ran (ms).
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

/// Runs `cfg`'s source until the limits are reached (see the module docs).
/// An invalid config fails with `invalid_feed` naming the field. A webhook
/// feed receives through `webhooks` for the probe's time (unless the feed
/// of that name already runs: then its own event log shows deliveries).
pub async fn probe(
    cfg: FeedConfig,
    limits: &ProbeLimits,
    webhooks: Arc<telltale_sources::webhook::Hub>,
) -> Result<ProbeReport, ApiError> {
    if let Some((field, message)) = validate_feed(&cfg).into_iter().next() {
        return Err(ApiError::invalid_feed(&cfg.name, &field, message));
    }
    let max_messages = limits
        .max_messages
        .unwrap_or(3)
        .clamp(1, MAX_PROBE_MESSAGES) as usize;
    let timeout = Duration::from_secs(u64::from(
        limits.timeout_secs.unwrap_or(10).clamp(1, MAX_PROBE_SECS),
    ));
    let extractor = Extractor::new(&cfg).ok();
    let mut rates = telltale_model::extract::Rates::new(cfg.max_series());
    let (tx, mut rx) = mpsc::channel(256);
    let sink = Sink::new(0, tx, Arc::new(FeedCounters::default())).with_hub(webhooks);
    let cancel = CancellationToken::new();
    let source = tokio::spawn(telltale_sources::run_now(
        Arc::new(cfg),
        sink,
        cancel.clone(),
    ));
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut report = ProbeReport {
        messages: Vec::new(),
        states: Vec::new(),
        timed_out: false,
        elapsed_ms: 0,
    };
    loop {
        let next = tokio::time::timeout_at(deadline, rx.recv()).await;
        let event = match next {
            Err(_) => {
                report.timed_out = true;
                break;
            }
            Ok(None) => break,
            Ok(Some(ingest)) => ingest.event,
        };
        match event {
            SourceEvent::Message(m) => {
                let (samples, problems) = match &extractor {
                    Some(x) => {
                        let e = x.extract(&m);
                        (
                            e.samples
                                .into_iter()
                                .map(|s| sample_view(s, &mut rates, m.received_at))
                                .collect(),
                            e.problems.into_iter().map(|p| p.message).collect(),
                        )
                    }
                    None => (Vec::new(), Vec::new()),
                };
                let truncated = m.data.len() > MAX_PROBE_TEXT;
                let text = String::from_utf8_lossy(&m.data[..m.data.len().min(MAX_PROBE_TEXT)]);
                report.messages.push(ProbeMessageView {
                    received_at: m.received_at.as_millis(),
                    server_id: m.server_id,
                    event_type: m.event_type,
                    data: text.into_owned(),
                    truncated,
                    samples,
                    problems,
                });
                if report.messages.len() >= max_messages {
                    break;
                }
            }
            SourceEvent::State(s) => {
                // A failed attempt is the answer the operator is waiting for:
                // report its reason now instead of after the backoff.
                let failed = matches!(
                    s,
                    ConnState::Failed { .. }
                        | ConnState::Retrying { .. }
                        | ConnState::StoppedByServer { .. }
                );
                report.states.push(ProbeStateView {
                    ts: Timestamp::now().as_millis(),
                    state: Some(ConnStateView::from(&s)),
                    issue: None,
                });
                if failed {
                    break;
                }
            }
            SourceEvent::Issue(i) => report.states.push(ProbeStateView {
                ts: Timestamp::now().as_millis(),
                state: None,
                issue: Some(format!("{}: {}", i.kind, i.message)),
            }),
        }
    }
    cancel.cancel();
    // The source ends promptly once cancelled; don't wait on a stuck one.
    let _ = tokio::time::timeout(Duration::from_secs(2), source).await;
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}
