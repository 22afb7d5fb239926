//! Issue 13 §4: other local pages cannot use the server. Origins, Host,
//! `Sec-Fetch-Site`, simple (preflight-free) requests, the WebSocket
//! upgrade, tokens, the CSP and the UI directory.

use super::{json_of, Harness};
use reqwest::Method;
use serde_json::{json, Value};
use telltale_api::http::{self, ServeError, ServeOptions, CSP};
use telltale_api::Api;
use telltale_engine::{Engine, EngineOptions};
use telltale_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

const FEED_TOML: &str =
    "[[feed]]\nname = \"sneaky\"\ntransport = \"poll\"\nurl = \"http://127.0.0.1:1/x\"\n";

/// `(status, body)` of a WebSocket upgrade of `/api/live` sent with these headers.
async fn ws_status(h: &Harness, query: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = format!("ws://{}/api/live{query}", h.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            tungstenite::http::HeaderValue::from_str(v).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut ws, res)) => {
            ws.close(None).await.unwrap();
            res.status().as_u16()
        }
        Err(tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("WebSocket: {e}"),
    }
}

/// Sends `request` as it is over a fresh connection; the status and the body.
async fn raw(h: &Harness, request: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

async fn feed_names(h: &Harness) -> Vec<String> {
    let (status, feeds) = h.get("/api/feeds").await;
    assert_eq!(status, 200, "{feeds}");
    feeds
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

fn assert_forbidden(status: u16, err: &Value, mentions: &str) {
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["code"], "forbidden", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains(mentions), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_cannot_import_feeds_even_from_localhost() {
    let h = Harness::start(None, None).await;
    // A UI dev server, another local tool, another site, an opaque origin.
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:9",
        "https://evil.example",
        "null",
    ] {
        let res = h
            .http
            .post(h.url("/api/config/import"))
            .header("origin", origin)
            .header("content-type", "application/toml")
            .header("x-telltale-request", "1")
            .body(FEED_TOML)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert_forbidden(status, &json_of(res).await, "--allow-origin");
        // Reading is refused too.
        let res = h
            .http
            .get(h.url("/api/settings"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "GET from {origin}");
    }
    assert!(feed_names(&h).await.is_empty(), "nothing was imported");
    // The server's own origin, as the built UI sends it, is accepted.
    let res = h
        .http
        .post(h.url("/api/config/import"))
        .header("origin", format!("http://{}", h.addr))
        .header("content-type", "application/toml")
        .body(FEED_TOML)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(feed_names(&h).await, ["sneaky"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_upgrade_refuses_other_origins() {
    let h = Harness::start(None, None).await;
    for origin in ["http://localhost:5173", "http://evil.example", "null"] {
        assert_eq!(
            ws_status(&h, "", &[("origin", origin)]).await,
            403,
            "{origin}"
        );
    }
    let cross = [("sec-fetch-site", "cross-site")];
    assert_eq!(ws_status(&h, "", &cross).await, 403);
    let own = format!("http://{}", h.addr);
    assert_eq!(ws_status(&h, "", &[("origin", own.as_str())]).await, 101);
    assert_eq!(
        ws_status(&h, "", &[]).await,
        101,
        "no Origin: not a browser"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_requests_must_not_be_simple_requests() {
    let h = Harness::start(None, None).await;
    // What a plain <form> or a preflight-free fetch can send: refused.
    for (method, path, content_type, body) in [
        (
            Method::POST,
            "/api/config/import",
            Some("text/plain"),
            FEED_TOML,
        ),
        (
            Method::POST,
            "/api/config/import",
            Some("application/x-www-form-urlencoded"),
            FEED_TOML,
        ),
        (
            Method::POST,
            "/api/config/import",
            Some("multipart/form-data; boundary=x"),
            FEED_TOML,
        ),
        (Method::PUT, "/api/settings", Some("text/plain"), "{}"),
    ] {
        let mut req = h.http.request(method.clone(), h.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let err = json_of(res).await;
        assert_eq!(status, 415, "{method} {path} {content_type:?}: {err}");
        assert_eq!(err["code"], "unsupported_media_type", "{err}");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("X-Telltale-Request"),
            "{err}"
        );
    }
    // Bodiless: compact and delete need the custom header (or JSON).
    for (method, path) in [
        (Method::POST, "/api/db/compact"),
        (Method::DELETE, "/api/feeds/x"),
    ] {
        let res = h
            .http
            .request(method.clone(), h.url(path))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert_forbidden(status, &json_of(res).await, "X-Telltale-Request");
    }
    assert!(feed_names(&h).await.is_empty(), "nothing was imported");
    let (_, settings) = h.get("/api/settings").await;
    assert_eq!(settings["alerts"]["flood_max"], 5, "settings untouched");

    // TOML, or anything with the custom header, gets through.
    let res = h
        .http
        .post(h.url("/api/config/import"))
        .header("content-type", "application/toml; charset=utf-8")
        .body(FEED_TOML)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", json_of(res).await);
    let res = h
        .http
        .post(h.url("/api/config/import"))
        .header("content-type", "text/plain")
        .header("x-telltale-request", "1")
        .body("[alerts]\nflood_max = 4\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", json_of(res).await);
    let (_, settings) = h.get("/api/settings").await;
    assert_eq!(settings["alerts"]["flood_max"], 4);
    let res = h
        .http
        .post(h.url("/api/db/compact"))
        .header("x-telltale-request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = h
        .http
        .delete(h.url("/api/feeds/sneaky"))
        .header("x-telltale-request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_browser_marks_as_from_another_site_are_refused() {
    let h = Harness::start(None, None).await;
    for site in ["cross-site", "same-site"] {
        let res = h
            .http
            .get(h.url("/api/config/export"))
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert_forbidden(status, &json_of(res).await, "Sec-Fetch-Site");
        let res = h
            .http
            .post(h.url("/api/feeds"))
            .header("sec-fetch-site", site)
            .header("content-type", "application/json")
            .body(json!({"name": "x", "transport": "poll", "url": "http://h/"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{site}");
    }
    assert!(feed_names(&h).await.is_empty());
    // The page's own requests and the address bar pass.
    for site in ["same-origin", "none"] {
        let status = feeds_with(&h, "sec-fetch-site", site).await;
        assert_eq!(status, 200, "{site}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_host_is_refused_without_a_token() {
    let h = Harness::start(None, None).await;
    let (status, body) = raw(&h, "GET /api/feeds HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Host"), "{body}");
    let (status, body) = raw(
        &h,
        &format!(
            "GET /api/feeds HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            h.addr
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive_and_only_the_exact_token_passes() {
    let h = Harness::start(Some("t0k-abc-123"), None).await;
    for auth in [
        "Bearer t0k-abc-123",
        "bearer t0k-abc-123",
        "BEARER  t0k-abc-123",
    ] {
        let status = feeds_with(&h, "authorization", auth).await;
        assert_eq!(status, 200, "{auth}");
    }
    for auth in [
        "Bearer t0k-abc-12",
        "Bearer t0k-abc-1234",
        "Bearer ",
        "Basic t0k-abc-123",
        "t0k-abc-123",
    ] {
        let status = feeds_with(&h, "authorization", auth).await;
        assert_eq!(status, 401, "{auth}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csp_allows_only_this_server_and_forbids_bases_objects_and_framing() {
    let h = Harness::start(None, None).await;
    for path in ["/", "/api/feeds"] {
        let res = h.http.get(h.url(path)).send().await.unwrap();
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert_eq!(csp, CSP);
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        for d in [
            "default-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(directives.contains(&d), "{path}: `{d}` missing from {csp}");
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_directory_serves_no_dotfiles_and_no_symlinks_out_of_it() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside secret").unwrap();
    let ui = tempfile::tempdir().unwrap();
    let root = ui.path();
    std::fs::write(root.join("index.html"), "<h1>Telltale</h1>").unwrap();
    std::fs::write(root.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(root.join(".env"), "TOKEN=dotfile-secret").unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "dotdir-secret").unwrap();
    std::fs::create_dir(root.join("assets")).unwrap();
    let link = |from: std::path::PathBuf, to: &str| {
        std::os::unix::fs::symlink(from, root.join(to)).unwrap()
    };
    link(outside.path().join("secret.txt"), "leak.txt");
    link(outside.path().to_path_buf(), "assets/out");
    link(root.join(".env"), "env.txt");
    link(root.join("app.js"), "assets/same.js");
    let h = Harness::start(None, Some(root.to_path_buf())).await;
    for path in [
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/assets/../.env",
        "/leak.txt",
        "/assets/out/secret.txt",
        "/env.txt",
    ] {
        let res = h.http.get(h.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("secret"), "{path}: {body}");
    }
    // A link that stays inside the directory, and the page fallback, work.
    for (path, body) in [
        ("/assets/same.js", "console.log(1)"),
        ("/app.js", "console.log(1)"),
        ("/feeds/host-1", "<h1>Telltale</h1>"),
    ] {
        let res = h.http.get(h.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text().await.unwrap(), body, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_origin_lets_a_listed_page_in_with_cors_and_no_other() {
    let h = Harness::start_with(ServeOptions {
        allow_origins: vec!["http://LOCALHOST:5173/".into()],
        ..ServeOptions::new("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let dev = "http://localhost:5173";
    // The browser's preflight for a JSON POST, answered without credentials.
    let res = h
        .http
        .request(Method::OPTIONS, h.url("/api/feeds"))
        .header("origin", dev)
        .header("sec-fetch-site", "same-site")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let cors = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        cors(&res, "access-control-allow-origin").as_deref(),
        Some(dev)
    );
    assert!(cors(&res, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(cors(&res, "access-control-allow-headers")
        .unwrap()
        .contains("content-type"));
    // Then the request itself; the page may read the answer.
    let feed = json!({"name": "dev", "transport": "poll", "url": "http://127.0.0.1:1/x"});
    let res = h
        .http
        .post(h.url("/api/feeds"))
        .header("origin", dev)
        .header("sec-fetch-site", "same-site")
        .header("content-type", "application/json")
        .body(feed.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        cors(&res, "access-control-allow-origin").as_deref(),
        Some(dev)
    );
    assert_eq!(feed_names(&h).await, ["dev"]);
    let listed = [("origin", dev), ("sec-fetch-site", "same-site")];
    assert_eq!(ws_status(&h, "", &listed).await, 101);

    // Listing one origin lets in no other, and still no simple requests.
    for origin in [
        "http://localhost:5174",
        "https://localhost:5173",
        "http://127.0.0.1:5173",
    ] {
        let res = h
            .http
            .request(Method::OPTIONS, h.url("/api/feeds"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{origin}");
        assert!(res.headers().get("access-control-allow-origin").is_none());
        assert_eq!(
            ws_status(&h, "", &[("origin", origin)]).await,
            403,
            "{origin}"
        );
    }
    let res = h
        .http
        .post(h.url("/api/config/import"))
        .header("origin", dev)
        .header("content-type", "text/plain")
        .body(FEED_TOML)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(feed_names(&h).await, ["dev"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_must_be_an_origin() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), Default::default()).unwrap();
    let engine = Engine::start(store, EngineOptions::default()).unwrap();
    for bad in [
        "localhost:5173",
        "*",
        "http://localhost:5173/app",
        "file:///tmp",
    ] {
        let opts = ServeOptions {
            allow_origins: vec![bad.into()],
            ..ServeOptions::new("127.0.0.1:0".parse().unwrap())
        };
        assert!(opts.check().is_err(), "{bad}");
        let err = http::bind(Api::new(engine.clone()), opts)
            .await
            .unwrap_err();
        assert!(matches!(err, ServeError::AllowOrigin(_)), "{bad}: {err}");
        assert!(err.to_string().contains("--allow-origin"), "{err}");
    }
}

/// `GET /api/feeds` with one extra header; the status.
async fn feeds_with(h: &Harness, name: &str, value: &str) -> reqwest::StatusCode {
    h.http
        .get(h.url("/api/feeds"))
        .header(name, value)
        .send()
        .await
        .unwrap()
        .status()
}
