//! Notifications and the trait that delivers them. The desktop
//! implementation (D-Bus on Linux via notify-rust) lives with the binaries
//! that use it; the engine only sees this trait, so it is testable.

use serde::Serialize;
use telltale_model::alert::Severity;

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// An alert fired.
    Fired,
    /// An alert resolved.
    Resolved,
    /// An alert is still firing (re-notify).
    Reminder,
    /// Flood control: many alerts at once.
    Summary,
    /// About Telltale itself: storage failing or recovered, the engine
    /// stopped. Never held back by mute, quiet hours or flood control.
    Health,
}

/// One notification to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// The alert instance, or `None` for a flood summary.
    pub alert_id: Option<i64>,
    /// Why.
    pub kind: NotificationKind,
    /// The title line.
    pub summary: String,
    /// The body text.
    pub body: String,
    /// Drives urgency: info → low, warning → normal, critical → critical.
    pub severity: Severity,
    /// The server id of an earlier popup about the same alert that this one
    /// replaces (a popup shown before a restart); the desktop notifier also
    /// replaces the popups it showed itself in this run.
    pub replaces: Option<u32>,
}

/// A request to take the popup about an alert off the screen: it was
/// acknowledged, or it resolved without a resolved notification to replace
/// the popup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    /// The alert.
    pub alert_id: i64,
    /// The popup's server id as persisted, if known (after a restart the
    /// notifier has not seen it itself).
    pub notice_id: Option<u32>,
    /// Why, for the log and for held notifications that are dropped.
    pub why: &'static str,
}

/// What became of one notification, reported by the notifier thread so that
/// the alert's history tells what reached the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The notification.
    pub notification: Notification,
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// How many retries it took (0: the first attempt).
    pub retries: u32,
    /// When.
    pub at: telltale_model::Timestamp,
}

/// See [`Delivery`].
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// A notification server took it, with this id if it gave one.
    Shown(Option<u32>),
    /// It could not be shown; `retrying` says whether it is tried again.
    Failed {
        /// The notifier's error.
        reason: String,
        /// Whether it is retried.
        retrying: bool,
    },
    /// It was waiting for a retry when the alert was acknowledged or
    /// resolved, so it is not shown at all.
    Dropped(&'static str),
}

/// Why a notification could not be shown or closed. The engine logs it,
/// records it in the alert's history and retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The notification server refused or is not there.
    #[error("the desktop notification server did not take the notification: {0}")]
    Rejected(String),
    /// A popup could not be closed.
    #[error("cannot close notification {id}: {reason}")]
    Close {
        /// The server's id of the popup.
        id: u32,
        /// What the server said.
        reason: String,
    },
    /// The notifier itself is broken (a poisoned lock).
    #[error("the notifier is unusable: {0}")]
    Broken(&'static str),
}

/// Delivers notifications. Implementations must not block for long: the
/// engine calls them from a dedicated task, but keep it quick.
pub trait Notifier: Send + Sync {
    /// Shows a notification and returns the server's id for it, if it has
    /// one. An error is logged, recorded and the notification retried later.
    fn notify(&self, n: &Notification) -> Result<Option<u32>, NotifyError>;

    /// Takes an alert's popup off the screen (closes it), if one is shown.
    fn withdraw(&self, w: &Withdrawal) -> Result<(), NotifyError> {
        let _ = w;
        Ok(())
    }
}

/// A notifier that records what it was asked to show; for tests and for
/// running without a desktop.
#[derive(Debug, Default, Clone)]
pub struct RecordingNotifier(pub std::sync::Arc<std::sync::Mutex<Vec<Notification>>>);

impl Notifier for RecordingNotifier {
    fn notify(&self, n: &Notification) -> Result<Option<u32>, NotifyError> {
        self.0
            .lock()
            .map_err(|_| NotifyError::Broken("a thread panicked while recording"))?
            .push(n.clone());
        Ok(None)
    }
}
