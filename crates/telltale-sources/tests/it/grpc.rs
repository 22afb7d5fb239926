//! The `grpc` transport against grpcio, the reference implementation
//! (`tests/peers/grpc-server.py`: grpcio-health-checking, and reflection
//! v1alpha only, so the v1 → v1alpha fallback is exercised every time).

use crate::support::{fast_backoff, sink, Events, Running};
use std::time::Duration;
use telltale_model::duration::Dur;
use telltale_model::grpc::GrpcOptions;
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sources::grpc;
use telltale_testsupport::grpc::{proto_dir, write_descriptor_set, GrpcServer};

fn feed(url: &str, o: GrpcOptions) -> FeedConfig {
    let mut f = FeedConfig::new("g", TransportKind::Grpc, url);
    f.backoff = fast_backoff();
    f.grpc = Some(o);
    f
}

fn watch(request: &str) -> GrpcOptions {
    GrpcOptions {
        method: "fleet.v1.Fleet/Watch".into(),
        request: Some(request.into()),
        ..GrpcOptions::default()
    }
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    (Running::spawn(grpc::run, f, s), Events::new(rx))
}

/// The next `n` messages, as JSON.
async fn next(ev: &mut Events, n: usize) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for _ in 0..n {
        let m = ev.message().await;
        assert_eq!(m.event_type.as_deref(), Some("fleet.v1.Fleet/Watch"));
        out.push(serde_json::from_slice(&m.data).unwrap());
    }
    out
}

#[tokio::test]
async fn a_method_described_by_reflection_streams_messages_as_json() {
    let server = GrpcServer::start();
    let (run, mut ev) = start(feed(
        &server.url(),
        watch(r#"{"host":"web-1","every_ms":20}"#),
    ));
    ev.state("live").await;
    let got = next(&mut ev, 3).await;
    let seqs: Vec<i64> = got.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    // Field names as in the .proto, 64-bit numbers as numbers, enums by name.
    assert_eq!(
        got[1],
        serde_json::json!({"host": "web-1", "seq": 2, "cpu": 3.0, "state": "UP",
                           "disks": [{"mount": "/", "used": 1.0}]})
    );
    run.stop().await;
}

#[tokio::test]
async fn a_descriptor_set_or_a_proto_file_describes_the_method_without_reflection() {
    let server = GrpcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("fleet.binpb");
    write_descriptor_set(&set);
    let mut by_set = watch(r#"{"every_ms":20}"#);
    by_set.descriptor_set = Some(set.to_string_lossy().into());
    let mut by_proto = watch(r#"{"every_ms":20}"#);
    by_proto.proto_files = vec!["fleet.proto".into()];
    by_proto.proto_include = vec![proto_dir().to_string_lossy().into()];
    for o in [by_set, by_proto] {
        let (run, mut ev) = start(feed(&server.url(), o));
        ev.state("live").await;
        assert_eq!(next(&mut ev, 2).await[1]["seq"], 2);
        run.stop().await;
    }
    // A broken file is a config failure naming the field.
    let mut bad = watch("{}");
    bad.proto_files = vec!["nope.proto".into()];
    let (run, mut ev) = start(feed(&server.url(), bad));
    match ev.state("failed").await {
        ConnState::Failed { reason } => assert!(reason.contains("grpc.proto_files"), "{reason}"),
        _ => unreachable!(),
    }
    run.stop().await;
}

#[tokio::test]
async fn the_health_watch_follows_serving_and_not_serving() {
    let server = GrpcServer::start();
    let o = GrpcOptions {
        service: "fleet.v1.Fleet".into(),
        ..GrpcOptions::default()
    };
    let (run, mut ev) = start(feed(&server.url(), o));
    ev.state("live").await;
    let up = |m: &telltale_model::RawMessage| {
        m.transport_metrics
            .iter()
            .find(|(k, _)| *k == "up")
            .map(|(_, v)| *v)
    };
    let m = ev.message().await;
    assert_eq!(String::from_utf8_lossy(&m.data), r#"{"status":"SERVING"}"#);
    assert_eq!(up(&m), Some(1.0));
    server.signal("-USR1");
    let m = ev.message().await;
    assert_eq!(
        String::from_utf8_lossy(&m.data),
        r#"{"status":"NOT_SERVING"}"#
    );
    assert_eq!(up(&m), Some(0.0));
    server.signal("-USR1");
    assert_eq!(up(&ev.message().await), Some(1.0));
    run.stop().await;
}

#[tokio::test]
async fn a_server_restart_ends_the_stream_and_the_call_is_made_again() {
    let mut server = GrpcServer::start();
    let (run, mut ev) = start(feed(&server.url(), watch(r#"{"every_ms":20}"#)));
    ev.state("live").await;
    assert_eq!(next(&mut ev, 1).await[0]["seq"], 1);
    server.stop();
    // The status the stream ended with goes on the timeline.
    let issue = ev.issue("grpc").await;
    assert!(issue.message.contains("ended with"), "{}", issue.message);
    let reason = ev.retrying().await;
    assert!(reason.contains("ended"), "{reason}");
    server.restart();
    ev.expect_within("live again", Duration::from_secs(20), |e| {
        matches!(e, SourceEvent::State(ConnState::Live))
    })
    .await;
    // A new call: the stream starts over.
    let mut seq = next(&mut ev, 1).await[0]["seq"].as_i64().unwrap();
    while seq != 1 {
        seq = next(&mut ev, 1).await[0]["seq"].as_i64().unwrap();
        assert!(seq < 50, "the stream did not start over");
    }
    run.stop().await;
}

#[tokio::test]
async fn a_frozen_server_is_found_dead_by_http2_pings() {
    let server = GrpcServer::start();
    let mut o = watch(r#"{"every_ms":200000}"#);
    o.keep_alive = Dur::secs(1);
    o.keep_alive_timeout = Dur::secs(1);
    let (run, mut ev) = start(feed(&server.url(), o));
    ev.state("live").await;
    server.signal("-STOP");
    let reason = ev.retrying_within(Duration::from_secs(10)).await;
    server.signal("-CONT");
    assert!(reason.contains("ended"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn a_malformed_message_is_an_issue_and_the_call_is_made_again() {
    let server = GrpcServer::start();
    let mut o = watch("{}");
    o.method = "fleet.v1.Fleet/Garbage".into();
    let (run, mut ev) = start(feed(&server.url(), o));
    ev.state("live").await;
    let m = ev.message().await;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&m.data).unwrap()["seq"],
        1
    );
    let issue = ev.issue("malformed").await;
    assert!(
        issue.message.contains("fleet.v1.Sample"),
        "{}",
        issue.message
    );
    ev.retrying().await;
    run.stop().await;
}

#[tokio::test]
async fn a_refused_token_fails_slowly_and_the_right_one_streams() {
    let server = GrpcServer::with(Some("s3cret"), None);
    let mut f = feed(&server.url(), watch(r#"{"every_ms":20}"#));
    f.headers
        .insert("authorization".into(), "Bearer wrong".into());
    let (run, mut ev) = start(f.clone());
    match ev.state("failed").await {
        ConnState::Failed { reason } => {
            assert!(
                reason.contains("UNAUTHENTICATED") && reason.contains("metadata"),
                "{reason}"
            );
            assert!(!reason.contains("wrong"), "{reason}");
        }
        _ => unreachable!(),
    }
    run.stop().await;
    f.headers
        .insert("authorization".into(), "Bearer s3cret".into());
    let (run, mut ev) = start(f);
    ev.state("live").await;
    assert_eq!(next(&mut ev, 1).await[0]["seq"], 1);
    run.stop().await;
}

#[tokio::test]
async fn tls_with_the_servers_ca_and_an_unknown_method_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = telltale_testsupport::self_signed_cert(dir.path());
    let server = GrpcServer::with(None, Some((&cert, &key)));
    let mut o = watch(r#"{"every_ms":20}"#);
    o.ca_file = Some(cert.to_string_lossy().into());
    let (run, mut ev) = start(feed(&server.url(), o));
    ev.state("live").await;
    // The first message carries the days the 2-day certificate has left.
    let first = ev.message().await;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&first.data).unwrap()["seq"],
        1
    );
    let left = crate::support::metric(&first, "tls_days_left").unwrap();
    assert!(left > 1.9 && left <= 2.0, "{left}");
    run.stop().await;
    // Without the CA the certificate is not trusted.
    let (run, mut ev) = start(feed(&server.url(), watch("{}")));
    let reason = ev.retrying().await;
    assert!(reason.contains("cannot connect"), "{reason}");
    run.stop().await;
    // A method the service does not have: failed, naming what it has.
    let plain = GrpcServer::start();
    let mut o = watch("{}");
    o.method = "fleet.v1.Fleet/Nope".into();
    let (run, mut ev) = start(feed(&plain.url(), o));
    match ev.state("failed").await {
        ConnState::Failed { reason } => {
            assert!(
                reason.contains("`Watch`") && reason.contains("`Garbage`"),
                "{reason}"
            )
        }
        _ => unreachable!(),
    }
    run.stop().await;
}
