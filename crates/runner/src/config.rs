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
    /// Most jobs one pick may take ([`crate::JobPicker::pick_many`]). The runner asks for as
    /// many as it has idle workers, up to this, so batching never holds a job no worker can
    /// start. 1 (the default): one job per pick.
    pub pick_batch: usize,
    /// Most finished jobs one save may record ([`crate::JobSaver::save_many`]): the saver takes
    /// whatever finished while it was busy, up to this. 1 (the default): one job per save.
    pub save_batch: usize,
}

impl JobRunnerConfig {
    /// A runner named `name` (its metrics label and log field) with `workers` executors and
    /// the defaults for everything else.
    pub fn new(name: impl Into<String>, workers: usize) -> Self {
        Self {
            name: name.into(),
            workers,
            channel_capacity: 1,
            idle_backoff_initial: Duration::from_secs(1),
            idle_backoff_max: Duration::from_secs(5),
            shutdown_timeout: None,
            pick_batch: 1,
            save_batch: 1,
        }
    }

    /// The most jobs the runner holds picked but not yet saved: one per input-channel slot,
    /// one per worker (executing, or waiting to hand its result over), one per result-channel
    /// slot ([`Self::result_capacity`]) and up to `save_batch` being saved. The picker reserves
    /// a channel slot before it picks and takes several jobs only for idle workers, so it never
    /// holds a job of its own.
    pub fn max_in_flight(&self) -> usize {
        self.workers + self.channel_capacity + self.result_capacity() + self.save_batch
    }

    /// Capacity of the pool → saver channel: room for a whole save batch to gather while the
    /// saver records the previous one (`channel_capacity` when saves are single).
    pub fn result_capacity(&self) -> usize {
        self.channel_capacity.max(self.save_batch)
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
        if self.pick_batch == 0 || self.save_batch == 0 {
            return Err(ConfigError::ZeroBatch {
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
    /// No executor.
    #[error("runner {runner}: workers must be at least 1")]
    NoWorkers {
        /// The runner's name.
        runner: String,
    },
    /// A channel between the roles that holds nothing.
    #[error("runner {runner}: channel capacity must be at least 1")]
    ZeroCapacity {
        /// The runner's name.
        runner: String,
    },
    /// A pick or save batch of no job.
    #[error("runner {runner}: pick_batch and save_batch must be at least 1")]
    ZeroBatch {
        /// The runner's name.
        runner: String,
    },
    #[error(
        "runner {runner}: the idle backoff must be longer than zero (a busy loop on the database)"
    )]
    /// An idle wait of zero.
    ZeroBackoff {
        /// The runner's name.
        runner: String,
    },
}
