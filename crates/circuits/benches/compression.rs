//! Compression chains compared (issue 18): what each candidate chain costs to prove the sample
//! batch's scheduler proof into a final proof, and how large that proof is.
//!
//! ```text
//! ZKFLEET_KEYS_DIR=DIR cargo bench -p zkfleet-circuits --bench compression
//! ZKFLEET_KEYS_DIR=DIR ZKFLEET_BENCH_RUNS=3 ZKFLEET_COMPRESSION_CANDIDATES=today,two-step-r7 \
//!     cargo bench -p zkfleet-circuits --bench compression
//! ZKFLEET_BENCH_RENDER_ONLY=1 cargo bench -p zkfleet-circuits --bench compression
//! ```
//!
//! The input is the real thing: the scheduler proof of `zkfleet prove --example`'s sample
//! batch (8 operations, seed 1), proven job by job on the default configuration's circuits,
//! loaded from (or built into) the keystore `ZKFLEET_KEYS_DIR` (default
//! `target/tmp/compression-keys`). The scheduler does not depend on the compression chain, so
//! the proof is cached next to the keystore under its circuit digest.
//!
//! Per candidate: the chain is built over the scheduler's key (not counted), then each step
//! proves (wall and process CPU time, `/proc/self/stat`, every thread), the final proof is
//! verified by plonky2's verifier and must carry the scheduler's 33 public inputs unchanged.
//! Every step of every candidate has ≥ 100 bits of conjectured security (rate bits × queries +
//! PoW bits; `CompressionChain::build` refuses less). Candidates run in turn within each run.
//!
//! Writes docs/benchmarks/compression.json and the `compression` section of
//! docs/benchmarks.md.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

#[path = "support/report.rs"]
mod report;

use std::fmt::Write as _;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plonky2::fri::reduction_strategies::FriReductionStrategy;
use plonky2::fri::FriConfig;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use serde_json::{json, Value};

use zkfleet_circuits::pipeline::{prove_sequentially_with, PipelineError};
use zkfleet_circuits::recursion::{
    conjectured_security_bits, proof_size, BatchCircuits, CompressionChain, CompressionProfile,
    CompressionStep, SchedulerCircuit,
};
use zkfleet_circuits::{Keystore, ProvingConfiguration, C, D, F};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_types::{AggregationRound, BatchNumber, ChainId};

/// One step's FRI knobs (everything else is `standard_recursion_config`'s).
#[derive(Clone, Copy)]
struct Knobs {
    rate_bits: usize,
    queries: usize,
    pow_bits: u32,
    cap_height: usize,
    routed_wires: usize,
    min_size: bool,
}

fn step(name: &'static str, k: Knobs) -> CompressionStep {
    let standard = CircuitConfig::standard_recursion_config();
    CompressionStep {
        name,
        config: CircuitConfig {
            num_routed_wires: k.routed_wires,
            fri_config: FriConfig {
                rate_bits: k.rate_bits,
                cap_height: k.cap_height,
                proof_of_work_bits: k.pow_bits,
                num_query_rounds: k.queries,
                reduction_strategy: if k.min_size {
                    FriReductionStrategy::MinSize(None)
                } else {
                    standard.fri_config.reduction_strategy.clone()
                },
            },
            ..standard
        },
    }
}

fn shrink() -> CompressionStep {
    CompressionStep {
        name: "shrink",
        config: CircuitConfig::standard_recursion_config(),
    }
}

/// A final step: `MinSize` FRI arities and 37 routed wires unless said otherwise.
fn last(rate_bits: usize, queries: usize, pow_bits: u32, cap_height: usize) -> Knobs {
    Knobs {
        rate_bits,
        queries,
        pow_bits,
        cap_height,
        routed_wires: 37,
        min_size: true,
    }
}

struct Candidate {
    name: &'static str,
    why: &'static str,
    steps: Vec<CompressionStep>,
}

fn candidates() -> Vec<Candidate> {
    let high_rate = Knobs {
        rate_bits: 7,
        queries: 12,
        pow_bits: 16,
        cap_height: 4,
        routed_wires: 80,
        min_size: false,
    };
    // A shrink at a higher rate: fewer queries, so its proof is cheaper to verify.
    let shrink_at = |rate_bits, queries, pow_bits| {
        step(
            "shrink",
            Knobs {
                rate_bits,
                queries,
                pow_bits,
                cap_height: 4,
                routed_wires: 80,
                min_size: false,
            },
        )
    };
    let routed = |k: Knobs, routed_wires| Knobs { routed_wires, ..k };
    let routed80 = |k: Knobs| routed(k, 80);
    vec![
        Candidate {
            name: "three-step",
            why: "the chain before issue 18: shrink, high rate (2^7, 12 queries), final (2^8, 10 queries, 20 PoW bits, cap 0)",
            steps: vec![
                shrink(),
                step("high_rate", high_rate),
                step("final", last(8, 10, 20, 0)),
            ],
        },
        Candidate {
            name: "two-step-r8",
            why: "the same final step straight after the shrink (no high-rate step)",
            steps: vec![shrink(), step("final", last(8, 10, 20, 0))],
        },
        Candidate {
            name: "two-step-r7-80",
            why: "shrink, then blowup 2^7, 12 queries, 16 PoW bits, cap height 4, 80 routed wires, MinSize arities",
            steps: vec![shrink(), step("final", routed80(last(7, 12, 16, 4)))],
        },
        Candidate {
            name: "two-step-r7-80-q11",
            why: "as two-step-r7-80 with 11 queries bought by 23 PoW bits",
            steps: vec![shrink(), step("final", routed80(last(7, 11, 23, 4)))],
        },
        Candidate {
            name: "r4-shrink-r7",
            why: "a shrink at blowup 2^4 (21 queries, 16 PoW bits), then blowup 2^7, 12 queries, cap height 4, 37 routed wires",
            steps: vec![shrink_at(4, 21, 16), step("final", last(7, 12, 16, 4))],
        },
        Candidate {
            name: "r4-shrink-r8",
            why: "a shrink at blowup 2^4, then the old final step (2^8, 10 queries, 20 PoW bits, cap 0)",
            steps: vec![shrink_at(4, 21, 16), step("final", last(8, 10, 20, 0))],
        },
        Candidate {
            name: "r5-shrink-r7",
            why: "a shrink at blowup 2^5 (17 queries, 15 PoW bits), then blowup 2^7, 12 queries, cap height 4, 37 routed wires",
            steps: vec![shrink_at(5, 17, 15), step("final", last(7, 12, 16, 4))],
        },
        Candidate {
            name: "two-step-r7-64",
            why: "as two-step-r7-80 with 64 routed wires (fewer sigma columns opened per query)",
            steps: vec![shrink(), step("final", routed(last(7, 12, 16, 4), 64))],
        },
        Candidate {
            name: "two-step-r7-56",
            why: "as two-step-r7-80 with 56 routed wires",
            steps: vec![shrink(), step("final", routed(last(7, 12, 16, 4), 56))],
        },
        Candidate {
            name: "two-step-r7-48",
            why: "as two-step-r7-80 with 48 routed wires",
            steps: vec![shrink(), step("final", routed(last(7, 12, 16, 4), 48))],
        },
        Candidate {
            name: "r4-shrink-r7-48",
            why: "a shrink at blowup 2^4 (21 queries), then blowup 2^7, 12 queries, cap height 4, 48 routed wires",
            steps: vec![
                shrink_at(4, 21, 16),
                step("final", routed(last(7, 12, 16, 4), 48)),
            ],
        },
        Candidate {
            name: "r4-shrink-r7-56",
            why: "a shrink at blowup 2^4 (21 queries), then blowup 2^7, 12 queries, cap height 4, 56 routed wires",
            steps: vec![
                shrink_at(4, 21, 16),
                step("final", routed(last(7, 12, 16, 4), 56)),
            ],
        },
        Candidate {
            name: "two-step-r6-80",
            why: "shrink, then blowup 2^6, 14 queries, 16 PoW bits, cap height 4, 80 routed wires",
            steps: vec![shrink(), step("final", routed80(last(6, 14, 16, 4)))],
        },
        Candidate {
            name: "one-step-r7-80",
            why: "no shrink: blowup 2^7, 12 queries, cap height 4, 80 routed wires straight on the scheduler proof",
            steps: vec![step("final", routed80(last(7, 12, 16, 4)))],
        },
        Candidate {
            name: "default",
            why: "CompressionProfile::Standard of this build",
            steps: CompressionProfile::Standard.steps(),
        },
    ]
}

/// Process CPU time so far (user + system, every thread; 10 ms resolution).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Stops the job-by-job run once the scheduler proof exists.
#[derive(Debug)]
enum Stop {
    Pipeline(PipelineError),
    Scheduler(Vec<u8>),
}

impl From<PipelineError> for Stop {
    fn from(e: PipelineError) -> Self {
        Self::Pipeline(e)
    }
}

fn cache_path(cache_dir: &Path, data: &CircuitData<F, C, D>) -> PathBuf {
    let digest: String = data
        .verifier_only
        .circuit_digest
        .elements
        .iter()
        .map(|e| format!("{:016x}", e.0))
        .collect();
    cache_dir.join(format!("sample-scheduler-proof-{}.bin", &digest[..16]))
}

/// The scheduler circuit of a keystore's aggregation entry (`BatchCircuits::to_bytes`: an
/// 8-byte header, the recursion circuits' blob, the scheduler's blob), read without the rest.
fn scheduler_of_entry(path: &Path) -> Option<SchedulerCircuit> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut word = [0u8; 8];
    file.read_exact(&mut word).ok()?;
    if &word[..4] != b"BTCH" {
        return None;
    }
    file.read_exact(&mut word).ok()?;
    file.seek(SeekFrom::Current(
        i64::try_from(u64::from_le_bytes(word)).ok()?,
    ))
    .ok()?;
    file.read_exact(&mut word).ok()?;
    let mut blob = vec![0u8; usize::try_from(u64::from_le_bytes(word)).ok()?];
    file.read_exact(&mut blob).ok()?;
    SchedulerCircuit::from_bytes(&blob).ok()
}

/// A scheduler of the keystore whose sample-batch proof is cached, with that proof: the
/// compression candidates need nothing else (no basic circuit, no proving of the batch).
fn cached_scheduler(keys_dir: &Path) -> Option<(SchedulerCircuit, ProofWithPublicInputs<F, C, D>)> {
    let entries = std::fs::read_dir(keys_dir).ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("aggregation_") || !name.ends_with(".bin") || name.contains("final_vk")
        {
            continue;
        }
        let Some(scheduler) = scheduler_of_entry(&entry.path()) else {
            continue;
        };
        let data = scheduler.circuit_data();
        if let Ok(bytes) = std::fs::read(cache_path(keys_dir, data)) {
            let proof = ProofWithPublicInputs::from_bytes(bytes, &data.common)
                .expect("the cached scheduler proof");
            eprintln!("scheduler proof cached for {name}");
            return Some((scheduler, proof));
        }
    }
    None
}

/// Proves the sample batch up to the scheduler and caches the scheduler proof under the
/// scheduler's circuit digest.
fn prove_sample_scheduler(circuits: &BatchCircuits, cache_dir: &Path) {
    let geometry = circuits.geometry();
    let generated = generate(&GeneratorConfig {
        operations: 8,
        seed: 1,
        tree_height: geometry.xmss_height as usize,
        chain_id: ChainId(270),
        batch_number: BatchNumber(1),
        ..GeneratorConfig::default()
    })
    .expect("the sample batch generates");
    let mut state = generated.genesis.to_memory_state().expect("genesis");
    let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
    let arity = circuits.recursion().arity();
    let outcome = prove_sequentially_with(
        circuits,
        &executed,
        arity,
        |job| {
            if job.round != AggregationRound::Scheduler {
                return Ok(());
            }
            let vector = circuits.witness_vector(job.round, job.circuit, job.witness)?;
            let proof = circuits.prove_job(job.round, job.circuit, vector)?;
            Err(Stop::Scheduler(proof))
        },
        |job| eprintln!("{:?} {:.1} s", job.round, job.elapsed.as_secs_f64()),
    );
    let proof = match outcome {
        Err(Stop::Scheduler(proof)) => proof,
        Err(Stop::Pipeline(e)) => panic!("proving the sample batch: {e}"),
        Ok(_) => panic!("the run ended without a scheduler job"),
    };
    std::fs::write(
        cache_path(cache_dir, circuits.scheduler().circuit_data()),
        &proof,
    )
    .expect("cache the scheduler proof");
}

fn measure(
    candidate: &Candidate,
    inner: &ProofWithPublicInputs<F, C, D>,
    data: &CircuitData<F, C, D>,
) -> Value {
    let started = Instant::now();
    let chain = CompressionChain::build(&candidate.steps, &data.common, &data.verifier_only)
        .expect("the candidate chain builds");
    let build_s = started.elapsed().as_secs_f64();
    let mut proof = inner.clone();
    let mut steps = Vec::new();
    let (mut wall_total, mut cpu_total) = (0.0, 0.0);
    for (circuit, spec) in chain.steps().iter().zip(&candidate.steps) {
        let (cpu0, wall0) = (process_cpu(), Instant::now());
        proof = circuit.prove(&proof).expect("the step proves and verifies");
        let wall = wall0.elapsed().as_secs_f64();
        let cpu = process_cpu().saturating_sub(cpu0).as_secs_f64();
        wall_total += wall;
        cpu_total += cpu;
        let size = proof_size(&proof, circuit.circuit_data()).expect("proof size");
        eprintln!(
            "  {} 2^{}: {wall:.1} s wall, {cpu:.1} CPU-s, {} B",
            spec.name,
            circuit.circuit_data().common.degree_bits(),
            size.bytes
        );
        let fri = &spec.config.fri_config;
        steps.push(json!({
            "name": spec.name,
            "degree_bits": circuit.circuit_data().common.degree_bits(),
            "rate_bits": fri.rate_bits,
            "queries": fri.num_query_rounds,
            "pow_bits": fri.proof_of_work_bits,
            "cap_height": fri.cap_height,
            "routed_wires": spec.config.num_routed_wires,
            "min_size": matches!(fri.reduction_strategy, FriReductionStrategy::MinSize(_)),
            "security_bits": conjectured_security_bits(fri),
            "wall_s": wall,
            "cpu_s": cpu,
            "proof_bytes": size.bytes,
            "compressed_bytes": size.compressed_bytes,
        }));
    }
    let public_inputs = chain
        .verify_final(&proof)
        .expect("plonky2 verifies the final proof");
    assert_eq!(
        public_inputs, inner.public_inputs,
        "the final proof carries the scheduler's public inputs"
    );
    eprintln!(
        "{}: {:.1} s wall, {:.1} CPU-s, {} B (build {:.1} s)",
        candidate.name,
        wall_total,
        cpu_total,
        proof.to_bytes().len(),
        build_s
    );
    json!({
        "build_s": build_s,
        "wall_s": wall_total,
        "cpu_s": cpu_total,
        "final_proof_bytes": proof.to_bytes().len(),
        "steps": steps,
    })
}

fn render(report: &Value) -> String {
    let mut s = String::new();
    let runs = report["runs"].as_u64().unwrap_or(0);
    let _ = writeln!(
        s,
        "The sample batch's scheduler proof (`zkfleet prove --example`, default geometry, arity \
         2) compressed by each candidate chain; {runs} run(s), candidates in turn within each \
         run, median. CPU = process user + system time (every thread). Every step has ≥ 100 bits \
         of conjectured security (rate bits × queries + PoW bits); every final proof verified by \
         plonky2's verifier with the scheduler's public inputs unchanged. Proof = plonky2's \
         `ProofWithPublicInputs::to_bytes` (what the fleet stores and `zkfleet verify` reads).\n"
    );
    let _ = writeln!(
        s,
        "| chain | steps (degree, rate bits / queries / PoW / cap height) | CPU (s) | wall (s) | final proof (B) | < 64 KB |\n|---|---|---:|---:|---:|---|"
    );
    for c in report["candidates"].as_array().into_iter().flatten() {
        let steps: Vec<String> = c["runs"][0]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|st| {
                format!(
                    "{} 2^{} {}/{}/{}/{}, {} routed",
                    st["name"].as_str().unwrap_or("?"),
                    st["degree_bits"],
                    st["rate_bits"],
                    st["queries"],
                    st["pow_bits"],
                    st["cap_height"],
                    st["routed_wires"]
                )
            })
            .collect();
        let bytes = c["runs"][0]["final_proof_bytes"].as_u64().unwrap_or(0);
        let _ = writeln!(
            s,
            "| {} | {} | **{:.1}** | {:.1} | {} | {} |",
            c["name"].as_str().unwrap_or("?"),
            steps.join(" → "),
            c["cpu_s"].as_f64().unwrap_or(f64::NAN),
            c["wall_s"].as_f64().unwrap_or(f64::NAN),
            bytes,
            if bytes < 64_000 { "yes" } else { "**no**" }
        );
    }
    let _ = writeln!(s);
    for c in report["candidates"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "- {}: {}.",
            c["name"].as_str().unwrap_or("?"),
            c["why"].as_str().unwrap_or("")
        );
    }
    let m = &report["machine"];
    let _ = writeln!(
        s,
        "\nCommand: `{}` (bench profile). Machine: {} cores, {}, load average at start {}. \
         Commit `{}`. JSON: `docs/benchmarks/compression.json`.",
        report["command"].as_str().unwrap_or("?"),
        m["nproc"],
        m["cpu"].as_str().unwrap_or("?"),
        m["load_average_at_start"].as_str().unwrap_or("?"),
        m["commit"].as_str().unwrap_or("?")
    );
    s
}

fn main() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let json_path = workspace.join("docs/benchmarks/compression.json");
    let docs = workspace.join("docs/benchmarks.md");
    let report = if std::env::var_os("ZKFLEET_BENCH_RENDER_ONLY").is_some() {
        let text = std::fs::read_to_string(&json_path).expect("read compression.json");
        serde_json::from_str(&text).expect("compression.json is JSON")
    } else {
        let runs: usize = std::env::var("ZKFLEET_BENCH_RUNS")
            .ok()
            .map(|v| v.parse().expect("ZKFLEET_BENCH_RUNS: a number"))
            .unwrap_or(1);
        let wanted: Option<Vec<String>> = std::env::var("ZKFLEET_COMPRESSION_CANDIDATES")
            .ok()
            .map(|v| v.split(',').map(str::to_owned).collect());
        let keys_dir = std::env::var_os("ZKFLEET_KEYS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target/tmp/compression-keys"));
        std::fs::create_dir_all(&keys_dir).expect("keystore directory");
        let machine = report::machine();
        let (scheduler, inner) = match cached_scheduler(&keys_dir) {
            Some(found) => found,
            None => {
                let loaded = Keystore::open(&keys_dir)
                    .and_then(|keys| keys.batch_circuits(&ProvingConfiguration::default()))
                    .expect("the default configuration's circuits");
                eprintln!("circuits ready in {:.1} s", loaded.elapsed.as_secs_f64());
                prove_sample_scheduler(&loaded.circuits, &keys_dir);
                drop(loaded);
                cached_scheduler(&keys_dir).expect("the scheduler proof just cached")
            }
        };
        let data = scheduler.circuit_data();
        let chosen: Vec<Candidate> = candidates()
            .into_iter()
            .filter(|c| {
                wanted
                    .as_ref()
                    .is_none_or(|w| w.iter().any(|n| n == c.name))
            })
            .collect();
        let mut measured: Vec<Vec<Value>> = vec![Vec::new(); chosen.len()];
        for run in 0..runs {
            for (i, candidate) in chosen.iter().enumerate() {
                eprintln!("run {} of {runs}: {}", run + 1, candidate.name);
                measured[i].push(measure(candidate, &inner, data));
            }
        }
        let candidates: Vec<Value> = chosen
            .iter()
            .zip(measured)
            .map(|(c, runs)| {
                let of = |key: &str| median(runs.iter().filter_map(|r| r[key].as_f64()).collect());
                json!({
                    "name": c.name,
                    "why": c.why,
                    "cpu_s": of("cpu_s"),
                    "wall_s": of("wall_s"),
                    "runs": runs,
                })
            })
            .collect();
        let command = format!(
            "ZKFLEET_BENCH_RUNS={runs}{} cargo bench -p zkfleet-circuits --bench compression",
            wanted
                .as_ref()
                .map(|w| format!(" ZKFLEET_COMPRESSION_CANDIDATES={}", w.join(",")))
                .unwrap_or_default()
        );
        let report = json!({
            "command": command,
            "machine": machine,
            "runs": runs,
            "scheduler_degree_bits": data.common.degree_bits(),
            "candidates": candidates,
        });
        std::fs::write(
            &json_path,
            serde_json::to_string_pretty(&report).expect("serialize") + "\n",
        )
        .expect("write compression.json");
        report
    };
    let body = render(&report);
    println!("{body}");
    report::write_section(&docs, "compression", "Compression chains", &body);
}
