//! Batched picks and saves: the runner asks a picker for as many jobs as it has idle workers
//! (up to `pick_batch`) and hands a saver what finished meanwhile (up to `save_batch`), on a
//! real multi-threaded tokio runtime with real blocking threads.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zkfleet_runner::{
    CancellationToken, Executor, FinishedJob, JobError, JobPicker, JobRunner, JobRunnerConfig,
    JobSaver, PickedMany,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct JobId(u64);

#[derive(Default)]
struct Observed {
    /// The `limit` of every batched pick, and the size of every batch handed out.
    limits: Mutex<Vec<usize>>,
    batch_sizes: Mutex<Vec<usize>>,
    /// The number of jobs of every save call.
    save_sizes: Mutex<Vec<usize>>,
    saved: Mutex<Vec<u64>>,
    in_flight: AtomicI64,
    max_in_flight: AtomicI64,
}

/// Hands out jobs 1..=total, as many per pick as asked.
struct BatchPicker {
    next: u64,
    total: u64,
    observed: Arc<Observed>,
}

impl JobPicker for BatchPicker {
    type Input = u64;
    type Metadata = JobId;
    type Error = String;

    async fn pick(&mut self) -> Result<Option<(u64, JobId)>, String> {
        Ok(self.pick_many(1).await?.pop())
    }

    async fn pick_many(&mut self, limit: usize) -> PickedMany<Self> {
        self.observed.limits.lock().unwrap().push(limit);
        let mut jobs = Vec::new();
        while jobs.len() < limit && self.next <= self.total {
            jobs.push((self.next, JobId(self.next)));
            self.next += 1;
        }
        if !jobs.is_empty() {
            self.observed.batch_sizes.lock().unwrap().push(jobs.len());
            let now = self
                .observed
                .in_flight
                .fetch_add(jobs.len() as i64, Ordering::SeqCst)
                + jobs.len() as i64;
            self.observed.max_in_flight.fetch_max(now, Ordering::SeqCst);
        }
        Ok(jobs)
    }
}

struct Sleeper(Duration);

impl Executor for Sleeper {
    type Input = u64;
    type Output = u64;
    type Metadata = JobId;
    type Error = String;

    fn execute(&self, input: u64, _: &JobId) -> Result<u64, String> {
        std::thread::sleep(self.0);
        if input % 10 == 7 {
            return Err(format!("job {input} is unsatisfiable"));
        }
        Ok(input)
    }
}

/// Records batches; a save of job `fail_on` fails, a batch holding `panic_on` panics.
struct BatchSaver {
    delay: Duration,
    fail_on: Option<u64>,
    panic_on: Option<u64>,
    observed: Arc<Observed>,
}

impl JobSaver for BatchSaver {
    type Output = u64;
    type Metadata = JobId;
    type ExecutorError = String;
    type Error = String;

    async fn save(
        &mut self,
        job: JobId,
        result: Result<u64, JobError<String>>,
    ) -> Result<(), String> {
        self.save_many(vec![(job, result)])
            .await
            .pop()
            .expect("one result")
    }

    async fn save_many(&mut self, finished: Vec<FinishedJob<Self>>) -> Vec<Result<(), String>> {
        tokio::time::sleep(self.delay).await;
        self.observed
            .save_sizes
            .lock()
            .unwrap()
            .push(finished.len());
        if finished.iter().any(|(job, _)| Some(job.0) == self.panic_on) {
            panic!("saver bug in a batch");
        }
        finished
            .into_iter()
            .map(|(job, _result)| {
                if Some(job.0) == self.fail_on {
                    return Err(format!("database gone while saving job {}", job.0));
                }
                self.observed.saved.lock().unwrap().push(job.0);
                self.observed.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
            .collect()
    }
}

fn config(workers: usize, pick_batch: usize, save_batch: usize) -> JobRunnerConfig {
    JobRunnerConfig {
        idle_backoff_initial: Duration::from_millis(5),
        idle_backoff_max: Duration::from_millis(20),
        pick_batch,
        save_batch,
        ..JobRunnerConfig::new("batches", workers)
    }
}

async fn wait_for_saves(observed: &Observed, count: usize) {
    for _ in 0..1000 {
        if observed.saved.lock().unwrap().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {count} saves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picks_are_sized_by_idle_workers_and_saves_take_what_finished() {
    let observed = Arc::new(Observed::default());
    let config = config(4, 8, 8);
    let bound = config.max_in_flight() as i64;
    let runner = JobRunner::new(
        BatchPicker {
            next: 1,
            total: 40,
            observed: observed.clone(),
        },
        Sleeper(Duration::from_millis(30)),
        BatchSaver {
            delay: Duration::from_millis(40),
            fail_on: None,
            panic_on: None,
            observed: observed.clone(),
        },
        config,
    )
    .expect("valid config");
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_for_saves(&observed, 40).await;
    cancel.cancel();
    let report = handle.await.expect("runner task");

    let limits = observed.limits.lock().unwrap().clone();
    assert_eq!(
        limits[0], 4,
        "the first pick is for every idle worker: {limits:?}"
    );
    assert!(
        limits.iter().all(|&l| (1..=4).contains(&l)),
        "never more than the idle workers (4) nor fewer than 1: {limits:?}"
    );
    let sizes = observed.batch_sizes.lock().unwrap().clone();
    assert!(
        sizes.iter().any(|&s| s > 1),
        "some pick took several jobs: {sizes:?}"
    );
    let saves = observed.save_sizes.lock().unwrap().clone();
    assert!(
        saves.iter().any(|&s| s > 1) && saves.iter().all(|&s| s <= 8),
        "the slow saver records several finished jobs at once, at most save_batch: {saves:?}"
    );
    let saved: BTreeSet<u64> = observed.saved.lock().unwrap().iter().copied().collect();
    assert_eq!(saved, (1..=40).collect(), "every job saved exactly once");
    assert_eq!(observed.saved.lock().unwrap().len(), 40);
    let max = observed.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= bound, "{max} jobs in flight, bound {bound}");
    // Jobs 7, 17, 27, 37 failed in the executor: counted as failures, one by one.
    assert_eq!(
        (report.picked, report.succeeded, report.failed),
        (40, 36, 4)
    );
    assert_eq!(report.save_errors, 0);
    assert!(report.left_in_progress.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_save_counts_each_job_and_survives_a_panic() {
    let observed = Arc::new(Observed::default());
    let runner = JobRunner::new(
        BatchPicker {
            next: 1,
            total: 30,
            observed: observed.clone(),
        },
        Sleeper(Duration::from_millis(5)),
        BatchSaver {
            delay: Duration::from_millis(30),
            fail_on: Some(3),
            panic_on: Some(20),
            observed: observed.clone(),
        },
        config(3, 3, 4),
    )
    .expect("valid config");
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    // Every job but 3 (its save fails) and those saved with 20 (the batch panics) is saved.
    for _ in 0..1000 {
        let report_ready = observed.save_sizes.lock().unwrap().iter().sum::<usize>() >= 30;
        if report_ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    let report = handle.await.expect("runner task");
    let saved = observed.saved.lock().unwrap().clone();
    assert!(!saved.contains(&3) && !saved.contains(&20), "{saved:?}");
    // The failed save and every job of the panicking batch are save errors; nothing is lost
    // from the ledger's count.
    assert_eq!(report.picked, 30);
    assert_eq!(report.saved() + report.save_errors, 30, "{report:?}");
    assert_eq!(report.saved() as usize, saved.len(), "{report:?}");
    assert!(report.save_errors >= 2, "{report:?}");
    assert!(report.left_in_progress.is_empty());
}

#[test]
fn zero_batches_are_refused() {
    let observed = Arc::new(Observed::default());
    let make = |config| {
        JobRunner::new(
            BatchPicker {
                next: 1,
                total: 0,
                observed: observed.clone(),
            },
            Sleeper(Duration::ZERO),
            BatchSaver {
                delay: Duration::ZERO,
                fail_on: None,
                panic_on: None,
                observed: observed.clone(),
            },
            config,
        )
        .err()
        .map(|e| e.to_string())
    };
    let message = make(config(1, 0, 1)).expect("pick_batch 0");
    assert!(message.contains("pick_batch"), "{message}");
    assert!(make(config(1, 1, 0)).is_some());
    assert_eq!(config(2, 1, 3).max_in_flight(), 2 + 1 + 3 + 3);
}
