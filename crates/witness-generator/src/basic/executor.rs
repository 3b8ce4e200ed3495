//! Executes a batch and cuts it into basic circuit instances: the CPU-heavy part of round 0,
//! run on a blocking thread.

use bytes::Bytes;
use zkfleet_circuits::basic::plan_batch;
use zkfleet_circuits::pipeline::{type_summaries, PipelineError};
use zkfleet_circuits::{BasicGeometry, CircuitError};
use zkfleet_rollup::execute::{execute_batch, ExecutionError};
use zkfleet_runner::traits::{Executor, LoadedInput};
use zkfleet_store::StoreError;
use zkfleet_types::{FailureKind, L1BatchId};

use super::{BasicArtifacts, BasicJobMeta};
use crate::input::{BatchWitnessInput, PreparedBatch, WitnessInputError};

/// Why a batch yields no witness. Every variant but a store outage is final for this input:
/// the job is marked `failed_permanently` with the message at once (retrying the same bytes
/// gives the same answer, so no attempt is spent on it again).
#[derive(Debug, thiserror::Error)]
pub enum BasicWitnessError {
    /// The row's witness input key is not a witness-input key (the picker does not follow it).
    #[error("witness input blob key of {batch}: {reason}")]
    InputKey {
        /// The job's batch.
        batch: L1BatchId,
        /// What is wrong with the key.
        reason: String,
    },
    /// The witness input blob could not be read: missing, corrupt (the store's envelope
    /// checksum), of another kind, or the store failed after its retries. The store's message
    /// names the key.
    #[error("loading the witness input of {batch}: {source}")]
    LoadInput {
        /// The job's batch.
        batch: L1BatchId,
        // Boxed: store errors are large and this enum travels in every `Result` of the round.
        /// The store's error.
        #[source]
        source: Box<StoreError>,
    },
    /// The witness input does not decode, or its pre-state is not the batch's.
    #[error("witness input of {batch}: {source}")]
    Input {
        /// The job's batch.
        batch: L1BatchId,
        /// What is wrong with the input.
        #[source]
        source: WitnessInputError,
    },
    /// The input is another batch's than the job's.
    #[error("the witness input of the job of {job} holds {input}")]
    WrongBatch {
        /// The job's batch.
        job: L1BatchId,
        /// The batch the input holds.
        input: L1BatchId,
    },
    /// The batch has no operation to prove.
    #[error("{0} has no operations: there is nothing to prove")]
    EmptyBatch(L1BatchId),
    /// The batch breaks a rule of the rollup (the error names the operation and the rule).
    #[error("{batch} is invalid: {source}")]
    InvalidBatch {
        /// The job's batch.
        batch: L1BatchId,
        /// The rollup's error.
        #[source]
        source: ExecutionError,
    },
    /// The executed batch could not be cut into basic instances of the geometry.
    #[error("cutting {batch} into basic circuits: {source}")]
    Split {
        /// The job's batch.
        batch: L1BatchId,
        /// The circuits crate's error.
        #[source]
        source: CircuitError,
    },
    /// The per-type summaries (for the tip and the scheduler) could not be computed.
    #[error("summarising the circuit types of {batch}: {source}")]
    Summaries {
        /// The job's batch.
        batch: L1BatchId,
        /// The circuits crate's error.
        #[source]
        source: PipelineError,
    },
}

impl BasicWitnessError {
    /// Whether a retry can help: only when the store failed after its retries (its own
    /// classification); everything else is final for this input.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::LoadInput { source, .. } => source.failure_kind(),
            _ => FailureKind::Permanent,
        }
    }
}

/// Executes batches for one basic geometry.
pub struct BasicExecutor {
    geometry: BasicGeometry,
}

impl BasicExecutor {
    /// An executor cutting batches at `geometry` (the circuit provers' geometry).
    pub fn new(geometry: BasicGeometry) -> Self {
        Self { geometry }
    }
}

impl Executor for BasicExecutor {
    type Input = LoadedInput<Bytes, BasicWitnessError>;
    type Output = BasicArtifacts;
    type Metadata = BasicJobMeta;
    type Error = BasicWitnessError;

    fn execute(
        &self,
        input: LoadedInput<Bytes, BasicWitnessError>,
        metadata: &BasicJobMeta,
    ) -> Result<BasicArtifacts, BasicWitnessError> {
        // An input the picker could not load fails the job here, with its cause.
        let input = input?;
        let job = metadata.batch;
        let input_error = |source| BasicWitnessError::Input { batch: job, source };
        let decoded = BatchWitnessInput::decode(&input).map_err(input_error)?;
        drop(input);
        let PreparedBatch { batch, mut state } = decoded.prepare().map_err(input_error)?;
        drop(decoded);
        if batch.id() != job {
            return Err(BasicWitnessError::WrongBatch {
                job,
                input: batch.id(),
            });
        }
        if batch.operations.is_empty() {
            return Err(BasicWitnessError::EmptyBatch(job));
        }
        let executed = execute_batch(&mut state, &batch)
            .map_err(|source| BasicWitnessError::InvalidBatch { batch: job, source })?;
        drop(state);
        // Only the plan here: the circuits' witnesses are built one by one as they are
        // uploaded, so the batch's circuits are never all in memory.
        let plan = plan_batch(&executed, &self.geometry)
            .map_err(|source| BasicWitnessError::Split { batch: job, source })?;
        // The per-type summaries need the executed batch (an absent type's constant closed
        // form comes from it), so they are computed here rather than by the saver.
        let types = type_summaries(&executed, &plan.closed_forms)
            .map_err(|source| BasicWitnessError::Summaries { batch: job, source })?;
        Ok(BasicArtifacts {
            public_output: executed.public_output,
            executed,
            plan,
            types,
        })
    }
}
