//! Shared setup of the prover API tests: a fresh job database per test (PostgreSQL from
//! `ZKFLEET_TEST_DATABASE_URL`, or a SQLite file), a local object store, the fixture batch cut
//! into basic instances, and the circuits of the small test configuration (the keystore shared
//! with the circuit prover's and compressor's tests, `target/tmp/test-keys-small-light`).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::Rng;
use sqlx::Connection;
use zkfleet_circuits::basic::{split_batch, BasicWitnesses};
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::{BatchCircuits, CompressionProfile};
use zkfleet_circuits::{BasicGeometry, Keystore, ProvingConfiguration};
use zkfleet_dal::{
    BasicWitnessOutput, Dal, InsertOutcome, NewBasicProverJob, NewBatch, NewLeafWitnessJob,
    PoolOptions,
};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, Store, StoreConfig};
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, CircuitId, L1BatchId, ProtocolSemanticVersion,
    ProtocolVersion, VkDigest,
};

pub const DATABASE_URL_VAR: &str = "ZKFLEET_TEST_DATABASE_URL";
pub const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
pub const CHAIN: ChainId = ChainId(270);

pub const PROVING: ProvingConfiguration = ProvingConfiguration {
    geometry: BasicGeometry {
        signatures_per_instance: 2,
        operations_per_instance: 1,
        deposits_per_instance: 2,
        xmss_height: 2,
    },
    arity: 2,
    compression: CompressionProfile::Light,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

pub struct TestDb {
    pub dal: Dal,
    pub url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
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
    pub async fn new(backend: Backend) -> Self {
        let options = PoolOptions {
            max_connections: 10,
            ..PoolOptions::default()
        };
        match backend {
            Backend::Postgres => {
                let admin_url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
                    panic!(
                        "{DATABASE_URL_VAR} is not set: the PostgreSQL tests need a real server \
                         (scripts/test -p zkfleet-prover-api starts one)"
                    )
                });
                let name = format!("zkfleet_pa_{:016x}", rand::thread_rng().gen::<u64>());
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                let url = with_database(&admin_url, &name);
                let dal = Dal::connect_with(&url, &options).await.expect("migrate");
                Self {
                    dal,
                    url,
                    admin: Some((admin_url, name)),
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("zkfleet.db").display());
                let dal = Dal::connect_with(&url, &options).await.expect("migrate");
                Self {
                    dal,
                    url,
                    admin: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    async fn drop_database(self) {
        self.dal.close().await;
        if let Some((admin_url, name)) = self.admin {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
}

/// Runs `body` on a fresh database of `backend`, drops the database, re-raises a panic.
pub async fn with_db<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = Arc::new(TestDb::new(backend).await);
    let result =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(body(Arc::clone(&db)))).await;
    if let Ok(db) = Arc::try_unwrap(db) {
        db.drop_database().await;
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The fixture batch cut into instances (two or more of every type).
pub fn witnesses() -> &'static BasicWitnesses {
    static FIXTURE: OnceLock<BasicWitnesses> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        for seed in 0..200 {
            let generated = generate(&GeneratorConfig {
                accounts: 4,
                operations: 8,
                seed,
                tree_height: PROVING.geometry.xmss_height as usize,
                ..GeneratorConfig::default()
            })
            .expect("generate a batch");
            let mut state = generated.genesis.to_memory_state().expect("genesis state");
            let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
            let witnesses = split_batch(&executed, &PROVING.geometry).expect("split the batch");
            let every_type_twice = CircuitId::BASIC_TYPES.iter().all(|&circuit| {
                witnesses
                    .instances
                    .iter()
                    .filter(|i| i.circuit == circuit)
                    .count()
                    >= 2
            });
            if every_type_twice {
                return witnesses;
            }
        }
        panic!("no seed below 200 gives two instances of every basic type");
    })
}

pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-keys-small-light")
}

/// Every circuit of the small configuration, loaded once per test binary.
pub fn circuits() -> Arc<BatchCircuits> {
    static CIRCUITS: OnceLock<Arc<BatchCircuits>> = OnceLock::new();
    Arc::clone(CIRCUITS.get_or_init(|| {
        let keystore = Keystore::open(keys_dir()).expect("open the keystore");
        Arc::new(
            keystore
                .batch_circuits(&PROVING)
                .expect("load the circuits")
                .circuits,
        )
    }))
}

pub async fn circuits_async() -> Arc<BatchCircuits> {
    tokio::task::spawn_blocking(circuits)
        .await
        .expect("loading the circuits panicked")
}

pub async fn protocol_version() -> ProtocolVersion {
    let circuits = circuits_async().await;
    ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(circuits.scheduler().tree_vk_digest()),
        final_vk_digest: FinalVerifyingKey::of(&circuits)
            .expect("final key")
            .digest(),
    }
}

/// A version row with made-up digests, for tests that prove nothing.
pub fn fake_version() -> ProtocolVersion {
    ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(Default::default()),
        final_vk_digest: VkDigest(Default::default()),
    }
}

pub struct TestStore {
    pub store: Store,
    pub root: tempfile::TempDir,
}

pub fn local_store() -> TestStore {
    let root = tempfile::tempdir().expect("store directory");
    let store = Store::open(&StoreConfig::local(root.path())).expect("open the local store");
    TestStore { store, root }
}

pub fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(CHAIN, BatchNumber(number))
}

/// Inserts the version and batch `number`, stores every instance's witness and completes the
/// basic witness job as the witness generator would (with `priority`). Returns the number of
/// round-0 prover jobs.
pub async fn insert_basic_round(
    dal: &Dal,
    store: &Store,
    version: &ProtocolVersion,
    number: u32,
    priority: i32,
) -> usize {
    let batch = batch_id(number);
    dal.insert_protocol_version(version)
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
            priority,
            batch_sealed_at: chrono::Utc::now(),
        })
        .await
        .expect("insert the batch");
    assert_eq!(inserted, InsertOutcome::Inserted);
    let picked = dal
        .pick_basic_witness_job(VERSION, "test-witness-generator")
        .await
        .expect("pick the basic witness job")
        .expect("queued");
    assert_eq!(picked.meta.batch, batch);
    let mut prover_jobs = Vec::new();
    for instance in &witnesses().instances {
        let key = ObjectKey::CircuitWitness {
            chain: batch.chain_id,
            batch: batch.batch_number,
            round: AggregationRound::Basic,
            circuit: instance.circuit,
            depth: 0,
            sequence: instance.sequence,
        };
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

/// Runs a test body on both backends as `postgres::<name>` and `sqlite::<name>`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::with_db($crate::common::Backend::Postgres, |db| super::$name(db)).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::with_db($crate::common::Backend::Sqlite, |db| super::$name(db)).await;
                }
            )*
        }
    };
}
