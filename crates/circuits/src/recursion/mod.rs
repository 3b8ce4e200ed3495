//! The recursion layers: leaf (round 1), node (round 2), recursion tip (round 3), the
//! scheduler (round 4) and the compression step (DESIGN.md §4), and the in-process prover of a
//! whole batch that chains them.
//!
//! The basic circuits are known here only through [`BasicTypeShape`]: a circuit id, the length
//! of the closed-form input/output, the instance capacity, the common circuit data and the
//! verifying key, with basic public inputs `hash_no_pad(input ‖ output ‖ [count])`.
//!
//! ```text
//! basic proofs of type t ──► leaf_t (≤ A, in order) ──► node (≤ A, depth 0..k) ──► tip ──► scheduler ──► compression
//! ```
//!
//! - [`LeafCircuit`]: one per type; verifies ≤ A basic proofs against the type's key, checks
//!   continuity and counts, exposes an [`AggregateStatement`].
//! - [`NodeCircuit`]: uniform; verifies ≤ A leaf or node proofs (one shared common data) under
//!   keys from a committed set (leaf keys ‖ its own key, cyclic-recursion style).
//! - [`RecursionTipCircuit`]: one slot per type (present or absent), exposes one commitment to
//!   all types' outputs and the digest of the keys it accepted ([`TipOutput`]).
//! - [`SchedulerCircuit`]: verifies the tip proof, enforces the cross-type links of the rollup's
//!   types and exposes the batch public output ([`decode_public_output`]).
//! - [`CompressionChain`]: re-proves a proof with size-optimised configurations.
//! - [`prove_to_tip`] then [`prove_from_tip`]: an executed batch → its final proof, over
//!   [`BatchCircuits`].
//! - [`aggregate_type`]: a type's basic proofs → its final node proof.
//!
//! docs/proofs.md explains what each layer checks and why it is sound.

mod aggregate;
mod batch_prover;
mod codec;
mod compression;
mod error;
mod leaf;
mod node;
mod padding;
mod proof;
mod scheduler;
mod setup;
mod shape;
mod statement;
mod tip;
mod vk;

use plonky2::plonk::circuit_data::CircuitConfig;

pub use aggregate::{aggregate_type, TypeAggregate};
pub use batch_prover::{
    absent_closed_form, basic_type_shape, prove_from_tip, prove_to_tip, BatchCircuits,
    BatchProofError, FinalBatchProof, LayerTimings, TipStage,
};
pub use codec::FORMAT_VERSION;
pub use compression::{
    conjectured_security_bits, default_compression_steps, light_compression_steps, proof_size,
    CompressionChain, CompressionCircuit, CompressionProfile, CompressionStep, ProofSize,
    StepProver, TARGET_SECURITY_BITS,
};
pub use error::RecursionError;
pub use leaf::LeafCircuit;
pub use node::{LeafKey, NodeCircuit, NodeWitness};
pub use proof::{RecursionLayer, RecursionProof};
pub use scheduler::{
    batch_public_inputs, decode_public_output, recursion_tree_vk_digest, SchedulerCircuit,
    SchedulerProof, SchedulerWitness, SCHEDULER_PUBLIC_INPUTS,
};
pub use setup::{check_arity, RecursionCircuits, MAX_ARITY};
pub use shape::{
    basic_public_inputs, check_proof_shape, closed_form_digest, BasicProof, BasicTypeShape,
    BASIC_PUBLIC_INPUTS,
};
pub use statement::{
    AggregateStatement, StatementTargets, RECURSION_PUBLIC_INPUTS, STATEMENT_LEN, VERIFYING_KEY_LEN,
};
pub use tip::{
    recursion_vk_digest, tip_commitment_target, RecursionTipCircuit, TipOutput, TipProof, TipSlot,
    TipSlotWitness, TipType, TypeOutput, TypeOutputTargets, TIP_PUBLIC_INPUTS,
};
pub use vk::{to_hash_digest, to_vk_digest, verifying_key_digest};

/// The field, configuration and extension degree of every circuit (`crate::{C, D, F}`).
pub use crate::{C, D, F};

/// Configuration of the basic, leaf, node and tip circuits.
pub fn recursion_config() -> CircuitConfig {
    CircuitConfig::standard_recursion_config()
}

/// Proves the recursion tip over one slot per type of the tip's list.
pub fn prove_tip(
    tip: &RecursionTipCircuit,
    node: &NodeCircuit,
    slots: &[TipSlot],
) -> Result<TipProof, RecursionError> {
    tip.prove(node, slots)
}

/// Runs the compression chain; returns each step's proof, the last being the final proof.
pub fn prove_compression(
    chain: &CompressionChain,
    inner: &plonky2::plonk::proof::ProofWithPublicInputs<F, C, D>,
) -> Result<Vec<plonky2::plonk::proof::ProofWithPublicInputs<F, C, D>>, RecursionError> {
    chain.prove(inner)
}
