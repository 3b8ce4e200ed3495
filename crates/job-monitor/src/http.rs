//! The monitor's HTTP endpoints: `GET /` and `/status` (the live status page, [`crate::status`]),
//! `GET /status.json` (its data), `GET /queue_report` (JSON, the reference's format),
//! `GET /metrics` (Prometheus text) and `GET /healthz` (liveness).
//!
//! `/status.json` and `/queue_report` show job data and sit behind the monitor's bearer tokens
//! when they are configured ([`MonitorAuth`]); the page (static, no data), `/metrics` (for the
//! scraper; restrict it on the network) and `/healthz` are open.
//!
//! [`build_router`] returns a plain axum [`Router`]; further pages are added by `merge`-ing their
//! own router, or as routes next to these, sharing [`HttpState`].

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use zkfleet_dal::Dal;

use crate::auth::MonitorAuth;
use crate::config::StatusPageConfig;
use crate::status;

/// What the handlers read: the job database, the metrics recorder and the status page's bounds.
#[derive(Clone)]
pub struct HttpState {
    /// The job database the status page and `/queue_report` read.
    pub dal: Dal,
    /// The recorder `/metrics` renders.
    pub metrics: PrometheusHandle,
    /// How many batches, failures and stuck jobs the status page lists.
    pub status_page: StatusPageConfig,
}

/// The monitor's endpoints with the default status page bounds and no authentication (a
/// monitor on loopback, tests).
pub fn build_router(dal: Dal, metrics: PrometheusHandle) -> Router {
    let state = HttpState {
        dal,
        metrics,
        status_page: StatusPageConfig::default(),
    };
    routes(&MonitorAuth::disabled()).with_state(state)
}

/// The endpoints before their state is attached (to add routes that share it), the data
/// endpoints behind `auth`.
pub fn routes(auth: &MonitorAuth) -> Router<HttpState> {
    let protected = Router::new()
        .route("/status.json", get(status::status_json))
        .route("/queue_report", get(queue_report));
    auth.protect(protected)
        .route("/", get(status::status_page))
        .route("/status", get(status::status_page))
        .route("/metrics", get(prometheus_metrics))
        .route("/healthz", get(healthz))
}

/// `[{"version": "0.1.0", "report": {"basic_witness_jobs": {"queued": n, "in_progress": n},
/// …}}]`, one element per protocol version with jobs. 503 with `{"error": …}` when the
/// database cannot be read, so a dashboard shows an outage rather than an empty fleet.
async fn queue_report(State(state): State<HttpState>) -> Response {
    match state.dal.queue_report().await {
        Ok(report) => Json(report).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "queue report: cannot read the job database");
            let body = serde_json::json!({ "error": format!("cannot read the job database: {e}") });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// The process's metrics in the Prometheus text exposition format.
async fn prometheus_metrics(State(state): State<HttpState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Liveness only: the process serves HTTP. Database health shows in `/queue_report` and in
/// `zkfleet_periodic_task_runs_total{outcome="error"}`; restarting the monitor would not
/// bring a database back.
async fn healthz() -> &'static str {
    "ok\n"
}
