//! Cost per operation (issue 18): the CPU-seconds a batch's proving costs, per rollup operation
//! and by round (basic, leaf, node, recursion tip, scheduler, compression).
//!
//! Each batch is proven in this process job by job (`pipeline::prove_sequentially_with`: the
//! same witnesses, `witness_vector` + `prove_job` and compression as the pipeline's jobs), on
//! every core, and the **process CPU time** (`/proc/self/stat`: user + system of every thread,
//! rayon's included) is read before and after every job. What an operator pays for is
//! CPU time, and CPU time hardly changes with the load of a shared machine (wall time does); the
//! wall time is reported beside it. CPU spent between jobs (cutting the batch into instances,
//! building the next round's witnesses) is reported as `witness` and counted in the total.
//!
//! The batches: the sample batch of `zkfleet prove --example` (8 operations, seed 1) and
//! generated batches of the sizes asked for (the pipeline suite's batches: seed 7, 16 accounts).
//! When the 1,024-operation batch of the issue is not among them (it takes ~11 minutes on two
//! cores), the report **estimates** it from the largest batch measured: each kind of job's mean
//! CPU time there × the number of jobs of that kind in the 1,024-operation batch (counted by
//! cutting that batch into instances, without proving it), plus the per-batch rounds (tip,
//! scheduler, compression) as measured. The estimate is labelled as such everywhere.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zkfleet_circuits::basic::split_batch;
use zkfleet_circuits::pipeline::{prove_sequentially_on, CpuProver};
use zkfleet_circuits::{BasicCircuitKind, Keystore, ProvingConfiguration};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_types::{AggregationRound, BatchNumber, ChainId, CircuitId};

use crate::error::BenchError;
use crate::figure::Figure;
use crate::machine;
use crate::real_batch::RealBatch;
use crate::report::MachineInfo;

/// The batch: the cost per operation is judged on it.
pub const TARGET_OPERATIONS: usize = 1024;
/// The target: CPU-seconds per operation on the 1,024-operation batch.
pub const TARGET_CPU_PER_OPERATION: f64 = 0.45;
/// Operations of `zkfleet prove --example`'s sample batch.
pub const SAMPLE_OPERATIONS: usize = 8;
/// Seed of `zkfleet prove --example`'s sample batch.
const SAMPLE_SEED: u64 = 1;

/// What [`run`] measures.
#[derive(Debug, Clone)]
pub struct CostOptions {
    /// The proving configuration of the circuits measured.
    pub proving: ProvingConfiguration,
    /// The keystore the circuits are loaded from (built there where missing).
    pub keys_dir: PathBuf,
    /// Prove the sample batch of `zkfleet prove --example` first.
    pub sample: bool,
    /// Generated batches to prove, in operations.
    pub sizes: Vec<usize>,
    /// Runs per batch.
    pub runs: usize,
    /// Also prove each batch through the pipeline (`zkfleet prove` of this executable, on a
    /// fresh data directory under `work_dir`) and report that child process's CPU time.
    pub pipeline: Option<PipelineCommand>,
    /// Which CPU prover proves the jobs in process: the default (the batched Merkle hasher),
    /// or plonky2's own `prove` for a before/after on the same machine.
    pub cpu_prover: CpuProver,
}

/// How the suite runs `zkfleet prove`.
#[derive(Debug, Clone)]
pub struct PipelineCommand {
    /// The `zkfleet` executable whose `prove` is run.
    pub zkfleet: PathBuf,
    /// A configuration file's text with the `[proving]` section of the measured circuits.
    pub proving_config_toml: String,
    /// Scratch space (batch files, data directories), removed run by run.
    pub work_dir: PathBuf,
}

/// The rounds of a batch's proving, in the order they run.
pub const ROUNDS: [&str; 7] = [
    "witness",
    "basic",
    "leaf",
    "node",
    "recursion tip",
    "scheduler",
    "compression",
];

fn round_name(round: AggregationRound) -> &'static str {
    match round {
        AggregationRound::Basic => "basic",
        AggregationRound::Leaf => "leaf",
        AggregationRound::Node => "node",
        AggregationRound::RecursionTip => "recursion tip",
        AggregationRound::Scheduler => "scheduler",
    }
}

/// What the suite measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    /// The machine, with its load before and after.
    pub machine: MachineInfo,
    /// The commit the binary was built from.
    pub git_commit: String,
    /// When the suite ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The proving configuration of the circuits.
    pub configuration: ProvingConfiguration,
    /// Runs per batch.
    pub runs: usize,
    /// Loading (or building) the configuration's circuits, once (not in any batch's cost).
    pub circuit_loading_s: f64,
    /// One per batch proven.
    pub batches: Vec<BatchCost>,
    /// The 1,024-operation batch estimated from the largest batch measured, when it was not
    /// measured itself.
    pub estimate: Option<CostEstimate>,
}

/// One batch proven `runs` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchCost {
    /// `sample (zkfleet prove --example)` or `generated`.
    pub batch: String,
    /// Rollup operations of the batch.
    pub operations: usize,
    /// Per round, in [`ROUNDS`] order (rounds without jobs left out).
    pub rounds: Vec<RoundCost>,
    /// Process CPU time of the whole batch (s).
    pub cpu_s: Figure,
    /// Wall time of the whole batch (s).
    pub wall_s: Figure,
    /// CPU time per rollup operation (s).
    pub cpu_per_operation_s: Figure,
    /// Per kind of job (round, circuit): jobs and the mean CPU time of one, for estimates.
    pub kinds: Vec<KindCost>,
    /// Size of the batch's final proof, in bytes.
    pub final_proof_bytes: usize,
    /// The same batch through `zkfleet prove`, when asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pipeline: Option<PipelineCost>,
}

/// A batch proven through the pipeline: `zkfleet prove`'s whole CPU time (every component of
/// the process: witness generators, circuit prover, compressor, job database, store), loading
/// the circuits included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineCost {
    /// CPU time of the process, loading the circuits included (s).
    pub cpu_s: Figure,
    /// That CPU time per rollup operation (s).
    pub cpu_per_operation_s: Figure,
    /// Wall time of the whole command, and its "circuits ready in" (loading) time.
    pub wall_s: Figure,
    /// Its "circuits ready in" time (s).
    pub loading_wall_s: Figure,
}

/// One round of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundCost {
    /// The round, as in [`ROUNDS`].
    pub round: String,
    /// Jobs of the round.
    pub jobs: usize,
    /// CPU time of the round's jobs (s).
    pub cpu_s: Figure,
    /// Wall time of the round's jobs (s).
    pub wall_s: Figure,
    /// The round's CPU time per rollup operation (s).
    pub cpu_per_operation_s: Figure,
}

/// One kind of prover job of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindCost {
    /// The round, as in [`ROUNDS`].
    pub round: String,
    /// The basic type for basic and leaf jobs; `node` aggregates every type.
    pub circuit: String,
    /// Jobs of this kind in the batch.
    pub jobs: usize,
    /// Median over runs of the mean CPU time of one job (s).
    pub cpu_per_job_s: f64,
}

/// The 1,024-operation batch, estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// Rollup operations of the estimated batch.
    pub operations: usize,
    /// The measured batch the per-job figures come from.
    pub from_operations: usize,
    /// Per round, in [`ROUNDS`] order.
    pub rounds: Vec<EstimatedRound>,
    /// Estimated CPU time of the whole batch (s).
    pub cpu_s: f64,
    /// That CPU time per rollup operation (s).
    pub cpu_per_operation_s: f64,
}

/// One round of the estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatedRound {
    /// The round, as in [`ROUNDS`].
    pub round: String,
    /// Jobs of the round in the estimated batch.
    pub jobs: usize,
    /// Estimated CPU time of the round (s).
    pub cpu_s: f64,
    /// That CPU time per rollup operation (s).
    pub cpu_per_operation_s: f64,
}

/// Clock ticks per second of `/proc`'s CPU times (`USER_HZ`, 100 on every Linux the fleet
/// runs on; the unit test checks it against a busy loop).
const USER_HZ: u64 = 100;

/// CPU time of this process so far: user + system of every thread, exited ones included
/// (`/proc/self/stat`, 10 ms resolution; zero where unreadable, e.g. off Linux).
pub fn process_cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: indices 11 and 12 after the ')'.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 1000 / USER_HZ)
}

/// CPU time of this process's waited-for children so far (`cutime` + `cstime`).
pub fn children_cpu_time() -> Duration {
    stat_ticks(13) + stat_ticks(14)
}

fn stat_ticks(index: usize) -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let ticks = rest
        .split_whitespace()
        .nth(index)
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_millis(ticks * 1000 / USER_HZ)
}

/// One run of `zkfleet prove` on `batch`: (CPU s, wall s, loading wall s).
fn prove_through_pipeline(
    command: &PipelineCommand,
    batch: &RealBatch,
    label: &str,
) -> Result<(f64, f64, f64), BenchError> {
    let dir = command.work_dir.join(label);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let config = dir.join("zkfleet.toml");
    std::fs::write(&config, &command.proving_config_toml)
        .map_err(|e| BenchError::io(format!("writing {}", config.display()), e))?;
    let files = batch.write(&dir.join("batch"))?;
    let mut prove = std::process::Command::new(&command.zkfleet);
    prove
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("prove")
        .arg(&files.batch)
        .arg("--genesis")
        .arg(&files.genesis);
    // Only what this suite sets reaches the child.
    for var in [
        "ZKFLEET_CONFIG",
        "ZKFLEET_DATABASE_URL",
        "ZKFLEET_DATABASE_URL_FILE",
        "ZKFLEET_DATA_DIR",
        "ZKFLEET_CHAIN_ID",
    ] {
        prove.env_remove(var);
    }
    let (cpu_before, started) = (children_cpu_time(), Instant::now());
    let output = prove
        .output()
        .map_err(|e| BenchError::io(format!("running {}", command.zkfleet.display()), e))?;
    let (cpu, wall) = (
        children_cpu_time().saturating_sub(cpu_before).as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(BenchError::ZkfleetProve {
            reason: format!("zkfleet prove exited with {}", output.status),
            output: format!("{}\n{stderr}", String::from_utf8_lossy(&output.stdout)),
        });
    }
    let loading = stderr
        .split("circuits ready in ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    Ok((cpu, wall, loading))
}

/// One run of one batch: CPU and wall per round, CPU per (round, circuit) job.
#[derive(Debug, Default)]
struct Measured {
    cpu: BTreeMap<&'static str, Duration>,
    wall: BTreeMap<&'static str, Duration>,
    jobs: BTreeMap<&'static str, usize>,
    kinds: BTreeMap<(AggregationRound, String), (usize, Duration)>,
    total_cpu: Duration,
    total_wall: Duration,
    final_proof_bytes: usize,
}

fn circuit_name(round: AggregationRound, circuit: CircuitId) -> String {
    match round {
        AggregationRound::Basic | AggregationRound::Leaf => {
            BasicCircuitKind::from_circuit_id(circuit)
                .map(|k| k.name().to_owned())
                .unwrap_or_else(|_| circuit.to_string())
        }
        AggregationRound::Node => "node".to_owned(),
        AggregationRound::RecursionTip => "recursion tip".to_owned(),
        AggregationRound::Scheduler => "scheduler".to_owned(),
    }
}

fn prove_once(
    circuits: &zkfleet_circuits::recursion::BatchCircuits,
    batch: &RealBatch,
    arity: usize,
    cpu: CpuProver,
) -> Result<Measured, BenchError> {
    let mut measured = Measured::default();
    let (cpu_start, wall_start) = (process_cpu_time(), Instant::now());
    // (cpu, wall) when the job now proving started, and when the last one ended; both
    // callbacks read and move them.
    let job_start = Cell::new((cpu_start, wall_start));
    let last_end = Cell::new((cpu_start, wall_start));
    let mut between = (Duration::ZERO, Duration::ZERO);
    let run = prove_sequentially_on(
        circuits,
        &batch.executed,
        arity,
        cpu,
        |_| {
            let now = (process_cpu_time(), Instant::now());
            let last = last_end.get();
            between.0 += now.0.saturating_sub(last.0);
            between.1 += now.1 - last.1;
            job_start.set(now);
            Ok::<(), BenchError>(())
        },
        |job| {
            let now = (process_cpu_time(), Instant::now());
            let start = job_start.get();
            let cpu = now.0.saturating_sub(start.0);
            let name = round_name(job.round);
            *measured.cpu.entry(name).or_default() += cpu;
            *measured.wall.entry(name).or_default() += now.1 - start.1;
            *measured.jobs.entry(name).or_default() += 1;
            let kind = measured
                .kinds
                .entry((job.round, circuit_name(job.round, job.circuit)))
                .or_default();
            kind.0 += 1;
            kind.1 += cpu;
            last_end.set(now);
        },
    )?;
    let last_end = last_end.get();
    let end = (process_cpu_time(), Instant::now());
    measured
        .cpu
        .insert("compression", end.0.saturating_sub(last_end.0));
    measured.wall.insert("compression", end.1 - last_end.1);
    measured.jobs.insert("compression", 1);
    measured.cpu.insert("witness", between.0);
    measured.wall.insert("witness", between.1);
    measured.total_cpu = end.0.saturating_sub(cpu_start);
    measured.total_wall = end.1 - wall_start;
    measured.final_proof_bytes = run.proof.proof_bytes.len();
    Ok(measured)
}

/// The sample batch of `zkfleet prove --example` (same generator settings).
fn sample_batch(xmss_height: u32) -> Result<RealBatch, BenchError> {
    let invalid = |e: String| BenchError::Batch(format!("the sample batch: {e}"));
    let generated = generate(&GeneratorConfig {
        operations: SAMPLE_OPERATIONS,
        seed: SAMPLE_SEED,
        tree_height: xmss_height as usize,
        chain_id: ChainId(270),
        batch_number: BatchNumber(1),
        ..GeneratorConfig::default()
    })
    .map_err(|e| invalid(e.to_string()))?;
    let mut state = generated
        .genesis
        .to_memory_state()
        .map_err(|e| invalid(e.to_string()))?;
    let executed =
        execute_batch(&mut state, &generated.batch).map_err(|e| invalid(e.to_string()))?;
    Ok(RealBatch {
        generated,
        executed,
    })
}

fn summarise(
    batch: &str,
    operations: usize,
    runs: &[Measured],
    piped: &[(f64, f64, f64)],
) -> BatchCost {
    let per_op = |d: Duration| d.as_secs_f64() / operations.max(1) as f64;
    let figure = |f: &dyn Fn(&Measured) -> f64| Figure::of(runs.iter().map(f).collect());
    let rounds = ROUNDS
        .iter()
        .filter(|round| runs[0].jobs.contains_key(*round) || **round == "witness")
        .map(|round| RoundCost {
            round: (*round).to_owned(),
            jobs: runs[0].jobs.get(round).copied().unwrap_or(0),
            cpu_s: figure(&|m| m.cpu.get(round).copied().unwrap_or_default().as_secs_f64()),
            wall_s: figure(&|m| m.wall.get(round).copied().unwrap_or_default().as_secs_f64()),
            cpu_per_operation_s: figure(&|m| per_op(m.cpu.get(round).copied().unwrap_or_default())),
        })
        .collect();
    let kinds = runs[0]
        .kinds
        .iter()
        .map(|((round, circuit), (jobs, _))| {
            let key = (*round, circuit.clone());
            let means: Vec<f64> = runs
                .iter()
                .filter_map(|m| m.kinds.get(&key))
                .map(|(n, cpu)| cpu.as_secs_f64() / (*n).max(1) as f64)
                .collect();
            KindCost {
                round: round_name(*round).to_owned(),
                circuit: circuit.clone(),
                jobs: *jobs,
                cpu_per_job_s: Figure::of(means).median,
            }
        })
        .collect();
    BatchCost {
        batch: batch.to_owned(),
        operations,
        rounds,
        cpu_s: figure(&|m| m.total_cpu.as_secs_f64()),
        wall_s: figure(&|m| m.total_wall.as_secs_f64()),
        cpu_per_operation_s: figure(&|m| per_op(m.total_cpu)),
        kinds,
        final_proof_bytes: runs[0].final_proof_bytes,
        pipeline: (!piped.is_empty()).then(|| PipelineCost {
            cpu_s: Figure::of(piped.iter().map(|p| p.0).collect()),
            cpu_per_operation_s: Figure::of(
                piped
                    .iter()
                    .map(|p| p.0 / operations.max(1) as f64)
                    .collect(),
            ),
            wall_s: Figure::of(piped.iter().map(|p| p.1).collect()),
            loading_wall_s: Figure::of(piped.iter().map(|p| p.2).collect()),
        }),
    }
}

/// Prover jobs per (round, circuit) of a batch at `arity`, as `prove_sequentially_with` proves
/// it: leaves of ≤ arity basic proofs, then node levels until one node per type.
pub(crate) fn job_counts(
    batch: &RealBatch,
    proving: &ProvingConfiguration,
) -> Result<BTreeMap<(String, String), usize>, BenchError> {
    let arity = (proving.arity as usize).max(2);
    let witnesses = split_batch(&batch.executed, &proving.geometry)?;
    let mut basic: BTreeMap<CircuitId, usize> = BTreeMap::new();
    for instance in &witnesses.instances {
        *basic.entry(instance.circuit).or_default() += 1;
    }
    let mut counts = BTreeMap::new();
    let mut add = |round: AggregationRound, circuit: String, n: usize| {
        *counts
            .entry((round_name(round).to_owned(), circuit))
            .or_default() += n;
    };
    for (circuit, n) in basic {
        let name = circuit_name(AggregationRound::Basic, circuit);
        add(AggregationRound::Basic, name.clone(), n);
        let leaves = n.div_ceil(arity);
        add(AggregationRound::Leaf, name, leaves);
        let mut level = leaves;
        loop {
            level = level.div_ceil(arity);
            add(AggregationRound::Node, "node".to_owned(), level);
            if level == 1 {
                break;
            }
        }
    }
    Ok(counts)
}

/// The 1,024-operation batch from `measured`'s per-job CPU times and the big batch's job
/// counts; a kind of job the measured batch lacks makes the estimate impossible (`None`).
fn estimate(
    measured: &BatchCost,
    proving: &ProvingConfiguration,
) -> Result<Option<CostEstimate>, BenchError> {
    let big = RealBatch::generate(TARGET_OPERATIONS, 1, proving.geometry.xmss_height)?;
    let counts = job_counts(&big, proving)?;
    let mut per_round: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for ((round, circuit), jobs) in &counts {
        let Some(kind) = measured
            .kinds
            .iter()
            .find(|k| &k.round == round && &k.circuit == circuit)
        else {
            tracing::warn!(
                round,
                circuit,
                "no such job in the measured batch: no estimate"
            );
            return Ok(None);
        };
        let entry = per_round.entry(round.clone()).or_default();
        entry.0 += jobs;
        entry.1 += kind.cpu_per_job_s * *jobs as f64;
    }
    // Per-batch rounds as measured; the witness round scales with the operations.
    for round in &measured.rounds {
        let scale = match round.round.as_str() {
            "witness" => TARGET_OPERATIONS as f64 / measured.operations.max(1) as f64,
            "recursion tip" | "scheduler" | "compression" => 1.0,
            _ => continue,
        };
        per_round.insert(
            round.round.clone(),
            (round.jobs, round.cpu_s.median * scale),
        );
    }
    let rounds: Vec<EstimatedRound> = ROUNDS
        .iter()
        .filter_map(|round| per_round.get(*round).map(|f| (round, f)))
        .map(|(round, (jobs, cpu))| EstimatedRound {
            round: (*round).to_owned(),
            jobs: *jobs,
            cpu_s: *cpu,
            cpu_per_operation_s: cpu / TARGET_OPERATIONS as f64,
        })
        .collect();
    let cpu_s: f64 = rounds.iter().map(|r| r.cpu_s).sum();
    Ok(Some(CostEstimate {
        operations: TARGET_OPERATIONS,
        from_operations: measured.operations,
        rounds,
        cpu_s,
        cpu_per_operation_s: cpu_s / TARGET_OPERATIONS as f64,
    }))
}

/// Loads the circuits and proves each batch `runs` times.
pub fn run(options: &CostOptions) -> Result<CostReport, BenchError> {
    if options.runs == 0 {
        return Err(BenchError::InvalidOptions(
            "at least one run per batch".into(),
        ));
    }
    if !options.sample && options.sizes.is_empty() {
        return Err(BenchError::InvalidOptions("no batch to prove".into()));
    }
    let mut machine = machine::machine_info();
    let loaded =
        Keystore::open(&options.keys_dir).and_then(|keys| keys.batch_circuits(&options.proving))?;
    let circuits = loaded.circuits;
    let arity = options.proving.arity as usize;
    let xmss_height = options.proving.geometry.xmss_height;
    let mut batches = Vec::new();
    let mut plan: Vec<(String, usize)> = Vec::new();
    if options.sample {
        plan.push((
            "sample (zkfleet prove --example)".to_owned(),
            SAMPLE_OPERATIONS,
        ));
    }
    plan.extend(options.sizes.iter().map(|&n| ("generated".to_owned(), n)));
    for (index, (name, operations)) in plan.iter().enumerate() {
        let batch = if options.sample && index == 0 {
            sample_batch(xmss_height)?
        } else {
            RealBatch::generate(*operations, 1, xmss_height)?
        };
        let mut runs = Vec::with_capacity(options.runs);
        let mut piped = Vec::new();
        for attempt in 1..=options.runs {
            if let Some(command) = &options.pipeline {
                let label = format!("cost-{index}-{attempt}");
                let run = prove_through_pipeline(command, &batch, &label)?;
                tracing::info!(batch = %name, operations, run = attempt, cpu_s = run.0, wall_s = run.1, "cost run through the pipeline done");
                piped.push(run);
            }
            let measured = prove_once(&circuits, &batch, arity, options.cpu_prover)?;
            tracing::info!(
                batch = %name,
                operations,
                run = attempt,
                cpu_s = measured.total_cpu.as_secs_f64(),
                wall_s = measured.total_wall.as_secs_f64(),
                "cost run done"
            );
            runs.push(measured);
        }
        batches.push(summarise(name, *operations, &runs, &piped));
    }
    let estimate = match batches
        .iter()
        .filter(|b| b.batch == "generated")
        .max_by_key(|b| b.operations)
    {
        Some(largest) if largest.operations != TARGET_OPERATIONS => {
            estimate(largest, &options.proving)?
        }
        _ => None,
    };
    machine.load_average_after = machine::load_average();
    Ok(CostReport {
        machine,
        git_commit: machine::git_commit(),
        date: machine::now(),
        configuration: options.proving,
        runs: options.runs,
        circuit_loading_s: loaded.elapsed.as_secs_f64(),
        batches,
        estimate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_time_counts_this_thread_at_the_right_rate() {
        let before = process_cpu_time();
        let started = Instant::now();
        let mut x = 0u64;
        let mut spent = Duration::ZERO;
        while spent < Duration::from_millis(300) && started.elapsed() < Duration::from_secs(20) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            spent = process_cpu_time() - before;
        }
        let wall = started.elapsed();
        assert!(
            spent >= Duration::from_millis(300),
            "only {spent:?} in {wall:?}"
        );
        // One busy thread cannot burn 300 ms of CPU in much less wall time: a tick rate set
        // too low would report it early (10 ms resolution and other test threads allowed for).
        assert!(
            wall >= Duration::from_millis(200),
            "{spent:?} of CPU in {wall:?}"
        );
    }

    #[test]
    fn children_cpu_time_counts_a_waited_for_child() {
        let before = children_cpu_time();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done")
            .status()
            .expect("run sh");
        assert!(status.success());
        let spent = children_cpu_time() - before;
        assert!(
            spent >= Duration::from_millis(50),
            "the child's CPU: {spent:?}"
        );
    }
}
