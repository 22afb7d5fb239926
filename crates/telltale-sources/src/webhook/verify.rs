//! Whether a delivery comes from the sender: the four schemes of
//! [`WebhookVerify`], each as its provider documents it, compared in
//! constant time.
//!
//! * GitHub: <https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries>
//! * Stripe: <https://docs.stripe.com/webhooks#verify-manually>
//! * Standard Webhooks: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use telltale_model::webhook::{WebhookOptions, WebhookVerify};

/// A feed's verifier, its secret read once when the feed starts.
#[derive(Clone)]
pub(crate) struct Verifier {
    verify: WebhookVerify,
    key: Vec<u8>,
    token_header: String,
    id_header: Option<String>,
    tolerance_secs: i64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("verify", &self.verify)
            .field("key", &"••••••")
            .finish()
    }
}

/// Why a delivery, or the webhook's own settings, are refused: a sentence
/// for the feed's timeline naming the header or setting at fault (never
/// the secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refused(String);

impl From<&str> for Refused {
    fn from(s: &str) -> Self {
        Refused(s.to_string())
    }
}

impl From<String> for Refused {
    fn from(s: String) -> Self {
        Refused(s)
    }
}

/// What a verified delivery says about itself.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Verified {
    /// The provider's delivery id, for de-duplication.
    pub id: Option<String>,
    /// The provider's event name.
    pub event: Option<String>,
}

impl Verifier {
    /// `secret` is the expanded secret (`${VAR}` already read).
    pub(crate) fn new(o: &WebhookOptions, secret: &str) -> Result<Verifier, Refused> {
        let key = match o.verify {
            WebhookVerify::Standard => telltale_model::webhook::standard_key(secret)
                .ok_or("webhook.secret is not a Standard Webhooks secret (`whsec_…`)")?,
            WebhookVerify::None => Vec::new(),
            _ if secret.is_empty() => return Err("webhook.secret is empty".into()),
            _ => secret.as_bytes().to_vec(),
        };
        Ok(Verifier {
            verify: o.verify,
            key,
            token_header: o.token_header.clone(),
            id_header: o.id_header.clone(),
            tolerance_secs: i64::try_from(o.tolerance.0.as_secs()).unwrap_or(i64::MAX),
        })
    }

    /// Checks a delivery received at `now` (Unix seconds); the error says
    /// what was wrong, for the feed's timeline (never the secret).
    pub(crate) fn check(&self, h: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, Refused> {
        let mut v = match self.verify {
            WebhookVerify::Github => self.github(h, body)?,
            WebhookVerify::Stripe => self.stripe(h, body, now)?,
            WebhookVerify::Standard => self.standard(h, body, now)?,
            WebhookVerify::Token => self.token(h)?,
            WebhookVerify::None => Verified::default(),
        };
        if let Some(name) = &self.id_header {
            v.id = header(h, name).map(str::to_string);
        }
        Ok(v)
    }

    fn github(&self, h: &HeaderMap, body: &[u8]) -> Result<Verified, Refused> {
        let given = header(h, "x-hub-signature-256")
            .ok_or("no X-Hub-Signature-256 header: set the webhook's secret on GitHub")?;
        let hex_sig = given
            .strip_prefix("sha256=")
            .ok_or("X-Hub-Signature-256 does not start with `sha256=`")?;
        let mac = hmac_sha256(&self.key, &[body]);
        if !same(
            hex(&mac).as_bytes(),
            hex_sig.to_ascii_lowercase().as_bytes(),
        ) {
            return Err("X-Hub-Signature-256 does not match the body: the secret differs from GitHub's, or the body was changed on the way".into());
        }
        Ok(Verified {
            id: header(h, "x-github-delivery").map(str::to_string),
            event: header(h, "x-github-event").map(str::to_string),
        })
    }

    fn stripe(&self, h: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, Refused> {
        let given = header(h, "stripe-signature").ok_or("no Stripe-Signature header")?;
        let mut t = None;
        let mut sigs = Vec::new();
        for part in given.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => sigs.push(v.to_ascii_lowercase()),
                _ => {}
            }
        }
        let t = t.ok_or("Stripe-Signature has no timestamp (`t=`)")?;
        if sigs.is_empty() {
            return Err("Stripe-Signature has no `v1=` signature".into());
        }
        self.fresh(t, now)?;
        let ts = t.to_string();
        let mac = hex(&hmac_sha256(&self.key, &[ts.as_bytes(), b".", body]));
        if !sigs.iter().any(|s| same(mac.as_bytes(), s.as_bytes())) {
            return Err("Stripe-Signature does not match the body: check the endpoint's signing secret (`whsec_…`)".into());
        }
        let doc: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let field = |k: &str| {
            doc.as_ref()
                .and_then(|d| d.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        Ok(Verified {
            id: field("id"),
            event: field("type"),
        })
    }

    fn standard(&self, h: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, Refused> {
        let id = header(h, "webhook-id").ok_or("no webhook-id header")?;
        let ts = header(h, "webhook-timestamp").ok_or("no webhook-timestamp header")?;
        let given = header(h, "webhook-signature").ok_or("no webhook-signature header")?;
        let t: i64 = ts
            .parse()
            .map_err(|_| format!("webhook-timestamp `{ts}` is not Unix seconds"))?;
        self.fresh(t, now)?;
        let mac = hmac_sha256(&self.key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
        use base64::Engine as _;
        let expected = base64::engine::general_purpose::STANDARD.encode(mac);
        let ok = given
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .any(|s| same(expected.as_bytes(), s.as_bytes()));
        if !ok {
            return Err("webhook-signature has no `v1,` signature matching the body: check the secret (`whsec_…`)".into());
        }
        let event = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|d| d.get("type").and_then(|v| v.as_str()).map(str::to_string));
        Ok(Verified {
            id: Some(id.to_string()),
            event,
        })
    }

    fn token(&self, h: &HeaderMap) -> Result<Verified, Refused> {
        let name = &self.token_header;
        let given = header(h, name).ok_or_else(|| format!("no {name} header"))?;
        let token = if name.eq_ignore_ascii_case("authorization") {
            match given.split_once(' ') {
                Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
                _ => return Err("Authorization is not `Bearer <token>`".into()),
            }
        } else {
            given
        };
        if !same(
            Sha256::digest(token.as_bytes()).as_slice(),
            Sha256::digest(&self.key).as_slice(),
        ) {
            return Err(format!("{name} does not carry the feed's token").into());
        }
        Ok(Verified::default())
    }

    /// Refuses a timestamp further than the tolerance from now (a replayed
    /// delivery, or a clock far off).
    fn fresh(&self, t: i64, now: i64) -> Result<(), Refused> {
        let off = now.saturating_sub(t);
        if off.saturating_abs() > self.tolerance_secs {
            return Err(format!(
                "the signed timestamp is {off}s from now, beyond the {}s tolerance: a replayed delivery, or a clock that is off (check NTP on both hosts)",
                self.tolerance_secs
            ).into());
        }
        Ok(())
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex(&hmac_sha256(key, &[data])), want);
        }
    }

    #[test]
    fn githubs_documented_example_verifies() {
        // From GitHub's "Validating webhook deliveries".
        let o = WebhookOptions {
            verify: WebhookVerify::Github,
            ..Default::default()
        };
        let v = Verifier::new(&o, "It's a Secret to Everybody").unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                .parse()
                .unwrap(),
        );
        assert!(v.check(&h, b"Hello, World!", 0).is_ok());
        assert!(v.check(&h, b"Hello, World?", 0).is_err());
    }

    #[test]
    fn tokens_and_timestamps() {
        let o = WebhookOptions::default();
        let v = Verifier::new(&o, "t0k").unwrap();
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer t0k".parse().unwrap());
        assert!(v.check(&h, b"", 0).is_ok());
        h.insert("authorization", "Bearer t0kk".parse().unwrap());
        assert!(v.check(&h, b"", 0).is_err());
        h.insert("authorization", "Basic t0k".parse().unwrap());
        assert!(v.check(&h, b"", 0).is_err());
        let o = WebhookOptions {
            token_header: "X-Gitlab-Token".into(),
            id_header: Some("Idempotency-Key".into()),
            ..Default::default()
        };
        let v = Verifier::new(&o, "t0k").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-gitlab-token", "t0k".parse().unwrap());
        h.insert("idempotency-key", "d-1".parse().unwrap());
        assert_eq!(v.check(&h, b"", 0).unwrap().id.as_deref(), Some("d-1"));
        assert!(v.fresh(1000, 1300).is_ok());
        assert!(v.fresh(1000, 1301).is_err());
        assert!(v.fresh(1301, 1000).is_err());
    }
}
