//! The job monitor (`zkfleet job-monitor`): the fleet's housekeeping, as ZKsync's
//! `prover_job_monitor` (reference §2.3, §2.4, §8), improved where DESIGN.md §5 says so.
//!
//! Workers only pick, run and complete jobs; everything that keeps the queues moving when a
//! worker dies or a row goes astray is here, as periodic tasks against the job database:
//!
//! - [`tasks::DependencyQueuer`]: catch-up queuing of waiting jobs whose dependencies are done
//!   (completions queue their dependents themselves; this is the safety net);
//! - [`tasks::JobRequeuer`]: jobs stuck `in_progress` past their kind's timeout, or `failed`,
//!   back to `queued`, or to the terminal `attempts_exhausted` past the maximum attempts;
//! - [`tasks::ProverJobArchiver`]: finished batches' prover jobs to the archive, their blobs
//!   collected from the object store, old archive rows deleted;
//! - [`tasks::QueueReporter`], [`tasks::AttemptsReporter`]: Prometheus gauges.
//!
//! A task run that fails (the database is down) is logged and counted, and the task runs
//! again at its next tick; the process never stops for it. One HTTP server ([`http`]) serves
//! the live status page ([`status`], `/` and `/status.json`), `/queue_report`, `/metrics` and
//! `/healthz`; the data endpoints can be put behind bearer tokens ([`auth`]). Configuration:
//! [`MonitorConfig`]; metric names: [`metrics`] and `docs/job-monitor.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use zkfleet_job_monitor::{run, MonitorConfig};
//! use zkfleet_runner::CancellationToken;
//!
//! let dal = zkfleet_dal::Dal::connect("sqlite://zkfleet.db").await?;
//! let store = zkfleet_store::Store::open(&zkfleet_store::StoreConfig::local("artifacts"))?;
//! let cancel = CancellationToken::new();
//! run(dal, store, MonitorConfig::default(), cancel).await?;
//! # Ok(()) }
//! ```

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod auth;
pub mod config;
pub mod http;
pub mod metrics;
pub mod status;
pub mod tasks;

use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use zkfleet_dal::{ArchivePolicy, Dal};
use zkfleet_runner::{CancellationToken, PeriodicTaskRunner, TaskRunCounts};
use zkfleet_store::Store;

pub use auth::{AuthError, MonitorAuth};
pub use config::{
    AuthConfig, ConfigError, JobTimeouts, MaxAttempts, MonitorConfig, StatusPageConfig,
    TaskIntervals,
};
pub use http::{build_router, HttpState};
pub use metrics::{install_prometheus_recorder, RecorderError};
pub use status::StatusSnapshot;
pub use tasks::TaskError;

use tasks::{ArchiverSettings, BlobCollection};

/// How often the Prometheus recorder folds its histogram buckets (the exporter leaves this
/// to whoever builds the recorder when it does not run its own listener).
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why the monitor could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The configuration cannot work (the error names the setting).
    #[error("invalid job monitor configuration: {0}")]
    Config(#[from] ConfigError),
    /// The Prometheus recorder could not be installed.
    #[error(transparent)]
    Metrics(#[from] RecorderError),
    /// The bearer tokens of the HTTP endpoints could not be read.
    #[error("job monitor tokens: {0}")]
    Auth(#[from] AuthError),
    /// The HTTP endpoints' address could not be bound.
    #[error(
        "cannot listen on {address} for the job monitor's HTTP endpoints \
         (/, /status.json, /queue_report, /metrics, /healthz): {source}; set \
         job_monitor.listen_address to a free address"
    )]
    Bind {
        /// The configured `job_monitor.listen_address`.
        address: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("the job monitor's HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Runs the monitor until `cancel` fires: installs the Prometheus recorder (once per process),
/// listens on `config.listen_address`, and runs every task and the HTTP server. On cancel, runs
/// under way finish, the server drains its connections, and `run` returns.
pub async fn run(
    dal: Dal,
    store: Store,
    config: MonitorConfig,
    cancel: CancellationToken,
) -> Result<(), MonitorError> {
    config.validate()?;
    let metrics = install_prometheus_recorder()?;
    let listener = TcpListener::bind(config.listen_address)
        .await
        .map_err(|source| MonitorError::Bind {
            address: config.listen_address,
            source,
        })?;
    serve(dal, store, config, listener, metrics, cancel).await?;
    Ok(())
}

/// [`run`] on a listener the caller bound, with the caller's metrics handle; returns what each
/// task did (runs, errors, panics) once cancelled. Tokens for the data endpoints come from
/// `config.auth` and the environment variable [`auth::TOKENS_ENV_VAR`].
pub async fn serve(
    dal: Dal,
    store: Store,
    config: MonitorConfig,
    listener: TcpListener,
    metrics: PrometheusHandle,
    cancel: CancellationToken,
) -> Result<Vec<TaskRunCounts>, MonitorError> {
    config.validate()?;
    let auth = MonitorAuth::from_config(
        &config.auth,
        std::env::var(auth::TOKENS_ENV_VAR).ok().as_deref(),
    )?;
    // A child token: if the server fails, the tasks stop with it, without cancelling the
    // caller's other components (`zkfleet prove` runs them all under one token).
    let stop = cancel.child_token();
    let mut runner = PeriodicTaskRunner::new(stop.clone());
    spawn_tasks(&mut runner, &dal, store, &config);
    let upkeep = tokio::spawn(metrics_upkeep(metrics.clone(), stop.clone()));

    let address = listener.local_addr().ok();
    tracing::info!(
        ?address,
        tokens_required = auth.is_required(),
        "job monitor serving / (status page), /status.json, /queue_report, /metrics, /healthz"
    );
    let state = HttpState {
        dal,
        metrics,
        status_page: config.status_page.clone(),
    };
    let router = http::routes(&auth).with_state(state);
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await;
    if let Err(e) = &served {
        tracing::error!(error = %e, "job monitor HTTP server failed; stopping the tasks");
    }
    stop.cancel();
    let counts = runner.join().await;
    // The upkeep loop ends with `stop`; a join error would only mean it panicked.
    let _ = upkeep.await;
    tracing::info!(?counts, "job monitor stopped");
    served.map_err(MonitorError::Serve)?;
    Ok(counts)
}

/// Starts the five tasks with their configured intervals.
pub fn spawn_tasks(
    runner: &mut PeriodicTaskRunner,
    dal: &Dal,
    store: Store,
    config: &MonitorConfig,
) {
    metrics::register_task_counters();
    let intervals = &config.intervals;
    runner.spawn(tasks::DependencyQueuer::new(
        dal.clone(),
        intervals.dependency_queuer,
    ));
    runner.spawn(
        tasks::JobRequeuer::new(
            dal.clone(),
            intervals.job_requeuer,
            config.timeouts.clone(),
            config.max_attempts.clone(),
        )
        .with_retry_backoff(config.retry_backoff()),
    );
    runner.spawn(tasks::ProverJobArchiver::new(
        dal.clone(),
        archiver_settings(config, store),
    ));
    runner.spawn(tasks::QueueReporter::new(
        dal.clone(),
        intervals.queue_reporter,
    ));
    runner.spawn(tasks::AttemptsReporter::new(
        dal.clone(),
        intervals.attempts_reporter,
        config.max_attempts.clone(),
    ));
}

/// The archiver's part of the configuration.
pub fn archiver_settings(config: &MonitorConfig, store: Store) -> ArchiverSettings {
    ArchiverSettings {
        interval: config.intervals.prover_job_archiver,
        policy: ArchivePolicy {
            archive_after: config.archive_after,
            include_unsent: config.archive_unsent_batches,
        },
        delete_archived_after: config.delete_archived_after,
        collect_blobs: config.collect_archived_blobs.then(|| BlobCollection {
            store,
            concurrency: config.blob_delete_concurrency,
        }),
    }
}

async fn metrics_upkeep(metrics: PrometheusHandle, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => metrics.run_upkeep(),
        }
    }
}
