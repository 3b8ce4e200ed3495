//! Checking a proof that somebody else made: what the prover API (docs/prover-api.md) runs on a
//! proof submitted by an outside prover before it is stored or completes its job.
//!
//! The circuit prover trusts its own proofs only after [`BatchCircuits::prove_job`] verified
//! them; a submitted proof goes through the same verification (the circuit's verifier data, the
//! scheduler's own output checks), and then its public inputs are compared with the ones an
//! honest proof of the job carries, computed from the job's stored witness by the same
//! witness generation the circuit prover runs. A valid proof of another instance of the same
//! circuit verifies, but carries other public inputs: only the comparison refuses it.

use plonky2::field::types::PrimeField64;
use plonky2::plonk::proof::ProofWithPublicInputs;
use zkfleet_types::{AggregationRound, CircuitId};

use super::PipelineError;
use crate::recursion::BatchCircuits;
use crate::{C, D, F};

impl BatchCircuits {
    /// Decodes `proof` as a proof of `(round, circuit)`, verifies it and returns its public
    /// inputs (canonical field elements). Errors: [`PipelineError::InvalidInput`] for bytes that
    /// are not a proof of this circuit's shape, [`PipelineError::ProofRejected`] (or the
    /// scheduler's own error) for a proof that does not verify.
    pub fn verify_job_proof(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        proof: &[u8],
    ) -> Result<Vec<u64>, PipelineError> {
        let data = self.circuit_data(round, circuit)?;
        let decoded = ProofWithPublicInputs::<F, C, D>::from_bytes(proof.to_vec(), &data.common)
            .map_err(|e| {
                PipelineError::InvalidInput(format!(
                    "the submitted bytes are not a {round} proof of circuit {circuit}: {e}"
                ))
            })?;
        let public_inputs = decoded
            .public_inputs
            .iter()
            .map(|x| x.to_canonical_u64())
            .collect();
        match round {
            AggregationRound::Scheduler => {
                self.scheduler().verify(&decoded)?;
            }
            _ => data
                .verify(decoded)
                .map_err(|e| PipelineError::ProofRejected {
                    round,
                    circuit,
                    reason: e.to_string(),
                })?,
        }
        Ok(public_inputs)
    }

    /// The public inputs an honest proof of the job whose stored witness is `witness` carries:
    /// the values witness generation puts on the circuit's public-input targets (the witness is
    /// checked natively first, as [`BatchCircuits::witness_vector`] does).
    pub fn job_public_inputs(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        witness: &[u8],
    ) -> Result<Vec<u64>, PipelineError> {
        let data = self.circuit_data(round, circuit)?;
        let vector = self.witness_vector(round, circuit, witness)?;
        let prover = &data.prover_only;
        let (num_wires, degree) = (data.common.config.num_wires, data.common.degree());
        prover
            .public_inputs
            .iter()
            .map(|target| {
                let index = target.index(num_wires, degree);
                prover
                    .representative_map
                    .get(index)
                    .and_then(|&r| vector.values.get(r).copied().flatten())
                    .map(|x| x.to_canonical_u64())
                    .ok_or_else(|| {
                        PipelineError::InvalidInput(format!(
                            "witness generation left public input {target:?} without a value"
                        ))
                    })
            })
            .collect()
    }
}
