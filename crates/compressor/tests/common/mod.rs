//! Shared setup of the compressor tests: a fresh PostgreSQL database per test, a local object
//! store, the circuits of one small proving configuration (from a keystore shared with the
//! circuit prover's tests) and one genuine scheduler proof of a small generated batch, made
//! once per test binary; and the walk through the job database that queues a batch's
//! compression job with that scheduler proof as its input.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use zkfleet_blobs::AuxOutput;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::{prove_to_tip, BatchCircuits};
use zkfleet_compressor::CompressorConfig;
use zkfleet_dal::{
    BasicWitnessOutput, CompleteOutcome, Dal, HeavySet, InsertOutcome, LeafWitnessOutput,
    NewAggregationProverJob, NewBasicProverJob, NewBatch, NewLeafWitnessJob, NodeWitnessOutput,
    PoolOptions, ProverJobClass, QueuedDependent,
};
use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_rollup::generate::GeneratorConfig;
use zkfleet_store::{ObjectKey, ProofBytes, Store};
use zkfleet_types::{
    AggregationRound, BatchNumber, CircuitId, L1BatchId, ProtocolSemanticVersion, ProtocolVersion,
    VkDigest,
};

pub(crate) const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);

/// The small test configuration every crate's tests share (the circuits crate's batch tests,
/// the circuit prover's).
pub(crate) use zkfleet_test_support::keys::{ARITY, COMPRESSION, GEOMETRY};

// --- Database ----------------------------------------------------------------------------------

pub(crate) use zkfleet_test_support::database::TestDb;

/// Runs `body` on a fresh PostgreSQL database, drops the database, re-raises a panic.
pub(crate) async fn with_db<F, Fut>(body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    let options = PoolOptions {
        max_connections: 5,
        ..PoolOptions::default()
    };
    let db = TestDb::postgres("cmp", &options).await;
    zkfleet_test_support::database::with_db(db, body).await;
}

// --- Store -------------------------------------------------------------------------------------

pub(crate) use zkfleet_test_support::store::{local_store, TestStore};

// --- Circuits and the scheduler proof ----------------------------------------------------------

/// The keystore directory shared with the circuit prover's tests.
pub(crate) fn keys_dir() -> PathBuf {
    zkfleet_test_support::small_keys_dir!()
}

/// A configuration for tests: the small proving configuration, fast idle backoff.
pub(crate) fn config() -> CompressorConfig {
    CompressorConfig {
        picked_by: Some("test-compressor".into()),
        keys_dir: keys_dir(),
        geometry: GEOMETRY,
        arity: ARITY,
        compression: COMPRESSION,
        idle_backoff_initial_ms: 50,
        idle_backoff_max_ms: 200,
        ..CompressorConfig::new(VERSION)
    }
}

pub(crate) struct Fixture {
    pub circuits: Arc<BatchCircuits>,
    pub executed: ExecutedBatch,
    /// A genuine scheduler proof of `executed` (plonky2 bytes).
    pub scheduler_proof: Vec<u8>,
}

impl Fixture {
    /// The batch as the job database names it: the chain and number the proof attests.
    pub(crate) fn batch(&self) -> L1BatchId {
        L1BatchId::new(
            self.executed.public_output.chain_id,
            self.executed.public_output.batch_number,
        )
    }

    pub(crate) fn final_vk_digest(&self) -> VkDigest {
        FinalVerifyingKey::of(&self.circuits)
            .expect("the final key encodes")
            .digest()
    }

    pub(crate) fn protocol_version(&self) -> ProtocolVersion {
        ProtocolVersion {
            version: VERSION,
            recursion_tree_vk_digest: VkDigest(self.circuits.scheduler().tree_vk_digest()),
            final_vk_digest: self.final_vk_digest(),
        }
    }
}

/// The first generated batch with at least one deposit and one signed operation.
fn batch_with_every_type() -> ExecutedBatch {
    zkfleet_test_support::fixtures::batch_with_every_type(
        &GeneratorConfig {
            accounts: 4,
            operations: 5,
            tree_height: GEOMETRY.xmss_height as usize,
            batch_number: BatchNumber(7),
            ..GeneratorConfig::default()
        },
        zkfleet_test_support::fixtures::SEEDS,
    )
    .executed
}

/// Circuits (from the shared keystore) and a scheduler proof, made once per test binary.
pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let circuits =
            Arc::new(zkfleet_compressor::load_circuits(&config()).expect("load the circuits"));
        let executed = batch_with_every_type();
        let stage = prove_to_tip(&circuits, &executed).expect("the batch proves up to the tip");
        let scheduler = circuits
            .scheduler()
            .prove(&stage.tip, executed.witness.batch_number)
            .expect("the scheduler proves");
        Fixture {
            scheduler_proof: scheduler.proof.to_bytes(),
            circuits,
            executed,
        }
    })
}

/// [`fixture`] from async code (the first call proves for a minute or more).
pub(crate) async fn fixture_async() -> &'static Fixture {
    tokio::task::spawn_blocking(fixture)
        .await
        .expect("making the fixture panicked")
}

// --- Walking the job database to a compression job -----------------------------------------------

const SECOND: Duration = Duration::from_secs(1);

fn queued(outcome: &CompleteOutcome) -> Vec<QueuedDependent> {
    match outcome {
        CompleteOutcome::Completed { queued } => queued.clone(),
        other => panic!("completion refused: {other:?}"),
    }
}

/// Inserts the protocol version and the fixture's batch, stores its aux output, and walks
/// every round through the job database (one instance per basic type; the rows of rounds 0–3
/// point at blobs this test never reads) until the scheduler prover job is picked; then stores
/// `scheduler_proof` as that job's proof and completes it, which queues the compression job.
/// Returns the scheduler proof's object key.
pub(crate) async fn queue_compression_job(
    dal: &Dal,
    store: &Store,
    fixture: &Fixture,
    scheduler_proof: Vec<u8>,
) -> ObjectKey {
    let batch = fixture.batch();
    let (chain, number) = (batch.chain_id, batch.batch_number);
    dal.insert_protocol_version(&fixture.protocol_version())
        .await
        .expect("insert the protocol version");
    let inserted = dal
        .insert_batch(&NewBatch {
            batch,
            protocol_version: VERSION,
            witness_input_blob_key: ObjectKey::WitnessInput {
                chain,
                batch: number,
            }
            .path(),
            priority: 0,
            batch_sealed_at: chrono::Utc::now(),
        })
        .await
        .expect("insert the batch");
    assert_eq!(inserted, InsertOutcome::Inserted);
    store
        .put(
            &ObjectKey::AuxOutput {
                chain,
                batch: number,
            },
            &AuxOutput {
                public_output: fixture.executed.public_output,
            },
        )
        .await
        .expect("store the aux output");

    let witness_key = |round, circuit, depth, sequence| {
        ObjectKey::CircuitWitness {
            chain,
            batch: number,
            round,
            circuit,
            depth,
            sequence,
        }
        .path()
    };
    dal.pick_basic_witness_job(VERSION, "test-witness-generator")
        .await
        .expect("pick")
        .expect("the basic witness job is queued");
    let output = BasicWitnessOutput {
        prover_jobs: CircuitId::BASIC_TYPES
            .iter()
            .map(|&circuit| NewBasicProverJob {
                circuit_id: circuit,
                sequence_number: 0,
                circuit_blob_key: witness_key(AggregationRound::Basic, circuit, 0, 0),
            })
            .collect(),
        leaf_jobs: CircuitId::BASIC_TYPES
            .iter()
            .map(|&circuit| NewLeafWitnessJob {
                circuit_id: circuit,
                number_of_basic_circuits: 1,
                closed_form_inputs_blob_key: ObjectKey::ClosedFormInputs {
                    chain,
                    batch: number,
                    circuit,
                }
                .path(),
            })
            .collect(),
        scheduler_partial_input_blob_key: ObjectKey::SchedulerInput {
            chain,
            batch: number,
        }
        .path(),
    };
    assert!(dal
        .complete_basic_witness_job(batch, &output, SECOND)
        .await
        .expect("complete the basic witness job")
        .is_completed());

    loop {
        let mut progress = false;
        while let Some(job) = dal
            .pick_prover_job(
                VERSION,
                ProverJobClass::Any,
                &HeavySet::default(),
                "test-prover",
            )
            .await
            .expect("pick a prover job")
        {
            progress = true;
            let key = ObjectKey::Proof { chain, job: job.id };
            if job.aggregation_round == AggregationRound::Scheduler {
                let path = store
                    .put(&key, &ProofBytes::new(scheduler_proof.clone()))
                    .await
                    .expect("store the scheduler proof");
                let outcome = dal
                    .complete_prover_job(job.id, &path, SECOND)
                    .await
                    .expect("complete the scheduler prover job");
                assert_eq!(queued(&outcome), [QueuedDependent::Compression(batch)]);
                return key;
            }
            dal.complete_prover_job(job.id, &key.path(), SECOND)
                .await
                .expect("complete a prover job");
        }
        if let Some(job) = dal
            .pick_leaf_witness_job(VERSION, "lwg")
            .await
            .expect("pick")
        {
            progress = true;
            let output = LeafWitnessOutput {
                prover_jobs: vec![NewAggregationProverJob {
                    sequence_number: 0,
                    circuit_blob_key: witness_key(AggregationRound::Leaf, job.circuit_id, 0, 0),
                }],
                node_aggregations_blob_key: Some(
                    ObjectKey::AggregationList {
                        chain,
                        batch: number,
                        circuit: job.circuit_id,
                        depth: 0,
                    }
                    .path(),
                ),
            };
            dal.complete_leaf_witness_job(job.id, &output, SECOND)
                .await
                .expect("complete a leaf witness job");
        }
        if let Some(job) = dal
            .pick_node_witness_job(VERSION, "nwg")
            .await
            .expect("pick")
        {
            progress = true;
            let output = NodeWitnessOutput {
                prover_jobs: vec![NewAggregationProverJob {
                    sequence_number: 0,
                    circuit_blob_key: witness_key(
                        AggregationRound::Node,
                        job.circuit_id,
                        job.depth,
                        0,
                    ),
                }],
                next_aggregations_blob_key: None,
            };
            dal.complete_node_witness_job(job.id, &output, SECOND)
                .await
                .expect("complete a node witness job");
        }
        if let Some(job) = dal
            .pick_recursion_tip_witness_job(VERSION, "rtwg")
            .await
            .expect("pick")
        {
            progress = true;
            let key = witness_key(
                AggregationRound::RecursionTip,
                CircuitId::RECURSION_TIP,
                0,
                0,
            );
            dal.complete_recursion_tip_witness_job(job.meta.batch, &key, SECOND)
                .await
                .expect("complete the tip witness job");
        }
        if let Some(job) = dal
            .pick_scheduler_witness_job(VERSION, "swg")
            .await
            .expect("pick")
        {
            progress = true;
            let key = witness_key(AggregationRound::Scheduler, CircuitId::SCHEDULER, 0, 0);
            dal.complete_scheduler_witness_job(job.meta.batch, &key, SECOND)
                .await
                .expect("complete the scheduler witness job");
        }
        assert!(progress, "the walk stalled before the scheduler prover job");
    }
}
