//! Queue gauges: jobs per table and status, prover jobs per round and circuit, and the lag
//! (oldest unproven and uncompressed batches, and how long the oldest has been in the fleet).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use zkfleet_dal::{Dal, JobTable, StatusCount};
use zkfleet_runner::PeriodicTask;

use super::{circuit_label, TaskError};
use crate::metrics::{
    GaugeFamily, Labels, JOBS, OLDEST_UNCOMPRESSED_BATCH, OLDEST_UNPROVEN_BATCH,
    OLDEST_UNPROVEN_BATCH_AGE, PROVER_JOBS,
};

/// The periodic task that publishes the queue gauges (see the module documentation).
pub struct QueueReporter {
    dal: Dal,
    interval: Duration,
    jobs: GaugeFamily,
    prover_jobs: GaugeFamily,
    oldest_unproven: GaugeFamily,
    oldest_uncompressed: GaugeFamily,
    oldest_age: GaugeFamily,
}

impl QueueReporter {
    /// A reporter reading `dal` every `interval`.
    pub fn new(dal: Dal, interval: Duration) -> Self {
        Self {
            dal,
            interval,
            jobs: GaugeFamily::new(JOBS),
            prover_jobs: GaugeFamily::new(PROVER_JOBS),
            oldest_unproven: GaugeFamily::new(OLDEST_UNPROVEN_BATCH),
            oldest_uncompressed: GaugeFamily::new(OLDEST_UNCOMPRESSED_BATCH),
            oldest_age: GaugeFamily::new(OLDEST_UNPROVEN_BATCH_AGE),
        }
    }
}

impl PeriodicTask for QueueReporter {
    type Error = TaskError;

    fn name(&self) -> &str {
        "queue_reporter"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<(), TaskError> {
        // Read everything first: a failure half-way must not publish a half-updated picture.
        let counts = self.dal.status_counts().await?;
        let unproven = self.dal.oldest_unproven_batches().await?;
        let uncompressed = self.dal.oldest_uncompressed_batch().await?;
        let oldest_in_flight = self.dal.unfinished_batches(1).await?;

        let (jobs, prover_jobs) = job_gauges(&counts);
        self.jobs.publish(&jobs);
        self.prover_jobs.publish(&prover_jobs);

        let unproven: BTreeMap<Labels, f64> = unproven
            .into_iter()
            .map(|cell| {
                let labels = vec![
                    ("round", cell.aggregation_round.name().to_owned()),
                    ("circuit", circuit_label(cell.circuit_id)),
                    ("chain_id", cell.batch.chain_id.to_string()),
                ];
                (labels, f64::from(cell.batch.batch_number.0))
            })
            .collect();
        self.oldest_unproven.publish(&unproven);

        let uncompressed: BTreeMap<Labels, f64> = uncompressed
            .into_iter()
            .map(|batch| {
                let labels = vec![("chain_id", batch.chain_id.to_string())];
                (labels, f64::from(batch.batch_number.0))
            })
            .collect();
        self.oldest_uncompressed.publish(&uncompressed);

        let now = Utc::now();
        let age: BTreeMap<Labels, f64> = oldest_in_flight
            .into_iter()
            .map(|input| {
                let labels = vec![("chain_id", input.batch.chain_id.to_string())];
                let seconds = (now - input.created_at).num_milliseconds().max(0) as f64 / 1e3;
                (labels, seconds)
            })
            .collect();
        self.oldest_age.publish(&age);
        Ok(())
    }
}

/// `zkfleet_jobs` (per table) and `zkfleet_prover_jobs` (per round and circuit) from the
/// status counts.
fn job_gauges(counts: &[StatusCount]) -> (BTreeMap<Labels, f64>, BTreeMap<Labels, f64>) {
    let mut jobs: BTreeMap<Labels, f64> = BTreeMap::new();
    let mut prover_jobs: BTreeMap<Labels, f64> = BTreeMap::new();
    for count in counts {
        let version = count.protocol_version.to_string();
        let status = count.status.as_str().to_owned();
        let per_table = vec![
            ("table", count.table.table_name().to_owned()),
            ("status", status.clone()),
            ("protocol_version", version.clone()),
        ];
        // Leaf and node tables come per circuit: summed here.
        *jobs.entry(per_table).or_default() += count.count as f64;
        if count.table == JobTable::ProverJobs {
            let (Some(round), Some(circuit)) = (count.aggregation_round, count.circuit_id) else {
                continue;
            };
            let labels = vec![
                ("round", round.name().to_owned()),
                ("circuit", circuit_label(circuit)),
                ("status", status),
                ("protocol_version", version),
            ];
            *prover_jobs.entry(labels).or_default() += count.count as f64;
        }
    }
    (jobs, prover_jobs)
}
