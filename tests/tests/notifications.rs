//! Native notifications for real: a private X display (Xvfb), a private
//! D-Bus session with dunst as the notification server, `telltaled run` as a
//! child process, and `dbus-monitor` recording every `Notify` call.
//!
//! A simulated host's cpu crosses the threshold, stays up, then recovers:
//! exactly one "fired" and one "resolved" notification must arrive, with the
//! right summary and urgency, and the notification's *Acknowledge* action
//! must acknowledge the alert in the database and close the popup. The
//! history says `notified` for what dunst took. After a restart, the popup
//! shown before it is replaced by one whose buttons work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use telltale_e2e::desktop::{start_session, NotifyMonitor, Session};
use telltale_e2e::{bin, count_rows, wait_for, ChildGuard};
use telltale_sim::{Incident, Sim, SimConfig, SimHandle};

/// The feeds file: one feed on `host` with a critical cpu rule whose name
/// has characters that markup would take for tags.
fn write_config(path: &Path, sim: &SimHandle) {
    std::fs::write(
        path,
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
name = "cpu > 90 & rising"
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
}

fn telltaled(session: &Session, cfg: &Path, db: &Path) -> ChildGuard {
    ChildGuard::spawn(
        Command::new(bin("telltaled"))
            .args(["run", "--status-every", "0", "--config"])
            .arg(cfg)
            .arg("--db")
            .arg(db)
            .env("DISPLAY", &session.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    )
}

/// The notification server's capabilities, as `dbus-send` prints them.
fn capabilities(session: &Session) -> String {
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
    String::from_utf8_lossy(&caps.stdout).to_string()
}

/// Replies to a popup's button as the server would.
fn invoke(session: &Session, id: u32, action: &str) {
    let status = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
        .args([
            "--session",
            "--type=signal",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications.ActionInvoked",
            &format!("uint32:{id}"),
            &format!("string:{action}"),
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

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
    write_config(&cfg, &sim);
    let db = dir.path().join("t.db");
    let _telltaled = telltaled(&session, &cfg, &db);

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
    assert_eq!(
        fired.icon, "dialog-error",
        "a critical alert's icon: {fired:?}"
    );
    assert_eq!(
        fired.desktop_entry.as_deref(),
        Some("Telltale"),
        "the desktop-entry hint names the installed Telltale.desktop: {fired:?}"
    );

    let caps = capabilities(&session);
    // Markup characters in the body are escaped only where the server
    // interprets markup (dunst does by default).
    if caps.contains("\"body-markup\"") {
        assert!(fired.body.contains("cpu &gt; 90 &amp; rising"), "{fired:?}");
    } else {
        assert!(fired.body.contains("cpu > 90 & rising"), "{fired:?}");
    }

    // dunst advertises actions: reply with Acknowledge as the server would.
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
        invoke(&session, fired.id.unwrap(), "ack");
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
        // The acknowledged popup leaves the screen.
        wait_for(
            "CloseNotification for the acknowledged popup",
            Duration::from_secs(10),
            || monitor.closes().contains(&fired.id.unwrap()).then_some(()),
        );
    }

    // The incident ends: one resolved notification, with the value now and
    // how long it fired.
    let resolved = wait_for("the resolved notification", Duration::from_secs(40), || {
        calls().into_iter().find(|c| {
            c.summary.starts_with("Resolved after ")
                && c.summary.contains(": web-1: cpu is ")
                && c.summary.ends_with(" (threshold 90)")
                && c.id.is_some()
        })
    });
    let rule_as_sent = if caps.contains("\"body-markup\"") {
        "cpu &gt; 90 &amp; rising"
    } else {
        "cpu > 90 & rising"
    };
    assert_eq!(
        resolved.body,
        format!("Fired as: web-1: cpu above 90 · {rule_as_sent}"),
        "{resolved:?}"
    );
    assert_eq!(
        resolved.urgency,
        Some(0),
        "resolution is low urgency: {:?}",
        calls()
    );
    assert_eq!(
        resolved.icon, "emblem-default",
        "a resolved alert gets a check mark, not the alarm's icon: {resolved:?}"
    );
    assert_eq!(resolved.desktop_entry.as_deref(), Some("Telltale"));
    std::thread::sleep(Duration::from_secs(2));
    let all = calls();
    let summaries: Vec<&str> = all.iter().map(|c| c.summary.as_str()).collect();
    assert_eq!(
        summaries,
        vec!["web-1: cpu above 90", resolved.summary.as_str()],
        "exactly one fired and one resolved notification, no duplicates"
    );
    // dunst took both: the history says so, and nothing else.
    let notified = count_rows(
        &db,
        "SELECT count(*) FROM alert_history WHERE kind = 'notified'",
    )
    .unwrap();
    let not_delivered = count_rows(
        &db,
        "SELECT count(*) FROM alert_history WHERE kind = 'not_delivered'",
    )
    .unwrap();
    assert_eq!((notified, not_delivered), (2, 0));
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

#[test]
fn after_a_restart_the_old_popup_is_replaced_by_one_whose_buttons_work() {
    let session = start_session();
    let monitor = NotifyMonitor::start(&session.address);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(Sim::start(SimConfig {
            hosts: 1,
            rate: 10.0,
            incident: Some(Incident {
                host: "host-1".into(),
                start_after: Duration::from_secs(1),
                ramp: Duration::from_secs(1),
                hold: Duration::from_secs(120),
            }),
            ..Default::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("feeds.toml");
    write_config(&cfg, &sim);
    let db = dir.path().join("t.db");
    let first = telltaled(&session, &cfg, &db);
    let fired = wait_for("the fired notification", Duration::from_secs(30), || {
        monitor
            .calls()
            .into_iter()
            .find(|c| c.summary == "web-1: cpu above 90" && c.id.is_some())
    });
    let old_id = fired.id.unwrap();
    wait_for(
        "the popup's id stored with the alert",
        Duration::from_secs(10),
        || {
            let n = count_rows(
                &db,
                &format!("SELECT count(*) FROM alerts WHERE data LIKE '%\"notice_id\":{old_id}%'"),
            )?;
            (n == 1).then_some(())
        },
    );
    // A crash: the popup stays on screen, its buttons now reach nothing.
    drop(first);
    let _second = telltaled(&session, &cfg, &db);
    let renewed = wait_for(
        "the popup replaced after the restart",
        Duration::from_secs(30),
        || {
            monitor
                .calls()
                .into_iter()
                .find(|c| c.replaces_id == old_id && c.id.is_some())
        },
    );
    assert!(
        renewed
            .summary
            .starts_with("Still firing: web-1: cpu above 90"),
        "{renewed:?}"
    );
    assert!(
        renewed
            .body
            .ends_with("shown again after Telltale restarted"),
        "{renewed:?}"
    );
    if capabilities(&session).contains("\"actions\"") {
        assert_eq!(renewed.actions.len(), 6, "{renewed:?}");
        // The buttons of the renewed popup act on the alert.
        invoke(&session, renewed.id.unwrap(), "ack");
        wait_for(
            "the alert acknowledged from the renewed popup",
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
    // One firing, never notified as a new one.
    let fired_rows = count_rows(
        &db,
        "SELECT count(*) FROM alert_history WHERE kind = 'fired'",
    )
    .unwrap();
    assert_eq!(fired_rows, 1);
    rt.block_on(sim.shutdown());
}
