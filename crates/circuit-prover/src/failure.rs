//! Recording a failed job: the one place that turns an error into the job's `error` text.

use zkfleet_dal::{Dal, JobRef, TransitionOutcome};
use zkfleet_runner::traits::JobError;
use zkfleet_types::FailureKind;

use crate::error::ProverError;
use crate::job::ProverJobMeta;
use crate::metrics::{self, Outcome};

/// Whether retrying a job that ended with `error` can help. A panic is transient: the
/// executor's panics are contained bugs or resource exhaustion, and the attempts bound them.
pub(crate) fn job_failure_kind(error: &JobError<ProverError>) -> FailureKind {
    match error {
        JobError::Failed(e) => e.failure_kind(),
        JobError::Panicked(_) => FailureKind::Transient,
    }
}

/// Marks the job failed with `{job identity}: {cause}`: `failed` for a transient failure (the
/// requeuer retries it while it has attempts left), `failed_permanently` for a permanent one
/// (no attempt is spent on it again). A job that is no longer in progress (requeued and taken
/// by another worker) is left alone and logged. A database error is returned: the runner
/// counts it and the job stays in progress until the requeuer's timeout.
pub(crate) async fn record_failure(
    dal: &Dal,
    job: &ProverJobMeta,
    kind: FailureKind,
    cause: &(dyn std::fmt::Display + Sync),
) -> Result<(), ProverError> {
    let message = format!("{job}: {cause}");
    tracing::warn!(job = %job, attempts = job.attempts, error = %cause, failure = %kind, "prover job failed");
    match dal
        .record_failure(JobRef::Prover(job.id), kind, &message)
        .await?
    {
        TransitionOutcome::Applied => metrics::job_finished(job, Outcome::Failed),
        TransitionOutcome::Unchanged { status } => {
            tracing::info!(job = %job, status = %status,
                "failed job was no longer in progress; its failure is not recorded");
            metrics::job_finished(job, Outcome::NotInProgress);
        }
    }
    Ok(())
}
