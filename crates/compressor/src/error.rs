//! Errors of the compressor.

use zkfleet_circuits::pipeline::PipelineError;
use zkfleet_circuits::CircuitError;
use zkfleet_dal::DalError;
use zkfleet_store::StoreError;
use zkfleet_types::{BatchPublicOutput, FailureKind, ProtocolSemanticVersion, VkDigest};

/// Everything that can go wrong compressing a job or running the compressor.
///
/// Per-job errors become the job's `error` text in the database, prefixed by the job's
/// identity (see [`crate::job::CompressionJobMeta`]); the others end [`crate::run`] or are
/// logged by the runner.
#[derive(Debug, thiserror::Error)]
pub enum CompressorError {
    /// The configuration cannot work (the message names the field).
    #[error("invalid compressor configuration: {0}")]
    Config(String),

    /// The job's scheduler proof key is not a proof key of the job's chain.
    #[error("scheduler proof key {key:?} is not usable: {reason}")]
    BadProofKey {
        /// The key as the job row gives it.
        key: String,
        /// Why it is refused (not a key, not a proof key, another chain's).
        reason: String,
    },

    /// The scheduler proof blob could not be loaded (missing, corrupt, backend failure).
    #[error("loading the scheduler proof failed: {0}")]
    LoadSchedulerProof(#[source] StoreError),

    /// The batch's aux output (the natively computed batch output) could not be loaded.
    #[error("loading the batch's aux output failed: {0}")]
    LoadAuxOutput(#[source] StoreError),

    /// The scheduler proof was refused, or the compression chain failed, or the final proof
    /// did not verify.
    #[error("compressing the scheduler proof: {0}")]
    Compress(#[source] PipelineError),

    /// The final proof verifies but attests another batch output than native execution
    /// computed: it must never be delivered.
    #[error(
        "the final proof attests {proved:?}, but the batch's aux output (native execution, with \
         this configuration's recursion-tree key digest) is {expected:?}"
    )]
    OutputMismatch {
        /// What native execution computed (the aux output, with this configuration's
        /// recursion-tree key digest).
        expected: Box<BatchPublicOutput>,
        /// What the final proof attests.
        proved: Box<BatchPublicOutput>,
    },

    /// Storing the final proof failed.
    #[error("storing the final proof failed: {0}")]
    StoreFinalProof(#[source] StoreError),

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

    /// The loaded circuits' final key is not the protocol version's: the final proofs this
    /// process would make could not be verified with the version's key.
    #[error(
        "protocol version {version} records final verifying-key digest {recorded}, but the \
         circuits loaded from the keystore have final verifying-key digest {loaded}: refusing \
         to compress with keys of another configuration (check geometry, arity, compression \
         and keys_dir)"
    )]
    FinalKeyMismatch {
        /// The protocol version this process serves.
        version: ProtocolSemanticVersion,
        /// The final verifying-key digest its row records.
        recorded: VkDigest,
        /// The digest of the final key the loaded circuits make.
        loaded: VkDigest,
    },

    /// The GPU backend failed: at start (a card present but unusable, a wrong `gpu_device`), or
    /// during a job (out of memory, a failed launch, a lost device: the job is retried).
    #[error("the {backend} backend of the compressor failed: {message}")]
    Gpu {
        /// The backend's name ("gpu").
        backend: &'static str,
        /// What failed.
        message: String,
    },

    /// The job database failed.
    #[error("job database: {0}")]
    Database(#[from] DalError),

    /// The runner could not be started.
    #[error("runner: {0}")]
    Runner(#[from] zkfleet_runner::ConfigError),

    /// A task ended abnormally.
    #[error("{task} ended abnormally: {reason}")]
    TaskDied {
        /// Which task (the runner).
        task: &'static str,
        /// Its join error.
        reason: String,
    },
}

impl CompressorError {
    /// Whether retrying the job can help (see [`FailureKind`]): a scheduler proof that is
    /// missing, corrupt or refused, or a final proof that attests another output, fails the
    /// same way every time; a store or database outage, or this process's configuration, may
    /// not.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::BadProofKey { .. } | Self::OutputMismatch { .. } => FailureKind::Permanent,
            Self::LoadSchedulerProof(e) | Self::LoadAuxOutput(e) | Self::StoreFinalProof(e) => {
                e.failure_kind()
            }
            // The one classification of pipeline errors (the circuit prover's and the witness
            // generator's too).
            Self::Compress(e) => e.failure_kind(),
            Self::Config(_)
            | Self::Keystore(_)
            | Self::LoadCircuits { .. }
            | Self::UnknownProtocolVersion(_)
            | Self::FinalKeyMismatch { .. }
            | Self::Gpu { .. }
            | Self::Database(_)
            | Self::Runner(_)
            | Self::TaskDied { .. } => FailureKind::Transient,
        }
    }
}
