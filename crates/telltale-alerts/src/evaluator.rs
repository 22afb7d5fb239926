//! The alert state machine.
//!
//! Per rule and series: `ok → pending → firing → resolved`. A threshold
//! rule goes pending when its condition holds, fires once it has held for
//! the rule's `for` duration (a flap back below cancels the pending state
//! without a word), and resolves only once the value crosses the separate
//! `clear` line (hysteresis) and, with `resolve_for`, has stayed cleared
//! that long (a return before then keeps it firing without a word). Stale and down rules are evaluated on every
//! [`AlertEngine::tick`]. Every notification passes silences (mute, snooze,
//! quiet hours) and flood control; what is held back is still recorded.

mod deps;
mod maintenance;
mod notices;
mod silencing;

use crate::flood::FloodControl;
use crate::instance::{AlertInstance, HistoryEntry, HistoryKind, Phase};
use crate::notifier::{Notification, NotificationKind, Withdrawal};
use crate::rule::{fmt_num, CompiledRule};
use crate::silence::Silences;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use telltale_model::alert::{AlertKind, AlertRule, AlertSettings};
use telltale_model::time::Clock;
use telltale_model::{ConnState, Timestamp, Unit};

/// What the engine decided since the last [`AlertEngine::drain`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    /// Instances whose state changed (persist these).
    pub changed: Vec<AlertInstance>,
    /// Instances that no longer exist (their rule was removed).
    pub removed: Vec<i64>,
    /// History to append.
    pub history: Vec<HistoryEntry>,
    /// Notifications to deliver.
    pub notifications: Vec<Notification>,
    /// Popups to take off the screen (acknowledged or resolved alerts).
    pub withdrawn: Vec<Withdrawal>,
    /// True when silences changed (persist them).
    pub silences_changed: bool,
}

impl Output {
    /// True when nothing happened.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
            && self.removed.is_empty()
            && self.history.is_empty()
            && self.notifications.is_empty()
            && self.withdrawn.is_empty()
            && !self.silences_changed
    }
}

/// Why an operator action failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// No alert has that id.
    #[error("there is no alert {0}: `telltaled alerts` lists them")]
    NotFound(i64),
    /// The alert is not firing, so there is nothing to acknowledge.
    #[error("alert {0} is not firing, so there is nothing to acknowledge")]
    NotFiring(i64),
}

#[derive(Debug)]
struct FeedAlerts {
    name: String,
    rules: Vec<CompiledRule>,
    /// Units of the feed's metrics, for the values in summaries.
    units: BTreeMap<String, Unit>,
    last_message: Option<Timestamp>,
    down_since: Option<Timestamp>,
    http_down_since: Option<Timestamp>,
    /// The feed this one depends on, by name (`depends_on`).
    parent: Option<String>,
    /// Its tags, which maintenance windows may name.
    tags: Vec<String>,
}

type Key = (i64, String, String);

/// The alert engine. See the module docs.
pub struct AlertEngine {
    settings: AlertSettings,
    clock: Arc<dyn Clock>,
    /// Where quiet hours read the time of day, at each moment.
    zone: crate::LocalZone,
    feeds: HashMap<i64, FeedAlerts>,
    instances: HashMap<Key, AlertInstance>,
    holding: HashMap<i64, bool>,
    /// Firing alerts whose condition cleared, waiting out `resolve_for`:
    /// since when, and the value that cleared it.
    clearing: HashMap<Key, (Timestamp, Option<f64>)>,
    next_id: i64,
    silences: Silences,
    flood: FloodControl,
    out: Output,
    started: Timestamp,
    /// Notifications held because a feed's parent was down (`deps`).
    held: deps::Held,
    /// Firing alerts whose notification a maintenance window held; told
    /// once the window ends if still firing (`maintenance`).
    maintenance_held: HashSet<Key>,
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine")
            .field("feeds", &self.feeds.len())
            .field("instances", &self.instances.len())
            .finish_non_exhaustive()
    }
}

impl AlertEngine {
    /// A new engine. `zone` places quiet hours in local time (a fixed
    /// offset in minutes converts into one).
    pub fn new(
        settings: AlertSettings,
        clock: Arc<dyn Clock>,
        zone: impl Into<crate::LocalZone>,
    ) -> Self {
        let started = clock.now();
        AlertEngine {
            flood: FloodControl::new(settings.flood_max, settings.flood_window.0),
            settings,
            clock,
            zone: zone.into(),
            feeds: HashMap::new(),
            instances: HashMap::new(),
            holding: HashMap::new(),
            clearing: HashMap::new(),
            next_id: 1,
            silences: Silences::default(),
            out: Output::default(),
            started,
            held: deps::Held::default(),
            maintenance_held: HashSet::new(),
        }
    }

    /// Replaces the settings (flood limits, quiet hours, re-notify,
    /// resolved notifications) while running: the next decision uses them.
    /// Flood control keeps its recent history and held notifications, so
    /// the pending summary still counts them.
    pub fn set_settings(&mut self, settings: AlertSettings) {
        self.flood
            .set_limits(settings.flood_max, settings.flood_window.0);
        self.settings = settings;
    }

    /// The settings.
    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// Restores persisted instances and silences (after a restart). Firing
    /// alerts stay firing and are not notified again. A process that shows
    /// notifications then calls [`AlertEngine::refresh_popups_after_restart`].
    pub fn restore(&mut self, instances: Vec<AlertInstance>, silences: Silences) {
        for i in instances {
            self.next_id = self.next_id.max(i.id + 1);
            self.holding
                .insert(i.id, matches!(i.phase, Phase::Pending | Phase::Firing));
            self.instances
                .insert((i.feed_id, i.rule.clone(), i.series.clone()), i);
        }
        self.silences = silences;
    }

    /// Sets a feed's rules. Invalid rules are skipped and returned as
    /// `(rule index, field, message)`.
    pub fn set_feed_rules(
        &mut self,
        feed_id: i64,
        feed_name: &str,
        rules: &[AlertRule],
    ) -> Vec<(usize, String, String)> {
        let mut problems = Vec::new();
        let mut compiled = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match CompiledRule::new(r) {
                Ok(c) => compiled.push(c),
                Err(p) => problems.extend(p.into_iter().map(|(f, m)| (i, f, m))),
            }
        }
        let names: Vec<String> = compiled.iter().map(|c| c.rule.name.clone()).collect();
        let gone: Vec<Key> = self
            .instances
            .keys()
            .filter(|(f, r, _)| *f == feed_id && !names.contains(r))
            .cloned()
            .collect();
        for k in gone {
            self.clearing.remove(&k);
            if let Some(i) = self.instances.remove(&k) {
                self.out.removed.push(i.id);
            }
        }
        let entry = self.feeds.entry(feed_id).or_insert_with(|| FeedAlerts {
            name: feed_name.to_string(),
            rules: Vec::new(),
            units: BTreeMap::new(),
            last_message: None,
            down_since: None,
            http_down_since: None,
            parent: None,
            tags: Vec::new(),
        });
        entry.name = feed_name.to_string();
        entry.rules = compiled;
        problems
    }

    /// Sets the units of a feed's metrics (by metric name), so that
    /// summaries read `1.2 GiB` rather than `1288490188`.
    pub fn set_feed_units(&mut self, feed_id: i64, units: BTreeMap<String, Unit>) {
        if let Some(f) = self.feeds.get_mut(&feed_id) {
            f.units = units;
        }
    }

    /// A feed's name and the unit of the metric a rule watches.
    fn name_and_unit(&self, feed_id: i64, rule: &CompiledRule) -> (String, Option<Unit>) {
        let Some(f) = self.feeds.get(&feed_id) else {
            return (String::new(), None);
        };
        let unit = rule
            .rule
            .metric
            .as_ref()
            .and_then(|m| f.units.get(m).copied());
        (f.name.clone(), unit)
    }

    /// Forgets a feed and its alerts.
    pub fn remove_feed(&mut self, feed_id: i64) {
        self.feeds.remove(&feed_id);
        let gone: Vec<Key> = self
            .instances
            .keys()
            .filter(|(f, _, _)| *f == feed_id)
            .cloned()
            .collect();
        for k in gone {
            self.clearing.remove(&k);
            if let Some(i) = self.instances.remove(&k) {
                self.out.removed.push(i.id);
            }
        }
    }

    /// True if the feed has any alert rules (so its payloads are worth passing in).
    pub fn watches_feed(&self, feed_id: i64) -> bool {
        self.feeds
            .get(&feed_id)
            .is_some_and(|f| !f.rules.is_empty())
    }

    /// All instances.
    pub fn instances(&self) -> impl Iterator<Item = &AlertInstance> {
        self.instances.values()
    }

    /// Active silences.
    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    /// A sample arrived.
    pub fn on_sample(
        &mut self,
        feed_id: i64,
        metric: &str,
        labels: &BTreeMap<String, String>,
        value: f64,
    ) {
        let now = self.clock.now();
        if metric == "up" {
            if let Some(f) = self.feeds.get_mut(&feed_id) {
                if value < 0.5 {
                    f.http_down_since.get_or_insert(now);
                } else {
                    f.http_down_since = None;
                }
            }
            self.eval_down(feed_id, now);
        }
        let Some(feed) = self.feeds.get(&feed_id) else {
            return;
        };
        let matching: Vec<CompiledRule> = feed
            .rules
            .iter()
            .filter(|r| r.watches(metric, labels))
            .cloned()
            .collect();
        if matching.is_empty() {
            return;
        }
        let series = serde_json::to_string(labels).unwrap_or_else(|_| "{}".into());
        for rule in matching {
            let Some((op, threshold, clear)) = rule.threshold() else {
                continue;
            };
            let holds = op.holds(value, threshold);
            let cleared = op.cleared(value, clear);
            self.observe(
                feed_id,
                &rule,
                &series,
                holds,
                cleared,
                Some(value),
                None,
                now,
            );
        }
    }

    /// A message arrived (text for keyword rules, health for status rules).
    pub fn on_message(&mut self, feed_id: i64, text: &str, health: Option<(bool, &str)>) {
        let now = self.clock.now();
        let Some(feed) = self.feeds.get_mut(&feed_id) else {
            return;
        };
        feed.last_message = Some(now);
        let rules = feed.rules.clone();
        for rule in &rules {
            match rule.rule.kind {
                AlertKind::Keyword => {
                    if let Some(re) = &rule.pattern {
                        let m = re.is_match(text);
                        self.observe(feed_id, rule, "{}", m, !m, None, None, now);
                    }
                }
                AlertKind::Status => {
                    if let Some((healthy, status)) = health {
                        self.observe(
                            feed_id,
                            rule,
                            "{}",
                            !healthy,
                            healthy,
                            None,
                            Some(status),
                            now,
                        );
                    }
                }
                AlertKind::Stale => {
                    self.observe(feed_id, rule, "{}", false, true, None, None, now);
                }
                _ => {}
            }
        }
    }

    /// A feed's connection state changed.
    pub fn on_state(&mut self, feed_id: i64, state: &ConnState) {
        let now = self.clock.now();
        if let Some(f) = self.feeds.get_mut(&feed_id) {
            if state.is_up() {
                f.down_since = None;
            } else if !matches!(state, ConnState::Stopped) {
                f.down_since.get_or_insert(now);
            }
        }
        self.eval_down(feed_id, now);
    }

    /// Time passes: `for` durations, stale and down rules, re-notify,
    /// silence expiry and flood summaries.
    pub fn tick(&mut self) {
        let now = self.clock.now();
        if self.silences.expire(now) {
            self.out.silences_changed = true;
        }
        let ids: Vec<i64> = self.feeds.keys().copied().collect();
        for feed_id in ids {
            self.eval_down(feed_id, now);
            self.eval_stale(feed_id, now);
        }
        // Pending instances whose condition still holds fire once `for` has passed.
        let pending: Vec<Key> = self
            .instances
            .iter()
            .filter(|(_, i)| i.phase == Phase::Pending && self.holding.get(&i.id) == Some(&true))
            .map(|(k, _)| k.clone())
            .collect();
        for key in pending {
            let Some(rule) = self.rule_for(&key) else {
                continue;
            };
            let Some(inst) = self.instances.get(&key) else {
                continue;
            };
            if now.since(inst.since) >= rule.rule.for_duration() {
                let v = inst.value;
                self.fire(&key, &rule, v, None, now);
            }
        }
        // Firing alerts cleared for their whole `resolve_for` resolve.
        let due: Vec<(Key, Option<f64>)> = self
            .clearing
            .iter()
            .filter(|(k, (since, _))| {
                self.rule_for(k)
                    .is_some_and(|r| now.since(*since) >= r.rule.resolve_for())
            })
            .map(|(k, (_, v))| (k.clone(), *v))
            .collect();
        for (key, value) in due {
            self.resolve(&key, value, now);
        }
        // Reminders for alerts still firing and not acknowledged.
        if let Some(every) = self.settings.renotify {
            let due: Vec<Key> = self
                .instances
                .iter()
                .filter(|(_, i)| {
                    i.phase == Phase::Firing
                        && i.acked_at.is_none()
                        && i.last_notified_at.is_some_and(|t| now.since(t) >= every.0)
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in due {
                self.notify(&key, NotificationKind::Reminder, now);
            }
        }
        if let Some(held) = self.flood.due_summary(now) {
            self.push_flood_summary(held);
        }
        self.summarise_held();
        self.release_after_maintenance(now);
    }

    /// Acknowledges a firing alert: no more reminders for this firing, and
    /// its popup is withdrawn.
    pub fn ack(&mut self, alert_id: i64, by: &str) -> Result<(), ActionError> {
        let now = self.clock.now();
        let (key, inst) = self
            .instances
            .iter_mut()
            .find(|(_, i)| i.id == alert_id)
            .ok_or(ActionError::NotFound(alert_id))?;
        let key = key.clone();
        if inst.phase != Phase::Firing {
            return Err(ActionError::NotFiring(alert_id));
        }
        if inst.acked_at.is_none() {
            inst.acked_at = Some(now);
            let copy = inst.clone();
            self.out.history.push(HistoryEntry {
                alert_id,
                ts: now,
                kind: HistoryKind::Acknowledged,
                value: copy.value,
                detail: format!("acknowledged by {by}"),
            });
            self.out.changed.push(copy);
            self.withdraw(&key, "the alert was acknowledged");
        }
        Ok(())
    }

    /// Takes what was decided since the last call.
    pub fn drain(&mut self) -> Output {
        let mut out = std::mem::take(&mut self.out);
        // Keep only the latest state of each changed instance.
        let mut seen = std::collections::HashSet::new();
        out.changed.reverse();
        out.changed.retain(|i| seen.insert(i.id));
        out.changed.reverse();
        out
    }

    fn rule_for(&self, key: &Key) -> Option<CompiledRule> {
        self.feeds
            .get(&key.0)?
            .rules
            .iter()
            .find(|r| r.rule.name == key.1)
            .cloned()
    }

    fn eval_down(&mut self, feed_id: i64, now: Timestamp) {
        let Some(feed) = self.feeds.get(&feed_id) else {
            return;
        };
        let since = match (feed.down_since, feed.http_down_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let rules: Vec<CompiledRule> = feed
            .rules
            .iter()
            .filter(|r| r.rule.kind == AlertKind::Down)
            .cloned()
            .collect();
        for rule in rules {
            let after = rule.rule.after.map(|d| d.0).unwrap_or_default();
            let holds = since.is_some_and(|s| now.since(s) >= after);
            let secs = since.map(|s| now.since(s).as_secs_f64());
            self.observe(
                feed_id,
                &rule,
                "{}",
                holds,
                since.is_none(),
                secs,
                None,
                now,
            );
        }
    }

    fn eval_stale(&mut self, feed_id: i64, now: Timestamp) {
        let Some(feed) = self.feeds.get(&feed_id) else {
            return;
        };
        let last = feed.last_message.unwrap_or(self.started);
        let rules: Vec<CompiledRule> = feed
            .rules
            .iter()
            .filter(|r| r.rule.kind == AlertKind::Stale)
            .cloned()
            .collect();
        for rule in rules {
            let after = rule.rule.after.map(|d| d.0).unwrap_or_default();
            let silent = now.since(last);
            let holds = silent >= after;
            self.observe(
                feed_id,
                &rule,
                "{}",
                holds,
                !holds,
                Some(silent.as_secs_f64()),
                None,
                now,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn observe(
        &mut self,
        feed_id: i64,
        rule: &CompiledRule,
        series: &str,
        holds: bool,
        cleared: bool,
        value: Option<f64>,
        status: Option<&str>,
        now: Timestamp,
    ) {
        let key: Key = (feed_id, rule.rule.name.clone(), series.to_string());
        if !self.instances.contains_key(&key) {
            if !holds {
                return; // nothing to track until the condition first holds
            }
            let feed_name = self
                .feeds
                .get(&feed_id)
                .map(|f| f.name.clone())
                .unwrap_or_default();
            let id = self.next_id;
            self.next_id += 1;
            self.instances.insert(
                key.clone(),
                AlertInstance {
                    id,
                    feed_id,
                    feed: feed_name,
                    rule: rule.rule.name.clone(),
                    series: series.to_string(),
                    severity: rule.rule.severity,
                    phase: Phase::Ok,
                    since: now,
                    value,
                    fired_at: None,
                    resolved_at: None,
                    acked_at: None,
                    last_notified_at: None,
                    notice_id: None,
                    summary: String::new(),
                },
            );
        }
        let (feed_name, unit) = self.name_and_unit(feed_id, rule);
        let Some(inst) = self.instances.get_mut(&key) else {
            return;
        };
        self.holding.insert(inst.id, holds);
        match inst.phase {
            Phase::Ok | Phase::Resolved if holds => {
                inst.phase = Phase::Pending;
                inst.since = now;
                inst.value = value;
                inst.severity = rule.rule.severity;
                inst.summary = rule.summary(&feed_name, value, status, unit);
                let copy = inst.clone();
                self.out.history.push(HistoryEntry {
                    alert_id: copy.id,
                    ts: now,
                    kind: HistoryKind::Pending,
                    value,
                    detail: copy.summary.clone(),
                });
                self.out.changed.push(copy);
                if rule.rule.for_duration().is_zero() {
                    self.fire(&key, rule, value, status, now);
                }
            }
            Phase::Pending if !holds => {
                inst.phase = Phase::Ok;
                inst.since = now;
                inst.value = value;
                let copy = inst.clone();
                self.out.history.push(HistoryEntry {
                    alert_id: copy.id,
                    ts: now,
                    kind: HistoryKind::Cancelled,
                    value,
                    detail: "condition cleared before the `for` duration passed".into(),
                });
                self.out.changed.push(copy);
            }
            Phase::Pending => {
                inst.value = value.or(inst.value);
                if now.since(inst.since) >= rule.rule.for_duration() {
                    self.fire(&key, rule, value, status, now);
                }
            }
            Phase::Firing if cleared => {
                let wait = rule.rule.resolve_for();
                let since = *self.clearing.entry(key.clone()).or_insert((now, value));
                if now.since(since.0) >= wait {
                    self.resolve(&key, value, now);
                } else if let Some(inst) = self.instances.get_mut(&key) {
                    inst.value = value.or(inst.value);
                }
            }
            Phase::Firing => {
                // Back past the line before `resolve_for` ran out: still firing.
                self.clearing.remove(&key);
                if value.is_some() {
                    inst.value = value;
                }
            }
            _ => {}
        }
    }

    /// A firing alert resolves: history, and the resolved notification (or
    /// its popup withdrawn).
    fn resolve(&mut self, key: &Key, value: Option<f64>, now: Timestamp) {
        self.clearing.remove(key);
        let Some(inst) = self.instances.get_mut(key) else {
            return;
        };
        if inst.phase != Phase::Firing {
            return;
        }
        inst.phase = Phase::Resolved;
        inst.since = now;
        inst.resolved_at = Some(now);
        inst.value = value;
        let copy = inst.clone();
        self.out.history.push(HistoryEntry {
            alert_id: copy.id,
            ts: now,
            kind: HistoryKind::Resolved,
            value,
            detail: format!(
                "resolved{}",
                value
                    .map(|v| format!(" at {}", fmt_num(v)))
                    .unwrap_or_default()
            ),
        });
        self.out.changed.push(copy);
        // The resolved notification replaces the fired popup; without one,
        // the popup is closed: the problem is gone.
        let replaced =
            self.settings.notify_resolved && self.notify(key, NotificationKind::Resolved, now);
        if replaced {
            if let Some(inst) = self.instances.get_mut(key) {
                inst.notice_id = None;
                self.out.changed.push(inst.clone());
            }
        } else {
            self.withdraw(key, "the alert resolved");
        }
    }

    fn fire(
        &mut self,
        key: &Key,
        rule: &CompiledRule,
        value: Option<f64>,
        status: Option<&str>,
        now: Timestamp,
    ) {
        let (feed_name, unit) = self.name_and_unit(key.0, rule);
        let Some(inst) = self.instances.get_mut(key) else {
            return;
        };
        let value = value.or(inst.value);
        inst.phase = Phase::Firing;
        inst.since = now;
        inst.fired_at = Some(now);
        inst.resolved_at = None;
        inst.acked_at = None;
        inst.last_notified_at = None;
        inst.value = value;
        inst.summary = rule.summary(&feed_name, value, status, unit);
        let copy = inst.clone();
        self.out.history.push(HistoryEntry {
            alert_id: copy.id,
            ts: now,
            kind: HistoryKind::Fired,
            value,
            detail: copy.summary.clone(),
        });
        self.out.changed.push(copy);
        self.notify(key, NotificationKind::Fired, now);
    }
}
