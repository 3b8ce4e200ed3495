//! Errors of the circuit prover.

use zkfleet_circuits::pipeline::PipelineError;
use zkfleet_circuits::CircuitError;
use zkfleet_dal::DalError;
use zkfleet_store::{KeyParseError, StoreError};
use zkfleet_types::{AggregationRound, CircuitId, FailureKind, ProtocolSemanticVersion, VkDigest};

/// Everything that can go wrong proving a job or running the prover.
///
/// Per-job errors (the circuit blob, the witness, the proof) become the job's `error` text in
/// the database, prefixed by the job's identity (see [`crate::job::ProverJobMeta`]); the others
/// end [`crate::run`] or are logged by the runner.
#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    /// The configuration cannot work (the message names the field).
    #[error("invalid circuit prover configuration: {0}")]
    Config(String),

    /// The job's circuit blob key is not a circuit witness key.
    #[error("circuit blob key {key:?} is not a circuit witness key: {reason}")]
    BadBlobKey {
        /// The key as the job row gives it.
        key: String,
        /// Why it is not a circuit witness key.
        reason: String,
    },

    /// The job's circuit blob key names another circuit than the job row.
    #[error("circuit blob key {key:?} does not match the job row: {reason}")]
    BlobKeyMismatch {
        /// The key as the job row gives it.
        key: String,
        /// Which part (batch, round, circuit, depth, sequence) differs from the row.
        reason: String,
    },

    /// The circuit blob could not be loaded (missing, corrupt, backend failure).
    #[error("loading the circuit blob failed: {0}")]
    LoadCircuit(#[source] StoreError),

    /// This process has no circuit data for the job's (round, circuit).
    #[error(
        "no prover registered for round {round}, circuit {circuit} ({name}): this process \
         proves only the circuits it loaded at start",
        name = circuit.name()
    )]
    NotRegistered {
        /// The job's round.
        round: AggregationRound,
        /// The job's circuit.
        circuit: CircuitId,
    },

    /// The circuits refused the witness (malformed, wrong job, a child proof that does not
    /// verify, broken continuity), or proving/verification failed.
    #[error("{stage}: {source}")]
    Pipeline {
        /// What was being done ("proving and verifying", …).
        stage: &'static str,
        /// The circuits crate's error.
        #[source]
        source: PipelineError,
    },

    /// The keystore directory cannot be opened.
    #[error("opening the keystore failed: {0}")]
    Keystore(#[source] CircuitError),

    /// Loading (or building) the circuits of the configuration at start failed.
    #[error("loading the circuits of {configuration} failed: {source}")]
    LoadCircuits {
        /// The proving configuration (geometry, arity, compression) whose circuits failed.
        configuration: String,
        /// The keystore's error.
        #[source]
        source: CircuitError,
    },

    /// The configured protocol version is not in the job database.
    #[error(
        "protocol version {0} is not registered in the job database (insert it first, e.g. \
         `zkfleet insert-version`)"
    )]
    UnknownProtocolVersion(ProtocolSemanticVersion),

    /// The loaded circuits are not those of the protocol version: their proofs would not
    /// verify under the version's final key.
    #[error(
        "protocol version {version} records final verifying-key digest {recorded}, but the \
         circuits loaded from the keystore have final verifying-key digest {loaded}: refusing \
         to prove with keys of another configuration (check geometry, arity, compression and \
         keys_dir)"
    )]
    FinalKeyMismatch {
        /// The protocol version this process serves.
        version: ProtocolSemanticVersion,
        /// The final verifying-key digest its row records.
        recorded: VkDigest,
        /// The digest of the final key the loaded circuits make.
        loaded: VkDigest,
    },

    /// Storing the proof failed.
    #[error("storing the proof failed: {0}")]
    StoreProof(#[source] StoreError),

    /// The job database failed.
    #[error("job database: {0}")]
    Database(#[from] DalError),

    /// The prover stage is gone (it stopped before the witness-vector generators).
    #[error("the prover stage stopped; the witness vector cannot be handed over")]
    ProverGone,

    /// A runner could not be started.
    #[error("runner: {0}")]
    Runner(#[from] zkfleet_runner::ConfigError),

    /// The GPU backend failed (out of memory, a failed launch, a lost device): transient, the
    /// job is retried (`crate::backend`).
    #[error("GPU prover failed while {stage}: {message}")]
    Gpu {
        /// What the GPU prover was doing.
        stage: &'static str,
        /// The driver's or the kernel's message.
        message: String,
    },

    /// A runner task ended abnormally.
    #[error("runner {runner} ended abnormally: {reason}")]
    RunnerDied {
        /// Which runner (or which task of one).
        runner: String,
        /// Its join error.
        reason: String,
    },
}

impl ProverError {
    /// Whether retrying the job can help (see [`FailureKind`]). Only per-job errors reach a
    /// job's row; the others (configuration, database, runner) are transient for a job.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::BadBlobKey { .. } | Self::BlobKeyMismatch { .. } => FailureKind::Permanent,
            // The fleet's one classification of store and pipeline errors.
            Self::LoadCircuit(e) | Self::StoreProof(e) => e.failure_kind(),
            Self::Pipeline { source, .. } => source.failure_kind(),
            Self::Config(_)
            | Self::NotRegistered { .. }
            | Self::Keystore(_)
            | Self::LoadCircuits { .. }
            | Self::UnknownProtocolVersion(_)
            | Self::FinalKeyMismatch { .. }
            | Self::Database(_)
            | Self::ProverGone
            | Self::Runner(_)
            | Self::Gpu { .. }
            | Self::RunnerDied { .. } => FailureKind::Transient,
        }
    }

    pub(crate) fn bad_key(key: &str, error: KeyParseError) -> Self {
        Self::BadBlobKey {
            key: key.to_owned(),
            reason: error.reason,
        }
    }
}
