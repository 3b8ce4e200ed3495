//! The prover stage: receives witness vectors from the generators, proves and verifies them
//! (plonky2 uses every core while it proves, so one job at a time), stores each proof and
//! completes its job. Completion queues the dependent witness job in the same transaction.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use zkfleet_circuits::WitnessVector;
use zkfleet_dal::{CompleteOutcome, Dal};
use zkfleet_runner::{CancellationToken, Executor, FinishedJob, JobError, JobPicker, JobSaver};
use zkfleet_store::{ProofBytes, Store};

use crate::error::ProverError;
use crate::failure::{job_failure_kind, record_failure};
use crate::job::ProverJobMeta;
use crate::metrics::{self, Outcome};
use crate::registry::CircuitRegistry;
use crate::wvg::ProvingTask;

/// Takes the next witness vector from the shared channel.
///
/// It waits on the channel rather than polling: the prover has nothing else to do. When every
/// generator has stopped (all senders dropped) and the channel is drained, it cancels the
/// prover runner's own token, so the prover stops exactly when no vector can arrive any more —
/// never with one left in the channel.
pub struct ProverPicker {
    pub(crate) from_generators: mpsc::Receiver<ProvingTask>,
    pub(crate) stop: CancellationToken,
}

impl JobPicker for ProverPicker {
    type Input = WitnessVector;
    type Metadata = ProverJobMeta;
    type Error = ProverError;

    async fn pick(&mut self) -> Result<Option<(WitnessVector, ProverJobMeta)>, ProverError> {
        match self.from_generators.recv().await {
            Some((job, witness_vector)) => Ok(Some((witness_vector, job))),
            None => {
                self.stop.cancel();
                Ok(None)
            }
        }
    }
}

/// Proves and verifies with the circuit data loaded at start.
pub struct ProverExecutor {
    pub(crate) registry: Arc<CircuitRegistry>,
}

impl Executor for ProverExecutor {
    type Input = WitnessVector;
    type Output = Vec<u8>;
    type Metadata = ProverJobMeta;
    type Error = ProverError;

    fn execute(
        &self,
        witness_vector: WitnessVector,
        job: &ProverJobMeta,
    ) -> Result<Vec<u8>, ProverError> {
        let prover = self.registry.get(job.round, job.circuit)?;
        let started = Instant::now();
        let proof = prover.prove(witness_vector)?;
        metrics::prove_time(job, started.elapsed());
        Ok(proof)
    }
}

/// Stores proofs and completes their jobs; fails the jobs whose proof could not be made.
pub struct ProverSaver {
    pub(crate) dal: Dal,
    pub(crate) store: Store,
}

impl ProverSaver {
    async fn save_proof(&self, job: &ProverJobMeta, proof: Vec<u8>) -> Result<(), ProverError> {
        let size = proof.len();
        let key = job.proof_key();
        let path = match self.store.put(&key, &ProofBytes::new(proof)).await {
            Ok(path) => path,
            // The proof is lost with this attempt; the job is failed so that the requeuer
            // hands it out again instead of waiting for the in-progress timeout.
            Err(e) => {
                let error = ProverError::StoreProof(e);
                return record_failure(&self.dal, job, error.failure_kind(), &error).await;
            }
        };
        metrics::proof_size(job, size);
        let outcome = self
            .dal
            .complete_prover_job(job.id, &path, job.picked_at.elapsed())
            .await?;
        match outcome {
            CompleteOutcome::Completed { queued } => {
                metrics::job_finished(job, Outcome::Successful);
                tracing::info!(job = %job, proof_bytes = size, seconds = job.picked_at.elapsed().as_secs_f64(),
                    queued = ?queued, "proof stored, job successful");
            }
            CompleteOutcome::NotInProgress { status } => {
                // Requeued after a timeout and finished (or failed) by another worker: the
                // proof just written is a valid proof of the same witness (same public
                // inputs) as any other worker's, and the row keeps the other worker's outcome.
                metrics::job_finished(job, Outcome::NotInProgress);
                tracing::info!(job = %job, status = %status,
                    "proof stored but the job was no longer in progress; left as it is");
            }
        }
        Ok(())
    }
}

impl JobSaver for ProverSaver {
    type Output = Vec<u8>;
    type Metadata = ProverJobMeta;
    type ExecutorError = ProverError;
    type Error = ProverError;

    async fn save(
        &mut self,
        job: ProverJobMeta,
        result: Result<Vec<u8>, JobError<ProverError>>,
    ) -> Result<(), ProverError> {
        match result {
            Ok(proof) => self.save_proof(&job, proof).await,
            Err(error) => record_failure(&self.dal, &job, job_failure_kind(&error), &error).await,
        }
    }

    /// Proofs that finished together: stored concurrently, completed in one transaction
    /// (`crate::completion`).
    async fn save_many(
        &mut self,
        finished: Vec<FinishedJob<Self>>,
    ) -> Vec<Result<(), ProverError>> {
        crate::completion::save_proved_jobs(&self.dal, &self.store, finished).await
    }
}
