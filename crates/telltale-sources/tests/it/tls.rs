//! `[feed.tls]` and the certificate-expiry metric against a real TLS peer
//! (`tests/peers/tls-server.py`: Python's ssl, that is OpenSSL, with a
//! 2-day certificate its own CA signed): HTTPS polls and a secure
//! WebSocket trust a CA file, present a client certificate, or skip
//! verification; each records `tls_days_left`.

use crate::support::{fast_backoff, metric, sink, Events, Running};
use std::path::Path;
use telltale_model::duration::Dur;
use telltale_model::feed::PollOptions;
use telltale_model::tls::TlsOptions;
use telltale_model::{ConnState, FeedConfig, TransportKind};
use telltale_sources::{poll, websocket};
use telltale_testsupport::grpc::tls_server;

const DAYS_LEFT: &str = "tls_days_left";

fn poll_feed(port: u16, tls: Option<TlsOptions>) -> FeedConfig {
    let url = format!("https://127.0.0.1:{port}/health");
    let mut f = FeedConfig::new("tls-poll", TransportKind::Poll, url);
    f.backoff = fast_backoff();
    f.poll = Some(PollOptions {
        interval: Dur::millis(100),
        timeout: Dur::secs(2),
        ..PollOptions::default()
    });
    f.tls = tls;
    f
}

fn start_poll(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    let run = |feed, sink, cancel| poll::run(feed, sink, cancel, false);
    (Running::spawn(run, f, s), Events::new(rx))
}

fn trusting(ca: &Path) -> Option<TlsOptions> {
    Some(TlsOptions {
        ca_file: Some(ca.display().to_string()),
        ..TlsOptions::default()
    })
}

/// The certificates are made for 2 days: what is left is a little under.
fn assert_two_days(v: Option<f64>, log: &str) {
    let v = v.unwrap_or_else(|| panic!("no {DAYS_LEFT} on the first message:{log}"));
    assert!(v > 1.9 && v <= 2.0, "{DAYS_LEFT} = {v}");
}

#[tokio::test]
async fn an_https_poll_trusts_its_ca_file_and_counts_the_days_left_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = telltale_testsupport::ca_signed_cert(dir.path());
    let server = tls_server(&cert, &key, None);

    // The system's roots do not know this CA.
    let (run, mut ev) = start_poll(poll_feed(server.port, None));
    let why = ev.retrying().await;
    assert!(why.contains("certificate"), "{why}");
    run.stop().await;

    let (run, mut ev) = start_poll(poll_feed(server.port, trusting(&ca)));
    ev.state("live").await;
    let first = ev.message().await;
    assert_eq!(&first.data[..], b"{\"ok\": 1}\n");
    assert_two_days(metric(&first, DAYS_LEFT), &ev.log());
    // Then only hourly: the next polls do not repeat it.
    for _ in 0..3 {
        let m = ev.message().await;
        assert_eq!(metric(&m, DAYS_LEFT), None, "{}", ev.log());
        assert_eq!(metric(&m, "up"), Some(1.0));
    }
    run.stop().await;
}

#[tokio::test]
async fn skip_verify_accepts_an_unknown_certificate_for_another_name_and_still_counts_its_days() {
    let dir = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = telltale_testsupport::ca_signed_cert(dir.path());
    let server = tls_server(&cert, &key, None);
    let tls = TlsOptions {
        skip_verify: true,
        ..TlsOptions::default()
    };
    // An unknown CA, and a certificate for 127.0.0.1 reached as localhost.
    let mut f = poll_feed(server.port, Some(tls));
    f.url = f.url.replace("127.0.0.1", "localhost");
    let (run, mut ev) = start_poll(f);
    ev.state("live").await;
    assert_two_days(metric(&ev.message().await, DAYS_LEFT), &ev.log());
    run.stop().await;
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = telltale_testsupport::ca_signed_cert(dir.path());
    // The server asks for a client certificate its CA signed.
    let server = tls_server(&cert, &key, Some(&ca));

    let (run, mut ev) = start_poll(poll_feed(server.port, trusting(&ca)));
    ev.retrying().await;
    run.stop().await;

    let mutual = TlsOptions {
        ca_file: Some(ca.display().to_string()),
        client_cert: Some(cert.display().to_string()),
        client_key: Some(key.display().to_string()),
        skip_verify: false,
    };
    let (run, mut ev) = start_poll(poll_feed(server.port, Some(mutual.clone())));
    ev.state("live").await;
    assert_eq!(&ev.message().await.data[..], b"{\"ok\": 1}\n");
    run.stop().await;

    // The same over a secure WebSocket.
    let mut f = FeedConfig::new(
        "tls-ws",
        TransportKind::Websocket,
        format!("wss://127.0.0.1:{}/ws", server.port),
    );
    f.backoff = fast_backoff();
    f.tls = Some(mutual);
    let (s, rx) = sink();
    let (run, mut ev) = (Running::spawn(websocket::run, f, s), Events::new(rx));
    ev.state("live").await;
    let first = ev.message().await;
    assert_eq!(&first.data[..], b"{\"n\": 1}");
    assert_two_days(metric(&first, DAYS_LEFT), &ev.log());
    assert_eq!(metric(&ev.message().await, DAYS_LEFT), None);
    run.stop().await;
}

#[tokio::test]
async fn a_tls_file_that_cannot_be_read_is_a_config_failure_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for (path, says) in [(&missing, "cannot read"), (&not_pem, "no PEM certificate")] {
        for transport in [TransportKind::Poll, TransportKind::Websocket] {
            let mut f = poll_feed(1, trusting(path));
            f.transport = transport;
            if transport == TransportKind::Websocket {
                f.poll = None;
                f.url = "wss://127.0.0.1:1/ws".into();
            }
            let (s, rx) = sink();
            let mut ev = Events::new(rx);
            let run = match transport {
                TransportKind::Poll => {
                    let run = |feed, sink, cancel| poll::run(feed, sink, cancel, false);
                    Running::spawn(run, f, s)
                }
                _ => Running::spawn(websocket::run, f, s),
            };
            match ev.state("failed").await {
                ConnState::Failed { reason } => {
                    assert!(reason.contains("tls.ca_file"), "{reason}");
                    assert!(reason.contains(says), "{reason}");
                }
                _ => unreachable!(),
            }
            run.stop().await;
        }
    }
}
