//! The job runner: picker task → bounded channel → executor pool → bounded channel → saver task.
//!
//! ```text
//!             reserve slot, pick        for_each_concurrent(workers)         save
//!  picker ──► [input channel, cap c] ──► spawn_blocking(execute) × N ──► [result channel, cap c] ──► saver
//!    ▲ idle backoff when nothing to pick        panics caught here              errors logged, counted
//! ```
//!
//! Back-pressure: the picker reserves a slot in the input channel before it picks, and the pool
//! takes a job from that channel only when a worker is free, so a busy runner stops picking
//! instead of hoarding jobs other machines could run. At most
//! [`JobRunnerConfig::max_in_flight`] jobs are picked and not yet saved.
//!
//! Batches: with [`JobRunnerConfig::pick_batch`] above 1 the picker asks
//! [`JobPicker::pick_many`] for as many jobs as there are idle workers (up to the setting), so
//! one database statement can start several workers at once and no job waits for a worker;
//! with [`JobRunnerConfig::save_batch`] above 1 the saver hands [`JobSaver::save_many`]
//! everything that finished while it was saving (up to the setting), so one transaction can
//! record several jobs. Each job of a batch is still its own job in the ledger, the counters
//! and the metrics.
//!
//! Wake-ups: with [`JobRunner::with_wake`] the picker's idle wait also ends when a
//! `watch` receiver changes (the job database announces queued work, `Dal::job_wakeups`), and
//! the backoff starts over; the wait still ends after the backoff, polling being the safety
//! net, but it may then grow to a longer ceiling. The receiver is marked seen *before* each
//! pick, so work queued while a pick finds nothing wakes the picker at once.
//!
//! Shutdown: when the token is cancelled the picker stops picking (a pick under way completes
//! and its job is run); the channels close behind the last job, the workers finish, the saver
//! saves everything, and [`JobRunner::run`]'s handle returns a [`RunReport`]. With a shutdown
//! timeout, whatever is still in flight when it expires is reported in
//! [`RunReport::left_in_progress`]: those jobs stay `in_progress` in the database and the
//! requeuer hands them out again.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument, Span};

use crate::backoff::IdleBackoff;
use crate::config::{ConfigError, JobRunnerConfig};
use crate::metrics::RunnerMetrics;
use crate::traits::{Executor, JobError, JobPicker, JobSaver};

/// What a runner did, returned when it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport<M> {
    /// Jobs picked (and handed to an executor).
    pub picked: u64,
    /// Jobs whose executor succeeded and whose result the saver recorded.
    pub succeeded: u64,
    /// Jobs whose executor returned an error, recorded as failed by the saver.
    pub failed: u64,
    /// Jobs whose executor panicked, recorded as failed by the saver.
    pub panicked: u64,
    /// Jobs the saver could not record (they stay in progress for the requeuer).
    pub save_errors: u64,
    /// Picks that failed (nothing was picked by them).
    pub pick_errors: u64,
    /// Jobs still running or unsaved when the shutdown timeout expired, in pick order. They
    /// stay `in_progress` until the requeuer's timeout.
    pub left_in_progress: Vec<M>,
}

impl<M> RunReport<M> {
    /// Jobs whose outcome the saver recorded (successes and failures).
    pub fn saved(&self) -> u64 {
        self.succeeded + self.failed + self.panicked
    }
}

/// A job between picker and saver.
struct Job<I, M> {
    seq: u64,
    input: I,
    metadata: M,
    span: Span,
}

/// A finished job on its way to the saver.
struct Finished<O, M, E> {
    seq: u64,
    metadata: M,
    result: Result<O, JobError<E>>,
    span: Span,
}

/// Shared bookkeeping: counters for the report and the jobs in flight (for shutdown).
struct Ledger<M> {
    picked: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    save_errors: AtomicU64,
    pick_errors: AtomicU64,
    in_flight: Mutex<BTreeMap<u64, M>>,
    /// Jobs handed to the executor pool and not yet executed (queued in the input channel or
    /// running): the picker sizes a batched pick by the workers this leaves idle.
    assigned: AtomicUsize,
}

impl<M> Ledger<M> {
    fn new() -> Self {
        Self {
            picked: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            save_errors: AtomicU64::new(0),
            pick_errors: AtomicU64::new(0),
            in_flight: Mutex::new(BTreeMap::new()),
            assigned: AtomicUsize::new(0),
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, M>> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is still valid.
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn report(&self) -> RunReport<M>
    where
        M: Clone,
    {
        RunReport {
            picked: self.picked.load(Ordering::SeqCst),
            succeeded: self.succeeded.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            panicked: self.panicked.load(Ordering::SeqCst),
            save_errors: self.save_errors.load(Ordering::SeqCst),
            pick_errors: self.pick_errors.load(Ordering::SeqCst),
            left_in_progress: self.in_flight().values().cloned().collect(),
        }
    }
}

/// A picker, an executor and a saver, run together.
pub struct JobRunner<P, E, S> {
    picker: P,
    executor: Arc<E>,
    saver: S,
    config: JobRunnerConfig,
    wake: Option<Wake>,
}

/// What ends an idle wait early, and how long the wait may grow with it.
struct Wake {
    receiver: watch::Receiver<u64>,
    idle_max: Duration,
}

impl<P, E, S> JobRunner<P, E, S>
where
    E: Executor,
    P: JobPicker<Input = E::Input, Metadata = E::Metadata>,
    S: JobSaver<Output = E::Output, Metadata = E::Metadata, ExecutorError = E::Error>,
{
    /// A runner of `picker`, `executor` and `saver` under `config`.
    pub fn new(
        picker: P,
        executor: E,
        saver: S,
        config: JobRunnerConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            picker,
            executor: Arc::new(executor),
            saver,
            config,
            wake: None,
        })
    }

    /// Ends the picker's idle waits when `receiver` changes (work may have appeared), and lets
    /// them grow to `idle_max` instead of the configured `idle_backoff_max` (never below it):
    /// with wake-ups that reach every writer, polling is only a safety net.
    pub fn with_wake(mut self, receiver: watch::Receiver<u64>, idle_max: Duration) -> Self {
        self.wake = Some(Wake {
            receiver,
            idle_max: idle_max.max(self.config.idle_backoff_max),
        });
        self
    }

    /// Starts the runner on the current tokio runtime. It runs until `cancel` is cancelled,
    /// then shuts down as described in the module documentation; the handle yields the report.
    pub fn run(self, cancel: CancellationToken) -> JoinHandle<RunReport<E::Metadata>> {
        let Self {
            picker,
            executor,
            saver,
            config,
            wake,
        } = self;
        let metrics = RunnerMetrics::new(&config.name);
        let ledger = Arc::new(Ledger::new());
        let (job_tx, job_rx) = mpsc::channel(config.channel_capacity);
        let (result_tx, result_rx) = mpsc::channel(config.result_capacity());

        let picker_task = tokio::spawn(picker_loop(
            picker,
            wake,
            job_tx,
            cancel.clone(),
            config.clone(),
            metrics.clone(),
            Arc::clone(&ledger),
        ));
        let pool_task = tokio::spawn(executor_pool(
            executor,
            job_rx,
            result_tx,
            config.workers,
            metrics.clone(),
            Arc::clone(&ledger),
        ));
        let saver_task = tokio::spawn(saver_loop(
            saver,
            result_rx,
            config.save_batch,
            metrics,
            Arc::clone(&ledger),
        ));

        let name = config.name.clone();
        tokio::spawn(async move {
            info!(runner = %name, workers = config.workers, "job runner started");
            cancel.cancelled().await;
            let in_flight = ledger.in_flight().len();
            info!(runner = %name, in_flight, "job runner shutting down");
            let aborts = [
                picker_task.abort_handle(),
                pool_task.abort_handle(),
                saver_task.abort_handle(),
            ];
            // The tasks end in this order on their own: the picker on cancellation, the pool
            // when the input channel is closed and drained, the saver when the result channel is.
            let drain = async {
                for (task, what) in [
                    (picker_task, "picker"),
                    (pool_task, "executor pool"),
                    (saver_task, "saver"),
                ] {
                    if let Err(e) = task.await {
                        error!(runner = %name, task = what, error = %e, "runner task died");
                    }
                }
            };
            match config.shutdown_timeout {
                None => drain.await,
                Some(limit) => {
                    if tokio::time::timeout(limit, drain).await.is_err() {
                        for handle in aborts {
                            handle.abort();
                        }
                    }
                }
            }
            let report = ledger.report();
            if report.left_in_progress.is_empty() {
                info!(runner = %name, picked = report.picked, saved = report.saved(), "job runner stopped, nothing left in flight");
            } else {
                warn!(runner = %name, left = ?report.left_in_progress,
                    "shutdown timeout expired: jobs left in progress for the requeuer");
            }
            report
        })
    }
}

async fn picker_loop<P: JobPicker>(
    mut picker: P,
    mut wake: Option<Wake>,
    to_pool: mpsc::Sender<Job<P::Input, P::Metadata>>,
    cancel: CancellationToken,
    config: JobRunnerConfig,
    metrics: RunnerMetrics,
    ledger: Arc<Ledger<P::Metadata>>,
) {
    let idle_max = wake
        .as_ref()
        .map_or(config.idle_backoff_max, |wake| wake.idle_max);
    let mut backoff = IdleBackoff::new(config.idle_backoff_initial, idle_max);
    let mut seq = 0u64;
    loop {
        // Reserve room first: a job is only picked when it can be handed on at once.
        let permit = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            permit = to_pool.reserve() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the pool is gone
            },
        };
        if cancel.is_cancelled() {
            break;
        }
        // Whatever is announced from here on ends the next idle wait at once.
        if let Some(wake) = wake.as_mut() {
            wake.receiver.borrow_and_update();
        }
        // As many jobs as there are idle workers (at least the one the reserved slot holds).
        let idle_workers = config
            .workers
            .saturating_sub(ledger.assigned.load(Ordering::SeqCst));
        let limit = idle_workers.clamp(1, config.pick_batch);
        // A panicking picker is treated like a failing one: logged, counted, retried after the
        // backoff. Nothing a component plugs in can end the runner.
        let pick = async {
            if limit == 1 {
                picker.pick().await.map(|job| job.into_iter().collect())
            } else {
                picker.pick_many(limit).await
            }
        };
        let picked: Result<Vec<_>, String> = match AssertUnwindSafe(pick).catch_unwind().await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(payload) => Err(format!(
                "picker panicked: {}",
                panic_message(payload.as_ref())
            )),
        };
        let idle = match picked {
            Ok(jobs) if !jobs.is_empty() => {
                backoff.reset();
                let mut permit = Some(permit);
                for (input, metadata) in jobs {
                    seq += 1;
                    let span = info_span!("job", runner = %config.name, seq, ?metadata);
                    span.in_scope(|| debug!("picked"));
                    ledger.in_flight().insert(seq, metadata.clone());
                    ledger.picked.fetch_add(1, Ordering::SeqCst);
                    ledger.assigned.fetch_add(1, Ordering::SeqCst);
                    metrics.picked.increment(1);
                    metrics.in_flight.increment(1.0);
                    let job = Job {
                        seq,
                        input,
                        metadata,
                        span,
                    };
                    match permit.take() {
                        Some(permit) => permit.send(job),
                        // The rest of a batch: idle workers take them at once. Not raced with
                        // cancellation: a picked job is always handed on.
                        None => {
                            if let Err(unsent) = to_pool.send(job).await {
                                // Only when the pool is gone: the job stays in the ledger,
                                // in progress, for the requeuer.
                                error!(parent: &unsent.0.span, "executor pool is gone; job left in progress");
                            }
                        }
                    }
                }
                continue;
            }
            Ok(_) => backoff.next_delay(),
            Err(e) => {
                ledger.pick_errors.fetch_add(1, Ordering::SeqCst);
                metrics.pick_errors.increment(1);
                let delay = backoff.next_delay();
                warn!(runner = %config.name, error = %e, retry_in = ?delay, "picking a job failed");
                delay
            }
        };
        metrics.idle_seconds.record(idle.as_secs_f64());
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = woken(&mut wake) => {
                backoff.reset();
                metrics.wakeups.increment(1);
            }
            () = tokio::time::sleep(idle) => {}
        }
    }
    debug!(runner = %config.name, "picker stopped");
}

/// Resolves when the wake receiver changes; never without one (or once its sender is gone: the
/// runner then polls only).
async fn woken(wake: &mut Option<Wake>) {
    let Some(active) = wake.as_mut() else {
        return std::future::pending().await;
    };
    if active.receiver.changed().await.is_err() {
        *wake = None;
        std::future::pending::<()>().await;
    }
}

async fn executor_pool<E: Executor>(
    executor: Arc<E>,
    jobs: mpsc::Receiver<Job<E::Input, E::Metadata>>,
    results: mpsc::Sender<Finished<E::Output, E::Metadata, E::Error>>,
    workers: usize,
    metrics: RunnerMetrics,
    ledger: Arc<Ledger<E::Metadata>>,
) {
    let jobs = futures::stream::unfold(jobs, |mut jobs| async move {
        jobs.recv().await.map(|job| (job, jobs))
    });
    jobs.for_each_concurrent(workers, |job| {
        let executor = Arc::clone(&executor);
        let results = results.clone();
        let metrics = metrics.clone();
        let ledger = Arc::clone(&ledger);
        async move {
            let Job {
                seq,
                input,
                metadata,
                span,
            } = job;
            let result =
                execute_contained(executor, input, metadata.clone(), span.clone(), &metrics).await;
            ledger.assigned.fetch_sub(1, Ordering::SeqCst);
            let finished = Finished {
                seq,
                metadata,
                result,
                span,
            };
            if let Err(unsent) = results.send(finished).await {
                // Only when the saver task died (a panicking saver): the job stays in progress
                // and in the ledger, so the report lists it.
                error!(parent: &unsent.0.span, "saver is gone; job left in progress");
            }
        }
    })
    .await;
}

/// Runs `execute` on the blocking pool; a panic becomes [`JobError::Panicked`].
async fn execute_contained<E: Executor>(
    executor: Arc<E>,
    input: E::Input,
    metadata: E::Metadata,
    span: Span,
    metrics: &RunnerMetrics,
) -> Result<E::Output, JobError<E::Error>> {
    let task = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let started = Instant::now();
        // catch_unwind here rather than relying on the JoinError: the message is extracted on
        // the thread that panicked, and the elapsed time is still measured.
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| executor.execute(input, &metadata)));
        (outcome, started.elapsed())
    });
    let (outcome, elapsed) = match task.await {
        Ok(done) => done,
        Err(e) => {
            // catch_unwind leaves only one way here: the runtime shutting down under the task.
            metrics.panicked.increment(1);
            error!(error = %e, "executor task did not complete");
            return Err(JobError::Panicked(format!(
                "executor task did not complete: {e}"
            )));
        }
    };
    metrics.execute_seconds.record(elapsed.as_secs_f64());
    match outcome {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => {
            metrics.failed.increment(1);
            warn!(error = %e, "job failed");
            Err(JobError::Failed(e))
        }
        Err(payload) => {
            metrics.panicked.increment(1);
            let message = panic_message(payload.as_ref());
            error!(panic = %message, "executor panicked; job marked failed, runner goes on");
            Err(JobError::Panicked(message))
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

async fn saver_loop<S: JobSaver>(
    mut saver: S,
    mut results: mpsc::Receiver<Finished<S::Output, S::Metadata, S::ExecutorError>>,
    save_batch: usize,
    metrics: RunnerMetrics,
    ledger: Arc<Ledger<S::Metadata>>,
) {
    while let Some(first) = results.recv().await {
        // Whatever else finished meanwhile goes into the same save, up to `save_batch`.
        let mut batch = vec![first];
        while batch.len() < save_batch {
            match results.try_recv() {
                Ok(finished) => batch.push(finished),
                Err(_) => break,
            }
        }
        let mut jobs = Vec::with_capacity(batch.len());
        let mut items = Vec::with_capacity(batch.len());
        for finished in batch {
            let Finished {
                seq,
                metadata,
                result,
                span,
            } = finished;
            let outcome = match &result {
                Ok(_) => &ledger.succeeded,
                Err(JobError::Failed(_)) => &ledger.failed,
                Err(JobError::Panicked(_)) => &ledger.panicked,
            };
            jobs.push((seq, span, outcome));
            items.push((metadata, result));
        }
        let count = items.len();
        let saved: Vec<Result<(), String>> = if count == 1 {
            let (metadata, result) = items.pop().expect("one item");
            let span = jobs[0].1.clone();
            vec![
                AssertUnwindSafe(saver.save(metadata, result).instrument(span))
                    .catch_unwind()
                    .await
                    .map(|result| result.map_err(|e| e.to_string()))
                    .unwrap_or_else(|payload| {
                        Err(format!(
                            "saver panicked: {}",
                            panic_message(payload.as_ref())
                        ))
                    }),
            ]
        } else {
            let span = info_span!("save_batch", jobs = count);
            match AssertUnwindSafe(saver.save_many(items).instrument(span))
                .catch_unwind()
                .await
            {
                Ok(results) if results.len() == count => results
                    .into_iter()
                    .map(|result| result.map_err(|e| e.to_string()))
                    .collect(),
                Ok(results) => {
                    let reason = format!(
                        "the saver returned {} results for {count} jobs",
                        results.len()
                    );
                    vec![Err(reason); count]
                }
                Err(payload) => {
                    let reason = format!("saver panicked: {}", panic_message(payload.as_ref()));
                    vec![Err(reason); count]
                }
            }
        };
        for ((seq, span, outcome), saved) in jobs.into_iter().zip(saved) {
            match saved {
                Ok(()) => {
                    outcome.fetch_add(1, Ordering::SeqCst);
                    metrics.saved.increment(1);
                    span.in_scope(|| debug!("saved"));
                }
                Err(e) => {
                    ledger.save_errors.fetch_add(1, Ordering::SeqCst);
                    metrics.save_errors.increment(1);
                    span.in_scope(|| warn!(error = %e, "saving the job failed; it stays in progress for the requeuer"));
                }
            }
            ledger.in_flight().remove(&seq);
            metrics.in_flight.decrement(1.0);
        }
    }
}
