//! The quotient polynomial's values on the GPU: plonky2's `compute_quotient_polys` (without
//! lookups) up to, not including, the coset iFFT, evaluated by `kernels/quotient.cu` over the
//! LDEs the commitments left on the card.
//!
//! The gates are evaluated by hand-written CUDA transcriptions of plonky2's own constraint code
//! (`kernels/quotient.cuh`): noop, constant, public input, arithmetic (base field) and Poseidon,
//! the gates of the synthetic Poseidon-chain circuits. A circuit with any other gate (the
//! recursion gadgets use arithmetic-extension, coset-interpolation, reducing, random-access, ...
//! gates) gets `None` from [`gate_table`] and its quotient is computed on the CPU as before.
//!
//! Why not a generic route: plonky2's `PackedEvaluableBase::eval_unfiltered_base_packed` is
//! generic over `PackedField` and could be traced once per gate into straight-line code, but only
//! arithmetic, constant, public-input, base-sum, exponentiation and random-access implement it;
//! Poseidon and the extension-field gates evaluate through concrete `F` (with u128 MDS
//! arithmetic on raw u64s), which a tracing type cannot record.

use std::ops::Range;

use plonky2::field::types::{Field, PrimeField64};
use plonky2::gates::arithmetic_base::ArithmeticGate;
use plonky2::gates::constant::ConstantGate;
use plonky2::gates::noop::NoopGate;
use plonky2::gates::poseidon::PoseidonGate;
use plonky2::gates::public_input::PublicInputGate;
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
    pub common_data: &'a CommonCircuitData<F, D>,
    /// plonky2's `SelectorsInfo` (crate-private there): each gate's selector column, and each
    /// selector column's group of gate indices.
    pub selector_indices: &'a [usize],
    pub groups: &'a [Range<usize>],
    /// The circuit's constants and sigmas commitment (setup data).
    pub constants_sigmas: &'a Batch,
    /// The caps of this proof's wires and Z/partial-products commitments, made by the same
    /// backend just before.
    pub wires_cap: &'a MerkleCap<F, Hasher>,
    pub zs_cap: &'a MerkleCap<F, Hasher>,
    pub public_inputs_hash: &'a HashOut<F>,
    pub betas: &'a [F],
    pub gammas: &'a [F],
    pub alphas: &'a [F],
}

// Gate kinds, as GATE_* in kernels/quotient.cuh.
const GATE_NOOP: u32 = 0;
const GATE_CONSTANT: u32 = 1;
const GATE_PUBLIC_INPUT: u32 = 2;
const GATE_ARITHMETIC: u32 = 3;
const GATE_POSEIDON: u32 = 4;
/// The kernel's `Q_MAX_CH`.
const MAX_CHALLENGES: usize = 4;

/// The kernel's gate table (6 u32 per gate: kind, row, selector, group start, group end,
/// parameter), or the id of the first gate it cannot evaluate.
pub fn gate_table(
    common_data: &CommonCircuitData<F, D>,
    selector_indices: &[usize],
    groups: &[Range<usize>],
) -> Result<Vec<u32>, String> {
    let mut table = Vec::with_capacity(common_data.gates.len() * 6);
    for (row, gate) in common_data.gates.iter().enumerate() {
        let any = gate.0.as_any();
        let (kind, param) = if any.is::<NoopGate>() {
            (GATE_NOOP, 0)
        } else if any.is::<ConstantGate>() {
            // `num_consts` is crate-private; the gate has one constraint per constant.
            (GATE_CONSTANT, gate.0.num_constraints())
        } else if any.is::<PublicInputGate>() {
            (GATE_PUBLIC_INPUT, 0)
        } else if let Some(g) = any.downcast_ref::<ArithmeticGate>() {
            (GATE_ARITHMETIC, g.num_ops)
        } else if any.is::<PoseidonGate<F, D>>() {
            (GATE_POSEIDON, 0)
        } else {
            return Err(gate.0.id());
        };
        let selector = *selector_indices
            .get(row)
            .ok_or_else(|| format!("no selector for gate {row}"))?;
        let group = groups
            .get(selector)
            .ok_or_else(|| format!("no group for selector {selector}"))?;
        let small = |v: usize| u32::try_from(v).map_err(|_| format!("{v} does not fit the table"));
        table.extend([
            kind,
            small(row)?,
            small(selector)?,
            small(group.start)?,
            small(group.end)?,
            small(param)?,
        ]);
    }
    Ok(table)
}

/// The kernel's tables and dimensions for one proof, or why the kernel cannot take it.
pub(crate) struct QuotientPlan {
    pub gates: Vec<u32>,
    pub k_is: Vec<u64>,
    /// betas, then gammas.
    pub challenges: Vec<u64>,
    /// alpha_ch^t for every term t, challenge after challenge.
    pub alpha_powers: Vec<u64>,
    /// public inputs hash, Z_H on the cosets, their inverses.
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
        gates,
        k_is: canon(&common.k_is[..num_routed]),
        challenges: [canon(q.betas), canon(q.gammas)].concat(),
        alpha_powers,
        misc,
        dims,
    })
}

/// The whole quotient kernel (kernels/quotient.cu), compiled for the host and run thread by
/// thread over LDEs laid out as on the card, against the CPU prover's quotient values
/// (`prover::compute_quotient_values`, plonky2's code) on a circuit with every gate the kernel
/// evaluates, random wires, Z and partial products (the values need not satisfy anything: both
/// sides evaluate the same formulas point by point) and random challenges.
#[cfg(test)]
mod host_tests {
    use std::process::{Command, Stdio};

    use plonky2::field::polynomial::PolynomialValues;
    use plonky2::field::types::{Field, PrimeField64, Sample};
    use plonky2::hash::hash_types::HashOut;
    use plonky2::hash::poseidon::PoseidonHash;
    use plonky2::plonk::circuit_builder::CircuitBuilder;
    use plonky2::plonk::circuit_data::CircuitConfig;

    use super::*;
    use crate::backend::{CommitBackend, CpuCommit, C};
    use crate::prover::{compute_quotient_values, selectors};

    const MAIN: &str = r#"
#include <cstdio>
#include <vector>
static std::vector<u64> read_vec() {
    size_t n; scanf("%zu", &n);
    std::vector<u64> v(n);
    for (size_t i = 0; i < n; i++) scanf("%llu", &v[i]);
    return v;
}
int main() {
    QuotientDims d;
    u32* dd = &d.log_leaves;
    for (int i = 0; i < 12; i++) scanf("%u", &dd[i]);
    scanf("%llu %llu %llu", &d.shift, &d.w, &d.n_field);
    auto k_is = read_vec(), chal = read_vec(), apow = read_vec(), misc = read_vec();
    auto gates64 = read_vec();
    std::vector<u32> gates(gates64.begin(), gates64.end());
    auto wires = read_vec(), cs = read_vec(), zs = read_vec();
    u64 points = 1ULL << d.log_lde;
    std::vector<u64> out(points * d.num_ch, 0);
    blockDim.x = 128;
    for (u64 t = 0; t < points; t++) {
        blockIdx.x = t / 128; threadIdx.x = t % 128;
        quotient_values(wires.data(), cs.data(), zs.data(), k_is.data(), chal.data(), apow.data(),
                        misc.data(), (const GateEntry*)gates.data(), d, out.data());
    }
    for (u64 i = 0; i < out.size(); i++) printf("%llu\n", out[i]);
    return 0;
}
"#;

    fn compiler() -> Option<&'static str> {
        ["c++", "g++", "clang++"].into_iter().find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// Column-major, leaf order: what the card holds for a commitment.
    fn device_layout(batch: &Batch) -> Vec<u64> {
        let leaves = &batch.merkle_tree.leaves;
        let width = leaves[0].len();
        let mut out = Vec::with_capacity(width * leaves.len());
        for c in 0..width {
            out.extend(leaves.iter().map(|row| row[c].to_canonical_u64()));
        }
        out
    }

    fn push_vec(s: &mut String, v: impl IntoIterator<Item = u64>) {
        let v: Vec<u64> = v.into_iter().collect();
        s.push_str(&format!("{}", v.len()));
        for x in v {
            s.push_str(&format!(" {x}"));
        }
        s.push('\n');
    }

    #[test]
    fn host_run_quotient_kernel_matches_the_cpu_prover() {
        let Some(cxx) = compiler() else {
            skip_note!("skipping: no C++ compiler to build the quotient kernel for the host");
            return;
        };
        // Poseidon, arithmetic, constant, public-input and noop gates.
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
        let common = &data.common;
        let sel = selectors(common).unwrap();
        let table = gate_table(common, &sel.selector_indices, &sel.groups)
            .unwrap_or_else(|id| panic!("gate {id} has no evaluator"));
        assert!(
            table.chunks(6).any(|g| g[0] == GATE_POSEIDON)
                && table.chunks(6).any(|g| g[0] == GATE_ARITHMETIC)
                && table.chunks(6).any(|g| g[0] == GATE_CONSTANT)
                && table.chunks(6).any(|g| g[0] == GATE_PUBLIC_INPUT),
            "the circuit has every gate kind"
        );

        let config = &common.config;
        let (rate_bits, cap_height) = (config.fri_config.rate_bits, config.fri_config.cap_height);
        let n = common.degree();
        let random_batch = |width: usize| {
            let values = (0..width)
                .map(|_| PolynomialValues::new(F::rand_vec(n)))
                .collect();
            CpuCommit
                .commit_values(values, rate_bits, cap_height, None)
                .unwrap()
        };
        let wires = random_batch(config.num_wires);
        let zs = random_batch(config.num_challenges * (1 + common.num_partial_products));
        let betas = F::rand_vec(config.num_challenges);
        let gammas = F::rand_vec(config.num_challenges);
        let alphas = F::rand_vec(config.num_challenges);
        let hash = HashOut::<F>::rand();
        let q = QuotientInputs {
            common_data: common,
            selector_indices: &sel.selector_indices,
            groups: &sel.groups,
            constants_sigmas: &data.prover_only.constants_sigmas_commitment,
            wires_cap: &wires.merkle_tree.cap,
            zs_cap: &zs.merkle_tree.cap,
            public_inputs_hash: &hash,
            betas: &betas,
            gammas: &gammas,
            alphas: &alphas,
        };
        let plan = plan(&q).unwrap();
        let expected = compute_quotient_values(
            common,
            &data.prover_only,
            &sel,
            &hash,
            &wires,
            &zs,
            &betas,
            &gammas,
            &alphas,
        )
        .unwrap();

        let d = &plan.dims;
        let mut input = String::new();
        for v in [
            d.log_leaves,
            d.log_lde,
            d.qdb,
            d.num_ch,
            d.num_routed,
            d.num_prods,
            d.max_degree,
            d.num_constants,
            d.num_selectors,
            d.num_terms,
            d.t0,
            d.num_gates,
        ] {
            input.push_str(&format!("{v} "));
        }
        input.push_str(&format!("{} {} {}\n", d.shift, d.w, d.n_field));
        push_vec(&mut input, plan.k_is.iter().copied());
        push_vec(&mut input, plan.challenges.iter().copied());
        push_vec(&mut input, plan.alpha_powers.iter().copied());
        push_vec(&mut input, plan.misc.iter().copied());
        push_vec(&mut input, plan.gates.iter().map(|&g| g as u64));
        push_vec(&mut input, device_layout(&wires));
        push_vec(
            &mut input,
            device_layout(&data.prover_only.constants_sigmas_commitment),
        );
        push_vec(&mut input, device_layout(&zs));

        let dir = std::env::temp_dir().join(format!("zkfleet-gpu-quotient-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("quotient.cpp");
        let exe = dir.join("quotient");
        let shim = include_str!("../kernels/host_shim.h");
        std::fs::write(
            &src,
            format!(
                "{shim}\n{}\n{}\n{MAIN}",
                crate::source::device_functions_source(),
                include_str!("../kernels/quotient.cu")
            ),
        )
        .unwrap();
        let out = Command::new(cxx)
            .args(["-O2", "-std=c++17", "-w", "-o"])
            .arg(&exe)
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "host build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let input_path = dir.join("input.txt");
        std::fs::write(&input_path, &input).unwrap();
        let out = Command::new(&exe)
            .stdin(std::fs::File::open(&input_path).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        let got: Vec<u64> = std::str::from_utf8(&out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        let points = 1usize << d.log_lde;
        assert_eq!(got.len(), expected.len() * points);
        for (ch, col) in expected.iter().enumerate() {
            for (i, v) in col.values.iter().enumerate() {
                assert_eq!(
                    got[ch * points + i],
                    v.to_canonical_u64(),
                    "challenge {ch}, point {i} of {points}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
