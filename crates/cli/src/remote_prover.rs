//! `zkfleet remote-prover --api URL --key FILE`: an outside prover. It needs no database and no
//! object store: it logs in to a fleet's prover API with its key, loads (or builds) the circuits
//! the API names, and proves leased jobs with the circuit prover's code path until stopped.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use zkfleet_prover_api::wire::Capabilities;
use zkfleet_prover_api::{
    load_circuits, run_remote_prover, ApiClient, ProverKey, RemoteProverOptions,
};
use zkfleet_types::AggregationRound;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The prover API's base URL (https:// in production: see docs/prover-api.md, "TLS").
    #[arg(long, value_name = "URL")]
    pub api: String,
    /// This prover's key file (`zkfleet provers keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The keystore (circuits are built there on the first run: minutes at production size).
    #[arg(long, value_name = "DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,
    /// Rounds this prover takes (default: any), e.g. `--round basic --round leaf`.
    #[arg(long = "round", value_name = "ROUND")]
    pub rounds: Vec<String>,
    /// Circuit ids this prover takes (default: any).
    #[arg(long = "circuit", value_name = "ID")]
    pub circuits: Vec<u8>,
    /// Memory offered, in MiB (default: this machine's).
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<u64>,
    /// Stop after this many jobs.
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<u64>,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let key = ProverKey::from_file(&args.key)?;
    let rounds = args
        .rounds
        .iter()
        .map(|r| {
            AggregationRound::ALL
                .into_iter()
                .find(|round| round.name() == r)
                .with_context(|| {
                    format!("unknown round {r:?} (basic, leaf, node, recursion_tip, scheduler)")
                })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let capabilities = Capabilities {
        rounds,
        circuits: args.circuits.clone(),
        memory_mib: args.memory_mib.unwrap_or_else(machine_memory_mib),
        cpu_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        gpu: false,
    };
    let mut client = ApiClient::new(&args.api, key)?;
    let info = client
        .info()
        .await
        .context("asking the API what it proves")?;
    let keys_dir = args.keys_dir.clone();
    let info_copy = info.clone();
    let circuits =
        tokio::task::spawn_blocking(move || load_circuits(&info_copy, &keys_dir)).await??;
    client.login().await.context("logging in")?;
    eprintln!(
        "logged in to {} as {}; proving protocol version {} (final key {})",
        args.api,
        client.prover(),
        info.protocol_version,
        info.final_vk_digest
    );
    let cancel = zkfleet_runner::CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        token.cancel();
    });
    let summary = run_remote_prover(
        &mut client,
        circuits,
        &RemoteProverOptions {
            capabilities,
            idle_wait: Duration::from_secs(2),
            max_jobs: args.max_jobs,
        },
        cancel,
    )
    .await?;
    println!(
        "accepted {} proofs (earned {}), {} already proven by others, {} refused",
        summary.accepted, summary.earnings, summary.already_proven, summary.refused
    );
    Ok(())
}

/// Total memory from /proc/meminfo (Linux), else 0 (the API then offers only jobs with no
/// memory requirement).
fn machine_memory_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
