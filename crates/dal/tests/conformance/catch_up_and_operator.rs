//! The monitor's catch-up, operator restarts and deletes, and the reports.

use zkfleet_dal::{
    CatchUpCounts, DalError, JobRef, JobTable, LeafWitnessOutput, TransitionOutcome,
};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

use crate::fixtures::{
    aggregate, basic_output, batch_with_basic_jobs, drive_to_completion, insert_version, pick_any,
    prove_all, SECOND,
};
use crate::harness::{batch_id, new_batch, TestDb, V1, V2};

pub(crate) async fn catch_up_queues_what_completions_missed(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let batch = batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 2)]).await;
    assert_eq!(
        dal.queue_ready_dependents().await.unwrap(),
        CatchUpCounts::default()
    );
    prove_all(dal, V1).await;
    // Fabricate a missed queuing: the leaf's proofs are done but it is still waiting.
    db.execute_raw("UPDATE leaf_witness_jobs SET status = 'waiting_for_proofs'")
        .await;
    let counts = dal.queue_ready_dependents().await.unwrap();
    assert_eq!(
        counts,
        CatchUpCounts {
            leaf_witness_jobs: 1,
            ..Default::default()
        }
    );
    assert_eq!(dal.queue_ready_dependents().await.unwrap().total(), 0);
    let leaf = dal.pick_leaf_witness_job(V1, "lwg").await.unwrap().unwrap();
    let output = LeafWitnessOutput {
        prover_jobs: aggregate("leaf", 2),
        node_aggregations_blob_key: None,
    };
    dal.complete_leaf_witness_job(leaf.id, &output, SECOND)
        .await
        .unwrap();
    prove_all(dal, V1).await;
    db.execute_raw("UPDATE node_witness_jobs SET status = 'waiting_for_proofs'")
        .await;
    let counts = dal.queue_ready_dependents().await.unwrap();
    assert_eq!(
        counts,
        CatchUpCounts {
            node_witness_jobs: 1,
            ..Default::default()
        }
    );
    drive_to_completion(dal, V1).await;
    // The tip and scheduler, their proofs done, put back to waiting; the compression job lost.
    db.execute_raw("UPDATE recursion_tip_witness_jobs SET status = 'waiting_for_proofs'")
        .await;
    db.execute_raw("UPDATE scheduler_witness_jobs SET status = 'waiting_for_proofs'")
        .await;
    db.execute_raw("DELETE FROM proof_compression_jobs").await;
    let counts = dal.queue_ready_dependents().await.unwrap();
    assert_eq!(
        counts,
        CatchUpCounts {
            recursion_tip_witness_jobs: 1,
            scheduler_witness_jobs: 1,
            compression_jobs: 1,
            ..Default::default()
        }
    );
    let compression = dal.job(JobRef::Compression(batch)).await.unwrap().unwrap();
    assert_eq!(compression.status, JobStatus::Queued);
    assert!(compression.input_blob_key.unwrap().starts_with("proofs/"));
    // A node job whose count is not known yet (NULL) is never queued by the catch-up.
    let other = batch_with_basic_jobs(dal, 2, V1, &[(CircuitId(3), 1)]).await;
    prove_all(dal, V1).await;
    db.execute_raw("UPDATE leaf_witness_jobs SET status = 'successful' WHERE batch_number = 2")
        .await;
    assert_eq!(dal.queue_ready_dependents().await.unwrap().total(), 0);
    let node = &dal.batch_status(other).await.unwrap().rounds[2].witness_jobs[0];
    assert_eq!(node.status, JobStatus::WaitingForProofs);
}

pub(crate) async fn restart_and_delete_batch(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let per_type = [(CircuitId(1), 2), (CircuitId(2), 1)];
    let batch = batch_with_basic_jobs(dal, 1, V1, &per_type).await;
    prove_all(dal, V1).await;
    let leaf = dal.batch_status(batch).await.unwrap().rounds[1].witness_jobs[0].job;
    // Restarting one job: a prover job goes back to the queue with fresh attempts.
    let proof = dal.batch_status(batch).await.unwrap().rounds[0].prover_jobs[0].job;
    assert_eq!(
        dal.restart_job(proof).await.unwrap(),
        TransitionOutcome::Applied
    );
    let restarted = pick_any(dal, V1).await.unwrap();
    assert_eq!(
        (JobRef::Prover(restarted.id), restarted.meta.attempts),
        (proof, 1)
    );
    // A node job waiting for proofs is not restarted.
    let node = dal.batch_status(batch).await.unwrap().rounds[2].witness_jobs[0].job;
    assert_eq!(
        dal.restart_job(node).await.unwrap(),
        TransitionOutcome::Unchanged {
            status: JobStatus::WaitingForProofs
        }
    );
    assert!(matches!(
        dal.restart_job(JobRef::WitnessInput(batch_id(77)))
            .await
            .unwrap_err(),
        DalError::NotFound(_)
    ));
    // Restarting the batch deletes everything downstream and queues its witness input.
    let deleted = dal.restart_batch(batch).await.unwrap();
    assert_eq!(deleted.get(JobTable::ProverJobs), 3);
    assert_eq!(deleted.get(JobTable::LeafWitnessJobs), 2);
    assert_eq!(deleted.get(JobTable::NodeWitnessJobs), 2);
    assert_eq!(deleted.get(JobTable::RecursionTipWitnessJobs), 1);
    assert_eq!(deleted.get(JobTable::SchedulerWitnessJobs), 1);
    assert!(dal.job(leaf).await.unwrap().is_none());
    let status = dal.batch_status(batch).await.unwrap();
    let input = status.witness_input.as_ref().unwrap();
    assert_eq!((input.status, input.attempts), (JobStatus::Queued, 0));
    assert!(status
        .rounds
        .iter()
        .all(|r| r.prover_jobs.is_empty() && r.witness_jobs.is_empty()));
    // It runs again from scratch.
    let job = dal
        .pick_basic_witness_job(V1, "bwg")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.meta.attempts, 1);
    let done = dal
        .complete_basic_witness_job(batch, &basic_output(batch, &per_type), SECOND)
        .await
        .unwrap();
    assert!(done.is_completed());
    assert_eq!(prove_all(dal, V1).await.len(), 3);
    // Deleting removes every row.
    let deleted = dal.delete_batch(batch).await.unwrap();
    assert_eq!(deleted.get(JobTable::WitnessInputs), 1);
    assert!(!dal.batch_status(batch).await.unwrap().exists());
    assert!(matches!(
        dal.restart_batch(batch).await.unwrap_err(),
        DalError::NotFound(_)
    ));
    assert_eq!(dal.delete_batch(batch).await.unwrap().total(), 0);
}

pub(crate) async fn reports_count_queues_and_lag(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    insert_version(dal, V2).await;
    let first = batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 3), (CircuitId(2), 1)]).await;
    dal.insert_batch(&new_batch(2, V2)).await.unwrap();
    let picked = pick_any(dal, V1).await.unwrap();
    assert_eq!(picked.circuit_id, CircuitId(1));

    let report = dal.queue_report().await.unwrap();
    assert_eq!(report.len(), 2);
    assert_eq!(report[0].version, V1);
    assert_eq!(report[0].report.prover_jobs.queued, 3);
    assert_eq!(report[0].report.prover_jobs.in_progress, 1);
    assert_eq!(report[0].report.basic_witness_jobs.queued, 0);
    assert_eq!(report[1].version, V2);
    assert_eq!(report[1].report.basic_witness_jobs.queued, 1);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains(r#""version":"0.1.0""#), "{json}");
    assert!(
        json.contains(r#""proof_compressor_jobs":{"queued":0,"in_progress":0}"#),
        "{json}"
    );

    let counts = dal.status_counts().await.unwrap();
    let leaf_waiting: u64 = counts
        .iter()
        .filter(|c| c.table == JobTable::LeafWitnessJobs && c.status == JobStatus::WaitingForProofs)
        .map(|c| c.count)
        .sum();
    assert_eq!(leaf_waiting, 2);
    assert!(counts.iter().any(|c| c.table == JobTable::ProverJobs
        && c.aggregation_round == Some(AggregationRound::Basic)
        && c.circuit_id == Some(CircuitId(1))
        && c.status == JobStatus::InProgress
        && c.count == 1));

    let lag = dal.oldest_unproven_batches().await.unwrap();
    let cells: Vec<_> = lag
        .iter()
        .map(|l| (l.aggregation_round, l.circuit_id, l.batch))
        .collect();
    assert_eq!(
        cells,
        [
            (AggregationRound::Basic, CircuitId(1), first),
            (AggregationRound::Basic, CircuitId(2), first)
        ]
    );
    // Batch 2 was sealed before batch 1 (see `new_batch`): it is the oldest uncompressed.
    assert_eq!(
        dal.oldest_uncompressed_batch().await.unwrap(),
        Some(batch_id(2))
    );
    assert_eq!(
        dal.count_jobs_at_max_attempts(JobTable::ProverJobs, 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        dal.count_jobs_at_max_attempts(JobTable::ProverJobs, 2)
            .await
            .unwrap(),
        0
    );

    let status = dal.batch_status(first).await.unwrap();
    assert!(status.exists());
    assert_eq!(
        status.rounds[0].prover_jobs_by_status(),
        [(JobStatus::Queued, 3), (JobStatus::InProgress, 1)]
    );
    let in_progress = status.rounds[0]
        .prover_jobs
        .iter()
        .find(|j| j.status == JobStatus::InProgress)
        .unwrap();
    assert_eq!(in_progress.picked_by.as_deref(), Some("prover"));
    assert_eq!(
        in_progress.input_blob_key.as_deref(),
        Some("circuits/1/basic_1_0")
    );
}
