//! Gauges of jobs that need an operator: at their maximum attempts, and attempts exhausted.

use std::collections::BTreeMap;
use std::time::Duration;

use zkfleet_dal::{Dal, JobTable};
use zkfleet_runner::PeriodicTask;

use super::TaskError;
use crate::config::MaxAttempts;
use crate::metrics::{GaugeFamily, Labels, ATTEMPTS_EXHAUSTED_JOBS, JOBS_AT_MAX_ATTEMPTS};

/// The periodic task that publishes, per job type, how many jobs are at their attempt limit
/// and how many have exhausted it (waiting for an operator): the gauges alerts watch.
pub struct AttemptsReporter {
    dal: Dal,
    interval: Duration,
    max_attempts: MaxAttempts,
    at_max: GaugeFamily,
    exhausted: GaugeFamily,
}

impl AttemptsReporter {
    /// A reporter reading `dal` every `interval`, against the limits of `max_attempts`.
    pub fn new(dal: Dal, interval: Duration, max_attempts: MaxAttempts) -> Self {
        Self {
            dal,
            interval,
            max_attempts,
            at_max: GaugeFamily::new(JOBS_AT_MAX_ATTEMPTS),
            exhausted: GaugeFamily::new(ATTEMPTS_EXHAUSTED_JOBS),
        }
    }
}

fn job_type(table: JobTable) -> Labels {
    vec![("job_type", table.job_type().to_owned())]
}

impl PeriodicTask for AttemptsReporter {
    type Error = TaskError;

    fn name(&self) -> &str {
        "attempts_reporter"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<(), TaskError> {
        // Every job type is always published (0 included), so alerts can use `> 0` directly.
        let mut at_max = BTreeMap::new();
        for table in JobTable::ALL {
            let n = self
                .dal
                .count_jobs_at_max_attempts(table, self.max_attempts.of(table))
                .await?;
            at_max.insert(job_type(table), n as f64);
        }
        let mut exhausted: BTreeMap<Labels, f64> = JobTable::ALL
            .into_iter()
            .map(|t| (job_type(t), 0.0))
            .collect();
        for job in self.dal.exhausted_jobs().await? {
            *exhausted.entry(job_type(job.job.table())).or_default() += 1.0;
        }
        self.at_max.publish(&at_max);
        self.exhausted.publish(&exhausted);
        Ok(())
    }
}
