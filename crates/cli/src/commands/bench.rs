//! `zkfleet bench`: the benchmark suites of issue #7 behind one command (`zkfleet_bench`
//! does the measuring; this file turns flags and the `[proving]` configuration into a plan,
//! prints the tables and writes the report).
//!
//! ```text
//! zkfleet bench                                   # every suite, full sizes, 3 runs; JSON + docs
//! zkfleet bench --suites proving-cost --runs 5    # one suite (the JSON keeps the others' figures)
//! zkfleet bench --quick --out /tmp/bench.json     # minutes; never writes the docs
//! ```
//!
//! Full runs write `docs/benchmarks/bench.json` and the suites' sections of
//! `docs/benchmarks.md`; `--quick` figures are not the issue's, so a quick run writes only its
//! JSON (default `DATA_DIR/bench-quick.json`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use zkfleet_bench::publish::default_docs_dir;
use zkfleet_bench::{sections, BenchPlan, Suite};

use crate::config::ProvingConfig;
use crate::fleet::Fleet;

/// Where full runs keep the report, relative to the docs directory (the sections link it).
const JSON_NAME: &str = "benchmarks/bench.json";

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Small sizes and one run per figure (minutes); writes only the JSON, never the docs.
    #[arg(long)]
    quick: bool,
    /// The suites to run: orchestration, proving-cost, pipeline, recursion-per-child, scaling,
    /// cost, db (default: all of these); gpu and gpu-fleet (a GPU is needed) only when named.
    #[arg(long, value_delimiter = ',', value_name = "SUITE,...")]
    suites: Vec<Suite>,
    /// Runs per figure (default 1 with --quick, else 3).
    #[arg(long, value_name = "N")]
    runs: Option<usize>,
    /// The JSON report (default: docs/benchmarks/bench.json; DATA_DIR/bench-quick.json with
    /// --quick). Suites not run now keep their figures from the file already there.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Do not rewrite the sections of docs/benchmarks.md.
    #[arg(long)]
    no_publish: bool,
    /// Where benchmarks.md lives (default: the workspace's docs/).
    #[arg(long, value_name = "DIR")]
    docs_dir: Option<PathBuf>,
    /// Batch sizes of the pipeline suite, in operations (default 64,256,1024; 4 with --quick),
    /// the generated batches of the cost suite (default 1024; none with --quick: the sample
    /// batch only), and the gpu-fleet suite's batch (the first size; default 1024, 4 with
    /// --quick).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    operations: Option<Vec<usize>>,
    /// A PostgreSQL server to measure besides SQLite (orchestration, pipeline, scaling, db): each
    /// run creates and drops its own database on it (db's idle load needs it on this machine).
    #[arg(
        long,
        env = "ZKFLEET_TEST_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    postgres_url: Option<String>,
}

/// The configuration file `zkfleet prove` gets from the pipeline suite: the `[proving]`
/// section only.
#[derive(Serialize)]
struct ProvingOnly<'a> {
    proving: &'a ProvingConfig,
}

pub(crate) fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let data_dir = &fleet.config.data_dir;
    let mut proving = fleet.config.proving.clone();
    let keys_dir = std::path::absolute(proving.keys_dir(data_dir))
        .context("resolving the keystore directory")?;
    proving.keys_dir = Some(keys_dir.clone());
    let proving_config_toml = toml::to_string(&ProvingOnly { proving: &proving })
        .context("writing the [proving] section for zkfleet prove")?;
    let work_dir = std::path::absolute(data_dir.join("bench"))
        .context("resolving the benchmark's work directory")?;
    let plan = BenchPlan {
        suites: if args.suites.is_empty() {
            Suite::ALL.to_vec()
        } else {
            args.suites.clone()
        },
        quick: args.quick,
        runs: args.runs,
        proving: proving.circuits(),
        protocol_version: proving.protocol_version,
        keys_dir,
        proving_config_toml,
        zkfleet: std::env::current_exe().context("locating the zkfleet executable")?,
        postgres_url: args.postgres_url.clone(),
        pipeline_sizes: args.operations.clone(),
        work_dir: work_dir.clone(),
        command: command_line(args),
    };
    let report = zkfleet_bench::run_suites(&plan).context("running the benchmark suites")?;
    // The scratch space held batch files and data directories only.
    let _ = std::fs::remove_dir_all(&work_dir);

    let docs_dir = args.docs_dir.clone().unwrap_or_else(default_docs_dir);
    let default_out = if args.quick {
        data_dir.join("bench-quick.json")
    } else {
        docs_dir.join(JSON_NAME)
    };
    let out = args.out.clone().unwrap_or(default_out);
    let json_name = if same_file(&out, &docs_dir.join(JSON_NAME)) {
        JSON_NAME.to_owned()
    } else {
        out.display().to_string()
    };
    for (_, _, section) in sections::render(&report, &json_name) {
        out!("{section}");
    }
    let merged = sections::write_json(report, &out)
        .with_context(|| format!("writing the report {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    if !args.quick && !args.no_publish {
        // Only the suites measured now: the others' sections stay as they were.
        let measured = zkfleet_bench::BenchReport {
            suites: only_measured(&merged, &plan.suites),
            ..merged
        };
        sections::write_sections(&measured, &docs_dir, &json_name)
            .with_context(|| format!("writing the sections of {}", docs_dir.display()))?;
        eprintln!("wrote {}", docs_dir.join("benchmarks.md").display());
    }
    Ok(())
}

/// The suites of `report` that `suites` names.
fn only_measured(
    report: &zkfleet_bench::BenchReport,
    suites: &[Suite],
) -> zkfleet_bench::suites::SuiteReports {
    let wants = |suite| suites.contains(&suite);
    let all = report.suites.clone();
    zkfleet_bench::suites::SuiteReports {
        orchestration: all.orchestration.filter(|_| wants(Suite::Orchestration)),
        proving_cost: all.proving_cost.filter(|_| wants(Suite::ProvingCost)),
        pipeline: all.pipeline.filter(|_| wants(Suite::Pipeline)),
        recursion_per_child: all
            .recursion_per_child
            .filter(|_| wants(Suite::RecursionPerChild)),
        scaling: all.scaling.filter(|_| wants(Suite::Scaling)),
        cost: all.cost.filter(|_| wants(Suite::Cost)),
        db: all.db.filter(|_| wants(Suite::Db)),
        gpu: all.gpu.filter(|_| wants(Suite::Gpu)),
        gpu_fleet: all.gpu_fleet.filter(|_| wants(Suite::GpuFleet)),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The command as the report records it: the benchmark's own flags (never the global ones,
/// which can carry a database URL).
fn command_line(args: &Args) -> String {
    let mut command = "zkfleet bench".to_owned();
    if args.quick {
        command.push_str(" --quick");
    }
    if !args.suites.is_empty() {
        let names: Vec<&str> = args.suites.iter().map(|s| s.name()).collect();
        command.push_str(&format!(" --suites {}", names.join(",")));
    }
    if let Some(runs) = args.runs {
        command.push_str(&format!(" --runs {runs}"));
    }
    if let Some(sizes) = &args.operations {
        let sizes: Vec<String> = sizes.iter().map(ToString::to_string).collect();
        command.push_str(&format!(" --operations {}", sizes.join(",")));
    }
    if args.postgres_url.is_some() {
        command.push_str(" (with a PostgreSQL server)");
    }
    command
}
