//! PEM files named in a feed's options (`ca_file`), read into a
//! native-tls connector. Shared by the transports that make their own TLS
//! connections (MQTT, PostgreSQL, gRPC); the caller names the field a
//! [`PemError`] belongs to.

/// Why a PEM file named in a feed's options cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PemError {
    /// The file cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A certificate block that TLS cannot parse.
    #[error("`{path}` holds a certificate that cannot be read: {problem}")]
    BadCertificate {
        /// The file.
        path: String,
        /// The TLS library's message.
        problem: String,
    },
    /// No `BEGIN CERTIFICATE` block at all.
    #[error("`{path}` holds no PEM certificate")]
    NoCertificate {
        /// The file.
        path: String,
    },
}

/// Trusts only the certificates in the PEM file at `path` (instead of the
/// system's roots).
pub(crate) fn trust_only(
    b: &mut native_tls::TlsConnectorBuilder,
    path: &str,
) -> Result<(), PemError> {
    let pem = read(path)?;
    let mut any = false;
    for block in pem_blocks(&pem, "CERTIFICATE") {
        let cert = native_tls::Certificate::from_pem(block.as_bytes()).map_err(|e| {
            PemError::BadCertificate {
                path: path.to_string(),
                problem: e.to_string(),
            }
        })?;
        b.add_root_certificate(cert);
        any = true;
    }
    if !any {
        return Err(PemError::NoCertificate {
            path: path.to_string(),
        });
    }
    b.disable_built_in_roots(true);
    Ok(())
}

/// A file's text, or an error naming it.
pub(crate) fn read(path: &str) -> Result<String, PemError> {
    std::fs::read_to_string(path).map_err(|source| PemError::Read {
        path: path.to_string(),
        source,
    })
}

/// The PEM blocks of one label in a file, each with its armour.
fn pem_blocks<'a>(pem: &'a str, label: &str) -> Vec<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(b) = rest.find(&begin) {
        let Some(e) = rest[b..].find(&end) else { break };
        let stop = b + e + end.len();
        out.push(&rest[b..stop]);
        rest = &rest[stop..];
    }
    out
}
