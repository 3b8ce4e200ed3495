//! Saving several proved jobs at once: the proofs that finished while the prover's saver was
//! busy are stored concurrently, then completed in **one** transaction
//! (`Dal::complete_prover_jobs`), which queues their dependent witness jobs in that same
//! transaction exactly as single completions do.
//!
//! Every job keeps its own outcome: a proof that could not be stored fails its job alone (the
//! requeuer hands it out again), a job no longer in progress is left as it is, and a failed
//! proving attempt is recorded as a failure. A database error while completing is returned for
//! every job of the transaction (it committed nothing): they stay in progress and the
//! requeuer's timeout hands them out again, as after a single failed save.

use zkfleet_dal::{CompleteOutcome, Dal, DalError, ProofDone};
use zkfleet_runner::JobError;
use zkfleet_store::{ProofBytes, Store};

use crate::error::ProverError;
use crate::failure::{job_failure_kind, record_failure};
use crate::job::ProverJobMeta;
use crate::metrics::{self, Outcome};

/// What the prover's saver receives for one job.
pub(crate) type ProvedJob = (ProverJobMeta, Result<Vec<u8>, JobError<ProverError>>);

/// Saves `finished` (see the module documentation); one result per job, in order.
pub(crate) async fn save_proved_jobs(
    dal: &Dal,
    store: &Store,
    finished: Vec<ProvedJob>,
) -> Vec<Result<(), ProverError>> {
    let mut results: Vec<Option<Result<(), ProverError>>> = finished.iter().map(|_| None).collect();
    // Store every proof first, concurrently: a completion must never name a missing blob.
    let mut uploads = Vec::new();
    for (index, (job, result)) in finished.into_iter().enumerate() {
        match result {
            Ok(proof) => {
                let store = store.clone();
                let key = job.proof_key();
                let size = proof.len();
                let upload =
                    tokio::spawn(async move { store.put(&key, &ProofBytes::new(proof)).await });
                uploads.push((index, job, size, upload));
            }
            Err(error) => {
                let kind = job_failure_kind(&error);
                results[index] = Some(record_failure(dal, &job, kind, &error).await);
            }
        }
    }
    let mut stored = Vec::with_capacity(uploads.len());
    for (index, job, size, upload) in uploads {
        let put = match upload.await {
            Ok(put) => put.map_err(ProverError::StoreProof),
            Err(e) => Err(ProverError::RunnerDied {
                runner: format!("proof upload of {job}"),
                reason: e.to_string(),
            }),
        };
        match put {
            Ok(path) => {
                metrics::proof_size(&job, size);
                stored.push((index, job, size, path));
            }
            // This attempt's proof is lost: the job is failed so that the requeuer hands it
            // out again instead of waiting for the in-progress timeout.
            Err(error) => {
                let kind = error.failure_kind();
                results[index] = Some(record_failure(dal, &job, kind, &error).await);
            }
        }
    }
    if !stored.is_empty() {
        let proofs: Vec<ProofDone> = stored
            .iter()
            .map(|(_, job, _, path)| ProofDone {
                id: job.id,
                proof_blob_key: path.clone(),
                time_taken: job.picked_at.elapsed(),
            })
            .collect();
        match dal.complete_prover_jobs(&proofs).await {
            Ok(outcomes) => {
                for ((index, job, size, _), outcome) in stored.iter().zip(outcomes) {
                    log_completion(job, *size, outcome, stored.len());
                    results[*index] = Some(Ok(()));
                }
            }
            Err(error) => {
                tracing::warn!(jobs = stored.len(), error = %error,
                    "completing a batch of proofs failed; its jobs stay in progress for the requeuer");
                let cause = std::sync::Arc::new(error);
                for (index, _, _, _) in &stored {
                    results[*index] = Some(Err(ProverError::Database(DalError::InBatch(
                        std::sync::Arc::clone(&cause),
                    ))));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(ProverError::ProverGone)))
        .collect()
}

fn log_completion(job: &ProverJobMeta, size: usize, outcome: CompleteOutcome, batch: usize) {
    match outcome {
        CompleteOutcome::Completed { queued } => {
            metrics::job_finished(job, Outcome::Successful);
            tracing::info!(job = %job, proof_bytes = size, seconds = job.picked_at.elapsed().as_secs_f64(),
                queued = ?queued, batch, "proof stored, job successful");
        }
        CompleteOutcome::NotInProgress { status } => {
            // Requeued after a timeout and finished (or failed) by another worker: the row
            // keeps the other worker's outcome (see `ProverSaver`).
            metrics::job_finished(job, Outcome::NotInProgress);
            tracing::info!(job = %job, status = %status,
                "proof stored but the job was no longer in progress; left as it is");
        }
    }
}
