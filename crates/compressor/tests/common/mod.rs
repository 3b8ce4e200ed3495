//! Shared setup of the compressor tests: a fresh PostgreSQL database per test, a local object
//! store, the circuits of one small proving configuration (from a keystore shared with the
//! circuit prover's tests) and one genuine scheduler proof of a small generated batch, made
//! once per test binary; and the walk through the job database that queues a batch's
//! compression job with that scheduler proof as its input.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::Rng;
use sqlx::Connection;
use zkfleet_blobs::AuxOutput;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::{prove_to_tip, BatchCircuits, CompressionProfile};
use zkfleet_circuits::BasicGeometry;
use zkfleet_compressor::CompressorConfig;
use zkfleet_dal::{
    BasicWitnessOutput, CompleteOutcome, Dal, HeavySet, InsertOutcome, LeafWitnessOutput,
    NewAggregationProverJob, NewBasicProverJob, NewBatch, NewLeafWitnessJob, NodeWitnessOutput,
    PoolOptions, ProverJobClass, QueuedDependent,
};
use zkfleet_rollup::execute::{execute_batch, ExecutedBatch};
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_rollup::operation::Operation;
use zkfleet_store::{ObjectKey, ProofBytes, Store, StoreConfig};
use zkfleet_types::{
    AggregationRound, BatchNumber, CircuitId, L1BatchId, ProtocolSemanticVersion, ProtocolVersion,
    VkDigest,
};

pub const DATABASE_URL_VAR: &str = "ZKFLEET_TEST_DATABASE_URL";
pub const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);

/// The small test geometry of the circuits crate's batch tests (and the circuit prover's).
pub const GEOMETRY: BasicGeometry = BasicGeometry {
    signatures_per_instance: 2,
    operations_per_instance: 1,
    deposits_per_instance: 2,
    xmss_height: 2,
};
pub const ARITY: u32 = 2;
pub const COMPRESSION: CompressionProfile = CompressionProfile::Light;

// --- Database ----------------------------------------------------------------------------------

/// A test's own PostgreSQL database, dropped afterwards.
pub struct TestDb {
    pub dal: Dal,
    admin_url: String,
    name: String,
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

impl TestDb {
    pub async fn new() -> Self {
        let admin_url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{DATABASE_URL_VAR} is not set: the compressor tests need a real PostgreSQL \
                 server. Run them with `scripts/test -p zkfleet-compressor` (it starts one), or \
                 `source /tmp/devsvc/env.sh` in a dev session."
            )
        });
        let name = format!("zkfleet_cmp_{:016x}", rand::thread_rng().gen::<u64>());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let options = PoolOptions {
            max_connections: 5,
            ..PoolOptions::default()
        };
        let dal = Dal::connect_with(&with_database(&admin_url, &name), &options)
            .await
            .expect("connect and migrate the test database");
        Self {
            dal,
            admin_url,
            name,
        }
    }

    async fn drop_database(self) {
        self.dal.close().await;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
        }
    }
}

/// Runs `body` on a fresh database, drops the database, re-raises a panic.
pub async fn with_db<F, Fut>(body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = Arc::new(TestDb::new().await);
    let result =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(body(Arc::clone(&db)))).await;
    match Arc::try_unwrap(db) {
        Ok(db) => db.drop_database().await,
        Err(_) => eprintln!("test database still shared after the test; not dropped"),
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

// --- Store -------------------------------------------------------------------------------------

pub struct TestStore {
    pub store: Store,
    pub root: tempfile::TempDir,
}

pub fn local_store() -> TestStore {
    let root = tempfile::tempdir().expect("store directory");
    let store = Store::open(&StoreConfig::local(root.path())).expect("open the local store");
    TestStore { store, root }
}

// --- Circuits and the scheduler proof ----------------------------------------------------------

/// The keystore directory shared with the circuit prover's tests.
pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-keys-small-light")
}

/// A configuration for tests: the small proving configuration, fast idle backoff.
pub fn config() -> CompressorConfig {
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

pub struct Fixture {
    pub circuits: Arc<BatchCircuits>,
    pub executed: ExecutedBatch,
    /// A genuine scheduler proof of `executed` (plonky2 bytes).
    pub scheduler_proof: Vec<u8>,
}

impl Fixture {
    /// The batch as the job database names it: the chain and number the proof attests.
    pub fn batch(&self) -> L1BatchId {
        L1BatchId::new(
            self.executed.public_output.chain_id,
            self.executed.public_output.batch_number,
        )
    }

    pub fn final_vk_digest(&self) -> VkDigest {
        FinalVerifyingKey::of(&self.circuits)
            .expect("the final key encodes")
            .digest()
    }

    pub fn protocol_version(&self) -> ProtocolVersion {
        ProtocolVersion {
            version: VERSION,
            recursion_tree_vk_digest: VkDigest(self.circuits.scheduler().tree_vk_digest()),
            final_vk_digest: self.final_vk_digest(),
        }
    }
}

/// The first generated batch with at least one deposit and one signed operation.
fn batch_with_every_type() -> ExecutedBatch {
    for seed in 0..200 {
        let generated = generate(&GeneratorConfig {
            accounts: 4,
            operations: 5,
            seed,
            tree_height: GEOMETRY.xmss_height as usize,
            batch_number: BatchNumber(7),
            ..GeneratorConfig::default()
        })
        .expect("generate a batch");
        let mut state = generated.genesis.to_memory_state().expect("genesis state");
        let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
        let ops = &executed.witness.operations;
        let deposits = ops
            .iter()
            .any(|o| matches!(o.operation, Operation::Deposit(_)));
        let signed = ops.iter().any(|o| o.signed.is_some());
        if deposits && signed {
            return executed;
        }
    }
    panic!("no seed below 200 gives a batch with deposits and signed operations");
}

/// Circuits (from the shared keystore) and a scheduler proof, made once per test binary.
pub fn fixture() -> &'static Fixture {
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
pub async fn fixture_async() -> &'static Fixture {
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
pub async fn queue_compression_job(
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
