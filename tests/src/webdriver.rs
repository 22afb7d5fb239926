//! A small W3C WebDriver client for driving the real desktop app through
//! `tauri-driver` (which starts WebKitWebDriver, which starts the app).
//!
//! Only what the tests need: a session, elements by CSS or XPath, clicks,
//! script execution and screenshots. Every call has a deadline, and errors
//! carry the driver's message.

use serde_json::{json, Value};
use std::time::Duration;

/// The element key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session.
#[derive(Debug)]
pub struct WebDriver {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    base: String,
}

/// A WebDriver failure: transport or the driver's own error.
#[derive(Debug)]
pub struct WebDriverError(pub String);

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WebDriverError {}

async fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let mut req = http
        .request(method.clone(), url)
        .timeout(Duration::from_secs(60));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| WebDriverError(format!("{method} {url}: {e}")))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| WebDriverError(format!("{method} {url}: {e}")))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| WebDriverError(format!("{method} {url}: not JSON ({e}): {text}")))?;
    if !status.is_success() {
        return Err(WebDriverError(format!(
            "{method} {url}: {status}: {}",
            v["value"]["message"].as_str().unwrap_or(&text)
        )));
    }
    Ok(v["value"].clone())
}

impl WebDriver {
    /// Starts a session on the driver at `driver` (e.g.
    /// `http://127.0.0.1:4444`) for the Tauri app binary `application`.
    pub async fn start(driver: &str, application: &str) -> Result<WebDriver, WebDriverError> {
        let http = reqwest::Client::new();
        let v = request(
            &http,
            reqwest::Method::POST,
            &format!("{driver}/session"),
            Some(json!({
                "capabilities": {
                    "alwaysMatch": { "tauri:options": { "application": application } }
                }
            })),
        )
        .await?;
        let id = v["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError(format!("no sessionId in {v}")))?;
        Ok(WebDriver {
            http,
            base: format!("{driver}/session/{id}"),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        request(&self.http, method, &format!("{}{path}", self.base), body).await
    }

    /// The document title.
    pub async fn title(&self) -> Result<String, WebDriverError> {
        Ok(self
            .call(reqwest::Method::GET, "/title", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The current URL.
    pub async fn url(&self) -> Result<String, WebDriverError> {
        Ok(self
            .call(reqwest::Method::GET, "/url", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The first element matching an XPath expression.
    pub async fn xpath(&self, expr: &str) -> Result<String, WebDriverError> {
        self.find("xpath", expr).await
    }

    /// The first element matching a CSS selector.
    pub async fn css(&self, selector: &str) -> Result<String, WebDriverError> {
        self.find("css selector", selector).await
    }

    async fn find(&self, using: &str, value: &str) -> Result<String, WebDriverError> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": using, "value": value })),
            )
            .await?;
        v[ELEMENT]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| WebDriverError(format!("no element for {using} {value}: {v}")))
    }

    /// Clicks an element.
    pub async fn click(&self, element: &str) -> Result<(), WebDriverError> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await
        .map(|_| ())
    }

    /// Runs a synchronous script (`return …`) in the page.
    pub async fn execute(&self, script: &str) -> Result<Value, WebDriverError> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// A PNG screenshot of the window.
    pub async fn screenshot(&self) -> Result<Vec<u8>, WebDriverError> {
        use base64::Engine as _;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        let b64 = v
            .as_str()
            .ok_or_else(|| WebDriverError(format!("screenshot is not a string: {v}")))?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| WebDriverError(format!("screenshot is not base64: {e}")))
    }

    /// Ends the session (the driver closes the app).
    pub async fn quit(self) -> Result<(), WebDriverError> {
        self.call(reqwest::Method::DELETE, "", None)
            .await
            .map(|_| ())
    }
}
