//! PEM files named in a feed's options (`ca_file`), read into a
//! native-tls connector. Shared by the transports that make their own TLS
//! connections (MQTT, PostgreSQL); errors are plain text for the caller to
//! name its field.

/// Trusts only the certificates in the PEM file at `path` (instead of the
/// system's roots).
pub(crate) fn trust_only(
    b: &mut native_tls::TlsConnectorBuilder,
    path: &str,
) -> Result<(), String> {
    let pem = read(path)?;
    let mut any = false;
    for block in pem_blocks(&pem, "CERTIFICATE") {
        let cert = native_tls::Certificate::from_pem(block.as_bytes())
            .map_err(|e| format!("`{path}` holds a certificate that cannot be read: {e}"))?;
        b.add_root_certificate(cert);
        any = true;
    }
    if !any {
        return Err(format!("`{path}` holds no PEM certificate"));
    }
    b.disable_built_in_roots(true);
    Ok(())
}

/// A file's text, or a message naming it.
pub(crate) fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))
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
