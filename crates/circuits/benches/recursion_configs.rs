//! Recursion cost per child under other configurations (issue #7, item 5): which knobs lower
//! what one aggregated child costs, at ≥ 100 bits of conjectured security.
//!
//! ```text
//! cargo bench -p zkfleet-circuits --bench recursion_configs
//! ZKFLEET_BENCH_RUNS=9 cargo bench -p zkfleet-circuits --bench recursion_configs
//! ZKFLEET_BENCH_RENDER_ONLY=1 cargo bench -p zkfleet-circuits --bench recursion_configs
//! ```
//!
//! The object measured is the anchor's (proof-system-notes.md §1.4): a plain plonky2
//! aggregation, a node verifying two 2^12 recursion proofs against constant verifier data. Per
//! configuration, everything is built under it: a 2^12 base circuit, the recursion circuit
//! verifying one base proof (its proofs are the children), and the node. Our own node verifies
//! its children against a key it takes as input (so one node circuit serves every type and
//! depth); its cost per child tracks plonky2's own `prove` of it (docs/benchmarks.md,
//! "Recursion cost per child"), so what a knob does here it does there.
//!
//! Writes docs/benchmarks/recursion_configs.json and the `recursion-configs` section of
//! docs/benchmarks.md.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

#[path = "support/report.rs"]
mod report;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use plonky2::field::types::Field;
use plonky2::gates::noop::NoopGate;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use serde_json::{json, Value};

use zkfleet_circuits::{C, D, F};

/// Children per node: the fleet's default arity.
const ARITY: usize = 2;
/// Noop gates of the base circuit: with its public input's gates it pads to 2^12 rows.
const BASE_GATES: usize = 3_900;
/// Anchor from proof-system-notes.md §1.4, seconds per child (AMD EPYC, 2 vCPUs).
const ANCHOR_PER_CHILD_S: (f64, f64) = (0.75, 0.83);

/// One configuration of the sweep.
struct Variant {
    name: &'static str,
    why: &'static str,
    rate_bits: usize,
    num_query_rounds: usize,
    proof_of_work_bits: u32,
    cap_height: usize,
}

/// plonky2's `standard_recursion_config` first (what the fleet uses), then one knob at a time.
/// Every variant keeps rate bits × queries + PoW bits ≥ 100. Rate 2 is absent: the Poseidon
/// gate has degree 7, and a quotient of degree 7 needs a blowup of at least 8 (rate bits ≥ 3).
const VARIANTS: [Variant; 7] = [
    Variant {
        name: "standard",
        why: "plonky2's standard recursion configuration, the fleet's",
        rate_bits: 3,
        num_query_rounds: 28,
        proof_of_work_bits: 16,
        cap_height: 4,
    },
    Variant {
        name: "rate 4",
        why: "blowup 16: 7 fewer queries to verify, twice the low-degree extension to commit",
        rate_bits: 4,
        num_query_rounds: 21,
        proof_of_work_bits: 16,
        cap_height: 4,
    },
    Variant {
        name: "rate 5",
        why: "blowup 32: 11 fewer queries, four times the extension",
        rate_bits: 5,
        num_query_rounds: 17,
        proof_of_work_bits: 15,
        cap_height: 4,
    },
    Variant {
        name: "more grinding",
        why: "3 more PoW bits buy 1 fewer query: 2^19 Poseidon hashes per proof",
        rate_bits: 3,
        num_query_rounds: 27,
        proof_of_work_bits: 19,
        cap_height: 4,
    },
    Variant {
        name: "less grinding",
        why: "6 fewer PoW bits cost 2 more queries: 2^10 hashes instead of 2^16",
        rate_bits: 3,
        num_query_rounds: 30,
        proof_of_work_bits: 10,
        cap_height: 4,
    },
    Variant {
        name: "cap height 2",
        why: "a smaller Merkle cap in the proof, 2 more hashes on every query's paths",
        rate_bits: 3,
        num_query_rounds: 28,
        proof_of_work_bits: 16,
        cap_height: 2,
    },
    Variant {
        name: "cap height 6",
        why: "a larger cap in the proof, 2 fewer hashes on every query's paths",
        rate_bits: 3,
        num_query_rounds: 28,
        proof_of_work_bits: 16,
        cap_height: 6,
    },
];

impl Variant {
    fn config(&self) -> CircuitConfig {
        let mut config = CircuitConfig::standard_recursion_config();
        config.fri_config.rate_bits = self.rate_bits;
        config.fri_config.num_query_rounds = self.num_query_rounds;
        config.fri_config.proof_of_work_bits = self.proof_of_work_bits;
        config.fri_config.cap_height = self.cap_height;
        config
    }

    fn security_bits(&self) -> usize {
        self.rate_bits * self.num_query_rounds + self.proof_of_work_bits as usize
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Median, min and max of `values`, rounded to ms.
fn figure(values: &[f64]) -> Value {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    json!({
        "runs": values.iter().map(|v| round3(*v)).collect::<Vec<_>>(),
        "median": round3(median(values)),
        "min": round3(min),
        "max": round3(max),
    })
}

/// A circuit and the proofs it verifies, as targets.
struct Circuit {
    data: CircuitData<F, C, D>,
    children: Vec<ProofWithPublicInputsTarget<D>>,
    gates: usize,
}

impl Circuit {
    fn prove(
        &self,
        children: &[&ProofWithPublicInputs<F, C, D>],
    ) -> ProofWithPublicInputs<F, C, D> {
        let mut pw = PartialWitness::new();
        for (target, proof) in self.children.iter().zip(children) {
            pw.set_proof_with_pis_target(target, proof)
                .expect("set a child proof");
        }
        let proof = self.data.prove(pw).expect("prove");
        self.data.verify(proof.clone()).expect("the proof verifies");
        proof
    }
}

/// The 2^12 base circuit: one public input and noop gates.
fn base(config: &CircuitConfig) -> (Circuit, ProofWithPublicInputs<F, C, D>) {
    let mut builder = CircuitBuilder::<F, D>::new(config.clone());
    let x = builder.add_virtual_target();
    builder.register_public_input(x);
    for _ in 0..BASE_GATES {
        builder.add_gate(NoopGate, vec![]);
    }
    let gates = builder.num_gates();
    let data = builder.build::<C>();
    let mut pw = PartialWitness::new();
    pw.set_target(x, F::ONE).expect("set the input");
    let proof = data.prove(pw).expect("prove the base");
    (
        Circuit {
            data,
            children: Vec::new(),
            gates,
        },
        proof,
    )
}

/// A circuit verifying `n` proofs of `inner` against its constant key.
fn aggregation(config: &CircuitConfig, inner: &Circuit, n: usize) -> Circuit {
    let mut builder = CircuitBuilder::<F, D>::new(config.clone());
    let key = builder.constant_verifier_data(&inner.data.verifier_only);
    let children = (0..n)
        .map(|_| {
            let proof = builder.add_virtual_proof_with_pis(&inner.data.common);
            builder.verify_proof::<C>(&proof, &key, &inner.data.common);
            proof
        })
        .collect();
    let gates = builder.num_gates();
    Circuit {
        data: builder.build::<C>(),
        children,
        gates,
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed().as_secs_f64())
}

/// One variant's circuits, built, and a child proof to aggregate.
struct Built {
    variant: &'static Variant,
    recursion: Circuit,
    node: Circuit,
    node_build_s: f64,
    child: ProofWithPublicInputs<F, C, D>,
    base_degree_bits: usize,
}

fn build_variant(variant: &'static Variant) -> Built {
    let config = variant.config();
    let (base, base_proof) = base(&config);
    let recursion = aggregation(&config, &base, 1);
    let child = recursion.prove(&[&base_proof]);
    let (node, node_build_s) = timed(|| aggregation(&config, &recursion, ARITY));
    Built {
        variant,
        recursion,
        node,
        node_build_s,
        child,
        base_degree_bits: base.data.common.degree_bits(),
    }
}

/// Every variant's node `runs` times, round-robin: a slow spell of the machine then falls on
/// every variant alike instead of on whichever was being measured (one variant's runs in a row
/// spread 2.0–2.9 s here).
fn measure_variants(built: &[Built], runs: usize) -> Vec<Value> {
    let mut node_s = vec![Vec::with_capacity(runs); built.len()];
    let mut proof_bytes = vec![0; built.len()];
    for _ in 0..runs {
        for (i, b) in built.iter().enumerate() {
            let children = vec![&b.child; ARITY];
            let (proof, seconds) = timed(|| b.node.prove(&children));
            proof_bytes[i] = proof.to_bytes().len();
            node_s[i].push(seconds);
        }
    }
    built
        .iter()
        .zip(node_s)
        .zip(proof_bytes)
        .map(|((b, node_s), proof_bytes)| {
            let v = b.variant;
            let per_child: Vec<f64> = node_s.iter().map(|s| s / ARITY as f64).collect();
            eprintln!(
                "{}: node 2^{} ({} gates), {:.3} s per child",
                v.name,
                b.node.data.common.degree_bits(),
                b.node.gates,
                median(&per_child)
            );
            json!({
                "name": v.name,
                "why": v.why,
                "rate_bits": v.rate_bits,
                "num_query_rounds": v.num_query_rounds,
                "proof_of_work_bits": v.proof_of_work_bits,
                "cap_height": v.cap_height,
                "conjectured_security_bits": v.security_bits(),
                "base_degree_bits": b.base_degree_bits,
                "child_degree_bits": b.recursion.data.common.degree_bits(),
                "child_gates": b.recursion.gates,
                "node_gates": b.node.gates,
                "node_degree_bits": b.node.data.common.degree_bits(),
                "node_build_s": round3(b.node_build_s),
                "node_s": figure(&node_s),
                "per_child_s": figure(&per_child),
                "proof_bytes": proof_bytes,
            })
        })
        .collect()
}

/// The standard node proven twice: one after the other on every core, then both at once, each
/// on a pool of one thread (two provers on one machine, or one prover proving two jobs at once).
fn measure_layouts(standard: &Built, runs: usize) -> Value {
    let node = &standard.node;
    let children = vec![&standard.child; ARITY];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let single = || {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a one-thread pool")
    };
    let pools: Vec<rayon::ThreadPool> = (0..cores).map(|_| single()).collect();
    let mut sequential = Vec::with_capacity(runs);
    let mut concurrent = Vec::with_capacity(runs);
    let mut one_thread = Vec::with_capacity(runs);
    for _ in 0..runs {
        let ((), s) = timed(|| {
            for _ in 0..cores {
                node.prove(&children);
            }
        });
        sequential.push(s / (cores * ARITY) as f64);
        let ((), s) = timed(|| {
            std::thread::scope(|scope| {
                for pool in &pools {
                    let children = &children;
                    scope.spawn(move || pool.install(|| node.prove(children)));
                }
            })
        });
        concurrent.push(s / (cores * ARITY) as f64);
        let (_, s) = timed(|| pools[0].install(|| node.prove(&children)));
        one_thread.push(s / ARITY as f64);
    }
    eprintln!(
        "layouts: {:.3} s per child one after the other, {:.3} s {cores} at once, {:.3} s on one thread",
        median(&sequential),
        median(&concurrent),
        median(&one_thread)
    );
    json!({
        "cores": cores,
        "proofs": cores,
        "sequential_per_child_s": figure(&sequential),
        "concurrent_per_child_s": figure(&concurrent),
        "one_thread_per_child_s": figure(&one_thread),
    })
}

fn render(r: &Value) -> String {
    let mut s = String::new();
    let m = &r["machine"];
    let standard = r["variants"][0]["per_child_s"]["median"]
        .as_f64()
        .unwrap_or(f64::NAN);
    writeln!(
        s,
        "A plain plonky2 aggregation (the anchor's: a node verifying {ARITY} recursion proofs of \
         2^12 rows against constant verifier data), everything built under each configuration; \
         {} runs per figure, the variants proven in turn within each run, median (min–max). Conjectured security = rate bits × queries + PoW \
         bits. Against the first row.\n",
        r["runs"]
    )
    .unwrap();
    writeln!(
        s,
        "| configuration | rate bits | queries | PoW bits | cap height | security (bits) | child gates | node gates (rows) | proof (B) | per child (s) | ÷ standard |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    .unwrap();
    for v in r["variants"].as_array().into_iter().flatten() {
        let per_child = &v["per_child_s"];
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} (2^{}) | {} | **{}** ({}–{}) | {:.2} |",
            v["name"].as_str().unwrap_or(""),
            v["rate_bits"],
            v["num_query_rounds"],
            v["proof_of_work_bits"],
            v["cap_height"],
            v["conjectured_security_bits"],
            v["child_gates"],
            v["node_gates"],
            v["node_degree_bits"],
            v["proof_bytes"],
            per_child["median"],
            per_child["min"],
            per_child["max"],
            per_child["median"].as_f64().unwrap_or(f64::NAN) / standard
        )
        .unwrap();
    }
    writeln!(s).unwrap();
    for v in r["variants"].as_array().into_iter().flatten() {
        writeln!(
            s,
            "- {}: {}.",
            v["name"].as_str().unwrap_or(""),
            v["why"].as_str().unwrap_or("")
        )
        .unwrap();
    }
    let l = &r["layouts"];
    let fig = |f: &Value| format!("**{}** ({}–{})", f["median"], f["min"], f["max"]);
    writeln!(
        s,
        "\nThread layouts, standard configuration, per child (s): {} nodes one after the other \
         on every core {}; {} at once, one thread each {}; one node on one thread {}.\n",
        l["proofs"],
        fig(&l["sequential_per_child_s"]),
        l["proofs"],
        fig(&l["concurrent_per_child_s"]),
        fig(&l["one_thread_per_child_s"])
    )
    .unwrap();
    writeln!(
        s,
        "Anchor: {}–{} s per child (proof-system-notes.md §1.4, AMD EPYC). Command: `cargo bench -p \
         zkfleet-circuits --bench recursion_configs` (bench profile). Machine: {} cores, {}, load \
         average at start {}. Commit `{}`. JSON: `docs/benchmarks/recursion_configs.json`.",
        ANCHOR_PER_CHILD_S.0,
        ANCHOR_PER_CHILD_S.1,
        m["nproc"],
        m["cpu"].as_str().unwrap_or("unknown"),
        m["load_average_at_start"].as_str().unwrap_or("unknown"),
        m["commit"].as_str().unwrap_or("unknown")
    )
    .unwrap();
    s
}

fn main() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let json_path = workspace.join("docs/benchmarks/recursion_configs.json");
    let docs = workspace.join("docs/benchmarks.md");
    let report = if std::env::var_os("ZKFLEET_BENCH_RENDER_ONLY").is_some() {
        let text = std::fs::read_to_string(&json_path).expect("read recursion_configs.json");
        serde_json::from_str(&text).expect("recursion_configs.json is JSON")
    } else {
        let runs: usize = std::env::var("ZKFLEET_BENCH_RUNS")
            .ok()
            .map(|v| v.parse().expect("ZKFLEET_BENCH_RUNS: a number"))
            .unwrap_or(5);
        let machine = report::machine();
        let built: Vec<Built> = VARIANTS.iter().map(build_variant).collect();
        let variants = measure_variants(&built, runs);
        let layouts = measure_layouts(&built[0], runs);
        let report = json!({
            "machine": machine,
            "runs": runs,
            "arity": ARITY,
            "variants": variants,
            "layouts": layouts,
        });
        std::fs::write(
            &json_path,
            serde_json::to_string_pretty(&report).expect("serialize") + "\n",
        )
        .expect("write recursion_configs.json");
        report
    };
    report::write_section(
        &docs,
        "recursion-configs",
        "Recursion cost per child under other configurations",
        &render(&report),
    );
}
