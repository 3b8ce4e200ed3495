//! Builds a batch's circuit witnesses and streams them to the store, a bounded number at once.
//!
//! A batch's circuits are never all in memory: each planned instance is encoded only when an
//! upload slot is free, its bytes move into the upload and are freed when the upload ends. At
//! most `max_in_flight` encoded circuits exist at any moment, whatever the batch's size, and
//! the connections opened to the store stay bounded. (The executed batch the circuits are
//! built from stays in memory for the whole upload: it is the source of every circuit.)
//!
//! Encoding one instance is a few hundred microseconds of copying digests into a witness
//! struct and serializing it, done inline on the upload's task: short enough not to stall the
//! runtime, and it keeps "encoded" and "being uploaded" the same set.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::stream::{self, StreamExt, TryStreamExt};
use zkfleet_circuits::basic::BatchPlan;
use zkfleet_circuits::CircuitError;
use zkfleet_dal::NewBasicProverJob;
use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, Store, StoreError};
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use crate::metrics;

/// Why a batch's circuits could not all be stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// An instance's witness could not be built from the plan.
    #[error("building the witness of {circuit} circuit {sequence}: {source}")]
    Encode {
        /// The instance's circuit.
        circuit: CircuitId,
        /// The instance's sequence number.
        sequence: u32,
        /// The circuits crate's error.
        #[source]
        source: CircuitError,
    },
    /// The store failed after its retries.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the uploads produced.
#[derive(Debug)]
pub struct Uploaded {
    /// The prover jobs to insert, in (circuit, sequence) order.
    pub jobs: Vec<NewBasicProverJob>,
    /// Most encoded circuits held in memory at once during the uploads (at most the bound).
    pub peak_encoded: usize,
}

/// Counts the encoded circuits alive: one is counted from its encoding until its bytes are
/// dropped, however its upload ends.
struct Held<'a> {
    now: &'a AtomicUsize,
}

impl<'a> Held<'a> {
    fn new(now: &'a AtomicUsize, peak: &AtomicUsize) -> Self {
        let held = now.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(held, Ordering::SeqCst);
        Self { now }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Encodes and uploads every instance of `plan` (made from `executed`), at most
/// `max_in_flight` at a time. The first failure ends the uploads still running.
pub async fn upload_circuits(
    store: &Store,
    batch: L1BatchId,
    executed: &ExecutedBatch,
    plan: &BatchPlan,
    max_in_flight: usize,
) -> Result<Uploaded, UploadError> {
    let now = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let (now, peak) = (&now, &peak);
    // The closure takes an index rather than `&PlannedInstance`: a closure over a borrowed
    // argument returning a future trips rustc's higher-ranked `Send` check in the saver.
    let upload = |index: usize| {
        let planned = &plan.instances[index];
        async move {
            let instance =
                plan.encode(executed, planned)
                    .map_err(|source| UploadError::Encode {
                        circuit: planned.circuit(),
                        sequence: planned.sequence,
                        source,
                    })?;
            let held = Held::new(now, peak);
            let key = ObjectKey::basic_circuit_witness(batch, instance.circuit, instance.sequence);
            let path = store
                .put(&key, &CircuitWitnessBytes::new(instance.witness))
                .await?;
            drop(held);
            metrics::circuit_uploaded(AggregationRound::Basic);
            Ok::<_, UploadError>(NewBasicProverJob {
                circuit_id: instance.circuit,
                sequence_number: instance.sequence,
                circuit_blob_key: path,
            })
        }
    };
    // `buffer_unordered` polls at most `max_in_flight` of these futures, and a future encodes
    // its circuit on its first poll: that is the bound on encoded circuits.
    let mut jobs: Vec<NewBasicProverJob> = stream::iter(0..plan.instances.len())
        .map(upload)
        .buffer_unordered(max_in_flight.max(1))
        .try_collect()
        .await?;
    jobs.sort_by_key(|job| (job.circuit_id, job.sequence_number));
    Ok(Uploaded {
        jobs,
        peak_encoded: peak.load(Ordering::SeqCst),
    })
}
