//! Picks an aggregation round's next job and loads its blobs.

use tracing::info;
use zkfleet_dal::{Dal, DalError};
use zkfleet_runner::traits::{JobPicker, LoadedInput, Picked};
use zkfleet_store::Store;
use zkfleet_types::ProtocolSemanticVersion;

use super::{AggregationError, AggregationJobMeta, WitnessRound};

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
    /// A picker of `round`'s jobs of `version`, recording `picked_by` on each, reading the
    /// blobs from `store` with at most `max_in_flight` reads at once.
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
    type Input = LoadedInput<R::Loaded, AggregationError>;
    type Metadata = AggregationJobMeta;
    type Error = DalError;

    /// A job whose row or blobs are unusable goes on with the cause, as the runner's
    /// convention has it (`zkfleet_runner::JobPicker`): the executor returns it and the saver
    /// fails the job. A key that is not its own, a proof missing or corrupt, counts that
    /// disagree end the job (`failed_permanently`); the store down after its retries is
    /// retried while attempts last.
    async fn pick(&mut self) -> Picked<Self> {
        let Some(job) = self
            .round
            .pick(&self.dal, self.version, &self.picked_by)
            .await?
        else {
            return Ok(None);
        };
        let meta = self.round.meta(&job);
        let loaded = self
            .round
            .load(&self.store, job, &meta, self.max_in_flight)
            .await;
        match &loaded {
            Ok(_) => info!(job = %meta, "picked {} witness job", R::ROUND),
            Err(error) => {
                info!(job = %meta, %error, "picked {} witness job; its blobs cannot be loaded", R::ROUND)
            }
        }
        Ok(Some((loaded, meta)))
    }
}
