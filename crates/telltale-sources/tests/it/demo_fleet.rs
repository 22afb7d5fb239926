//! The demo fleet's feeds for the newer transports, exactly as
//! `telltale-sim config` writes them, against the sim's own routes: each
//! is live and its messages extract without a problem.

use crate::support::{sink, Events, Running};
use std::time::Duration;
use telltale_model::extract::Extractor;
use telltale_model::FeedConfig;
use telltale_sim::{Incident, Sim, SimConfig, SimHandle};

/// The demo fleet's five hosts.
const HOSTS: usize = 5;

/// A sim of the demo's size and the named feed of its config.
async fn demo_feed(cfg: SimConfig, name: &str) -> (SimHandle, FeedConfig) {
    let sim = Sim::start(SimConfig {
        hosts: HOSTS,
        ..cfg
    })
    .await
    .unwrap();
    let text = telltale_sim::feeds_toml(&sim.base_url(), HOSTS);
    let file = telltale_model::ConfigFile::parse("sim.toml", &text);
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let feed = file.feeds.into_iter().find(|f| f.name == name).unwrap();
    (sim, feed)
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    (
        Running::spawn(telltale_sources::run_now, f, s),
        Events::new(rx),
    )
}

fn fast() -> SimConfig {
    SimConfig {
        rate: 20.0,
        incident: None,
        ..SimConfig::default()
    }
}

/// Three messages with every metric of the health payload, healthy.
async fn reads_the_health_payload(feed: &str) {
    let (sim, f) = demo_feed(fast(), feed).await;
    let x = Extractor::new(&f).unwrap();
    let (run, mut ev) = start(f);
    ev.state("live").await;
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let m = ev.message().await;
        let e = x.extract(&m);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        let names: Vec<&str> = e.samples.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["cpu", "mem", "disk", "load", "latency_ms"]);
        assert_eq!(e.health.map(|h| h.healthy), Some(true));
        let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
        let health = v.pointer("/data/health").unwrap_or(&v);
        seqs.push(health["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, [1, 2, 3], "one message per sample, from the first");
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_graphql_feed_reads_the_sim() {
    reads_the_health_payload("host-5").await;
}

#[tokio::test]
async fn the_socketio_feed_reads_the_sim() {
    reads_the_health_payload("host-4").await;
}

/// The gRPC health watch follows the host: `NOT_SERVING` during host-3's
/// incident, then `SERVING`, each status once, and `up` 0 then 1.
#[tokio::test]
async fn the_grpc_health_feed_follows_the_hosts_incident() {
    let cfg = SimConfig {
        incident: Some(Incident {
            host: "host-3".into(),
            start_after: Duration::ZERO,
            ramp: Duration::ZERO,
            hold: Duration::from_secs(3),
        }),
        ..fast()
    };
    let (sim, f) = demo_feed(cfg, "host-3-grpc").await;
    let x = Extractor::new(&f).unwrap();
    let (run, mut ev) = start(f);
    ev.state("live").await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let m = ev.message().await;
        let e = x.extract(&m);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
        let up: Vec<f64> = e.samples.iter().map(|s| s.value).collect();
        seen.push((
            v["status"].as_str().unwrap().to_string(),
            up,
            e.health.map(|h| h.healthy),
        ));
    }
    assert_eq!(
        seen,
        [
            ("NOT_SERVING".to_string(), vec![0.0], Some(false)),
            ("SERVING".to_string(), vec![1.0], Some(true)),
        ]
    );
    run.stop().await;
    sim.shutdown().await;
}
