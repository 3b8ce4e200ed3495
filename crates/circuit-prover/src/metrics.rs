//! Metric names of the circuit prover (`metrics` facade; the process installs the exporter).
//!
//! | Name | Type | Labels | Meaning |
//! |---|---|---|---|
//! | `zkfleet_prover_jobs_total` | counter | `round`, `circuit`, `outcome` | jobs finished: `successful`, `failed`, `not_in_progress` (completed by someone else after a requeue) |
//! | `zkfleet_witness_vector_seconds` | histogram | `round`, `circuit` | decoding the witness + witness generation |
//! | `zkfleet_prove_seconds` | histogram | `round`, `circuit` | proving + verifying |
//! | `zkfleet_prover_channel_wait_seconds` | histogram | — | how long a finished witness vector waited for the prover (back-pressure) |
//! | `zkfleet_proof_bytes` | histogram | `round`, `circuit` | size of each stored proof |
//!
//! `round` is the round name (`basic`, `leaf`, …), `circuit` the numeric circuit id. The runner
//! metrics (`zkfleet_runner_*`, `runner` = `circuit_prover_wvg_heavy`, `…_wvg_light`,
//! `circuit_prover`) come on top.

use std::time::Duration;

use crate::job::ProverJobMeta;

/// Prover jobs finished, by `round`, `circuit` and `outcome` ([`Outcome`]).
pub const JOBS_TOTAL: &str = "zkfleet_prover_jobs_total";
/// Decoding a job's witness and generating its witness vector.
pub const WITNESS_VECTOR_SECONDS: &str = "zkfleet_witness_vector_seconds";
/// Proving a job and verifying its proof.
pub const PROVE_SECONDS: &str = "zkfleet_prove_seconds";
/// How long a finished witness vector waited for the prover (back-pressure).
pub const CHANNEL_WAIT_SECONDS: &str = "zkfleet_prover_channel_wait_seconds";
/// Size of each stored proof.
pub const PROOF_BYTES: &str = "zkfleet_proof_bytes";

/// How a job ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The proof was stored and the job completed.
    Successful,
    /// The job was marked failed (or failed permanently) with its cause.
    Failed,
    /// The job was no longer in progress when this process finished it: requeued after a
    /// timeout and completed by another prover, so nothing was recorded.
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

pub(crate) fn job_finished(job: &ProverJobMeta, outcome: Outcome) {
    let [round, circuit] = job.labels();
    metrics::counter!(
        JOBS_TOTAL,
        &[round, circuit, ("outcome", outcome.label().to_owned())]
    )
    .increment(1);
}

pub(crate) fn witness_vector_time(job: &ProverJobMeta, elapsed: Duration) {
    metrics::histogram!(WITNESS_VECTOR_SECONDS, &job.labels()).record(elapsed.as_secs_f64());
}

pub(crate) fn prove_time(job: &ProverJobMeta, elapsed: Duration) {
    metrics::histogram!(PROVE_SECONDS, &job.labels()).record(elapsed.as_secs_f64());
}

pub(crate) fn channel_wait(elapsed: Duration) {
    metrics::histogram!(CHANNEL_WAIT_SECONDS).record(elapsed.as_secs_f64());
}

pub(crate) fn proof_size(job: &ProverJobMeta, bytes: usize) {
    metrics::histogram!(PROOF_BYTES, &job.labels()).record(bytes as f64);
}
