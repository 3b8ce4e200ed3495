//! `zkfleet bench`'s one entry point: which suites to run, how big (`--quick` or full), and
//! the combined report they write.
//!
//! | suite | issue #7 item | full | quick |
//! |---|---|---|---|
//! | `orchestration` | 2 | mainnet-shaped tree, 1/8/32 workers | tree scaled 1/20, 1 and 8 workers |
//! | `proving-cost` | 4 | every job kind of a 32-operation batch | same, at the configured (test) geometry |
//! | `pipeline` | 3 | 64, 256, 1,024 operations | 4 operations |
//! | `recursion-per-child` | 5 | from the node of `proving-cost` | same |
//! | `scaling` | 6 | a 64-operation batch, 5 process layouts | 4 operations, 1 and 2 provers on every core |
//! | `db` | issue 21 | picks + completions per second by workers (1/4/16, batches of 1 and 8), idle load of 100 workers | 200 jobs, 1 and 16 workers; 10 idle workers, 1 s window |
//! | `cost` | issue 18 | the sample batch and 1,024 operations (`--operations`), CPU-s per operation by round, each also through `zkfleet prove` | the sample batch only, in process |
//! | `gpu` (only when named: needs a GPU) | issue 17 | zkfleet prover + GPU against plonky2 on every core: every job kind of a 32-operation batch and each compression step, Poseidon chains of 2^16/2^18/2^20 rows | job kinds at the configured geometry, a 2^12 chain, 1 run |
//! | `gpu-fleet` (only when named: needs a GPU) | issue 17 | the 1,024-operation batch proven by fleets of processes: CPU only, GPU, GPU + CPU | 4 operations |
//!
//! The proving suites use the `[proving]` configuration the caller passes (geometry, arity,
//! compression, keystore), so a quick run on the small test keystore takes minutes.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zkfleet_circuits::ProvingConfiguration;

use crate::cost::{CostOptions, CostReport};
use crate::db::{DbOptions, DbReport};
use crate::environment::DatabaseBackend;
use crate::error::BenchError;
use crate::gpu::{GpuOptions, GpuReport};
use crate::gpu_fleet::{GpuFleetOptions, GpuFleetReport};
use crate::machine;
use crate::pipeline::{PipelineOptions, PipelineReport};
use crate::proving_cost::{JobKinds, ProvingCostOptions, ProvingCostReport};
use crate::recursion_per_child::RecursionPerChildReport;
use crate::report::{MachineInfo, OrchestrationReport};
use crate::scaling::{FleetSetup, ScalingOptions, ScalingReport, FULL_LAYOUTS, QUICK_LAYOUTS};
use crate::OrchestrationOptions;

/// One benchmark suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suite {
    /// What the fleet itself costs (database, store, runners) on a mainnet-shaped tree.
    Orchestration,
    /// Each kind of prover job, our prover path against plonky2's `prove`.
    ProvingCost,
    /// A real batch through `zkfleet prove` against its jobs proven in isolation.
    Pipeline,
    /// The node job's cost per aggregated child, against a plain plonky2 aggregation.
    RecursionPerChild,
    /// A real batch proven by more circuit provers and witness generators.
    Scaling,
    /// CPU-seconds per rollup operation by round.
    Cost,
    /// The job database's picks and completions per second, and what idle workers cost.
    Db,
    /// Our prover with the GPU backend against plonky2 on every core (needs a GPU).
    Gpu,
    /// A real batch proven end to end by a CPU-only, a GPU and a mixed fleet (needs a GPU).
    GpuFleet,
}

impl Suite {
    /// The suites `zkfleet bench` runs when none is named (every one that needs no GPU).
    pub const ALL: [Suite; 7] = [
        Suite::Orchestration,
        Suite::ProvingCost,
        Suite::Pipeline,
        Suite::RecursionPerChild,
        Suite::Scaling,
        Suite::Cost,
        Suite::Db,
    ];
    /// Suites run only when named (`--suites gpu`): they need hardware most hosts lack.
    pub const ON_REQUEST: [Suite; 2] = [Suite::Gpu, Suite::GpuFleet];

    /// The name on the command line, in the report and in the docs' markers.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Orchestration => "orchestration",
            Suite::ProvingCost => "proving-cost",
            Suite::Pipeline => "pipeline",
            Suite::RecursionPerChild => "recursion-per-child",
            Suite::Scaling => "scaling",
            Suite::Cost => "cost",
            Suite::Db => "db",
            Suite::Gpu => "gpu",
            Suite::GpuFleet => "gpu-fleet",
        }
    }
}

impl std::fmt::Display for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let every = || Suite::ALL.into_iter().chain(Suite::ON_REQUEST);
        every().find(|suite| suite.name() == s).ok_or_else(|| {
            let names: Vec<&str> = every().map(|s| s.name()).collect();
            BenchError::InvalidOptions(format!(
                "unknown suite {s:?}; the suites are {}",
                names.join(", ")
            ))
        })
    }
}

/// The batch sizes of the full pipeline suite (issue #7, item 3).
pub const FULL_PIPELINE_SIZES: [usize; 3] = [64, 256, 1024];
/// The quick pipeline suite's tiny batch.
pub const QUICK_PIPELINE_SIZES: [usize; 1] = [4];
/// Operations of the proving-cost batch: every basic type present, and at arity 2 more than
/// one leaf per type, so a node aggregates two leaves as in any real batch.
pub const PROVING_COST_OPERATIONS: usize = 32;
/// The quick proving-cost batch (the small test geometry holds a few items per instance).
pub const QUICK_PROVING_COST_OPERATIONS: usize = 6;
/// Operations of the scaling suite's batch: enough prover jobs per round for two provers.
pub const SCALING_OPERATIONS: usize = 64;
/// The quick scaling batch.
pub const QUICK_SCALING_OPERATIONS: usize = 4;
/// Longest one scaling run may take (the full batch proves in minutes on one thread).
const SCALING_RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Generated batches of the full cost suite (besides the sample batch).
pub const FULL_COST_SIZES: [usize; 1] = [crate::cost::TARGET_OPERATIONS];
/// The quick cost suite's generated batches: none, only the sample batch (one proof in
/// process: the suite's code path runs end to end without doubling the quick run's proving).
pub const QUICK_COST_SIZES: [usize; 0] = [];
/// Synthetic circuit sizes (log2 of rows) of the full gpu suite.
pub const FULL_GPU_SYNTHETIC_SIZES: [usize; 3] = [16, 18, 20];
/// The quick gpu suite's synthetic circuit.
pub const QUICK_GPU_SYNTHETIC_SIZES: [usize; 1] = [12];
/// Runs per figure of the full suites (`--runs` overrides).
pub const FULL_RUNS: usize = 3;

/// Everything `zkfleet bench` was asked to run.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// The suites to run, in order.
    pub suites: Vec<Suite>,
    /// Small sizes and one run per figure: a check that the suites work, not figures.
    pub quick: bool,
    /// Runs per figure; `None`: 1 in quick mode, [`FULL_RUNS`] otherwise.
    pub runs: Option<usize>,
    /// The `[proving]` configuration whose circuits the proving suites measure.
    pub proving: ProvingConfiguration,
    /// The `[proving]` protocol version (the scaling suite registers it from the keystore).
    pub protocol_version: zkfleet_types::ProtocolSemanticVersion,
    /// The keystore the circuits are loaded from (built on a miss).
    pub keys_dir: PathBuf,
    /// A configuration file with the `[proving]` section above, for `zkfleet prove`.
    pub proving_config_toml: String,
    /// The `zkfleet` executable (the pipeline suite runs its `prove`).
    pub zkfleet: PathBuf,
    /// A PostgreSQL server to measure besides SQLite (orchestration, pipeline); each run
    /// creates and drops its own database there.
    pub postgres_url: Option<String>,
    /// Batch sizes of the pipeline and cost suites; `None`: each suite's for the mode.
    pub pipeline_sizes: Option<Vec<usize>>,
    /// Scratch space (batch files, data directories).
    pub work_dir: PathBuf,
    /// The command line, as recorded in the report.
    pub command: String,
}

/// The report of one `zkfleet bench` invocation (or several merged: see
/// [`BenchReport::merged_into`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// The command of the latest invocation.
    pub command: String,
    /// When the latest invocation ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The commit the latest invocation's binary was built from.
    pub git_commit: String,
    /// The machine of the latest invocation, with its load.
    pub machine: MachineInfo,
    /// The latest invocation was `--quick` (its figures are not the issue's).
    pub quick: bool,
    /// Each suite's latest report.
    pub suites: SuiteReports,
}

/// Each suite's own report (with its own machine, load and commit), when it ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuiteReports {
    /// The orchestration suite: the fleet's own cost on a mainnet-shaped tree.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub orchestration: Option<SuiteRun<OrchestrationReport>>,
    /// The proving-cost suite: each job kind, our path against plonky2's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub proving_cost: Option<SuiteRun<ProvingCostReport>>,
    /// The pipeline suite: `zkfleet prove` against the jobs proven in isolation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pipeline: Option<SuiteRun<PipelineReport>>,
    /// The recursion-per-child suite: a node job's cost per aggregated child.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recursion_per_child: Option<SuiteRun<RecursionPerChildReport>>,
    /// The scaling suite: throughput with more circuit provers and witness generators.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scaling: Option<SuiteRun<ScalingReport>>,
    /// The cost suite: CPU-seconds per rollup operation by round.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cost: Option<SuiteRun<CostReport>>,
    /// The db suite: picks and completions per second, idle workers' load.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub db: Option<SuiteRun<DbReport>>,
    /// The gpu suite: our GPU prover against plonky2 on every core.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gpu: Option<SuiteRun<GpuReport>>,
    /// The gpu-fleet suite: CPU-only, GPU and mixed fleets on one batch.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gpu_fleet: Option<SuiteRun<GpuFleetReport>>,
}

/// A suite's report with the command that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRun<R> {
    /// The command line that produced the report.
    pub command: String,
    /// Whether it ran `--quick` (not the figures).
    pub quick: bool,
    /// The suite's own report.
    pub report: R,
}

impl BenchReport {
    /// `self`'s suites over `older`'s: a run of some suites keeps the others' last figures.
    pub fn merged_into(self, older: BenchReport) -> BenchReport {
        let SuiteReports {
            orchestration,
            proving_cost,
            pipeline,
            recursion_per_child,
            scaling,
            cost,
            db,
            gpu,
            gpu_fleet,
        } = self.suites;
        BenchReport {
            suites: SuiteReports {
                orchestration: orchestration.or(older.suites.orchestration),
                proving_cost: proving_cost.or(older.suites.proving_cost),
                pipeline: pipeline.or(older.suites.pipeline),
                recursion_per_child: recursion_per_child.or(older.suites.recursion_per_child),
                scaling: scaling.or(older.suites.scaling),
                cost: cost.or(older.suites.cost),
                db: db.or(older.suites.db),
                gpu: gpu.or(older.suites.gpu),
                gpu_fleet: gpu_fleet.or(older.suites.gpu_fleet),
            },
            ..self
        }
    }
}

impl<R> SuiteRun<R> {
    fn of(plan: &BenchPlan, report: R) -> Self {
        Self {
            command: plan.command.clone(),
            quick: plan.quick,
            report,
        }
    }
}

impl BenchPlan {
    fn runs(&self) -> usize {
        self.runs.unwrap_or(if self.quick { 1 } else { FULL_RUNS })
    }

    fn wants(&self, suite: Suite) -> bool {
        self.suites.contains(&suite)
    }

    /// What the fleet suites (scaling, gpu-fleet) start their processes from.
    fn fleet_setup(&self) -> FleetSetup {
        FleetSetup {
            zkfleet: self.zkfleet.clone(),
            proving_config_toml: self.proving_config_toml.clone(),
            proving: self.proving,
            protocol_version: self.protocol_version,
            keys_dir: self.keys_dir.clone(),
        }
    }

    fn backends(&self) -> Vec<DatabaseBackend> {
        let mut backends = vec![DatabaseBackend::Sqlite];
        if let Some(server_url) = &self.postgres_url {
            backends.push(DatabaseBackend::Postgres {
                server_url: server_url.clone(),
            });
        }
        backends
    }

    fn validate(&self) -> Result<(), BenchError> {
        if self.suites.is_empty() {
            return Err(BenchError::InvalidOptions("no suite to run".into()));
        }
        if self.runs() == 0 {
            return Err(BenchError::InvalidOptions(
                "at least one run per figure".into(),
            ));
        }
        Ok(())
    }
}

/// Runs the plan's suites, in the order of [`Suite::ALL`].
pub fn run_suites(plan: &BenchPlan) -> Result<BenchReport, BenchError> {
    plan.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;
    let mut machine = machine::machine_info();
    let runs = plan.runs();
    let mut suites = SuiteReports::default();
    if plan.wants(Suite::Orchestration) {
        tracing::info!("suite orchestration");
        let mut options = if plan.quick {
            let mut quick = OrchestrationOptions::quick(plan.backends());
            quick.workers = vec![1, 8];
            quick
        } else {
            OrchestrationOptions::full(plan.backends())
        };
        options.runs = runs;
        options.command = plan.command.clone();
        suites.orchestration = Some(SuiteRun::of(
            plan,
            runtime.block_on(crate::run_orchestration(&options))?,
        ));
    }
    // One proving-cost measurement serves both suites (recursion per child is its node).
    if plan.wants(Suite::ProvingCost) || plan.wants(Suite::RecursionPerChild) {
        tracing::info!("suite proving-cost");
        let report = crate::proving_cost::run(&ProvingCostOptions {
            proving: plan.proving,
            keys_dir: plan.keys_dir.clone(),
            operations: if plan.quick {
                QUICK_PROVING_COST_OPERATIONS
            } else {
                PROVING_COST_OPERATIONS
            },
            runs,
            kinds: if plan.wants(Suite::ProvingCost) {
                JobKinds::Every
            } else {
                JobKinds::Node
            },
        })?;
        if plan.wants(Suite::RecursionPerChild) {
            let per_child =
                RecursionPerChildReport::from_proving_cost(&report).ok_or_else(|| {
                    BenchError::Inconsistent("the proving-cost batch has no node job".into())
                })?;
            suites.recursion_per_child = Some(SuiteRun::of(plan, per_child));
        }
        if plan.wants(Suite::ProvingCost) {
            suites.proving_cost = Some(SuiteRun::of(plan, report));
        }
    }
    if plan.wants(Suite::Pipeline) {
        tracing::info!("suite pipeline");
        let sizes = plan.pipeline_sizes.clone().unwrap_or_else(|| {
            if plan.quick {
                QUICK_PIPELINE_SIZES.to_vec()
            } else {
                FULL_PIPELINE_SIZES.to_vec()
            }
        });
        let options = PipelineOptions {
            zkfleet: plan.zkfleet.clone(),
            proving_config_toml: plan.proving_config_toml.clone(),
            proving: plan.proving,
            keys_dir: plan.keys_dir.clone(),
            sizes,
            backends: plan.backends(),
            runs,
            work_dir: plan.work_dir.join("pipeline"),
        };
        suites.pipeline = Some(SuiteRun::of(
            plan,
            crate::pipeline::run(&options, &runtime)?,
        ));
    }
    if plan.wants(Suite::Scaling) {
        tracing::info!("suite scaling");
        let options = ScalingOptions {
            setup: plan.fleet_setup(),
            operations: if plan.quick {
                QUICK_SCALING_OPERATIONS
            } else {
                SCALING_OPERATIONS
            },
            layouts: if plan.quick {
                QUICK_LAYOUTS.to_vec()
            } else {
                FULL_LAYOUTS.to_vec()
            },
            backends: plan.backends(),
            runs,
            run_limit: SCALING_RUN_LIMIT,
            work_dir: plan.work_dir.join("scaling"),
        };
        suites.scaling = Some(SuiteRun::of(plan, crate::scaling::run(&options, &runtime)?));
    }
    if plan.wants(Suite::Cost) {
        tracing::info!("suite cost");
        let options = CostOptions {
            cpu_prover: zkfleet_circuits::pipeline::CpuProver::default(),
            proving: plan.proving,
            keys_dir: plan.keys_dir.clone(),
            sample: true,
            sizes: plan.pipeline_sizes.clone().unwrap_or_else(|| {
                if plan.quick {
                    QUICK_COST_SIZES.to_vec()
                } else {
                    FULL_COST_SIZES.to_vec()
                }
            }),
            // The 1,024-operation batch proves for ~11 minutes on two cores: one run unless
            // asked for more.
            runs: plan.runs.unwrap_or(1),
            // Quick: no `zkfleet prove` run (the pipeline suite already proves a batch through
            // the pipeline); it would prove the sample batch a second time.
            pipeline: (!plan.quick).then(|| crate::cost::PipelineCommand {
                zkfleet: plan.zkfleet.clone(),
                proving_config_toml: plan.proving_config_toml.clone(),
                work_dir: plan.work_dir.join("cost"),
            }),
        };
        suites.cost = Some(SuiteRun::of(plan, crate::cost::run(&options)?));
    }
    if plan.wants(Suite::Db) {
        tracing::info!("suite db");
        let options = if plan.quick {
            DbOptions::quick(plan.backends())
        } else {
            DbOptions::full(plan.backends(), runs)
        };
        suites.db = Some(SuiteRun::of(
            plan,
            runtime.block_on(crate::db::run(&options))?,
        ));
    }
    if plan.wants(Suite::Gpu) {
        tracing::info!("suite gpu");
        let options = GpuOptions {
            proving: plan.proving,
            keys_dir: plan.keys_dir.clone(),
            operations: if plan.quick {
                QUICK_PROVING_COST_OPERATIONS
            } else {
                PROVING_COST_OPERATIONS
            },
            synthetic_sizes: if plan.quick {
                QUICK_GPU_SYNTHETIC_SIZES.to_vec()
            } else {
                FULL_GPU_SYNTHETIC_SIZES.to_vec()
            },
            runs,
            // One card per process: CUDA_VISIBLE_DEVICES picks another (docs/gpu.md).
            gpu_device: 0,
        };
        suites.gpu = Some(SuiteRun::of(plan, crate::gpu::run(&options)?));
    }
    if plan.wants(Suite::GpuFleet) {
        tracing::info!("suite gpu-fleet");
        let options = GpuFleetOptions {
            setup: plan.fleet_setup(),
            operations: plan
                .pipeline_sizes
                .as_deref()
                .and_then(|sizes| sizes.first().copied())
                .unwrap_or(if plan.quick {
                    crate::gpu_fleet::QUICK_OPERATIONS
                } else {
                    crate::gpu_fleet::FULL_OPERATIONS
                }),
            fleets: crate::gpu_fleet::FLEETS.to_vec(),
            runs,
            run_limit: SCALING_RUN_LIMIT,
            require_gpu: true,
            work_dir: plan.work_dir.join("gpu-fleet"),
        };
        suites.gpu_fleet = Some(SuiteRun::of(
            plan,
            crate::gpu_fleet::run(&options, &runtime)?,
        ));
    }
    machine.load_average_after = machine::load_average();
    Ok(BenchReport {
        command: plan.command.clone(),
        date: machine::now(),
        git_commit: machine::git_commit(),
        machine,
        quick: plan.quick,
        suites,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_names_round_trip_and_unknown_ones_are_refused() {
        for suite in Suite::ALL.into_iter().chain(Suite::ON_REQUEST) {
            assert_eq!(suite.name().parse::<Suite>().unwrap(), suite);
        }
        assert!(
            !Suite::ALL.contains(&Suite::Gpu),
            "the gpu suite runs only when named"
        );
        let err = "proving".parse::<Suite>().unwrap_err().to_string();
        assert!(err.contains("proving-cost"), "{err}");
    }
}
