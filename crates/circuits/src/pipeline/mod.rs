//! The circuits as the distributed pipeline uses them: one job at a time, bytes in, bytes out.
//!
//! - [`witness`]: the stored witness of a leaf, node, recursion-tip or scheduler prover job
//!   ([`AggregationWitness`]), self-contained and versioned.
//! - [`build`]: the witness generator's side — each round's job witnesses from the previous
//!   round's proofs and round 0's closed forms; pure functions, no circuit data.
//! - [`prove`]: the prover's side — [`BatchCircuits::witness_vector`](crate::recursion::BatchCircuits::witness_vector) (decode, check natively,
//!   generate) and [`BatchCircuits::prove_job`](crate::recursion::BatchCircuits::prove_job) (prove, verify) for any (round, circuit), and
//!   [`BatchCircuits::compress`](crate::recursion::BatchCircuits::compress) for the compressor.
//! - [`cpu_prover`]: which prover proves on the CPU — zkfleet's prover over the batched Merkle
//!   hasher (the default) or plonky2's `prove` (the reference).
//! - [`final_key`]: the final verifying key file and the verifier a third party runs.
//! - [`sequential`]: a whole batch proven job by job, each job timed in isolation.
//! - [`submitted`]: checking a proof made elsewhere (an outside prover's): verify, compare
//!   its public inputs with the job's.
//! - [`plonky2_baseline`]: a job proven by plonky2's own `CircuitData::prove`, the baseline of
//!   the proving-cost benchmark.
//!
//! [`crate::recursion::prove_to_tip`] and [`crate::recursion::prove_from_tip`] run the same
//! steps in one process; the pipeline tests
//! check that both reach the same batch output.

pub mod build;
pub mod cpu_prover;
pub mod final_key;
pub mod plonky2_baseline;
pub mod prove;
pub mod sequential;
pub mod submitted;
pub mod witness;

use zkfleet_types::{AggregationRound, CircuitId, FailureKind};

pub use build::{
    leaf_job_witnesses, node_job_witnesses, scheduler_job_witness, tip_job_witness, type_summaries,
};
pub use cpu_prover::CpuProver;
pub use final_key::{final_vk_file_digest, FinalKeyError, FinalVerifyingKey};
pub use plonky2_baseline::Plonky2Proof;
pub use prove::CompressedProof;
pub use sequential::{
    prove_sequentially, prove_sequentially_on, prove_sequentially_with, JobWitness, SequentialRun,
    TimedJob,
};
pub use witness::{AggregationWitness, NodeChildren, TypeSummary};

use crate::error::CircuitError;
use crate::recursion::RecursionError;

/// Why a job's witness could not be built, decoded, checked or proven.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The stored bytes are not a witness of this format.
    #[error("malformed {what}: {reason}")]
    MalformedWitness {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A witness could not be serialized.
    #[error("encoding the {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The serializer's error.
        reason: String,
    },
    /// The input does not fit the job (counts, lengths, order, field elements).
    #[error("invalid job input: {0}")]
    InvalidInput(String),
    /// The witness is of another job than the row that points at it.
    #[error("the witness is for round {}, circuit {}, the job is round {}, circuit {}",
        found.0, found.1, expected.0, expected.1)]
    WrongJob {
        /// The job's (round, circuit).
        expected: (AggregationRound, CircuitId),
        /// The witness's (round, circuit).
        found: (AggregationRound, CircuitId),
    },
    /// These circuits have no such (round, circuit).
    #[error("no circuit for round {round}, circuit {circuit} in this configuration")]
    UnknownCircuit {
        /// The round asked for.
        round: AggregationRound,
        /// The circuit id asked for.
        circuit: CircuitId,
    },
    /// A proof (a child being aggregated, or one just made) does not verify under its
    /// circuit's key.
    #[error("the {round} proof of circuit {circuit} does not verify: {reason}")]
    ProofRejected {
        /// The proof's round.
        round: AggregationRound,
        /// The proof's circuit id.
        circuit: CircuitId,
        /// plonky2's error.
        reason: String,
    },
    /// The compressed proof does not verify under the final key.
    #[error("the final proof does not verify: {0}")]
    FinalProofRejected(String),
    /// The final verifying key could not be encoded, or a final proof was refused by it.
    #[error(transparent)]
    FinalKey(#[from] final_key::FinalKeyError),
    /// The recursion layer refused or failed (a child that does not fit, a bad statement).
    #[error(transparent)]
    Recursion(#[from] RecursionError),
    /// A basic circuit refused or failed.
    #[error(transparent)]
    Circuit(#[from] CircuitError),
}

impl PipelineError {
    /// Whether a retry of the work that failed with this error can help: the one
    /// classification of pipeline errors, used by the witness generator, the circuit prover and
    /// the compressor. What the circuits refuse on given bytes they refuse again on the same
    /// bytes; what depends on this process's configuration or keystore may work elsewhere or
    /// later.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::MalformedWitness { .. }
            | Self::Encode { .. }
            | Self::InvalidInput(_)
            | Self::WrongJob { .. }
            | Self::ProofRejected { .. }
            | Self::FinalProofRejected(_)
            | Self::Recursion(_) => FailureKind::Permanent,
            Self::UnknownCircuit { .. } | Self::FinalKey(_) | Self::Circuit(_) => {
                FailureKind::Transient
            }
        }
    }
}

// `BatchCircuits` errors of the recursion layer convert through `RecursionError`.
impl From<crate::recursion::BatchProofError> for PipelineError {
    fn from(e: crate::recursion::BatchProofError) -> Self {
        match e {
            crate::recursion::BatchProofError::Basic(e) => Self::Circuit(e),
            crate::recursion::BatchProofError::Recursion(e) => Self::Recursion(e),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}
