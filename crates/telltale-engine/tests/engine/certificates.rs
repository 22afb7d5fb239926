//! A TLS feed's certificate, counted down and warned about by the default
//! rule, against `tests/peers/tls-server.py` (OpenSSL, a 2-day certificate
//! of its own CA).

use super::shown;
use std::sync::Arc;
use std::time::Duration;
use telltale_alerts::notifier::RecordingNotifier;
use telltale_alerts::NotificationKind;
use telltale_engine::{Engine, EngineOptions};
use telltale_model::feed::PollOptions;
use telltale_model::tls::TlsOptions;
use telltale_model::{FeedConfig, TransportKind};
use telltale_store::{FeedOrigin, Store};
use telltale_testsupport::until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_two_days_from_expiry_fires_the_default_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = telltale_testsupport::ca_signed_cert(dir.path());
    let server = telltale_testsupport::grpc::tls_server(&cert, &key, None);
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let notifier = RecordingNotifier::default();
    let engine = Engine::start(
        store.clone(),
        EngineOptions {
            notifier: Some(Arc::new(notifier.clone())),
            ..Default::default()
        },
    )
    .unwrap();
    let mut feed = FeedConfig::new(
        "lab",
        TransportKind::Poll,
        format!("https://127.0.0.1:{}/health", server.port),
    )
    .with_metric("ok", "/ok");
    feed.poll = Some(PollOptions {
        interval: telltale_model::duration::Dur::secs(1),
        ..PollOptions::default()
    });
    feed.tls = Some(TlsOptions {
        ca_file: Some(ca.display().to_string()),
        ..TlsOptions::default()
    });
    let id = engine.upsert_feed(feed, FeedOrigin::Gui).await.unwrap();

    let fired = until("the certificate warning", Duration::from_secs(15), || {
        shown(&notifier)
            .into_iter()
            .find(|n| n.kind == NotificationKind::Fired)
    })
    .await;
    assert!(
        fired
            .summary
            .starts_with("lab: the server certificate expires in ")
            && fired.summary.ends_with(" d: renew it"),
        "{}",
        fired.summary
    );
    let alert = engine.alerts().into_iter().next().unwrap();
    assert_eq!(alert.rule, "certificate expiry");

    // The days left are stored as a series of the feed.
    store.flush().await.unwrap();
    let series = store.list_series(id).unwrap();
    assert!(
        series.iter().any(|s| s.metric == "tls_days_left"),
        "{series:?}"
    );
    engine.shutdown().await.unwrap();
}
