//! A prover job as it travels from a witness-vector generator to the prover: its identity (for
//! logs, metrics and error texts) and the checked object key of its circuit blob.

use std::fmt;
use std::time::Instant;

use zkfleet_dal::ProverJob;
use zkfleet_store::ObjectKey;
use zkfleet_types::ids::ProverJobId;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use crate::error::ProverError;

/// What identifies a picked prover job through witness-vector generation, proving and saving.
#[derive(Debug, Clone)]
pub struct ProverJobMeta {
    /// The prover job's row (and its proof's key: `proofs/{chain}/{id}.bin`).
    pub id: ProverJobId,
    /// The batch the proof belongs to.
    pub batch: L1BatchId,
    /// The round of the circuit proven.
    pub round: AggregationRound,
    /// The circuit proven: which registered prover takes the job.
    pub circuit: CircuitId,
    /// Node depth (0 outside the node round).
    pub depth: u32,
    /// Position among the jobs of its (batch, round, circuit, depth): the order the next
    /// round aggregates the proofs in.
    pub sequence: u32,
    /// Attempts so far, this pick included.
    pub attempts: u32,
    /// Whether a heavy or a light witness-vector generator picked it (for logs).
    pub picked_by_runner: &'static str,
    /// When the job was picked: the job's `time_taken` runs from here to completion, as in
    /// ZKsync (witness vector, wait for the prover, proof and save).
    pub picked_at: Instant,
}

impl ProverJobMeta {
    /// The identity of `job`, just picked by the generator runner named `picked_by_runner`:
    /// its `time_taken` starts now.
    pub fn from_job(job: &ProverJob, picked_by_runner: &'static str) -> Self {
        Self {
            id: job.id,
            batch: job.meta.batch,
            round: job.aggregation_round,
            circuit: job.circuit_id,
            depth: job.depth,
            sequence: job.sequence_number,
            attempts: job.meta.attempts,
            picked_by_runner,
            picked_at: Instant::now(),
        }
    }

    /// Metric labels: round name and numeric circuit id.
    pub fn labels(&self) -> [(&'static str, String); 2] {
        [
            ("round", self.round.name().to_owned()),
            ("circuit", self.circuit.0.to_string()),
        ]
    }

    /// The key the job's circuit blob must have: the key rebuilt from the row's own columns.
    pub fn expected_circuit_key(&self) -> ObjectKey {
        ObjectKey::CircuitWitness {
            chain: self.batch.chain_id,
            batch: self.batch.batch_number,
            round: self.round,
            circuit: self.circuit,
            depth: self.depth,
            sequence: self.sequence,
        }
    }

    /// Parses the row's `circuit_blob_key` and checks that it names this very job's circuit:
    /// a key pointing at another instance would prove the wrong statement under this job's id.
    pub fn circuit_key(&self, circuit_blob_key: &str) -> Result<ObjectKey, ProverError> {
        let key = ObjectKey::parse(circuit_blob_key)
            .map_err(|e| ProverError::bad_key(circuit_blob_key, e))?;
        if !matches!(key, ObjectKey::CircuitWitness { .. }) {
            return Err(ProverError::BadBlobKey {
                key: circuit_blob_key.to_owned(),
                reason: format!("it is a {} key", key.kind().name()),
            });
        }
        let expected = self.expected_circuit_key();
        if key != expected {
            return Err(ProverError::BlobKeyMismatch {
                key: circuit_blob_key.to_owned(),
                reason: format!("the row's columns give {}", expected.path()),
            });
        }
        Ok(key)
    }

    /// The object key of the job's proof.
    pub fn proof_key(&self) -> ObjectKey {
        ObjectKey::Proof {
            chain: self.batch.chain_id,
            job: self.id,
        }
    }
}

impl fmt::Display for ProverJobMeta {
    /// `prover job 7 (batch 3 of chain 270, round basic, circuit 1 signature_verification,
    /// depth 0, sequence 2)`: what an operator needs to find the job and its blob.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "prover job {} ({}, round {}, circuit {} {}, depth {}, sequence {})",
            self.id,
            self.batch,
            self.round,
            self.circuit.0,
            self.circuit.name(),
            self.depth,
            self.sequence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkfleet_types::{BatchNumber, ChainId};

    fn job() -> ProverJobMeta {
        ProverJobMeta {
            id: ProverJobId(7),
            batch: L1BatchId::new(ChainId(270), BatchNumber(3)),
            round: AggregationRound::Basic,
            circuit: CircuitId::STATE_TRANSITION,
            depth: 0,
            sequence: 2,
            attempts: 1,
            picked_by_runner: "light",
            picked_at: Instant::now(),
        }
    }

    #[test]
    fn display_names_everything_an_operator_needs() {
        assert_eq!(
            job().to_string(),
            "prover job 7 (batch 3 of chain 270, round basic, circuit 2 state_transition, \
             depth 0, sequence 2)"
        );
    }

    #[test]
    fn circuit_key_must_be_this_jobs_circuit_witness() {
        let job = job();
        let own = job.expected_circuit_key().path();
        assert_eq!(own, "prover_jobs/270/3/basic/2/0/2.bin");
        assert_eq!(
            job.circuit_key(&own).expect("own key"),
            job.expected_circuit_key()
        );

        let other_sequence = "prover_jobs/270/3/basic/2/0/1.bin";
        let error = job
            .circuit_key(other_sequence)
            .expect_err("another instance");
        assert!(
            matches!(error, ProverError::BlobKeyMismatch { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(&own), "{error}");

        let proof_key = job.proof_key().path();
        let error = job.circuit_key(&proof_key).expect_err("a proof key");
        assert!(error.to_string().contains("proof"), "{error}");

        let error = job
            .circuit_key("circuits/3/basic_2_2")
            .expect_err("garbage");
        assert!(matches!(error, ProverError::BadBlobKey { .. }), "{error}");
    }
}
