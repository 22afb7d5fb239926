//! DNS checks against Debian's dnsmasq on a loopback port: records,
//! NXDOMAIN, a name without the asked type, and a server that is gone.

use crate::support::{fast_backoff, metric, sink, Events, Running};
use telltale_model::duration::Dur;
use telltale_model::feed::PollOptions;
use telltale_model::{FeedConfig, TransportKind};
use telltale_sources::dns;
use telltale_testsupport::dns::dnsmasq;

fn feed(url: String) -> FeedConfig {
    let mut f = FeedConfig::new("dns-check", TransportKind::Dns, url);
    f.backoff = fast_backoff();
    f.poll = Some(PollOptions {
        interval: Dur::millis(100),
        timeout: Dur::millis(500),
        ..PollOptions::default()
    });
    f
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    let run = |feed, sink, cancel| dns::run(feed, sink, cancel, false);
    (Running::spawn(run, f, s), Events::new(rx))
}

#[tokio::test]
async fn records_are_the_payload_and_up_records_and_response_ms_the_metrics() {
    let server = dnsmasq(&[
        "--address=/web.test/10.1.2.3",
        "--host-record=multi.test,10.0.0.2",
        "--host-record=multi.test,10.0.0.1",
        "--txt-record=web.test,hello world",
    ]);
    let at = |path: &str| format!("dns://127.0.0.1:{}/{path}", server.port);
    let f = feed(at("web.test"));
    assert!(telltale_model::config::validate_feed(&f).is_empty());
    let (run, mut ev) = start(f);
    ev.state("live").await;
    let m = ev.message().await;
    let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"name": "web.test", "type": "A", "answers": ["10.1.2.3"]})
    );
    assert_eq!(metric(&m, "up"), Some(1.0));
    assert_eq!(metric(&m, "records"), Some(1.0));
    assert!(metric(&m, "response_ms").is_some_and(|ms| ms < 500.0));
    run.stop().await;

    // Several records, sorted; another type.
    let (run, mut ev) = start(feed(at("multi.test")));
    let v: serde_json::Value = serde_json::from_slice(&ev.message().await.data).unwrap();
    assert_eq!(v["answers"], serde_json::json!(["10.0.0.1", "10.0.0.2"]));
    run.stop().await;
    let (run, mut ev) = start(feed(at("web.test?type=TXT")));
    let v: serde_json::Value = serde_json::from_slice(&ev.message().await.data).unwrap();
    assert_eq!(v["type"], "TXT");
    assert!(
        v["answers"][0].as_str().unwrap().contains("hello world"),
        "{v}"
    );
    run.stop().await;
}

#[tokio::test]
async fn nxdomain_and_a_server_that_is_gone_are_down_with_the_reason() {
    let mut server = dnsmasq(&["--address=/gone.test/", "--address=/web.test/10.1.2.3"]);
    let port = server.port;
    let (run, mut ev) = start(feed(format!("dns://127.0.0.1:{port}/gone.test")));
    let why = ev.retrying().await;
    assert!(why.contains("gone.test does not exist (NXDOMAIN"), "{why}");
    assert_eq!(metric(&ev.message().await, "up"), Some(0.0));
    run.stop().await;

    let (run, mut ev) = start(feed(format!("dns://127.0.0.1:{port}/web.test")));
    ev.state("live").await;
    server.stop();
    let why = ev.retrying().await;
    assert!(why.contains(&format!("127.0.0.1:{port}")), "{why}");
    run.stop().await;
}

#[tokio::test]
async fn a_bad_dns_url_fails_naming_what_to_write() {
    let (run, mut ev) = start(feed("dns://ns1.example.com/web.test".into()));
    match ev.state("failed").await {
        telltale_model::ConnState::Failed { reason } => {
            assert!(reason.contains("not an IP address"), "{reason}")
        }
        _ => unreachable!(),
    }
    run.stop().await;
}
