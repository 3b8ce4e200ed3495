//! Guarded completion and failure, and queuing under concurrent completion.

use zkfleet_dal::{CompleteOutcome, DalError, JobRef, QueuedDependent, TransitionOutcome};
use zkfleet_types::{ids::ProverJobId, CircuitId, JobStatus};

use crate::fixtures::{batch_with_basic_jobs, insert_version, pick_any, SECOND};
use crate::harness::{TestDb, V1};

pub(crate) async fn completion_is_guarded_against_duplicates(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let batch = batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 2)]).await;
    let first = pick_any(dal, V1).await.unwrap();
    let second = pick_any(dal, V1).await.unwrap();
    let leaf = dal.batch_status(batch).await.unwrap().rounds[1].witness_jobs[0].job;
    assert_eq!(
        dal.complete_prover_job(first.id, "proofs/a", SECOND)
            .await
            .unwrap(),
        CompleteOutcome::Completed { queued: vec![] }
    );
    // The duplicate completion changes nothing, not even the proof key.
    assert_eq!(
        dal.complete_prover_job(first.id, "proofs/b", SECOND)
            .await
            .unwrap(),
        CompleteOutcome::NotInProgress {
            status: JobStatus::Successful
        }
    );
    let stored = dal.job(JobRef::Prover(first.id)).await.unwrap().unwrap();
    assert_eq!(stored.output_blob_key.as_deref(), Some("proofs/a"));
    assert_eq!(stored.time_taken, Some(SECOND));
    // The second dependency completes; the leaf is queued once, not twice.
    let done = dal
        .complete_prover_job(second.id, "proofs/c", SECOND)
        .await
        .unwrap();
    assert_eq!(
        done,
        CompleteOutcome::Completed {
            queued: vec![QueuedDependent::LeafWitness(leaf.leaf_id().unwrap())]
        }
    );
    assert_eq!(
        dal.complete_prover_job(second.id, "proofs/c", SECOND)
            .await
            .unwrap(),
        CompleteOutcome::NotInProgress {
            status: JobStatus::Successful
        }
    );
    let err = dal
        .complete_prover_job(ProverJobId(999_999), "proofs/x", SECOND)
        .await
        .unwrap_err();
    assert!(matches!(err, DalError::NotFound(_)), "{err:?}");
    let err = dal
        .complete_prover_job(first.id, "", SECOND)
        .await
        .unwrap_err();
    assert!(matches!(err, DalError::InvalidInput(_)), "{err:?}");
    // The same guard on witness jobs: the leaf is queued, not in progress.
    let output = zkfleet_dal::LeafWitnessOutput {
        prover_jobs: vec![zkfleet_dal::NewAggregationProverJob {
            sequence_number: 0,
            circuit_blob_key: "circuits/leaf".to_owned(),
        }],
        node_aggregations_blob_key: None,
    };
    assert_eq!(
        dal.complete_leaf_witness_job(leaf.leaf_id().unwrap(), &output, SECOND)
            .await
            .unwrap(),
        CompleteOutcome::NotInProgress {
            status: JobStatus::Queued
        }
    );
}

pub(crate) async fn failing_is_guarded(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 3)]).await;
    let a = pick_any(dal, V1).await.unwrap();
    let b = pick_any(dal, V1).await.unwrap();
    dal.complete_prover_job(a.id, "proofs/a", SECOND)
        .await
        .unwrap();
    // A successful job is never overwritten by a failure.
    assert_eq!(
        dal.fail_job(JobRef::Prover(a.id), "late failure")
            .await
            .unwrap(),
        TransitionOutcome::Unchanged {
            status: JobStatus::Successful
        }
    );
    assert_eq!(
        dal.fail_job(JobRef::Prover(b.id), "out of memory")
            .await
            .unwrap(),
        TransitionOutcome::Applied
    );
    let failed = dal.job(JobRef::Prover(b.id)).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("out of memory"));
    // A queued job is not failed either (its worker was too slow: it was requeued).
    let queued = dal.batch_status(a.meta.batch).await.unwrap().rounds[0]
        .prover_jobs
        .iter()
        .find(|j| j.status == JobStatus::Queued)
        .unwrap()
        .job;
    assert_eq!(
        dal.fail_job(queued, "stale worker").await.unwrap(),
        TransitionOutcome::Unchanged {
            status: JobStatus::Queued
        }
    );
    let err = dal
        .fail_job(JobRef::Prover(ProverJobId(424_242)), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, DalError::NotFound(_)), "{err:?}");
    // Failing a witness job keyed by batch.
    let batch = a.meta.batch;
    assert_eq!(
        dal.fail_job(JobRef::WitnessInput(batch), "x")
            .await
            .unwrap(),
        TransitionOutcome::Unchanged {
            status: JobStatus::Successful
        }
    );
}

pub(crate) async fn concurrent_completion_of_last_two_dependencies_queues_once(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    // Twenty batches, each with one leaf waiting for two basic proofs; the two are completed
    // at the same instant from two tasks (two connections, two transactions).
    for number in 1..=20 {
        let batch = batch_with_basic_jobs(dal, number, V1, &[(CircuitId(2), 2)]).await;
        let a = pick_any(dal, V1).await.unwrap();
        let b = pick_any(dal, V1).await.unwrap();
        assert_eq!((a.meta.batch, b.meta.batch), (batch, batch));
        let complete = |id| {
            let dal = dal.clone();
            tokio::spawn(async move {
                dal.complete_prover_job(id, &format!("proofs/{id}"), SECOND)
                    .await
                    .unwrap()
            })
        };
        let (ra, rb) = tokio::join!(complete(a.id), complete(b.id));
        let queued: Vec<QueuedDependent> = [ra.unwrap(), rb.unwrap()]
            .into_iter()
            .flat_map(|outcome| match outcome {
                CompleteOutcome::Completed { queued } => queued,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(queued.len(), 1, "batch {number}: {queued:?}");
        let leaf = &dal.batch_status(batch).await.unwrap().rounds[1].witness_jobs[0];
        assert_eq!(leaf.status, JobStatus::Queued);
        assert_eq!(
            queued[0],
            QueuedDependent::LeafWitness(leaf.job.leaf_id().unwrap())
        );
    }
}
