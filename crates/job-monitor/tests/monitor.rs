//! The monitor's tasks and HTTP endpoints against real databases: every scenario runs as
//! `postgres_<name>` (a fresh database on the server named by `ZKFLEET_TEST_DATABASE_URL`; the
//! test fails if it is not set) and `sqlite_<name>` (a fresh file in a temporary directory).
//! Metric values are checked in `tests/metrics.rs`, a process of its own, because the
//! Prometheus recorder is process-wide.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sqlx::Connection;
use tokio::net::TcpListener;
use zkfleet_dal::{JobRef, JobTable};
use zkfleet_job_monitor::tasks::{DependencyQueuer, JobRequeuer, ProverJobArchiver};
use zkfleet_job_monitor::{
    archiver_settings, build_router, install_prometheus_recorder, run, serve, JobTimeouts,
    MaxAttempts, MonitorConfig, MonitorError,
};
use zkfleet_runner::{CancellationToken, PeriodicTask};
use zkfleet_store::ObjectKey;
use zkfleet_types::{CircuitId, JobStatus};

const HOUR: Duration = Duration::from_secs(3600);

async fn status_of(db: &TestDb, job: JobRef) -> (JobStatus, u32, Option<String>) {
    let job = db.dal.job(job).await.unwrap().expect("job exists");
    (job.status, job.attempts, job.error)
}

fn requeuer(db: &TestDb, timeouts: JobTimeouts, max_attempts: MaxAttempts) -> JobRequeuer {
    JobRequeuer::new(db.dal.clone(), HOUR, timeouts, max_attempts)
}

// --- Requeue ---------------------------------------------------------------------------------

async fn requeues_stuck_and_failed_jobs(db: Arc<TestDb>) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(dal, &db.store, 1, V1, &[(CircuitId(1), 3)]).await;
    let stuck = pick_prover_job(dal, V1).await.unwrap();
    let failed = pick_prover_job(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(failed.id), "out of memory")
        .await
        .unwrap();
    // A basic witness job in progress, under its own (long) timeout.
    insert_batch(dal, 2, V1).await;
    let witness = dal
        .pick_basic_witness_job(V1, "bwg")
        .await
        .unwrap()
        .unwrap();

    let timeouts = JobTimeouts {
        prover: Duration::from_millis(400),
        ..JobTimeouts::uniform(HOUR)
    };
    let task = requeuer(&db, timeouts, MaxAttempts::uniform(5));
    task.run_once().await.unwrap();
    // The failed job is back at once; the one in progress is not stuck yet.
    let (status, attempts, error) = status_of(&db, JobRef::Prover(failed.id)).await;
    assert_eq!((status, attempts), (JobStatus::Queued, 1));
    assert_eq!(error.as_deref(), Some("out of memory"));
    assert_eq!(
        status_of(&db, JobRef::Prover(stuck.id)).await.0,
        JobStatus::InProgress
    );

    tokio::time::sleep(Duration::from_millis(450)).await;
    task.run_once().await.unwrap();
    let (status, attempts, error) = status_of(&db, JobRef::Prover(stuck.id)).await;
    assert_eq!((status, attempts), (JobStatus::Queued, 1));
    assert!(error.unwrap().contains("timed out"));
    // The witness job's timeout is an hour: still in progress.
    let witness_job = JobRef::WitnessInput(witness.meta.batch);
    assert_eq!(status_of(&db, witness_job).await.0, JobStatus::InProgress);

    // With a short basic witness timeout it is requeued too.
    let timeouts = JobTimeouts {
        basic_witness: Duration::from_millis(1),
        ..JobTimeouts::uniform(HOUR)
    };
    requeuer(&db, timeouts, MaxAttempts::uniform(5))
        .run_once()
        .await
        .unwrap();
    assert_eq!(status_of(&db, witness_job).await.0, JobStatus::Queued);
    // Requeued jobs are picked again, as their next attempt.
    let again = pick_prover_job(dal, V1).await.unwrap();
    assert!([stuck.id, failed.id].contains(&again.id));
    assert_eq!(again.meta.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_requeues_stuck_and_failed_jobs() {
    with_postgres(requeues_stuck_and_failed_jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_requeues_stuck_and_failed_jobs() {
    with_sqlite(requeues_stuck_and_failed_jobs).await;
}

async fn past_max_attempts_is_terminal(db: Arc<TestDb>) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(dal, &db.store, 1, V1, &[(CircuitId(2), 1)]).await;
    let task = requeuer(&db, JobTimeouts::uniform(HOUR), MaxAttempts::uniform(2));
    let job = pick_prover_job(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(job.id), "attempt 1 failed")
        .await
        .unwrap();
    task.run_once().await.unwrap();
    assert_eq!(
        status_of(&db, JobRef::Prover(job.id)).await.0,
        JobStatus::Queued
    );
    let job = pick_prover_job(dal, V1).await.unwrap();
    assert_eq!(job.meta.attempts, 2);
    dal.fail_job(JobRef::Prover(job.id), "attempt 2 failed")
        .await
        .unwrap();
    task.run_once().await.unwrap();
    let (status, attempts, error) = status_of(&db, JobRef::Prover(job.id)).await;
    assert_eq!((status, attempts), (JobStatus::AttemptsExhausted, 2));
    assert_eq!(error.as_deref(), Some("attempt 2 failed"));
    // Terminal: later runs leave it alone and nothing can pick it.
    task.run_once().await.unwrap();
    assert_eq!(
        status_of(&db, JobRef::Prover(job.id)).await.0,
        JobStatus::AttemptsExhausted
    );
    assert!(pick_prover_job(dal, V1).await.is_none());
    let exhausted = dal.exhausted_jobs().await.unwrap();
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0].job, JobRef::Prover(job.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_past_max_attempts_is_terminal() {
    with_postgres(past_max_attempts_is_terminal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_past_max_attempts_is_terminal() {
    with_sqlite(past_max_attempts_is_terminal).await;
}

// --- Catch-up --------------------------------------------------------------------------------

async fn catch_up_queues_a_ready_dependent(db: Arc<TestDb>) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let batch = batch_with_basic_jobs(dal, &db.store, 1, V1, &[(CircuitId(1), 2)]).await;
    let queuer = DependencyQueuer::new(dal.clone(), HOUR);
    let leaf_status =
        || async { dal.batch_status(batch).await.unwrap().rounds[1].witness_jobs[0].status };
    // Its proofs are not done: it waits.
    queuer.run_once().await.unwrap();
    assert_eq!(leaf_status().await, JobStatus::WaitingForProofs);
    assert_eq!(prove_all(dal, &db.store, V1).await, 2);
    // The completion queued it; fabricate a missed queuing behind the API's back.
    assert_eq!(leaf_status().await, JobStatus::Queued);
    db.execute_raw("UPDATE leaf_witness_jobs SET status = 'waiting_for_proofs'")
        .await;
    assert!(dal
        .pick_leaf_witness_job(V1, "lwg")
        .await
        .unwrap()
        .is_none());
    queuer.run_once().await.unwrap();
    assert_eq!(leaf_status().await, JobStatus::Queued);
    let leaf = dal.pick_leaf_witness_job(V1, "lwg").await.unwrap().unwrap();
    assert_eq!(leaf.basic_proofs.len(), 2);
    // The node job of depth 0 has no count yet: the catch-up leaves it waiting.
    queuer.run_once().await.unwrap();
    let node = &dal.batch_status(batch).await.unwrap().rounds[2].witness_jobs[0];
    assert_eq!(node.status, JobStatus::WaitingForProofs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_catch_up_queues_a_ready_dependent() {
    with_postgres(catch_up_queues_a_ready_dependent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_catch_up_queues_a_ready_dependent() {
    with_sqlite(catch_up_queues_a_ready_dependent).await;
}

// --- Archive ---------------------------------------------------------------------------------

/// The circuit and proof paths of every prover job of the batch, as the rows name them.
async fn prover_job_blobs(db: &TestDb, batch: zkfleet_types::L1BatchId) -> Vec<String> {
    let status = db.dal.batch_status(batch).await.unwrap();
    let mut paths = Vec::new();
    for job in status.rounds.iter().flat_map(|r| &r.prover_jobs) {
        paths.extend(job.input_blob_key.clone());
        paths.extend(job.output_blob_key.clone());
    }
    paths
}

async fn exists(db: &TestDb, path: &str) -> bool {
    db.store
        .exists(&ObjectKey::parse(path).unwrap())
        .await
        .unwrap()
}

async fn archiver_moves_finished_batches_and_collects_blobs(db: Arc<TestDb>) {
    let dal = &db.dal;
    let store = &db.store;
    insert_version(dal, V1).await;
    let finished =
        batch_with_basic_jobs(dal, store, 1, V1, &[(CircuitId(1), 3), (CircuitId(2), 1)]).await;
    drive_to_completion(dal, store, V1).await;
    assert_eq!(
        dal.mark_compression_job_sent(finished).await.unwrap(),
        zkfleet_dal::TransitionOutcome::Applied
    );
    // A batch still being proven: never archived.
    let unfinished = batch_with_basic_jobs(dal, store, 2, V1, &[(CircuitId(1), 1)]).await;
    let blobs = prover_job_blobs(&db, finished).await;
    let jobs = dal
        .batch_status(finished)
        .await
        .unwrap()
        .rounds
        .iter()
        .map(|r| r.prover_jobs.len())
        .sum::<usize>();
    assert!(jobs >= 8, "a proof tree down to the scheduler: {jobs} jobs");
    assert_eq!(blobs.len(), 2 * jobs, "a circuit and a proof per job");
    for path in &blobs {
        assert!(exists(&db, path).await, "{path} stored");
    }
    // One blob is already gone; one row names a path that is not an object key.
    db.store
        .delete(&ObjectKey::parse(&blobs[0]).unwrap())
        .await
        .unwrap();
    let odd_job = dal.batch_status(finished).await.unwrap().rounds[0].prover_jobs[0].clone();
    let odd_proof = odd_job.output_blob_key.clone().unwrap();
    let JobRef::Prover(odd_id) = odd_job.job else {
        panic!("a prover job")
    };
    db.execute_raw(&format!(
        "UPDATE prover_jobs SET proof_blob_key = 'legacy/proof-{odd_id}' WHERE id = {odd_id}"
    ))
    .await;

    let config = MonitorConfig {
        archive_after: Duration::from_millis(1),
        delete_archived_after: HOUR,
        ..MonitorConfig::default()
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let archiver = ProverJobArchiver::new(dal.clone(), archiver_settings(&config, store.clone()));
    archiver.run_once().await.unwrap();

    let status = dal.batch_status(finished).await.unwrap();
    assert!(status.rounds.iter().all(|r| r.prover_jobs.is_empty()));
    assert_eq!(status.archived_prover_jobs, jobs as u64);
    for path in &blobs {
        let expected = *path == odd_proof;
        assert_eq!(exists(&db, path).await, expected, "{path}");
    }
    // The unfinished batch is untouched, blobs included.
    let status = dal.batch_status(unfinished).await.unwrap();
    assert_eq!(status.rounds[0].prover_jobs.len(), 1);
    assert_eq!(status.archived_prover_jobs, 0);
    for path in prover_job_blobs(&db, unfinished).await {
        assert!(exists(&db, &path).await, "{path}");
    }
    // Nothing left to archive: a second run changes nothing.
    archiver.run_once().await.unwrap();
    assert_eq!(
        dal.batch_status(finished)
            .await
            .unwrap()
            .archived_prover_jobs,
        jobs as u64
    );

    // Without blob collection, the blobs stay.
    prove_all(dal, store, V1).await;
    drive_to_completion(dal, store, V1).await;
    dal.mark_compression_job_sent(unfinished).await.unwrap();
    let kept = prover_job_blobs(&db, unfinished).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let config = MonitorConfig {
        collect_archived_blobs: false,
        ..config
    };
    ProverJobArchiver::new(dal.clone(), archiver_settings(&config, store.clone()))
        .run_once()
        .await
        .unwrap();
    assert!(
        dal.batch_status(unfinished)
            .await
            .unwrap()
            .archived_prover_jobs
            > 0
    );
    for path in &kept {
        assert!(exists(&db, path).await, "{path} kept");
    }

    // Archive rows past their retention are deleted.
    let config = MonitorConfig {
        delete_archived_after: Duration::from_millis(1),
        ..config
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    ProverJobArchiver::new(dal.clone(), archiver_settings(&config, store.clone()))
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        dal.batch_status(finished)
            .await
            .unwrap()
            .archived_prover_jobs,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_archiver_moves_finished_batches_and_collects_blobs() {
    with_postgres(archiver_moves_finished_batches_and_collects_blobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_archiver_moves_finished_batches_and_collects_blobs() {
    with_sqlite(archiver_moves_finished_batches_and_collects_blobs).await;
}

// --- HTTP ------------------------------------------------------------------------------------

/// Serves `router` on a free local port; returns its base URL.
async fn serve_router(router: axum::Router, cancel: CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await
            .unwrap();
    });
    format!("http://{address}")
}

async fn queue_report_returns_the_counts(db: Arc<TestDb>) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(
        dal,
        &db.store,
        1,
        V1,
        &[(CircuitId(1), 3), (CircuitId(2), 1)],
    )
    .await;
    pick_prover_job(dal, V1).await.unwrap();
    insert_batch(dal, 2, V1).await;

    let metrics = install_prometheus_recorder().unwrap();
    let cancel = CancellationToken::new();
    let base = serve_router(build_router(dal.clone(), metrics), cancel.clone()).await;
    let client = reqwest::Client::new();

    let response = client
        .get(format!("{base}/queue_report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: serde_json::Value = response.json().await.unwrap();
    let empty = serde_json::json!({"queued": 0, "in_progress": 0});
    let expected = serde_json::json!([{
        "version": "0.1.0",
        "report": {
            "basic_witness_jobs": {"queued": 1, "in_progress": 0},
            "leaf_witness_jobs": empty,
            "node_witness_jobs": empty,
            "recursion_tip_witness_jobs": empty,
            "scheduler_witness_jobs": empty,
            "prover_jobs": {"queued": 3, "in_progress": 1},
            "proof_compressor_jobs": empty,
        }
    }]);
    assert_eq!(report, expected);

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let missing = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_queue_report_returns_the_counts() {
    with_postgres(queue_report_returns_the_counts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_queue_report_returns_the_counts() {
    with_sqlite(queue_report_returns_the_counts).await;
}

// --- Outage ----------------------------------------------------------------------------------

/// Takes the database away: PostgreSQL refuses connections to it and drops the open ones;
/// SQLite loses the table every task reads (a file replaced under the monitor's feet).
async fn take_database_away(db: &TestDb) {
    match db.postgres_admin() {
        Some((admin_url, name)) => {
            let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
            for statement in [
                format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ),
            ] {
                sqlx::query(&statement).execute(&mut admin).await.unwrap();
            }
            admin.close().await.ok();
        }
        None => {
            db.execute_raw("ALTER TABLE prover_jobs RENAME TO prover_jobs_away")
                .await;
        }
    }
}

async fn bring_database_back(db: &TestDb) {
    match db.postgres_admin() {
        Some((admin_url, name)) => {
            let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
            sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.ok();
        }
        None => {
            db.execute_raw("ALTER TABLE prover_jobs_away RENAME TO prover_jobs")
                .await;
        }
    }
}

async fn keeps_running_while_the_database_is_away(db: Arc<TestDb>) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(dal, &db.store, 1, V1, &[(CircuitId(1), 2)]).await;

    let fast = Duration::from_millis(50);
    let mut config = MonitorConfig::default();
    config.intervals.dependency_queuer = fast;
    config.intervals.job_requeuer = fast;
    config.intervals.queue_reporter = fast;
    config.intervals.attempts_reporter = fast;
    config.intervals.prover_job_archiver = fast;
    // A failed job waits out its retry backoff (default 10 s) before it is requeued.
    config.retry_backoff_initial = fast;
    config.retry_backoff_max = fast;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = install_prometheus_recorder().unwrap();
    let cancel = CancellationToken::new();
    let monitor = tokio::spawn(serve(
        dal.clone(),
        db.store.clone(),
        config,
        listener,
        metrics,
        cancel.clone(),
    ));
    let client = reqwest::Client::new();
    let report_status = || async {
        client
            .get(format!("{base}/queue_report"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    eventually(
        Duration::from_secs(10),
        "the queue report answers",
        || async { report_status().await == 200 },
    )
    .await;

    take_database_away(&db).await;
    eventually(
        Duration::from_secs(15),
        "the queue report says the database is away",
        || async { report_status().await == 503 },
    )
    .await;
    // Several ticks of every task against the missing database.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !monitor.is_finished(),
        "the monitor stopped during the outage"
    );
    bring_database_back(&db).await;
    eventually(
        Duration::from_secs(15),
        "the queue report answers again",
        || async { report_status().await == 200 },
    )
    .await;

    // The requeuer works again: a failed job goes back to the queue by itself.
    let job = pick_prover_job(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(job.id), "worker lost")
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the running monitor requeues the failed job",
        || async { status_of(&db, JobRef::Prover(job.id)).await.0 == JobStatus::Queued },
    )
    .await;

    // A few more ticks, so every task has run against the database that came back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    let counts = tokio::time::timeout(Duration::from_secs(30), monitor)
        .await
        .expect("the monitor stops on cancel")
        .unwrap()
        .expect("the monitor ran");
    assert_eq!(counts.len(), 5, "{counts:?}");
    // Every task reads the table that went away: each saw the outage, and each ran again
    // after it.
    for task in &counts {
        assert_eq!(task.panics, 0, "{task:?}");
        assert!(task.errors >= 1, "the outage was seen: {task:?}");
        assert!(task.ok >= 2, "ran before and after the outage: {task:?}");
    }
    // Nothing was lost: every table is still there and counted.
    let report = dal.queue_report().await.unwrap();
    assert_eq!(report[0].report.prover_jobs.queued, 2);
    assert_eq!(
        dal.count_jobs_at_max_attempts(JobTable::ProverJobs, 5)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_running_while_the_database_is_away() {
    with_postgres(keeps_running_while_the_database_is_away).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_running_while_the_database_is_away() {
    with_sqlite(keeps_running_while_the_database_is_away).await;
}

// --- run -------------------------------------------------------------------------------------

async fn run_names_a_taken_address_and_stops_on_cancel(db: Arc<TestDb>) {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = taken.local_addr().unwrap();
    let config = MonitorConfig {
        listen_address: address,
        ..MonitorConfig::default()
    };
    let err = run(
        db.dal.clone(),
        db.store.clone(),
        config,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MonitorError::Bind { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&address.to_string()), "{message}");
    assert!(message.contains("listen_address"), "{message}");

    let mut invalid = MonitorConfig::default();
    invalid.max_attempts.prover = 0;
    let err = run(
        db.dal.clone(),
        db.store.clone(),
        invalid,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MonitorError::Config(_)), "{err:?}");

    // On a free port it runs until cancelled, then returns cleanly.
    let config = MonitorConfig {
        listen_address: "127.0.0.1:0".parse().unwrap(),
        ..MonitorConfig::default()
    };
    let cancel = CancellationToken::new();
    let running = tokio::spawn(run(
        db.dal.clone(),
        db.store.clone(),
        config,
        cancel.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!running.is_finished(), "run returned before cancel");
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run stops on cancel")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_run_names_a_taken_address_and_stops_on_cancel() {
    with_postgres(run_names_a_taken_address_and_stops_on_cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_run_names_a_taken_address_and_stops_on_cancel() {
    with_sqlite(run_names_a_taken_address_and_stops_on_cancel).await;
}
