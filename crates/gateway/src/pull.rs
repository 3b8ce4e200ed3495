//! Pull mode: the gateway is the client of an upstream (the legacy ZKsync protocol,
//! `../shared/reference/zksync-prover.md` §6.2).
//!
//! Every `poll_interval`:
//! 1. `POST {upstream}/proof_generation_data` with `{}` until the upstream has nothing more
//!    (at most `max_batches_per_poll`); each batch goes through the same validation and
//!    storage as a push-mode submission;
//! 2. for every compression job that is `successful` and not yet sent,
//!    `POST {upstream}/submit_proof/{batch_number}` with the final proof; on
//!    `SubmitProofResponse::Success` the job becomes `sent_to_server`.
//!
//! Network and upstream errors are logged and counted, and the work is retried at the next
//! poll; nothing here panics or stops the loop. Responses are read with a size bound.

use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use zkfleet_service::{HttpClientError, JsonClient};
use zkfleet_types::api::{
    ProofGenerationData, ProofGenerationDataRequest, ProofGenerationDataResponse,
    SubmitProofRequest, SubmitProofResponse,
};
use zkfleet_types::{ChainId, JobStatus};

use crate::config::PullConfig;
use crate::ingest::IngestError;
use crate::metrics;
use crate::state::GatewayState;

/// Environment variable with a bearer token the gateway sends to its upstream (optional).
pub const UPSTREAM_TOKEN_ENV_VAR: &str = "ZKFLEET_GATEWAY_UPSTREAM_TOKEN";

/// A failed exchange with the upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The request failed, or the answer was an HTTP error, too large or not the expected JSON.
    #[error(transparent)]
    Http(#[from] HttpClientError),
    /// The upstream answered with an error of its own protocol.
    #[error("{url} reported an error: {message}")]
    Refused {
        /// The endpoint asked.
        url: String,
        /// The upstream's error message.
        message: String,
    },
}

/// The pull-mode client of one upstream.
#[derive(Debug, Clone)]
pub struct PullClient {
    http: JsonClient,
}

impl PullClient {
    /// A client for `config.upstream_url` (validate the configuration first).
    pub fn new(config: &PullConfig, bearer_token: Option<String>) -> Result<Self, UpstreamError> {
        let http = JsonClient::new(
            config.upstream_url.as_deref().unwrap_or_default(),
            config.request_timeout,
            config.max_response_bytes,
            bearer_token,
        )?;
        Ok(Self { http })
    }

    /// The next batch the upstream hands out, if any.
    pub async fn next_batch(&self) -> Result<Option<ProofGenerationData>, UpstreamError> {
        let path = "/proof_generation_data";
        match self.http.post(path, &ProofGenerationDataRequest {}).await? {
            ProofGenerationDataResponse::Success(data) => Ok(data.map(|boxed| *boxed)),
            ProofGenerationDataResponse::Error(message) => Err(UpstreamError::Refused {
                url: self.http.url(path),
                message,
            }),
        }
    }

    /// Hands a final proof back.
    pub async fn submit_proof(
        &self,
        batch_number: zkfleet_types::BatchNumber,
        request: &SubmitProofRequest,
    ) -> Result<(), UpstreamError> {
        let path = format!("/submit_proof/{batch_number}");
        match self.http.post(&path, request).await? {
            SubmitProofResponse::Success => Ok(()),
            SubmitProofResponse::Error(message) => Err(UpstreamError::Refused {
                url: self.http.url(&path),
                message,
            }),
        }
    }
}

fn count_upstream_error(op: &'static str) {
    ::metrics::counter!(metrics::UPSTREAM_ERRORS, "op" => op).increment(1);
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollCounts {
    /// Batches the upstream handed out that were stored (new or already known).
    pub batches_received: u32,
    /// Final proofs the upstream accepted.
    pub proofs_submitted: u32,
    /// Failures of any kind (logged).
    pub errors: u32,
}

/// One round of pull mode: fetch batches, then submit finished proofs.
pub async fn poll_once(
    state: &GatewayState,
    client: &PullClient,
    config: &PullConfig,
) -> PollCounts {
    let mut counts = PollCounts::default();
    for _ in 0..config.max_batches_per_poll {
        let data = match client.next_batch().await {
            Ok(Some(data)) => data,
            Ok(None) => break,
            Err(e) => {
                warn!(error = %e, "cannot fetch the next batch from the upstream; retrying at the next poll");
                count_upstream_error("proof_generation_data");
                counts.errors += 1;
                break;
            }
        };
        let batch = data.l1_batch_id;
        let result = match config.chain_id {
            Some(expected) if batch.chain_id != expected => {
                Err(IngestError::WrongChain { batch, expected })
            }
            _ => state.ingest(&data).await,
        };
        match result {
            Ok(response) => {
                counts.batches_received += 1;
                if response.newly_inserted {
                    ::metrics::counter!(metrics::BATCHES_RECEIVED, "mode" => "pull").increment(1);
                }
                info!(%batch, newly_inserted = response.newly_inserted, "batch received from the upstream");
            }
            Err(e) => {
                // The legacy protocol has no way to refuse a batch: say it loudly here.
                error!(%batch, error = %e, "batch from the upstream not accepted");
                count_upstream_error("ingest");
                counts.errors += 1;
                if e.status().is_server_error() {
                    break;
                }
            }
        }
    }
    submit_finished_proofs(state, client, config.chain_id, &mut counts).await;
    counts
}

async fn submit_finished_proofs(
    state: &GatewayState,
    client: &PullClient,
    chain: Option<ChainId>,
    counts: &mut PollCounts,
) {
    let jobs = match state
        .dal
        .compression_jobs_with_status(JobStatus::Successful)
        .await
    {
        Ok(jobs) => jobs,
        Err(e) => {
            error!(error = %e, "cannot list finished compression jobs");
            counts.errors += 1;
            return;
        }
    };
    for job in jobs
        .iter()
        .filter(|job| chain.is_none_or(|c| job.batch.chain_id == c))
    {
        let batch = job.batch;
        let proof = match state.read_final_proof(job).await {
            Ok(proof) => proof,
            Err(e) => {
                error!(%batch, error = %e, "cannot read the final proof to submit");
                count_upstream_error("read_proof");
                counts.errors += 1;
                continue;
            }
        };
        let request = SubmitProofRequest::Proof(Box::new(proof));
        if let Err(e) = client.submit_proof(batch.batch_number, &request).await {
            warn!(%batch, error = %e, "final proof not accepted by the upstream; retrying at the next poll");
            count_upstream_error("submit_proof");
            counts.errors += 1;
            continue;
        }
        match state.mark_delivered(batch).await {
            Ok(first) => {
                if first {
                    ::metrics::counter!(metrics::PROOFS_DELIVERED, "mode" => "pull").increment(1);
                }
                counts.proofs_submitted += 1;
            }
            Err(e) => {
                // Submitted but not marked: it will be submitted again, which the upstream
                // must tolerate (ZKsync's does).
                error!(%batch, error = %e, "final proof submitted but not marked sent");
                counts.errors += 1;
            }
        }
    }
}

/// Polls the upstream every `config.poll_interval` until `cancel`.
pub async fn run_pull(
    state: GatewayState,
    client: PullClient,
    config: PullConfig,
    cancel: CancellationToken,
) {
    info!(upstream = %client.http.base_url(), interval = ?config.poll_interval, "gateway polling its upstream (pull mode)");
    let mut tick = tokio::time::interval(config.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let counts = tokio::select! {
            _ = cancel.cancelled() => return,
            counts = poll_once(&state, &client, &config) => counts,
        };
        debug!(?counts, "pull poll done");
    }
}
