//! Benchmark of the basic circuits at the default geometry.
//!
//! `cargo bench -p zkfleet-circuits --bench basic [-- --runs N]`
//!
//! Per circuit type: degree bits, items per instance, circuit build time, witness generation time
//! (`generate_partial_witness`), proving time (`prove_with_partition_witness`) and proof size,
//! each time the median of N runs (default 3) on a full instance cut from a generated batch.
//! Writes docs/benchmarks/basic-circuits.json and the `basic-circuits` section of
//! docs/benchmarks.md.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use zkfleet_circuits::basic::{split_batch, BasicCircuit, BasicCircuitKind};
use zkfleet_circuits::BasicGeometry;
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};

#[derive(Serialize)]
struct TypeResult {
    circuit: &'static str,
    circuit_id: u8,
    items_per_instance: u32,
    degree_bits: usize,
    build_s: f64,
    witness_generation_s: Vec<f64>,
    witness_generation_median_s: f64,
    proving_s: Vec<f64>,
    proving_median_s: f64,
    proof_bytes: usize,
}

#[derive(Serialize)]
struct Report {
    command: String,
    commit: String,
    nproc: usize,
    cpu_model: String,
    load_average_at_start: String,
    runs: usize,
    geometry: BasicGeometry,
    batch_operations: usize,
    results: Vec<TypeResult>,
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The commit measured, marked `-dirty` when the circuits crate has uncommitted changes.
fn commit(root: &Path) -> String {
    let Some(head) = git(root, &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    match git(
        root,
        &[
            "status",
            "--porcelain",
            "--",
            "crates/circuits",
            "crates/rollup",
        ],
    ) {
        Some(changes) if changes.is_empty() => head,
        _ => format!("{head}-dirty"),
    }
}

/// The 1-minute load average when the benchmark started: the machine is shared.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().ok_or("--runs needs a value")?.parse()?;
        }
    }
    if runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let geometry = BasicGeometry::default();
    let load_average_at_start = load_average();

    // A batch large enough for a full instance of every type (about 1 in 5 operations is a
    // deposit, most of the rest are signed).
    let operations = 6 * geometry.deposits_per_instance as usize;
    eprintln!(
        "generating a batch of {operations} operations (tree height {})…",
        geometry.xmss_height
    );
    let generated = generate(&GeneratorConfig {
        operations,
        tree_height: geometry.xmss_height as usize,
        ..GeneratorConfig::default()
    })?;
    let mut state = generated.genesis.to_memory_state()?;
    let executed = execute_batch(&mut state, &generated.batch)?;
    let witnesses = split_batch(&executed, &geometry)?;

    let mut results = Vec::new();
    for kind in BasicCircuitKind::ALL {
        let instance = witnesses
            .instances
            .iter()
            .find(|i| i.circuit == kind.circuit_id() && i.sequence == 0)
            .ok_or_else(|| format!("the batch has no {} instance", kind.name()))?;
        eprintln!("{}: building…", kind.name());
        let started = Instant::now();
        let circuit = BasicCircuit::build(kind, &geometry)?;
        let build = secs(started.elapsed());
        let witness = circuit.decode_witness(&instance.witness)?;
        if witness.item_count() != kind.capacity(&geometry) as usize {
            return Err(format!("{} instance 0 is not full", kind.name()).into());
        }
        let mut witness_generation = Vec::new();
        let mut proving = Vec::new();
        let mut proof_bytes = 0;
        for run in 0..runs {
            let started = Instant::now();
            let vector = circuit.generate_witness_vector(&witness)?;
            witness_generation.push(secs(started.elapsed()));
            let started = Instant::now();
            let proof = circuit.prove_witness_vector(vector)?;
            proving.push(secs(started.elapsed()));
            proof_bytes = proof.to_bytes().len();
            circuit.verify(proof)?;
            eprintln!(
                "{}: run {run}: witness {:.3} s, prove {:.3} s",
                kind.name(),
                witness_generation[run],
                proving[run]
            );
        }
        results.push(TypeResult {
            circuit: kind.name(),
            circuit_id: kind.circuit_id().0,
            items_per_instance: kind.capacity(&geometry),
            degree_bits: circuit.degree_bits(),
            build_s: build,
            witness_generation_median_s: median(&witness_generation),
            witness_generation_s: witness_generation,
            proving_median_s: median(&proving),
            proving_s: proving,
            proof_bytes,
        });
    }

    let root = workspace_root();
    let report = Report {
        command: "cargo bench -p zkfleet-circuits --bench basic".into(),
        commit: commit(&root),
        nproc: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model: cpu_model(),
        load_average_at_start,
        runs,
        geometry,
        batch_operations: operations,
        results,
    };
    let json_path = root.join("docs/benchmarks/basic-circuits.json");
    std::fs::create_dir_all(json_path.parent().ok_or("no parent")?)?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    write_markdown(&root.join("docs/benchmarks.md"), &report)?;
    eprintln!("wrote {} and docs/benchmarks.md", json_path.display());
    Ok(())
}

fn write_markdown(path: &Path, report: &Report) -> Result<(), Box<dyn std::error::Error>> {
    const BEGIN: &str = "<!-- BEGIN basic-circuits -->";
    const END: &str = "<!-- END basic-circuits -->";
    let g = &report.geometry;
    let mut section = format!(
        "{BEGIN}\nCommand: `{}` (commit `{}`), {} cores ({}, 1-minute load {} at start: the \
         machine is shared), median of {} runs per type, one full instance each, default \
         geometry: {} signatures, {} operations, {} deposits per instance, XMSS height {}. \
         Witness generation = assigning the instance witness + `generate_partial_witness`; \
         proving = `prove_with_partition_witness`; build = `CircuitBuilder::build` (the \
         keystore does it once). JSON: `docs/benchmarks/basic-circuits.json`.\n\n\
         | circuit | items / instance | degree | build | witness generation | proving | proof |\n\
         |---|---|---|---|---|---|---|\n",
        report.command,
        report.commit,
        report.nproc,
        report.cpu_model,
        report.load_average_at_start,
        report.runs,
        g.signatures_per_instance,
        g.operations_per_instance,
        g.deposits_per_instance,
        g.xmss_height
    );
    for r in &report.results {
        let spread = |v: &[f64]| {
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(0.0, f64::max);
            format!("{min:.2}–{max:.2}")
        };
        section.push_str(&format!(
            "| {} | {} | 2^{} | {:.1} s | {:.3} s ({}) | {:.2} s ({}) | {} B |\n",
            r.circuit,
            r.items_per_instance,
            r.degree_bits,
            r.build_s,
            r.witness_generation_median_s,
            spread(&r.witness_generation_s),
            r.proving_median_s,
            spread(&r.proving_s),
            r.proof_bytes
        ));
    }
    section.push_str(END);
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\n## Basic circuits\n\n<!-- BEGIN basic-circuits -->\n<!-- END basic-circuits -->\n"
            .to_string()
    });
    let (Some(start), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!("{} has no basic-circuits section markers", path.display()).into());
    };
    let updated = format!("{}{}{}", &text[..start], section, &text[end + END.len()..]);
    std::fs::write(path, updated)?;
    Ok(())
}
