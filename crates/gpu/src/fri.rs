//! FRI for the zkfleet prover: plonky2 1.1.0's `PolynomialBatch::prove_openings` and
//! `fri::prover::fri_proof` transcribed step by step, so that the query rounds can read the rows
//! and Merkle paths they open from commitments whose trees stayed on the backend's device
//! ([`CommitBackend::open_rows`]) instead of needing every row and digest on the host.
//!
//! Differences from plonky2's code, none of which changes a proof:
//! - The combination of each batch's polynomials (`ReducingFactor::reduce_polys_base`, one
//!   thread in plonky2) is computed coefficient by coefficient on rayon's threads: the same field
//!   sums, so the same values.
//! - The proof-of-work nonce is the smallest one that works (plonky2 takes whichever its threads
//!   find first, `find_any`; on one thread that is the smallest too), so our proofs are the same
//!   on any number of threads. The search runs on the backend's device where it has one
//!   ([`CommitBackend::pow_search`], `crate::pow`), else on the host's threads
//!   ([`crate::challenger::search_cpu`]); both start from our transcript's sponge state
//!   ([`Transcript::pow_start`]), which plonky2's `Challenger` keeps private.
//! - `final_poly_coeff_len` and `max_num_query_steps` are `None` (our prover never passes them).

use plonky2::field::extension::{flatten, unflatten, FieldExtension};
use plonky2::field::polynomial::PolynomialCoeffs;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::fri::proof::{FriInitialTreeProof, FriProof, FriQueryRound, FriQueryStep};
use plonky2::fri::structure::{FriBatchInfo, FriInstanceInfo};
use plonky2::fri::{FriConfig, FriParams};
use plonky2::plonk::plonk_common::reduce_with_powers;
use plonky2::util::reverse_index_bits_in_place;
use rayon::prelude::*;

use crate::backend::{Batch, CommitBackend, Ext, FriCommitted, Opening, D};
use crate::challenger::{min_leading_zeros, search_cpu, Transcript};
use crate::error::GpuError;
use crate::{Hasher, F};

/// Seconds spent in each part of FRI ([`prove_openings`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FriTimes {
    /// The combination of the oracles, its division by `X - z` and its LDE.
    pub(crate) combine_s: f64,
    /// The commit phase: folding, each layer's coset FFT and tree (on the backend's device, the
    /// first layer's coset FFT too).
    pub(crate) commit_phase_s: f64,
    /// Whether the backend ran the commit phase ([`CommitBackend::fri_commit_phase`]).
    pub(crate) commit_on_device: bool,
    /// The proof-of-work search.
    pub(crate) pow_s: f64,
    /// The query rounds.
    pub(crate) queries_s: f64,
}

/// plonky2's `PolynomialBatch::prove_openings(instance, oracles, challenger, fri_params, None,
/// None, ..)`. An oracle whose batch has no leaves on the host (a resident commitment) is opened
/// through `backend`. Also returns the seconds each part took.
pub(crate) fn prove_openings(
    instance: &FriInstanceInfo<F, D>,
    oracles: &[&Batch],
    challenger: &mut Transcript,
    fri_params: &FriParams,
    backend: &dyn CommitBackend,
) -> Result<(FriProof<F, Hasher, D>, FriTimes), GpuError> {
    let started = std::time::Instant::now();
    let alpha = challenger.get_extension_challenge();
    // final_poly = sum_i alpha^(k_i) (F_i(X) - F_i(z_i)) / (X - z_i), F_i = sum_j alpha^j f_ij.
    let mut final_poly = PolynomialCoeffs::<Ext>::empty();
    for FriBatchInfo { point, polynomials } in &instance.batches {
        let polys: Vec<&PolynomialCoeffs<F>> = polynomials
            .iter()
            .map(|p| &oracles[p.oracle_index].polynomials[p.polynomial_index])
            .collect();
        let composition_poly = combine(alpha, &polys);
        let mut quotient = composition_poly.divide_by_linear(*point);
        quotient.coeffs.push(Ext::ZERO); // pad back to a power of two
                                         // `ReducingFactor::shift_poly` after `reduce_polys_base` of this batch.
        final_poly *= alpha.exp_u64(polys.len() as u64);
        final_poly += quotient;
    }
    let rate_bits = fri_params.config.rate_bits;
    let lde_final_poly = final_poly.lde(rate_bits);
    let n = lde_final_poly.len();
    // The commit phase on the backend's device where it runs it (from the coefficients: the
    // first layer's values are its own coset FFT there); else the LDE's values, on the device or
    // the host, and plonky2's loop here.
    let device_started = std::time::Instant::now();
    let on_device = backend.fri_commit_phase(&lde_final_poly, fri_params, &mut |cap| {
        challenger.observe_cap(cap);
        challenger.get_extension_challenge()
    });
    let commit_on_device = on_device.is_some();
    let (committed, combine_s, commit_phase_s) = match on_device {
        Some(committed) => (
            committed?,
            device_started.duration_since(started).as_secs_f64(),
            device_started.elapsed().as_secs_f64(),
        ),
        None => {
            let values_reversed = match backend.coset_lde_ext(&final_poly, rate_bits) {
                Some(values) => values?,
                None => {
                    let mut values = final_poly
                        .lde(rate_bits)
                        .coset_fft(F::coset_shift().into())
                        .values;
                    reverse_index_bits_in_place(&mut values);
                    values
                }
            };
            if values_reversed.len() != lde_final_poly.len() {
                return Err(GpuError::InvalidInput(format!(
                    "{} values of the combined polynomial's LDE, expected {}",
                    values_reversed.len(),
                    lde_final_poly.len()
                )));
            }
            let combine_s = started.elapsed().as_secs_f64();
            let commit_started = std::time::Instant::now();
            let committed = committed_trees(
                lde_final_poly,
                values_reversed,
                challenger,
                fri_params,
                backend,
            )?;
            (committed, combine_s, commit_started.elapsed().as_secs_f64())
        }
    };
    if committed.caps.len() != fri_params.reduction_arity_bits.len() {
        return Err(GpuError::InvalidInput(format!(
            "{} commit-phase caps for {} reductions",
            committed.caps.len(),
            fri_params.reduction_arity_bits.len()
        )));
    }
    challenger.observe_extension_elements(&committed.final_poly.coeffs);
    let (proof, mut times) = fri_proof(oracles, committed, n, challenger, fri_params, backend)?;
    times.combine_s = combine_s;
    times.commit_phase_s = commit_phase_s;
    times.commit_on_device = commit_on_device;
    Ok((proof, times))
}

/// `sum_j alpha^j polys[j]` (plonky2's `reduce_polys_base` from a fresh `ReducingFactor`), each
/// coefficient on its own, spread over rayon's threads.
fn combine(alpha: Ext, polys: &[&PolynomialCoeffs<F>]) -> PolynomialCoeffs<Ext> {
    let len = polys.iter().map(|p| p.coeffs.len()).max().unwrap_or(0);
    let powers: Vec<Ext> = alpha.powers().take(polys.len()).collect();
    let mut out = vec![Ext::ZERO; len];
    out.par_chunks_mut(1 << 10)
        .enumerate()
        .for_each(|(chunk, slot)| {
            let start = chunk << 10;
            for (power, poly) in powers.iter().zip(polys) {
                let coeffs = &poly.coeffs;
                for (k, acc) in slot.iter_mut().enumerate() {
                    if let Some(&c) = coeffs.get(start + k) {
                        *acc += <Ext as FieldExtension<D>>::scalar_mul(power, c);
                    }
                }
            }
        });
    PolynomialCoeffs::new(out)
}

/// plonky2's `fri_proof` after its commit phase (`committed`, its final polynomial observed
/// already): proof of work, query rounds (and the seconds of each). `n`: the first layer's size.
fn fri_proof(
    oracles: &[&Batch],
    committed: FriCommitted<'_>,
    n: usize,
    challenger: &mut Transcript,
    fri_params: &FriParams,
    backend: &dyn CommitBackend,
) -> Result<(FriProof<F, Hasher, D>, FriTimes), GpuError> {
    let mut times = FriTimes::default();
    let pow_started = std::time::Instant::now();
    let pow_witness = proof_of_work(challenger, &fri_params.config, backend)?;
    times.pow_s = pow_started.elapsed().as_secs_f64();
    let queries_started = std::time::Instant::now();
    let indices: Vec<usize> = challenger
        .get_n_challenges(fri_params.config.num_query_rounds)
        .into_iter()
        .map(|r| r.to_canonical_u64() as usize % n)
        .collect();

    // The initial trees' openings, oracle by oracle: from the host tree, or one gather on the
    // device for all queries.
    let mut initial: Vec<Vec<Opening>> = Vec::with_capacity(oracles.len());
    for oracle in oracles {
        let tree = &oracle.merkle_tree;
        let num_leaves = 1usize << (oracle.degree_log + oracle.rate_bits);
        if tree.leaves.len() == num_leaves {
            initial.push(
                indices
                    .iter()
                    .map(|&i| (tree.get(i).to_vec(), tree.prove(i)))
                    .collect(),
            );
        } else {
            let opened = backend.open_rows(&tree.cap, &indices)?;
            if opened.len() != indices.len() {
                return Err(GpuError::InvalidInput(format!(
                    "{} openings for {} queries",
                    opened.len(),
                    indices.len()
                )));
            }
            initial.push(opened);
        }
    }

    // The commit-phase layers' openings, layer by layer for all queries at once: query q opens
    // leaf `x_index >> arity_bits` of each layer, x_index shifted by the arities before.
    let mut x_indices = indices.clone();
    let mut steps: Vec<Vec<FriQueryStep<F, Hasher, D>>> = indices
        .iter()
        .map(|_| Vec::with_capacity(committed.caps.len()))
        .collect();
    for (layer, &arity_bits) in fri_params.reduction_arity_bits.iter().enumerate() {
        for x in x_indices.iter_mut() {
            *x >>= arity_bits;
        }
        let opened = committed.layers.open(layer, &x_indices)?;
        if opened.len() != x_indices.len() {
            return Err(GpuError::InvalidInput(format!(
                "{} openings of FRI layer {layer} for {} queries",
                opened.len(),
                x_indices.len()
            )));
        }
        let width = D << arity_bits;
        for (query_steps, (row, merkle_proof)) in steps.iter_mut().zip(opened) {
            if row.len() != width {
                return Err(GpuError::InvalidInput(format!(
                    "a row of {} elements from FRI layer {layer}, expected {width}",
                    row.len()
                )));
            }
            query_steps.push(FriQueryStep {
                evals: unflatten::<F, D>(&row),
                merkle_proof,
            });
        }
    }
    let query_round_proofs = steps
        .into_iter()
        .enumerate()
        .map(|(q, steps)| FriQueryRound {
            initial_trees_proof: FriInitialTreeProof {
                evals_proofs: initial.iter().map(|o| o[q].clone()).collect(),
            },
            steps,
        })
        .collect();

    times.queries_s = queries_started.elapsed().as_secs_f64();
    let FriCommitted {
        caps, final_poly, ..
    } = committed;
    Ok((
        FriProof {
            commit_phase_merkle_caps: caps,
            query_round_proofs,
            final_poly,
            pow_witness,
        },
        times,
    ))
}

/// plonky2's `fri_committed_trees` on the host: fold by each reduction arity, committing to each
/// layer. `values`: the first layer's values, already in bit-reversed order (plonky2 reverses
/// them at the top of each round; here the next layer's are reversed at the end of the round
/// before). The final polynomial is not observed here (the caller does, for both paths).
fn committed_trees<'a>(
    mut coeffs: PolynomialCoeffs<Ext>,
    mut values: Vec<Ext>,
    challenger: &mut Transcript,
    fri_params: &FriParams,
    backend: &dyn CommitBackend,
) -> Result<FriCommitted<'a>, GpuError> {
    let rounds = fri_params.reduction_arity_bits.len();
    let mut trees = Vec::with_capacity(rounds);
    let mut shift = F::MULTIPLICATIVE_GROUP_GENERATOR;
    for (round, &arity_bits) in fri_params.reduction_arity_bits.iter().enumerate() {
        let arity = 1usize << arity_bits;
        let chunked_values: Vec<Vec<F>> = values
            .par_chunks(arity)
            .map(|chunk: &[Ext]| flatten::<F, D>(chunk))
            .collect();
        // plonky2's `MerkleTree::new` (same digests and cap): on the backend's device where it
        // has one, else on the host's cores eight leaves at a time.
        let tree = backend.merkle_tree(chunked_values, fri_params.config.cap_height)?;
        challenger.observe_cap(&tree.cap);
        trees.push(tree);
        let beta = challenger.get_extension_challenge();
        // P(x) = sum_{i<r} x^i * P_i(x^r) becomes sum_{i<r} beta^i * P_i(x).
        coeffs = PolynomialCoeffs::new(
            coeffs
                .coeffs
                .par_chunks_exact(arity)
                .map(|chunk| reduce_with_powers(chunk, beta))
                .collect::<Vec<_>>(),
        );
        shift = shift.exp_u64(arity as u64);
        // plonky2 also evaluates the last folded polynomial; nothing reads those values.
        if round + 1 < rounds {
            values = coeffs.coset_fft(shift.into()).values;
            reverse_index_bits_in_place(&mut values);
        }
    }
    // The coefficients removed here are zero.
    coeffs
        .coeffs
        .truncate(coeffs.len() >> fri_params.config.rate_bits);
    Ok(FriCommitted {
        caps: trees.iter().map(|t| t.cap.clone()).collect(),
        final_poly: coeffs,
        layers: Box::new(trees),
    })
}

/// plonky2's `fri_proof_of_work`, finding the smallest nonce: the challenger observes the
/// nonce, and its next challenge must have `proof_of_work_bits` leading zeros (counted in the
/// field's 64 bits). On the backend's device where it searches, else on the host.
fn proof_of_work(
    challenger: &mut Transcript,
    config: &FriConfig,
    backend: &dyn CommitBackend,
) -> Result<F, GpuError> {
    let min_leading_zeros = min_leading_zeros(config);
    let start = challenger.pow_start();
    let nonce = match backend.pow_search(&start, min_leading_zeros) {
        Some(found) => found?,
        // plonky2 panics where no field element works ("highly unlikely").
        None => search_cpu(&start, min_leading_zeros)
            .ok_or_else(|| GpuError::InvalidInput("no proof-of-work nonce in the field".into()))?,
    };
    // A device that returned a nonce that does not work (or not a field element) would give a
    // proof that fails verification; check it here, at the cost of one permutation.
    if nonce >= F::ORDER || !start.works(nonce, min_leading_zeros) {
        return Err(GpuError::InvalidInput(format!(
            "the {} backend's proof-of-work nonce {nonce} does not have {min_leading_zeros} \
             leading zeros",
            backend.name()
        )));
    }
    let nonce = F::from_canonical_u64(nonce);
    challenger.observe_element(nonce);
    challenger.get_challenge();
    Ok(nonce)
}

/// `kernels/fri.cu`'s gather, compiled for the host and run thread by thread over a tree laid out
/// as on the card, against plonky2's `MerkleTree::get` and `prove`.
#[cfg(test)]
mod tests {
    use plonky2::field::types::Sample;
    use plonky2::hash::hash_types::HashOut;
    use plonky2::hash::merkle_tree::MerkleTree;
    use plonky2::plonk::config::Hasher as _;

    use super::*;

    const MAIN: &str = r#"
#include <cstdio>
#include <vector>
int main(int argc, char** argv) {
    FILE* in = fopen(argv[1], "rb");
    if (!in) return 3;
    u64 h[6];
    if (fread(h, 8, 6, in) != 6) return 2;
    u32 num_queries = (u32)h[0], width = (u32)h[1], log_leaves = (u32)h[2], layers = (u32)h[3];
    std::vector<u64> lde(h[4]), digests(h[5]), idx(num_queries);
    if (fread(lde.data(), 8, lde.size(), in) != lde.size()) return 2;
    if (fread(digests.data(), 8, digests.size(), in) != digests.size()) return 2;
    if (fread(idx.data(), 8, idx.size(), in) != idx.size()) return 2;
    fclose(in);
    u64 total = (u64)num_queries * (width + 4 * layers);
    std::vector<u64> out(total, 0);
    blockDim.x = 256;
    for (u64 t = 0; t < total + 300; t++) {  // threads past the end must not write
        blockIdx.x = t / 256; threadIdx.x = t % 256;
        if (t < total) gather_openings(lde.data(), digests.data(), idx.data(), num_queries, width,
                                       log_leaves, layers, out.data());
    }
    FILE* o = fopen(argv[2], "wb");
    if (!o || fwrite(out.data(), 8, out.size(), o) != out.size()) return 4;
    fclose(o);
    return 0;
}
"#;

    #[test]
    fn gather_kernel_opens_rows_and_paths_like_plonky2() {
        let Some(program) =
            crate::host_check::HostProgram::build("gather", &crate::source::fri_source(), MAIN)
        else {
            skip_note!("skipping: no C++ compiler found (c++, g++, clang++)");
            return;
        };
        for (log_leaves, width, cap_height) in
            [(6usize, 7usize, 0usize), (6, 3, 2), (7, 20, 4), (4, 1, 4)]
        {
            let n = 1usize << log_leaves;
            let leaves: Vec<Vec<F>> = (0..n).map(|_| F::rand_vec(width)).collect();
            let tree = MerkleTree::<F, Hasher>::new(leaves.clone(), cap_height);
            // The card's layout: columns in leaf order; digests level by level up to the cap.
            let mut lde = Vec::with_capacity(width * n);
            for c in 0..width {
                lde.extend(leaves.iter().map(|r| r[c].to_canonical_u64()));
            }
            let mut level: Vec<HashOut<F>> =
                leaves.iter().map(|l| Hasher::hash_or_noop(l)).collect();
            let mut digests = Vec::new();
            loop {
                digests.extend(
                    level
                        .iter()
                        .flat_map(|h| h.elements.map(|e| e.to_canonical_u64())),
                );
                if level.len() == 1 << cap_height {
                    break;
                }
                level = level
                    .chunks(2)
                    .map(|p| Hasher::two_to_one(p[0], p[1]))
                    .collect();
            }
            let indices: Vec<usize> = (0..28).map(|q| (q * 37 + 5) % n).collect();
            let layers = log_leaves - cap_height;
            let mut input = Vec::new();
            for v in [
                indices.len(),
                width,
                log_leaves,
                layers,
                lde.len(),
                digests.len(),
            ] {
                input.push(v as u64);
            }
            input.extend(&lde);
            input.extend(&digests);
            input.extend(indices.iter().map(|&i| i as u64));
            let raw = program.run(&input);
            let per = width + 4 * layers;
            assert_eq!(raw.len(), indices.len() * per);
            for (q, &i) in indices.iter().enumerate() {
                let got = &raw[q * per..(q + 1) * per];
                let row: Vec<u64> = tree.get(i).iter().map(|e| e.to_canonical_u64()).collect();
                assert_eq!(
                    &got[..width],
                    &row[..],
                    "row of leaf {i} (2^{log_leaves}, cap {cap_height})"
                );
                let path: Vec<u64> = tree
                    .prove(i)
                    .siblings
                    .iter()
                    .flat_map(|h| h.elements.map(|e| e.to_canonical_u64()))
                    .collect();
                assert_eq!(
                    &got[width..],
                    &path[..],
                    "path of leaf {i} (2^{log_leaves}, cap {cap_height})"
                );
            }
        }
    }

    /// One commit-phase layer on the host: `coset_scale`, the NTT kernels as
    /// `GpuContext::ntt_dif` launches them (global stages down to 2^11, then the shared-memory
    /// kernel, one thread per block), `fri_leaves` and `fri_fold`, each run over 300 threads past
    /// its end, whose buffers end in sentinels that must survive; then the layer's tree as
    /// `GpuContext::hash_tree` builds it (`hash_leaves`, `hash_level` per level) and the query
    /// openings as `DeviceFriLayers::open` gathers them.
    const LAYER_MAIN: &str = r#"
#include <cstdio>
#include <vector>
static const u64 SENTINEL = 0x5e5e5e5e5e5e5e5eULL;
static const u64 PAST = 300;
static void launch(u64 total, u32 block, void (*f)(void*), void* arg) {
    blockDim.x = block;
    for (u64 t = 0; t < total + PAST; t++) {
        blockIdx.x = t / block; threadIdx.x = t % block;
        f(arg);
    }
}
struct Args { u64 *vals, *tw, *leaves, *coeffs, *folded; u64 shift, w, beta_a, beta_b, n, half;
              u32 log_n, arity_bits, log_h, log_s; };
int main(int argc, char** argv) {
    FILE* in = fopen(argv[1], "rb");
    if (!in) return 3;
    u64 h[8];
    if (fread(h, 8, 8, in) != 8) return 2;
    u32 cap_height = (u32)h[6];
    u32 num_queries = (u32)h[7];
    Args a;
    a.log_n = (u32)h[0]; a.arity_bits = (u32)h[1]; a.shift = h[2]; a.w = h[3];
    a.beta_a = h[4]; a.beta_b = h[5];
    a.n = 1ULL << a.log_n;
    a.half = a.n / 2 > 0 ? a.n / 2 : 1;
    u64 folded_len = a.n >> a.arity_bits;
    std::vector<u64> coeffs(2 * a.n + PAST, SENTINEL), vals(2 * a.n + PAST, SENTINEL),
        tw(a.half + PAST, SENTINEL), leaves(2 * a.n + PAST, SENTINEL),
        folded(2 * folded_len + PAST, SENTINEL);
    if (fread(coeffs.data(), 8, 2 * a.n, in) != 2 * a.n) return 2;
    std::vector<u64> indices(num_queries);
    if (fread(indices.data(), 8, num_queries, in) != num_queries) return 2;
    fclose(in);
    a.coeffs = coeffs.data(); a.vals = vals.data(); a.tw = tw.data(); a.leaves = leaves.data();
    a.folded = folded.data();
    launch(a.half, 256, [](void* p) { Args* a = (Args*)p; pow_table(a->tw, a->w, 1, a->half); }, &a);
    for (u64 i = 0; i < 2 * a.n; i++) vals[i] = coeffs[i];
    launch(2 * a.n, 256, [](void* p) {
        Args* a = (Args*)p; coset_scale(a->vals, a->shift, a->log_n, 2 * a->n); }, &a);
    a.log_s = a.log_n < 11 ? a.log_n : 11;
    for (int lh = (int)a.log_n - 1; lh >= (int)a.log_s; lh--) {
        a.log_h = (u32)lh;
        launch(a.n, 256, [](void* p) {
            Args* a = (Args*)p; ntt_dif_stage(a->vals, a->tw, a->log_n, a->log_h, a->n); }, &a);
    }
    blockDim.x = 1; threadIdx.x = 0;
    for (u64 chunk = 0; chunk < (2 * a.n) >> a.log_s; chunk++) {
        blockIdx.x = (unsigned)chunk;
        ntt_dif_local(a.vals, a.tw, a.log_n, a.log_s);
    }
    launch(2 * a.n, 256, [](void* p) {
        Args* a = (Args*)p; fri_leaves(a->vals, a->leaves, a->log_n, a->arity_bits, 2 * a->n); }, &a);
    launch(folded_len, 256, [](void* p) {
        Args* a = (Args*)p;
        fri_fold(a->coeffs, a->folded, a->log_n, a->arity_bits, a->beta_a, a->beta_b,
                 a->n >> a->arity_bits); }, &a);
    // The tree: leaf digests, then each level up to the cap, one after the other.
    u32 log_m = a.log_n - a.arity_bits, width = 2u << a.arity_bits;
    u64 m = 1ULL << log_m;
    u32 layers = log_m - cap_height;
    u64 digests_len = 0;
    for (u32 l = 0; l <= layers; l++) digests_len += (m >> l) * 4;
    std::vector<u64> digests(digests_len, 0);
    blockDim.x = 128;
    for (u64 t = 0; t < m; t++) {
        blockIdx.x = t / 128; threadIdx.x = t % 128;
        hash_leaves(leaves.data(), digests.data(), width, m);
    }
    u64 offset = 0;
    for (u32 l = 0; l < layers; l++) {
        u64 len = m >> l;
        for (u64 t = 0; t < len / 2; t++) {
            blockIdx.x = t / 128; threadIdx.x = t % 128;
            hash_level(digests.data() + offset, digests.data() + offset + len * 4, len / 2);
        }
        offset += len * 4;
    }
    std::vector<u64> cap(digests.begin() + offset, digests.end());
    u64 per = width + 4ULL * layers;
    std::vector<u64> opened(num_queries * per, 0);
    blockDim.x = 256;
    for (u64 t = 0; t < num_queries * per; t++) {
        blockIdx.x = t / 256; threadIdx.x = t % 256;
        gather_openings(leaves.data(), digests.data(), indices.data(), num_queries, width, log_m,
                        layers, opened.data());
    }
    FILE* o = fopen(argv[2], "wb");
    if (!o) return 4;
    for (auto* v : {&vals, &leaves, &folded, &tw, &cap, &opened})
        if (fwrite(v->data(), 8, v->size(), o) != v->size()) return 4;
    fclose(o);
    return 0;
}
"#;

    #[test]
    fn commit_phase_kernels_on_the_host_are_plonky2s() {
        use plonky2::field::extension::FieldExtension;
        use plonky2::field::types::Field;

        let Some(program) = crate::host_check::HostProgram::build(
            "layer",
            &crate::source::fri_source(),
            LAYER_MAIN,
        ) else {
            skip_note!("skipping: no C++ compiler found (c++, g++, clang++)");
            return;
        };
        const SENTINEL: u64 = 0x5e5e_5e5e_5e5e_5e5e;
        const PAST: usize = 300;
        let comps = |e: &Ext| {
            let [a, b] = <Ext as FieldExtension<D>>::to_basefield_array(e);
            [a.to_canonical_u64(), b.to_canonical_u64()]
        };
        // Sizes below and above the shared-memory chunk (2^11), arities 2..16, and the one
        // where a layer's values fit one leaf.
        // Cap heights from one digest to every leaf.
        for (log_n, arity_bits, cap_height) in [
            (4u32, 1u32, 2u32),
            (5, 2, 0),
            (8, 3, 5),
            (9, 4, 4),
            (12, 4, 4),
            (13, 3, 1),
            (4, 4, 0),
        ] {
            let n = 1usize << log_n;
            let coeffs: Vec<Ext> = (0..n).map(|_| Ext::rand()).collect();
            let shift = F::rand();
            let beta = Ext::rand();
            let w = F::primitive_root_of_unity(log_n as usize);
            let mut input = Vec::new();
            let [beta_a, beta_b] = comps(&beta);
            for v in [
                log_n as u64,
                arity_bits as u64,
                shift.to_canonical_u64(),
                w.to_canonical_u64(),
                beta_a,
                beta_b,
            ] {
                input.push(v);
            }
            let m = n >> arity_bits;
            let indices: Vec<usize> = (0..28).map(|q| (q * 37 + 5) % m).collect();
            input.extend([cap_height as u64, indices.len() as u64]);
            for d in 0..2 {
                input.extend(coeffs.iter().map(|c| comps(c)[d]));
            }
            input.extend(indices.iter().map(|&i| i as u64));
            let raw = program.run(&input);
            let folded_len = n >> arity_bits;
            let half = (n / 2).max(1);
            let (vals, rest) = raw.split_at(2 * n + PAST);
            let (leaves, rest) = rest.split_at(2 * n + PAST);
            let (folded, rest) = rest.split_at(2 * folded_len + PAST);
            let (tw, rest) = rest.split_at(half + PAST);
            let (cap, opened) = rest.split_at(4 << cap_height);
            let what = format!("2^{log_n} values, arity 2^{arity_bits}");
            for (name, buf, len) in [
                ("values", vals, 2 * n),
                ("leaves", leaves, 2 * n),
                ("folded", folded, 2 * folded_len),
                ("twiddles", tw, half),
            ] {
                assert!(
                    buf[len..].iter().all(|&v| v == SENTINEL),
                    "{name}: a thread past the end wrote ({what})"
                );
            }

            // plonky2's coset FFT, in the order FRI's layer reads it.
            let mut expected = PolynomialCoeffs::new(coeffs.clone())
                .coset_fft(shift.into())
                .values;
            reverse_index_bits_in_place(&mut expected);
            for (i, e) in expected.iter().enumerate() {
                assert_eq!(
                    [vals[i], vals[n + i]],
                    comps(e),
                    "value {i} of the coset FFT ({what})"
                );
            }
            // The layer's leaves: plonky2's chunks of `arity` values, flattened.
            let m = n >> arity_bits;
            for (j, chunk) in expected.chunks(1 << arity_bits).enumerate() {
                let leaf = flatten::<F, D>(chunk);
                for (c, x) in leaf.iter().enumerate() {
                    assert_eq!(
                        leaves[c * m + j],
                        x.to_canonical_u64(),
                        "element {c} of leaf {j} ({what})"
                    );
                }
            }
            // The fold: plonky2's reduce_with_powers of each chunk of coefficients.
            for (i, chunk) in coeffs.chunks(1 << arity_bits).enumerate() {
                assert_eq!(
                    [folded[i], folded[folded_len + i]],
                    comps(&reduce_with_powers(chunk, beta)),
                    "folded coefficient {i} ({what})"
                );
            }
            // The layer's tree and openings: plonky2's `MerkleTree` of the flattened chunks.
            let tree = MerkleTree::<F, Hasher>::new(
                expected
                    .chunks(1 << arity_bits)
                    .map(flatten::<F, D>)
                    .collect(),
                cap_height as usize,
            );
            let want_cap: Vec<u64> = tree
                .cap
                .0
                .iter()
                .flat_map(|h| h.elements.map(|e| e.to_canonical_u64()))
                .collect();
            assert_eq!(cap, &want_cap[..], "cap of height {cap_height} ({what})");
            let per = (2 << arity_bits) + 4 * (log_n - arity_bits - cap_height) as usize;
            assert_eq!(opened.len(), indices.len() * per, "openings ({what})");
            for (&i, got) in indices.iter().zip(opened.chunks_exact(per)) {
                let row: Vec<u64> = tree.get(i).iter().map(|e| e.to_canonical_u64()).collect();
                let path: Vec<u64> = tree
                    .prove(i)
                    .siblings
                    .iter()
                    .flat_map(|h| h.elements.map(|e| e.to_canonical_u64()))
                    .collect();
                assert_eq!(&got[..row.len()], &row[..], "row of leaf {i} ({what})");
                assert_eq!(&got[row.len()..], &path[..], "path of leaf {i} ({what})");
            }
        }
    }

    /// The quotient's interpolation as `GpuContext::coset_interpolate` launches it: twiddles of
    /// w^-1 (`pow_table`), the inverse DIF NTT (global stages, then `ntt_dif_local`, one thread
    /// per block), `bitrev_scale` by 1/n, `coset_scale` by the shift's inverse.
    const INTERPOLATE_MAIN: &str = r#"
#include <cstdio>
#include <vector>
struct Args { u64 *vals, *tw, *coeffs; u64 w_inv, n_inv, shift_inv, n, half, total;
              u32 log_n, log_h, log_s; };
static void launch(u64 total, void (*f)(Args*), Args* a) {
    blockDim.x = 256;
    for (u64 t = 0; t < total + 300; t++) {
        blockIdx.x = t / 256; threadIdx.x = t % 256;
        f(a);
    }
}
int main(int argc, char** argv) {
    FILE* in = fopen(argv[1], "rb");
    if (!in) return 3;
    u64 h[5];
    if (fread(h, 8, 5, in) != 5) return 2;
    Args a;
    a.log_n = (u32)h[0]; u64 polys = h[1]; a.w_inv = h[2]; a.n_inv = h[3]; a.shift_inv = h[4];
    a.n = 1ULL << a.log_n; a.half = a.n / 2 > 0 ? a.n / 2 : 1; a.total = polys * a.n;
    std::vector<u64> vals(a.total + 300, 0), tw(a.half + 300, 0), coeffs(a.total + 300, 0);
    if (fread(vals.data(), 8, a.total, in) != a.total) return 2;
    fclose(in);
    a.vals = vals.data(); a.tw = tw.data(); a.coeffs = coeffs.data();
    launch(a.half, [](Args* a) { pow_table(a->tw, a->w_inv, 1, a->half); }, &a);
    a.log_s = a.log_n < 11 ? a.log_n : 11;
    for (int lh = (int)a.log_n - 1; lh >= (int)a.log_s; lh--) {
        a.log_h = (u32)lh;
        launch(a.total / 2, [](Args* a) {
            ntt_dif_stage(a->vals, a->tw, a->log_n, a->log_h, a->total / 2); }, &a);
    }
    blockDim.x = 1; threadIdx.x = 0;
    for (u64 chunk = 0; chunk < a.total >> a.log_s; chunk++) {
        blockIdx.x = (unsigned)chunk;
        ntt_dif_local(a.vals, a.tw, a.log_n, a.log_s);
    }
    launch(a.total, [](Args* a) { bitrev_scale(a->vals, a->coeffs, a->log_n, a->n_inv, a->total); }, &a);
    launch(a.total, [](Args* a) { coset_scale(a->coeffs, a->shift_inv, a->log_n, a->total); }, &a);
    for (u64 i = a.total; i < a.total + 300; i++) if (coeffs[i] != 0) return 5;
    FILE* o = fopen(argv[2], "wb");
    if (!o || fwrite(coeffs.data(), 8, a.total, o) != a.total) return 4;
    fclose(o);
    return 0;
}
"#;

    #[test]
    fn quotient_interpolation_kernels_on_the_host_are_plonky2s() {
        use plonky2::field::polynomial::PolynomialValues;
        use plonky2::field::types::Field;

        let Some(program) = crate::host_check::HostProgram::build(
            "interp",
            &crate::source::fri_source(),
            INTERPOLATE_MAIN,
        ) else {
            skip_note!("skipping: no C++ compiler found (c++, g++, clang++)");
            return;
        };
        // Two challenges' columns, below and above the shared-memory chunk (2^11).
        for (log_n, polys) in [(3usize, 2usize), (9, 2), (13, 2), (12, 1)] {
            let n = 1usize << log_n;
            let columns: Vec<Vec<F>> = (0..polys).map(|_| F::rand_vec(n)).collect();
            let mut input = Vec::new();
            for v in [
                log_n as u64,
                polys as u64,
                F::primitive_root_of_unity(log_n)
                    .inverse()
                    .to_canonical_u64(),
                F::from_canonical_u64(n as u64).inverse().to_canonical_u64(),
                F::coset_shift().inverse().to_canonical_u64(),
            ]
            .into_iter()
            .chain(columns.iter().flatten().map(|x| x.to_canonical_u64()))
            {
                input.push(v);
            }
            let raw = program.run(&input);
            for (p, column) in columns.into_iter().enumerate() {
                let expected = PolynomialValues::new(column).coset_ifft(F::coset_shift());
                let got: Vec<u64> = raw[p * n..(p + 1) * n].to_vec();
                let want: Vec<u64> = expected
                    .coeffs
                    .iter()
                    .map(|c| c.to_canonical_u64())
                    .collect();
                assert_eq!(got, want, "column {p} of 2^{log_n}");
            }
        }
    }
}
