//! Benchmark of the faster Poseidon hasher (`zkfleet_circuits::hasher`) against plonky2's
//! `PoseidonHash`: the permutation, a Merkle tree of a basic proof's size, and the proof of a
//! state-transition instance at the default geometry (2^13 rows), which is byte-identical under
//! both (tests/hasher_identity.rs).
//!
//! `cargo bench -p zkfleet-circuits --bench hasher [-- --runs N]`
//!
//! Everything runs on a one-thread pool and is timed by that thread's CPU time
//! (`/proc/thread-self/stat`), so the other work of a shared machine changes little; the two
//! hashers alternate run by run. Writes docs/benchmarks/hasher.json and the `hasher` section of
//! docs/benchmarks.md.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;
use std::time::Duration;

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::Field;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::hash::poseidon::{Poseidon, PoseidonHash};
use plonky2::iop::generator::generate_partial_witness;
use plonky2::plonk::config::{GenericConfig, Hasher, PoseidonGoldilocksConfig};
use plonky2::plonk::prover::prove_with_partition_witness;
use plonky2::util::timing::TimingTree;
use serde_json::json;
use zkfleet_circuits::basic::{define, split_batch, BasicCircuit, BasicCircuitKind};
use zkfleet_circuits::hasher::{permutation, FastPoseidonGoldilocksConfig, FastPoseidonHash};
use zkfleet_circuits::{BasicGeometry, D};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};

#[path = "support/report.rs"]
mod report;

type F = GoldilocksField;

/// CPU time of the calling thread (10 ms ticks).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = thread_cpu();
    let out = f();
    (out, (thread_cpu() - start).as_secs_f64())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Pair {
    name: &'static str,
    unit: &'static str,
    plonky2: Vec<f64>,
    fast: Vec<f64>,
}

impl Pair {
    fn json(&self) -> serde_json::Value {
        let (p, f) = (median(&self.plonky2), median(&self.fast));
        json!({
            "measure": self.name, "unit": self.unit,
            "plonky2_runs": self.plonky2, "fast_runs": self.fast,
            "plonky2_median": p, "fast_median": f, "speedup": p / f,
        })
    }
}

const PERMUTATIONS: usize = 400_000;
/// A basic proof's wire commitment: 2^13 rows at rate 2^3, 135 columns, cap height 4.
const MERKLE_LEAVES: usize = 1 << 16;
const MERKLE_LEAF_LEN: usize = 135;

fn permutations(permute: fn([F; 12]) -> [F; 12]) -> f64 {
    let mut state = [F::from_canonical_u64(18); 12];
    let (_, s) = timed(|| {
        for _ in 0..PERMUTATIONS {
            state = std::hint::black_box(permute(state));
        }
    });
    s / PERMUTATIONS as f64 * 1e9
}

fn merkle<H: Hasher<F>>(leaves: &[Vec<F>]) -> f64 {
    let (tree, s) = timed(|| MerkleTree::<F, H>::new(leaves.to_vec(), 4));
    std::hint::black_box(tree.cap);
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|r| r.parse().ok())
        .unwrap_or(5usize);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut pairs = Vec::new();

    // The permutation.
    let mut pair = Pair {
        name: "permutation",
        unit: "ns",
        plonky2: vec![],
        fast: vec![],
    };
    pool.install(|| {
        for run in 0..runs {
            let plonky2 = || permutations(<F as Poseidon>::poseidon);
            let fast = || permutations(permutation::permute);
            if run % 2 == 0 {
                pair.plonky2.push(plonky2());
                pair.fast.push(fast());
            } else {
                pair.fast.push(fast());
                pair.plonky2.push(plonky2());
            }
        }
    });
    eprintln!("permutation: {:?}", pair.json());
    pairs.push(pair);
    if args.iter().any(|a| a == "--only-permutation") {
        return Ok(());
    }

    // A Merkle tree of a basic proof's wire commitment.
    let leaves: Vec<Vec<F>> = (0..MERKLE_LEAVES)
        .map(|i| {
            (0..MERKLE_LEAF_LEN)
                .map(|j| F::from_canonical_usize(i * 977 + j))
                .collect()
        })
        .collect();
    let mut pair = Pair {
        name: "merkle tree 2^16 x 135",
        unit: "s",
        plonky2: vec![],
        fast: vec![],
    };
    pool.install(|| {
        for run in 0..runs {
            if run % 2 == 0 {
                pair.plonky2.push(merkle::<PoseidonHash>(&leaves));
                pair.fast.push(merkle::<FastPoseidonHash>(&leaves));
            } else {
                pair.fast.push(merkle::<FastPoseidonHash>(&leaves));
                pair.plonky2.push(merkle::<PoseidonHash>(&leaves));
            }
        }
    });
    eprintln!("merkle: {:?}", pair.json());
    pairs.push(pair);
    drop(leaves);

    // A state-transition proof at the default geometry, from one partition witness.
    let geometry = BasicGeometry::default();
    let kind = BasicCircuitKind::StateTransition;
    let generated = generate(&GeneratorConfig {
        accounts: 8,
        operations: geometry.operations_per_instance as usize,
        seed: 18,
        tree_height: geometry.xmss_height as usize,
        ..GeneratorConfig::default()
    })?;
    let mut state = generated.genesis.to_memory_state()?;
    let executed = execute_batch(&mut state, &generated.batch)?;
    let split = split_batch(&executed, &geometry)?;
    let instance = split
        .instances
        .iter()
        .find(|i| i.circuit == kind.circuit_id())
        .ok_or("no state-transition instance")?;
    let circuit = BasicCircuit::build(kind, &geometry)?;
    let pw = circuit
        .layout()
        .assign(&circuit.decode_witness(&instance.witness)?)?;
    let (builder, _) = define(kind, &geometry)?;
    let old = builder.build::<PoseidonGoldilocksConfig>();
    let (builder, _) = define(kind, &geometry)?;
    let new = builder.build::<FastPoseidonGoldilocksConfig>();
    let partition = generate_partial_witness(pw, &old.prover_only, &old.common)?;
    fn prove<C: GenericConfig<D, F = F>>(
        data: &plonky2::plonk::circuit_data::CircuitData<F, C, D>,
        partition: &plonky2::iop::witness::PartitionWitness<F>,
    ) -> (Vec<u8>, f64) {
        let (proof, s) = timed(|| {
            prove_with_partition_witness(
                &data.prover_only,
                &data.common,
                partition.clone(),
                &mut TimingTree::default(),
            )
            .expect("prove")
        });
        (proof.to_bytes(), s)
    }
    let mut pair = Pair {
        name: "state-transition proof (2^13 rows)",
        unit: "s",
        plonky2: vec![],
        fast: vec![],
    };
    let mut identical = true;
    pool.install(|| {
        for run in 0..runs.min(3) {
            let ((a, ta), (b, tb)) = if run % 2 == 0 {
                let a = prove(&old, &partition);
                (a, prove(&new, &partition))
            } else {
                let b = prove(&new, &partition);
                (prove(&old, &partition), b)
            };
            identical &= a == b;
            pair.plonky2.push(ta);
            pair.fast.push(tb);
        }
    });
    eprintln!("proof: {:?} identical {identical}", pair.json());
    assert!(identical, "the proofs differ");
    pairs.push(pair);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let report = json!({
        "command": format!("cargo bench -p zkfleet-circuits --bench hasher -- --runs {runs}"),
        "machine": report::machine(),
        "vectorised": permutation::VECTORISED,
        "runs": runs,
        "results": pairs.iter().map(Pair::json).collect::<Vec<_>>(),
        "proofs_byte_identical": identical,
    });
    let json_path = root.join("docs/benchmarks/hasher.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    let mut body = String::from(
        "One thread, timed by its CPU time; plonky2's `PoseidonHash` and ours alternate run by \
         run; median (all runs in the JSON).\n\n| measure | plonky2 | ours | speed-up |\n|---|---:|---:|---:|\n",
    );
    for p in &pairs {
        let (a, b) = (median(&p.plonky2), median(&p.fast));
        let fmt = |x: f64| {
            if p.unit == "ns" {
                format!("{x:.0} ns")
            } else {
                format!("{x:.2} s")
            }
        };
        body += &format!(
            "| {} | {} | {} | **{:.2}×** |\n",
            p.name,
            fmt(a),
            fmt(b),
            a / b
        );
    }
    let machine = &report["machine"];
    body += &format!(
        "\nThe proofs of both are byte-identical (checked in every run). Command: `{}` \
         (x86-64-v3 build). Machine: {} cores, {}, load average {} at the start. Commit `{}`. \
         Raw figures: [`benchmarks/hasher.json`](benchmarks/hasher.json).\n",
        report["command"].as_str().unwrap_or_default(),
        machine["nproc"],
        machine["cpu"].as_str().unwrap_or_default(),
        machine["load_average_at_start"]
            .as_str()
            .unwrap_or_default(),
        machine["commit"].as_str().unwrap_or_default(),
    );
    report::write_section(
        &root.join("docs/benchmarks.md"),
        "hasher",
        "Poseidon hasher",
        &body,
    );
    println!("{body}");
    Ok(())
}
