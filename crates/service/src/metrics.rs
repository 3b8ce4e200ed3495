//! The process's Prometheus recorder.
//!
//! Every metric goes through the `metrics` facade into one process-wide recorder, so the
//! runner's and the store's series (and, in `zkfleet prove`, every component's) appear on the
//! same page. A service either serves that page on its own router (the job monitor, the
//! sequencer: [`install_prometheus_recorder`], then render the handle) or lets the exporter
//! listen on an address of its own ([`listen`], the workers and the gateway).

use std::net::SocketAddr;
use std::sync::Mutex;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Why the Prometheus recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot install the Prometheus metrics recorder: another metrics recorder is already \
     installed in this process ({0}); install zkfleet's through \
     `zkfleet_service::metrics::install_prometheus_recorder` before any other component"
)]
pub struct RecorderError(String);

/// Installs the process-wide Prometheus recorder on first call and returns a handle to render
/// it; later calls return the same handle. Fails only if some other recorder was installed.
/// Without the exporter's listener, the caller runs [`PrometheusHandle::run_upkeep`]
/// periodically (histogram buckets are folded then).
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, RecorderError> {
    let mut installed = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| RecorderError(e.to_string()))?;
    *installed = Some(handle.clone());
    Ok(handle)
}

/// Why the metrics listener could not be started.
#[derive(Debug, thiserror::Error)]
#[error(
    "serving the {component}'s metrics on {address}: {reason} (change [metrics] in the \
     configuration, e.g. ZKFLEET_METRICS__{env_key}=127.0.0.1:PORT)"
)]
pub struct ListenerError {
    component: String,
    address: SocketAddr,
    env_key: String,
    reason: String,
}

/// Installs the process-wide recorder with the exporter's own HTTP listener: `GET
/// http://ADDR/metrics` serves every series the process records. Must be called from a Tokio
/// runtime (the listener is a task on it).
pub fn listen(component: &str, address: SocketAddr) -> Result<(), ListenerError> {
    PrometheusBuilder::new()
        .with_http_listener(address)
        .install()
        .map_err(|e| ListenerError {
            component: component.to_owned(),
            address,
            env_key: component.to_uppercase().replace([' ', '-'], "_"),
            reason: e.to_string(),
        })?;
    tracing::info!(%address, component, "metrics at /metrics");
    Ok(())
}
