//! Dependency catch-up: queues waiting jobs whose dependencies are all done.
//!
//! Completions queue their dependents in the completing transaction (DESIGN.md §5), so in a
//! healthy fleet this task finds nothing; it is the safety net for what a completion could not
//! do (a row edited by hand, a crash between two versions of the code).

use std::time::Duration;

use zkfleet_dal::{CatchUpCounts, Dal, JobTable};
use zkfleet_runner::PeriodicTask;

use super::TaskError;
use crate::metrics::DEPENDENTS_QUEUED;

/// The periodic safety net that queues dependent jobs whose dependencies are all done but
/// which the completing transaction did not queue (it normally does, in the same
/// transaction); each one it finds is logged as a warning.
pub struct DependencyQueuer {
    dal: Dal,
    interval: Duration,
}

impl DependencyQueuer {
    /// A queuer of `dal`'s jobs, run every `interval`.
    pub fn new(dal: Dal, interval: Duration) -> Self {
        Self { dal, interval }
    }
}

impl PeriodicTask for DependencyQueuer {
    type Error = TaskError;

    fn name(&self) -> &str {
        "dependency_queuer"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<(), TaskError> {
        let counts = self.dal.queue_ready_dependents().await?;
        for (table, n) in per_table(&counts) {
            if n > 0 {
                metrics::counter!(DEPENDENTS_QUEUED, "job_type" => table.job_type()).increment(n);
                // Each one is a dependent the completing transaction missed: worth a look.
                tracing::warn!(
                    job_type = table.job_type(),
                    queued = n,
                    "catch-up queued dependent jobs that completions had not queued"
                );
            }
        }
        Ok(())
    }
}

fn per_table(counts: &CatchUpCounts) -> [(JobTable, u64); 5] {
    [
        (JobTable::LeafWitnessJobs, counts.leaf_witness_jobs),
        (JobTable::NodeWitnessJobs, counts.node_witness_jobs),
        (
            JobTable::RecursionTipWitnessJobs,
            counts.recursion_tip_witness_jobs,
        ),
        (
            JobTable::SchedulerWitnessJobs,
            counts.scheduler_witness_jobs,
        ),
        (JobTable::CompressionJobs, counts.compression_jobs),
    ]
}
