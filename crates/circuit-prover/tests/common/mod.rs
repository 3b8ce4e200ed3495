//! Shared setup of the circuit prover tests: a fresh job database (PostgreSQL or SQLite), a
//! local object store, one small executed batch cut into basic instances, and the circuits of
//! one small proving configuration (every round), built once into a keystore shared by test
//! runs and loaded once per test binary.
//!
//! There is no witness generator here (it is written separately): the tests do its round-0 part
//! by hand — put every instance's witness at its `ObjectKey::CircuitWitness` and complete the
//! basic witness job with the prover jobs and leaf jobs it would insert.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use zkfleet_circuit_prover::{CircuitRegistry, HeavyCircuit, ProverConfig, RunSummary};
use zkfleet_circuits::basic::{split_batch, BasicWitnesses};
use zkfleet_dal::{
    BasicWitnessOutput, BatchStatus, Dal, InsertOutcome, JobSummary, NewBasicProverJob, NewBatch,
    NewLeafWitnessJob, PoolOptions,
};
use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_rollup::generate::GeneratorConfig;
use zkfleet_runner::CancellationToken;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, Store};
use zkfleet_test_support::fixtures::{first_batch, SEEDS};
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, CircuitId, L1BatchId, ProtocolSemanticVersion,
    ProtocolVersion, VkDigest,
};

pub const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
pub const CHAIN: ChainId = ChainId(270);

/// The small test configuration shared by every crate's tests: every circuit of the
/// configuration builds in a minute or two, and the fixture batch has two or more instances of
/// every type. Its light compression chain: the circuit prover does not compress, but the
/// profile is part of the configuration it loads (and of the final key checked at start).
pub use zkfleet_test_support::keys::{ARITY, COMPRESSION, GEOMETRY};

// --- Database ----------------------------------------------------------------------------------

pub use zkfleet_test_support::database::{Backend, TestDb};

/// Runs `body` on a fresh database of `backend`, drops the database, re-raises a panic.
pub async fn with_db<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    let options = PoolOptions {
        max_connections: 10,
        ..PoolOptions::default()
    };
    let db = TestDb::new(backend, "cp", &options).await;
    zkfleet_test_support::database::with_db(db, body).await;
}

// --- Batch and circuits ------------------------------------------------------------------------

/// The fixture batch, executed, and cut into instances.
pub struct Fixture {
    pub executed: ExecutedBatch,
    pub witnesses: BasicWitnesses,
}

/// The fixture batch cut into instances.
pub fn witnesses() -> &'static BasicWitnesses {
    &fixture().witnesses
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // The first seed whose batch has at least two instances of every type: found
        // deterministically, so every run proves the same batch.
        let template = GeneratorConfig {
            accounts: 4,
            operations: 8,
            tree_height: GEOMETRY.xmss_height as usize,
            ..GeneratorConfig::default()
        };
        let found = first_batch(
            &template,
            SEEDS,
            "two instances of every basic type",
            |fixture| {
                let witnesses = split_batch(&fixture.executed, &GEOMETRY).expect("split the batch");
                CircuitId::BASIC_TYPES.iter().all(|&circuit| {
                    witnesses
                        .instances
                        .iter()
                        .filter(|i| i.circuit == circuit)
                        .count()
                        >= 2
                })
            },
        );
        let witnesses = split_batch(&found.executed, &GEOMETRY).expect("split the batch");
        Fixture {
            executed: found.executed,
            witnesses,
        }
    })
}

/// The keystore directory shared by every test binary and run (the compressor's tests use the
/// same one): circuit data is built by the first test that needs it and loaded from the cache
/// afterwards (the keystore checks every cached file against its manifest).
pub fn keys_dir() -> PathBuf {
    zkfleet_test_support::small_keys_dir!()
}

/// The registry of every circuit of the test configuration, loaded once per test binary.
pub fn registry() -> Arc<CircuitRegistry> {
    static REGISTRY: OnceLock<Arc<CircuitRegistry>> = OnceLock::new();
    Arc::clone(REGISTRY.get_or_init(|| {
        let registry = CircuitRegistry::for_config(&config(1, 1, &[])).expect("load the circuits");
        assert_eq!(
            registry.circuits().collect::<Vec<_>>().len(),
            3 * CircuitId::BASIC_TYPES.len() + 2,
            "every (round, circuit) of the configuration is registered"
        );
        assert_eq!(
            registry.loaded().len(),
            4,
            "three basic entries and one aggregation entry"
        );
        Arc::new(registry)
    }))
}

/// [`registry`] from async code: the first call loads (or builds) the circuits, which must not
/// hold a runtime worker thread for minutes.
pub async fn registry_async() -> Arc<CircuitRegistry> {
    tokio::task::spawn_blocking(registry)
        .await
        .expect("loading the circuits panicked")
}

/// The protocol version row of the test circuits: their final verifying-key digest.
pub async fn protocol_version() -> ProtocolVersion {
    let registry = registry_async().await;
    ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(registry.batch_circuits().scheduler().tree_vk_digest()),
        final_vk_digest: registry.final_vk_digest(),
    }
}

// --- Store -------------------------------------------------------------------------------------

pub use zkfleet_test_support::store::local_store;

// --- Round 0 by hand ---------------------------------------------------------------------------

pub fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(CHAIN, BatchNumber(number))
}

pub fn circuit_key(batch: L1BatchId, circuit: CircuitId, sequence: u32) -> ObjectKey {
    ObjectKey::CircuitWitness {
        chain: batch.chain_id,
        batch: batch.batch_number,
        round: AggregationRound::Basic,
        circuit,
        depth: 0,
        sequence,
    }
}

/// Inserts the version and batch `number`, stores every instance's witness and completes the
/// basic witness job as the witness generator would. Returns the number of prover jobs.
pub async fn insert_basic_round(dal: &Dal, store: &Store, number: u32) -> usize {
    let batch = batch_id(number);
    dal.insert_protocol_version(&protocol_version().await)
        .await
        .expect("insert the protocol version");
    let inserted = dal
        .insert_batch(&NewBatch {
            batch,
            protocol_version: VERSION,
            witness_input_blob_key: ObjectKey::WitnessInput {
                chain: batch.chain_id,
                batch: batch.batch_number,
            }
            .path(),
            priority: 0,
            batch_sealed_at: chrono::Utc::now(),
        })
        .await
        .expect("insert the batch");
    assert_eq!(inserted, InsertOutcome::Inserted);
    let picked = dal
        .pick_basic_witness_job(VERSION, "test-witness-generator")
        .await
        .expect("pick the basic witness job")
        .expect("the batch's basic witness job is queued");
    assert_eq!(picked.meta.batch, batch);

    let witnesses = witnesses();
    let mut prover_jobs = Vec::new();
    for instance in &witnesses.instances {
        let key = circuit_key(batch, instance.circuit, instance.sequence);
        let path = store
            .put(&key, &CircuitWitnessBytes::new(instance.witness.clone()))
            .await
            .expect("store a circuit witness");
        prover_jobs.push(NewBasicProverJob {
            circuit_id: instance.circuit,
            sequence_number: instance.sequence,
            circuit_blob_key: path,
        });
    }
    let leaf_jobs = CircuitId::BASIC_TYPES
        .iter()
        .map(|&circuit| NewLeafWitnessJob {
            circuit_id: circuit,
            number_of_basic_circuits: prover_jobs
                .iter()
                .filter(|j| j.circuit_id == circuit)
                .count() as u32,
            closed_form_inputs_blob_key: ObjectKey::ClosedFormInputs {
                chain: batch.chain_id,
                batch: batch.batch_number,
                circuit,
            }
            .path(),
        })
        .collect();
    let count = prover_jobs.len();
    let outcome = dal
        .complete_basic_witness_job(
            batch,
            &BasicWitnessOutput {
                prover_jobs,
                leaf_jobs,
                scheduler_partial_input_blob_key: ObjectKey::SchedulerInput {
                    chain: batch.chain_id,
                    batch: batch.batch_number,
                }
                .path(),
            },
            Duration::from_secs(1),
        )
        .await
        .expect("complete the basic witness job");
    assert!(outcome.is_completed(), "{outcome:?}");
    count
}

/// The batch's round-0 prover jobs.
pub async fn basic_prover_jobs(dal: &Dal, batch: L1BatchId) -> Vec<JobSummary> {
    let status = dal.batch_status(batch).await.expect("batch status");
    round(&status, AggregationRound::Basic).prover_jobs.clone()
}

pub fn round(status: &BatchStatus, round: AggregationRound) -> &zkfleet_dal::RoundStatus {
    status
        .rounds
        .iter()
        .find(|r| r.round == round)
        .expect("every round is reported")
}

// --- Running the prover ------------------------------------------------------------------------

/// A configuration for tests: fast idle backoff, the given generator counts and heavy set.
pub fn config(heavy: usize, light: usize, heavy_circuits: &[CircuitId]) -> ProverConfig {
    ProverConfig {
        heavy_wvg_count: heavy,
        light_wvg_count: light,
        heavy_circuits: heavy_circuits
            .iter()
            .map(|&circuit| HeavyCircuit {
                round: AggregationRound::Basic,
                circuit,
            })
            .collect(),
        idle_backoff_initial_ms: 50,
        idle_backoff_max_ms: 200,
        picked_by: Some("test-prover".into()),
        keys_dir: keys_dir(),
        geometry: GEOMETRY,
        arity: ARITY,
        compression: COMPRESSION,
        ..ProverConfig::new(VERSION)
    }
}

/// Runs the circuit prover until `done` says the database is where the test wants it, then
/// cancels it and returns its summary (after a graceful stop). Panics after `timeout`.
pub async fn run_until<F, Fut>(
    dal: &Dal,
    store: &Store,
    config: &ProverConfig,
    timeout: Duration,
    mut done: F,
) -> RunSummary
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let registry = registry_async().await;
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(zkfleet_circuit_prover::run(
        dal.clone(),
        store.clone(),
        registry,
        config.clone(),
        cancel.clone(),
    ));
    let started = Instant::now();
    while !done().await {
        if started.elapsed() > timeout || handle.is_finished() {
            cancel.cancel();
            let outcome = handle.await;
            panic!("the prover did not get there within {timeout:?}; it returned {outcome:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cancel.cancel();
    handle
        .await
        .expect("the prover task panicked")
        .expect("the prover ran")
}
