//! Scenario 5's event log: a feed page, a deep page and a search, on
//! feeds holding the default cap of events (100,000 each), their payloads
//! compressed as the store does (zstd with a dictionary per feed).

use crate::report::Section;
use crate::util::{fixed, ms, quantile, thousands};
use anyhow::{bail, Result};
use std::time::Instant;
use telltale_model::{FeedConfig, Timestamp, TransportKind};
use telltale_store::{EventQuery, EventRow, FeedOrigin, WriteBatch};

const SEC: i64 = 1_000_000;

/// A health JSON message like the demo fleet's: repeated keys, changing
/// values, and one in `rare` of them degraded.
fn payload(host: usize, i: u64, rng: &mut fastrand::Rng, rare: u64) -> String {
    let status = if i % rare == rare / 2 {
        "degraded"
    } else {
        "ok"
    };
    format!(
        r#"{{"host":"host-{host}","seq":{i},"status":"{status}","cpu":{{"user":{:.2},"system":{:.2},"idle":{:.2}}},"mem":{{"used_bytes":{},"total_bytes":17179869184}},"load":[{:.2},{:.2},{:.2}],"disks":[{{"mount":"/","used_pct":{:.1}}},{{"mount":"/var","used_pct":{:.1}}}],"net":{{"rx_bytes":{},"tx_bytes":{}}},"uptime_s":{}}}"#,
        rng.f64() * 60.0,
        rng.f64() * 20.0,
        rng.f64() * 30.0,
        rng.u64(4_000_000_000..9_000_000_000),
        rng.f64() * 4.0,
        rng.f64() * 3.0,
        rng.f64() * 2.0,
        40.0 + rng.f64() * 5.0,
        70.0 + rng.f64() * 5.0,
        i * 91_233,
        i * 40_118,
        1_000_000 + i
    )
}

fn timed<T>(times: &mut Vec<f64>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t = Instant::now();
    let out = f()?;
    times.push(ms(t.elapsed()));
    Ok(out)
}

/// Builds `feeds` × `per_feed` events at 1 per second, then measures.
pub async fn run(s: &mut Section, feeds: usize, per_feed: u64, queries: usize) -> Result<()> {
    const RARE: u64 = 100;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("events.db");
    let store = crate::util::bench_store(&path)?;
    let mut ids = Vec::new();
    for i in 0..feeds {
        let cfg = FeedConfig::new(
            format!("events-{i}"),
            TransportKind::Websocket,
            "ws://127.0.0.1:9/ws",
        );
        let st = store.clone();
        ids.push(
            tokio::task::spawn_blocking(move || st.upsert_feed(&cfg, FeedOrigin::Gui)).await??,
        );
    }
    let end = Timestamp::now().0 / SEC * SEC;
    let mut rng = fastrand::Rng::with_seed(7);
    let t0 = Instant::now();
    let mut batch = WriteBatch::new();
    let mut bytes = 0u64;
    for i in 0..per_feed {
        for (host, &feed_id) in ids.iter().enumerate() {
            let data = payload(host, i, &mut rng, RARE);
            bytes += data.len() as u64;
            batch.events.push(EventRow {
                feed_id,
                received_at: Timestamp(end - (per_feed - i) as i64 * SEC),
                server_id: None,
                event_type: None,
                size: data.len() as u32,
                data: data.into(),
                truncated: false,
            });
        }
        if i % 500 == 499 {
            store.send(std::mem::take(&mut batch)).await?;
        }
    }
    store.send(batch).await?;
    store.flush().await?;
    let build = t0.elapsed().as_secs_f64();
    let total = per_feed * feeds as u64;
    let st = store.clone();
    let stats = tokio::task::spawn_blocking(move || st.db_stats()).await??;
    if stats.events != total {
        bail!("wrote {total} events but {} are stored", stats.events);
    }
    let stored: u64 = stats.per_feed.iter().map(|f| f.event_bytes).sum();
    s.note(format!(
        "Event log: {} events ({feeds} feeds × {}, the default cap per feed) of {} B of health JSON on average, written in {build:.1} s ({} events/s); {} B each as stored (zstd with the feed's dictionary, with its row).",
        thousands(total as f64),
        thousands(per_feed as f64),
        bytes / total,
        thousands(total as f64 / build),
        stored / total
    ));

    let st = store.clone();
    let ids2 = ids.clone();
    let rows = tokio::task::spawn_blocking(move || -> Result<[(Vec<f64>, usize); 4]> {
        let mut out: [(Vec<f64>, usize); 4] = Default::default();
        for q in 0..queries {
            let feed_id = Some(ids2[q % ids2.len()]);
            let first = EventQuery {
                feed_id,
                ..EventQuery::default()
            };
            let page = timed(&mut out[0].0, || Ok(st.events(&first)?))?;
            out[0].1 = page.len();
            // A page in the middle of the feed's history.
            let Some(newest) = page.first() else {
                bail!("a feed's first page is empty");
            };
            let deep = EventQuery {
                feed_id,
                before_id: Some(newest.id - feeds as i64 * (per_feed as i64 / 2)),
                ..EventQuery::default()
            };
            out[1].1 = timed(&mut out[1].0, || Ok(st.events(&deep)?))?.len();
            // A term in one message of RARE, and one in none (every
            // payload read).
            for (k, term) in [(2, "DEGRADED"), (3, "no-such-host")] {
                let search = EventQuery {
                    feed_id,
                    search: Some(term.into()),
                    ..EventQuery::default()
                };
                out[k].1 = timed(&mut out[k].0, || Ok(st.events(&search)?))?.len();
            }
        }
        Ok(out)
    })
    .await??;
    let middle = format!(
        "event log: a page in the middle of {}",
        thousands(per_feed as f64)
    );
    let labels = [
        "event log: a feed's newest page (100)",
        middle.as_str(),
        "event log: search, 1 event in 100 matches",
        "event log: search, no event matches (reads all)",
    ];
    let keys = ["page", "deep_page", "search_rare", "search_none"];
    let mut page_p99 = 0.0;
    for (i, (mut times, n)) in rows.into_iter().enumerate() {
        let (p50, p99) = (quantile(&mut times, 0.5), quantile(&mut times, 0.99));
        if i == 0 {
            page_p99 = p99;
        }
        s.row(vec![
            labels[i].into(),
            format!("{} ms", fixed(p50, 2)),
            format!("{} ms", fixed(p99, 2)),
            format!("{n} events returned; {queries} queries"),
        ]);
        s.metric(&format!("eventlog_{}_p99_ms", keys[i]), p99);
    }
    s.target(
        "event-log page, p99",
        "≤ 20 ms",
        format!("{} ms", fixed(page_p99, 2)),
        Some(page_p99 <= 20.0),
    );
    store.close().await?;
    Ok(())
}
