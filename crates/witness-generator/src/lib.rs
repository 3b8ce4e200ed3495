//! Witness generation for the aggregation rounds: the `zkfleet witness-generator` component.
//!
//! A witness generator turns a job of one round into the circuits the next provers prove. Each
//! round is one [`zkfleet_runner::JobRunner`] — a picker over the round's job table, an
//! executor for the CPU work, a saver that writes blobs then completes the job in one database
//! transaction — as ZKsync's witness generator runs one `JobRunner` per round. [`run`] starts
//! the runners of the configured rounds and stops them on cancellation.
//!
//! The rounds:
//!
//! - [`basic`] (round 0): pick a batch, load its [`input::BatchWitnessInput`] (the batch and its
//!   pre-state: the fleet is stateless), execute it, cut it into basic circuit instances,
//!   stream the circuits to the store with bounded concurrency, store each type's closed forms,
//!   the scheduler's partial input (every type's `TypeSummary`) and the aux output
//!   (the formats of `zkfleet_blobs`, shared with their readers), then insert the round-0 prover jobs, leaf, node,
//!   recursion-tip and scheduler jobs and mark the batch's witness job successful, in one
//!   transaction.
//! - [`leaf`] (round 1), [`node`] (round 2, one job per depth), [`recursion_tip`] (round 3),
//!   [`scheduler`] (round 4): runners of one shape ([`aggregation`]) that load the previous
//!   round's proofs and round 0's blobs — every key checked against the job's identity — build
//!   the round's job witnesses with `zkfleet_circuits::pipeline`, store them and insert the
//!   round's prover jobs in the completing transaction.
//!
//! Metric names: [`metrics`]. Operator documentation: `docs/witness-generator.md`.

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod aggregation;
pub mod basic;
pub mod config;
pub mod failure;
pub mod input;
pub mod leaf;
pub mod metrics;
pub mod node;
pub mod recursion_tip;
pub mod scheduler;

use std::fmt;

use tokio::task::JoinHandle;
use tracing::info;
use zkfleet_dal::Dal;
use zkfleet_runner::traits::{Executor, JobPicker, JobSaver};
use zkfleet_runner::{CancellationToken, JobRunner, RunReport};
use zkfleet_store::Store;
use zkfleet_types::AggregationRound;

use aggregation::WitnessRound;
pub use leaf::LeafRound;
pub use node::NodeRound;
pub use recursion_tip::RecursionTipRound;
pub use scheduler::SchedulerRound;

pub use config::{ConfigError, WitnessGeneratorConfig};
pub use input::{BatchWitnessInput, WitnessInputError};

/// What one round's runner did, once stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// The round whose runner this is.
    pub round: AggregationRound,
    /// Jobs picked (a job whose input could not be loaded included).
    pub picked: u64,
    /// Jobs whose witnesses were stored and whose completing transaction ran.
    pub succeeded: u64,
    /// Jobs recorded as failed.
    pub failed: u64,
    /// Jobs whose executor panicked (recorded as failed).
    pub panicked: u64,
    /// Jobs whose outcome could not be recorded (left in progress for the requeuer).
    pub save_errors: u64,
    /// Picks that failed (the job database unreachable).
    pub pick_errors: u64,
    /// Jobs left `in_progress` at shutdown (for the requeuer), described.
    pub left_in_progress: Vec<String>,
}

impl RoundReport {
    fn of<M: std::fmt::Display>(round: AggregationRound, report: RunReport<M>) -> Self {
        Self {
            round,
            picked: report.picked,
            succeeded: report.succeeded,
            failed: report.failed,
            panicked: report.panicked,
            save_errors: report.save_errors,
            pick_errors: report.pick_errors,
            left_in_progress: report
                .left_in_progress
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

/// Why the witness generator could not run.
#[derive(Debug, thiserror::Error)]
pub enum WitnessGeneratorError {
    /// The configuration cannot run.
    #[error("invalid witness generator configuration: {0}")]
    Config(#[from] ConfigError),
    /// A round's runner task ended abnormally.
    #[error("the {round} round's runner ended abnormally: {reason}")]
    RunnerDied {
        /// The round's name.
        round: &'static str,
        /// Its join error.
        reason: String,
    },
}

/// Runs the configured rounds' job runners until `cancel` is cancelled, then waits for them
/// to shut down (every picked job is executed and saved) and returns their reports.
pub async fn run(
    dal: Dal,
    store: Store,
    config: WitnessGeneratorConfig,
    cancel: CancellationToken,
) -> Result<Vec<RoundReport>, WitnessGeneratorError> {
    config.validate()?;
    let mut runners = Vec::new();
    for &round in &config.rounds {
        let handle = match round {
            AggregationRound::Basic => start(
                round,
                basic::runner(dal.clone(), store.clone(), &config),
                &dal,
                &cancel,
            )?,
            AggregationRound::Leaf => {
                start_aggregation(LeafRound::new(config.arity), &dal, &store, &config, &cancel)?
            }
            AggregationRound::Node => {
                start_aggregation(NodeRound::new(config.arity), &dal, &store, &config, &cancel)?
            }
            AggregationRound::RecursionTip => start_aggregation(
                RecursionTipRound::new(config.arity),
                &dal,
                &store,
                &config,
                &cancel,
            )?,
            AggregationRound::Scheduler => {
                start_aggregation(SchedulerRound, &dal, &store, &config, &cancel)?
            }
        };
        info!(round = round.name(), version = %config.protocol_version, "witness generator round started");
        runners.push((round, handle));
    }
    let mut reports = Vec::with_capacity(runners.len());
    for (round, handle) in runners {
        let report = handle
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|reason| WitnessGeneratorError::RunnerDied {
                round: round.name(),
                reason,
            })?;
        reports.push(report);
    }
    Ok(reports)
}

/// A started round: its runner's task, yielding the round's report.
type RoundHandle = JoinHandle<Result<RoundReport, tokio::task::JoinError>>;

/// Starts a round's runner (or reports why it could not be built).
fn start<P, E, S>(
    round: AggregationRound,
    runner: Result<JobRunner<P, E, S>, zkfleet_runner::ConfigError>,
    dal: &Dal,
    cancel: &CancellationToken,
) -> Result<RoundHandle, WitnessGeneratorError>
where
    E: Executor,
    E::Metadata: fmt::Display,
    P: JobPicker<Input = E::Input, Metadata = E::Metadata>,
    S: JobSaver<Output = E::Output, Metadata = E::Metadata, ExecutorError = E::Error>,
{
    // Idle, the round waits for its table's wake-ups (docs/database.md, "Wake-ups").
    let wake = dal.job_wakeups(zkfleet_dal::JobTable::witness_table(round));
    let handle = runner
        .map_err(ConfigError::from)?
        .with_wake(wake.receiver.clone(), wake.idle_ceiling())
        .run(cancel.clone());
    Ok(tokio::spawn(async move {
        handle.await.map(|r| RoundReport::of(round, r))
    }))
}

fn start_aggregation<R: WitnessRound>(
    round: R,
    dal: &Dal,
    store: &Store,
    config: &WitnessGeneratorConfig,
    cancel: &CancellationToken,
) -> Result<RoundHandle, WitnessGeneratorError> {
    start(
        R::ROUND,
        aggregation::runner(round, dal.clone(), store.clone(), config),
        dal,
        cancel,
    )
}
