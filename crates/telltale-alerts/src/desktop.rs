//! Native desktop notifications through notify-rust (the freedesktop D-Bus
//! API on Linux). Where the notification server advertises actions, fired
//! alerts offer *Acknowledge* and *Snooze 1 h*; the replies come back on a
//! channel as [`ActionReply`]s.
//!
//! Every call here may block on D-Bus, so the engine calls the notifier from
//! a dedicated thread; a missing or failing server only produces errors that
//! the caller logs and retries, never a stall of ingestion or evaluation.

use crate::notifier::{Notification, NotificationKind, Notifier};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;
use telltale_model::alert::Severity;

/// What an operator did with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionReply {
    /// *Acknowledge*.
    Acknowledge(i64),
    /// *Snooze 1 h*.
    Snooze(i64, Duration),
    /// The notification itself was clicked.
    Open(i64),
}

/// Sends notifications to the desktop.
pub struct DesktopNotifier {
    app_name: String,
    replies: Mutex<mpsc::Sender<ActionReply>>,
    actions: Mutex<Option<bool>>,
}

impl std::fmt::Debug for DesktopNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopNotifier").finish_non_exhaustive()
    }
}

impl DesktopNotifier {
    /// A notifier whose action replies go to `replies`.
    pub fn new(app_name: &str, replies: mpsc::Sender<ActionReply>) -> Self {
        DesktopNotifier {
            app_name: app_name.to_string(),
            replies: Mutex::new(replies),
            actions: Mutex::new(None),
        }
    }

    /// Whether the server advertises actions (asked once, then remembered;
    /// asked again after a failure).
    fn supports_actions(&self) -> bool {
        let Ok(mut cached) = self.actions.lock() else {
            return false;
        };
        if let Some(v) = *cached {
            return v;
        }
        match notify_rust::get_capabilities() {
            Ok(caps) => {
                let v = caps.iter().any(|c| c == "actions");
                *cached = Some(v);
                v
            }
            Err(_) => false,
        }
    }
}

/// Escapes text for servers that interpret a little markup in the body, so
/// that payload text is always shown literally.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Notifier for DesktopNotifier {
    fn notify(&self, n: &Notification) -> Result<(), String> {
        let mut note = notify_rust::Notification::new();
        note.appname(&self.app_name)
            .summary(&n.summary)
            .body(&escape(&n.body))
            .icon("dialog-warning");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            note.urgency(match n.severity {
                Severity::Info => notify_rust::Urgency::Low,
                Severity::Warning => notify_rust::Urgency::Normal,
                Severity::Critical => notify_rust::Urgency::Critical,
            });
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = n.severity;
        let with_actions = matches!(n.kind, NotificationKind::Fired | NotificationKind::Reminder)
            && n.alert_id.is_some()
            && self.supports_actions();
        if with_actions {
            note.action("default", "Open")
                .action("ack", "Acknowledge")
                .action("snooze", "Snooze 1 h");
        }
        let handle = note.show().map_err(|e| {
            if let Ok(mut c) = self.actions.lock() {
                *c = None;
            }
            format!("the desktop notification server did not take the notification: {e}")
        })?;
        #[cfg(all(unix, not(target_os = "macos")))]
        if let (true, Some(alert_id)) = (with_actions, n.alert_id) {
            let tx = self
                .replies
                .lock()
                .map_err(|_| "notification reply channel poisoned".to_string())?
                .clone();
            tracing::debug!("notification {} shown for alert {alert_id}", handle.id());
            // Waiting for a reply blocks, so it gets its own short-lived thread;
            // flood control bounds how many exist at once.
            let spawned = std::thread::Builder::new()
                .name(format!("notify-reply-{alert_id}"))
                .spawn(move || {
                    handle.wait_for_action(|action| {
                        let reply = match action {
                            "ack" => Some(ActionReply::Acknowledge(alert_id)),
                            "snooze" => {
                                Some(ActionReply::Snooze(alert_id, Duration::from_secs(3600)))
                            }
                            "default" => Some(ActionReply::Open(alert_id)),
                            _ => None,
                        };
                        if let Some(r) = reply {
                            let _ = tx.send(r);
                        }
                    });
                });
            if let Err(e) = spawned {
                tracing::warn!("cannot wait for notification actions: {e}");
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = handle;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn payload_text_is_escaped() {
        assert_eq!(
            super::escape("<img onerror=x> & co"),
            "&lt;img onerror=x&gt; &amp; co"
        );
    }
}
