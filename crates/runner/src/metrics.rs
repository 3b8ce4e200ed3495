//! Metric names and the per-runner handles (see docs/store-and-runner.md).

use metrics::{Counter, Gauge, Histogram};

/// Counter: jobs picked, label `runner`.
pub const JOBS_PICKED: &str = "zkfleet_runner_jobs_picked_total";
/// Counter: jobs whose result (success or failure) the saver recorded, label `runner`.
pub const JOBS_SAVED: &str = "zkfleet_runner_jobs_saved_total";
/// Counter: jobs whose executor returned an error, label `runner`.
pub const JOBS_FAILED: &str = "zkfleet_runner_jobs_failed_total";
/// Counter: jobs whose executor panicked, label `runner`.
pub const JOBS_PANICKED: &str = "zkfleet_runner_jobs_panicked_total";
/// Counter: saver errors (the job stays in progress for the requeuer), label `runner`.
pub const SAVE_ERRORS: &str = "zkfleet_runner_save_errors_total";
/// Counter: picker errors (retried after the idle backoff), label `runner`.
pub const PICK_ERRORS: &str = "zkfleet_runner_pick_errors_total";
/// Histogram: seconds spent in `execute`, label `runner`.
pub const EXECUTE_SECONDS: &str = "zkfleet_runner_execute_seconds";
/// Histogram: seconds of each idle wait of the picker, label `runner` (its sum is the idle time).
pub const PICKER_IDLE_SECONDS: &str = "zkfleet_runner_picker_idle_seconds";
/// Counter: idle waits ended early by a wake-up (work announced), label `runner`.
pub const PICKER_WAKEUPS: &str = "zkfleet_runner_picker_wakeups_total";
/// Gauge: jobs picked and not yet saved, label `runner`.
pub const JOBS_IN_FLIGHT: &str = "zkfleet_runner_jobs_in_flight";
/// Counter: runs of a periodic task, labels `task`, `outcome` (`ok`, `error`, `panic`).
pub const PERIODIC_RUNS: &str = "zkfleet_periodic_task_runs_total";
/// Histogram: seconds per run of a periodic task, label `task`.
pub const PERIODIC_SECONDS: &str = "zkfleet_periodic_task_seconds";

/// Handles registered once per runner, so the per-job path does no label lookups.
#[derive(Clone)]
pub(crate) struct RunnerMetrics {
    pub picked: Counter,
    pub saved: Counter,
    pub failed: Counter,
    pub panicked: Counter,
    pub save_errors: Counter,
    pub pick_errors: Counter,
    pub execute_seconds: Histogram,
    pub idle_seconds: Histogram,
    pub in_flight: Gauge,
    pub wakeups: Counter,
}

impl RunnerMetrics {
    pub(crate) fn new(runner: &str) -> Self {
        let label = || ("runner", runner.to_owned());
        Self {
            picked: metrics::counter!(JOBS_PICKED, &[label()]),
            saved: metrics::counter!(JOBS_SAVED, &[label()]),
            failed: metrics::counter!(JOBS_FAILED, &[label()]),
            panicked: metrics::counter!(JOBS_PANICKED, &[label()]),
            save_errors: metrics::counter!(SAVE_ERRORS, &[label()]),
            pick_errors: metrics::counter!(PICK_ERRORS, &[label()]),
            execute_seconds: metrics::histogram!(EXECUTE_SECONDS, &[label()]),
            idle_seconds: metrics::histogram!(PICKER_IDLE_SECONDS, &[label()]),
            in_flight: metrics::gauge!(JOBS_IN_FLIGHT, &[label()]),
            wakeups: metrics::counter!(PICKER_WAKEUPS, &[label()]),
        }
    }
}
