//! Native desktop notifications through notify-rust (the freedesktop D-Bus
//! API on Linux). Where the notification server advertises actions, fired
//! alerts offer *Acknowledge* and *Snooze 1 h*; the replies come back on a
//! channel as [`ActionReply`]s.
//!
//! Each alert has at most one popup: a reminder or the resolved notification
//! replaces the earlier popup (`replaces_id`), and acknowledging withdraws
//! it (`CloseNotification`). Body text is escaped only for servers that
//! advertise `body-markup`; the others show it as it is.
//!
//! Every call here may block on D-Bus, so the engine calls the notifier from
//! a dedicated thread; a missing or failing server only produces errors that
//! the caller logs and retries, never a stall of ingestion or evaluation.

use crate::notifier::{Notification, NotificationKind, Notifier, NotifyError, Withdrawal};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
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

/// What the server can do, asked once (and again after a failure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Caps {
    actions: bool,
    body_markup: bool,
}

/// A popup on screen: its server id and which showing it is, so that the
/// buttons of a replaced popup (same id) answer only once.
#[derive(Debug, Clone, Copy)]
struct Popup {
    id: u32,
    generation: u64,
}

/// Sends notifications to the desktop.
pub struct DesktopNotifier {
    app_name: String,
    replies: Mutex<mpsc::Sender<ActionReply>>,
    caps: Mutex<Option<Caps>>,
    popups: Arc<Mutex<HashMap<i64, Popup>>>,
    generation: std::sync::atomic::AtomicU64,
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
            caps: Mutex::new(None),
            popups: Arc::default(),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// What the server advertises (asked once, then remembered; asked again
    /// after a failure).
    fn caps(&self) -> Caps {
        let Ok(mut cached) = self.caps.lock() else {
            return Caps::default();
        };
        if let Some(v) = *cached {
            return v;
        }
        match notify_rust::get_capabilities() {
            Ok(caps) => {
                let has = |c: &str| caps.iter().any(|x| x == c);
                let v = Caps {
                    actions: has("actions"),
                    body_markup: has("body-markup"),
                };
                *cached = Some(v);
                v
            }
            Err(_) => Caps::default(),
        }
    }

    fn forget_caps(&self) {
        if let Ok(mut c) = self.caps.lock() {
            *c = None;
        }
    }

    /// Closes a popup by its server id (`CloseNotification`).
    #[cfg(all(unix, not(target_os = "macos")))]
    fn close(id: u32) -> Result<(), NotifyError> {
        zbus::block_on(async {
            let bus = zbus::Connection::session().await?;
            bus.call_method(
                Some("org.freedesktop.Notifications"),
                "/org/freedesktop/Notifications",
                Some("org.freedesktop.Notifications"),
                "CloseNotification",
                &(id,),
            )
            .await
            .map(|_| ())
        })
        .map_err(|e| NotifyError::Close {
            id,
            reason: e.to_string(),
        })
    }

    #[cfg(not(all(unix, not(target_os = "macos"))))]
    fn close(_id: u32) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// The desktop entry the `.deb` installs (`Telltale.desktop`: Tauri names
/// it after `productName`), sent as the `desktop-entry` hint.
pub const DESKTOP_ENTRY: &str = "Telltale";

/// A freedesktop icon name that tells the notification apart at a glance:
/// the severity's dialog icon, a check mark once resolved.
pub fn icon_for(n: &Notification) -> &'static str {
    if n.kind == NotificationKind::Resolved {
        return "emblem-default";
    }
    match n.severity {
        Severity::Critical => "dialog-error",
        Severity::Warning => "dialog-warning",
        Severity::Info => "dialog-information",
    }
}

/// The body as the server should get it: servers that advertise
/// `body-markup` interpret a little HTML-like markup, so payload text is
/// escaped for them to show literally; the others show the text as it is,
/// and escaping would put `&lt;` on screen.
fn body_text(body: &str, markup: bool) -> String {
    if markup {
        body.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    } else {
        body.to_string()
    }
}

impl Notifier for DesktopNotifier {
    fn notify(&self, n: &Notification) -> Result<Option<u32>, NotifyError> {
        let caps = self.caps();
        let mut note = notify_rust::Notification::new();
        note.appname(&self.app_name)
            .summary(&n.summary)
            .body(&body_text(&n.body, caps.body_markup))
            .icon(icon_for(n));
        // One popup per alert: replace the one this run showed, or the one
        // shown before a restart.
        let earlier = n.alert_id.and_then(|a| {
            self.popups
                .lock()
                .ok()
                .and_then(|p| p.get(&a).map(|p| p.id))
        });
        if let Some(id) = earlier.or(n.replaces) {
            note.id(id);
        }
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            // the server groups and settles our popups under the app's entry
            note.hint(notify_rust::Hint::DesktopEntry(DESKTOP_ENTRY.into()));
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
            && caps.actions;
        if with_actions {
            note.action("default", "Open")
                .action("ack", "Acknowledge")
                .action("snooze", "Snooze 1 h");
        }
        let handle = note.show().map_err(|e| {
            self.forget_caps();
            NotifyError::Rejected(e.to_string())
        })?;
        let shown_id = handle.id();
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let (Some(alert_id), Ok(mut popups)) = (n.alert_id, self.popups.lock()) {
            if n.kind == NotificationKind::Resolved {
                // The resolved popup has no buttons and expires by itself.
                popups.remove(&alert_id);
            } else {
                popups.insert(
                    alert_id,
                    Popup {
                        id: shown_id,
                        generation,
                    },
                );
            }
        }
        #[cfg(all(unix, not(target_os = "macos")))]
        if let (true, Some(alert_id)) = (with_actions, n.alert_id) {
            let popups = self.popups.clone();
            let tx = self
                .replies
                .lock()
                .map_err(|_| NotifyError::Broken("the reply channel is poisoned"))?
                .clone();
            tracing::debug!("notification {} shown for alert {alert_id}", handle.id());
            // Waiting for a reply blocks, so it gets its own short-lived thread;
            // flood control bounds how many exist at once.
            let spawned = std::thread::Builder::new()
                .name(format!("notify-reply-{alert_id}"))
                .spawn(move || {
                    handle.wait_for_action(|action| {
                        // Only the latest showing of a popup answers (a
                        // replaced popup keeps its id, and its old waiter).
                        let current = popups.lock().is_ok_and(|mut p| {
                            let mine = p.get(&alert_id).is_some_and(|p| p.generation == generation);
                            if mine && action == "__closed" {
                                p.remove(&alert_id);
                            }
                            mine
                        });
                        if !current {
                            return;
                        }
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
        Ok(Some(shown_id))
    }

    fn withdraw(&self, w: &Withdrawal) -> Result<(), NotifyError> {
        let shown = self
            .popups
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&w.alert_id))
            .map(|p| p.id);
        match shown.or(w.notice_id) {
            Some(id) => {
                tracing::debug!("closing notification {id}: {}", w.why);
                Self::close(id)
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::body_text;

    #[test]
    fn payload_text_is_escaped_only_for_servers_that_read_markup() {
        assert_eq!(
            body_text("<img onerror=x> & co", true),
            "&lt;img onerror=x&gt; &amp; co"
        );
        assert_eq!(
            body_text("cpu < 90 & load > 2", false),
            "cpu < 90 & load > 2",
            "a server without body-markup shows the text as it is"
        );
    }
}
