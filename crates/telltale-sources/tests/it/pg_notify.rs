//! The `pg_notify` transport against Debian's PostgreSQL 15 (a cluster
//! made by `initdb` in a temp dir, on a loopback port, killed when the
//! test ends). Notifications are sent by a second session through the same
//! server. Only the malformed reply comes from a fake server: a real one
//! never sends one.

use crate::support::{fast_backoff, sink, Events, Running};
use std::time::Duration;
use telltale_model::duration::Dur;
use telltale_model::pg_notify::PgNotifyOptions;
use telltale_model::{ConnState, FeedConfig, SourceEvent, TransportKind};
use telltale_sources::pg_notify;
use telltale_testsupport::postgres::{signal, Postgres, PASSWORD};

fn feed(url: &str, channels: &[&str]) -> FeedConfig {
    let mut f = FeedConfig::new("pg", TransportKind::PgNotify, url);
    f.backoff = fast_backoff();
    f.pg_notify = Some(PgNotifyOptions {
        channels: channels.iter().map(|c| c.to_string()).collect(),
        ..PgNotifyOptions::default()
    });
    f
}

fn start(f: FeedConfig) -> (Running, Events) {
    let (s, rx) = sink();
    (Running::spawn(pg_notify::run, f, s), Events::new(rx))
}

/// The next `n` messages as `(channel, payload)`.
async fn next(ev: &mut Events, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let m = ev.message().await;
        out.push((
            m.event_type.unwrap_or_default(),
            String::from_utf8_lossy(&m.data).into_owned(),
        ));
    }
    out
}

async fn failed(ev: &mut Events) -> String {
    match ev.state("failed").await {
        ConnState::Failed { reason } => reason,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn notifications_arrive_in_order_with_their_channel() {
    let pg = Postgres::start();
    let (run, mut ev) = start(feed(&pg.url(), &["orders", "Payments"]));
    // Live means LISTEN is in place: nothing sent from now on is missed.
    ev.state("live").await;
    let mut want = Vec::new();
    for i in 0..10 {
        let (channel, body) = if i % 3 == 2 {
            ("Payments", format!(r#"{{"amount":{i}}}"#))
        } else {
            ("orders", format!(r#"{{"id":{i}}}"#))
        };
        pg.notify(channel, &body).await;
        // Not listened to (names are exact, case included): never delivered.
        pg.notify("payments", "lower case").await;
        pg.notify("audit", "x").await;
        want.push((channel.to_string(), body));
    }
    assert_eq!(next(&mut ev, 10).await, want);
    assert!(
        ev.quiet_for(Duration::from_millis(300)).await.is_none(),
        "{}",
        ev.log()
    );
    assert!(!ev.all_text().contains("lower case"), "{}", ev.log());
    run.stop().await;
}

#[tokio::test]
async fn a_server_restart_reconnects_listens_again_and_records_the_gap() {
    let mut pg = Postgres::start();
    let (run, mut ev) = start(feed(&pg.url(), &["events"]));
    ev.state("live").await;
    pg.notify("events", "before").await;
    assert_eq!(next(&mut ev, 1).await[0].1, "before");
    pg.stop();
    let reason = ev.retrying().await;
    assert!(
        reason.contains(&format!("127.0.0.1:{}", pg.port)),
        "{reason}"
    );
    pg.restart();
    ev.expect_within("live again", Duration::from_secs(20), |e| {
        matches!(e, SourceEvent::State(ConnState::Live))
    })
    .await;
    let gap = ev.issue("gap").await;
    assert!(
        gap.message.contains("lost") && gap.message.contains("no replay"),
        "{}",
        gap.message
    );
    pg.notify("events", "after").await;
    assert_eq!(
        next(&mut ev, 1).await,
        vec![("events".into(), "after".into())]
    );
    run.stop().await;
}

#[tokio::test]
async fn a_frozen_server_is_found_dead_by_the_keepalive() {
    let pg = Postgres::start();
    let mut f = feed(
        &format!("{}?application_name=frozen-test", pg.url()),
        &["k"],
    );
    if let Some(o) = f.pg_notify.as_mut() {
        o.keep_alive = Dur::secs(1);
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    // The process serving our session stops; its TCP connection stays open.
    let pids = pg.backends("frozen-test").await;
    assert_eq!(pids.len(), 1, "{pids:?}");
    signal(pids[0], "-STOP");
    let reason = ev.retrying_within(Duration::from_secs(8)).await;
    signal(pids[0], "-CONT");
    assert!(reason.contains("did not answer `SELECT 1`"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn refused_credentials_fail_slowly_without_showing_the_password() {
    let pg = Postgres::start();
    let wrong = pg.url().replace(PASSWORD, "wrong-pass");
    let (run, mut ev) = start(feed(&wrong, &["a"]));
    let reason = failed(&mut ev).await;
    assert!(
        reason.contains("user name or password was refused") && reason.contains("28P01"),
        "{reason}"
    );
    assert!(!ev.all_text().contains("wrong-pass"), "{}", ev.log());
    run.stop().await;
    let missing = pg.url().replace("/postgres", "/nope");
    let (run, mut ev) = start(feed(&missing, &["a"]));
    let reason = failed(&mut ev).await;
    assert!(reason.contains("database does not exist"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn verify_full_trusts_the_ca_file_and_refuses_an_unknown_certificate() {
    let pg = Postgres::with_tls();
    let url = format!("{}?sslmode=verify-full", pg.url());
    let mut f = feed(&url, &["secure"]);
    if let Some(o) = f.pg_notify.as_mut() {
        o.ca_file = Some(pg.ca_file().display().to_string());
    }
    let (run, mut ev) = start(f);
    ev.state("live").await;
    pg.notify("secure", "over TLS").await;
    assert_eq!(next(&mut ev, 1).await[0].1, "over TLS");
    run.stop().await;
    // The system's roots do not know the test certificate.
    let (run, mut ev) = start(feed(&url, &["secure"]));
    let reason = ev.retrying().await;
    assert!(reason.contains("TLS with 127.0.0.1"), "{reason}");
    run.stop().await;
}

#[tokio::test]
async fn a_server_that_is_not_postgres_is_a_retry_that_says_so() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // An HTTP server where PostgreSQL was expected: it answers the
    // startup with text.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf).await;
            let _ = c
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    for mode in ["prefer", "disable"] {
        let url = format!("postgres://u:p@127.0.0.1:{port}/db?sslmode={mode}");
        let (run, mut ev) = start(feed(&url, &["a"]));
        let reason = ev.retrying().await;
        assert!(
            reason.contains("is this a PostgreSQL server?"),
            "{mode}: {reason}"
        );
        run.stop().await;
    }
    server.abort();
}

#[tokio::test]
async fn a_closed_port_retries_naming_the_server() {
    let port = crate::support::closed_port().await;
    let url = format!("postgres://u:p@127.0.0.1:{port}/db");
    let (run, mut ev) = start(feed(&url, &["a"]));
    let reason = ev.retrying().await;
    assert!(
        reason.contains("refused the connection") && reason.contains(&port.to_string()),
        "{reason}"
    );
    run.stop().await;
}
