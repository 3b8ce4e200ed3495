//! Shared setup of the circuit prover tests: a fresh job database (PostgreSQL or SQLite), a
//! local object store, one small executed batch cut into basic instances, and the circuits of
//! one small proving configuration (every round), built once into a keystore shared by test
//! runs and loaded once per test binary.
//!
//! There is no witness generator here: the tests do its round-0 part by hand
//! (`zkfleet_test_support::basic_round`, shared with the prover API's tests) — put every
//! instance's witness at its `ObjectKey::CircuitWitness` and complete the basic witness job
//! with the prover jobs and leaf jobs it would insert.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use zkfleet_circuit_prover::{CircuitRegistry, HeavyCircuit, ProverConfig, RunSummary};
use zkfleet_circuits::basic::BasicWitnesses;
use zkfleet_dal::{BatchStatus, Dal, JobSummary};
use zkfleet_runner::CancellationToken;
use zkfleet_store::Store;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId, ProtocolVersion, VkDigest};

pub(crate) use zkfleet_test_support::basic_round::{CHAIN, VERSION};

/// The small test configuration shared by every crate's tests: every circuit of the
/// configuration builds in a minute or two, and the fixture batch has two or more instances of
/// every type. Its light compression chain: the circuit prover does not compress, but the
/// profile is part of the configuration it loads (and of the final key checked at start).
pub(crate) use zkfleet_test_support::keys::{ARITY, COMPRESSION, GEOMETRY};

// --- Database ----------------------------------------------------------------------------------

pub(crate) use zkfleet_test_support::database::{Backend, TestDb};

/// Runs `body` on a fresh database of `backend`, drops the database, re-raises a panic.
pub(crate) async fn with_db<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    zkfleet_test_support::database::with_fresh_db(backend, "cp", 10, body).await;
}

// --- Batch and circuits ------------------------------------------------------------------------

/// The fixture batch, executed and cut into basic instances (two or more of every type), as
/// every crate after the witness generator tests with it.
pub(crate) use zkfleet_test_support::basic_round::{fixture, BasicRoundFixture as Fixture};

/// The fixture batch cut into instances.
pub(crate) fn witnesses() -> &'static BasicWitnesses {
    &fixture().witnesses
}

/// The keystore directory shared by every test binary and run (the compressor's tests use the
/// same one): circuit data is built by the first test that needs it and loaded from the cache
/// afterwards (the keystore checks every cached file against its manifest).
pub(crate) fn keys_dir() -> PathBuf {
    zkfleet_test_support::small_keys_dir!()
}

/// The registry of every circuit of the test configuration, loaded once per test binary.
pub(crate) fn registry() -> Arc<CircuitRegistry> {
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
pub(crate) async fn registry_async() -> Arc<CircuitRegistry> {
    tokio::task::spawn_blocking(registry)
        .await
        .expect("loading the circuits panicked")
}

/// The protocol version row of the test circuits: their final verifying-key digest.
pub(crate) async fn protocol_version() -> ProtocolVersion {
    let registry = registry_async().await;
    ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(registry.batch_circuits().scheduler().tree_vk_digest()),
        final_vk_digest: registry.final_vk_digest(),
    }
}

// --- Store -------------------------------------------------------------------------------------

pub(crate) use zkfleet_test_support::store::local_store;

// --- Round 0 by hand ---------------------------------------------------------------------------

pub(crate) use zkfleet_test_support::basic_round::batch_id;

/// Inserts the test circuits' protocol version and batch `number`, stores every instance's
/// witness and completes the basic witness job as the witness generator would. Returns the
/// number of prover jobs.
pub(crate) async fn insert_basic_round(dal: &Dal, store: &Store, number: u32) -> usize {
    zkfleet_test_support::basic_round::insert_basic_round(
        dal,
        store,
        &protocol_version().await,
        number,
        0,
    )
    .await
}

/// The batch's round-0 prover jobs.
pub(crate) async fn basic_prover_jobs(dal: &Dal, batch: L1BatchId) -> Vec<JobSummary> {
    let status = dal.batch_status(batch).await.expect("batch status");
    round(&status, AggregationRound::Basic).prover_jobs.clone()
}

pub(crate) fn round(status: &BatchStatus, round: AggregationRound) -> &zkfleet_dal::RoundStatus {
    status
        .rounds
        .iter()
        .find(|r| r.round == round)
        .expect("every round is reported")
}

// --- Running the prover ------------------------------------------------------------------------

/// A configuration for tests: fast idle backoff, the given generator counts and heavy set.
pub(crate) fn config(heavy: usize, light: usize, heavy_circuits: &[CircuitId]) -> ProverConfig {
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
pub(crate) async fn run_until<F, Fut>(
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
