//! Periodic tasks on paused time: every tick is exact.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zkfleet_runner::{CancellationToken, PeriodicTask, PeriodicTaskRunner};

/// Fails on chosen runs and panics on another, like a requeuer whose database blinks.
struct FlakyRequeuer {
    runs: Arc<AtomicU32>,
}

impl PeriodicTask for FlakyRequeuer {
    type Error = String;

    fn name(&self) -> &str {
        "prover_job_requeuer"
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(20)
    }

    async fn run_once(&self) -> Result<(), String> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        // Work that takes time, so a run spans an await point.
        tokio::time::sleep(Duration::from_millis(1)).await;
        match run {
            2 | 3 => Err(format!("database connection reset (run {run})")),
            4 => panic!("unexpected row in run {run}"),
            _ => Ok(()),
        }
    }
}

struct QueueReporter {
    runs: Arc<AtomicU32>,
}

impl PeriodicTask for QueueReporter {
    type Error = String;

    fn name(&self) -> &str {
        "queue_reporter"
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(50)
    }

    async fn run_once(&self) -> Result<(), String> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn tasks_run_at_their_intervals_and_survive_errors() {
    let requeuer_runs = Arc::new(AtomicU32::new(0));
    let reporter_runs = Arc::new(AtomicU32::new(0));
    let cancel = CancellationToken::new();
    let mut runner = PeriodicTaskRunner::new(cancel.clone());
    runner.spawn(FlakyRequeuer {
        runs: requeuer_runs.clone(),
    });
    runner.spawn(QueueReporter {
        runs: reporter_runs.clone(),
    });
    // Runs at 0, 20, ..., 300 ms and 0, 50, ..., 300 ms.
    tokio::time::sleep(Duration::from_millis(305)).await;
    cancel.cancel();
    let counts = runner.join().await;

    assert_eq!(counts.len(), 2);
    let requeuer = &counts[0];
    assert_eq!(requeuer.name, "prover_job_requeuer");
    assert_eq!(
        (requeuer.ok, requeuer.errors, requeuer.panics),
        (13, 2, 1),
        "16 runs: two errors and a panic did not stop the task"
    );
    assert_eq!(requeuer_runs.load(Ordering::SeqCst), 16);
    let reporter = &counts[1];
    assert_eq!(reporter.name, "queue_reporter");
    assert_eq!((reporter.ok, reporter.errors, reporter.panics), (7, 0, 0));

    // Cancelled: no more runs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(requeuer_runs.load(Ordering::SeqCst), 16);
    assert_eq!(reporter_runs.load(Ordering::SeqCst), 7);
}
