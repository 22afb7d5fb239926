//! From a feed's URL and `[feed.mqtt]` to what a connection needs. Every
//! error here is a configuration error naming the field to fix.

use crate::SetupError;
use std::time::Duration;
use telltale_model::mqtt::MqttOptions;
use telltale_model::FeedConfig;

/// How the client reaches the broker.
pub enum Link {
    /// `mqtt://`: plain TCP.
    Tcp,
    /// `mqtts://`: TLS (native-tls).
    Tls(native_tls::TlsConnector),
    /// `ws://`: MQTT over WebSocket, at this URL (without credentials).
    Ws(String),
    /// `wss://`: MQTT over WebSocket with TLS (rustls: rumqttc's only way).
    Wss(String, std::sync::Arc<rustls::ClientConfig>),
}

/// Everything one connection needs, checked.
pub struct Setup {
    /// `host:port`, for messages.
    pub host_port: String,
    /// The broker's host.
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// TCP, TLS or WebSocket.
    pub link: Link,
    /// The client id.
    pub client_id: String,
    /// User and password from the URL, percent-decoded.
    pub credentials: Option<(String, String)>,
    /// See [`MqttOptions::clean_session`].
    pub clean_session: bool,
    /// Whole seconds, at least 1.
    pub keep_alive: Duration,
    /// Largest accepted packet.
    pub max_packet_size: usize,
    /// TLS without a client certificate (for reasons' hints).
    pub tls_without_client_cert: bool,
}

impl Setup {
    /// Checks the feed's URL and options.
    pub fn of(feed: &FeedConfig, opts: &MqttOptions) -> Result<Setup, SetupError> {
        let url = url::Url::parse(&feed.url).map_err(|e| SetupError::url(&feed.url, e))?;
        let (default_port, tls) = match url.scheme() {
            "mqtt" => (1883, false),
            "mqtts" => (8883, true),
            "ws" => (80, false),
            "wss" => (443, true),
            other => {
                return Err(SetupError::Scheme {
                    transport: "MQTT",
                    scheme: other.to_string(),
                    expected: "`mqtt://`, `mqtts://`, `ws://` or `wss://`",
                })
            }
        };
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
            _ => return Err(SetupError::url(&feed.url, "it has no host")),
        };
        let port = url.port().unwrap_or(default_port);
        let credentials = if url.username().is_empty() {
            None
        } else {
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| {
                    SetupError::url(&feed.url, "its user or password is not valid UTF-8")
                })
            };
            Some((
                decode(url.username())?,
                decode(url.password().unwrap_or(""))?,
            ))
        };
        let bare = || {
            let mut bare = url.clone();
            let _ = bare.set_username("");
            let _ = bare.set_password(None);
            bare.to_string()
        };
        let link = if url.scheme() == "ws" {
            Link::Ws(bare())
        } else if url.scheme() == "wss" {
            Link::Wss(bare(), rustls_config(opts)?)
        } else if tls {
            Link::Tls(tls_connector(opts)?)
        } else {
            Link::Tcp
        };
        let secs = opts.keep_alive.0.as_secs().clamp(1, u16::MAX as u64);
        Ok(Setup {
            host_port: format!("{host}:{port}"),
            host: host.to_string(),
            port,
            link,
            client_id: opts
                .client_id
                .clone()
                .unwrap_or_else(|| default_client_id(&feed.name)),
            credentials,
            clean_session: opts.clean_session,
            keep_alive: Duration::from_secs(secs),
            max_packet_size: usize::try_from(opts.max_packet_size.0).unwrap_or(usize::MAX),
            tls_without_client_cert: tls && opts.client_cert.is_none(),
        })
    }
}

/// `telltale-` and the feed's name, with what brokers may refuse in a
/// client id replaced by `-`.
pub fn default_client_id(feed: &str) -> String {
    let name: String = feed
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("telltale-{name}")
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn tls_connector(opts: &MqttOptions) -> Result<native_tls::TlsConnector, SetupError> {
    let mut b = native_tls::TlsConnector::builder();
    if let Some(path) = &opts.ca_file {
        crate::tls_files::trust_only(&mut b, path).map_err(|e| SetupError::Mqtt {
            field: "ca_file",
            problem: e.to_string(),
        })?;
    }
    if let (Some(cert), Some(key)) = (&opts.client_cert, &opts.client_key) {
        let c = read("client_cert", cert)?;
        let k = read("client_key", key)?;
        let id = native_tls::Identity::from_pkcs8(c.as_bytes(), k.as_bytes()).map_err(|e| {
            SetupError::Mqtt {
                field: "client_cert",
                problem: format!(
                    "`{cert}` with `{key}` is not a usable certificate and PKCS #8 key: {e}"
                ),
            }
        })?;
        b.identity(id);
    }
    b.build().map_err(|e| SetupError::Mqtt {
        field: "ca_file",
        problem: format!("cannot set up TLS: {e}"),
    })
}

/// The rustls side of `wss://`, with the same choices as native-tls's:
/// `ca_file` replaces the system's roots, a client certificate with its
/// key (PKCS #8, or PKCS #1 / SEC1) when both are given.
fn rustls_config(opts: &MqttOptions) -> Result<std::sync::Arc<rustls::ClientConfig>, SetupError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |field: &'static str, problem: String| SetupError::Mqtt { field, problem };
    let mut roots = rustls::RootCertStore::empty();
    match &opts.ca_file {
        Some(path) => {
            let pem = read("ca_file", path)?;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| {
                    bad(
                        "ca_file",
                        format!("`{path}` holds a certificate that cannot be read: {e}"),
                    )
                })?;
                roots.add(cert).map_err(|e| {
                    bad(
                        "ca_file",
                        format!("`{path}` holds a certificate that cannot be used: {e}"),
                    )
                })?;
            }
            if roots.is_empty() {
                return Err(bad("ca_file", format!("`{path}` holds no PEM certificate")));
            }
        }
        None => {
            // Certificates the system has but rustls cannot parse are
            // skipped, as native-tls's stores skip them.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad("ca_file", format!("cannot set up TLS: {e}")))?
    .with_root_certificates(roots);
    let config = match (&opts.client_cert, &opts.client_key) {
        (Some(cert), Some(key)) => {
            let (cert_pem, key_pem) = (read("client_cert", cert)?, read("client_key", key)?);
            let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    bad(
                        "client_cert",
                        format!("`{cert}` is not a PEM certificate: {e}"),
                    )
                })?;
            let k = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
                bad(
                    "client_key",
                    format!("`{key}` is not a PEM private key: {e}"),
                )
            })?;
            builder.with_client_auth_cert(chain, k).map_err(|e| {
                bad(
                    "client_cert",
                    format!("`{cert}` with `{key}` is not a usable certificate and key: {e}"),
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(std::sync::Arc::new(config))
}

fn read(field: &'static str, path: &str) -> Result<String, SetupError> {
    crate::tls_files::read(path).map_err(|e| SetupError::Mqtt {
        field,
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_model::TransportKind;

    fn feed(url: &str) -> FeedConfig {
        FeedConfig::new("web 1", TransportKind::Mqtt, url)
    }

    #[test]
    fn the_url_gives_host_port_and_decoded_credentials() {
        let f = feed("mqtt://te%40m:p%3Ass@broker.lan");
        let s = Setup::of(&f, &f.mqtt_options()).unwrap();
        assert_eq!(s.host_port, "broker.lan:1883");
        assert_eq!(
            s.credentials,
            Some(("te@m".to_string(), "p:ss".to_string()))
        );
        assert_eq!(s.client_id, "telltale-web-1");
        let f = feed("ws://u:p@127.0.0.1:9001/mqtt");
        let s = Setup::of(&f, &f.mqtt_options()).unwrap();
        match s.link {
            Link::Ws(u) => assert_eq!(u, "ws://127.0.0.1:9001/mqtt"),
            _ => panic!("not ws"),
        }
    }

    #[test]
    fn a_missing_ca_file_names_the_field() {
        let mut f = feed("mqtts://broker.lan");
        f.mqtt = Some(MqttOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..MqttOptions::default()
        });
        let e = Setup::of(&f, &f.mqtt_options()).err().unwrap().to_string();
        assert!(
            e.contains("mqtt.ca_file") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
        let f = feed("http://broker.lan");
        let e = Setup::of(&f, &f.mqtt_options()).err().unwrap().to_string();
        assert!(e.contains("mqtts://"), "{e}");
    }
}
