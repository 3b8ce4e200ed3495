//! Witness-vector generators: pick a prover job, load its circuit blob, run witness generation
//! on a CPU core, and hand the vector to the prover over the shared bounded channel.
//!
//! A heavy and a light generator differ only in the [`ProverJobClass`] they pick with: heavy
//! ones take heavy jobs first and fall back to light ones, light ones never take a heavy job
//! (the database query decides; see `docs/database.md`).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use zkfleet_circuits::WitnessVector;
use zkfleet_dal::{Dal, HeavySet, ProverJobClass};
use zkfleet_runner::{Executor, JobError, JobPicker, JobSaver};
use zkfleet_store::{CircuitWitnessBytes, Store};
use zkfleet_types::ProtocolSemanticVersion;

use crate::error::ProverError;
use crate::failure::{job_failure_kind, record_failure};
use crate::job::ProverJobMeta;
use crate::metrics;
use crate::registry::CircuitRegistry;

/// What travels from a generator to the prover.
pub type ProvingTask = (ProverJobMeta, WitnessVector);

/// A picked job's circuit blob, or why it could not be loaded. A load failure is not a picker
/// error (that would leave the job in progress until the requeuer's timeout): it goes through
/// the executor to the saver, which fails the job at once with the cause.
pub type LoadedBlob = Result<Bytes, ProverError>;

/// Picks prover jobs of one class and loads their circuit blobs.
pub struct WvgPicker {
    pub(crate) dal: Dal,
    pub(crate) store: Store,
    pub(crate) version: ProtocolSemanticVersion,
    pub(crate) class: ProverJobClass,
    pub(crate) heavy: HeavySet,
    pub(crate) picked_by: String,
    /// `heavy` or `light`, for logs.
    pub(crate) runner: &'static str,
}

impl WvgPicker {
    async fn load(&self, job: &ProverJobMeta, circuit_blob_key: &str) -> LoadedBlob {
        let key = job.circuit_key(circuit_blob_key)?;
        let blob: CircuitWitnessBytes = self
            .store
            .get(&key)
            .await
            .map_err(ProverError::LoadCircuit)?;
        Ok(blob.into_bytes())
    }
}

impl JobPicker for WvgPicker {
    type Input = LoadedBlob;
    type Metadata = ProverJobMeta;
    type Error = ProverError;

    async fn pick(&mut self) -> Result<Option<(LoadedBlob, ProverJobMeta)>, ProverError> {
        let Some(job) = self
            .dal
            .pick_prover_job(self.version, self.class, &self.heavy, &self.picked_by)
            .await?
        else {
            return Ok(None);
        };
        let meta = ProverJobMeta::from_job(&job, self.runner);
        tracing::debug!(job = %meta, attempts = meta.attempts, runner = self.runner, "picked");
        let blob = self.load(&meta, &job.circuit_blob_key).await;
        Ok(Some((blob, meta)))
    }
}

/// Runs witness generation with the circuit data loaded at start.
pub struct WvgExecutor {
    pub(crate) registry: Arc<CircuitRegistry>,
}

impl Executor for WvgExecutor {
    type Input = LoadedBlob;
    type Output = WitnessVector;
    type Metadata = ProverJobMeta;
    type Error = ProverError;

    fn execute(&self, blob: LoadedBlob, job: &ProverJobMeta) -> Result<WitnessVector, ProverError> {
        let blob = blob?;
        let prover = self.registry.get(job.round, job.circuit)?;
        let started = Instant::now();
        let witness_vector = prover.witness_vector(&blob)?;
        metrics::witness_vector_time(job, started.elapsed());
        Ok(witness_vector)
    }
}

/// Hands witness vectors to the prover; fails the jobs whose vector could not be made.
pub struct WvgSaver {
    pub(crate) dal: Dal,
    pub(crate) to_prover: mpsc::Sender<ProvingTask>,
}

impl JobSaver for WvgSaver {
    type Output = WitnessVector;
    type Metadata = ProverJobMeta;
    type ExecutorError = ProverError;
    type Error = ProverError;

    async fn save(
        &mut self,
        job: ProverJobMeta,
        result: Result<WitnessVector, JobError<ProverError>>,
    ) -> Result<(), ProverError> {
        match result {
            Ok(witness_vector) => {
                // Blocks while the prover is busy and the channel full: back-pressure that
                // keeps this generator from picking ahead of the prover.
                let started = Instant::now();
                self.to_prover
                    .send((job, witness_vector))
                    .await
                    .map_err(|_| ProverError::ProverGone)?;
                metrics::channel_wait(started.elapsed());
                Ok(())
            }
            Err(error) => record_failure(&self.dal, &job, job_failure_kind(&error), &error).await,
        }
    }
}
