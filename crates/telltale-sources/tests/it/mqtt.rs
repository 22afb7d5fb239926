//! The MQTT transport against Debian's `mosquitto` (started on a loopback
//! port per test, killed when the test ends), in both protocol versions.
//! Messages are published by a second client through the same broker.
//! Only the malformed packet comes from a fake broker: a real one never
//! sends one.

use crate::support::{fast_backoff, sink, Events, Running};
use rumqttc::QoS;
use std::time::Duration;
use telltale_model::duration::{ByteSize, Dur};
use telltale_model::mqtt::{MqttOptions as Options, MqttTopic, MqttVersion};
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sources::mqtt;
use telltale_testsupport::mqtt::{Broker, ClientCert, Publisher, WssRelay};

fn feed(url: &str, version: MqttVersion, topics: &[(&str, u8, &[&str])]) -> FeedConfig {
    let mut f = FeedConfig::new("mqtt", TransportKind::Mqtt, url);
    f.backoff = fast_backoff();
    f.mqtt = Some(Options {
        version,
        topics: topics
            .iter()
            .map(|(filter, qos, labels)| MqttTopic {
                filter: filter.to_string(),
                qos: *qos,
                labels: labels.iter().map(|l| l.to_string()).collect(),
            })
            .collect(),
        ..Options::default()
    });
    f
}

/// Runs `f`'s MQTT source; its events are read from the [`Events`].
fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    (Running::spawn(mqtt::run, f, s), Events::new(rx))
}

/// Waits for a message on a topic; returns its payload as text.
async fn next_on(ev: &mut Events, topic: &str) -> (String, Vec<(String, String)>) {
    let want = topic.to_string();
    match ev
        .expect(
            &format!("a message on {topic}"),
            move |e| matches!(e, SourceEvent::Message(m) if m.event_type.as_deref() == Some(&want)),
        )
        .await
    {
        SourceEvent::Message(m) => (String::from_utf8_lossy(&m.data).into_owned(), m.labels),
        _ => unreachable!(),
    }
}

/// Publishes a retained marker and waits for it: from then on, the feed's
/// subscription is in place.
async fn subscribed(p: &Publisher, ev: &mut Events, topic: &str) {
    p.send(topic, QoS::AtLeastOnce, true, "ready").await;
    let retained = format!("{topic} (retained)");
    ev.expect("the marker", move |e| {
        matches!(e, SourceEvent::Message(m)
            if m.event_type.as_deref() == Some(&retained) || m.event_type.as_deref() == Some(topic))
    })
    .await;
}

async fn happy_path(version: MqttVersion) {
    let broker = Broker::start();
    let p = Publisher::connect(broker.port).await;
    // Retained before the feed subscribes: delivered on subscribing, marked.
    p.send("fleet/db/health", QoS::AtLeastOnce, true, r#"{"up":1}"#)
        .await;
    let f = feed(&broker.url(), version, &[("fleet/+/health", 0, &["host"])]);
    let (run, mut ev) = start(f);
    ev.state("live").await;
    let (body, labels) = next_on(&mut ev, "fleet/db/health (retained)").await;
    assert_eq!(body, r#"{"up":1}"#);
    assert_eq!(labels, vec![("host".to_string(), "db".to_string())]);
    for i in 0..20 {
        p.send(
            "fleet/web-1/health",
            QoS::AtMostOnce,
            false,
            format!(r#"{{"n":{i}}}"#),
        )
        .await;
        // Not subscribed: never delivered.
        p.send("fleet/web-1/load", QoS::AtMostOnce, false, "x")
            .await;
    }
    let mut got = Vec::new();
    for _ in 0..20 {
        let (body, labels) = next_on(&mut ev, "fleet/web-1/health").await;
        assert_eq!(labels, vec![("host".to_string(), "web-1".to_string())]);
        got.push(body);
    }
    let want: Vec<String> = (0..20).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    assert_eq!(got, want);
    assert!(
        !ev.all_text().contains("fleet/web-1/load"),
        "a topic outside the filter was delivered: {}",
        ev.log()
    );
    run.stop().await;
}

#[tokio::test]
async fn mqtt_311_delivers_in_order_with_topic_labels_and_retained_marked() {
    happy_path(MqttVersion::V311).await;
}

#[tokio::test]
async fn mqtt_5_delivers_in_order_with_topic_labels_and_retained_marked() {
    happy_path(MqttVersion::V5).await;
}

#[tokio::test]
async fn a_broker_restart_reconnects_and_subscribes_again() {
    let mut broker = Broker::start();
    let f = feed(&broker.url(), MqttVersion::V311, &[("t/#", 0, &[])]);
    let (run, mut ev) = start(f);
    ev.state("live").await;
    {
        let p = Publisher::connect(broker.port).await;
        subscribed(&p, &mut ev, "t/ready").await;
        p.send("t/a", QoS::AtMostOnce, false, "before").await;
        assert_eq!(next_on(&mut ev, "t/a").await.0, "before");
    }
    broker.stop();
    let reason = ev.retrying().await;
    assert!(
        reason.contains(&format!("127.0.0.1:{}", broker.port)),
        "{reason}"
    );
    broker.restart();
    ev.expect_within("live again", Duration::from_secs(10), |e| {
        matches!(e, SourceEvent::State(ConnState::Live))
    })
    .await;
    // A fresh broker (no persistence) knows no subscription: only one made
    // again after the reconnect delivers this.
    let p = Publisher::connect(broker.port).await;
    subscribed(&p, &mut ev, "t/ready2").await;
    p.send("t/a", QoS::AtMostOnce, false, "after").await;
    assert_eq!(next_on(&mut ev, "t/a").await.0, "after");
    run.stop().await;
}

async fn persistent_session(version: MqttVersion) {
    let broker = Broker::start();
    let mut p = Publisher::connect(broker.port).await;
    let mut f = feed(&broker.url(), version, &[("q/#", 1, &[])]);
    if let Some(o) = f.mqtt.as_mut() {
        o.clean_session = false;
        o.client_id = Some(format!("tt-persist-{}", fastrand::u32(..)));
    }
    let (s, rx) = sink();
    let mut ev = Events::new(rx);
    let run = Running::spawn(mqtt::run, f.clone(), s.clone());
    ev.state("live").await;
    subscribed(&p, &mut ev, "q/ready").await;
    p.send("q/n", QoS::AtLeastOnce, false, "first").await;
    assert_eq!(next_on(&mut ev, "q/n").await.0, "first");
    run.stop().await;
    // Telltale is away: the broker queues these for its session.
    for i in 0..100 {
        p.send("q/n", QoS::AtLeastOnce, false, i.to_string()).await;
    }
    p.acked(101).await;
    let run = Running::spawn(mqtt::run, f, s);
    let mut got = Vec::new();
    while got.len() < 100 {
        got.push(next_on(&mut ev, "q/n").await.0);
    }
    let want: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(got, want, "lost or reordered across the disconnect");
    // And nothing twice.
    let extra = ev.quiet_for(Duration::from_millis(500)).await;
    assert!(
        !matches!(&extra, Some(SourceEvent::Message(m)) if m.event_type.as_deref() == Some("q/n")),
        "a message came twice: {extra:?}"
    );
    run.stop().await;
}

#[tokio::test]
async fn mqtt_311_persistent_session_loses_nothing_while_away() {
    persistent_session(MqttVersion::V311).await;
}

#[tokio::test]
async fn mqtt_5_persistent_session_loses_nothing_while_away() {
    persistent_session(MqttVersion::V5).await;
}

#[tokio::test]
async fn a_frozen_broker_is_found_dead_by_the_keepalive() {
    let broker = Broker::start();
    let mut f = feed(&broker.url(), MqttVersion::V311, &[("k/#", 0, &[])]);
    if let Some(o) = f.mqtt.as_mut() {
        o.keep_alive = Dur::secs(1);
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    // The process stops answering, its TCP connections stay open.
    broker.signal("-STOP");
    let reason = ev.retrying_within(Duration::from_secs(8)).await;
    broker.signal("-CONT");
    assert!(reason.contains("did not answer a ping"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn refused_credentials_fail_slowly_without_showing_the_password() {
    let broker = Broker::with_users(Some(("telltale", "right-pass")));
    let url = format!("mqtt://telltale:wrong-pass@127.0.0.1:{}", broker.port);
    let (run, mut ev) = start(feed(&url, MqttVersion::V311, &[("a", 0, &[])]));
    let reason = match ev.state("failed").await {
        ConnState::Failed { reason } => reason,
        _ => unreachable!(),
    };
    assert!(
        reason.contains("user name") && reason.contains("password in the feed's URL"),
        "{reason}"
    );
    assert!(!ev.all_text().contains("wrong-pass"), "{}", ev.log());
    run.stop().await;
    // The right password connects.
    let url = format!("mqtt://telltale:right-pass@127.0.0.1:{}", broker.port);
    let (run, mut ev) = start(feed(&url, MqttVersion::V5, &[("a", 0, &[])]));
    ev.state("live").await;
    run.stop().await;
}

#[tokio::test]
async fn an_oversize_message_is_a_retry_that_names_the_limit() {
    let broker = Broker::start();
    let p = Publisher::connect(broker.port).await;
    let mut f = feed(&broker.url(), MqttVersion::V311, &[("big/#", 0, &[])]);
    if let Some(o) = f.mqtt.as_mut() {
        o.max_packet_size = ByteSize(1024);
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    subscribed(&p, &mut ev, "big/ready").await;
    p.send("big/one", QoS::AtMostOnce, false, vec![b'x'; 4096])
        .await;
    let reason = ev.retrying().await;
    assert!(
        reason.contains("larger than mqtt.max_packet_size"),
        "{reason}"
    );
    run.stop().await;
}

#[tokio::test]
async fn a_malformed_packet_is_a_retry_that_says_so() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A fake broker: accepts CONNECT, answers CONNACK, then sends a packet
    // of the reserved type 0.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf).await;
            let _ = c.write_all(&[0x20, 0x02, 0x00, 0x00]).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = c.write_all(&[0x00, 0x00]).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let url = format!("mqtt://127.0.0.1:{port}");
    let (run, mut ev) = start(feed(&url, MqttVersion::V311, &[("a", 0, &[])]));
    ev.state("live").await;
    let reason = ev.retrying().await;
    assert!(reason.contains("malformed MQTT packet"), "{reason}");
    run.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_closed_port_retries_with_backoff_naming_the_broker() {
    let port = crate::support::closed_port().await;
    let url = format!("mqtt://127.0.0.1:{port}");
    let (run, mut ev) = start(feed(&url, MqttVersion::V311, &[("a", 0, &[])]));
    let reason = ev.retrying().await;
    assert!(reason.contains("refused the connection"), "{reason}");
    let again = ev.retrying().await;
    assert!(again.contains(&format!("127.0.0.1:{port}")), "{again}");
    run.stop().await;
}

/// MQTT over WebSocket (`ws://`): Debian's mosquitto is built without
/// WebSocket listeners, so the test puts a plain WebSocket-to-TCP relay
/// (subprotocol `mqtt`, binary frames) in front of the real broker.
#[tokio::test]
async fn mqtt_over_websocket_reaches_the_broker_through_a_relay() {
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = Broker::start();
    let port = broker.port;
    async fn relay(ws: WebSocket, port: u16) {
        let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
            return;
        };
        let (mut rd, mut wr) = tcp.into_split();
        let (mut tx, mut rx) = ws.split();
        let up = async move {
            while let Some(Ok(m)) = rx.next().await {
                if let Message::Binary(b) = m {
                    if wr.write_all(&b).await.is_err() {
                        return;
                    }
                }
            }
        };
        let down = async move {
            let mut buf = vec![0u8; 8192];
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0
                    || tx
                        .send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .is_err()
                {
                    return;
                }
            }
        };
        tokio::select! { _ = up => {}, _ = down => {} }
    }
    let app = axum::Router::new().route(
        "/mqtt",
        axum::routing::get(move |up: WebSocketUpgrade| async move {
            up.protocols(["mqtt"]).on_upgrade(move |ws| relay(ws, port))
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        axum::serve(l, app).await.unwrap();
    });
    let p = Publisher::connect(broker.port).await;
    let url = format!("ws://127.0.0.1:{ws_port}/mqtt");
    let (run, mut ev) = start(feed(&url, MqttVersion::V311, &[("w/+", 0, &["x"])]));
    ev.state("live").await;
    subscribed(&p, &mut ev, "w/ready").await;
    p.send("w/a", QoS::AtMostOnce, false, "over ws").await;
    let (body, labels) = next_on(&mut ev, "w/a").await;
    assert_eq!(body, "over ws");
    assert_eq!(labels, vec![("x".to_string(), "a".to_string())]);
    run.stop().await;
    server.abort();
}

/// `mqtts://`: TLS to mosquitto with a certificate the system does not
/// trust; `ca_file` names the one to trust, and without it the handshake
/// fails with a TLS reason.
#[tokio::test]
async fn mqtts_trusts_the_ca_file_and_refuses_without_it() {
    let broker = Broker::with_tls();
    let mut f = feed(&broker.url(), MqttVersion::V311, &[("a", 0, &[])]);
    let (run, mut ev) = start(f.clone());
    let reason = ev.retrying().await;
    assert!(reason.contains("TLS"), "{reason}");
    run.stop().await;
    if let Some(o) = f.mqtt.as_mut() {
        o.ca_file = Some(broker.ca_file().display().to_string());
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    run.stop().await;
}

/// A broker that requires client certificates (`require_certificate`):
/// refused without one, live with `client_cert` and `client_key`.
#[tokio::test]
async fn mqtts_presents_the_client_certificate_the_broker_requires() {
    let client = ClientCert::make();
    let broker = Broker::with_client_certs(&client.cert);
    let mut f = feed(&broker.url(), MqttVersion::V5, &[("a", 0, &[])]);
    if let Some(o) = f.mqtt.as_mut() {
        o.ca_file = Some(broker.ca_file().display().to_string());
    }
    let (run, mut ev) = start(f.clone());
    let reason = ev.retrying().await;
    assert!(!ev.all_text().contains("Live"), "{}", ev.log());
    run.stop().await;
    if let Some(o) = f.mqtt.as_mut() {
        o.client_cert = Some(client.cert.display().to_string());
        o.client_key = Some(client.key.display().to_string());
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    run.stop().await;
    assert!(
        reason.contains(&broker.port.to_string()) && reason.contains("set mqtt.client_cert"),
        "{reason}"
    );
}

/// `wss://`: MQTT over secure WebSocket (through a TLS relay that asks
/// for a client certificate): refused while the server's certificate is
/// not trusted, refused without a client certificate, then live, with a
/// message through.
#[tokio::test]
async fn mqtt_over_secure_websocket_trusts_the_ca_file_and_presents_the_client_certificate() {
    let client = ClientCert::make();
    let broker = Broker::start();
    let relay = WssRelay::start(broker.port, Some(&client.cert));
    let mut f = feed(&relay.url(), MqttVersion::V311, &[("s/+", 1, &["x"])]);
    let (run, mut ev) = start(f.clone());
    let untrusted = ev.retrying().await;
    run.stop().await;
    assert!(
        untrusted.contains("TLS") && untrusted.contains("set mqtt.ca_file"),
        "{untrusted}"
    );
    if let Some(o) = f.mqtt.as_mut() {
        o.ca_file = Some(relay.ca_file().display().to_string());
    }
    let (run, mut ev) = start(f.clone());
    let anonymous = ev.retrying().await;
    run.stop().await;
    assert!(!ev.all_text().contains("Live"), "{anonymous}: {}", ev.log());
    assert!(anonymous.contains("set mqtt.client_cert"), "{anonymous}");
    if let Some(o) = f.mqtt.as_mut() {
        o.client_cert = Some(client.cert.display().to_string());
        o.client_key = Some(client.key.display().to_string());
    }
    let p = Publisher::connect(broker.port).await;
    let (run, mut ev) = start(f);
    ev.state("live").await;
    subscribed(&p, &mut ev, "s/ready").await;
    p.send("s/a", QoS::AtLeastOnce, false, "over wss").await;
    let (body, labels) = next_on(&mut ev, "s/a").await;
    assert_eq!(body, "over wss");
    assert_eq!(labels, vec![("x".to_string(), "a".to_string())]);
    run.stop().await;
}
