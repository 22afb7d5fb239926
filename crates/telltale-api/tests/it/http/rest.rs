//! The REST routes, served from the operations' declarations: each route
//! in `telltale_api::rest::ROUTES` answers, reads its request from the
//! path, query or body, and agrees with `POST /api/call/{op}`.

use super::{json_of, Harness};
use reqwest::Method;
use serde_json::json;
use telltale_api::rest::{RestMethod, ROUTES};

#[tokio::test]
async fn every_declared_route_is_served_and_reads_path_query_and_body() {
    let h = Harness::start(None, None).await;
    // No route answers 404 "there is no API route" or 405: each is served
    // with its method (the answer may be an error about the request).
    for route in ROUTES {
        let path = route
            .path
            .replace("{name}", "ghost")
            .replace("{feed}", "ghost")
            .replace("{id}", "1");
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let mut req = h.req(method, &format!("/api{path}"));
        if route.method.has_body() {
            req = req.header("content-type", "application/json").body("{}");
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        assert!(
            status != 405 && !body.contains("there is no API route"),
            "{} {path}: {status} {body}",
            route.method.as_str()
        );
        if route.method == RestMethod::GET && !route.path.contains('{') {
            assert_eq!(status, 200, "{path}: {body}");
        }
    }

    // POST creates, the path names it, PUT may not rename it.
    let feed = json!({"name": "web", "transport": "poll", "url": "http://127.0.0.1:9/x", "enabled": false});
    let (status, view) = h.send(Method::POST, "/api/feeds", &feed).await;
    assert_eq!(status, 200, "{view}");
    let (status, detail) = h.get("/api/feeds/web").await;
    assert_eq!(
        (status, detail["config"]["name"].as_str()),
        (200, Some("web")),
        "{detail}"
    );
    let renamed = json!({"name": "other", "transport": "poll", "url": "http://127.0.0.1:9/x"});
    let (status, err) = h.send(Method::PUT, "/api/feeds/web", &renamed).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_feed")),
        "{err}"
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the URL names `web`"),
        "{err}"
    );
    // Fields come in their declared order, as a person reading `curl`
    // output expects (not sorted, as a serde_json::Value would have them).
    let text = h
        .req(Method::GET, "/api/feeds/web")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"config\":{\"name\":\"web\""), "{text}");
    // PUT without a name takes the path's.
    let unnamed = json!({"transport": "poll", "url": "http://127.0.0.1:9/y", "enabled": false});
    let (status, view) = h.send(Method::PUT, "/api/feeds/web", &unnamed).await;
    assert_eq!(
        (status, view["name"].as_str()),
        (200, Some("web")),
        "{view}"
    );

    // Path values are typed like the request's fields.
    let (status, err) = h.get("/api/alerts/seven/history").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_request")),
        "{err}"
    );
    assert!(
        err["message"].as_str().unwrap().starts_with("field `id`"),
        "{err}"
    );
    // A query field of the wrong type is named.
    let (status, err) = h.get("/api/events?limit=many").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_request")),
        "{err}"
    );
    assert!(
        err["message"].as_str().unwrap().contains("`limit`"),
        "{err}"
    );
    let (status, err) = h.get("/api/feeds/web/series?metric=cpu&labels=idle").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_request")),
        "{err}"
    );
    assert!(
        err["message"].as_str().unwrap().contains("`labels`"),
        "{err}"
    );

    // The same answer as the operation called directly.
    let (_, by_route) = h.get("/api/feeds").await;
    let (_, by_call) = h
        .send(Method::POST, "/api/call/list_feeds", &json!({}))
        .await;
    assert_eq!(by_route, by_call);

    // An operation that answers nothing answers 204.
    let res = h
        .req(Method::DELETE, "/api/feeds/web")
        .header("X-Telltale-Request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, err) = h.get("/api/feeds/web").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );
    let res = h
        .req(Method::PATCH, "/api/feeds/web")
        .header("X-Telltale-Request", "1")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let err = json_of(res).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{err}"
    );
}
