//! The remote prover: an outside prover's side of the protocol (`zkfleet remote-prover --api URL
//! --key FILE`). It logs in with its key, leases jobs it can prove, generates the witness vector
//! and proves with the circuit prover's own code path (`BatchCircuits::witness_vector`, then
//! `BatchCircuits::prove_job`, which verifies before returning; or any [`JobProver`], such as
//! the circuit prover's GPU backend), extends the lease while proving, and submits the proof
//! with the lease's fencing token.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::Utc;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::Keystore;
use zkfleet_types::{AggregationRound, CircuitId};

use crate::keys::ProverKey;
use crate::wire::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why the remote prover's request or job failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not get an answer (connection, TLS, timeout) or its body did not decode.
    #[error("request to the prover API failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The API refused the request; `code` is the stable refusal code.
    #[error("the prover API answered {status} ({code}): {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The stable refusal code (`http` when the body was not the API's error JSON).
        code: String,
        /// The API's sentence.
        message: String,
    },
    /// The circuits of the API's proving configuration could not be loaded or built.
    #[error("loading the circuits: {0}")]
    Circuits(String),
    /// Our circuits are not the API's: their proofs would be refused.
    #[error("the API's circuits have final verifying-key digest {api}, ours {ours}: prove with the API's configuration (check keys_dir)")]
    KeyMismatch {
        /// The API's final verifying-key digest.
        api: String,
        /// Ours.
        ours: String,
    },
    /// Proving a leased job failed.
    #[error("proving job {job} failed: {reason}")]
    Proving {
        /// The prover job.
        job: i64,
        /// The prover's error.
        reason: String,
    },
    /// The inline input of a lease did not decode.
    #[error("the lease's input is not valid base64: {0}")]
    Input(String),
}

impl ClientError {
    /// The API's refusal code, for a refusal.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A session with the prover API.
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: ProverKey,
    session: Option<String>,
}

impl ApiClient {
    /// A client of the API at base URL `api`, logging in as `key`'s prover (at the first
    /// request that needs a session); the system's CA certificates are trusted.
    pub fn new(api: &str, key: ProverKey) -> Result<Self, ClientError> {
        Self::with_root_certificates(api, key, None)
    }

    /// [`ApiClient::new`] that also trusts the CA certificates of `ca_pem` (PEM), for an API
    /// whose certificate a private CA issued (or a self-signed one); the system's roots stay
    /// trusted.
    pub fn with_root_certificates(
        api: &str,
        key: ProverKey,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(120));
        if let Some(pem) = ca_pem {
            for certificate in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build()?;
        Ok(Self {
            http,
            base: api.trim_end_matches('/').to_owned(),
            key,
            session: None,
        })
    }

    /// The prover's registered name.
    pub fn prover(&self) -> &str {
        &self.key.prover
    }

    /// The current session token (for tests that replay it).
    pub fn session_token(&self) -> Option<&str> {
        self.session.as_deref()
    }

    async fn answer<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response.json().await?);
        }
        let text = response.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.code, body.error),
            Err(_) => ("http".to_owned(), text),
        };
        Err(ClientError::Api {
            status: status.as_u16(),
            code,
            message,
        })
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = &self.session {
            request = request.bearer_auth(token);
        }
        Self::answer(request.send().await?).await
    }

    /// `GET /v1/info`: the API's protocol version, proving configuration and final key digest.
    pub async fn info(&self) -> Result<ApiInfo, ClientError> {
        Self::answer(
            self.http
                .get(format!("{}/v1/info", self.base))
                .send()
                .await?,
        )
        .await
    }

    /// Asks for a challenge, signs it, and keeps the session token.
    pub async fn login(&mut self) -> Result<(), ClientError> {
        let challenge: ChallengeResponse = self
            .post(
                "/v1/login/challenge",
                &ChallengeRequest {
                    prover: self.key.prover.clone(),
                },
            )
            .await?;
        let signature = self
            .key
            .sign_hex(&login_message(&self.key.prover, &challenge.challenge));
        let login: LoginResponse = self
            .post(
                "/v1/login",
                &LoginRequest {
                    prover: self.key.prover.clone(),
                    challenge: challenge.challenge,
                    signature,
                },
            )
            .await?;
        self.session = Some(login.session_token);
        Ok(())
    }

    /// POSTs with the session; on a 401 (session expired) logs in again and retries once.
    async fn post_authed<B: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        if self.session.is_none() {
            self.login().await?;
        }
        match self.post(path, body).await {
            Err(ClientError::Api { status: 401, .. }) => {
                self.login().await?;
                self.post(path, body).await
            }
            other => other,
        }
    }

    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.session {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        if response.status() != StatusCode::OK {
            return Self::answer::<()>(response).await.map(|_| Vec::new());
        }
        Ok(response.bytes().await?.to_vec())
    }

    /// `POST /v1/lease`: a job that fits `capabilities`, if one is queued.
    pub async fn lease(
        &mut self,
        capabilities: &Capabilities,
    ) -> Result<LeaseResponse, ClientError> {
        let body = LeaseRequestBody {
            capabilities: capabilities.clone(),
        };
        self.post_authed("/v1/lease", &body).await
    }

    /// The lease's input bytes (inline, or fetched from the link).
    pub async fn input(&mut self, lease: &Lease) -> Result<Vec<u8>, ClientError> {
        match &lease.input {
            JobInput::Inline(b64) => B64
                .decode(b64.as_bytes())
                .map_err(|e| ClientError::Input(e.to_string())),
            JobInput::Link { path, .. } => {
                if self.session.is_none() {
                    self.login().await?;
                }
                match self.get_bytes(path).await {
                    Err(ClientError::Api { status: 401, .. }) => {
                        self.login().await?;
                        self.get_bytes(path).await
                    }
                    other => other,
                }
            }
        }
    }

    /// `POST /v1/leases/{id}/extend`: moves the lease's deadline.
    pub async fn extend(
        &mut self,
        lease_id: i64,
        fencing_token: i64,
    ) -> Result<ExtendResponse, ClientError> {
        let body = ExtendRequest { fencing_token };
        let path = format!("/v1/leases/{lease_id}/extend");
        self.post_authed(&path, &body).await
    }

    /// `POST /v1/leases/{id}/proof`: submits the job's proof (plonky2's bytes).
    pub async fn submit(
        &mut self,
        lease_id: i64,
        fencing_token: i64,
        proof: &[u8],
    ) -> Result<SubmissionResponse, ClientError> {
        let body = ProofSubmission {
            fencing_token,
            proof: B64.encode(proof),
        };
        let path = format!("/v1/leases/{lease_id}/proof");
        self.post_authed(&path, &body).await
    }
}

/// Loads the circuits of the API's proving configuration from `keys_dir` (built and cached on
/// a miss) and checks they are the API's (same final verifying-key digest).
pub fn load_circuits(info: &ApiInfo, keys_dir: &Path) -> Result<Arc<BatchCircuits>, ClientError> {
    let keystore = Keystore::open(keys_dir).map_err(|e| ClientError::Circuits(e.to_string()))?;
    let loaded = keystore
        .batch_circuits(&info.proving)
        .map_err(|e| ClientError::Circuits(e.to_string()))?;
    let ours = FinalVerifyingKey::of(&loaded.circuits)
        .map_err(|e| ClientError::Circuits(e.to_string()))?
        .digest()
        .to_string();
    if ours != info.final_vk_digest {
        return Err(ClientError::KeyMismatch {
            api: info.final_vk_digest.clone(),
            ours,
        });
    }
    Ok(Arc::new(loaded.circuits))
}

/// What proves a leased job: witness vector from the job's input, then a proof that verifies
/// under the job's circuit. [`BatchCircuits`] is plonky2 on the CPU (the circuit prover's own
/// path, which verifies before returning); `zkfleet remote-prover --backend gpu` passes the
/// circuit prover's GPU backend through this trait (this crate depends on no component).
pub trait JobProver: Send + Sync {
    /// The proof of the circuit `(round, circuit)` on the job's stored witness `input`, or why
    /// there is none.
    fn prove(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        input: &[u8],
    ) -> Result<Vec<u8>, String>;
}

impl JobProver for BatchCircuits {
    fn prove(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        input: &[u8],
    ) -> Result<Vec<u8>, String> {
        let vector = self
            .witness_vector(round, circuit, input)
            .map_err(|e| e.to_string())?;
        self.prove_job(round, circuit, vector)
            .map_err(|e| e.to_string())
    }
}

/// How the remote prover runs.
#[derive(Debug, Clone)]
pub struct RemoteProverOptions {
    /// What this prover can prove, sent with every lease request.
    pub capabilities: Capabilities,
    /// Wait between lease requests when there is no job (the API's hint wins when longer).
    pub idle_wait: Duration,
    /// Stop after this many jobs (accepted or not); `None`: until cancelled.
    pub max_jobs: Option<u64>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteProverSummary {
    /// Proofs the API verified and that completed their job.
    pub accepted: u64,
    /// Proofs answered 409: not needed (the job was proven by someone else first, or the lease
    /// was closed or superseded).
    pub already_proven: u64,
    /// Proofs the API checked and refused (422).
    pub refused: u64,
    /// What the accepted proofs earned.
    pub earnings: u64,
}

/// Leases, proves and submits until cancelled (or `max_jobs`).
pub async fn run_remote_prover(
    client: &mut ApiClient,
    circuits: Arc<dyn JobProver>,
    options: &RemoteProverOptions,
    cancel: CancellationToken,
) -> Result<RemoteProverSummary, ClientError> {
    let mut summary = RemoteProverSummary::default();
    let mut jobs = 0u64;
    while !cancel.is_cancelled() && options.max_jobs.is_none_or(|max| jobs < max) {
        let response = match client.lease(&options.capabilities).await {
            Ok(r) => r,
            Err(ClientError::Api {
                status: 429,
                message,
                ..
            }) => {
                tracing::warn!(%message, "lease refused for now");
                sleep_or_cancel(Duration::from_secs(2), &cancel).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(lease) = response.lease else {
            let wait = options
                .idle_wait
                .max(Duration::from_millis(response.retry_after_ms));
            sleep_or_cancel(wait, &cancel).await;
            continue;
        };
        jobs += 1;
        let started = Instant::now();
        let input = client.input(&lease).await?;
        let proof = prove_extending(client, &circuits, &lease, input).await?;
        match client
            .submit(lease.lease_id, lease.fencing_token, &proof)
            .await
        {
            Ok(answer) => {
                summary.accepted += u64::from(answer.outcome == SubmissionOutcome::Accepted);
                summary.earnings += answer.earnings;
                tracing::info!(lease = lease.lease_id, job = lease.job.id, round = %lease.job.round,
                    seconds = started.elapsed().as_secs_f64(), late = answer.late,
                    earnings = answer.earnings, "proof accepted");
            }
            Err(ClientError::Api {
                status: 409,
                code,
                message,
            }) => {
                summary.already_proven += 1;
                tracing::info!(lease = lease.lease_id, %code, %message, "proof not needed");
            }
            Err(ClientError::Api {
                status: 422,
                message,
                ..
            }) => {
                summary.refused += 1;
                tracing::error!(lease = lease.lease_id, %message, "proof refused");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(summary)
}

/// Proves the lease's job on a blocking thread, extending the lease at half its remaining time.
async fn prove_extending(
    client: &mut ApiClient,
    circuits: &Arc<dyn JobProver>,
    lease: &Lease,
    input: Vec<u8>,
) -> Result<Vec<u8>, ClientError> {
    let circuits = circuits.clone();
    let (round, circuit, job) = (
        lease.job.round,
        CircuitId(lease.job.circuit_id),
        lease.job.id,
    );
    let mut proving = tokio::task::spawn_blocking(move || circuits.prove(round, circuit, &input));
    let mut deadline = lease.deadline;
    loop {
        let half = ((deadline - Utc::now()) / 2)
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(500));
        tokio::select! {
            result = &mut proving => {
                return result
                    .map_err(|e| ClientError::Proving { job, reason: e.to_string() })?
                    .map_err(|reason| ClientError::Proving { job, reason });
            }
            _ = tokio::time::sleep(half) => {
                match client.extend(lease.lease_id, lease.fencing_token).await {
                    Ok(extended) => deadline = extended.deadline,
                    // Past the maximum or superseded: keep proving, a late proof may still count.
                    Err(e) => {
                        tracing::warn!(lease = lease.lease_id, error = %e, "lease not extended");
                        deadline = Utc::now() + chrono::Duration::seconds(3600);
                    }
                }
            }
        }
    }
}

async fn sleep_or_cancel(wait: Duration, cancel: &CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}
