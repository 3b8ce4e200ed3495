//! Poseidon hashing, digest selection and the running-commitment (hash-chain) steps.
//!
//! One Poseidon permutation is one `PoseidonGate` row; hashes of at most 8 elements (the rate)
//! cost one row, so the layouts of `spec.rs` keep most preimages within 8 elements.

use plonky2::field::types::Field;
use plonky2::hash::hash_types::{HashOutTarget, NUM_HASH_OUT_ELTS};
use plonky2::hash::hashing::PlonkyPermutation;
use plonky2::hash::poseidon::{PoseidonHash, PoseidonPermutation};
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::config::AlgebraicHasher;

use crate::{D, F};

/// `H(inputs…)` = `PoseidonHash::hash_no_pad`.
pub fn hash(builder: &mut CircuitBuilder<F, D>, inputs: Vec<Target>) -> HashOutTarget {
    builder.hash_n_to_hash_no_pad::<PoseidonHash>(inputs)
}

/// `H2(left, right)` = `PoseidonHash::two_to_one`; with `swap` set, `H2(right, left)`.
///
/// Uses the swap wire of the Poseidon gate, so a Merkle level costs exactly one row.
pub fn two_to_one_swapped(
    builder: &mut CircuitBuilder<F, D>,
    left: HashOutTarget,
    right: HashOutTarget,
    swap: BoolTarget,
) -> HashOutTarget {
    let zero = builder.zero();
    let mut state = PoseidonPermutation::<Target>::new(std::iter::repeat(zero));
    state.set_from_slice(&left.elements, 0);
    state.set_from_slice(&right.elements, NUM_HASH_OUT_ELTS);
    let out = PoseidonHash::permute_swapped(state, swap, builder);
    let squeezed = out.squeeze();
    HashOutTarget {
        elements: [squeezed[0], squeezed[1], squeezed[2], squeezed[3]],
    }
}

/// `H2(left, right)`.
pub fn two_to_one(
    builder: &mut CircuitBuilder<F, D>,
    left: HashOutTarget,
    right: HashOutTarget,
) -> HashOutTarget {
    let no_swap = builder._false();
    two_to_one_swapped(builder, left, right, no_swap)
}

/// A constant domain tag or small constant as a target.
pub fn constant(builder: &mut CircuitBuilder<F, D>, value: u64) -> Target {
    builder.constant(F::from_canonical_u64(value))
}

/// `cond ? x : y`, element-wise.
pub fn select_digest(
    builder: &mut CircuitBuilder<F, D>,
    cond: BoolTarget,
    x: HashOutTarget,
    y: HashOutTarget,
) -> HashOutTarget {
    HashOutTarget {
        elements: std::array::from_fn(|i| builder.select(cond, x.elements[i], y.elements[i])),
    }
}

/// Enforces `x == y` when `cond` is 1 (`cond` must be boolean).
pub fn conditional_assert_digest_eq(
    builder: &mut CircuitBuilder<F, D>,
    cond: Target,
    x: HashOutTarget,
    y: HashOutTarget,
) {
    for i in 0..NUM_HASH_OUT_ELTS {
        builder.conditional_assert_eq(cond, x.elements[i], y.elements[i]);
    }
}

/// One step of an `H2` running commitment, taken only when `cond` holds: `cond ? H2(acc, item) :
/// acc`. An untaken step leaves the chain exactly as it was (padding changes no commitment).
pub fn chain_step_if(
    builder: &mut CircuitBuilder<F, D>,
    cond: BoolTarget,
    acc: HashOutTarget,
    item: HashOutTarget,
) -> HashOutTarget {
    let next = two_to_one(builder, acc, item);
    select_digest(builder, cond, next, acc)
}

/// The all-zero digest as constant targets.
pub fn zero_digest(builder: &mut CircuitBuilder<F, D>) -> HashOutTarget {
    let zero = builder.zero();
    HashOutTarget {
        elements: [zero; NUM_HASH_OUT_ELTS],
    }
}
