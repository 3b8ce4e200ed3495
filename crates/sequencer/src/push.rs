//! Push mode: the sequencer is the gateway's client.
//!
//! Every `push.poll_interval`:
//! 1. every produced, unproven batch not yet submitted by this process goes to
//!    `POST {gateway}/submit_request_for_proofs` (idempotent at the gateway: after a restart
//!    everything unproven is simply submitted again and answered `newly_inserted: false`);
//! 2. the next batch to prove is polled with `POST {gateway}/poll_generated_proofs`; a proof
//!    goes through the same acceptance as in pull mode. A refused proof is logged and counted
//!    and the batch is polled again next time (the gateway keeps answering the proof it has,
//!    so an operator sees the refusal repeat until the fleet's proof is fixed).
//!
//! Only the next batch is polled because batches are accepted in order: a later proof could
//! not be accepted anyway, and the gateway keeps it. Errors never stop the loop.

use std::collections::HashSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zkfleet_service::{HttpClientError, JsonClient};
use zkfleet_types::api::{
    PollGeneratedProofsRequest, PollGeneratedProofsResponse, ProofGenerationData,
    SubmitProofGenerationDataResponse,
};
use zkfleet_types::{BatchNumber, L1BatchId};

use crate::config::PushConfig;
use crate::error::SubmitError;
use crate::metrics;
use crate::sequencer::Sequencer;

/// Environment variable with the bearer token this sequencer presents to a push-mode gateway
/// (one of the gateway's `ZKFLEET_GATEWAY_TOKENS`).
pub const GATEWAY_TOKEN_ENV_VAR: &str = "ZKFLEET_SEQUENCER_GATEWAY_TOKEN";

/// A failed exchange with the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request failed, or the answer was an HTTP error, too large or not the expected JSON.
    #[error(transparent)]
    Http(#[from] HttpClientError),
    /// The gateway answered with another batch's proof than the one asked for.
    #[error("{url} answered a proof for {got}, not for {asked}")]
    WrongBatch {
        /// The gateway's endpoint.
        url: String,
        /// The batch asked for.
        asked: L1BatchId,
        /// The batch the answer is for.
        got: L1BatchId,
    },
}

/// The client of one gateway.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: JsonClient,
}

impl GatewayClient {
    /// A client of the gateway `config` names, sending `bearer_token` when given.
    pub fn new(config: &PushConfig, bearer_token: Option<String>) -> Result<Self, GatewayError> {
        let http = JsonClient::new(
            &config.gateway_url,
            config.request_timeout,
            config.max_response_bytes,
            bearer_token,
        )?;
        Ok(Self { http })
    }

    /// Hands a batch to the gateway.
    pub async fn submit(
        &self,
        data: &ProofGenerationData,
    ) -> Result<SubmitProofGenerationDataResponse, GatewayError> {
        Ok(self.http.post("/submit_request_for_proofs", data).await?)
    }

    /// The batch's final proof, or `None` while it is not ready.
    pub async fn poll(
        &self,
        batch: L1BatchId,
    ) -> Result<Option<PollGeneratedProofsResponse>, GatewayError> {
        let response: Option<PollGeneratedProofsResponse> = self
            .http
            .post(
                "/poll_generated_proofs",
                &PollGeneratedProofsRequest { l1_batch_id: batch },
            )
            .await?;
        if let Some(r) = &response {
            if r.l1_batch_id != batch {
                return Err(GatewayError::WrongBatch {
                    url: self.http.url("/poll_generated_proofs"),
                    asked: batch,
                    got: r.l1_batch_id,
                });
            }
        }
        Ok(response)
    }
}

fn count_gateway_error(op: &'static str) {
    ::metrics::counter!(metrics::GATEWAY_ERRORS, "op" => op).increment(1);
}

/// One round of push mode; returns the batches accepted in it.
pub async fn push_once(
    sequencer: &Sequencer,
    client: &GatewayClient,
    submitted: &mut HashSet<u32>,
) -> u32 {
    for number in sequencer.unproven().await {
        if submitted.contains(&number) {
            continue;
        }
        let data = match sequencer.proof_generation_data(number).await {
            Ok(Some(data)) => data,
            Ok(None) => continue,
            Err(e) => {
                warn!(batch = number, error = %e, "cannot read a produced batch");
                continue;
            }
        };
        match client.submit(&data).await {
            Ok(response) => {
                info!(
                    batch = number,
                    newly_inserted = response.newly_inserted,
                    "batch submitted to the gateway"
                );
                submitted.insert(number);
            }
            Err(e) => {
                // A 409/422 means the gateway will never take this batch as it is (other keys,
                // another input under the number): loud, but retried, since an operator may fix
                // the gateway's configuration without restarting the sequencer.
                warn!(batch = number, error = %e, "the gateway did not take the batch; retrying at the next round");
                count_gateway_error("submit");
                // Later batches are still submitted: the fleet can prove them meanwhile.
            }
        }
    }
    let mut accepted = 0;
    // Poll the next batch; after an acceptance the one after it may be ready too.
    while let Some(number) = sequencer.next_to_prove().await {
        if !submitted.contains(&number) {
            break;
        }
        let batch = L1BatchId::new(sequencer.params().chain_id, BatchNumber(number));
        let response = match client.poll(batch).await {
            Ok(Some(response)) => response,
            Ok(None) => {
                debug!(batch = number, "final proof not ready yet");
                break;
            }
            Err(e) => {
                warn!(batch = number, error = %e, "cannot poll the gateway; retrying at the next round");
                count_gateway_error("poll");
                break;
            }
        };
        match sequencer.submit_proof(number, &response.proof).await {
            Ok(_) => {
                accepted += 1;
                submitted.remove(&number);
            }
            // Refusals are logged and counted by `submit_proof`.
            Err(SubmitError::Refused(_)) | Err(SubmitError::Internal(_)) => break,
        }
    }
    accepted
}

/// Runs push mode every `config.poll_interval` until `cancel`.
pub async fn run_push(
    sequencer: Arc<Sequencer>,
    client: GatewayClient,
    config: PushConfig,
    cancel: CancellationToken,
) {
    info!(gateway = %client.http.base_url(), interval = ?config.poll_interval, "sequencer pushing to its gateway (push mode)");
    let mut submitted = HashSet::new();
    let mut tick = tokio::time::interval(config.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = push_once(&sequencer, &client, &mut submitted) => {}
        }
    }
}
