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

    /// This configuration with the idle backoff a component's configuration section gives in
    /// milliseconds (`idle_backoff_initial_ms`, `idle_backoff_max_ms`; checked by
    /// [`check_idle_backoff_ms`]).
    pub fn with_idle_backoff_ms(mut self, initial_ms: u64, max_ms: u64) -> Self {
        self.idle_backoff_initial = Duration::from_millis(initial_ms);
        self.idle_backoff_max = Duration::from_millis(max_ms);
        self
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

/// An idle backoff, as a component's configuration section gives it, that cannot work. Its
/// message names the settings, so an operator knows which line of the file to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdleBackoffError {
    /// A first wait of zero: the picker would poll the job database in a busy loop.
    #[error("idle_backoff_initial_ms must be at least 1 (0 is a busy loop on the database)")]
    Zero,
    /// A ceiling below the first wait.
    #[error("idle_backoff_max_ms ({max_ms}) is below idle_backoff_initial_ms ({initial_ms})")]
    BelowInitial {
        /// The configured first wait.
        initial_ms: u64,
        /// The configured ceiling.
        max_ms: u64,
    },
}

/// Checks the idle backoff of a job-picking component's configuration (`idle_backoff_initial_ms`,
/// `idle_backoff_max_ms`) when the configuration is read, before any runner is built: every
/// component that picks jobs (witness generator, circuit prover, compressor) refuses the same
/// settings with the same words.
pub fn check_idle_backoff_ms(initial_ms: u64, max_ms: u64) -> Result<(), IdleBackoffError> {
    if initial_ms == 0 {
        return Err(IdleBackoffError::Zero);
    }
    if max_ms < initial_ms {
        return Err(IdleBackoffError::BelowInitial { initial_ms, max_ms });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_backoffs_in_milliseconds_are_checked_and_applied() {
        assert_eq!(check_idle_backoff_ms(1000, 5000), Ok(()));
        assert_eq!(check_idle_backoff_ms(5, 5), Ok(()));
        assert_eq!(check_idle_backoff_ms(0, 5000), Err(IdleBackoffError::Zero));
        assert_eq!(
            check_idle_backoff_ms(20, 10),
            Err(IdleBackoffError::BelowInitial {
                initial_ms: 20,
                max_ms: 10
            })
        );
        let config = JobRunnerConfig::new("test", 1).with_idle_backoff_ms(50, 200);
        assert_eq!(
            (config.idle_backoff_initial, config.idle_backoff_max),
            (Duration::from_millis(50), Duration::from_millis(200))
        );
    }
}
