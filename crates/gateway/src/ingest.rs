//! Batches in: validate a [`ProofGenerationData`], store its input, register its protocol
//! version and insert the batch. Push mode's `POST /submit_request_for_proofs` and pull mode's
//! fetcher both come through here, so both refuse the same things.
//!
//! Order of effects: blob, then protocol version, then the batch row. The row is what makes
//! the batch visible to witness generators, so it goes last: a crash in between leaves an
//! orphan blob (overwritten by the retry, whose key is the same) and never a row without
//! its input.
//!
//! Idempotency: a batch already present is compared with the submission (same protocol
//! version and byte-identical input) and answered `newly_inserted: false` without writing
//! anything; a different submission for the same batch is a conflict.

use axum::http::StatusCode;
use tracing::{info, warn};
use zkfleet_dal::{DalError, InsertOutcome, NewBatch};
use zkfleet_store::{ObjectKey, StoreError, WitnessInputBytes};
use zkfleet_types::api::{
    L1VerifierConfig, ProofGenerationData, SubmitProofGenerationDataResponse,
};
use zkfleet_types::{ChainId, L1BatchId, ProtocolSemanticVersion, ProtocolVersion};

use crate::state::GatewayState;

/// Why a batch was refused or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("l1_batch_id.chain_id {0} is out of range (the largest chain id is {max})", max = i64::MAX)]
    ChainIdOutOfRange(ChainId),
    #[error("witness_input is empty")]
    EmptyWitnessInput,
    #[error("witness_input is {size} bytes, more than the limit of {limit} bytes")]
    WitnessInputTooLarge { size: usize, limit: usize },
    #[error("protocol_version {given} is not one this fleet can prove (it proves: {supported})")]
    UnsupportedProtocolVersion {
        given: ProtocolSemanticVersion,
        supported: String,
    },
    #[error(
        "l1_verifier_config does not match this fleet's keys for protocol version {}: \
         submitted final_vk_digest {}, recursion_tree_vk_digest {}; the fleet's are \
         final_vk_digest {}, recursion_tree_vk_digest {}",
        fleet.version, given.final_vk_digest, given.recursion_tree_vk_digest,
        fleet.final_vk_digest, fleet.recursion_tree_vk_digest
    )]
    VerifierConfigMismatch {
        given: Box<L1VerifierConfig>,
        fleet: Box<ProtocolVersion>,
    },
    #[error("{batch} was already submitted with a different witness_input")]
    ConflictingInput { batch: L1BatchId },
    #[error("{batch} was already submitted under protocol version {stored}, not {given}")]
    ConflictingVersion {
        batch: L1BatchId,
        stored: ProtocolSemanticVersion,
        given: ProtocolSemanticVersion,
    },
    #[error("{batch} is not for chain {expected}, the only chain this gateway pulls for")]
    WrongChain { batch: L1BatchId, expected: ChainId },
    /// The database already knows the version with other digests than this gateway's
    /// configuration: an operator error, not the client's.
    #[error("this gateway's keys disagree with the job database: {0}")]
    FleetVersionConflict(#[source] DalError),
    #[error("job database: {0}")]
    Dal(#[from] DalError),
    #[error("object store: {0}")]
    Store(#[from] StoreError),
}

impl IngestError {
    /// The HTTP status a push-mode client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::ChainIdOutOfRange(_)
            | Self::EmptyWitnessInput
            | Self::UnsupportedProtocolVersion { .. }
            | Self::VerifierConfigMismatch { .. }
            | Self::WrongChain { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::WitnessInputTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ConflictingInput { .. } | Self::ConflictingVersion { .. } => StatusCode::CONFLICT,
            Self::FleetVersionConflict(_) | Self::Dal(_) | Self::Store(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl GatewayState {
    /// Checks a submission against the fleet without touching the database or the store.
    fn validate(&self, data: &ProofGenerationData) -> Result<ProtocolVersion, IngestError> {
        let batch = data.l1_batch_id;
        if i64::try_from(batch.chain_id.0).is_err() {
            return Err(IngestError::ChainIdOutOfRange(batch.chain_id));
        }
        let size = data.witness_input.0.len();
        if size == 0 {
            return Err(IngestError::EmptyWitnessInput);
        }
        if size > self.max_witness_input_bytes {
            return Err(IngestError::WitnessInputTooLarge {
                size,
                limit: self.max_witness_input_bytes,
            });
        }
        let fleet = *self.fleet_version(data.protocol_version).ok_or_else(|| {
            IngestError::UnsupportedProtocolVersion {
                given: data.protocol_version,
                supported: self
                    .protocol_versions
                    .iter()
                    .map(|v| v.version.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?;
        let given = data.l1_verifier_config;
        if given.final_vk_digest != fleet.final_vk_digest
            || given.recursion_tree_vk_digest != fleet.recursion_tree_vk_digest
        {
            return Err(IngestError::VerifierConfigMismatch {
                given: Box::new(given),
                fleet: Box::new(fleet),
            });
        }
        Ok(fleet)
    }

    /// Validates, stores and inserts one batch (see the module documentation).
    pub async fn ingest(
        &self,
        data: &ProofGenerationData,
    ) -> Result<SubmitProofGenerationDataResponse, IngestError> {
        let fleet = self.validate(data)?;
        let batch = data.l1_batch_id;
        let key = ObjectKey::WitnessInput {
            chain: batch.chain_id,
            batch: batch.batch_number,
        };
        let _guard = self.submit_lock.lock().await;

        if let Some(row) = self.dal.batch_status(batch).await?.witness_input {
            self.check_same_submission(data, &row, key).await?;
            return Ok(SubmitProofGenerationDataResponse {
                newly_inserted: false,
            });
        }

        self.store
            .put(&key, &WitnessInputBytes::new(data.witness_input.0.clone()))
            .await?;
        match self.dal.insert_protocol_version(&fleet).await {
            Ok(_) => {}
            Err(e @ DalError::ProtocolVersionConflict { .. }) => {
                return Err(IngestError::FleetVersionConflict(e))
            }
            Err(e) => return Err(e.into()),
        }
        let outcome = self
            .dal
            .insert_batch(&NewBatch {
                batch,
                protocol_version: data.protocol_version,
                witness_input_blob_key: key.path(),
                priority: 0,
                batch_sealed_at: data.batch_sealed_at,
            })
            .await?;
        match outcome {
            InsertOutcome::Inserted => {
                info!(
                    %batch,
                    protocol_version = %data.protocol_version,
                    witness_input_bytes = data.witness_input.0.len(),
                    "batch queued for proving"
                );
                Ok(SubmitProofGenerationDataResponse {
                    newly_inserted: true,
                })
            }
            // Another gateway process inserted it between our check and our insert (this
            // process's lock does not span processes): the blob now holds whichever input was
            // written last, so compare again.
            InsertOutcome::AlreadyPresent => {
                let row = self.dal.batch_status(batch).await?.witness_input;
                if let Some(row) = row {
                    self.check_same_submission(data, &row, key).await?;
                }
                Ok(SubmitProofGenerationDataResponse {
                    newly_inserted: false,
                })
            }
        }
    }

    /// A batch row exists: the submission must be the same one.
    async fn check_same_submission(
        &self,
        data: &ProofGenerationData,
        row: &zkfleet_dal::JobSummary,
        default_key: ObjectKey,
    ) -> Result<(), IngestError> {
        let batch = data.l1_batch_id;
        if row.protocol_version != data.protocol_version {
            return Err(IngestError::ConflictingVersion {
                batch,
                stored: row.protocol_version,
                given: data.protocol_version,
            });
        }
        // The row names its input; a batch inserted by `zkfleet insert-batch` may use a key
        // of its own, otherwise it is the gateway's deterministic key.
        let key = row
            .input_blob_key
            .as_deref()
            .and_then(|path| ObjectKey::parse(path).ok())
            .filter(|k| matches!(k, ObjectKey::WitnessInput { .. }))
            .unwrap_or(default_key);
        match self.store.get::<WitnessInputBytes>(&key).await {
            Ok(stored) if stored.0.as_ref() == data.witness_input.0.as_slice() => Ok(()),
            Ok(_) => Err(IngestError::ConflictingInput { batch }),
            Err(StoreError::NotFound { .. }) => {
                // The row outlived its blob (lost bucket, manual cleanup): the batch cannot be
                // proven without it, and this submission is the only copy we will get.
                warn!(%batch, key = %key, "witness input blob missing for a known batch; storing the resubmitted input");
                self.store
                    .put(&key, &WitnessInputBytes::new(data.witness_input.0.clone()))
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
