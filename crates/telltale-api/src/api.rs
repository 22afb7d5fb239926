//! [`Api`]: every operation a Telltale UI performs, as async methods.

use crate::error::ApiError;
use crate::input::AlertActionInput;
use crate::live::{LiveStream, DEFAULT_WINDOW};
use crate::secrets;
use crate::settings::{CompactView, SettingsInput, SettingsView};
use crate::views::{
    ms, AlertHistoryView, AlertView, DbStatsView, EventPage, EventView, FeedDetail, FeedView,
    ImportErrorView, ImportReport, LabelsView, MuteView, SeriesInfoView, SeriesView,
    TimelineEntryView, TimelineView,
};
use std::collections::HashMap;
use std::time::Duration;
use telltale_engine::{AlertAction, Engine};
use telltale_model::config::Settings;
use telltale_model::maintenance::{active_window, spans_for};
use telltale_model::{ConfigFile, FeedConfig, Timestamp};
use telltale_store::{EventQuery, FeedOrigin, SeriesQuery, Storage, StoreError, StoredFeed};

/// Most points a chart may ask for.
pub const MAX_POINTS: u32 = 10_000;
/// Most events one page may hold.
pub const MAX_EVENTS_PAGE: u32 = 1_000;
/// Most timeline entries returned for one range.
pub const MAX_TIMELINE: usize = 10_000;

/// Telltale's API for user interfaces: one method per operation, each
/// returning plain data or an [`ApiError`]. The Tauri shell calls these
/// methods from its commands; [`crate::http`] serves the same methods over
/// HTTP and WebSocket. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Api {
    engine: Engine,
    /// Serializes settings changes, so that two concurrent updates cannot
    /// leave the database and the running engine with different settings.
    settings_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The overview tiles' uptime, worked out at most once a minute per feed.
    pub(crate) uptime_cache: crate::uptime::Cache,
}

impl Api {
    /// An API over a running engine.
    pub fn new(engine: Engine) -> Api {
        Api {
            engine,
            settings_lock: std::sync::Arc::default(),
            uptime_cache: crate::uptime::Cache::default(),
        }
    }

    /// The engine underneath.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<T, StoreError> + Send + 'static,
    {
        // The API reaches storage only through the `Storage` seam (a
        // server-mode backend implements it too), on a blocking thread.
        let store = self.engine.store().clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| ApiError::internal(format!("a database task failed: {e}")))?
            .map_err(ApiError::from)
    }

    async fn stored_feed(&self, name: &str) -> Result<StoredFeed, ApiError> {
        let n = name.to_string();
        self.blocking(move |s| s.feed_by_name(&n))
            .await?
            .ok_or_else(|| no_feed(name))
    }

    async fn status_of(&self, name: &str) -> Option<telltale_engine::FeedStatus> {
        self.engine
            .feeds()
            .await
            .into_iter()
            .find(|f| f.name == name)
    }

    /// Every stored feed (enabled or not), by name, with its status.
    pub async fn list_feeds(&self) -> Result<Vec<FeedView>, ApiError> {
        let stored = self.blocking(|s| s.list_feeds()).await?;
        let status: HashMap<String, telltale_engine::FeedStatus> = self
            .engine
            .feeds()
            .await
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect();
        let shares = self.shares(stored.len());
        let uptimes = self
            .uptimes(&stored, |f| {
                status.get(&f.config.name).map(|s| s.state_since)
            })
            .await?;
        let windows = self.engine.alert_settings().maintenance;
        let (now, local) = (Timestamp::now(), jiff::tz::TimeZone::system());
        Ok(stored
            .iter()
            .map(|f| {
                let mut v = FeedView::new(f, status.get(&f.config.name));
                v.storage_warning = shares.as_ref().and_then(|s| s.warning(f.id));
                v.maintenance =
                    active_window(&windows, &f.config.name, &f.config.tags, now, &local)
                        .map(|w| w.name.clone());
                v.uptime_24h = uptimes.get(&f.id).copied().flatten();
                v
            })
            .collect())
    }

    /// What the feeds' storage flags need (cheap: settings and counters).
    fn shares(&self, feeds: usize) -> Option<crate::share::Shares> {
        let store = self.engine.store();
        crate::share::Shares::new(store.settings(), feeds, store.payload_rates())
    }

    /// One feed: its config (secrets masked), series and status.
    pub async fn get_feed(&self, name: &str) -> Result<FeedDetail, ApiError> {
        let stored = self.stored_feed(name).await?;
        let id = stored.id;
        let series = self.blocking(move |s| s.list_series(id)).await?;
        let status = self.status_of(name).await;
        let mut feed = FeedView::new(&stored, status.as_ref());
        let feeds = self.blocking(|s| s.list_feeds()).await?.len();
        feed.storage_warning = self.shares(feeds).and_then(|s| s.warning(id));
        Ok(FeedDetail {
            feed,
            config: secrets::masked(&stored.config),
            series: series
                .into_iter()
                .map(|s| SeriesInfoView::new(s, &stored.config))
                .collect(),
            created_at: ms(stored.created_at),
            updated_at: ms(stored.updated_at),
        })
    }

    /// Adds a feed, or replaces the feed of the same name, and applies it at
    /// once (a changed feed reconnects, a disabled one stops).
    ///
    /// Header values that are still the mask (`••••••` or `Bearer ••••••`)
    /// and masked URL credentials or query values keep the stored secret,
    /// as long as the URL keeps the stored scheme, host and port. Invalid
    /// configs (and `${VAR}` references this process may not expand) fail
    /// with `invalid_feed` naming the field.
    pub async fn upsert_feed(&self, mut cfg: FeedConfig) -> Result<FeedView, ApiError> {
        let name = cfg.name.clone();
        let existing = {
            let n = name.clone();
            self.blocking(move |s| s.feed_by_name(&n)).await?
        };
        secrets::restore(&mut cfg, existing.as_ref().map(|f| &f.config))?;
        if let Some(parent) = cfg.depends_on.clone().filter(|p| *p != name) {
            let found = self.blocking(move |s| s.feed_by_name(&parent)).await?;
            if found.is_none() {
                return Err(ApiError::invalid_feed(
                    &name,
                    "depends_on",
                    format!(
                        "names `{}`, but no feed has that name: name an existing feed",
                        cfg.depends_on.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        self.engine.upsert_feed(cfg, FeedOrigin::Gui).await?;
        let stored = self.stored_feed(&name).await?;
        let status = self.status_of(&name).await;
        Ok(FeedView::new(&stored, status.as_ref()))
    }

    /// *Test connection*: runs `input.config`'s source for a few seconds
    /// without storing anything and reports its first messages (with the
    /// numbers its metric rules extract) and connection states. Masked
    /// secrets of a stored feed with the same name are restored first, so
    /// an edited feed can be tested without retyping its token.
    pub async fn test_feed(
        &self,
        input: crate::ProbeInput,
    ) -> Result<crate::ProbeReport, ApiError> {
        let mut cfg = input.config;
        let stored = {
            let n = cfg.name.clone();
            self.blocking(move |s| s.feed_by_name(&n)).await?
        };
        secrets::restore(&mut cfg, stored.as_ref().map(|f| &f.config))?;
        crate::probe::probe(
            cfg,
            &input.limits.unwrap_or_default(),
            self.engine().webhooks().clone(),
        )
        .await
    }

    /// Stops a feed and deletes it with all its history.
    pub async fn delete_feed(&self, name: &str) -> Result<(), ApiError> {
        self.engine.remove_feed(name).await.map_err(ApiError::from)
    }

    /// One series of a feed over `[from, to)` (ms) in at most `max_points`
    /// buckets (each with min, max, mean and count), from the best storage tier.
    pub async fn series(
        &self,
        feed: &str,
        metric: &str,
        labels: &LabelsView,
        from: i64,
        to: i64,
        max_points: u32,
    ) -> Result<SeriesView, ApiError> {
        if to <= from {
            return Err(ApiError::invalid_request(format!(
                "`to` ({to}) must be after `from` ({from}); both are ms since the Unix epoch"
            )));
        }
        if max_points == 0 || max_points > MAX_POINTS {
            return Err(ApiError::invalid_request(format!(
                "`max_points` must be between 1 and {MAX_POINTS}, not {max_points}"
            )));
        }
        let stored = self.stored_feed(feed).await?;
        let id = stored.id;
        let all = self.blocking(move |s| s.list_series(id)).await?;
        let Some(info) = all
            .iter()
            .find(|s| s.metric == metric && s.labels == *labels)
        else {
            let known: Vec<String> = all
                .iter()
                .map(|s| {
                    if s.labels.is_empty() {
                        s.metric.clone()
                    } else {
                        format!(
                            "{}{}",
                            s.metric,
                            serde_json::to_string(&s.labels).unwrap_or_default()
                        )
                    }
                })
                .collect();
            return Err(ApiError::not_found(format!(
                "feed `{feed}` has no series `{metric}` with labels {}; it has: {}",
                serde_json::to_string(labels).unwrap_or_default(),
                if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let q = SeriesQuery {
            series_id: info.id,
            from: Timestamp::from_millis(from),
            to: Timestamp::from_millis(to),
            max_points: max_points as usize,
        };
        let data = self.blocking(move |s| s.query_series(&q)).await?;
        Ok(SeriesView {
            feed: feed.to_string(),
            series_id: info.id,
            metric: info.metric.clone(),
            labels: info.labels.clone(),
            from,
            to,
            tier: data.tier.into(),
            bucket_ms: data.bucket_us as f64 / 1000.0,
            points: data.points.into_iter().map(Into::into).collect(),
        })
    }

    /// Stored events, newest first: of one feed or all, older than
    /// `before_id` (paging), containing `search` (case-insensitive), at most
    /// `limit` (1 to 1000).
    pub async fn events(
        &self,
        feed: Option<&str>,
        before_id: Option<i64>,
        search: Option<&str>,
        limit: u32,
    ) -> Result<EventPage, ApiError> {
        if limit == 0 || limit > MAX_EVENTS_PAGE {
            return Err(ApiError::invalid_request(format!(
                "`limit` must be between 1 and {MAX_EVENTS_PAGE}, not {limit}"
            )));
        }
        let feeds = self.blocking(|s| s.list_feeds()).await?;
        let names: HashMap<i64, String> = feeds
            .iter()
            .map(|f| (f.id, f.config.name.clone()))
            .collect();
        let feed_id = match feed {
            Some(name) => Some(
                feeds
                    .iter()
                    .find(|f| f.config.name == name)
                    .map(|f| f.id)
                    .ok_or_else(|| no_feed(name))?,
            ),
            None => None,
        };
        let q = EventQuery {
            feed_id,
            before_id,
            search: search.filter(|s| !s.is_empty()).map(str::to_string),
            limit: limit as usize,
            ..EventQuery::default()
        };
        let rows = self.blocking(move |s| s.events(&q)).await?;
        let full = rows.len() == limit as usize;
        let events: Vec<EventView> = rows
            .into_iter()
            .map(|e| {
                let name = names.get(&e.feed_id).cloned().unwrap_or_default();
                EventView::new(e, name)
            })
            .collect();
        let next_before_id = if full {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(EventPage {
            events,
            next_before_id,
        })
    }

    /// A feed's connection timeline over `[from, to)` (ms): the state it was
    /// in at `from`, then every state change and issue.
    pub async fn timeline(&self, feed: &str, from: i64, to: i64) -> Result<TimelineView, ApiError> {
        if to <= from {
            return Err(ApiError::invalid_request(format!(
                "`to` ({to}) must be after `from` ({from}); both are ms since the Unix epoch"
            )));
        }
        let stored = self.stored_feed(feed).await?;
        let id = stored.id;
        let (f, t) = (Timestamp::from_millis(from), Timestamp::from_millis(to));
        let (initial, entries) = self
            .blocking(move |s| {
                let initial = s.state_at(id, Timestamp(f.0.saturating_sub(1)))?;
                let entries = s.timeline(id, f, t, MAX_TIMELINE)?;
                Ok((initial, entries))
            })
            .await?;
        let windows = self.engine.alert_settings().maintenance;
        let local = jiff::tz::TimeZone::system();
        let c = &stored.config;
        Ok(TimelineView {
            feed: feed.to_string(),
            from,
            to,
            initial: initial.map(TimelineEntryView::from),
            entries: entries.into_iter().map(Into::into).collect(),
            maintenance: spans_for(&windows, &c.name, &c.tags, f, t, &local)
                .into_iter()
                .map(Into::into)
                .collect(),
        })
    }

    /// Every alert (firing, pending, resolved, ok), newest change first.
    pub async fn alerts(&self) -> Result<Vec<AlertView>, ApiError> {
        Ok(self
            .engine
            .alerts()
            .into_iter()
            .map(AlertView::from)
            .collect())
    }

    /// One alert's history, oldest first.
    pub async fn alert_history(&self, id: i64) -> Result<Vec<AlertHistoryView>, ApiError> {
        let rows = self
            .blocking(move |s| s.alert_history(Some(id), 10_000))
            .await?;
        if rows.is_empty() && !self.engine.alerts().iter().any(|a| a.id == id) {
            return Err(no_alert(id));
        }
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Acknowledges, snoozes, mutes or unmutes, at once.
    pub async fn alert_action(&self, action: AlertActionInput) -> Result<(), ApiError> {
        let action = AlertAction::from(action);
        if let AlertAction::Ack { id } | AlertAction::SnoozeAlert { id, .. } = &action {
            if !self.engine.alerts().iter().any(|a| a.id == *id) {
                return Err(no_alert(*id));
            }
        }
        self.engine
            .alert_action(action)
            .await
            .map_err(ApiError::from)
    }

    /// Snoozes the tag for `secs`: every feed that has it, including feeds
    /// given it later; the names of the feeds that have it now, or
    /// `not_found` when none has (a typo, most likely).
    pub async fn snooze_tag(&self, tag: &str, secs: u64) -> Result<Vec<String>, ApiError> {
        let feeds = self.blocking(|s| s.list_feeds()).await?;
        let names: Vec<String> = feeds
            .into_iter()
            .filter(|f| f.config.tags.iter().any(|t| t == tag))
            .map(|f| f.config.name)
            .collect();
        if names.is_empty() {
            return Err(ApiError::not_found(format!(
                "no feed has the tag `{tag}`: add it to a feed's tags first"
            )));
        }
        self.engine
            .alert_action(AlertAction::SnoozeTag {
                tag: tag.to_string(),
                secs,
            })
            .await
            .map_err(ApiError::from)?;
        Ok(names)
    }

    /// Whether notifications are muted, and until when.
    pub async fn mute_state(&self) -> Result<MuteView, ApiError> {
        Ok(match self.engine.muted() {
            None => MuteView {
                muted: false,
                until: None,
            },
            Some(None) => MuteView {
                muted: true,
                until: None,
            },
            Some(Some(t)) if t > Timestamp::now() => MuteView {
                muted: true,
                until: Some(ms(t)),
            },
            Some(Some(_)) => MuteView {
                muted: false,
                until: None,
            },
        })
    }

    /// Database size and row counts (counts scan tables: not for polling).
    pub async fn db_stats(&self) -> Result<DbStatsView, ApiError> {
        self.blocking(stats_view).await
    }

    /// Moves older raw samples into compressed chunks, runs retention now
    /// with the settings in force and compacts the file (incremental
    /// vacuum), then reports what it did and the new sizes.
    /// Ingestion continues meanwhile: the work is done in small steps on the
    /// store's writer thread.
    pub async fn compact_db(&self) -> Result<CompactView, ApiError> {
        let (report, stats) = self
            .blocking(|s| {
                let started = std::time::Instant::now();
                let now = Timestamp::now();
                let chunked = s.compact_samples(now)?;
                let mut report = s.run_retention(now)?;
                report.took = started.elapsed();
                Ok(((chunked, report), stats_view(s)?))
            })
            .await?;
        let (chunked, report) = report;
        Ok(CompactView {
            samples_chunked: chunked.samples,
            rows_deleted: report.rows(),
            bytes_freed: report.pages_freed.saturating_mul(stats.page_size),
            took_ms: u64::try_from(report.took.as_millis()).unwrap_or(u64::MAX),
            stats,
        })
    }

    /// The stored feeds as a config file (TOML).
    ///
    /// `${VAR}` references are kept as written. Literal secrets are not:
    /// header values become `••••••` (keeping a scheme such as
    /// `Bearer ••••••`) unless the header is on the short non-secret list
    /// (`Accept`, `Content-Type`, `User-Agent`…), URL credentials become
    /// `••••••@` and sensitive query values `token=••••••`. Importing the
    /// file again keeps the stored secrets behind those masks (for the same
    /// scheme, host and port only).
    pub async fn export_config(&self) -> Result<String, ApiError> {
        let feeds = self.blocking(|s| s.list_feeds()).await?;
        Ok(crate::export::config_export(&feeds, &self.live_settings())?.text)
    }

    /// Imports config text (TOML, the config file format): each valid feed
    /// is added or replaces the feed of the same name (as a UI feed), masks
    /// keep stored secrets, and every problem is listed with its line, feed
    /// and field. Other feeds are left alone. The keys given in `[store]`
    /// and `[alerts]` replace the current settings (stored, and applied at
    /// once); keys left out keep their current values.
    pub async fn import_config(&self, text: &str) -> Result<ImportReport, ApiError> {
        let file = ConfigFile::parse("import", text);
        let mut report = ImportReport {
            errors: file
                .errors
                .iter()
                .map(|e| ImportErrorView {
                    line: e.line.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
                    feed: e.feed.clone(),
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            ..ImportReport::default()
        };
        if !file.allow_env.is_empty() {
            // Otherwise anyone who can reach the API could allow any
            // variable of this process to be sent to any server.
            report.notes.push(format!(
                "allow_env ({}) was ignored: it is read only from the config file given at start-up (telltaled --config); feeds may use TELLTALE_SECRET_* variables and those that file allows",
                file.allow_env.join(", ")
            ));
        }
        if !file.store_keys.is_empty() || !file.alerts_keys.is_empty() {
            let merged = file.settings_over(&self.live_settings());
            let given: Vec<String> = file
                .store_keys
                .iter()
                .map(|k| format!("store.{k}"))
                .chain(file.alerts_keys.iter().map(|k| format!("alerts.{k}")))
                .collect();
            // The same checks as the Settings screen, so an import cannot
            // set what the GUI would refuse.
            let checked = SettingsView::from(&merged).validate();
            match checked {
                Ok(settings) => {
                    self.apply_settings(settings).await?;
                    report
                        .notes
                        .push(format!("settings applied: {}", given.join(", ")));
                }
                Err(e) => {
                    let (field, message) = split_field(&e.message);
                    report.errors.push(ImportErrorView {
                        line: None,
                        feed: None,
                        field,
                        message: format!("{message}; the settings were not changed"),
                    });
                }
            }
        }
        for mut cfg in file.feeds {
            let name = cfg.name.clone();
            let line = feed_line(text, &name);
            let n = name.clone();
            let stored = self.blocking(move |s| s.feed_by_name(&n)).await?;
            let applied = match secrets::restore(&mut cfg, stored.as_ref().map(|f| &f.config)) {
                Ok(()) => self
                    .engine
                    .upsert_feed(cfg, FeedOrigin::Gui)
                    .await
                    .map_err(ApiError::from),
                Err(e) => Err(e),
            };
            match applied {
                Ok(_) => report.imported.push(name),
                Err(e) => {
                    let (field, message) = split_field(&e.message);
                    report.errors.push(ImportErrorView {
                        line,
                        feed: Some(name),
                        field,
                        message,
                    })
                }
            }
        }
        Ok(report)
    }

    /// The `[store]` and `[alerts]` settings in force.
    pub(crate) fn live_settings(&self) -> Settings {
        Settings {
            store: self.engine.store().settings(),
            alerts: self.engine.alert_settings(),
        }
    }

    /// Stores `settings` and applies them to the running store and alert
    /// engine, in that order (a failure to store changes nothing).
    async fn apply_settings(&self, settings: Settings) -> Result<(), ApiError> {
        let _one_at_a_time = self.settings_lock.lock().await;
        self.save_and_apply(settings).await
    }

    /// Changes the alert settings in force with `edit` (one change at a
    /// time), then stores and applies them; `edit` may refuse.
    pub(crate) async fn edit_alert_settings<T>(
        &self,
        edit: impl FnOnce(&mut telltale_model::alert::AlertSettings) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let _one_at_a_time = self.settings_lock.lock().await;
        let mut settings = self.live_settings();
        let out = edit(&mut settings.alerts)?;
        self.save_and_apply(settings).await?;
        Ok(out)
    }

    async fn save_and_apply(&self, settings: Settings) -> Result<(), ApiError> {
        let alerts = settings.alerts.clone();
        self.blocking(move |s| s.save_settings(&settings)).await?;
        self.engine
            .set_alert_settings(alerts)
            .map_err(ApiError::from)
    }

    /// The settings in force: storage retention and batching, and
    /// notification quiet hours, flood control and re-notify.
    pub async fn settings(&self) -> Result<SettingsView, ApiError> {
        Ok(SettingsView::from(&self.live_settings()))
    }

    /// Replaces every setting, stores them in the database and applies them
    /// without a restart: the next retention run uses the new ages and the
    /// next notification the new quiet hours and flood limits. An invalid
    /// field fails with `invalid_settings` naming it (`alerts.flood_max`)
    /// and nothing is changed. Returns the settings now in force.
    pub async fn update_settings(&self, input: SettingsInput) -> Result<SettingsView, ApiError> {
        let settings = input.validate()?;
        self.apply_settings(settings).await?;
        self.settings().await
    }

    /// A live subscription merged into at most ~30 messages a second.
    pub fn live(&self) -> LiveStream {
        LiveStream::new(self.engine.subscribe(), DEFAULT_WINDOW)
    }

    /// A live subscription with another merge window.
    pub fn live_with_window(&self, window: Duration) -> LiveStream {
        LiveStream::new(self.engine.subscribe(), window)
    }
}

/// The database's statistics with feed names and the budget in force.
fn stats_view(s: &dyn Storage) -> Result<DbStatsView, telltale_store::StoreError> {
    let stats = s.db_stats()?;
    let names = s
        .list_feeds()?
        .into_iter()
        .map(|f| (f.id, f.config.name))
        .collect();
    let budget = s.settings().disk_budget.map(|b| b.0);
    Ok(DbStatsView::new(stats, &names, budget))
}

fn no_feed(name: &str) -> ApiError {
    ApiError::not_found(format!("there is no feed named `{name}`"))
}

fn no_alert(id: i64) -> ApiError {
    ApiError::not_found(format!("there is no alert {id}"))
}

/// The line of `name = "<name>"` in config text, if it is there.
fn feed_line(text: &str, name: &str) -> Option<u32> {
    let quoted = serde_json::to_string(name).ok()?;
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with("name") && t.contains(&quoted)
        })
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// Splits "feed `x`: field `a.b` is wrong" into (`a.b`, "is wrong").
fn split_field(message: &str) -> (Option<String>, String) {
    let rest = message
        .split_once("`: ")
        .map_or(message, |(_, r)| r)
        .trim_start();
    if let Some(after) = rest.strip_prefix("field `") {
        if let Some((field, msg)) = after.split_once('`') {
            return (Some(field.to_string()), msg.trim_start().to_string());
        }
    }
    (None, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_split_into_field_and_text() {
        assert_eq!(
            split_field("feed `a`: field `poll.interval` is below 100ms"),
            (Some("poll.interval".into()), "is below 100ms".into())
        );
        assert_eq!(split_field("boom"), (None, "boom".into()));
        assert_eq!(
            feed_line("[[feed]]\nname = \"x\"\n[[feed]]\n  name = \"y\"\n", "y"),
            Some(4)
        );
    }
}
