//! Alerting inside the engine: the pipeline feeds the alert state machine,
//! a ticker advances it once a second, persists what changed through the
//! store's single writer, applies operator actions (from the UI, the CLI or
//! a notification's buttons), and hands notifications to a dedicated
//! notifier thread so that a slow or missing notification server never
//! blocks ingestion or evaluation. The thread reports what became of each
//! notification, and the next tick records it in the alert's history:
//! `notified` only once a server took it, `not_delivered` with the reason
//! otherwise.

use crate::error::EngineError;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use telltale_alerts::evaluator::ActionError;
use telltale_alerts::silence::Silences;
use telltale_alerts::{
    AlertEngine, AlertInstance, Delivery, DeliveryOutcome, Notification, NotificationKind,
    Notifier, Output, Withdrawal,
};
use telltale_model::alert::AlertSettings;
use telltale_model::time::SystemClock;
use telltale_model::Timestamp;
use telltale_store::{AlertHistoryRow, AlertRow, WriteBatch, Writes};

/// An operator action on alerts. Also the format of queued CLI commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AlertAction {
    /// Acknowledge a firing alert.
    Ack {
        /// Alert id.
        id: i64,
    },
    /// Snooze the rule behind an alert.
    SnoozeAlert {
        /// Alert id.
        id: i64,
        /// For how long, in seconds.
        secs: u64,
    },
    /// Snooze one rule of a feed.
    SnoozeRule {
        /// Feed id.
        feed_id: i64,
        /// Rule name.
        rule: String,
        /// Seconds.
        secs: u64,
    },
    /// Snooze a whole feed.
    SnoozeFeed {
        /// Feed id.
        feed_id: i64,
        /// Seconds.
        secs: u64,
    },
    /// Snooze every feed with a tag, including feeds tagged later.
    SnoozeTag {
        /// The tag.
        tag: String,
        /// Seconds.
        secs: u64,
    },
    /// Mute every notification, for `secs` or until unmuted.
    Mute {
        /// Seconds, or `None` until turned off.
        secs: Option<u64>,
    },
    /// End a mute.
    Unmute,
    /// Replace the maintenance windows (`telltaled maintenance` in another
    /// process has stored them; this applies them to the running engine).
    SetMaintenance {
        /// Every window.
        windows: Vec<telltale_model::maintenance::MaintenanceWindow>,
    },
}

/// Work for the notifier thread.
enum Job {
    Show(Notification),
    Withdraw(Withdrawal),
}

/// The alert side of the engine.
pub(crate) struct Alerting {
    pub engine: Mutex<AlertEngine>,
    notify_tx: Mutex<Option<mpsc::Sender<Job>>>,
    /// What the notifier thread reports; `None` when there is no notifier.
    reports: Mutex<Option<mpsc::Receiver<Delivery>>>,
}

impl Alerting {
    /// Restores persisted alerts and starts the notifier thread.
    pub fn new(
        store: &dyn Writes,
        settings: AlertSettings,
        notifier: Option<Arc<dyn Notifier>>,
        retry_every: Duration,
    ) -> Result<Alerting, EngineError> {
        let mut engine = AlertEngine::new(
            settings,
            Arc::new(SystemClock),
            telltale_alerts::LocalZone::system(),
        );
        let (rows, silences) = store.load_alerts()?;
        let instances: Vec<AlertInstance> = rows
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect();
        let silences: Silences = silences
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        engine.restore(instances, silences);
        if notifier.is_some() {
            engine.refresh_popups_after_restart();
        }
        let (notify_tx, reports) = match notifier.map(|n| spawn_notifier_thread(n, retry_every)) {
            Some((tx, rx)) => (Some(tx), Some(rx)),
            None => (None, None),
        };
        Ok(Alerting {
            engine: Mutex::new(engine),
            notify_tx: Mutex::new(notify_tx),
            reports: Mutex::new(reports),
        })
    }

    /// Records what the notifier thread reported since the last call.
    fn take_reports(&self, e: &mut AlertEngine) {
        if let Ok(rx) = self.reports.lock() {
            if let Some(rx) = rx.as_ref() {
                for d in rx.try_iter() {
                    e.record_delivery(&d);
                }
            }
        }
    }

    /// Applies an action now.
    pub fn apply(&self, action: &AlertAction) -> Result<(), EngineError> {
        let mut e = self
            .engine
            .lock()
            .map_err(|_| EngineError::Internal("alert engine poisoned".into()))?;
        apply_to(&mut e, action).map_err(EngineError::Action)
    }

    /// One evaluation step: tick, then persist and notify what was decided.
    pub async fn step(&self, store: &dyn Writes) {
        let out = match self.engine.lock() {
            Ok(mut e) => {
                e.tick();
                self.take_reports(&mut e);
                e.drain()
            }
            Err(_) => return,
        };
        self.emit(store, out).await;
    }

    /// Persists an output and queues its notifications.
    pub async fn emit(&self, store: &dyn Writes, out: Output) {
        if out.is_empty() {
            return;
        }
        let silences = if out.silences_changed {
            self.engine
                .lock()
                .ok()
                .and_then(|e| serde_json::to_string(e.silences()).ok())
        } else {
            None
        };
        let mut out = out;
        let has_notifier = self.notify_tx.lock().is_ok_and(|tx| tx.is_some());
        if !has_notifier {
            // Nothing here can close a popup: keep its id, so that the next
            // engine with a notifier closes the popup of an alert
            // acknowledged or resolved here.
            for w in &out.withdrawn {
                if let Some(i) = out.changed.iter_mut().find(|i| i.id == w.alert_id) {
                    i.notice_id = w.notice_id;
                }
            }
        }
        let batch = output_batch(&out, silences);
        for n in &out.notifications {
            tracing::info!("alert: {} — {}", n.summary, n.body);
        }
        if let Err(e) = store.send(batch).await {
            tracing::error!("cannot persist alert state: {e}");
        }
        let sent = match self.notify_tx.lock() {
            Ok(tx) => match tx.as_ref() {
                Some(tx) => {
                    for w in out.withdrawn {
                        let _ = tx.send(Job::Withdraw(w));
                    }
                    for n in &out.notifications {
                        let _ = tx.send(Job::Show(n.clone()));
                    }
                    true
                }
                None => false,
            },
            Err(_) => false,
        };
        if !sent {
            // No notifier: say so in each alert's history rather than claim
            // a notification was shown (recorded with the next tick).
            if let Ok(mut e) = self.engine.lock() {
                for n in out.notifications {
                    e.record_delivery(&Delivery {
                        notification: n,
                        outcome: DeliveryOutcome::Failed {
                            reason: "desktop notifications are off (--no-notify, or no D-Bus session bus)".into(),
                            retrying: false,
                        },
                        retries: 0,
                        at: Timestamp::now(),
                    });
                }
            }
        }
    }

    /// Queues a notification about Telltale itself, past every silence.
    pub fn notify_now(&self, n: Notification) {
        tracing::info!("notification: {} — {}", n.summary, n.body);
        if let Ok(tx) = self.notify_tx.lock() {
            if let Some(tx) = tx.as_ref() {
                let _ = tx.send(Job::Show(n));
            }
        }
    }

    /// Stops the notifier thread, waits up to `limit` for the notification
    /// it may be showing, and records what became of the last ones, so that
    /// a notification shown just before stopping is in the history too.
    pub async fn finish(&self, store: &dyn Writes, limit: Duration) {
        if let Ok(mut tx) = self.notify_tx.lock() {
            tx.take();
        }
        let Some(rx) = self.reports.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let late = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + limit;
            let mut late = Vec::new();
            // The thread ends (and the channel disconnects) once it has
            // finished what it was doing.
            while let Ok(d) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                late.push(d);
            }
            late
        })
        .await
        .unwrap_or_default();
        let out = match self.engine.lock() {
            Ok(mut e) => {
                for d in &late {
                    e.record_delivery(d);
                }
                e.drain()
            }
            Err(_) => return,
        };
        if !out.history.is_empty() || !out.changed.is_empty() {
            if let Err(e) = store.send(output_batch(&out, None)).await {
                tracing::error!("cannot persist alert state: {e}");
            }
        }
    }
}

/// The rows that persist an alert engine's output.
pub fn output_batch(out: &Output, silences: Option<String>) -> WriteBatch {
    WriteBatch {
        alerts: out
            .changed
            .iter()
            .filter_map(|i| {
                Some(AlertRow {
                    id: i.id,
                    feed_id: i.feed_id,
                    rule: i.rule.clone(),
                    phase: i.phase.as_str().to_string(),
                    json: serde_json::to_string(i).ok()?,
                })
            })
            .collect(),
        removed_alerts: out.removed.clone(),
        alert_history: out
            .history
            .iter()
            .map(|h| AlertHistoryRow {
                id: 0,
                alert_id: h.alert_id,
                ts: h.ts,
                kind: h.kind.as_str().to_string(),
                value: h.value,
                detail: h.detail.clone(),
            })
            .collect(),
        silences,
        ..WriteBatch::default()
    }
}

/// Applies an action to an alert engine.
pub fn apply_to(e: &mut AlertEngine, action: &AlertAction) -> Result<(), ActionError> {
    match action {
        AlertAction::Ack { id } => e.ack(*id, "operator"),
        AlertAction::SnoozeAlert { id, secs } => {
            e.snooze_alert(*id, Duration::from_secs(*secs)).map(|_| ())
        }
        AlertAction::SnoozeRule {
            feed_id,
            rule,
            secs,
        } => {
            e.snooze_rule(*feed_id, rule, Duration::from_secs(*secs));
            Ok(())
        }
        AlertAction::SnoozeFeed { feed_id, secs } => {
            e.snooze_feed(*feed_id, Duration::from_secs(*secs));
            Ok(())
        }
        AlertAction::SnoozeTag { tag, secs } => {
            e.snooze_tag(tag, Duration::from_secs(*secs));
            Ok(())
        }
        AlertAction::Mute { secs } => {
            e.mute(secs.map(Duration::from_secs));
            Ok(())
        }
        AlertAction::Unmute => {
            e.unmute();
            Ok(())
        }
        AlertAction::SetMaintenance { windows } => {
            let mut settings = e.settings().clone();
            settings.maintenance = windows.clone();
            e.set_settings(settings);
            Ok(())
        }
    }
}

/// How long an undelivered notification keeps being retried.
const RETRY_FOR: Duration = Duration::from_secs(600);
/// At most this many notifications wait for a retry.
const RETRY_MAX: usize = 100;

/// A notification that a server has not taken yet.
struct Attempt {
    n: Notification,
    first: Instant,
    /// Failed attempts so far.
    failures: u32,
}

/// Starts the thread that talks to the notification server. It retries
/// undelivered notifications every `retry_every` (for up to [`RETRY_FOR`])
/// and reports the first failure, the success (with the number of retries
/// it took), the final give-up, and notifications dropped because their
/// alert was acknowledged or resolved while they waited.
fn spawn_notifier_thread(
    notifier: Arc<dyn Notifier>,
    retry_every: Duration,
) -> (mpsc::Sender<Job>, mpsc::Receiver<Delivery>) {
    let (tx, rx) = mpsc::channel::<Job>();
    let (report_tx, report_rx) = mpsc::channel::<Delivery>();
    let spawned = std::thread::Builder::new()
        .name("telltale-notifier".into())
        .spawn(move || {
            let report = |n: Notification, outcome: DeliveryOutcome, retries: u32| {
                let _ = report_tx.send(Delivery {
                    notification: n,
                    outcome,
                    retries,
                    at: Timestamp::now(),
                });
            };
            let mut retry: VecDeque<Attempt> = VecDeque::new();
            let mut failing = false;
            let mut last_retry = Instant::now();
            loop {
                let wait = retry_every.saturating_sub(last_retry.elapsed());
                let job = match rx.recv_timeout(if retry.is_empty() { retry_every } else { wait }) {
                    Ok(j) => Some(j),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                let mut todo: Vec<Attempt> = Vec::new();
                // While the server fails, retry on schedule only (new
                // notifications still get their first attempt at once).
                if !retry.is_empty() && (!failing || last_retry.elapsed() >= retry_every) {
                    last_retry = Instant::now();
                    todo.extend(retry.drain(..));
                }
                match job {
                    Some(Job::Show(n)) => todo.push(Attempt {
                        n,
                        first: Instant::now(),
                        failures: 0,
                    }),
                    Some(Job::Withdraw(w)) => {
                        // A popup still waiting for the server is not shown
                        // once its alert is acknowledged or resolved.
                        let stale = |a: &Attempt| {
                            a.n.alert_id == Some(w.alert_id)
                                && matches!(
                                    a.n.kind,
                                    NotificationKind::Fired | NotificationKind::Reminder
                                )
                        };
                        let (dropped, kept): (Vec<Attempt>, Vec<Attempt>) =
                            todo.into_iter().partition(stale);
                        todo = kept;
                        for a in dropped {
                            report(a.n, DeliveryOutcome::Dropped(w.why), a.failures);
                        }
                        if let Err(e) = notifier.withdraw(&w) {
                            tracing::warn!("cannot withdraw the notification for alert {}: {e}", w.alert_id);
                        }
                    }
                    None => {}
                }
                for mut a in todo {
                    match notifier.notify(&a.n) {
                        Ok(id) => {
                            if failing {
                                tracing::info!("desktop notifications work again");
                            }
                            failing = false;
                            let retries = a.failures;
                            report(a.n, DeliveryOutcome::Shown(id), retries);
                        }
                        Err(e) => {
                            if !failing {
                                tracing::error!(
                                    "cannot show a desktop notification ({e}); is a notification daemon running on the session bus? Retrying every {:?}; alerts are still evaluated and recorded",
                                    retry_every
                                );
                            }
                            failing = true;
                            let first = a.failures == 0;
                            a.failures += 1;
                            let retrying = a.first.elapsed() < RETRY_FOR && retry.len() < RETRY_MAX;
                            if retrying {
                                if first {
                                    let outcome = DeliveryOutcome::Failed { reason: e.to_string(), retrying };
                                    report(a.n.clone(), outcome, 0);
                                }
                                retry.push_back(a);
                            } else {
                                tracing::warn!("gave up on notification: {}", a.n.summary);
                                let retries = a.failures - 1;
                                report(a.n, DeliveryOutcome::Failed { reason: e.to_string(), retrying }, retries);
                            }
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the notifier thread: {e}");
    }
    (tx, report_rx)
}
