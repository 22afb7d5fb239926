//! `telltaled export-config` against a real database file: it must mask
//! what the API export masks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use telltale_model::{FeedConfig, TransportKind};
use telltale_store::{FeedOrigin, Store};

#[test]
fn export_config_masks_url_credentials_and_secret_headers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    {
        let store = Store::open(&db, Default::default()).unwrap();
        let mut f = FeedConfig::new(
            "secret",
            TransportKind::Poll,
            "https://user:hunter2@h.example/metrics?api_key=k3y&page=2",
        );
        f.headers.insert("X-Tenant".into(), "acme-secret".into());
        f.headers.insert("Accept".into(), "application/json".into());
        f.headers
            .insert("Authorization".into(), "Bearer ${TELLTALE_SECRET_T}".into());
        store.upsert_feed(&f, FeedOrigin::Gui).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_telltaled"))
        .args(["export-config", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in ["hunter2", "k3y", "acme-secret"] {
        assert!(!text.contains(secret), "`{secret}` in the export:\n{text}");
    }
    assert!(
        text.contains("https://••••••@h.example/metrics?api_key=••••••&page=2"),
        "{text}"
    );
    assert!(text.contains("application/json"), "{text}");
    assert!(text.contains("Bearer ${TELLTALE_SECRET_T}"), "{text}");
}
