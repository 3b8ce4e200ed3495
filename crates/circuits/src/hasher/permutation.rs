//! The Poseidon permutation of plonky2 (width 12, x^7, 8 full and 22 partial rounds, the same
//! constants), computed four field elements at a time where the build has AVX2.
//!
//! plonky2 1.1.0 computes the permutation element by element on x86-64 (its AVX2 version is
//! commented out, reportedly for failing its tests). Here the work that is the same for every
//! lane runs on plonky2's own packed Goldilocks arithmetic (`Avx2GoldilocksField`, four
//! elements per 256-bit register), so no field arithmetic of our own is involved:
//!
//! - full rounds: round constants and the x^7 S-box on three packed vectors (12 packed
//!   multiplications instead of 48); the MDS layer stays plonky2's (`Poseidon::mds_layer`, an
//!   FFT over small constants);
//! - the partial rounds' initial matrix: 11 broadcast-multiply-adds of a packed row (33 packed
//!   multiplications instead of 121);
//! - each partial round's sparse matrix: the dot product with `ŵ` and the update with `v` as
//!   packed multiplications (6 instead of 22); the S-box of the first element stays scalar.
//!
//! Every step is the same map over the field as plonky2's (`Poseidon::poseidon`, with its
//! "fast partial rounds" constants), so outputs are equal as field elements; the tests check it
//! on random and edge inputs. Without AVX2 (packing width not 4) plonky2's code runs.
//!
//! **Measured slower, so not used** (`cargo bench -p zkfleet-circuits --bench hasher`, one
//! thread, AMD EPYC, x86-64-v3): about 1,275 ns per permutation against plonky2's 875 ns.
//! AVX2 has no 64×64-bit multiply, so a packed Goldilocks product costs about as much as four
//! scalar ones (`mulx`), and packing, unpacking and the horizontal sum of the partial rounds
//! come on top. A variant with scalar partial rounds was also slower (1,200 ns), and one with
//! the initial matrix accumulated over 160 bits and reduced once per column equal (950 against
//! 925 ns). The project's configuration stays `PoseidonGoldilocksConfig`
//! (docs/benchmarks.md, "Cost per operation").

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::packable::Packable;
use plonky2::field::packed::PackedField;
use plonky2::field::types::Field;
use plonky2::hash::poseidon::{
    Poseidon, ALL_ROUND_CONSTANTS, HALF_N_FULL_ROUNDS, N_PARTIAL_ROUNDS, SPONGE_WIDTH,
};

use crate::F;
/// plonky2's packing of Goldilocks for this build (AVX2: 4 lanes; AVX-512: 8; else 1).
type P = <F as Packable>::Packing;

const WIDTH: usize = SPONGE_WIDTH;
const FULL_ROUNDS: usize = 2 * HALF_N_FULL_ROUNDS;

/// Whether the packed path runs: it is written for four lanes (three vectors per state).
pub const VECTORISED: bool = P::WIDTH == 4;

/// Round constants of the full rounds as field elements, row by row.
const fn full_round_constants() -> [[F; WIDTH]; FULL_ROUNDS] {
    let mut out = [[GoldilocksField(0); WIDTH]; FULL_ROUNDS];
    let mut r = 0;
    while r < FULL_ROUNDS {
        // Rounds 0..4 then, after the 22 partial rounds, 26..30.
        let round = if r < HALF_N_FULL_ROUNDS {
            r
        } else {
            r + N_PARTIAL_ROUNDS
        };
        let mut i = 0;
        while i < WIDTH {
            out[r][i] = GoldilocksField(ALL_ROUND_CONSTANTS[i + WIDTH * round]);
            i += 1;
        }
        r += 1;
    }
    out
}
const FULL_ROUND_CONSTANTS: [[F; WIDTH]; FULL_ROUNDS] = full_round_constants();

const fn first_partial_constants() -> [F; WIDTH] {
    let c = <F as Poseidon>::FAST_PARTIAL_FIRST_ROUND_CONSTANT;
    let mut out = [GoldilocksField(0); WIDTH];
    let mut i = 0;
    while i < WIDTH {
        out[i] = GoldilocksField(c[i]);
        i += 1;
    }
    out
}
const FIRST_PARTIAL_CONSTANTS: [F; WIDTH] = first_partial_constants();

/// Row r (1..12) of the initial matrix, as a 12-lane vector with lane 0 zero: `result[c] +=
/// state[r] * M[r-1][c-1]` for every c at once.
const fn initial_matrix_rows() -> [[F; WIDTH]; WIDTH] {
    let m = <F as Poseidon>::FAST_PARTIAL_ROUND_INITIAL_MATRIX;
    let mut out = [[GoldilocksField(0); WIDTH]; WIDTH];
    let mut r = 1;
    while r < WIDTH {
        let mut c = 1;
        while c < WIDTH {
            out[r][c] = GoldilocksField(m[r - 1][c - 1]);
            c += 1;
        }
        r += 1;
    }
    out
}
const INITIAL_MATRIX_ROWS: [[F; WIDTH]; WIDTH] = initial_matrix_rows();

/// Per partial round: `[M00 + D0, ŵ…]` (the dot product giving the new first element) and
/// `[0, v…]` (what the first element adds to the others).
const fn partial_round_vectors() -> (
    [[F; WIDTH]; N_PARTIAL_ROUNDS],
    [[F; WIDTH]; N_PARTIAL_ROUNDS],
) {
    let w = <F as Poseidon>::FAST_PARTIAL_ROUND_W_HATS;
    let v = <F as Poseidon>::FAST_PARTIAL_ROUND_VS;
    let m00 = <F as Poseidon>::MDS_MATRIX_CIRC[0] + <F as Poseidon>::MDS_MATRIX_DIAG[0];
    let mut ws = [[GoldilocksField(0); WIDTH]; N_PARTIAL_ROUNDS];
    let mut vs = [[GoldilocksField(0); WIDTH]; N_PARTIAL_ROUNDS];
    let mut r = 0;
    while r < N_PARTIAL_ROUNDS {
        ws[r][0] = GoldilocksField(m00);
        let mut i = 1;
        while i < WIDTH {
            ws[r][i] = GoldilocksField(w[r][i - 1]);
            vs[r][i] = GoldilocksField(v[r][i - 1]);
            i += 1;
        }
        r += 1;
    }
    (ws, vs)
}
const PARTIAL_ROUND_VECTORS: (
    [[F; WIDTH]; N_PARTIAL_ROUNDS],
    [[F; WIDTH]; N_PARTIAL_ROUNDS],
) = partial_round_vectors();

/// A state as three packed vectors (lanes 0–3, 4–7, 8–11).
type Packed = [P; 3];

#[inline(always)]
fn pack(values: &[F; WIDTH]) -> Packed {
    [
        *P::from_slice(&values[0..4]),
        *P::from_slice(&values[4..8]),
        *P::from_slice(&values[8..12]),
    ]
}

#[inline(always)]
fn unpack(packed: &Packed) -> [F; WIDTH] {
    let mut out = [F::ZERO; WIDTH];
    for (k, p) in packed.iter().enumerate() {
        out[4 * k..4 * k + 4].copy_from_slice(p.as_slice());
    }
    out
}

#[inline(always)]
fn sbox<T: Copy + core::ops::Mul<Output = T>>(x: T) -> T {
    // x^7 = x^3 · x^4, as plonky2's `sbox_monomial`.
    let x2 = x * x;
    let x3 = x2 * x;
    let x4 = x2 * x2;
    x3 * x4
}

#[inline(always)]
fn full_round(state: &mut [F; WIDTH], constants: &[F; WIDTH]) {
    let c = pack(constants);
    let mut s = pack(state);
    for k in 0..3 {
        s[k] = sbox(s[k] + c[k]);
    }
    *state = <F as Poseidon>::mds_layer(&unpack(&s));
}

#[inline(always)]
fn partial_rounds(state: &mut [F; WIDTH]) {
    // First constant layer, then the initial matrix (first row and column = e0).
    let mut s = pack(state);
    let first = pack(&FIRST_PARTIAL_CONSTANTS);
    for k in 0..3 {
        s[k] += first[k];
    }
    let values = unpack(&s);
    let mut acc: Packed = [P::ZEROS; 3];
    for (r, row) in INITIAL_MATRIX_ROWS.iter().enumerate().skip(1) {
        let row = pack(row);
        let x = P::from(values[r]);
        for k in 0..3 {
            acc[k] += x * row[k];
        }
    }
    acc[0].as_slice_mut()[0] = values[0];
    let mut s = acc;

    let (ws, vs) = &PARTIAL_ROUND_VECTORS;
    for round in 0..N_PARTIAL_ROUNDS {
        let s0 = sbox(s[0].as_slice()[0])
            + GoldilocksField(<F as Poseidon>::FAST_PARTIAL_ROUND_CONSTANTS[round]);
        s[0].as_slice_mut()[0] = s0;
        let (w, v) = (pack(&ws[round]), pack(&vs[round]));
        // d = [M00 | ŵ] · state; the others gain s0 · v (v's lane 0 is zero).
        let dot = s[0] * w[0] + s[1] * w[1] + s[2] * w[2];
        let d: F = dot.as_slice().iter().copied().sum();
        let s0_all = P::from(s0);
        for k in 0..3 {
            s[k] += s0_all * v[k];
        }
        s[0].as_slice_mut()[0] = d;
    }
    *state = unpack(&s);
}

/// plonky2's Poseidon permutation of `input` (equal to `Poseidon::poseidon`).
#[inline]
pub fn permute(input: [F; WIDTH]) -> [F; WIDTH] {
    if !VECTORISED {
        return <F as Poseidon>::poseidon(input);
    }
    let mut state = input;
    for constants in &FULL_ROUND_CONSTANTS[..HALF_N_FULL_ROUNDS] {
        full_round(&mut state, constants);
    }
    partial_rounds(&mut state);
    for constants in &FULL_ROUND_CONSTANTS[HALF_N_FULL_ROUNDS..] {
        full_round(&mut state, constants);
    }
    state
}
