//! The compressor's job runner roles: pick a compression job and load its inputs, compress on
//! a blocking thread, store the final proof and complete the job — or fail it with the cause.
//!
//! A load failure is not a picker error (that would leave the job in progress until the
//! requeuer's timeout): it travels through the executor to the saver, which fails the job at
//! once. Every path out of the saver either completes or fails the job.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use zkfleet_blobs::AuxOutput;
use zkfleet_circuits::pipeline::{CompressedProof, CpuProver};
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_dal::{CompleteOutcome, Dal, JobRef, TransitionOutcome};
use zkfleet_runner::{Executor, JobError, JobPicker, JobSaver, LoadedInput};
use zkfleet_store::{ProofBytes, Store};
use zkfleet_types::api::{Base64Bytes, FinalProof};
use zkfleet_types::{BatchPublicOutput, FailureKind, ProtocolSemanticVersion};

use crate::backend::CommitProver;
use crate::error::CompressorError;
use crate::job::CompressionJobMeta;
use crate::metrics::{self, Outcome};

/// What a compression needs: the scheduler proof and the batch output native execution
/// computed.
#[derive(Debug, Clone)]
pub struct CompressionInput {
    /// The batch's scheduler proof (plonky2 encoding), as the circuit prover stored it.
    pub scheduler_proof: Bytes,
    /// The batch output native execution computed, written by basic witness generation: what
    /// the final proof must attest.
    pub aux_output: AuxOutput,
}

/// A picked job's inputs, or why they could not be loaded: the runner's convention for an
/// input that cannot be loaded (`zkfleet_runner::JobPicker`).
pub type LoadedCompressionInput = LoadedInput<CompressionInput, CompressorError>;

/// Picks compression jobs of one protocol version and loads their inputs.
pub struct CompressionPicker {
    pub(crate) dal: Dal,
    pub(crate) store: Store,
    pub(crate) version: ProtocolSemanticVersion,
    pub(crate) picked_by: String,
}

impl CompressionPicker {
    async fn load(&self, job: &CompressionJobMeta, proof_key: &str) -> LoadedCompressionInput {
        let key = job.scheduler_proof_key(proof_key)?;
        let proof: ProofBytes = self
            .store
            .get(&key)
            .await
            .map_err(CompressorError::LoadSchedulerProof)?;
        let aux_output: AuxOutput = self
            .store
            .get(&job.aux_output_key())
            .await
            .map_err(CompressorError::LoadAuxOutput)?;
        Ok(CompressionInput {
            scheduler_proof: proof.into_bytes(),
            aux_output,
        })
    }
}

impl JobPicker for CompressionPicker {
    type Input = LoadedCompressionInput;
    type Metadata = CompressionJobMeta;
    type Error = CompressorError;

    async fn pick(
        &mut self,
    ) -> Result<Option<(LoadedCompressionInput, CompressionJobMeta)>, CompressorError> {
        let Some(job) = self
            .dal
            .pick_compression_job(self.version, &self.picked_by)
            .await?
        else {
            return Ok(None);
        };
        let meta = CompressionJobMeta::from_job(&job);
        tracing::info!(job = %meta, attempts = meta.attempts, "picked");
        let input = self.load(&meta, &job.scheduler_proof_blob_key).await;
        Ok(Some((input, meta)))
    }
}

/// Runs the compression chain with the circuits loaded at start (the runner calls it on the
/// blocking thread pool; plonky2 uses every core while it proves).
pub struct CompressionExecutor {
    pub(crate) circuits: Arc<BatchCircuits>,
    /// The zkfleet prover over the backend's commitments (the batched CPU hasher's, or the
    /// GPU's where `backend = "gpu"` found one); `None`: plonky2's `prove` (`backend =
    /// "plonky2"`).
    pub(crate) prover: Option<Arc<CommitProver>>,
}

impl CompressionExecutor {
    /// The output the final proof must attest: native execution's, with the recursion-tree
    /// key digest of these circuits (basic witness generation has no circuits and leaves it
    /// zero).
    fn expected_output(&self, aux: &AuxOutput) -> BatchPublicOutput {
        let mut expected = aux.public_output;
        expected.recursion_tree_vk_digest = self.circuits.scheduler().tree_vk_digest();
        expected
    }
}

impl Executor for CompressionExecutor {
    type Input = LoadedCompressionInput;
    type Output = CompressedProof;
    type Metadata = CompressionJobMeta;
    type Error = CompressorError;

    fn execute(
        &self,
        input: LoadedCompressionInput,
        job: &CompressionJobMeta,
    ) -> Result<CompressedProof, CompressorError> {
        let input = input?;
        let started = Instant::now();
        let compressed = match &self.prover {
            None => self
                .circuits
                .compress_on(&input.scheduler_proof, CpuProver::Plonky2)
                .map_err(CompressorError::Compress)?,
            Some(prover) => prover.with_step_prover(
                |step| {
                    self.circuits
                        .compress_with(&input.scheduler_proof, Some(step))
                },
                CompressorError::Compress,
            )?,
        };
        metrics::compression_time(started.elapsed());
        let expected = self.expected_output(&input.aux_output);
        // The aux output is the job's batch's (its key is built from the job row): this also
        // refuses a scheduler proof of another batch or chain.
        if compressed.public_output != expected {
            return Err(CompressorError::OutputMismatch {
                expected: Box::new(expected),
                proved: Box::new(compressed.public_output),
            });
        }
        tracing::info!(job = %job, seconds = started.elapsed().as_secs_f64(),
            proof_bytes = compressed.proof_bytes.len(), "compressed");
        Ok(compressed)
    }
}

/// Stores final proofs and completes their jobs; fails the jobs that could not be compressed.
pub struct CompressionSaver {
    pub(crate) dal: Dal,
    pub(crate) store: Store,
}

impl CompressionSaver {
    async fn save_final_proof(
        &self,
        job: &CompressionJobMeta,
        compressed: CompressedProof,
    ) -> Result<(), CompressorError> {
        let size = compressed.proof_bytes.len();
        let final_proof = FinalProof {
            protocol_version: job.protocol_version,
            public_output: compressed.public_output,
            proof: Base64Bytes(compressed.proof_bytes),
        };
        let path = match self.store.put(&job.final_proof_key(), &final_proof).await {
            Ok(path) => path,
            // The proof is lost with this attempt: fail the job so that the requeuer hands it
            // out again instead of waiting for the in-progress timeout.
            Err(e) => {
                let error = CompressorError::StoreFinalProof(e);
                return record_failure(&self.dal, job, error.failure_kind(), &error).await;
            }
        };
        metrics::final_proof_size(size);
        match self
            .dal
            .complete_compression_job(job.batch, &path, job.picked_at.elapsed())
            .await?
        {
            CompleteOutcome::Completed { .. } => {
                metrics::job_finished(Outcome::Successful);
                tracing::info!(job = %job, final_proof = %path, proof_bytes = size,
                    seconds = job.picked_at.elapsed().as_secs_f64(), "final proof stored, job successful");
            }
            CompleteOutcome::NotInProgress { status } => {
                // Requeued after a timeout and finished by another compressor: the final proof
                // just written attests the same output, the row keeps the other's outcome.
                metrics::job_finished(Outcome::NotInProgress);
                tracing::info!(job = %job, status = %status,
                    "final proof stored but the job was no longer in progress; left as it is");
            }
        }
        Ok(())
    }
}

impl JobSaver for CompressionSaver {
    type Output = CompressedProof;
    type Metadata = CompressionJobMeta;
    type ExecutorError = CompressorError;
    type Error = CompressorError;

    async fn save(
        &mut self,
        job: CompressionJobMeta,
        result: Result<CompressedProof, JobError<CompressorError>>,
    ) -> Result<(), CompressorError> {
        match result {
            Ok(compressed) => self.save_final_proof(&job, compressed).await,
            Err(error) => {
                // A panic is transient: contained bugs or resource exhaustion, bounded by the
                // attempts.
                let kind = match &error {
                    JobError::Failed(e) => e.failure_kind(),
                    JobError::Panicked(_) => FailureKind::Transient,
                };
                record_failure(&self.dal, &job, kind, &error).await
            }
        }
    }
}

/// Marks the job failed with `{job identity}: {cause}`: `failed` when transient (the requeuer
/// retries it while it has attempts left), `failed_permanently` when no retry can help. A job
/// no longer in progress is left alone and logged. A database error is returned: the runner
/// counts it and the job stays in progress until the requeuer's timeout.
async fn record_failure(
    dal: &Dal,
    job: &CompressionJobMeta,
    kind: FailureKind,
    cause: &(dyn std::fmt::Display + Sync),
) -> Result<(), CompressorError> {
    let message = format!("{job}: {cause}");
    tracing::warn!(job = %job, attempts = job.attempts, error = %cause, failure = %kind, "compression job failed");
    match dal
        .record_failure(JobRef::Compression(job.batch), kind, &message)
        .await?
    {
        TransitionOutcome::Applied => metrics::job_finished(Outcome::Failed),
        TransitionOutcome::Unchanged { status } => {
            tracing::info!(job = %job, status = %status,
                "failed job was no longer in progress; its failure is not recorded");
            metrics::job_finished(Outcome::NotInProgress);
        }
    }
    Ok(())
}
