//! The HTTP server: login, lease, input, extend, proof; and the sweep that returns expired
//! leases to the queue and suspends provers past their limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::Utc;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_dal::{
    ChallengeCheck, CompleteOutcome, Dal, ExtendOutcome, LeaseOutcome, LeaseRequest,
    LeaseSettlement, LeaseStatus, OutsideProver, OutsideProverStatus,
};
use zkfleet_store::{ObjectKey, ProofBytes, Store};
use zkfleet_types::JobStatus;

use crate::checker::{JobToCheck, ProofChecker};
use crate::config::ProverApiConfig;
use crate::error::ApiError;
use crate::keys::{
    parse_public_key, random_token, token_hash, validate_prover_name, verify_signature,
};
use crate::metrics;
use crate::rate::RateLimiter;
use crate::wire::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why the API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The `[prover_api]` configuration cannot work.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The configured protocol version is not in the job database.
    #[error("protocol version {0} is not registered in the job database (insert it first, e.g. `zkfleet insert-version`)")]
    UnknownProtocolVersion(zkfleet_types::ProtocolSemanticVersion),
    /// The loaded circuits are not the protocol version's: their verdicts would be wrong.
    #[error("protocol version {version} records final verifying-key digest {recorded}, but the circuits loaded from the keystore have {loaded}: refusing to verify proofs with keys of another configuration")]
    FinalKeyMismatch {
        /// The configured protocol version.
        version: zkfleet_types::ProtocolSemanticVersion,
        /// The digest the version records.
        recorded: String,
        /// The loaded circuits' digest.
        loaded: String,
    },
    /// The final verifying key of the loaded circuits could not be computed.
    #[error("computing the final verifying key: {0}")]
    FinalKey(String),
    /// The job database failed.
    #[error(transparent)]
    Database(#[from] zkfleet_dal::DalError),
    /// TLS is configured but its files do not make a server configuration.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The listen address could not be bound.
    #[error("binding {address}: {source}")]
    Bind {
        /// The configured `listen_address`.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Everything a request needs.
pub struct ApiState {
    dal: Dal,
    store: Store,
    config: ProverApiConfig,
    checker: ProofChecker,
    provers: RateLimiter,
    addresses: RateLimiter,
    info: ApiInfo,
}

impl ApiState {
    /// Checks the configuration and that `circuits` are the protocol version's (its recorded
    /// final verifying-key digest), as the circuit prover does before proving.
    pub async fn new(
        dal: Dal,
        store: Store,
        config: ProverApiConfig,
        circuits: Arc<BatchCircuits>,
    ) -> Result<Arc<Self>, StartError> {
        config.validate()?;
        let version = dal
            .protocol_version(config.protocol_version)
            .await?
            .ok_or(StartError::UnknownProtocolVersion(config.protocol_version))?;
        let loaded = FinalVerifyingKey::of(&circuits)
            .map_err(|e| StartError::FinalKey(e.to_string()))?
            .digest();
        if loaded != version.final_vk_digest {
            return Err(StartError::FinalKeyMismatch {
                version: config.protocol_version,
                recorded: version.final_vk_digest.to_string(),
                loaded: loaded.to_string(),
            });
        }
        let info = ApiInfo {
            protocol_version: config.protocol_version,
            proving: config.proving,
            final_vk_digest: loaded.to_string(),
            max_request_body_bytes: config.max_request_body_bytes,
            lease_duration_secs: config.lease_duration.as_secs(),
        };
        Ok(Arc::new(Self {
            checker: ProofChecker::new(
                circuits,
                store.clone(),
                config.max_concurrent_verifications,
            ),
            provers: RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
            // A client address gets sixteen provers' worth: several provers may share a NAT.
            addresses: RateLimiter::new(
                config.rate_limit_per_second * 16.0,
                config.rate_limit_burst.saturating_mul(16),
            ),
            dal,
            store,
            config,
            info,
        }))
    }

    /// The configuration the API runs with (validated).
    pub fn config(&self) -> &ProverApiConfig {
        &self.config
    }
}

/// The API's routes, body limit and per-address rate limit.
pub fn router(state: Arc<ApiState>) -> Router {
    let limit = state.config.max_request_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/info", get(info))
        .route("/v1/login/challenge", post(challenge))
        .route("/v1/login", post(login))
        .route("/v1/lease", post(lease))
        .route("/v1/leases/{id}/input", get(input))
        .route("/v1/leases/{id}/extend", post(extend))
        .route("/v1/leases/{id}/proof", post(proof))
        .layer(middleware::from_fn_with_state(state.clone(), per_address))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves until `cancel`, with the sweep running beside it.
pub async fn serve(
    state: Arc<ApiState>,
    listener: tokio::net::TcpListener,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_loop(state.clone(), cancel.clone()));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.clone().cancelled_owned())
        .await;
    cancel.cancel();
    let _ = sweeper.await;
    result
}

/// [`serve`] over TLS: every connection handshaken by `acceptor` first
/// ([`crate::tls::TlsListener`]).
pub async fn serve_tls(
    state: Arc<ApiState>,
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    // `tap_io` lends the listener axum's `ConnectInfo<SocketAddr>` (per-address rate limits).
    let listener = crate::tls::TlsListener::new(listener, acceptor, cancel.clone())?.tap_io(|_| {});
    let sweeper = tokio::spawn(sweep_loop(state.clone(), cancel.clone()));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.clone().cancelled_owned())
        .await;
    cancel.cancel();
    let _ = sweeper.await;
    result
}

/// Binds `config.listen_address` and serves: HTTPS when `[tls]` is configured, else HTTP.
pub async fn run(state: Arc<ApiState>, cancel: CancellationToken) -> Result<(), StartError> {
    let address = state.config.listen_address;
    let acceptor = state
        .config
        .tls
        .as_ref()
        .map(crate::tls::TlsFiles::acceptor)
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Bind { address, source })?;
    let served = match acceptor {
        Some(acceptor) => {
            tracing::info!(%address, "prover API listening (HTTPS)");
            serve_tls(state, listener, acceptor, cancel).await
        }
        None => {
            tracing::info!(%address, "prover API listening (plain HTTP: TLS belongs in front)");
            serve(state, listener, cancel).await
        }
    };
    served.map_err(|source| StartError::Bind { address, source })
}

async fn per_address(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let endpoint = endpoint_of(request.uri().path());
    if let Some(ConnectInfo(address)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        if let Err(wait) = state.addresses.check(&address.ip().to_string()) {
            metrics::rate_limited("address");
            metrics::request(endpoint, 429);
            return ApiError::TooMany {
                message: format!("too many requests from {}; retry in {wait} s", address.ip()),
                retry_after_secs: wait,
            }
            .into_response();
        }
    }
    let response = next.run(request).await;
    metrics::request(endpoint, response.status().as_u16());
    response
}

fn endpoint_of(path: &str) -> &'static str {
    match path {
        "/healthz" => "healthz",
        "/v1/info" => "info",
        "/v1/login/challenge" => "challenge",
        "/v1/login" => "login",
        "/v1/lease" => "lease",
        p if p.ends_with("/input") => "input",
        p if p.ends_with("/extend") => "extend",
        p if p.ends_with("/proof") => "proof",
        _ => "unmatched",
    }
}

fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("request body too large: {}", rejection.body_text()))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not the expected JSON: {e}")))
}

/// The prover of the request's session, active, within its rate.
async fn authenticate(state: &ApiState, headers: &HeaderMap) -> Result<OutsideProver, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "missing Authorization: Bearer <session token> (log in first: POST /v1/login)"
                    .into(),
            )
        })?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| ApiError::Unauthorized("the Authorization scheme must be Bearer".into()))?;
    let prover = state
        .dal
        .prover_of_session(&token_hash(token))
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("unknown or expired session token: log in again".into())
        })?;
    if prover.status == OutsideProverStatus::Suspended {
        return Err(suspended(&prover));
    }
    if let Err(wait) = state.provers.check(&prover.name) {
        metrics::rate_limited("prover");
        return Err(ApiError::TooMany {
            message: format!(
                "prover {} is over its rate limit ({} requests/s, burst {}); retry in {wait} s",
                prover.name, state.config.rate_limit_per_second, state.config.rate_limit_burst
            ),
            retry_after_secs: wait,
        });
    }
    Ok(prover)
}

fn suspended(prover: &OutsideProver) -> ApiError {
    ApiError::Forbidden(format!(
        "outside prover {} is suspended{}",
        prover.name,
        prover
            .status_reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    ))
}

async fn info(State(state): State<Arc<ApiState>>) -> Json<ApiInfo> {
    Json(state.info.clone())
}

async fn challenge(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ChallengeResponse>, ApiError> {
    let request: ChallengeRequest = json_body(body)?;
    validate_prover_name(&request.prover).map_err(ApiError::BadRequest)?;
    if let Err(wait) = state.provers.check(&format!("login:{}", request.prover)) {
        metrics::rate_limited("login");
        return Err(ApiError::TooMany {
            message: format!(
                "too many login attempts for {}; retry in {wait} s",
                request.prover
            ),
            retry_after_secs: wait,
        });
    }
    let prover = state
        .dal
        .outside_prover(&request.prover)
        .await?
        .ok_or_else(|| {
            metrics::login_refused("unknown_prover");
            ApiError::Unauthorized(format!("unknown outside prover {}", request.prover))
        })?;
    if prover.status == OutsideProverStatus::Suspended {
        metrics::login_refused("suspended");
        return Err(suspended(&prover));
    }
    let challenge = random_token();
    let expires_at = Utc::now() + chrono_duration(state.config.challenge_ttl);
    state
        .dal
        .insert_login_challenge(&prover.name, &challenge, expires_at)
        .await?;
    Ok(Json(ChallengeResponse {
        challenge,
        expires_at,
    }))
}

async fn login(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LoginResponse>, ApiError> {
    let request: LoginRequest = json_body(body)?;
    validate_prover_name(&request.prover).map_err(ApiError::BadRequest)?;
    // Consumed whatever happens next: a challenge is never good for a second try.
    match state
        .dal
        .consume_login_challenge(&request.prover, &request.challenge)
        .await?
    {
        ChallengeCheck::Valid => {}
        ChallengeCheck::Unknown => {
            metrics::login_refused("unknown_challenge");
            return Err(ApiError::Unauthorized(format!(
                "challenge {} was not issued to {} or was already used (each challenge logs in once)",
                request.challenge, request.prover
            )));
        }
        ChallengeCheck::Expired => {
            metrics::login_refused("expired_challenge");
            return Err(ApiError::Unauthorized(
                "the challenge expired: ask for a new one".into(),
            ));
        }
    }
    let prover = state
        .dal
        .outside_prover(&request.prover)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized(format!("unknown outside prover {}", request.prover))
        })?;
    let (key, _) = parse_public_key(&prover.public_key)
        .map_err(|e| ApiError::internal("reading the registered key", e))?;
    let message = login_message(&request.prover, &request.challenge);
    if let Err(e) = verify_signature(&key, &message, &request.signature) {
        metrics::login_refused("bad_signature");
        return Err(ApiError::Unauthorized(format!(
            "login of {} refused: {e}",
            request.prover
        )));
    }
    if prover.status == OutsideProverStatus::Suspended {
        metrics::login_refused("suspended");
        return Err(suspended(&prover));
    }
    let session_token = random_token();
    let expires_at = Utc::now() + chrono_duration(state.config.session_ttl);
    state
        .dal
        .insert_prover_session(&token_hash(&session_token), &prover.name, expires_at)
        .await?;
    tracing::info!(prover = %prover.name, "outside prover logged in");
    Ok(Json(LoginResponse {
        session_token,
        expires_at,
    }))
}

async fn lease(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LeaseResponse>, ApiError> {
    let prover = authenticate(&state, &headers).await?;
    let request: LeaseRequestBody = json_body(body)?;
    let allowed = state.config.allowed_for(&request.capabilities);
    let now = Utc::now();
    let outcome = state
        .dal
        .lease_prover_job(&LeaseRequest {
            prover: &prover.name,
            version: state.config.protocol_version,
            allowed: &allowed,
            max_priority: state.config.policy.max_batch_priority,
            share_percent: state.config.policy.share_percent,
            max_job_attempts: state.config.max_job_attempts,
            max_active_leases: state.config.max_active_leases_per_prover,
            deadline: now + chrono_duration(state.config.lease_duration),
            now,
        })
        .await?;
    let leased = match outcome {
        LeaseOutcome::NoJob => {
            return Ok(Json(LeaseResponse {
                lease: None,
                retry_after_ms: 1000,
            }))
        }
        LeaseOutcome::NotActive => return Err(suspended(&prover)),
        LeaseOutcome::TooManyLeases { active, limit } => {
            return Err(ApiError::TooMany {
                message: format!(
                    "prover {} holds {active} unsettled leases, the limit is {limit}: submit \
                     their proofs (or let them expire) before leasing more",
                    prover.name
                ),
                retry_after_secs: 5,
            })
        }
        LeaseOutcome::Leased(lease) => lease,
    };
    let job = &leased.job;
    let to_check = JobToCheck {
        job_id: job.id.0,
        round: job.aggregation_round,
        circuit: job.circuit_id,
        circuit_blob_key: job.circuit_blob_key.clone(),
    };
    let input = match state.checker.load_input(&to_check).await {
        Ok(input) => input,
        Err(e) => {
            // Our failure, not the prover's: the job goes straight back to the queue.
            state
                .dal
                .settle_outside_lease(
                    leased.lease_id,
                    &LeaseSettlement::Released {
                        reason: format!("the prover API could not read the job's input: {e}"),
                    },
                )
                .await?;
            return Err(e);
        }
    };
    metrics::leased(&prover.name, job.aggregation_round);
    tracing::info!(prover = %prover.name, lease = leased.lease_id, job = job.id.0,
        round = %job.aggregation_round, "job leased to an outside prover");
    let input_bytes = input.len() as u64;
    let input = if input.len() <= state.config.inline_input_max_bytes {
        JobInput::Inline(B64.encode(&input))
    } else {
        JobInput::Link {
            path: format!("/v1/leases/{}/input", leased.lease_id),
            expires_at: leased.deadline,
        }
    };
    Ok(Json(LeaseResponse {
        lease: Some(Lease {
            lease_id: leased.lease_id,
            fencing_token: leased.fencing_token,
            job: LeasedJobInfo {
                id: job.id.0,
                chain_id: job.meta.batch.chain_id.0,
                batch_number: job.meta.batch.batch_number.0,
                round: job.aggregation_round,
                circuit_id: job.circuit_id.0,
                depth: job.depth,
                sequence_number: job.sequence_number,
                protocol_version: job.meta.protocol_version,
            },
            input,
            input_bytes,
            deadline: leased.deadline,
            price: state.config.price(job.aggregation_round),
        }),
        retry_after_ms: 0,
    }))
}

async fn input(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(lease_id): Path<i64>,
) -> Result<Response, ApiError> {
    let prover = authenticate(&state, &headers).await?;
    let context = state
        .dal
        .outside_lease(lease_id, &prover.name)
        .await?
        .ok_or_else(|| not_your_lease(lease_id, &prover.name))?;
    if context.status != LeaseStatus::Active || context.deadline <= Utc::now() {
        return Err(ApiError::Conflict {
            code: "lease_closed",
            message: format!("lease {lease_id} is no longer active: its input link has expired"),
        });
    }
    let job = context.job.as_ref().ok_or_else(|| job_gone(&context))?;
    let bytes = state
        .checker
        .load_input(&JobToCheck {
            job_id: context.job_id.0,
            round: context.round,
            circuit: context.circuit,
            circuit_blob_key: job.circuit_blob_key.clone(),
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

async fn extend(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(lease_id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ExtendResponse>, ApiError> {
    let prover = authenticate(&state, &headers).await?;
    let request: ExtendRequest = json_body(body)?;
    let Some(context) = state.dal.outside_lease(lease_id, &prover.name).await? else {
        return Err(not_your_lease(lease_id, &prover.name));
    };
    let wanted = (Utc::now() + chrono_duration(state.config.lease_duration))
        .min(context.leased_at + chrono_duration(state.config.max_lease_duration));
    match state
        .dal
        .extend_outside_lease(lease_id, &prover.name, request.fencing_token, wanted)
        .await?
    {
        ExtendOutcome::Extended(deadline) => Ok(Json(ExtendResponse { deadline })),
        ExtendOutcome::NotFound => Err(not_your_lease(lease_id, &prover.name)),
        ExtendOutcome::Stale => Err(ApiError::Conflict {
            code: "stale_token",
            message: format!(
                "fencing token {} is not the current token of lease {lease_id}'s job: the \
                 lease was superseded, nothing was extended",
                request.fencing_token
            ),
        }),
        ExtendOutcome::Closed(status) => Err(ApiError::Conflict {
            code: "lease_closed",
            message: format!("lease {lease_id} is {}: nothing to extend", status.as_str()),
        }),
    }
}

async fn proof(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(lease_id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SubmissionResponse>, ApiError> {
    let prover = authenticate(&state, &headers).await?;
    let submission: Result<ProofSubmission, ApiError> = json_body(body);
    // Over the limit: refused before anything is looked up (the body was never read whole).
    if let Err(ApiError::TooLarge(message)) = submission {
        return Err(ApiError::TooLarge(message));
    }
    let Some(context) = state.dal.outside_lease(lease_id, &prover.name).await? else {
        return Err(not_your_lease(lease_id, &prover.name));
    };
    let submission = match submission {
        Ok(s) => s,
        // Garbage on an open lease of one's own is a refusal like an invalid proof.
        Err(e) => {
            return Err(refuse(
                &state,
                &prover,
                &context,
                "malformed_submission",
                e.to_string(),
                true,
            )
            .await)
        }
    };
    if submission.fencing_token != context.fencing_token {
        return Err(ApiError::Conflict {
            code: "wrong_token",
            message: format!(
                "fencing token {} is not lease {lease_id}'s: nothing changed",
                submission.fencing_token
            ),
        });
    }
    match context.status {
        LeaseStatus::Accepted => {
            return Ok(Json(SubmissionResponse {
                outcome: SubmissionOutcome::AlreadyAccepted,
                earnings: 0,
                late: false,
            }))
        }
        LeaseStatus::Active | LeaseStatus::Expired => {}
        closed => {
            return Err(ApiError::Conflict {
                code: "lease_closed",
                message: format!(
                    "lease {lease_id} is {}: this proof changes nothing",
                    closed.as_str()
                ),
            })
        }
    }
    let job = context.job.clone().ok_or_else(|| job_gone(&context))?;
    if job.status == JobStatus::Successful {
        state
            .dal
            .settle_outside_lease(lease_id, &LeaseSettlement::Superseded)
            .await?;
        return Err(already_proven(&context));
    }
    if matches!(
        job.status,
        JobStatus::FailedPermanently | JobStatus::AttemptsExhausted
    ) {
        return Err(ApiError::Conflict {
            code: "job_closed",
            message: format!(
                "prover job {} is {}: it takes no proof until an operator requeues it",
                context.job_id, job.status
            ),
        });
    }
    let proof = match B64.decode(submission.proof.as_bytes()) {
        Ok(p) if !p.is_empty() => Arc::new(p),
        Ok(_) => {
            return Err(refuse(
                &state,
                &prover,
                &context,
                "malformed_submission",
                "the proof is empty".into(),
                true,
            )
            .await)
        }
        Err(e) => {
            return Err(refuse(
                &state,
                &prover,
                &context,
                "malformed_submission",
                format!("the proof is not base64: {e}"),
                true,
            )
            .await)
        }
    };
    let to_check = JobToCheck {
        job_id: context.job_id.0,
        round: context.round,
        circuit: context.circuit,
        circuit_blob_key: job.circuit_blob_key.clone(),
    };
    if let Err(refusal) = state.checker.check(&to_check, proof.clone()).await? {
        return Err(refuse(
            &state,
            &prover,
            &context,
            refusal.code,
            refusal.detail,
            true,
        )
        .await);
    }
    // Verified: store it where the fleet's own prover would, then complete the job (the first
    // completion wins; the blob of a loser is a valid proof of the same statement).
    let key = ObjectKey::Proof {
        chain: job.batch.chain_id,
        job: context.job_id,
    };
    let path = state
        .store
        .put(&key, &ProofBytes::new(proof.as_ref().clone()))
        .await
        .map_err(|e| ApiError::internal("storing the proof", e))?;
    let claimed = state
        .dal
        .claim_job_for_outside_proof(context.job_id, &prover.name)
        .await?;
    let now = Utc::now();
    let proving = (now - context.leased_at).to_std().unwrap_or_default();
    let late = now > context.deadline || context.status == LeaseStatus::Expired;
    let outcome = match claimed {
        Some(JobStatus::InProgress) => {
            state
                .dal
                .complete_prover_job(context.job_id, &path, proving)
                .await?
        }
        Some(status) => CompleteOutcome::NotInProgress { status },
        None => return Err(job_gone(&context)),
    };
    match outcome {
        CompleteOutcome::Completed { .. } => {
            let earnings = state.config.price(context.round);
            let settled = state
                .dal
                .settle_outside_lease(
                    lease_id,
                    &LeaseSettlement::Accepted {
                        proving_ms: i64::try_from(proving.as_millis()).unwrap_or(i64::MAX),
                        earnings: i64::try_from(earnings).unwrap_or(i64::MAX),
                    },
                )
                .await?;
            if !settled {
                // A concurrent duplicate of this very submission settled it first.
                return Ok(Json(SubmissionResponse {
                    outcome: SubmissionOutcome::AlreadyAccepted,
                    earnings: 0,
                    late,
                }));
            }
            metrics::accepted(&prover.name, context.round, proving, earnings);
            tracing::info!(prover = %prover.name, lease = lease_id, job = context.job_id.0, late,
                "outside proof verified and accepted");
            Ok(Json(SubmissionResponse {
                outcome: SubmissionOutcome::Accepted,
                earnings,
                late,
            }))
        }
        CompleteOutcome::NotInProgress { .. } => {
            state
                .dal
                .settle_outside_lease(lease_id, &LeaseSettlement::Superseded)
                .await?;
            Err(already_proven(&context))
        }
    }
}

/// Settles the lease as refused (its job back to the queue), charges the prover, suspends it
/// past the limit, and returns the 422 to answer.
async fn refuse(
    state: &ApiState,
    prover: &OutsideProver,
    context: &zkfleet_dal::LeaseContext,
    code: &'static str,
    detail: String,
    penalized: bool,
) -> ApiError {
    metrics::refused(&prover.name, code);
    tracing::warn!(prover = %prover.name, lease = context.lease_id, job = context.job_id.0, code,
        %detail, "outside proof refused");
    let settlement = LeaseSettlement::Refused {
        reason: code.to_owned(),
        detail: detail.clone(),
        penalized,
    };
    let recorded = match state
        .dal
        .settle_outside_lease(context.lease_id, &settlement)
        .await
    {
        Ok(true) => Ok(()),
        // Already settled: still a refusal on the prover's ledger.
        Ok(false) => {
            state
                .dal
                .record_outside_refusal(
                    &prover.name,
                    Some(context.lease_id),
                    code,
                    &detail,
                    penalized,
                )
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        return ApiError::from(e);
    }
    if penalized {
        if let Err(e) = enforce_limits(state, &prover.name).await {
            tracing::error!(error = %e, prover = %prover.name, "checking the suspension limits failed");
        }
    }
    ApiError::ProofRefused {
        code,
        message: format!(
            "proof for lease {} (prover job {}) refused: {detail}",
            context.lease_id, context.job_id
        ),
    }
}

/// Suspends `prover` if its penalties since its last status change reached a limit.
pub async fn enforce_limits(state: &ApiState, prover: &str) -> Result<bool, zkfleet_dal::DalError> {
    let limits = state.config.suspension;
    let penalties = state.dal.outside_prover_penalties(prover).await?;
    let cause = if penalties.refused >= limits.max_refusals {
        (
            "refusals",
            format!(
                "{} refused proofs (limit {})",
                penalties.refused, limits.max_refusals
            ),
        )
    } else if penalties.missed >= limits.max_misses {
        (
            "misses",
            format!(
                "{} missed deadlines (limit {})",
                penalties.missed, limits.max_misses
            ),
        )
    } else {
        return Ok(false);
    };
    let reason = format!("suspended automatically: {}", cause.1);
    if let Some(current) = state.dal.outside_prover(prover).await? {
        if current.status == OutsideProverStatus::Suspended {
            return Ok(false);
        }
    }
    let released = state
        .dal
        .set_outside_prover_status(prover, OutsideProverStatus::Suspended, &reason)
        .await?;
    metrics::suspended(prover, cause.0);
    tracing::warn!(prover, %reason, released = released.unwrap_or(0), "outside prover suspended");
    Ok(true)
}

/// One pass of the sweep: expired leases back to the queue, misses charged, limits enforced,
/// expired logins purged, ledger gauges refreshed.
pub async fn sweep_once(state: &ApiState) -> Result<usize, zkfleet_dal::DalError> {
    let expired = state.dal.expire_outside_leases().await?;
    let mut provers: Vec<&str> = expired.iter().map(|e| e.prover.as_str()).collect();
    for e in &expired {
        metrics::missed(&e.prover);
        tracing::warn!(prover = %e.prover, lease = e.lease_id, job = e.job_id.0,
            requeued = e.requeued, "outside lease expired");
    }
    provers.sort_unstable();
    provers.dedup();
    for prover in provers {
        enforce_limits(state, prover).await?;
    }
    state.dal.purge_expired_prover_logins().await?;
    metrics::ledger(&state.dal.outside_prover_stats().await?);
    Ok(expired.len())
}

async fn sweep_loop(state: Arc<ApiState>, cancel: CancellationToken) {
    loop {
        if let Err(e) = sweep_once(&state).await {
            tracing::error!(error = %e, "prover API sweep failed; retrying at the next interval");
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(state.config.sweep_interval) => {}
        }
    }
}

fn not_your_lease(lease_id: i64, prover: &str) -> ApiError {
    ApiError::NotFound(format!(
        "lease {lease_id} is not a lease of prover {prover}"
    ))
}

fn job_gone(context: &zkfleet_dal::LeaseContext) -> ApiError {
    ApiError::Conflict {
        code: "job_gone",
        message: format!(
            "prover job {} of lease {} no longer exists (its batch was restarted or archived)",
            context.job_id, context.lease_id
        ),
    }
}

fn already_proven(context: &zkfleet_dal::LeaseContext) -> ApiError {
    ApiError::Conflict {
        code: "already_proven",
        message: format!(
            "prover job {} was already proven by another prover: this proof changes nothing",
            context.job_id
        ),
    }
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
