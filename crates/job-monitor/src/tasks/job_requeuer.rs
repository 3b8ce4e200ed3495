//! Requeue of stuck and failed jobs, table by table, with each job kind's timeout and maximum
//! attempts: back to `queued` while attempts remain, to the terminal `attempts_exhausted`
//! otherwise.

use std::time::Duration;

use zkfleet_dal::{Dal, JobTable, RetryBackoff};
use zkfleet_runner::PeriodicTask;

use super::TaskError;
use crate::config::{JobTimeouts, MaxAttempts};
use crate::metrics::{EXHAUSTED_JOBS, REQUEUED_JOBS};

/// The periodic task that requeues, table by table, jobs stuck in progress past their timeout
/// and failed jobs with attempts left (after the retry backoff), and ends those out of
/// attempts.
pub struct JobRequeuer {
    dal: Dal,
    interval: Duration,
    timeouts: JobTimeouts,
    max_attempts: MaxAttempts,
    backoff: RetryBackoff,
}

impl JobRequeuer {
    /// A requeuer of `dal`'s jobs, run every `interval`, with each table's timeout and attempt
    /// limit (no retry backoff until one is given).
    pub fn new(
        dal: Dal,
        interval: Duration,
        timeouts: JobTimeouts,
        max_attempts: MaxAttempts,
    ) -> Self {
        Self {
            dal,
            interval,
            timeouts,
            max_attempts,
            backoff: RetryBackoff::NONE,
        }
    }

    /// Failed jobs wait out `backoff` before they are queued again (default: none).
    pub fn with_retry_backoff(mut self, backoff: RetryBackoff) -> Self {
        self.backoff = backoff;
        self
    }
}

impl PeriodicTask for JobRequeuer {
    type Error = TaskError;

    fn name(&self) -> &str {
        "job_requeuer"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<(), TaskError> {
        // One table failing (a lock timeout, say) must not keep the others from being served.
        let mut failures = Vec::new();
        for table in JobTable::ALL {
            let timeout = self.timeouts.of(table);
            let max_attempts = self.max_attempts.of(table);
            let counts = match self
                .dal
                .requeue_stuck_jobs_with_backoff(table, timeout, max_attempts, self.backoff)
                .await
            {
                Ok(counts) => counts,
                Err(e) => {
                    failures.push((table, e));
                    continue;
                }
            };
            let job_type = table.job_type();
            if counts.requeued > 0 {
                metrics::counter!(REQUEUED_JOBS, "job_type" => job_type).increment(counts.requeued);
                tracing::info!(
                    job_type,
                    requeued = counts.requeued,
                    ?timeout,
                    max_attempts,
                    "requeued stuck or failed jobs"
                );
            }
            if counts.exhausted > 0 {
                metrics::counter!(EXHAUSTED_JOBS, "job_type" => job_type)
                    .increment(counts.exhausted);
                tracing::warn!(
                    job_type,
                    exhausted = counts.exhausted,
                    max_attempts,
                    "jobs used up their attempts and are now attempts_exhausted; they wait for \
                     an operator (`zkfleet requeue --batch N`)"
                );
            }
        }
        TaskError::from_table_failures(failures, JobTable::ALL.len())
    }
}
