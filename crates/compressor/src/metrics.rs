//! Metric names of the compressor (`metrics` facade; the process installs the exporter).
//!
//! | Name | Type | Labels | Meaning |
//! |---|---|---|---|
//! | `zkfleet_compression_jobs_total` | counter | `outcome` | jobs finished: `successful`, `failed`, `not_in_progress` (finished by someone else after a requeue) |
//! | `zkfleet_compression_seconds` | histogram | — | the compression chain over one scheduler proof, final verification included |
//! | `zkfleet_final_proof_bytes` | histogram | — | size of each final proof (plonky2 encoding, before the blob envelope) |
//!
//! The runner metrics (`zkfleet_runner_*`, `runner` = `compressor`) and the object store's
//! come on top.

use std::time::Duration;

/// Compression jobs finished, by `outcome` ([`Outcome`]).
pub const JOBS_TOTAL: &str = "zkfleet_compression_jobs_total";
/// Time of the compression chain over one scheduler proof, final verification included.
pub const COMPRESSION_SECONDS: &str = "zkfleet_compression_seconds";
/// Size of each final proof (plonky2 encoding, before the blob envelope).
pub const FINAL_PROOF_BYTES: &str = "zkfleet_final_proof_bytes";

/// How a job ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The final proof was stored and the job completed.
    Successful,
    /// The job was marked failed (or failed permanently) with its cause.
    Failed,
    /// The job was no longer in progress when this process finished it: requeued after a
    /// timeout and finished by another compressor, so nothing was recorded.
    NotInProgress,
}

impl Outcome {
    /// The `outcome` label's value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Successful => "successful",
            Self::Failed => "failed",
            Self::NotInProgress => "not_in_progress",
        }
    }
}

pub(crate) fn job_finished(outcome: Outcome) {
    metrics::counter!(JOBS_TOTAL, "outcome" => outcome.label()).increment(1);
}

pub(crate) fn compression_time(elapsed: Duration) {
    metrics::histogram!(COMPRESSION_SECONDS).record(elapsed.as_secs_f64());
}

pub(crate) fn final_proof_size(bytes: usize) {
    metrics::histogram!(FINAL_PROOF_BYTES).record(bytes as f64);
}

/// Registers the job counter at 0 for every outcome, so that the failure rate reads 0 from the
/// process's first scrape rather than "no data" until the first failure.
pub fn register() {
    for outcome in [Outcome::Successful, Outcome::Failed, Outcome::NotInProgress] {
        metrics::counter!(JOBS_TOTAL, "outcome" => outcome.label()).increment(0);
    }
}
