//! The monitor's requeue, the terminal state and the operator's requeue.

use std::time::Duration;

use zkfleet_dal::{JobRef, JobTable, RequeueCounts, ATTEMPTS_AFTER_OPERATOR_REQUEUE};
use zkfleet_types::{CircuitId, JobStatus};

use crate::fixtures::{batch_with_basic_jobs, insert_version, pick_any, SECOND};
use crate::harness::{new_batch, TestDb, V1};

const HOUR: Duration = Duration::from_secs(3600);

pub(crate) async fn requeue_after_timeout(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 1)]).await;
    let job = pick_any(dal, V1).await.unwrap();
    assert_eq!(job.meta.attempts, 1);
    // Not stuck yet.
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, HOUR, 5)
        .await
        .unwrap();
    assert_eq!(counts, RequeueCounts::default());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, Duration::from_millis(10), 5)
        .await
        .unwrap();
    assert_eq!(
        counts,
        RequeueCounts {
            requeued: 1,
            exhausted: 0
        }
    );
    let stored = dal.job(JobRef::Prover(job.id)).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Queued);
    assert!(
        stored.error.as_deref().unwrap().contains("timed out"),
        "{stored:?}"
    );
    assert!(
        stored.error.as_deref().unwrap().contains("prover"),
        "{stored:?}"
    );
    // The same job again, second attempt; the first worker's late completion is then accepted
    // only once (the job is in progress again, the duplicate finds it successful).
    let again = pick_any(dal, V1).await.unwrap();
    assert_eq!((again.id, again.meta.attempts), (job.id, 2));
    assert!(dal
        .complete_prover_job(job.id, "proofs/1", SECOND)
        .await
        .unwrap()
        .is_completed());
    assert!(!dal
        .complete_prover_job(again.id, "proofs/1", SECOND)
        .await
        .unwrap()
        .is_completed());
    // Witness tables too: a stuck basic witness job is requeued.
    dal.insert_batch(&new_batch(2, V1)).await.unwrap();
    dal.pick_basic_witness_job(V1, "bwg")
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let counts = dal
        .requeue_stuck_jobs(JobTable::WitnessInputs, Duration::from_millis(10), 5)
        .await
        .unwrap();
    assert_eq!(counts.requeued, 1);
    let picked = dal
        .pick_basic_witness_job(V1, "bwg")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(picked.meta.attempts, 2);
}

pub(crate) async fn attempts_exhausted_is_terminal_until_operator_requeue(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let batch = batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 2)]).await;
    let max_attempts = 2;
    let job = pick_any(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(job.id), "attempt 1 failed")
        .await
        .unwrap();
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, HOUR, max_attempts)
        .await
        .unwrap();
    assert_eq!(
        counts,
        RequeueCounts {
            requeued: 1,
            exhausted: 0
        }
    );
    // The failed job is first in the queue again.
    let job = pick_any(dal, V1).await.unwrap();
    assert_eq!(job.meta.attempts, 2);
    dal.fail_job(JobRef::Prover(job.id), "attempt 2 failed")
        .await
        .unwrap();
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, HOUR, max_attempts)
        .await
        .unwrap();
    assert_eq!(
        counts,
        RequeueCounts {
            requeued: 0,
            exhausted: 1
        }
    );
    let stored = dal.job(JobRef::Prover(job.id)).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::AttemptsExhausted);
    assert_eq!(stored.error.as_deref(), Some("attempt 2 failed"));
    // Terminal: further passes leave it, pickers skip it.
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, Duration::ZERO, max_attempts)
        .await
        .unwrap();
    assert_eq!(counts, RequeueCounts::default());
    let other = pick_any(dal, V1).await.unwrap();
    assert_ne!(other.id, job.id);
    assert!(pick_any(dal, V1).await.is_none());
    // Operators see it...
    let exhausted = dal.exhausted_jobs().await.unwrap();
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0].job, JobRef::Prover(job.id));
    assert_eq!(exhausted[0].batch, batch);
    assert_eq!(
        dal.count_jobs_at_max_attempts(JobTable::ProverJobs, max_attempts)
            .await
            .unwrap(),
        1
    );
    // ...and requeue the batch: fresh attempts, error kept for the record.
    let moved = dal.requeue_batch(batch).await.unwrap();
    assert_eq!(moved.get(JobTable::ProverJobs), 1);
    assert_eq!(moved.total(), 1);
    let stored = dal.job(JobRef::Prover(job.id)).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Queued);
    assert_eq!(stored.attempts, ATTEMPTS_AFTER_OPERATOR_REQUEUE);
    assert!(stored
        .error
        .as_deref()
        .unwrap()
        .contains("attempt 2 failed"));
    assert!(dal.exhausted_jobs().await.unwrap().is_empty());
    let again = pick_any(dal, V1).await.unwrap();
    assert_eq!(again.id, job.id);
    assert_eq!(again.meta.attempts, ATTEMPTS_AFTER_OPERATOR_REQUEUE + 1);
    // A timed-out job without attempts left goes terminal too, with a timeout error.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, Duration::from_millis(10), 1)
        .await
        .unwrap();
    assert_eq!(
        counts.exhausted, 2,
        "both in-progress jobs have used their one attempt"
    );
    let stored = dal.job(JobRef::Prover(job.id)).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::AttemptsExhausted);
    assert!(stored.error.as_deref().unwrap().contains("timed out"));
}
