//! Long-running components: `zkfleet job-monitor` and `zkfleet gateway`.
//!
//! Each runs until SIGINT or SIGTERM, then stops gracefully (in-flight work finishes or is left
//! for the requeuer). Configuration comes from the `[monitor]` / `[gateway]` sections, with the
//! database and store of the fleet.

use anyhow::Context;
use zkfleet_runner::CancellationToken;

use crate::fleet::Fleet;

/// `zkfleet job-monitor`.
pub async fn job_monitor(fleet: &Fleet) -> anyhow::Result<()> {
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    let cancel = shutdown_on_signal();
    tracing::info!(
        listen = %fleet.config.monitor.listen_address,
        "job monitor starting"
    );
    zkfleet_job_monitor::run(dal, store, fleet.config.monitor.clone(), cancel)
        .await
        .context("job monitor")
}

/// `zkfleet gateway`.
pub async fn gateway(fleet: &Fleet) -> anyhow::Result<()> {
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    let cancel = shutdown_on_signal();
    tracing::info!(
        mode = ?fleet.config.gateway.mode,
        listen = %fleet.config.gateway.listen_address,
        "gateway starting"
    );
    zkfleet_gateway::run(dal, store, fleet.config.gateway.clone(), cancel)
        .await
        .context("gateway")
}

/// A token cancelled by the first SIGINT (Ctrl-C) or SIGTERM (what process supervisors send).
fn shutdown_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    tokio::select! {
                        _ = interrupt => {}
                        _ = terminate.recv() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on SIGINT only");
                    let _ = interrupt.await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
        tracing::info!("shutdown requested; stopping gracefully");
        token.cancel();
    });
    cancel
}
