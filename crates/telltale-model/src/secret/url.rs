//! URLs for display: credentials (`user:password@`) and the values of
//! sensitive query parameters (`?token=…`, `&api_key=…`, `&sig=…`) are
//! replaced by [`MASK`], in a URL alone ([`redact_url`]) or in any text that
//! quotes URLs, such as an error message ([`scrub_urls`]).
//!
//! Masking works on the text, without re-serialising the URL, so what is
//! not secret is shown exactly as written.

use super::MASK;

/// Query parameter names (lower case) whose values are secrets when the
/// name contains them.
const SECRET_PARAM_PARTS: &[&str] = &[
    "token",
    "secret",
    "passw",
    "apikey",
    "api_key",
    "api-key",
    "session",
    "credential",
    "signature",
];

/// Query parameter names (lower case) whose values are secrets when the
/// name is one of these, or ends with `_<name>` / `-<name>`.
const SECRET_PARAM_WORDS: &[&str] = &["key", "sig", "pwd", "pass", "auth", "jwt"];

/// True for query parameter names that usually carry a secret (`token`,
/// `access_token`, `key`, `api_key`, `secret`, `sig`, `password`, …).
pub fn is_sensitive_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAM_PARTS.iter().any(|p| n.contains(p))
        || SECRET_PARAM_WORDS.iter().any(|w| {
            n == *w
                || n.strip_suffix(w)
                    .is_some_and(|head| head.ends_with('_') || head.ends_with('-'))
        })
}

/// Masks the values of sensitive parameters in a raw query string (without
/// the `?`); the rest is kept as written.
fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_sensitive_param(&decode(name)) => {
                format!("{name}={MASK}")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn decode(name: &str) -> String {
    url::form_urlencoded::parse(name.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// A URL's text cut into its parts, without decoding anything.
struct Parts<'a> {
    /// `scheme://`
    scheme: &'a str,
    /// `user:password` (without the `@`), if any.
    userinfo: Option<&'a str>,
    /// `host:port`
    host: &'a str,
    /// The path.
    path: &'a str,
    /// The query without `?`, if any.
    query: Option<&'a str>,
    /// `#fragment`, or empty.
    fragment: &'a str,
}

fn parts(url: &str) -> Option<Parts<'_>> {
    let i = url.find("://")?;
    let (scheme, tail) = url.split_at(i + 3);
    let authority_end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    let (authority, rest) = tail.split_at(authority_end);
    let (userinfo, host) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (before_fragment, fragment) = match rest.find('#') {
        Some(h) => rest.split_at(h),
        None => (rest, ""),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    Some(Parts {
        scheme,
        userinfo,
        host,
        path,
        query,
        fragment,
    })
}

impl Parts<'_> {
    fn join(&self, userinfo: Option<&str>, query: Option<&str>) -> String {
        let mut out = String::from(self.scheme);
        if let Some(u) = userinfo {
            out.push_str(u);
            out.push('@');
        }
        out.push_str(self.host);
        out.push_str(self.path);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out.push_str(self.fragment);
        out
    }
}

/// Masks one URL written as text: `scheme://user:pw@host/p?token=x#f`
/// becomes `scheme://••••••@host/p?token=••••••#f`.
fn mask_url_text(url: &str) -> String {
    match parts(url) {
        Some(p) => p.join(p.userinfo.map(|_| MASK), p.query.map(mask_query).as_deref()),
        None => url.to_string(),
    }
}

/// Why a URL with masks in it cannot take the stored secrets back. Each
/// message follows the field's name ("`url` contains …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// Masks, but no stored URL.
    #[error("contains the masked placeholder `{}`, but this feed has no stored URL behind it: type the URL with its real credentials", MASK)]
    NothingStored,
    /// Masks, and a server other than the stored URL's.
    #[error("contains masked credentials (`{}`) and now points to another scheme, host or port than the stored URL: the stored secrets are only sent to the server they were given for, so type them again", MASK)]
    OtherServer,
    /// Not a URL.
    #[error("cannot be read as a URL")]
    Unreadable,
    /// Masked credentials, none stored.
    #[error(
        "has masked credentials (`{}@`), but the stored URL has none: type the real credentials",
        MASK
    )]
    NoStoredCredentials,
    /// A masked query parameter with no stored value.
    #[error("has the masked query parameter `{0}`, but the stored URL has no value for it: type the real value")]
    NoStoredParam(String),
    /// A mask where nothing was masked.
    #[error(
        "contains the masked placeholder `{}` where no secret was masked: type the real value",
        MASK
    )]
    StrayMask,
}

/// Puts the stored secrets back into a URL the UI sent with masks in it
/// (`https://••••••@host/…?token=••••••`): the masked credentials and the
/// masked query values come from `stored`, the rest from `edited`, so the
/// operator may change the path or other parameters without retyping the
/// secrets.
///
/// Refused (the `Err` says why, for a message about the feed's `url`) when
/// the edited URL points to another scheme, host or port than the stored
/// one — the secrets were given for that server only — or when a mask has
/// no stored value behind it.
pub fn restore_url(edited: &str, stored: Option<&str>) -> Result<String, RestoreError> {
    if !edited.contains(MASK) {
        return Ok(edited.to_string());
    }
    let Some(stored) = stored else {
        return Err(RestoreError::NothingStored);
    };
    if !same_origin(edited, stored) {
        return Err(RestoreError::OtherServer);
    }
    let (Some(e), Some(s)) = (parts(edited), parts(stored)) else {
        return Err(RestoreError::Unreadable);
    };
    let userinfo = match e.userinfo {
        Some(u) if u == MASK => match s.userinfo {
            Some(stored_u) => Some(stored_u),
            None => return Err(RestoreError::NoStoredCredentials),
        },
        other => other,
    };
    let query = match e.query {
        Some(q) => {
            let stored_pairs: Vec<(&str, &str)> = s
                .query
                .map(|sq| sq.split('&').filter_map(|p| p.split_once('=')).collect())
                .unwrap_or_default();
            let mut out = Vec::new();
            for pair in q.split('&') {
                match pair.split_once('=') {
                    Some((name, value)) if value == MASK => {
                        match stored_pairs.iter().find(|(n, _)| *n == name) {
                            Some((_, v)) => out.push(format!("{name}={v}")),
                            None => return Err(RestoreError::NoStoredParam(name.to_string())),
                        }
                    }
                    _ => out.push(pair.to_string()),
                }
            }
            Some(out.join("&"))
        }
        None => None,
    };
    let restored = e.join(userinfo, query.as_deref());
    if restored.contains(MASK) {
        return Err(RestoreError::StrayMask);
    }
    Ok(restored)
}

/// A URL fit for display: credentials and sensitive query values masked.
pub fn redact_url(url: &str) -> String {
    mask_url_text(url)
}

/// [`redact_url`] for every URL inside a text (an error message that quotes
/// the feed's URL, `error sending request for url (https://u:pw@host/…)`).
pub fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // Back up over the scheme's letters so the URL is masked whole.
        let scheme_start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |p| p + 1);
        out.push_str(&rest[..scheme_start]);
        let url_part = &rest[scheme_start..];
        let end = url_part
            .find(|c: char| {
                matches!(c, ')' | ']' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
            })
            .unwrap_or(url_part.len());
        out.push_str(&mask_url_text(&url_part[..end]));
        rest = &url_part[end..];
    }
    out.push_str(rest);
    out
}

/// Scheme, host and port (the default port when none is written) of a URL,
/// or `None` if it does not parse.
pub fn origin(url: &str) -> Option<(String, String, Option<u16>)> {
    let u = url::Url::parse(url).ok()?;
    Some((
        u.scheme().to_ascii_lowercase(),
        u.host_str()?.to_ascii_lowercase(),
        u.port_or_known_default(),
    ))
}

/// True if both URLs parse and have the same scheme, host and port.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (origin(a), origin(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_secret_params_are_masked() {
        assert_eq!(
            redact_url("https://u:p@h.example/x"),
            "https://••••••@h.example/x"
        );
        assert_eq!(
            redact_url("https://h.example/x?a=1&token=abc&Api_Key=k&sig=s&page=2#top"),
            "https://h.example/x?a=1&token=••••••&Api_Key=••••••&sig=••••••&page=2#top"
        );
        assert_eq!(
            redact_url("wss://h/x?access_token=t&monkey=1&signal=2&x-key=3"),
            "wss://h/x?access_token=••••••&monkey=1&signal=2&x-key=••••••"
        );
        assert_eq!(redact_url("http://h/x?token="), "http://h/x?token=");
        assert_eq!(redact_url("http://h:8/a/b"), "http://h:8/a/b");
    }

    #[test]
    fn masked_urls_restore_on_the_same_origin_only() {
        let stored = "https://u:pw@h.example/x?token=t0k&a=1";
        let shown = redact_url(stored);
        assert_eq!(restore_url(&shown, Some(stored)).unwrap(), stored);
        // The path and other parameters may change; the secrets stay.
        let edited = shown.replace("/x?", "/y?").replace("a=1", "a=2");
        assert_eq!(
            restore_url(&edited, Some(stored)).unwrap(),
            "https://u:pw@h.example/y?token=t0k&a=2"
        );
        // Another host, scheme or port: refused.
        for other in [
            shown.replace("h.example", "evil.example"),
            shown.replace("https:", "http:"),
            shown.replace("h.example/", "h.example:8443/"),
        ] {
            let e = restore_url(&other, Some(stored)).unwrap_err().to_string();
            assert!(e.contains("another scheme, host or port"), "{e}");
        }
        assert!(restore_url("https://h.example/x?key=••••••", Some(stored)).is_err());
        assert!(restore_url(&shown, None).is_err());
        assert_eq!(restore_url("http://h/x", None).unwrap(), "http://h/x");
    }

    #[test]
    fn urls_inside_text_are_masked() {
        assert_eq!(
            scrub_urls(
                "error sending request for url (https://u:p%40w@h.example:8/x?y=1&password=hunter2): refused"
            ),
            "error sending request for url (https://••••••@h.example:8/x?y=1&password=••••••): refused"
        );
        assert_eq!(
            scrub_urls("ws://h/x and http://a@b"),
            "ws://h/x and http://••••••@b"
        );
        assert_eq!(scrub_urls("no urls, ünïcode"), "no urls, ünïcode");
        assert_eq!(scrub_urls("odd ://"), "odd ://");
    }

    #[test]
    fn config_errors_do_not_echo_url_passwords() {
        use crate::{FeedConfig, TransportKind};
        for url in ["http://u:hunter2@[bad/x", "http://u:hunter2@/x?token=t0k"] {
            let f = FeedConfig::new("f", TransportKind::Poll, url);
            let problems = crate::config::validate_feed(&f);
            let text = format!("{problems:?}");
            assert!(text.contains("url"), "{text}");
            assert!(!text.contains("hunter2") && !text.contains("t0k"), "{text}");
        }
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            "https://H.example/a",
            "https://h.example:443/b?x"
        ));
        assert!(!same_origin("https://h.example/a", "http://h.example/a"));
        assert!(!same_origin(
            "http://h.example/a",
            "http://h.example:8080/a"
        ));
        assert!(!same_origin("http://h.example/a", "http://evil.example/a"));
        assert!(!same_origin("not a url", "not a url"));
    }
}
