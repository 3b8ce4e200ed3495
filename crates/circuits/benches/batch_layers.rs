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

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

#[path = "support/report.rs"]
mod report;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};
use zkfleet_circuits::pipeline::{prove_sequentially, TimedJob};
use zkfleet_circuits::recursion::{BatchCircuits, CompressionProfile};
use zkfleet_circuits::BasicGeometry;
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_types::AggregationRound;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// `0 basic signature_verification`, `2 node depth 1`…: sortable layer names.
fn layer_of(job: &TimedJob) -> String {
    match job.round {
        AggregationRound::Basic => format!("0 basic {}", job.circuit.name()),
        AggregationRound::Leaf => "1 leaf".into(),
        AggregationRound::Node => format!("2 node depth {}", job.depth),
        AggregationRound::RecursionTip => "3 recursion tip".into(),
        AggregationRound::Scheduler => "4 scheduler".into(),
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

    let wall = Instant::now();
    let run = prove_sequentially(&circuits, &executed, arity, |job| {
        eprintln!("{} {:.2} s", layer_of(job), job.elapsed.as_secs_f64());
    })
    .expect("the batch proves job by job");
    let wall_s = wall.elapsed().as_secs_f64();
    let mut expected = executed.public_output;
    expected.recursion_tree_vk_digest = circuits.scheduler().tree_vk_digest();
    assert_eq!(
        run.proof.public_output, expected,
        "the final proof attests the native output"
    );

    let mut layers: BTreeMap<String, (Vec<f64>, usize, usize)> = BTreeMap::new();
    for job in &run.jobs {
        let degree_bits = circuits
            .circuit_data(job.round, job.circuit)
            .expect("circuit")
            .common
            .degree_bits();
        let entry = layers.entry(layer_of(job)).or_default();
        entry.0.push(job.elapsed.as_secs_f64());
        entry.1 = degree_bits;
        entry.2 = job.proof_bytes;
    }
    let layers: Vec<Value> = layers
        .into_iter()
        .map(|(name, (seconds, degree_bits, proof_bytes))| {
            json!({
                "layer": name.split_once(' ').map(|(_, n)| n).unwrap_or(&name),
                "proofs": seconds.len(),
                "median_s": median(seconds.clone()),
                "total_s": seconds.iter().sum::<f64>(),
                "degree_bits": degree_bits,
                "proof_bytes": proof_bytes,
            })
        })
        .collect();
    let compression_s = run.compression.as_secs_f64();
    let report = json!({
        "command": "cargo bench -p zkfleet-circuits --bench batch_layers",
        "machine": machine,
        "operations": operations,
        "arity": arity,
        "geometry": geometry,
        "setup_s": setup_s,
        "layers": layers,
        "compression_s": compression_s,
        "final_proof_bytes": run.proof.proof_bytes.len(),
        "isolated_proving_sum_s": run.isolated_sum().as_secs_f64(),
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
