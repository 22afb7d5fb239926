//! The disk budget: over it, retention deletes by size, oldest payloads
//! first, and fairly: a noisy feed loses its old history, quiet feeds keep
//! theirs.

use crate::common::*;
use telltale_model::config::StoreSettings;
use telltale_model::duration::ByteSize;
use telltale_model::Timestamp;
use telltale_store::{EventQuery, Order, WriteBatch};

/// Printable noise (payloads are compressed: a pattern would not fill).
fn noise(seed: i64, n: usize) -> String {
    let mut x = (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + (x % 94) as u8)
        })
        .collect()
}

fn used_bytes(path: &std::path::Path) -> u64 {
    let c = raw(path);
    let p = |n: &str| {
        c.query_row(&format!("PRAGMA {n}"), [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    ((p("page_count") - p("freelist_count")) * p("page_size")) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_budget_the_noisy_feed_loses_its_oldest_payloads_and_quiet_feeds_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let budget = 6u64 << 20;
    let store = open_with(
        &path,
        StoreSettings {
            disk_budget: Some(ByteSize(budget)),
            ..StoreSettings::default()
        },
    );
    let noisy = add_feed(&store, "noisy");
    let quiet = [add_feed(&store, "quiet-1"), add_feed(&store, "quiet-2")];
    // 16 MiB of payloads from one feed, 200 KiB from each of two others,
    // and a sample per event: all within the age limits.
    let start = T0 - 3600 * SEC;
    for chunk in 0..32 {
        let mut b = WriteBatch::new();
        for i in chunk * 512..(chunk + 1) * 512 {
            let t = start + i * 200_000;
            b.events.push(event(noisy, t, &noise(i, 1024)));
            b.samples.push(sample(noisy, "cpu", t, i as f64));
        }
        if chunk < 2 {
            for (k, &q) in quiet.iter().enumerate() {
                for i in chunk * 100..(chunk + 1) * 100 {
                    let t = start + i * 10 * SEC;
                    b.events
                        .push(event(q, t, &noise(1_000_000 * (k as i64 + 1) + i, 1024)));
                    b.samples.push(sample(q, "cpu", t, i as f64));
                }
            }
        }
        store.send(b).await.unwrap();
    }
    store.flush().await.unwrap();
    let before = used_bytes(&path);
    assert!(
        before > 2 * budget,
        "the test must start over budget: {before}"
    );

    let report = store.run_retention(Timestamp(T0)).unwrap();
    println!("{report:?}");
    assert_eq!(report.used_bytes, Some(before));
    assert!(report.events_by_budget > 0);
    let after = used_bytes(&path);
    assert!(
        after <= budget,
        "{after} bytes in use after the run, budget {budget}"
    );
    // Quiet feeds keep every event; the noisy one keeps its newest.
    for q in quiet {
        assert_eq!(store.event_count(Some(q)).unwrap(), 200);
    }
    let left = store.event_count(Some(noisy)).unwrap();
    assert!(left > 100 && left < 16_384, "{left} noisy events left");
    let oldest = store
        .events(&EventQuery {
            feed_id: Some(noisy),
            order: Order::OldestFirst,
            limit: 1,
            ..EventQuery::default()
        })
        .unwrap();
    let newest_kept = (oldest[0].received_at.0 - start) / 200_000;
    assert_eq!(newest_kept, 16_384 - left as i64, "the oldest went first");
    // Within the budget, a second run deletes nothing more.
    let again = store.run_retention(Timestamp(T0)).unwrap();
    assert_eq!(
        again.events_by_budget + again.samples_by_budget,
        0,
        "{again:?}"
    );
}
