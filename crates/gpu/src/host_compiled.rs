//! Compiles the device functions (Goldilocks arithmetic, Poseidon, the gates' constraints of the
//! quotient kernel) with the host C++ compiler and compares them with plonky2 on random inputs, so that the arithmetic is checked on every
//! machine, GPU or not. Skipped, saying so, where no C++ compiler is found.

use std::process::Command;

use plonky2::field::types::{Field, Field64, PrimeField64, Sample};
use plonky2::gates::arithmetic_base::ArithmeticGate;
use plonky2::gates::arithmetic_extension::ArithmeticExtensionGate;
use plonky2::gates::base_sum::BaseSumGate;
use plonky2::gates::constant::ConstantGate;
use plonky2::gates::coset_interpolation::CosetInterpolationGate;
use plonky2::gates::exponentiation::ExponentiationGate;
use plonky2::gates::gate::GateRef;
use plonky2::gates::multiplication_extension::MulExtensionGate;
use plonky2::gates::poseidon_mds::PoseidonMdsGate;
use plonky2::gates::public_input::PublicInputGate;
use plonky2::gates::random_access::RandomAccessGate;
use plonky2::gates::reducing::ReducingGate;
use plonky2::gates::reducing_extension::ReducingExtensionGate;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::{Poseidon, PoseidonHash};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CircuitConfig;
use plonky2::plonk::vars::EvaluationVarsBaseBatch;
use rand::Rng;

use crate::source::device_functions_source;
use crate::F;

const SHIM: &str = include_str!("../kernels/host_shim.h");

const MAIN: &str = r#"
#include <cstdio>
#include <vector>
int main() {
    char op[8];
    while (scanf("%7s", op) == 1) {
        if (op[0] == 'g') {
            // A gate's constraints at one point: its table entry (8 u32), the gates' data, the
            // public inputs hash (4), its constants and its wires, each list after its length.
            GateEntry g;
            u32* ge = &g.kind;
            for (int i = 0; i < 8; i++) scanf("%u", &ge[i]);
            auto list = [](std::vector<u64>& v) {
                size_t n; scanf("%zu", &n);
                v.resize(n);
                for (size_t i = 0; i < n; i++) scanf("%llu", &v[i]);
            };
            std::vector<u64> data, hash, k, w;
            list(data); list(hash); list(k); list(w);
            auto wf = [&](u32 j) -> u64 { return w.at(j); };
            auto kf = [&](u32 j) -> u64 { return k.at(j); };
            std::vector<u64> out(4096, 0);
            u32 count = 0;
            auto emit = [&](u32 j, u64 v) { out.at(j) = v; if (j + 1 > count) count = j + 1; };
            eval_gate(g, hash.data(), data.data(), wf, kf, emit);
            for (u32 i = 0; i < count; i++) printf("%llu ", out[i]);
            printf("\n");
        } else if (op[0] == 'p') {
            u64 s[12];
            for (int i = 0; i < 12; i++) scanf("%llu", &s[i]);
            poseidon_permute(s);
            for (int i = 0; i < 12; i++) printf("%llu ", s[i]);
            printf("\n");
        } else {
            u64 a, b;
            scanf("%llu %llu", &a, &b);
            u64 r = op[0] == 'm' ? gl_mul(a, b) : op[0] == 'a' ? gl_add(a, b) : gl_sub(a, b);
            printf("%llu\n", r);
        }
    }
    return 0;
}
"#;

/// The gates of a circuit that verifies a plonky2 proof (as our leaf and node circuits do), with
/// the configurations plonky2's recursion gadgets give them under `standard_recursion_config`.
fn recursion_gates() -> Vec<GateRef<F, 2>> {
    type C = crate::backend::C;
    let config = CircuitConfig::standard_recursion_config();
    let mut builder = CircuitBuilder::<F, 2>::new(config.clone());
    // Enough rows that the verifier has FRI rounds (coset interpolation with intermediates).
    let x = builder.add_virtual_target();
    let mut h = builder.hash_n_to_hash_no_pad::<PoseidonHash>(vec![x]);
    for _ in 0..8 {
        h = builder.hash_n_to_hash_no_pad::<PoseidonHash>(h.elements.to_vec());
    }
    builder.register_public_inputs(&h.elements);
    for _ in 0..200 {
        builder.add_gate(plonky2::gates::noop::NoopGate, vec![]);
    }
    let inner = builder.build::<C>();
    let mut builder = CircuitBuilder::<F, 2>::new(config);
    let proof_t = builder.add_virtual_proof_with_pis(&inner.common);
    let vd = builder.constant_verifier_data(&inner.verifier_only);
    builder.verify_proof::<C>(&proof_t, &vd, &inner.common);
    builder.build::<C>().common.gates.clone()
}

#[test]
fn device_arithmetic_and_poseidon_match_plonky2() {
    let Some(cxx) = crate::host_check::compiler() else {
        skip_note!("skipping: no C++ compiler to build the device functions for the host");
        return;
    };
    let dir = std::env::temp_dir().join(format!("zkfleet-gpu-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("device_fns.cpp");
    let exe = dir.join("device_fns");
    std::fs::write(
        &src,
        format!("{SHIM}\n{}\n{MAIN}", device_functions_source()),
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

    let mut rng = rand::thread_rng();
    let p = F::ORDER;
    // Edge values next to 0, p and 2^32, plus random ones.
    let edges = [0, 1, 2, p - 1, p - 2, 1 << 32, (1 << 32) - 1, p >> 1];
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for &a in &edges {
        for &b in &edges {
            pairs.push((a, b));
        }
    }
    for _ in 0..2000 {
        pairs.push((rng.gen_range(0..p), rng.gen_range(0..p)));
    }
    let states: Vec<[F; 12]> = (0..200)
        .map(|i| {
            if i == 0 {
                [F::ZERO; 12]
            } else if i == 1 {
                [F::NEG_ONE; 12]
            } else {
                F::rand_vec(12).try_into().unwrap()
            }
        })
        .collect();

    let mut input = String::new();
    let mut expected = Vec::new();
    for &(a, b) in &pairs {
        let (fa, fb) = (F::from_canonical_u64(a), F::from_canonical_u64(b));
        for (op, r) in [("mul", fa * fb), ("add", fa + fb), ("sub", fa - fb)] {
            input.push_str(&format!("{op} {a} {b}\n"));
            expected.push(format!("{}", r.to_canonical_u64()));
        }
    }
    for s in &states {
        input.push_str("perm");
        for x in s {
            input.push_str(&format!(" {}", x.to_canonical_u64()));
        }
        input.push('\n');
        let r = F::poseidon(*s);
        expected.push(
            r.iter()
                .map(|x| format!("{} ", x.to_canonical_u64()))
                .collect::<String>(),
        );
    }

    // Gates: plonky2's own constraint code on random (unsatisfying) wires and constants, for
    // every gate of a recursive verifier circuit (the gates, with their configurations, of our
    // leaf/node circuits) and a few other configurations.
    let config = CircuitConfig::standard_recursion_config();
    let mut gates: Vec<GateRef<F, 2>> = recursion_gates();
    gates.extend([
        GateRef::new(ArithmeticGate { num_ops: 1 }),
        GateRef::new(ArithmeticExtensionGate { num_ops: 1 }),
        GateRef::new(MulExtensionGate { num_ops: 3 }),
        GateRef::new(ConstantGate::new(2)),
        GateRef::new(PublicInputGate),
        GateRef::new(PoseidonMdsGate::<F, 2>::new()),
        GateRef::new(CosetInterpolationGate::<F, 2>::new(2)),
        GateRef::new(CosetInterpolationGate::<F, 2>::new(3)),
        GateRef::new(ReducingGate::<2>::new(5)),
        GateRef::new(ReducingExtensionGate::<2>::new(3)),
        GateRef::new(ExponentiationGate::<F, 2>::new(7)),
        GateRef::new(BaseSumGate::<2>::new(63)),
        GateRef::new(BaseSumGate::<4>::new(16)),
        GateRef::new(RandomAccessGate::<F, 2>::new_from_config(&config, 1)),
        GateRef::new(RandomAccessGate::<F, 2>::new_from_config(&config, 5)),
    ]);
    let mut covered = std::collections::BTreeSet::new();
    for gate in &gates {
        let mut data = Vec::new();
        let entry = crate::quotient::gate_params(gate, &mut data)
            .unwrap_or_else(|| panic!("no evaluator for {}", gate.0.id()));
        covered.insert(entry[0]);
        // A coset interpolation gate of degree below 2^subgroup_bits checks intermediates.
        if entry[0] == 7 && entry[2] < 1 << entry[1] {
            covered.insert(100);
        }
        let (nk, nw) = (gate.0.num_constants(), gate.0.num_wires());
        for _ in 0..20 {
            let k = F::rand_vec(nk);
            let w = F::rand_vec(nw);
            let hash = HashOut::<F>::rand();
            input.push('g');
            for v in [entry[0], 0, 0, 0, 0, entry[1], entry[2], entry[3]] {
                input.push_str(&format!(" {v}"));
            }
            let field_list = |v: &[F]| v.iter().map(|x| x.to_canonical_u64()).collect::<Vec<_>>();
            for list in [
                data.clone(),
                field_list(&hash.elements),
                field_list(&k),
                field_list(&w),
            ] {
                input.push_str(&format!(" {}", list.len()));
                for x in list {
                    input.push_str(&format!(" {x}"));
                }
            }
            input.push('\n');
            let vars = EvaluationVarsBaseBatch::new(1, &k, &w, &hash);
            let c = gate.0.eval_unfiltered_base_batch(vars);
            assert_eq!(c.len(), gate.0.num_constraints(), "{}", gate.0.id());
            expected.push(
                c.iter()
                    .map(|x| format!("{} ", x.to_canonical_u64()))
                    .collect::<String>(),
            );
        }
    }
    // Every kind but the no-op (which has no constraints) was compared, and a coset
    // interpolation with intermediates (100).
    assert!(
        (1..=13).chain([100]).all(|k| covered.contains(&k)),
        "gate kinds covered: {covered:?}"
    );

    // Input through a file: writing it to a pipe while the child fills its output pipe would
    // deadlock once both buffers are full.
    let input_path = dir.join("input.txt");
    std::fs::write(&input_path, &input).unwrap();
    let out = Command::new(&exe)
        .stdin(std::fs::File::open(&input_path).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            g.trim_end(),
            e.trim_end(),
            "case {i}: {}",
            input.lines().nth(i).unwrap_or("")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
