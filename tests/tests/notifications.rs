//! Native notifications for real: a private X display (Xvfb), a private
//! D-Bus session with dunst as the notification server, `telltaled run` as a
//! child process, and `dbus-monitor` recording every `Notify` call.
//!
//! A simulated host's cpu crosses the threshold, stays up, then recovers:
//! exactly one "fired" and one "resolved" notification must arrive, with the
//! right summary and urgency, and the notification's *Acknowledge* action
//! must acknowledge the alert in the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telltale_e2e::{bin, count_rows, wait_for, ChildGuard};
use telltale_sim::{Incident, Sim, SimConfig};

struct Session {
    _xvfb: ChildGuard,
    _bus: ChildGuard,
    _dunst: ChildGuard,
    display: String,
    address: String,
}

fn need(tool: &str) {
    assert!(
        Path::new(tool).exists(),
        "{tool} is missing: run scripts/setup.sh (installs xvfb, dbus, dunst)"
    );
}

fn start_session() -> Session {
    for t in [
        "/usr/bin/Xvfb",
        "/usr/bin/dbus-daemon",
        "/usr/bin/dunst",
        "/usr/bin/dbus-monitor",
    ] {
        need(t);
    }
    let n = 90 + (std::process::id() % 400);
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
    BufReader::new(bus.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
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
struct NotifyCall {
    summary: String,
    urgency: Option<u8>,
    actions: Vec<String>,
    id: Option<u32>,
}

/// Parses dbus-monitor's text output into Notify calls with their reply ids.
fn parse_monitor(text: &str) -> Vec<NotifyCall> {
    let mut calls: Vec<(u64, NotifyCall)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with("method call") && l.contains("member=Notify") {
            let serial: u64 = field(l, "serial=").unwrap_or(0);
            // Body: app_name, replaces_id, icon, summary, body, actions [..], hints [..], timeout
            let mut strings = Vec::new();
            let mut actions = Vec::new();
            let mut urgency = None;
            let mut j = i + 1;
            let mut in_actions = false;
            let mut arrays = 0;
            while j < lines.len() && lines[j].starts_with(' ') {
                let t = lines[j].trim();
                if t == "array [" && strings.len() == 4 {
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
            let summary = strings.get(2).cloned().unwrap_or_default();
            calls.push((
                serial,
                NotifyCall {
                    summary,
                    urgency,
                    actions,
                    id: None,
                },
            ));
            i = j;
            continue;
        }
        if l.starts_with("method return") {
            if let Some(reply) = field::<u64>(l, "reply_serial=") {
                if let Some((_, call)) = calls.iter_mut().find(|(s, _)| *s == reply) {
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

fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn threshold_crossing_notifies_once_resolves_once_and_acknowledges() {
    let session = start_session();
    let monitor_out = Arc::new(Mutex::new(String::new()));
    let mut monitor = ChildGuard::spawn(
        Command::new("dbus-monitor")
            .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
            .args([
                "--session",
                "interface='org.freedesktop.Notifications'",
                "type='method_return'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    {
        let out = monitor_out.clone();
        let stdout = monitor.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut o = out.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
        });
    }
    let calls = || parse_monitor(&monitor_out.lock().unwrap());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(Sim::start(SimConfig {
            hosts: 1,
            rate: 10.0,
            incident: Some(Incident {
                host: "host-1".into(),
                start_after: Duration::from_secs(2),
                ramp: Duration::from_secs(1),
                hold: Duration::from_secs(10),
            }),
            ..Default::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("feeds.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[alerts]
flood_max = 10

[[feed]]
name = "web-1"
transport = "websocket"
url = "{}/ws?host=host-1"
[[feed.metric]]
name = "cpu"
pointer = "/cpu"
[[feed.alert]]
name = "cpu high"
kind = "threshold"
metric = "cpu"
op = ">"
value = 90
clear = 70
for = "1s"
severity = "critical"
summary = "{{feed}}: cpu above {{threshold}}"
"#,
            sim.ws_url()
        ),
    )
    .unwrap();
    let db = dir.path().join("t.db");
    let _telltaled = ChildGuard::spawn(
        Command::new(bin("telltaled"))
            .args(["run", "--status-every", "0", "--config"])
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .env("DISPLAY", &session.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );

    let fired = wait_for("the fired notification", Duration::from_secs(30), || {
        calls()
            .into_iter()
            .find(|c| c.summary == "web-1: cpu above 90" && c.id.is_some())
    });
    assert_eq!(
        fired.urgency,
        Some(2),
        "critical alerts use critical urgency: {fired:?}"
    );

    // dunst advertises actions: reply with Acknowledge as the server would.
    let caps = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications.GetCapabilities",
        ])
        .output()
        .unwrap();
    let caps = String::from_utf8_lossy(&caps.stdout).to_string();
    if caps.contains("\"actions\"") {
        assert_eq!(
            fired.actions,
            vec![
                "default",
                "Open",
                "ack",
                "Acknowledge",
                "snooze",
                "Snooze 1 h"
            ]
        );
        let status = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
            .args([
                "--session",
                "--type=signal",
                "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications.ActionInvoked",
                &format!("uint32:{}", fired.id.unwrap()),
                "string:ack",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        wait_for(
            "the alert to be acknowledged in the database",
            Duration::from_secs(10),
            || {
                let n = count_rows(
                    &db,
                    "SELECT count(*) FROM alert_history WHERE kind = 'acknowledged'",
                )?;
                (n == 1).then_some(())
            },
        );
    }

    // The incident ends: one resolved notification.
    let resolved = wait_for("the resolved notification", Duration::from_secs(40), || {
        calls()
            .into_iter()
            .find(|c| c.summary == "Resolved: web-1: cpu above 90" && c.id.is_some())
    });
    assert_eq!(
        resolved.urgency,
        Some(0),
        "resolution is low urgency:\n{}",
        monitor_out.lock().unwrap()
    );
    std::thread::sleep(Duration::from_secs(2));
    let all = calls();
    let summaries: Vec<&str> = all.iter().map(|c| c.summary.as_str()).collect();
    assert_eq!(
        summaries,
        vec!["web-1: cpu above 90", "Resolved: web-1: cpu above 90"],
        "exactly one fired and one resolved notification, no duplicates"
    );
    let fired_rows = count_rows(
        &db,
        "SELECT count(*) FROM alert_history WHERE kind = 'fired'",
    )
    .unwrap();
    let resolved_rows = count_rows(
        &db,
        "SELECT count(*) FROM alert_history WHERE kind = 'resolved'",
    )
    .unwrap();
    assert_eq!((fired_rows, resolved_rows), (1, 1));
    rt.block_on(sim.shutdown());
}
