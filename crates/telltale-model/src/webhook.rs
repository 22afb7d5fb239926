//! Inbound webhooks (`[feed.webhook]`): the sender pushes, Telltale
//! receives at `POST /hooks/{feed}`.
//!
//! ```toml
//! [[feed]]
//! name = "ci"
//! transport = "webhook"
//! url = "https://github.com/acme/shop"   # optional: the sender, as a link
//! stale_after = "30m"                    # no delivery for 30 minutes: stale
//! [feed.webhook]
//! verify = "github"
//! secret = "${TELLTALE_SECRET_CI_HOOK}"
//! ```
//!
//! Every verified delivery becomes one message: the body as data (JSON
//! bodies get pointer rules), the provider's event name as its event type
//! and its delivery id as its id. A delivery whose id was already stored is
//! answered `200` and not stored again, so a provider's retry never counts
//! twice. A body that fails verification is answered `401`, counted, and
//! never stored.

use crate::duration::{ByteSize, Dur};
use serde::{Deserialize, Serialize};

/// How deliveries prove they come from the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum WebhookVerify {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`;
    /// the id is `X-GitHub-Delivery`, the event `X-GitHub-Event`.
    Github,
    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    /// "t.body">`, within `tolerance`; the id and event are the body's
    /// `id` and `type`.
    Stripe,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
    /// with the `whsec_…` secret, within `tolerance`; the event is the
    /// body's `type`.
    Standard,
    /// A shared token in `token_header` (`Authorization: Bearer <token>`
    /// by default, or e.g. GitLab's `X-Gitlab-Token: <token>`).
    #[default]
    Token,
    /// No check: anyone who can reach the receiver can post. Only for a
    /// receiver behind something that checks for it.
    None,
}

impl WebhookVerify {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookVerify::Github => "github",
            WebhookVerify::Stripe => "stripe",
            WebhookVerify::Standard => "standard",
            WebhookVerify::Token => "token",
            WebhookVerify::None => "none",
        }
    }
}

/// `[feed.webhook]`; only for `transport = "webhook"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct WebhookOptions {
    /// How a delivery is verified (default `token`).
    pub verify: WebhookVerify,
    /// The shared secret (the signing secret, `whsec_…` for `standard`, or
    /// the token). `${VAR}` references are expanded when the feed starts.
    /// Masked in every view and export.
    pub secret: String,
    /// For `verify = "token"`: the header carrying it (default
    /// `Authorization`, which expects `Bearer <token>`; any other header
    /// carries the token as its whole value).
    pub token_header: String,
    /// The header whose value identifies a delivery, for de-duplication,
    /// when the provider's own is not wanted (e.g. `Idempotency-Key` with
    /// `verify = "token"`). Default: the provider's (see [`WebhookVerify`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
    /// For `stripe` and `standard`: how far a delivery's timestamp may be
    /// from now (default 5 minutes, as both providers advise).
    pub tolerance: Dur,
    /// Largest accepted body (default 1 MiB): larger is answered `413`.
    pub max_body: ByteSize,
    /// Deliveries accepted per minute (default 600, in bursts of up to as
    /// many): beyond it `429` with `Retry-After`.
    pub rate_per_minute: u32,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            verify: WebhookVerify::Token,
            secret: String::new(),
            token_header: "Authorization".into(),
            id_header: None,
            tolerance: Dur::secs(300),
            max_body: ByteSize(1 << 20),
            rate_per_minute: 600,
        }
    }
}

/// The largest `max_body` accepted (bodies are held in memory).
pub const MAX_BODY_LIMIT: u64 = 64 << 20;

/// The path a feed receives at, relative to a receiver's base URL.
pub fn hook_path(feed: &str) -> String {
    let name: String =
        percent_encoding::utf8_percent_encode(feed, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("/hooks/{name}")
}

/// The `[feed.webhook]` checks serde cannot make, as `(field, message)`.
pub(crate) fn validate(feed: &crate::FeedConfig, p: &mut Vec<(String, String)>) {
    let o = feed.webhook.clone().unwrap_or_default();
    if o.verify != WebhookVerify::None && o.secret.trim().is_empty() {
        p.push((
            "webhook.secret".into(),
            format!(
                "is empty, but `verify = \"{}\"` needs the secret the sender signs with (or `verify = \"none\"` to accept any post)",
                o.verify.as_str()
            ),
        ));
    }
    if o.verify == WebhookVerify::Standard
        && !o.secret.contains("${")
        && !o.secret.trim().is_empty()
        && standard_key(&o.secret).is_none()
    {
        p.push((
            "webhook.secret".into(),
            "is not a Standard Webhooks secret: paste the `whsec_…` value the sender shows".into(),
        ));
    }
    if o.verify == WebhookVerify::None && !o.secret.is_empty() {
        p.push((
            "webhook.secret".into(),
            "is set, but `verify = \"none\"` never reads it: choose `github`, `stripe`, `standard` or `token`".into(),
        ));
    }
    for (field, name) in [
        ("webhook.token_header", Some(&o.token_header)),
        ("webhook.id_header", o.id_header.as_ref()),
    ] {
        if let Some(name) = name {
            if crate::validate::http_header_name_invalid(name) {
                p.push((field.into(), format!("`{name}` is not an HTTP header name")));
            }
        }
    }
    if o.tolerance.0 < std::time::Duration::from_secs(1) {
        p.push(("webhook.tolerance".into(), "is below 1s".into()));
    }
    if o.max_body.0 == 0 || o.max_body.0 > MAX_BODY_LIMIT {
        p.push((
            "webhook.max_body".into(),
            "must be between 1 byte and 64MiB".into(),
        ));
    }
    if o.rate_per_minute == 0 {
        p.push((
            "webhook.rate_per_minute".into(),
            "is zero: every delivery would be refused".into(),
        ));
    }
    if !feed.headers.is_empty() {
        p.push((
            "headers".into(),
            "do not apply to a webhook (Telltale sends no request): remove them".into(),
        ));
    }
}

/// The HMAC key of a Standard Webhooks secret (`whsec_<base64>`, or bare
/// base64 as some senders show it).
pub fn standard_key(secret: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let b64 = secret.trim();
    let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(f: impl FnOnce(&mut crate::FeedConfig)) -> Vec<String> {
        let mut feed = crate::FeedConfig::new("hook", crate::TransportKind::Webhook, "");
        feed.webhook = Some(WebhookOptions {
            secret: "s3cret".into(),
            ..WebhookOptions::default()
        });
        f(&mut feed);
        crate::validate::validate_feed(&feed)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn a_plain_token_feed_is_valid() {
        assert_eq!(fields(|_| {}), Vec::<String>::new());
        assert_eq!(
            fields(|f| f.url = "https://github.com/acme/shop".into()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_config_checks_name_the_field() {
        assert_eq!(
            fields(|f| f.webhook.as_mut().unwrap().secret.clear()),
            ["webhook.secret"]
        );
        assert_eq!(
            fields(|f| {
                let w = f.webhook.as_mut().unwrap();
                w.verify = WebhookVerify::Standard;
                w.secret = "not base64!".into();
            }),
            ["webhook.secret"]
        );
        assert_eq!(
            fields(|f| f.webhook.as_mut().unwrap().verify = WebhookVerify::None),
            ["webhook.secret"]
        );
        assert_eq!(
            fields(|f| f.webhook.as_mut().unwrap().token_header = "Bad Header".into()),
            ["webhook.token_header"]
        );
        assert_eq!(
            fields(|f| f.webhook.as_mut().unwrap().max_body = ByteSize(0)),
            ["webhook.max_body"]
        );
        assert_eq!(
            fields(|f| f.webhook.as_mut().unwrap().rate_per_minute = 0),
            ["webhook.rate_per_minute"]
        );
        assert_eq!(fields(|f| f.url = "ws://x/y".into()), ["url"]);
        assert_eq!(
            fields(|f| {
                f.headers.insert("X".into(), "y".into());
            }),
            ["headers"]
        );
    }

    #[test]
    fn standard_secrets_decode_with_or_without_their_prefix() {
        assert_eq!(
            standard_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            standard_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        );
        assert!(standard_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
        assert_eq!(standard_key("whsec_"), None);
    }

    #[test]
    fn feed_names_are_escaped_in_the_path() {
        assert_eq!(hook_path("ci"), "/hooks/ci");
        assert_eq!(hook_path("a b/c"), "/hooks/a%20b%2Fc");
    }
}
