//! Recording a failed job: the one place that turns an error into the job's `error` text.

use zkfleet_dal::{Dal, JobRef, TransitionOutcome};

use crate::error::ProverError;
use crate::job::ProverJobMeta;
use crate::metrics::{self, Outcome};

/// Marks the job failed with `{job identity}: {cause}` (the requeuer retries it while it has
/// attempts left). A job that is no longer in progress (requeued and taken by another worker)
/// is left alone and logged. A database error is returned: the runner counts it and the job
/// stays in progress until the requeuer's timeout.
pub(crate) async fn record_failure(
    dal: &Dal,
    job: &ProverJobMeta,
    cause: &(dyn std::fmt::Display + Sync),
) -> Result<(), ProverError> {
    let message = format!("{job}: {cause}");
    tracing::warn!(job = %job, attempts = job.attempts, error = %cause, "prover job failed");
    match dal.fail_job(JobRef::Prover(job.id), &message).await? {
        TransitionOutcome::Applied => metrics::job_finished(job, Outcome::Failed),
        TransitionOutcome::Unchanged { status } => {
            tracing::info!(job = %job, status = %status,
                "failed job was no longer in progress; its failure is not recorded");
            metrics::job_finished(job, Outcome::NotInProgress);
        }
    }
    Ok(())
}
