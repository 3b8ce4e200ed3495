//! A plonky2 prover of our own on plonky2 1.1.0's types, with the batch commitments behind a
//! [`CommitBackend`].
//!
//! This is `plonky2::plonk::prover::prove_with_partition_witness` step by step — wires
//! commitment, challenges, permutation partial products and Z, their commitment, quotient
//! polynomials, their commitment, openings at zeta and g·zeta, FRI — with every
//! `PolynomialBatch::from_values` / `from_coeffs` replaced by the backend's commit. plonky2 keeps
//! the pieces we need behind `pub(crate)` (the vanishing polynomial, the FRI instance, the
//! openings' FRI form), so those are transcribed here line for line; gates' constraint
//! evaluation is plonky2's own. Three CPU parts are rewritten for speed with the same values
//! (the field is exact): the full witness's wire columns (`wire_columns`, on every core where
//! plonky2 walks the rows on one), the permutation's Z and partial products
//! (`crate::permutation`) and the openings at zeta and g·zeta (`crate::openings`).
//!
//! Scope: configurations without zero knowledge (no blinding: our basic and recursion circuits
//! use `standard_recursion_config`) and circuits without lookup tables. Anything else is refused
//! with [`ProveError::Unsupported`]; plonky2's `prove` serves it.
//!
//! FRI (`crate::fri`) is plonky2's `prove_openings` / `fri_proof` transcribed too, so that its
//! query rounds can open commitments whose rows and trees the backend kept on its device.
//!
//! Determinism: with these configurations plonky2's proof is a function of the witness, except
//! for FRI's proof-of-work nonce, which plonky2 finds with rayon's `find_any` (on several
//! threads, whichever thread finds a nonce first wins; the query indices follow from it). Ours
//! always takes the smallest nonce, which is what plonky2 finds on a single thread: there the
//! proofs are byte for byte equal (the tests check this). On many threads every commitment,
//! every opening and the FRI commit-phase caps and final polynomial (all fixed before the
//! grinding) are equal; the nonce and the queries may differ, and both proofs verify.

use std::ops::Range;

use plonky2::field::batch_util::batch_add_inplace;
use plonky2::field::extension::Extendable;
use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::Field;
use plonky2::field::zero_poly_coset::ZeroPolyOnCoset;
use plonky2::fri::structure::{
    FriBatchInfo, FriInstanceInfo, FriOpeningBatch, FriOpenings, FriOracleInfo, FriPolynomialInfo,
};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleCap;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::iop::witness::{PartialWitness, PartitionWitness, Witness};
use plonky2::plonk::circuit_data::{CommonCircuitData, ProverOnlyCircuitData};
use plonky2::plonk::config::{GenericConfig, Hasher};
use plonky2::plonk::proof::{OpeningSet, Proof, ProofWithPublicInputs};
use plonky2::plonk::vars::EvaluationVarsBaseBatch;
use plonky2::util::strided_view::PackedStridedView;
use plonky2::util::{log2_ceil, transpose};
use rayon::prelude::*;
use thiserror::Error;

use crate::backend::{Batch, CommitBackend, QuotientInputs, C, D};
use crate::challenger::Transcript;
use crate::error::GpuError;
use crate::F;

type Ext = <F as Extendable<D>>::Extension;
type InnerHasher = <C as GenericConfig<D>>::InnerHasher;
type OuterHasher = <C as GenericConfig<D>>::Hasher;

/// Why a proof could not be made.
#[derive(Debug, Error)]
pub enum ProveError {
    /// The circuit needs something this prover does not do (plonky2's `prove` does).
    #[error("not supported by the zkfleet prover: {0}")]
    Unsupported(&'static str),
    /// Witness generation failed or the witness is incomplete.
    #[error("witness: {0}")]
    Witness(String),
    /// A commitment failed on the backend (a GPU fault, out of memory, ...).
    #[error("commitment on the {backend} backend failed: {source}")]
    Commit {
        /// The backend's name ([`CommitBackend::name`]).
        backend: &'static str,
        /// What the backend reported.
        #[source]
        source: GpuError,
    },
    /// The witness does not satisfy the circuit (the quotient is not a polynomial), or zeta fell
    /// into the subgroup.
    #[error("proving failed: {0}")]
    Proving(String),
}

/// Runs the circuit's witness generators on `inputs`, then [`prove_with_partition_witness`].
pub fn prove(
    prover_data: &ProverOnlyCircuitData<F, C, D>,
    common_data: &CommonCircuitData<F, D>,
    inputs: PartialWitness<F>,
    backend: &dyn CommitBackend,
) -> Result<ProofWithPublicInputs<F, C, D>, ProveError> {
    check_supported(common_data)?;
    let partition_witness = generate_partial_witness(inputs, prover_data, common_data)
        .map_err(|e| ProveError::Witness(e.to_string()))?;
    prove_with_partition_witness(prover_data, common_data, partition_witness, backend)
}

/// Whether this prover can prove the circuit (no zero knowledge, no lookups).
pub fn check_supported(common_data: &CommonCircuitData<F, D>) -> Result<(), ProveError> {
    if common_data.config.zero_knowledge {
        return Err(ProveError::Unsupported(
            "zero-knowledge configurations (blinded commitments)",
        ));
    }
    if !common_data.luts.is_empty() || common_data.num_lookup_polys != 0 {
        return Err(ProveError::Unsupported("lookup tables"));
    }
    Ok(())
}

/// Seconds spent in each phase of one proof ([`prove_timed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseTimes {
    /// Public inputs and the wire columns of the full witness (CPU).
    pub witness_s: f64,
    /// Wires commitment (backend).
    pub wires_commit_s: f64,
    /// Permutation partial products and Z (on the backend's device where it computes them,
    /// else the CPU).
    pub partial_products_s: f64,
    /// Whether the backend computed Z and the partial products
    /// ([`CommitBackend::zs_and_partial_products`]).
    #[serde(default)]
    pub permutation_on_device: bool,
    /// Z / partial products commitment (backend).
    pub zs_commit_s: f64,
    /// Quotient polynomials: constraints on the LDE and division by Z_H (on the backend's device
    /// where it can, else the CPU), then the coset iNTT (on the backend's device where it
    /// interpolates too, else the CPU, [`Self::quotient_ifft_s`]).
    pub quotient_s: f64,
    /// Of [`Self::quotient_s`], the host's coset iNTT of the quotient's values (none where the
    /// backend interpolated) and the split into chunks (CPU).
    #[serde(default)]
    pub quotient_ifft_s: f64,
    /// Whether the backend evaluated the quotient ([`CommitBackend::quotient_values`] or
    /// [`CommitBackend::quotient_polys`]).
    pub quotient_on_device: bool,
    /// Whether the backend also interpolated it ([`CommitBackend::quotient_polys`]; then
    /// [`Self::quotient_ifft_s`] is only the split into chunks).
    #[serde(default)]
    pub quotient_ifft_on_device: bool,
    /// Quotient chunks commitment (backend).
    pub quotient_commit_s: f64,
    /// Openings at zeta and g zeta (CPU).
    pub openings_s: f64,
    /// FRI: combination, folding and commit-phase trees, proof of work, queries (CPU, plonky2).
    pub fri_s: f64,
    /// Of [`Self::fri_s`], the combination of the oracles' polynomials, its division by
    /// `X - z` and its LDE (on the backend's device where it has one).
    #[serde(default)]
    pub fri_combine_s: f64,
    /// Of [`Self::fri_s`], FRI's commit phase: the folding and each folded layer's coset FFT and
    /// Merkle tree (on the backend's device where it runs it, there with the first layer's coset
    /// FFT, which [`Self::fri_combine_s`] holds otherwise; else the CPU).
    #[serde(default)]
    pub fri_commit_phase_s: f64,
    /// Whether the backend ran FRI's commit phase (folding, each layer's coset FFT and tree;
    /// [`CommitBackend::fri_commit_phase`]).
    #[serde(default)]
    pub fri_commit_on_device: bool,
    /// Of [`Self::fri_s`], the proof-of-work search (on the backend's device where it searches).
    #[serde(default)]
    pub pow_s: f64,
    /// Of [`Self::fri_s`], the query rounds: the initial trees' openings (on the backend's
    /// device for resident commitments) and the commit-phase trees' paths.
    #[serde(default)]
    pub fri_queries_s: f64,
    /// The release of the commitments the proof kept on the backend's device, and the proof's
    /// assembly.
    #[serde(default)]
    pub release_s: f64,
}

impl PhaseTimes {
    /// Sum of the backend's commitments.
    pub fn commits_s(&self) -> f64 {
        self.wires_commit_s + self.zs_commit_s + self.quotient_commit_s
    }
}

/// plonky2's `prove_with_partition_witness`, the commitments made by `backend`.
pub fn prove_with_partition_witness(
    prover_data: &ProverOnlyCircuitData<F, C, D>,
    common_data: &CommonCircuitData<F, D>,
    partition_witness: PartitionWitness<F>,
    backend: &dyn CommitBackend,
) -> Result<ProofWithPublicInputs<F, C, D>, ProveError> {
    prove_timed(prover_data, common_data, partition_witness, backend).map(|(p, _)| p)
}

/// [`prove_with_partition_witness`], also returning the time of each phase.
pub fn prove_timed(
    prover_data: &ProverOnlyCircuitData<F, C, D>,
    common_data: &CommonCircuitData<F, D>,
    partition_witness: PartitionWitness<F>,
    backend: &dyn CommitBackend,
) -> Result<(ProofWithPublicInputs<F, C, D>, PhaseTimes), ProveError> {
    check_supported(common_data)?;
    let mut times = PhaseTimes::default();
    let mut last = std::time::Instant::now();
    let mut lap = |slot: &mut f64| {
        let now = std::time::Instant::now();
        *slot = now.duration_since(last).as_secs_f64();
        last = now;
    };
    let config = &common_data.config;
    let num_challenges = config.num_challenges;
    let quotient_degree = common_data.quotient_degree();
    let degree = common_data.degree();
    let rate_bits = config.fri_config.rate_bits;
    let cap_height = config.fri_config.cap_height;
    let roots = prover_data.fft_root_table.as_ref();
    let commit_err = |source| ProveError::Commit {
        backend: backend.name(),
        source,
    };

    // plonky2 reads these with a panicking getter; an incomplete witness is an error here.
    for &t in &prover_data.public_inputs {
        if partition_witness.try_get_target(t).is_none() {
            return Err(ProveError::Witness(format!(
                "public input {t:?} has no value"
            )));
        }
    }
    let public_inputs = partition_witness.get_targets(&prover_data.public_inputs);
    let public_inputs_hash = InnerHasher::hash_no_pad(&public_inputs);

    let wires_values = wire_columns(&partition_witness, config.num_wires, degree)?;
    drop(partition_witness);
    if config.num_routed_wires > config.num_wires {
        return Err(ProveError::Unsupported("more routed wires than wires"));
    }
    // The permutation argument reads the routed wires after the commitment has taken the columns.
    let routed_wires: Vec<PolynomialValues<F>> = wires_values[..config.num_routed_wires]
        .par_iter()
        .cloned()
        .collect();
    lap(&mut times.witness_s);
    // Where the card can evaluate this circuit's quotient, the backend may keep each commitment's
    // LDE and tree on its device (`*_resident`): the quotient reads the LDEs there and FRI's
    // queries open rows there, and `held` releases them all when the proof ends, error or not.
    // Elsewhere the CPU quotient needs every row on the host: plain commits, each released (no
    // device copy is needed) as soon as it is made.
    let device_quotient = crate::quotient::supported(common_data).is_ok();
    // The proof's peak on the backend's device, reserved before its first commitment and given
    // back when the proof ends, after `held` has released the commitments (declared first,
    // dropped last). Waits while the proofs in flight hold too much; fails (transient) if they
    // still do.
    let _admission = backend.begin_proof(common_data).map_err(commit_err)?;
    let mut held = Held {
        backend,
        caps: Vec::new(),
    };
    let commit_values = |values, held: &mut Held<'_>| -> Result<Batch, ProveError> {
        if device_quotient {
            let batch = backend
                .commit_values_resident(values, rate_bits, cap_height, roots)
                .map_err(commit_err)?;
            held.caps.push(batch.merkle_tree.cap.clone());
            Ok(batch)
        } else {
            let batch = backend
                .commit_values(values, rate_bits, cap_height, roots)
                .map_err(commit_err)?;
            backend.release(&[&batch.merkle_tree.cap]);
            Ok(batch)
        }
    };
    let wires_commitment = commit_values(wires_values, &mut held)?;
    lap(&mut times.wires_commit_s);

    // Our transcript of plonky2's `Challenger` (the same challenges), whose sponge state FRI's
    // proof-of-work search reads.
    let mut challenger = Transcript::new();
    challenger.observe_fri_params(&common_data.fri_params);
    challenger.observe_hash(prover_data.circuit_digest);
    challenger.observe_hash(public_inputs_hash);
    challenger.observe_cap(&wires_commitment.merkle_tree.cap);

    let betas = challenger.get_n_challenges(num_challenges);
    let gammas = challenger.get_n_challenges(num_challenges);

    if common_data.quotient_degree_factor >= config.num_routed_wires {
        return Err(ProveError::Unsupported(
            "fewer routed wires than the quotient degree factor",
        ));
    }
    let zs_partial_products = match backend.zs_and_partial_products(
        &routed_wires,
        &betas,
        &gammas,
        prover_data,
        common_data,
    ) {
        Some(on_backend) => {
            times.permutation_on_device = true;
            on_backend.map_err(commit_err)?
        }
        None => crate::permutation::zs_and_partial_products(
            &routed_wires,
            &betas,
            &gammas,
            prover_data,
            common_data,
        )?,
    };
    drop(routed_wires);
    lap(&mut times.partial_products_s);
    let zs_commitment = commit_values(zs_partial_products, &mut held)?;
    lap(&mut times.zs_commit_s);
    challenger.observe_cap(&zs_commitment.merkle_tree.cap);

    let alphas = challenger.get_n_challenges(num_challenges);
    let selectors = selectors(common_data)?;
    let inputs = QuotientInputs {
        common_data,
        selector_indices: &selectors.selector_indices,
        groups: &selectors.groups,
        constants_sigmas: &prover_data.constants_sigmas_commitment,
        wires_cap: &wires_commitment.merkle_tree.cap,
        zs_cap: &zs_commitment.merkle_tree.cap,
        public_inputs_hash: &public_inputs_hash,
        betas: &betas,
        gammas: &gammas,
        alphas: &alphas,
    };
    // The coefficients from the backend where it interpolates too; else its values, or the
    // CPU's, interpolated here (timed: `quotient_ifft_s`).
    let device_polys = if device_quotient {
        backend.quotient_polys(&inputs)
    } else {
        None
    };
    let mut ifft_s = 0.0;
    let quotient_polys: Vec<PolynomialCoeffs<F>> = match device_polys {
        Some(polys) => {
            times.quotient_on_device = true;
            times.quotient_ifft_on_device = true;
            polys.map_err(commit_err)?
        }
        None => {
            let device_values = if device_quotient {
                backend.quotient_values(&inputs)
            } else {
                None
            };
            let quotient_values = match device_values {
                Some(values) => {
                    times.quotient_on_device = true;
                    values.map_err(commit_err)?
                }
                None if !has_host_rows(&wires_commitment) || !has_host_rows(&zs_commitment) => {
                    return Err(commit_err(GpuError::InvalidInput(
                        "the backend kept the wires and Z rows on its device but did not \
                         evaluate the quotient there (its copies are not on the device)"
                            .into(),
                    )));
                }
                None => compute_quotient_values(
                    common_data,
                    prover_data,
                    &selectors,
                    &public_inputs_hash,
                    &wires_commitment,
                    &zs_commitment,
                    &betas,
                    &gammas,
                    &alphas,
                )?,
            };
            let ifft_started = std::time::Instant::now();
            let polys = quotient_values
                .into_par_iter()
                .map(|values| values.coset_ifft(F::coset_shift()))
                .collect();
            ifft_s = ifft_started.elapsed().as_secs_f64();
            polys
        }
    };
    let split_started = std::time::Instant::now();
    // A backend's coefficients: one polynomial per challenge on the 2^quotient_degree_bits
    // coset, as the host's interpolation gives them (`chunks(degree)` below relies on it).
    let expected_len = degree << log2_ceil(common_data.quotient_degree_factor);
    if quotient_polys.len() != num_challenges
        || quotient_polys.iter().any(|p| p.len() != expected_len)
    {
        return Err(commit_err(GpuError::InvalidInput(format!(
            "{} quotient polynomials (lengths {:?}), expected {num_challenges} of {expected_len}",
            quotient_polys.len(),
            quotient_polys.iter().map(|p| p.len()).collect::<Vec<_>>()
        ))));
    }
    let mut all_quotient_poly_chunks = Vec::with_capacity(quotient_polys.len() * 8);
    for mut quotient_poly in quotient_polys {
        quotient_poly.trim_to_len(quotient_degree).map_err(|_| {
            ProveError::Proving(
                "the vanishing polynomial is not divisible by Z_H (the witness does not \
                 satisfy the circuit)"
                    .into(),
            )
        })?;
        all_quotient_poly_chunks.extend(quotient_poly.chunks(degree));
    }
    times.quotient_ifft_s = ifft_s + split_started.elapsed().as_secs_f64();
    lap(&mut times.quotient_s);
    let quotient_commitment = if device_quotient {
        let batch = backend
            .commit_coeffs_resident(all_quotient_poly_chunks, rate_bits, cap_height, roots)
            .map_err(commit_err)?;
        held.caps.push(batch.merkle_tree.cap.clone());
        batch
    } else {
        backend
            .commit_coeffs(all_quotient_poly_chunks, rate_bits, cap_height, roots)
            .map_err(commit_err)?
    };
    lap(&mut times.quotient_commit_s);
    challenger.observe_cap(&quotient_commitment.merkle_tree.cap);

    let zeta = challenger.get_extension_challenge();
    let g = Ext::primitive_root_of_unity(common_data.degree_bits());
    if zeta.exp_power_of_2(common_data.degree_bits()) == Ext::ONE {
        return Err(ProveError::Proving(
            "opening point is in the subgroup".into(),
        ));
    }
    let openings = crate::openings::opening_set(
        zeta,
        g,
        &prover_data.constants_sigmas_commitment,
        &wires_commitment,
        &zs_commitment,
        &quotient_commitment,
        common_data,
    );
    challenger.observe_openings(&to_fri_openings(&openings));
    lap(&mut times.openings_s);
    let instance = fri_instance(common_data, zeta);
    let (opening_proof, fri_times) = crate::fri::prove_openings(
        &instance,
        &[
            &prover_data.constants_sigmas_commitment,
            &wires_commitment,
            &zs_commitment,
            &quotient_commitment,
        ],
        &mut challenger,
        &common_data.fri_params,
        backend,
    )
    .map_err(commit_err)?;
    lap(&mut times.fri_s);
    times.fri_combine_s = fri_times.combine_s;
    times.fri_commit_phase_s = fri_times.commit_phase_s;
    times.fri_commit_on_device = fri_times.commit_on_device;
    times.pow_s = fri_times.pow_s;
    times.fri_queries_s = fri_times.queries_s;
    drop(held);

    let proof = Proof::<F, C, D> {
        wires_cap: wires_commitment.merkle_tree.cap,
        plonk_zs_partial_products_cap: zs_commitment.merkle_tree.cap,
        quotient_polys_cap: quotient_commitment.merkle_tree.cap,
        openings,
        opening_proof,
    };
    lap(&mut times.release_s);
    Ok((
        ProofWithPublicInputs {
            proof,
            public_inputs,
        },
        times,
    ))
}

/// The first `num_wires` wire columns of the full witness, `degree` rows each: plonky2's
/// `PartitionWitness::full_witness` (a wire without a value is zero), which walks every row on
/// one thread, here column by column on rayon's threads and straight into the columns the wires
/// commitment takes.
fn wire_columns(
    witness: &PartitionWitness<F>,
    num_wires: usize,
    degree: usize,
) -> Result<Vec<PolynomialValues<F>>, ProveError> {
    if witness.degree != degree || witness.num_wires < num_wires {
        return Err(ProveError::Witness(format!(
            "the witness has {} rows of {} wires, the circuit {degree} rows of {num_wires}",
            witness.degree, witness.num_wires
        )));
    }
    // plonky2's `Target::index` of `Target::Wire { row, column }`.
    let stride = witness.num_wires;
    if witness.representative_map.len() < degree * stride {
        return Err(ProveError::Witness(format!(
            "the witness's partition has {} targets, fewer than its {} wires",
            witness.representative_map.len(),
            degree * stride
        )));
    }
    let value = |target: usize| {
        let rep = witness.representative_map[target];
        witness
            .values
            .get(rep)
            .copied()
            .flatten()
            .unwrap_or(F::ZERO)
    };
    // Four columns per task: each row's four targets are adjacent in the partition's map, so a
    // task reads each cache line of it once instead of once per column.
    const GROUP: usize = 4;
    let groups: Vec<Vec<PolynomialValues<F>>> = (0..num_wires.div_ceil(GROUP))
        .into_par_iter()
        .map(|group| {
            let columns = group * GROUP..((group + 1) * GROUP).min(num_wires);
            let mut out: Vec<Vec<F>> = columns
                .clone()
                .map(|_| Vec::with_capacity(degree))
                .collect();
            for row in 0..degree {
                for (slot, column) in out.iter_mut().zip(columns.clone()) {
                    slot.push(value(row * stride + column));
                }
            }
            out.into_iter().map(PolynomialValues::new).collect()
        })
        .collect();
    Ok(groups.into_iter().flatten().collect())
}

/// Points per batch of the quotient evaluation, as plonky2's `BATCH_SIZE`.
const BATCH_SIZE: usize = 32;

/// The selector layout plonky2 keeps `pub(crate)` in `SelectorsInfo`, read through its serde
/// `Serialize` (the only public view of it).
pub(crate) struct Selectors {
    pub(crate) selector_indices: Vec<usize>,
    pub(crate) groups: Vec<Range<usize>>,
}

pub(crate) fn selectors(common_data: &CommonCircuitData<F, D>) -> Result<Selectors, ProveError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        selector_indices: Vec<usize>,
        groups: Vec<Range<usize>>,
    }
    let raw: Raw = serde_json::to_value(&common_data.selectors_info)
        .and_then(serde_json::from_value)
        .map_err(|e| ProveError::Proving(format!("reading the circuit's selectors: {e}")))?;
    if raw.selector_indices.len() != common_data.gates.len() {
        return Err(ProveError::Proving(format!(
            "{} selector indices for {} gates",
            raw.selector_indices.len(),
            common_data.gates.len()
        )));
    }
    Ok(Selectors {
        selector_indices: raw.selector_indices,
        groups: raw.groups,
    })
}

/// plonky2's `evaluate_gate_constraints_base_batch` (in a private module of plonky2).
fn evaluate_gate_constraints_base_batch(
    common_data: &CommonCircuitData<F, D>,
    selectors: &Selectors,
    vars_batch: EvaluationVarsBaseBatch<F>,
) -> Vec<F> {
    let mut constraints_batch = vec![F::ZERO; common_data.num_gate_constraints * vars_batch.len()];
    for (i, gate) in common_data.gates.iter().enumerate() {
        let selector_index = selectors.selector_indices[i];
        let gate_constraints_batch = gate.0.eval_filtered_base_batch(
            vars_batch,
            i,
            selector_index,
            selectors.groups[selector_index].clone(),
            selectors.groups.len(),
            common_data.num_lookup_selectors,
        );
        batch_add_inplace(
            &mut constraints_batch[..gate_constraints_batch.len()],
            &gate_constraints_batch,
        );
    }
    constraints_batch
}

/// plonky2's `check_partial_products`.
fn check_partial_products(
    numerators: &[F],
    denominators: &[F],
    partials: &[F],
    z_x: F,
    z_gx: F,
    max_degree: usize,
    out: &mut Vec<F>,
) {
    let accs: Vec<F> = std::iter::once(z_x)
        .chain(partials.iter().copied())
        .chain(std::iter::once(z_gx))
        .collect();
    for ((nume_chunk, deno_chunk), w) in numerators
        .chunks(max_degree)
        .zip(denominators.chunks(max_degree))
        .zip(accs.windows(2))
    {
        let num_chunk_product: F = nume_chunk.iter().copied().product();
        let den_chunk_product: F = deno_chunk.iter().copied().product();
        out.push(w[0] * num_chunk_product - w[1] * den_chunk_product);
    }
}

/// plonky2's `reduce_with_powers_multi`.
fn reduce_with_powers_multi<'a>(
    terms: impl DoubleEndedIterator<Item = &'a F>,
    alphas: &[F],
) -> Vec<F> {
    let mut cumul = vec![F::ZERO; alphas.len()];
    for &term in terms.rev() {
        cumul
            .iter_mut()
            .zip(alphas)
            .for_each(|(c, &alpha)| *c = term.multiply_accumulate(*c, alpha));
    }
    cumul
}

/// The commitments a proof keeps on the backend's device; dropping it (the proof is done, or
/// failed anywhere after its first commitment) tells the backend to free them.
struct Held<'a> {
    backend: &'a dyn CommitBackend,
    caps: Vec<MerkleCap<F, OuterHasher>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.caps.is_empty() {
            let caps: Vec<&MerkleCap<F, OuterHasher>> = self.caps.iter().collect();
            self.backend.release(&caps);
        }
    }
}

/// Whether a commitment's rows are on the host (not kept on the backend's device).
fn has_host_rows(batch: &Batch) -> bool {
    batch.merkle_tree.leaves.len() == 1usize << (batch.degree_log + batch.rate_bits)
}

/// The quotient's values as [`CommitBackend::quotient_values`] returns them, computed on the
/// CPU (plonky2's gate code) from the full host batches of the commitments `q` names: for a
/// backend that keeps the rows off the prover's batches (a test backend that keeps its trees
/// apart, as the GPU backend keeps them on the card).
pub fn quotient_values_on_cpu(
    q: &QuotientInputs<'_>,
    wires_commitment: &Batch,
    zs_commitment: &Batch,
) -> Result<Vec<PolynomialValues<F>>, ProveError> {
    let selectors = Selectors {
        selector_indices: q.selector_indices.to_vec(),
        groups: q.groups.to_vec(),
    };
    compute_quotient_values_with(
        q.common_data,
        q.constants_sigmas,
        &selectors,
        q.public_inputs_hash,
        wires_commitment,
        zs_commitment,
        q.betas,
        q.gammas,
        q.alphas,
    )
}

/// plonky2's `compute_quotient_polys` without lookups, on the CPU, up to its coset iFFT: the
/// vanishing polynomial (gate constraints, `L_0 (Z - 1)`, partial-product checks, combined with
/// powers of each alpha) on the coset LDE of degree `2^quotient_degree_bits`, divided by `Z_H`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn compute_quotient_values(
    common_data: &CommonCircuitData<F, D>,
    prover_data: &ProverOnlyCircuitData<F, C, D>,
    selectors: &Selectors,
    public_inputs_hash: &HashOut<F>,
    wires_commitment: &Batch,
    zs_commitment: &Batch,
    betas: &[F],
    gammas: &[F],
    alphas: &[F],
) -> Result<Vec<PolynomialValues<F>>, ProveError> {
    compute_quotient_values_with(
        common_data,
        &prover_data.constants_sigmas_commitment,
        selectors,
        public_inputs_hash,
        wires_commitment,
        zs_commitment,
        betas,
        gammas,
        alphas,
    )
}

#[allow(clippy::too_many_arguments)]
fn compute_quotient_values_with(
    common_data: &CommonCircuitData<F, D>,
    constants_sigmas: &Batch,
    selectors: &Selectors,
    public_inputs_hash: &HashOut<F>,
    wires_commitment: &Batch,
    zs_commitment: &Batch,
    betas: &[F],
    gammas: &[F],
    alphas: &[F],
) -> Result<Vec<PolynomialValues<F>>, ProveError> {
    let num_challenges = common_data.config.num_challenges;
    let quotient_degree_bits = log2_ceil(common_data.quotient_degree_factor);
    let rate_bits = common_data.config.fri_config.rate_bits;
    if quotient_degree_bits > rate_bits {
        return Err(ProveError::Unsupported(
            "constraints of degree higher than the rate",
        ));
    }
    let step = 1 << (rate_bits - quotient_degree_bits);
    let next_step = 1 << quotient_degree_bits;
    let points = F::two_adic_subgroup(common_data.degree_bits() + quotient_degree_bits);
    let lde_size = points.len();
    let z_h_on_coset = ZeroPolyOnCoset::new(common_data.degree_bits(), quotient_degree_bits);
    let max_degree = common_data.quotient_degree_factor;
    let num_prods = common_data.num_partial_products;
    let num_routed_wires = common_data.config.num_routed_wires;

    let quotient_values: Vec<Vec<F>> = points
        .par_chunks(BATCH_SIZE)
        .enumerate()
        .flat_map(|(batch_i, xs_batch)| {
            let n = xs_batch.len();
            let indices_batch: Vec<usize> =
                (BATCH_SIZE * batch_i..BATCH_SIZE * batch_i + n).collect();
            let mut shifted_xs = Vec::with_capacity(n);
            let mut local_zs_batch = Vec::with_capacity(n);
            let mut next_zs_batch = Vec::with_capacity(n);
            let mut partial_products_batch = Vec::with_capacity(n);
            let mut s_sigmas_batch = Vec::with_capacity(n);
            let mut local_constants_refs = Vec::with_capacity(n);
            let mut local_wires_refs = Vec::with_capacity(n);
            for (&i, &x) in indices_batch.iter().zip(xs_batch) {
                let i_next = (i + next_step) % lde_size;
                let local_constants_sigmas = constants_sigmas.get_lde_values(i, step);
                let local_zs_partial = zs_commitment.get_lde_values(i, step);
                let next_zs_partial = zs_commitment.get_lde_values(i_next, step);
                local_constants_refs.push(&local_constants_sigmas[common_data.constants_range()]);
                s_sigmas_batch.push(&local_constants_sigmas[common_data.sigmas_range()]);
                local_wires_refs.push(wires_commitment.get_lde_values(i, step));
                shifted_xs.push(F::coset_shift() * x);
                local_zs_batch.push(&local_zs_partial[common_data.zs_range()]);
                next_zs_batch.push(&next_zs_partial[common_data.zs_range()]);
                partial_products_batch
                    .push(&local_zs_partial[common_data.partial_products_range()]);
            }
            let mut local_constants_batch = vec![F::ZERO; n * local_constants_refs[0].len()];
            for i in 0..local_constants_refs[0].len() {
                for (j, constants) in local_constants_refs.iter().enumerate() {
                    local_constants_batch[i * n + j] = constants[i];
                }
            }
            let mut local_wires_batch = vec![F::ZERO; n * local_wires_refs[0].len()];
            for i in 0..local_wires_refs[0].len() {
                for (j, wires) in local_wires_refs.iter().enumerate() {
                    local_wires_batch[i * n + j] = wires[i];
                }
            }
            let vars_batch = EvaluationVarsBaseBatch::new(
                n,
                &local_constants_batch,
                &local_wires_batch,
                public_inputs_hash,
            );

            // plonky2's `eval_vanishing_poly_base_batch`, no lookups.
            let constraint_terms_batch =
                evaluate_gate_constraints_base_batch(common_data, selectors, vars_batch);
            let mut numerator_values = Vec::with_capacity(num_routed_wires);
            let mut denominator_values = Vec::with_capacity(num_routed_wires);
            let mut vanishing_z_1_terms = Vec::with_capacity(num_challenges);
            let mut vanishing_partial_products_terms = Vec::new();
            let mut res_batch: Vec<Vec<F>> = Vec::with_capacity(n);
            for k in 0..n {
                let index = indices_batch[k];
                let x = shifted_xs[k];
                let vars = vars_batch.view(k);
                let local_zs = local_zs_batch[k];
                let next_zs = next_zs_batch[k];
                let partial_products = partial_products_batch[k];
                let s_sigmas = s_sigmas_batch[k];
                let constraint_terms = PackedStridedView::new(&constraint_terms_batch, n, k);
                let l_0_x = z_h_on_coset.eval_l_0(index, x);
                for i in 0..num_challenges {
                    let z_x = local_zs[i];
                    let z_gx = next_zs[i];
                    vanishing_z_1_terms.push(l_0_x * (z_x - F::ONE));
                    numerator_values.extend((0..num_routed_wires).map(|j| {
                        let s_id = common_data.k_is[j] * x;
                        vars.local_wires[j] + betas[i] * s_id + gammas[i]
                    }));
                    denominator_values.extend(
                        (0..num_routed_wires)
                            .map(|j| vars.local_wires[j] + betas[i] * s_sigmas[j] + gammas[i]),
                    );
                    check_partial_products(
                        &numerator_values,
                        &denominator_values,
                        &partial_products[i * num_prods..(i + 1) * num_prods],
                        z_x,
                        z_gx,
                        max_degree,
                        &mut vanishing_partial_products_terms,
                    );
                    numerator_values.clear();
                    denominator_values.clear();
                }
                let vanishing_terms = vanishing_z_1_terms
                    .iter()
                    .chain(vanishing_partial_products_terms.iter())
                    .chain(constraint_terms);
                let mut res = reduce_with_powers_multi(vanishing_terms, alphas);
                let denominator_inv = z_h_on_coset.eval_inverse(index);
                res.iter_mut().for_each(|v| *v *= denominator_inv);
                res_batch.push(res);
                vanishing_z_1_terms.clear();
                vanishing_partial_products_terms.clear();
            }
            res_batch
        })
        .collect();

    Ok(transpose(&quotient_values)
        .into_par_iter()
        .map(PolynomialValues::new)
        .collect())
}

/// plonky2's `OpeningSet::to_fri_openings` (crate-private there), no lookups.
fn to_fri_openings(openings: &OpeningSet<F, D>) -> FriOpenings<F, D> {
    let zeta_batch = FriOpeningBatch {
        values: [
            openings.constants.as_slice(),
            openings.plonk_sigmas.as_slice(),
            openings.wires.as_slice(),
            openings.plonk_zs.as_slice(),
            openings.partial_products.as_slice(),
            openings.quotient_polys.as_slice(),
        ]
        .concat(),
    };
    let zeta_next_batch = FriOpeningBatch {
        values: openings.plonk_zs_next.clone(),
    };
    FriOpenings {
        batches: vec![zeta_batch, zeta_next_batch],
    }
}

/// plonky2's `CommonCircuitData::get_fri_instance` (crate-private there), no lookups. The
/// oracles' `blinding` flags are plonky2's `PlonkOracle` constants (false for the constants and
/// sigmas, true for the others); FRI salts only where the configuration is zero-knowledge too.
fn fri_instance(common_data: &CommonCircuitData<F, D>, zeta: Ext) -> FriInstanceInfo<F, D> {
    const CONSTANTS_SIGMAS: usize = 0;
    const WIRES: usize = 1;
    const ZS_PARTIAL_PRODUCTS: usize = 2;
    const QUOTIENT: usize = 3;
    let num_preprocessed = common_data.sigmas_range().end;
    let num_zs_partial_products =
        common_data.config.num_challenges * (1 + common_data.num_partial_products);
    let num_quotient = common_data.config.num_challenges * common_data.quotient_degree_factor;
    let all_polys = [
        FriPolynomialInfo::from_range(CONSTANTS_SIGMAS, 0..num_preprocessed),
        FriPolynomialInfo::from_range(WIRES, 0..common_data.config.num_wires),
        FriPolynomialInfo::from_range(ZS_PARTIAL_PRODUCTS, 0..num_zs_partial_products),
        FriPolynomialInfo::from_range(QUOTIENT, 0..num_quotient),
    ]
    .concat();
    let g = Ext::primitive_root_of_unity(common_data.degree_bits());
    FriInstanceInfo {
        oracles: vec![
            FriOracleInfo {
                num_polys: num_preprocessed,
                blinding: false,
            },
            FriOracleInfo {
                num_polys: common_data.config.num_wires,
                blinding: true,
            },
            FriOracleInfo {
                num_polys: num_zs_partial_products,
                blinding: true,
            },
            FriOracleInfo {
                num_polys: num_quotient,
                blinding: true,
            },
        ],
        batches: vec![
            FriBatchInfo {
                point: zeta,
                polynomials: all_polys,
            },
            FriBatchInfo {
                point: g * zeta,
                polynomials: FriPolynomialInfo::from_range(
                    ZS_PARTIAL_PRODUCTS,
                    common_data.zs_range(),
                ),
            },
        ],
    }
}
