//! What can stop a benchmark run.

use std::time::Duration;

use zkfleet_dal::DalError;
use zkfleet_store::{KeyParseError, StoreError};

/// Why a benchmark suite (or one of its runs) failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The options cannot describe a benchmark (no backend, zero runs, arity below 2...).
    #[error("invalid benchmark options: {0}")]
    InvalidOptions(String),

    /// The job database failed.
    #[error("job database: {0}")]
    Dal(#[from] DalError),

    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] StoreError),

    /// A blob key read from a job row is not a zkfleet object key.
    #[error("job row names a blob that is not an object key: {0}")]
    Key(#[from] KeyParseError),

    /// A blob read by a benchmark worker is not a benchmark placeholder of the key it was read
    /// from: the benchmark refuses to touch anything it did not write itself.
    #[error("{key} is not an orchestration-benchmark placeholder: {reason}")]
    NotAPlaceholder {
        /// The blob's object key.
        key: String,
        /// What does not match.
        reason: String,
    },

    /// A job's inputs contradict the tree the benchmark built (a missing or extra proof).
    #[error("inconsistent job: {0}")]
    Inconsistent(String),

    /// A completion found its job no longer in progress: some job was done twice.
    #[error("{job} was completed by someone else (status {status}): a job ran twice")]
    CompletedTwice {
        /// The job.
        job: String,
        /// The status the completion found.
        status: String,
    },

    /// A job runner could not be configured.
    #[error("job runner: {0}")]
    Runner(#[from] zkfleet_runner::ConfigError),

    /// Creating or dropping the run's own PostgreSQL database failed.
    #[error("PostgreSQL administration ({what}): {source}")]
    PostgresAdmin {
        /// What the statement was for (creating the run's database, reading settings...).
        what: &'static str,
        /// PostgreSQL's error.
        #[source]
        source: sqlx::Error,
    },

    /// A worker of the fleet failed; the run was stopped.
    #[error("worker {worker} failed: {reason}")]
    WorkerFailed {
        /// The worker's name.
        worker: String,
        /// Its error.
        reason: String,
    },

    /// The tree did not complete within the run's time limit.
    #[error(
        "the tree did not complete within {limit:?}; jobs by status at that moment: {progress}"
    )]
    TimedOut {
        /// The run's time limit.
        limit: Duration,
        /// Jobs per status when it passed.
        progress: String,
    },

    /// After the run, the database or the store does not hold the complete tree.
    #[error("the tree is not complete after the run: {0}")]
    Incomplete(String),

    /// Reading or writing the benchmark's files (temporary directories, docs).
    #[error("{what}: {source}")]
    Io {
        /// The file or directory, and what was done to it.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A report could not be written as JSON.
    #[error("serializing the report: {0}")]
    Json(#[from] serde_json::Error),

    /// The real batch a proving suite needs could not be generated or executed.
    #[error("generating the benchmark batch of {0}")]
    Batch(String),

    /// The circuits could not be loaded from (or built into) the keystore.
    #[error("circuits: {0}")]
    Circuits(#[from] zkfleet_circuits::CircuitError),

    /// Proving a job of the real batch failed (ours or plonky2's path).
    #[error("proving: {0}")]
    Proving(#[from] zkfleet_circuits::pipeline::PipelineError),

    /// `zkfleet prove`, run by the pipeline suite, failed or printed something unexpected.
    #[error("zkfleet prove: {reason}; its output:\n{output}")]
    ZkfleetProve {
        /// What went wrong.
        reason: String,
        /// Its standard output and error.
        output: String,
    },

    /// A `zkfleet` command the scaling suite runs (inserting the version or the batch) failed.
    #[error("zkfleet {command}: {reason}; its output:\n{output}")]
    ZkfleetCommand {
        /// The subcommand.
        command: String,
        /// What went wrong.
        reason: String,
        /// Its standard output and error.
        output: String,
    },

    /// A fleet run of the scaling or gpu-fleet suite went wrong: a component exited, a job
    /// failed, or the batch was not proven in time (the message ends with the tail of every
    /// component's log).
    #[error("fleet run ({fleet}): {reason}")]
    FleetRun {
        /// The fleet in words ([`crate::scaling::Layout::describe`], or the gpu-fleet suite's).
        fleet: String,
        /// What went wrong, with the components' log tails.
        reason: String,
    },

    /// Creating the runtime of the suites' asynchronous parts.
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl BenchError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
