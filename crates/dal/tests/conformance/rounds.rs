//! Picks restricted to rounds: a circuit prover configured with `rounds` (issue 19: the fleet
//! leaves round 0 to outside provers) takes only jobs of those rounds, whatever is older or of
//! higher priority in the others.

use zkfleet_dal::{HeavySet, LeafWitnessOutput, ProverJobClass};
use zkfleet_types::{AggregationRound, CircuitId};

use crate::fixtures::{aggregate, batch_with_basic_jobs, insert_version, prove_all, SECOND};
use crate::harness::{TestDb, V1};

pub(crate) async fn picks_keep_to_the_configured_rounds(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    // Batch 1 reaches round 1: its basic proofs done, its leaf witness job done with two
    // leaf prover jobs queued. Batch 2 (younger) has four basic jobs queued.
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 4)]).await;
    assert_eq!(prove_all(dal, V1).await.len(), 4);
    let leaf = dal
        .pick_leaf_witness_job(V1, "lwg")
        .await
        .unwrap()
        .expect("the leaf witness job is queued");
    let output = LeafWitnessOutput {
        prover_jobs: aggregate("leaf", leaf.basic_proofs.len()),
        node_aggregations_blob_key: Some("aggregations/leaf".into()),
    };
    assert!(dal
        .complete_leaf_witness_job(leaf.id, &output, SECOND)
        .await
        .unwrap()
        .is_completed());
    batch_with_basic_jobs(dal, 2, V1, &[(CircuitId(1), 2), (CircuitId(2), 2)]).await;

    let heavy = HeavySet::new([(AggregationRound::Basic, CircuitId(2))]);
    let aggregation = [
        AggregationRound::Leaf,
        AggregationRound::Node,
        AggregationRound::RecursionTip,
        AggregationRound::Scheduler,
    ];
    // No round: nothing, although jobs of every class are queued.
    for class in [
        ProverJobClass::Any,
        ProverJobClass::Light,
        ProverJobClass::Heavy,
    ] {
        assert!(dal
            .pick_prover_job_in_rounds(V1, class, &heavy, &[], "none")
            .await
            .unwrap()
            .is_none());
        assert!(dal
            .pick_prover_jobs_in_rounds(V1, class, &heavy, &[], "none", 8)
            .await
            .unwrap()
            .is_empty());
    }
    // Rounds 1-4, every class: the two leaf jobs of batch 1, then nothing (the heavy class
    // does not fall back to a basic job either).
    let heavy_pick = dal
        .pick_prover_job_in_rounds(V1, ProverJobClass::Heavy, &heavy, &aggregation, "fleet")
        .await
        .unwrap()
        .expect("a leaf job through the heavy class's fallback");
    assert_eq!(heavy_pick.aggregation_round, AggregationRound::Leaf);
    let batch = dal
        .pick_prover_jobs_in_rounds(V1, ProverJobClass::Light, &heavy, &aggregation, "fleet", 8)
        .await
        .unwrap();
    assert_eq!(batch.len(), 1, "{batch:?}");
    assert_eq!(batch[0].aggregation_round, AggregationRound::Leaf);
    for class in [
        ProverJobClass::Any,
        ProverJobClass::Light,
        ProverJobClass::Heavy,
    ] {
        assert!(dal
            .pick_prover_job_in_rounds(V1, class, &heavy, &aggregation, "fleet")
            .await
            .unwrap()
            .is_none());
    }
    // Round 0 only: the heavy job first for the heavy class, then the light ones in a batch.
    let first = dal
        .pick_prover_job_in_rounds(
            V1,
            ProverJobClass::Heavy,
            &heavy,
            &[AggregationRound::Basic],
            "basic",
        )
        .await
        .unwrap()
        .expect("a basic job");
    assert_eq!(
        (first.aggregation_round, first.circuit_id),
        (AggregationRound::Basic, CircuitId(2))
    );
    let light = dal
        .pick_prover_jobs_in_rounds(
            V1,
            ProverJobClass::Light,
            &heavy,
            &[AggregationRound::Basic, AggregationRound::Basic],
            "basic",
            8,
        )
        .await
        .unwrap();
    assert_eq!(light.len(), 2, "{light:?}");
    assert!(light
        .iter()
        .all(|j| (j.aggregation_round, j.circuit_id) == (AggregationRound::Basic, CircuitId(1))));
    // Every round listed is the unrestricted pick: the last basic job.
    let every = dal
        .pick_prover_job_in_rounds(
            V1,
            ProverJobClass::Any,
            &heavy,
            &AggregationRound::ALL,
            "all",
        )
        .await
        .unwrap()
        .expect("the last job");
    assert_eq!(
        (every.aggregation_round, every.circuit_id),
        (AggregationRound::Basic, CircuitId(2))
    );
    assert!(dal
        .pick_prover_job(V1, ProverJobClass::Any, &heavy, "all")
        .await
        .unwrap()
        .is_none());
}
