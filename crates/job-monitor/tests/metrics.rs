//! `/metrics` against real databases: the documented series with the right values, gauges
//! that drop to 0 when their queue empties, and the counters of every task.
//!
//! The Prometheus recorder is process-wide, so this file is a test binary of its own and its
//! two tests (`postgres_…`, `sqlite_…`) take turns on a lock; counters are compared before and
//! after each step, so the other backend's earlier increments do not matter.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use zkfleet_dal::JobRef;
use zkfleet_job_monitor::tasks::{
    AttemptsReporter, DependencyQueuer, JobRequeuer, ProverJobArchiver, QueueReporter,
};
use zkfleet_job_monitor::{
    archiver_settings, build_router, install_prometheus_recorder, JobTimeouts, MaxAttempts,
    MonitorConfig,
};
use zkfleet_runner::{CancellationToken, PeriodicTask, PeriodicTaskRunner};
use zkfleet_types::CircuitId;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const HOUR: Duration = Duration::from_secs(3600);

/// The scraped page: (name, sorted labels) → value.
struct Scrape(BTreeMap<(String, BTreeMap<String, String>), f64>);

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut series = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (id, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().expect("a numeric value");
            let (name, labels) = match id.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("label=value");
                            (k.to_owned(), v.trim_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (id.to_owned(), BTreeMap::new()),
            };
            series.insert((name, labels), value);
        }
        Self(series)
    }

    /// The value of one series; `None` if it is not on the page.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0.get(&(name.to_owned(), labels)).copied()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("{name}{labels:?} is not on /metrics"))
    }

    /// A counter, 0 before its first increment.
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }
}

/// Scrapes `/metrics` over HTTP, as Prometheus does.
async fn scrape(base: &str) -> Scrape {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    Scrape::parse(&response.text().await.unwrap())
}

async fn serve_metrics(db: &TestDb, handle: PrometheusHandle, cancel: CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = build_router(db.dal.clone(), handle);
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await
            .unwrap();
    });
    base
}

const V: &str = "0.1.0";
const SIG: &str = "signature_verification";
const STATE: &str = "state_transition";

async fn metrics_show_the_documented_series(db: Arc<TestDb>) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dal = &db.dal;
    let store = &db.store;
    let handle = install_prometheus_recorder().unwrap();
    let cancel = CancellationToken::new();
    let base = serve_metrics(&db, handle, cancel.clone()).await;
    let queue = QueueReporter::new(dal.clone(), HOUR);
    let attempts = AttemptsReporter::new(dal.clone(), HOUR, MaxAttempts::uniform(1));

    insert_version(dal, V1).await;
    let batch =
        batch_with_basic_jobs(dal, store, 7, V1, &[(CircuitId(1), 3), (CircuitId(2), 1)]).await;
    let picked = pick_prover_job(dal, V1).await.unwrap();
    assert_eq!(picked.circuit_id, CircuitId(1));
    queue.run_once().await.unwrap();
    attempts.run_once().await.unwrap();

    let m = scrape(&base).await;
    let prover = |circuit, status| {
        vec![
            ("round", "basic"),
            ("circuit", circuit),
            ("status", status),
            ("protocol_version", V),
        ]
    };
    assert_eq!(m.value("zkfleet_prover_jobs", &prover(SIG, "queued")), 2.0);
    assert_eq!(
        m.value("zkfleet_prover_jobs", &prover(SIG, "in_progress")),
        1.0
    );
    assert_eq!(
        m.value("zkfleet_prover_jobs", &prover(STATE, "queued")),
        1.0
    );
    let table = |table, status| {
        vec![
            ("table", table),
            ("status", status),
            ("protocol_version", V),
        ]
    };
    assert_eq!(
        m.value("zkfleet_jobs", &table("prover_jobs", "queued")),
        3.0
    );
    assert_eq!(
        m.value("zkfleet_jobs", &table("prover_jobs", "in_progress")),
        1.0
    );
    assert_eq!(
        m.value(
            "zkfleet_jobs",
            &table("leaf_witness_jobs", "waiting_for_proofs")
        ),
        2.0
    );
    assert_eq!(
        m.value("zkfleet_jobs", &table("witness_inputs", "successful")),
        1.0
    );
    let lag = |circuit| {
        vec![
            ("round", "basic"),
            ("circuit", circuit),
            ("chain_id", "270"),
        ]
    };
    assert_eq!(m.value("zkfleet_oldest_unproven_batch", &lag(SIG)), 7.0);
    assert_eq!(m.value("zkfleet_oldest_unproven_batch", &lag(STATE)), 7.0);
    assert_eq!(
        m.value("zkfleet_oldest_uncompressed_batch", &[("chain_id", "270")]),
        7.0
    );
    // The batch entered the fleet a moment ago (it was sealed 993 minutes ago: the age is the
    // fleet's own lag, not the sequencer's).
    let age = m.value(
        "zkfleet_oldest_unproven_batch_age_seconds",
        &[("chain_id", "270")],
    );
    assert!((0.0..60.0).contains(&age), "age {age}");
    // Max attempts 1: the picked job has used its only attempt.
    let prover_type = [("job_type", "prover")];
    assert_eq!(m.value("zkfleet_jobs_at_max_attempts", &prover_type), 1.0);
    assert_eq!(
        m.value(
            "zkfleet_jobs_at_max_attempts",
            &[("job_type", "basic_witness_generator")]
        ),
        0.0
    );
    assert_eq!(
        m.value("zkfleet_attempts_exhausted_jobs", &prover_type),
        0.0
    );

    // Requeue and exhaustion counters.
    let requeued_before = m.counter("zkfleet_requeued_jobs_total", &prover_type);
    let exhausted_before = m.counter("zkfleet_exhausted_jobs_total", &prover_type);
    dal.fail_job(JobRef::Prover(picked.id), "boom")
        .await
        .unwrap();
    JobRequeuer::new(
        dal.clone(),
        HOUR,
        JobTimeouts::uniform(HOUR),
        MaxAttempts::uniform(5),
    )
    .run_once()
    .await
    .unwrap();
    let second = pick_prover_job(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(second.id), "boom again")
        .await
        .unwrap();
    JobRequeuer::new(
        dal.clone(),
        HOUR,
        JobTimeouts::uniform(HOUR),
        MaxAttempts::uniform(1),
    )
    .run_once()
    .await
    .unwrap();
    attempts.run_once().await.unwrap();
    let m = scrape(&base).await;
    assert_eq!(
        m.counter("zkfleet_requeued_jobs_total", &prover_type) - requeued_before,
        1.0
    );
    assert_eq!(
        m.counter("zkfleet_exhausted_jobs_total", &prover_type) - exhausted_before,
        1.0
    );
    assert_eq!(
        m.value("zkfleet_attempts_exhausted_jobs", &prover_type),
        1.0
    );

    // The operator requeues; every job is proven: the queue gauges drop to 0.
    dal.requeue_batch(batch).await.unwrap();
    assert_eq!(prove_all(dal, store, V1).await, 4);
    queue.run_once().await.unwrap();
    attempts.run_once().await.unwrap();
    let m = scrape(&base).await;
    assert_eq!(m.value("zkfleet_prover_jobs", &prover(SIG, "queued")), 0.0);
    assert_eq!(
        m.value("zkfleet_prover_jobs", &prover(SIG, "in_progress")),
        0.0
    );
    assert_eq!(
        m.value("zkfleet_prover_jobs", &prover(STATE, "queued")),
        0.0
    );
    assert_eq!(
        m.value("zkfleet_prover_jobs", &prover(SIG, "successful")),
        3.0
    );
    assert_eq!(
        m.value("zkfleet_jobs", &table("prover_jobs", "queued")),
        0.0
    );
    assert_eq!(m.value("zkfleet_oldest_unproven_batch", &lag(SIG)), 0.0);
    assert_eq!(
        m.value("zkfleet_attempts_exhausted_jobs", &prover_type),
        0.0
    );
    assert_eq!(m.value("zkfleet_jobs_at_max_attempts", &prover_type), 0.0);

    // Catch-up counter.
    let leaf_type = [("job_type", "leaf_witness_generator")];
    let queued_before = m.counter("zkfleet_dependents_queued_total", &leaf_type);
    db.execute_raw("UPDATE leaf_witness_jobs SET status = 'waiting_for_proofs'")
        .await;
    DependencyQueuer::new(dal.clone(), HOUR)
        .run_once()
        .await
        .unwrap();
    let m = scrape(&base).await;
    assert_eq!(
        m.counter("zkfleet_dependents_queued_total", &leaf_type) - queued_before,
        2.0
    );

    // Archive and blob collection counters.
    drive_to_completion(dal, store, V1).await;
    dal.mark_compression_job_sent(batch).await.unwrap();
    let jobs = dal
        .batch_status(batch)
        .await
        .unwrap()
        .rounds
        .iter()
        .map(|r| r.prover_jobs.len())
        .sum::<usize>() as f64;
    let archived_before = m.counter("zkfleet_archived_prover_jobs_total", &[]);
    let proofs_before = m.counter("zkfleet_collected_blobs_total", &[("bucket", "proofs")]);
    let circuits_before = m.counter(
        "zkfleet_collected_blobs_total",
        &[("bucket", "prover_jobs")],
    );
    let config = MonitorConfig {
        archive_after: Duration::from_millis(1),
        ..MonitorConfig::default()
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    ProverJobArchiver::new(dal.clone(), archiver_settings(&config, store.clone()))
        .run_once()
        .await
        .unwrap();
    queue.run_once().await.unwrap();
    let m = scrape(&base).await;
    assert_eq!(
        m.counter("zkfleet_archived_prover_jobs_total", &[]) - archived_before,
        jobs
    );
    assert_eq!(
        m.counter("zkfleet_collected_blobs_total", &[("bucket", "proofs")]) - proofs_before,
        jobs
    );
    assert_eq!(
        m.counter(
            "zkfleet_collected_blobs_total",
            &[("bucket", "prover_jobs")]
        ) - circuits_before,
        jobs
    );
    // Archived jobs leave the table: their successful gauge drops to 0 as well.
    assert_eq!(
        m.value("zkfleet_prover_jobs", &prover(SIG, "successful")),
        0.0
    );
    assert_eq!(
        m.value("zkfleet_oldest_uncompressed_batch", &[("chain_id", "270")]),
        0.0
    );
    assert_eq!(
        m.value(
            "zkfleet_oldest_unproven_batch_age_seconds",
            &[("chain_id", "270")]
        ),
        0.0
    );

    // Task runs under the runner are counted per task and outcome.
    let task = [("task", "queue_reporter"), ("outcome", "ok")];
    let runs_before = m.counter("zkfleet_periodic_task_runs_total", &task);
    let runner_cancel = CancellationToken::new();
    let mut runner = PeriodicTaskRunner::new(runner_cancel.clone());
    runner.spawn(QueueReporter::new(dal.clone(), Duration::from_millis(20)));
    tokio::time::sleep(Duration::from_millis(70)).await;
    runner_cancel.cancel();
    let counts = runner.join().await;
    let m = scrape(&base).await;
    assert_eq!(
        m.counter("zkfleet_periodic_task_runs_total", &task) - runs_before,
        counts[0].ok as f64
    );
    assert!(counts[0].ok >= 2, "{counts:?}");
    assert!(m
        .get(
            "zkfleet_periodic_task_seconds_count",
            &[("task", "queue_reporter")]
        )
        .is_some());
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_metrics_show_the_documented_series() {
    with_postgres(metrics_show_the_documented_series).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_metrics_show_the_documented_series() {
    with_sqlite(metrics_show_the_documented_series).await;
}
