//! The circuit prover above round 0, against a real PostgreSQL job database, a local object
//! store and the real circuits of every round: round-0 proofs made by the prover feed leaf job
//! witnesses (built as the witness generator builds them), the leaf prover jobs are proved,
//! verified, stored and completed, and the last one queues the node witness job. The start-up
//! check refuses a protocol version whose final verifying-key digest is not that of the loaded
//! circuits, and a protocol version missing from the database.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use zkfleet_circuit_prover::ProverError;
use zkfleet_circuits::pipeline::leaf_job_witnesses;
use zkfleet_dal::{CompleteOutcome, Dal, LeafWitnessOutput, NewAggregationProverJob};
use zkfleet_runner::CancellationToken;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, ProofBytes, Store};
use zkfleet_types::{
    AggregationRound, CircuitId, HashDigest, JobStatus, ProtocolSemanticVersion, ProtocolVersion,
    VkDigest,
};

use common::*;

const TIMEOUT: Duration = Duration::from_secs(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_proves_leaf_jobs_and_queues_the_node_job() {
    with_db(Backend::Postgres, |db| async move {
        proves_leaf_jobs_and_queues_the_node_job(&db.dal).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_protocol_version_of_other_keys() {
    with_db(Backend::Postgres, |db| async move {
        refuses_a_protocol_version_of_other_keys(&db.dal).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_an_unknown_protocol_version() {
    with_db(Backend::Postgres, |db| async move {
        refuses_an_unknown_protocol_version(&db.dal).await
    })
    .await;
}

fn jobs_of(status: &zkfleet_dal::BatchStatus, r: AggregationRound) -> Vec<zkfleet_dal::JobSummary> {
    round(status, r).prover_jobs.clone()
}

async fn settled(dal: &Dal, number: u32, r: AggregationRound, expected: usize) -> bool {
    let status = dal.batch_status(batch_id(number)).await.expect("status");
    let jobs = jobs_of(&status, r);
    jobs.len() == expected
        && jobs.iter().all(|j| {
            matches!(
                j.status,
                JobStatus::Successful | JobStatus::Failed | JobStatus::FailedPermanently
            )
        })
}

/// The leaf witness generator's work for one picked leaf witness job: read the basic proofs in
/// sequence order, build the leaf job witnesses, store them, complete the witness job.
async fn generate_leaf_jobs(dal: &Dal, store: &Store) -> Vec<(CircuitId, usize, CompleteOutcome)> {
    let mut done = Vec::new();
    while let Some(job) = dal
        .pick_leaf_witness_job(VERSION, "test-leaf-witness-generator")
        .await
        .expect("pick a leaf witness job")
    {
        let batch = job.meta.batch;
        let mut proofs = Vec::with_capacity(job.basic_proofs.len());
        for (i, proof) in job.basic_proofs.iter().enumerate() {
            assert_eq!(
                proof.sequence_number as usize, i,
                "basic proofs in sequence order"
            );
            let key = ObjectKey::parse(&proof.proof_blob_key).expect("a proof key");
            let bytes: ProofBytes = store.get(&key).await.expect("the basic proof is stored");
            proofs.push(bytes.into_bytes().to_vec());
        }
        let closed_forms = witnesses()
            .closed_forms_of(job.circuit_id)
            .expect("closed forms of the type");
        let leaf_witnesses =
            leaf_job_witnesses(closed_forms, proofs, ARITY as usize).expect("leaf job witnesses");
        let mut prover_jobs = Vec::with_capacity(leaf_witnesses.len());
        for (sequence, witness) in leaf_witnesses.iter().enumerate() {
            let key = ObjectKey::CircuitWitness {
                chain: batch.chain_id,
                batch: batch.batch_number,
                round: AggregationRound::Leaf,
                circuit: job.circuit_id,
                depth: 0,
                sequence: sequence as u32,
            };
            let bytes = witness.to_bytes().expect("encode the leaf witness");
            let path = store
                .put(&key, &CircuitWitnessBytes::new(bytes))
                .await
                .expect("store the leaf witness");
            prover_jobs.push(NewAggregationProverJob {
                sequence_number: sequence as u32,
                circuit_blob_key: path,
            });
        }
        let count = prover_jobs.len();
        let outcome = dal
            .complete_leaf_witness_job(
                job.id,
                &LeafWitnessOutput {
                    prover_jobs,
                    node_aggregations_blob_key: Some(
                        ObjectKey::AggregationList {
                            chain: batch.chain_id,
                            batch: batch.batch_number,
                            circuit: job.circuit_id,
                            depth: 0,
                        }
                        .path(),
                    ),
                },
                Duration::from_secs(1),
            )
            .await
            .expect("complete the leaf witness job");
        done.push((job.circuit_id, count, outcome));
    }
    done
}

async fn proves_leaf_jobs_and_queues_the_node_job(dal: &Dal) {
    let store = local_store();
    let number = 6;
    let basic_jobs = insert_basic_round(dal, &store.store, number).await;
    let config = config(1, 1, &[CircuitId::SIGNATURE_VERIFICATION]);

    // Round 0 through the prover.
    let summary = run_until(dal, &store.store, &config, TIMEOUT, || {
        settled(dal, number, AggregationRound::Basic, basic_jobs)
    })
    .await;
    assert_eq!(summary.proved(), basic_jobs as u64, "{summary:?}");

    // Leaf witness generation by hand, from the stored basic proofs.
    let generated = generate_leaf_jobs(dal, &store.store).await;
    assert_eq!(
        generated.len(),
        CircuitId::BASIC_TYPES.len(),
        "{generated:?}"
    );
    let leaf_jobs: usize = generated.iter().map(|(_, n, _)| n).sum();
    for (circuit, count, outcome) in &generated {
        let instances = witnesses()
            .instances
            .iter()
            .filter(|i| i.circuit == *circuit)
            .count();
        assert_eq!(*count, instances.div_ceil(ARITY as usize), "{circuit}");
        assert!(outcome.is_completed(), "{outcome:?}");
    }

    // Round 1 through the prover.
    let started = std::time::Instant::now();
    let summary = run_until(dal, &store.store, &config, TIMEOUT, || {
        settled(dal, number, AggregationRound::Leaf, leaf_jobs)
    })
    .await;
    eprintln!("proved {leaf_jobs} leaf jobs in {:.1?}", started.elapsed());
    assert_eq!(summary.proved(), leaf_jobs as u64, "{summary:?}");
    assert_eq!(summary.failed(), 0, "{summary:?}");

    let status = dal.batch_status(batch_id(number)).await.expect("status");
    let registry = registry_async().await;
    let circuits = registry.batch_circuits();
    for job in jobs_of(&status, AggregationRound::Leaf) {
        assert_eq!(job.status, JobStatus::Successful, "{job:?}");
        assert_eq!(job.error, None);
        let id = job.job.prover_id().expect("a prover job");
        let key = ObjectKey::Proof {
            chain: CHAIN,
            job: id,
        };
        assert_eq!(job.output_blob_key.as_deref(), Some(key.path().as_str()));
        let bytes: ProofBytes = store
            .store
            .get(&key)
            .await
            .expect("the leaf proof is stored");
        let circuit = job.circuit_id.expect("a circuit id");
        let data = circuits
            .circuit_data(AggregationRound::Leaf, circuit)
            .expect("the leaf circuit of the type");
        let proof =
            zkfleet_circuits::proving::proof_from_bytes(bytes.into_bytes().to_vec(), &data.common)
                .expect("a leaf proof of its circuit");
        data.verify(proof).expect("the stored leaf proof verifies");
    }
    // The last leaf proof of each type queued its node witness job (depth 0).
    let nodes = &round(&status, AggregationRound::Node).witness_jobs;
    assert_eq!(nodes.len(), CircuitId::BASIC_TYPES.len(), "{nodes:#?}");
    for node in nodes {
        assert_eq!(node.depth, Some(0), "{node:?}");
        assert_eq!(node.status, JobStatus::Queued, "{node:?}");
    }
    let picked = dal
        .pick_node_witness_job(VERSION, "test-node-witness-generator")
        .await
        .expect("pick")
        .expect("a node witness job is queued");
    assert!(!picked.proofs.is_empty());
    assert!(picked
        .proofs
        .iter()
        .all(|p| p.proof_blob_key.starts_with("proofs/")));
}

async fn refuses_a_protocol_version_of_other_keys(dal: &Dal) {
    let store = local_store();
    let real = protocol_version().await;
    let other = VkDigest(HashDigest([5, 6, 7, 8]));
    dal.insert_protocol_version(&ProtocolVersion {
        final_vk_digest: other,
        ..real
    })
    .await
    .expect("insert the protocol version");
    let error = zkfleet_circuit_prover::run(
        dal.clone(),
        store.store.clone(),
        registry_async().await,
        config(1, 1, &[]),
        CancellationToken::new(),
    )
    .await
    .expect_err("keys of another digest are refused");
    assert!(
        matches!(error, ProverError::FinalKeyMismatch { .. }),
        "{error}"
    );
    let message = error.to_string();
    for part in [
        other.to_string(),
        real.final_vk_digest.to_string(),
        VERSION.to_string(),
    ] {
        assert!(message.contains(&part), "{message:?} lacks {part:?}");
    }
}

async fn refuses_an_unknown_protocol_version(dal: &Dal) {
    let store = local_store();
    dal.insert_protocol_version(&protocol_version().await)
        .await
        .expect("insert the protocol version");
    let mut config = config(1, 1, &[]);
    config.protocol_version = ProtocolSemanticVersion::new(7, 0);
    let error = zkfleet_circuit_prover::run(
        dal.clone(),
        store.store.clone(),
        registry_async().await,
        config,
        CancellationToken::new(),
    )
    .await
    .expect_err("an unknown version is refused");
    assert!(
        matches!(error, ProverError::UnknownProtocolVersion(v) if v == ProtocolSemanticVersion::new(7, 0)),
        "{error}"
    );
    assert!(error.to_string().contains("0.7.0"), "{error}");
}
