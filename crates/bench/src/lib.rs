//! zkfleet's benchmark suites, behind one entry point ([`suites::run_suites`], which
//! `zkfleet bench` drives; docs/benchmarks.md says how to run it):
//!
//! - **orchestration** (this file and `rounds/`, `fleet.rs`, `run.rs`...): what the fleet
//!   itself costs — job database, object store, job runners — when proving costs nothing;
//! - **proving-cost** ([`proving_cost`]): each kind of prover job, our prover path against
//!   plonky2's own `prove` on the same circuit data (time, degree, proof size, peak memory);
//! - **recursion-per-child** ([`recursion_per_child`]): the node job per aggregated child,
//!   against a plain plonky2 aggregation;
//! - **pipeline** ([`pipeline`]): a real batch through `zkfleet prove` against the same batch
//!   proven job by job in isolation (efficiency).
//! - **scaling** ([`scaling`]): the same real batch proven by separate fleet processes with 1
//!   and 2 circuit provers (single-threaded and on every core) and 1 and 2 witness generators,
//!   on SQLite and PostgreSQL (throughput against the one-prover layout).
//! - **cost** ([`cost`]): CPU-seconds per rollup operation by round (issue 18), the sample
//!   batch and the 1,024-operation batch proven job by job in one process.
//! - **gpu** ([`gpu`]): the zkfleet prover with its GPU work against plonky2 on every core
//!   (issue 17), per job kind of a generated batch, each compression step and synthetic
//!   Poseidon chains; needs a GPU.
//! - **gpu-fleet** ([`gpu_fleet`]): the 1,024-operation batch proven by fleets of processes on
//!   one host, CPU only against GPU, and a GPU and a CPU prover proving jobs of the same batch;
//!   needs a GPU.
//! - **db** ([`db`]): the job database at GPU speed (issue 21): picks + completions per second
//!   by worker count, one job or 8 per statement, on SQLite and PostgreSQL; what 100 idle
//!   workers cost the PostgreSQL server, polling or woken, and how fast they notice work.
//!
//! Every figure is a [`figure::Figure`] (each run, median, min, max); every report records the
//! machine, its load before and after, and the commit. [`sections`] and [`publish`] write the
//! JSON and the sections of docs/benchmarks.md.
//!
//! # The orchestration benchmark
//!
//! What the fleet itself costs when proving costs nothing.
//!
//! # What is measured
//!
//! One batch shaped like ZKsync mainnet batch 496134 ([`TreeShape::mainnet`]: 17,061 basic
//! prover jobs over 20 circuit types, 544 leaf, 32 node, 1 recursion tip and 1 scheduler
//! prover job — 17,639 prover jobs — plus 44 witness generation jobs and the compression job)
//! flows through the real components of the fleet:
//!
//! - the real job database ([`zkfleet_dal::Dal`], SQLite file or PostgreSQL), with its real
//!   picks, completions and in-transaction dependency queuing;
//! - the real object store ([`zkfleet_store::Store`], a local directory) with real keys: every
//!   job reads its input blobs and writes its output blobs, in the store's envelope;
//! - real job runners ([`zkfleet_runner::JobRunner`]: picker → executor pool → saver), one per
//!   worker: a basic, leaf, node, recursion tip and scheduler witness generator, a compressor
//!   and N provers, N ∈ {1, 8, 32}.
//!
//! A run's time goes from the batch's insertion to the completion of its compression job. Each
//! run gets a fresh database and store; every database operation and store request is timed
//! and summed per kind, and the moment each stage of the tree finished is noted, so a report
//! says where the time goes ([`run::RunMeasurement`]). After each run the tree is checked: every
//! job successful after exactly one attempt, each saved exactly once, a proof in the store for
//! every prover job and the final proof present.
//!
//! # Why the executor cannot prove anything, and nothing can mistake its output for a proof
//!
//! The executors of this crate never build a circuit or run a prover: they write placeholder
//! blobs of a documented layout (magic `zkfleet-orchestration-benchmark`, see [`placeholder`])
//! under jobs of [`placeholder::BENCHMARK_PROTOCOL_VERSION`] (0.65535.65535), a protocol version
//! reserved for the benchmark whose verifying-key digests are the magic itself. Real components
//! pick only the version whose keys they hold and cannot deserialize a placeholder as a proof;
//! the gateway refuses the raw final proof. The other way round, every benchmark worker checks
//! that each blob it reads is a placeholder written under that very key, so pointing it at a
//! real batch fails on the first blob. And it only runs against a database and a store it
//! created for the run and deletes afterwards.
//!
//! # Use
//!
//! [`run_orchestration`] runs the cells of [`OrchestrationOptions`] and returns an
//! [`OrchestrationReport`]; [`publish::write_report`] writes it to
//! `docs/benchmarks/orchestration.json` and the `orchestration` section of
//! `docs/benchmarks.md`. The `zkfleet-bench-orchestration` binary does both
//! (`--quick`, `--runs N`, `--workers 1,8,32`, `--backends sqlite,postgres`).
//!
//! Layout: [`shape`] (the tree), [`placeholder`] (blobs and reserved version), `rounds/` (one
//! picker/executor/saver per kind of job), `fleet.rs` (shared handles, timed store access),
//! `probe.rs` (timings), `environment.rs` (per-run database and store), [`run`] (one run and
//! its checks), [`report`], `machine.rs`, [`publish`].

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod environment;
mod error;
mod fleet;
mod machine;
mod probe;
mod real_batch;
mod rounds;

pub mod cost;
pub mod db;
pub mod figure;
pub mod gpu;
pub mod gpu_fleet;
pub mod memory;
pub mod pipeline;
pub mod placeholder;
pub mod proving_cost;
pub mod publish;
pub mod recursion_per_child;
pub mod report;
pub mod run;
pub mod scaling;
pub mod sections;
pub mod shape;
pub mod suites;

use std::time::Duration;

// The `zkfleet-bench-orchestration` binary's command line and logging: dependencies of the
// package that the library itself does not use.
use clap as _;
use tracing_subscriber as _;

pub use environment::{DatabaseBackend, PostgresSettings};
pub use error::BenchError;
pub use probe::{Milestone, OperationTime};
pub use report::{CellReport, MachineInfo, OrchestrationReport, ShapeReport, TargetAssessment};
pub use run::RunMeasurement;
pub use shape::{JobCounts, TreeShape};
pub use suites::{run_suites, BenchPlan, BenchReport, Suite};

/// The worker counts of the full benchmark.
pub const DEFAULT_WORKERS: [usize; 3] = [1, 8, 32];
/// Runs per (backend, workers) cell of the full benchmark.
pub const DEFAULT_RUNS: usize = 3;

/// What [`run_orchestration`] measures.
#[derive(Debug, Clone, PartialEq)]
pub struct OrchestrationOptions {
    /// The proof tree every run completes.
    pub shape: TreeShape,
    /// Each backend is measured with each worker count.
    pub backends: Vec<DatabaseBackend>,
    /// Concurrent prover workers per cell.
    pub workers: Vec<usize>,
    /// Jobs each prover worker picks in one statement, runs at once and completes in one
    /// transaction (1: one job at a time; issue 21's batched paths above 1).
    pub prover_batch: usize,
    /// Runs per cell.
    pub runs: usize,
    /// A run that has not completed the tree by then fails (with the jobs' progress).
    pub run_timeout: Duration,
    /// The command line recorded in the report.
    pub command: String,
}

impl OrchestrationOptions {
    /// The full benchmark: the mainnet shape, 1/8/32 workers, 3 runs per cell.
    pub fn full(backends: Vec<DatabaseBackend>) -> Self {
        Self {
            shape: TreeShape::mainnet(),
            backends,
            workers: DEFAULT_WORKERS.to_vec(),
            prover_batch: 1,
            runs: DEFAULT_RUNS,
            run_timeout: Duration::from_secs(900),
            command: "zkfleet-bench-orchestration".to_owned(),
        }
    }

    /// The quick mode: the mainnet shape scaled down ([`TreeShape::quick`]), for tests.
    pub fn quick(backends: Vec<DatabaseBackend>) -> Self {
        Self {
            shape: TreeShape::quick(),
            run_timeout: Duration::from_secs(300),
            command: "zkfleet-bench-orchestration --quick".to_owned(),
            ..Self::full(backends)
        }
    }

    fn validate(&self) -> Result<(), BenchError> {
        let invalid = |reason: &str| Err(BenchError::InvalidOptions(reason.to_owned()));
        if self.backends.is_empty() {
            return invalid("no database backend to measure");
        }
        if self.workers.is_empty() || self.workers.contains(&0) {
            return invalid("worker counts must be given and at least 1");
        }
        if self.prover_batch == 0 {
            return invalid("the prover batch must be at least 1");
        }
        if self.runs == 0 {
            return invalid("at least one run per cell");
        }
        if self.run_timeout.is_zero() {
            return invalid("the run timeout must be longer than zero");
        }
        self.shape.validate()
    }
}

/// Runs every (backend, workers) cell `runs` times and reports the figures.
pub async fn run_orchestration(
    options: &OrchestrationOptions,
) -> Result<OrchestrationReport, BenchError> {
    options.validate()?;
    let mut machine = machine::machine_info();
    let mut postgres = None;
    let mut cells = Vec::new();
    for backend in &options.backends {
        if let DatabaseBackend::Postgres { server_url } = backend {
            postgres = Some(environment::postgres_settings(server_url).await?);
        }
        for &workers in &options.workers {
            let mut runs = Vec::with_capacity(options.runs);
            for attempt in 1..=options.runs {
                let measured = run::run_once(
                    backend,
                    &options.shape,
                    workers,
                    options.prover_batch,
                    options.run_timeout,
                )
                .await?;
                tracing::info!(
                    backend = backend.name(),
                    workers,
                    prover_batch = options.prover_batch,
                    run = attempt,
                    seconds = measured.seconds,
                    jobs_per_second = measured.jobs_per_second,
                    "orchestration run done"
                );
                runs.push(measured);
            }
            cells.push(CellReport::of(backend.name(), workers, runs));
        }
    }
    machine.load_average_after = machine::load_average();
    let shape = ShapeReport::of(&options.shape);
    let target = TargetAssessment::assess(&shape, &cells);
    Ok(OrchestrationReport {
        benchmark: "orchestration".to_owned(),
        command: options.command.clone(),
        git_commit: machine::git_commit(),
        date: machine::now(),
        machine,
        shape,
        runs_per_cell: options.runs,
        postgres,
        cells,
        target,
    })
}
