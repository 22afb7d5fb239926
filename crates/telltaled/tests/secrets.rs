//! The command line and secrets: `telltaled export-config` masks what the
//! API export masks, and `telltaled check` refuses `${VAR}` references the
//! config file does not allow.

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

#[test]
fn check_refuses_variables_the_file_does_not_allow() {
    let dir = tempfile::tempdir().unwrap();
    let feed = "[[feed]]\nname = \"api\"\ntransport = \"sse\"\nurl = \"http://127.0.0.1:9/x\"\nheaders = { X-Api-Key = \"${HOME}\" }\n";
    let check = |text: &str| {
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_telltaled"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let out = check(feed);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("api") && stderr.contains("headers.X-Api-Key") && stderr.contains("`HOME`"),
        "{stderr}"
    );
    let out = check(&format!("allow_env = [\"HOME\"]\n\n{feed}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
