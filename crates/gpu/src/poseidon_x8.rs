//! plonky2's Poseidon (width 12, x^7, 8 full and 22 partial rounds, its constants) on EIGHT
//! independent states at once, and what is built from it: the sponge hash of 8 equal-length
//! inputs, 8 two-to-one compressions, and a Merkle tree equal to plonky2's
//! `MerkleTree::<F, PoseidonHash>::new`. The CPU side of the prover's commitments
//! ([`crate::HostBatchedCommit`]) builds its trees with it; `zkfleet_circuits` re-exports it as
//! `hasher::batch`.
//!
//! Three paths compute the same thing ([`Isa`]):
//! - `avx512`: one state per 64-bit lane of an AVX-512 register, eight states per register;
//! - `avx2`: one state per 64-bit lane of a 256-bit AVX2 register, the eight states as two
//!   groups of four (meant for hosts without AVX-512: older Xeons, AMD Zen 2/3; opt-in, see
//!   below);
//! - `scalar`: plonky2's own `Poseidon::poseidon`, state by state.
//!
//! The default is AVX-512 where the CPU has it (AVX-512F, detected at run time), else scalar:
//! the AVX2 path only tied with plonky2's scalar code on the one machine we have
//! ([`HasherPath::best`]). The environment variable [`PATH_ENV`] (`ZKFLEET_POSEIDON=scalar|avx2|avx512`) forces one, read
//! once per process ([`selected_path`]), and every function has a `_with` form that takes a
//! [`HasherPath`] (tests and benchmarks compare the three in one process). A [`HasherPath`] is
//! only made for a path the CPU can run, so the vector code is never reached on a CPU without
//! its instructions.
//!
//! Why eight states and not one: the earlier single-state attempt (`zkfleet_circuits`'
//! `hasher::permutation`) packed one state's 12 words into AVX2 vectors and lost to plonky2's
//! scalar code (0.70×), because AVX2 has no 64×64-bit multiply and the partial rounds need
//! horizontal sums. With one state per lane every S-box, MDS row and round constant is the same
//! instruction on all lanes, nothing is horizontal. AVX-512's unsigned compares into mask
//! registers make each Goldilocks carry/borrow correction two instructions; AVX2 has only signed
//! 64-bit compares, so its path flips the sign bits first and turns the all-ones compare result
//! into the correction (ε = 2^32 − 1 is the mask shifted right by 32). Merkle leaves are
//! independent, and so are the pairs of one tree level, so a tree supplies eight states at a
//! time.
//!
//! Exactness: every step is the same map over the field as plonky2's `Poseidon::poseidon` (its
//! "fast partial rounds" with the same precomputed sparse matrices), so outputs are equal as
//! field elements for any input words, non-canonical ones included; digests are returned in
//! canonical form. The tests compare against plonky2 on random and edge states, every input
//! length 0..=199 and trees of several sizes and cap heights (`zkfleet_circuits`'
//! `tests/hasher_batch.rs` on the default path, this crate's `tests/poseidon_paths.rs` on each
//! path), the vector arithmetic's rare branches against u128 arithmetic (here, both vector
//! paths), and whole proofs (`tests/host_batched.rs`).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::{MerkleCap, MerkleTree};
use plonky2::hash::poseidon::{Poseidon, PoseidonHash, SPONGE_WIDTH};
use plonky2::plonk::config::Hasher;
use plonky2::util::log2_strict;
use rayon::prelude::*;

use crate::F;

/// How many states one call hashes: the 64-bit lanes of a 512-bit register (two 256-bit
/// registers on the AVX2 path).
pub const LANES: usize = 8;

/// The environment variable that forces a path: `scalar`, `avx2` or `avx512` (unset or empty:
/// the best the CPU has).
pub const PATH_ENV: &str = "ZKFLEET_POSEIDON";

/// A Poseidon digest over the crate's field.
pub type Digest = HashOut<F>;

/// Whether this CPU can run the AVX-512 path (AVX-512F, detected at run time).
pub fn avx512_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU can run the AVX2 path (AVX2, detected at run time).
pub fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The instruction sets the permutation has a path for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// plonky2's `Poseidon::poseidon`, one state at a time.
    Scalar,
    /// Four states per 256-bit register, two registers' worth per call.
    Avx2,
    /// Eight states per 512-bit register.
    Avx512,
}

impl Isa {
    /// Every path, slowest first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// The name [`PATH_ENV`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run it.
    pub fn supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2 => avx2_available(),
            Isa::Avx512 => avx512_available(),
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = HasherPathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| HasherPathError::Unknown(s.to_owned()))
    }
}

/// Why a path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HasherPathError {
    /// The name is none of `scalar`, `avx2`, `avx512`.
    #[error("{value:?} names no Poseidon path (expected scalar, avx2 or avx512)", value = .0)]
    Unknown(String),
    /// The CPU lacks the path's instructions.
    #[error("the {0} Poseidon path needs instructions this CPU does not have")]
    Unsupported(Isa),
}

/// A path this CPU can run: made only by [`HasherPath::new`] (which checks the CPU),
/// [`HasherPath::best`] and [`HasherPath::from_env`], so the vector code behind it is sound to
/// call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HasherPath(Isa);

impl HasherPath {
    /// The path `isa`, if this CPU can run it.
    pub fn new(isa: Isa) -> Result<Self, HasherPathError> {
        if isa.supported() {
            Ok(Self(isa))
        } else {
            Err(HasherPathError::Unsupported(isa))
        }
    }

    /// The default: AVX-512 where the CPU has it, else scalar. Not AVX2: on the one machine
    /// measured (AMD EPYC, Zen 4, its AVX2 path forced) it only tied with plonky2's scalar code
    /// (1.00× per permutation, 0.99–1.01× per Merkle tree, 1.03× per 2^13 proof;
    /// docs/benchmarks.md, "Poseidon hasher"), so it is used only where [`PATH_ENV`] asks for
    /// it, until a host without AVX-512 shows it faster.
    pub fn best() -> Self {
        if Isa::Avx512.supported() {
            Self(Isa::Avx512)
        } else {
            Self(Isa::Scalar)
        }
    }

    /// The path [`PATH_ENV`] names (unset or empty: [`Self::best`]).
    pub fn from_env() -> Result<Self, HasherPathError> {
        match std::env::var(PATH_ENV) {
            Ok(value) if !value.trim().is_empty() => Self::new(value.parse()?),
            // Set but empty: as unset.
            Ok(_) => Ok(Self::best()),
            Err(std::env::VarError::NotPresent) => Ok(Self::best()),
            Err(std::env::VarError::NotUnicode(value)) => Err(HasherPathError::Unknown(
                value.to_string_lossy().into_owned(),
            )),
        }
    }

    /// Which instructions it runs on.
    pub fn isa(self) -> Isa {
        self.0
    }
}

/// The path the functions without `_with` use: [`HasherPath::from_env`], read on first use and
/// kept for the process. A value it cannot honour (an unknown name, or a path this CPU lacks)
/// falls back to [`HasherPath::best`] with one line on stderr: the outputs are the same on every
/// path, so a mistyped variable must not stop a prover, but it should not pass silently either
/// (this crate has no logger; callers that want an error call [`HasherPath::from_env`]).
pub fn selected_path() -> HasherPath {
    static SELECTED: OnceLock<HasherPath> = OnceLock::new();
    *SELECTED.get_or_init(|| {
        HasherPath::from_env().unwrap_or_else(|error| {
            let best = HasherPath::best();
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "zkfleet: {PATH_ENV}: {error}; using the {} path",
                best.isa()
            );
            best
        })
    })
}

/// plonky2's Poseidon permutation applied to each of eight states (on [`selected_path`]).
pub fn permute_x8(states: &mut [[F; SPONGE_WIDTH]; LANES]) {
    permute_x8_with(selected_path(), states)
}

/// [`permute_x8`] on `path`.
pub fn permute_x8_with(path: HasherPath, states: &mut [[F; SPONGE_WIDTH]; LANES]) {
    match path.isa() {
        // SAFETY: a `HasherPath` of this ISA exists only where the CPU has it.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::permute_states(states) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::permute_states(states) },
        _ => {
            for state in states.iter_mut() {
                *state = <F as Poseidon>::poseidon(*state);
            }
        }
    }
}

/// `PoseidonHash::hash_no_pad` of eight inputs (plonky2's sponge: rate 8, overwrite mode, no
/// padding). Inputs of unequal lengths are correct too, hashed one by one.
pub fn hash_no_pad_x8(inputs: [&[F]; LANES]) -> [Digest; LANES] {
    hash_no_pad_x8_with(selected_path(), inputs)
}

/// [`hash_no_pad_x8`] on `path`.
pub fn hash_no_pad_x8_with(path: HasherPath, inputs: [&[F]; LANES]) -> [Digest; LANES] {
    if inputs.iter().all(|i| i.len() == inputs[0].len()) {
        match path.isa() {
            // SAFETY: a `HasherPath` of this ISA exists only where the CPU has it.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => return unsafe { avx512::hash_no_pad(inputs) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => return unsafe { avx2::hash_no_pad(inputs) },
            _ => {}
        }
    }
    inputs.map(PoseidonHash::hash_no_pad)
}

/// `PoseidonHash::hash_or_noop` of eight inputs: inputs of at most four elements are their own
/// digest (zero-padded), longer ones are hashed.
pub fn hash_or_noop_x8(inputs: [&[F]; LANES]) -> [Digest; LANES] {
    hash_or_noop_x8_with(selected_path(), inputs)
}

/// [`hash_or_noop_x8`] on `path`.
pub fn hash_or_noop_x8_with(path: HasherPath, inputs: [&[F]; LANES]) -> [Digest; LANES] {
    if inputs.iter().all(|i| i.len() > 4) {
        hash_no_pad_x8_with(path, inputs)
    } else {
        inputs.map(PoseidonHash::hash_or_noop)
    }
}

/// `PoseidonHash::two_to_one(left[i], right[i])` for the eight pairs.
pub fn two_to_one_x8(left: &[Digest; LANES], right: &[Digest; LANES]) -> [Digest; LANES] {
    two_to_one_x8_with(selected_path(), left, right)
}

/// [`two_to_one_x8`] on `path`.
pub fn two_to_one_x8_with(
    path: HasherPath,
    left: &[Digest; LANES],
    right: &[Digest; LANES],
) -> [Digest; LANES] {
    match path.isa() {
        // SAFETY: a `HasherPath` of this ISA exists only where the CPU has it.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::two_to_one(left, right) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::two_to_one(left, right) },
        _ => core::array::from_fn(|i| PoseidonHash::two_to_one(left[i], right[i])),
    }
}

/// Digests of `leaves` (`hash_or_noop` each), eight at a time, chunks spread over rayon.
fn leaf_digests(path: HasherPath, leaves: &[Vec<F>]) -> Vec<Digest> {
    let mut out = vec![Digest::ZERO; leaves.len()];
    out.par_chunks_mut(LANES)
        .zip(leaves.par_chunks(LANES))
        .for_each(|(out, leaves)| {
            if let Ok(batch) = <&[Vec<F>; LANES]>::try_from(leaves) {
                out.copy_from_slice(&hash_or_noop_x8_with(
                    path,
                    batch.each_ref().map(Vec::as_slice),
                ));
            } else {
                for (o, leaf) in out.iter_mut().zip(leaves) {
                    *o = PoseidonHash::hash_or_noop(leaf);
                }
            }
        });
    out
}

/// The parents of one tree level: `two_to_one(level[2j], level[2j + 1])`.
fn parents(path: HasherPath, level: &[Digest]) -> Vec<Digest> {
    let mut out = vec![Digest::ZERO; level.len() / 2];
    out.par_chunks_mut(LANES)
        .zip(level.par_chunks(2 * LANES))
        .for_each(|(out, children)| {
            if out.len() == LANES {
                let left = core::array::from_fn(|i| children[2 * i]);
                let right = core::array::from_fn(|i| children[2 * i + 1]);
                out.copy_from_slice(&two_to_one_x8_with(path, &left, &right));
            } else {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = PoseidonHash::two_to_one(children[2 * i], children[2 * i + 1]);
                }
            }
        });
    out
}

/// `MerkleTree::<F, PoseidonHash>::new(leaves, cap_height)`, the same digests in the same
/// layout and the same cap, with leaves and each level's pairs hashed eight at a time (on
/// [`selected_path`]).
///
/// Panics as `MerkleTree::new` does: if the number of leaves is not a power of two or
/// `cap_height` exceeds its log2 (callers size trees from the LDE, never from outside data).
pub fn merkle_tree(leaves: Vec<Vec<F>>, cap_height: usize) -> MerkleTree<F, PoseidonHash> {
    merkle_tree_with(selected_path(), leaves, cap_height)
}

/// [`merkle_tree`] on `path` (panics as [`merkle_tree`] does).
pub fn merkle_tree_with(
    path: HasherPath,
    leaves: Vec<Vec<F>>,
    cap_height: usize,
) -> MerkleTree<F, PoseidonHash> {
    let log2_leaves = log2_strict(leaves.len());
    assert!(
        cap_height <= log2_leaves,
        "cap_height={cap_height} should be at most log2(leaves.len())={log2_leaves}"
    );
    // Levels from the leaves' digests (level 0) up to the cap (level `layers`).
    let layers = log2_leaves - cap_height;
    let mut levels = Vec::with_capacity(layers + 1);
    levels.push(leaf_digests(path, &leaves));
    for layer in 0..layers {
        let next = parents(path, &levels[layer]);
        levels.push(next);
    }
    let cap = levels.pop().unwrap_or_default();

    // plonky2's layout: one contiguous block per cap element (sub-tree); inside it, the pair of
    // siblings `j` of level `i` sits at pair index `(j << (i + 1)) + (1 << i) - 1` (see
    // `merkle_tree_prove`), the left sibling first.
    let subtree_leaves = leaves.len() >> cap_height;
    let subtree_digests = 2 * (subtree_leaves - 1);
    let mut digests = vec![Digest::ZERO; 2 * (leaves.len() - (1 << cap_height))];
    if subtree_digests > 0 {
        digests
            .par_chunks_mut(subtree_digests)
            .enumerate()
            .for_each(|(tree, block)| {
                for (i, level) in levels.iter().enumerate() {
                    let per_tree = subtree_leaves >> i;
                    let nodes = &level[tree * per_tree..(tree + 1) * per_tree];
                    for (k, node) in nodes.iter().enumerate() {
                        let pair = ((k >> 1) << (i + 1)) + (1 << i) - 1;
                        block[2 * pair + (k & 1)] = *node;
                    }
                }
            });
    }
    MerkleTree {
        leaves,
        digests,
        cap: MerkleCap(cap),
    }
}

/// `$body` once for each `$i` in 0..12, `$i` a constant: the MDS layer's loops written out, so
/// that its coefficients are constants in the code (left as loops, the AVX2 build loaded and
/// broadcast every coefficient at run time, and kept loop counters, on every term).
#[cfg(target_arch = "x86_64")]
macro_rules! unroll12 {
    ($i:ident => $body:block) => {
        unroll12!(@ $i $body; 0 1 2 3 4 5 6 7 8 9 10 11)
    };
    (@ $i:ident $body:block; $($n:literal)*) => {
        $({
            let $i: usize = $n;
            $body
        })*
    };
}

/// The permutation and its entry points over a module's vector primitives (`splat`, `zero`,
/// `add64`, `mul32`, `shr32`, `lo32`, `high_halves`, `carry_into`, `mul_wide`, `reduce128`,
/// `add_small`, `sub_small`, `mul`, `square`, `reduce_small`, `canonicalize`, `load`,
/// `store`), for the AVX-512 and AVX2 modules: the same rounds with
/// the same constants, so the two paths cannot drift apart. `$width` states per register; the
/// entry points take [`LANES`] states and run `LANES / $width` register groups.
#[cfg(target_arch = "x86_64")]
macro_rules! poseidon_rounds {
    ($feature:tt, $vector:ty, $width:expr) => {
        use plonky2::field::types::{Field, PrimeField64};
        use plonky2::hash::hash_types::HashOut;
        use plonky2::hash::poseidon::{
            Poseidon, ALL_ROUND_CONSTANTS, HALF_N_FULL_ROUNDS, N_PARTIAL_ROUNDS, SPONGE_WIDTH,
        };

        use super::{Digest, LANES};
        use crate::F;

        /// States per register.
        const WIDTH: usize = $width;
        /// Register groups per call of [`LANES`] states.
        const GROUPS: usize = LANES / WIDTH;

        type State = [$vector; SPONGE_WIDTH];

        /// A digest from four canonical output words.
        fn digest(words: [u64; 4]) -> Digest {
            HashOut {
                elements: words.map(F::from_canonical_u64),
            }
        }

        /// The words of a digest as the permutation takes them (canonical or not: the same
        /// field element either way).
        fn words(d: &Digest) -> [u64; 4] {
            d.elements.map(|x| x.to_noncanonical_u64())
        }

        /// x^7, as plonky2's `sbox_monomial`.
        #[inline]
        #[target_feature(enable = $feature)]
        fn sbox(x: $vector) -> $vector {
            let x2 = square(x);
            let x4 = square(x2);
            let x3 = mul(x, x2);
            mul(x3, x4)
        }

        /// x + y·w for any words x, y, w: the 128-bit product plus x with its carry, reduced
        /// once (y·w + x < 2^128, so the carry cannot overflow the high word), instead of a
        /// reduced product and a modular addition.
        #[inline]
        #[target_feature(enable = $feature)]
        fn mul_add(x: $vector, y: $vector, w: u64) -> $vector {
            let (hi, lo) = mul_wide(y, splat(w));
            let sum = add64(lo, x);
            reduce128((carry_into(hi, sum, x), sum))
        }

        /// plonky2's MDS matrix (circulant + diagonal) by rows: row `r`'s coefficient of word
        /// `j` (`MDS_MATRIX_CIRC[(j − r) mod 12]`, plus `MDS_MATRIX_DIAG[r]` on the diagonal),
        /// so that the layer's loops index no modulo (the AVX2 build did not unroll them).
        const MDS_ROWS: [[u64; SPONGE_WIDTH]; SPONGE_WIDTH] = {
            let circ = <F as Poseidon>::MDS_MATRIX_CIRC;
            let diag = <F as Poseidon>::MDS_MATRIX_DIAG;
            let mut rows = [[0u64; SPONGE_WIDTH]; SPONGE_WIDTH];
            let mut r = 0;
            while r < SPONGE_WIDTH {
                let mut i = 0;
                while i < SPONGE_WIDTH {
                    rows[r][(i + r) % SPONGE_WIDTH] = circ[i];
                    i += 1;
                }
                rows[r][r] += diag[r];
                r += 1;
            }
            rows
        };

        /// plonky2's `mds_layer`: (circulant + diagonal) matrix of small constants. Each row is
        /// accumulated separately over the low and the high 32-bit halves of the words (sums of
        /// twelve 32×9-bit products, under 2^42) and reduced once.
        #[inline]
        #[target_feature(enable = $feature)]
        fn mds(state: &State) -> State {
            let mut highs = [zero(); SPONGE_WIDTH];
            for (h, x) in highs.iter_mut().zip(state) {
                *h = shr32(*x);
            }
            let mut out = [zero(); SPONGE_WIDTH];
            unroll12!(r => {
                let mut lo = zero();
                let mut hi = zero();
                unroll12!(j => {
                    let c = splat(MDS_ROWS[r][j]);
                    lo = add64(lo, mul32(state[j], c));
                    hi = add64(hi, mul32(highs[j], c));
                });
                out[r] = reduce_small(lo, hi);
            });
            out
        }

        /// A sum of up to twelve products x·w (x any word, w < 2^64 a constant) kept as four
        /// 32-bit limb sums: each product's four 32×32-bit partial products are split into
        /// halves and added at their weight (2^0, 2^32, 2^64, 2^96), and the sum is reduced
        /// once ([`Limbs::reduce`]) instead of once per product. Every limb sum stays under
        /// 3·12·2^32 < 2^38.
        #[derive(Clone, Copy)]
        struct Limbs([$vector; 4]);

        impl Limbs {
            #[inline]
            #[target_feature(enable = $feature)]
            fn new() -> Self {
                Self([zero(); 4])
            }

            /// Adds x·w, given x's high half moved low (`high_halves(x)`).
            #[inline]
            #[target_feature(enable = $feature)]
            fn add_product(&mut self, x: $vector, x_hi: $vector, w: u64) {
                let (w_lo, w_hi) = (splat(w & 0xffff_ffff), splat(w >> 32));
                let a = mul32(x, w_lo);
                let b = mul32(x, w_hi);
                let c = mul32(x_hi, w_lo);
                let e = mul32(x_hi, w_hi);
                let [l0, l1, l2, l3] = &mut self.0;
                *l0 = add64(*l0, lo32(a));
                *l1 = add64(add64(*l1, shr32(a)), add64(lo32(b), lo32(c)));
                *l2 = add64(add64(*l2, shr32(b)), add64(shr32(c), lo32(e)));
                *l3 = add64(*l3, shr32(e));
            }

            /// The sum mod p (not canonical): with 2^64 ≡ 2^32 − 1 and 2^96 ≡ −1,
            /// l0 + l1·2^32 + l2·2^64 + l3·2^96 ≡ l0 + (l1 + l2)·2^32 − (l2 + l3), where
            /// l0, l1 + l2 < 2^42 (`reduce_small`'s bound) and l2 + l3 < p.
            #[inline]
            #[target_feature(enable = $feature)]
            fn reduce(self) -> $vector {
                let [l0, l1, l2, l3] = self.0;
                sub_small(reduce_small(l0, add64(l1, l2)), add64(l2, l3))
            }
        }

        #[inline]
        #[target_feature(enable = $feature)]
        fn full_rounds(state: &mut State, round: &mut usize) {
            for _ in 0..HALF_N_FULL_ROUNDS {
                for (i, x) in state.iter_mut().enumerate() {
                    let c = ALL_ROUND_CONSTANTS[i + SPONGE_WIDTH * *round];
                    *x = sbox(add_small(*x, splat(c)));
                }
                *state = mds(state);
                *round += 1;
            }
        }

        /// plonky2's fast partial rounds: the first constant layer, the dense initial matrix,
        /// then per round the S-box on word 0, its constant, and the sparse matrix (ŵ, v).
        #[inline]
        #[target_feature(enable = $feature)]
        fn partial_rounds(state: &mut State, round: &mut usize) {
            let first = <F as Poseidon>::FAST_PARTIAL_FIRST_ROUND_CONSTANT;
            for (x, &c) in state.iter_mut().zip(&first) {
                *x = add_small(*x, splat(c));
            }
            let matrix = <F as Poseidon>::FAST_PARTIAL_ROUND_INITIAL_MATRIX;
            let mut highs = [zero(); SPONGE_WIDTH];
            for (h, x) in highs.iter_mut().zip(state.iter()) {
                *h = high_halves(*x);
            }
            let mut init = [Limbs::new(); SPONGE_WIDTH - 1];
            for (r, row) in matrix.iter().enumerate() {
                for (acc, &m) in init.iter_mut().zip(row) {
                    acc.add_product(state[r + 1], highs[r + 1], m);
                }
            }
            for (x, acc) in state[1..].iter_mut().zip(init) {
                *x = acc.reduce();
            }

            let constants = <F as Poseidon>::FAST_PARTIAL_ROUND_CONSTANTS;
            let w_hats = <F as Poseidon>::FAST_PARTIAL_ROUND_W_HATS;
            let vs = <F as Poseidon>::FAST_PARTIAL_ROUND_VS;
            let m00 = <F as Poseidon>::MDS_MATRIX_CIRC[0] + <F as Poseidon>::MDS_MATRIX_DIAG[0];
            for i in 0..N_PARTIAL_ROUNDS {
                let s0 = add_small(sbox(state[0]), splat(constants[i]));
                let mut d = Limbs::new();
                d.add_product(s0, high_halves(s0), m00);
                for (x, &w) in state[1..].iter().zip(&w_hats[i]) {
                    d.add_product(*x, high_halves(*x), w);
                }
                let d = d.reduce();
                for (x, &v) in state[1..].iter_mut().zip(&vs[i]) {
                    *x = mul_add(*x, s0, v);
                }
                state[0] = d;
            }
            *round += N_PARTIAL_ROUNDS;
        }

        #[target_feature(enable = $feature)]
        fn permute(state: &mut State) {
            let mut round = 0;
            full_rounds(state, &mut round);
            partial_rounds(state, &mut round);
            full_rounds(state, &mut round);
        }

        /// The first four words of each lane of group `g`, canonical, into `out`'s lanes.
        #[inline]
        #[target_feature(enable = $feature)]
        fn squeeze(state: &State, g: usize, out: &mut [Digest; LANES]) {
            let rows: [[u64; WIDTH]; 4] = [
                store(canonicalize(state[0])),
                store(canonicalize(state[1])),
                store(canonicalize(state[2])),
                store(canonicalize(state[3])),
            ];
            for lane in 0..WIDTH {
                out[g * WIDTH + lane] = digest(rows.map(|row| row[lane]));
            }
        }

        #[target_feature(enable = $feature)]
        pub(super) fn permute_states(states: &mut [[F; SPONGE_WIDTH]; LANES]) {
            for group in states.chunks_exact_mut(WIDTH) {
                let mut state = [zero(); SPONGE_WIDTH];
                for (i, x) in state.iter_mut().enumerate() {
                    *x = load(core::array::from_fn(|lane| group[lane][i].0));
                }
                permute(&mut state);
                for (i, x) in state.iter().enumerate() {
                    let words = store(canonicalize(*x));
                    for (lane, s) in group.iter_mut().enumerate() {
                        s[i] = F::from_canonical_u64(words[lane]);
                    }
                }
            }
        }

        /// The sponge over eight inputs of one length (the caller checks the lengths).
        #[target_feature(enable = $feature)]
        pub(super) fn hash_no_pad(inputs: [&[F]; LANES]) -> [Digest; LANES] {
            let len = inputs[0].len();
            let mut out = [Digest::ZERO; LANES];
            for g in 0..GROUPS {
                let lanes = &inputs[g * WIDTH..(g + 1) * WIDTH];
                let mut state = [zero(); SPONGE_WIDTH];
                let mut start = 0;
                while start < len {
                    // Overwrite mode: the chunk replaces the first words; a short last chunk
                    // leaves the rest of the rate as it was.
                    let chunk = (len - start).min(8);
                    for (i, x) in state[..chunk].iter_mut().enumerate() {
                        *x = load(core::array::from_fn(|lane| lanes[lane][start + i].0));
                    }
                    permute(&mut state);
                    start += chunk;
                }
                squeeze(&state, g, &mut out);
            }
            out
        }

        #[target_feature(enable = $feature)]
        pub(super) fn two_to_one(
            left: &[Digest; LANES],
            right: &[Digest; LANES],
        ) -> [Digest; LANES] {
            let (l, r) = (left.each_ref().map(words), right.each_ref().map(words));
            let mut out = [Digest::ZERO; LANES];
            for g in 0..GROUPS {
                let mut state = [zero(); SPONGE_WIDTH];
                for i in 0..4 {
                    state[i] = load(core::array::from_fn(|lane| l[g * WIDTH + lane][i]));
                    state[i + 4] = load(core::array::from_fn(|lane| r[g * WIDTH + lane][i]));
                }
                permute(&mut state);
                squeeze(&state, g, &mut out);
            }
            out
        }

        /// Entry points for the unit tests of the arithmetic (one lane's words in, out).
        #[cfg(test)]
        pub(super) mod arithmetic {
            use super::*;

            /// mul, add, square, add_small, sub_small (y < p), canonicalize of x, and
            /// mul_add x + y·x.
            #[target_feature(enable = $feature)]
            pub(crate) fn binary_ops(x: u64, y: u64) -> [u64; 7] {
                let w = x;
                let (x, y) = (splat(x), splat(y));
                let y_small = canonicalize(y);
                [
                    mul(x, y),
                    add(x, y),
                    square(x),
                    add_small(x, y_small),
                    sub_small(x, y_small),
                    canonicalize(x),
                    mul_add(x, y, w),
                ]
                .map(|v| store(v)[WIDTH - 1])
            }

            #[target_feature(enable = $feature)]
            pub(crate) fn reduce_small_words(l: u64, h: u64) -> u64 {
                store(reduce_small(splat(l), splat(h)))[1]
            }

            /// Σ xs[k]·ws[k] through [`Limbs`].
            #[target_feature(enable = $feature)]
            pub(crate) fn dot_words(xs: &[u64], ws: &[u64]) -> u64 {
                let mut acc = Limbs::new();
                for (&x, &w) in xs.iter().zip(ws) {
                    let x = splat(x);
                    acc.add_product(x, high_halves(x), w);
                }
                store(acc.reduce())[0]
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! The permutation on `[__m512i; 12]`: word `i` of the eight states in register `i`.
    //!
    //! Goldilocks arithmetic on unreduced 64-bit words (any value in 0..2^64 stands for itself
    //! mod p): products are formed in 128 bits from four 32×32-bit multiplies
    //! (`vpmuludq`) and reduced with 2^64 ≡ 2^32 − 1 and 2^96 ≡ −1 (mod p), as plonky2's
    //! `Avx512GoldilocksField` does; carries and borrows become masked adds of ε = 2^32 − 1.

    use core::arch::x86_64::*;

    use plonky2::field::types::Field64;

    poseidon_rounds!("avx512f", __m512i, 8);

    const ORDER: u64 = F::ORDER;
    /// 2^64 mod p.
    const EPSILON: u64 = ORDER.wrapping_neg();
    /// Selects the low 32-bit half of every 64-bit lane.
    const LO_32_BITS: __mmask16 = 0b0101_0101_0101_0101;

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(x: u64) -> __m512i {
        _mm512_set1_epi64(x as i64)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn zero() -> __m512i {
        _mm512_setzero_si512()
    }

    /// Wrapping 64-bit addition.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add64(x: __m512i, y: __m512i) -> __m512i {
        _mm512_add_epi64(x, y)
    }

    /// The low 32 bits of x times the low 32 bits of y, in 64 bits.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul32(x: __m512i, y: __m512i) -> __m512i {
        _mm512_mul_epu32(x, y)
    }

    /// hi + 1 where `sum` = lo + `addend` wrapped (came out below the addend), else hi.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn carry_into(hi: __m512i, sum: __m512i, addend: __m512i) -> __m512i {
        _mm512_mask_add_epi64(hi, _mm512_cmplt_epu64_mask(sum, addend), hi, splat(1))
    }

    /// The low 32 bits of each lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lo32(x: __m512i) -> __m512i {
        _mm512_and_si512(x, splat(0xffff_ffff))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn shr32(x: __m512i) -> __m512i {
        _mm512_srli_epi64::<32>(x)
    }

    /// A value in 0..p with the same residue.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn canonicalize(x: __m512i) -> __m512i {
        let order = splat(ORDER);
        let ge = _mm512_cmpge_epu64_mask(x, order);
        _mm512_mask_sub_epi64(x, ge, x, order)
    }

    /// x + y for any x and y < 2^64 − ε (a canonical element, or a small value): on overflow
    /// the sum wrapped by 2^64 ≡ ε, and adding ε back cannot overflow again.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add_small(x: __m512i, y: __m512i) -> __m512i {
        let sum = _mm512_add_epi64(x, y);
        let over = _mm512_cmplt_epu64_mask(sum, y);
        _mm512_mask_add_epi64(sum, over, sum, splat(EPSILON))
    }

    /// x + y for any words (the rounds no longer need it: `mul_add` and the limb sums took its
    /// place; the arithmetic tests still check it).
    #[cfg(test)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add(x: __m512i, y: __m512i) -> __m512i {
        add_small(x, canonicalize(y))
    }

    /// x − y for any x and y < p (no double underflow, as `add_small`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sub_small(x: __m512i, y: __m512i) -> __m512i {
        let under = _mm512_cmplt_epu64_mask(x, y);
        let diff = _mm512_sub_epi64(x, y);
        _mm512_mask_sub_epi64(diff, under, diff, splat(EPSILON))
    }

    /// The high 32 bits of each lane moved to the low half (the multiply ignores the high half;
    /// a shuffle instead of a shift keeps the shift port free).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn high_halves(x: __m512i) -> __m512i {
        _mm512_castps_si512(_mm512_movehdup_ps(_mm512_castsi512_ps(x)))
    }

    /// The 128-bit product x·y as (high, low) 64-bit words.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul_wide(x: __m512i, y: __m512i) -> (__m512i, __m512i) {
        let x_hi = high_halves(x);
        let y_hi = high_halves(y);
        let ll = _mm512_mul_epu32(x, y);
        let lh = _mm512_mul_epu32(x, y_hi);
        let hl = _mm512_mul_epu32(x_hi, y);
        let hh = _mm512_mul_epu32(x_hi, y_hi);
        // Schoolbook addition of the partial products; none of these sums can overflow.
        let t0 = _mm512_add_epi64(hl, _mm512_srli_epi64::<32>(ll));
        let t1 = _mm512_add_epi64(lh, _mm512_and_si512(t0, splat(EPSILON)));
        let t2 = _mm512_add_epi64(hh, _mm512_srli_epi64::<32>(t0));
        let hi = _mm512_add_epi64(t2, _mm512_srli_epi64::<32>(t1));
        let t1_lo = _mm512_castps_si512(_mm512_moveldup_ps(_mm512_castsi512_ps(t1)));
        let lo = _mm512_mask_blend_epi32(LO_32_BITS, t1_lo, ll);
        (hi, lo)
    }

    /// The 128-bit square x² as (high, low): three multiplies, the cross term doubled by shifts.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn square_wide(x: __m512i) -> (__m512i, __m512i) {
        let x_hi = high_halves(x);
        let ll = _mm512_mul_epu32(x, x);
        let lh = _mm512_mul_epu32(x, x_hi);
        let hh = _mm512_mul_epu32(x_hi, x_hi);
        let t0 = _mm512_add_epi64(lh, _mm512_srli_epi64::<33>(ll));
        let hi = _mm512_add_epi64(hh, _mm512_srli_epi64::<31>(t0));
        let lo = _mm512_add_epi64(ll, _mm512_slli_epi64::<33>(lh));
        (hi, lo)
    }

    /// hi·2^64 + lo mod p (not necessarily canonical): 2^64 ≡ ε and 2^96 ≡ −1, so the value is
    /// lo − hi_hi + hi_lo·ε.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce128((hi, lo): (__m512i, __m512i)) -> __m512i {
        let lo = sub_small(lo, _mm512_srli_epi64::<32>(hi));
        add_small(lo, _mm512_mul_epu32(hi, splat(EPSILON)))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul(x: __m512i, y: __m512i) -> __m512i {
        reduce128(mul_wide(x, y))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn square(x: __m512i) -> __m512i {
        reduce128(square_wide(x))
    }

    /// L + H·2^32 mod p for L, H < 2^42 (the MDS layer's accumulators).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce_small(l: __m512i, h: __m512i) -> __m512i {
        let shifted = _mm512_slli_epi64::<32>(h);
        let lo = _mm512_add_epi64(l, shifted);
        let carry = _mm512_cmplt_epu64_mask(lo, shifted);
        let hi = _mm512_srli_epi64::<32>(h);
        let hi = _mm512_mask_add_epi64(hi, carry, hi, splat(1));
        // hi < 2^11, so hi·ε < 2^43.
        add_small(lo, _mm512_mul_epu32(hi, splat(EPSILON)))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(words: [u64; WIDTH]) -> __m512i {
        // SAFETY: reads exactly the 64 bytes of `words` (unaligned load).
        unsafe { _mm512_loadu_si512(words.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store(x: __m512i) -> [u64; WIDTH] {
        let mut out = [0u64; WIDTH];
        // SAFETY: writes exactly the 64 bytes of `out` (unaligned store).
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), x) };
        out
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The permutation on `[__m256i; 12]`: word `i` of four states in register `i`, the eight
    //! states of a call as two groups of four.
    //!
    //! The same Goldilocks arithmetic as the AVX-512 path (128-bit products from four
    //! `vpmuludq`, reduced with 2^64 ≡ ε and 2^96 ≡ −1), with AVX2's instructions: it has no
    //! unsigned 64-bit compare and no mask registers, so `lt` compares with the sign bits
    //! flipped (`vpcmpgtq` is signed) and yields all-ones lanes, and a carry or borrow
    //! correction adds or subtracts that mask shifted right by 32, which is ε exactly where the
    //! compare held and 0 elsewhere.

    use core::arch::x86_64::*;

    use plonky2::field::types::Field64;

    poseidon_rounds!("avx2", __m256i, 4);

    const ORDER: u64 = F::ORDER;
    /// 2^64 mod p.
    const EPSILON: u64 = ORDER.wrapping_neg();
    /// The sign bit: x ^ SIGN < y ^ SIGN as signed words iff x < y as unsigned ones.
    const SIGN: u64 = 1 << 63;

    #[inline]
    #[target_feature(enable = "avx2")]
    fn splat(x: u64) -> __m256i {
        _mm256_set1_epi64x(x as i64)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn zero() -> __m256i {
        _mm256_setzero_si256()
    }

    /// Wrapping 64-bit addition.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add64(x: __m256i, y: __m256i) -> __m256i {
        _mm256_add_epi64(x, y)
    }

    /// The low 32 bits of x times the low 32 bits of y, in 64 bits.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul32(x: __m256i, y: __m256i) -> __m256i {
        _mm256_mul_epu32(x, y)
    }

    /// hi + 1 where `sum` = lo + `addend` wrapped (came out below the addend), else hi.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn carry_into(hi: __m256i, sum: __m256i, addend: __m256i) -> __m256i {
        _mm256_sub_epi64(hi, lt(sum, addend))
    }

    /// The low 32 bits of each lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lo32(x: __m256i) -> __m256i {
        _mm256_and_si256(x, splat(0xffff_ffff))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn shr32(x: __m256i) -> __m256i {
        _mm256_srli_epi64::<32>(x)
    }

    /// All-ones lanes where x < y as unsigned words, zero elsewhere.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lt(x: __m256i, y: __m256i) -> __m256i {
        let sign = splat(SIGN);
        _mm256_cmpgt_epi64(_mm256_xor_si256(y, sign), _mm256_xor_si256(x, sign))
    }

    /// ε where `mask` is all ones, 0 where it is zero.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn epsilon_where(mask: __m256i) -> __m256i {
        _mm256_srli_epi64::<32>(mask)
    }

    /// A value in 0..p with the same residue: x ≥ p is x > p − 1 (signed, sign bits flipped),
    /// and x − p = x + ε mod 2^64.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn canonicalize(x: __m256i) -> __m256i {
        let ge = _mm256_cmpgt_epi64(_mm256_xor_si256(x, splat(SIGN)), splat((ORDER - 1) ^ SIGN));
        _mm256_add_epi64(x, epsilon_where(ge))
    }

    /// x + y for any x and y < 2^64 − ε (a canonical element, or a small value): on overflow
    /// the sum wrapped by 2^64 ≡ ε, and adding ε back cannot overflow again.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add_small(x: __m256i, y: __m256i) -> __m256i {
        let sum = _mm256_add_epi64(x, y);
        _mm256_add_epi64(sum, epsilon_where(lt(sum, y)))
    }

    /// x + y for any words (the rounds no longer need it: `mul_add` and the limb sums took its
    /// place; the arithmetic tests still check it).
    #[cfg(test)]
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add(x: __m256i, y: __m256i) -> __m256i {
        add_small(x, canonicalize(y))
    }

    /// x − y for any x and y < p (no double underflow, as `add_small`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sub_small(x: __m256i, y: __m256i) -> __m256i {
        let under = lt(x, y);
        let diff = _mm256_sub_epi64(x, y);
        _mm256_sub_epi64(diff, epsilon_where(under))
    }

    /// The high 32 bits of each lane moved to the low half (the multiply ignores the high half;
    /// a shuffle instead of a shift keeps the shift port free).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn high_halves(x: __m256i) -> __m256i {
        _mm256_castps_si256(_mm256_movehdup_ps(_mm256_castsi256_ps(x)))
    }

    /// The 128-bit product x·y as (high, low) 64-bit words.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul_wide(x: __m256i, y: __m256i) -> (__m256i, __m256i) {
        let x_hi = high_halves(x);
        let y_hi = high_halves(y);
        let ll = _mm256_mul_epu32(x, y);
        let lh = _mm256_mul_epu32(x, y_hi);
        let hl = _mm256_mul_epu32(x_hi, y);
        let hh = _mm256_mul_epu32(x_hi, y_hi);
        // Schoolbook addition of the partial products; none of these sums can overflow.
        let t0 = _mm256_add_epi64(hl, _mm256_srli_epi64::<32>(ll));
        let t1 = _mm256_add_epi64(lh, _mm256_and_si256(t0, splat(EPSILON)));
        let t2 = _mm256_add_epi64(hh, _mm256_srli_epi64::<32>(t0));
        let hi = _mm256_add_epi64(t2, _mm256_srli_epi64::<32>(t1));
        let t1_lo = _mm256_castps_si256(_mm256_moveldup_ps(_mm256_castsi256_ps(t1)));
        // Even 32-bit elements (each lane's low half) from `ll`, odd ones from t1's low half.
        let lo = _mm256_blend_epi32::<0b0101_0101>(t1_lo, ll);
        (hi, lo)
    }

    /// The 128-bit square x² as (high, low): three multiplies, the cross term doubled by shifts.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn square_wide(x: __m256i) -> (__m256i, __m256i) {
        let x_hi = high_halves(x);
        let ll = _mm256_mul_epu32(x, x);
        let lh = _mm256_mul_epu32(x, x_hi);
        let hh = _mm256_mul_epu32(x_hi, x_hi);
        let t0 = _mm256_add_epi64(lh, _mm256_srli_epi64::<33>(ll));
        let hi = _mm256_add_epi64(hh, _mm256_srli_epi64::<31>(t0));
        let lo = _mm256_add_epi64(ll, _mm256_slli_epi64::<33>(lh));
        (hi, lo)
    }

    /// hi·2^64 + lo mod p (not necessarily canonical): 2^64 ≡ ε and 2^96 ≡ −1, so the value is
    /// lo − hi_hi + hi_lo·ε.
    ///
    /// `sub_small` then `add_small`, on sign-flipped words between the two (adding or
    /// subtracting keeps a flipped word flipped, and flipped words compare as unsigned ones
    /// with the signed `vpcmpgtq`), which saves the flips of each compare's operands.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn reduce128((hi, lo): (__m256i, __m256i)) -> __m256i {
        let sign = splat(SIGN);
        let lo_s = _mm256_xor_si256(lo, sign);
        // lo − hi_hi, flipped; it wrapped iff it came out above lo (hi_hi < 2^32 ≤ 2^64).
        let diff_s = _mm256_sub_epi64(lo_s, _mm256_srli_epi64::<32>(hi));
        let under = _mm256_cmpgt_epi64(diff_s, lo_s);
        let diff_s = _mm256_sub_epi64(diff_s, epsilon_where(under));
        // + hi_lo·ε (< 2^64 − ε), flipped; it wrapped iff it came out below the addend.
        let sum_s = _mm256_add_epi64(diff_s, _mm256_mul_epu32(hi, splat(EPSILON)));
        let over = _mm256_cmpgt_epi64(diff_s, sum_s);
        _mm256_xor_si256(_mm256_add_epi64(sum_s, epsilon_where(over)), sign)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul(x: __m256i, y: __m256i) -> __m256i {
        reduce128(mul_wide(x, y))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn square(x: __m256i) -> __m256i {
        reduce128(square_wide(x))
    }

    /// L + H·2^32 mod p for L, H < 2^42 (the MDS layer's accumulators).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn reduce_small(l: __m256i, h: __m256i) -> __m256i {
        let shifted = _mm256_slli_epi64::<32>(h);
        let lo = _mm256_add_epi64(l, shifted);
        // The carry out of the low word as an all-ones lane: subtracting it adds 1.
        let carry = lt(lo, shifted);
        let hi = _mm256_sub_epi64(_mm256_srli_epi64::<32>(h), carry);
        // hi < 2^11, so hi·ε < 2^43.
        add_small(lo, _mm256_mul_epu32(hi, splat(EPSILON)))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(words: [u64; WIDTH]) -> __m256i {
        // SAFETY: reads exactly the 32 bytes of `words` (unaligned load).
        unsafe { _mm256_loadu_si256(words.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn store(x: __m256i) -> [u64; WIDTH] {
        let mut out = [0u64; WIDTH];
        // SAFETY: writes exactly the 32 bytes of `out` (unaligned store).
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), x) };
        out
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    //! The vector arithmetic's rare branches (carries and borrows that random states almost
    //! never reach) against u128 arithmetic mod p, on crafted edge words, for both vector
    //! paths. The permutation, hashes and trees are compared with plonky2's on every path in
    //! `tests/poseidon_paths.rs`.

    use super::{avx2, avx2_available, avx512, avx512_available};

    const P: u128 = 0xffff_ffff_0000_0001;

    /// Words near every boundary the reductions branch on.
    fn edges() -> Vec<u64> {
        let mut out = vec![0, 1, 2, 0xffff_ffff, 1 << 32, (1 << 32) + 1, 1 << 63];
        for base in [
            P as u64,
            u64::MAX,
            0xffff_ffff_0000_0000,
            0x1_0000_0000_0000,
            1 << 63,
        ] {
            out.extend((0..4).map(|d| base.wrapping_sub(d)));
            out.extend((1..4).map(|d| base.wrapping_add(d)));
        }
        out
    }

    /// Checks one path's operations (`binary_ops`, `reduce_small_words` as in the modules).
    fn check(
        name: &str,
        binary_ops: impl Fn(u64, u64) -> [u64; 7],
        reduce: impl Fn(u64, u64) -> u64,
        dot: impl Fn(&[u64], &[u64]) -> u64,
    ) {
        let edges = edges();
        for &x in &edges {
            for &y in &edges {
                let got = binary_ops(x, y);
                let (x, y) = (x as u128, y as u128);
                assert_eq!(got[0] as u128 % P, (x * y) % P, "{name} mul {x:#x} {y:#x}");
                assert_eq!(got[1] as u128 % P, (x + y) % P, "{name} add {x:#x} {y:#x}");
                assert_eq!(got[2] as u128 % P, (x * x) % P, "{name} square {x:#x}");
                if y < P {
                    assert_eq!(
                        got[3] as u128 % P,
                        (x + y) % P,
                        "{name} add_small {x:#x} {y:#x}"
                    );
                    assert_eq!(
                        got[4] as u128 % P,
                        (x + P - y) % P,
                        "{name} sub_small {x:#x} {y:#x}"
                    );
                }
                assert_eq!(
                    got[6] as u128 % P,
                    (x + (y % P) * (x % P)) % P,
                    "{name} mul_add {x:#x} + {y:#x}·{x:#x}"
                );
                assert!(got[5] < P as u64, "{name} canonicalize {x:#x}");
                assert_eq!(got[5] as u128, x % P, "{name} canonicalize {x:#x}");
            }
        }
        // The MDS reduction: L + H·2^32 for L, H < 2^42, including the carry out of the low
        // word (L ≥ 2^32 with H's low half near 2^32).
        let limbs = [
            0,
            1,
            0xffff_ffff,
            1 << 32,
            (1 << 41) - 1,
            (1 << 42) - 1,
            0x3_ffff_ffff,
        ];
        for &l in &limbs {
            for &h in &limbs {
                let got = reduce(l, h);
                let want = (l as u128 + ((h as u128) << 32)) % P;
                assert_eq!(got as u128 % P, want, "{name} reduce_small {l:#x} {h:#x}");
            }
        }
        // Sums of up to twelve products (the partial rounds' dot products), with every limb
        // at its largest: all words u64::MAX and constants p − 1 or 2^64 − 1, and mixes.
        let words = &edges;
        for n in 1..=12 {
            for (k, &w) in [P as u64 - 1, u64::MAX, 25, 1 << 32, 0xffff_ffff]
                .iter()
                .enumerate()
            {
                let xs: Vec<u64> = (0..n)
                    .map(|i| {
                        if k == 0 {
                            u64::MAX
                        } else {
                            words[(i * 7 + k) % words.len()]
                        }
                    })
                    .collect();
                let ws: Vec<u64> = (0..n).map(|i| w.wrapping_sub(i as u64 * 3)).collect();
                let want = xs.iter().zip(&ws).fold(0u128, |acc, (&x, &w)| {
                    (acc + (x as u128 * w as u128) % P) % P
                });
                let got = dot(&xs, &ws);
                assert_eq!(
                    got as u128 % P,
                    want,
                    "{name} dot of {n}: {xs:x?} · {ws:x?}"
                );
            }
        }
    }

    #[test]
    fn avx512_field_operations_equal_u128_arithmetic_on_edge_words() {
        if !avx512_available() {
            skip_note!("no AVX-512F on this CPU: the AVX-512 arithmetic is not tested here");
            return;
        }
        check(
            "avx512",
            // SAFETY: AVX-512F is present (checked above).
            |x, y| unsafe { avx512::arithmetic::binary_ops(x, y) },
            // SAFETY: as above.
            |l, h| unsafe { avx512::arithmetic::reduce_small_words(l, h) },
            // SAFETY: as above.
            |xs, ws| unsafe { avx512::arithmetic::dot_words(xs, ws) },
        );
    }

    #[test]
    fn avx2_field_operations_equal_u128_arithmetic_on_edge_words() {
        if !avx2_available() {
            skip_note!("no AVX2 on this CPU: the AVX2 arithmetic is not tested here");
            return;
        }
        check(
            "avx2",
            // SAFETY: AVX2 is present (checked above).
            |x, y| unsafe { avx2::arithmetic::binary_ops(x, y) },
            // SAFETY: as above.
            |l, h| unsafe { avx2::arithmetic::reduce_small_words(l, h) },
            // SAFETY: as above.
            |xs, ws| unsafe { avx2::arithmetic::dot_words(xs, ws) },
        );
    }
}
