//! Benchmark of our Poseidon hashers (`zkfleet_circuits::hasher`) against plonky2's
//! `PoseidonHash`: the permutation, a Merkle tree of a basic proof's size, and the proof of a
//! state-transition instance at the default geometry (2^13 rows), which is byte-identical under
//! both (tests/hasher_identity.rs). Two hashers of ours: `FastPoseidonHash` (one state at a
//! time, AVX2) and the batched hasher (`hasher::batch`, eight states at once on AVX-512), whose
//! permutation and tree are measured against plonky2's; the tree on one thread and on all; and
//! the same proof by the zkfleet prover (`zkfleet_gpu::prover`) with the batched CPU commit
//! backend (`zkfleet_gpu::HostBatchedCommit`), on one thread (byte-identical to plonky2's) and
//! on two (process CPU time).
//!
//! `cargo bench -p zkfleet-circuits --bench hasher [-- --runs N]`
//!
//! One-thread rows run on a one-thread pool and are timed by that thread's CPU time
//! (`/proc/thread-self/stat`), so the other work of a shared machine changes little; the
//! all-threads row runs on rayon's global pool and is timed by the wall clock (a loaded machine
//! slows it). plonky2 and ours alternate run by run. Writes docs/benchmarks/hasher.json and the
//! `hasher` section of docs/benchmarks.md.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::hash::poseidon::{Poseidon, PoseidonHash};
use plonky2::iop::generator::generate_partial_witness;
use plonky2::plonk::config::{GenericConfig, Hasher, PoseidonGoldilocksConfig};
use plonky2::plonk::prover::prove_with_partition_witness;
use plonky2::util::timing::TimingTree;
use serde_json::json;
use zkfleet_circuits::basic::{define, split_batch, BasicCircuit, BasicCircuitKind};
use zkfleet_circuits::hasher::{
    batch, permutation, FastPoseidonGoldilocksConfig, FastPoseidonHash,
};
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

/// CPU time of the whole process, every thread (10 ms ticks).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
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

/// Wall-clock seconds (for the all-threads row).
fn timed_wall<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
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
    /// Which hasher of ours: `FastPoseidonHash` or the batched one.
    ours: &'static str,
    unit: &'static str,
    /// "thread CPU" or "wall".
    clock: &'static str,
    plonky2: Vec<f64>,
    fast: Vec<f64>,
}

impl Pair {
    fn new(name: &'static str, ours: &'static str, unit: &'static str) -> Self {
        Self {
            name,
            ours,
            unit,
            clock: "thread CPU",
            plonky2: vec![],
            fast: vec![],
        }
    }

    fn json(&self) -> serde_json::Value {
        let (p, f) = (median(&self.plonky2), median(&self.fast));
        json!({
            "measure": self.name, "ours": self.ours, "unit": self.unit, "clock": self.clock,
            "plonky2_runs": self.plonky2, "ours_runs": self.fast,
            "plonky2_median": p, "ours_median": f, "speedup": p / f,
        })
    }
}

const BATCHED: &str = "batched x8 (AVX-512)";
const FAST: &str = "FastPoseidonHash (AVX2)";
const BATCHED_PROVER: &str = "zkfleet prover + batched commits (AVX-512)";
const CONTROL_PROVER: &str = "zkfleet prover + plonky2's commits (control)";

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

/// Nanoseconds per permutation of `permute_x8` (eight states a call).
fn permutations_x8() -> f64 {
    let mut states = [[F::from_canonical_u64(18); 12]; batch::LANES];
    let calls = PERMUTATIONS / batch::LANES;
    let (_, s) = timed(|| {
        for _ in 0..calls {
            batch::permute_x8(std::hint::black_box(&mut states));
        }
    });
    s / (calls * batch::LANES) as f64 * 1e9
}

fn merkle<H: Hasher<F>>(leaves: &[Vec<F>]) -> f64 {
    let (tree, s) = timed(|| MerkleTree::<F, H>::new(leaves.to_vec(), 4));
    std::hint::black_box(tree.cap);
    s
}

/// The batched tree; its cap is checked against plonky2's (`expected`).
fn merkle_batched(leaves: &[Vec<F>], expected: &[HashOut<F>], wall: bool) -> f64 {
    let build = || batch::merkle_tree(leaves.to_vec(), 4);
    let (tree, s) = if wall {
        timed_wall(build)
    } else {
        timed(build)
    };
    assert_eq!(
        tree.cap.0, expected,
        "the batched tree's cap differs from plonky2's"
    );
    s
}

fn merkle_plonky2_wall(leaves: &[Vec<F>]) -> f64 {
    let (tree, s) = timed_wall(|| MerkleTree::<F, PoseidonHash>::new(leaves.to_vec(), 4));
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
    let mut pair = Pair::new("permutation", FAST, "ns");
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
    let mut pair = Pair::new("permutation", BATCHED, "ns");
    pool.install(|| {
        for run in 0..runs {
            let plonky2 = || permutations(<F as Poseidon>::poseidon);
            if run % 2 == 0 {
                pair.plonky2.push(plonky2());
                pair.fast.push(permutations_x8());
            } else {
                pair.fast.push(permutations_x8());
                pair.plonky2.push(plonky2());
            }
        }
    });
    eprintln!("permutation x8: {:?}", pair.json());
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
    let mut pair = Pair::new("merkle tree 2^16 x 135", FAST, "s");
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
    let expected = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), 4).cap.0;
    let mut pair = Pair::new("merkle tree 2^16 x 135", BATCHED, "s");
    pool.install(|| {
        for run in 0..runs {
            if run % 2 == 0 {
                pair.plonky2.push(merkle::<PoseidonHash>(&leaves));
                pair.fast.push(merkle_batched(&leaves, &expected, false));
            } else {
                pair.fast.push(merkle_batched(&leaves, &expected, false));
                pair.plonky2.push(merkle::<PoseidonHash>(&leaves));
            }
        }
    });
    eprintln!("merkle batched: {:?}", pair.json());
    pairs.push(pair);
    let threads = rayon::current_num_threads();
    let mut pair = Pair::new("merkle tree 2^16 x 135, all threads", BATCHED, "s");
    pair.clock = "wall";
    for run in 0..runs {
        if run % 2 == 0 {
            pair.plonky2.push(merkle_plonky2_wall(&leaves));
            pair.fast.push(merkle_batched(&leaves, &expected, true));
        } else {
            pair.fast.push(merkle_batched(&leaves, &expected, true));
            pair.plonky2.push(merkle_plonky2_wall(&leaves));
        }
    }
    eprintln!("merkle batched, {threads} threads: {:?}", pair.json());
    pairs.push(pair);
    drop(leaves);
    if args.iter().any(|a| a == "--skip-proof") {
        return Ok(());
    }

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
    let mut pair = Pair::new("state-transition proof (2^13 rows)", FAST, "s");
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

    // The same proof by the zkfleet prover with the batched CPU commit backend (plonky2's LDE,
    // the Merkle trees eight leaves at a time): one thread, byte-identical to plonky2's ...
    let plonky2_proof = |partition: &plonky2::iop::witness::PartitionWitness<F>| {
        prove_with_partition_witness(
            &old.prover_only,
            &old.common,
            partition.clone(),
            &mut TimingTree::default(),
        )
        .expect("plonky2 proves")
    };
    let zkfleet_proof = |partition: &plonky2::iop::witness::PartitionWitness<F>,
                         backend: &dyn zkfleet_gpu::CommitBackend| {
        zkfleet_gpu::prover::prove_with_partition_witness(
            &old.prover_only,
            &old.common,
            partition.clone(),
            backend,
        )
        .expect("the zkfleet prover proves")
    };
    let batched_proof = |partition: &plonky2::iop::witness::PartitionWitness<F>| {
        zkfleet_proof(partition, &zkfleet_gpu::HostBatchedCommit)
    };
    // The control: the zkfleet prover with plonky2's own commitments, so that the batched
    // row's gain is the hasher's and not the prover's.
    let mut pair = Pair::new("state-transition proof (2^13 rows)", CONTROL_PROVER, "s");
    pool.install(|| {
        for run in 0..runs.min(3) {
            let measure = |ours: bool| {
                let (p, s) = if ours {
                    timed(|| zkfleet_proof(&partition, &zkfleet_gpu::CpuCommit))
                } else {
                    timed(|| plonky2_proof(&partition))
                };
                (p.to_bytes(), s)
            };
            let ((a, ta), (b, tb)) = if run % 2 == 0 {
                let a = measure(false);
                (a, measure(true))
            } else {
                let b = measure(true);
                (measure(false), b)
            };
            identical &= a == b;
            pair.plonky2.push(ta);
            pair.fast.push(tb);
        }
    });
    eprintln!("proof, control: {:?} identical {identical}", pair.json());
    assert!(
        identical,
        "the zkfleet prover's proof differs from plonky2's"
    );
    pairs.push(pair);
    let mut pair = Pair::new("state-transition proof (2^13 rows)", BATCHED_PROVER, "s");
    pool.install(|| {
        for run in 0..runs.min(3) {
            let measure = |ours: bool| {
                if ours {
                    let (p, s) = timed(|| batched_proof(&partition));
                    (p.to_bytes(), s)
                } else {
                    let (p, s) = timed(|| plonky2_proof(&partition));
                    (p.to_bytes(), s)
                }
            };
            let ((a, ta), (b, tb)) = if run % 2 == 0 {
                let a = measure(false);
                (a, measure(true))
            } else {
                let b = measure(true);
                (measure(false), b)
            };
            identical &= a == b;
            pair.plonky2.push(ta);
            pair.fast.push(tb);
        }
    });
    eprintln!("proof, batched: {:?} identical {identical}", pair.json());
    assert!(
        identical,
        "the batched backend's proof differs from plonky2's"
    );
    pairs.push(pair);
    // ... and on two threads, timed by the process's CPU time (both threads; plonky2 may pick
    // another proof-of-work nonce there, so the caps fixed before the grinding are compared).
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
    let mut pair = Pair::new(
        "state-transition proof (2^13 rows), 2 threads",
        BATCHED_PROVER,
        "s",
    );
    pair.clock = "process CPU";
    let mut walls = (vec![], vec![]);
    two.install(|| {
        for run in 0..runs.min(3) {
            let mut measure = |ours: bool| {
                let (cpu0, wall0) = (process_cpu(), Instant::now());
                let proof = if ours {
                    batched_proof(&partition)
                } else {
                    plonky2_proof(&partition)
                };
                let (cpu, wall) = (process_cpu() - cpu0, wall0.elapsed().as_secs_f64());
                if ours {
                    walls.1.push(wall);
                } else {
                    walls.0.push(wall);
                }
                (proof, cpu.as_secs_f64())
            };
            let ((a, ta), (b, tb)) = if run % 2 == 0 {
                let a = measure(false);
                (a, measure(true))
            } else {
                let b = measure(true);
                (measure(false), b)
            };
            assert_eq!(a.proof.quotient_polys_cap, b.proof.quotient_polys_cap);
            assert_eq!(
                a.proof.opening_proof.commit_phase_merkle_caps,
                b.proof.opening_proof.commit_phase_merkle_caps
            );
            pair.plonky2.push(ta);
            pair.fast.push(tb);
        }
    });
    eprintln!(
        "proof, batched, 2 threads: {:?}; wall plonky2 {:?} ours {:?}",
        pair.json(),
        walls.0,
        walls.1
    );
    pairs.push(pair);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let report = json!({
        "command": format!("cargo bench -p zkfleet-circuits --bench hasher -- --runs {runs}"),
        "machine": report::machine(),
        "vectorised": permutation::VECTORISED,
        "avx512": batch::avx512_available(),
        "rayon_threads": threads,
        "runs": runs,
        "results": pairs.iter().map(Pair::json).collect::<Vec<_>>(),
        "proofs_byte_identical": identical,
    });
    let json_path = root.join("docs/benchmarks/hasher.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    let mut body = format!(
        "One thread, timed by its CPU time, except the all-threads row ({threads} rayon \
         threads, wall clock) and the 2-thread proof (process CPU time, both threads); plonky2's `PoseidonHash` and ours alternate run by run; median \
         (all runs in the JSON). Permutation rows are per permutation (the batched one runs \
         eight per call).\n\n| measure | ours | plonky2 | ours | speed-up |\n|---|---|---:|---:|---:|\n",
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
            "| {} | {} | {} | {} | **{:.2}×** |\n",
            p.name,
            p.ours,
            fmt(a),
            fmt(b),
            a / b
        );
    }
    let machine = &report["machine"];
    body += &format!(
        "\nOn one thread the proofs are byte-identical to plonky2's (checked in every run; on two \
         threads the caps before the proof-of-work are compared), and so is every batched \
         tree's cap. Command: `{}` \
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
