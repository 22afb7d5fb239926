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
}

/// Delivers notifications. Implementations must not block for long: the
/// engine calls them from a dedicated task, but keep it quick.
pub trait Notifier: Send + Sync {
    /// Shows a notification. An error is logged and the notification retried later.
    fn notify(&self, n: &Notification) -> Result<(), String>;
}

/// A notifier that records what it was asked to show; for tests and for
/// running without a desktop.
#[derive(Debug, Default, Clone)]
pub struct RecordingNotifier(pub std::sync::Arc<std::sync::Mutex<Vec<Notification>>>);

impl Notifier for RecordingNotifier {
    fn notify(&self, n: &Notification) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|_| "poisoned".to_string())?
            .push(n.clone());
        Ok(())
    }
}
