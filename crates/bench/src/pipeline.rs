//! Pipeline efficiency (issue #7, item 3): a real batch proven through the fleet — `zkfleet
//! prove`: witness generator, circuit prover and compressor coordinating through the job
//! database and the object store — against the same batch proven job by job in isolation.
//!
//! efficiency = (sum of the isolated proving times of the batch's jobs ÷ provers) ÷ the
//! pipeline's wall time for the batch (from insertion to the final proof; loading the circuits
//! excluded). One circuit prover proves one job at a time on every core, so provers = 1.
//!
//! Each run proves the batch in isolation first (`pipeline::prove_sequentially` in this
//! process; the circuits are dropped afterwards so that the pipeline's process has the machine
//! and its memory to itself), then, on each backend, runs `zkfleet prove` as a child process on
//! a fresh data directory — the embedded SQLite file, or a fresh database on a PostgreSQL
//! server — and checks its final proof under the final verifying key. The backends of one run
//! share its isolated sum.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use zkfleet_circuits::pipeline::{prove_sequentially, FinalVerifyingKey, PipelineError};
use zkfleet_circuits::{Keystore, ProvingConfiguration};

use crate::environment::{DatabaseBackend, PostgresDatabase};
use crate::error::BenchError;
use crate::figure::Figure;
use crate::machine;
use crate::real_batch::{BatchFiles, RealBatch};
use crate::report::MachineInfo;

/// The target of issue #7: efficiency ≥ 0.90 on the 1,024-operation batch.
pub const TARGET_EFFICIENCY: f64 = 0.90;
/// The batch size the target is about.
pub const TARGET_OPERATIONS: usize = 1024;
/// Circuit provers of `zkfleet prove` (one, proving one job at a time with every core).
const PROVERS: usize = 1;

/// What [`run`] measures.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// The `zkfleet` executable whose `prove` command is measured.
    pub zkfleet: PathBuf,
    /// A configuration file holding only the `[proving]` section of `proving` (with an
    /// absolute `keys_dir`): the child process reads nothing else, so the user's database or
    /// store settings cannot leak into the measurement.
    pub proving_config_toml: String,
    /// The proving configuration of the circuits (the same as `proving_config_toml`'s).
    pub proving: ProvingConfiguration,
    /// The keystore the circuits are loaded from (built on a miss).
    pub keys_dir: PathBuf,
    /// Operations per batch, one batch per size.
    pub sizes: Vec<usize>,
    /// Each job database `zkfleet prove` runs on.
    pub backends: Vec<DatabaseBackend>,
    /// Runs per (size, backend) cell.
    pub runs: usize,
    /// Holds the batch files and each run's data directory (removed after the run).
    pub work_dir: PathBuf,
}

/// What the suite measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineReport {
    /// The machine, with its load before and after.
    pub machine: MachineInfo,
    /// The commit the binary was built from.
    pub git_commit: String,
    /// When the suite ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The proving configuration of the circuits.
    pub configuration: ProvingConfiguration,
    /// How `zkfleet prove` ran.
    pub fleet: String,
    /// Runs per cell.
    pub runs: usize,
    /// One per (batch size, backend).
    pub cells: Vec<PipelineCell>,
    /// Where the efficiency target stands.
    pub target: EfficiencyTarget,
}

/// One batch size on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineCell {
    /// Rollup operations of the batch.
    pub operations: usize,
    /// The job database: `sqlite` or `postgresql`.
    pub backend: String,
    /// Prover jobs and the compression job of the batch.
    pub jobs: usize,
    /// Sum of the batch's jobs proven one by one in isolation (s).
    pub isolated_sum_s: Figure,
    /// Insertion to final proof in `zkfleet prove` (s).
    pub pipeline_wall_s: Figure,
    /// Loading the circuits in `zkfleet prove`, excluded from its wall time (s).
    pub circuit_loading_s: Figure,
    /// Circuit provers of `zkfleet prove` (one, on every core).
    pub provers: usize,
    /// Per run: (isolated ÷ provers) ÷ pipeline wall.
    pub efficiency: Figure,
}

/// Where the ≥ 0.90 target stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EfficiencyTarget {
    /// The efficiency the target asks for.
    pub target_efficiency: f64,
    /// The batch size the target is about.
    pub operations: usize,
    /// `None` when the 1,024-operation batch was not measured.
    pub met: Option<bool>,
    /// Lowest median efficiency of the 1,024-operation batch over the backends measured.
    pub worst_median: Option<f64>,
}

/// Proves each size `runs` times in isolation and through `zkfleet prove` on each backend.
pub fn run(
    options: &PipelineOptions,
    runtime: &tokio::runtime::Runtime,
) -> Result<PipelineReport, BenchError> {
    if options.runs == 0 || options.sizes.is_empty() || options.backends.is_empty() {
        return Err(BenchError::InvalidOptions(
            "the pipeline suite needs a batch size, a backend and at least one run".into(),
        ));
    }
    let mut machine = machine::machine_info();
    create_dir(&options.work_dir)?;
    let config = options.work_dir.join("zkfleet.toml");
    std::fs::write(&config, &options.proving_config_toml)
        .map_err(|e| BenchError::io(format!("writing {}", config.display()), e))?;
    let mut cells = Vec::new();
    for (i, &operations) in options.sizes.iter().enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let batch = RealBatch::generate(operations, number, options.proving.geometry.xmss_height)?;
        let files = batch.write(&options.work_dir.join(format!("batch-{operations}")))?;
        // Run by run: the batch in isolation once, then through the pipeline on each backend.
        // The isolated sum is the batch's, whatever database the pipeline uses, and proving it
        // again per backend would double the suite's time (~10 min at 1,024 operations).
        let mut runs_per_backend: Vec<Vec<PairedRun>> =
            options.backends.iter().map(|_| Vec::new()).collect();
        for attempt in 1..=options.runs {
            let isolated = prove_in_isolation(options, &batch)?;
            for (backend, runs) in options.backends.iter().zip(&mut runs_per_backend) {
                let piped = runtime.block_on(prove_through_pipeline(
                    options, backend, &config, &files, attempt,
                ))?;
                let output = isolated
                    .final_key
                    .verify(&piped.final_proof)
                    .map_err(PipelineError::from)?;
                if output.new_state_root != batch.executed.public_output.new_state_root {
                    return Err(BenchError::Inconsistent(format!(
                        "the pipeline's final proof of {operations} operations attests another \
                         state root than the batch's"
                    )));
                }
                let efficiency = isolated.sum_s / PROVERS as f64 / piped.wall_s;
                tracing::info!(
                    operations,
                    backend = backend.name(),
                    run = attempt,
                    isolated_s = isolated.sum_s,
                    pipeline_s = piped.wall_s,
                    efficiency,
                    "pipeline run done"
                );
                runs.push(PairedRun {
                    isolated_sum_s: isolated.sum_s,
                    jobs: isolated.jobs,
                    piped,
                    efficiency,
                });
            }
        }
        for (backend, runs) in options.backends.iter().zip(runs_per_backend) {
            cells.push(PipelineCell {
                operations,
                backend: backend.name().to_owned(),
                jobs: runs.first().map_or(0, |r| r.jobs),
                isolated_sum_s: Figure::of(runs.iter().map(|r| r.isolated_sum_s).collect()),
                pipeline_wall_s: Figure::of(runs.iter().map(|r| r.piped.wall_s).collect()),
                circuit_loading_s: Figure::of(runs.iter().map(|r| r.piped.loading_s).collect()),
                provers: PROVERS,
                efficiency: Figure::of(runs.iter().map(|r| r.efficiency).collect()),
            });
        }
    }
    machine.load_average_after = machine::load_average();
    let target = EfficiencyTarget::assess(&cells);
    Ok(PipelineReport {
        machine,
        git_commit: machine::git_commit(),
        date: machine::now(),
        configuration: options.proving,
        fleet: "zkfleet prove: 1 circuit prover with 1 light + 1 heavy witness-vector \
                generator, all witness rounds and the compressor in one process; local store"
            .to_owned(),
        runs: options.runs,
        cells,
        target,
    })
}

struct IsolatedRun {
    sum_s: f64,
    jobs: usize,
    final_key: FinalVerifyingKey,
}

/// The batch job by job in this process; the circuits are dropped on return.
fn prove_in_isolation(
    options: &PipelineOptions,
    batch: &RealBatch,
) -> Result<IsolatedRun, BenchError> {
    let loaded =
        Keystore::open(&options.keys_dir).and_then(|keys| keys.batch_circuits(&options.proving))?;
    let arity = options.proving.arity as usize;
    let run = prove_sequentially(&loaded.circuits, &batch.executed, arity, |job| {
        tracing::debug!(round = %job.round, circuit = %job.circuit, seconds = job.elapsed.as_secs_f64(), "isolated job");
    })?;
    Ok(IsolatedRun {
        sum_s: run.isolated_sum().as_secs_f64(),
        // Every prover job and the compression job.
        jobs: run.jobs.len() + 1,
        final_key: FinalVerifyingKey::of(&loaded.circuits).map_err(PipelineError::from)?,
    })
}

/// One run on one backend: the isolated sum it is compared with, and the pipeline's run.
struct PairedRun {
    isolated_sum_s: f64,
    jobs: usize,
    piped: PipelineRun,
    efficiency: f64,
}

struct PipelineRun {
    wall_s: f64,
    loading_s: f64,
    final_proof: Vec<u8>,
}

/// `zkfleet prove` on a fresh data directory (and a fresh database on PostgreSQL).
async fn prove_through_pipeline(
    options: &PipelineOptions,
    backend: &DatabaseBackend,
    config: &Path,
    files: &BatchFiles,
    attempt: usize,
) -> Result<PipelineRun, BenchError> {
    let data_dir = files
        .batch
        .with_file_name(format!("data-{}-{attempt}", backend.name()));
    let database = match backend {
        DatabaseBackend::Sqlite => None,
        DatabaseBackend::Postgres { server_url } => {
            Some(PostgresDatabase::create(server_url, "pipeline").await?)
        }
    };
    let mut command = Command::new(&options.zkfleet);
    command
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("prove")
        .arg(&files.batch)
        .arg("--genesis")
        .arg(&files.genesis);
    // Only what this suite sets reaches the child: no configuration, database or data
    // directory of the calling environment.
    for var in [
        "ZKFLEET_CONFIG",
        "ZKFLEET_DATABASE_URL",
        "ZKFLEET_DATABASE_URL_FILE",
        "ZKFLEET_DATA_DIR",
        "ZKFLEET_CHAIN_ID",
    ] {
        command.env_remove(var);
    }
    if let Some(database) = &database {
        command.env("ZKFLEET_DATABASE_URL", database.url());
    }
    let output = tokio::task::block_in_place(|| command.output())
        .map_err(|e| BenchError::io(format!("running {}", options.zkfleet.display()), e));
    // The final proof lives in the data directory: read it before the directory goes.
    let result = output
        .and_then(|output| parse_prove_output(&output))
        .and_then(|(loading_s, total_s, proof_path)| {
            let final_proof = std::fs::read(&proof_path)
                .map_err(|e| BenchError::io(format!("reading {}", proof_path.display()), e))?;
            Ok((loading_s, total_s, final_proof))
        });
    if let Some(database) = database {
        database.drop_database().await?;
    }
    let removed = std::fs::remove_dir_all(&data_dir);
    let (loading_s, total_s, final_proof) = result?;
    removed.map_err(|e| BenchError::io(format!("removing {}", data_dir.display()), e))?;
    Ok(PipelineRun {
        wall_s: total_s - loading_s,
        loading_s,
        final_proof,
    })
}

/// (circuit loading s, total s, final proof path) from `zkfleet prove`'s output.
fn parse_prove_output(output: &std::process::Output) -> Result<(f64, f64, PathBuf), BenchError> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failed = |reason: &str| BenchError::ZkfleetProve {
        reason: reason.to_owned(),
        output: format!("{stdout}\n{stderr}"),
    };
    if !output.status.success() {
        return Err(failed(&format!(
            "zkfleet prove exited with {}",
            output.status
        )));
    }
    let loading = number_after(&stderr, "circuits ready in ")
        .ok_or_else(|| failed("no \"circuits ready in\" line"))?;
    let total =
        number_after(&stdout, " proven in ").ok_or_else(|| failed("no \"proven in\" line"))?;
    let proof = stdout
        .lines()
        .find_map(|l| l.strip_prefix("final proof:"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(PathBuf::from)
        .ok_or_else(|| failed("no \"final proof:\" line"))?;
    Ok((loading, total, proof))
}

/// The number after `marker` in `text` ("proven in 123.4 s" → 123.4).
fn number_after(text: &str, marker: &str) -> Option<f64> {
    text.split(marker)
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn create_dir(dir: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))
}

impl EfficiencyTarget {
    /// Judges the target on the worst backend's median efficiency at the target's batch size.
    pub fn assess(cells: &[PipelineCell]) -> Self {
        let worst_median = cells
            .iter()
            .filter(|c| c.operations == TARGET_OPERATIONS)
            .map(|c| c.efficiency.median)
            .min_by(f64::total_cmp);
        Self {
            target_efficiency: TARGET_EFFICIENCY,
            operations: TARGET_OPERATIONS,
            met: worst_median.map(|e| e >= TARGET_EFFICIENCY),
            worst_median,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::number_after;

    #[test]
    fn reads_the_figures_of_zkfleet_prove() {
        let out = "batch 1 of chain 270 proven in 100.4 s\nfinal proof: x (1 bytes)";
        assert_eq!(number_after(out, " proven in "), Some(100.4));
        assert_eq!(
            number_after("circuits ready in 3.5 s (0 of 4", "circuits ready in "),
            Some(3.5)
        );
        assert_eq!(number_after(out, "absent"), None);
    }
}
