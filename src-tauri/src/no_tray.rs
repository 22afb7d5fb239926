//! Running without a tray. Many GNOME desktops do not install the tray
//! library (`libayatana-appindicator3`), and the tray crate loads it at run
//! time by panicking when it is missing. Telltale then starts without a
//! tray, says so once in its log, and never hides its window on close
//! (nothing could bring it back): the first close keeps the window open
//! and explains, in the window, that closing stops monitoring; a second
//! close within [`CONFIRM_WITHIN`] quits.

use crate::{tray, MAIN_WINDOW};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, Runtime, Window};

/// Event sent to the UI with a line of text to show (a string payload).
pub const SHELL_NOTICE_EVENT: &str = "shell-notice";
/// A second close within this time after the warning quits.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(60);
/// The package that provides the tray library on Debian and Ubuntu.
pub const TRAY_PACKAGE: &str = "libayatana-appindicator3-1";

/// Creates the tray icon. A panic while loading the tray library (its
/// crate's way of saying the library is missing) becomes an error naming
/// the package to install; the panic message itself is not printed.
pub fn create_tray<R: Runtime>(app: &AppHandle<R>) -> Result<(), String> {
    let previous: Arc<dyn Fn(&panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(panic::take_hook());
    let forward = previous.clone();
    // Only the tray library's panic is kept quiet, and only during this
    // call; any other thread's panic is reported as before.
    panic::set_hook(Box::new(move |info| {
        if !is_tray_library_panic(&panic_text(info.payload())) {
            forward(info);
        }
    }));
    let created = panic::catch_unwind(AssertUnwindSafe(|| tray::create(app)));
    drop(panic::take_hook());
    panic::set_hook(Box::new(move |info| previous(info)));
    match created {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => {
            let text = panic_text(payload.as_ref());
            if is_tray_library_panic(&text) {
                Err(format!(
                    "the tray library libayatana-appindicator3.so.1 is not installed \
                     (install the package {TRAY_PACKAGE})"
                ))
            } else {
                Err(format!("the tray failed to start: {text}"))
            }
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

fn is_tray_library_panic(text: &str) -> bool {
    text.contains("appindicator3")
}

/// When the window was last asked to close without a tray.
#[derive(Debug, Default)]
pub struct CloseWarned(Mutex<Option<Instant>>);

impl CloseWarned {
    /// Whether a close at `now` should go ahead: true when it follows a
    /// warning within [`CONFIRM_WITHIN`]; otherwise records the warning.
    pub fn confirm(&self, now: Instant) -> bool {
        let Ok(mut last) = self.0.lock() else {
            return true;
        };
        match *last {
            Some(t) if now.saturating_duration_since(t) <= CONFIRM_WITHIN => true,
            _ => {
                *last = Some(now);
                false
            }
        }
    }
}

/// The main window was asked to close and no tray exists: returns whether
/// to let it close (and Telltale quit). The first request is refused and
/// the window says why.
pub fn close_requested<R: Runtime>(window: &Window<R>, warned: &CloseWarned) -> bool {
    if window.label() != MAIN_WINDOW {
        return true;
    }
    if warned.confirm(Instant::now()) {
        tracing::info!("closed again without a tray: quitting");
        return true;
    }
    let text = format!(
        "Telltale has no tray icon on this desktop, so closing the window stops monitoring \
         and notifications. Minimise the window to keep watching, or close it again within \
         {} seconds to quit. For a tray icon, install {TRAY_PACKAGE}.",
        CONFIRM_WITHIN.as_secs()
    );
    tracing::info!("close without a tray: asking to close again to quit");
    if let Err(e) = window.emit_to(MAIN_WINDOW, SHELL_NOTICE_EVENT, text) {
        tracing::warn!("cannot tell the UI why the window stays open: {e}");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_close_within_the_minute_goes_ahead_and_a_late_one_warns_again() {
        let w = CloseWarned::default();
        let t0 = Instant::now();
        assert!(!w.confirm(t0), "the first close is held");
        assert!(
            w.confirm(t0 + Duration::from_secs(5)),
            "a second close quits"
        );
        let w = CloseWarned::default();
        assert!(!w.confirm(t0));
        assert!(
            !w.confirm(t0 + CONFIRM_WITHIN + Duration::from_secs(1)),
            "a close long after the warning warns again"
        );
        assert!(w.confirm(t0 + CONFIRM_WITHIN + Duration::from_secs(2)));
    }

    #[test]
    fn only_the_tray_librarys_panic_counts_as_a_missing_tray_library() {
        assert!(is_tray_library_panic(
            "Failed to load ayatana-appindicator3 or appindicator3 dynamic library\nx\ny"
        ));
        assert!(!is_tray_library_panic("index out of bounds"));
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("boom"));
        assert_eq!(panic_text(p.as_ref()), "boom");
        let p: Box<dyn std::any::Any + Send> = Box::new("static boom");
        assert_eq!(panic_text(p.as_ref()), "static boom");
    }
}
