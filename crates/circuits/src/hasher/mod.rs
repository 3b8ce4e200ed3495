//! plonky2's Poseidon hasher with a faster native permutation, and the proof configuration
//! that uses it.
//!
//! [`FastPoseidonHash`] is [`PoseidonHash`] with the native permutation replaced by
//! [`permutation::permute`] (the same permutation, vectorised where the build has AVX2): every
//! hash, Merkle tree, Fiat–Shamir challenge and therefore every proof and key is the same, byte
//! for byte. In circuit it *is* `PoseidonHash` (`permute_swapped` delegates: the same
//! `PoseidonGate`), so circuits built with it are the same circuits.
//!
//! [`FastPoseidonGoldilocksConfig`] is `PoseidonGoldilocksConfig` with this hasher as both the
//! outer and the inner hasher.

pub mod permutation;

/// plonky2's Poseidon on eight states at once (AVX-512) and the Merkle tree built with it:
/// `zkfleet_gpu::poseidon_x8`, where the prover's CPU commit backend uses it too.
pub use zkfleet_gpu::poseidon_x8 as batch;

use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::extension::Extendable;
use plonky2::hash::hash_types::{HashOut, RichField};
use plonky2::hash::hashing::{compress, hash_n_to_hash_no_pad, PlonkyPermutation};
use plonky2::hash::poseidon::{PoseidonHash, PoseidonPermutation, SPONGE_RATE, SPONGE_WIDTH};
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::config::{AlgebraicHasher, GenericConfig, Hasher};
use serde::Serialize;

use crate::F;

/// The Poseidon sponge state with [`permutation::permute`] as its permutation.
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct FastPoseidonPermutation {
    state: [F; SPONGE_WIDTH],
}

impl AsRef<[F]> for FastPoseidonPermutation {
    fn as_ref(&self) -> &[F] {
        &self.state
    }
}

impl PlonkyPermutation<F> for FastPoseidonPermutation {
    const RATE: usize = SPONGE_RATE;
    const WIDTH: usize = SPONGE_WIDTH;

    fn new<I: IntoIterator<Item = F>>(elts: I) -> Self {
        let mut perm = Self::default();
        perm.set_from_iter(elts, 0);
        perm
    }

    fn set_elt(&mut self, elt: F, idx: usize) {
        self.state[idx] = elt;
    }

    fn set_from_slice(&mut self, elts: &[F], start_idx: usize) {
        self.state[start_idx..start_idx + elts.len()].copy_from_slice(elts);
    }

    fn set_from_iter<I: IntoIterator<Item = F>>(&mut self, elts: I, start_idx: usize) {
        for (s, e) in self.state[start_idx..].iter_mut().zip(elts) {
            *s = e;
        }
    }

    fn permute(&mut self) {
        self.state = permutation::permute(self.state);
    }

    fn squeeze(&self) -> &[F] {
        &self.state[..SPONGE_RATE]
    }
}

/// `PoseidonHash` over Goldilocks, with the faster native permutation.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct FastPoseidonHash;

impl Hasher<F> for FastPoseidonHash {
    const HASH_SIZE: usize = <PoseidonHash as Hasher<F>>::HASH_SIZE;
    type Hash = HashOut<F>;
    type Permutation = FastPoseidonPermutation;

    fn hash_no_pad(input: &[F]) -> Self::Hash {
        hash_n_to_hash_no_pad::<F, Self::Permutation>(input)
    }

    fn two_to_one(left: Self::Hash, right: Self::Hash) -> Self::Hash {
        compress::<F, Self::Permutation>(left, right)
    }
}

impl AlgebraicHasher<F> for FastPoseidonHash {
    type AlgebraicPermutation = PoseidonPermutation<Target>;

    fn permute_swapped<const D: usize>(
        inputs: Self::AlgebraicPermutation,
        swap: BoolTarget,
        builder: &mut CircuitBuilder<F, D>,
    ) -> Self::AlgebraicPermutation
    where
        F: RichField + Extendable<D>,
    {
        <PoseidonHash as AlgebraicHasher<F>>::permute_swapped(inputs, swap, builder)
    }
}

/// `PoseidonGoldilocksConfig` with [`FastPoseidonHash`] as outer and inner hasher.
#[derive(Debug, Copy, Clone, Default, Eq, PartialEq, Serialize)]
pub struct FastPoseidonGoldilocksConfig;

impl GenericConfig<2> for FastPoseidonGoldilocksConfig {
    type F = F;
    type FE = QuadraticExtension<F>;
    type Hasher = FastPoseidonHash;
    type InnerHasher = FastPoseidonHash;
}

#[cfg(test)]
mod tests {
    use plonky2::field::types::{Field, Field64, PrimeField64};
    use plonky2::hash::poseidon::Poseidon;

    use super::*;
    use plonky2::field::goldilocks_field::GoldilocksField;

    /// splitmix64: a fixed, seedable stream of words (no dependency for the tests).
    struct Words(u64);

    impl Words {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn canonical(&mut self) -> F {
            F::from_noncanonical_u64(self.next())
        }
    }

    /// Random states, and states of edge values (0, 1, p-1, p-2, and non-canonical
    /// representations p..2^64, which plonky2's arithmetic accepts as inputs).
    fn states(count: usize) -> Vec<[F; SPONGE_WIDTH]> {
        let mut words = Words(18);
        let edges = [
            0,
            1,
            2,
            F::ORDER - 1,
            F::ORDER - 2,
            F::ORDER,
            F::ORDER + 1,
            u64::MAX,
            u64::MAX - 1,
            1 << 32,
            (1 << 32) - 1,
            1 << 63,
        ];
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let state = match i % 4 {
                // Canonical elements, raw words (non-canonical ones included), edge values.
                0 => core::array::from_fn(|_| words.canonical()),
                1 => core::array::from_fn(|_| GoldilocksField(words.next())),
                2 => core::array::from_fn(|_| {
                    GoldilocksField(edges[(words.next() % edges.len() as u64) as usize])
                }),
                _ => core::array::from_fn(|j| GoldilocksField(edges[(i / 4 + j) % edges.len()])),
            };
            out.push(state);
        }
        out.push([F::ZERO; SPONGE_WIDTH]);
        out.push([F::NEG_ONE; SPONGE_WIDTH]);
        out.push([GoldilocksField(u64::MAX); SPONGE_WIDTH]);
        out
    }

    #[test]
    fn the_packed_path_runs_in_this_build() {
        // The workspace builds for x86-64-v3: a build without AVX2 would silently test
        // plonky2's code against itself.
        // Checked at compile time: the answer is fixed by the build's target features.
        const {
            assert!(
                permutation::VECTORISED || !cfg!(target_feature = "avx2"),
                "AVX2 build without the packed path"
            )
        };
    }

    #[test]
    fn permutation_equals_plonky2s_on_random_and_edge_states() {
        for state in states(40_000) {
            let ours = permutation::permute(state);
            let theirs = <F as Poseidon>::poseidon(state);
            assert_eq!(ours, theirs, "input {state:?}");
            // Equal as field elements is what proofs see; check the canonical words too.
            let canon = |s: [F; SPONGE_WIDTH]| s.map(|x| x.to_canonical_u64());
            assert_eq!(canon(ours), canon(theirs));
        }
    }

    #[test]
    fn hashes_equal_plonky2s() {
        let mut words = Words(7);
        for len in 0..200usize {
            let input: Vec<F> = (0..len).map(|_| words.canonical()).collect();
            assert_eq!(
                FastPoseidonHash::hash_no_pad(&input),
                PoseidonHash::hash_no_pad(&input),
                "hash_no_pad, {len} elements"
            );
            assert_eq!(
                FastPoseidonHash::hash_pad(&input),
                PoseidonHash::hash_pad(&input),
                "hash_pad, {len} elements"
            );
            assert_eq!(
                FastPoseidonHash::hash_or_noop(&input),
                PoseidonHash::hash_or_noop(&input),
                "hash_or_noop, {len} elements"
            );
        }
        for _ in 0..2000 {
            let mut digest = || HashOut::<F> {
                elements: core::array::from_fn(|_| words.canonical()),
            };
            let (a, b) = (digest(), digest());
            assert_eq!(
                FastPoseidonHash::two_to_one(a, b),
                PoseidonHash::two_to_one(a, b)
            );
        }
    }
}
