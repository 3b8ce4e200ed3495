//! Metric names of the witness generator (the `metrics` facade; the process installs the
//! exporter). The runner adds its own `zkfleet_runner_*` metrics with
//! `runner = "witness_generator_{round}"`.

use std::time::Duration;

use zkfleet_types::AggregationRound;

/// Histogram, `round`: seconds from pick to the completing transaction, successful jobs only.
pub const WITNESS_GENERATION_SECONDS: &str = "zkfleet_witness_generation_seconds";
/// Counter, `round`, `outcome` (`successful`, `failed`, `superseded`): jobs finished.
/// `superseded`: the job was no longer in progress when this worker completed it (it was
/// requeued and another worker finished it); nothing was changed.
pub const WITNESS_JOBS_TOTAL: &str = "zkfleet_witness_jobs_total";
/// Counter, `round`: circuit witnesses written to the store.
pub const CIRCUITS_UPLOADED_TOTAL: &str = "zkfleet_circuits_uploaded_total";
/// Counter, `round`: proofs of the previous round read from the store (rounds 1 to 4).
pub const PROOFS_LOADED_TOTAL: &str = "zkfleet_witness_proofs_loaded_total";

/// How a job ended, for [`WITNESS_JOBS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The job's completing transaction ran.
    Successful,
    /// The job was recorded as failed.
    Failed,
    /// The job was no longer in progress at completion: requeued and finished by another
    /// generator, nothing recorded.
    Superseded,
}

impl JobOutcome {
    /// The `outcome` label's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Successful => "successful",
            Self::Failed => "failed",
            Self::Superseded => "superseded",
        }
    }
}

pub(crate) fn job_finished(round: AggregationRound, outcome: JobOutcome) {
    metrics::counter!(WITNESS_JOBS_TOTAL, "round" => round.name(), "outcome" => outcome.as_str())
        .increment(1);
}

pub(crate) fn generation_time(round: AggregationRound, elapsed: Duration) {
    metrics::histogram!(WITNESS_GENERATION_SECONDS, "round" => round.name())
        .record(elapsed.as_secs_f64());
}

pub(crate) fn circuit_uploaded(round: AggregationRound) {
    metrics::counter!(CIRCUITS_UPLOADED_TOTAL, "round" => round.name()).increment(1);
}

pub(crate) fn proof_loaded(round: AggregationRound) {
    metrics::counter!(PROOFS_LOADED_TOTAL, "round" => round.name()).increment(1);
}

/// Registers the counters of the given rounds at 0 (every outcome; circuit uploads; proofs
/// loaded for rounds 1 to 4), so that failure rates and alerts read 0 from the process's first
/// scrape rather than "no data" until the first event. The generation time appears with each
/// round's first successful job.
pub fn register(rounds: &[AggregationRound]) {
    for &round in rounds {
        for outcome in [
            JobOutcome::Successful,
            JobOutcome::Failed,
            JobOutcome::Superseded,
        ] {
            metrics::counter!(WITNESS_JOBS_TOTAL, "round" => round.name(), "outcome" => outcome.as_str())
                .increment(0);
        }
        metrics::counter!(CIRCUITS_UPLOADED_TOTAL, "round" => round.name()).increment(0);
        // Round 0 reads the batch's witness input, not proofs.
        if round != AggregationRound::Basic {
            metrics::counter!(PROOFS_LOADED_TOTAL, "round" => round.name()).increment(0);
        }
    }
}
