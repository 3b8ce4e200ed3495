//! How a job runner is sized and paced.

use std::time::Duration;

/// Configuration of one [`crate::JobRunner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRunnerConfig {
    /// Name of the runner in metrics (`runner` label) and logs, e.g. `"witness_generator_leaf"`.
    pub name: String,
    /// Jobs executed at the same time (blocking threads in use).
    pub workers: usize,
    /// Capacity of the picker → pool and pool → saver channels. With the default of 1 the
    /// runner holds at most `workers + 3` jobs picked but not saved.
    pub channel_capacity: usize,
    /// First idle wait when the picker finds nothing (also after a picker error).
    pub idle_backoff_initial: Duration,
    /// Ceiling of the idle wait; the wait doubles up to it.
    pub idle_backoff_max: Duration,
    /// After cancellation, how long in-flight jobs may run and be saved before the runner
    /// returns without them (they stay `in_progress` for the requeuer). `None`: wait for all.
    pub shutdown_timeout: Option<Duration>,
}

impl JobRunnerConfig {
    pub fn new(name: impl Into<String>, workers: usize) -> Self {
        Self {
            name: name.into(),
            workers,
            channel_capacity: 1,
            idle_backoff_initial: Duration::from_secs(1),
            idle_backoff_max: Duration::from_secs(5),
            shutdown_timeout: None,
        }
    }

    /// The most jobs the runner holds picked but not yet saved: one per input-channel slot,
    /// one per worker (executing, or waiting to hand its result over), one per result-channel
    /// slot and the one being saved. The picker reserves a channel slot before it picks, so it
    /// never holds a job of its own.
    pub fn max_in_flight(&self) -> usize {
        self.workers + 2 * self.channel_capacity + 1
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.workers == 0 {
            return Err(ConfigError::NoWorkers {
                runner: self.name.clone(),
            });
        }
        if self.channel_capacity == 0 {
            return Err(ConfigError::ZeroCapacity {
                runner: self.name.clone(),
            });
        }
        if self.idle_backoff_initial.is_zero() {
            return Err(ConfigError::ZeroBackoff {
                runner: self.name.clone(),
            });
        }
        Ok(())
    }
}

/// A runner configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("runner {runner}: workers must be at least 1")]
    NoWorkers { runner: String },
    #[error("runner {runner}: channel capacity must be at least 1")]
    ZeroCapacity { runner: String },
    #[error(
        "runner {runner}: the idle backoff must be longer than zero (a busy loop on the database)"
    )]
    ZeroBackoff { runner: String },
}
