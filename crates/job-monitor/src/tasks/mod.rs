//! The monitor's periodic tasks, each a [`zkfleet_runner::PeriodicTask`]: the runner logs a
//! failed run and runs the task again at its next tick, so a database outage costs runs, never
//! the process.

mod archiver;
mod attempts_reporter;
mod dependency_queuer;
mod job_requeuer;
mod queue_reporter;

pub use archiver::{ArchiverSettings, BlobCollection, ProverJobArchiver};
pub use attempts_reporter::AttemptsReporter;
pub use dependency_queuer::DependencyQueuer;
pub use job_requeuer::JobRequeuer;
pub use queue_reporter::QueueReporter;

use zkfleet_dal::{DalError, JobTable};
use zkfleet_types::CircuitId;

/// Why a run of a task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The job database failed (the task runs again at its next tick).
    #[error(transparent)]
    Database(#[from] DalError),
    /// A task that works table by table went on after a table failed; the run still counts as
    /// failed so the outage shows in `zkfleet_periodic_task_runs_total{outcome="error"}`.
    #[error("{failed} of {total} job tables failed, first {table}: {first}")]
    SomeTablesFailed {
        /// Tables whose statement failed.
        failed: usize,
        /// Tables the run went through.
        total: usize,
        /// The first table that failed.
        table: JobTable,
        /// Its error.
        first: DalError,
    },
}

impl TaskError {
    /// Folds the per-table failures of one run into a result.
    fn from_table_failures(
        mut failures: Vec<(JobTable, DalError)>,
        total: usize,
    ) -> Result<(), Self> {
        if failures.is_empty() {
            return Ok(());
        }
        let failed = failures.len();
        let (table, first) = failures.swap_remove(0);
        Err(Self::SomeTablesFailed {
            failed,
            total,
            table,
            first,
        })
    }
}

/// The `circuit` label: the circuit's name, or its id when the name is unknown (so two
/// unknown circuits never share a series).
pub(crate) fn circuit_label(circuit: CircuitId) -> String {
    match circuit.name() {
        "unknown" => circuit.0.to_string(),
        name => name.to_owned(),
    }
}
