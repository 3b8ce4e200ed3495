//! The batched hasher (`zkfleet_circuits::hasher::batch`) computes exactly what plonky2's
//! Poseidon computes: the permutation on random and edge states (non-canonical words
//! included), `hash_no_pad` / `hash_or_noop` of every length 0..=199, `two_to_one`, and Merkle
//! trees (digests in plonky2's layout, cap, and the Merkle proofs read from them) of several
//! sizes and cap heights against `MerkleTree::new`.
//!
//! On a CPU with AVX-512 these exercise the vector path (checked by
//! `the_vector_path_runs_where_the_cpu_has_it`); elsewhere the scalar fallback.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::hash::poseidon::{Poseidon, PoseidonHash, SPONGE_WIDTH};
use plonky2::plonk::config::Hasher;
use zkfleet_circuits::hasher::batch::{
    avx512_available, hash_no_pad_x8, hash_or_noop_x8, merkle_tree, permute_x8, two_to_one_x8,
    LANES,
};
use zkfleet_circuits::F;

/// splitmix64: a fixed, seedable stream of words.
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
        F::from_noncanonical_u64(self.next() % F::ORDER)
    }

    /// A raw word: about one in 2^32 is non-canonical by chance, so edge values are mixed in.
    fn raw(&mut self) -> F {
        const EDGES: [u64; 12] = [
            0,
            1,
            2,
            F::ORDER - 1,
            F::ORDER - 2,
            F::ORDER,
            F::ORDER + 1,
            F::ORDER + 0xffff,
            u64::MAX,
            u64::MAX - 1,
            (1 << 32) - 1,
            1 << 63,
        ];
        let w = self.next();
        if w.is_multiple_of(3) {
            GoldilocksField(EDGES[(w >> 8) as usize % EDGES.len()])
        } else {
            GoldilocksField(w)
        }
    }
}

/// Canonical words of a state: equal field elements, and the digests' words, compare equal.
fn canon<const N: usize>(s: [F; N]) -> [u64; N] {
    s.map(|x| x.to_canonical_u64())
}

#[test]
fn the_vector_path_runs_where_the_cpu_has_it() {
    // The CI and development machines are AMD EPYC with AVX-512: if detection failed there,
    // every other test would compare plonky2 with itself.
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let has_avx512f = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "avx512f"));
    assert_eq!(avx512_available(), has_avx512f);
}

#[test]
fn permutation_equals_plonky2s_on_random_and_edge_states() {
    let mut words = Words(18);
    let mut fixed: Vec<[F; SPONGE_WIDTH]> = vec![
        [F::ZERO; SPONGE_WIDTH],
        [F::NEG_ONE; SPONGE_WIDTH],
        [GoldilocksField(F::ORDER); SPONGE_WIDTH],
        [GoldilocksField(u64::MAX); SPONGE_WIDTH],
        [GoldilocksField(u64::MAX - 1); SPONGE_WIDTH],
        [GoldilocksField(1 << 63); SPONGE_WIDTH],
        core::array::from_fn(|i| GoldilocksField(F::ORDER + i as u64)),
        core::array::from_fn(|i| GoldilocksField(u64::MAX - i as u64)),
    ];
    // Every lane position sees every kind of state.
    fixed.extend(fixed.clone().into_iter().rev());
    for chunk in fixed.chunks_exact(LANES) {
        check_permutation(chunk.try_into().expect("eight states"));
    }
    for round in 0..4_000 {
        let states: [[F; SPONGE_WIDTH]; LANES] = core::array::from_fn(|_| {
            if round % 2 == 0 {
                core::array::from_fn(|_| words.raw())
            } else {
                core::array::from_fn(|_| words.canonical())
            }
        });
        check_permutation(states);
    }
}

fn check_permutation(states: [[F; SPONGE_WIDTH]; LANES]) {
    let mut ours = states;
    permute_x8(&mut ours);
    for (input, out) in states.iter().zip(&ours) {
        let theirs = <F as Poseidon>::poseidon(*input);
        assert_eq!(canon(*out), canon(theirs), "input {input:?}");
        // Outputs are canonical words.
        assert!(out.iter().all(|x| x.0 < F::ORDER), "output {out:?}");
    }
}

#[test]
fn hashes_of_every_length_equal_plonky2s() {
    let mut words = Words(7);
    for len in 0..200usize {
        let inputs: Vec<Vec<F>> = (0..LANES)
            .map(|lane| {
                (0..len)
                    .map(|_| {
                        if lane % 2 == 0 {
                            words.canonical()
                        } else {
                            words.raw()
                        }
                    })
                    .collect()
            })
            .collect();
        let refs: [&[F]; LANES] = core::array::from_fn(|i| inputs[i].as_slice());
        let no_pad = hash_no_pad_x8(refs);
        let or_noop = hash_or_noop_x8(refs);
        for (lane, input) in inputs.iter().enumerate() {
            assert_eq!(
                canon(no_pad[lane].elements),
                canon(PoseidonHash::hash_no_pad(input).elements),
                "hash_no_pad, {len} elements, lane {lane}"
            );
            assert_eq!(
                canon(or_noop[lane].elements),
                canon(PoseidonHash::hash_or_noop(input).elements),
                "hash_or_noop, {len} elements, lane {lane}"
            );
        }
    }
    // Unequal lengths in one call (hashed lane by lane).
    let inputs: Vec<Vec<F>> = (0..LANES)
        .map(|lane| (0..3 + 9 * lane).map(|_| words.canonical()).collect())
        .collect();
    let refs: [&[F]; LANES] = core::array::from_fn(|i| inputs[i].as_slice());
    for (ours, input) in hash_or_noop_x8(refs).iter().zip(&inputs) {
        assert_eq!(*ours, PoseidonHash::hash_or_noop(input));
    }
}

#[test]
fn two_to_one_equals_plonky2s() {
    let mut words = Words(11);
    for round in 0..2_000 {
        let mut digest = || HashOut::<F> {
            elements: core::array::from_fn(|_| {
                if round % 2 == 0 {
                    words.canonical()
                } else {
                    words.raw()
                }
            }),
        };
        let left: [HashOut<F>; LANES] = core::array::from_fn(|_| digest());
        let right: [HashOut<F>; LANES] = core::array::from_fn(|_| digest());
        let ours = two_to_one_x8(&left, &right);
        for i in 0..LANES {
            assert_eq!(
                canon(ours[i].elements),
                canon(PoseidonHash::two_to_one(left[i], right[i]).elements)
            );
        }
    }
}

#[test]
fn merkle_trees_equal_plonky2s() {
    let mut words = Words(3);
    // (log2 of the leaf count, leaf length, cap heights): leaves shorter than a digest (kept
    // as they are), of one and several sponge chunks; levels narrower than eight pairs; trees
    // that are all cap.
    let shapes: [(usize, usize, &[usize]); 9] = [
        (0, 7, &[0]),
        (1, 3, &[0, 1]),
        (3, 4, &[0, 1, 3]),
        (3, 9, &[0, 2, 3]),
        (4, 8, &[0, 4]),
        (5, 135, &[0, 1, 4, 5]),
        (7, 16, &[0, 3, 7]),
        (8, 17, &[2]),
        (10, 84, &[0, 4, 10]),
    ];
    for (log2, leaf_len, caps) in shapes {
        let leaves: Vec<Vec<F>> = (0..1usize << log2)
            .map(|_| (0..leaf_len).map(|_| words.canonical()).collect())
            .collect();
        for &cap_height in caps {
            let theirs = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), cap_height);
            let ours = merkle_tree(leaves.clone(), cap_height);
            let what = format!("2^{log2} leaves of {leaf_len}, cap height {cap_height}");
            assert_eq!(ours.cap, theirs.cap, "cap, {what}");
            assert_eq!(ours.digests.len(), theirs.digests.len(), "{what}");
            for (i, (a, b)) in ours.digests.iter().zip(&theirs.digests).enumerate() {
                assert_eq!(canon(a.elements), canon(b.elements), "digest {i}, {what}");
            }
            assert_eq!(ours.leaves, theirs.leaves);
            for index in [0, (1 << log2) / 3, (1 << log2) - 1] {
                assert_eq!(
                    ours.prove(index),
                    theirs.prove(index),
                    "proof {index}, {what}"
                );
            }
        }
    }
}

#[test]
fn a_tree_of_a_basic_proofs_size_equals_plonky2s_on_several_threads() {
    // 2^13 leaves of 135 elements (a basic proof's wire columns at 2^10 rows, rate 2^3), cap
    // height 4, built on a two-thread pool so that chunks run on both threads.
    let mut words = Words(135);
    let leaves: Vec<Vec<F>> = (0..1usize << 13)
        .map(|_| (0..135).map(|_| words.canonical()).collect())
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let (ours, theirs) = pool.install(|| {
        (
            merkle_tree(leaves.clone(), 4),
            MerkleTree::<F, PoseidonHash>::new(leaves, 4),
        )
    });
    assert_eq!(ours, theirs);
}
