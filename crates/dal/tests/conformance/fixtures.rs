//! Shared steps of the test bodies.

use std::time::Duration;

use zkfleet_dal::{
    BasicWitnessOutput, CompleteOutcome, Dal, HeavySet, InsertOutcome, NewBasicProverJob,
    NewLeafWitnessJob, ProverJob, ProverJobClass,
};
use zkfleet_types::{CircuitId, L1BatchId, ProtocolSemanticVersion};

use crate::harness::{batch_id, new_batch, protocol_version};

pub(crate) const SECOND: Duration = Duration::from_secs(1);

pub(crate) async fn insert_version(dal: &Dal, version: ProtocolSemanticVersion) {
    dal.insert_protocol_version(&protocol_version(version, 0))
        .await
        .expect("insert protocol version");
}

/// The basic witness output of a batch with `count` instances of each listed type.
pub(crate) fn basic_output(batch: L1BatchId, per_type: &[(CircuitId, u32)]) -> BasicWitnessOutput {
    let mut prover_jobs = Vec::new();
    let mut leaf_jobs = Vec::new();
    for &(circuit_id, count) in per_type {
        for sequence_number in 0..count {
            prover_jobs.push(NewBasicProverJob {
                circuit_id,
                sequence_number,
                circuit_blob_key: format!(
                    "circuits/{}/basic_{}_{}",
                    batch.batch_number, circuit_id, sequence_number
                ),
            });
        }
        leaf_jobs.push(NewLeafWitnessJob {
            circuit_id,
            number_of_basic_circuits: count,
            closed_form_inputs_blob_key: format!(
                "closed_form/{}/{}",
                batch.batch_number, circuit_id
            ),
        });
    }
    BasicWitnessOutput {
        prover_jobs,
        leaf_jobs,
        scheduler_partial_input_blob_key: format!("scheduler_partial/{}", batch.batch_number),
    }
}

/// Inserts batch `number` (the only queued one), runs its basic witness generation with the
/// given basic circuits and returns its id.
pub(crate) async fn batch_with_basic_jobs(
    dal: &Dal,
    number: u32,
    version: ProtocolSemanticVersion,
    per_type: &[(CircuitId, u32)],
) -> L1BatchId {
    let batch = batch_id(number);
    assert_eq!(
        dal.insert_batch(&new_batch(number, version)).await.unwrap(),
        InsertOutcome::Inserted
    );
    let job = dal
        .pick_basic_witness_job(version, "bwg")
        .await
        .unwrap()
        .expect("a queued basic witness job");
    assert_eq!(job.meta.batch, batch);
    let outcome = dal
        .complete_basic_witness_job(batch, &basic_output(batch, per_type), SECOND)
        .await
        .unwrap();
    assert!(outcome.is_completed(), "{outcome:?}");
    batch
}

pub(crate) async fn pick_any(dal: &Dal, version: ProtocolSemanticVersion) -> Option<ProverJob> {
    dal.pick_prover_job(version, ProverJobClass::Any, &HeavySet::default(), "prover")
        .await
        .unwrap()
}

/// Picks and proves every queued prover job of the version; returns the completion outcomes.
pub(crate) async fn prove_all(
    dal: &Dal,
    version: ProtocolSemanticVersion,
) -> Vec<(ProverJob, CompleteOutcome)> {
    let mut done = Vec::new();
    while let Some(job) = pick_any(dal, version).await {
        let outcome = dal
            .complete_prover_job(job.id, &format!("proofs/{}", job.id), SECOND)
            .await
            .unwrap();
        done.push((job, outcome));
    }
    done
}

/// Aggregation outputs of `n` prover jobs at arity 2: ceil(n / 2) jobs.
pub(crate) fn aggregate(label: &str, n: usize) -> Vec<zkfleet_dal::NewAggregationProverJob> {
    (0..n.div_ceil(2))
        .map(|i| zkfleet_dal::NewAggregationProverJob {
            sequence_number: i as u32,
            circuit_blob_key: format!("circuits/{label}_{i}"),
        })
        .collect()
}

/// Runs every worker of the version until nothing is left to do: the whole proof tree of every
/// batch whose basic witness generation is done, down to the compressed proof.
pub(crate) async fn drive_to_completion(dal: &Dal, version: ProtocolSemanticVersion) {
    loop {
        let mut progress = !prove_all(dal, version).await.is_empty();
        if let Some(job) = dal.pick_leaf_witness_job(version, "lwg").await.unwrap() {
            let label = format!("leaf_{}", job.id);
            let output = zkfleet_dal::LeafWitnessOutput {
                prover_jobs: aggregate(&label, job.basic_proofs.len()),
                node_aggregations_blob_key: Some(format!("aggregations/{label}")),
            };
            let done = dal
                .complete_leaf_witness_job(job.id, &output, SECOND)
                .await
                .unwrap();
            assert!(done.is_completed());
            progress = true;
        }
        if let Some(job) = dal.pick_node_witness_job(version, "nwg").await.unwrap() {
            let label = format!("node_{}", job.id);
            let output = zkfleet_dal::NodeWitnessOutput {
                prover_jobs: aggregate(&label, job.proofs.len()),
                next_aggregations_blob_key: Some(format!("aggregations/{label}")),
            };
            let done = dal
                .complete_node_witness_job(job.id, &output, SECOND)
                .await
                .unwrap();
            assert!(done.is_completed());
            progress = true;
        }
        if let Some(job) = dal
            .pick_recursion_tip_witness_job(version, "rtwg")
            .await
            .unwrap()
        {
            let key = format!("circuits/tip_{}", job.meta.batch.batch_number);
            let done = dal
                .complete_recursion_tip_witness_job(job.meta.batch, &key, SECOND)
                .await
                .unwrap();
            assert!(done.is_completed());
            progress = true;
        }
        if let Some(job) = dal
            .pick_scheduler_witness_job(version, "swg")
            .await
            .unwrap()
        {
            let key = format!("circuits/scheduler_{}", job.meta.batch.batch_number);
            let done = dal
                .complete_scheduler_witness_job(job.meta.batch, &key, SECOND)
                .await
                .unwrap();
            assert!(done.is_completed());
            progress = true;
        }
        if let Some(job) = dal
            .pick_compression_job(version, "compressor")
            .await
            .unwrap()
        {
            let key = format!("final/{}", job.meta.batch.batch_number);
            let done = dal
                .complete_compression_job(job.meta.batch, &key, SECOND)
                .await
                .unwrap();
            assert!(done.is_completed());
            progress = true;
        }
        if !progress {
            return;
        }
    }
}
