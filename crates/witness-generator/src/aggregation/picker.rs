//! Picks an aggregation round's next job and loads its blobs.

use tracing::{info, warn};
use zkfleet_dal::{Dal, DalError};
use zkfleet_runner::traits::{JobPicker, Picked};
use zkfleet_store::Store;
use zkfleet_types::ProtocolSemanticVersion;

use super::{AggregationJobMeta, WitnessRound};
use crate::metrics::{self, JobOutcome};

/// Picks jobs of one aggregation round and protocol version.
pub struct AggregationPicker<R> {
    round: R,
    dal: Dal,
    store: Store,
    version: ProtocolSemanticVersion,
    picked_by: String,
    max_in_flight: usize,
}

impl<R: WitnessRound> AggregationPicker<R> {
    pub fn new(
        round: R,
        dal: Dal,
        store: Store,
        version: ProtocolSemanticVersion,
        picked_by: String,
        max_in_flight: usize,
    ) -> Self {
        Self {
            round,
            dal,
            store,
            version,
            picked_by,
            max_in_flight,
        }
    }
}

impl<R: WitnessRound> JobPicker for AggregationPicker<R> {
    type Input = R::Loaded;
    type Metadata = AggregationJobMeta;
    type Error = DalError;

    /// A job whose row or blobs are unusable is marked failed with the cause at once and the
    /// next job is picked: the runner never holds a job it cannot run. A key that is not its
    /// own, a proof missing or corrupt, counts that disagree end the job
    /// (`failed_permanently`); the store down after its retries is retried while attempts last.
    async fn pick(&mut self) -> Picked<Self> {
        loop {
            let Some(job) = self
                .round
                .pick(&self.dal, self.version, &self.picked_by)
                .await?
            else {
                return Ok(None);
            };
            let meta = self.round.meta(&job);
            match self
                .round
                .load(&self.store, job, &meta, self.max_in_flight)
                .await
            {
                Ok(loaded) => {
                    info!(job = %meta, "picked {} witness job", R::ROUND);
                    return Ok(Some((loaded, meta)));
                }
                Err(error) => {
                    let reason = error.to_string();
                    let kind = error.failure_kind();
                    warn!(job = %meta, failure = %kind, %reason, "{} witness job failed before execution", R::ROUND);
                    self.dal.record_failure(meta.job, kind, &reason).await?;
                    metrics::job_finished(R::ROUND, JobOutcome::Failed);
                }
            }
        }
    }
}
