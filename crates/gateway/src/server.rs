//! Push mode: the HTTP server.
//!
//! - `POST /submit_request_for_proofs`: [`ProofGenerationData`] →
//!   [`SubmitProofGenerationDataResponse`];
//! - `POST /poll_generated_proofs`: [`PollGeneratedProofsRequest`] → 410 with a
//!   [`zkfleet_types::api::BatchFailure`] if a job of the batch failed for good, JSON `null` while the
//!   proof is not ready, then [`PollGeneratedProofsResponse`] (again on every later poll);
//! - `GET /healthz`: `ok`, without authentication (for a load balancer or TLS proxy).
//!
//! Every error is a JSON `{"error": "..."}` naming what is wrong: 400 (not JSON), 401 (see
//! `zkfleet_service::auth`), 404 (unknown batch), 409 (a different submission for a known
//! batch), 410 (a poll of a batch that failed for good: the failure's fields too), 413 (body
//! or input too large), 415 (not `application/json`), 422 (valid JSON, wrong content, or an
//! input the fleet can never prove); 500 only for faults of the server (database, object
//! store), which are logged.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use zkfleet_types::api::{
    PollGeneratedProofsRequest, PollGeneratedProofsResponse, ProofGenerationData,
    SubmitProofGenerationDataResponse,
};

use crate::delivery::DeliveryError;
use crate::ingest::IngestError;
use crate::metrics;
use crate::state::GatewayState;
use zkfleet_service::log_limit::RefusalLog;
use zkfleet_service::AuthenticatedClient;

/// Push mode: a sequencer submits a batch's witness input for proving (as ZKsync's gateway).
pub const SUBMIT_PATH: &str = "/submit_request_for_proofs";
/// Push mode: a sequencer asks for a batch's final proof.
pub const POLL_PATH: &str = "/poll_generated_proofs";
/// Liveness probe; needs no token.
pub const HEALTH_PATH: &str = "/healthz";

/// An error answer: a status and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client (the JSON body's `error`).
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // axum's rejections already pick the right status (400 syntax, 422 shape, 415 content
        // type, 413 body limit) and name the offending field; only the body format changes.
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "request body too large".to_owned()
        } else {
            rejection.body_text()
        };
        Self::new(status, message)
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let status = e.status();
        if status.is_server_error() {
            error!(error = %e, "submission failed");
        }
        Self::new(status, e.to_string())
    }
}

/// A poll's refusal: a failed batch answers its [`zkfleet_types::api::BatchFailure`] (410),
/// everything else the usual `{"error": …}`.
enum PollError {
    Failed(Box<zkfleet_types::api::BatchFailure>),
    Api(ApiError),
}

impl IntoResponse for PollError {
    fn into_response(self) -> Response {
        match self {
            Self::Failed(failure) => (StatusCode::GONE, Json(*failure)).into_response(),
            Self::Api(e) => e.into_response(),
        }
    }
}

impl From<JsonRejection> for PollError {
    fn from(e: JsonRejection) -> Self {
        Self::Api(e.into())
    }
}

impl From<DeliveryError> for PollError {
    fn from(e: DeliveryError) -> Self {
        Self::Api(e.into())
    }
}

impl From<DeliveryError> for ApiError {
    fn from(e: DeliveryError) -> Self {
        let status = e.status();
        if status.is_server_error() {
            error!(error = %e, "poll failed");
        }
        Self::new(status, e.to_string())
    }
}

/// The push-mode router: both endpoints behind the state's authentication, `/healthz` open,
/// body size bounded, request metrics on every route.
pub fn router(state: GatewayState) -> Router {
    let api = Router::new()
        .route(SUBMIT_PATH, post(submit))
        .route(POLL_PATH, post(poll))
        .with_state(state.clone());
    state
        .auth
        .protect(api)
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(state.max_request_body_bytes))
        .layer(middleware::from_fn(track_requests))
}

fn client_name(client: &Option<Extension<AuthenticatedClient>>) -> &str {
    client
        .as_ref()
        .map(|Extension(AuthenticatedClient(name))| name.as_str())
        .unwrap_or("anonymous")
}

/// Refused submissions logged at `warn`, rate-limited (see `log_limit`).
static SUBMISSION_REFUSALS: RefusalLog = RefusalLog::new();

async fn submit(
    State(state): State<GatewayState>,
    client: Option<Extension<AuthenticatedClient>>,
    body: Result<Json<ProofGenerationData>, JsonRejection>,
) -> Result<Json<SubmitProofGenerationDataResponse>, ApiError> {
    let Json(data) = body.inspect_err(|rejection| {
        if let Some(suppressed) = SUBMISSION_REFUSALS.admit() {
            warn!(client = client_name(&client), reason = %rejection.body_text(), suppressed, "submission refused");
        }
    })?;
    let batch = data.l1_batch_id;
    match state.ingest(&data).await {
        Ok(response) => {
            if response.newly_inserted {
                ::metrics::counter!(metrics::BATCHES_RECEIVED, "mode" => "push").increment(1);
            }
            info!(
                client = client_name(&client),
                %batch,
                newly_inserted = response.newly_inserted,
                "submission accepted"
            );
            Ok(Json(response))
        }
        Err(e) => {
            if e.status().is_client_error() {
                if let Some(suppressed) = SUBMISSION_REFUSALS.admit() {
                    warn!(client = client_name(&client), %batch, error = %e, suppressed, "submission refused");
                }
            }
            Err(e.into())
        }
    }
}

async fn poll(
    State(state): State<GatewayState>,
    body: Result<Json<PollGeneratedProofsRequest>, JsonRejection>,
) -> Result<Json<Option<PollGeneratedProofsResponse>>, PollError> {
    let Json(request) = body?;
    let batch = request.l1_batch_id;
    let proof = match state.final_proof(batch).await {
        Ok(Some(proof)) => proof,
        Ok(None) => return Ok(Json(None)),
        Err(DeliveryError::BatchFailed(failure)) => return Err(PollError::Failed(failure)),
        Err(e) => return Err(e.into()),
    };
    // Marked after the proof was read and checked, before it is returned: if the response is
    // lost the client polls again and gets the same proof (delivery is idempotent).
    if state.mark_delivered(batch).await? {
        ::metrics::counter!(metrics::PROOFS_DELIVERED, "mode" => "push").increment(1);
    }
    Ok(Json(Some(PollGeneratedProofsResponse {
        l1_batch_id: batch,
        proof,
    })))
}

/// Counts every answer by route and status, and times it.
async fn track_requests(request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    ::metrics::counter!(metrics::REQUESTS, "endpoint" => endpoint.clone(), "status" => status)
        .increment(1);
    ::metrics::histogram!(metrics::REQUEST_SECONDS, "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Serves the push-mode API on `listener` until `cancel`; in-flight requests get `grace` to
/// finish.
pub async fn serve(
    listener: TcpListener,
    state: GatewayState,
    cancel: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    info!(%address, auth_required = state.auth.is_required(), "gateway listening (push mode)");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = cancel.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    });
    let mut server = server;
    tokio::select! {
        result = &mut server => return join_result(result),
        _ = cancel.cancelled() => {}
    }
    match tokio::time::timeout(grace, &mut server).await {
        Ok(result) => join_result(result),
        Err(_) => {
            warn!(grace = ?grace, "requests still running after the shutdown grace period; dropping them");
            server.abort();
            Ok(())
        }
    }
}

fn join_result(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Result<()> {
    match result {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(format!(
            "gateway server task failed: {e}"
        ))),
    }
}
