//! plonky2 circuits of every round and the keystore of their circuit data.
//!
//! This crate is the only place that knows plonky2: everything outside handles circuit ids,
//! rounds and byte blobs (serialized witnesses, proofs, verifying keys).
//!
//! - [`config`]: the geometry of the basic circuits (items per instance, signature tree height).
//! - [`gadgets`]: in-circuit mirrors of `zkfleet_rollup::spec` (hash chains, `u64` limbs,
//!   sparse-Merkle updates, WOTS+XMSS verification).
//! - [`basic`]: the round-0 circuits (signature verification, state transition, priority
//!   operations), their closed-form inputs/outputs, and the splitter that cuts an executed batch
//!   into instances ([`basic::split_batch`]).
//! - [`proving`]: the witness-vector / prove / verify split the circuit prover uses.
//! - [`keystore`]: circuit data built once per (circuit, geometry) and cached on disk.
//! - [`recursion`]: the leaf, node, recursion-tip and compression layers, generic over the
//!   basic circuits (docs/proofs.md).
//!
//! What each circuit enforces and commits to is specified in docs/rollup-circuits.md.

// The unit tests link the dev-dependencies the integration tests and benchmarks use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod basic;
pub mod config;
pub mod error;
pub mod gadgets;
pub mod hasher;
pub mod keystore;
pub mod pipeline;
pub mod proving;
pub mod recursion;

use plonky2::plonk::config::PoseidonGoldilocksConfig;

/// The base field of every circuit (Goldilocks), defined once in the rollup (whose native
/// hashes are over it) and re-exported here with the decoder of its elements from outside.
pub use zkfleet_rollup::spec::{field_element, NonCanonical, F};
/// The proof configuration: Poseidon over Goldilocks.
pub type C = PoseidonGoldilocksConfig;
/// The extension degree.
pub const D: usize = 2;

pub use basic::{BasicCircuit, BasicCircuitKind};
pub use config::{BasicGeometry, DEFAULT_ARITY};
pub use error::CircuitError;
pub use keystore::{CircuitKey, Keystore, LoadedBatchCircuits, ProvingConfiguration};
pub use proving::WitnessVector;
