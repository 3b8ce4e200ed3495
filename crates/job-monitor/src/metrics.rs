//! The monitor's Prometheus metrics: names, the process-wide recorder, and gauge families whose
//! vanished label sets drop to 0.
//!
//! Every metric goes through the `metrics` facade into one global Prometheus recorder, so the
//! runner's and the store's series (and, in `zkfleet prove`, every other component's) appear on
//! the same `/metrics` page as the monitor's own. Names and labels are documented in
//! `docs/job-monitor.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use metrics::Label;
use metrics_exporter_prometheus::PrometheusHandle;
pub use zkfleet_service::metrics::RecorderError;

/// Gauge: jobs per table and status, labels `table`, `status`, `protocol_version`.
pub const JOBS: &str = "zkfleet_jobs";
/// Gauge: prover jobs per round, circuit and status, labels `round`, `circuit`, `status`,
/// `protocol_version` (the autoscaling input).
pub const PROVER_JOBS: &str = "zkfleet_prover_jobs";
/// Gauge: the oldest batch with a prover job not yet proven, labels `round`, `circuit`,
/// `chain_id`; 0 once every job of the cell is proven.
pub const OLDEST_UNPROVEN_BATCH: &str = "zkfleet_oldest_unproven_batch";
/// Gauge: the oldest batch (by seal time) whose final proof is not done, label `chain_id`;
/// 0 when every batch is compressed.
pub const OLDEST_UNCOMPRESSED_BATCH: &str = "zkfleet_oldest_uncompressed_batch";
/// Gauge: seconds since the oldest batch (by seal time) whose final proof is not done was handed
/// to the fleet, label `chain_id` (that batch's chain); 0 when every batch is compressed.
pub const OLDEST_UNPROVEN_BATCH_AGE: &str = "zkfleet_oldest_unproven_batch_age_seconds";
/// Gauge: jobs not done whose attempts reached the maximum, label `job_type`.
pub const JOBS_AT_MAX_ATTEMPTS: &str = "zkfleet_jobs_at_max_attempts";
/// Gauge: jobs in the terminal `attempts_exhausted` state, label `job_type`.
pub const ATTEMPTS_EXHAUSTED_JOBS: &str = "zkfleet_attempts_exhausted_jobs";
/// Counter: stuck or failed jobs sent back to `queued`, label `job_type`.
pub const REQUEUED_JOBS: &str = "zkfleet_requeued_jobs_total";
/// Counter: jobs moved to `attempts_exhausted` by the requeuer, label `job_type`.
pub const EXHAUSTED_JOBS: &str = "zkfleet_exhausted_jobs_total";
/// Counter: waiting jobs (or missing compression jobs) queued by the catch-up, label
/// `job_type`.
pub const DEPENDENTS_QUEUED: &str = "zkfleet_dependents_queued_total";
/// Counter: prover jobs moved to the archive.
pub const ARCHIVED_PROVER_JOBS: &str = "zkfleet_archived_prover_jobs_total";
/// Counter: archive rows deleted after their retention.
pub const DELETED_ARCHIVED_PROVER_JOBS: &str = "zkfleet_deleted_archived_prover_jobs_total";
/// Counter: blobs of archived prover jobs deleted from the store, label `bucket`.
pub const COLLECTED_BLOBS: &str = "zkfleet_collected_blobs_total";
/// Counter: blobs of archived prover jobs that could not be deleted, label `reason`
/// (`unparseable_key`, `store_error`).
pub const BLOB_COLLECTION_ERRORS: &str = "zkfleet_blob_collection_errors_total";

/// Installs the process-wide Prometheus recorder on first call
/// (`zkfleet_service::metrics::install_prometheus_recorder`) and describes the monitor's
/// series; later calls return the same handle. Fails only if some other recorder was
/// installed.
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, RecorderError> {
    let handle = zkfleet_service::metrics::install_prometheus_recorder()?;
    // Idempotent: a description is a name's `# HELP` line, set again to the same text.
    describe();
    Ok(handle)
}

/// `# HELP` lines for the monitor's series.
fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_gauge!(JOBS, "Jobs per table, status and protocol version.");
    describe_gauge!(
        PROVER_JOBS,
        "Prover jobs per round, circuit, status and protocol version."
    );
    describe_gauge!(
        OLDEST_UNPROVEN_BATCH,
        "Oldest batch with an unproven prover job per round and circuit (0: none)."
    );
    describe_gauge!(
        OLDEST_UNCOMPRESSED_BATCH,
        "Oldest batch whose final proof is not done (0: none)."
    );
    describe_gauge!(
        OLDEST_UNPROVEN_BATCH_AGE,
        "Seconds since the oldest batch whose final proof is not done entered the fleet (0: none)."
    );
    describe_gauge!(
        JOBS_AT_MAX_ATTEMPTS,
        "Jobs not done whose attempts reached the maximum."
    );
    describe_gauge!(
        ATTEMPTS_EXHAUSTED_JOBS,
        "Jobs in the terminal attempts_exhausted state."
    );
    describe_counter!(
        REQUEUED_JOBS,
        "Stuck or failed jobs sent back to the queue."
    );
    describe_counter!(EXHAUSTED_JOBS, "Jobs moved to attempts_exhausted.");
    describe_counter!(
        DEPENDENTS_QUEUED,
        "Dependent jobs queued by the monitor's catch-up."
    );
    describe_counter!(ARCHIVED_PROVER_JOBS, "Prover jobs moved to the archive.");
    describe_counter!(
        DELETED_ARCHIVED_PROVER_JOBS,
        "Archive rows deleted after their retention."
    );
    describe_counter!(
        COLLECTED_BLOBS,
        "Blobs of archived prover jobs deleted from the object store."
    );
    describe_counter!(
        BLOB_COLLECTION_ERRORS,
        "Blobs of archived prover jobs that could not be deleted."
    );
}

/// Registers the tasks' counters at 0 for every label value they can take (every job type,
/// both collected buckets, both collection-error reasons), so that from the monitor's first
/// scrape `increase(zkfleet_exhausted_jobs_total[5m]) > 0` and the dashboard's rates read 0
/// rather than "no data" until the first event. Called by [`crate::spawn_tasks`].
pub fn register_task_counters() {
    use zkfleet_dal::JobTable;
    use zkfleet_store::Bucket;
    for table in JobTable::ALL {
        let job_type = table.job_type();
        metrics::counter!(REQUEUED_JOBS, "job_type" => job_type).increment(0);
        metrics::counter!(EXHAUSTED_JOBS, "job_type" => job_type).increment(0);
        metrics::counter!(DEPENDENTS_QUEUED, "job_type" => job_type).increment(0);
    }
    metrics::counter!(ARCHIVED_PROVER_JOBS).increment(0);
    metrics::counter!(DELETED_ARCHIVED_PROVER_JOBS).increment(0);
    // The archiver collects exactly these two buckets (circuit witnesses and proofs).
    for bucket in [Bucket::ProverJobs, Bucket::Proofs] {
        metrics::counter!(COLLECTED_BLOBS, "bucket" => bucket.as_str()).increment(0);
    }
    for reason in ["unparseable_key", "store_error"] {
        metrics::counter!(BLOB_COLLECTION_ERRORS, "reason" => reason).increment(0);
    }
}

/// A label set, as (name, value) pairs in a fixed order.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// A gauge family republished as a whole on every report: label sets present in the last
/// report but absent from this one are set to 0, so a queue that emptied shows 0 rather than
/// its last size (Prometheus has no way to delete a series from a running exporter, and a
/// missing series would read as "no data", not "empty").
pub(crate) struct GaugeFamily {
    name: &'static str,
    published: Mutex<BTreeSet<Labels>>,
}

impl GaugeFamily {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            published: Mutex::new(BTreeSet::new()),
        }
    }

    /// Sets every given series and zeroes every series published before and not given now.
    pub(crate) fn publish(&self, values: &BTreeMap<Labels, f64>) {
        let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        for (labels, value) in values {
            metrics::gauge!(self.name, to_labels(labels)).set(*value);
        }
        for stale in published.iter().filter(|l| !values.contains_key(*l)) {
            metrics::gauge!(self.name, to_labels(stale)).set(0.0);
        }
        published.extend(values.keys().cloned());
    }
}

fn to_labels(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|(name, value)| Label::new(*name, value.clone()))
        .collect()
}
