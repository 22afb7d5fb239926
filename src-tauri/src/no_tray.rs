//! Running without a tray. Many GNOME desktops do not install the tray
//! library (`libayatana-appindicator3`), and the tray crate loads it at run
//! time by panicking when it is missing. Telltale then starts without a
//! tray, says so once in its log, and never hides its window on close
//! (nothing could bring it back): the first close keeps the window open
//! and explains, in the window, that closing stops monitoring; a second
//! close within a minute quits (`telltale_api::shell::CONFIRM_WITHIN`).

use crate::{tray, MAIN_WINDOW};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;
use tauri::{AppHandle, Emitter, Runtime, Window};
use telltale_api::shell;
pub use telltale_api::shell::CloseWarned;

/// Event sent to the UI with a line of text to show (a string payload).
pub const SHELL_NOTICE_EVENT: &str = "shell-notice";

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
        if !shell::is_tray_library_panic(&shell::panic_text(info.payload())) {
            forward(info);
        }
    }));
    let created = panic::catch_unwind(AssertUnwindSafe(|| tray::create(app)));
    drop(panic::take_hook());
    panic::set_hook(Box::new(move |info| previous(info)));
    match created {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(shell::tray_panic_error(&shell::panic_text(
            payload.as_ref(),
        ))),
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
    tracing::info!("close without a tray: asking to close again to quit");
    let text = shell::close_without_tray_notice();
    if let Err(e) = window.emit_to(MAIN_WINDOW, SHELL_NOTICE_EVENT, text) {
        tracing::warn!("cannot tell the UI why the window stays open: {e}");
    }
    false
}
