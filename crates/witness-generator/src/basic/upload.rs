//! Builds a batch's circuit witnesses and streams them to the store, a bounded number at once.
//!
//! A batch's circuits are never all in memory: each planned instance is encoded only when an
//! upload slot is free, its bytes move into the upload and are freed when the upload ends. At
//! most `max_in_flight` encoded circuits exist at any moment, whatever the batch's size, and
//! the connections opened to the store stay bounded. (The executed batch the circuits are
//! built from stays in memory for the whole upload: it is the source of every circuit.)
//!
//! Encoding one instance (copying digests into a witness struct, a few Merkle hashes for the
//! deferred fees, serializing) is about half a millisecond, 0.04 CPU-s for the 100 circuits of
//! a 1,024-operation batch: each upload builds its circuit on tokio's blocking pool first, so
//! that the uploads in flight build theirs on as many cores, rather than one after another on
//! the runtime thread that polls them all (`buffer_unordered` polls its futures from one
//! task). An encoded circuit is counted from its encoding until its upload ends, so "encoded"
//! and "being uploaded" stay the same set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

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
    /// Building an instance's witness panicked (a bug of the circuits crate): the job fails
    /// with the message rather than the saver's task.
    #[error("building the witness of {circuit} circuit {sequence} panicked: {message}")]
    EncodePanicked {
        /// The instance's circuit.
        circuit: CircuitId,
        /// The instance's sequence number.
        sequence: u32,
        /// The panic's message.
        message: String,
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
/// `max_in_flight` at a time, each built on the blocking pool. The first failure ends the
/// uploads still running.
pub async fn upload_circuits(
    store: &Store,
    batch: L1BatchId,
    executed: &Arc<ExecutedBatch>,
    plan: &Arc<BatchPlan>,
    max_in_flight: usize,
) -> Result<Uploaded, UploadError> {
    let now = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let (now, peak) = (&now, &peak);
    // The closure takes an index rather than `&PlannedInstance`: a closure over a borrowed
    // argument returning a future trips rustc's higher-ranked `Send` check in the saver.
    let upload = |index: usize| {
        let (executed, plan) = (Arc::clone(executed), Arc::clone(plan));
        let (circuit, sequence) = {
            let planned = &plan.instances[index];
            (planned.circuit(), planned.sequence)
        };
        async move {
            let encoded =
                tokio::task::spawn_blocking(move || plan.encode(&executed, &plan.instances[index]))
                    .await
                    .map_err(|e| UploadError::EncodePanicked {
                        circuit,
                        sequence,
                        message: e.to_string(),
                    })?;
            let instance = encoded.map_err(|source| UploadError::Encode {
                circuit,
                sequence,
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
    // `buffer_unordered` polls at most `max_in_flight` of these futures, and a future has its
    // circuit encoded on its first poll: that is the bound on encoded circuits.
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
