//! The prover stage: receives witness vectors from the generators, proves and verifies them,
//! stores each proof and completes its job. Completion queues the dependent witness job in the
//! same transaction.
//!
//! With one proof at a time (the 2-core default) a proof runs on rayon's global pool, every
//! core. With several at once, each proof runs on a rayon pool of its own with the host's cores
//! divided between them ([`ProofPools`]): measured on the 16-core device host, four proofs
//! sharing the global pool spent as much CPU as one at a time (a 2^13 plonky2 proof does not
//! keep 16 threads busy, and idle rayon threads spin), so the cores bought no throughput.

use std::sync::{Arc, Mutex};
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

/// One rayon pool per proof slot, so that concurrent proofs do not share (and spin on) one
/// pool of every core. Built only when the prover runs more than one proof at once.
pub(crate) struct ProofPools {
    idle: Mutex<Vec<rayon::ThreadPool>>,
}

impl ProofPools {
    /// `slots` pools of `threads_per_proof` threads each; `None` for a single slot (the global
    /// pool already is that slot's pool).
    pub(crate) fn new(slots: usize, threads_per_proof: usize) -> Result<Option<Self>, ProverError> {
        if slots <= 1 {
            return Ok(None);
        }
        let pools = (0..slots)
            .map(|slot| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads_per_proof.max(1))
                    .thread_name(move |i| format!("proof-{slot}-{i}"))
                    .build()
                    .map_err(|e| {
                        ProverError::Config(format!("cannot start proof thread pool {slot}: {e}"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self {
            idle: Mutex::new(pools),
        }))
    }

    /// Runs `prove` on an idle pool. The runner never executes more proofs at once than there
    /// are slots, so one is always idle; should none be (a poisoned lock, a runner change), the
    /// proof runs on the global pool rather than waiting.
    fn run<T: Send>(&self, prove: impl FnOnce() -> T + Send) -> T {
        let pool = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match pool {
            Some(pool) => {
                let result = pool.install(prove);
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(pool);
                }
                result
            }
            None => prove(),
        }
    }
}

/// Proves and verifies with the circuit data loaded at start.
pub struct ProverExecutor {
    pub(crate) registry: Arc<CircuitRegistry>,
    /// Per-proof thread pools when several proofs run at once ([`ProofPools`]).
    pub(crate) pools: Option<ProofPools>,
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
        let proof = match &self.pools {
            Some(pools) => pools.run(|| prover.prove(witness_vector))?,
            None => prover.prove(witness_vector)?,
        };
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

#[cfg(test)]
mod tests {
    use super::ProofPools;

    #[test]
    fn one_slot_proves_on_the_global_pool() {
        assert!(ProofPools::new(1, 16).expect("no pools to build").is_none());
    }

    #[test]
    fn each_proof_runs_on_a_pool_of_its_share_of_the_cores() {
        let pools = ProofPools::new(3, 2)
            .expect("pools build")
            .expect("three slots get pools");
        // Inside a proof, rayon's parallel iterators (plonky2's) see the slot's pool.
        assert_eq!(pools.run(rayon::current_num_threads), 2);
        let name = pools.run(|| std::thread::current().name().map(str::to_owned));
        assert!(
            name.as_deref()
                .is_some_and(|name| name.starts_with("proof-")),
            "{name:?}"
        );
        // Three proofs at once each find an idle pool, and every pool comes back.
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| assert_eq!(pools.run(rayon::current_num_threads), 2));
            }
        });
        assert_eq!(pools.idle.lock().expect("lock").len(), 3);
    }
}
