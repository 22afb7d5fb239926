//! [`Runtime`]: the one composition root both shells start through.
//!
//! It opens the database (its directory private, 0700: it holds the feeds'
//! secrets), loads the saved settings (with a config file's on top), starts
//! the engine with the desktop notifier where a session bus exists, and
//! turns the notifications' buttons into API calls. A shell adds only what
//! is its own: the desktop its window, tray and "open this alert" hook,
//! `telltaled` its HTTP server and signals.

use crate::{AlertActionInput, Api};
use std::path::PathBuf;
use std::sync::Arc;
use telltale_alerts::desktop::ActionReply;
use telltale_engine::{Engine, EngineError, EngineOptions};
use telltale_model::ConfigFile;
use telltale_store::{Store, StoreError, StoreOptions};

/// Called with an alert id when its notification is clicked.
pub type OpenAlertHook = Arc<dyn Fn(i64) + Send + Sync>;

/// How to start.
#[derive(Default)]
pub struct RuntimeOptions {
    /// The SQLite database.
    pub db: PathBuf,
    /// Store tuning (the desktop keeps a smaller page cache).
    pub store: StoreOptions,
    /// A config file whose `[store]` and `[alerts]` keys override the saved
    /// settings (its feeds are imported by [`Runtime::start_feeds`]).
    pub file: Option<ConfigFile>,
    /// Show alerts as desktop notifications (where a session bus exists).
    pub notify: bool,
    /// Fault injection for tests: the pipeline panics on this feed's first
    /// message.
    pub panic_on_feed: Option<String>,
    /// What a click on a notification does, besides logging it.
    pub on_open_alert: Option<OpenAlertHook>,
    /// The `[store]` and `[alerts]` settings of a database that has never
    /// stored any (the desktop app starts with a 1 GiB disk budget;
    /// `telltaled` with none).
    pub defaults: telltale_model::config::Settings,
    /// For a one-off command (`telltaled ack`…): see
    /// [`EngineOptions::passive`].
    pub passive: bool,
    /// A webhook receiver of its own (loopback only): the desktop app's,
    /// which has no HTTP server. `telltaled serve` receives on its one
    /// listener instead. A busy port is logged, and webhook feeds say that
    /// nothing listens; the rest runs.
    pub hooks_listen: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("db", &self.db)
            .field("store", &self.store)
            .field("file", &self.file.as_ref().map(|_| "…"))
            .field("notify", &self.notify)
            .field("panic_on_feed", &self.panic_on_feed)
            .field("on_open_alert", &self.on_open_alert.is_some())
            .field("passive", &self.passive)
            .field("hooks_listen", &self.hooks_listen)
            .finish()
    }
}

/// Why the runtime cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The database's directory cannot be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database cannot be opened or read.
    #[error("{path}: {source}")]
    Store {
        /// The database.
        path: PathBuf,
        /// What failed.
        source: StoreError,
    },
    /// The engine cannot start or load its feeds.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A started engine behind its [`Api`].
#[derive(Clone)]
pub struct Runtime {
    api: Api,
    db: PathBuf,
    file: Option<Arc<ConfigFile>>,
    /// Stops the webhook receiver of [`RuntimeOptions::hooks_listen`].
    hooks: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("db", &self.db).finish()
    }
}

impl Runtime {
    /// Opens the store, loads the settings and starts the engine (no feeds
    /// yet: see [`Runtime::start_feeds`]). Call it on a Tokio runtime.
    pub async fn start(opts: RuntimeOptions) -> Result<Runtime, RuntimeError> {
        let db = opts.db.clone();
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            telltale_store::create_private_dir(dir).map_err(|source| RuntimeError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let store_err = |source| RuntimeError::Store {
            path: db.clone(),
            source,
        };
        let store = Store::open_with(&db, Default::default(), opts.store).map_err(store_err)?;
        // The settings last saved (or defaults), with the file's keys on top.
        let settings = store
            .start_settings(opts.file.as_ref(), &opts.defaults)
            .map_err(store_err)?;
        let (notifier, replies) = desktop_notifier(opts.notify);
        let engine = Engine::start(
            store,
            EngineOptions {
                notifier,
                alerts: settings.alerts,
                panic_on_feed: opts.panic_on_feed,
                passive: opts.passive,
                ..Default::default()
            },
        )?;
        let api = Api::new(engine);
        if let Some(replies) = replies {
            bridge_replies(replies, api.clone(), opts.on_open_alert);
        }
        let hooks = tokio_util::sync::CancellationToken::new();
        if let Some(listen) = opts.hooks_listen {
            match crate::http::bind_hooks(api.clone(), listen).await {
                Ok(server) => {
                    let stop = hooks.clone();
                    tokio::spawn(async move {
                        if let Err(e) = server.run(async move { stop.cancelled().await }).await {
                            tracing::warn!("the webhook receiver stopped: {e}");
                        }
                    });
                }
                Err(e) => tracing::warn!(
                    "no webhook receiver: {e} (set TELLTALE_HOOKS_LISTEN to another loopback address)"
                ),
            }
        }
        Ok(Runtime {
            api,
            db,
            file: opts.file.map(Arc::new),
            hooks,
        })
    }

    /// The base URLs webhook senders reach this runtime at (its own
    /// receiver's and any server's bound to its API).
    pub fn webhook_receivers(&self) -> Vec<String> {
        self.engine().webhooks().receivers()
    }

    /// Starts the feeds: the config file's (imported, so the database
    /// follows the file) or else the stored ones. Returns how many run.
    pub async fn start_feeds(&self) -> Result<usize, RuntimeError> {
        let engine = self.api.engine();
        match &self.file {
            Some(file) => {
                engine.import(file).await?;
                Ok(engine.feeds().await.len())
            }
            None => Ok(engine.start_stored().await?),
        }
    }

    /// The API over the engine.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The engine (for shells' status displays and fatal-failure watch).
    pub fn engine(&self) -> &Engine {
        self.api.engine()
    }

    /// The database path.
    pub fn db(&self) -> &std::path::Path {
        &self.db
    }

    /// A crashed pipeline or a stopped writer leaves the monitor blind:
    /// once the engine says so (and has had a moment to show its
    /// notification), calls `then` with what failed, for the shell to exit
    /// non-zero rather than look alive.
    pub fn on_fatal(&self, then: impl FnOnce(String) + Send + 'static) {
        let mut fatal = self.engine().fatal();
        tokio::spawn(async move {
            let what = match fatal.wait_for(|f| f.is_some()).await {
                Ok(f) => f.clone().unwrap_or_default(),
                Err(_) => return,
            };
            tracing::error!("Telltale stops: {what}; start it again");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            then(what);
        });
    }

    /// Stops the feeds, drains the pipeline and commits what is pending.
    pub async fn shutdown(self) -> Result<(), RuntimeError> {
        self.hooks.cancel();
        Ok(self.api.engine().clone().shutdown().await?)
    }
}

/// The desktop's webhook receiver unless `TELLTALE_HOOKS_LISTEN` says
/// otherwise.
pub const DEFAULT_HOOKS_LISTEN: &str = "127.0.0.1:7879";

/// Where a desktop receives webhooks: `TELLTALE_HOOKS_LISTEN`
/// ([`DEFAULT_HOOKS_LISTEN`] unless set; `off` for no receiver). A value
/// that is not an address is logged, and means none.
pub fn hooks_listen_from_env() -> Option<std::net::SocketAddr> {
    let text =
        std::env::var("TELLTALE_HOOKS_LISTEN").unwrap_or_else(|_| DEFAULT_HOOKS_LISTEN.into());
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("off") {
        return None;
    }
    match text.parse() {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::warn!(
                "TELLTALE_HOOKS_LISTEN=`{text}` is not an address such as {DEFAULT_HOOKS_LISTEN} ({e}): no webhook receiver"
            );
            None
        }
    }
}

type Replies = std::sync::mpsc::Receiver<ActionReply>;

/// The desktop notifier, where a session bus exists (Linux) or always
/// elsewhere.
fn desktop_notifier(
    enabled: bool,
) -> (Option<Arc<dyn telltale_alerts::Notifier>>, Option<Replies>) {
    if !enabled {
        return (None, None);
    }
    if cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
    {
        tracing::warn!(
            "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset): alerts are recorded but not shown as desktop notifications"
        );
        return (None, None);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let n = telltale_alerts::desktop::DesktopNotifier::new("Telltale", tx);
    (Some(Arc::new(n)), Some(rx))
}

/// Turns notification button presses into API calls: *Acknowledge* acks,
/// *Snooze* snoozes, a click calls `on_open`.
fn bridge_replies(replies: Replies, api: Api, on_open: Option<OpenAlertHook>) {
    let handle = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name("notification-replies".into())
        .spawn(move || {
            while let Ok(reply) = replies.recv() {
                let action = match reply {
                    ActionReply::Acknowledge(id) => AlertActionInput::Ack { id },
                    ActionReply::Snooze(id, d) => AlertActionInput::SnoozeAlert {
                        id,
                        secs: d.as_secs(),
                    },
                    ActionReply::Open(id) => {
                        tracing::info!("notification for alert {id} clicked");
                        if let Some(open) = &on_open {
                            open(id);
                        }
                        continue;
                    }
                };
                tracing::info!("notification action: {action:?}");
                if let Err(e) = handle.block_on(api.alert_action(action)) {
                    tracing::warn!("notification action failed: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot listen for notification actions: {e}");
    }
}
