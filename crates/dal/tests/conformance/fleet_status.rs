//! The job monitor's status page reads: batches in flight with their per-round counts, jobs in
//! progress, and jobs whose last attempt failed.

use std::time::Duration;

use zkfleet_dal::{JobRef, JobTable};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

use crate::fixtures::{batch_with_basic_jobs, drive_to_completion, insert_version, pick_any};
use crate::harness::{batch_id, new_batch, TestDb, V1};

pub(crate) async fn fleet_status_views(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    // Batch 1 is proven to the end: it is no longer in flight.
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 2)]).await;
    drive_to_completion(dal, V1).await;
    // Batch 3: basic witness done, three basic proofs to make. Batch 4: just inserted (and
    // sealed earlier than batch 3, so listed first).
    let b3 = batch_with_basic_jobs(dal, 3, V1, &[(CircuitId(1), 3)]).await;
    dal.insert_batch(&new_batch(4, V1)).await.unwrap();
    let b4 = batch_id(4);

    let in_flight: Vec<_> = dal
        .unfinished_batches(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.job, j.status))
        .collect();
    assert_eq!(
        in_flight,
        [
            (JobRef::WitnessInput(b4), JobStatus::Queued),
            (JobRef::WitnessInput(b3), JobStatus::Successful)
        ]
    );
    let first = dal.unfinished_batches(1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].batch, b4);

    // Work on batch 3: one proof done, one failed, one in progress; batch 4's witness picked.
    let done = pick_any(dal, V1).await.unwrap();
    dal.complete_prover_job(done.id, "proofs/done", Duration::from_secs(1))
        .await
        .unwrap();
    let failed = pick_any(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(failed.id), "out of memory while proving")
        .await
        .unwrap();
    let running = pick_any(dal, V1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    dal.pick_basic_witness_job(V1, "bwg-7")
        .await
        .unwrap()
        .unwrap();

    let counts = dal.unfinished_batch_job_counts().await.unwrap();
    assert!(
        counts.iter().all(|c| c.batch != batch_id(1)),
        "a finished batch is not in flight: {counts:?}"
    );
    let count = |batch, table, round, status| {
        counts
            .iter()
            .filter(|c| {
                c.batch == batch
                    && c.table == table
                    && c.aggregation_round == round
                    && c.status == status
            })
            .map(|c| c.count)
            .sum::<u64>()
    };
    let basic = Some(AggregationRound::Basic);
    assert_eq!(
        count(b3, JobTable::ProverJobs, basic, JobStatus::Successful),
        1
    );
    assert_eq!(count(b3, JobTable::ProverJobs, basic, JobStatus::Failed), 1);
    assert_eq!(
        count(b3, JobTable::ProverJobs, basic, JobStatus::InProgress),
        1
    );
    assert_eq!(
        count(b3, JobTable::WitnessInputs, basic, JobStatus::Successful),
        1
    );
    assert_eq!(
        count(
            b3,
            JobTable::LeafWitnessJobs,
            Some(AggregationRound::Leaf),
            JobStatus::WaitingForProofs
        ),
        1
    );
    assert_eq!(
        count(b4, JobTable::WitnessInputs, basic, JobStatus::InProgress),
        1
    );
    let b3_prover_jobs: u64 = counts
        .iter()
        .filter(|c| c.batch == b3 && c.table == JobTable::ProverJobs)
        .map(|c| c.count)
        .sum();
    assert_eq!(b3_prover_jobs, 3);

    // Who works on what, longest running first.
    let working: Vec<_> = dal
        .jobs_in_progress(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.job, j.picked_by))
        .collect();
    assert_eq!(
        working,
        [
            (JobRef::Prover(running.id), Some("prover".to_owned())),
            (JobRef::WitnessInput(b4), Some("bwg-7".to_owned())),
        ]
    );
    assert_eq!(dal.jobs_in_progress(1).await.unwrap().len(), 1);

    // The failure is listed, with its error, also once requeued; not once proven.
    let failures = dal.recent_failures(10).await.unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].job, JobRef::Prover(failed.id));
    assert_eq!(
        failures[0].error.as_deref(),
        Some("out of memory while proving")
    );
    assert_eq!(failures[0].attempts, 1);
    dal.requeue_stuck_jobs(JobTable::ProverJobs, Duration::from_secs(3600), 5)
        .await
        .unwrap();
    let failures = dal.recent_failures(10).await.unwrap();
    assert_eq!(
        (failures[0].job, failures[0].status),
        (JobRef::Prover(failed.id), JobStatus::Queued)
    );
    let again = pick_any(dal, V1).await.unwrap();
    assert_eq!(again.id, failed.id);
    dal.complete_prover_job(again.id, "proofs/again", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(dal.recent_failures(10).await.unwrap().is_empty());
}
