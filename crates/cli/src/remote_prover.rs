//! `zkfleet remote-prover --api URL --key FILE`: an outside prover. It needs no database and no
//! object store: it logs in to a fleet's prover API with its key, loads (or builds) the circuits
//! the API names, and proves leased jobs with the circuit prover's code path until stopped:
//! zkfleet's prover with the batched Merkle hasher on the CPU (`--backend plonky2`: plonky2's
//! own `prove`), or with `--backend gpu` the circuit prover's GPU backend
//! (`zkfleet_circuit_prover::backend`, commitments on card `--gpu-device`), which falls back
//! to the CPU with a warning where no GPU is usable.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use zkfleet_circuit_prover::{select_backend, CircuitRegistry, ProverBackend};
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_prover_api::wire::Capabilities;
use zkfleet_prover_api::{
    load_circuits, run_remote_prover, ApiClient, JobProver, ProverKey, RemoteProverOptions,
};
use zkfleet_types::{AggregationRound, CircuitId};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The prover API's base URL (https:// in production: see docs/prover-api.md, "TLS").
    #[arg(long, value_name = "URL")]
    pub(crate) api: String,
    /// CA certificates (PEM) to trust for the API's certificate besides the system's roots: a
    /// private CA, or the API's own self-signed certificate.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// This prover's key file (`zkfleet provers keygen`).
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The keystore (circuits are built there on the first run: minutes at production size).
    #[arg(long, value_name = "DIR", default_value = "./keys")]
    pub(crate) keys_dir: PathBuf,
    /// Rounds this prover takes (default: any), e.g. `--round basic --round leaf`.
    #[arg(long = "round", value_name = "ROUND")]
    pub(crate) rounds: Vec<String>,
    /// Circuit ids this prover takes (default: any).
    #[arg(long = "circuit", value_name = "ID")]
    pub(crate) circuits: Vec<u8>,
    /// Memory offered, in MiB (default: this machine's).
    #[arg(long, value_name = "MIB")]
    pub(crate) memory_mib: Option<u64>,
    /// Stop after this many jobs.
    #[arg(long, value_name = "N")]
    pub(crate) max_jobs: Option<u64>,
    /// Which prover proves: "cpu" (the batched Merkle hasher), "plonky2" (plonky2's `prove`,
    /// the reference) or "gpu" (the circuit prover's GPU backend; the CPU, with a warning, where
    /// no GPU is usable). A GPU prover tells the API so when it leases.
    #[arg(long, value_name = "BACKEND", default_value = "cpu")]
    pub(crate) backend: ProverBackend,
    /// The CUDA ordinal `--backend gpu` proves on (one remote prover per card).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) gpu_device: usize,
}

/// The circuit prover's registry (CPU provers, or the GPU backend over them) as the remote
/// prover's [`JobProver`]: the same witness-vector generation and proving, each proof verified
/// before it is returned.
struct RegistryProver(CircuitRegistry);

impl JobProver for RegistryProver {
    fn prove(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        input: &[u8],
    ) -> Result<Vec<u8>, String> {
        let prover = self.0.get(round, circuit).map_err(|e| e.to_string())?;
        let vector = prover.witness_vector(input).map_err(|e| e.to_string())?;
        prover.prove(vector).map_err(|e| e.to_string())
    }
}

/// The prover of `requested` over `circuits`, and the backend that will actually prove.
pub(crate) fn job_prover(
    circuits: Arc<BatchCircuits>,
    requested: ProverBackend,
    gpu_device: usize,
) -> anyhow::Result<(Arc<dyn JobProver>, ProverBackend)> {
    if requested == ProverBackend::Cpu {
        return Ok((circuits, ProverBackend::Cpu));
    }
    let mut registry = CircuitRegistry::from_circuits(circuits)?;
    let selected = select_backend(&mut registry, requested, gpu_device)
        .context("starting the GPU backend (--gpu-device)")?;
    Ok((Arc::new(RegistryProver(registry)), selected))
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
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
    let ca_pem = args
        .ca_cert
        .as_ref()
        .map(|path| {
            std::fs::read(path).with_context(|| format!("reading --ca-cert {}", path.display()))
        })
        .transpose()?;
    let mut client = ApiClient::with_root_certificates(&args.api, key, ca_pem.as_deref())
        .context("the API client (--ca-cert must be PEM certificates)")?;
    let info = client
        .info()
        .await
        .context("asking the API what it proves")?;
    let keys_dir = args.keys_dir.clone();
    let info_copy = info.clone();
    let circuits =
        tokio::task::spawn_blocking(move || load_circuits(&info_copy, &keys_dir)).await??;
    let (prover, backend) = job_prover(circuits, args.backend, args.gpu_device)?;
    let capabilities = Capabilities {
        rounds,
        circuits: args.circuits.clone(),
        memory_mib: args.memory_mib.unwrap_or_else(machine_memory_mib),
        cpu_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        gpu: backend == ProverBackend::Gpu,
    };
    client.login().await.context("logging in")?;
    eprintln!(
        "logged in to {} as {}; proving protocol version {} (final key {}) on the {backend}",
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
        prover,
        &RemoteProverOptions {
            capabilities,
            idle_wait: Duration::from_secs(2),
            max_jobs: args.max_jobs,
        },
        cancel,
    )
    .await?;
    out!(
        "accepted {} proofs (earned {}), {} already proven by others, {} refused",
        summary.accepted,
        summary.earnings,
        summary.already_proven,
        summary.refused
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
