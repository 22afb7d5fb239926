//! Native notifications for real: a private X display (Xvfb), a private
//! D-Bus session with dunst as the notification server, `telltaled run` as a
//! child process, and `dbus-monitor` recording every `Notify` call.
//!
//! A simulated host's cpu crosses the threshold, stays up, then recovers:
//! exactly one "fired" and one "resolved" notification must arrive, with the
//! right summary and urgency, and the notification's *Acknowledge* action
//! must acknowledge the alert in the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;
use telltale_e2e::desktop::{start_session, NotifyMonitor};
use telltale_e2e::{bin, count_rows, wait_for, ChildGuard};
use telltale_sim::{Incident, Sim, SimConfig};

#[test]
fn threshold_crossing_notifies_once_resolves_once_and_acknowledges() {
    let session = start_session();
    let monitor = NotifyMonitor::start(&session.address);
    let calls = || monitor.calls();

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
        "resolution is low urgency: {:?}",
        calls()
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
