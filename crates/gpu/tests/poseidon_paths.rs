//! Every path of the batched hasher (`zkfleet_gpu::poseidon_x8`: scalar, AVX2, AVX-512, each
//! forced through a `HasherPath`) computes exactly what plonky2's Poseidon computes: the
//! permutation on random and edge states (non-canonical words and words near the modulus
//! included), `hash_no_pad` / `hash_or_noop` of every length 0..=99, `two_to_one`, and Merkle
//! trees against `MerkleTree::new`. A path this CPU lacks is reported on stderr and skipped;
//! `paths_the_cpu_has_are_offered` checks that detection agrees with /proc/cpuinfo, so that on
//! the development machines (AVX-512) all three run.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::hash::poseidon::{Poseidon, PoseidonHash, SPONGE_WIDTH};
use plonky2::plonk::config::Hasher;
use zkfleet_gpu::poseidon_x8::{
    hash_no_pad_x8_with, hash_or_noop_x8_with, merkle_tree_with, permute_x8_with,
    two_to_one_x8_with, HasherPath, HasherPathError, Isa, LANES,
};
use zkfleet_gpu::F;

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

/// Canonical words: equal field elements compare equal.
fn canon<const N: usize>(s: [F; N]) -> [u64; N] {
    s.map(|x| x.to_canonical_u64())
}

/// The paths this CPU runs (a skipped one is said on stderr).
fn paths() -> Vec<HasherPath> {
    Isa::ALL
        .into_iter()
        .filter_map(|isa| match HasherPath::new(isa) {
            Ok(path) => Some(path),
            Err(error) => {
                eprintln!("skipped: {error}");
                None
            }
        })
        .collect()
}

fn cpu_flag(flag: &str) -> bool {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == flag))
}

#[test]
fn paths_the_cpu_has_are_offered() {
    // If detection failed on the development machines, the other tests would compare plonky2
    // with itself on the scalar path only.
    assert!(HasherPath::new(Isa::Scalar).is_ok());
    assert_eq!(HasherPath::new(Isa::Avx2).is_ok(), cpu_flag("avx2"));
    assert_eq!(HasherPath::new(Isa::Avx512).is_ok(), cpu_flag("avx512f"));
    if !cpu_flag("avx512f") {
        assert_eq!(
            HasherPath::new(Isa::Avx512),
            Err(HasherPathError::Unsupported(Isa::Avx512))
        );
    }
    // The default: AVX-512 where the CPU has it, else scalar (AVX2 only when asked for: it
    // measured no faster than scalar, `HasherPath::best`).
    let expected = if cpu_flag("avx512f") {
        Isa::Avx512
    } else {
        Isa::Scalar
    };
    assert_eq!(HasherPath::best().isa(), expected);
}

#[test]
fn path_names_parse_as_the_environment_variable_takes_them() {
    for isa in Isa::ALL {
        assert_eq!(isa.name().parse::<Isa>(), Ok(isa));
        assert_eq!(
            format!(" {} ", isa.name().to_uppercase()).parse::<Isa>(),
            Ok(isa)
        );
    }
    for bad in ["", "avx", "sse2", "avx-512", "scalar,avx2"] {
        match bad.parse::<Isa>() {
            Err(HasherPathError::Unknown(value)) => assert_eq!(value, bad),
            other => panic!("{bad:?} parsed as {other:?}"),
        }
    }
}

#[test]
fn permutation_equals_plonky2s_on_every_path() {
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
    // Every lane position (of both AVX2 groups too) sees every kind of state.
    fixed.extend(fixed.clone().into_iter().rev());
    fixed.extend(fixed.clone().into_iter().skip(3).take(8));
    for path in paths() {
        let mut words = Words(18);
        for chunk in fixed.chunks_exact(LANES) {
            check_permutation(path, chunk.try_into().expect("eight states"));
        }
        for round in 0..2_000 {
            let states: [[F; SPONGE_WIDTH]; LANES] = core::array::from_fn(|_| {
                if round % 2 == 0 {
                    core::array::from_fn(|_| words.raw())
                } else {
                    core::array::from_fn(|_| words.canonical())
                }
            });
            check_permutation(path, states);
        }
    }
}

fn check_permutation(path: HasherPath, states: [[F; SPONGE_WIDTH]; LANES]) {
    let mut ours = states;
    permute_x8_with(path, &mut ours);
    for (lane, (input, out)) in states.iter().zip(&ours).enumerate() {
        let theirs = <F as Poseidon>::poseidon(*input);
        assert_eq!(
            canon(*out),
            canon(theirs),
            "{:?}, lane {lane}, input {input:?}",
            path.isa()
        );
        // Outputs are canonical words.
        assert!(out.iter().all(|x| x.0 < F::ORDER), "output {out:?}");
    }
}

#[test]
fn hashes_equal_plonky2s_on_every_path() {
    for path in paths() {
        let isa = path.isa();
        let mut words = Words(7);
        for len in 0..100usize {
            let inputs: Vec<Vec<F>> = (0..LANES)
                .map(|lane| {
                    (0..len)
                        .map(|_| {
                            if lane % 3 == 0 {
                                words.canonical()
                            } else {
                                words.raw()
                            }
                        })
                        .collect()
                })
                .collect();
            let refs: [&[F]; LANES] = core::array::from_fn(|i| inputs[i].as_slice());
            let no_pad = hash_no_pad_x8_with(path, refs);
            let or_noop = hash_or_noop_x8_with(path, refs);
            for (lane, input) in inputs.iter().enumerate() {
                assert_eq!(
                    canon(no_pad[lane].elements),
                    canon(PoseidonHash::hash_no_pad(input).elements),
                    "{isa:?}: hash_no_pad, {len} elements, lane {lane}"
                );
                assert_eq!(
                    canon(or_noop[lane].elements),
                    canon(PoseidonHash::hash_or_noop(input).elements),
                    "{isa:?}: hash_or_noop, {len} elements, lane {lane}"
                );
            }
        }
        // Unequal lengths in one call (hashed lane by lane).
        let inputs: Vec<Vec<F>> = (0..LANES)
            .map(|lane| (0..3 + 9 * lane).map(|_| words.canonical()).collect())
            .collect();
        let refs: [&[F]; LANES] = core::array::from_fn(|i| inputs[i].as_slice());
        for (ours, input) in hash_or_noop_x8_with(path, refs).iter().zip(&inputs) {
            assert_eq!(*ours, PoseidonHash::hash_or_noop(input), "{isa:?}");
        }

        let mut digest = |raw: bool| HashOut::<F> {
            elements: core::array::from_fn(|_| if raw { words.raw() } else { words.canonical() }),
        };
        for round in 0..1_000 {
            let left: [HashOut<F>; LANES] = core::array::from_fn(|_| digest(round % 2 == 0));
            let right: [HashOut<F>; LANES] = core::array::from_fn(|_| digest(round % 2 == 0));
            let ours = two_to_one_x8_with(path, &left, &right);
            for i in 0..LANES {
                assert_eq!(
                    canon(ours[i].elements),
                    canon(PoseidonHash::two_to_one(left[i], right[i]).elements),
                    "{isa:?}: two_to_one, lane {i}"
                );
            }
        }
    }
}

#[test]
fn merkle_trees_equal_plonky2s_on_every_path() {
    // (log2 of the leaf count, leaf length, cap heights): leaves shorter than a digest, of one
    // and several sponge chunks; levels narrower than eight pairs; trees that are all cap.
    let shapes: [(usize, usize, &[usize]); 6] = [
        (0, 7, &[0]),
        (3, 4, &[0, 3]),
        (4, 8, &[0, 4]),
        (5, 135, &[0, 1, 5]),
        (8, 17, &[2]),
        (10, 84, &[0, 4]),
    ];
    for path in paths() {
        let mut words = Words(3);
        for (log2, leaf_len, caps) in shapes {
            let leaves: Vec<Vec<F>> = (0..1usize << log2)
                .map(|_| (0..leaf_len).map(|_| words.canonical()).collect())
                .collect();
            for &cap_height in caps {
                let theirs = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), cap_height);
                let ours = merkle_tree_with(path, leaves.clone(), cap_height);
                assert_eq!(
                    ours,
                    theirs,
                    "{:?}: 2^{log2} leaves of {leaf_len}, cap height {cap_height}",
                    path.isa()
                );
            }
        }
    }
}
