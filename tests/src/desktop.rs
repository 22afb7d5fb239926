//! A desktop session for end-to-end tests: a private X display, a private
//! D-Bus session bus with dunst as the notification server, and
//! `dbus-monitor` recording every `Notify` call with the id dunst gave it,
//! and every `CloseNotification` call.

use crate::{wait_for, ChildGuard};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A private X display (Xvfb, 1280×800) with a private D-Bus session bus
/// and dunst owning `org.freedesktop.Notifications`; all stop when dropped.
#[derive(Debug)]
pub struct Session {
    _xvfb: ChildGuard,
    _bus: ChildGuard,
    _dunst: ChildGuard,
    /// `DISPLAY` value, e.g. `:123`.
    pub display: String,
    /// `DBUS_SESSION_BUS_ADDRESS` value.
    pub address: String,
}

/// Fails the test with a hint when a system tool is missing.
pub fn need(tool: &str) {
    assert!(
        Path::new(tool).exists(),
        "{tool} is missing: run scripts/setup.sh (installs xvfb, dbus, dunst)"
    );
}

/// Starts Xvfb, a session bus and dunst, and waits until dunst serves.
pub fn start_session() -> Session {
    for t in [
        "/usr/bin/Xvfb",
        "/usr/bin/dbus-daemon",
        "/usr/bin/dunst",
        "/usr/bin/dbus-monitor",
    ] {
        need(t);
    }
    // Unique per process and per session within it (tests run in parallel).
    static SESSIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let k = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let n = 90 + (std::process::id() % 400) * 8 + k % 8;
    let display = format!(":{n}");
    let xvfb = ChildGuard::spawn(
        Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("Xvfb", Duration::from_secs(10), || {
        Path::new(&format!("/tmp/.X11-unix/X{n}"))
            .exists()
            .then_some(())
    });
    let mut bus = ChildGuard::spawn(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut line = String::new();
    if let Some(out) = bus.0.stdout.take() {
        if let Err(e) = BufReader::new(out).read_line(&mut line) {
            panic!("cannot read dbus-daemon's address: {e}");
        }
    }
    let address = line.trim().to_string();
    assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
    let dunst = ChildGuard::spawn(
        Command::new("dunst")
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for(
        "dunst to own org.freedesktop.Notifications",
        Duration::from_secs(10),
        || {
            let out = Command::new("dbus-send")
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.Notifications",
                ])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("boolean true")
                .then_some(())
        },
    );
    Session {
        _xvfb: xvfb,
        _bus: bus,
        _dunst: dunst,
        display,
        address,
    }
}

/// One `Notify` call seen on the bus.
#[derive(Debug, Clone)]
pub struct NotifyCall {
    /// The summary (title).
    pub summary: String,
    /// The body text as sent.
    pub body: String,
    /// The `replaces_id` argument (0: a new popup).
    pub replaces_id: u32,
    /// The icon name.
    pub icon: String,
    /// The `urgency` hint: 0 low, 1 normal, 2 critical.
    pub urgency: Option<u8>,
    /// The `desktop-entry` hint.
    pub desktop_entry: Option<String>,
    /// Action keys and labels, alternating.
    pub actions: Vec<String>,
    /// The notification id from the server's reply.
    pub id: Option<u32>,
}

/// Parses dbus-monitor's text output into Notify calls with their reply ids.
pub fn parse_monitor(text: &str) -> Vec<NotifyCall> {
    // Serials are per connection: a call is known by its sender and serial
    // (two telltaled processes, one after the other, reuse serials).
    let mut calls: Vec<((String, u64), NotifyCall)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with("method call") && l.contains("member=Notify") {
            let serial: u64 = field(l, "serial=").unwrap_or(0);
            let sender: String = field(l, "sender=").unwrap_or_default();
            // Body: app_name, replaces_id, icon, summary, body, actions [..], hints [..], timeout
            let mut strings = Vec::new();
            let mut actions = Vec::new();
            let mut urgency = None;
            let mut desktop_entry = None;
            let mut replaces_id = 0;
            let mut j = i + 1;
            let mut in_actions = false;
            let mut arrays = 0;
            while j < lines.len() && lines[j].starts_with(' ') {
                let t = lines[j].trim();
                if let (1, Some(v)) = (strings.len(), t.strip_prefix("uint32 ")) {
                    replaces_id = v.trim().parse().unwrap_or(0);
                } else if t == "array [" && strings.len() == 4 {
                    // The first array is the actions, the second the hints.
                    arrays += 1;
                    in_actions = arrays == 1;
                } else if t == "]" && in_actions {
                    in_actions = false;
                } else if let Some(s) = t.strip_prefix("string \"") {
                    let s = s.trim_end_matches('"').to_string();
                    if in_actions {
                        actions.push(s);
                    } else if strings.len() < 4 {
                        strings.push(s);
                    } else if s == "desktop-entry" {
                        // The value follows: `variant string "Telltale"`.
                        desktop_entry = lines.get(j + 1).and_then(|n| {
                            let v = n.trim().strip_prefix("variant")?.trim();
                            let v = v.strip_prefix("string \"")?;
                            Some(v.trim_end_matches('"').to_string())
                        });
                    } else if s == "urgency" {
                        // The value follows: `variant byte N`.
                        if let Some(v) = lines.get(j + 1).and_then(|n| {
                            n.trim()
                                .strip_prefix("variant             byte ")
                                .or_else(|| n.trim().strip_prefix("variant byte "))
                        }) {
                            urgency = v.trim().parse().ok();
                        }
                    }
                }
                j += 1;
            }
            // strings: app_name, icon, summary, body (replaces_id is a uint32)
            let icon = strings.get(1).cloned().unwrap_or_default();
            let summary = strings.get(2).cloned().unwrap_or_default();
            let body = strings.get(3).cloned().unwrap_or_default();
            calls.push((
                (sender, serial),
                NotifyCall {
                    summary,
                    body,
                    replaces_id,
                    icon,
                    urgency,
                    desktop_entry,
                    actions,
                    id: None,
                },
            ));
            i = j;
            continue;
        }
        if l.starts_with("method return") {
            if let Some(reply) = field::<u64>(l, "reply_serial=") {
                let to: String = field(l, "destination=").unwrap_or_default();
                if let Some((_, call)) = calls
                    .iter_mut()
                    .find(|((from, s), _)| *s == reply && *from == to)
                {
                    if let Some(v) = lines
                        .get(i + 1)
                        .and_then(|n| n.trim().strip_prefix("uint32 "))
                    {
                        call.id = v.trim().parse().ok();
                    }
                }
            }
        }
        i += 1;
    }
    calls.into_iter().map(|(_, c)| c).collect()
}

/// The ids passed to `CloseNotification` calls, in order.
pub fn parse_closes(text: &str) -> Vec<u32> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("method call") && l.contains("member=CloseNotification"))
        .filter_map(|(i, _)| {
            lines
                .get(i + 1)?
                .trim()
                .strip_prefix("uint32 ")?
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// `dbus-monitor` on a session bus, collecting `Notify` calls and replies.
#[derive(Debug)]
pub struct NotifyMonitor {
    _child: ChildGuard,
    out: Arc<Mutex<String>>,
}

impl NotifyMonitor {
    /// Starts monitoring the bus at `address`.
    pub fn start(address: &str) -> NotifyMonitor {
        need("/usr/bin/dbus-monitor");
        let mut child = ChildGuard::spawn(
            Command::new("dbus-monitor")
                .env("DBUS_SESSION_BUS_ADDRESS", address)
                .args([
                    "--session",
                    "interface='org.freedesktop.Notifications'",
                    "type='method_return'",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let out = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = child.0.stdout.take() {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Ok(mut o) = out.lock() {
                        o.push_str(&line);
                        o.push('\n');
                    }
                }
            });
        }
        NotifyMonitor { _child: child, out }
    }

    /// Every `Notify` call seen so far.
    pub fn calls(&self) -> Vec<NotifyCall> {
        self.out
            .lock()
            .map(|o| parse_monitor(&o))
            .unwrap_or_default()
    }

    /// The ids of every `CloseNotification` call seen so far.
    pub fn closes(&self) -> Vec<u32> {
        self.out
            .lock()
            .map(|o| parse_closes(&o))
            .unwrap_or_default()
    }
}
