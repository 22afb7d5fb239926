//! A feed's own TLS settings (`[feed.tls]`, see
//! [`telltale_model::tls`]) and proxy ([`telltale_model::proxy`]) applied:
//! an HTTP client for the HTTP transports and a native-tls connector for
//! WebSocket (whose proxy is [`crate::proxy`]'s).
//!
//! Feeds with neither share the runtime's client
//! ([`crate::http_common::shared_client`]), which honours `HTTPS_PROXY`
//! and the like. A feed with either gets a client of its own, cached by its settings and the files' modification times, so
//! that polling does not rebuild a client (and lose its connections) every
//! interval, while a renewed certificate file is read on the next request.

use crate::tls_files::{self, PemError};
use crate::SetupError;
use std::sync::Mutex;
use std::time::SystemTime;
use telltale_model::tls::TlsOptions;
use telltale_model::FeedConfig;

/// The feed's TLS settings, if it has any that change something.
fn options(feed: &FeedConfig) -> Option<&TlsOptions> {
    feed.tls.as_ref().filter(|t| !t.is_default())
}

fn problem(field: &'static str, e: impl std::fmt::Display) -> SetupError {
    SetupError::Tls {
        field,
        problem: e.to_string(),
    }
}

fn read(field: &'static str, path: &str) -> Result<String, SetupError> {
    tls_files::read(path).map_err(|e| problem(field, e))
}

type Key = (
    Option<tokio::runtime::Id>,
    TlsOptions,
    Option<String>,
    Vec<Option<SystemTime>>,
);

/// The HTTP client for `feed`: the shared one, or one with its TLS
/// settings.
pub fn client_for(feed: &FeedConfig) -> Result<reqwest::Client, SetupError> {
    let proxy = feed.proxy.clone();
    let t = match (options(feed), &proxy) {
        (None, None) => return crate::http_common::shared_client(),
        (t, _) => t.cloned().unwrap_or_default(),
    };
    let t = &t;
    const KEEP: usize = 64;
    static CLIENTS: Mutex<Vec<(Key, reqwest::Client)>> = Mutex::new(Vec::new());
    let modified = |p: &Option<String>| {
        p.as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
    };
    let key: Key = (
        tokio::runtime::Handle::try_current().ok().map(|h| h.id()),
        t.clone(),
        proxy.clone(),
        vec![
            modified(&t.ca_file),
            modified(&t.client_cert),
            modified(&t.client_key),
        ],
    );
    let lock = || CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = lock().iter().find(|(k, _)| *k == key) {
        return Ok(c.clone());
    }
    let built = build(t, proxy.as_deref())?;
    let mut clients = lock();
    clients.retain(|(k, _)| !(k.0 == key.0 && k.1 == key.1 && k.2 == key.2));
    if clients.len() >= KEEP {
        clients.remove(0);
    }
    clients.push((key, built.clone()));
    Ok(built)
}

fn build(t: &TlsOptions, proxy: Option<&str>) -> Result<reqwest::Client, SetupError> {
    let mut b = crate::http_common::builder();
    match proxy {
        None => {}
        Some(telltale_model::proxy::NONE) => b = b.no_proxy(),
        Some(url) => {
            let p = reqwest::Proxy::all(url).map_err(|e| SetupError::Proxy {
                field: "proxy",
                problem: format!("cannot be used ({})", crate::http_common::describe(&e)),
            })?;
            b = b.proxy(p);
        }
    }
    if let Some(path) = &t.ca_file {
        let pem = read("tls.ca_file", path)?;
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            problem(
                "tls.ca_file",
                PemError::BadCertificate {
                    path: path.clone(),
                    problem: e.to_string(),
                },
            )
        })?;
        if certs.is_empty() {
            return Err(problem(
                "tls.ca_file",
                PemError::NoCertificate { path: path.clone() },
            ));
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if let (Some(cert), Some(key)) = (&t.client_cert, &t.client_key) {
        let c = read("tls.client_cert", cert)?;
        let k = read("tls.client_key", key)?;
        let id = reqwest::Identity::from_pkcs8_pem(c.as_bytes(), k.as_bytes())
            .map_err(|e| problem("tls.client_key", unusable(cert, key, e)))?;
        b = b.identity(id);
    }
    if t.skip_verify {
        // any certificate, for any name (as the WebSocket connector below)
        b = b
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true);
    }
    b.build()
        .map_err(|e| SetupError::Client(crate::http_common::describe(&e)))
}

fn unusable(cert: &str, key: &str, e: impl std::fmt::Display) -> String {
    format!("`{cert}` with `{key}` is not a usable certificate and PKCS#8 key ({e}): convert an RSA key with `openssl pkcs8 -topk8 -nocrypt`")
}

/// The native-tls connector for a WebSocket feed with `[feed.tls]`, or
/// `None` for the default one.
pub fn connector_for(feed: &FeedConfig) -> Result<Option<native_tls::TlsConnector>, SetupError> {
    let Some(t) = options(feed) else {
        return Ok(None);
    };
    let mut b = native_tls::TlsConnector::builder();
    if let Some(path) = &t.ca_file {
        tls_files::trust_only(&mut b, path).map_err(|e| problem("tls.ca_file", e))?;
    }
    if let (Some(cert), Some(key)) = (&t.client_cert, &t.client_key) {
        let c = read("tls.client_cert", cert)?;
        let k = read("tls.client_key", key)?;
        let id = native_tls::Identity::from_pkcs8(c.as_bytes(), k.as_bytes())
            .map_err(|e| problem("tls.client_key", unusable(cert, key, e)))?;
        b.identity(id);
    }
    if t.skip_verify {
        b.danger_accept_invalid_certs(true);
        b.danger_accept_invalid_hostnames(true);
    }
    b.build()
        .map(Some)
        .map_err(|e| problem("tls", format!("cannot set up TLS: {e}")))
}
