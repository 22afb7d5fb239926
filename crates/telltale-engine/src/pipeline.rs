//! The ingest pipeline: one task that turns what sources report into stored
//! rows and live batches.
//!
//! Each step drains up to [`MAX_STEP`] reports at once, so that at high rates
//! the store receives large batches and subscribers receive one batch per
//! step rather than one message at a time.

use crate::live::{LiveBatch, LiveEvent, LiveSample, LiveState};
use crate::problems::ProblemLimiter;
use crate::shared::Shared;
use std::collections::BTreeMap;
use std::sync::Arc;
use telltale_model::message::FeedIssue;
use telltale_model::{ConnState, RawMessage, SourceEvent, Timestamp};
use telltale_sources::Ingest;
use telltale_store::{Backend, EventRow, SampleRow, TimelineRow, WriteBatch};
use tokio::sync::{broadcast, mpsc};

/// Most reports handled in one step.
const MAX_STEP: usize = 8192;
/// Live payload text is capped at this many bytes.
const LIVE_DATA_CAP: usize = 8 * 1024;

pub(crate) struct Pipeline {
    pub rx: mpsc::Receiver<Ingest>,
    pub store: Arc<dyn Backend>,
    pub live: broadcast::Sender<Arc<LiveBatch>>,
    pub shared: Arc<Shared>,
    /// See `EngineOptions::panic_on_feed`.
    pub panic_on_feed: Option<String>,
}

impl Pipeline {
    /// Runs until every sender is gone, then flushes.
    pub async fn run(mut self) {
        let mut buf = Vec::with_capacity(MAX_STEP);
        let mut problems = ProblemLimiter::default();
        let empty_labels = Arc::new(BTreeMap::new());
        loop {
            buf.clear();
            if self.rx.recv_many(&mut buf, MAX_STEP).await == 0 {
                break;
            }
            let mut batch = WriteBatch::default();
            let mut live = LiveBatch::default();
            let mut alert_inputs = Vec::new();
            let feeds = self.shared.runtime_snapshot();
            problems.prune(&feeds, Timestamp::now());
            for ingest in buf.drain(..) {
                self.shared.ingest_budget.release(ingest.charged);
                let Some(feed) = feeds.get(&ingest.feed_id) else {
                    continue; // removed while its last reports were in flight
                };
                match ingest.event {
                    SourceEvent::Message(m) => self.message(
                        feed,
                        m,
                        &mut batch,
                        &mut live,
                        &mut problems,
                        &empty_labels,
                        &mut alert_inputs,
                    ),
                    SourceEvent::State(s) => {
                        let ts = Timestamp::now();
                        log_state(&feed.name, &s);
                        self.shared.set_state(feed.id, s.clone(), ts);
                        alert_inputs.push(AlertInput::State(feed.id, s.clone()));
                        batch.timeline.push(TimelineRow {
                            feed_id: feed.id,
                            ts,
                            kind: "state".into(),
                            state: s.name().into(),
                            detail: serde_json::to_string(&s).ok(),
                        });
                        live.states.push(LiveState {
                            feed_id: feed.id,
                            ts,
                            state: s,
                            issue: None,
                        });
                    }
                    SourceEvent::Issue(issue) => {
                        self.issue(feed.id, &feed.name, issue, &mut batch, &mut live)
                    }
                }
            }
            self.evaluate_alerts(alert_inputs).await;
            if !batch.is_empty() {
                if let Err(e) = self.store.send(batch).await {
                    self.shared
                        .set_fatal(format!("the store stopped accepting data ({e})"));
                }
            }
            if !live.is_empty() {
                // No subscribers is fine.
                let _ = self.live.send(Arc::new(live));
            }
        }
        if let Err(e) = self.store.flush().await {
            tracing::error!("final flush failed: {e}");
        }
    }

    /// Feeds one step's inputs to the alert engine under one lock, then
    /// persists and notifies whatever it decided.
    async fn evaluate_alerts(&self, inputs: Vec<AlertInput>) {
        if inputs.is_empty() {
            return;
        }
        let out = match self.shared.alerting.engine.lock() {
            Ok(mut e) => {
                for input in inputs {
                    match input {
                        AlertInput::Sample(id, metric, labels, value) => {
                            e.on_sample(id, &metric, &labels, value)
                        }
                        AlertInput::Message(id, text, health) => {
                            e.on_message(id, &text, health.as_ref().map(|(h, t)| (*h, t.as_str())))
                        }
                        AlertInput::State(id, s) => e.on_state(id, &s),
                    }
                }
                e.drain()
            }
            Err(_) => return,
        };
        self.shared.alerting.emit(&*self.store, out).await;
    }

    #[allow(clippy::too_many_arguments)]
    fn message(
        &self,
        feed: &crate::shared::FeedRuntime,
        m: RawMessage,
        batch: &mut WriteBatch,
        live: &mut LiveBatch,
        problems: &mut ProblemLimiter,
        empty_labels: &Arc<BTreeMap<String, String>>,
        alert_inputs: &mut Vec<AlertInput>,
    ) {
        if self.panic_on_feed.as_deref() == Some(&*feed.name) {
            panic!("fault injection: panic_on_feed = {}", feed.name);
        }
        let mut x = feed.extractor.extract(&m);
        if let Some(rates) = &feed.rates {
            if let Ok(mut r) = rates.lock() {
                r.apply(&mut x.samples, m.received_at);
            }
        }
        let watched = self
            .shared
            .alerting
            .engine
            .lock()
            .map(|e| e.watches_feed(feed.id))
            .unwrap_or(false);
        let mut over_cap = 0u64;
        for s in x.samples {
            let Some(metric) = feed.admit(&s.metric, &s.labels) else {
                over_cap += 1;
                continue;
            };
            let labels = if s.labels.is_empty() {
                empty_labels.clone()
            } else {
                Arc::new(s.labels)
            };
            batch.samples.push(SampleRow {
                feed_id: feed.id,
                metric: metric.clone(),
                labels: labels.clone(),
                ts: m.received_at,
                value: s.value,
            });
            if watched {
                alert_inputs.push(AlertInput::Sample(
                    feed.id,
                    metric.clone(),
                    labels.clone(),
                    s.value,
                ));
            }
            live.samples.push(LiveSample {
                feed_id: feed.id,
                metric,
                labels,
                ts: m.received_at,
                value: s.value,
            });
        }
        if watched {
            let cut = m.data.len().min(LIVE_DATA_CAP);
            alert_inputs.push(AlertInput::Message(
                feed.id,
                String::from_utf8_lossy(&m.data[..cut]).into_owned(),
                x.health.as_ref().map(|h| (h.healthy, h.text.clone())),
            ));
        }
        if let Some(h) = x.health {
            self.shared.set_health(feed.id, h);
        }
        let cap = (over_cap > 0).then(|| telltale_model::extract::Problem {
            rule: "series".into(),
            kind: "cap",
            message: format!(
                "more than {} series (metric and label set): samples of new label sets are not stored. Drop the labels that change (`drop_labels` on the metric rule) or raise `max_series`",
                feed.max_series
            ),
        });
        let problem = !x.problems.is_empty();
        for p in x.problems.into_iter().chain(cap) {
            if let Some(message) = problems.admit(feed.id, p, m.received_at) {
                self.issue(
                    feed.id,
                    &feed.name,
                    FeedIssue {
                        kind: "payload".into(),
                        message,
                    },
                    batch,
                    live,
                );
            }
        }
        // A 304 "unchanged" poll carries only transport metrics: no event row.
        if m.event_type.as_deref() == Some("unchanged") && m.data.is_empty() {
            return;
        }
        let size = m.data.len();
        let cap = feed.max_event_size;
        let truncated = size > cap;
        let data = if truncated {
            m.data.slice(..cap)
        } else {
            m.data.clone()
        };
        let live_cut = data.len().min(LIVE_DATA_CAP);
        let text = String::from_utf8_lossy(&data[..live_cut]).into_owned();
        live.events.push(LiveEvent {
            feed_id: feed.id,
            received_at: m.received_at,
            server_id: m.server_id.clone(),
            event_type: m.event_type.clone(),
            data: text,
            truncated: truncated || live_cut < data.len(),
        });
        if let Some(note) = feed.payloads.announcement() {
            batch.timeline.push(TimelineRow {
                feed_id: feed.id,
                ts: m.received_at,
                kind: "payloads".into(),
                state: self
                    .shared
                    .state_of(feed.id)
                    .unwrap_or(ConnState::Connecting)
                    .name()
                    .into(),
                detail: Some(note),
            });
        }
        if !feed.payloads.admit(&m.data, problem, m.received_at) {
            return;
        }
        batch.events.push(EventRow {
            feed_id: feed.id,
            received_at: m.received_at,
            server_id: m.server_id,
            event_type: m.event_type,
            data,
            size: size.min(u32::MAX as usize) as u32,
            truncated,
        });
    }

    fn issue(
        &self,
        feed_id: i64,
        name: &str,
        issue: FeedIssue,
        batch: &mut WriteBatch,
        live: &mut LiveBatch,
    ) {
        let ts = Timestamp::now();
        tracing::warn!("feed {name}: {}: {}", issue.kind, issue.message);
        let state = self
            .shared
            .state_of(feed_id)
            .unwrap_or(ConnState::Connecting);
        batch.timeline.push(TimelineRow {
            feed_id,
            ts,
            kind: issue.kind.clone(),
            state: state.name().into(),
            detail: Some(issue.message.clone()),
        });
        live.states.push(LiveState {
            feed_id,
            ts,
            state,
            issue: Some((issue.kind, issue.message)),
        });
    }
}

/// What the alert engine is told about, collected over one step.
enum AlertInput {
    Sample(i64, Arc<str>, Arc<BTreeMap<String, String>>, f64),
    Message(i64, String, Option<(bool, String)>),
    State(i64, ConnState),
}

fn log_state(name: &str, s: &ConnState) {
    match s {
        ConnState::Retrying { .. }
        | ConnState::Failed { .. }
        | ConnState::StoppedByServer { .. } => {
            tracing::warn!("feed {name}: {}", s.describe())
        }
        _ => tracing::info!("feed {name}: {}", s.describe()),
    }
}
