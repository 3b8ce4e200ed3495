//! The job-processing framework every zkfleet component runs on.
//!
//! A worker component (witness generator, circuit prover, compressor) is a [`JobPicker`], an
//! [`Executor`] and a [`JobSaver`] handed to a [`JobRunner`], which wires them as ZKsync's
//! `prover_job_processor` does: picker → bounded channel → `workers` executions on the blocking
//! thread pool → bounded channel → saver. The runner owns the concerns every component shares:
//! back-pressure (it never picks more than it can run), idle backoff, cancellation and graceful
//! shutdown, containment of executor failures and panics, metrics and a tracing span per job.
//!
//! A job whose input cannot be loaded (a blob missing, truncated or malformed) still goes from
//! picker to saver, carrying the cause as a [`LoadedInput`], and is failed by the saver like
//! any other failed job: see [`JobPicker`].
//!
//! The job monitor is a set of [`PeriodicTask`]s run by a [`PeriodicTaskRunner`].
//!
//! - [`traits`]: the picker, executor and saver roles;
//! - [`config`]: sizing and pacing of a runner;
//! - [`job_runner`]: the runner, its task layout and its shutdown;
//! - [`backoff`]: the picker's idle backoff;
//! - [`periodic`]: periodic tasks;
//! - [`metrics`]: metric names.
//!
//! Task layout, shutdown semantics and metric names: `docs/store-and-runner.md`.

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod backoff;
pub mod config;
pub mod job_runner;
pub mod metrics;
pub mod periodic;
pub mod traits;
pub mod worker;

pub use config::{check_idle_backoff_ms, ConfigError, IdleBackoffError, JobRunnerConfig};
pub use job_runner::{JobRunner, RunReport};
pub use periodic::{PeriodicTask, PeriodicTaskRunner, TaskRunCounts};
pub use tokio_util::sync::CancellationToken;
pub use traits::{Executor, FinishedJob, JobError, JobPicker, JobSaver, LoadedInput, PickedMany};
pub use worker::{hostname, worker_name};
