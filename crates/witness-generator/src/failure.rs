//! Which failures a retry can help (see [`FailureKind`]): the witness generator's part of the
//! fleet's typed failures.

use zkfleet_circuits::pipeline::PipelineError;
use zkfleet_runner::traits::JobError;
use zkfleet_store::StoreError;
use zkfleet_types::FailureKind;

/// A store failure: permanent when the blob is missing, corrupt or of another kind; a backend
/// failure (after the store's own retries) is transient.
pub fn store_failure_kind(error: &StoreError) -> FailureKind {
    if error.is_permanent() {
        FailureKind::Permanent
    } else {
        FailureKind::Transient
    }
}

/// What the circuits refuse on given bytes they refuse again; what depends on this process's
/// configuration or keystore may work elsewhere or later.
pub fn pipeline_failure_kind(error: &PipelineError) -> FailureKind {
    match error {
        PipelineError::MalformedWitness { .. }
        | PipelineError::Encode { .. }
        | PipelineError::InvalidInput(_)
        | PipelineError::WrongJob { .. }
        | PipelineError::ProofRejected { .. }
        | PipelineError::FinalProofRejected(_)
        | PipelineError::Recursion(_) => FailureKind::Permanent,
        PipelineError::UnknownCircuit { .. }
        | PipelineError::FinalKey(_)
        | PipelineError::Circuit(_) => FailureKind::Transient,
    }
}

/// An executor's outcome: its error's kind, or transient for a panic (a contained bug or
/// resource exhaustion, bounded by the attempts).
pub fn job_failure_kind<E>(error: &JobError<E>, kind: impl Fn(&E) -> FailureKind) -> FailureKind {
    match error {
        JobError::Failed(e) => kind(e),
        JobError::Panicked(_) => FailureKind::Transient,
    }
}
