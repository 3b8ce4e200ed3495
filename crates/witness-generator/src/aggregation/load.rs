//! Loading what an aggregation job reads: the proofs it aggregates (bounded concurrency,
//! sequence order) and round 0's blobs. Every failure names the blob and the job's part in it;
//! nothing here panics on a blob's contents.

use futures::stream::{self, StreamExt, TryStreamExt};
use zkfleet_circuits::basic::ClosedFormInputs;
use zkfleet_dal::ProofRef;
use zkfleet_store::{ObjectKey, ProofBytes, Store};
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use super::keys::{closed_forms_key, describe_proof, proof_key, scheduler_input_key};
use super::AggregationError;
use crate::metrics;
use zkfleet_blobs::{SchedulerPartialInput, StoredClosedForms};

/// The bytes of `proofs`, in the order given, with at most `max_in_flight` reads at once (each
/// holds one proof). The keys must have been checked (`keys::check_proof_refs`).
pub async fn load_proofs(
    store: &Store,
    batch: L1BatchId,
    round: AggregationRound,
    layer: &str,
    proofs: &[ProofRef],
    max_in_flight: usize,
) -> Result<Vec<Vec<u8>>, AggregationError> {
    // Owned (key, description) pairs: a stream over closures taking `&ProofRef` would make the
    // future not provably `Send` (a higher-ranked lifetime the compiler cannot see through).
    let targets: Vec<(ObjectKey, String)> = proofs
        .iter()
        .map(|proof| (proof_key(batch, proof), describe_proof(layer, proof)))
        .collect();
    let reads = targets.into_iter().map(|(key, what)| async move {
        let bytes =
            store
                .get::<ProofBytes>(&key)
                .await
                .map_err(|source| AggregationError::Load {
                    what,
                    source: Box::new(source),
                })?;
        metrics::proof_loaded(round);
        Ok::<_, AggregationError>(Vec::from(bytes.into_bytes()))
    });
    // `buffered` (not `buffer_unordered`): the results come out in sequence order, which is
    // what a leaf or node aggregates in.
    stream::iter(reads)
        .buffered(max_in_flight.max(1))
        .try_collect()
        .await
}

/// Round 0's closed forms of `circuit` in `batch` (the leaf round's input).
pub async fn load_closed_forms(
    store: &Store,
    batch: L1BatchId,
    circuit: CircuitId,
) -> Result<ClosedFormInputs, AggregationError> {
    let forms = store
        .get::<StoredClosedForms>(&closed_forms_key(batch, circuit))
        .await
        .map_err(|source| AggregationError::Load {
            what: format!(
                "the closed forms of circuit {} {}",
                circuit.0,
                circuit.name()
            ),
            source: Box::new(source),
        })?
        .0;
    if forms.circuit != circuit {
        return Err(AggregationError::Inconsistent(format!(
            "the closed forms stored for circuit {} are of circuit {}",
            circuit.0, forms.circuit.0
        )));
    }
    Ok(forms)
}

/// Round 0's scheduler partial input of `batch`, checked to be this batch's and to summarise
/// every basic type in circuit id order.
pub async fn load_partial_input(
    store: &Store,
    batch: L1BatchId,
) -> Result<SchedulerPartialInput, AggregationError> {
    let input: SchedulerPartialInput =
        store
            .get(&scheduler_input_key(batch))
            .await
            .map_err(|source| AggregationError::Load {
                what: "the scheduler partial input".to_owned(),
                source: Box::new(source),
            })?;
    let output = &input.public_output;
    if output.chain_id != batch.chain_id || output.batch_number != batch.batch_number {
        return Err(AggregationError::Inconsistent(format!(
            "the scheduler partial input of {batch} holds the output of batch {} of chain {}",
            output.batch_number, output.chain_id
        )));
    }
    let types: Vec<CircuitId> = input.types.iter().map(|t| t.circuit_id).collect();
    if types != CircuitId::BASIC_TYPES {
        return Err(AggregationError::Inconsistent(format!(
            "the scheduler partial input of {batch} summarises circuits {types:?}, not every \
             basic type in order ({:?})",
            CircuitId::BASIC_TYPES
        )));
    }
    Ok(input)
}
