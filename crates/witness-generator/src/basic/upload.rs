//! Streams a batch's circuit witnesses to the store with a bounded number in flight.
//!
//! The instances are consumed one by one: an instance's bytes move into its upload and are
//! freed when the upload ends, and at most `max_in_flight` uploads (each holding its encoded
//! blob) run at once. So the uploads never hold more than `max_in_flight` circuits on top of
//! the instances not yet started, and the connections opened to the store stay bounded.

use futures::stream::{self, StreamExt, TryStreamExt};
use zkfleet_circuits::basic::BasicCircuitInstance;
use zkfleet_dal::NewBasicProverJob;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, Store, StoreError};
use zkfleet_types::{AggregationRound, L1BatchId};

use crate::metrics;

/// The deterministic key of a basic circuit: a re-executed job overwrites the same blob.
pub fn circuit_key(batch: L1BatchId, instance: &BasicCircuitInstance) -> ObjectKey {
    ObjectKey::CircuitWitness {
        chain: batch.chain_id,
        batch: batch.batch_number,
        round: AggregationRound::Basic,
        circuit: instance.circuit,
        depth: 0,
        sequence: instance.sequence,
    }
}

/// Uploads every instance, at most `max_in_flight` at a time, and returns the prover jobs to
/// insert, in (circuit, sequence) order. The first failure ends the uploads still running.
pub async fn upload_circuits(
    store: &Store,
    batch: L1BatchId,
    instances: Vec<BasicCircuitInstance>,
    max_in_flight: usize,
) -> Result<Vec<NewBasicProverJob>, StoreError> {
    let uploads = instances.into_iter().map(|instance| async move {
        let key = circuit_key(batch, &instance);
        let path = store
            .put(&key, &CircuitWitnessBytes::new(instance.witness))
            .await?;
        metrics::circuit_uploaded(AggregationRound::Basic);
        Ok::<_, StoreError>(NewBasicProverJob {
            circuit_id: instance.circuit,
            sequence_number: instance.sequence,
            circuit_blob_key: path,
        })
    });
    let mut jobs: Vec<NewBasicProverJob> = stream::iter(uploads)
        .buffer_unordered(max_in_flight.max(1))
        .try_collect()
        .await?;
    jobs.sort_by_key(|job| (job.circuit_id, job.sequence_number));
    Ok(jobs)
}
