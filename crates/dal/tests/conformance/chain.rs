//! The dependency chain of a batch, round by round, and the archive of finished batches.

use std::time::Duration;

use zkfleet_dal::{
    ArchivePolicy, CompleteOutcome, JobRef, LeafWitnessOutput, NodeWitnessOutput, QueuedDependent,
    TransitionOutcome,
};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

use crate::fixtures::{
    aggregate, batch_with_basic_jobs, drive_to_completion, insert_version, prove_all, SECOND,
};
use crate::harness::{sealed_minutes_ago, TestDb, V1};

fn queued_of(done: &[(zkfleet_dal::ProverJob, CompleteOutcome)]) -> Vec<QueuedDependent> {
    done.iter()
        .flat_map(|(_, outcome)| match outcome {
            CompleteOutcome::Completed { queued } => queued.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

pub(crate) async fn dependency_chain_of_a_small_batch(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let (c1, c2) = (CircuitId(1), CircuitId(2));
    let batch = batch_with_basic_jobs(dal, 1, V1, &[(c1, 5), (c2, 1)]).await;
    // Nothing but basic proofs can be picked yet.
    assert!(dal
        .pick_leaf_witness_job(V1, "lwg")
        .await
        .unwrap()
        .is_none());
    assert!(dal
        .pick_node_witness_job(V1, "nwg")
        .await
        .unwrap()
        .is_none());
    assert!(dal
        .pick_recursion_tip_witness_job(V1, "rtwg")
        .await
        .unwrap()
        .is_none());
    assert!(dal
        .pick_scheduler_witness_job(V1, "swg")
        .await
        .unwrap()
        .is_none());

    // Round 0: the last basic proof of each type queues its leaf job.
    let done = prove_all(dal, V1).await;
    assert_eq!(done.len(), 6);
    let queued = queued_of(&done);
    assert_eq!(queued.len(), 2);
    assert!(queued
        .iter()
        .all(|q| matches!(q, QueuedDependent::LeafWitness(_))));

    // Round 1: the leaf of type 1 gets its five basic proofs in sequence order.
    let leaf = dal.pick_leaf_witness_job(V1, "lwg").await.unwrap().unwrap();
    assert_eq!((leaf.circuit_id, leaf.number_of_basic_circuits), (c1, 5));
    assert_eq!(leaf.closed_form_inputs_blob_key, "closed_form/1/1");
    let sequence: Vec<u32> = leaf
        .basic_proofs
        .iter()
        .map(|p| p.sequence_number)
        .collect();
    assert_eq!(sequence, [0, 1, 2, 3, 4]);
    assert!(leaf
        .basic_proofs
        .iter()
        .all(|p| p.proof_blob_key == format!("proofs/{}", p.prover_job_id)));
    let output = LeafWitnessOutput {
        prover_jobs: aggregate("leaf1", 5),
        node_aggregations_blob_key: Some("aggregations/1/1/0".to_owned()),
    };
    assert!(dal
        .complete_leaf_witness_job(leaf.id, &output, SECOND)
        .await
        .unwrap()
        .is_completed());
    let leaf = dal.pick_leaf_witness_job(V1, "lwg").await.unwrap().unwrap();
    assert_eq!((leaf.circuit_id, leaf.basic_proofs.len()), (c2, 1));
    let output = LeafWitnessOutput {
        prover_jobs: aggregate("leaf2", 1),
        node_aggregations_blob_key: Some("aggregations/1/2/0".to_owned()),
    };
    dal.complete_leaf_witness_job(leaf.id, &output, SECOND)
        .await
        .unwrap();
    assert!(dal
        .pick_node_witness_job(V1, "nwg")
        .await
        .unwrap()
        .is_none());
    let done = prove_all(dal, V1).await;
    assert_eq!(done.len(), 4);
    assert!(done
        .iter()
        .all(|(j, _)| j.aggregation_round == AggregationRound::Leaf));
    let queued = queued_of(&done);
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued
        .iter()
        .all(|q| matches!(q, QueuedDependent::NodeWitness(_))));

    // Round 2, depth 0: type 1 aggregates its three leaf proofs into two (not final), type 2
    // its single leaf proof into its final node proof.
    let node = dal.pick_node_witness_job(V1, "nwg").await.unwrap().unwrap();
    assert_eq!((node.circuit_id, node.depth, node.proofs.len()), (c1, 0, 3));
    assert_eq!(
        node.aggregations_blob_key.as_deref(),
        Some("aggregations/1/1/0")
    );
    let output = NodeWitnessOutput {
        prover_jobs: aggregate("node1_0", 3),
        next_aggregations_blob_key: Some("aggregations/1/1/1".to_owned()),
    };
    dal.complete_node_witness_job(node.id, &output, SECOND)
        .await
        .unwrap();
    let node = dal.pick_node_witness_job(V1, "nwg").await.unwrap().unwrap();
    assert_eq!((node.circuit_id, node.depth, node.proofs.len()), (c2, 0, 1));
    let output = NodeWitnessOutput {
        prover_jobs: aggregate("node2_0", 1),
        next_aggregations_blob_key: None,
    };
    dal.complete_node_witness_job(node.id, &output, SECOND)
        .await
        .unwrap();
    // Node depth 1 of type 1 waits for the two depth-0 proofs.
    assert!(dal
        .pick_node_witness_job(V1, "nwg")
        .await
        .unwrap()
        .is_none());
    let done = prove_all(dal, V1).await;
    assert_eq!(done.len(), 3);
    let finals: Vec<bool> = done.iter().map(|(j, _)| j.is_node_final_proof).collect();
    assert_eq!(finals, [false, false, true]);
    let queued = queued_of(&done);
    assert_eq!(
        queued.len(),
        1,
        "one final node proof of two: the tip still waits"
    );
    assert!(matches!(queued[0], QueuedDependent::NodeWitness(_)));

    // Round 2, depth 1: the final node proof of type 1.
    let node = dal.pick_node_witness_job(V1, "nwg").await.unwrap().unwrap();
    assert_eq!((node.circuit_id, node.depth, node.proofs.len()), (c1, 1, 2));
    assert!(node.proofs.iter().all(|p| p.depth == 0));
    assert_eq!(
        node.aggregations_blob_key.as_deref(),
        Some("aggregations/1/1/1")
    );
    let output = NodeWitnessOutput {
        prover_jobs: aggregate("node1_1", 2),
        next_aggregations_blob_key: None,
    };
    dal.complete_node_witness_job(node.id, &output, SECOND)
        .await
        .unwrap();
    let done = prove_all(dal, V1).await;
    assert_eq!(done.len(), 1);
    assert!(done[0].0.is_node_final_proof);
    assert_eq!(
        queued_of(&done),
        [QueuedDependent::RecursionTipWitness(batch)]
    );

    // Round 3: the tip gets one final node proof per type, in circuit order.
    let tip = dal
        .pick_recursion_tip_witness_job(V1, "rtwg")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tip.number_of_final_node_jobs, 2);
    let circuits: Vec<CircuitId> = tip.final_node_proofs.iter().map(|p| p.circuit_id).collect();
    assert_eq!(circuits, [c1, c2]);
    dal.complete_recursion_tip_witness_job(batch, "circuits/tip", SECOND)
        .await
        .unwrap();
    let done = prove_all(dal, V1).await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0.circuit_id, CircuitId::RECURSION_TIP);
    assert_eq!(queued_of(&done), [QueuedDependent::SchedulerWitness(batch)]);

    // Round 4: the scheduler; its proof inserts the compression job in the same transaction.
    let scheduler = dal
        .pick_scheduler_witness_job(V1, "swg")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        scheduler.scheduler_partial_input_blob_key,
        "scheduler_partial/1"
    );
    assert_eq!(scheduler.recursion_tip_proof.prover_job_id, done[0].0.id);
    dal.complete_scheduler_witness_job(batch, "circuits/scheduler", SECOND)
        .await
        .unwrap();
    let done = prove_all(dal, V1).await;
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].0.aggregation_round, done[0].0.circuit_id),
        (AggregationRound::Scheduler, CircuitId::SCHEDULER)
    );
    assert_eq!(queued_of(&done), [QueuedDependent::Compression(batch)]);

    // Compression, then delivery.
    let compression = dal
        .pick_compression_job(V1, "compressor")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        compression.scheduler_proof_blob_key,
        format!("proofs/{}", done[0].0.id)
    );
    assert!(dal
        .complete_compression_job(batch, "final/1", SECOND)
        .await
        .unwrap()
        .is_completed());
    let ready = dal
        .compression_jobs_with_status(JobStatus::Successful)
        .await
        .unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].output_blob_key.as_deref(), Some("final/1"));
    assert_eq!(
        dal.mark_compression_job_sent(batch).await.unwrap(),
        TransitionOutcome::Applied
    );
    assert_eq!(
        dal.mark_compression_job_sent(batch).await.unwrap(),
        TransitionOutcome::Unchanged {
            status: JobStatus::SentToServer
        }
    );

    // The whole batch is done.
    let status = dal.batch_status(batch).await.unwrap();
    let prover_counts: Vec<usize> = status.rounds.iter().map(|r| r.prover_jobs.len()).collect();
    assert_eq!(prover_counts, [6, 4, 4, 1, 1]);
    let witness_counts: Vec<usize> = status.rounds.iter().map(|r| r.witness_jobs.len()).collect();
    assert_eq!(witness_counts, [0, 2, 3, 1, 1]);
    assert!(status.rounds.iter().all(|r| {
        r.prover_jobs
            .iter()
            .chain(&r.witness_jobs)
            .all(|j| j.status == JobStatus::Successful)
    }));
    assert_eq!(status.witness_input.unwrap().status, JobStatus::Successful);
    assert_eq!(status.compression.unwrap().status, JobStatus::SentToServer);
    assert_eq!(dal.oldest_uncompressed_batch().await.unwrap(), None);
    let times = dal
        .batch_proving_times(sealed_minutes_ago(0) - chrono::Duration::days(365))
        .await
        .unwrap();
    assert_eq!(times.len(), 1);
    assert_eq!(times[0].batch, batch);
    assert!(times[0].finished_at >= times[0].inserted_at);
    for report in dal.queue_report().await.unwrap() {
        assert_eq!(
            report.report.prover_jobs.queued + report.report.prover_jobs.in_progress,
            0
        );
    }
}

pub(crate) async fn archive_moves_finished_batches_and_returns_blob_keys(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let first = batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 3), (CircuitId(3), 2)]).await;
    let second = batch_with_basic_jobs(dal, 2, V1, &[(CircuitId(2), 1)]).await;
    drive_to_completion(dal, V1).await;
    let unfinished = batch_with_basic_jobs(dal, 3, V1, &[(CircuitId(2), 1)]).await;
    let first_jobs: usize = dal
        .batch_status(first)
        .await
        .unwrap()
        .rounds
        .iter()
        .map(|r| r.prover_jobs.len())
        .sum();
    let sent_only = ArchivePolicy {
        archive_after: Duration::ZERO,
        include_unsent: false,
    };
    // Nothing is sent yet; and successful batches are too recent for a one-hour threshold.
    assert!(dal.archive_prover_jobs(sent_only).await.unwrap().is_empty());
    let recent = ArchivePolicy {
        archive_after: Duration::from_secs(3600),
        include_unsent: true,
    };
    assert!(dal.archive_prover_jobs(recent).await.unwrap().is_empty());
    dal.mark_compression_job_sent(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let moved = dal.archive_prover_jobs(sent_only).await.unwrap();
    assert_eq!(moved.len(), first_jobs);
    assert!(moved.iter().all(|j| j.batch == first));
    assert!(moved
        .iter()
        .all(|j| j.proof_blob_key.as_deref() == Some(&*format!("proofs/{}", j.id))));
    assert!(moved
        .iter()
        .all(|j| j.circuit_blob_key.starts_with("circuits/")));
    let status = dal.batch_status(first).await.unwrap();
    assert_eq!(status.archived_prover_jobs as usize, first_jobs);
    assert!(status.rounds.iter().all(|r| r.prover_jobs.is_empty()));
    assert!(dal
        .job(JobRef::Prover(moved[0].id))
        .await
        .unwrap()
        .is_none());
    // Idempotent; and `include_unsent` takes the successful second batch, never the third.
    assert!(dal.archive_prover_jobs(sent_only).await.unwrap().is_empty());
    let unsent = ArchivePolicy {
        archive_after: Duration::ZERO,
        include_unsent: true,
    };
    let moved = dal.archive_prover_jobs(unsent).await.unwrap();
    assert!(!moved.is_empty());
    assert!(moved.iter().all(|j| j.batch == second));
    assert_eq!(
        dal.batch_status(unfinished).await.unwrap().rounds[0]
            .prover_jobs
            .len(),
        1
    );
    // Archive rows are forgotten after their own threshold.
    assert_eq!(
        dal.delete_archived_prover_jobs(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let deleted = dal
        .delete_archived_prover_jobs(Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(deleted as usize, first_jobs + moved.len());
    assert_eq!(
        dal.batch_status(first).await.unwrap().archived_prover_jobs,
        0
    );
}
