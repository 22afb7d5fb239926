//! Feeds through Debian's tinyproxy: a WebSocket and a secure WebSocket
//! tunnelled with CONNECT (the TLS, and the certificate's days, inside the
//! tunnel), proxy credentials, and an HTTPS poll through reqwest's proxy.

use crate::support::{fast_backoff, metric, sink, Events, Running};
use telltale_model::duration::Dur;
use telltale_model::feed::PollOptions;
use telltale_model::tls::TlsOptions;
use telltale_model::{ConnState, FeedConfig, TransportKind};
use telltale_sources::{poll, websocket};
use telltale_testsupport::grpc::tls_server;
use telltale_testsupport::proxy::tinyproxy;

fn ws(url: String, proxy: String) -> (Running, Events) {
    let mut f = FeedConfig::new("through", TransportKind::Websocket, url);
    f.backoff = fast_backoff();
    f.proxy = Some(proxy);
    assert!(telltale_model::config::validate_feed(&f).is_empty());
    let (s, rx) = sink();
    (Running::spawn(websocket::run, f, s), Events::new(rx))
}

#[tokio::test]
async fn a_websocket_goes_through_the_proxy_with_its_credentials() {
    let sim = telltale_testsupport::quiet_sim(1, 50.0).await;
    let proxy = tinyproxy(Some(("me", "s3cret")));
    let url = format!("{}/ws?host=host-1&rate=50", sim.ws_url());

    let (run, mut ev) = ws(url.clone(), proxy.url(Some(("me", "s3cret"))));
    ev.state("live").await;
    ev.message().await;
    run.stop().await;
    let log = proxy.peer.log();
    assert!(log.contains("CONNECT"), "{log}");

    // Without them: failed, saying what to do, and the password never shown.
    let (run, mut ev) = ws(url, proxy.url(None));
    match ev.state("failed").await {
        ConnState::Failed { reason } => {
            assert!(reason.contains("wants credentials"), "{reason}");
            assert!(
                reason.contains(&format!("127.0.0.1:{}", proxy.peer.port)),
                "{reason}"
            );
        }
        _ => unreachable!(),
    }
    assert!(!ev.all_text().contains("s3cret"));
    run.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn tls_runs_inside_the_tunnel_for_wss_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = telltale_testsupport::ca_signed_cert(dir.path());
    let server = tls_server(&cert, &key, None);
    let proxy = tinyproxy(None);
    let trusting = Some(TlsOptions {
        ca_file: Some(ca.display().to_string()),
        ..TlsOptions::default()
    });

    let mut f = FeedConfig::new(
        "wss-through",
        TransportKind::Websocket,
        format!("wss://127.0.0.1:{}/ws", server.port),
    );
    f.backoff = fast_backoff();
    f.tls = trusting.clone();
    f.proxy = Some(proxy.url(None));
    let (s, rx) = sink();
    let (run, mut ev) = (Running::spawn(websocket::run, f, s), Events::new(rx));
    ev.state("live").await;
    let first = ev.message().await;
    assert!(metric(&first, "tls_days_left").is_some(), "{}", ev.log());
    run.stop().await;

    let mut f = FeedConfig::new(
        "https-through",
        TransportKind::Poll,
        format!("https://127.0.0.1:{}/health", server.port),
    );
    f.backoff = fast_backoff();
    f.poll = Some(PollOptions {
        interval: Dur::millis(200),
        ..PollOptions::default()
    });
    f.tls = trusting;
    f.proxy = Some(proxy.url(None));
    let (s, rx) = sink();
    let run_poll = |feed, sink, cancel| poll::run(feed, sink, cancel, false);
    let (run, mut ev) = (Running::spawn(run_poll, f, s), Events::new(rx));
    ev.state("live").await;
    assert_eq!(&ev.message().await.data[..], b"{\"ok\": 1}\n");
    run.stop().await;
    let log = proxy.peer.log();
    assert!(
        log.matches("CONNECT").count() >= 2,
        "both went through the proxy: {log}"
    );
}
