//! TCP checks against real sockets on 127.0.0.1: a listener that accepts,
//! goes away, comes back, and one whose backlog is full so that connection
//! attempts hang until the timeout.

use crate::support::{fast_backoff, metric, sink, Events, Running};
use telltale_model::duration::Dur;
use telltale_model::feed::PollOptions;
use telltale_model::{FeedConfig, TransportKind};
use telltale_sources::tcp;

fn feed(port: u16) -> FeedConfig {
    let mut f = FeedConfig::new(
        "db-port",
        TransportKind::Tcp,
        format!("tcp://127.0.0.1:{port}"),
    );
    f.backoff = fast_backoff();
    f.poll = Some(PollOptions {
        interval: Dur::millis(100),
        timeout: Dur::millis(300),
        ..PollOptions::default()
    });
    f
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    let run = |feed, sink, cancel| tcp::run(feed, sink, cancel, false);
    (Running::spawn(run, f, s), Events::new(rx))
}

#[tokio::test]
async fn a_port_that_accepts_is_up_then_down_then_up_again() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    let f = feed(port);
    assert!(telltale_model::config::validate_feed(&f).is_empty());
    let (run, mut ev) = start(f);
    ev.state("live").await;
    let m = ev.message().await;
    assert!(m.data.is_empty());
    assert_eq!(metric(&m, "up"), Some(1.0));
    let ms = metric(&m, "response_ms").unwrap();
    assert!((0.0..300.0).contains(&ms), "{ms}");

    // The listener goes: refused, up = 0, retrying with the address.
    accepting.abort();
    let _ = accepting.await;
    let why = ev.retrying().await;
    assert!(
        why.contains(&format!("127.0.0.1:{port}")) && why.contains("refused"),
        "{why}"
    );
    let down = ev.message().await;
    assert_eq!(metric(&down, "up"), Some(0.0), "{}", ev.log());
    assert_eq!(metric(&down, "response_ms"), None);

    // It comes back on the same port: live again.
    let again = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let _keep = tokio::spawn(async move {
        loop {
            let _ = again.accept().await;
        }
    });
    ev.state("live").await;
    run.stop().await;
}

#[tokio::test]
async fn an_attempt_that_hangs_ends_at_the_timeout() {
    // A backlog of one, never accepted and filled: the kernel drops the
    // next SYNs, so a connect neither succeeds nor fails by itself.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut held = Vec::new();
    for _ in 0..4 {
        let c = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            tokio::net::TcpStream::connect(("127.0.0.1", port)),
        )
        .await;
        if let Ok(Ok(c)) = c {
            held.push(c);
        }
    }
    let (run, mut ev) = start(feed(port));
    let why = ev.retrying().await;
    assert!(why.contains("within 300ms (poll.timeout)"), "{why}");
    run.stop().await;
    drop(listener);
}

#[tokio::test]
async fn a_url_without_a_port_fails_naming_it() {
    let mut f = feed(1);
    f.url = "tcp://127.0.0.1".into();
    let problems = telltale_model::config::validate_feed(&f);
    assert_eq!(problems[0].0, "url", "{problems:?}");
    let (run, mut ev) = start(f);
    match ev.state("failed").await {
        telltale_model::ConnState::Failed { reason } => {
            assert!(reason.contains("no port"), "{reason}")
        }
        _ => unreachable!(),
    }
    run.stop().await;
}
