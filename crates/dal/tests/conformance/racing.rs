//! The single-job paths under the failures a fleet sees: a worker killed between its pick and
//! its save, and two workers (the original and the one a requeue gave the job to) saving the
//! same job at the same instant. On PostgreSQL these run the pick outside an explicit
//! transaction and the completion as one server-side statement (issue 21); the guarantees are
//! the same as SQLite's: no job completes twice, a dependent is queued exactly once.

use std::time::Duration;

use zkfleet_dal::{CompleteOutcome, JobRef, JobTable, QueuedDependent};
use zkfleet_types::{CircuitId, JobStatus};

use crate::fixtures::{batch_with_basic_jobs, insert_version, pick_any, SECOND};
use crate::harness::{TestDb, V1};

/// Every job of the table in progress goes back to the queue (its worker is presumed dead).
async fn requeue_everything_in_progress(dal: &zkfleet_dal::Dal) -> u64 {
    tokio::time::sleep(Duration::from_millis(20)).await;
    dal.requeue_stuck_jobs(JobTable::ProverJobs, Duration::from_millis(10), 5)
        .await
        .unwrap()
        .requeued
}

pub(crate) async fn worker_killed_between_pick_and_save(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let batch = batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 2)]).await;
    let first = pick_any(dal, V1).await.unwrap();
    let lost = pick_any(dal, V1).await.unwrap();
    // The first job is proven; the worker holding the second dies before saving it.
    let outcome = dal
        .complete_prover_job(first.id, "proofs/first", SECOND)
        .await
        .unwrap();
    assert_eq!(outcome, CompleteOutcome::Completed { queued: vec![] });
    assert_eq!(requeue_everything_in_progress(dal).await, 1);
    let again = pick_any(dal, V1).await.unwrap();
    assert_eq!((again.id, again.meta.attempts), (lost.id, 2));
    let outcome = dal
        .complete_prover_job(again.id, "proofs/second", SECOND)
        .await
        .unwrap();
    let leaf = dal.batch_status(batch).await.unwrap().rounds[1].witness_jobs[0].clone();
    assert_eq!(leaf.status, JobStatus::Queued);
    assert_eq!(
        outcome,
        CompleteOutcome::Completed {
            queued: vec![QueuedDependent::LeafWitness(leaf.job.leaf_id().unwrap())]
        }
    );
    // The dead worker was only slow: its late save changes nothing and queues nothing.
    let late = dal
        .complete_prover_job(lost.id, "proofs/zombie", SECOND)
        .await
        .unwrap();
    assert_eq!(
        late,
        CompleteOutcome::NotInProgress {
            status: JobStatus::Successful
        }
    );
    let stored = dal.job(JobRef::Prover(lost.id)).await.unwrap().unwrap();
    assert_eq!(stored.output_blob_key.as_deref(), Some("proofs/second"));
}

pub(crate) async fn two_workers_saving_one_job_complete_it_once(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    for number in 1..=10 {
        // One proof per leaf: whichever save wins also queues the leaf, and only it.
        let batch = batch_with_basic_jobs(dal, number, V1, &[(CircuitId(3), 1)]).await;
        let original = pick_any(dal, V1).await.unwrap();
        assert_eq!(requeue_everything_in_progress(dal).await, 1);
        let duplicate = pick_any(dal, V1).await.unwrap();
        assert_eq!(duplicate.id, original.id);
        let save = |key: &'static str| {
            let dal = dal.clone();
            let id = original.id;
            tokio::spawn(async move { dal.complete_prover_job(id, key, SECOND).await.unwrap() })
        };
        let (a, b) = tokio::join!(save("proofs/a"), save("proofs/b"));
        let outcomes = [a.unwrap(), b.unwrap()];
        let completed: Vec<_> = outcomes.iter().filter(|o| o.is_completed()).collect();
        assert_eq!(completed.len(), 1, "batch {number}: {outcomes:?}");
        let leaf = dal.batch_status(batch).await.unwrap().rounds[1].witness_jobs[0].clone();
        assert_eq!(
            completed[0],
            &CompleteOutcome::Completed {
                queued: vec![QueuedDependent::LeafWitness(leaf.job.leaf_id().unwrap())]
            }
        );
        assert!(outcomes.contains(&CompleteOutcome::NotInProgress {
            status: JobStatus::Successful
        }));
        let stored = dal.job(JobRef::Prover(original.id)).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Successful);
        assert_eq!(stored.attempts, 2);
    }
}
