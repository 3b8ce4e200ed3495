//! The `gpu-fleet` suite (issue 17, end to end): one generated batch proven by fleets of
//! separate `zkfleet` processes on one host — a CPU-only fleet, a GPU fleet, and a mixed fleet
//! where a GPU prover and a CPU prover prove jobs of the same batch — on the embedded SQLite
//! database and a local store, as the scaling suite starts its fleets ([`crate::scaling`]).
//!
//! Each run starts every process on a fresh data directory, waits until every circuit prover
//! and the compressor have loaded their circuits (`ready_s`: the keystore load, and for the GPU
//! its start), then inserts the batch; `wall_s` runs from the insertion to the successful
//! compression job. The final proof of every run is verified under the pinned final key and
//! must attest the batch's new state root, whichever provers proved its jobs. The runs
//! interleave the fleets, so that a change of load during the suite favours none.
//!
//! - **CPU only**: one circuit prover, `backend = "cpu"` (the default: zkfleet's prover with the
//!   batched hasher), `--light 4 --heavy 2`, 4 proofs in flight; the compressor follows it.
//! - **GPU**: one circuit prover, `backend = "gpu"`, `--light 8 --heavy 4`, 4 proofs in flight;
//!   the compressor on the same card.
//! - **GPU + CPU**: a GPU prover with light generators only (`--heavy 0`) and a CPU prover with
//!   heavy generators only (`--light 0`): every heavy job (basic signature verification) can
//!   only be proven on the CPU, and the run fails unless each prover proved jobs of the batch
//!   and every heavy job was the CPU prover's (`picked_by` ends in its process ID).
//!
//! A fleet with a GPU fails when its GPU prover or its compressor did not start on a card (each
//! falls back to the CPU where no GPU is usable, and says so): the suite measures cards, not the
//! fallback. [`GpuFleetOptions::require_gpu`] off lets the suite's own test run the same fleets
//! on a host without one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkfleet_circuits::ProvingConfiguration;
use zkfleet_dal::BatchStatus;
use zkfleet_types::{AggregationRound, CircuitId};

use crate::environment::DatabaseBackend;
use crate::error::BenchError;
use crate::figure::Figure;
use crate::machine;
use crate::report::MachineInfo;
use crate::scaling::{self, FleetRun, FleetSetup, PreparedBatch, ProverProcess};

/// Operations of the full suite's batch: issue 17's end-to-end batch.
pub const FULL_OPERATIONS: usize = 1024;
/// The quick suite's batch.
pub const QUICK_OPERATIONS: usize = 4;
/// What each process with `backend = "gpu"` logs when it proves on a card: the circuit prover
/// (`zkfleet_circuit_prover::backend`) and the compressor (`zkfleet_compressor::backend`).
const ON_THE_GPU: [(&str, &str); 2] = [
    ("circuit-prover-gpu", "batch commitments on the GPU"),
    (
        "compressor",
        "compressing with the zkfleet prover on the GPU",
    ),
];

/// Which processes prove the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FleetKind {
    /// One circuit prover on the CPU.
    CpuOnly,
    /// One circuit prover on the GPU.
    Gpu,
    /// A GPU prover for light jobs and a CPU prover for heavy ones.
    GpuAndCpu,
}

/// The suite's fleets, in the order each run measures them.
pub const FLEETS: [FleetKind; 3] = [FleetKind::CpuOnly, FleetKind::Gpu, FleetKind::GpuAndCpu];

impl FleetKind {
    /// The fleet in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::CpuOnly => "CPU only: 1 prover (cpu, 4 light + 2 heavy generators)",
            Self::Gpu => "GPU: 1 prover (gpu, 8 light + 4 heavy generators)",
            Self::GpuAndCpu => {
                "GPU + CPU: a gpu prover (8 light generators) and a cpu prover (2 heavy)"
            }
        }
    }

    /// Whether a prover of this fleet proves on a card.
    fn uses_gpu(self) -> bool {
        self != Self::CpuOnly
    }

    /// The `[circuit_prover]` section (the compressor follows its `backend`).
    fn config_section(self) -> String {
        let backend = if self.uses_gpu() { "gpu" } else { "cpu" };
        format!("\n[circuit_prover]\nbackend = \"{backend}\"\nconcurrent_proofs = 4\n")
    }

    fn provers(self) -> Vec<ProverProcess> {
        let prover = |name: &str, args: &[&str]| ProverProcess {
            name: format!("circuit-prover-{name}"),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            threads: 0,
        };
        match self {
            Self::CpuOnly => vec![prover("cpu", &["--light", "4", "--heavy", "2"])],
            Self::Gpu => vec![prover("gpu", &["--light", "8", "--heavy", "4"])],
            Self::GpuAndCpu => vec![
                prover("gpu", &["--light", "8", "--heavy", "0"]),
                prover("cpu", &["--backend", "cpu", "--light", "0", "--heavy", "2"]),
            ],
        }
    }
}

/// What the suite measures.
#[derive(Debug, Clone)]
pub struct GpuFleetOptions {
    /// The executable, configuration and keystore of every run.
    pub setup: FleetSetup,
    /// Operations of the generated batch.
    pub operations: usize,
    /// The fleets measured.
    pub fleets: Vec<FleetKind>,
    /// Runs per fleet.
    pub runs: usize,
    /// Longest one run may take before it is stopped as failed.
    pub run_limit: Duration,
    /// Fail a fleet whose GPU prover did not start on a card (the suite: on; its test on a
    /// host without a card: off, the fallback then proves on the CPU).
    pub require_gpu: bool,
    /// Holds the batch files, each fleet's configuration and each run's data directory.
    pub work_dir: PathBuf,
}

/// What the suite measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuFleetReport {
    /// The machine, with its load before and after.
    pub machine: MachineInfo,
    /// The commit the binary was built from.
    pub git_commit: String,
    /// When the suite ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The proving configuration of the circuits.
    pub configuration: ProvingConfiguration,
    /// Operations of the generated batch.
    pub operations: usize,
    /// Prover jobs of the batch (every round).
    pub prover_jobs: usize,
    /// Runs per fleet.
    pub runs: usize,
    /// One per fleet.
    pub cells: Vec<GpuFleetCell>,
}

/// One fleet's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuFleetCell {
    /// Which fleet.
    pub fleet: FleetKind,
    /// The fleet in words.
    pub description: String,
    /// Start of the first process to every prover and the compressor ready (s).
    pub ready_s: Figure,
    /// Insertion to the successful compression job (s).
    pub wall_s: Figure,
    /// Insertion to the scheduler proof (s).
    pub provers_wall_s: Figure,
    /// The CPU-only fleet's median `wall_s` ÷ this fleet's (absent without a CPU-only cell).
    pub speedup: Option<f64>,
    /// Per circuit prover of the last run: its name and the prover jobs it proved.
    pub jobs_by_prover: Vec<(String, usize)>,
}

/// Proves the batch `runs` times with every fleet.
pub fn run(
    options: &GpuFleetOptions,
    runtime: &tokio::runtime::Runtime,
) -> Result<GpuFleetReport, BenchError> {
    if options.runs == 0 || options.fleets.is_empty() {
        return Err(BenchError::InvalidOptions(
            "the gpu-fleet suite needs a fleet and at least one run".into(),
        ));
    }
    let mut machine = machine::machine_info();
    let setup = &options.setup;
    let batch = PreparedBatch::prepare(setup, options.operations, &options.work_dir)?;
    let mut configs = Vec::with_capacity(options.fleets.len());
    for fleet in &options.fleets {
        let dir = options.work_dir.join(format!("config-{}", slug(*fleet)));
        configs.push(scaling::write_config(
            &dir,
            &setup.proving_config_toml,
            &fleet.config_section(),
        )?);
    }
    let mut measured: Vec<Vec<scaling::Measured>> =
        options.fleets.iter().map(|_| Vec::new()).collect();
    let mut jobs_by_prover: Vec<Vec<(String, usize)>> = vec![Vec::new(); options.fleets.len()];
    for attempt in 1..=options.runs {
        for (i, (fleet, config)) in options.fleets.iter().zip(&configs).enumerate() {
            let run_dir = options
                .work_dir
                .join(format!("data-{}-{attempt}", slug(*fleet)));
            let run = FleetRun {
                label: fleet.describe().to_owned(),
                config,
                witness_generators: 1,
                provers: fleet.provers(),
            };
            let result = runtime.block_on(scaling::prove_once(
                setup,
                options.run_limit,
                &DatabaseBackend::Sqlite,
                &run,
                &batch.files,
                &run_dir,
            ));
            // The logs are read before the data directory goes.
            let checked = result.and_then(|m| {
                if options.require_gpu && fleet.uses_gpu() {
                    check_on_the_gpu(&run_dir, &run.label)?;
                }
                batch.check(&m.final_proof, &run.label)?;
                let jobs = jobs_by(&m)?;
                if *fleet == FleetKind::GpuAndCpu {
                    check_mixed(&m.status, &m.prover_pids, &jobs, &run.label)?;
                }
                Ok((m, jobs))
            });
            let removed = std::fs::remove_dir_all(&run_dir);
            let (m, jobs) = checked?;
            removed.map_err(|e| BenchError::io(format!("removing {}", run_dir.display()), e))?;
            tracing::info!(
                fleet = %run.label,
                run = attempt,
                ready_s = m.ready_s,
                wall_s = m.wall_s,
                ?jobs,
                "gpu-fleet run done"
            );
            jobs_by_prover[i] = jobs;
            measured[i].push(m);
        }
    }
    let prover_jobs = measured
        .first()
        .and_then(|runs| runs.first())
        .map_or(0, |m| m.prover_jobs);
    let figure = |runs: &[scaling::Measured], f: fn(&scaling::Measured) -> f64| {
        Figure::of(runs.iter().map(f).collect())
    };
    let cpu_only = options
        .fleets
        .iter()
        .position(|f| *f == FleetKind::CpuOnly)
        .map(|i| figure(&measured[i], |m| m.wall_s).median);
    let cells = options
        .fleets
        .iter()
        .zip(measured)
        .zip(jobs_by_prover)
        .map(|((fleet, runs), jobs)| {
            let wall_s = figure(&runs, |m| m.wall_s);
            GpuFleetCell {
                fleet: *fleet,
                description: fleet.describe().to_owned(),
                ready_s: figure(&runs, |m| m.ready_s),
                provers_wall_s: figure(&runs, |m| m.provers_wall_s),
                speedup: cpu_only.map(|cpu| cpu / wall_s.median.max(1e-9)),
                wall_s,
                jobs_by_prover: jobs,
            }
        })
        .collect();
    machine.load_average_after = machine::load_average();
    Ok(GpuFleetReport {
        machine,
        git_commit: machine::git_commit(),
        date: machine::now(),
        configuration: setup.proving,
        operations: options.operations,
        prover_jobs,
        runs: options.runs,
        cells,
    })
}

fn slug(fleet: FleetKind) -> &'static str {
    match fleet {
        FleetKind::CpuOnly => "cpu-only",
        FleetKind::Gpu => "gpu",
        FleetKind::GpuAndCpu => "gpu-and-cpu",
    }
}

/// The run's GPU prover and its compressor started on a card: the fallback to the CPU (each
/// says so at start) is not what this suite measures.
fn check_on_the_gpu(run_dir: &Path, label: &str) -> Result<(), BenchError> {
    for (process, line) in ON_THE_GPU {
        let log = run_dir.join(format!("{process}.log"));
        let text = std::fs::read_to_string(&log)
            .map_err(|e| BenchError::io(format!("reading {}", log.display()), e))?;
        if !text.contains(line) {
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            return Err(BenchError::Inconsistent(format!(
                "{label}: {process} did not start on a card (no \"{line}\" in its log); its \
                 log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )));
        }
    }
    Ok(())
}

/// The prover jobs each circuit prover proved: a job's `picked_by` is `circuit-prover@HOST-PID`
/// (the default), and every prover job of the batch must name one of the run's provers.
fn jobs_by(m: &scaling::Measured) -> Result<Vec<(String, usize)>, BenchError> {
    let mut counts: Vec<(String, usize)> = m
        .prover_pids
        .iter()
        .map(|(name, _)| (name.clone(), 0))
        .collect();
    for job in m.status.rounds.iter().flat_map(|r| &r.prover_jobs) {
        let owner = m
            .prover_pids
            .iter()
            .position(|(_, pid)| picked_by_pid(job.picked_by.as_deref(), *pid));
        match owner {
            Some(i) => counts[i].1 += 1,
            None => {
                return Err(BenchError::Inconsistent(format!(
                    "prover job {} was picked by {:?}, none of the run's provers",
                    job.job, job.picked_by
                )))
            }
        }
    }
    Ok(counts)
}

fn picked_by_pid(picked_by: Option<&str>, pid: u32) -> bool {
    picked_by.is_some_and(|p| p.ends_with(&format!("-{pid}")))
}

/// The mixed fleet's point: both provers proved jobs of the batch, and every heavy job (basic
/// signature verification, the default heavy set) was the CPU prover's.
fn check_mixed(
    status: &BatchStatus,
    pids: &[(String, u32)],
    jobs: &[(String, usize)],
    label: &str,
) -> Result<(), BenchError> {
    if let Some((name, _)) = jobs.iter().find(|(_, n)| *n == 0) {
        return Err(BenchError::Inconsistent(format!(
            "{label}: {name} proved no job of the batch ({jobs:?})"
        )));
    }
    let cpu = pids
        .iter()
        .find(|(name, _)| name.ends_with("-cpu"))
        .map(|(_, pid)| *pid)
        .ok_or_else(|| BenchError::Inconsistent(format!("{label}: no CPU prover")))?;
    let heavy: Vec<_> = status.rounds[AggregationRound::Basic as usize]
        .prover_jobs
        .iter()
        .filter(|j| j.circuit_id == Some(CircuitId::SIGNATURE_VERIFICATION))
        .collect();
    if heavy.is_empty() {
        return Err(BenchError::Inconsistent(format!(
            "{label}: the batch has no heavy job, so the fleet shows nothing"
        )));
    }
    if let Some(job) = heavy
        .iter()
        .find(|j| !picked_by_pid(j.picked_by.as_deref(), cpu))
    {
        return Err(BenchError::Inconsistent(format!(
            "{label}: heavy job {} was picked by {:?}, not the CPU prover",
            job.job, job.picked_by
        )));
    }
    Ok(())
}

/// The suite's section of docs/benchmarks.md.
pub fn section(report: &GpuFleetReport, command: &str, json_name: &str) -> String {
    let mut s = format!(
        "Command: `{command}` on {} cores ({}), commit {}, {}; a generated batch of {} \
         operations ({} prover jobs), each fleet of separate processes on the embedded SQLite \
         database; {} runs per fleet, interleaved, medians (min–max); figures in \
         `{json_name}`.\n\n",
        report.machine.cores,
        report.machine.cpu_model,
        report.git_commit,
        report.date,
        report.operations,
        report.prover_jobs,
        report.runs,
    );
    s.push_str(
        "| fleet | ready (s) | insertion → final proof (s) | → scheduler proof (s) | vs CPU only | \
         prover jobs by prover (last run) |\n|---|---|---|---|---|---|\n",
    );
    for c in &report.cells {
        let jobs: Vec<String> = c
            .jobs_by_prover
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.description,
            c.ready_s.display(1),
            c.wall_s.display(2),
            c.provers_wall_s.display(2),
            c.speedup.map_or("–".to_owned(), |x| format!("{x:.2}x")),
            jobs.join(", "),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mixed_fleet_splits_light_and_heavy_work() {
        let provers = FleetKind::GpuAndCpu.provers();
        assert_eq!(provers.len(), 2);
        assert!(provers[0].args.windows(2).any(|w| w == ["--heavy", "0"]));
        assert!(provers[1].args.windows(2).any(|w| w == ["--light", "0"]));
        assert!(provers[1]
            .args
            .windows(2)
            .any(|w| w == ["--backend", "cpu"]));
        assert!(FleetKind::Gpu
            .config_section()
            .contains("backend = \"gpu\""));
        assert!(FleetKind::CpuOnly
            .config_section()
            .contains("backend = \"cpu\""));
    }

    #[test]
    fn a_process_that_fell_back_to_the_cpu_fails_the_run() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |process: &str, text: &str| {
            std::fs::write(dir.path().join(format!("{process}.log")), text).expect("write")
        };
        let on_the_card = [
            "INFO proving with the zkfleet prover, batch commitments on the GPU\n",
            "INFO compressing with the zkfleet prover on the GPU\n",
        ];
        write("circuit-prover-gpu", on_the_card[0]);
        write("compressor", on_the_card[1]);
        check_on_the_gpu(dir.path(), "GPU").expect("both on the card");
        write(
            "circuit-prover-gpu",
            "WARN backend gpu requested but no GPU is usable here: proving on the CPU\n",
        );
        let err = check_on_the_gpu(dir.path(), "GPU").expect_err("the prover fell back");
        assert!(
            err.to_string().contains("circuit-prover-gpu did not start"),
            "{err}"
        );
        write("circuit-prover-gpu", on_the_card[0]);
        write(
            "compressor",
            "WARN backend gpu requested but no GPU is usable here: compressing on the CPU\n",
        );
        let err = check_on_the_gpu(dir.path(), "GPU").expect_err("the compressor fell back");
        assert!(
            err.to_string().contains("compressor did not start"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("compressor.log")).expect("remove");
        assert!(
            check_on_the_gpu(dir.path(), "GPU").is_err(),
            "no log at all"
        );
    }

    #[test]
    fn jobs_are_attributed_by_the_pid_suffix() {
        assert!(picked_by_pid(Some("circuit-prover@host-42"), 42));
        assert!(!picked_by_pid(Some("circuit-prover@host-142"), 42));
        assert!(!picked_by_pid(Some("circuit-prover@host-421"), 42));
        assert!(!picked_by_pid(None, 42));
    }
}
