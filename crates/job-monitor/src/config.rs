//! The monitor's configuration: the `[monitor]` section of the fleet's configuration file.
//!
//! Every field has a default (the reference's, see `docs/job-monitor.md`), so an empty section
//! is a working configuration. Durations are a number of seconds or a string with units
//! (`"10s"`, `"15m"`, `"2d"`, see `zkfleet_service::duration`). The database URL is not here: secrets
//! come from the environment, and [`crate::run`] takes a connected `Dal`.
//!
//! ```toml
//! [monitor]
//! listen_address = "0.0.0.0:3074"
//! archive_after = "2d"
//! [monitor.timeouts]
//! prover = "20m"
//! [monitor.max_attempts]
//! prover = 10
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkfleet_dal::JobTable;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Configuration of the job monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Where `/queue_report`, `/metrics` and `/healthz` are served (default `127.0.0.1:3074`).
    pub listen_address: SocketAddr,
    /// How often each task runs.
    pub intervals: TaskIntervals,
    /// How long a job may stay `in_progress` before it is considered stuck, per job kind.
    pub timeouts: JobTimeouts,
    /// Attempts (counted on pick) after which a stuck or failed job goes to
    /// `attempts_exhausted` instead of back to `queued`, per job kind. A permanent failure
    /// (`failed_permanently`) spends no further attempt.
    pub max_attempts: MaxAttempts,
    /// How long a job that failed transiently (`failed`) waits before it is queued again,
    /// after its first attempt (default 10 s); the wait doubles with every attempt.
    #[serde(with = "zkfleet_service::duration")]
    pub retry_backoff_initial: Duration,
    /// The longest such wait (default 5 minutes).
    #[serde(with = "zkfleet_service::duration")]
    pub retry_backoff_max: Duration,
    /// Archive a batch's prover jobs this long after its compression job last changed
    /// (default 2 days).
    #[serde(with = "zkfleet_service::duration")]
    pub archive_after: Duration,
    /// Delete archive rows this long after they were archived (default 7 days).
    #[serde(with = "zkfleet_service::duration")]
    pub delete_archived_after: Duration,
    /// Also archive batches whose final proof is `successful` but was never marked
    /// `sent_to_server` (a fleet without a gateway client; default false, as the reference).
    pub archive_unsent_batches: bool,
    /// Delete the circuit witness and proof blobs of archived prover jobs from the object store
    /// (default true). Off, the blobs stay until a bucket lifecycle rule removes them.
    pub collect_archived_blobs: bool,
    /// Blob deletions the archiver runs at the same time (default 16).
    pub blob_delete_concurrency: usize,
    /// What the status page (`/`, `/status.json`) shows.
    pub status_page: StatusPageConfig,
    /// Bearer tokens for `/status.json` and `/queue_report`.
    pub auth: AuthConfig,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            listen_address: SocketAddr::from(([127, 0, 0, 1], 3074)),
            intervals: TaskIntervals::default(),
            timeouts: JobTimeouts::default(),
            max_attempts: MaxAttempts::default(),
            retry_backoff_initial: 10 * SECOND,
            retry_backoff_max: 5 * MINUTE,
            archive_after: 2 * DAY,
            delete_archived_after: 7 * DAY,
            archive_unsent_batches: false,
            collect_archived_blobs: true,
            blob_delete_concurrency: 16,
            status_page: StatusPageConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// Bounds of the status page: each list is cut at its limit (the page says so), so a backlog
/// of thousands of batches costs the same small queries every refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusPageConfig {
    /// Batches in flight listed, oldest first (default 50).
    pub max_batches: u32,
    /// Jobs in progress listed under worker activity, longest running first (default 200).
    pub max_jobs_in_progress: u32,
    /// Recent failures listed, newest first (default 25).
    pub max_failures: u32,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        Self {
            max_batches: 50,
            max_jobs_in_progress: 200,
            max_failures: 25,
        }
    }
}

/// Bearer-token protection of the endpoints that show job data (`/status.json`,
/// `/queue_report`), in the gateway's scheme: tokens come from the environment variable
/// [`crate::auth::TOKENS_ENV_VAR`] (`client=token,client2=token2`) and from `tokens_file`
/// (`client_name token` per line), never from this file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A file of `client_name token` lines (`#` comments), read at start.
    pub tokens_file: Option<PathBuf>,
    /// Whether a token is required; default: required as soon as any token is configured.
    pub required: Option<bool>,
}

/// Time between two runs of each task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskIntervals {
    /// Dependency catch-up (default 10 s).
    #[serde(with = "zkfleet_service::duration")]
    pub dependency_queuer: Duration,
    /// Requeue of stuck and failed jobs (default 10 s).
    #[serde(with = "zkfleet_service::duration")]
    pub job_requeuer: Duration,
    /// Archiving of finished batches' prover jobs (default 30 min).
    #[serde(with = "zkfleet_service::duration")]
    pub prover_job_archiver: Duration,
    /// Queue gauges (default 10 s).
    #[serde(with = "zkfleet_service::duration")]
    pub queue_reporter: Duration,
    /// Attempts gauges (default 10 s).
    #[serde(with = "zkfleet_service::duration")]
    pub attempts_reporter: Duration,
}

impl Default for TaskIntervals {
    fn default() -> Self {
        Self {
            dependency_queuer: 10 * SECOND,
            job_requeuer: 10 * SECOND,
            prover_job_archiver: 30 * MINUTE,
            queue_reporter: 10 * SECOND,
            attempts_reporter: 10 * SECOND,
        }
    }
}

/// In-progress timeouts per job kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobTimeouts {
    /// Basic (round 0) witness generation (default 15 min).
    #[serde(with = "zkfleet_service::duration")]
    pub basic_witness: Duration,
    /// Leaf (round 1) witness generation (default 15 min).
    #[serde(with = "zkfleet_service::duration")]
    pub leaf_witness: Duration,
    /// Node (round 2) witness generation (default 15 min).
    #[serde(with = "zkfleet_service::duration")]
    pub node_witness: Duration,
    /// Recursion tip (round 3) witness generation (default 15 min).
    #[serde(with = "zkfleet_service::duration")]
    pub recursion_tip_witness: Duration,
    /// Scheduler (round 4) witness generation (default 15 min).
    #[serde(with = "zkfleet_service::duration")]
    pub scheduler_witness: Duration,
    /// Prover jobs of every round (default 10 min).
    #[serde(with = "zkfleet_service::duration")]
    pub prover: Duration,
    /// Proof compression (default 1 h).
    #[serde(with = "zkfleet_service::duration")]
    pub compression: Duration,
}

impl Default for JobTimeouts {
    fn default() -> Self {
        Self {
            basic_witness: 15 * MINUTE,
            leaf_witness: 15 * MINUTE,
            node_witness: 15 * MINUTE,
            recursion_tip_witness: 15 * MINUTE,
            scheduler_witness: 15 * MINUTE,
            prover: 10 * MINUTE,
            compression: HOUR,
        }
    }
}

impl JobTimeouts {
    /// The timeout of the jobs of `table`.
    pub fn of(&self, table: JobTable) -> Duration {
        match table {
            JobTable::WitnessInputs => self.basic_witness,
            JobTable::LeafWitnessJobs => self.leaf_witness,
            JobTable::NodeWitnessJobs => self.node_witness,
            JobTable::RecursionTipWitnessJobs => self.recursion_tip_witness,
            JobTable::SchedulerWitnessJobs => self.scheduler_witness,
            JobTable::ProverJobs => self.prover,
            JobTable::CompressionJobs => self.compression,
        }
    }

    /// The same timeout for every job kind (tests, and `zkfleet prove` on a laptop).
    pub fn uniform(timeout: Duration) -> Self {
        Self {
            basic_witness: timeout,
            leaf_witness: timeout,
            node_witness: timeout,
            recursion_tip_witness: timeout,
            scheduler_witness: timeout,
            prover: timeout,
            compression: timeout,
        }
    }
}

/// Maximum attempts per job kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaxAttempts {
    /// Default 5 for every kind.
    pub basic_witness: u32,
    /// Leaf witness jobs (round 1).
    pub leaf_witness: u32,
    /// Node witness jobs (round 2).
    pub node_witness: u32,
    /// Recursion-tip witness jobs (round 3).
    pub recursion_tip_witness: u32,
    /// Scheduler witness jobs (round 4).
    pub scheduler_witness: u32,
    /// Prover jobs of every round.
    pub prover: u32,
    /// Compression jobs.
    pub compression: u32,
}

impl Default for MaxAttempts {
    fn default() -> Self {
        Self::uniform(5)
    }
}

impl MaxAttempts {
    /// The limit for the jobs of `table`: past it a failed job goes to `failed_permanently`
    /// instead of being requeued.
    pub fn of(&self, table: JobTable) -> u32 {
        match table {
            JobTable::WitnessInputs => self.basic_witness,
            JobTable::LeafWitnessJobs => self.leaf_witness,
            JobTable::NodeWitnessJobs => self.node_witness,
            JobTable::RecursionTipWitnessJobs => self.recursion_tip_witness,
            JobTable::SchedulerWitnessJobs => self.scheduler_witness,
            JobTable::ProverJobs => self.prover,
            JobTable::CompressionJobs => self.compression,
        }
    }

    /// The same limit for every kind of job.
    pub fn uniform(attempts: u32) -> Self {
        Self {
            basic_witness: attempts,
            leaf_witness: attempts,
            node_witness: attempts,
            recursion_tip_witness: attempts,
            scheduler_witness: attempts,
            prover: attempts,
            compression: attempts,
        }
    }
}

/// A configuration the monitor cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A zero interval would run the task in a busy loop against the database.
    #[error("monitor.intervals.{task} must be longer than zero")]
    ZeroInterval {
        /// The periodic task's name in the configuration.
        task: &'static str,
    },
    /// A zero timeout would requeue every job the moment it is picked.
    #[error("monitor.timeouts for {job_type} must be longer than zero")]
    ZeroTimeout {
        /// The kind of job whose timeout is zero.
        job_type: &'static str,
    },
    /// Attempts are counted on pick: with 0 no job could ever run.
    #[error("monitor.max_attempts for {job_type} must be at least 1")]
    ZeroMaxAttempts {
        /// The kind of job whose limit is zero.
        job_type: &'static str,
    },
    /// The requeue backoff's ceiling is below its first wait.
    #[error("monitor.retry_backoff_max must not be shorter than monitor.retry_backoff_initial")]
    BackoffBounds,
    /// The archiver would delete no blob of archived jobs at all.
    #[error("monitor.blob_delete_concurrency must be at least 1")]
    ZeroBlobDeleteConcurrency,
    /// An empty list would hide what the page is for.
    #[error("monitor.status_page.{field} must be at least 1")]
    ZeroStatusPageLimit {
        /// The status page setting at zero.
        field: &'static str,
    },
}

impl MonitorConfig {
    /// The requeuer's wait before a transiently failed job is queued again.
    pub fn retry_backoff(&self) -> zkfleet_dal::RetryBackoff {
        zkfleet_dal::RetryBackoff {
            initial: self.retry_backoff_initial,
            max: self.retry_backoff_max,
        }
    }

    /// Checks what serde cannot: values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let intervals = [
            ("dependency_queuer", self.intervals.dependency_queuer),
            ("job_requeuer", self.intervals.job_requeuer),
            ("prover_job_archiver", self.intervals.prover_job_archiver),
            ("queue_reporter", self.intervals.queue_reporter),
            ("attempts_reporter", self.intervals.attempts_reporter),
        ];
        for (task, interval) in intervals {
            if interval.is_zero() {
                return Err(ConfigError::ZeroInterval { task });
            }
        }
        for table in JobTable::ALL {
            if self.timeouts.of(table).is_zero() {
                return Err(ConfigError::ZeroTimeout {
                    job_type: table.job_type(),
                });
            }
            if self.max_attempts.of(table) == 0 {
                return Err(ConfigError::ZeroMaxAttempts {
                    job_type: table.job_type(),
                });
            }
        }
        if self.blob_delete_concurrency == 0 {
            return Err(ConfigError::ZeroBlobDeleteConcurrency);
        }
        if self.retry_backoff_max < self.retry_backoff_initial {
            return Err(ConfigError::BackoffBounds);
        }
        let limits = [
            ("max_batches", self.status_page.max_batches),
            (
                "max_jobs_in_progress",
                self.status_page.max_jobs_in_progress,
            ),
            ("max_failures", self.status_page.max_failures),
        ];
        for (field, limit) in limits {
            if limit == 0 {
                return Err(ConfigError::ZeroStatusPageLimit { field });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = MonitorConfig::default();
        assert_eq!(config.listen_address.to_string(), "127.0.0.1:3074");
        assert_eq!(config.intervals.job_requeuer, Duration::from_secs(10));
        assert_eq!(
            config.intervals.prover_job_archiver,
            Duration::from_secs(1800)
        );
        assert_eq!(config.timeouts.of(JobTable::LeafWitnessJobs), 15 * MINUTE);
        assert_eq!(config.timeouts.of(JobTable::ProverJobs), 10 * MINUTE);
        assert_eq!(config.timeouts.of(JobTable::CompressionJobs), HOUR);
        assert!(JobTable::ALL
            .into_iter()
            .all(|t| config.max_attempts.of(t) == 5));
        assert_eq!(config.archive_after, 2 * DAY);
        assert_eq!(config.delete_archived_after, 7 * DAY);
        assert!(config.collect_archived_blobs);
        config.validate().unwrap();
    }

    #[test]
    fn an_empty_section_is_the_default_and_fields_override() {
        let empty: MonitorConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, MonitorConfig::default());
        let config: MonitorConfig = serde_json::from_str(
            r#"{"archive_after": "12h", "timeouts": {"prover": 1200},
                "max_attempts": {"compression": 2}, "collect_archived_blobs": false}"#,
        )
        .unwrap();
        assert_eq!(config.archive_after, 12 * HOUR);
        assert_eq!(config.timeouts.prover, 20 * MINUTE);
        assert_eq!(config.timeouts.basic_witness, 15 * MINUTE);
        assert_eq!(config.max_attempts.compression, 2);
        assert_eq!(config.max_attempts.prover, 5);
        assert!(!config.collect_archived_blobs);
        let page: MonitorConfig = serde_json::from_str(
            r#"{"status_page": {"max_batches": 10},
                "auth": {"tokens_file": "/run/secrets/monitor-tokens", "required": true}}"#,
        )
        .unwrap();
        assert_eq!(page.status_page.max_batches, 10);
        assert_eq!(page.status_page.max_failures, 25);
        assert_eq!(
            page.auth.tokens_file.as_deref(),
            Some(std::path::Path::new("/run/secrets/monitor-tokens"))
        );
        assert_eq!(page.auth.required, Some(true));
        // Round trip through the written form.
        let written = serde_json::to_string(&config).unwrap();
        assert!(written.contains(r#""archive_after":"12h""#), "{written}");
        assert_eq!(
            serde_json::from_str::<MonitorConfig>(&written).unwrap(),
            config
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = serde_json::from_str::<MonitorConfig>(r#"{"timeouts": {"prover": "ten"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid duration \"ten\""), "{err}");
        let err = serde_json::from_str::<MonitorConfig>(r#"{"archive_afer": "1d"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("archive_afer"), "{err}");

        let mut config = MonitorConfig::default();
        config.max_attempts.node_witness = 0;
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "monitor.max_attempts for node_witness_generator must be at least 1"
        );
        let mut config = MonitorConfig::default();
        config.status_page.max_failures = 0;
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "monitor.status_page.max_failures must be at least 1"
        );
        let mut config = MonitorConfig::default();
        config.intervals.queue_reporter = Duration::ZERO;
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("intervals.queue_reporter"));
    }
}
