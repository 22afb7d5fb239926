//! Header values: `${ENV}` expansion at connect time, and masking so that
//! secrets never reach logs, exports or the UI in clear.

use std::collections::BTreeMap;

/// Replaces `${NAME}` with the environment variable `NAME`.
///
/// Returns an error naming the missing variable, so the feed can say what to set.
pub fn expand_env(value: &str) -> Result<String, String> {
    expand_with(value, |k| std::env::var(k).ok())
}

/// [`expand_env`] with an explicit lookup, for tests.
pub fn expand_with(value: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("has `${` without a closing `}`".into());
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "references `${{{name}}}`, which is not a valid variable name"
            ));
        }
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "references the environment variable `{name}`, which is not set: export {name}=… before starting Telltale"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// True for header names that usually carry credentials.
pub fn is_sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "secret",
        "key",
        "password",
        "auth",
        "session",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Masks a header value for display: sensitive headers and values with literal
/// secrets become `••••••`; `${VAR}` references are shown as written since
/// they contain no secret.
pub fn mask_header_value(name: &str, value: &str) -> String {
    if value.starts_with("${") && value.ends_with('}') && value.matches("${").count() == 1 {
        return value.to_string();
    }
    if is_sensitive_header(name) {
        // Keep a scheme prefix such as "Bearer " so the operator can recognise it.
        if let Some((scheme, rest)) = value.split_once(' ') {
            if !rest.is_empty() && scheme.len() <= 10 && !scheme.contains("${") {
                return format!("{scheme} ••••••");
            }
        }
        return "••••••".into();
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

/// Removes user:password from a URL for display.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let s = u.to_string();
            match s.split_once("://") {
                Some((scheme, rest)) => format!("{scheme}://••••••@{rest}"),
                None => s,
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_reports_missing() {
        let f = |k: &str| (k == "TOKEN").then(|| "s3cret".to_string());
        assert_eq!(expand_with("Bearer ${TOKEN}", f).unwrap(), "Bearer s3cret");
        assert_eq!(expand_with("plain", f).unwrap(), "plain");
        let e = expand_with("${NOPE}", f).unwrap_err();
        assert!(e.contains("NOPE") && e.contains("export"), "{e}");
        assert!(expand_with("${oops", f).is_err());
    }

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
}
