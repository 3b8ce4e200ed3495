//! Leaf jobs whose basic proofs cannot be had fail with an error naming the blob, and are left
//! `failed`, never `in_progress`: a proof blob missing from the store, one truncated (the
//! store's envelope checksum refuses it), and a prover job row pointing at another job's proof.
//! No circuit is proven here: the failures happen before any proof is decoded. Runs on a SQLite
//! file and on a fresh PostgreSQL database.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use common::proving::{batch_with_every_type, config};
use common::{round_status, TestEnv, CHAIN, VERSION};
use zkfleet_dal::{HeavySet, ProverJob, ProverJobClass};
use zkfleet_store::{ObjectKey, ProofBytes};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

macro_rules! on_both_backends {
    ($scenario:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let env = TestEnv::sqlite().await;
            $scenario(&env).await;
            env.close().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let env = TestEnv::postgres().await;
            $scenario(&env).await;
            env.close().await;
        }
    };
}

on_both_backends!(leaf_jobs_with_unusable_proofs_fail: sqlite_leaf_jobs_with_unusable_proofs_fail, postgres_leaf_jobs_with_unusable_proofs_fail);

fn proof_key(job: &ProverJob) -> ObjectKey {
    ObjectKey::Proof {
        chain: CHAIN,
        job: job.id,
    }
}

async fn leaf_jobs_with_unusable_proofs_fail(env: &TestEnv) {
    let generated = batch_with_every_type(1);
    let id = env.submit(&generated).await;
    env.run_until(config(&[AggregationRound::Basic]), id, |status| {
        status
            .witness_input
            .as_ref()
            .is_some_and(|j| j.status == JobStatus::Successful)
    })
    .await;

    // Complete every basic prover job as a prover would, with one defect per type.
    let mut jobs = Vec::new();
    while let Some(job) = env
        .dal
        .pick_prover_job(VERSION, ProverJobClass::Any, &HeavySet::default(), "test")
        .await
        .expect("pick")
    {
        jobs.push(job);
    }
    jobs.sort_by_key(|j| (j.circuit_id, j.sequence_number));
    let find = |circuit: CircuitId, sequence: u32| {
        jobs.iter()
            .find(|j| j.circuit_id == circuit && j.sequence_number == sequence)
            .unwrap_or_else(|| panic!("basic job {sequence} of {circuit}"))
    };
    let missing = find(CircuitId::STATE_TRANSITION, 1);
    let truncated = find(CircuitId::SIGNATURE_VERIFICATION, 0);
    let misfiled = find(CircuitId::PRIORITY_OPERATIONS, 0);
    let foreign = find(CircuitId::STATE_TRANSITION, 0);
    for job in &jobs {
        let key = proof_key(job);
        if job.id != missing.id {
            // Never decoded: every leaf job fails before it would be.
            env.store
                .put(&key, &ProofBytes::new(vec![7u8; 300]))
                .await
                .expect("store a proof");
        }
        if job.id == truncated.id {
            let blob = env.store.get_raw(&key).await.expect("the blob");
            env.store
                .put_raw(&key, blob.slice(..blob.len() - 10))
                .await
                .expect("truncate the blob");
        }
        let recorded = if job.id == misfiled.id {
            proof_key(foreign).path()
        } else {
            key.path()
        };
        let outcome = env
            .dal
            .complete_prover_job(job.id, &recorded, std::time::Duration::from_millis(1))
            .await
            .expect("complete");
        assert!(outcome.is_completed());
    }

    // All five runners at once (`--all-rounds`): only the leaf round has work.
    let reports = env
        .run_round(config(&AggregationRound::ALL), id, AggregationRound::Leaf)
        .await;
    let rounds: Vec<AggregationRound> = reports.iter().map(|r| r.round).collect();
    assert_eq!(rounds, AggregationRound::ALL);
    assert!(
        reports.iter().all(|r| r.succeeded == 0 && r.panicked == 0),
        "{reports:?}"
    );
    // Each leaf job went from picker to saver carrying its load error (the runner's
    // convention): three failed jobs of the leaf runner, no pick error, none left in progress.
    let leaf_report = reports
        .iter()
        .find(|r| r.round == AggregationRound::Leaf)
        .expect("the leaf runner's report");
    assert_eq!(
        (
            leaf_report.picked,
            leaf_report.failed,
            leaf_report.pick_errors,
            leaf_report.save_errors
        ),
        (3, 3, 0, 0),
        "{leaf_report:?}"
    );
    assert!(leaf_report.left_in_progress.is_empty(), "{leaf_report:?}");

    let status = env.status(id).await;
    let leaf = round_status(&status, AggregationRound::Leaf);
    assert!(
        leaf.prover_jobs.is_empty(),
        "a failed leaf job inserts no prover job"
    );
    let expectations = [
        (
            CircuitId::STATE_TRANSITION,
            vec![
                format!(
                    "basic proof 1 of circuit 2 state_transition (prover job {})",
                    missing.id
                ),
                format!("object {} not found", proof_key(missing).path()),
            ],
        ),
        (
            CircuitId::SIGNATURE_VERIFICATION,
            vec![
                "basic proof 0 of circuit 1".to_owned(),
                format!("object {} is corrupt", proof_key(truncated).path()),
            ],
        ),
        (
            CircuitId::PRIORITY_OPERATIONS,
            vec![
                format!("{:?}", proof_key(foreign).path()),
                format!("is not {}", proof_key(misfiled).path()),
            ],
        ),
    ];
    assert_eq!(leaf.witness_jobs.len(), expectations.len());
    for (circuit, fragments) in expectations {
        let job = leaf
            .witness_jobs
            .iter()
            .find(|j| j.circuit_id == Some(circuit))
            .unwrap_or_else(|| panic!("the leaf job of {circuit}"));
        // A foreign, misfiled or missing proof fails the same way every time: terminal at once.
        assert_eq!(job.status, JobStatus::FailedPermanently, "{}", job.job);
        let error = job.error.clone().unwrap_or_default();
        for fragment in fragments {
            assert!(
                error.contains(&fragment),
                "{}: {error:?} should contain {fragment:?}",
                job.job
            );
        }
    }
}
