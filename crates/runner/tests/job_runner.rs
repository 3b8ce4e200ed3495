//! The job runner on a real multi-threaded tokio runtime with real blocking threads. The
//! picker, executor and saver here are small workloads whose behaviour each test chooses.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zkfleet_runner::{
    CancellationToken, Executor, JobError, JobPicker, JobRunner, JobRunnerConfig, JobSaver,
    LoadedInput,
};

/// What the executor does with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Succeed,
    Fail,
    Panic,
}

/// Job metadata: an id, as a job table row would give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct JobId(u64);

/// Shared observations of one run.
#[derive(Default)]
struct Observed {
    /// Jobs picked and not yet saved, and the most ever seen.
    in_flight: AtomicI64,
    max_in_flight: AtomicI64,
    picks: AtomicU32,
    picked: Mutex<Vec<u64>>,
    saved: Mutex<Vec<(u64, Result<u64, String>)>>,
    pick_times: Mutex<Vec<tokio::time::Instant>>,
}

impl Observed {
    fn saved_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .saved
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Hands out jobs from a script: `Some(n)` = a job, `None` = nothing to do, `Err` = a failed
/// database call. When the script runs out it hands out fresh jobs forever (if `endless`) or
/// nothing.
struct ScriptedPicker {
    script: VecDeque<Result<Option<u64>, String>>,
    endless_from: Option<u64>,
    observed: Arc<Observed>,
}

impl JobPicker for ScriptedPicker {
    type Input = u64;
    type Metadata = JobId;
    type Error = String;

    async fn pick(&mut self) -> Result<Option<(u64, JobId)>, String> {
        self.observed.picks.fetch_add(1, Ordering::SeqCst);
        self.observed
            .pick_times
            .lock()
            .unwrap()
            .push(tokio::time::Instant::now());
        let next = match self.script.pop_front() {
            Some(Err(e)) if e == "panic" => panic!("picker bug"),
            Some(step) => step?,
            None => {
                let next = self.endless_from;
                self.endless_from = next.map(|n| n + 1);
                next
            }
        };
        Ok(next.map(|id| {
            let now = self.observed.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.observed.max_in_flight.fetch_max(now, Ordering::SeqCst);
            self.observed.picked.lock().unwrap().push(id);
            (id, JobId(id))
        }))
    }
}

/// Squares the job id after sleeping; fails or panics on chosen ids.
struct TestExecutor {
    work: Duration,
    behaviour: BTreeMap<u64, Behaviour>,
}

impl Executor for TestExecutor {
    type Input = u64;
    type Output = u64;
    type Metadata = JobId;
    type Error = String;

    fn execute(&self, input: u64, metadata: &JobId) -> Result<u64, String> {
        assert_eq!(input, metadata.0);
        std::thread::sleep(self.work);
        match self
            .behaviour
            .get(&input)
            .copied()
            .unwrap_or(Behaviour::Succeed)
        {
            Behaviour::Succeed => Ok(input * input),
            Behaviour::Fail => Err(format!("circuit of job {input} is unsatisfiable")),
            Behaviour::Panic => panic!("boom in job {input}"),
        }
    }
}

struct TestSaver {
    delay: Duration,
    observed: Arc<Observed>,
    /// Jobs whose save fails (a database error) or panics.
    fail_on: BTreeMap<u64, Behaviour>,
}

impl JobSaver for TestSaver {
    type Output = u64;
    type Metadata = JobId;
    type ExecutorError = String;
    type Error = String;

    async fn save(
        &mut self,
        metadata: JobId,
        result: Result<u64, JobError<String>>,
    ) -> Result<(), String> {
        tokio::time::sleep(self.delay).await;
        match self.fail_on.get(&metadata.0) {
            Some(Behaviour::Fail) => {
                return Err(format!("database gone while saving job {}", metadata.0))
            }
            Some(Behaviour::Panic) => panic!("saver bug on job {}", metadata.0),
            _ => {}
        }
        self.observed
            .saved
            .lock()
            .unwrap()
            .push((metadata.0, result.map_err(|e| e.to_string())));
        self.observed.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

fn config(workers: usize) -> JobRunnerConfig {
    JobRunnerConfig {
        idle_backoff_initial: Duration::from_millis(5),
        idle_backoff_max: Duration::from_millis(20),
        ..JobRunnerConfig::new("test", workers)
    }
}

fn runner(
    script: Vec<Result<Option<u64>, String>>,
    endless_from: Option<u64>,
    executor: TestExecutor,
    save_delay: Duration,
    config: JobRunnerConfig,
) -> (
    JobRunner<ScriptedPicker, TestExecutor, TestSaver>,
    Arc<Observed>,
) {
    runner_with_save_faults(
        script,
        endless_from,
        executor,
        save_delay,
        BTreeMap::new(),
        config,
    )
}

fn runner_with_save_faults(
    script: Vec<Result<Option<u64>, String>>,
    endless_from: Option<u64>,
    executor: TestExecutor,
    save_delay: Duration,
    save_faults: BTreeMap<u64, Behaviour>,
    config: JobRunnerConfig,
) -> (
    JobRunner<ScriptedPicker, TestExecutor, TestSaver>,
    Arc<Observed>,
) {
    let observed = Arc::new(Observed::default());
    let picker = ScriptedPicker {
        script: script.into(),
        endless_from,
        observed: observed.clone(),
    };
    let saver = TestSaver {
        delay: save_delay,
        observed: observed.clone(),
        fail_on: save_faults,
    };
    let runner = JobRunner::new(picker, executor, saver, config).expect("valid config");
    (runner, observed)
}

fn jobs(ids: impl IntoIterator<Item = u64>) -> Vec<Result<Option<u64>, String>> {
    ids.into_iter().map(|id| Ok(Some(id))).collect()
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_bounds_jobs_in_flight() {
    // Endless work, a fast executor and a slow saver: everything backs up behind the saver.
    let config = config(3);
    let bound = config.max_in_flight() as i64;
    assert_eq!(bound, 6, "3 workers + 2 channel slots + 1 being saved");
    let executor = TestExecutor {
        work: Duration::from_millis(1),
        behaviour: BTreeMap::new(),
    };
    let (runner, observed) = runner(vec![], Some(1), executor, Duration::from_millis(20), config);
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let picks_before = observed.picks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let picks_after = observed.picks.load(Ordering::SeqCst);
    cancel.cancel();
    let report = handle.await.expect("runner task");

    let max = observed.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= bound, "{max} jobs in flight, bound {bound}");
    assert_eq!(
        max, bound,
        "the slow saver fills the pipeline up to the bound"
    );
    // The picker is paced by the saver (one save per 20 ms), not by its own speed.
    let picked_in_200ms = picks_after - picks_before;
    assert!(
        picked_in_200ms <= 12,
        "picked {picked_in_200ms} jobs in 200 ms while the saver manages ~10"
    );
    assert_eq!(report.picked, report.saved(), "{report:?}");
    assert!(report.left_in_progress.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_loses_nothing() {
    let executor = TestExecutor {
        work: Duration::from_millis(30),
        behaviour: BTreeMap::new(),
    };
    let (runner, observed) = runner(
        vec![],
        Some(1),
        executor,
        Duration::from_millis(2),
        config(4),
    );
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("some jobs are saved", || {
        observed.saved.lock().unwrap().len() >= 10
    })
    .await;
    let in_flight_at_cancel = observed.in_flight.load(Ordering::SeqCst);
    cancel.cancel();
    let report = handle.await.expect("runner task");
    assert!(in_flight_at_cancel > 0, "jobs were running when cancelled");

    let mut picked = observed.picked.lock().unwrap().clone();
    picked.sort_unstable();
    let saved = observed.saved_ids();
    assert_eq!(saved, picked, "every picked job saved exactly once");
    assert_eq!(report.picked as usize, picked.len());
    assert_eq!(report.succeeded as usize, picked.len());
    assert!(report.left_in_progress.is_empty());
    // And the picker stopped: nothing picked after the report.
    let picks = observed.picks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(observed.picks.load(Ordering::SeqCst), picks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_leaves_jobs_for_the_requeuer() {
    let executor = TestExecutor {
        work: Duration::from_millis(800),
        behaviour: BTreeMap::new(),
    };
    let config = JobRunnerConfig {
        shutdown_timeout: Some(Duration::from_millis(100)),
        ..config(2)
    };
    let (runner, observed) = runner(jobs(1..=10), None, executor, Duration::ZERO, config);
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("two jobs are running", || {
        observed.picked.lock().unwrap().len() >= 3
    })
    .await;
    let started = std::time::Instant::now();
    cancel.cancel();
    let report = handle.await.expect("runner task");
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "returned at the shutdown timeout, not after the jobs ({:?})",
        started.elapsed()
    );
    let left: Vec<u64> = report.left_in_progress.iter().map(|j| j.0).collect();
    assert!(!left.is_empty(), "{report:?}");
    assert_eq!(report.picked, report.saved() + left.len() as u64);
    let picked = observed.picked.lock().unwrap().clone();
    assert_eq!(
        left, picked,
        "nothing saved: every picked job is reported left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_error_fails_the_job_and_the_runner_goes_on() {
    let executor = TestExecutor {
        work: Duration::from_millis(1),
        behaviour: [(3, Behaviour::Fail), (7, Behaviour::Fail)].into(),
    };
    let (runner, observed) = runner(jobs(1..=10), None, executor, Duration::ZERO, config(2));
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("all jobs are saved", || {
        observed.saved.lock().unwrap().len() == 10
    })
    .await;
    cancel.cancel();
    let report = handle.await.expect("runner task");
    let saved: BTreeMap<u64, Result<u64, String>> =
        observed.saved.lock().unwrap().iter().cloned().collect();
    for id in 1..=10u64 {
        match (id, &saved[&id]) {
            (3 | 7, Err(message)) => {
                assert_eq!(message, &format!("circuit of job {id} is unsatisfiable"))
            }
            (3 | 7, Ok(_)) => panic!("job {id} should have failed"),
            (_, result) => assert_eq!(result, &Ok(id * id)),
        }
    }
    assert_eq!(
        (report.succeeded, report.failed, report.panicked),
        (8, 2, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_executor_is_contained() {
    let executor = TestExecutor {
        work: Duration::from_millis(1),
        behaviour: [(2, Behaviour::Panic), (5, Behaviour::Panic)].into(),
    };
    // One worker: the panic must not take the only worker down.
    let (runner, observed) = runner(jobs(1..=6), None, executor, Duration::ZERO, config(1));
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("all jobs are saved", || {
        observed.saved.lock().unwrap().len() == 6
    })
    .await;
    cancel.cancel();
    let report = handle.await.expect("runner task");
    let saved: BTreeMap<u64, Result<u64, String>> =
        observed.saved.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        saved[&2],
        Err("executor panicked: boom in job 2".to_owned())
    );
    assert_eq!(
        saved[&5],
        Err("executor panicked: boom in job 5".to_owned())
    );
    assert_eq!(saved[&6], Ok(36));
    assert_eq!(
        (report.succeeded, report.failed, report.panicked),
        (4, 0, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picker_errors_are_retried() {
    let mut script = vec![
        Err("connection to the database lost".to_owned()),
        Err("connection to the database lost".to_owned()),
        Err("connection to the database lost".to_owned()),
    ];
    script.extend(jobs(1..=3));
    let executor = TestExecutor {
        work: Duration::ZERO,
        behaviour: BTreeMap::new(),
    };
    let (runner, observed) = runner(script, None, executor, Duration::ZERO, config(1));
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("the jobs after the errors are saved", || {
        observed.saved.lock().unwrap().len() == 3
    })
    .await;
    cancel.cancel();
    let report = handle.await.expect("runner task");
    assert_eq!(report.pick_errors, 3);
    assert_eq!(report.succeeded, 3);
    assert_eq!(observed.saved_ids(), [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picker_panics_and_saver_failures_do_not_stop_the_runner() {
    let mut script = vec![Err("panic".to_owned())];
    script.extend(jobs(1..=6));
    let executor = TestExecutor {
        work: Duration::ZERO,
        behaviour: BTreeMap::new(),
    };
    let save_faults = [(2, Behaviour::Fail), (4, Behaviour::Panic)].into();
    let (runner, observed) = runner_with_save_faults(
        script,
        None,
        executor,
        Duration::ZERO,
        save_faults,
        config(2),
    );
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("the four savable jobs are saved", || {
        observed.saved.lock().unwrap().len() == 4
    })
    .await;
    // Give the runner a moment to record the two failed saves as well.
    wait_until("every job left the pipeline", || {
        observed.picks.load(Ordering::SeqCst) >= 8
    })
    .await;
    cancel.cancel();
    let report = handle.await.expect("runner task");
    assert_eq!(
        report.pick_errors, 1,
        "the picker panic counted as a pick error"
    );
    assert_eq!(report.save_errors, 2, "{report:?}");
    assert_eq!(report.succeeded, 4);
    assert_eq!(observed.saved_ids(), [1, 3, 5, 6]);
    assert!(report.left_in_progress.is_empty());
}

/// Paused time: the clock advances exactly by the runner's sleeps.
#[tokio::test(start_paused = true)]
async fn idle_backoff_grows_and_resets() {
    let script = vec![
        Ok(None),
        Ok(None),
        Ok(None),
        Ok(None),
        Ok(Some(1)),
        Ok(None),
        Ok(None),
    ];
    let executor = TestExecutor {
        work: Duration::ZERO,
        behaviour: BTreeMap::new(),
    };
    let config = JobRunnerConfig {
        idle_backoff_initial: Duration::from_millis(20),
        idle_backoff_max: Duration::from_millis(80),
        ..JobRunnerConfig::new("backoff", 1)
    };
    let (runner, observed) = runner(script, None, executor, Duration::ZERO, config);
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("eight picks", || observed.picks.load(Ordering::SeqCst) >= 8).await;
    cancel.cancel();
    handle.await.expect("runner task");
    let times = observed.pick_times.lock().unwrap().clone();
    let gaps: Vec<u128> = times
        .windows(2)
        .take(7)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    // None → 20, 40, 80, 80 (capped); a job → next pick at once; None → back to 20, 40.
    assert_eq!(gaps, [20, 40, 80, 80, 0, 20, 40]);
}

#[test]
fn invalid_configurations_are_refused() {
    let observed = Arc::new(Observed::default());
    let make = |config: JobRunnerConfig| {
        JobRunner::new(
            ScriptedPicker {
                script: VecDeque::new(),
                endless_from: None,
                observed: observed.clone(),
            },
            TestExecutor {
                work: Duration::ZERO,
                behaviour: BTreeMap::new(),
            },
            TestSaver {
                delay: Duration::ZERO,
                observed: observed.clone(),
                fail_on: BTreeMap::new(),
            },
            config,
        )
        .err()
        .map(|e| e.to_string())
    };
    assert_eq!(
        make(JobRunnerConfig::new("r", 0)),
        Some("runner r: workers must be at least 1".to_owned())
    );
    assert!(make(JobRunnerConfig {
        channel_capacity: 0,
        ..JobRunnerConfig::new("r", 1)
    })
    .is_some());
    assert!(make(JobRunnerConfig {
        idle_backoff_initial: Duration::ZERO,
        ..JobRunnerConfig::new("r", 1)
    })
    .is_some());
    assert_eq!(make(JobRunnerConfig::new("r", 1)), None);
}

/// The runner's metrics, read from an in-memory recorder. The handles are registered when the
/// runner starts, inside the recorder's scope, so emissions from every thread land in it.
#[test]
fn metrics_count_jobs_by_outcome() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let executor = TestExecutor {
                work: Duration::from_millis(1),
                behaviour: [(2, Behaviour::Fail), (4, Behaviour::Panic)].into(),
            };
            let config = JobRunnerConfig {
                name: "metrics".into(),
                ..config(2)
            };
            let (runner, observed) = runner(jobs(1..=5), None, executor, Duration::ZERO, config);
            let cancel = CancellationToken::new();
            // `run` registers the metric handles here, under the local recorder.
            let handle = runner.run(cancel.clone());
            wait_until("all jobs are saved", || {
                observed.saved.lock().unwrap().len() == 5
            })
            .await;
            cancel.cancel();
            handle.await.expect("runner task");
        })
    });
    let mut counters = BTreeMap::new();
    let mut executions = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        assert!(
            key.labels()
                .any(|l| l.key() == "runner" && l.value() == "metrics"),
            "{} carries the runner label",
            key.name()
        );
        match value {
            DebugValue::Counter(n) => {
                counters.insert(key.name().to_owned(), n);
            }
            DebugValue::Histogram(samples) if key.name() == "zkfleet_runner_execute_seconds" => {
                executions = samples.len();
            }
            _ => {}
        }
    }
    assert_eq!(counters["zkfleet_runner_jobs_picked_total"], 5);
    assert_eq!(counters["zkfleet_runner_jobs_saved_total"], 5);
    assert_eq!(counters["zkfleet_runner_jobs_failed_total"], 1);
    assert_eq!(counters["zkfleet_runner_jobs_panicked_total"], 1);
    assert_eq!(counters["zkfleet_runner_save_errors_total"], 0);
    assert_eq!(
        executions, 5,
        "every execution is timed, failed and panicked ones included"
    );
}

/// Idle: none of the runner's picks found anything, its backoff is long; a wake-up ends the
/// wait at once and the backoff starts over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_up_ends_the_idle_wait() {
    let executor = TestExecutor {
        work: Duration::ZERO,
        behaviour: BTreeMap::new(),
    };
    let config = JobRunnerConfig {
        idle_backoff_initial: Duration::from_secs(60),
        idle_backoff_max: Duration::from_secs(60),
        ..JobRunnerConfig::new("wake", 1)
    };
    let script = vec![Ok(None), Ok(None), Ok(Some(7))];
    let (runner, observed) = runner(script, None, executor, Duration::ZERO, config);
    let (wake, receiver) = tokio::sync::watch::channel(0u64);
    let cancel = CancellationToken::new();
    let handle = runner
        .with_wake(receiver, Duration::from_secs(600))
        .run(cancel.clone());
    wait_until("the first pick", || {
        observed.picks.load(Ordering::SeqCst) == 1
    })
    .await;
    // No wake-up: the runner waits out its (60 s) backoff.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(observed.picks.load(Ordering::SeqCst), 1);
    // Each wake-up is one more pick, at once.
    wake.send_modify(|g| *g += 1);
    wait_until("a woken pick", || {
        observed.picks.load(Ordering::SeqCst) == 2
    })
    .await;
    wake.send_modify(|g| *g += 1);
    wait_until("the job is saved", || observed.saved_ids() == [7]).await;
    // The sender gone: the runner goes on polling, without spinning.
    drop(wake);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(observed.picks.load(Ordering::SeqCst) <= 4);
    cancel.cancel();
    let report = handle.await.expect("runner task");
    assert_eq!(report.succeeded, 1);
}

/// Work announced while a pick is finding nothing (the pick's snapshot came before the insert)
/// is not lost: the wake-up is counted from before the pick, so the idle wait ends at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_up_during_a_pick_is_not_lost() {
    struct AnnouncesWhilePicking {
        wake: tokio::sync::watch::Sender<u64>,
        picks: Arc<AtomicU32>,
    }
    impl JobPicker for AnnouncesWhilePicking {
        type Input = u64;
        type Metadata = JobId;
        type Error = String;
        async fn pick(&mut self) -> Result<Option<(u64, JobId)>, String> {
            let n = self.picks.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                // Another worker queues a job and its notification arrives mid-pick.
                self.wake.send_modify(|g| *g += 1);
            }
            Ok(None)
        }
    }
    let (wake, receiver) = tokio::sync::watch::channel(0u64);
    let picks = Arc::new(AtomicU32::new(0));
    let picker = AnnouncesWhilePicking {
        wake,
        picks: picks.clone(),
    };
    let observed = Arc::new(Observed::default());
    let saver = TestSaver {
        delay: Duration::ZERO,
        observed,
        fail_on: BTreeMap::new(),
    };
    let executor = TestExecutor {
        work: Duration::ZERO,
        behaviour: BTreeMap::new(),
    };
    let config = JobRunnerConfig {
        idle_backoff_initial: Duration::from_secs(60),
        idle_backoff_max: Duration::from_secs(60),
        ..JobRunnerConfig::new("wake-race", 1)
    };
    let runner = JobRunner::new(picker, executor, saver, config)
        .expect("valid config")
        .with_wake(receiver, Duration::from_secs(60));
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("the second pick", || picks.load(Ordering::SeqCst) >= 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        picks.load(Ordering::SeqCst),
        2,
        "one wake-up, one extra pick"
    );
    cancel.cancel();
    handle.await.expect("runner task");
}

/// Paused time: with a wake source the idle backoff grows past `idle_backoff_max` up to the
/// ceiling given with it (polling is only the safety net).
#[tokio::test(start_paused = true)]
async fn with_wake_ups_the_backoff_grows_to_the_safety_poll() {
    let executor = TestExecutor {
        work: Duration::ZERO,
        behaviour: BTreeMap::new(),
    };
    let config = JobRunnerConfig {
        idle_backoff_initial: Duration::from_millis(20),
        idle_backoff_max: Duration::from_millis(80),
        ..JobRunnerConfig::new("safety-poll", 1)
    };
    let (runner, observed) = runner(Vec::new(), None, executor, Duration::ZERO, config);
    let (_wake, receiver) = tokio::sync::watch::channel(0u64);
    let cancel = CancellationToken::new();
    let handle = runner
        .with_wake(receiver, Duration::from_millis(1000))
        .run(cancel.clone());
    wait_until("eight picks", || observed.picks.load(Ordering::SeqCst) >= 8).await;
    cancel.cancel();
    handle.await.expect("runner task");
    let times = observed.pick_times.lock().unwrap().clone();
    let gaps: Vec<u128> = times
        .windows(2)
        .take(7)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert_eq!(gaps, [20, 40, 80, 160, 320, 640, 1000]);
}

/// The convention for a job whose input cannot be loaded (`JobPicker`, "An input that cannot
/// be loaded"): the picker hands the job on with the cause as its `LoadedInput`, the executor
/// returns it, and the saver records the job failed with it. The job is counted as failed, not
/// as a pick error, and the jobs after it run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_that_cannot_be_loaded_fails_its_job_and_the_runner_goes_on() {
    /// Jobs 1..=6; the blobs of jobs 2 and 5 are missing from the store.
    struct LoadingPicker {
        next: u64,
    }

    impl JobPicker for LoadingPicker {
        type Input = LoadedInput<u64, String>;
        type Metadata = JobId;
        type Error = String;

        async fn pick(&mut self) -> Result<Option<(LoadedInput<u64, String>, JobId)>, String> {
            if self.next > 6 {
                return Ok(None);
            }
            let id = self.next;
            self.next += 1;
            let input = if id == 2 || id == 5 {
                Err(format!(
                    "loading the input of job {id}: object {id}.bin not found"
                ))
            } else {
                Ok(id)
            };
            Ok(Some((input, JobId(id))))
        }
    }

    struct SquaringExecutor;

    impl Executor for SquaringExecutor {
        type Input = LoadedInput<u64, String>;
        type Output = u64;
        type Metadata = JobId;
        type Error = String;

        fn execute(&self, input: LoadedInput<u64, String>, _: &JobId) -> Result<u64, String> {
            let input = input?;
            Ok(input * input)
        }
    }

    let observed = Arc::new(Observed::default());
    let saver = TestSaver {
        delay: Duration::ZERO,
        observed: observed.clone(),
        fail_on: BTreeMap::new(),
    };
    let runner = JobRunner::new(
        LoadingPicker { next: 1 },
        SquaringExecutor,
        saver,
        config(2),
    )
    .expect("valid config");
    let cancel = CancellationToken::new();
    let handle = runner.run(cancel.clone());
    wait_until("every job is saved", || {
        observed.saved.lock().unwrap().len() == 6
    })
    .await;
    cancel.cancel();
    let report = handle.await.expect("runner task");
    let saved: BTreeMap<u64, Result<u64, String>> =
        observed.saved.lock().unwrap().iter().cloned().collect();
    for id in 1..=6u64 {
        match id {
            2 | 5 => assert_eq!(
                saved[&id],
                Err(format!(
                    "loading the input of job {id}: object {id}.bin not found"
                ))
            ),
            _ => assert_eq!(saved[&id], Ok(id * id)),
        }
    }
    assert_eq!(
        (
            report.picked,
            report.succeeded,
            report.failed,
            report.pick_errors
        ),
        (6, 4, 2, 0),
        "a job whose input cannot be loaded is a failed job, not a pick error"
    );
    assert!(report.left_in_progress.is_empty());
}
