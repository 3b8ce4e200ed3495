//! plonky2's own prover on a pipeline job: the baseline our prover path is measured against.
//!
//! The circuit prover proves a job in two halves (witness-vector generation, then proving from
//! the shipped vector, then verifying; see [`super::prove`]). The question a benchmark asks is
//! what that split costs over calling plonky2 directly, so this module hands **the same
//! assigned inputs** ([`BatchCircuits::assign_job`]) to plonky2's `CircuitData::prove` — its
//! witness generation and proving in one call, nothing of ours in between — and times only
//! that call. Assigning the inputs (decoding, native checks of the children) stays outside the
//! clock: plonky2 has no equivalent, so it is part of what our path costs extra.

use std::time::{Duration, Instant};

use zkfleet_types::{AggregationRound, CircuitId};

use super::PipelineError;
use crate::recursion::BatchCircuits;

/// One job proven by plonky2's `CircuitData::prove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plonky2Proof {
    /// `CircuitData::prove` alone (plonky2's witness generation + proving).
    pub prove: Duration,
    /// `CircuitData::verify` of that proof (our path verifies every proof before storing it;
    /// plonky2's `prove` does not, so this is reported beside, not added).
    pub verify: Duration,
    /// `ProofWithPublicInputs::to_bytes` length.
    pub proof_bytes: usize,
    /// log2 of the circuit's rows.
    pub degree_bits: usize,
}

impl BatchCircuits {
    /// Proves the job witness `witness` of `(round, circuit)` with plonky2's
    /// `CircuitData::prove` on the same circuit data our path uses, and checks the proof.
    pub fn prove_with_plonky2(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        witness: &[u8],
    ) -> Result<Plonky2Proof, PipelineError> {
        let inputs = self.assign_job(round, circuit, witness)?;
        let data = self.circuit_data(round, circuit)?;
        let started = Instant::now();
        let proof = data.prove(inputs).map_err(|e| {
            PipelineError::Circuit(crate::CircuitError::Proving(format!(
                "plonky2's CircuitData::prove: {e}"
            )))
        })?;
        let prove = started.elapsed();
        let proof_bytes = proof.to_bytes().len();
        let started = Instant::now();
        data.verify(proof)
            .map_err(|e| PipelineError::ProofRejected {
                round,
                circuit,
                reason: format!("plonky2's own proof: {e}"),
            })?;
        Ok(Plonky2Proof {
            prove,
            verify: started.elapsed(),
            proof_bytes,
            degree_bits: data.common.degree_bits(),
        })
    }
}
