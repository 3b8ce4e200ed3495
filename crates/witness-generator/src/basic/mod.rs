//! Round 0, basic witness generation: one job per batch.
//!
//! - [`picker`]: pick the batch's job and load its witness input;
//! - [`executor`]: decode, rebuild the pre-state, execute the batch and cut it into basic
//!   circuit instances (CPU, on a blocking thread);
//! - [`saver`]: store every circuit (bounded concurrency, [`upload`]), the closed forms of each
//!   type, the scheduler's partial input (with the per-type summaries) and the aux output, then
//!   insert the batch's jobs in one transaction — or mark the job failed with the reason.
//!
//! The later rounds (`crate::aggregation`) are runners of the same shape: a picker over their
//! own table, an executor, a saver calling their `complete_*` transaction.

pub mod executor;
pub mod picker;
pub mod saver;
pub mod upload;

use std::fmt;
use std::time::Instant;

use zkfleet_circuits::basic::BatchPlan;
use zkfleet_circuits::pipeline::TypeSummary;
use zkfleet_dal::Dal;
use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_runner::{ConfigError, JobRunner};
use zkfleet_store::Store;
use zkfleet_types::{AggregationRound, BatchPublicOutput, L1BatchId};

pub use executor::{BasicExecutor, BasicWitnessError};
pub use picker::BasicPicker;
pub use saver::{BasicSaver, SaveError};
pub use upload::{upload_circuits, UploadError, Uploaded};

use crate::config::WitnessGeneratorConfig;

/// The round this module generates witnesses for.
pub const ROUND: AggregationRound = AggregationRound::Basic;

/// A basic job as it travels from picker to saver.
#[derive(Debug, Clone)]
pub struct BasicJobMeta {
    /// The batch whose witness input is executed.
    pub batch: L1BatchId,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When the job was picked: its `time_taken` runs from here to completion.
    pub picked_at: Instant,
}

impl fmt::Display for BasicJobMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "basic witness job of {} (attempt {})",
            self.batch, self.attempts
        )
    }
}

/// What executing a batch produces: its public output, the executed batch its circuits are
/// built from, and how it is cut into circuits (each type's closed forms included). The
/// circuits' witness bytes are built by the saver as it uploads them (`upload`), so they are
/// never all held at once.
#[derive(Debug)]
pub struct BasicArtifacts {
    /// The batch's public output (stored as the aux output the compressor checks against).
    pub public_output: BatchPublicOutput,
    /// The executed batch the instances' witnesses are built from.
    pub executed: ExecutedBatch,
    /// Which operations each basic instance takes, and each type's closed forms.
    pub plan: BatchPlan,
    /// Every basic type's run through the batch, in circuit id order (for the tip and the
    /// scheduler).
    pub types: Vec<TypeSummary>,
}

/// The job runner of the basic round.
pub type BasicRunner = JobRunner<BasicPicker, BasicExecutor, BasicSaver>;

/// Builds the basic round's runner from the process configuration.
pub fn runner(
    dal: Dal,
    store: Store,
    config: &WitnessGeneratorConfig,
) -> Result<BasicRunner, ConfigError> {
    JobRunner::new(
        BasicPicker::new(
            dal.clone(),
            store.clone(),
            config.protocol_version,
            config.picked_by.clone(),
        ),
        BasicExecutor::new(config.geometry),
        BasicSaver::new(dal, store, config.max_circuits_in_flight),
        config.runner_config(ROUND),
    )
}
