//! A full database: SQLite's `max_page_count` (StoreOptions::max_db_bytes)
//! gives a real `SQLITE_FULL`, exactly what a full disk gives, without root.
//! The writer must keep answering, say what is wrong, hold what it can,
//! shed (and count) the rest, and recover once space is freed.

use crate::common::*;
use std::time::{Duration, Instant};
use telltale_model::config::StoreSettings;
use telltale_store::{Store, StoreError, StoreFailure, StoreOptions, WriteBatch};

/// Waits (up to 20 s) until the store reports a failure.
pub async fn wait_for_failure(store: &Store) -> StoreFailure {
    let mut health = store.watch_health();
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Some(f) = health.borrow_and_update().failure.clone() {
                return f;
            }
            if health.changed().await.is_err() {
                panic!("the writer stopped");
            }
        }
    });
    waited.await.expect("no failure was reported within 20 s")
}

/// Runs a blocking store call with a time limit: a hang fails the test.
async fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::time::timeout(Duration::from_secs(40), tokio::task::spawn_blocking(f))
        .await
        .unwrap_or_else(|_| panic!("{what} hung while the database was full"))
        .unwrap()
}

fn big_batch(feed: i64, i: i64, bytes: usize) -> WriteBatch {
    let mut b = WriteBatch::new();
    // Printable noise: stored payloads are compressed, and a repeated
    // pattern would not fill the database.
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let payload: String = (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + (x % 94) as u8)
        })
        .collect();
    b.events.push(event(feed, T0 + i * 1000, &payload));
    b.samples.push(sample(feed, "cpu", T0 + i * 1000, i as f64));
    b
}

fn full_options(hold: usize) -> StoreOptions {
    StoreOptions {
        max_db_bytes: Some(1024 * 1024),
        hold_while_failing: hold,
        ..options()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_is_reported_and_control_commands_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open_with(&path, StoreSettings::default(), full_options(64 << 20)).unwrap();
    let noisy = add_feed(&store, "noisy");
    let quiet = add_feed(&store, "quiet");

    // 2 MiB of payloads into a 1 MiB database.
    for i in 0..256 {
        store.send(big_batch(noisy, i, 8 * 1024)).await.unwrap();
    }
    let failure = wait_for_failure(&store).await;
    assert_eq!(failure.code, "disk_full", "{failure:?}");
    assert!(failure.message.contains("full"), "{}", failure.message);
    assert!(failure.attempts >= 1);

    // The writer keeps reading its queue: more data is accepted (held).
    let mut quiet_sent = 0u64;
    for i in 0..50 {
        store.send(big_batch(quiet, 10_000 + i, 64)).await.unwrap();
        quiet_sent += 1;
    }
    // A flush answers with the failure instead of waiting for ever.
    let err = store.flush().await.unwrap_err();
    assert!(matches!(err, StoreError::WriteFailing { .. }), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");
    // Control commands answer between retries: retention and settings…
    let s = store.clone();
    let report = within("retention", move || {
        s.run_retention(telltale_model::Timestamp(T0))
    })
    .await;
    assert!(report.is_ok(), "{report:?}");
    let s = store.clone();
    let settings = within("settings", move || {
        s.save_settings(&telltale_model::config::Settings::default())
    })
    .await;
    // (Saving needs a page or two: on a full database it may fail, but it
    // must answer, and say why.)
    if let Err(e) = settings {
        assert!(e.to_string().contains("full"), "{e}");
    }
    // … and deleting the noisy feed, which frees its pages: the held rows
    // of the quiet feed are then committed, and the store is healthy again.
    let s = store.clone();
    let deleted = within("deleting a feed", move || s.delete_feed("noisy")).await;
    assert!(deleted.unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !store.health().is_ok() {
        assert!(Instant::now() < deadline, "{:?}", store.health());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.flush().await.unwrap();
    assert_eq!(store.event_count(Some(quiet)).unwrap(), quiet_sent);
    let health = store.health();
    assert_eq!(health.shed_rows, 0, "{health:?}");
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_beyond_the_hold_limit_are_shed_and_counted_per_feed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store =
        Store::open_with(&path, StoreSettings::default(), full_options(256 * 1024)).unwrap();
    let a = add_feed(&store, "a");
    for i in 0..256 {
        store.send(big_batch(a, i, 8 * 1024)).await.unwrap();
    }
    // What was pending when the first commit failed stays held; beyond
    // that (and beyond 256 KiB) nothing more is.
    let before = wait_for_failure(&store).await.held_bytes;
    let limit = before.max(256 * 1024) + 9 * 1024;
    for i in 256..356 {
        store.send(big_batch(a, i, 8 * 1024)).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = store.health();
        let failure = h.failure.clone().expect("still failing");
        if h.shed_rows > 0 {
            assert!(failure.held_bytes <= limit, "{failure:?}");
            let shed_events = h.shed_events.get(&a).copied().unwrap_or(0);
            assert!(shed_events > 0, "{h:?}");
            // Each shed batch held one event and one sample.
            assert_eq!(h.shed_rows, shed_events * 2, "{h:?}");
            break;
        }
        assert!(Instant::now() < deadline, "nothing shed: {h:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Closing gives up on what cannot be written, within its time limit.
    let closed = tokio::time::timeout(Duration::from_secs(30), store.close()).await;
    assert!(closed.is_ok(), "close hung on a full database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sqlite_refuses_for_good_is_set_aside_and_the_rest_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = open_with(&path, minute_long_commits());
    let a = add_feed(&store, "a");
    // Another process installs a trigger that rejects one payload: a real
    // constraint error (SQLITE_CONSTRAINT_TRIGGER) on every attempt.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TRIGGER reject_poison BEFORE INSERT ON events
         WHEN CAST(NEW.data AS TEXT) = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poison refused'); END;",
    )
    .unwrap();
    drop(c);
    store.send(event_batch(a, T0, "before")).await.unwrap();
    store.send(event_batch(a, T0 + 1, "poison")).await.unwrap();
    store.send(event_batch(a, T0 + 2, "after")).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.event_count(Some(a)).unwrap(), 2);
    let h = store.health();
    assert!(h.is_ok(), "{h:?}");
    assert_eq!(h.discarded_rows, 1, "{h:?}");
    assert!(
        h.discarded_reason
            .as_deref()
            .unwrap_or("")
            .contains("poison refused"),
        "{h:?}"
    );
    // And the writer goes on.
    store.send(event_batch(a, T0 + 3, "later")).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.event_count(Some(a)).unwrap(), 3);
}

fn event_batch(feed: i64, ts: i64, data: &str) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.events.push(event(feed, ts, data));
    b
}

/// Set only in the child process of
/// [`a_full_database_does_not_make_the_writer_spin_on_compaction`].
const SPIN_CHILD: &str = "TELLTALE_FULL_SPIN_CHILD";

/// This process's CPU time (user + system) in ms, from `/proc/self/stat`.
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    (f[0] + f[1]) * 10
}

/// Fills a store whose compaction is due every 10 ms and asks for one more:
/// while commits fail, the run waits and writes no chunk. With its
/// variable set (in the child process of the test below), it also prints
/// the CPU the process then uses in 2 s of waiting, which only a process
/// of its own can measure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_child() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let options = StoreOptions {
        compact_every: Some(Duration::from_millis(10)),
        // Little held for the retries, so that they cost little CPU.
        ..full_options(256 << 10)
    };
    let store = Store::open_with(&path, StoreSettings::default(), options).unwrap();
    let feed = add_feed(&store, "noisy");
    for i in 0..256 {
        store.send(big_batch(feed, i, 8 * 1024)).await.unwrap();
    }
    wait_for_failure(&store).await;
    let s = store.clone();
    let asked = std::thread::spawn(move || s.compact_samples(telltale_model::Timestamp(T0 + DAY)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    if std::env::var_os(SPIN_CHILD).is_none() {
        assert!(!asked.is_finished(), "compaction ran on a failing store");
        let chunks = scalar(&raw(&path), "SELECT count(*) FROM sample_chunks");
        assert_eq!(chunks, 0);
        assert!(store.health().failure.is_some());
        return;
    }
    let before = cpu_ms();
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("cpu_ms {}", cpu_ms() - before);
    std::process::exit(0);
}

/// While commits fail, compaction waits; the writer must not busy-loop on
/// a due or requested run (it did, at 100 % of a core, before this test).
#[test]
fn a_full_database_does_not_make_the_writer_spin_on_compaction() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "writing::full_disk::spinning_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SPIN_CHILD, "1")
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let cpu: u64 = text
        .lines()
        .find_map(|l| l.split_once("cpu_ms ").map(|(_, n)| n))
        .unwrap_or_else(|| panic!("the child printed no CPU time: {text}"))
        .trim()
        .parse()
        .unwrap();
    // A failing store's retries cost ~300 ms in 2 s in a debug build (as
    // much with compaction off); a writer spinning on compaction took
    // 1,200–2,000.
    assert!(
        cpu < 700,
        "{cpu} ms of CPU in 2 s of a failing store's idling"
    );
}
