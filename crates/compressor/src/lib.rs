//! Compressor: re-proves the scheduler proof into the final, size-optimised proof.
//!
//! This crate is the `zkfleet compressor` component, following ZKsync's proof compressor
//! (reference §5.4): one [`zkfleet_runner::JobRunner`] whose picker takes a compression job
//! (queued by the transaction that completed the batch's scheduler proof) and loads the
//! scheduler proof and the batch's aux output, whose executor runs the compression chain on a
//! blocking thread (`BatchCircuits::compress`, which verifies the scheduler proof first and the
//! final proof last), and whose saver stores the final proof
//! ([`zkfleet_types::api::FinalProof`] at `ObjectKey::FinalProof`) and completes the job.
//!
//! The final proof must attest exactly the batch output native execution computed (the aux
//! output, with the configuration's recursion-tree key digest filled in): a final proof of any
//! other output is refused and never stored. Any failure of a job (a blob missing or corrupt,
//! the scheduler proof refused, an output mismatch, the store failing) fails that job with a
//! message naming the job and the cause; no job is left in progress and nothing panics.
//!
//! At start, [`run`] loads every circuit of the configured proving configuration from the
//! keystore once and refuses to start unless the protocol version exists in the job database
//! and records the final verifying-key digest of those circuits.
//!
//! - [`config`]: [`CompressorConfig`]; [`error`]: [`CompressorError`];
//! - [`backend`]: zkfleet's prover with the batched Merkle hasher on the CPU (the default),
//!   plonky2's `prove` (`backend = "plonky2"`) or zkfleet's prover on a GPU (`backend = "gpu"`);
//! - [`job`]: [`CompressionJobMeta`], a job's identity and keys;
//! - [`stages`]: the picker, executor and saver;
//! - [`metrics`]: metric names.
//!
//! Operator documentation: `docs/compressor.md`.

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod backend;
pub mod config;
pub mod error;
pub mod job;
pub mod metrics;
pub mod stages;

use std::sync::Arc;

use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::Keystore;
use zkfleet_dal::Dal;
use zkfleet_runner::{JobRunner, JobRunnerConfig, RunReport};
use zkfleet_store::Store;
use zkfleet_types::{ProtocolSemanticVersion, VkDigest};

pub use backend::{CommitProver, CompressorBackend};
pub use config::CompressorConfig;
pub use error::CompressorError;
pub use job::CompressionJobMeta;
pub use zkfleet_runner::CancellationToken;

use stages::{CompressionExecutor, CompressionPicker, CompressionSaver};

/// Runner name (the `runner` label of the runner metrics).
pub const RUNNER: &str = "compressor";

/// Loads (or builds and caches) every circuit of the configuration from its keystore. Blocking
/// and long on a keystore miss: call it on a blocking thread.
pub fn load_circuits(config: &CompressorConfig) -> Result<BatchCircuits, CompressorError> {
    let keystore = Keystore::open(&config.keys_dir).map_err(CompressorError::Keystore)?;
    let proving = config.proving_configuration();
    let loaded =
        keystore
            .batch_circuits(&proving)
            .map_err(|source| CompressorError::LoadCircuits {
                configuration: format!(
                    "geometry {:?}, arity {}, compression {:?}",
                    proving.geometry, proving.arity, proving.compression
                ),
                source,
            })?;
    for (entry, source) in &loaded.sources {
        tracing::info!(entry = %entry, source = ?source, "circuit data loaded");
    }
    tracing::info!(
        seconds = loaded.elapsed.as_secs_f64(),
        "every circuit of the configuration is loaded"
    );
    Ok(loaded.circuits)
}

/// Refuses to start unless `version` is registered with final verifying-key digest `loaded`.
pub async fn check_protocol_version(
    dal: &Dal,
    version: ProtocolSemanticVersion,
    loaded: VkDigest,
) -> Result<(), CompressorError> {
    let row = dal
        .protocol_version(version)
        .await?
        .ok_or(CompressorError::UnknownProtocolVersion(version))?;
    if row.final_vk_digest != loaded {
        return Err(CompressorError::FinalKeyMismatch {
            version,
            recorded: row.final_vk_digest,
            loaded,
        });
    }
    Ok(())
}

/// Runs the compressor until `cancel` is cancelled and the job in hand is saved: loads the
/// configuration's circuits once (on a blocking thread), then [`run_with_circuits`].
pub async fn run(
    dal: Dal,
    store: Store,
    config: CompressorConfig,
    cancel: CancellationToken,
) -> Result<RunReport<CompressionJobMeta>, CompressorError> {
    config.validate()?;
    let circuits = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || load_circuits(&config))
            .await
            .map_err(|e| CompressorError::TaskDied {
                task: "loading the circuits",
                reason: e.to_string(),
            })??
    };
    run_with_circuits(dal, store, Arc::new(circuits), config, cancel).await
}

/// Runs the compressor with circuits the caller loaded (a process running several components
/// shares one copy). `circuits` must be those of `config`'s proving configuration; the
/// protocol version check at start refuses others.
pub async fn run_with_circuits(
    dal: Dal,
    store: Store,
    circuits: Arc<BatchCircuits>,
    config: CompressorConfig,
    cancel: CancellationToken,
) -> Result<RunReport<CompressionJobMeta>, CompressorError> {
    config.validate()?;
    let final_vk_digest = FinalVerifyingKey::of(&circuits)
        .map_err(|e| CompressorError::Compress(e.into()))?
        .digest();
    check_protocol_version(&dal, config.protocol_version, final_vk_digest).await?;
    let prover = {
        let (backend, device) = (config.backend, config.gpu_device);
        // Opening the card compiles the kernels (NVRTC): off the async threads.
        tokio::task::spawn_blocking(move || backend::select_backend(backend, device))
            .await
            .map_err(|e| CompressorError::TaskDied {
                task: "starting the backend",
                reason: e.to_string(),
            })??
            .map(Arc::new)
    };
    let picked_by = config.worker_name();
    let runner_config = JobRunnerConfig::new(RUNNER, 1)
        .with_idle_backoff_ms(config.idle_backoff_initial_ms, config.idle_backoff_max_ms);
    // One job at a time: the compression chain already uses every core.
    // Idle, the compressor waits for compression jobs to be announced (docs/database.md).
    let wake = dal.job_wakeups(zkfleet_dal::JobTable::CompressionJobs);
    let runner = JobRunner::new(
        CompressionPicker {
            dal: dal.clone(),
            store: store.clone(),
            version: config.protocol_version,
            picked_by: picked_by.clone(),
        },
        CompressionExecutor {
            circuits,
            prover: prover.clone(),
        },
        CompressionSaver { dal, store },
        runner_config,
    )?
    .with_wake(wake.receiver.clone(), wake.idle_ceiling());
    tracing::info!(
        protocol_version = %config.protocol_version,
        picked_by = %picked_by,
        final_vk_digest = %final_vk_digest,
        backend = prover.as_ref().map_or("plonky2", |p| p.backend_name()),
        "compressor started"
    );
    let report = runner
        .run(cancel)
        .await
        .map_err(|e| CompressorError::TaskDied {
            task: "the compressor runner",
            reason: e.to_string(),
        })?;
    tracing::info!(
        picked = report.picked,
        succeeded = report.succeeded,
        failed = report.failed + report.panicked,
        "compressor stopped"
    );
    Ok(report)
}
