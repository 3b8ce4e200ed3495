//! The sequencer's HTTP server.
//!
//! - pull mode only, the gateway's upstream API (`zkfleet_types::api`, docs/gateway.md "Pull
//!   mode"): `POST /proof_generation_data` ([`ProofGenerationDataRequest`] →
//!   [`ProofGenerationDataResponse`]) and `POST /submit_proof/{batch_number}`
//!   ([`SubmitProofRequest`] → [`SubmitProofResponse`]), behind bearer tokens when
//!   [`crate::UPSTREAM_TOKENS_ENV_VAR`] names any;
//! - always: `GET /status` ([`crate::SequencerStatus`]), `GET /metrics` (Prometheus text) and
//!   `GET /healthz`.
//!
//! A refused proof is the protocol's answer `200 {"Error": "…"}` (the legacy protocol's way to
//! say no; the gateway logs it and submits again later). Requests that are wrong as HTTP get a
//! 4xx with the same `{"Error": "…"}` body: 400 (not JSON, bad batch number in the path), 413
//! (body over `max_request_body_bytes`), 415 (not `application/json`), 422 (JSON of the wrong
//! shape). 500 only for the sequencer's own faults (storage), which are logged.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tracing::error;
use zkfleet_service::TokenAuth;
use zkfleet_types::api::{
    ProofGenerationDataRequest, ProofGenerationDataResponse, SubmitProofRequest,
    SubmitProofResponse,
};

use crate::config::SequencerMode;
use crate::error::{Refusal, SequencerError, SubmitError};
use crate::metrics;
use crate::sequencer::{Sequencer, SequencerStatus};

/// Pull mode: the fleet's gateway asks for the next batch to prove.
pub const PROOF_GENERATION_DATA_PATH: &str = "/proof_generation_data";
/// Pull mode: the fleet's gateway submits a batch's final proof.
pub const SUBMIT_PROOF_PATH: &str = "/submit_proof/{batch_number}";
/// The chain's progress ([`SequencerStatus`] as JSON).
pub const STATUS_PATH: &str = "/status";
/// Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";
/// Liveness probe.
pub const HEALTH_PATH: &str = "/healthz";

#[derive(Clone)]
struct AppState {
    sequencer: Arc<Sequencer>,
    metrics: Option<PrometheusHandle>,
}

/// An HTTP-level error: a status and `{"Error": message}`.
#[derive(Debug)]
struct HttpError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "Error": self.message })),
        )
            .into_response()
    }
}

impl From<JsonRejection> for HttpError {
    fn from(rejection: JsonRejection) -> Self {
        // axum picks the status (400 syntax, 422 shape, 415 content type, 413 too large) and
        // names the offending field; only the body format is ours.
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "request body too large".to_owned()
        } else {
            rejection.body_text()
        };
        Self { status, message }
    }
}

impl From<PathRejection> for HttpError {
    fn from(rejection: PathRejection) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: format!("the batch number in the path: {}", rejection.body_text()),
        }
    }
}

impl From<SequencerError> for HttpError {
    fn from(e: SequencerError) -> Self {
        error!(error = %e, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: e.to_string(),
        }
    }
}

/// The router: the upstream API in pull mode (behind `auth`), status, metrics and health.
pub fn router(
    sequencer: Arc<Sequencer>,
    auth: TokenAuth,
    metrics: Option<PrometheusHandle>,
) -> Router {
    let body_limit = sequencer.config().max_request_body_bytes;
    let mode = sequencer.config().mode;
    let state = AppState { sequencer, metrics };
    let mut app = Router::new();
    if mode == SequencerMode::Pull {
        let upstream = Router::new()
            .route(PROOF_GENERATION_DATA_PATH, post(proof_generation_data))
            .route(SUBMIT_PROOF_PATH, post(submit_proof))
            .with_state(state.clone());
        app = auth.protect(upstream);
    }
    app.merge(
        Router::new()
            .route(STATUS_PATH, get(status))
            .route(METRICS_PATH, get(render_metrics))
            .route(HEALTH_PATH, get(|| async { "ok" }))
            .with_state(state),
    )
    .layer(DefaultBodyLimit::max(body_limit))
    .layer(middleware::from_fn(track_requests))
}

async fn proof_generation_data(
    State(state): State<AppState>,
    body: Result<Json<ProofGenerationDataRequest>, JsonRejection>,
) -> Result<Json<ProofGenerationDataResponse>, HttpError> {
    let Json(ProofGenerationDataRequest {}) = body?;
    match state.sequencer.next_for_prover().await {
        Ok(data) => Ok(Json(ProofGenerationDataResponse::Success(
            data.map(Box::new),
        ))),
        Err(e) => {
            error!(error = %e, "cannot hand out a batch");
            Ok(Json(ProofGenerationDataResponse::Error(e.to_string())))
        }
    }
}

async fn submit_proof(
    State(state): State<AppState>,
    batch_number: Result<Path<u32>, PathRejection>,
    body: Result<Json<SubmitProofRequest>, JsonRejection>,
) -> Result<Json<SubmitProofResponse>, HttpError> {
    let Path(number) = batch_number?;
    let Json(request) = body?;
    let proof = match request {
        SubmitProofRequest::Proof(proof) => proof,
        SubmitProofRequest::SkippedProofGeneration => {
            let refusal = Refusal::Skipped { number };
            state.sequencer.count_refusal(number, &refusal);
            return Ok(Json(SubmitProofResponse::Error(refusal.to_string())));
        }
    };
    match state.sequencer.submit_proof(number, &proof).await {
        Ok(_) => Ok(Json(SubmitProofResponse::Success)),
        Err(SubmitError::Refused(refusal)) => {
            Ok(Json(SubmitProofResponse::Error(refusal.to_string())))
        }
        Err(SubmitError::Internal(e)) => Err(e.into()),
    }
}

async fn status(State(state): State<AppState>) -> Result<Json<SequencerStatus>, HttpError> {
    Ok(Json(state.sequencer.status().await?))
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            handle.render(),
        )
            .into_response(),
        None => HttpError {
            status: StatusCode::NOT_FOUND,
            message: "no metrics recorder installed in this process".into(),
        }
        .into_response(),
    }
}

/// Counts every answer by route and status.
async fn track_requests(request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    ::metrics::counter!(metrics::REQUESTS, "endpoint" => endpoint, "status" => status).increment(1);
    response
}
