//! A top-level window on the test's X display, seen and closed the way a
//! window manager would: found by title, asked to close with the
//! `WM_DELETE_WINDOW` protocol (what a title bar's close button sends), and
//! checked for being mapped. Xvfb runs no window manager, so this is the
//! only way a test can press "close" on the real window.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

fn connect(display: &str) -> Option<(RustConnection, Window)> {
    let (conn, screen) = x11rb::connect(Some(display)).ok()?;
    let root = conn.setup().roots.get(screen)?.root;
    Some((conn, root))
}

fn atom(conn: &RustConnection, name: &str) -> Option<u32> {
    Some(
        conn.intern_atom(false, name.as_bytes())
            .ok()?
            .reply()
            .ok()?
            .atom,
    )
}

fn title(conn: &RustConnection, w: Window) -> Option<String> {
    let utf8 = atom(conn, "UTF8_STRING")?;
    let net = atom(conn, "_NET_WM_NAME")?;
    for (property, kind) in [
        (net, utf8),
        (AtomEnum::WM_NAME.into(), AtomEnum::ANY.into()),
    ] {
        let reply = conn
            .get_property(false, w, property, kind, 0, 1024)
            .ok()?
            .reply()
            .ok()?;
        if !reply.value.is_empty() {
            return Some(String::from_utf8_lossy(&reply.value).into_owned());
        }
    }
    None
}

/// The first child of the root window titled `wanted`, mapped or not.
pub fn find(display: &str, wanted: &str) -> Option<Window> {
    let (conn, root) = connect(display)?;
    let tree = conn.query_tree(root).ok()?.reply().ok()?;
    tree.children
        .into_iter()
        .find(|w| title(&conn, *w).as_deref() == Some(wanted))
}

/// Whether `w` is mapped and viewable (shown), as opposed to hidden.
pub fn viewable(display: &str, w: Window) -> bool {
    let Some((conn, _)) = connect(display) else {
        return false;
    };
    conn.get_window_attributes(w)
        .ok()
        .and_then(|c| c.reply().ok())
        .is_some_and(|a| a.map_state == MapState::VIEWABLE)
}

/// Asks `w` to close, as a window manager's close button does. Returns
/// false when the request could not be sent.
pub fn request_close(display: &str, w: Window) -> bool {
    let Some((conn, _)) = connect(display) else {
        return false;
    };
    let (Some(protocols), Some(delete)) =
        (atom(&conn, "WM_PROTOCOLS"), atom(&conn, "WM_DELETE_WINDOW"))
    else {
        return false;
    };
    let event = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, w, EventMask::NO_EVENT, event)
        .is_ok()
        && conn.flush().is_ok()
}
