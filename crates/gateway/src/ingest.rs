//! Batches in: validate a [`ProofGenerationData`] against this fleet (chain id, size, protocol
//! version and its keys), register its protocol version, then hand it to
//! [`zkfleet_intake::submit`] — the function `zkfleet insert-batch` uses too — which decodes the
//! input, checks its label and executes it natively, arbitrates in the job database, stores
//! the input under a content-addressed key and inserts the batch. Push mode's
//! `POST /submit_request_for_proofs` and pull mode's fetcher both come through here, so both
//! refuse the same things.
//!
//! Idempotency and races: the batch's row carries the digest of its input. A submission of a
//! known batch is compared with it and answered `newly_inserted: false` without writing
//! anything; a different one is a conflict. Concurrent submissions of one batch, in any number
//! of gateway processes, are arbitrated by the row's insert: exactly one wins, and no
//! submission can overwrite another's input blob (keys are content-addressed).

use axum::http::StatusCode;
use zkfleet_dal::DalError;
use zkfleet_intake::{IntakeError, IntakeErrorKind, Submission};
use zkfleet_store::StoreError;
use zkfleet_types::api::{
    L1VerifierConfig, ProofGenerationData, SubmitProofGenerationDataResponse,
};
use zkfleet_types::{ChainId, L1BatchId, ProtocolSemanticVersion, ProtocolVersion};

use crate::state::GatewayState;

/// Why a batch was refused or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The chain id does not fit the job database's signed 64-bit column.
    #[error("l1_batch_id.chain_id {0} is out of range (the largest chain id is {max})", max = i64::MAX)]
    ChainIdOutOfRange(ChainId),
    /// The request carries no witness input.
    #[error("witness_input is empty")]
    EmptyWitnessInput,
    /// The witness input is over `max_witness_input_bytes` (413).
    #[error("witness_input is {size} bytes, more than the limit of {limit} bytes")]
    WitnessInputTooLarge {
        /// The input's size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The batch asks for a protocol version this gateway's fleet has no keys for.
    #[error("protocol_version {given} is not one this fleet can prove (it proves: {supported})")]
    UnsupportedProtocolVersion {
        /// The version asked for.
        given: ProtocolSemanticVersion,
        /// The versions the fleet proves, listed.
        supported: String,
    },
    /// The verifier configuration the client expects is not the fleet's keys: the proof it
    /// would get back would not verify on its side.
    #[error(
        "l1_verifier_config does not match this fleet's keys for protocol version {}: \
         submitted final_vk_digest {}, recursion_tree_vk_digest {}; the fleet's are \
         final_vk_digest {}, recursion_tree_vk_digest {}",
        fleet.version, given.final_vk_digest, given.recursion_tree_vk_digest,
        fleet.final_vk_digest, fleet.recursion_tree_vk_digest
    )]
    VerifierConfigMismatch {
        /// What the client submitted.
        given: Box<L1VerifierConfig>,
        /// The fleet's version row.
        fleet: Box<ProtocolVersion>,
    },
    /// Pull mode got a batch of another chain than the one it pulls for.
    #[error("{batch} is not for chain {expected}, the only chain this gateway pulls for")]
    WrongChain {
        /// The batch the upstream handed out.
        batch: L1BatchId,
        /// The chain this gateway pulls for.
        expected: ChainId,
    },
    /// The database already knows the version with other digests than this gateway's
    /// configuration: an operator error, not the client's.
    #[error("this gateway's keys disagree with the job database: {0}")]
    FleetVersionConflict(#[source] DalError),
    /// Intake refused the batch (undecodable or invalid input, wrong label, conflict) or could
    /// not store it.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// The job database failed.
    #[error("job database: {0}")]
    Dal(#[from] DalError),
    /// The object store failed.
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
            Self::Intake(e) => match e.kind() {
                IntakeErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
                IntakeErrorKind::Conflict => StatusCode::CONFLICT,
                IntakeErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
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
        let submission = Submission {
            batch: data.l1_batch_id,
            protocol_version: data.protocol_version,
            witness_input: &data.witness_input.0,
            priority: 0,
            batch_sealed_at: data.batch_sealed_at,
        };
        // The input first: a refused submission writes nothing, not even its version. Intake
        // registers the version (the row's foreign key; a no-op when present) only for a batch
        // it is about to insert.
        let input = zkfleet_intake::check(&submission).await?;
        let accepted =
            zkfleet_intake::submit_checked(&self.dal, &self.store, submission, input, Some(&fleet))
                .await
                .map_err(|e| match e {
                    IntakeError::FleetVersionConflict(e) => IngestError::FleetVersionConflict(e),
                    e => IngestError::Intake(e),
                })?;
        Ok(SubmitProofGenerationDataResponse {
            newly_inserted: accepted.newly_inserted(),
        })
    }
}
