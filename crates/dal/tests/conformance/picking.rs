//! Picking: exactly once under concurrency, heavy/light classes, versions, priority.

use std::collections::{BTreeMap, BTreeSet};

use zkfleet_dal::{CompleteOutcome, HeavySet, ProverJobClass, QueuedDependent};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

use crate::fixtures::{batch_with_basic_jobs, insert_version, pick_any, SECOND};
use crate::harness::{batch_id, new_batch, sealed_minutes_ago, TestDb, V1, V2};

pub(crate) async fn sixteen_pickers_get_each_of_2000_jobs_exactly_once(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let per_type = [
        (CircuitId(1), 1_000),
        (CircuitId(2), 600),
        (CircuitId(3), 400),
    ];
    batch_with_basic_jobs(dal, 1, V1, &per_type).await;
    let mut pickers = Vec::new();
    for p in 0..16 {
        let dal = dal.clone();
        pickers.push(tokio::spawn(async move {
            let name = format!("picker-{p}");
            let mut picked = Vec::new();
            let mut queued = Vec::new();
            while let Some(job) = dal
                .pick_prover_job(V1, ProverJobClass::Any, &HeavySet::default(), &name)
                .await
                .unwrap()
            {
                picked.push(job.id);
                // Completing concurrently also races the leaf queuing of the last proofs.
                match dal
                    .complete_prover_job(job.id, &format!("proofs/{}", job.id), SECOND)
                    .await
                    .unwrap()
                {
                    CompleteOutcome::Completed { queued: q } => queued.extend(q),
                    other => panic!("job {} picked once but {other:?}", job.id),
                }
            }
            (picked, queued)
        }));
    }
    let mut all = Vec::new();
    let mut queued = Vec::new();
    for picker in pickers {
        let (picked, q) = picker.await.unwrap();
        all.extend(picked);
        queued.extend(q);
    }
    let unique: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 2_000, "jobs picked");
    assert_eq!(unique.len(), 2_000, "a job was picked twice");
    assert!(pick_any(dal, V1).await.is_none());
    // Each of the three leaf jobs was queued exactly once, by the completion of its last proof.
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert!(queued
        .iter()
        .all(|q| matches!(q, QueuedDependent::LeafWitness(_))));
    let status = dal.batch_status(batch_id(1)).await.unwrap();
    assert!(status.rounds[1]
        .witness_jobs
        .iter()
        .all(|j| j.status == JobStatus::Queued && j.attempts == 0));
    assert!(status.rounds[0]
        .prover_jobs
        .iter()
        .all(|j| j.status == JobStatus::Successful && j.attempts == 1));
}

pub(crate) async fn heavy_light_and_any_picking(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let per_type = [(CircuitId(1), 2), (CircuitId(2), 2), (CircuitId(3), 3)];
    batch_with_basic_jobs(dal, 1, V1, &per_type).await;
    let heavy = HeavySet::new([(AggregationRound::Basic, CircuitId(3))]);
    assert!(heavy.contains(AggregationRound::Basic, CircuitId(3)));
    let pick = |class| {
        let heavy = heavy.clone();
        async move {
            dal.pick_prover_job(V1, class, &heavy, "wvg")
                .await
                .unwrap()
                .map(|j| j.circuit_id)
        }
    };
    // Heavy takes heavy jobs first, although circuit 3 comes last in the plain order.
    assert_eq!(pick(ProverJobClass::Heavy).await, Some(CircuitId(3)));
    // Light never takes a heavy job.
    let mut light = Vec::new();
    while let Some(circuit) = pick(ProverJobClass::Light).await {
        light.push(circuit);
    }
    assert_eq!(
        light,
        [CircuitId(1), CircuitId(1), CircuitId(2), CircuitId(2)]
    );
    // Two heavy jobs remain; any takes them too.
    assert_eq!(pick(ProverJobClass::Any).await, Some(CircuitId(3)));
    assert_eq!(pick(ProverJobClass::Heavy).await, Some(CircuitId(3)));
    assert_eq!(pick(ProverJobClass::Heavy).await, None);
    // Heavy falls back to light jobs when no heavy one is queued.
    batch_with_basic_jobs(dal, 2, V1, &[(CircuitId(2), 1)]).await;
    assert_eq!(pick(ProverJobClass::Heavy).await, Some(CircuitId(2)));
    // With an empty heavy set, light takes everything.
    batch_with_basic_jobs(dal, 3, V1, &[(CircuitId(3), 1)]).await;
    let none = HeavySet::default();
    let job = dal
        .pick_prover_job(V1, ProverJobClass::Light, &none, "wvg")
        .await
        .unwrap();
    assert_eq!(job.map(|j| j.circuit_id), Some(CircuitId(3)));
}

pub(crate) async fn picks_filter_by_protocol_version(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    insert_version(dal, V2).await;
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 2)]).await;
    batch_with_basic_jobs(dal, 2, V2, &[(CircuitId(1), 3)]).await;
    dal.insert_batch(&new_batch(3, V2)).await.unwrap();
    // A worker of V1 never sees V2's basic job, and the other way round.
    assert!(dal
        .pick_basic_witness_job(V1, "bwg")
        .await
        .unwrap()
        .is_none());
    let unknown = zkfleet_types::ProtocolSemanticVersion::new(9, 9);
    assert!(pick_any(dal, unknown).await.is_none());
    let mut per_version = BTreeMap::new();
    for version in [V1, V2] {
        while let Some(job) = pick_any(dal, version).await {
            assert_eq!(job.meta.protocol_version, version);
            *per_version.entry(version).or_insert(0) += 1;
        }
    }
    assert_eq!(per_version, BTreeMap::from([(V1, 2), (V2, 3)]));
    let job = dal
        .pick_basic_witness_job(V2, "bwg")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.meta.batch, batch_id(3));
}

pub(crate) async fn priority_overtakes_batch_age(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    // Batch 1 is the oldest, batch 2 newer but urgent, batch 3 newest.
    let mut old = new_batch(1, V1);
    old.batch_sealed_at = sealed_minutes_ago(30);
    let mut urgent = new_batch(2, V1);
    urgent.batch_sealed_at = sealed_minutes_ago(20);
    urgent.priority = 5;
    let mut newest = new_batch(3, V1);
    newest.batch_sealed_at = sealed_minutes_ago(10);
    for b in [&newest, &old, &urgent] {
        dal.insert_batch(b).await.unwrap();
    }
    let mut order = Vec::new();
    while let Some(job) = dal.pick_basic_witness_job(V1, "bwg").await.unwrap() {
        order.push(job.meta.batch.batch_number.0);
        // Every round of the batch inherits its priority and age.
        dal.complete_basic_witness_job(
            job.meta.batch,
            &crate::fixtures::basic_output(job.meta.batch, &[(CircuitId(2), 1), (CircuitId(1), 1)]),
            SECOND,
        )
        .await
        .unwrap();
    }
    assert_eq!(order, [2, 1, 3]);
    let mut prover_order = Vec::new();
    while let Some(job) = pick_any(dal, V1).await {
        prover_order.push((job.meta.batch.batch_number.0, job.circuit_id.0));
    }
    assert_eq!(
        prover_order,
        [(2, 1), (2, 2), (1, 1), (1, 2), (3, 1), (3, 2)]
    );
    // An operator raises batch 3 above everything: its later jobs come first.
    batch_with_basic_jobs(dal, 4, V1, &[(CircuitId(1), 1)]).await;
    let changed = dal.set_batch_priority(batch_id(3), 10).await.unwrap();
    assert!(changed.total() > 0);
    dal.restart_job(zkfleet_dal::JobRef::Prover(
        dal.batch_status(batch_id(3)).await.unwrap().rounds[0].prover_jobs[0]
            .job
            .prover_id()
            .unwrap(),
    ))
    .await
    .unwrap();
    let first = pick_any(dal, V1).await.unwrap();
    assert_eq!(first.meta.batch, batch_id(3));
    assert_eq!(first.meta.priority, 10);
}
