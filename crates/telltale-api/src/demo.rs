//! The demo fleet behind *Add demo fleet*: the simulator (`telltale-sim`)
//! started in-process on first use, five hosts with a scripted incident on
//! host-3, its feeds imported like a config file. Where the app receives
//! webhooks, the fleet also posts a deployment there every 15 s, to a
//! `deploys` webhook feed.
//!
//! It is this crate's cargo feature `demo`, which the desktop app turns on
//! by default (so `scripts/demo.sh` and the package have it). A build
//! without it (`cargo build -p telltale-desktop --no-default-features`)
//! links no simulator, and *Add demo fleet* answers that this build has
//! none.

use crate::{Api, ApiError, ImportReport};

/// Hosts in the demo fleet.
pub const DEMO_HOSTS: usize = 5;

/// Starts the fleet (once) and adds its feeds; again, it replaces them.
pub async fn add(demo: &DemoFleet, api: &Api) -> Result<ImportReport, ApiError> {
    let receivers = api.engine().webhooks().receivers();
    let feeds = demo.start(receivers.first().map(String::as_str)).await?;
    api.import_config(&feeds).await
}

pub use imp::DemoFleet;

#[cfg(feature = "demo")]
mod imp {
    use super::DEMO_HOSTS;
    use crate::ApiError;

    /// How often the fleet posts a deployment webhook.
    const DEPLOY_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

    /// The in-process demo fleet, started on first use, and its webhook
    /// sender's stop switch.
    #[derive(Debug, Default)]
    pub struct DemoFleet(
        tokio::sync::Mutex<Option<(telltale_sim::SimHandle, tokio_util::sync::CancellationToken)>>,
    );

    /// The fleet's feeds; with a webhook receiver, the deployments feed too.
    fn feeds(base: &str, hooks: Option<&str>) -> String {
        let mut feeds = telltale_sim::feeds_toml(base, DEMO_HOSTS);
        if hooks.is_some() {
            feeds.push_str(&telltale_sim::hooks::deploys_feed_toml());
        }
        feeds
    }

    impl DemoFleet {
        /// Starts the sim on `127.0.0.1:0` unless it runs, and its
        /// deployment webhooks to `hooks` (the app's receiver, if any);
        /// returns its feeds as a config file.
        pub async fn start(&self, hooks: Option<&str>) -> Result<String, ApiError> {
            let mut sim = self.0.lock().await;
            if let Some((s, _)) = sim.as_ref() {
                return Ok(feeds(&s.base_url(), hooks));
            }
            let cfg = telltale_sim::SimConfig {
                hosts: DEMO_HOSTS,
                incident: Some(telltale_sim::Incident {
                    host: "host-3".into(),
                    start_after: std::time::Duration::from_secs(45),
                    ramp: std::time::Duration::from_secs(20),
                    hold: std::time::Duration::from_secs(60),
                }),
                // Nothing reads the sim's request records here; kept, they
                // grew the app's heap by ~0.8 MiB in 15 minutes (heaptrack,
                // docs/benchmarks.md).
                record: 0,
                ..Default::default()
            };
            let handle = telltale_sim::Sim::start(cfg)
                .await
                .map_err(|e| ApiError::internal(format!("cannot start the demo fleet: {e}")))?;
            let base = handle.base_url();
            tracing::info!("demo fleet running on {base}");
            let sender = tokio_util::sync::CancellationToken::new();
            if let Some(h) = hooks {
                telltale_sim::hooks::spawn_deploys(
                    h.to_string(),
                    DEMO_HOSTS,
                    DEPLOY_EVERY,
                    sender.clone(),
                );
            }
            *sim = Some((handle, sender));
            Ok(feeds(&base, hooks))
        }

        /// Stops the sim if it runs.
        pub async fn stop(&self) {
            if let Some((s, sender)) = self.0.lock().await.take() {
                sender.cancel();
                s.shutdown().await;
            }
        }
    }
}

#[cfg(not(feature = "demo"))]
mod imp {
    use crate::{ApiError, ErrorCode};

    /// No demo fleet in this build (a field, so that both builds construct
    /// it as `DemoFleet::default()`).
    #[derive(Debug, Default)]
    pub struct DemoFleet {
        _none: (),
    }

    impl DemoFleet {
        /// Says that this build has no demo fleet.
        pub async fn start(&self, _hooks: Option<&str>) -> Result<String, ApiError> {
            Err(ApiError::new(
                ErrorCode::NotFound,
                "this build of Telltale has no demo fleet (built without the `demo` feature): add your own feeds, or build with `--features demo`",
            ))
        }

        /// Nothing to stop.
        pub async fn stop(&self) {}
    }
}
