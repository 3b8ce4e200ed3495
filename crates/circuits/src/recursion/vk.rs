//! Verifying-key digests: how the recursion layers name, compare and commit to verifying keys.
//!
//! A verifying key (`VerifierOnlyCircuitData`) is a circuit digest and a Merkle cap of the
//! constants and sigma polynomials. The recursive verifier uses the digest only to seed
//! Fiat–Shamir and the cap only for Merkle checks, so neither alone identifies a circuit: the
//! digest of a key is `hash_no_pad(circuit_digest ‖ cap)`, which binds both.

use plonky2::field::types::PrimeField64;
use plonky2::hash::hash_types::{HashOut, HashOutTarget};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{VerifierCircuitTarget, VerifierOnlyCircuitData};
use plonky2::plonk::config::Hasher;
use zkfleet_types::{HashDigest, VkDigest};

use super::{C, D, F};

/// The key as field elements, in the order `add_verifier_data_public_inputs` registers them.
pub(crate) fn verifying_key_fields(key: &VerifierOnlyCircuitData<C, D>) -> Vec<F> {
    let mut out = key.circuit_digest.elements.to_vec();
    for h in &key.constants_sigmas_cap.0 {
        out.extend_from_slice(&h.elements);
    }
    out
}

/// The key as targets, in the same order as [`verifying_key_fields`].
pub(crate) fn verifying_key_targets(key: &VerifierCircuitTarget) -> Vec<Target> {
    let mut out = key.circuit_digest.elements.to_vec();
    for h in &key.constants_sigmas_cap.0 {
        out.extend_from_slice(&h.elements);
    }
    out
}

/// Digest of a verifying key.
pub fn verifying_key_digest(key: &VerifierOnlyCircuitData<C, D>) -> HashOut<F> {
    PoseidonHash::hash_no_pad(&verifying_key_fields(key))
}

/// Digest of a verifying key, in circuit.
pub(crate) fn verifying_key_digest_target(
    builder: &mut CircuitBuilder<F, D>,
    key: &VerifierCircuitTarget,
) -> HashOutTarget {
    builder.hash_n_to_hash_no_pad::<PoseidonHash>(verifying_key_targets(key))
}

/// `a == b` for two digests, as a bit.
pub(crate) fn digests_equal(
    builder: &mut CircuitBuilder<F, D>,
    a: HashOutTarget,
    b: HashOutTarget,
) -> BoolTarget {
    let mut all = builder._true();
    for (x, y) in a.elements.into_iter().zip(b.elements) {
        let eq = builder.is_equal(x, y);
        all = builder.and(all, eq);
    }
    all
}

/// A digest in the workspace's vocabulary.
pub fn to_vk_digest(digest: HashOut<F>) -> VkDigest {
    VkDigest(to_hash_digest(digest))
}

/// A digest as the 32-byte value that travels outside circuits.
pub fn to_hash_digest(digest: HashOut<F>) -> HashDigest {
    HashDigest(digest.elements.map(|e| e.to_canonical_u64()))
}
