//! The quotient polynomial's values on the GPU: plonky2's `compute_quotient_polys` (without
//! lookups) up to, not including, the coset iFFT, evaluated by `kernels/quotient.cu` over the
//! LDEs the commitments left on the card.
//!
//! The gates are evaluated by hand-written CUDA transcriptions of plonky2's own constraint code
//! (`kernels/quotient.cuh`): noop, constant, public input, arithmetic, Poseidon, and the
//! recursion gadgets' gates (arithmetic extension, multiplication extension, coset interpolation,
//! reducing, reducing extension, random access, exponentiation, base sum in bases 2 and 4,
//! Poseidon MDS), every gate zkfleet's circuits use. A circuit with any other gate gets an `Err`
//! from [`gate_table`] naming it, and its quotient is computed on the CPU.
//!
//! Why not a generic route: plonky2's `PackedEvaluableBase::eval_unfiltered_base_packed` is
//! generic over `PackedField` and could be traced once per gate into straight-line code, but only
//! arithmetic, constant, public-input, base-sum, exponentiation and random-access implement it;
//! Poseidon and the extension-field gates evaluate through concrete `F` (with u128 MDS
//! arithmetic on raw u64s), which a tracing type cannot record.

use std::ops::Range;

use plonky2::field::types::{Field, PrimeField64};
use plonky2::gates::arithmetic_base::ArithmeticGate;
use plonky2::gates::arithmetic_extension::ArithmeticExtensionGate;
use plonky2::gates::base_sum::BaseSumGate;
use plonky2::gates::constant::ConstantGate;
use plonky2::gates::coset_interpolation::CosetInterpolationGate;
use plonky2::gates::exponentiation::ExponentiationGate;
use plonky2::gates::multiplication_extension::MulExtensionGate;
use plonky2::gates::noop::NoopGate;
use plonky2::gates::poseidon::PoseidonGate;
use plonky2::gates::poseidon_mds::PoseidonMdsGate;
use plonky2::gates::public_input::PublicInputGate;
use plonky2::gates::random_access::RandomAccessGate;
use plonky2::gates::reducing::ReducingGate;
use plonky2::gates::reducing_extension::ReducingExtensionGate;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleCap;
use plonky2::plonk::circuit_data::CommonCircuitData;
use plonky2::util::log2_ceil;
use plonky2_field::zero_poly_coset::ZeroPolyOnCoset;

use crate::backend::{Batch, D};
use crate::context::QuotientDims;
use crate::{Hasher, F};

/// What the quotient needs besides the device copies of the commitments.
pub struct QuotientInputs<'a> {
    /// The circuit's common data (gates, configuration, degree).
    pub common_data: &'a CommonCircuitData<F, D>,
    /// plonky2's `SelectorsInfo` (crate-private there): each gate's selector column, and each
    /// selector column's group of gate indices.
    pub selector_indices: &'a [usize],
    /// Each selector column's group of gate indices (see `selector_indices`).
    pub groups: &'a [Range<usize>],
    /// The circuit's constants and sigmas commitment (setup data).
    pub constants_sigmas: &'a Batch,
    /// The caps of this proof's wires and Z/partial-products commitments, made by the same
    /// backend just before.
    pub wires_cap: &'a MerkleCap<F, Hasher>,
    /// See `wires_cap`.
    pub zs_cap: &'a MerkleCap<F, Hasher>,
    /// The hash of the proof's public inputs (the public-input gate's constraint).
    pub public_inputs_hash: &'a HashOut<F>,
    /// The permutation argument's challenges, one per challenge round.
    pub betas: &'a [F],
    /// See `betas`.
    pub gammas: &'a [F],
    /// The challenges combining the vanishing terms, one per challenge round.
    pub alphas: &'a [F],
}

// Gate kinds, as GATE_* in kernels/quotient.cuh.
const GATE_NOOP: u32 = 0;
const GATE_CONSTANT: u32 = 1;
const GATE_PUBLIC_INPUT: u32 = 2;
const GATE_ARITHMETIC: u32 = 3;
const GATE_POSEIDON: u32 = 4;
const GATE_ARITHMETIC_EXT: u32 = 5;
const GATE_MUL_EXT: u32 = 6;
const GATE_COSET_INTERP: u32 = 7;
const GATE_REDUCING: u32 = 8;
const GATE_REDUCING_EXT: u32 = 9;
const GATE_RANDOM_ACCESS: u32 = 10;
const GATE_EXPONENTIATION: u32 = 11;
const GATE_BASE_SUM: u32 = 12;
const GATE_POSEIDON_MDS: u32 = 13;
/// The kernel's `RA_MAX_BITS`: random-access gates over longer lists are not taken.
const RA_MAX_BITS: usize = 6;
/// The kernel's `Q_MAX_CH`.
const MAX_CHALLENGES: usize = 4;
/// u32 per gate in the table (the kernel's `GateEntry`).
pub const GATE_ENTRY_LEN: usize = 8;

/// The kernel's gate table and the gates' data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateTable {
    /// [`GATE_ENTRY_LEN`] u32 per gate: kind, row, selector, group start, group end, and three
    /// parameters (`GateEntry` in kernels/quotient.cuh says which).
    pub entries: Vec<u32>,
    /// What some gates read besides their wires and constants (a coset interpolation gate's
    /// subgroup points and barycentric weights); the entries hold offsets into it.
    pub data: Vec<u64>,
}

/// A gate's kind and parameters for the kernel, its data appended to `data`, or `None` where the
/// kernel has no evaluator for it.
pub(crate) fn gate_params(
    gate: &plonky2::gates::gate::GateRef<F, D>,
    data: &mut Vec<u64>,
) -> Option<[usize; 4]> {
    let any = gate.0.as_any();
    let params = if any.is::<NoopGate>() {
        [GATE_NOOP as usize, 0, 0, 0]
    } else if any.is::<ConstantGate>() {
        // `num_consts` is crate-private; the gate has one constraint per constant.
        [GATE_CONSTANT as usize, gate.0.num_constraints(), 0, 0]
    } else if any.is::<PublicInputGate>() {
        [GATE_PUBLIC_INPUT as usize, 0, 0, 0]
    } else if let Some(g) = any.downcast_ref::<ArithmeticGate>() {
        [GATE_ARITHMETIC as usize, g.num_ops, 0, 0]
    } else if any.is::<PoseidonGate<F, D>>() {
        [GATE_POSEIDON as usize, 0, 0, 0]
    } else if let Some(g) = any.downcast_ref::<ArithmeticExtensionGate<D>>() {
        [GATE_ARITHMETIC_EXT as usize, g.num_ops, 0, 0]
    } else if let Some(g) = any.downcast_ref::<MulExtensionGate<D>>() {
        [GATE_MUL_EXT as usize, g.num_ops, 0, 0]
    } else if let Some(g) = any.downcast_ref::<CosetInterpolationGate<F, D>>() {
        let n = 1usize << g.subgroup_bits;
        // The kernel's wire layout needs at least one point per chunk (degree >= 2, as
        // `with_max_degree` asserts) and the weights of every point.
        if g.degree < 2 || g.degree > n || g.barycentric_weights.len() != n {
            return None;
        }
        let offset = data.len();
        data.extend(
            F::two_adic_subgroup(g.subgroup_bits)
                .iter()
                .chain(&g.barycentric_weights)
                .map(|v| v.to_canonical_u64()),
        );
        [
            GATE_COSET_INTERP as usize,
            g.subgroup_bits,
            g.degree,
            offset,
        ]
    } else if let Some(g) = any.downcast_ref::<ReducingGate<D>>() {
        [GATE_REDUCING as usize, g.num_coeffs, 0, 0]
    } else if let Some(g) = any.downcast_ref::<ReducingExtensionGate<D>>() {
        [GATE_REDUCING_EXT as usize, g.num_coeffs, 0, 0]
    } else if let Some(g) = any.downcast_ref::<RandomAccessGate<F, D>>() {
        if g.bits > RA_MAX_BITS {
            return None;
        }
        [
            GATE_RANDOM_ACCESS as usize,
            g.bits,
            g.num_copies,
            g.num_extra_constants,
        ]
    } else if let Some(g) = any.downcast_ref::<ExponentiationGate<F, D>>() {
        [GATE_EXPONENTIATION as usize, g.num_power_bits, 0, 0]
    } else if let Some(g) = any.downcast_ref::<BaseSumGate<2>>() {
        [GATE_BASE_SUM as usize, g.num_limbs, 2, 0]
    } else if let Some(g) = any.downcast_ref::<BaseSumGate<4>>() {
        [GATE_BASE_SUM as usize, g.num_limbs, 4, 0]
    } else if any.is::<PoseidonMdsGate<F, D>>() {
        [GATE_POSEIDON_MDS as usize, 0, 0, 0]
    } else {
        return None;
    };
    Some(params)
}

/// The kernel's gate table for the circuit's gates, or the id of the first gate it cannot
/// evaluate.
pub fn gate_table(
    common_data: &CommonCircuitData<F, D>,
    selector_indices: &[usize],
    groups: &[Range<usize>],
) -> Result<GateTable, String> {
    let mut entries = Vec::with_capacity(common_data.gates.len() * GATE_ENTRY_LEN);
    let mut data = Vec::new();
    for (row, gate) in common_data.gates.iter().enumerate() {
        let [kind, p0, p1, p2] = gate_params(gate, &mut data).ok_or_else(|| gate.0.id())?;
        let selector = *selector_indices
            .get(row)
            .ok_or_else(|| format!("no selector for gate {row}"))?;
        let group = groups
            .get(selector)
            .ok_or_else(|| format!("no group for selector {selector}"))?;
        let small = |v: usize| u32::try_from(v).map_err(|_| format!("{v} does not fit the table"));
        entries.extend([
            small(kind)?,
            small(row)?,
            small(selector)?,
            small(group.start)?,
            small(group.end)?,
            small(p0)?,
            small(p1)?,
            small(p2)?,
        ]);
    }
    Ok(GateTable { entries, data })
}

/// [`gate_table`] for a circuit, with plonky2's selector layout read from its common data: `Err`
/// names the first gate without a GPU evaluator.
pub fn gate_table_for(common_data: &CommonCircuitData<F, D>) -> Result<GateTable, String> {
    let sel = crate::prover::selectors(common_data).map_err(|e| e.to_string())?;
    gate_table(common_data, &sel.selector_indices, &sel.groups)
        .map_err(|id| format!("gate {id} has no GPU evaluator"))
}

/// Whether the kernel can evaluate this circuit's quotient (its gates, challenges, lookups and
/// degrees), before any proof: the prover keeps a proof's LDEs on the card only where it can.
pub fn supported(common_data: &CommonCircuitData<F, D>) -> Result<(), String> {
    let config = &common_data.config;
    let num_ch = config.num_challenges;
    if num_ch == 0 || num_ch > MAX_CHALLENGES {
        return Err(format!(
            "{num_ch} challenges (the kernel takes 1 to {MAX_CHALLENGES})"
        ));
    }
    if common_data.num_lookup_polys != 0 || common_data.num_lookup_selectors != 0 {
        return Err("lookups".into());
    }
    let max_degree = common_data.quotient_degree_factor;
    if log2_ceil(max_degree) > config.fri_config.rate_bits {
        return Err("constraints of degree higher than the rate".into());
    }
    let num_prods = common_data.num_partial_products;
    if config.num_routed_wires.div_ceil(max_degree) != num_prods + 1 {
        return Err(format!(
            "{} routed wires in chunks of {max_degree} but {num_prods} partial products",
            config.num_routed_wires
        ));
    }
    gate_table_for(common_data).map(|_| ())
}

/// The kernel's tables and dimensions for one proof, or why the kernel cannot take it.
pub(crate) struct QuotientPlan {
    pub gates: Vec<u32>,
    pub k_is: Vec<u64>,
    /// betas, then gammas.
    pub challenges: Vec<u64>,
    /// alpha_ch^t for every term t, challenge after challenge.
    pub alpha_powers: Vec<u64>,
    /// public inputs hash, Z_H on the cosets, their inverses, the gates' data.
    pub misc: Vec<u64>,
    pub dims: QuotientDims,
}

pub(crate) fn plan(q: &QuotientInputs<'_>) -> Result<QuotientPlan, String> {
    let common = q.common_data;
    let config = &common.config;
    let num_ch = config.num_challenges;
    if num_ch == 0 || num_ch > MAX_CHALLENGES {
        return Err(format!(
            "{num_ch} challenges (the kernel takes 1 to {MAX_CHALLENGES})"
        ));
    }
    if common.num_lookup_polys != 0 || common.num_lookup_selectors != 0 {
        return Err("lookups".into());
    }
    let gates = gate_table(common, q.selector_indices, q.groups)
        .map_err(|id| format!("gate {id} has no GPU evaluator"))?;
    let max_degree = common.quotient_degree_factor;
    let qdb = log2_ceil(max_degree);
    let rate_bits = config.fri_config.rate_bits;
    if qdb > rate_bits {
        return Err("constraints of degree higher than the rate".into());
    }
    let num_routed = config.num_routed_wires;
    let num_prods = common.num_partial_products;
    if num_routed.div_ceil(max_degree) != num_prods + 1 {
        return Err(format!(
            "{num_routed} routed wires in chunks of {max_degree} but {num_prods} partial products"
        ));
    }
    let degree_bits = common.degree_bits();
    let t0 = num_ch + num_ch * (num_prods + 1);
    let num_terms = t0 + common.num_gate_constraints;
    let mut alpha_powers = Vec::with_capacity(num_ch * num_terms);
    for &alpha in q.alphas {
        alpha_powers.extend(alpha.powers().take(num_terms).map(|p| p.to_canonical_u64()));
    }
    let z_h = ZeroPolyOnCoset::<F>::new(degree_bits, qdb);
    let mut misc: Vec<u64> = q
        .public_inputs_hash
        .elements
        .iter()
        .map(|e| e.to_canonical_u64())
        .collect();
    let cosets = 1usize << qdb;
    misc.extend((0..cosets).map(|i| z_h.eval(i).to_canonical_u64()));
    misc.extend((0..cosets).map(|i| z_h.eval_inverse(i).to_canonical_u64()));
    misc.extend(&gates.data);
    let small = |v: usize| u32::try_from(v).map_err(|_| format!("{v} does not fit u32"));
    let canon = |v: &[F]| v.iter().map(|e| e.to_canonical_u64()).collect::<Vec<_>>();
    let dims = QuotientDims {
        log_leaves: small(degree_bits + rate_bits)?,
        log_lde: small(degree_bits + qdb)?,
        qdb: small(qdb)?,
        num_ch: small(num_ch)?,
        num_routed: small(num_routed)?,
        num_prods: small(num_prods)?,
        max_degree: small(max_degree)?,
        num_constants: small(common.num_constants)?,
        num_selectors: small(q.groups.len())?,
        num_terms: small(num_terms)?,
        t0: small(t0)?,
        num_gates: small(common.gates.len())?,
        shift: F::coset_shift().to_canonical_u64(),
        w: F::primitive_root_of_unity(degree_bits + qdb).to_canonical_u64(),
        n_field: F::from_canonical_usize(1 << degree_bits).to_canonical_u64(),
    };
    Ok(QuotientPlan {
        gates: gates.entries,
        k_is: canon(&common.k_is[..num_routed]),
        challenges: [canon(q.betas), canon(q.gammas)].concat(),
        alpha_powers,
        misc,
        dims,
    })
}

/// The whole quotient kernel compiled for the host and run over LDEs laid out as on the card
/// ([`crate::host_check`]) equals the CPU prover's quotient values on circuits that use every gate
/// kind the kernel evaluates: a Poseidon/arithmetic circuit, and a circuit that verifies a plonky2
/// proof (the recursion gadgets: extension arithmetic, coset interpolation, reducing, random
/// access, exponentiation, base sum, ...).
#[cfg(test)]
mod host_tests {
    use plonky2::field::types::{Field, Sample};
    use plonky2::hash::poseidon::PoseidonHash;
    use plonky2::iop::witness::{PartialWitness, WitnessWrite};
    use plonky2::plonk::circuit_builder::CircuitBuilder;
    use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};

    use super::*;
    use crate::backend::C;
    use crate::host_check::quotient_kernel_on_host;

    fn kinds(data: &CircuitData<F, C, D>) -> Vec<u32> {
        let table = gate_table_for(&data.common).unwrap_or_else(|e| panic!("{e}"));
        table.entries.chunks(GATE_ENTRY_LEN).map(|g| g[0]).collect()
    }

    fn check(data: &CircuitData<F, C, D>, what: &str) -> bool {
        match quotient_kernel_on_host(data) {
            Ok(Some(c)) => {
                eprintln!("{what}: {c:?} equal to the CPU prover");
                true
            }
            Ok(None) => {
                skip_note!("skipping: no C++ compiler to build the quotient kernel for the host");
                false
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }

    fn poseidon_circuit() -> (CircuitData<F, C, D>, PartialWitness<F>) {
        let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let inputs = builder.add_virtual_targets(4);
        builder.register_public_inputs(&inputs);
        let mut state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(inputs.clone());
        for _ in 0..3 {
            state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(state.elements.to_vec());
        }
        let mut acc = state.elements[0];
        for i in 0..50 {
            let c = builder.constant(F::from_canonical_u64(i as u64 + 3));
            acc = builder.mul_add(acc, inputs[i % 4], c);
        }
        builder.register_public_input(acc);
        let data = builder.build::<C>();
        let mut pw = PartialWitness::new();
        for (t, v) in inputs.iter().zip(F::rand_vec(4)) {
            pw.set_target(*t, v).unwrap();
        }
        (data, pw)
    }

    #[test]
    fn host_run_quotient_kernel_matches_the_cpu_prover() {
        let (data, _) = poseidon_circuit();
        let k = kinds(&data);
        for kind in [
            GATE_POSEIDON,
            GATE_ARITHMETIC,
            GATE_CONSTANT,
            GATE_PUBLIC_INPUT,
        ] {
            assert!(k.contains(&kind), "the circuit has gate kind {kind}: {k:?}");
        }
        check(&data, "Poseidon/arithmetic circuit");
    }

    #[test]
    fn host_run_quotient_kernel_matches_the_cpu_prover_on_a_recursive_verifier() {
        let (inner, pw) = poseidon_circuit();
        let proof = inner.prove(pw).unwrap();
        let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let proof_t = builder.add_virtual_proof_with_pis(&inner.common);
        let vd = builder.constant_verifier_data(&inner.verifier_only);
        builder.verify_proof::<C>(&proof_t, &vd, &inner.common);
        builder.register_public_inputs(&proof_t.public_inputs);
        // Gates the verifier does not add by itself: a base-4 split and a small exponentiation.
        let x = builder.add_virtual_target();
        builder.register_public_input(x);
        let limbs = builder.split_le_base::<4>(x, 8);
        let y = builder.exp(limbs[0], limbs[1], 4);
        builder.register_public_input(y);
        let data = builder.build::<C>();
        drop(proof);
        let k = kinds(&data);
        for kind in [
            GATE_ARITHMETIC_EXT,
            GATE_MUL_EXT,
            GATE_COSET_INTERP,
            GATE_REDUCING,
            GATE_REDUCING_EXT,
            GATE_RANDOM_ACCESS,
            GATE_EXPONENTIATION,
            GATE_BASE_SUM,
            GATE_POSEIDON,
            GATE_POSEIDON_MDS,
            GATE_PUBLIC_INPUT,
        ] {
            assert!(
                k.contains(&kind),
                "the verifier has gate kind {kind}: {k:?}"
            );
        }
        check(&data, "recursive verifier");
    }
}
