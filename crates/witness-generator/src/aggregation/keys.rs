//! The blob keys a row must hold, recomputed from its identity.
//!
//! A job row stores the keys of the blobs it reads. Those keys are deterministic functions of
//! the job's identity (`zkfleet_store::ObjectKey`), so a generator recomputes each one and
//! refuses a row whose key differs — as a circuit prover refuses a prover job whose circuit key
//! names another instance — instead of aggregating another job's blob under this job's id.
//! The proofs a job aggregates are checked likewise: their circuit, depth and sequence numbers
//! must be exactly the ones the job expects, in order.

use zkfleet_dal::ProofRef;
use zkfleet_store::ObjectKey;
use zkfleet_types::{CircuitId, L1BatchId};

use super::AggregationError;

/// Refuses `found` unless it is the path of `expected`.
pub fn check_key(what: &str, found: &str, expected: &ObjectKey) -> Result<(), AggregationError> {
    let expected = expected.path();
    if found == expected {
        Ok(())
    } else {
        Err(AggregationError::KeyMismatch {
            what: what.to_owned(),
            found: found.to_owned(),
            expected,
        })
    }
}

/// Where a prover job's proof is: `proofs/{chain}/{prover_job_id}.bin`.
pub fn proof_key(batch: L1BatchId, proof: &ProofRef) -> ObjectKey {
    ObjectKey::Proof {
        chain: batch.chain_id,
        job: proof.prover_job_id,
    }
}

/// Where round 0 stores a type's closed forms.
pub fn closed_forms_key(batch: L1BatchId, circuit: CircuitId) -> ObjectKey {
    ObjectKey::ClosedFormInputs {
        chain: batch.chain_id,
        batch: batch.batch_number,
        circuit,
    }
}

/// Where round 0 stores the scheduler's partial input (with the per-type summaries).
pub fn scheduler_input_key(batch: L1BatchId) -> ObjectKey {
    ObjectKey::SchedulerInput {
        chain: batch.chain_id,
        batch: batch.batch_number,
    }
}

/// The proofs one job aggregates: which layer (for messages), circuit, depth and how many.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedProofs {
    /// `basic`, `leaf`, `node`…: what the proofs are, in error messages.
    pub layer: &'static str,
    /// The circuit every proof must be of.
    pub circuit: CircuitId,
    /// The depth every proof must be of.
    pub depth: u32,
    /// How many proofs, with sequence numbers `0..count` in order.
    pub count: usize,
}

/// How a proof is named in messages: `leaf proof 2 of circuit 2 state_transition (prover
/// job 17)`.
pub fn describe_proof(layer: &str, proof: &ProofRef) -> String {
    format!(
        "{layer} proof {} of circuit {} {} (prover job {})",
        proof.sequence_number,
        proof.circuit_id.0,
        proof.circuit_id.name(),
        proof.prover_job_id
    )
}

/// Checks that `proofs` are exactly sequences `0..count` of the expected circuit and depth, in
/// order, each under its own proof key.
pub fn check_proof_refs(
    batch: L1BatchId,
    proofs: &[ProofRef],
    expected: &ExpectedProofs,
) -> Result<(), AggregationError> {
    if proofs.len() != expected.count {
        return Err(AggregationError::Inconsistent(format!(
            "{} successful {} proofs of circuit {} {} at depth {}, the job aggregates {}",
            proofs.len(),
            expected.layer,
            expected.circuit.0,
            expected.circuit.name(),
            expected.depth,
            expected.count
        )));
    }
    for (i, proof) in proofs.iter().enumerate() {
        let what = describe_proof(expected.layer, proof);
        if proof.circuit_id != expected.circuit || proof.depth != expected.depth {
            return Err(AggregationError::Inconsistent(format!(
                "{what} is at depth {}, the job aggregates circuit {} at depth {}",
                proof.depth, expected.circuit.0, expected.depth
            )));
        }
        if proof.sequence_number as usize != i {
            return Err(AggregationError::Inconsistent(format!(
                "{what} is listed at position {i}: the proofs are not sequences 0..{} in order",
                expected.count
            )));
        }
        check_key(&what, &proof.proof_blob_key, &proof_key(batch, proof))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use zkfleet_types::ids::ProverJobId;
    use zkfleet_types::{BatchNumber, ChainId};

    use super::*;

    fn batch() -> L1BatchId {
        L1BatchId::new(ChainId(270), BatchNumber(3))
    }

    fn proof(job: i64, sequence: u32) -> ProofRef {
        ProofRef {
            prover_job_id: ProverJobId(job),
            circuit_id: CircuitId::STATE_TRANSITION,
            depth: 0,
            sequence_number: sequence,
            proof_blob_key: format!("proofs/270/{job}.bin"),
        }
    }

    const EXPECTED: ExpectedProofs = ExpectedProofs {
        layer: "basic",
        circuit: CircuitId::STATE_TRANSITION,
        depth: 0,
        count: 2,
    };

    #[test]
    fn accepts_exactly_the_expected_proofs() {
        check_proof_refs(batch(), &[proof(7, 0), proof(9, 1)], &EXPECTED).expect("valid");
    }

    #[test]
    fn refuses_counts_order_circuits_and_foreign_keys() {
        let short = check_proof_refs(batch(), &[proof(7, 0)], &EXPECTED).unwrap_err();
        assert!(
            short.to_string().contains("1 successful basic proofs"),
            "{short}"
        );

        let swapped = check_proof_refs(batch(), &[proof(9, 1), proof(7, 0)], &EXPECTED);
        let swapped = swapped.unwrap_err().to_string();
        assert!(swapped.contains("listed at position 0"), "{swapped}");

        let mut other = proof(9, 1);
        other.circuit_id = CircuitId::SIGNATURE_VERIFICATION;
        let other = check_proof_refs(batch(), &[proof(7, 0), other], &EXPECTED).unwrap_err();
        assert!(other.to_string().contains("circuit 1"), "{other}");

        let mut foreign = proof(9, 1);
        foreign.proof_blob_key = "proofs/270/7.bin".to_owned();
        let foreign = check_proof_refs(batch(), &[proof(7, 0), foreign], &EXPECTED).unwrap_err();
        assert!(
            matches!(&foreign, AggregationError::KeyMismatch { expected, .. } if expected == "proofs/270/9.bin"),
            "{foreign}"
        );
    }
}
