//! Compiles the device functions (Goldilocks arithmetic, Poseidon, the gates' constraints of the
//! quotient kernel) with the host C++ compiler and compares them with plonky2 on random inputs, so that the arithmetic is checked on every
//! machine, GPU or not. Skipped, saying so, where no C++ compiler is found.

use std::process::{Command, Stdio};

use plonky2::field::types::{Field, Field64, PrimeField64, Sample};
use plonky2::gates::arithmetic_base::ArithmeticGate;
use plonky2::gates::constant::ConstantGate;
use plonky2::gates::gate::GateRef;
use plonky2::gates::poseidon::PoseidonGate;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::Poseidon;
use plonky2::plonk::vars::EvaluationVarsBaseBatch;
use rand::Rng;

use crate::source::device_functions_source;
use crate::F;

const SHIM: &str = include_str!("../kernels/host_shim.h");

const MAIN: &str = r#"
#include <cstdio>
int main() {
    char op[8];
    while (scanf("%7s", op) == 1) {
        if (op[0] == 'g' || op[0] == 'r' || op[0] == 'c') {
            // A gate's constraints at one point: 'g' Poseidon (135 wires), 'r' arithmetic
            // (n ops: 2 constants, 4n wires), 'c' constant (n: n constants, n wires).
            u32 n = 0;
            if (op[0] != 'g') scanf("%u", &n);
            u32 nw = op[0] == 'g' ? 135 : op[0] == 'r' ? 4 * n : n;
            u32 nk = op[0] == 'g' ? 0 : op[0] == 'r' ? 2 : n;
            u64 w[200], k[200];
            for (u32 i = 0; i < nk; i++) scanf("%llu", &k[i]);
            for (u32 i = 0; i < nw; i++) scanf("%llu", &w[i]);
            auto wf = [&](u32 j) -> u64 { return w[j]; };
            auto kf = [&](u32 j) -> u64 { return k[j]; };
            u64 out[200];
            u32 count = 0;
            auto emit = [&](u32 j, u64 v) { out[j] = v; if (j + 1 > count) count = j + 1; };
            if (op[0] == 'g') gate_poseidon(wf, emit);
            else if (op[0] == 'r') gate_arithmetic(n, wf, kf, emit);
            else gate_constant(n, wf, kf, emit);
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

#[test]
fn device_arithmetic_and_poseidon_match_plonky2() {
    let Some(cxx) = compiler() else {
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

    // Gates: plonky2's own constraint code on random (unsatisfying) wires and constants.
    let gates: Vec<(String, GateRef<F, 2>, usize, usize)> = vec![
        (
            "gate".into(),
            GateRef::new(PoseidonGate::<F, 2>::new()),
            0,
            135,
        ),
        (
            "rith 20".into(),
            GateRef::new(ArithmeticGate { num_ops: 20 }),
            2,
            80,
        ),
        (
            "rith 1".into(),
            GateRef::new(ArithmeticGate { num_ops: 1 }),
            2,
            4,
        ),
        ("cons 2".into(), GateRef::new(ConstantGate::new(2)), 2, 2),
    ];
    for (cmd, gate, nk, nw) in &gates {
        for _ in 0..20 {
            let k = F::rand_vec(*nk);
            let w = F::rand_vec(*nw);
            input.push_str(cmd);
            for x in k.iter().chain(&w) {
                input.push_str(&format!(" {}", x.to_canonical_u64()));
            }
            input.push('\n');
            let hash = HashOut::<F>::ZERO;
            let vars = EvaluationVarsBaseBatch::new(1, &k, &w, &hash);
            let c = gate.0.eval_unfiltered_base_batch(vars);
            assert_eq!(c.len(), gate.0.num_constraints());
            expected.push(
                c.iter()
                    .map(|x| format!("{} ", x.to_canonical_u64()))
                    .collect::<String>(),
            );
        }
    }

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
        assert_eq!(g.trim_end(), e.trim_end(), "case {i}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
