//! Wiring: heavy and light witness-vector generator runners feeding one prover runner.
//!
//! ```text
//!  heavy WVG runner (H workers, picks Heavy) ─┐
//!                                             ├─► mpsc (capacity 1) ─► prover runner (P workers)
//!  light WVG runner (L workers, picks Light) ─┘
//! ```
//!
//! Batches (`max_batch`): a generator runner with several idle workers picks a job for each in
//! one statement (jobs of one circuit), and the prover's saver completes the proofs that
//! finished together in one transaction. The prover runs `concurrent_proofs` proofs at once
//! (P above; sized from the host's cores and memory unless configured), each on a rayon pool
//! of the host's cores ÷ P threads when P > 1 (`crate::prover::ProofPools`).
//!
//! Shutdown: `cancel` stops the generators' pickers; the jobs they already picked are generated
//! and sent; when both generator runners have returned, every sender is dropped, the prover
//! drains the channel and stops (see [`crate::prover::ProverPicker`]). No picked job is dropped.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zkfleet_dal::{Dal, ProverJobClass};
use zkfleet_runner::{CancellationToken, JobRunner, JobRunnerConfig, RunReport};
use zkfleet_store::Store;

use crate::config::{HostSizing, ProverConfig};
use crate::error::ProverError;
use crate::job::ProverJobMeta;
use crate::protocol::check_protocol_version;
use crate::prover::{ProofPools, ProverExecutor, ProverPicker, ProverSaver};
use crate::registry::CircuitRegistry;
use crate::wvg::{WvgExecutor, WvgPicker, WvgSaver};

/// The heavy witness-vector generators' runner (the `runner` label of the runner metrics).
pub const HEAVY_RUNNER: &str = "circuit_prover_wvg_heavy";
/// The light witness-vector generators' runner.
pub const LIGHT_RUNNER: &str = "circuit_prover_wvg_light";
/// The prover stage's runner.
pub const PROVER_RUNNER: &str = "circuit_prover";

/// What each runner did, returned when the prover stops.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// `None` when configured with no heavy generators.
    pub heavy: Option<RunReport<ProverJobMeta>>,
    /// `None` when configured with no light generators.
    pub light: Option<RunReport<ProverJobMeta>>,
    /// The prover stage's report.
    pub prover: RunReport<ProverJobMeta>,
}

impl RunSummary {
    /// Jobs picked by the generators.
    pub fn picked(&self) -> u64 {
        self.generators().map(|r| r.picked).sum()
    }

    /// Jobs proved, stored and completed (or found already done by someone else).
    pub fn proved(&self) -> u64 {
        self.prover.succeeded
    }

    /// Jobs failed: at witness-vector generation (blob, witness) or at proving.
    pub fn failed(&self) -> u64 {
        self.generators()
            .map(|r| r.failed + r.panicked)
            .sum::<u64>()
            + self.prover.failed
            + self.prover.panicked
    }

    fn generators(&self) -> impl Iterator<Item = &RunReport<ProverJobMeta>> {
        self.heavy.iter().chain(self.light.iter())
    }
}

/// Runs the circuit prover until `cancel` is cancelled and every picked job is saved.
///
/// The registry is loaded by the caller once per process (see [`CircuitRegistry::for_config`]).
/// Before the first pick, the protocol version must exist in the job database and record the
/// final verifying-key digest of the loaded circuits ([`ProverError::UnknownProtocolVersion`],
/// [`ProverError::FinalKeyMismatch`] otherwise). Jobs of a (round, circuit) the registry lacks
/// are failed with a clear error.
pub async fn run(
    dal: Dal,
    store: Store,
    registry: Arc<CircuitRegistry>,
    config: ProverConfig,
    cancel: CancellationToken,
) -> Result<RunSummary, ProverError> {
    config.validate()?;
    if registry.is_empty() {
        return Err(ProverError::Config(
            "the circuit registry is empty: this process could prove nothing".into(),
        ));
    }
    check_protocol_version(&dal, config.protocol_version, registry.final_vk_digest()).await?;
    let picked_by = config.worker_name();
    let heavy_set = config.heavy_set();
    let (to_prover, from_generators) = mpsc::channel(config.channel_capacity);

    let generator = |class: ProverJobClass, name: &'static str, label: &'static str, workers| {
        let runner_config = JobRunnerConfig {
            pick_batch: config.max_batch,
            ..JobRunnerConfig::new(name, workers)
                .with_idle_backoff_ms(config.idle_backoff_initial_ms, config.idle_backoff_max_ms)
        };
        JobRunner::new(
            WvgPicker {
                dal: dal.clone(),
                store: store.clone(),
                version: config.protocol_version,
                class,
                heavy: heavy_set.clone(),
                rounds: config.picked_rounds(),
                picked_by: picked_by.clone(),
                runner: label,
            },
            WvgExecutor {
                registry: Arc::clone(&registry),
            },
            WvgSaver {
                dal: dal.clone(),
                to_prover: to_prover.clone(),
            },
            runner_config,
        )
        .map(|runner| {
            // Idle, the generator waits for prover jobs to be announced (docs/database.md).
            let wake = dal.job_wakeups(zkfleet_dal::JobTable::ProverJobs);
            runner.with_wake(wake.receiver.clone(), wake.idle_ceiling())
        })
    };
    let heavy = match config.heavy_wvg_count {
        0 => None,
        n => Some(generator(ProverJobClass::Heavy, HEAVY_RUNNER, "heavy", n)?),
    };
    let light = match config.light_wvg_count {
        0 => None,
        n => Some(generator(ProverJobClass::Light, LIGHT_RUNNER, "light", n)?),
    };
    // Only the generators' savers may hold senders: the prover's end is its picker seeing the
    // channel closed.
    drop(to_prover);

    let host = HostSizing::of_this_host();
    let threads_per_proof = (host.cores / config.concurrent_proofs).max(1);
    let pools = ProofPools::new(config.concurrent_proofs, threads_per_proof)?;
    let prover_stop = CancellationToken::new();
    let prover = JobRunner::new(
        ProverPicker {
            from_generators,
            stop: prover_stop.clone(),
        },
        ProverExecutor {
            registry: Arc::clone(&registry),
            pools,
        },
        ProverSaver { dal, store },
        JobRunnerConfig {
            save_batch: config.max_batch,
            ..JobRunnerConfig::new(PROVER_RUNNER, config.concurrent_proofs)
        },
    )?;

    tracing::info!(
        protocol_version = %config.protocol_version,
        heavy = config.heavy_wvg_count,
        light = config.light_wvg_count,
        concurrent_proofs = config.concurrent_proofs,
        concurrent_proofs_sized_for_host = host.concurrent_proofs(),
        threads_per_proof = if config.concurrent_proofs > 1 { threads_per_proof } else { host.cores },
        host_cores = host.cores,
        host_available_memory_mib = host.available_memory.map(|bytes| bytes >> 20),
        max_batch = config.max_batch,
        picked_by = %picked_by,
        final_vk_digest = %registry.final_vk_digest(),
        circuits = ?registry.circuits().collect::<Vec<_>>(),
        "circuit prover started"
    );
    let prover = prover.run(prover_stop);
    let heavy = heavy.map(|runner| runner.run(cancel.clone()));
    let light = light.map(|runner| runner.run(cancel.clone()));

    let heavy = join(HEAVY_RUNNER, heavy).await?;
    let light = join(LIGHT_RUNNER, light).await?;
    let prover =
        join(PROVER_RUNNER, Some(prover))
            .await?
            .ok_or_else(|| ProverError::RunnerDied {
                runner: PROVER_RUNNER.into(),
                reason: "no report".into(),
            })?;
    let summary = RunSummary {
        heavy,
        light,
        prover,
    };
    tracing::info!(
        picked = summary.picked(),
        proved = summary.proved(),
        failed = summary.failed(),
        "circuit prover stopped"
    );
    Ok(summary)
}

async fn join(
    runner: &str,
    handle: Option<JoinHandle<RunReport<ProverJobMeta>>>,
) -> Result<Option<RunReport<ProverJobMeta>>, ProverError> {
    match handle {
        None => Ok(None),
        Some(handle) => handle.await.map(Some).map_err(|e| ProverError::RunnerDied {
            runner: runner.to_owned(),
            reason: e.to_string(),
        }),
    }
}
