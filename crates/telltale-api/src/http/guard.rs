//! Who may use `/api`: the checks every API request passes before its
//! handler runs (the WebSocket upgrade included), in this order:
//!
//! 1. **Host.** Without a token, the `Host` must be a loopback name
//!    (`localhost`, `127.0.0.1`, `[::1]`, with any port), which defeats DNS
//!    rebinding; a request without a `Host` is refused (400).
//! 2. **Origin.** A request with an `Origin` header (every browser `fetch`
//!    but a same-origin GET, every WebSocket handshake, every form POST) is
//!    accepted only from the server's own origin, `http://` (or `https://`,
//!    behind a TLS proxy) plus the request's `Host`, or from an origin listed
//!    with `--allow-origin`. Other ports of `localhost` are other origins: a
//!    page served by any other local program is refused, and so is the opaque
//!    origin `null` (sandboxed frames, `file:` pages).
//! 3. **Sec-Fetch-Site.** `cross-site` and `same-site` are refused unless the
//!    `Origin` is a listed one, so that requests browsers send without an
//!    `Origin` (navigations, `<img>`, `<script>`) cannot reach the API from
//!    other pages either. `same-origin`, `none` (the address bar) and no
//!    header at all (not a browser, or an old one) pass.
//! 4. **CORS preflight.** An `OPTIONS` preflight from a listed origin is
//!    answered (204) here, before the token check, since browsers send no
//!    credentials with it. Responses to listed origins carry
//!    `Access-Control-Allow-Origin`; nobody else gets CORS headers.
//! 5. **Token.** With a token, `Authorization: Bearer <token>` (the scheme
//!    in any case) or, on the WebSocket only, `?token=<token>`. Tokens are
//!    compared as SHA-256 digests in constant time, so neither their bytes
//!    nor their length show in the timing.
//! 6. **No simple requests that change state.** `POST`, `PUT`, `PATCH` and
//!    `DELETE` must be sent as `application/json` or `application/toml`, or
//!    carry an `X-Telltale-Request` header. A web page can only send those
//!    after a CORS preflight, which this server answers for listed origins
//!    only; `text/plain`, form and multipart bodies, which any page may send
//!    without asking, are refused (415; 403 without a body).

use crate::error::{ApiError, ErrorCode};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, Uri};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// The custom header that marks a request as sent by a program or by the
/// UI's own script (which no other page can send without a preflight).
pub const REQUEST_HEADER: &str = "x-telltale-request";

/// What the server accepts, fixed at start.
pub(super) struct Policy {
    /// SHA-256 of the token.
    token: Option<[u8; 32]>,
    /// Allowed foreign origins, as `Url::origin().ascii_serialization()`.
    allow_origins: Vec<String>,
}

/// What a request that passed the guard gets.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pass {
    /// On to the handler; `Some(origin)` for a listed foreign origin, whose
    /// response gets CORS headers.
    Handler(Option<HeaderValue>),
    /// A CORS preflight from a listed origin: answer it right away.
    Preflight(HeaderValue),
}

/// Why an `--allow-origin` value is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Not a URL at all.
    #[error("--allow-origin {text}: not an origin ({problem}); write it as scheme://host[:port], e.g. http://localhost:5173")]
    NotAUrl {
        /// The value given.
        text: String,
        /// The parser's message.
        problem: String,
    },
    /// A scheme without web pages.
    #[error("--allow-origin {0}: only http:// and https:// pages have an origin to allow")]
    Scheme(String),
    /// A path, query, fragment or user name after the origin.
    #[error("--allow-origin {text}: an origin is only scheme://host[:port], without a path (did you mean {origin}?)")]
    NotJustOrigin {
        /// The value given.
        text: String,
        /// Its origin.
        origin: String,
    },
}

/// Checks one `--allow-origin` value and gives its normal form
/// (`http://localhost:5173`).
pub fn normalize_origin(text: &str) -> Result<String, OriginError> {
    let url = url::Url::parse(text.trim()).map_err(|e| OriginError::NotAUrl {
        text: text.to_string(),
        problem: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OriginError::Scheme(text.to_string()));
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(OriginError::NotJustOrigin {
            text: text.to_string(),
            origin: url.origin().ascii_serialization(),
        });
    }
    Ok(url.origin().ascii_serialization())
}

impl Policy {
    /// `allow_origins` must have been through [`normalize_origin`].
    pub(super) fn new(token: Option<&str>, allow_origins: Vec<String>) -> Policy {
        Policy {
            token: token.map(digest),
            allow_origins,
        }
    }

    pub(super) fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Pass, ApiError> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| uri.authority().map(|a| a.to_string()));
        if self.token.is_none() {
            match host.as_deref() {
                None => {
                    return Err(ApiError::invalid_request(
                        "this request has no Host header: without a token the server only answers requests to localhost, 127.0.0.1 or [::1] (use HTTP/1.1, which sends one)",
                    ))
                }
                Some(h) if !is_loopback_authority(h) => {
                    return Err(ApiError::new(ErrorCode::Forbidden,
                        "without a token this server only answers to localhost, 127.0.0.1 or [::1] (this protects against DNS rebinding); start it with a token to use other host names",
                    ))
                }
                Some(_) => {}
            }
        }

        let mut listed = None;
        if let Some(value) = headers.get(header::ORIGIN) {
            let origin = value.to_str().unwrap_or("null");
            if self.is_listed(origin) {
                listed = Some(value.clone());
            } else if !is_own_origin(origin, host.as_deref()) {
                return Err(ApiError::new(ErrorCode::Forbidden,
                    format!(
                        "requests from the web page origin {origin} are not accepted: the API only serves the pages of this server{}. To let pages from {origin} use it, start the server with --allow-origin {origin}",
                        host.as_deref().map(|h| format!(" (http://{h})")).unwrap_or_default()
                    ),
                ));
            }
        }
        if listed.is_none() {
            if let Some(site) = headers
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok())
                .filter(|s| {
                    s.eq_ignore_ascii_case("cross-site") || s.eq_ignore_ascii_case("same-site")
                })
            {
                return Err(ApiError::new(ErrorCode::Forbidden,
                    format!(
                        "the browser marks this request as coming from another web site (Sec-Fetch-Site: {site}): the API only serves the pages of this server. To let another page use it, start the server with --allow-origin <that page's origin>"
                    ),
                ));
            }
        }

        if let Some(origin) = &listed {
            if method == Method::OPTIONS
                && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
            {
                return Ok(Pass::Preflight(origin.clone()));
            }
        }

        if let Some(token) = &self.token {
            self.check_token(token, headers, uri)?;
        }

        if changes_state(method) {
            check_not_simple(method, headers)?;
        }
        Ok(Pass::Handler(listed))
    }

    fn is_listed(&self, origin: &str) -> bool {
        !self.allow_origins.is_empty()
            && normalize_origin(origin).is_ok_and(|o| self.allow_origins.contains(&o))
    }

    fn check_token(
        &self,
        token: &[u8; 32],
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<(), ApiError> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token);
        let websocket = headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        let query_token = websocket
            .then(|| {
                url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "token")
                    .map(|(_, v)| v.into_owned())
            })
            .flatten();
        let ok = bearer.is_some_and(|b| same_secret(b, token))
            || query_token.is_some_and(|q| same_secret(&q, token));
        if ok {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::Unauthorized,
                "this server needs its API token: send `Authorization: Bearer <token>` (or `?token=<token>` on the WebSocket)",
            ))
        }
    }
}

/// Headers that let a listed origin read the response.
pub(super) fn cors_headers(h: &mut HeaderMap, origin: HeaderValue, preflight: bool) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("content-disposition"),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, x-telltale-request"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        // Chrome's Private Network Access: a listed public page may call a
        // server on the operator's machine.
        h.insert(
            HeaderName::from_static("access-control-allow-private-network"),
            HeaderValue::from_static("true"),
        );
    }
}

fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn check_not_simple(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key(REQUEST_HEADER) {
        return Ok(());
    }
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(ErrorCode::Forbidden,
            format!("{method} requests to the API must carry an `X-Telltale-Request: 1` header (or a JSON body with `Content-Type: application/json`): pages on other web origins cannot send either without this server's consent, so the header shows the request is not forged by one"),
        ));
    };
    let essence = content_type
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence == "application/toml" {
        return Ok(());
    }
    Err(ApiError::new(ErrorCode::UnsupportedMediaType,
        format!("{method} requests to the API take `Content-Type: application/json` (config imports: `application/toml`), or another type together with an `X-Telltale-Request: 1` header; `{essence}` alone is refused because any web page can send it"),
    ))
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Compares digests, so the time taken does not depend on where the two
/// differ, nor on whether their lengths do.
fn same_secret(given: &str, expected: &[u8; 32]) -> bool {
    bool::from(digest(given).ct_eq(expected))
}

/// The token of `Bearer <token>`, the scheme in any case (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once([' ', '\t'])?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(super) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The host part of `host[:port]`, without IPv6 brackets.
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn is_loopback_authority(authority: &str) -> bool {
    let host = host_part(authority);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(is_loopback)
}

/// Whether `origin` is this server's: its scheme (http, or https behind a
/// TLS proxy) with the request's `Host`, default ports included.
fn is_own_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    if host.is_empty()
        || host.contains(['@', '/', '\\', '?', '#'])
        || host.contains(char::is_whitespace)
    {
        return false;
    }
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    if !matches!(origin.scheme(), "http" | "https") {
        return false;
    }
    url::Url::parse(&format!("{}://{host}", origin.scheme()))
        .is_ok_and(|own| own.origin() == origin.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_origins() {
        let own = |o, h| is_own_origin(o, Some(h));
        assert!(own("http://127.0.0.1:7878", "127.0.0.1:7878"));
        assert!(own("http://LOCALHOST:7878", "localhost:7878"));
        assert!(own("http://[::1]:7878", "[::1]:7878"));
        assert!(own("http://localhost", "localhost:80"));
        assert!(own("https://mon.example", "mon.example"));
        assert!(!own("http://localhost:5173", "127.0.0.1:7878"));
        assert!(!own("http://localhost:5173", "localhost:7878"));
        assert!(!own("http://127.0.0.1:7878", "localhost:7878"));
        assert!(!own("http://evil.example", "127.0.0.1:7878"));
        assert!(!own("null", "127.0.0.1:7878"));
        assert!(!own("http://evil.example", "x@evil.example"));
        assert!(!own("file:///x", "127.0.0.1:7878"));
        assert!(!is_own_origin("http://127.0.0.1:7878", None));
    }

    #[test]
    fn allowed_origins_are_normalized() {
        assert_eq!(
            normalize_origin("http://LocalHost:5173/").unwrap(),
            "http://localhost:5173"
        );
        assert_eq!(
            normalize_origin("https://mon.example:443").unwrap(),
            "https://mon.example"
        );
        assert!(normalize_origin("localhost:5173").is_err());
        assert!(normalize_origin("*").is_err());
        assert!(normalize_origin("http://localhost:5173/app")
            .unwrap_err()
            .to_string()
            .contains("http://localhost:5173"));
        let p = Policy::new(None, vec!["http://localhost:5173".into()]);
        assert!(p.is_listed("http://localhost:5173"));
        assert!(!p.is_listed("http://localhost:5174"));
        assert!(!p.is_listed("null"));
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER \t abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
        let t = digest("t0k");
        assert!(same_secret("t0k", &t));
        assert!(!same_secret("t0", &t));
        assert!(!same_secret("t0kk", &t));
    }

    #[test]
    fn loopback_names() {
        assert!(is_loopback_authority("localhost:7878"));
        assert!(is_loopback_authority("127.0.0.1"));
        assert!(is_loopback_authority("[::1]:80"));
        assert!(!is_loopback_authority("evil.example:7878"));
        assert!(!is_loopback_authority("localhost.evil.example"));
    }
}
