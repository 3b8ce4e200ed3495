//! Layers of a real batch: a generated 256-operation batch at the default geometry, proven job
//! by job exactly as the pipeline proves it (`BatchCircuits::witness_vector` then `prove_job`
//! for every basic, leaf, node, tip and scheduler job, then `compress`), with each proof timed
//! in isolation (one at a time, the whole machine for it).
//!
//! Writes `docs/benchmarks/batch-layers.json` and the `batch-layers` section of
//! docs/benchmarks.md: per layer the proofs, the median and total proving time, the degree and
//! the proof size, and the final proof's size. The sum of the isolated times is the reference
//! the pipeline-efficiency benchmark divides by.
//!
//! `cargo bench -p zkfleet-circuits --bench batch_layers`; `ZKFLEET_BENCH_OPERATIONS` (default
//! 256) and `ZKFLEET_BENCH_ARITY` (default 2) change the batch and the arity.

#[path = "support/report.rs"]
mod report;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};
use zkfleet_circuits::basic::split_batch;
use zkfleet_circuits::pipeline::witness::NodeChildren;
use zkfleet_circuits::pipeline::{
    leaf_job_witnesses, node_job_witnesses, scheduler_job_witness, tip_job_witness, type_summaries,
    AggregationWitness,
};
use zkfleet_circuits::recursion::{BatchCircuits, CompressionProfile};
use zkfleet_circuits::BasicGeometry;
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_types::{AggregationRound, CircuitId};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Per layer: each proof's time, its degree and proof size.
#[derive(Default)]
struct Layer {
    seconds: Vec<f64>,
    degree_bits: usize,
    proof_bytes: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

struct Prover<'a> {
    circuits: &'a BatchCircuits,
    layers: BTreeMap<String, Layer>,
}

impl Prover<'_> {
    fn prove(
        &mut self,
        layer: &str,
        round: AggregationRound,
        circuit: CircuitId,
        witness: &[u8],
    ) -> Vec<u8> {
        let started = Instant::now();
        let vector = self
            .circuits
            .witness_vector(round, circuit, witness)
            .expect("witness vector");
        let proof = self
            .circuits
            .prove_job(round, circuit, vector)
            .expect("proof");
        let entry = self.layers.entry(layer.to_owned()).or_default();
        entry.seconds.push(started.elapsed().as_secs_f64());
        entry.degree_bits = self
            .circuits
            .circuit_data(round, circuit)
            .expect("circuit")
            .common
            .degree_bits();
        entry.proof_bytes = proof.len();
        proof
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let operations = env_usize("ZKFLEET_BENCH_OPERATIONS", 256);
    let arity = env_usize("ZKFLEET_BENCH_ARITY", 2);
    let geometry = BasicGeometry::default();
    let machine = report::machine();

    let started = Instant::now();
    let circuits = BatchCircuits::build(&geometry, arity, &CompressionProfile::Standard.steps())
        .expect("build");
    let setup_s = started.elapsed().as_secs_f64();
    eprintln!("circuits built in {setup_s:.1} s");

    let generated = generate(&GeneratorConfig {
        accounts: 16,
        operations,
        seed: 7,
        tree_height: geometry.xmss_height as usize,
        ..GeneratorConfig::default()
    })
    .expect("generate");
    let mut state = generated.genesis.to_memory_state().expect("genesis");
    let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
    let witnesses = split_batch(&executed, &geometry).expect("split");
    let summaries = type_summaries(&executed, &witnesses).expect("summaries");

    let mut prover = Prover {
        circuits: &circuits,
        layers: BTreeMap::new(),
    };
    let wall = Instant::now();
    let mut per_type: BTreeMap<CircuitId, Vec<(u32, Vec<u8>)>> = BTreeMap::new();
    for instance in &witnesses.instances {
        let layer = format!("0 basic {}", instance.circuit.name());
        let proof = prover.prove(
            &layer,
            AggregationRound::Basic,
            instance.circuit,
            &instance.witness,
        );
        per_type
            .entry(instance.circuit)
            .or_default()
            .push((instance.sequence, proof));
        eprintln!("{layer} {} done", instance.sequence);
    }
    let mut finals = Vec::new();
    for (circuit, mut proofs) in per_type {
        proofs.sort_by_key(|(s, _)| *s);
        let forms = witnesses.closed_forms_of(circuit).expect("forms");
        let leaves = leaf_job_witnesses(forms, proofs.into_iter().map(|(_, p)| p).collect(), arity)
            .expect("leaves");
        let mut level: Vec<Vec<u8>> = leaves
            .iter()
            .map(|w| {
                prover.prove(
                    "1 leaf",
                    AggregationRound::Leaf,
                    circuit,
                    &w.to_bytes().expect("encode"),
                )
            })
            .collect();
        let (mut children, mut depth) = (NodeChildren::Leaf, 0);
        loop {
            let jobs = node_job_witnesses(circuit, children, level, arity).expect("nodes");
            let name = format!("2 node depth {depth}");
            level = jobs
                .iter()
                .map(|w| {
                    prover.prove(
                        &name,
                        AggregationRound::Node,
                        circuit,
                        &w.to_bytes().expect("encode"),
                    )
                })
                .collect();
            children = NodeChildren::Node;
            depth += 1;
            if level.len() == 1 {
                break;
            }
        }
        finals.push((circuit, level.remove(0)));
    }
    let tip: AggregationWitness = tip_job_witness(&summaries, finals).expect("tip");
    let tip_proof = prover.prove(
        "3 recursion tip",
        AggregationRound::RecursionTip,
        CircuitId::RECURSION_TIP,
        &tip.to_bytes().expect("encode"),
    );
    let scheduler = scheduler_job_witness(&summaries, tip_proof, executed.witness.batch_number.0);
    let scheduler_proof = prover.prove(
        "4 scheduler",
        AggregationRound::Scheduler,
        CircuitId::SCHEDULER,
        &scheduler.to_bytes().expect("encode"),
    );
    let compress_started = Instant::now();
    let compressed = circuits.compress(&scheduler_proof).expect("compress");
    let compression_s = compress_started.elapsed().as_secs_f64();
    let wall_s = wall.elapsed().as_secs_f64();
    let mut expected = executed.public_output;
    expected.recursion_tree_vk_digest = circuits.scheduler().tree_vk_digest();
    assert_eq!(
        compressed.public_output, expected,
        "the final proof attests the native output"
    );

    let layers: Vec<Value> = prover
        .layers
        .into_iter()
        .map(|(name, l)| {
            json!({
                "layer": name.split_once(' ').map(|(_, n)| n).unwrap_or(&name),
                "proofs": l.seconds.len(),
                "median_s": median(l.seconds.clone()),
                "total_s": l.seconds.iter().sum::<f64>(),
                "degree_bits": l.degree_bits,
                "proof_bytes": l.proof_bytes,
            })
        })
        .collect();
    let isolated_sum: f64 = layers
        .iter()
        .map(|l| l["total_s"].as_f64().unwrap_or(0.0))
        .sum::<f64>()
        + compression_s;
    let report = json!({
        "command": "cargo bench -p zkfleet-circuits --bench batch_layers",
        "machine": machine,
        "operations": operations,
        "arity": arity,
        "geometry": geometry,
        "setup_s": setup_s,
        "layers": layers,
        "compression_s": compression_s,
        "final_proof_bytes": compressed.proof_bytes.len(),
        "isolated_proving_sum_s": isolated_sum,
        "wall_s": wall_s,
    });
    let json_path = root.join("docs/benchmarks/batch-layers.json");
    std::fs::create_dir_all(json_path.parent().expect("docs/benchmarks")).expect("mkdir");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report).expect("json") + "\n",
    )
    .expect("write json");
    report::write_section(
        &root.join("docs/benchmarks.md"),
        "batch-layers",
        "Layers of a real batch",
        &markdown(&report),
    );
    eprintln!("wrote {}", json_path.display());
}

fn markdown(r: &Value) -> String {
    let m = &r["machine"];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Command: `{}` (release profile), commit `{}`, {} cores ({}), load average at start {}. \
         A generated {}-operation batch at the default geometry, arity {}, standard compression, \
         proven job by job as the pipeline does (witness vector + prove + verify per job), one \
         proof at a time. Circuits built in {:.0} s (once per setup). JSON: \
         `docs/benchmarks/batch-layers.json`.\n",
        r["command"].as_str().unwrap_or(""),
        m["commit"].as_str().unwrap_or(""),
        m["nproc"],
        m["cpu"].as_str().unwrap_or(""),
        m["load_average_at_start"].as_str().unwrap_or(""),
        r["operations"],
        r["arity"],
        r["setup_s"].as_f64().unwrap_or(0.0),
    );
    let _ = writeln!(
        s,
        "| layer | proofs | median per proof (s) | total (s) | degree | proof (B) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---|---:|");
    for l in r["layers"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.1} | 2^{} | {} |",
            l["layer"].as_str().unwrap_or(""),
            l["proofs"],
            l["median_s"].as_f64().unwrap_or(0.0),
            l["total_s"].as_f64().unwrap_or(0.0),
            l["degree_bits"],
            l["proof_bytes"]
        );
    }
    let _ = writeln!(
        s,
        "| compression (3 steps) | 1 | {:.2} | {:.1} | 2^12 | {} |",
        r["compression_s"].as_f64().unwrap_or(0.0),
        r["compression_s"].as_f64().unwrap_or(0.0),
        r["final_proof_bytes"]
    );
    let _ = writeln!(
        s,
        "\nSum of the isolated proving times: **{:.0} s** (wall time of the run {:.0} s); final proof **{} bytes**.",
        r["isolated_proving_sum_s"].as_f64().unwrap_or(0.0),
        r["wall_s"].as_f64().unwrap_or(0.0),
        r["final_proof_bytes"]
    );
    s
}
