//! The writer's page cache follows the pages it uses instead of growing
//! with the file: after a release its next commit reads its pages back from
//! the file, and without one it reads nothing. Reads are counted by the
//! kernel (`rchar` in `/proc/self/io`), so this test binary runs alone.
#![cfg(target_os = "linux")]

use crate::common::*;
use std::time::Duration;
use telltale_model::config::StoreSettings;
use telltale_store::{Store, StoreOptions, WriteBatch};

/// Bytes this process has read with read-like system calls so far.
fn bytes_read() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("an rchar line in /proc/self/io")
}

async fn commit_one(store: &Store, feed: i64, i: i64) {
    let mut batch = WriteBatch::new();
    batch.events.push(event(feed, T0 + i * SEC, "{\"cpu\": 1}"));
    batch
        .samples
        .push(sample(feed, "cpu", T0 + i * SEC, i as f64));
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
}

/// Bytes read by the commit that follows a commit made after
/// `release_cache_every` had passed.
async fn read_by_next_commit(release_cache_every: Option<Duration>) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        release_cache_every,
        ..options()
    };
    let store =
        Store::open_with(&dir.path().join("t.db"), StoreSettings::default(), options).unwrap();
    let feed = add_feed(&store, "a");
    for i in 0..20 {
        commit_one(&store, feed, i).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The release, when due, happens right after this commit.
    commit_one(&store, feed, 20).await;
    let before = bytes_read();
    commit_one(&store, feed, 21).await;
    let read = bytes_read() - before;
    store.close().await.unwrap();
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_cache_is_read_back_and_a_kept_one_is_not() {
    // Wake-ups of the runtimes read 8 bytes at a time; a page is 4,096.
    let kept = read_by_next_commit(None).await;
    assert!(
        kept < 4096,
        "a commit with a warm cache read {kept} bytes from the file"
    );
    let released = read_by_next_commit(Some(Duration::from_millis(200))).await;
    assert!(
        released >= 4096,
        "after a release the next commit read only {released} bytes: was the cache released?"
    );
}
