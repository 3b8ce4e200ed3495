//! Stores what a basic job produced and records the outcome in the database.
//!
//! Blobs first, database last: every blob the inserted jobs point to exists before the
//! transaction that makes the jobs visible. Keys are deterministic, so a job re-executed after
//! a requeue overwrites the same blobs, and the database inserts are idempotent.

use std::sync::Arc;

use tracing::{debug, info, warn};
use zkfleet_circuits::basic::BatchPlan;
use zkfleet_circuits::pipeline::TypeSummary;
use zkfleet_dal::{BasicWitnessOutput, CompleteOutcome, Dal, DalError, JobRef, NewLeafWitnessJob};
use zkfleet_runner::traits::{JobError, JobSaver};
use zkfleet_store::{ObjectKey, Store};
use zkfleet_types::{BatchPublicOutput, L1BatchId};

use super::executor::BasicWitnessError;
use super::upload::{upload_circuits, UploadError};
use super::{BasicArtifacts, BasicJobMeta, ROUND};
use crate::failure::job_failure_kind;
use crate::metrics::{self, JobOutcome};
use zkfleet_blobs::{AuxOutput, SchedulerPartialInput, StoredClosedForms};
use zkfleet_types::FailureKind;

/// Why the saver could not record a job's outcome. The job stays `in_progress` and the
/// requeuer hands it out again after its timeout.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The job database failed while completing or failing the job.
    #[error("recording the outcome of {job}: {source}")]
    Dal {
        /// The job.
        job: JobRef,
        /// The job database's error.
        #[source]
        source: DalError,
    },
}

/// Stores basic artifacts and completes or fails basic jobs.
pub struct BasicSaver {
    dal: Dal,
    store: Store,
    max_circuits_in_flight: usize,
}

impl BasicSaver {
    /// The saver of basic jobs: artifacts to `store`, at most `max_circuits_in_flight` circuit
    /// uploads at once; outcomes to `dal`.
    pub fn new(dal: Dal, store: Store, max_circuits_in_flight: usize) -> Self {
        Self {
            dal,
            store,
            max_circuits_in_flight,
        }
    }

    /// Writes every blob of the batch and returns what the completing transaction inserts.
    /// The circuits and the per-type blobs (closed forms, the scheduler's input, the aux
    /// output) are written at the same time: neither needs the other, and both are written
    /// before the transaction that makes the jobs visible.
    async fn store_artifacts(
        &self,
        batch: L1BatchId,
        artifacts: BasicArtifacts,
    ) -> Result<BasicWitnessOutput, UploadError> {
        let BasicArtifacts {
            public_output,
            executed,
            plan,
            types,
        } = artifacts;
        // Shared with the blocking tasks that build the circuits' witnesses.
        let (executed, plan) = (Arc::new(executed), Arc::new(plan));
        let circuits = upload_circuits(
            &self.store,
            batch,
            &executed,
            &plan,
            self.max_circuits_in_flight,
        );
        let per_type = self.store_per_type(batch, &plan, public_output, types);
        let (uploaded, (leaf_jobs, scheduler_partial_input_blob_key)) =
            futures::try_join!(circuits, per_type)?;
        debug!(%batch, circuits = uploaded.jobs.len(), peak_encoded = uploaded.peak_encoded, "basic circuits uploaded");
        Ok(BasicWitnessOutput {
            prover_jobs: uploaded.jobs,
            leaf_jobs,
            scheduler_partial_input_blob_key,
        })
    }

    /// Stores the closed forms of every type present (those with a leaf job to read them;
    /// absent types are recorded in the scheduler's summary with zero instances), the
    /// scheduler's partial input and the aux output. Returns the leaf jobs and the scheduler
    /// input's key.
    async fn store_per_type(
        &self,
        batch: L1BatchId,
        plan: &BatchPlan,
        public_output: BatchPublicOutput,
        types: Vec<TypeSummary>,
    ) -> Result<(Vec<NewLeafWitnessJob>, String), UploadError> {
        let mut leaf_jobs = Vec::new();
        for forms in plan.closed_forms.iter().filter(|f| !f.instances.is_empty()) {
            let key = ObjectKey::ClosedFormInputs {
                chain: batch.chain_id,
                batch: batch.batch_number,
                circuit: forms.circuit,
            };
            let path = self
                .store
                .put(&key, &StoredClosedForms(forms.clone()))
                .await?;
            leaf_jobs.push(NewLeafWitnessJob {
                circuit_id: forms.circuit,
                number_of_basic_circuits: u32::try_from(forms.instances.len()).unwrap_or(u32::MAX),
                closed_form_inputs_blob_key: path,
            });
        }

        let scheduler_input = SchedulerPartialInput {
            public_output,
            geometry: plan.geometry,
            types,
        };
        let scheduler_key = ObjectKey::SchedulerInput {
            chain: batch.chain_id,
            batch: batch.batch_number,
        };
        let scheduler_partial_input_blob_key =
            self.store.put(&scheduler_key, &scheduler_input).await?;
        let aux_key = ObjectKey::AuxOutput {
            chain: batch.chain_id,
            batch: batch.batch_number,
        };
        self.store
            .put(&aux_key, &AuxOutput { public_output })
            .await?;
        Ok((leaf_jobs, scheduler_partial_input_blob_key))
    }

    async fn fail(
        &self,
        meta: &BasicJobMeta,
        kind: FailureKind,
        reason: &str,
    ) -> Result<(), SaveError> {
        let job = JobRef::WitnessInput(meta.batch);
        warn!(batch = %meta.batch, attempts = meta.attempts, failure = %kind, %reason, "basic witness job failed");
        self.dal
            .record_failure(job, kind, reason)
            .await
            .map_err(|source| SaveError::Dal { job, source })?;
        metrics::job_finished(ROUND, JobOutcome::Failed);
        Ok(())
    }

    async fn complete(
        &self,
        meta: &BasicJobMeta,
        output: &BasicWitnessOutput,
    ) -> Result<(), SaveError> {
        let job = JobRef::WitnessInput(meta.batch);
        let elapsed = meta.picked_at.elapsed();
        match self
            .dal
            .complete_basic_witness_job(meta.batch, output, elapsed)
            .await
        {
            Ok(CompleteOutcome::Completed { .. }) => {
                metrics::job_finished(ROUND, JobOutcome::Successful);
                metrics::generation_time(ROUND, elapsed);
                info!(
                    batch = %meta.batch,
                    circuits = output.prover_jobs.len(),
                    circuit_types = output.leaf_jobs.len(),
                    seconds = elapsed.as_secs_f64(),
                    "basic witness generated"
                );
                Ok(())
            }
            Ok(CompleteOutcome::NotInProgress { status }) => {
                // Requeued while we worked and finished (or failed) by someone else: our
                // blobs overwrote theirs with identical bytes, the rows are theirs.
                metrics::job_finished(ROUND, JobOutcome::Superseded);
                warn!(batch = %meta.batch, %status, "basic witness job was no longer in progress; nothing recorded");
                Ok(())
            }
            // A generator bug the database refused by name: record it on the job instead of
            // leaving it in progress to be retried into the same refusal.
            Err(DalError::InvalidInput(reason)) => {
                self.fail(
                    meta,
                    FailureKind::Permanent,
                    &format!("the job database refused the output: {reason}"),
                )
                .await
            }
            Err(source) => Err(SaveError::Dal { job, source }),
        }
    }
}

impl JobSaver for BasicSaver {
    type Output = BasicArtifacts;
    type Metadata = BasicJobMeta;
    type ExecutorError = BasicWitnessError;
    type Error = SaveError;

    async fn save(
        &mut self,
        meta: BasicJobMeta,
        result: Result<BasicArtifacts, JobError<BasicWitnessError>>,
    ) -> Result<(), SaveError> {
        match result {
            Ok(artifacts) => match self.store_artifacts(meta.batch, artifacts).await {
                Ok(output) => self.complete(&meta, &output).await,
                // The store failed after its retries: fail the job so that the attempt is
                // counted and the reason visible; the requeuer retries it.
                Err(e) => {
                    self.fail(
                        &meta,
                        FailureKind::Transient,
                        &format!("storing the basic artifacts: {e}"),
                    )
                    .await
                }
            },
            Err(e) => {
                let kind = job_failure_kind(&e, BasicWitnessError::failure_kind);
                self.fail(&meta, kind, &e.to_string()).await
            }
        }
    }
}
