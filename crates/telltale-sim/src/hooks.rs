//! The demo fleet's deployments, sent as webhooks: every few seconds one
//! host reports a deployment (`POST {receiver}/hooks/deploys`, a bearer
//! token, a delivery id), the way a CI system would. Telltale's webhook
//! feed receives them; nothing here waits for it.

use std::fmt::Write as _;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// The feed that receives the deployments.
pub const DEPLOYS_FEED: &str = "deploys";
/// The token the sender proves itself with (a demo, not a secret).
pub const DEPLOYS_TOKEN: &str = "demo-deploy-token";

/// The config of the webhook feed for [`spawn_deploys`].
pub fn deploys_feed_toml() -> String {
    format!(
        "\n[[feed]]\nname = \"{DEPLOYS_FEED}\"\ntransport = \"webhook\"\nformat = \"json\"\nstale_after = \"2m\"\n\
         [feed.webhook]\nverify = \"token\"\nsecret = \"{DEPLOYS_TOKEN}\"\nid_header = \"X-Delivery-Id\"\n\
         [[feed.metric]]\nname = \"duration\"\npointer = \"/duration_s\"\nunit = \"seconds\"\n\
         [[feed.metric]]\nname = \"ok\"\npointer = \"/ok\"\n"
    )
}

/// The body of deployment `n` (every fifth fails).
pub fn deploy_body(n: u64, hosts: usize) -> String {
    let host = n as usize % hosts.max(1) + 1;
    let ok = n % 5 != 4;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"{{"host":"host-{host}","service":"api","version":"1.{}.{}","state":"{}","ok":{},"duration_s":{}.{}}}"#,
        n / 10,
        n % 10,
        if ok { "success" } else { "failure" },
        u8::from(ok),
        20 + (n * 7) % 40,
        n % 10
    );
    s
}

/// Posts a deployment to `base` (`http://127.0.0.1:7879`) 3 s after the
/// start and then every `every`, until `cancel`; a refused or failed post
/// is skipped.
pub fn spawn_deploys(base: String, hosts: usize, every: Duration, cancel: CancellationToken) {
    tokio::spawn(async move {
        let Some(addr) = base
            .strip_prefix("http://")
            .map(|a| a.trim_end_matches('/').to_string())
        else {
            return;
        };
        // the first a moment after start, once the feed has been added
        let first = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut tick = tokio::time::interval_at(first, every);
        let mut n: u64 = 0;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            let body = deploy_body(n, hosts);
            let _ = tokio::time::timeout(Duration::from_secs(5), post(&addr, n, &body)).await;
            n += 1;
        }
    });
}

async fn post(addr: &str, n: u64, body: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "POST /hooks/{DEPLOYS_FEED} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {DEPLOYS_TOKEN}\r\nX-Delivery-Id: demo-{n}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    // read the answer to its end, so the receiver is not cut off
    let mut sink = Vec::new();
    s.read_to_end(&mut sink).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_are_json_and_one_in_five_fails() {
        let bodies: Vec<serde_json::Value> = (0..10)
            .map(|n| serde_json::from_str(&deploy_body(n, 5)).unwrap())
            .collect();
        assert_eq!(bodies[0]["host"], "host-1");
        assert_eq!(bodies[6]["host"], "host-2");
        let failed = bodies.iter().filter(|b| b["ok"] == 0).count();
        assert_eq!(failed, 2);
        assert!(bodies.iter().all(|b| b["duration_s"].as_f64().is_some()));
        let cfg = deploys_feed_toml();
        assert!(cfg.contains("transport = \"webhook\""), "{cfg}");
    }
}
