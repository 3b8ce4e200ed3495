//! The Fiat–Shamir transcript of a proof: plonky2 1.1.0's `Challenger<F, PoseidonHash>`
//! (`iop/challenger.rs`) transcribed, so that the sponge state before FRI's proof-of-work nonce is
//! ours to read. plonky2 keeps `sponge_state` and `input_buffer` `pub(crate)`, and a nonce search
//! on the card needs exactly those: the permutation input with every observed element written in,
//! and the lane the nonce goes to ([`PowStart`]).
//!
//! The semantics are plonky2's, step for step: a duplex sponge in overwrite mode over Poseidon
//! (width 12, rate 8). Observing an element clears the buffered outputs and appends to the input
//! buffer, duplexing when 8 are buffered; a challenge duplexes first when inputs are buffered or
//! no output is left, then pops the last output (so the outputs of one duplexing come out in the
//! order 7, 6, ..., 0). `transcript_gives_plonky2_challenges` checks this against plonky2's
//! `Challenger` on random sequences of every operation.

use plonky2::field::extension::FieldExtension;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::fri::structure::FriOpenings;
use plonky2::fri::{FriConfig, FriParams};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleCap;
use plonky2::hash::poseidon::Poseidon;
use rayon::prelude::*;

use crate::backend::{Ext, D};
use crate::{Hasher, F};

/// Width of the Poseidon state.
pub const WIDTH: usize = 12;
/// Elements absorbed (and squeezed) per duplexing.
pub const RATE: usize = 8;

/// plonky2's `Challenger<F, PoseidonHash>`, with its state readable.
#[derive(Debug, Clone)]
pub struct Transcript {
    state: [F; WIDTH],
    input: Vec<F>,
    output: Vec<F>,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    /// An empty transcript (a zero state), as `Challenger::new`.
    pub fn new() -> Self {
        Self {
            state: [F::ZERO; WIDTH],
            input: Vec::with_capacity(RATE),
            output: Vec::with_capacity(RATE),
        }
    }

    /// `observe_element`.
    pub fn observe_element(&mut self, element: F) {
        // Buffered outputs would not reflect this input.
        self.output.clear();
        self.input.push(element);
        if self.input.len() == RATE {
            self.duplexing();
        }
    }

    /// `observe_elements`.
    pub fn observe_elements(&mut self, elements: &[F]) {
        for &e in elements {
            self.observe_element(e);
        }
    }

    /// `observe_extension_element`: its two base-field components in order.
    pub fn observe_extension_element(&mut self, element: &Ext) {
        self.observe_elements(&<Ext as FieldExtension<D>>::to_basefield_array(element));
    }

    /// `observe_extension_elements`.
    pub fn observe_extension_elements(&mut self, elements: &[Ext]) {
        for e in elements {
            self.observe_extension_element(e);
        }
    }

    /// `observe_hash`: the digest's four elements.
    pub fn observe_hash(&mut self, hash: HashOut<F>) {
        self.observe_elements(&hash.elements);
    }

    /// `observe_cap`: every digest of the cap in order.
    pub fn observe_cap(&mut self, cap: &MerkleCap<F, Hasher>) {
        for hash in &cap.0 {
            self.observe_hash(*hash);
        }
    }

    /// `FriParams::observe` (the FRI configuration, then hiding, the degree and the arities).
    pub fn observe_fri_params(&mut self, params: &FriParams) {
        let config: &FriConfig = &params.config;
        self.observe_element(F::from_canonical_usize(config.rate_bits));
        self.observe_element(F::from_canonical_usize(config.cap_height));
        self.observe_element(F::from_canonical_u32(config.proof_of_work_bits));
        self.observe_elements(&config.reduction_strategy.serialize());
        self.observe_element(F::from_canonical_usize(config.num_query_rounds));
        self.observe_element(F::from_bool(params.hiding));
        self.observe_element(F::from_canonical_usize(params.degree_bits));
        let arities: Vec<F> = params
            .reduction_arity_bits
            .iter()
            .map(|&e| F::from_canonical_usize(e))
            .collect();
        self.observe_elements(&arities);
    }

    /// `Challenger::observe_openings` (plonky2's `fri/challenges.rs`): each batch's values.
    pub fn observe_openings(&mut self, openings: &FriOpenings<F, D>) {
        for batch in &openings.batches {
            self.observe_extension_elements(&batch.values);
        }
    }

    /// `get_challenge`.
    pub fn get_challenge(&mut self) -> F {
        if !self.input.is_empty() || self.output.is_empty() {
            self.duplexing();
        }
        // A duplexing leaves RATE outputs.
        self.output.pop().unwrap_or(F::ZERO)
    }

    /// `get_n_challenges`.
    pub fn get_n_challenges(&mut self, n: usize) -> Vec<F> {
        (0..n).map(|_| self.get_challenge()).collect()
    }

    /// `get_extension_challenge::<2>`: two challenges, in the order drawn.
    pub fn get_extension_challenge(&mut self) -> Ext {
        let a = self.get_challenge();
        let b = self.get_challenge();
        <Ext as FieldExtension<D>>::from_basefield_array([a, b])
    }

    /// plonky2's private `duplexing`: overwrite the first lanes with the buffered inputs,
    /// permute, and make the first RATE lanes the outputs.
    fn duplexing(&mut self) {
        for (lane, e) in self.input.drain(..).enumerate() {
            self.state[lane] = e;
        }
        self.state = F::poseidon(self.state);
        self.output.clear();
        self.output.extend_from_slice(&self.state[..RATE]);
    }

    /// Where the proof-of-work search starts: observing a nonce and drawing one challenge is one
    /// duplexing of this state with the nonce in lane `nonce_at` (the buffered inputs are
    /// written in already), and the challenge is lane 7 of the permuted state. This holds
    /// whether or not the nonce fills the input buffer: either way exactly one permutation
    /// follows, and the last output is popped first.
    pub fn pow_start(&self) -> PowStart {
        let mut state = self.state;
        for (lane, &e) in self.input.iter().enumerate() {
            state[lane] = e;
        }
        PowStart {
            state: state.map(|e| e.to_canonical_u64()),
            nonce_at: self.input.len(),
        }
    }
}

/// The proof-of-work search's input ([`Transcript::pow_start`]): the sponge state (canonical)
/// with the buffered inputs written in, and the lane the nonce overwrites (`< RATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowStart {
    /// The permutation's input but for the nonce's lane.
    pub state: [u64; WIDTH],
    /// The lane the nonce is written to (the number of buffered inputs).
    pub nonce_at: usize,
}

impl PowStart {
    /// The challenge drawn right after observing `nonce` (a canonical field element).
    pub fn response(&self, nonce: u64) -> u64 {
        let mut state = self.state.map(F::from_canonical_u64);
        state[self.nonce_at] = F::from_canonical_u64(nonce);
        F::poseidon(state)[RATE - 1].to_canonical_u64()
    }

    /// Whether `nonce` passes: its response has at least `min_leading_zeros` leading zeros.
    pub fn works(&self, nonce: u64, min_leading_zeros: u32) -> bool {
        self.response(nonce).leading_zeros() >= min_leading_zeros
    }
}

/// The leading zeros (of the response's 64 bits) that FRI's proof of work asks for: plonky2's
/// `proof_of_work_bits + (64 - F::order().bits())`, which for Goldilocks is the bits alone.
pub fn min_leading_zeros(config: &FriConfig) -> u32 {
    config.proof_of_work_bits + (64 - F::order().bits()) as u32
}

/// Candidates tried per parallel round of the CPU search.
const CPU_CHUNK: u64 = 1 << 12;

/// The smallest nonce that works, searched on the host's threads in chunks taken in order (the
/// first match of the first chunk holding one is the smallest). `None` only if no field element
/// works (plonky2 panics there: "highly unlikely").
pub fn search_cpu(start: &PowStart, min_leading_zeros: u32) -> Option<u64> {
    let mut from = 0u64;
    while from < F::ORDER {
        let end = from.saturating_add(CPU_CHUNK).min(F::ORDER);
        if let Some(found) = (from..end)
            .into_par_iter()
            .find_first(|&c| start.works(c, min_leading_zeros))
        {
            return Some(found);
        }
        from = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use plonky2::field::types::Sample;
    use plonky2::iop::challenger::Challenger;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Random sequences of every operation applied to plonky2's `Challenger` and to ours: every
    /// challenge equal, and the nonce search's start agrees with plonky2's own observe-then-draw.
    #[test]
    fn transcript_gives_plonky2_challenges() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        for round in 0..200 {
            let mut theirs = Challenger::<F, Hasher>::new();
            let mut ours = Transcript::new();
            for step in 0..rng.gen_range(1..40) {
                match rng.gen_range(0..8) {
                    0 => {
                        let e = F::rand();
                        theirs.observe_element(e);
                        ours.observe_element(e);
                    }
                    1 => {
                        let v = F::rand_vec(rng.gen_range(0..20));
                        theirs.observe_elements(&v);
                        ours.observe_elements(&v);
                    }
                    2 => {
                        let v: Vec<Ext> = (0..rng.gen_range(0..6)).map(|_| Ext::rand()).collect();
                        theirs.observe_extension_elements::<D>(&v);
                        ours.observe_extension_elements(&v);
                    }
                    3 => {
                        let h = HashOut::<F>::rand();
                        theirs.observe_hash::<Hasher>(h);
                        ours.observe_hash(h);
                    }
                    4 => {
                        let cap = MerkleCap::<F, Hasher>(
                            (0..1 << rng.gen_range(0..4))
                                .map(|_| HashOut::rand())
                                .collect(),
                        );
                        theirs.observe_cap(&cap);
                        ours.observe_cap(&cap);
                    }
                    5 => {
                        let n = rng.gen_range(0..12);
                        assert_eq!(
                            theirs.get_n_challenges(n),
                            ours.get_n_challenges(n),
                            "round {round} step {step}"
                        );
                    }
                    6 => assert_eq!(
                        theirs.get_extension_challenge::<D>(),
                        ours.get_extension_challenge(),
                        "round {round} step {step}"
                    ),
                    _ => assert_eq!(
                        theirs.get_challenge(),
                        ours.get_challenge(),
                        "round {round} step {step}"
                    ),
                }
            }
            // The grinding's view: observing a nonce then drawing, plonky2's way, equals one
            // permutation of the start state.
            let start = ours.pow_start();
            let nonce = rng.gen_range(0..F::ORDER);
            let mut t = theirs.clone();
            t.observe_element(F::from_canonical_u64(nonce));
            assert_eq!(
                t.get_challenge().to_canonical_u64(),
                start.response(nonce),
                "round {round}: nonce response, {} inputs buffered",
                start.nonce_at
            );
            let mut o = ours.clone();
            o.observe_element(F::from_canonical_u64(nonce));
            assert_eq!(o.get_challenge().to_canonical_u64(), start.response(nonce));
            // Both still agree afterwards.
            assert_eq!(theirs.get_challenge(), ours.get_challenge());
        }
    }

    #[test]
    fn fri_params_and_openings_are_observed_as_plonky2_does() {
        use plonky2::fri::structure::FriOpeningBatch;
        use plonky2::plonk::circuit_data::CircuitConfig;
        let config = CircuitConfig::standard_recursion_config();
        for degree_bits in [5usize, 13, 16] {
            let params = config.fri_config.fri_params(degree_bits, false);
            let mut theirs = Challenger::<F, Hasher>::new();
            let mut ours = Transcript::new();
            params.observe(&mut theirs);
            ours.observe_fri_params(&params);
            let openings = FriOpenings {
                batches: vec![
                    FriOpeningBatch {
                        values: (0..23).map(|_| Ext::rand()).collect(),
                    },
                    FriOpeningBatch {
                        values: (0..2).map(|_| Ext::rand()).collect(),
                    },
                ],
            };
            theirs.observe_openings(&openings);
            ours.observe_openings(&openings);
            assert_eq!(theirs.get_n_challenges(9), ours.get_n_challenges(9));
        }
    }

    /// The search returns the smallest nonce that works: every smaller candidate fails.
    #[test]
    fn cpu_search_finds_the_smallest_nonce() {
        let mut t = Transcript::new();
        for bits in [0u32, 1, 4, 8, 10] {
            t.observe_element(F::rand());
            let start = t.pow_start();
            let nonce = search_cpu(&start, bits).expect("a nonce");
            assert!(start.works(nonce, bits));
            assert!((0..nonce).all(|c| !start.works(c, bits)), "{bits} bits");
        }
    }
}
