//! Merkle paths: the state tree (depth 32, leaf index = account id) and the one-time-key tree.
//!
//! Orientation follows `spec::merkle_root_from_path`: at level `i`, bit `i` of the index clear
//! means the current node is the left child.

use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::plonk::circuit_builder::CircuitBuilder;

use crate::gadgets::hash::{conditional_assert_digest_eq, select_digest, two_to_one_swapped};
use crate::{D, F};

/// Root of the tree whose leaf at the index given by `index_bits` (little-endian) is `leaf`.
/// One Poseidon row per level.
pub fn root_from_path(
    builder: &mut CircuitBuilder<F, D>,
    leaf: HashOutTarget,
    index_bits: &[BoolTarget],
    siblings: &[HashOutTarget],
) -> HashOutTarget {
    debug_assert_eq!(index_bits.len(), siblings.len());
    let mut node = leaf;
    for (&bit, &sibling) in index_bits.iter().zip(siblings) {
        node = two_to_one_swapped(builder, node, sibling, bit);
    }
    node
}

/// Replaces one leaf of a sparse Merkle tree, when `enabled`.
///
/// Checks that `leaf_before` sits at the index under `root` (through `siblings`) and returns the
/// root with `leaf_after` there instead; both paths share the siblings, so no other leaf can
/// change. When not enabled, nothing is checked and `root` is returned unchanged.
pub fn update_leaf(
    builder: &mut CircuitBuilder<F, D>,
    enabled: BoolTarget,
    root: HashOutTarget,
    index_bits: &[BoolTarget],
    siblings: &[HashOutTarget],
    leaf_before: HashOutTarget,
    leaf_after: HashOutTarget,
) -> HashOutTarget {
    let root_before = root_from_path(builder, leaf_before, index_bits, siblings);
    conditional_assert_digest_eq(builder, enabled.target, root_before, root);
    let root_after = root_from_path(builder, leaf_after, index_bits, siblings);
    select_digest(builder, enabled, root_after, root)
}

/// The little-endian bits of a `u32` account id (range-checks it).
pub fn account_index_bits(
    builder: &mut CircuitBuilder<F, D>,
    account_id: Target,
) -> Vec<BoolTarget> {
    builder.split_le(account_id, zkfleet_rollup::spec::STATE_TREE_DEPTH)
}
