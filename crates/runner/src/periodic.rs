//! Periodic tasks: the job monitor's requeuers, queuers, reporters and archivers.
//!
//! Each task runs in its own tokio task at its own interval until cancelled. A run that fails
//! (or panics) is logged and counted, and the task runs again at the next tick: one transient
//! database error must not take the monitor down (in ZKsync a task error kills the process).

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::metrics::{PERIODIC_RUNS, PERIODIC_SECONDS};

/// A task run every `interval`.
pub trait PeriodicTask: Send + Sync + 'static {
    /// Why a run failed (logged and counted; the next run comes all the same).
    type Error: fmt::Display + Send + 'static;

    /// Name for logs and the `task` metric label, e.g. `"prover_job_requeuer"`.
    fn name(&self) -> &str;

    /// Time between the starts of two runs. A run longer than the interval delays the next
    /// one rather than stacking runs.
    fn interval(&self) -> Duration;

    /// One run of the task.
    fn run_once(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// How many times a task ran, as returned at shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskRunCounts {
    /// The task's name.
    pub name: String,
    /// Runs that succeeded.
    pub ok: u64,
    /// Runs that returned an error.
    pub errors: u64,
    /// Runs that panicked (the panic is contained; the task goes on).
    pub panics: u64,
}

/// Runs several periodic tasks until cancelled.
pub struct PeriodicTaskRunner {
    cancel: CancellationToken,
    tasks: JoinSet<TaskRunCounts>,
}

impl PeriodicTaskRunner {
    /// A runner whose tasks stop when `cancel` is cancelled.
    pub fn new(cancel: CancellationToken) -> Self {
        Self {
            cancel,
            tasks: JoinSet::new(),
        }
    }

    /// Starts `task` at once on the current runtime: a first run now, then one per interval.
    pub fn spawn<T: PeriodicTask>(&mut self, task: T) {
        let cancel = self.cancel.clone();
        self.tasks.spawn(run_periodically(task, cancel));
    }

    /// Waits until cancellation has stopped every task (a run under way is finished, not
    /// interrupted) and returns what each did, sorted by name.
    pub async fn join(mut self) -> Vec<TaskRunCounts> {
        let mut counts = Vec::new();
        while let Some(result) = self.tasks.join_next().await {
            match result {
                Ok(c) => counts.push(c),
                Err(e) => error!(error = %e, "periodic task loop died"),
            }
        }
        counts.sort_by(|a, b| a.name.cmp(&b.name));
        counts
    }
}

async fn run_periodically<T: PeriodicTask>(task: T, cancel: CancellationToken) -> TaskRunCounts {
    let name = task.name().to_owned();
    let mut counts = TaskRunCounts {
        name: name.clone(),
        ..TaskRunCounts::default()
    };
    let interval = task.interval();
    if interval.is_zero() {
        error!(task = %name, "periodic task with a zero interval not started");
        return counts;
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let ok = metrics::counter!(PERIODIC_RUNS, "task" => name.clone(), "outcome" => "ok");
    let failed = metrics::counter!(PERIODIC_RUNS, "task" => name.clone(), "outcome" => "error");
    let panicked = metrics::counter!(PERIODIC_RUNS, "task" => name.clone(), "outcome" => "panic");
    let seconds = metrics::histogram!(PERIODIC_SECONDS, "task" => name.clone());
    info!(task = %name, ?interval, "periodic task started");
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let run = AssertUnwindSafe(task.run_once())
            .catch_unwind()
            .instrument(info_span!("periodic_task", task = %name));
        match run.await {
            Ok(Ok(())) => {
                counts.ok += 1;
                ok.increment(1);
                debug!(task = %name, elapsed = ?started.elapsed(), "periodic task ran");
            }
            Ok(Err(e)) => {
                counts.errors += 1;
                failed.increment(1);
                warn!(task = %name, error = %e, "periodic task failed; it runs again next tick");
            }
            Err(_) => {
                counts.panics += 1;
                panicked.increment(1);
                error!(task = %name, "periodic task panicked; it runs again next tick");
            }
        }
        seconds.record(started.elapsed().as_secs_f64());
    }
    info!(task = %name, "periodic task stopped");
    counts
}
