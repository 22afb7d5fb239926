//! Secrets in feed configs: `${ENV}` expansion at connect time (only of
//! allowed variables, see [`expand_env`]), and masking so that secrets never
//! reach logs, errors, exports or the UI in clear.
//!
//! Masking is the default: every header value is masked unless the header
//! is on the short [`NON_SECRET_HEADERS`] list, and URLs lose their
//! credentials and the values of sensitive query parameters
//! ([`redact_url`], [`scrub_urls`]).

use std::collections::BTreeMap;

mod env;
mod url;

pub use self::url::{
    is_sensitive_param, origin, redact_url, restore_url, same_origin, scrub_urls, RestoreError,
};
pub use env::{
    allow_env_names, allowed_env, env_allowed, env_refs, expand_env, expand_with, is_env_name,
    refusal, refused_header_refs, refused_ref, set_allowed_env, EnvError, SECRET_ENV_PREFIX,
};

/// The placeholder that stands for a secret.
pub const MASK: &str = "••••••";

/// Header names (lower case) whose values are not secrets. Every other
/// header is masked: a custom header such as `X-Tenant` or `X-Signature`
/// may carry a credential, and showing a harmless value masked costs less
/// than showing a secret in clear.
pub const NON_SECRET_HEADERS: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-language",
    "content-type",
    "dnt",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "last-event-id",
    "origin",
    "pragma",
    "user-agent",
    "x-request-id",
    "x-requested-with",
];

/// True unless the header is on the short list of [`NON_SECRET_HEADERS`]
/// (masking is the default).
pub fn is_sensitive_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    !NON_SECRET_HEADERS.contains(&n.as_str())
}

/// True for a value that is only one `${VAR}` reference (it reveals
/// nothing, so it is shown as written).
pub fn is_env_ref(v: &str) -> bool {
    v.starts_with("${") && v.ends_with('}') && v.matches("${").count() == 1
}

/// Masks a header value for display: values of sensitive headers become
/// `••••••` (`Bearer ••••••` keeps the scheme); a value that is only a
/// `${VAR}` reference, optionally after a scheme (`Bearer ${API_TOKEN}`), is
/// shown as written since it contains no secret.
pub fn mask_header_value(name: &str, value: &str) -> String {
    let is_ref = is_env_ref;
    let after_scheme = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.len() <= 10 && scheme.chars().all(|c| c.is_ascii_alphabetic()))
        .map(|(_, rest)| rest);
    if is_ref(value) || after_scheme.is_some_and(is_ref) {
        return value.to_string();
    }
    if is_sensitive_header(name) {
        // Keep a scheme prefix such as "Bearer " so the operator can recognise it.
        if let Some((scheme, rest)) = value.split_once(' ') {
            if !rest.is_empty() && scheme.len() <= 10 && !scheme.contains("${") {
                return format!("{scheme} {MASK}");
            }
        }
        return MASK.into();
    }
    value.to_string()
}

/// Masks every header in a map.
pub fn mask_headers(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), mask_header_value(k, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_sensitive_values_only() {
        assert_eq!(
            mask_header_value("Authorization", "Bearer abc123"),
            "Bearer ••••••"
        );
        assert_eq!(mask_header_value("X-Api-Key", "abc123"), "••••••");
        assert_eq!(
            mask_header_value("Authorization", "${API_TOKEN}"),
            "${API_TOKEN}"
        );
        assert_eq!(
            mask_header_value("Accept", "application/json"),
            "application/json"
        );
        assert!(!redact_url("https://u:p@h.example/x").contains("u:p"));
    }

    #[test]
    fn masking_is_the_default() {
        for name in [
            "X-Api-Key",
            "X-Tenant",
            "X-Signature",
            "Proxy-Authorization",
            "Foo",
        ] {
            assert_eq!(mask_header_value(name, "v4lue"), MASK, "{name}");
        }
        for name in [
            "Accept",
            "content-type",
            "User-Agent",
            "Cache-Control",
            "If-None-Match",
        ] {
            assert_eq!(mask_header_value(name, "v4lue"), "v4lue", "{name}");
        }
        assert_eq!(
            mask_header_value("Authorization", "Bearer ${API_TOKEN}"),
            "Bearer ${API_TOKEN}"
        );
        assert_eq!(mask_header_value("X-Api-Key", "a${B}c"), MASK);
    }
}
