//! Leaf and node proofs as they travel between jobs.

use plonky2::plonk::circuit_data::CommonCircuitData;
use plonky2::plonk::proof::ProofWithPublicInputs;

use super::statement::AggregateStatement;
use super::{RecursionError, C, D, F};

/// Which recursion circuit produced a proof (it decides the verifying key its parent uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecursionLayer {
    /// Round 1: a leaf proof of one basic type.
    Leaf,
    /// Round 2: a node proof (any depth).
    Node,
}

impl RecursionLayer {
    /// The layer's name, for errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Leaf => "leaf",
            Self::Node => "node",
        }
    }
}

/// A leaf or node proof. Both share one common circuit data (see `padding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursionProof {
    /// The circuit that made it.
    pub layer: RecursionLayer,
    /// The proof and its public inputs (an [`AggregateStatement`]).
    pub proof: ProofWithPublicInputs<F, C, D>,
}

impl RecursionProof {
    /// The statement the proof's public inputs carry.
    pub fn statement(&self) -> Result<AggregateStatement, RecursionError> {
        AggregateStatement::from_public_inputs(&self.proof.public_inputs)
    }

    /// Proof bytes (plonky2's encoding); the layer is known to the job that stores it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.proof.to_bytes()
    }

    /// Reads a proof written by [`Self::to_bytes`], given the leaf/node common circuit data.
    pub fn from_bytes(
        layer: RecursionLayer,
        bytes: Vec<u8>,
        common: &CommonCircuitData<F, D>,
    ) -> Result<Self, RecursionError> {
        let proof = ProofWithPublicInputs::from_bytes(bytes, common)
            .map_err(|e| RecursionError::serialization("recursion proof", e))?;
        Ok(Self { layer, proof })
    }
}
