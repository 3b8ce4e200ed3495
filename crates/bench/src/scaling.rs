//! Scaling (issue #7, item 6): the same real batch proven by a fleet of separate processes —
//! witness generators, circuit provers and a compressor, as an operator starts them —
//! coordinating through one job database and one object store, with 1 and 2 circuit-prover
//! processes and 1 and 2 witness generators.
//!
//! Each circuit prover's thread pool is sized (`RAYON_NUM_THREADS`) so that the layouts go from
//! one core busy to every core busy: one single-threaded prover, two single-threaded provers,
//! one prover on every core, two provers on every core. Throughput should grow with provers
//! while cores are idle and stop growing once they are full; the report says whether it does.
//!
//! A run starts every process on a fresh data directory (the embedded SQLite file, or a fresh
//! database on a PostgreSQL server, and a local store), waits until each circuit prover and the
//! compressor have loaded their circuits, then inserts the batch: the wall time runs from the
//! insertion to the successful compression job, so circuit loading is not in it. The final
//! proof is verified under the final verifying key and must attest the batch's new state root.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zkfleet_circuits::pipeline::{FinalVerifyingKey, PipelineError};
use zkfleet_circuits::{Keystore, ProvingConfiguration};
use zkfleet_dal::{BatchStatus, Dal};
use zkfleet_store::{ObjectKey, Store, StoreConfig};
use zkfleet_types::api::FinalProof;
use zkfleet_types::{BatchNumber, ChainId, JobStatus, L1BatchId, ProtocolSemanticVersion};

use crate::environment::{DatabaseBackend, PostgresDatabase};
use crate::error::BenchError;
use crate::figure::Figure;
use crate::machine;
use crate::real_batch::RealBatch;
use crate::report::MachineInfo;

/// The chain of every generated batch ([`RealBatch`]) and the number the suite gives its one.
const CHAIN: ChainId = ChainId(270);
const BATCH: BatchNumber = BatchNumber(1);
/// How often a run looks at the batch's jobs.
const POLL: Duration = Duration::from_millis(200);

/// Which processes prove the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// `zkfleet witness-generator --all-rounds` processes.
    pub witness_generators: usize,
    /// `zkfleet circuit-prover` processes.
    pub provers: usize,
    /// Each prover's proving thread pool (`RAYON_NUM_THREADS`); 0: one thread per core.
    pub threads_per_prover: usize,
}

impl Layout {
    const fn new(witness_generators: usize, provers: usize, threads_per_prover: usize) -> Self {
        Self {
            witness_generators,
            provers,
            threads_per_prover,
        }
    }

    /// "2 provers × 1 thread, 1 witness generator".
    pub fn describe(&self) -> String {
        let threads = match self.threads_per_prover {
            0 => "every core".to_owned(),
            1 => "1 thread".to_owned(),
            n => format!("{n} threads"),
        };
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "{} × {threads}, {}",
            plural(self.provers, "prover", "provers"),
            plural(
                self.witness_generators,
                "witness generator",
                "witness generators"
            )
        )
    }

    /// The processes of this layout, reading `config`.
    fn fleet_run<'a>(&self, config: &'a Path) -> FleetRun<'a> {
        FleetRun {
            label: self.describe(),
            config,
            witness_generators: self.witness_generators,
            provers: (0..self.provers)
                .map(|i| ProverProcess {
                    name: format!("circuit-prover-{i}"),
                    args: Vec::new(),
                    threads: self.threads_per_prover,
                })
                .collect(),
        }
    }
}

/// One `zkfleet circuit-prover` process of a fleet run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProverProcess {
    /// Its name in the run (its log is `DATA_DIR/NAME.log`); starts with `circuit-prover`.
    pub(crate) name: String,
    /// Its flags after `circuit-prover` (`--backend gpu`, `--light 8`, …).
    pub(crate) args: Vec<String>,
    /// Its proving thread pool (`RAYON_NUM_THREADS`); 0: one thread per core.
    pub(crate) threads: usize,
}

/// What one fleet run starts: witness generators (`--all-rounds`), circuit provers and one
/// compressor, every process reading the configuration file `config`.
pub(crate) struct FleetRun<'a> {
    /// The fleet in words, for errors and logs.
    pub(crate) label: String,
    /// The configuration file every process reads.
    pub(crate) config: &'a Path,
    /// `zkfleet witness-generator --all-rounds` processes.
    pub(crate) witness_generators: usize,
    /// The circuit provers.
    pub(crate) provers: Vec<ProverProcess>,
}

/// The full suite's layouts: provers 1 → 2 with one thread each (cores idle → full), then on
/// every core (full → oversubscribed), then a second witness generator beside two provers.
pub const FULL_LAYOUTS: [Layout; 5] = [
    Layout::new(1, 1, 1),
    Layout::new(1, 2, 1),
    Layout::new(1, 1, 0),
    Layout::new(1, 2, 0),
    Layout::new(2, 2, 1),
];
/// The quick suite's: one and two provers on every core (a smoke run: single-threaded provers
/// take twice as long, and the quick batch is too small to show scaling anyway).
pub const QUICK_LAYOUTS: [Layout; 2] = [Layout::new(1, 1, 0), Layout::new(1, 2, 0)];

/// Every component's idle wait in the suite's fleet (`[polling]`, first and longest, in ms):
/// `zkfleet prove`'s. The fleet's defaults (1–5 s, the compressor up to 10 s) are paid at each
/// of the batch's round transitions, and with one batch in flight that fixed latency, not the
/// provers, decided the phase: on 2026-12-02 two single-threaded provers were only
/// 1.27× (SQLite) / 1.02× (PostgreSQL) one, at half the machine's CPU. Scaling is about what
/// more provers add, so the suite polls as a fleet tuned for one batch at a time would.
pub const IDLE_BACKOFF_MS: (u64, u64) = (50, 250);

/// The `[polling]` section of the suite's configuration: [`IDLE_BACKOFF_MS`] for every
/// component.
fn polling_section() -> String {
    let (initial, max) = IDLE_BACKOFF_MS;
    ["witness_generator", "circuit_prover", "compressor"]
        .iter()
        .map(|component| {
            format!("\n[polling.{component}]\ninitial_ms = {initial}\nmax_ms = {max}\n")
        })
        .collect()
}

/// What every fleet of a suite (scaling, gpu-fleet) is started from.
#[derive(Debug, Clone)]
pub struct FleetSetup {
    /// The `zkfleet` executable whose components are started.
    pub zkfleet: PathBuf,
    /// A configuration file holding only the `[proving]` section of `proving` (absolute
    /// `keys_dir`); the suite adds its `[polling]` section (and the gpu-fleet suite its
    /// `[circuit_prover]`), and the processes read nothing else.
    pub proving_config_toml: String,
    /// The proving configuration of the circuits (the same as `proving_config_toml`'s).
    pub proving: ProvingConfiguration,
    /// The protocol version the batch is inserted and proven under.
    pub protocol_version: ProtocolSemanticVersion,
    /// The keystore the circuits are loaded from (built on a miss).
    pub keys_dir: PathBuf,
}

/// What [`run`] measures.
#[derive(Debug, Clone)]
pub struct ScalingOptions {
    /// The executable, configuration and keystore of every run.
    pub setup: FleetSetup,
    /// Operations of the generated batch.
    pub operations: usize,
    /// Each layout of processes measured.
    pub layouts: Vec<Layout>,
    /// Each job database measured.
    pub backends: Vec<DatabaseBackend>,
    /// Runs per (layout, backend) cell.
    pub runs: usize,
    /// Longest one run may take before it is stopped as failed.
    pub run_limit: Duration,
    /// Holds the batch files and each run's data directory (removed after the run).
    pub work_dir: PathBuf,
}

/// What the suite measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingReport {
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
    /// Prover jobs of the batch (every round), and the compression job besides.
    pub prover_jobs: usize,
    /// Runs per cell.
    pub runs: usize,
    /// Every component's idle wait (first, longest; ms). Absent in reports measured before
    /// the suite set it: the components' defaults.
    #[serde(default)]
    pub idle_backoff_ms: Option<(u64, u64)>,
    /// One per (layout, backend).
    pub cells: Vec<ScalingCell>,
}

/// One layout on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingCell {
    /// The job database: `sqlite` or `postgresql`.
    pub backend: String,
    /// The processes that proved the batch.
    pub layout: Layout,
    /// Insertion to the successful compression job (s).
    pub wall_s: Figure,
    /// Insertion to the scheduler proof (the compression job's creation): the phase the
    /// circuit provers share (s).
    pub provers_wall_s: Figure,
    /// Prover jobs ÷ the provers' phase.
    pub prover_jobs_per_s: Figure,
    /// CPU time of every process of the run during the provers' phase ÷ (that phase × the
    /// machine's cores): 1.0 is every core busy the whole phase. `None` off Linux.
    pub cpu_utilisation: Option<Figure>,
    /// Prover throughput against the first layout's on the same backend (median ÷ median).
    pub speedup: f64,
}

/// Proves the batch `runs` times with every layout on every backend.
pub fn run(
    options: &ScalingOptions,
    runtime: &tokio::runtime::Runtime,
) -> Result<ScalingReport, BenchError> {
    if options.runs == 0 || options.layouts.is_empty() || options.backends.is_empty() {
        return Err(BenchError::InvalidOptions(
            "the scaling suite needs a layout, a backend and at least one run".into(),
        ));
    }
    if let Some(bad) = options
        .layouts
        .iter()
        .find(|l| l.provers == 0 || l.witness_generators == 0)
    {
        return Err(BenchError::InvalidOptions(format!(
            "a scaling layout needs a prover and a witness generator: {bad:?}"
        )));
    }
    let mut machine = machine::machine_info();
    let setup = &options.setup;
    let config = write_config(&options.work_dir, &setup.proving_config_toml, "")?;
    let batch = PreparedBatch::prepare(setup, options.operations, &options.work_dir)?;
    let cores = machine.cores.max(1) as f64;
    let mut cells = Vec::new();
    let mut prover_jobs = 0;
    for backend in &options.backends {
        let mut baseline: Option<f64> = None;
        for layout in &options.layouts {
            let mut runs = Vec::with_capacity(options.runs);
            for attempt in 1..=options.runs {
                let run_dir = options.work_dir.join(format!(
                    "data-{}-{}wg-{}p-{}t-{attempt}",
                    backend.name(),
                    layout.witness_generators,
                    layout.provers,
                    layout.threads_per_prover
                ));
                let fleet = layout.fleet_run(&config);
                let measured = runtime.block_on(prove_once(
                    setup,
                    options.run_limit,
                    backend,
                    &fleet,
                    &batch.files,
                    &run_dir,
                ));
                let removed = std::fs::remove_dir_all(&run_dir);
                let measured = measured?;
                removed
                    .map_err(|e| BenchError::io(format!("removing {}", run_dir.display()), e))?;
                batch.check(&measured.final_proof, &fleet.label)?;
                prover_jobs = measured.prover_jobs;
                tracing::info!(
                    backend = backend.name(),
                    layout = %layout.describe(),
                    run = attempt,
                    wall_s = measured.wall_s,
                    prover_jobs = measured.prover_jobs,
                    "scaling run done"
                );
                runs.push(measured);
            }
            let throughput = Figure::of(
                runs.iter()
                    .map(|r| r.prover_jobs as f64 / r.provers_wall_s)
                    .collect(),
            );
            let base = *baseline.get_or_insert(throughput.median);
            cells.push(ScalingCell {
                backend: backend.name().to_owned(),
                layout: *layout,
                wall_s: Figure::of(runs.iter().map(|r| r.wall_s).collect()),
                provers_wall_s: Figure::of(runs.iter().map(|r| r.provers_wall_s).collect()),
                cpu_utilisation: runs
                    .iter()
                    .map(|r| r.provers_cpu_s.map(|cpu| cpu / r.provers_wall_s / cores))
                    .collect::<Option<Vec<f64>>>()
                    .map(Figure::of),
                speedup: throughput.median / base,
                prover_jobs_per_s: throughput,
            });
        }
    }
    machine.load_average_after = machine::load_average();
    Ok(ScalingReport {
        machine,
        git_commit: machine::git_commit(),
        date: machine::now(),
        configuration: setup.proving,
        operations: options.operations,
        prover_jobs,
        runs: options.runs,
        idle_backoff_ms: Some(IDLE_BACKOFF_MS),
        cells,
    })
}

/// Writes `DIR/zkfleet.toml`: the `[proving]` section, the suite's `[polling]` and
/// `extra` (more sections); returns its path.
pub(crate) fn write_config(
    dir: &Path,
    proving_config_toml: &str,
    extra: &str,
) -> Result<PathBuf, BenchError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let config = dir.join("zkfleet.toml");
    let text = format!("{proving_config_toml}{}{extra}", polling_section());
    std::fs::write(&config, text)
        .map_err(|e| BenchError::io(format!("writing {}", config.display()), e))?;
    Ok(config)
}

/// A generated batch written to files, with the final verifying key that checks the final
/// proofs of its runs.
pub(crate) struct PreparedBatch {
    pub(crate) files: crate::real_batch::BatchFiles,
    final_key: FinalVerifyingKey,
    expected_root: zkfleet_types::HashDigest,
}

impl PreparedBatch {
    /// Generates a batch of `operations` and writes it under `work_dir/batch`; the final key is
    /// read from the setup's keystore, pinned by the digest its manifest records.
    pub(crate) fn prepare(
        setup: &FleetSetup,
        operations: usize,
        work_dir: &Path,
    ) -> Result<Self, BenchError> {
        let proving = &setup.proving;
        let batch = RealBatch::generate(operations, BATCH.0, proving.geometry.xmss_height)?;
        let files = batch.write(&work_dir.join("batch"))?;
        // Pinned by the manifest of the keystore this benchmark built itself.
        let keystore = Keystore::open(&setup.keys_dir)?;
        let path = keystore.final_vk_path(proving);
        let recorded = keystore.aggregation_entry(proving)?.final_vk_digest;
        let pinned = recorded
            .as_deref()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| {
                PipelineError::InvalidInput(format!(
                    "the keystore's aggregation entry records no final vk digest ({recorded:?})"
                ))
            })?;
        let bytes = std::fs::read(&path)
            .map_err(|e| BenchError::io(format!("reading {}", path.display()), e))?;
        let final_key =
            FinalVerifyingKey::from_pinned_bytes(&bytes, pinned).map_err(PipelineError::from)?;
        Ok(Self {
            files,
            final_key,
            expected_root: batch.executed.public_output.new_state_root,
        })
    }

    /// Verifies a run's final proof, which must attest the batch's new state root.
    pub(crate) fn check(&self, final_proof: &[u8], label: &str) -> Result<(), BenchError> {
        let output = self
            .final_key
            .verify(final_proof)
            .map_err(PipelineError::from)?;
        if output.new_state_root != self.expected_root {
            return Err(BenchError::Inconsistent(format!(
                "{label}: the final proof attests another state root than the batch's"
            )));
        }
        Ok(())
    }
}

/// What one run measured.
pub(crate) struct Measured {
    /// Insertion to the successful compression job (s).
    pub(crate) wall_s: f64,
    /// Insertion to the scheduler proof (s).
    pub(crate) provers_wall_s: f64,
    /// First process started to every prover and the compressor ready to pick (s): circuit
    /// loading, outside `wall_s`.
    pub(crate) ready_s: f64,
    pub(crate) prover_jobs: usize,
    /// CPU seconds of every process during the provers' phase.
    pub(crate) provers_cpu_s: Option<f64>,
    pub(crate) final_proof: Vec<u8>,
    /// The batch's jobs once it was proven.
    pub(crate) status: BatchStatus,
    /// Each circuit prover's name and process ID (its default `picked_by` ends in `-PID`).
    pub(crate) prover_pids: Vec<(String, u32)>,
}

/// One run: the processes of `fleet` on a fresh data directory `run_dir` and database; the
/// run's logs stay in `run_dir` (the caller removes it).
pub(crate) async fn prove_once(
    setup: &FleetSetup,
    run_limit: Duration,
    backend: &DatabaseBackend,
    fleet: &FleetRun<'_>,
    files: &crate::real_batch::BatchFiles,
    run_dir: &Path,
) -> Result<Measured, BenchError> {
    std::fs::create_dir_all(run_dir)
        .map_err(|e| BenchError::io(format!("creating {}", run_dir.display()), e))?;
    let database = match backend {
        DatabaseBackend::Sqlite => None,
        DatabaseBackend::Postgres { server_url } => {
            Some(PostgresDatabase::create(server_url, "scaling").await?)
        }
    };
    let mut processes = Processes {
        zkfleet: setup.zkfleet.clone(),
        config: fleet.config.to_owned(),
        data_dir: run_dir.to_owned(),
        database_url: database.as_ref().map(PostgresDatabase::url),
        label: fleet.label.clone(),
        children: Vec::new(),
    };
    let result = measure(
        setup.protocol_version,
        run_limit,
        fleet,
        files,
        &mut processes,
    )
    .await;
    processes.stop();
    if let Some(database) = database {
        database.drop_database().await?;
    }
    result
}

async fn measure(
    protocol_version: ProtocolSemanticVersion,
    run_limit: Duration,
    fleet: &FleetRun<'_>,
    files: &crate::real_batch::BatchFiles,
    processes: &mut Processes,
) -> Result<Measured, BenchError> {
    let version = protocol_version.to_string();
    processes.run(&["insert-version", "--version", &version, "--from-keys"])?;
    let starting = Instant::now();
    for i in 0..fleet.witness_generators {
        processes.spawn(
            &format!("witness-generator-{i}"),
            &["witness-generator", "--all-rounds"],
            None,
        )?;
    }
    for prover in &fleet.provers {
        let mut args = vec!["circuit-prover"];
        args.extend(prover.args.iter().map(String::as_str));
        processes.spawn(&prover.name, &args, Some(prover.threads))?;
    }
    processes.spawn("compressor", &["compressor"], None)?;
    // Circuit loading is not part of the measurement: the batch goes in once every prover
    // and the compressor are ready to pick.
    let deadline = Instant::now() + run_limit;
    for (kind, line) in [
        ("circuit-prover", "circuit prover started"),
        ("compressor", "compressor started"),
        ("witness-generator", "witness generator round started"),
    ] {
        processes.wait_for_log(kind, line, deadline).await?;
    }
    let ready_s = starting.elapsed().as_secs_f64();
    let dal = Dal::connect(&processes.database_url_or_sqlite()).await?;
    let batch_number = BATCH;
    let cpu_at_insertion = processes.cpu_seconds();
    let started = Instant::now();
    processes.run(&[
        "insert-batch",
        "--number",
        &batch_number.0.to_string(),
        "--version",
        &version,
        "--input",
        path_str(&files.batch)?,
        "--genesis",
        path_str(&files.genesis)?,
    ])?;
    let batch = L1BatchId::new(CHAIN, batch_number);
    // The compression job appears when the scheduler proof is done: the prover jobs' phase
    // ends there, and the compression (one job, whatever the layout) follows.
    let mut provers_done: Option<f64> = None;
    let mut cpu_at_provers_done = None;
    let status = loop {
        let status = dal.batch_status(batch).await?;
        if provers_done.is_none() && status.compression.is_some() {
            provers_done = Some(started.elapsed().as_secs_f64());
            cpu_at_provers_done = processes.cpu_seconds();
        }
        if let Some(problem) = failed_job(&status) {
            return Err(processes.failed(problem));
        }
        if status
            .compression
            .as_ref()
            .is_some_and(|c| c.status == JobStatus::Successful)
        {
            break status;
        }
        processes.check_alive()?;
        if Instant::now() > deadline {
            return Err(processes.failed(format!("the batch was not proven within {run_limit:?}")));
        }
        tokio::time::sleep(POLL).await;
    };
    let wall_s = started.elapsed().as_secs_f64();
    let provers_wall_s = provers_done.unwrap_or(wall_s);
    let prover_jobs = status.rounds.iter().map(|r| r.prover_jobs.len()).sum();
    let store = Store::open(&StoreConfig::local(processes.data_dir.join("store")))?;
    let stored: FinalProof = store
        .get(&ObjectKey::FinalProof {
            chain: CHAIN,
            batch: batch_number,
            protocol_version,
        })
        .await?;
    Ok(Measured {
        wall_s,
        provers_wall_s,
        ready_s,
        prover_jobs,
        provers_cpu_s: match (cpu_at_insertion, cpu_at_provers_done) {
            (Some(start), Some(end)) => Some(end - start),
            _ => None,
        },
        final_proof: stored.proof.0.to_vec(),
        status,
        prover_pids: processes.pids_of("circuit-prover"),
    })
}

/// A job that failed or exhausted its attempts: the run is wrong, not slow.
fn failed_job(status: &BatchStatus) -> Option<String> {
    status
        .jobs()
        .find(|j| j.status == JobStatus::Failed || j.status.is_terminal_failure())
        .map(|j| {
            format!(
                "job {} is {}: {}",
                j.job,
                j.status,
                j.error.as_deref().unwrap_or("no error recorded")
            )
        })
}

fn path_str(path: &Path) -> Result<&str, BenchError> {
    path.to_str()
        .ok_or_else(|| BenchError::InvalidOptions(format!("{} is not valid UTF-8", path.display())))
}

/// The processes of one run, killed when it ends.
struct Processes {
    zkfleet: PathBuf,
    config: PathBuf,
    data_dir: PathBuf,
    database_url: Option<String>,
    /// The fleet in words, for errors.
    label: String,
    children: Vec<(String, Child, PathBuf)>,
}

impl Processes {
    fn database_url_or_sqlite(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("zkfleet.sqlite").display()
            )
        })
    }

    /// `zkfleet` with this run's configuration, data directory and database, and nothing of
    /// the calling environment's (its configuration, database or metrics addresses).
    fn command(&self) -> Command {
        let mut command = Command::new(&self.zkfleet);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ZKFLEET_") {
                command.env_remove(name);
            }
        }
        command
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--chain-id")
            .arg(CHAIN.0.to_string());
        if let Some(url) = &self.database_url {
            command.env("ZKFLEET_DATABASE_URL", url);
        }
        command
    }

    /// Runs a one-shot command to success.
    fn run(&self, args: &[&str]) -> Result<(), BenchError> {
        let output = self
            .command()
            .args(args)
            .output()
            .map_err(|e| BenchError::io(format!("running {}", self.zkfleet.display()), e))?;
        if output.status.success() {
            return Ok(());
        }
        Err(BenchError::ZkfleetCommand {
            command: args.join(" "),
            reason: format!("exited with {}", output.status),
            output: format!(
                "{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }

    /// Starts a long-running component, its output in `DATA_DIR/NAME.log`; `threads` sizes its
    /// proving thread pool.
    fn spawn(
        &mut self,
        name: &str,
        args: &[&str],
        threads: Option<usize>,
    ) -> Result<(), BenchError> {
        let log = self.data_dir.join(format!("{name}.log"));
        let file = File::create(&log)
            .map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
        let err = file
            .try_clone()
            .map_err(|e| BenchError::io(format!("opening {}", log.display()), e))?;
        let mut command = self.command();
        command
            .args(args)
            .env("RUST_LOG", "info")
            // Every process of a kind on one machine needs its own metrics port.
            .env("ZKFLEET_METRICS__WITNESS_GENERATOR", "127.0.0.1:0")
            .env("ZKFLEET_METRICS__CIRCUIT_PROVER", "127.0.0.1:0")
            .env("ZKFLEET_METRICS__COMPRESSOR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        match threads {
            Some(n) if n > 0 => {
                command.env("RAYON_NUM_THREADS", n.to_string());
            }
            _ => {
                command.env_remove("RAYON_NUM_THREADS");
            }
        }
        let child = command
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", self.zkfleet.display()), e))?;
        self.children.push((name.to_owned(), child, log));
        Ok(())
    }

    /// Waits until every process whose name starts with `prefix` has logged `line`.
    async fn wait_for_log(
        &mut self,
        prefix: &str,
        line: &str,
        deadline: Instant,
    ) -> Result<(), BenchError> {
        loop {
            let all = self
                .children
                .iter()
                .filter(|(name, _, _)| name.starts_with(prefix))
                .all(|(_, _, log)| {
                    std::fs::read_to_string(log).is_ok_and(|text| text.contains(line))
                });
            if all {
                return Ok(());
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err(self.failed(format!("{prefix} did not log \"{line}\" in time")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// An error naming the first component that exited.
    fn check_alive(&mut self) -> Result<(), BenchError> {
        let exited = self
            .children
            .iter_mut()
            .find_map(|(name, child, _)| match child.try_wait() {
                Ok(Some(status)) => Some(format!("{name} exited with {status}")),
                Ok(None) => None,
                Err(e) => Some(format!("{name}: {e}")),
            });
        match exited {
            Some(reason) => Err(self.failed(reason)),
            None => Ok(()),
        }
    }

    /// The run's error: `reason`, then the tail of every component's log.
    fn failed(&self, reason: String) -> BenchError {
        BenchError::FleetRun {
            fleet: self.label.clone(),
            reason: format!("{reason}\n{}", self.log_tails()),
        }
    }

    /// Name and process ID of every process whose name starts with `prefix`.
    fn pids_of(&self, prefix: &str) -> Vec<(String, u32)> {
        self.children
            .iter()
            .filter(|(name, _, _)| name.starts_with(prefix))
            .map(|(name, child, _)| (name.clone(), child.id()))
            .collect()
    }

    /// CPU seconds (user + system) every component has used so far, from `/proc/PID/stat`
    /// (in USER_HZ, 100 per second on Linux); `None` when a process's figures cannot be read.
    fn cpu_seconds(&self) -> Option<f64> {
        let mut ticks = 0u64;
        for (_, child, _) in &self.children {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).ok()?;
            // After the command name (in parentheses, possibly with spaces): state is field 3,
            // utime field 14, stime field 15.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            ticks += utime + stime;
        }
        Some(ticks as f64 / 100.0)
    }

    /// The last lines of every component's log.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for (name, _, log) in &self.children {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            out.push_str(&format!("--- {name}\n{}\n", tail.join("\n")));
        }
        out
    }

    fn stop(&mut self) {
        for (_, child, _) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_describe_themselves() {
        assert_eq!(
            FULL_LAYOUTS[0].describe(),
            "1 prover × 1 thread, 1 witness generator"
        );
        assert_eq!(
            FULL_LAYOUTS[3].describe(),
            "2 provers × every core, 1 witness generator"
        );
        assert_eq!(
            FULL_LAYOUTS[4].describe(),
            "2 provers × 1 thread, 2 witness generators"
        );
    }
}
