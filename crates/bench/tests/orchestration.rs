//! The orchestration benchmark's quick mode, run to completion on SQLite and on PostgreSQL.
//! Not timed: these tests check that the whole tree completes (the benchmark itself checks,
//! after every run, that every job of the tree is successful after exactly one attempt, that
//! each was saved exactly once, and that the store holds every proof and the final proof), and
//! that the report has the shape's counts.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use zkfleet_bench::{
    run_orchestration, DatabaseBackend, OrchestrationOptions, OrchestrationReport, TreeShape,
};

fn quick(backend: DatabaseBackend, workers: Vec<usize>) -> OrchestrationOptions {
    let mut options = OrchestrationOptions::quick(vec![backend]);
    options.workers = workers;
    options.runs = 1;
    options
}

fn assert_complete(report: &OrchestrationReport, backend: &str, workers: &[usize]) {
    let expected = TreeShape::quick().job_counts();
    assert_eq!(report.shape.jobs, expected);
    assert_eq!(report.shape.all_jobs, expected.all_jobs());
    assert_eq!(report.cells.len(), workers.len());
    for (cell, &w) in report.cells.iter().zip(workers) {
        assert_eq!((cell.backend.as_str(), cell.workers), (backend, w));
        assert_eq!(cell.runs.len(), 1);
        let run = &cell.runs[0];
        assert!(run.seconds > 0.0);
        let count = |name: &str| {
            run.operations
                .iter()
                .find(|o| o.operation.starts_with(name))
                .map_or(0, |o| o.count)
        };
        // One pick and one completion per prover job, one completion per witness job.
        assert_eq!(count("db: pick prover job"), expected.prover_jobs());
        assert_eq!(count("db: complete prover job"), expected.prover_jobs());
        assert_eq!(count("db: complete basic witness job"), 1);
        assert_eq!(
            count("db: complete leaf/node/tip/scheduler witness job"),
            expected.witness_jobs() - 1
        );
        assert_eq!(count("store: basic witness generation writes"), 1);
        assert_eq!(count("db: complete compression job"), 1);
        // Every stage finished (their order is the running maximum of `Probe::milestones`,
        // tested there).
        let done: Vec<f64> = run
            .milestones
            .iter()
            .map(|m| m.done_after_seconds)
            .collect();
        assert_eq!(done.len(), 11);
        assert!(done.iter().all(|&t| t > 0.0), "{:?}", run.milestones);
    }
    // The quick shape is not the one the target is about.
    assert_eq!(report.target.met, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_tree_completes_on_sqlite() {
    let workers = vec![1, 8];
    let report = run_orchestration(&quick(DatabaseBackend::Sqlite, workers.clone()))
        .await
        .expect("the quick tree completes on SQLite");
    assert_complete(&report, "sqlite", &workers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_tree_completes_on_postgres() {
    // The server of the shared test support; each run of the benchmark creates its own
    // database on it.
    let server_url = zkfleet_test_support::database::admin_url();
    let workers = vec![1, 8];
    let report = run_orchestration(&quick(
        DatabaseBackend::Postgres { server_url },
        workers.clone(),
    ))
    .await
    .expect("the quick tree completes on PostgreSQL");
    assert_complete(&report, "postgresql", &workers);
    assert!(report.postgres.is_some());
}

#[tokio::test]
async fn refuses_options_that_measure_nothing() {
    let mut options = OrchestrationOptions::quick(vec![DatabaseBackend::Sqlite]);
    options.runs = 0;
    let err = run_orchestration(&options).await.unwrap_err().to_string();
    assert!(err.contains("at least one run"), "{err}");
    let options = OrchestrationOptions::quick(Vec::new());
    let err = run_orchestration(&options).await.unwrap_err().to_string();
    assert!(err.contains("no database backend"), "{err}");
}
