//! The monitor's HTTP endpoints: `GET /queue_report` (JSON, the reference's format),
//! `GET /metrics` (Prometheus text) and `GET /healthz` (liveness).
//!
//! [`build_router`] returns a plain axum [`Router`]; further pages (the status page planned
//! at `/`) are added by `merge`-ing their own router, or as routes next to these in
//! [`routes`], sharing [`HttpState`].

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use zkfleet_dal::Dal;

/// What the handlers read: the job database and the metrics recorder.
#[derive(Clone)]
pub struct HttpState {
    pub dal: Dal,
    pub metrics: PrometheusHandle,
}

/// The monitor's endpoints, ready to serve.
pub fn build_router(dal: Dal, metrics: PrometheusHandle) -> Router {
    routes().with_state(HttpState { dal, metrics })
}

/// The endpoints before their state is attached (to add routes that share it).
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/queue_report", get(queue_report))
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
