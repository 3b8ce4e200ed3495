//! Rounds 1 to 4 — leaf, node, recursion tip, scheduler — as job runners of one shape.
//!
//! Every aggregation round does the same three things with different tables and blobs:
//!
//! - [`picker`]: pick the round's next job (one atomic statement that also reads the proofs
//!   the job aggregates), check every blob key of the row against the key the row's identity
//!   gives, and load the blobs (proofs with bounded concurrency, in sequence order). A job
//!   whose blobs cannot be had goes on with the cause (the runner's `LoadedInput`), and the
//!   saver marks it failed;
//! - [`executor`]: build the round's job witnesses with `zkfleet_circuits::pipeline::build`
//!   and encode them (CPU, on a blocking thread);
//! - [`saver`]: store each witness under its deterministic `CircuitWitness` key (bounded
//!   concurrency), then call the round's completing transaction, which inserts the prover jobs
//!   and marks the job successful — or mark the job failed with the reason.
//!
//! What differs per round is a [`WitnessRound`]: [`crate::leaf`], [`crate::node`],
//! [`crate::recursion_tip`], [`crate::scheduler`].

pub mod error;
pub mod executor;
pub mod job;
pub mod keys;
pub mod load;
pub mod picker;
pub mod saver;
pub mod tree;

use std::future::Future;
use std::time::Duration;

use zkfleet_circuits::pipeline::AggregationWitness;
use zkfleet_dal::{CompleteOutcome, Dal, DalResult, NewAggregationProverJob};
use zkfleet_runner::{ConfigError, JobRunner};
use zkfleet_store::Store;
use zkfleet_types::{AggregationRound, ProtocolSemanticVersion};

pub use error::AggregationError;
pub use executor::AggregationExecutor;
pub use job::AggregationJobMeta;
pub use picker::AggregationPicker;
pub use saver::{AggregationSaver, SaveError};

use crate::config::WitnessGeneratorConfig;

/// One aggregation round: its table, the blobs its jobs read, how it builds its witnesses and
/// how its completion is recorded. Implementations are small values (the arity) cloned into
/// the picker, the executor and the saver.
pub trait WitnessRound: Clone + Send + Sync + 'static {
    /// The round whose witnesses this generates (and whose prover jobs it inserts).
    const ROUND: AggregationRound;

    /// A picked row, as the job database hands it out.
    type Job: Send + 'static;
    /// The job's blobs, loaded and checked: what the executor builds the witnesses from.
    type Loaded: Send + 'static;

    /// Picks the next queued job of `version` and marks it in progress.
    fn pick(
        &self,
        dal: &Dal,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> impl Future<Output = DalResult<Option<Self::Job>>> + Send;

    /// Who the job is, for keys, logs, metrics and the saver.
    fn meta(&self, job: &Self::Job) -> AggregationJobMeta;

    /// Checks the row's blob keys and loads its blobs, at most `max_in_flight` at a time.
    fn load(
        &self,
        store: &Store,
        job: Self::Job,
        meta: &AggregationJobMeta,
        max_in_flight: usize,
    ) -> impl Future<Output = Result<Self::Loaded, AggregationError>> + Send;

    /// The job's witnesses, in the sequence order of the prover jobs they become.
    fn build(
        &self,
        loaded: Self::Loaded,
        meta: &AggregationJobMeta,
    ) -> Result<Vec<AggregationWitness>, AggregationError>;

    /// The completing transaction: inserts `prover_jobs` and marks the job successful.
    fn complete(
        &self,
        dal: &Dal,
        meta: &AggregationJobMeta,
        prover_jobs: Vec<NewAggregationProverJob>,
        time_taken: Duration,
    ) -> impl Future<Output = DalResult<CompleteOutcome>> + Send;
}

/// The job runner of an aggregation round.
pub type AggregationRunner<R> =
    JobRunner<AggregationPicker<R>, AggregationExecutor<R>, AggregationSaver<R>>;

/// Builds `round`'s runner from the process configuration.
pub fn runner<R: WitnessRound>(
    round: R,
    dal: Dal,
    store: Store,
    config: &WitnessGeneratorConfig,
) -> Result<AggregationRunner<R>, ConfigError> {
    JobRunner::new(
        AggregationPicker::new(
            round.clone(),
            dal.clone(),
            store.clone(),
            config.protocol_version,
            config.picked_by.clone(),
            config.max_circuits_in_flight,
        ),
        AggregationExecutor::new(round.clone()),
        AggregationSaver::new(round, dal, store, config.max_circuits_in_flight),
        config.runner_config(R::ROUND),
    )
}
