//! `zkfleet-bench-orchestration`: runs the orchestration benchmark and writes its figures to
//! `docs/benchmarks/orchestration.json` and `docs/benchmarks.md` (see the crate documentation).
//!
//! ```text
//! zkfleet-bench-orchestration                       # full tree, sqlite + postgres, 1/8/32 workers, 3 runs
//! zkfleet-bench-orchestration --quick --runs 1      # scaled-down tree; prints, writes no docs
//! zkfleet-bench-orchestration --backends postgres --workers 8,32
//! ```
//!
//! PostgreSQL: a fresh database per run is created on the server of `--postgres-url`
//! (default: `ZKFLEET_TEST_DATABASE_URL`) and dropped after it.

// The binary links every dependency of its package (the library's) and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use zkfleet_bench::publish::{default_docs_dir, read_report, write_report};
use zkfleet_bench::{run_orchestration, DatabaseBackend, OrchestrationOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The orchestration benchmark: a mainnet-shaped batch through the real job database, object
/// store and job runners, with executors that prove nothing.
#[derive(Debug, Parser)]
#[command(name = "zkfleet-bench-orchestration", version)]
struct Args {
    /// Scaled-down tree (1/20 of the instances, arity 8). Writes no docs unless --write-docs.
    #[arg(long)]
    quick: bool,
    /// Runs per (backend, workers) cell.
    #[arg(long, default_value_t = zkfleet_bench::DEFAULT_RUNS)]
    runs: usize,
    /// Concurrent prover workers, one cell per count.
    #[arg(long, value_delimiter = ',', default_values_t = zkfleet_bench::DEFAULT_WORKERS)]
    workers: Vec<usize>,
    /// Job database backends to measure.
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = [Backend::Sqlite, Backend::Postgres])]
    backends: Vec<Backend>,
    /// PostgreSQL server on which each run creates (and drops) its own database.
    #[arg(long, env = "ZKFLEET_TEST_DATABASE_URL", hide_env_values = true)]
    postgres_url: Option<String>,
    /// A run that has not completed its tree after this many seconds fails.
    #[arg(long)]
    timeout_secs: Option<u64>,
    /// Where `benchmarks.md` and `benchmarks/` live.
    #[arg(long, default_value_os_t = default_docs_dir())]
    docs_dir: PathBuf,
    /// Write the docs even in --quick mode.
    #[arg(long, conflicts_with = "no_docs")]
    write_docs: bool,
    /// Print the report only.
    #[arg(long)]
    no_docs: bool,
    /// Jobs each prover worker picks in one statement, proves at once and completes in one
    /// transaction (1: one job at a time, as before batching; issue 21).
    #[arg(long, default_value_t = 1)]
    prover_batch: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Measure nothing: rewrite the docs section from the JSON of the last run in --docs-dir.
    #[arg(long, conflicts_with_all = ["quick", "no_docs"])]
    republish: bool,
}

impl Args {
    /// The command line as recorded in the report (without the server URL).
    fn command(&self) -> String {
        let mut command =
            "cargo run --release -p zkfleet-bench --bin zkfleet-bench-orchestration --".to_owned();
        if self.quick {
            command.push_str(" --quick");
        }
        command.push_str(&format!(" --runs {}", self.runs));
        let workers: Vec<String> = self.workers.iter().map(ToString::to_string).collect();
        command.push_str(&format!(" --workers {}", workers.join(",")));
        let backends: Vec<&str> = self
            .backends
            .iter()
            .map(|b| match b {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            })
            .collect();
        command.push_str(&format!(" --backends {}", backends.join(",")));
        if self.prover_batch != 1 {
            command.push_str(&format!(" --prover-batch {}", self.prover_batch));
        }
        command
    }

    fn options(&self) -> Result<OrchestrationOptions, String> {
        let mut backends = Vec::new();
        for backend in &self.backends {
            backends.push(match backend {
                Backend::Sqlite => DatabaseBackend::Sqlite,
                Backend::Postgres => DatabaseBackend::Postgres {
                    server_url: self.postgres_url.clone().ok_or(
                        "PostgreSQL is among the backends but no server is named: set \
                         ZKFLEET_TEST_DATABASE_URL (`source /tmp/devsvc/env.sh` in a dev session) \
                         or pass --postgres-url, or measure --backends sqlite only",
                    )?,
                },
            });
        }
        let mut options = if self.quick {
            OrchestrationOptions::quick(backends)
        } else {
            OrchestrationOptions::full(backends)
        };
        options.workers = self.workers.clone();
        options.runs = self.runs;
        options.prover_batch = self.prover_batch;
        if let Some(secs) = self.timeout_secs {
            options.run_timeout = Duration::from_secs(secs);
        }
        options.command = self.command();
        Ok(options)
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "zkfleet_bench=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.republish {
        let republished =
            read_report(&args.docs_dir).and_then(|report| write_report(&report, &args.docs_dir));
        return match republished {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match args.options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let report = match run_orchestration(&options).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", zkfleet_bench::publish::section(&report));
    if let Some(path) = &args.json_out {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|json| std::fs::write(path, json + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let write = !args.no_docs && (!args.quick || args.write_docs);
    if write {
        if let Err(e) = write_report(&report, &args.docs_dir) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!(
            "wrote {} and its benchmarks/orchestration.json",
            args.docs_dir.join("benchmarks.md").display()
        );
    }
    ExitCode::SUCCESS
}
