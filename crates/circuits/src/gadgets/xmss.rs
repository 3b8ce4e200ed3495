//! WOTS one-time signatures under an XMSS-style tree of one-time keys (docs/rollup.md §3).
//!
//! The circuit recomputes what `spec` verification recomputes: the 133 base-4 digits of the
//! message digest (with a **canonical** decomposition of each element, so a digest element below
//! 2^32 − 1 cannot be read as `x + p`), the checksum digits, each chain advanced from the signed
//! position `d_c` to the end (3 fixed rounds with a select per round, since `d_c` is data), the
//! one-time public key, and the walk up the one-time-key tree by the bits of the key index
//! (which range-checks the index below 2^h).

use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use zkfleet_rollup::spec::{
    DOMAIN_WOTS_CHAIN, DOMAIN_WOTS_PK, WOTS_CHAIN_STEPS, WOTS_L, WOTS_L1, WOTS_L2, WOTS_LOG_W,
};

use crate::gadgets::hash::{constant, hash, select_digest};
use crate::gadgets::merkle::root_from_path;
use crate::{D, F};

/// Bits of one base-4 digit: `d = low + 2 · high`.
#[derive(Debug, Clone, Copy)]
pub struct DigitBits {
    /// The digit's bit of weight 1.
    pub low: BoolTarget,
    /// The digit's bit of weight 2.
    pub high: BoolTarget,
}

/// The witness part of one signature: key index, the 133 chain values at the signed positions,
/// and the `h` authentication-path siblings.
#[derive(Debug, Clone)]
pub struct SignatureTargets {
    /// The one-time key index (the signer's nonce).
    pub key_index: Target,
    /// The `WOTS_L` chain values.
    pub chain_values: Vec<HashOutTarget>,
    /// The siblings from the one-time key's leaf to the root, lowest level first.
    pub auth_path: Vec<HashOutTarget>,
}

impl SignatureTargets {
    /// New witness targets for a signature under a key tree of height `xmss_height` (the
    /// index is bounded where the path is walked: it is split into `xmss_height` bits).
    pub fn new_virtual(builder: &mut CircuitBuilder<F, D>, xmss_height: usize) -> Self {
        Self {
            key_index: builder.add_virtual_target(),
            chain_values: builder.add_virtual_hashes(WOTS_L),
            auth_path: builder.add_virtual_hashes(xmss_height),
        }
    }
}

/// Canonical little-endian bits of a field element: `x = Σ b_i 2^i` with the integer `< p`.
///
/// `split_le(x, 64)` alone admits a second decomposition `x + p` when `x < 2^32 − 1`; every such
/// value has its top 32 bits all set and its low 32 bits non-zero, which is ruled out here.
pub fn canonical_bits(builder: &mut CircuitBuilder<F, D>, x: Target) -> Vec<BoolTarget> {
    let bits = builder.split_le(x, 64);
    let mut high_all_ones = bits[32];
    for &bit in &bits[33..64] {
        high_all_ones = builder.and(high_all_ones, bit);
    }
    let low = builder.le_sum(bits[..32].iter());
    let product = builder.mul(high_all_ones.target, low);
    builder.assert_zero(product);
    bits
}

/// The 133 signed digits of `message` (128 message digits, then 5 checksum digits).
pub fn message_digits(
    builder: &mut CircuitBuilder<F, D>,
    message: HashOutTarget,
) -> Vec<DigitBits> {
    let mut digits = Vec::with_capacity(WOTS_L);
    for &element in &message.elements {
        let bits = canonical_bits(builder, element);
        for pair in bits.chunks_exact(WOTS_LOG_W) {
            digits.push(DigitBits {
                low: pair[0],
                high: pair[1],
            });
        }
    }
    debug_assert_eq!(digits.len(), WOTS_L1);
    // checksum = Σ (3 − d_i) = 3·L1 − Σ d_i, at most 384 < 4^5.
    let mut digit_sum = builder.zero();
    for digit in &digits {
        digit_sum = builder.add(digit_sum, digit.low.target);
        digit_sum = builder.mul_const_add(F::TWO, digit.high.target, digit_sum);
    }
    let max = builder.constant(F::from_canonical_u64(WOTS_CHAIN_STEPS * WOTS_L1 as u64));
    let checksum = builder.sub(max, digit_sum);
    let checksum_bits = builder.split_le(checksum, WOTS_LOG_W * WOTS_L2);
    for pair in checksum_bits.chunks_exact(WOTS_LOG_W) {
        digits.push(DigitBits {
            low: pair[0],
            high: pair[1],
        });
    }
    digits
}

/// Advances chain `chain` from the signed position `d` to the end (position 3).
///
/// Round `t` applies step `j = d + t` when `d + t < 3`, and keeps the value otherwise.
fn chain_to_end(
    builder: &mut CircuitBuilder<F, D>,
    start: HashOutTarget,
    digit: DigitBits,
    key_index: Target,
    chain: usize,
) -> HashOutTarget {
    let tag = constant(builder, DOMAIN_WOTS_CHAIN);
    let chain_index = constant(builder, chain as u64);
    // d + t < 3 for t = 0, 1, 2: not (d = 3); d ∈ {0, 1}; d = 0.
    let not_low = builder.not(digit.low);
    let not_high = builder.not(digit.high);
    let both = builder.and(digit.low, digit.high);
    let conditions = [builder.not(both), not_high, builder.and(not_low, not_high)];
    let d = builder.mul_const_add(F::TWO, digit.high.target, digit.low.target);
    let mut x = start;
    for (t, &condition) in conditions.iter().enumerate() {
        let step = builder.add_const(d, F::from_canonical_u64(t as u64));
        let e = x.elements;
        let next = hash(
            builder,
            vec![e[0], e[1], e[2], e[3], tag, key_index, chain_index, step],
        );
        x = select_digest(builder, condition, next, x);
    }
    x
}

/// The public key (one-time-key tree root) that `signature` on `message` recovers.
///
/// Equal to the signer's public key iff the signature is valid (docs/rollup.md §3); range-checks
/// the key index below `2^xmss_height`.
pub fn recover_public_key(
    builder: &mut CircuitBuilder<F, D>,
    message: HashOutTarget,
    signature: &SignatureTargets,
) -> HashOutTarget {
    recover_public_key_and_digits(builder, message, signature).0
}

/// [`recover_public_key`], also returning the 133 signed digits it decomposed the message into
/// (the bits of each message element, then the checksum digits). The digits are hint outputs
/// (bit decompositions); the soundness tests override them to attack the canonical
/// decomposition and the checksum. Adds exactly the gates of [`recover_public_key`].
#[doc(hidden)]
pub fn recover_public_key_and_digits(
    builder: &mut CircuitBuilder<F, D>,
    message: HashOutTarget,
    signature: &SignatureTargets,
) -> (HashOutTarget, Vec<DigitBits>) {
    let digits = message_digits(builder, message);
    let mut pk_inputs = Vec::with_capacity(2 + 4 * WOTS_L);
    pk_inputs.push(constant(builder, DOMAIN_WOTS_PK));
    pk_inputs.push(signature.key_index);
    for (chain, (&start, &digit)) in signature.chain_values.iter().zip(&digits).enumerate() {
        let end = chain_to_end(builder, start, digit, signature.key_index, chain);
        pk_inputs.extend_from_slice(&end.elements);
    }
    let one_time_key = hash(builder, pk_inputs);
    let index_bits = builder.split_le(signature.key_index, signature.auth_path.len());
    let root = root_from_path(builder, one_time_key, &index_bits, &signature.auth_path);
    (root, digits)
}
