//! Scenario 8's clients: one MQTT feed at full speed through Debian's
//! `mosquitto`, measured like scenarios 1 and 2 (see [`crate::ingest`]).
//!
//! A broker cannot be told to send `n` messages as fast as the socket takes
//! them, but it can replay a backlog: each client's persistent session is
//! made first (subscribed, QoS 1, then disconnected), the `n` messages are
//! published into it and acknowledged by the broker, and the clock runs
//! from the client's connect to its `n`-th message (for (c): to the store's
//! commit of the `n`-th event). The broker runs with no limit on queued or
//! in-flight messages, so the replay goes as fast as the client reads.

use crate::ingest::{naive_db, parse_naive, templates, write_naive, EngineRun, TEMPLATES};
use anyhow::{bail, Context, Result};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The topic the messages go to.
const TOPIC: &str = "bench/health";

/// A mosquitto for one client's run, killed when dropped.
pub struct Broker {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts mosquitto on a free loopback port.
pub fn broker() -> Result<Broker> {
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .context("mosquitto is not installed (bash scripts/setup.sh installs it)")?;
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n"
        ),
    )?;
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start mosquitto")?;
    let b = Broker {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("mosquitto did not listen on {port} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(b)
}

fn options(id: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(false);
    o.set_max_packet_size(1 << 20, 1 << 20);
    o
}

/// Polls until `pred` holds for an event, within 10 s.
async fn until(events: &mut EventLoop, what: &str, pred: impl Fn(&Event) -> bool) -> Result<()> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = events.poll().await.with_context(|| what.to_string())?;
            if pred(&e) {
                return Ok::<(), anyhow::Error>(());
            }
        }
    })
    .await
    .with_context(|| format!("timed out waiting for {what}"))?
}

/// Makes `id`'s persistent session, subscribed to [`TOPIC`] at QoS 1, and
/// publishes `n` messages into it; returns when the broker acknowledged
/// them all.
pub async fn backlog(port: u16, id: &str, n: u64) -> Result<()> {
    let (c, mut ev) = AsyncClient::new(options(id, port), 16);
    c.subscribe(TOPIC, QoS::AtLeastOnce).await?;
    until(&mut ev, "the SUBACK", |e| {
        matches!(e, Event::Incoming(Packet::SubAck(_)))
    })
    .await?;
    c.disconnect().await?;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while ev.poll().await.is_ok() {}
    })
    .await;
    let mut o = MqttOptions::new(format!("{id}-pub"), "127.0.0.1", port);
    o.set_inflight(1000);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (p, mut pev) = AsyncClient::new(o, 1024);
    let msgs = templates();
    let publisher = tokio::spawn(async move {
        for i in 0..n as usize {
            let body = msgs[i % TEMPLATES].clone().into_bytes();
            if p.publish(TOPIC, QoS::AtLeastOnce, false, body)
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let mut acked = 0u64;
    tokio::time::timeout(Duration::from_secs(60 + n / 5_000), async {
        while acked < n {
            if let Event::Incoming(Packet::PubAck(_)) = pev.poll().await? {
                acked += 1;
            }
        }
        Ok::<(), anyhow::Error>(())
    })
    .await
    .context("the broker did not acknowledge every publish in time")??;
    publisher.await?;
    Ok(())
}

/// (a): count messages. Returns messages per second.
pub async fn bare(n: u64) -> Result<f64> {
    let b = broker()?;
    backlog(b.port, "bench-a", n).await?;
    let (_c, mut ev) = AsyncClient::new(options("bench-a", b.port), 16);
    let t0 = Instant::now();
    let mut count = 0u64;
    while count < n {
        if let Event::Incoming(Packet::Publish(_)) = ev.poll().await? {
            count += 1;
        }
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// (b): parse with serde_json, insert in batches of 1,000. Returns msg/s.
pub async fn naive(n: u64, dir: &std::path::Path) -> Result<f64> {
    const BATCH: usize = 1000;
    let b = broker()?;
    backlog(b.port, "bench-b", n).await?;
    let mut db = naive_db(&dir.join("naive-mqtt.db"))?;
    let mut rows = Vec::with_capacity(BATCH);
    let (_c, mut ev) = AsyncClient::new(options("bench-b", b.port), 16);
    let t0 = Instant::now();
    let mut count = 0u64;
    while count < n {
        if let Event::Incoming(Packet::Publish(p)) = ev.poll().await? {
            rows.push(parse_naive(&p.payload)?);
            count += 1;
            if rows.len() >= BATCH {
                write_naive(&mut db, &mut rows)?;
            }
        }
    }
    write_naive(&mut db, &mut rows)?;
    let secs = t0.elapsed().as_secs_f64();
    let stored: i64 = db.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
    if stored as u64 != n {
        bail!("naive loop stored {stored} rows for {n} messages");
    }
    Ok(n as f64 / secs)
}

/// (c): the engine's MQTT feed on a persistent session with the backlog.
pub async fn engine(n: u64, dir: &std::path::Path) -> Result<EngineRun> {
    let b = broker()?;
    backlog(b.port, "bench-c", n).await?;
    let mut feed = crate::ingest::feed(
        crate::ingest::Transport::Mqtt,
        "bench",
        &format!("mqtt://127.0.0.1:{}", b.port),
    );
    if let Some(o) = feed.mqtt.as_mut() {
        o.client_id = Some("bench-c".into());
    }
    crate::ingest::engine_with(feed, n, dir).await
}
