//! A gateway for each test: its own database (a fresh PostgreSQL database on the server named
//! by `ZKFLEET_TEST_DATABASE_URL`, dropped afterwards, or a SQLite file in a temporary
//! directory), a local-directory store in a temporary directory, and the push-mode server on a
//! real listener on 127.0.0.1:0.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use zkfleet_dal::{
    BasicWitnessOutput, Dal, HeavySet, LeafWitnessOutput, NewAggregationProverJob,
    NewBasicProverJob, NewLeafWitnessJob, NodeWitnessOutput, PoolOptions, ProverJobClass,
};
use zkfleet_gateway::{GatewayConfig, GatewayState, TokenAuth};
use zkfleet_store::{ObjectKey, Store};
use zkfleet_test_support::database::TestDb;
use zkfleet_test_support::store::open_local;
use zkfleet_types::api::{Base64Bytes, FinalProof, L1VerifierConfig, ProofGenerationData};
use zkfleet_types::{
    BatchNumber, BatchPublicOutput, ChainId, CircuitId, HashDigest, L1BatchId,
    ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};

pub(crate) const SECOND: Duration = Duration::from_secs(1);
pub(crate) const V1: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
pub(crate) const CHAIN: ChainId = ChainId(270);

/// The keys the test fleet holds for [`V1`].
pub(crate) fn fleet_version() -> ProtocolVersion {
    ProtocolVersion {
        version: V1,
        recursion_tree_vk_digest: VkDigest(HashDigest([11, 12, 13, 14])),
        final_vk_digest: VkDigest(HashDigest([21, 22, 23, 24])),
    }
}

pub(crate) fn verifier_config(version: &ProtocolVersion) -> L1VerifierConfig {
    L1VerifierConfig {
        final_vk_digest: version.final_vk_digest,
        recursion_tree_vk_digest: version.recursion_tree_vk_digest,
    }
}

pub(crate) fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(CHAIN, BatchNumber(number))
}

fn sealed_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("valid date")
        .with_timezone(&Utc)
}

/// A valid witness input of batch `number` of [`CHAIN`]; `variant` picks one of many different
/// valid inputs of the same batch (another seed: other keys, other operations). Memoised:
/// generating signs every operation.
pub(crate) fn input(number: u32, variant: u64) -> Vec<u8> {
    input_with(number, variant, CHAIN, None)
}

/// Like [`input`], for another chain or with a deliberate rule violation.
pub(crate) fn input_with(
    number: u32,
    variant: u64,
    chain: ChainId,
    invalid: Option<zkfleet_rollup::generate::InvalidKind>,
) -> Vec<u8> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Key = (u32, u64, u64, Option<String>);
    static CACHE: OnceLock<Mutex<HashMap<Key, Vec<u8>>>> = OnceLock::new();
    let key = (number, variant, chain.0, invalid.map(|k| format!("{k:?}")));
    let cache = CACHE.get_or_init(Default::default);
    if let Some(bytes) = cache.lock().expect("cache").get(&key) {
        return bytes.clone();
    }
    let generated =
        zkfleet_rollup::generate::generate(&zkfleet_rollup::generate::GeneratorConfig {
            accounts: 3,
            operations: 3,
            seed: variant,
            tree_height: 2,
            chain_id: chain,
            batch_number: BatchNumber(number),
            invalid,
        })
        .expect("generate a batch");
    let bytes = zkfleet_rollup::witness_input::BatchWitnessInput::from_genesis(
        &generated.batch,
        &generated.genesis,
    )
    .expect("witness input")
    .encode()
    .expect("encode the witness input");
    cache.lock().expect("cache").insert(key, bytes.clone());
    bytes
}

/// Where intake stores `input` of batch `number`.
pub(crate) fn input_key(number: u32, input: &[u8]) -> ObjectKey {
    ObjectKey::WitnessInputContent {
        chain: CHAIN,
        batch: BatchNumber(number),
        digest: zkfleet_store::ContentDigest::of(input),
    }
}

/// A valid submission of batch `number` with `input` as its witness input.
pub(crate) fn submission(number: u32, input: &[u8]) -> ProofGenerationData {
    ProofGenerationData {
        l1_batch_id: batch_id(number),
        batch_sealed_at: sealed_at(),
        protocol_version: V1,
        l1_verifier_config: verifier_config(&fleet_version()),
        witness_input: Base64Bytes(input.to_vec()),
    }
}

pub(crate) fn gateway_config() -> GatewayConfig {
    GatewayConfig {
        listen_address: "127.0.0.1:0".parse().expect("address"),
        protocol_versions: vec![fleet_version()],
        max_request_body_bytes: 64 * 1024,
        max_witness_input_bytes: 32 * 1024,
        ..GatewayConfig::default()
    }
}

/// A test's database and store.
pub(crate) struct TestEnv {
    pub dal: Dal,
    /// The database's URL, for more connection pools (more "processes").
    pub url: String,
    pub store: Store,
    pub store_root: PathBuf,
    _dir: tempfile::TempDir,
    db: TestDb,
}

impl TestEnv {
    pub(crate) async fn postgres() -> Self {
        Self::with(TestDb::postgres("gw", &PoolOptions::default()).await)
    }

    pub(crate) async fn sqlite() -> Self {
        Self::with(TestDb::sqlite(&PoolOptions::default()).await)
    }

    fn with(db: TestDb) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store_root = dir.path().join("store");
        let store = open_local(&store_root);
        Self {
            dal: db.dal.clone(),
            url: db.url.clone(),
            store,
            store_root,
            _dir: dir,
            db,
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// What another gateway process has: its own connection pool and store client on the
    /// same database and store, sharing nothing else with this one.
    pub(crate) async fn other_process(&self) -> (Dal, Store) {
        let dal = Dal::connect_with(&self.url, &PoolOptions::default())
            .await
            .expect("connect to the test database");
        (dal, open_local(&self.store_root))
    }

    pub(crate) fn state(&self, config: &GatewayConfig, auth: TokenAuth) -> GatewayState {
        GatewayState::new(self.dal.clone(), self.store.clone(), config, auth)
    }

    /// Every file in the store directory (relative paths, sorted).
    pub(crate) fn stored_files(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read store directory") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let rel = path.strip_prefix(root).expect("under root");
                    out.push(rel.display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.store_root, &self.store_root, &mut out);
        out.sort();
        out
    }
}

/// Drops the database after the test body, then re-raises the body's panic, if any.
pub(crate) async fn finish(env: TestEnv, result: std::thread::Result<()>) {
    zkfleet_test_support::database::finish(env.db, result).await;
}

/// Generates `postgres::<test>` and `sqlite::<test>` for every test body `<test>(&TestEnv)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = $crate::harness::TestEnv::postgres().await;
                    let result = ::futures::FutureExt::catch_unwind(
                        ::std::panic::AssertUnwindSafe(super::$name(&env)),
                    )
                    .await;
                    $crate::harness::finish(env, result).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = $crate::harness::TestEnv::sqlite().await;
                    let result = ::futures::FutureExt::catch_unwind(
                        ::std::panic::AssertUnwindSafe(super::$name(&env)),
                    )
                    .await;
                    $crate::harness::finish(env, result).await;
                }
            )*
        }
    };
}

/// A push-mode gateway serving on 127.0.0.1:0; stopped on drop.
pub(crate) struct RunningGateway {
    pub base_url: String,
    cancel: CancellationToken,
}

impl RunningGateway {
    pub(crate) async fn start(state: GatewayState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base_url = format!("http://{}", listener.local_addr().expect("local address"));
        let cancel = CancellationToken::new();
        tokio::spawn(zkfleet_gateway::serve(
            listener,
            state,
            cancel.clone(),
            SECOND,
        ));
        Self { base_url, cancel }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The final proof the compressor would store for `batch`.
pub(crate) fn final_proof(batch: L1BatchId) -> FinalProof {
    FinalProof {
        protocol_version: V1,
        public_output: BatchPublicOutput {
            chain_id: batch.chain_id,
            batch_number: batch.batch_number,
            prev_state_root: HashDigest([1, 1, 1, 1]),
            new_state_root: HashDigest([2, 2, 2, 2]),
            operations_commitment: HashDigest([3, 3, 3, 3]),
            deposits_consumed: 4,
            deposits_commitment: HashDigest([5, 5, 5, 5]),
            withdrawals_commitment: HashDigest([6, 6, 6, 6]),
            pubdata_commitment: HashDigest([7, 7, 7, 7]),
            recursion_tree_vk_digest: fleet_version().recursion_tree_vk_digest.0,
        },
        proof: Base64Bytes(vec![0xAB; 300]),
    }
}

async fn prove_all(dal: &Dal) -> usize {
    let mut proven = 0;
    while let Some(job) = dal
        .pick_prover_job(V1, ProverJobClass::Any, &HeavySet::default(), "prover")
        .await
        .expect("pick prover job")
    {
        let done = dal
            .complete_prover_job(job.id, &format!("proofs/{}", job.id), SECOND)
            .await
            .expect("complete prover job");
        assert!(done.is_completed(), "{done:?}");
        proven += 1;
    }
    proven
}

fn aggregate(label: &str, n: usize) -> Vec<NewAggregationProverJob> {
    (0..n.div_ceil(2))
        .map(|i| NewAggregationProverJob {
            sequence_number: i as u32,
            circuit_blob_key: format!("circuits/{label}_{i}"),
        })
        .collect()
}

/// Runs every round of the (only) submitted batch through the dal API, as the workers would,
/// up to a compression job picked by a compressor (`in_progress`).
pub(crate) async fn prove_until_compression(env: &TestEnv, batch: L1BatchId) {
    let dal = &env.dal;
    let job = dal
        .pick_basic_witness_job(V1, "bwg")
        .await
        .expect("pick basic witness job")
        .expect("the submitted batch is queued");
    assert_eq!(job.meta.batch, batch);
    let circuit = CircuitId(1);
    let output = BasicWitnessOutput {
        prover_jobs: (0..3)
            .map(|sequence_number| NewBasicProverJob {
                circuit_id: circuit,
                sequence_number,
                circuit_blob_key: format!("circuits/basic_{sequence_number}"),
            })
            .collect(),
        leaf_jobs: vec![NewLeafWitnessJob {
            circuit_id: circuit,
            number_of_basic_circuits: 3,
            closed_form_inputs_blob_key: "closed_form/1".to_owned(),
        }],
        scheduler_partial_input_blob_key: "scheduler_partial".to_owned(),
    };
    assert!(dal
        .complete_basic_witness_job(batch, &output, SECOND)
        .await
        .expect("complete basic witness job")
        .is_completed());
    loop {
        let mut progress = prove_all(dal).await > 0;
        if let Some(job) = dal
            .pick_leaf_witness_job(V1, "lwg")
            .await
            .expect("pick leaf")
        {
            let output = LeafWitnessOutput {
                prover_jobs: aggregate(&format!("leaf_{}", job.id), job.basic_proofs.len()),
                node_aggregations_blob_key: Some(format!("aggregations/leaf_{}", job.id)),
            };
            dal.complete_leaf_witness_job(job.id, &output, SECOND)
                .await
                .expect("complete leaf");
            progress = true;
        }
        if let Some(job) = dal
            .pick_node_witness_job(V1, "nwg")
            .await
            .expect("pick node")
        {
            let output = NodeWitnessOutput {
                prover_jobs: aggregate(&format!("node_{}", job.id), job.proofs.len()),
                next_aggregations_blob_key: Some(format!("aggregations/node_{}", job.id)),
            };
            dal.complete_node_witness_job(job.id, &output, SECOND)
                .await
                .expect("complete node");
            progress = true;
        }
        if let Some(job) = dal
            .pick_recursion_tip_witness_job(V1, "rtwg")
            .await
            .expect("pick tip")
        {
            dal.complete_recursion_tip_witness_job(job.meta.batch, "circuits/tip", SECOND)
                .await
                .expect("complete tip");
            progress = true;
        }
        if let Some(job) = dal
            .pick_scheduler_witness_job(V1, "swg")
            .await
            .expect("pick scheduler")
        {
            dal.complete_scheduler_witness_job(job.meta.batch, "circuits/scheduler", SECOND)
                .await
                .expect("complete scheduler");
            progress = true;
        }
        if !progress {
            break;
        }
    }
    let compression = dal
        .pick_compression_job(V1, "compressor")
        .await
        .expect("pick compression job")
        .expect("the scheduler proof queued the compression job");
    assert_eq!(compression.meta.batch, batch);
}

/// The compressor's part: stores the final proof and completes the compression job.
pub(crate) async fn finish_compression(env: &TestEnv, batch: L1BatchId) {
    let dal = &env.dal;
    let key = ObjectKey::FinalProof {
        chain: batch.chain_id,
        batch: batch.batch_number,
        protocol_version: V1,
    };
    let path = env
        .store
        .put(&key, &final_proof(batch))
        .await
        .expect("store the final proof");
    assert!(dal
        .complete_compression_job(batch, &path, SECOND)
        .await
        .expect("complete compression job")
        .is_completed());
}
