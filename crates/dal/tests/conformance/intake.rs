//! Issue 15: intake's arbitration (one winner per batch among any number of concurrent
//! submissions, in any number of processes) and permanent failures.

use std::time::Duration;

use zkfleet_dal::{
    Dal, DalError, JobRef, JobTable, PoolOptions, RequeueCounts, SubmitOutcome,
    ATTEMPTS_AFTER_OPERATOR_REQUEUE,
};
use zkfleet_types::{CircuitId, FailureKind, JobStatus};

use crate::fixtures::{batch_with_basic_jobs, insert_version, pick_any};
use crate::harness::{batch_id, new_batch, TestDb, V1};

fn digest(variant: u8) -> String {
    format!("{variant:02x}").repeat(32)
}

/// 24 submissions of one batch with 4 different digests, on 4 connection pools (what 4
/// processes have) at once: exactly one inserts; every other one reads the winner's row, whose
/// key and digest are the winner's. Repeated over several batches so that the race is real.
pub(crate) async fn concurrent_submissions_have_one_winner(db: &TestDb) {
    insert_version(&db.dal, V1).await;
    let mut pools = Vec::new();
    for _ in 0..4 {
        pools.push(
            Dal::connect_with(&db.url, &PoolOptions::default())
                .await
                .expect("another pool"),
        );
    }
    for number in 1..=5 {
        let attempts = (0..24u8).map(|i| {
            let dal = pools[usize::from(i) % pools.len()].clone();
            let variant = i % 4;
            async move {
                let mut batch = new_batch(number, V1);
                batch.witness_input_blob_key = format!("witness_inputs/270/{number}/{variant}.bin");
                let outcome = dal.submit_batch(&batch, &digest(variant)).await;
                (variant, outcome)
            }
        });
        let outcomes = futures::future::join_all(attempts).await;
        let row = db
            .dal
            .submitted_batch(batch_id(number))
            .await
            .unwrap()
            .expect("the batch row");
        let winner = (0..4u8)
            .find(|v| row.witness_input_digest.as_deref() == Some(digest(*v).as_str()))
            .expect("the row carries one of the digests");
        assert_eq!(
            row.witness_input_blob_key,
            format!("witness_inputs/270/{number}/{winner}.bin")
        );
        assert_eq!(row.status, JobStatus::Queued);
        let mut inserted = 0;
        for (variant, outcome) in outcomes {
            match outcome.expect("no database error") {
                SubmitOutcome::Inserted => {
                    assert_eq!(variant, winner);
                    inserted += 1;
                }
                SubmitOutcome::Present(present) => assert_eq!(present, row),
            }
        }
        assert_eq!(inserted, 1, "batch {number}");
    }
    // Refusals: an unknown version, an empty digest.
    let mut unknown = new_batch(9, zkfleet_types::ProtocolSemanticVersion::new(9, 0));
    unknown.witness_input_blob_key = "witness_inputs/270/9/0.bin".to_owned();
    let err = db.dal.submit_batch(&unknown, &digest(0)).await.unwrap_err();
    assert!(
        matches!(err, DalError::UnknownProtocolVersion(_)),
        "{err:?}"
    );
    let err = db
        .dal
        .submit_batch(&new_batch(9, V1), "")
        .await
        .unwrap_err();
    assert!(matches!(err, DalError::InvalidInput(_)), "{err:?}");
    assert_eq!(db.dal.submitted_batch(batch_id(9)).await.unwrap(), None);
    for pool in pools {
        pool.close().await;
    }
}

/// A permanent failure is terminal at once: the requeuer never retries it (however many
/// attempts are left), pickers skip it, the job's dependents keep waiting, and an operator's
/// requeue brings it back. A transient failure goes to `failed` as before.
pub(crate) async fn permanent_failures_are_terminal_until_operator_requeue(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let batch = batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 2)]).await;
    let job = pick_any(dal, V1).await.unwrap();
    dal.record_failure(
        JobRef::Prover(job.id),
        FailureKind::Permanent,
        "loading the circuit blob failed: truncated",
    )
    .await
    .unwrap();
    let stored = dal.job(JobRef::Prover(job.id)).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::FailedPermanently);
    assert_eq!(stored.attempts, 1);
    assert_eq!(
        stored.error.as_deref(),
        Some("loading the circuit blob failed: truncated")
    );
    // A second failure report changes nothing (guarded like every transition).
    let again = dal
        .fail_job(JobRef::Prover(job.id), "late report")
        .await
        .unwrap();
    assert!(matches!(
        again,
        zkfleet_dal::TransitionOutcome::Unchanged {
            status: JobStatus::FailedPermanently
        }
    ));
    // The requeuer leaves it, with 10 attempts allowed and no timeout.
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(counts, RequeueCounts::default());
    // The other job is picked; this one never again.
    let other = pick_any(dal, V1).await.unwrap();
    assert_ne!(other.id, job.id);
    // A transient failure of the other one: `failed`, requeued while attempts last.
    dal.record_failure(
        JobRef::Prover(other.id),
        FailureKind::Transient,
        "store unreachable",
    )
    .await
    .unwrap();
    assert_eq!(
        dal.job(JobRef::Prover(other.id))
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Failed
    );
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(counts.requeued, 1);
    let retried = pick_any(dal, V1).await.unwrap();
    assert_eq!(retried.id, other.id);
    assert!(pick_any(dal, V1).await.is_none());
    // The batch's leaf job keeps waiting for the failed proof.
    let status = dal.batch_status(batch).await.unwrap();
    assert!(status.rounds[1]
        .witness_jobs
        .iter()
        .all(|j| j.status == JobStatus::WaitingForProofs));
    // The operator requeues the batch: fresh attempts, error kept for the record.
    let moved = dal.requeue_batch(batch).await.unwrap();
    assert_eq!(moved.get(JobTable::ProverJobs), 1);
    let stored = dal.job(JobRef::Prover(job.id)).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Queued);
    assert_eq!(stored.attempts, ATTEMPTS_AFTER_OPERATOR_REQUEUE);
    assert!(stored.error.as_deref().unwrap().contains("truncated"));
}

/// A transiently failed job waits out its backoff before the requeuer queues it again; the
/// wait doubles with its attempts.
pub(crate) async fn failed_jobs_wait_out_their_retry_backoff(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 1)]).await;
    let backoff = zkfleet_dal::RetryBackoff {
        initial: Duration::from_millis(300),
        max: Duration::from_secs(60),
    };
    assert_eq!(backoff.delay(1), Duration::from_millis(300));
    assert_eq!(backoff.delay(3), Duration::from_millis(1200));
    assert_eq!(backoff.delay(40), Duration::from_secs(60));
    let job = pick_any(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(job.id), "connection reset")
        .await
        .unwrap();
    let requeue = || {
        dal.requeue_stuck_jobs_with_backoff(
            JobTable::ProverJobs,
            Duration::from_secs(3600),
            10,
            backoff,
        )
    };
    // Right after the failure: too early.
    assert_eq!(requeue().await.unwrap(), RequeueCounts::default());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(requeue().await.unwrap().requeued, 1);
    // Second attempt fails: now 600 ms.
    let job = pick_any(dal, V1).await.unwrap();
    assert_eq!(job.meta.attempts, 2);
    dal.fail_job(JobRef::Prover(job.id), "connection reset")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(requeue().await.unwrap(), RequeueCounts::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(requeue().await.unwrap().requeued, 1);
}
