//! `telltaled` as a user runs it: check, run against the simulated fleet over
//! all four transports (plus Prometheus text), stop with SIGTERM, export.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;
use telltale_e2e::{bin, count_rows, quiet_sim, wait_for, ChildGuard};

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_reports_file_line_feed_and_field_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "feeds.toml",
        "[[feed]]\nname = \"good\"\ntransport = \"sse\"\nurl = \"http://127.0.0.1:1/sse\"\n\n[[feed]]\nname = \"bad\"\ntransport = \"poll\"\nurl = \"http://127.0.0.1:1/x\"\n[feed.poll]\ninterval = \"often\"\n",
    );
    let out = Command::new(bin("telltaled"))
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("feeds.toml:11: feed `bad`: field `poll.interval`"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 feed(s) valid, 1 problem(s)"), "{stdout}");

    let ok = write(
        dir.path(),
        "ok.toml",
        "[[feed]]\nname = \"good\"\ntransport = \"sse\"\nurl = \"http://127.0.0.1:1/sse\"\n",
    );
    let out = Command::new(bin("telltaled"))
        .args(["check", "--config"])
        .arg(&ok)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn run_all_transports_then_stop_and_export() {
    let (rt, sim) = quiet_sim(5, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let base = sim.base_url();
    let ws = sim.ws_url();
    let config = format!(
        r#"
[[feed]]
name = "ws"
transport = "websocket"
url = "{ws}/ws?host=host-1"
headers = {{ Authorization = "Bearer s3cret-token-123" }}
[[feed.metric]]
name = "cpu"
pointer = "/cpu"

[[feed]]
name = "sse"
transport = "sse"
url = "{base}/sse?host=host-2"
[[feed.metric]]
name = "mem"
pointer = "/mem"

[[feed]]
name = "poll"
transport = "poll"
url = "{base}/poll/host-3"
[feed.poll]
interval = "200ms"

[[feed]]
name = "longpoll"
transport = "long_poll"
url = "{base}/longpoll/host-4"
[feed.long_poll]
hold = "2s"
cursor = {{ from = "body", pointer = "/cursor", param = "cursor" }}
items = "/events"
id_pointer = "/seq"

[[feed]]
name = "prom"
transport = "poll"
url = "{base}/metrics/host-5"
format = "prometheus"
[feed.poll]
interval = "200ms"
[[feed.metric]]
name = "load"
prometheus = "node_load1"

[[feed]]
name = "broken"
transport = "sse"
url = "ftp://nowhere"
"#
    );
    let cfg = write(dir.path(), "feeds.toml", &config);
    let db = dir.path().join("t.db");
    let mut child = ChildGuard::spawn(
        Command::new(bin("telltaled"))
            .args(["run", "--status-every", "0", "--config"])
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .stderr(std::process::Stdio::piped()),
    );
    for feed in ["ws", "sse", "poll", "longpoll", "prom"] {
        // Prometheus scrapes store their first payload (then only those
        // that fail to parse, and one per 10 minutes); the others all.
        let least = if feed == "prom" { 1 } else { 3 };
        wait_for(
            &format!("events from `{feed}`"),
            Duration::from_secs(30),
            || {
                let n = count_rows(
                &db,
                &format!("SELECT count(*) FROM events e JOIN feeds f ON f.id = e.feed_id WHERE f.name = '{feed}'"),
            )?;
                (n >= least).then_some(n)
            },
        );
    }
    for metric in ["cpu", "mem", "http_status", "response_ms", "load"] {
        wait_for(
            &format!("samples of `{metric}`"),
            Duration::from_secs(10),
            || {
                let n = count_rows(
                &db,
                &format!("SELECT (SELECT count(*) FROM samples s JOIN series r ON r.id = s.series_id WHERE r.metric = '{metric}')
                         + (SELECT coalesce(sum(c.count), 0) FROM sample_chunks c JOIN series r ON r.id = c.series_id WHERE r.metric = '{metric}')"),
            )?;
                (n >= 2).then_some(n)
            },
        );
    }
    // SIGTERM flushes and exits cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for("telltaled to exit", Duration::from_secs(15), || {
        child.0.try_wait().ok().flatten()
    });
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        use std::io::Read;
        e.read_to_string(&mut stderr).unwrap();
    }
    assert!(exit.success(), "exit {exit:?}\n{stderr}");
    assert!(stderr.contains("stopped cleanly"), "{stderr}");
    // The bad feed was reported with its field, and did not stop the others.
    assert!(stderr.contains("feed `broken`: field `url`"), "{stderr}");
    assert!(stderr.contains("feed ws: live"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "a secret reached the log:\n{stderr}"
    );
    // The server did get it.
    let auth = sim.requests("/ws");
    assert!(auth
        .iter()
        .any(|r| r.header("authorization") == Some("Bearer s3cret-token-123")));

    // Exported configs mask literal secrets.
    let out = Command::new(bin("telltaled"))
        .args(["export-config", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("Authorization = \"Bearer ••••••\""), "{text}");
    assert!(
        text.contains("1 header value(s) or URL(s) held a literal secret"),
        "{text}"
    );

    // Export events as JSONL: the stable shape.
    let out = Command::new(bin("telltaled"))
        .args(["export", "--feed", "sse", "--format", "jsonl", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 3);
    let ids: Vec<u64> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<u64> = (ids[0]..ids[0] + ids.len() as u64).collect();
    assert_eq!(ids, expected, "SSE ids must be consecutive");
    for l in &lines {
        assert_eq!(l["feed"], "sse");
        assert_eq!(l["event"], "health");
        let t = l["received_at"].as_str().unwrap();
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
        let data: serde_json::Value = serde_json::from_str(l["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["host"], "host-2");
    }

    // Samples, and CSV.
    let out = Command::new(bin("telltaled"))
        .args([
            "export",
            "--feed",
            "ws",
            "--samples",
            "--format",
            "jsonl",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["feed"], "ws");
    assert_eq!(first["metric"], "cpu");
    assert!(first["value"].is_f64());
    assert!(first["labels"].is_object());

    let out = Command::new(bin("telltaled"))
        .args(["export", "--feed", "poll", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("feed,received_at,id,event,data,truncated\n"),
        "{text}"
    );
    assert!(text.lines().count() >= 3);

    // `feeds` lists them with their last state.
    let out = Command::new(bin("telltaled"))
        .args(["feeds", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // It starts with the storage: the file, and the space left beside it.
    assert!(text.starts_with("storage: ok: "), "{text}");
    assert!(
        text.lines().next().unwrap_or("").contains(" free of "),
        "{text}"
    );
    for feed in ["ws", "sse", "poll", "longpoll", "prom"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(feed) && l.contains("stopped")),
            "{text}"
        );
    }

    // Unknown feed: a clear error.
    let out = Command::new(bin("telltaled"))
        .args(["export", "--feed", "nope", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no feed named `nope`"));
    rt.block_on(sim.shutdown());
}

fn telltaled(args: &[&str], db: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(bin("telltaled"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `telltaled run` on `cfg` and `db`, without notifications.
fn daemon(cfg: &std::path::Path, db: &std::path::Path) -> ChildGuard {
    ChildGuard::spawn(
        Command::new(bin("telltaled"))
            .args(["run", "--no-notify", "--status-every", "0", "--config"])
            .arg(cfg)
            .arg("--db")
            .arg(db)
            .stderr(std::process::Stdio::null()),
    )
}

/// Stops a daemon with SIGTERM and waits for it to exit.
fn stop(child: &mut ChildGuard) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    wait_for("telltaled to exit", Duration::from_secs(15), || {
        child.0.try_wait().ok().flatten()
    });
}

#[test]
fn alerts_are_listed_acknowledged_snoozed_and_muted_from_the_command_line() {
    let (rt, sim) = quiet_sim(1, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "feeds.toml",
        &format!(
            "[[feed]]\nname = \"web\"\ntransport = \"websocket\"\nurl = \"{}/ws?host=host-1\"\n[[feed.metric]]\nname = \"cpu\"\npointer = \"/cpu\"\n[[feed.alert]]\nname = \"any cpu\"\nkind = \"threshold\"\nmetric = \"cpu\"\nop = \">=\"\nvalue = 0\nseverity = \"critical\"\n",
            sim.ws_url()
        ),
    );
    let db = dir.path().join("t.db");
    let mut child = daemon(&cfg, &db);
    wait_for("a firing alert", Duration::from_secs(20), || {
        let n = count_rows(&db, "SELECT count(*) FROM alerts WHERE phase = 'firing'")?;
        (n == 1).then_some(())
    });
    let (ok, out, _) = telltaled(&["alerts", "--firing"], &db);
    assert!(ok);
    let row = out
        .lines()
        .find(|l| l.contains("any cpu"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("firing") && row.contains("critical") && row.contains("web"),
        "{row}"
    );
    let id = row.split_whitespace().next().unwrap().to_string();

    // Acknowledged by the running daemon.
    let (ok, out, err) = telltaled(&["ack", &id], &db);
    assert!(ok, "{err}");
    assert!(out.contains("the running telltaled applied it"), "{out}");
    let n = count_rows(
        &db,
        "SELECT count(*) FROM alert_history WHERE kind = 'acknowledged'",
    );
    assert_eq!(n, Some(1));
    let (_, out, _) = telltaled(&["alerts"], &db);
    assert!(
        out.lines()
            .any(|l| l.contains("any cpu") && l.contains("yes")),
        "{out}"
    );

    // Clear errors for what does not exist.
    let (ok, _, err) = telltaled(&["ack", "999"], &db);
    assert!(!ok);
    assert!(err.contains("there is no alert 999"), "{err}");
    let (ok, _, err) = telltaled(&["snooze", "--feed", "nope", "--for", "30m"], &db);
    assert!(!ok);
    assert!(err.contains("no feed named `nope`"), "{err}");

    let (ok, _, err) = telltaled(&["snooze", "--feed", "web", "--for", "30m"], &db);
    assert!(ok, "{err}");
    let (ok, _, err) = telltaled(&["mute", "--for", "1h"], &db);
    assert!(ok, "{err}");
    let (_, out, _) = telltaled(&["alerts"], &db);
    assert!(out.starts_with("notifications: MUTED until "), "{out}");

    // With no daemon running, the command applies the action itself.
    stop(&mut child);
    let (ok, out, err) = telltaled(&["unmute"], &db);
    assert!(ok, "{err}");
    assert!(out.contains("applied directly"), "{out}");
    let (_, out, _) = telltaled(&["alerts"], &db);
    assert!(!out.contains("MUTED"), "{out}");

    let (ok, out, _) = telltaled(&["alerts", "--history", &id], &db);
    assert!(ok);
    let kinds: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    for k in ["pending", "fired", "acknowledged", "snoozed"] {
        assert!(kinds.contains(&k), "{k} missing from the history:\n{out}");
    }
    rt.block_on(sim.shutdown());
}

#[test]
fn maintenance_is_started_listed_and_ended_from_the_command_line() {
    let (rt, sim) = quiet_sim(1, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "feeds.toml",
        &format!(
            "[[feed]]\nname = \"web\"\ntransport = \"websocket\"\nurl = \"{}/ws?host=host-1\"\ntags = [\"db\"]\n\n[[alerts.maintenance]]\nname = \"sundays\"\nfeeds = [\"web\"]\ndays = [\"sun\"]\nfrom = \"02:00\"\nto = \"04:00\"\ntime_zone = \"Europe/Berlin\"\n",
            sim.ws_url()
        ),
    );
    let db = dir.path().join("t.db");
    let mut child = daemon(&cfg, &db);
    wait_for("the feed to be stored", Duration::from_secs(20), || {
        (count_rows(&db, "SELECT count(*) FROM feeds")? == 1).then_some(())
    });
    // The config file's window is listed with its next start.
    let (ok, out, err) = telltaled(&["maintenance"], &db);
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("sundays"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("sun 02:00–04:00 Europe/Berlin")
            && row.contains("next from ")
            && row.ends_with("web"),
        "{row}"
    );

    // Started for a tag; the running daemon takes the new list.
    let (ok, out, err) = telltaled(
        &[
            "maintenance",
            "--tag",
            "db",
            "--for",
            "2h",
            "--name",
            "patch",
        ],
        &db,
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with("maintenance `patch` started: web until "),
        "{out}"
    );
    assert!(out.contains("the running telltaled applied it"), "{out}");
    let (_, out, _) = telltaled(&["maintenance"], &db);
    let row = out
        .lines()
        .find(|l| l.starts_with("patch"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("in force until "), "{row}");

    // Clear errors for what does not exist.
    let (ok, _, err) = telltaled(&["maintenance", "--tag", "nope"], &db);
    assert!(!ok);
    assert!(err.contains("no feed has the tag `nope`"), "{err}");
    let (ok, _, err) = telltaled(&["maintenance", "--end", "nope"], &db);
    assert!(!ok);
    assert!(err.contains("no maintenance window named `nope`"), "{err}");

    // Ended: kept on record, no longer in force.
    let (ok, out, err) = telltaled(&["maintenance", "--end", "patch"], &db);
    assert!(ok, "{err}");
    assert!(
        out.contains("maintenance `patch` ended; the running telltaled applied it"),
        "{out}"
    );
    let (_, out, _) = telltaled(&["maintenance"], &db);
    let row = out
        .lines()
        .find(|l| l.starts_with("patch"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("not within a week"), "{row}");
    stop(&mut child);
    // With no daemon, the change is stored for its next start.
    let (ok, out, err) = telltaled(&["maintenance", "--end", "sundays"], &db);
    assert!(ok, "{err}");
    assert!(out.contains("stored (no telltaled is running"), "{out}");
    let (_, out, _) = telltaled(&["maintenance"], &db);
    assert!(!out.contains("sundays"), "{out}");
    rt.block_on(sim.shutdown());
}

#[test]
fn the_demo_config_from_telltale_sim_is_valid() {
    let out = Command::new(bin("telltale-sim"))
        .args(["config", "--base", "http://127.0.0.1:9700", "--hosts", "5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("demo.toml");
    std::fs::write(&cfg, &out.stdout).unwrap();
    let check = Command::new(bin("telltaled"))
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        stdout.contains("10 feed(s) valid, 0 problem(s)"),
        "{stdout}"
    );
    for t in [
        "websocket",
        "sse",
        "poll",
        "long_poll",
        "graphql",
        "socketio",
        "grpc",
    ] {
        assert!(stdout.contains(t), "{t} missing from the demo:\n{stdout}");
    }
}

/// Reads a child's stderr to the end (after it exited).
fn stderr_of(child: &mut ChildGuard) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut text);
    }
    text
}

#[test]
fn a_full_disk_is_reported_over_the_api_and_sigterm_still_stops_it() {
    // A real full disk: a 2 MiB tmpfs, mounted in a private mount namespace
    // (a user namespace makes that possible without root).
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"])
        .output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        println!("skipped: this machine does not allow a private tmpfs mount ({probe:?})");
        return;
    }
    let (rt, sim) = quiet_sim(2, 2000.0);
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let cfg = write(
        dir.path(),
        "feeds.toml",
        &format!(
            "[[feed]]\nname = \"fast\"\ntransport = \"websocket\"\nurl = \"{}/ws?host=host-1\"\n[[feed.metric]]\nname = \"cpu\"\npointer = \"/cpu\"\n",
            sim.ws_url()
        ),
    );
    let port = telltale_e2e::free_port();
    let mut child = ChildGuard::spawn(
        Command::new("unshare")
            .args([
                "-rm",
                "sh",
                "-c",
                "mount -t tmpfs -o size=2m tmpfs \"$1\" && shift && exec \"$@\"",
                "sh",
            ])
            .arg(&small)
            .arg(bin("telltaled"))
            .args(["serve", "--no-notify", "--status-every", "0", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(small.join("t.db"))
            .stderr(std::process::Stdio::piped()),
    );
    let health = |port: u16| -> Option<serde_json::Value> {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}/api/health")])
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    wait_for("the API to answer", Duration::from_secs(30), || {
        health(port)
    });
    let h = wait_for(
        "the API to report that storage fails",
        Duration::from_secs(90),
        || health(port).filter(|h| h["status"] == "failing"),
    );
    assert_eq!(h["storage"]["code"], "disk_full", "{h}");
    assert!(
        h["storage"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("full"),
        "{h}"
    );
    // The feed is still live: the monitor is not blind, only unable to store.
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/api/feeds")])
        .output()
        .unwrap();
    let feeds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(feeds[0]["state"]["state"], "live", "{feeds}");

    // SIGTERM still stops it, within its limit, saying what it could not store.
    let sent = std::time::Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let exit = wait_for("telltaled to exit", Duration::from_secs(20), || {
        child.0.try_wait().ok().flatten()
    });
    let took = sent.elapsed();
    let stderr = stderr_of(&mut child);
    assert!(took < Duration::from_secs(12), "took {took:?}\n{stderr}");
    assert!(
        exit.code().is_some(),
        "killed by a signal: {exit:?}\n{stderr}"
    );
    assert!(stderr.contains("is full"), "{stderr}");
    rt.block_on(sim.shutdown());
}

#[test]
fn a_crashed_pipeline_makes_telltaled_exit_non_zero() {
    let (rt, sim) = quiet_sim(1, 10.0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "feeds.toml",
        &format!(
            "[[feed]]\nname = \"boom\"\ntransport = \"websocket\"\nurl = \"{}/ws?host=host-1\"\n",
            sim.ws_url()
        ),
    );
    let mut child = ChildGuard::spawn(
        Command::new(bin("telltaled"))
            .args(["run", "--no-notify", "--status-every", "0", "--config"])
            .arg(&cfg)
            .arg("--db")
            .arg(dir.path().join("t.db"))
            // Debug builds only: the pipeline panics on this feed's first message.
            .env("TELLTALE_FAULT_PANIC_FEED", "boom")
            .stderr(std::process::Stdio::piped()),
    );
    let exit = wait_for("telltaled to exit", Duration::from_secs(30), || {
        child.0.try_wait().ok().flatten()
    });
    let stderr = stderr_of(&mut child);
    assert_eq!(exit.code(), Some(70), "{stderr}");
    assert!(stderr.contains("the ingest pipeline crashed"), "{stderr}");
    assert!(stderr.contains("restart telltaled"), "{stderr}");
    rt.block_on(sim.shutdown());
}
