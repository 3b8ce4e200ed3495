//! Which failures a retry can help (see [`FailureKind`]): the witness generator's part of the
//! fleet's typed failures. Store and pipeline errors classify themselves
//! (`StoreError::failure_kind`, `PipelineError::failure_kind`), the same for every component.

use zkfleet_runner::traits::JobError;
use zkfleet_types::FailureKind;

/// An executor's outcome: its error's kind, or transient for a panic (a contained bug or
/// resource exhaustion, bounded by the attempts).
pub fn job_failure_kind<E>(error: &JobError<E>, kind: impl Fn(&E) -> FailureKind) -> FailureKind {
    match error {
        JobError::Failed(e) => kind(e),
        JobError::Panicked(_) => FailureKind::Transient,
    }
}
