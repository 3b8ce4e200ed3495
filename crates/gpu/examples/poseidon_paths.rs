//! The batched hasher's three paths (`zkfleet_gpu::poseidon_x8`: scalar, AVX2, AVX-512) on this
//! machine: the permutation, Merkle trees of 2^13 and 2^16 leaves of 135 elements (a basic
//! proof's wire commitment), and a whole proof of a 2^13-row toy circuit through
//! `HostBatchedCommitWith` on each path, with plonky2's own `prove` as the reference.
//!
//! `cargo run --release -p zkfleet-gpu --example poseidon_paths -- [--runs N] [--json PATH]
//! [--paths scalar,avx2,avx512] [--only-permutation | --only-proof]`
//!
//! Everything runs on a one-thread rayon pool and is timed by that thread's CPU time
//! (`/proc/thread-self/schedstat`, nanoseconds), so other work on a shared machine changes
//! little; the paths alternate run by run and medians are reported. Every tree is compared with
//! plonky2's `MerkleTree::new` and every proof with plonky2's bytes (one thread: the same
//! proof-of-work nonce), so a fast wrong path cannot pass. Paths this CPU lacks are skipped.

// An example links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::time::Instant;

use plonky2::field::types::Sample;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::util::timing::TimingTree;
use serde_json::json;
use zkfleet_gpu::poseidon_x8::{merkle_tree_with, permute_x8_with, HasherPath, Isa, LANES};
use zkfleet_gpu::{prover, HostBatchedCommitWith, F};

#[path = "../tests/support/toy.rs"]
mod toy;
use toy::toy_circuit;

/// CPU time of the calling thread in seconds (schedstat's first field, nanoseconds on the CPU).
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns: u64 = stat
        .split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    ns as f64 * 1e-9
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = thread_cpu();
    let out = f();
    (out, thread_cpu() - start)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let runs: usize = arg("--runs").map(|r| r.parse()).transpose()?.unwrap_or(5);
    let json_path = arg("--json").cloned();
    // `--paths avx2,scalar`: only those (default: every path this CPU has).
    let wanted: Option<Vec<Isa>> = arg("--paths")
        .map(|p| p.split(',').map(str::parse).collect())
        .transpose()?;
    let paths: Vec<HasherPath> = Isa::ALL
        .into_iter()
        .filter(|isa| wanted.as_ref().is_none_or(|w| w.contains(isa)))
        .filter_map(|isa| HasherPath::new(isa).ok())
        .collect();
    let names: Vec<&str> = paths.iter().map(|p| p.isa().name()).collect();
    eprintln!("paths on this CPU: {names:?}; {runs} runs");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    if args.iter().any(|a| a == "--only-proof") {
        // For a profiler: proofs on the default path only, no timing.
        let (data, pw) = toy_circuit(6000, 2000);
        let witness = generate_partial_witness(pw, &data.prover_only, &data.common)?;
        let backend = zkfleet_gpu::HostBatchedCommit;
        for _ in 0..runs {
            let proof = prover::prove_with_partition_witness(
                &data.prover_only,
                &data.common,
                witness.clone(),
                &backend,
            )?;
            data.verify(proof)?;
        }
        return Ok(());
    }
    let load_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let wall = Instant::now();

    // Permutations: 2^14 calls of eight states per run.
    const CALLS: usize = 1 << 14;
    let mut perm = vec![Vec::new(); paths.len()];
    for _ in 0..runs {
        for (k, &path) in paths.iter().enumerate() {
            let mut states: [[F; 12]; LANES] =
                core::array::from_fn(|_| core::array::from_fn(|_| F::rand()));
            let ((), s) = pool.install(|| {
                timed(|| {
                    for _ in 0..CALLS {
                        permute_x8_with(path, std::hint::black_box(&mut states));
                    }
                })
            });
            perm[k].push(s / (CALLS * LANES) as f64 * 1e9);
        }
    }
    if args.iter().any(|a| a == "--only-permutation") {
        for (name, runs) in names.iter().zip(&perm) {
            println!(
                "permutation {name}: {:.0} ns (median of {runs:.0?})",
                median(runs)
            );
        }
        return Ok(());
    }

    // Trees of 2^13 and 2^16 leaves of 135 elements, cap height 4, checked against plonky2.
    let mut trees = Vec::new();
    for log2 in [13usize, 16] {
        let leaves: Vec<Vec<F>> = (0..1usize << log2).map(|_| F::rand_vec(135)).collect();
        let expected: Vec<HashOut<F>> = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), 4).cap.0;
        let mut secs = vec![Vec::new(); paths.len()];
        for _ in 0..runs {
            for (k, &path) in paths.iter().enumerate() {
                let input = leaves.clone();
                let (tree, s) = pool.install(|| timed(|| merkle_tree_with(path, input, 4)));
                if tree.cap.0 != expected {
                    return Err(format!("{}: 2^{log2} tree's cap differs", path.isa()).into());
                }
                secs[k].push(s);
            }
        }
        trees.push((log2, secs));
    }

    // A 2^13-row proof per path, and plonky2's prove, byte-compared.
    let (data, pw) = toy_circuit(6000, 2000);
    let degree_bits = data.common.degree_bits();
    let witness = generate_partial_witness(pw, &data.prover_only, &data.common)?;
    let mut plonky2_secs = Vec::new();
    let mut proof_secs = vec![Vec::new(); paths.len()];
    for _ in 0..runs {
        let (theirs, s) = pool.install(|| {
            timed(|| {
                plonky2::plonk::prover::prove_with_partition_witness(
                    &data.prover_only,
                    &data.common,
                    witness.clone(),
                    &mut TimingTree::default(),
                )
            })
        });
        let theirs = theirs?;
        plonky2_secs.push(s);
        for (k, &path) in paths.iter().enumerate() {
            let backend = HostBatchedCommitWith(path);
            let (ours, s) = pool.install(|| {
                timed(|| {
                    prover::prove_with_partition_witness(
                        &data.prover_only,
                        &data.common,
                        witness.clone(),
                        &backend,
                    )
                })
            });
            let ours = ours?;
            if ours.to_bytes() != theirs.to_bytes() {
                return Err(format!("{}: proof bytes differ from plonky2's", path.isa()).into());
            }
            proof_secs[k].push(s);
        }
    }
    data.verify(pool.install(|| {
        prover::prove_with_partition_witness(
            &data.prover_only,
            &data.common,
            witness.clone(),
            &HostBatchedCommitWith(HasherPath::best()),
        )
    })?)?;
    let load_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    println!("| measure (one thread, CPU time) | {} |", names.join(" | "));
    println!("|---|{}", "---:|".repeat(paths.len()));
    let row = |label: String, values: Vec<f64>, unit: &str, digits: usize| {
        let cells: Vec<String> = values
            .iter()
            .map(|v| format!("{v:.digits$} {unit}"))
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    let perm_med: Vec<f64> = perm.iter().map(|v| median(v)).collect();
    row("permutation".into(), perm_med.clone(), "ns", 0);
    let mut tree_json = Vec::new();
    for (log2, secs) in &trees {
        let med: Vec<f64> = secs.iter().map(|v| median(v)).collect();
        row(format!("Merkle tree 2^{log2} x 135"), med.clone(), "s", 3);
        tree_json.push(json!({
            "leaves_log2": log2, "leaf_len": 135, "cap_height": 4,
            "median_s": names.iter().zip(&med).map(|(n, m)| (n.to_string(), json!(m))).collect::<serde_json::Map<_, _>>(),
            "runs_s": names.iter().zip(secs).map(|(n, m)| (n.to_string(), json!(m))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    let proof_med: Vec<f64> = proof_secs.iter().map(|v| median(v)).collect();
    row(
        format!("proof, toy circuit 2^{degree_bits} rows"),
        proof_med.clone(),
        "s",
        3,
    );
    println!(
        "plonky2's prove of the same circuit: {:.3} s (median); load {} -> {}",
        median(&plonky2_secs),
        load_start.trim(),
        load_end.trim()
    );

    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let by_path = |values: &[f64]| {
        names
            .iter()
            .zip(values)
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
    };
    let report = json!({
        "command": format!("cargo run --release -p zkfleet-gpu --example poseidon_paths -- --runs {runs}"),
        "commit": commit,
        "timing": "one-thread rayon pool, the thread's CPU time (/proc/thread-self/schedstat); paths alternate run by run; medians",
        "load_start": load_start.trim(),
        "load_end": load_end.trim(),
        "wall_s": wall.elapsed().as_secs_f64(),
        "runs": runs,
        "permutation_ns": { "median": by_path(&perm_med), "runs": names.iter().zip(&perm).map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>() },
        "merkle_trees": tree_json,
        "proof": {
            "circuit": "toy: 6000 chained Poseidon hashes + 2000 mul-adds, standard_recursion_config",
            "degree_bits": degree_bits,
            "bytes_equal_plonky2": true,
            "median_s": by_path(&proof_med),
            "runs_s": names.iter().zip(&proof_secs).map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "plonky2_prove_median_s": median(&plonky2_secs),
            "plonky2_prove_runs_s": plonky2_secs,
        },
    });
    if let Some(path) = json_path {
        std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
