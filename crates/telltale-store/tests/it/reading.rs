//! Rollups, series queries and tier choice, events, samples, timeline.

use crate::common::*;
use std::collections::BTreeMap;
use std::time::Instant;
use telltale_model::config::StoreSettings;
use telltale_model::duration::Dur;
use telltale_model::Timestamp;
use telltale_store::{
    EventQuery, Order, SampleQuery, SeriesQuery, Store, Tier, WriteBatch, HOUR_US, MINUTE_US,
};

/// (min, max, sum, count) per bucket.
type Aggs = BTreeMap<(i64, i64), (f64, f64, f64, i64)>;

fn brute_force(samples: &[(i64, i64, f64)], width: i64) -> Aggs {
    let mut out = Aggs::new();
    for &(series, ts, v) in samples {
        let b = ts.div_euclid(width) * width;
        let e = out
            .entry((series, b))
            .or_insert((f64::INFINITY, f64::NEG_INFINITY, 0.0, 0));
        e.0 = e.0.min(v);
        e.1 = e.1.max(v);
        e.2 += v;
        e.3 += 1;
    }
    out
}

fn stored_rollups(path: &std::path::Path, table: &str) -> Aggs {
    let c = raw(path);
    let mut stmt = c
        .prepare(&format!(
            "SELECT series_id, bucket, min, max, sum, count FROM {table}"
        ))
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                (r.get(0)?, r.get(1)?),
                (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn assert_aggs_equal(got: &Aggs, want: &Aggs, what: &str) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: buckets"
    );
    for (k, w) in want {
        let g = got[k];
        assert_eq!(
            (g.0, g.1, g.3),
            (w.0, w.1, w.3),
            "{what} {k:?}: min/max/count"
        );
        assert!(
            (g.2 - w.2).abs() <= 1e-9 * w.2.abs().max(1.0),
            "{what} {k:?}: sum {} vs {}",
            g.2,
            w.2
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_a_brute_force_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let settings = StoreSettings {
        commit_rows: 500, // many commits, so buckets are merged across transactions
        ..StoreSettings::default()
    };
    let store = open_with(&path, settings);
    let a = add_feed(&store, "a");
    let b = add_feed(&store, "b");
    fastrand::seed(7);
    let mut t = T0 - 30 * MIN;
    for _ in 0..40 {
        let mut batch = WriteBatch::new();
        for _ in 0..250 {
            t += fastrand::i64(0..2 * SEC);
            let (feed, metric) = match fastrand::u8(0..4) {
                0 => (a, "cpu"),
                1 => (a, "mem"),
                2 => (b, "cpu"),
                _ => (b, "lat"),
            };
            let v = (fastrand::f64() - 0.3) * 1000.0;
            batch.samples.push(sample(feed, metric, t, v));
            // Duplicates in the same µs exercise the bump inside a bucket.
            if fastrand::u8(0..10) == 0 {
                batch.samples.push(sample(feed, metric, t, -v));
            }
        }
        store.send(batch).await.unwrap();
    }
    store.flush().await.unwrap();

    // Brute force over what is actually stored (timestamps after bumping).
    let mut raw_samples = Vec::new();
    for feed in [a, b] {
        let mut after = None;
        loop {
            let page = store
                .samples(&SampleQuery {
                    feed_id: feed,
                    from: None,
                    until: None,
                    after,
                    limit: 777,
                })
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.series_id, last.ts));
            raw_samples.extend(page.iter().map(|s| (s.series_id, s.ts.0, s.value)));
        }
    }
    assert_eq!(raw_samples.len() as u64, store.sample_count().unwrap());
    assert!(raw_samples.len() > 10_000);
    assert_aggs_equal(
        &stored_rollups(&path, "rollup_1m"),
        &brute_force(&raw_samples, MINUTE_US),
        "1m",
    );
    assert_aggs_equal(
        &stored_rollups(&path, "rollup_1h"),
        &brute_force(&raw_samples, HOUR_US),
        "1h",
    );

    // query_series agrees with the brute force at every tier.
    let series = store.list_series(a).unwrap();
    let cpu = series.iter().find(|s| s.metric == "cpu").unwrap().id;
    let mine: Vec<(i64, i64, f64)> = raw_samples.iter().copied().filter(|s| s.0 == cpu).collect();
    for (from, to, max_points, tier) in [
        (T0 - 30 * MIN, T0 + 3 * HOUR, 2000, Tier::Raw),
        (T0 - 2 * HOUR, T0 + 4 * HOUR, 100, Tier::Minute),
        (T0 - 100 * HOUR, T0 + 100 * HOUR, 100, Tier::Hour),
    ] {
        let data = store
            .query_series(&SeriesQuery {
                series_id: cpu,
                from: Timestamp(from),
                to: Timestamp(to),
                max_points,
            })
            .unwrap();
        assert_eq!(data.tier, tier);
        assert!(data.points.len() <= max_points);
        let want = brute_force(&mine, data.bucket_us);
        assert_eq!(data.points.len(), want.len(), "{tier}");
        for (p, ((_, b), w)) in data.points.iter().zip(&want) {
            assert_eq!(p.ts.0, *b);
            assert_eq!((p.min, p.max, p.count), (w.0, w.1, w.3 as u64));
            assert!((p.avg - w.2 / w.3 as f64).abs() < 1e-6);
        }
    }
}

/// Writes `days` of one sample per second (with one spike) for one series.
async fn one_hz(store: &Store, feed: i64, start: i64, days: i64, spike_at: i64) {
    let total = days * 86_400;
    let mut batch = WriteBatch::new();
    for i in 0..total {
        let ts = start + i * SEC;
        let v = if ts == spike_at {
            1000.0
        } else {
            ((i % 600) as f64 / 600.0).sin().abs()
        };
        batch.samples.push(sample(feed, "v", ts, v));
        if batch.samples.len() == 20_000 {
            store.send(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_follows_the_range_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        samples_max_age: Dur::secs(2 * 86_400),
        ..StoreSettings::default()
    };
    let store = open_with(&dir.path().join("t.db"), settings);
    let a = add_feed(&store, "a");
    let start = T0 - 7 * DAY;
    let spike = start + 3 * DAY + 12_345 * SEC;
    let t = Instant::now();
    one_hz(&store, a, start, 7, spike).await;
    println!(
        "wrote 7 days of 1 Hz ({} samples) in {:.2?}",
        7 * 86_400,
        t.elapsed()
    );
    let id = store.list_series(a).unwrap()[0].id;
    let q = |from: i64, to: i64, max_points: usize| {
        store
            .query_series(&SeriesQuery {
                series_id: id,
                from: Timestamp(from),
                to: Timestamp(to),
                max_points,
            })
            .unwrap()
    };

    // Ten minutes: raw samples, one per point.
    let d = q(T0 - 20 * MIN, T0 - 10 * MIN, 1000);
    assert_eq!(d.tier, Tier::Raw);
    assert_eq!(d.points.len(), 600);
    assert!(d.points.iter().all(|p| p.count == 1));

    // Seven days at 1000 points: the 1-minute tier, and fast.
    let t = Instant::now();
    let d = q(start, T0, 1000);
    let took = t.elapsed();
    println!(
        "7 days at 1000 points: {} points from {} in {took:.2?}",
        d.points.len(),
        d.tier
    );
    assert_eq!(d.tier, Tier::Minute);
    assert!(d.points.len() <= 1000 && d.points.len() > 500);
    assert_eq!(d.points.iter().map(|p| p.count).sum::<u64>(), 7 * 86_400);
    // The single spike survives as a maximum, in exactly one point.
    let spiky: Vec<_> = d.points.iter().filter(|p| p.max == 1000.0).collect();
    assert_eq!(spiky.len(), 1);
    assert!(spiky[0].ts.0 <= spike && spike < spiky[0].ts.0 + d.bucket_us);
    // A year: hourly rollups, spike still there.
    let d = q(T0 - 365 * DAY, T0, 1000);
    assert_eq!(d.tier, Tier::Hour);
    assert_eq!(d.points.iter().filter(|p| p.max == 1000.0).count(), 1);

    // max_points is respected whatever the range and alignment.
    for max_points in [1usize, 2, 3, 7, 10, 100, 999, 5000] {
        for (from, to) in [
            (start, T0),
            (start + 17, T0 - 3 * HOUR - 11),
            (T0 - 13 * MIN - 7, T0 - MIN),
            (T0 - 3 * SEC, T0),
        ] {
            let d = q(from, to, max_points);
            assert!(
                d.points.len() <= max_points,
                "{} points for max {max_points} over {}..{} ({})",
                d.points.len(),
                from,
                to,
                d.tier
            );
            assert!(d.points.windows(2).all(|w| w[0].ts < w[1].ts));
        }
    }
    assert!(store
        .query_series(&SeriesQuery {
            series_id: id,
            from: Timestamp(start),
            to: Timestamp(T0),
            max_points: 0,
        })
        .is_err());
    assert!(q(T0, T0, 10).points.is_empty());

    // Retention deletes raw samples older than two days; the same short
    // range five days ago is then answered from the 1-minute tier.
    let old_from = T0 - 5 * DAY;
    assert_eq!(q(old_from, old_from + 10 * MIN, 1000).tier, Tier::Raw);
    let report = store.run_retention(Timestamp(T0)).unwrap();
    assert_eq!(report.samples, 5 * 86_400);
    let d = q(old_from, old_from + 10 * MIN, 1000);
    assert_eq!(d.tier, Tier::Minute);
    assert_eq!(d.points.len(), 10);
    assert_eq!(d.points.iter().map(|p| p.count).sum::<u64>(), 600);
    // Recent ranges still come from raw samples.
    assert_eq!(q(T0 - 20 * MIN, T0 - 10 * MIN, 1000).tier, Tier::Raw);
    // And the spike, now only in rollups, is still visible.
    let d = q(start, T0, 1000);
    assert_eq!(d.points.iter().filter(|p| p.max == 1000.0).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_page_both_ways_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let a = add_feed(&store, "a");
    let b = add_feed(&store, "b");
    let mut batch = WriteBatch::new();
    for i in 0..250i64 {
        // Every fifth pair shares a timestamp, to exercise the id tie-break.
        let ts = T0 + (i - i % 5 / 4) * SEC;
        let feed = if i % 3 == 0 { b } else { a };
        let text = if i % 10 == 0 {
            format!("{{\"i\":{i},\"msg\":\"Hello World 50%_off\"}}")
        } else {
            format!("{{\"i\":{i}}}")
        };
        let mut e = event(feed, ts, &text);
        e.server_id = Some(format!("s{i}"));
        e.event_type = Some("message".into());
        if i == 7 {
            e.size = 100_000;
            e.truncated = true;
        }
        batch.events.push(e);
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();

    let index = |e: &telltale_store::StoredEvent| -> i64 {
        let v: serde_json::Value = serde_json::from_slice(&e.data).unwrap();
        v["i"].as_i64().unwrap()
    };
    let expected_a: Vec<i64> = (0..250).filter(|i| i % 3 != 0).collect();

    for (order, cursor_before) in [(Order::NewestFirst, true), (Order::OldestFirst, false)] {
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .events(&EventQuery {
                    feed_id: Some(a),
                    before_id: if cursor_before { cursor } else { None },
                    after_id: if cursor_before { None } else { cursor },
                    limit: 40,
                    order,
                    ..EventQuery::default()
                })
                .unwrap();
            assert!(page.len() <= 40);
            let Some(last) = page.last() else { break };
            cursor = Some(last.id);
            got.extend(page.iter().map(index));
        }
        let mut want = expected_a.clone();
        if order == Order::NewestFirst {
            want.reverse();
        }
        assert_eq!(got, want, "{order:?}");
    }

    // All feeds, newest first: in arrival order (these arrived in time
    // order), paged by id.
    let all = store
        .events(&EventQuery {
            limit: 1000,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 250);
    assert!(all
        .windows(2)
        .all(|w| w[0].id > w[1].id && w[0].received_at >= w[1].received_at));
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .events(&EventQuery {
                before_id: cursor,
                limit: 64,
                ..EventQuery::default()
            })
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        paged.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(paged, all.iter().map(|e| e.id).collect::<Vec<_>>());
    let seven = all.iter().find(|e| index(e) == 7).unwrap();
    assert!(seven.truncated);
    assert_eq!(seven.size, 100_000);
    assert_eq!(seven.server_id.as_deref(), Some("s7"));
    assert_eq!(seven.event_type.as_deref(), Some("message"));

    // Search is a case-insensitive substring; LIKE wildcards are literal.
    let search = |s: &str, feed: Option<i64>| -> Vec<i64> {
        store
            .events(&EventQuery {
                feed_id: feed,
                search: Some(s.into()),
                limit: 1000,
                order: Order::OldestFirst,
                ..EventQuery::default()
            })
            .unwrap()
            .iter()
            .map(index)
            .collect()
    };
    let tens: Vec<i64> = (0..250).step_by(10).collect();
    assert_eq!(search("hello WORLD", None), tens);
    assert_eq!(search("50%_OFF", None), tens);
    assert!(search("50%x", None).is_empty());
    assert!(search("5_%", None).is_empty());
    let tens_a: Vec<i64> = tens.iter().copied().filter(|i| i % 3 != 0).collect();
    assert_eq!(search("hello", Some(a)), tens_a);

    // Time bounds are half-open.
    let window = store
        .events(&EventQuery {
            from: Some(Timestamp(T0 + 10 * SEC)),
            until: Some(Timestamp(T0 + 20 * SEC)),
            limit: 1000,
            order: Order::OldestFirst,
            ..EventQuery::default()
        })
        .unwrap();
    assert!(window
        .iter()
        .all(|e| e.received_at.0 >= T0 + 10 * SEC && e.received_at.0 < T0 + 20 * SEC));
    assert_eq!(
        window.len(),
        all.iter()
            .filter(|e| e.received_at.0 >= T0 + 10 * SEC && e.received_at.0 < T0 + 20 * SEC)
            .count()
    );
    assert!(store
        .events(&EventQuery {
            limit: 0,
            ..EventQuery::default()
        })
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_export_pages_through_every_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let a = add_feed(&store, "a");
    let mut batch = WriteBatch::new();
    for i in 0..100 {
        for (m, l) in [("cpu", "0"), ("cpu", "1"), ("mem", "")] {
            let labels: &[(&str, &str)] = if l.is_empty() { &[] } else { &[("cpu", l)] };
            batch
                .samples
                .push(labelled(a, m, labels, T0 + i * SEC, i as f64));
        }
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .samples(&SampleQuery {
                feed_id: a,
                from: Some(Timestamp(T0 + 10 * SEC)),
                until: Some(Timestamp(T0 + 90 * SEC)),
                after,
                limit: 33,
            })
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.series_id, last.ts));
        all.extend(page);
    }
    assert_eq!(all.len(), 3 * 80);
    assert!(all
        .windows(2)
        .all(|w| (w[0].series_id, w[0].ts) < (w[1].series_id, w[1].ts)));
    let cpu1 = all
        .iter()
        .filter(|s| s.metric == "cpu" && s.labels.get("cpu").map(String::as_str) == Some("1"))
        .count();
    assert_eq!(cpu1, 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_holds_states_and_issues() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let a = add_feed(&store, "a");
    let b = add_feed(&store, "b");
    use telltale_model::message::FeedIssue;
    use telltale_model::ConnState;
    use telltale_store::TimelineRow;
    let mut batch = WriteBatch::new();
    batch
        .timeline
        .push(TimelineRow::state(a, Timestamp(T0), &ConnState::Connecting));
    batch
        .timeline
        .push(TimelineRow::state(a, Timestamp(T0 + SEC), &ConnState::Live));
    batch.timeline.push(TimelineRow::issue(
        a,
        Timestamp(T0 + 2 * SEC),
        &ConnState::Live,
        &FeedIssue {
            kind: "oversize".into(),
            message: "a 20 MiB frame was cut to 64 KiB".into(),
        },
    ));
    batch.timeline.push(TimelineRow::state(
        a,
        Timestamp(T0 + 3 * SEC),
        &ConnState::Failed {
            reason: "gone".into(),
        },
    ));
    batch.timeline.push(state(b, T0, "live"));
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();

    let t = store
        .timeline(a, Timestamp(T0), Timestamp(T0 + HOUR), 100)
        .unwrap();
    let kinds: Vec<(&str, &str)> = t
        .iter()
        .map(|e| (e.kind.as_str(), e.state.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("state", "connecting"),
            ("state", "live"),
            ("oversize", "live"),
            ("state", "failed")
        ]
    );
    assert_eq!(
        t[2].detail.as_deref(),
        Some("a 20 MiB frame was cut to 64 KiB")
    );
    let failed: ConnState = serde_json::from_str(t[3].detail.as_deref().unwrap()).unwrap();
    assert_eq!(
        failed,
        ConnState::Failed {
            reason: "gone".into()
        }
    );
    // A limit keeps the newest entries, still oldest first.
    let t = store
        .timeline(a, Timestamp(T0), Timestamp(T0 + HOUR), 2)
        .unwrap();
    assert_eq!(
        t.iter().map(|e| e.ts.0 - T0).collect::<Vec<_>>(),
        [2 * SEC, 3 * SEC]
    );
    // Ranges are half-open.
    let t = store
        .timeline(a, Timestamp(T0 + SEC), Timestamp(T0 + 2 * SEC), 100)
        .unwrap();
    assert_eq!(t.len(), 1);
    // The state in effect at an instant ignores issues.
    let s = store
        .state_at(a, Timestamp(T0 + 2 * SEC + 1))
        .unwrap()
        .unwrap();
    assert_eq!(s.state, "live");
    assert_eq!(s.kind, "state");
    assert!(store.state_at(a, Timestamp(T0 - 1)).unwrap().is_none());
}
