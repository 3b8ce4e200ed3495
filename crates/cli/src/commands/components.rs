//! Long-running components: `zkfleet witness-generator`, `circuit-prover`, `compressor`,
//! `job-monitor` and `gateway`.
//!
//! Each runs until SIGINT or SIGTERM, then stops gracefully (in-flight work finishes or is left
//! for the requeuer). Configuration comes from the `[monitor]` / `[gateway]` sections, and for
//! the proving components from `[proving]`, their own sections and `[polling]` through
//! [`crate::proving::ProvingComponents`] (as `zkfleet prove` builds them), with the database
//! and store of the fleet.

use anyhow::Context;
pub(crate) use zkfleet_service::shutdown_on_signal;

use crate::fleet::Fleet;
use crate::proving::{ComponentFlags, Launch, ProvingComponents};

/// `zkfleet job-monitor`.
pub(crate) async fn job_monitor(fleet: &Fleet) -> anyhow::Result<()> {
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    // The monitor's `run` installs the process-wide recorder too (the same one: installing is
    // idempotent); installing it first lets the store's counters be registered on it before
    // the first scrape.
    zkfleet_job_monitor::install_prometheus_recorder().context("job monitor metrics")?;
    zkfleet_store::register_metrics();
    let cancel = shutdown_on_signal();
    tracing::info!(
        listen = %fleet.config.monitor.listen_address,
        "job monitor starting"
    );
    zkfleet_job_monitor::run(dal, store, fleet.config.monitor.clone(), cancel)
        .await
        .context("job monitor")
}

/// `zkfleet gateway`.
pub(crate) async fn gateway(fleet: &Fleet) -> anyhow::Result<()> {
    export_metrics("gateway", fleet.config.metrics.gateway)?;
    zkfleet_gateway::metrics::register();
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    let cancel = shutdown_on_signal();
    tracing::info!(
        mode = ?fleet.config.gateway.mode,
        listen = %fleet.config.gateway.listen_address,
        "gateway starting"
    );
    zkfleet_gateway::run(dal, store, fleet.config.gateway.clone(), cancel)
        .await
        .context("gateway")
}

/// Serves this process's Prometheus metrics on `GET http://ADDR/metrics` through the service
/// crate's listener (every series the component records through the `metrics` facade: its
/// jobs, the object store, the runner; an address in use is an error naming the `[metrics]`
/// key), with the object store's counters registered at 0 (every component uses the store).
fn export_metrics(component: &str, address: std::net::SocketAddr) -> anyhow::Result<()> {
    zkfleet_service::metrics::listen(component, address)?;
    zkfleet_store::register_metrics();
    Ok(())
}

/// Flags of `zkfleet witness-generator`.
#[derive(clap::Args)]
pub(crate) struct WitnessGeneratorArgs {
    /// A round to run (repeatable): basic, leaf, node, recursion-tip, scheduler.
    #[arg(long = "round", value_name = "ROUND", conflicts_with = "all_rounds")]
    rounds: Vec<zkfleet_types::AggregationRound>,
    /// Run every round.
    #[arg(long)]
    all_rounds: bool,
    /// The protocol version whose jobs this process picks (default: `[proving]`).
    #[arg(long)]
    protocol_version: Option<zkfleet_types::ProtocolSemanticVersion>,
    /// Circuit uploads in flight at once (bounds memory; default: `[witness_generator]`, 64).
    #[arg(long)]
    max_circuits_in_flight: Option<usize>,
}

/// `zkfleet witness-generator`.
pub(crate) async fn witness_generator(
    fleet: &Fleet,
    args: &WitnessGeneratorArgs,
) -> anyhow::Result<()> {
    use zkfleet_witness_generator::WitnessGeneratorConfig;
    let rounds = if args.all_rounds {
        WitnessGeneratorConfig::all_rounds()
    } else if args.rounds.is_empty() {
        anyhow::bail!("give --round ROUND (repeatable) or --all-rounds");
    } else {
        args.rounds.clone()
    };
    let flags = ComponentFlags {
        protocol_version: args.protocol_version,
        max_circuits_in_flight: args.max_circuits_in_flight,
        ..ComponentFlags::default()
    };
    let config = ProvingComponents::new(&fleet.config, flags, Launch::Standalone)
        .witness_generator(rounds)?;
    export_metrics("witness generator", fleet.config.metrics.witness_generator)?;
    zkfleet_witness_generator::metrics::register(&config.rounds);
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    let cancel = shutdown_on_signal();
    let reports = zkfleet_witness_generator::run(dal, store, config, cancel)
        .await
        .context("witness generator")?;
    for report in reports {
        tracing::info!(?report, "witness generator round stopped");
    }
    Ok(())
}

/// Flags of `zkfleet circuit-prover`.
#[derive(clap::Args)]
pub(crate) struct CircuitProverArgs {
    /// Light witness-vector generators (default: `[circuit_prover]`, else one per core but one).
    #[arg(long)]
    light: Option<usize>,
    /// Heavy witness-vector generators: heavy circuits first, then light ones (default:
    /// `[circuit_prover]`, else 1).
    #[arg(long)]
    heavy: Option<usize>,
    /// The protocol version whose jobs this process picks (default: `[proving]`).
    #[arg(long)]
    protocol_version: Option<zkfleet_types::ProtocolSemanticVersion>,
    /// Directory of the cached circuit data (default: `[proving] keys_dir`, else
    /// DATA_DIR/keys; built on first use).
    #[arg(long, value_name = "DIR")]
    keys_dir: Option<std::path::PathBuf>,
    /// Which prover proves: `cpu` (zkfleet's prover, Merkle trees hashed eight leaves at a time),
    /// `plonky2` (plonky2's `prove`, the reference) or `gpu` (the batch commitments on a GPU; the
    /// CPU, with a warning, where no GPU is usable) (default: `[circuit_prover] backend`, else
    /// cpu).
    #[arg(long, value_name = "cpu|plonky2|gpu")]
    backend: Option<zkfleet_circuit_prover::ProverBackend>,
    /// The card `--backend gpu` proves on, as a CUDA ordinal among the cards
    /// CUDA_VISIBLE_DEVICES leaves visible (default: `[circuit_prover] gpu_device`, else 0). Run
    /// one circuit prover per card.
    #[arg(long, value_name = "ORDINAL")]
    gpu_device: Option<usize>,
}

/// `zkfleet circuit-prover`.
pub(crate) async fn circuit_prover(fleet: &Fleet, args: &CircuitProverArgs) -> anyhow::Result<()> {
    use zkfleet_circuit_prover::CircuitRegistry;
    let flags = ComponentFlags {
        protocol_version: args.protocol_version,
        keys_dir: args.keys_dir.clone(),
        light: args.light,
        heavy: args.heavy,
        backend: args.backend,
        gpu_device: args.gpu_device,
        ..ComponentFlags::default()
    };
    let config =
        ProvingComponents::new(&fleet.config, flags, Launch::Standalone).circuit_prover()?;
    export_metrics("circuit prover", fleet.config.metrics.circuit_prover)?;
    // Circuit data is loaded (or built and cached) once, before the first pick.
    let registry = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || CircuitRegistry::for_config(&config))
            .await
            .context("loading circuit data")?
            .context("loading circuit data")?
    };
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    let cancel = shutdown_on_signal();
    let summary =
        zkfleet_circuit_prover::run(dal, store, std::sync::Arc::new(registry), config, cancel)
            .await
            .context("circuit prover")?;
    tracing::info!(
        picked = summary.picked(),
        proved = summary.proved(),
        failed = summary.failed(),
        "circuit prover stopped"
    );
    Ok(())
}

/// `zkfleet compressor`.
pub(crate) async fn compressor(fleet: &Fleet) -> anyhow::Result<()> {
    let config =
        ProvingComponents::new(&fleet.config, ComponentFlags::default(), Launch::Standalone)
            .compressor()?;
    export_metrics("compressor", fleet.config.metrics.compressor)?;
    zkfleet_compressor::metrics::register();
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    let cancel = shutdown_on_signal();
    let report = zkfleet_compressor::run(dal, store, config, cancel)
        .await
        .context("compressor")?;
    tracing::info!(
        picked = report.picked,
        succeeded = report.succeeded,
        failed = report.failed,
        "compressor stopped"
    );
    Ok(())
}
