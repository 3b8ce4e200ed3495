//! Consistency checks on what witness generation hands to the database, done before any write
//! so that a bug in a generator is reported by name instead of leaving a batch that never
//! finishes (a leaf waiting for a proof that was never inserted).

use std::collections::{BTreeMap, BTreeSet};

use zkfleet_types::CircuitId;

use crate::error::{DalError, DalResult};
use crate::model::{BasicWitnessOutput, NewAggregationProverJob};

pub(crate) fn basic_witness_output(what: &str, output: &BasicWitnessOutput) -> DalResult<()> {
    let invalid = |reason: String| Err(DalError::InvalidInput(format!("{what}: {reason}")));
    if output.prover_jobs.is_empty() {
        return invalid("no basic prover jobs".to_owned());
    }
    if output.scheduler_partial_input_blob_key.is_empty() {
        return invalid("empty scheduler partial input blob key".to_owned());
    }
    let mut per_type: BTreeMap<CircuitId, u32> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for job in &output.prover_jobs {
        if !seen.insert((job.circuit_id, job.sequence_number)) {
            return invalid(format!(
                "two basic prover jobs of circuit {} with sequence number {}",
                job.circuit_id, job.sequence_number
            ));
        }
        if job.circuit_blob_key.is_empty() {
            return invalid(format!(
                "basic prover job of circuit {} sequence {} has an empty circuit blob key",
                job.circuit_id, job.sequence_number
            ));
        }
        *per_type.entry(job.circuit_id).or_default() += 1;
    }
    let mut leaf_types = BTreeSet::new();
    for leaf in &output.leaf_jobs {
        if !leaf_types.insert(leaf.circuit_id) {
            return invalid(format!("two leaf jobs for circuit {}", leaf.circuit_id));
        }
        let produced = per_type.get(&leaf.circuit_id).copied().unwrap_or(0);
        if produced != leaf.number_of_basic_circuits {
            return invalid(format!(
                "leaf job of circuit {} expects {} basic proofs but {} basic prover jobs of that \
                 circuit are inserted",
                leaf.circuit_id, leaf.number_of_basic_circuits, produced
            ));
        }
        if leaf.closed_form_inputs_blob_key.is_empty() {
            return invalid(format!(
                "leaf job of circuit {} has an empty closed-form inputs blob key",
                leaf.circuit_id
            ));
        }
    }
    if let Some(orphan) = per_type.keys().find(|c| !leaf_types.contains(c)) {
        return invalid(format!(
            "basic prover jobs of circuit {orphan} have no leaf job to aggregate them"
        ));
    }
    Ok(())
}

pub(crate) fn aggregation_prover_jobs(
    what: &str,
    jobs: &[NewAggregationProverJob],
) -> DalResult<()> {
    let invalid = |reason: String| Err(DalError::InvalidInput(format!("{what}: {reason}")));
    if jobs.is_empty() {
        return invalid("no prover jobs".to_owned());
    }
    let mut seen = BTreeSet::new();
    for job in jobs {
        if !seen.insert(job.sequence_number) {
            return invalid(format!(
                "two prover jobs with sequence number {}",
                job.sequence_number
            ));
        }
        if job.circuit_blob_key.is_empty() {
            return invalid(format!(
                "prover job with sequence number {} has an empty circuit blob key",
                job.sequence_number
            ));
        }
    }
    Ok(())
}
