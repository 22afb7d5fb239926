//! Secrets in both directions: what goes to the UI is masked
//! ([`telltale_model::secret`]), and masks that come back unchanged are
//! replaced by the stored secret ("replace" semantics), so editing a feed
//! in the UI never needs, nor loses, its credentials.
//!
//! A stored secret was given for one server: masks are restored only when
//! the feed's URL keeps the stored scheme, host and port. Pointing the feed
//! elsewhere (through the API, a *Test connection* or an import) with masks
//! in it is refused, so nobody who can reach the API can send the stored
//! `Authorization` to a server of their choosing. `${VAR}` references must
//! name variables this process may expand (see
//! [`telltale_model::secret::expand_env`]).

use crate::error::ApiError;
use std::collections::BTreeMap;
use telltale_model::secret::{
    env_allowed, mask_header_value, mask_headers, origin, redact_url, refused_header_refs,
    refused_ref, restore_url, same_origin, scrub_urls,
};
use telltale_model::FeedConfig;

/// The placeholder that stands for a secret.
pub const MASK: &str = telltale_model::secret::MASK;

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

/// A copy of `cfg` fit for the UI: header values (and a GraphQL feed's
/// `connection_params`, a Socket.IO feed's `auth`) masked, URL
/// credentials redacted.
pub fn masked(cfg: &FeedConfig) -> FeedConfig {
    let mut out = cfg.clone();
    out.headers = mask_headers(&cfg.headers);
    if let Some(g) = out.graphql.as_mut() {
        g.connection_params = mask_headers(&g.connection_params);
    }
    if let Some(o) = out.socketio.as_mut() {
        o.auth = mask_headers(&o.auth);
    }
    if let Some(w) = out.webhook.as_mut() {
        w.secret = mask_secret(&w.secret);
    }
    out.url = redact_url(&cfg.url);
    out.proxy = cfg.proxy.as_deref().map(redact_url);
    out
}

/// A whole-value secret as the UI sees it: [`MASK`], unless it is empty
/// or a `${VAR}` reference (which reveals nothing).
pub fn mask_secret(value: &str) -> String {
    if value.is_empty() || telltale_model::secret::is_env_ref(value) {
        value.to_string()
    } else {
        MASK.into()
    }
}

/// Replaces masked header values (and `graphql.connection_params`,
/// `socketio.auth`) and
/// masked URL parts in `cfg` by the values stored for the same feed, then
/// checks its `${VAR}` references.
///
/// A mask only stands for a stored value that masks to exactly the same
/// text, and only while the URL keeps the stored scheme, host and port;
/// anything else is an `invalid_feed` error naming the field, so a
/// placeholder is never stored as a secret and a secret never follows the
/// feed to another server.
pub fn restore(cfg: &mut FeedConfig, stored: Option<&FeedConfig>) -> Result<(), ApiError> {
    let feed = cfg.name.clone();
    let same_server = stored.is_some_and(|s| same_origin(&cfg.url, &s.url));
    let behind = Behind {
        feed: &feed,
        stored_url: stored.map(|s| s.url.as_str()),
        same_server,
    };
    behind.restore(&mut cfg.headers, stored.map(|s| &s.headers), "headers")?;
    if let Some(g) = cfg.graphql.as_mut() {
        let old = stored
            .and_then(|s| s.graphql.as_ref())
            .map(|g| &g.connection_params);
        behind.restore(&mut g.connection_params, old, "graphql.connection_params")?;
        refs_allowed(&feed, &g.connection_params, "graphql.connection_params")?;
    }
    if let Some(o) = cfg.socketio.as_mut() {
        let old = stored.and_then(|s| s.socketio.as_ref()).map(|o| &o.auth);
        behind.restore(&mut o.auth, old, "socketio.auth")?;
        refs_allowed(&feed, &o.auth, "socketio.auth")?;
    }
    if let Some(w) = cfg.webhook.as_mut() {
        // A webhook's secret only checks what arrives; it is never sent, so
        // it stays behind its mask whatever the (informational) URL says.
        if w.secret == MASK {
            match stored.and_then(|s| s.webhook.as_ref()).map(|o| &o.secret) {
                Some(old) if mask_secret(old) == MASK => w.secret = old.clone(),
                _ => {
                    return Err(ApiError::invalid_feed(
                        &feed,
                        "webhook.secret",
                        format!("is the masked placeholder `{MASK}`, but no stored secret of this feed stands behind it: type the real value (or a `${{VAR}}` reference)"),
                    ))
                }
            }
        }
        if let Some(m) = refused_ref(&w.secret, env_allowed) {
            return Err(ApiError::invalid_feed(&feed, "webhook.secret", m));
        }
    }
    cfg.url = restore_url(&cfg.url, stored.map(|s| s.url.as_str()))
        .map_err(|m| ApiError::invalid_feed(&feed, "url", m))?;
    if let Some(proxy) = cfg.proxy.as_mut() {
        // The proxy's credentials stay behind their mask only while the
        // proxy keeps its scheme, host and port.
        let old = stored.and_then(|s| s.proxy.as_deref());
        *proxy = restore_url(proxy, old).map_err(|m| ApiError::invalid_feed(&feed, "proxy", m))?;
    }
    if let Some((field, message)) = refused_header_refs(cfg, env_allowed).into_iter().next() {
        return Err(ApiError::invalid_feed(&feed, &field, message));
    }
    Ok(())
}

/// Refuses `${VAR}` references this process may not expand.
fn refs_allowed(feed: &str, map: &BTreeMap<String, String>, prefix: &str) -> Result<(), ApiError> {
    for (name, value) in map {
        if let Some(m) = refused_ref(value, env_allowed) {
            return Err(ApiError::invalid_feed(feed, &format!("{prefix}.{name}"), m));
        }
    }
    Ok(())
}

/// What restoring a map of masked values needs to know about the feed.
struct Behind<'a> {
    feed: &'a str,
    stored_url: Option<&'a str>,
    same_server: bool,
}

impl Behind<'_> {
    /// Replaces each masked value in `map` by the stored one it stands
    /// for (names matched case-insensitively, as HTTP does).
    fn restore(
        &self,
        map: &mut BTreeMap<String, String>,
        stored: Option<&BTreeMap<String, String>>,
        prefix: &str,
    ) -> Result<(), ApiError> {
        for (name, value) in map.iter_mut() {
            if !is_masked(value) {
                continue;
            }
            let field = format!("{prefix}.{name}");
            let old = stored.and_then(|s| {
                s.get(name).or_else(|| {
                    s.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                })
            });
            match (old, self.stored_url) {
                (Some(old), Some(url)) if mask_header_value(name, old) == *value => {
                    if !self.same_server {
                        return Err(ApiError::invalid_feed(
                            self.feed,
                            &field,
                            format!(
                                "is masked and the URL now points to another host than the stored one ({}): type the value again. A stored secret is only sent to the scheme, host and port it was given for",
                                server(url)
                            ),
                        ));
                    }
                    *value = old.clone();
                }
                _ => {
                    return Err(ApiError::invalid_feed(
                        self.feed,
                        &field,
                        format!(
                            "is the masked placeholder `{value}`, but no stored value of this feed stands behind it: type the real value (or a `${{VAR}}` reference)"
                        ),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// `scheme://host:port` of a URL, for messages (never credentials).
fn server(url: &str) -> String {
    match origin(url) {
        Some((scheme, host, Some(port))) => format!("{scheme}://{host}:{port}"),
        Some((scheme, host, None)) => format!("{scheme}://{host}"),
        None => "an unreadable URL".into(),
    }
}

/// Masks credentials and sensitive query values in every URL inside a
/// text, e.g. an error message that quotes the feed's URL (`error sending
/// request for url (https://u:pw@host/…?token=…)`), so that connection
/// reasons and issues can go to the UI.
pub fn scrub_credentials(text: &str) -> String {
    scrub_urls(text)
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
        edited.headers.insert(
            "Authorization".into(),
            "Bearer ${TELLTALE_SECRET_TOKEN}".into(),
        );
        restore(&mut edited, Some(&stored)).unwrap();
        assert_eq!(
            edited.headers["Authorization"],
            "Bearer ${TELLTALE_SECRET_TOKEN}"
        );
    }

    #[test]
    fn proxy_credentials_are_masked_and_kept_only_for_the_same_proxy() {
        let mut stored = feed("wss://h.example/ws", &[]);
        stored.proxy = Some("http://u:s3cret@proxy.lan:3128".into());
        let shown = masked(&stored);
        let p = shown.proxy.clone().unwrap();
        assert!(!p.contains("s3cret") && p.contains("proxy.lan:3128"), "{p}");
        let mut edited = shown.clone();
        restore(&mut edited, Some(&stored)).unwrap();
        assert_eq!(edited.proxy, stored.proxy);
        let mut moved = shown;
        moved.proxy = Some(p.replace("proxy.lan", "evil.example"));
        let e = restore(&mut moved, Some(&stored)).unwrap_err();
        assert!(e.message.contains("`proxy`"), "{}", e.message);
    }

    #[test]
    fn a_mask_without_a_matching_secret_is_an_error() {
        let mut f = feed("http://h/x", &[("Authorization", "Bearer ••••••")]);
        let e = restore(&mut f, None).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidFeed);
        assert!(e.message.contains("headers.Authorization"), "{}", e.message);
        let stored = feed("http://h/x", &[("Authorization", "Token abc")]);
        assert!(restore(&mut f, Some(&stored)).is_err());
        let mut f = feed("http://••••••@h/x", &[]);
        let e = restore(&mut f, Some(&stored)).unwrap_err();
        assert!(e.message.contains("`url`"), "{}", e.message);
    }

    #[test]
    fn masks_are_restored_only_for_the_stored_scheme_host_and_port() {
        let stored = feed(
            "https://h.example/x?token=t0k",
            &[("Authorization", "Bearer s3cret"), ("X-Api-Key", "k3y")],
        );
        for url in [
            "https://evil.example/x",
            "http://h.example/x",
            "https://h.example:8443/x",
        ] {
            let mut edited = masked(&stored);
            edited.url = url.into();
            let e = restore(&mut edited, Some(&stored)).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidFeed);
            assert!(
                e.message.contains("headers.") && e.message.contains("another host"),
                "{}",
                e.message
            );
        }
        // New values typed for the new host are fine.
        let mut edited = masked(&stored);
        edited.url = "https://evil.example/x".into();
        edited
            .headers
            .insert("Authorization".into(), "Bearer new".into());
        edited.headers.insert("X-Api-Key".into(), "new".into());
        restore(&mut edited, Some(&stored)).unwrap();
        assert_eq!(edited.headers["X-Api-Key"], "new");
        // A masked query value follows the same rule.
        let mut edited = masked(&stored);
        assert_eq!(edited.url, "https://h.example/x?token=••••••");
        edited.url = "https://h.example/y?token=••••••".into();
        restore(&mut edited, Some(&stored)).unwrap();
        assert_eq!(edited.url, "https://h.example/y?token=t0k");
    }

    #[test]
    fn only_allowed_variables_may_be_referenced() {
        let mut f = feed("http://h/x", &[("X-Api-Key", "${HOME}")]);
        let e = restore(&mut f, None).unwrap_err();
        assert!(
            e.message.contains("feed `f`")
                && e.message.contains("headers.X-Api-Key")
                && e.message.contains("`HOME`")
                && e.message.contains("allow_env"),
            "{}",
            e.message
        );
        let mut f = feed("http://h/x", &[("X-Api-Key", "${TELLTALE_SECRET_K}")]);
        restore(&mut f, None).unwrap();
    }

    #[test]
    fn webhook_secrets_are_masked_and_kept_behind_the_mask() {
        let mut stored = FeedConfig::new("hook", TransportKind::Webhook, "");
        stored.webhook = Some(telltale_model::webhook::WebhookOptions {
            secret: "whs3cret".into(),
            ..Default::default()
        });
        let mut edited = masked(&stored);
        assert_eq!(edited.webhook.as_ref().unwrap().secret, MASK);
        assert!(!format!("{edited:?}").contains("whs3cret"));
        edited.url = "https://github.com/acme/shop".into();
        restore(&mut edited, Some(&stored)).unwrap();
        assert_eq!(edited.webhook.as_ref().unwrap().secret, "whs3cret");
        // No stored secret behind the mask: an error naming the field.
        let mut new = masked(&stored);
        let e = restore(&mut new, None).unwrap_err();
        assert!(e.message.contains("webhook.secret"), "{}", e.message);
        // References are shown, and must be allowed.
        assert_eq!(
            mask_secret("${TELLTALE_SECRET_HOOK}"),
            "${TELLTALE_SECRET_HOOK}"
        );
        let mut f = stored.clone();
        f.webhook.as_mut().unwrap().secret = "${HOME}".into();
        let e = restore(&mut f, None).unwrap_err();
        assert!(e.message.contains("webhook.secret"), "{}", e.message);
    }
}
