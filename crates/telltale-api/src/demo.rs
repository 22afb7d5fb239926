//! The demo fleet behind *Add demo fleet*: the simulator (`telltale-sim`)
//! started in-process on first use, five hosts with a scripted incident on
//! host-3, its feeds imported like a config file.
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
    let feeds = demo.start().await?;
    api.import_config(&feeds).await
}

pub use imp::DemoFleet;

#[cfg(feature = "demo")]
mod imp {
    use super::DEMO_HOSTS;
    use crate::ApiError;

    /// The in-process demo fleet, started on first use.
    #[derive(Debug, Default)]
    pub struct DemoFleet(tokio::sync::Mutex<Option<telltale_sim::SimHandle>>);

    impl DemoFleet {
        /// Starts the sim on `127.0.0.1:0` unless it runs; returns its
        /// feeds as a config file.
        pub async fn start(&self) -> Result<String, ApiError> {
            let mut sim = self.0.lock().await;
            if let Some(s) = sim.as_ref() {
                return Ok(telltale_sim::feeds_toml(&s.base_url(), DEMO_HOSTS));
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
            *sim = Some(handle);
            Ok(telltale_sim::feeds_toml(&base, DEMO_HOSTS))
        }

        /// Stops the sim if it runs.
        pub async fn stop(&self) {
            if let Some(s) = self.0.lock().await.take() {
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
        pub async fn start(&self) -> Result<String, ApiError> {
            Err(ApiError::new(
                ErrorCode::NotFound,
                "this build of Telltale has no demo fleet (built without the `demo` feature): add your own feeds, or build with `--features demo`",
            ))
        }

        /// Nothing to stop.
        pub async fn stop(&self) {}
    }
}
