//! Secrets in both directions: what goes to the UI is masked
//! ([`telltale_model::secret`]), and masks that come back unchanged are
//! replaced by the stored secret ("replace" semantics), so editing a feed
//! in the UI never needs, nor loses, its credentials.

use crate::error::ApiError;
use telltale_model::secret::{mask_header_value, mask_headers, redact_url};
use telltale_model::FeedConfig;

/// The placeholder that stands for a secret.
pub const MASK: &str = "••••••";

/// True for `••••••` and `<scheme> ••••••` (e.g. `Bearer ••••••`).
pub fn is_masked(value: &str) -> bool {
    if value == MASK {
        return true;
    }
    match value.strip_suffix(MASK).and_then(|p| p.strip_suffix(' ')) {
        Some(scheme) => !scheme.is_empty() && !scheme.contains(char::is_whitespace),
        None => false,
    }
}

/// A copy of `cfg` fit for the UI: header values masked, URL credentials redacted.
pub fn masked(cfg: &FeedConfig) -> FeedConfig {
    let mut out = cfg.clone();
    out.headers = mask_headers(&cfg.headers);
    out.url = redact_url(&cfg.url);
    out
}

/// Replaces masked header values and a redacted URL in `cfg` by the values
/// stored for the same feed. A mask only stands for a stored value that
/// masks to exactly the same text; anything else is an `invalid_feed`
/// error naming the field, so a placeholder is never stored as a secret.
pub fn restore(cfg: &mut FeedConfig, stored: Option<&FeedConfig>) -> Result<(), ApiError> {
    let feed = cfg.name.clone();
    for (name, value) in cfg.headers.iter_mut() {
        if !is_masked(value) {
            continue;
        }
        let old = stored.and_then(|s| {
            s.headers.get(name).or_else(|| {
                s.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
        });
        match old {
            Some(old) if mask_header_value(name, old) == *value => *value = old.clone(),
            _ => {
                return Err(ApiError::invalid_feed(
                    &feed,
                    &format!("headers.{name}"),
                    format!(
                        "is the masked placeholder `{value}`, but no stored value of this feed stands behind it: type the real value (or a `${{VAR}}` reference)"
                    ),
                ))
            }
        }
    }
    if cfg.url.contains(MASK) {
        match stored {
            Some(s) if redact_url(&s.url) == cfg.url => cfg.url = s.url.clone(),
            _ => {
                return Err(ApiError::invalid_feed(
                    &feed,
                    "url",
                    "contains the masked credentials `••••••@`, but the stored URL of this feed differs: type the URL with its real credentials",
                ))
            }
        }
    }
    Ok(())
}

/// Redacts `user:password@` in every URL inside a text, e.g. an error
/// message that quotes the feed's URL (`error sending request for url
/// (https://u:pw@host/…)`), so that connection reasons and issues can go to
/// the UI.
pub fn scrub_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                matches!(
                    c,
                    '/' | '?' | '#' | ')' | ']' | '"' | '\'' | '<' | '>' | ','
                ) || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_messages_are_redacted() {
        assert_eq!(
            scrub_credentials(
                "error sending request for url (https://u:p%40w@h.example:8/x?y=1): refused"
            ),
            "error sending request for url (https://••••••@h.example:8/x?y=1): refused"
        );
        assert_eq!(
            scrub_credentials("ws://h/x and http://a@b"),
            "ws://h/x and http://••••••@b"
        );
        assert_eq!(scrub_credentials("no urls, ünïcode"), "no urls, ünïcode");
        assert_eq!(scrub_credentials("odd ://"), "odd ://");
    }
    use telltale_model::TransportKind;

    fn feed(url: &str, headers: &[(&str, &str)]) -> FeedConfig {
        let mut f = FeedConfig::new("f", TransportKind::Sse, url);
        for (k, v) in headers {
            f.headers.insert(k.to_string(), v.to_string());
        }
        f
    }

    #[test]
    fn the_mask_is_the_models() {
        assert_eq!(mask_header_value("X-Api-Key", "k"), MASK);
        assert!(is_masked(&mask_header_value("Authorization", "Bearer abc")));
        assert!(!is_masked("Bearer abc"));
        assert!(!is_masked(" ••••••"));
        assert!(!is_masked("a b ••••••"));
    }

    #[test]
    fn masks_sent_back_keep_the_stored_secrets() {
        let stored = feed(
            "https://u:pw@h.example/x",
            &[("Authorization", "Bearer s3cret"), ("X-Api-Key", "k3y")],
        );
        let mut edited = masked(&stored);
        assert!(!format!("{edited:?}").contains("s3cret"));
        assert!(!edited.url.contains("pw"));
        edited.headers.insert("Accept".into(), "text/plain".into());
        restore(&mut edited, Some(&stored)).unwrap();
        assert_eq!(edited.headers["Authorization"], "Bearer s3cret");
        assert_eq!(edited.headers["X-Api-Key"], "k3y");
        assert_eq!(edited.url, stored.url);

        // New values replace; `${VAR}` is kept as written.
        let mut edited = masked(&stored);
        edited
            .headers
            .insert("Authorization".into(), "Bearer ${TOKEN}".into());
        restore(&mut edited, Some(&stored)).unwrap();
        assert_eq!(edited.headers["Authorization"], "Bearer ${TOKEN}");
    }

    #[test]
    fn a_mask_without_a_matching_secret_is_an_error() {
        let mut f = feed("http://h/x", &[("Authorization", "Bearer ••••••")]);
        let e = restore(&mut f, None).unwrap_err();
        assert_eq!(e.code, "invalid_feed");
        assert!(e.message.contains("headers.Authorization"), "{}", e.message);
        let stored = feed("http://h/x", &[("Authorization", "Token abc")]);
        assert!(restore(&mut f, Some(&stored)).is_err());
        let mut f = feed("http://••••••@h/x", &[]);
        let e = restore(&mut f, Some(&stored)).unwrap_err();
        assert!(e.message.contains("`url`"), "{}", e.message);
    }
}
