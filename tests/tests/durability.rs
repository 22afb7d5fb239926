//! The database survives `kill -9` during ingestion: everything committed
//! before the kill is still there, and the file is consistent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;
use telltale_e2e::{bin, count_rows, quiet_sim, wait_for, ChildGuard};

#[test]
fn kill_dash_nine_loses_nothing_committed() {
    let (rt, sim) = quiet_sim(2, 2000.0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("feeds.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[feed]]\nname = \"fast\"\ntransport = \"sse\"\nurl = \"{}/sse?host=host-1\"\n[[feed.metric]]\nname = \"cpu\"\npointer = \"/cpu\"\n",
            sim.base_url()
        ),
    )
    .unwrap();
    let db = dir.path().join("t.db");
    let mut child = ChildGuard::spawn(
        Command::new(bin("telltaled"))
            .args(["run", "--status-every", "0", "--config"])
            .arg(&cfg)
            .arg("--db")
            .arg(&db),
    );
    // Wait until a good amount is committed, then read what a reader sees
    // as committed, and kill the process without warning mid-stream.
    let seen = wait_for("committed events", Duration::from_secs(30), || {
        let n = count_rows(&db, "SELECT count(*) FROM events")?;
        (n >= 3000).then_some(n)
    });
    let max_id_seen =
        count_rows(&db, "SELECT max(CAST(server_id AS INTEGER)) FROM events").unwrap();
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    rt.block_on(sim.shutdown());

    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let after: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(
        after >= seen,
        "had {seen} committed events before kill -9, {after} after"
    );
    // Committed events form a gap-free prefix of the server's sequence.
    let (min, max, n): (i64, i64, i64) = conn
        .query_row(
            "SELECT min(CAST(server_id AS INTEGER)), max(CAST(server_id AS INTEGER)), count(DISTINCT server_id) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(min, 1);
    assert!(max >= max_id_seen);
    assert_eq!(n, max, "ids 1..={max} should all be present exactly once");
    assert_eq!(after, n, "no duplicate events");
    // Samples committed with their events.
    let samples: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(count), 0) FROM sample_chunks)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(samples, after);
}
