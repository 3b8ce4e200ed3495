//! Pipeline efficiency: a real batch proven through the fleet (`zkfleet prove`: witness
//! generator, circuit prover and compressor coordinating through the job database and the
//! object store) against the same batch proven job by job in isolation.
//!
//! efficiency = (sum of the isolated proving times of the batch's jobs ÷ provers) ÷ the
//! pipeline's wall time for the batch (from insertion to the final proof; circuit loading
//! excluded). One circuit prover proves one job at a time on every core, so provers = 1.
//!
//! `cargo bench -p zkfleet-cli --bench pipeline`; `ZKFLEET_BENCH_OPERATIONS` (default `256`,
//! comma-separated for several sizes). Writes `docs/benchmarks/pipeline.json` and the `pipeline`
//! section of docs/benchmarks.md. The keystore is `target/tmp/bench-keys` (built once).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};
use zkfleet_circuits::pipeline::{prove_sequentially, FinalVerifyingKey};
use zkfleet_circuits::{Keystore, ProvingConfiguration};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_types::{BatchNumber, ChainId};

fn machine() -> Value {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|m| m.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    json!({
        "cpu": cpu,
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "commit": commit,
        "load_average_at_start": read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

/// The number after `marker` in `text` (e.g. "proven in 123.4 s").
fn seconds_after(text: &str, marker: &str) -> f64 {
    text.split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {marker:?} in the output:\n{text}"))
}

fn run_pipeline(config: &Path, data_dir: &Path, batch_file: &Path) -> (f64, f64, PathBuf) {
    let output = Command::new(env!("CARGO_BIN_EXE_zkfleet"))
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("prove")
        .arg(batch_file)
        .env_remove("ZKFLEET_DATABASE_URL")
        .output()
        .expect("run zkfleet prove");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "zkfleet prove failed:\n{stdout}\n{stderr}"
    );
    let loading = seconds_after(&stderr, "circuits ready in ");
    let total = seconds_after(&stdout, " proven in ");
    let proof = stdout
        .lines()
        .find_map(|l| l.strip_prefix("final proof:"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(PathBuf::from)
        .expect("the final proof's path");
    (loading, total, proof)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sizes: Vec<usize> = std::env::var("ZKFLEET_BENCH_OPERATIONS")
        .unwrap_or_else(|_| "256".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let machine = machine();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-pipeline");
    let keys = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-keys");
    std::fs::create_dir_all(&work).expect("work dir");
    let config = work.join("zkfleet.toml");
    std::fs::write(
        &config,
        format!("[proving]\nkeys_dir = \"{}\"\n", keys.display()),
    )
    .expect("config");
    let proving = ProvingConfiguration {
        geometry: Default::default(),
        arity: 2,
        compression: Default::default(),
    };

    let mut rows = Vec::new();
    for (i, &operations) in sizes.iter().enumerate() {
        let number = u32::try_from(i + 1).expect("few sizes");
        let generated = generate(&GeneratorConfig {
            accounts: 16,
            operations,
            seed: 7,
            chain_id: ChainId(270),
            batch_number: BatchNumber(number),
            ..GeneratorConfig::default()
        })
        .expect("generate");
        let input = zkfleet_witness_generator::BatchWitnessInput::from_genesis(
            &generated.batch,
            &generated.genesis,
        )
        .expect("witness input")
        .encode()
        .expect("encode");
        let batch_file = work.join(format!("batch-{operations}.bin"));
        std::fs::write(&batch_file, input).expect("write batch");
        let mut state = generated.genesis.to_memory_state().expect("genesis");
        let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");

        // Isolated: every job alone, one after the other (then the circuits are dropped so the
        // pipeline's process has the machine to itself).
        let (isolated_sum, jobs, final_key) = {
            let loaded = Keystore::open(&keys)
                .and_then(|k| k.batch_circuits(&proving))
                .expect("circuits");
            let run = prove_sequentially(&loaded.circuits, &executed, 2, |job| {
                eprintln!(
                    "isolated {:?} {} {:.2} s",
                    job.round,
                    job.circuit,
                    job.elapsed.as_secs_f64()
                );
            })
            .expect("isolated run");
            (
                run.isolated_sum().as_secs_f64(),
                run.jobs.len() + 1,
                FinalVerifyingKey::of(&loaded.circuits),
            )
        };

        // The pipeline, on a fresh embedded database and store.
        let data_dir = work.join(format!("data-{operations}-{}", std::process::id()));
        let started = Instant::now();
        let (loading_s, total_s, proof_path) = run_pipeline(&config, &data_dir, &batch_file);
        let process_s = started.elapsed().as_secs_f64();
        let proof = std::fs::read(data_dir.join("..").join(&proof_path))
            .or_else(|_| std::fs::read(&proof_path))
            .expect("the final proof file");
        let output = final_key
            .verify(&proof)
            .expect("the pipeline's final proof verifies");
        assert_eq!(output.new_state_root, executed.public_output.new_state_root);
        let batch_wall_s = total_s - loading_s;
        let efficiency = isolated_sum / batch_wall_s;
        eprintln!(
            "{operations} operations: isolated {isolated_sum:.1} s, pipeline {batch_wall_s:.1} s, efficiency {efficiency:.3}"
        );
        let _ = std::fs::remove_dir_all(&data_dir);
        rows.push(json!({
            "operations": operations,
            "jobs": jobs,
            "isolated_sum_s": isolated_sum,
            "pipeline_batch_wall_s": batch_wall_s,
            "circuit_loading_s": loading_s,
            "process_wall_s": process_s,
            "provers": 1,
            "efficiency": efficiency,
        }));
    }
    let report = json!({
        "command": "cargo bench -p zkfleet-cli --bench pipeline",
        "machine": machine,
        "configuration": "default geometry, arity 2, standard compression; zkfleet prove with 1 light + 1 heavy witness-vector generator, embedded SQLite + local store",
        "sizes": rows,
    });
    let json_path = root.join("docs/benchmarks/pipeline.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report).expect("json") + "\n",
    )
    .expect("write json");
    write_section(&root.join("docs/benchmarks.md"), &markdown(&report));
    eprintln!("wrote {}", json_path.display());
}

fn markdown(r: &Value) -> String {
    let m = &r["machine"];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Command: `{}` (release profile), commit `{}`, {} cores ({}), load average at start {}. \
         Each batch is proven twice: job by job in isolation (`pipeline::prove_sequentially`, one \
         proof at a time with the whole machine), then through the pipeline (`zkfleet prove`: \
         {}). Efficiency = (isolated sum ÷ provers) ÷ the pipeline's wall time for the batch \
         (insertion to final proof; loading the circuits excluded). JSON: \
         `docs/benchmarks/pipeline.json`.\n",
        r["command"].as_str().unwrap_or(""),
        m["commit"].as_str().unwrap_or(""),
        m["nproc"],
        m["cpu"].as_str().unwrap_or(""),
        m["load_average_at_start"].as_str().unwrap_or(""),
        r["configuration"].as_str().unwrap_or(""),
    );
    let _ = writeln!(
        s,
        "| operations | jobs | isolated sum (s) | pipeline wall (s) | provers | efficiency |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|");
    for row in r["sizes"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {} | **{:.3}** |",
            row["operations"],
            row["jobs"],
            row["isolated_sum_s"].as_f64().unwrap_or(0.0),
            row["pipeline_batch_wall_s"].as_f64().unwrap_or(0.0),
            row["provers"],
            row["efficiency"].as_f64().unwrap_or(0.0)
        );
    }
    s
}

/// Replaces the `pipeline` section of docs/benchmarks.md (appends it when absent).
fn write_section(path: &Path, body: &str) {
    const BEGIN: &str = "<!-- BEGIN pipeline -->";
    const END: &str = "<!-- END pipeline -->";
    let text = std::fs::read_to_string(path).expect("read docs/benchmarks.md");
    let updated = match (text.find(BEGIN), text.find(END)) {
        (Some(a), Some(b)) => format!(
            "{}{BEGIN}\n{}\n{END}{}",
            &text[..a],
            body.trim(),
            &text[b + END.len()..]
        ),
        _ => format!(
            "{}\n\n## Pipeline efficiency\n\n{BEGIN}\n{}\n{END}\n",
            text.trim_end(),
            body.trim()
        ),
    };
    std::fs::write(path, updated).expect("write docs/benchmarks.md");
}
