//! Idempotent inserts, validation and chunked multi-row inserts.

use zkfleet_dal::{CompleteOutcome, DalError, InsertOutcome, JobRef, JobTable};
use zkfleet_types::{AggregationRound, CircuitId, HashDigest, JobStatus, VkDigest};

use crate::fixtures::{basic_output, batch_with_basic_jobs, insert_version, SECOND};
use crate::harness::{batch_id, new_batch, protocol_version, TestDb, V1, V2};

pub(crate) async fn protocol_versions_are_idempotent_and_conflicts_are_errors(db: &TestDb) {
    let dal = &db.dal;
    let v1 = protocol_version(V1, 7);
    assert_eq!(
        dal.insert_protocol_version(&v1).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        dal.insert_protocol_version(&v1).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
    let mut other = v1;
    other.final_vk_digest = VkDigest(HashDigest([9, 9, 9, 9]));
    let err = dal.insert_protocol_version(&other).await.unwrap_err();
    assert!(
        matches!(&err, DalError::ProtocolVersionConflict(c) if c.stored == v1 && c.given == other),
        "{err:?}"
    );
    assert!(err.to_string().contains("0.1.0"), "{err}");
    // The stored digests are unchanged.
    assert_eq!(dal.protocol_version(V1).await.unwrap(), Some(v1));
    assert_eq!(dal.protocol_version(V2).await.unwrap(), None);
    let v2 = protocol_version(V2, 8);
    dal.insert_protocol_version(&v2).await.unwrap();
    assert_eq!(dal.protocol_versions().await.unwrap(), vec![v1, v2]);
}

pub(crate) async fn batches_are_idempotent_and_need_a_known_version(db: &TestDb) {
    let dal = &db.dal;
    let err = dal.insert_batch(&new_batch(1, V1)).await.unwrap_err();
    assert!(
        matches!(err, DalError::UnknownProtocolVersion(v) if v == V1),
        "{err:?}"
    );
    insert_version(dal, V1).await;
    assert_eq!(
        dal.insert_batch(&new_batch(1, V1)).await.unwrap(),
        InsertOutcome::Inserted
    );
    // A second insert, even with other values, changes nothing.
    let mut again = new_batch(1, V1);
    again.witness_input_blob_key = "other".to_owned();
    again.priority = 9;
    assert_eq!(
        dal.insert_batch(&again).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
    let job = dal
        .job(JobRef::WitnessInput(batch_id(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.input_blob_key.as_deref(), Some("witness_inputs/1"));
    assert_eq!(job.priority, 0);
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempts, 0);
    let picked = dal
        .pick_basic_witness_job(V1, "bwg-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(picked.meta.batch, batch_id(1));
    assert_eq!(picked.meta.attempts, 1);
    assert_eq!(picked.witness_input_blob_key, "witness_inputs/1");
    assert!(dal
        .pick_basic_witness_job(V1, "bwg-2")
        .await
        .unwrap()
        .is_none());
    let job = dal
        .job(JobRef::WitnessInput(batch_id(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::InProgress);
    assert_eq!(job.picked_by.as_deref(), Some("bwg-1"));
    assert!(job.processing_started_at.is_some());
    // Re-inserting a batch in progress does not reset it.
    assert_eq!(
        dal.insert_batch(&new_batch(1, V1)).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
    let job = dal
        .job(JobRef::WitnessInput(batch_id(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::InProgress);
}

pub(crate) async fn basic_witness_output_is_validated(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let batch = batch_id(3);
    dal.insert_batch(&new_batch(3, V1)).await.unwrap();
    dal.pick_basic_witness_job(V1, "bwg")
        .await
        .unwrap()
        .unwrap();
    let mut output = basic_output(batch, &[(CircuitId(1), 3), (CircuitId(2), 2)]);
    output.leaf_jobs[0].number_of_basic_circuits = 4;
    let err = dal
        .complete_basic_witness_job(batch, &output, SECOND)
        .await
        .unwrap_err();
    assert!(matches!(err, DalError::InvalidInput(_)), "{err:?}");
    assert!(
        err.to_string().contains("expects 4 basic proofs but 3"),
        "{err}"
    );
    let mut output = basic_output(batch, &[(CircuitId(1), 3)]);
    output.leaf_jobs.clear();
    let err = dal
        .complete_basic_witness_job(batch, &output, SECOND)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no leaf job"), "{err}");
    // Nothing was written: the job is still in progress and has no prover jobs.
    let status = dal.batch_status(batch).await.unwrap();
    assert_eq!(status.witness_input.unwrap().status, JobStatus::InProgress);
    assert!(status.rounds.iter().all(|r| r.prover_jobs.is_empty()));
}

pub(crate) async fn chunked_insert_of_20_500_prover_jobs(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let per_type = [
        (CircuitId(1), 12_000),
        (CircuitId(2), 6_000),
        (CircuitId(3), 2_500),
    ];
    let batch = batch_with_basic_jobs(dal, 1, V1, &per_type).await;
    let counts = dal.status_counts().await.unwrap();
    let queued: u64 = counts
        .iter()
        .filter(|c| c.table == JobTable::ProverJobs && c.status == JobStatus::Queued)
        .map(|c| c.count)
        .sum();
    assert_eq!(queued, 20_500);
    for (circuit, n) in per_type {
        let cell = counts
            .iter()
            .find(|c| {
                c.table == JobTable::ProverJobs
                    && c.circuit_id == Some(circuit)
                    && c.aggregation_round == Some(AggregationRound::Basic)
            })
            .expect("a count per circuit");
        assert_eq!(cell.count, u64::from(n));
    }
    let status = dal.batch_status(batch).await.unwrap();
    let basic = &status.rounds[0];
    assert_eq!(basic.prover_jobs.len(), 20_500);
    // Sequence order within each circuit is preserved.
    let last = basic.prover_jobs.last().unwrap();
    assert_eq!(
        (last.circuit_id, last.sequence_number),
        (Some(CircuitId(3)), Some(2_499))
    );
    assert_eq!(status.rounds[1].witness_jobs.len(), 3);
    assert_eq!(status.rounds[2].witness_jobs.len(), 3);
    assert_eq!(status.rounds[3].witness_jobs.len(), 1);
    assert_eq!(status.rounds[4].witness_jobs.len(), 1);
    // Completing the basic job again (a duplicated worker) inserts nothing more.
    let again = dal
        .complete_basic_witness_job(batch, &basic_output(batch, &per_type), SECOND)
        .await
        .unwrap();
    assert_eq!(
        again,
        CompleteOutcome::NotInProgress {
            status: JobStatus::Successful
        }
    );
    let status = dal.batch_status(batch).await.unwrap();
    assert_eq!(status.rounds[0].prover_jobs.len(), 20_500);
}
