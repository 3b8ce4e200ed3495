//! Stores an aggregation job's witnesses and records the outcome in the database.
//!
//! Blobs first, database last: every witness the inserted prover jobs point to exists before
//! the transaction that makes them visible. Keys are deterministic, so a job re-executed after
//! a requeue or a crash overwrites the same blobs, and the inserts are idempotent.

use futures::stream::{self, StreamExt, TryStreamExt};
use tracing::{info, warn};
use zkfleet_dal::{CompleteOutcome, Dal, DalError, JobRef, NewAggregationProverJob};
use zkfleet_runner::traits::{JobError, JobSaver};
use zkfleet_store::{CircuitWitnessBytes, Store, StoreError};

use super::{AggregationError, AggregationJobMeta, WitnessRound};
use crate::failure::job_failure_kind;
use crate::metrics::{self, JobOutcome};
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

/// Stores witnesses and completes or fails the jobs of one aggregation round.
pub struct AggregationSaver<R> {
    round: R,
    dal: Dal,
    store: Store,
    max_in_flight: usize,
}

impl<R: WitnessRound> AggregationSaver<R> {
    /// The saver of `round`'s jobs: witnesses to `store`, at most `max_in_flight` uploads at
    /// once; outcomes to `dal`.
    pub fn new(round: R, dal: Dal, store: Store, max_in_flight: usize) -> Self {
        Self {
            round,
            dal,
            store,
            max_in_flight,
        }
    }

    /// Uploads the witnesses, at most `max_in_flight` at a time, and returns the prover jobs
    /// to insert, in sequence order.
    async fn store_witnesses(
        &self,
        meta: &AggregationJobMeta,
        witnesses: Vec<Vec<u8>>,
    ) -> Result<Vec<NewAggregationProverJob>, StoreError> {
        let uploads = (0u32..).zip(witnesses).map(|(sequence, bytes)| async move {
            let key = meta.witness_key(sequence);
            let path = self
                .store
                .put(&key, &CircuitWitnessBytes::new(bytes))
                .await?;
            metrics::circuit_uploaded(R::ROUND);
            Ok::<_, StoreError>(NewAggregationProverJob {
                sequence_number: sequence,
                circuit_blob_key: path,
            })
        });
        let mut jobs: Vec<NewAggregationProverJob> = stream::iter(uploads)
            .buffer_unordered(self.max_in_flight.max(1))
            .try_collect()
            .await?;
        jobs.sort_by_key(|job| job.sequence_number);
        Ok(jobs)
    }

    async fn fail(
        &self,
        meta: &AggregationJobMeta,
        kind: FailureKind,
        reason: &str,
    ) -> Result<(), SaveError> {
        warn!(job = %meta, failure = %kind, %reason, "{} witness job failed", R::ROUND);
        self.dal
            .record_failure(meta.job, kind, reason)
            .await
            .map_err(|source| SaveError::Dal {
                job: meta.job,
                source,
            })?;
        metrics::job_finished(R::ROUND, JobOutcome::Failed);
        Ok(())
    }

    async fn complete(
        &self,
        meta: &AggregationJobMeta,
        prover_jobs: Vec<NewAggregationProverJob>,
    ) -> Result<(), SaveError> {
        let elapsed = meta.picked_at.elapsed();
        let circuits = prover_jobs.len();
        match self
            .round
            .complete(&self.dal, meta, prover_jobs, elapsed)
            .await
        {
            Ok(CompleteOutcome::Completed { .. }) => {
                metrics::job_finished(R::ROUND, JobOutcome::Successful);
                metrics::generation_time(R::ROUND, elapsed);
                info!(
                    job = %meta,
                    circuits,
                    seconds = elapsed.as_secs_f64(),
                    "{} witness generated",
                    R::ROUND
                );
                Ok(())
            }
            Ok(CompleteOutcome::NotInProgress { status }) => {
                // Requeued while we worked and finished (or failed) by someone else: our
                // blobs overwrote theirs with identical bytes, the rows are theirs.
                metrics::job_finished(R::ROUND, JobOutcome::Superseded);
                warn!(job = %meta, %status, "{} witness job was no longer in progress; nothing recorded", R::ROUND);
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
            Err(source) => Err(SaveError::Dal {
                job: meta.job,
                source,
            }),
        }
    }
}

impl<R: WitnessRound> JobSaver for AggregationSaver<R> {
    type Output = Vec<Vec<u8>>;
    type Metadata = AggregationJobMeta;
    type ExecutorError = AggregationError;
    type Error = SaveError;

    async fn save(
        &mut self,
        meta: AggregationJobMeta,
        result: Result<Vec<Vec<u8>>, JobError<AggregationError>>,
    ) -> Result<(), SaveError> {
        match result {
            Ok(witnesses) => match self.store_witnesses(&meta, witnesses).await {
                Ok(prover_jobs) => self.complete(&meta, prover_jobs).await,
                // The store failed after its retries: fail the job so that the attempt is
                // counted and the reason visible; the requeuer retries it.
                Err(e) => {
                    self.fail(
                        &meta,
                        FailureKind::Transient,
                        &format!("storing the {} witnesses: {e}", R::ROUND),
                    )
                    .await
                }
            },
            Err(e) => {
                let kind = job_failure_kind(&e, AggregationError::failure_kind);
                self.fail(&meta, kind, &e.to_string()).await
            }
        }
    }
}
