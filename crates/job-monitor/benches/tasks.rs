//! How long one run of each monitor task takes on a finished batch of about 4,000 prover jobs
//! (2,000 basic proofs of two circuit types, aggregated at arity 2 down to the scheduler), on
//! SQLite (a WAL file in a temporary directory) and PostgreSQL (a fresh database on the server
//! named by `ZKFLEET_TEST_DATABASE_URL`, required), with blobs in a local-directory store.
//!
//! `cargo bench -p zkfleet-job-monitor --bench tasks` prints one table per backend.

// A bench links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use zkfleet_job_monitor::tasks::{
    AttemptsReporter, DependencyQueuer, JobRequeuer, ProverJobArchiver, QueueReporter,
};
use zkfleet_job_monitor::{archiver_settings, MonitorConfig};
use zkfleet_runner::PeriodicTask;
use zkfleet_types::CircuitId;

const BASIC_JOBS_PER_TYPE: u32 = 1_000;
const REPETITIONS: usize = 7;
const HOUR: Duration = Duration::from_secs(3600);

/// Median and maximum of `REPETITIONS` runs of `task`, in milliseconds.
async fn time_runs<T: PeriodicTask>(task: &T) -> (f64, f64) {
    let mut runs = Vec::with_capacity(REPETITIONS);
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        if let Err(e) = task.run_once().await {
            panic!("{} failed: {e}", task.name());
        }
        runs.push(started.elapsed().as_secs_f64() * 1e3);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    (runs[REPETITIONS / 2], runs[REPETITIONS - 1])
}

async fn bench(backend: &str, db: TestDb) {
    let dal = &db.dal;
    let store = &db.store;
    let setup = Instant::now();
    insert_version(dal, V1).await;
    let per_type = [
        (CircuitId(1), BASIC_JOBS_PER_TYPE),
        (CircuitId(2), BASIC_JOBS_PER_TYPE),
    ];
    let batch = batch_with_basic_jobs(dal, store, 1, V1, &per_type).await;
    drive_to_completion(dal, store, V1).await;
    dal.mark_compression_job_sent(batch)
        .await
        .expect("mark the final proof sent");
    let jobs: usize = dal
        .batch_status(batch)
        .await
        .expect("batch status")
        .rounds
        .iter()
        .map(|r| r.prover_jobs.len())
        .sum();
    println!(
        "\n{backend}: {jobs} prover jobs, {} blobs (setup {:.1} s)",
        2 * jobs,
        setup.elapsed().as_secs_f64()
    );
    println!("| task | median ms | max ms |\n|---|---|---|");
    let config = MonitorConfig::default();
    let reporters: [(&str, (f64, f64)); 4] = [
        (
            "queue_reporter",
            time_runs(&QueueReporter::new(dal.clone(), HOUR)).await,
        ),
        (
            "attempts_reporter",
            time_runs(&AttemptsReporter::new(
                dal.clone(),
                HOUR,
                config.max_attempts.clone(),
            ))
            .await,
        ),
        (
            "job_requeuer (nothing stuck)",
            time_runs(&JobRequeuer::new(
                dal.clone(),
                HOUR,
                config.timeouts.clone(),
                config.max_attempts.clone(),
            ))
            .await,
        ),
        (
            "dependency_queuer (nothing waiting)",
            time_runs(&DependencyQueuer::new(dal.clone(), HOUR)).await,
        ),
    ];
    for (name, (median, max)) in reporters {
        println!("| {name} | {median:.1} | {max:.1} |");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let config = MonitorConfig {
        archive_after: Duration::from_millis(1),
        ..config
    };
    let archiver = ProverJobArchiver::new(dal.clone(), archiver_settings(&config, store.clone()));
    let started = Instant::now();
    archiver.run_once().await.expect("archive");
    let archive_ms = started.elapsed().as_secs_f64() * 1e3;
    let archived = dal
        .batch_status(batch)
        .await
        .expect("batch status")
        .archived_prover_jobs;
    assert_eq!(archived, jobs as u64, "every job archived");
    let left = store.list("proofs").await.expect("list").len()
        + store.list("prover_jobs").await.expect("list").len();
    assert_eq!(left, 0, "every blob collected");
    println!(
        "| prover_job_archiver ({jobs} jobs + {} blob deletions, concurrency {}) | {archive_ms:.1} | — |",
        2 * jobs,
        config.blob_delete_concurrency
    );
    db.drop_database().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        bench("sqlite", TestDb::sqlite().await).await;
        bench("postgresql", TestDb::postgres().await).await;
    });
}
