//! Batched picks and completions: several jobs of one circuit per pick statement, several
//! proofs per completing transaction, with every guarantee of the single-job paths.

use std::collections::BTreeSet;
use std::time::Duration;

use zkfleet_dal::{
    CompleteOutcome, HeavySet, JobRef, JobTable, ProofDone, ProverJob, ProverJobClass,
    QueuedDependent,
};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

use crate::fixtures::{batch_with_basic_jobs, insert_version, SECOND};
use crate::harness::{batch_id, TestDb, V1};

fn done(jobs: &[ProverJob]) -> Vec<ProofDone> {
    jobs.iter()
        .map(|job| ProofDone {
            id: job.id,
            proof_blob_key: format!("proofs/{}", job.id),
            time_taken: SECOND,
        })
        .collect()
}

/// 16 workers take up to 8 jobs per pick and complete each batch in one transaction, racing
/// over 2,000 jobs of three circuits: every job is picked exactly once, every batch is of one
/// circuit and in pick order, every leaf job is queued exactly once.
pub(crate) async fn batched_pickers_race_and_complete_each_job_once(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    let per_type = [
        (CircuitId(1), 1_000),
        (CircuitId(2), 600),
        (CircuitId(3), 400),
    ];
    batch_with_basic_jobs(dal, 1, V1, &per_type).await;
    let mut workers = Vec::new();
    for w in 0..16 {
        let dal = dal.clone();
        workers.push(tokio::spawn(async move {
            let name = format!("gpu-{w}");
            let mut picked = Vec::new();
            let mut queued = Vec::new();
            loop {
                let jobs = dal
                    .pick_prover_jobs(V1, ProverJobClass::Any, &HeavySet::default(), &name, 8)
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    break;
                }
                assert!(jobs.len() <= 8);
                let circuits: BTreeSet<_> = jobs.iter().map(|j| j.circuit_id).collect();
                assert_eq!(circuits.len(), 1, "a batch mixes circuits: {jobs:?}");
                assert!(
                    jobs.windows(2)
                        .all(|w| w[0].sequence_number < w[1].sequence_number),
                    "a batch out of pick order"
                );
                assert!(jobs.iter().all(|j| j.meta.attempts == 1));
                let outcomes = dal.complete_prover_jobs(&done(&jobs)).await.unwrap();
                assert_eq!(outcomes.len(), jobs.len());
                for (job, outcome) in jobs.iter().zip(outcomes) {
                    match outcome {
                        CompleteOutcome::Completed { queued: q } => queued.extend(q),
                        other => panic!("job {} picked once but {other:?}", job.id),
                    }
                }
                picked.extend(jobs.iter().map(|j| j.id));
            }
            (picked, queued)
        }));
    }
    let mut all = Vec::new();
    let mut queued = Vec::new();
    for worker in workers {
        let (picked, q) = worker.await.unwrap();
        all.extend(picked);
        queued.extend(q);
    }
    let unique: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 2_000, "jobs picked");
    assert_eq!(unique.len(), 2_000, "a job was picked twice");
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert!(queued
        .iter()
        .all(|q| matches!(q, QueuedDependent::LeafWitness(_))));
    let leaves: BTreeSet<_> = queued
        .iter()
        .map(|q| match q {
            QueuedDependent::LeafWitness(id) => id.0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(leaves.len(), 3, "a leaf job queued twice: {queued:?}");
}

/// A batch follows the single pick's rules: the class (light never takes heavy, heavy takes
/// heavy first), then priority and age; it stays within one (round, circuit, depth).
pub(crate) async fn batched_picks_keep_classes_and_priorities(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    // Batch 1 is younger than batch 2 (sealed 1 minute ago against 2), so batch 2 goes first.
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 3), (CircuitId(3), 2)]).await;
    batch_with_basic_jobs(dal, 2, V1, &[(CircuitId(1), 2), (CircuitId(2), 2)]).await;
    let heavy = HeavySet::new([(AggregationRound::Basic, CircuitId(3))]);
    let pick = |class, limit| {
        let heavy = heavy.clone();
        async move {
            dal.pick_prover_jobs(V1, class, &heavy, "gpu", limit)
                .await
                .unwrap()
                .iter()
                .map(|j| (j.meta.batch.batch_number.0, j.circuit_id.0))
                .collect::<Vec<_>>()
        }
    };
    // Heavy first: both heavy jobs of batch 1, nothing else although the limit allows it.
    assert_eq!(pick(ProverJobClass::Heavy, 10).await, [(1, 3), (1, 3)]);
    // Priority overtakes age: batch 1 now goes first.
    dal.set_batch_priority(batch_id(1), 5).await.unwrap();
    // Light: batch 1's circuit 1 (the limit cuts it), then the rest of circuit 1 in pick
    // order, batch 1 first, then batch 2's (one circuit may span batches).
    assert_eq!(pick(ProverJobClass::Light, 2).await, [(1, 1), (1, 1)]);
    assert_eq!(
        pick(ProverJobClass::Light, 10).await,
        [(1, 1), (2, 1), (2, 1)]
    );
    assert_eq!(pick(ProverJobClass::Any, 1).await, [(2, 2)]);
    assert_eq!(pick(ProverJobClass::Any, 0).await, []);
    assert_eq!(pick(ProverJobClass::Heavy, 10).await, [(2, 2)]);
    assert_eq!(pick(ProverJobClass::Any, 10).await, []);
}

/// A worker killed between its batched pick and its save: the requeuer hands every job of the
/// batch out again (attempts counted per job), a second worker proves them, and the first
/// worker's late batched completion changes nothing — the leaf job is queued once.
pub(crate) async fn worker_killed_between_batched_pick_and_save(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(dal, 1, V1, &[(CircuitId(1), 5)]).await;
    let lost = dal
        .pick_prover_jobs(V1, ProverJobClass::Any, &HeavySet::default(), "killed", 8)
        .await
        .unwrap();
    assert_eq!(lost.len(), 5);
    // The worker is gone; its jobs time out in progress.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let counts = dal
        .requeue_stuck_jobs(JobTable::ProverJobs, Duration::from_millis(10), 5)
        .await
        .unwrap();
    assert_eq!(counts.requeued, 5);
    let again = dal
        .pick_prover_jobs(V1, ProverJobClass::Any, &HeavySet::default(), "second", 3)
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|j| j.meta.attempts == 2));
    let rest = dal
        .pick_prover_jobs(V1, ProverJobClass::Any, &HeavySet::default(), "second", 3)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    // The second worker completes the first three, then the zombie wakes up and saves all
    // five: three are already successful, two are in progress under the second worker — the
    // guard cannot tell workers apart, so those two complete (one proof each, as with single
    // completions); no job completes twice.
    let first = dal.complete_prover_jobs(&done(&again)).await.unwrap();
    assert!(first.iter().all(CompleteOutcome::is_completed));
    let zombie = dal.complete_prover_jobs(&done(&lost)).await.unwrap();
    let completed = zombie.iter().filter(|o| o.is_completed()).count();
    assert_eq!(completed, 2, "{zombie:?}");
    for outcome in zombie.iter().filter(|o| !o.is_completed()) {
        assert_eq!(
            outcome,
            &CompleteOutcome::NotInProgress {
                status: JobStatus::Successful
            }
        );
    }
    // The leaf job was queued by exactly one completion: the zombie's, which finished the set.
    let queued: Vec<_> = zombie
        .iter()
        .flat_map(|o| match o {
            CompleteOutcome::Completed { queued } => queued.clone(),
            CompleteOutcome::NotInProgress { .. } => Vec::new(),
        })
        .collect();
    assert_eq!(queued.len(), 1, "{queued:?}");
    // The second worker's own late save of the last two finds them done.
    let late = dal.complete_prover_jobs(&done(&rest)).await.unwrap();
    assert!(late.iter().all(|o| !o.is_completed()));
    for job in lost {
        let stored = dal.job(JobRef::Prover(job.id)).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Successful);
    }
    // A batch naming a job that does not exist is an error, and records nothing.
    let mut bogus = done(&again);
    bogus[0].id = zkfleet_types::ids::ProverJobId(999_999);
    assert!(dal.complete_prover_jobs(&bogus).await.is_err());
}
