//! Final proofs out: find a batch's final proof once its compression job is done, and record
//! that it was delivered (`successful` → `sent_to_server`).
//!
//! The compressor stores a [`FinalProof`] under [`ObjectKey::FinalProof`] (chain, batch,
//! protocol version of the compression job) when it completes the job; the gateway reads it
//! from there. A proof is checked against the batch it is handed out for, so a misplaced blob
//! is a server error rather than a wrong answer.

use axum::http::StatusCode;
use tracing::info;
use zkfleet_dal::{DalError, JobSummary, TransitionOutcome};
use zkfleet_store::{ObjectKey, StoreError};
use zkfleet_types::api::{BatchFailure, FinalProof};
use zkfleet_types::{JobStatus, L1BatchId};

use crate::state::GatewayState;

/// Why a final proof could not be looked up or handed out.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No batch of that id was ever submitted to the fleet (404).
    #[error("{0} was never submitted")]
    UnknownBatch(L1BatchId),
    /// The compression job says the proof is done, but its blob is not in the store.
    #[error("the compression job of {batch} is {status} but its final proof {key} is missing")]
    MissingFinalProof {
        /// The batch asked for.
        batch: L1BatchId,
        /// Its compression job's status.
        status: JobStatus,
        /// Where the final proof should be.
        key: String,
    },
    /// The blob under the batch's final-proof key belongs to another batch: never handed out.
    #[error("the final proof stored for {batch} ({key}) is for {found}")]
    MisplacedFinalProof {
        /// The batch asked for.
        batch: L1BatchId,
        /// The key read.
        key: String,
        /// Whose proof the blob says it is.
        found: String,
    },
    /// A job of the batch failed permanently or used up its attempts: the proof will not come
    /// without an operator (410 with the failure).
    #[error("{}", .0.error)]
    BatchFailed(Box<BatchFailure>),
    /// The job database failed.
    #[error("job database: {0}")]
    Dal(#[from] DalError),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] StoreError),
}

impl DeliveryError {
    /// The HTTP status the poll answers with: 404 for an unknown batch, 410 for a failed one,
    /// 500 for the fleet's own faults.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownBatch(_) => StatusCode::NOT_FOUND,
            Self::BatchFailed(_) => StatusCode::GONE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Where the compressor stores the final proof of a compression job.
pub(crate) fn final_proof_key(job: &JobSummary) -> ObjectKey {
    ObjectKey::FinalProof {
        chain: job.batch.chain_id,
        batch: job.batch.batch_number,
        protocol_version: job.protocol_version,
    }
}

impl GatewayState {
    /// The final proof of `batch` if its compression job is done (`None` while it is not).
    /// A batch one of whose jobs failed for good (`failed_permanently`, `attempts_exhausted`)
    /// is [`DeliveryError::BatchFailed`]: a client polling `null` forever would never learn.
    /// Does not mark anything.
    pub async fn final_proof(&self, batch: L1BatchId) -> Result<Option<FinalProof>, DeliveryError> {
        let status = self.dal.batch_status(batch).await?;
        if !status.exists() {
            return Err(DeliveryError::UnknownBatch(batch));
        }
        match &status.compression {
            Some(job) if job.status.is_done() => return self.read_final_proof(job).await.map(Some),
            _ => {}
        }
        if let Some(job) = status.jobs().find(|j| j.status.is_terminal_failure()) {
            let reason = job.error.as_deref().unwrap_or("no recorded error");
            return Err(DeliveryError::BatchFailed(Box::new(BatchFailure {
                error: format!(
                    "{batch} cannot be proven without an operator: its {} is {}: {reason}",
                    job.job, job.status
                ),
                l1_batch_id: batch,
                status: job.status,
                failed_job: job.job.to_string(),
                job_error: job.error.clone(),
            })));
        }
        Ok(None)
    }

    /// Reads and checks the final proof of a done compression job.
    pub(crate) async fn read_final_proof(
        &self,
        job: &JobSummary,
    ) -> Result<FinalProof, DeliveryError> {
        let key = final_proof_key(job);
        let proof: FinalProof = match self.store.get(&key).await {
            Ok(proof) => proof,
            Err(StoreError::NotFound { .. }) => {
                return Err(DeliveryError::MissingFinalProof {
                    batch: job.batch,
                    status: job.status,
                    key: key.path(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        let output = &proof.public_output;
        let proven = L1BatchId::new(output.chain_id, output.batch_number);
        if proven != job.batch || proof.protocol_version != job.protocol_version {
            return Err(DeliveryError::MisplacedFinalProof {
                batch: job.batch,
                key: key.path(),
                found: format!("{proven} under protocol version {}", proof.protocol_version),
            });
        }
        Ok(proof)
    }

    /// Records that the final proof of `batch` was handed out. Returns whether this was the
    /// first delivery (a repeated poll finds the job already `sent_to_server`).
    pub async fn mark_delivered(&self, batch: L1BatchId) -> Result<bool, DeliveryError> {
        match self.dal.mark_compression_job_sent(batch).await? {
            TransitionOutcome::Applied => {
                info!(%batch, "final proof delivered");
                Ok(true)
            }
            TransitionOutcome::Unchanged { .. } => Ok(false),
        }
    }
}
