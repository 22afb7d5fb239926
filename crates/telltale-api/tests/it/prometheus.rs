//! Prometheus counters through the whole runtime, against Debian's
//! `prometheus-node-exporter`: `node_cpu_seconds_total` is a counter, so it
//! is stored as a per-second rate. Each CPU spends one second per second in
//! some mode, so the rates of all modes add up to the number of CPUs, and
//! none is below 0 or above it; the same family with `rate = false` keeps
//! the ever-growing seconds.

use crate::start_runtime as runtime;
use std::process::Command;
use std::time::{Duration, Instant};
use telltale_testsupport::Peer;

fn exporter() -> Peer {
    let bin = "/usr/bin/prometheus-node-exporter";
    assert!(
        std::path::Path::new(bin).exists(),
        "prometheus-node-exporter is not installed: run `bash scripts/setup.sh` (Debian package prometheus-node-exporter)"
    );
    let mut peer = Peer::new();
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{}", peer.port))
        .args(["--collector.disable-defaults", "--collector.cpu"]);
    peer.start("prometheus-node-exporter", cmd);
    peer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_cpu_seconds_total_is_stored_as_a_rate_between_0_and_the_cpu_count() {
    let node = exporter();
    let url = format!("http://127.0.0.1:{}/metrics", node.port);
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        text.contains("# TYPE node_cpu_seconds_total counter"),
        "{text}"
    );
    let cpus = text
        .lines()
        .filter(|l| l.starts_with("node_cpu_seconds_total{") && l.contains("mode=\"idle\""))
        .count() as f64;
    assert!(cpus >= 1.0, "{text}");

    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir).await;
    let api = rt.api();
    let feed: telltale_api::FeedConfig = serde_json::from_value(serde_json::json!({
        "name": "node",
        "transport": "poll",
        "url": url,
        "format": "prometheus",
        "poll": {"interval": "1s"},
        "metric": [
            {"name": "cpu", "prometheus": "node_cpu_seconds_total", "keep_labels": ["mode"]},
            {"name": "cpu_seconds", "prometheus": "node_cpu_seconds_total", "keep_labels": ["mode"], "rate": false},
        ],
    }))
    .unwrap();
    api.upsert_feed(feed).await.unwrap();

    // Four scrapes (three rates per mode) stored and readable.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (series, now) = loop {
        let series = api.get_feed("node").await.unwrap().series;
        let now = telltale_model::Timestamp::now().as_millis() + 1;
        let idle = series.iter().find(|s| {
            s.metric == "cpu_seconds" && s.labels.get("mode").map(String::as_str) == Some("idle")
        });
        if let Some(idle) = idle {
            let raw = api
                .series("node", "cpu_seconds", &idle.labels, now - 60_000, now, 1000)
                .await
                .unwrap();
            if raw.points.len() >= 4 {
                break (series, now);
            }
        }
        assert!(Instant::now() < deadline, "not scraped 4 times: {series:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut newest_total = 0.0;
    let mut modes = 0;
    for s in series.iter().filter(|s| s.metric == "cpu") {
        let v = api
            .series("node", "cpu", &s.labels, now - 60_000, now, 1000)
            .await
            .unwrap();
        assert!(v.points.len() >= 2, "{v:?}");
        for p in &v.points {
            assert!(
                p.min >= 0.0 && p.max <= cpus * 1.1,
                "mode {:?}: {} to {} s/s with {cpus} CPUs",
                s.labels,
                p.min,
                p.max
            );
        }
        newest_total += v.points.last().unwrap().avg;
        modes += 1;
    }
    assert!(modes >= 2, "{series:?}");
    assert!(
        newest_total > cpus * 0.5 && newest_total < cpus * 1.5,
        "all modes add up to {newest_total} s/s with {cpus} CPUs"
    );
    // The raw total is seconds since boot: far above the CPU count.
    let idle = series
        .iter()
        .find(|s| {
            s.metric == "cpu_seconds" && s.labels.get("mode").map(String::as_str) == Some("idle")
        })
        .unwrap();
    let raw = api
        .series("node", "cpu_seconds", &idle.labels, now - 60_000, now, 1000)
        .await
        .unwrap();
    assert!(raw.points.len() >= 4, "{raw:?}");
    assert!(raw.points[0].avg > cpus * 10.0, "{raw:?}");
    drop(node);
}
