//! `zkfleet`: every component of the fleet and every operator command, as subcommands of one
//! binary (DESIGN.md §6).
//!
//! Layout:
//! - `config.rs`: the configuration file, its defaults and the environment overrides;
//! - `fleet.rs`: the effective configuration plus the job database URL (a secret) and
//!   connections to the database and the object store;
//! - `commands/`: one file per command (`rollup generate` and the operator commands, modelled on
//!   ZKsync's `prover_cli` but chain-aware);
//! - `output.rs`: tables and durations as operators read them.
//!
//! Errors stop at this edge as `anyhow` errors with context; the libraries below return typed
//! errors.

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

// First, so that its `out!` macros are visible in every module below.
#[macro_use]
mod output;
mod commands;
mod config;
mod fleet;
mod provers;
mod proving;
mod remote_prover;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{
    bench, components, config_show, delete, file_info, insert_batch, insert_version, keys, prove,
    requeue, restart, rollup, sequencer, stats, status, verify,
};

#[derive(Parser)]
#[command(
    name = "zkfleet",
    version,
    about = "A distributed prover fleet for rollup batches"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command accepts (docs/operations.md, "Configuration").
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct GlobalArgs {
    /// Configuration file (TOML; every field has a default, see zkfleet.example.toml).
    #[arg(long, global = true, env = "ZKFLEET_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Job database URL. Prefer the environment (ZKFLEET_DATABASE_URL) or a file
    /// (ZKFLEET_DATABASE_URL_FILE): a URL on the command line is visible to other users.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) database_url: Option<String>,
    /// Chain of the batches a command acts on (default: the configuration's `chain_id`, 0).
    /// `rollup generate` defaults to 270.
    #[arg(long, global = true, env = "ZKFLEET_CHAIN_ID", value_name = "N")]
    pub(crate) chain_id: Option<u64>,
    /// Directory of the embedded default: SQLite file DIR/zkfleet.sqlite and local store
    /// DIR/store/ when no database URL or store is configured (default ./.zkfleet).
    #[arg(long, global = true, env = "ZKFLEET_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Prove a batch end to end in one process on the embedded default (SQLite + local store);
    /// run it again after an interruption to resume.
    Prove(prove::Args),
    /// Verify a final proof with its verifying key and print the batch public output.
    Verify(verify::Args),
    /// The keystore: build (`generate`) or check (`verify`) every circuit's data.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// The reference rollup (docs/rollup.md).
    Rollup {
        #[command(subcommand)]
        command: rollup::RollupCommand,
    },
    /// Register a protocol version and the verifying-key digests it stands for.
    InsertVersion(insert_version::Args),
    /// Hand a batch to the fleet: validate its input, store it, queue its basic witness job.
    InsertBatch(insert_batch::Args),
    /// Show the jobs of batches, round by round.
    Status {
        #[command(subcommand)]
        command: status::StatusCommand,
    },
    /// Move a batch's failed and attempts-exhausted jobs back to queued, with fresh attempts.
    Requeue(requeue::Args),
    /// Restart a whole batch from its witness input, or one job.
    Restart(restart::Args),
    /// Delete every row of a batch (asks for confirmation unless --yes).
    Delete(delete::Args),
    /// End-to-end proving time per batch, with median, min and max.
    Stats(stats::Args),
    /// Decode a stored blob: envelope header, then what the blob holds.
    FileInfo(file_info::Args),
    /// Run witness generation for the given rounds ([proving] section).
    WitnessGenerator(components::WitnessGeneratorArgs),
    /// Run a circuit prover: heavy and light witness-vector generators feeding a prover.
    CircuitProver(components::CircuitProverArgs),
    /// Run the compressor: scheduler proofs into final proofs ([proving] section).
    Compressor,
    /// Run the job monitor: dependency catch-up, requeue of stuck jobs, archiving, and the
    /// /queue_report, /metrics and /healthz endpoints ([monitor] section).
    JobMonitor,
    /// Run the gateway: batches in over HTTP (push) or from an upstream (pull), final proofs
    /// out ([gateway] section).
    Gateway,
    /// Run the reference sequencer: makes batches, hands them to the gateway (pull or push),
    /// verifies and accepts their final proofs ([sequencer] section, docs/sequencer.md).
    Sequencer,
    /// Run the benchmark suites (orchestration, proving cost, pipeline efficiency, recursion
    /// per child) and write their report (docs/benchmarks.md, "How to run").
    Bench(bench::Args),
    /// Outside provers (docs/prover-api.md): keygen, add, list, suspend, resume, remove,
    /// stats, and `serve` (the prover API).
    Provers {
        #[command(subcommand)]
        command: provers::ProversCommand,
    },
    /// Prove a fleet's jobs through its prover API as an outside prover (no database, no
    /// store: a key file and the API's URL).
    RemoteProver(remote_prover::Args),
    /// The configuration.
    Config {
        #[command(subcommand)]
        command: config_show::ConfigCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(_) if output::stdout_failed() => ExitCode::FAILURE,
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (RUST_LOG, default warnings) so that stdout stays the command's output.
/// Colours only on a terminal (and not with `NO_COLOR` set): escape codes in a log file or a
/// journal are noise to every tool that reads it.
fn init_logging() {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Prove(args) => prove::run(&args, &fleet::Fleet::load(&global)?)?,
        Command::Verify(args) => verify::run(&args, &global)?,
        Command::Bench(args) => bench::run(&args, &fleet::Fleet::load(&global)?)?,
        Command::Keys { command } => keys::run(command, &fleet::Fleet::load(&global)?)?,
        Command::Rollup { command } => rollup::run(command, &global)?,
        Command::FileInfo(args) => file_info::run(&args)?,
        Command::Config { command } => config_show::run(command, &global)?,
        Command::InsertVersion(args) => {
            let (fleet, runtime) = operator(&global)?;
            runtime.block_on(insert_version::run(&args, &fleet))?;
        }
        Command::InsertBatch(args) => {
            let (fleet, runtime) = operator(&global)?;
            runtime.block_on(insert_batch::run(&args, &fleet))?;
        }
        Command::Status { command } => {
            let (fleet, runtime) = operator(&global)?;
            return runtime.block_on(status::run(command, &fleet));
        }
        Command::Requeue(args) => {
            let (fleet, runtime) = operator(&global)?;
            runtime.block_on(requeue::run(&args, &fleet))?;
        }
        Command::Restart(args) => {
            let (fleet, runtime) = operator(&global)?;
            runtime.block_on(restart::run(&args, &fleet))?;
        }
        Command::Delete(args) => {
            let (fleet, runtime) = operator(&global)?;
            return runtime.block_on(delete::run(&args, &fleet));
        }
        Command::Stats(args) => {
            let (fleet, runtime) = operator(&global)?;
            runtime.block_on(stats::run(&args, &fleet))?;
        }
        Command::WitnessGenerator(args) => {
            let (fleet, runtime) = component(&global)?;
            runtime.block_on(components::witness_generator(&fleet, &args))?;
        }
        Command::CircuitProver(args) => {
            let (fleet, runtime) = component(&global)?;
            runtime.block_on(components::circuit_prover(&fleet, &args))?;
        }
        Command::Compressor => {
            let (fleet, runtime) = component(&global)?;
            runtime.block_on(components::compressor(&fleet))?;
        }
        Command::JobMonitor => {
            let (fleet, runtime) = component(&global)?;
            runtime.block_on(components::job_monitor(&fleet))?;
        }
        Command::Gateway => {
            let (fleet, runtime) = component(&global)?;
            runtime.block_on(components::gateway(&fleet))?;
        }
        Command::Sequencer => {
            let (fleet, runtime) = component(&global)?;
            runtime.block_on(sequencer::run(&fleet))?;
        }
        Command::Provers { command } => {
            let (fleet, runtime) = component(&global)?;
            runtime.block_on(provers::run(command, &fleet))?;
        }
        Command::RemoteProver(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(remote_prover::run(&args))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a long-running component needs: the configuration and a runtime with a worker per
/// core (its own blocking work runs on the blocking pool).
fn component(global: &GlobalArgs) -> anyhow::Result<(fleet::Fleet, tokio::runtime::Runtime)> {
    let fleet = fleet::Fleet::load(global)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok((fleet, runtime))
}

/// What an operator command needs: the fleet's configuration and a small async runtime (the
/// commands are a few queries each).
fn operator(global: &GlobalArgs) -> anyhow::Result<(fleet::Fleet, tokio::runtime::Runtime)> {
    let fleet = fleet::Fleet::load(global)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok((fleet, runtime))
}
