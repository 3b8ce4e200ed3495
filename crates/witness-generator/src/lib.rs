//! Witness generation for the aggregation rounds: the `zkfleet witness-generator` component.
//!
//! A witness generator turns a job of one round into the circuits the next provers prove. Each
//! round is one [`zkfleet_runner::JobRunner`] — a picker over the round's job table, an
//! executor for the CPU work, a saver that writes blobs then completes the job in one database
//! transaction — as ZKsync's witness generator runs one `JobRunner` per round. [`run`] starts
//! the runners of the configured rounds and stops them on cancellation.
//!
//! Rounds in this build:
//!
//! - [`basic`] (round 0): pick a batch, load its [`input::BatchWitnessInput`] (the batch and its
//!   pre-state: the fleet is stateless), execute it, cut it into basic circuit instances,
//!   stream the circuits to the store with bounded concurrency, store each type's closed forms,
//!   the scheduler's partial input and the aux output ([`artifacts`]), then insert the round-0
//!   prover jobs, leaf, node, recursion-tip and scheduler jobs and mark the batch's witness
//!   job successful, in one transaction.
//! - leaf, node, recursion tip, scheduler: not yet (their recursion circuits are being
//!   written); [`config::WitnessGeneratorConfig::validate`] refuses them by name.
//!
//! Metric names: [`metrics`]. Operator documentation: `docs/witness-generator.md`.

pub mod artifacts;
pub mod basic;
pub mod config;
pub mod input;
pub mod metrics;

use tracing::info;
use zkfleet_dal::Dal;
use zkfleet_runner::{CancellationToken, RunReport};
use zkfleet_store::Store;
use zkfleet_types::AggregationRound;

pub use config::{ConfigError, WitnessGeneratorConfig};
pub use input::{BatchWitnessInput, WitnessInputError};

/// What one round's runner did, once stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundReport {
    pub round: AggregationRound,
    pub picked: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub panicked: u64,
    pub save_errors: u64,
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
    #[error("invalid witness generator configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("the {round} round's runner ended abnormally: {reason}")]
    RunnerDied { round: &'static str, reason: String },
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
            AggregationRound::Basic => {
                let runner = basic::runner(dal.clone(), store.clone(), &config)
                    .map_err(ConfigError::from)?;
                let handle = runner.run(cancel.clone());
                tokio::spawn(async move { handle.await.map(|r| RoundReport::of(round, r)) })
            }
            // `validate` refuses rounds this build does not have.
            other => return Err(ConfigError::RoundNotAvailable(other.name()).into()),
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
