//! The circuit prover against a real job database (PostgreSQL and SQLite), a local object
//! store and real plonky2 circuits: every round-0 job of a small batch is proved, verified,
//! stored and completed; a corrupt circuit blob fails exactly its job; heavy and light
//! generators respect the heavy set.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use plonky2::field::types::PrimeField64 as _;
use zkfleet_circuits::basic::BasicCircuitKind;
use zkfleet_circuits::proving::proof_from_bytes;
use zkfleet_circuits::Keystore;
use zkfleet_dal::{Dal, JobRef, JobSummary};
use zkfleet_store::{ObjectKey, ProofBytes, Store};
use zkfleet_types::{AggregationRound, CircuitId, HashDigest, JobStatus};

use common::*;

/// Generous: the first test of a binary may build the circuits, and tests share two cores.
const TIMEOUT: Duration = Duration::from_secs(600);

/// `postgres_<name>` and `sqlite_<name>` for every body `<name>(&TestDb)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::with_db(super::Backend::Postgres, |db| async move {
                        super::$name(&db).await
                    })
                    .await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::with_db(super::Backend::Sqlite, |db| async move {
                        super::$name(&db).await
                    })
                    .await;
                }
            )*
        }
    };
}

on_both_backends!(
    proves_every_basic_job,
    corrupt_circuit_blob_fails_only_its_job,
    light_generators_never_take_heavy_jobs,
    heavy_generators_take_heavy_jobs_first,
    cancellation_saves_every_picked_job,
    batched_picks_and_concurrent_proofs_prove_every_job_once,
);

fn count_with(jobs: &[JobSummary], status: JobStatus) -> usize {
    jobs.iter().filter(|j| j.status == status).count()
}

/// Whether every basic prover job of the batch is in a final state (successful or failed).
async fn basic_round_settled(dal: &Dal, number: u32, expected: usize) -> bool {
    let jobs = basic_prover_jobs(dal, batch_id(number)).await;
    jobs.len() == expected
        && jobs.iter().all(|j| {
            matches!(
                j.status,
                JobStatus::Successful | JobStatus::Failed | JobStatus::FailedPermanently
            )
        })
}

/// Reads the job's proof back and verifies it with circuit data loaded independently of the
/// prover, checking that it proves this very instance (its closed-form public input).
async fn check_proof(store: &Store, job: &JobSummary) {
    let id = job.job.prover_id().expect("a prover job");
    let key = ObjectKey::Proof {
        chain: CHAIN,
        job: id,
    };
    assert_eq!(job.output_blob_key.as_deref(), Some(key.path().as_str()));
    let bytes: ProofBytes = store.get(&key).await.expect("the proof blob exists");
    let circuit_id = job.circuit_id.expect("a circuit id");
    let kind = BasicCircuitKind::from_circuit_id(circuit_id).expect("a basic circuit");
    let keystore = Keystore::open(config(1, 1, &[]).keys_dir).expect("keystore");
    let circuit = keystore
        .basic_circuit(kind, &GEOMETRY)
        .expect("circuit data")
        .circuit;
    let proof =
        proof_from_bytes(bytes.into_bytes().to_vec(), &circuit.data.common).expect("proof bytes");
    let public: Vec<u64> = proof
        .public_inputs
        .iter()
        .map(|x| x.to_canonical_u64())
        .collect();
    let sequence = job.sequence_number.expect("a sequence number");
    let expected = witnesses()
        .closed_forms_of(circuit_id)
        .expect("closed forms of the type")
        .instances[sequence as usize]
        .public_input_hash()
        .expect("closed form");
    assert_eq!(
        HashDigest([public[0], public[1], public[2], public[3]]),
        expected,
        "proof of job {id} is not the proof of {} instance {sequence}",
        circuit_id.name()
    );
    circuit.verify(proof).expect("the stored proof verifies");
}

async fn proves_every_basic_job(db: &TestDb) {
    let dal = &db.dal;
    let store = local_store();
    let jobs = insert_basic_round(dal, &store.store, 1).await;
    let config = config(1, 1, &[CircuitId::SIGNATURE_VERIFICATION]);
    let started = std::time::Instant::now();

    let summary = run_until(dal, &store.store, &config, TIMEOUT, || {
        basic_round_settled(dal, 1, jobs)
    })
    .await;
    // A figure for the record (`-- --nocapture`): wall time of the whole round, circuit data
    // loading included (cached after the first run).
    eprintln!("proved {jobs} basic jobs in {:.1?}", started.elapsed());

    let proved = basic_prover_jobs(dal, batch_id(1)).await;
    assert_eq!(
        count_with(&proved, JobStatus::Successful),
        jobs,
        "{proved:#?}"
    );
    assert_eq!(summary.proved(), jobs as u64, "{summary:?}");
    assert_eq!(summary.picked(), jobs as u64, "{summary:?}");
    assert_eq!(summary.failed(), 0, "{summary:?}");
    for job in &proved {
        // Picked once, completed once, by this process, with its time recorded.
        assert_eq!(job.attempts, 1, "{job:?}");
        assert_eq!(job.picked_by.as_deref(), Some("test-prover"));
        assert!(job.time_taken.is_some(), "{job:?}");
        assert_eq!(job.error, None);
        check_proof(&store.store, job).await;
    }
    // The last proof of each type queued its leaf witness job in the completing transaction.
    let status = dal.batch_status(batch_id(1)).await.expect("status");
    let leaves = &round(&status, AggregationRound::Leaf).witness_jobs;
    assert_eq!(leaves.len(), 3);
    assert!(
        leaves.iter().all(|j| j.status == JobStatus::Queued),
        "{leaves:#?}"
    );
}

async fn corrupt_circuit_blob_fails_only_its_job(db: &TestDb) {
    let dal = &db.dal;
    let store = local_store();
    let jobs = insert_basic_round(dal, &store.store, 2).await;
    let victim_key = ObjectKey::basic_circuit_witness(batch_id(2), CircuitId::STATE_TRANSITION, 1);
    let file = store.file_of(&victim_key);
    let length = std::fs::metadata(&file).expect("the victim's blob").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_len(length / 2))
        .expect("truncate the victim's blob");
    let config = config(1, 1, &[CircuitId::SIGNATURE_VERIFICATION]);

    let summary = run_until(dal, &store.store, &config, TIMEOUT, || {
        basic_round_settled(dal, 2, jobs)
    })
    .await;

    let settled = basic_prover_jobs(dal, batch_id(2)).await;
    let (failed, succeeded): (Vec<_>, Vec<_>) = settled
        .iter()
        .partition(|j| j.status == JobStatus::FailedPermanently);
    assert_eq!(failed.len(), 1, "{settled:#?}");
    assert_eq!(succeeded.len(), jobs - 1, "{settled:#?}");
    assert_eq!(summary.failed(), 1, "{summary:?}");
    let victim = failed[0];
    assert_eq!(victim.circuit_id, Some(CircuitId::STATE_TRANSITION));
    assert_eq!(victim.sequence_number, Some(1));
    let id = victim.job.prover_id().expect("prover job");
    let error = victim.error.as_deref().expect("an error text");
    for part in [
        format!("prover job {id} "),
        "batch 2 of chain 270".to_owned(),
        "round basic".to_owned(),
        "circuit 2 state_transition".to_owned(),
        "sequence 1".to_owned(),
        victim_key.path(),
        "truncated".to_owned(),
    ] {
        assert!(error.contains(&part), "error {error:?} lacks {part:?}");
    }
    for job in succeeded {
        check_proof(&store.store, job).await;
    }
    // The state-transition leaf still waits for its failed proof; the others are queued.
    let status = dal.batch_status(batch_id(2)).await.expect("status");
    for leaf in &round(&status, AggregationRound::Leaf).witness_jobs {
        let expected = if leaf.circuit_id == Some(CircuitId::STATE_TRANSITION) {
            JobStatus::WaitingForProofs
        } else {
            JobStatus::Queued
        };
        assert_eq!(leaf.status, expected, "{leaf:?}");
    }
    assert_eq!(
        dal.job(JobRef::Prover(id))
            .await
            .expect("job")
            .map(|j| j.status),
        // A truncated blob is truncated on every attempt: terminal at once (issue 15).
        Some(JobStatus::FailedPermanently)
    );
}

async fn light_generators_never_take_heavy_jobs(db: &TestDb) {
    let dal = &db.dal;
    let store = local_store();
    let jobs = insert_basic_round(dal, &store.store, 3).await;
    let heavy = CircuitId::SIGNATURE_VERIFICATION;
    let light_jobs = witnesses()
        .instances
        .iter()
        .filter(|i| i.circuit != heavy)
        .count();
    assert!(light_jobs < jobs);
    let config = config(0, 2, &[heavy]);

    let summary = run_until(dal, &store.store, &config, TIMEOUT, || async {
        let current = basic_prover_jobs(dal, batch_id(3)).await;
        current
            .iter()
            .filter(|j| j.circuit_id != Some(heavy))
            .all(|j| j.status == JobStatus::Successful)
    })
    .await;

    assert!(summary.heavy.is_none());
    assert_eq!(summary.picked(), light_jobs as u64, "{summary:?}");
    for job in basic_prover_jobs(dal, batch_id(3)).await {
        if job.circuit_id == Some(heavy) {
            assert_eq!(job.status, JobStatus::Queued, "{job:?}");
            assert_eq!(job.attempts, 0, "{job:?}");
        } else {
            assert_eq!(job.status, JobStatus::Successful, "{job:?}");
        }
    }
}

async fn heavy_generators_take_heavy_jobs_first(db: &TestDb) {
    let dal = &db.dal;
    let store = local_store();
    let jobs = insert_basic_round(dal, &store.store, 4).await;
    // Priority operations come last in the plain pick order: heavy-first must reverse that.
    let heavy = CircuitId::PRIORITY_OPERATIONS;
    let config = config(1, 0, &[heavy]);

    let summary = run_until(dal, &store.store, &config, TIMEOUT, || {
        basic_round_settled(dal, 4, jobs)
    })
    .await;

    assert!(summary.light.is_none());
    assert_eq!(summary.proved(), jobs as u64, "{summary:?}");
    let done = basic_prover_jobs(dal, batch_id(4)).await;
    assert_eq!(count_with(&done, JobStatus::Successful), jobs);
    let started = |want_heavy: bool| {
        done.iter()
            .filter(|j| (j.circuit_id == Some(heavy)) == want_heavy)
            .map(|j| j.processing_started_at.expect("picked"))
            .collect::<Vec<_>>()
    };
    let last_heavy = started(true).into_iter().max().expect("heavy jobs");
    let first_light = started(false).into_iter().min().expect("light jobs");
    assert!(
        last_heavy < first_light,
        "a light job was picked at {first_light} before the last heavy one at {last_heavy}"
    );
}

async fn cancellation_saves_every_picked_job(db: &TestDb) {
    let dal = &db.dal;
    let store = local_store();
    let jobs = insert_basic_round(dal, &store.store, 5).await;
    let config = config(1, 1, &[CircuitId::SIGNATURE_VERIFICATION]);

    // Cancel as soon as the first job is picked: the prover must finish what it holds.
    let summary = run_until(dal, &store.store, &config, TIMEOUT, || async {
        basic_prover_jobs(dal, batch_id(5))
            .await
            .iter()
            .any(|j| j.status != JobStatus::Queued)
    })
    .await;

    let after = basic_prover_jobs(dal, batch_id(5)).await;
    assert_eq!(after.len(), jobs);
    let successful = count_with(&after, JobStatus::Successful);
    assert_eq!(
        successful + count_with(&after, JobStatus::Queued),
        jobs,
        "a picked job was left unfinished: {after:#?}"
    );
    assert!(successful >= 1, "{after:#?}");
    assert_eq!(summary.picked(), successful as u64, "{summary:?}");
    assert_eq!(summary.proved(), successful as u64, "{summary:?}");
    assert!(summary.prover.left_in_progress.is_empty(), "{summary:?}");
}

/// Three idle generators take their first jobs in one pick statement (jobs of one circuit),
/// two proofs run at once, and proofs that finish together are completed in one transaction:
/// every job is still proved, verified and completed exactly once, each leaf job queued.
async fn batched_picks_and_concurrent_proofs_prove_every_job_once(db: &TestDb) {
    let dal = &db.dal;
    let store = local_store();
    let jobs = insert_basic_round(dal, &store.store, 6).await;
    let mut config = config(0, 3, &[]);
    config.concurrent_proofs = 2;
    config.max_batch = 4;

    let summary = run_until(dal, &store.store, &config, TIMEOUT, || {
        basic_round_settled(dal, 6, jobs)
    })
    .await;

    let proved = basic_prover_jobs(dal, batch_id(6)).await;
    assert_eq!(
        count_with(&proved, JobStatus::Successful),
        jobs,
        "{proved:#?}"
    );
    assert_eq!(summary.picked(), jobs as u64, "{summary:?}");
    assert_eq!(summary.proved(), jobs as u64, "{summary:?}");
    assert_eq!(summary.failed(), 0, "{summary:?}");
    for job in &proved {
        assert_eq!(job.attempts, 1, "picked once: {job:?}");
        check_proof(&store.store, job).await;
    }
    // The jobs a batched pick adds to its first share one pick time (one statement, one
    // bound `now`): some jobs were picked together.
    let mut started: Vec<_> = proved
        .iter()
        .filter_map(|j| j.processing_started_at)
        .collect();
    started.sort();
    let distinct = {
        let mut d = started.clone();
        d.dedup();
        d.len()
    };
    assert!(
        distinct < started.len(),
        "no two jobs were picked by one statement: {started:?}"
    );
    let status = dal.batch_status(batch_id(6)).await.expect("status");
    let leaves = &round(&status, AggregationRound::Leaf).witness_jobs;
    assert_eq!(leaves.len(), 3);
    assert!(
        leaves.iter().all(|j| j.status == JobStatus::Queued),
        "{leaves:#?}"
    );
}
