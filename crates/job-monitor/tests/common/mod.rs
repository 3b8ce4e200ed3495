//! Shared by the monitor's test binaries: a fresh database per test (a PostgreSQL database
//! created on the server named by `ZKFLEET_TEST_DATABASE_URL`, or a SQLite file in a temporary
//! directory), a local-directory store, and the steps that build real job rows through the
//! dal API.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zkfleet_dal::{
    BasicWitnessOutput, Dal, HeavySet, InsertOutcome, LeafWitnessOutput, NewAggregationProverJob,
    NewBasicProverJob, NewBatch, NewLeafWitnessJob, NodeWitnessOutput, PoolOptions, ProverJob,
    ProverJobClass,
};
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, ProofBytes, Store};
use zkfleet_test_support::store::{local_store, TestStore};
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, CircuitId, HashDigest, L1BatchId,
    ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};

pub(crate) const V1: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
pub(crate) const CHAIN: ChainId = ChainId(270);
pub(crate) const SECOND: Duration = Duration::from_secs(1);

/// A test's own database (the shared test support's) and object store.
pub(crate) struct TestDb {
    pub dal: Dal,
    pub url: String,
    pub store: Store,
    pub store_dir: tempfile::TempDir,
    db: zkfleet_test_support::database::TestDb,
}

fn pool_options() -> PoolOptions {
    PoolOptions {
        max_connections: 8,
        // Short, so a test of a database outage sees errors within a second.
        acquire_timeout: Duration::from_secs(2),
        ..PoolOptions::default()
    }
}

impl TestDb {
    pub(crate) async fn postgres() -> Self {
        Self::with(zkfleet_test_support::database::TestDb::postgres("jm", &pool_options()).await)
    }

    pub(crate) async fn sqlite() -> Self {
        Self::with(zkfleet_test_support::database::TestDb::sqlite(&pool_options()).await)
    }

    fn with(db: zkfleet_test_support::database::TestDb) -> Self {
        let TestStore { store, root } = local_store();
        Self {
            dal: db.dal.clone(),
            url: db.url.clone(),
            store,
            store_dir: root,
            db,
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// The server's admin URL and this test's database name (PostgreSQL only).
    pub(crate) fn postgres_admin(&self) -> Option<(&str, &str)> {
        self.db.postgres_admin()
    }

    /// Runs a statement behind the API's back (to fabricate states the API never produces).
    pub(crate) async fn execute_raw(&self, statement: &str) {
        self.db.execute_raw(statement).await;
    }

    pub(crate) async fn drop_database(&self) {
        self.db.close_shared().await;
    }
}

/// Runs `body` against a fresh PostgreSQL database, dropped afterwards even if `body` panics.
pub(crate) async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(TestDb::postgres().await, body).await;
}

/// Runs `body` against a fresh SQLite file.
pub(crate) async fn with_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(TestDb::sqlite().await, body).await;
}

async fn run_with<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = Arc::new(db);
    // In a task of its own, so a failed assertion comes back as a JoinError and the database
    // is still dropped.
    let result = tokio::spawn(body(db.clone())).await;
    db.drop_database().await;
    if let Err(e) = result {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test body cancelled: {e}");
    }
}

// --- Job rows through the dal API ------------------------------------------------------------

pub(crate) fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(CHAIN, BatchNumber(number))
}

pub(crate) fn sealed_minutes_ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::minutes(minutes)
}

pub(crate) async fn insert_version(dal: &Dal, version: ProtocolSemanticVersion) {
    let v = ProtocolVersion {
        version,
        recursion_tree_vk_digest: VkDigest(HashDigest([1, 2, 3, 4])),
        final_vk_digest: VkDigest(HashDigest([5, 6, 7, 8])),
    };
    dal.insert_protocol_version(&v)
        .await
        .expect("insert protocol version");
}

pub(crate) async fn insert_batch(
    dal: &Dal,
    number: u32,
    version: ProtocolSemanticVersion,
) -> L1BatchId {
    let batch = batch_id(number);
    let key = ObjectKey::WitnessInput {
        chain: CHAIN,
        batch: BatchNumber(number),
    };
    let outcome = dal
        .insert_batch(&NewBatch {
            batch,
            protocol_version: version,
            witness_input_blob_key: key.path(),
            priority: 0,
            batch_sealed_at: sealed_minutes_ago(i64::from(1000 - number)),
        })
        .await
        .expect("insert batch");
    assert_eq!(outcome, InsertOutcome::Inserted);
    batch
}

/// Stores a circuit witness for (batch, round, circuit, depth, sequence) and returns its key.
pub(crate) async fn store_circuit(
    store: &Store,
    batch: L1BatchId,
    round: AggregationRound,
    circuit: CircuitId,
    depth: u32,
    sequence: u32,
) -> String {
    let key = ObjectKey::CircuitWitness {
        chain: batch.chain_id,
        batch: batch.batch_number,
        round,
        circuit,
        depth,
        sequence,
    };
    store
        .put(&key, &CircuitWitnessBytes::new(vec![7u8; 64]))
        .await
        .expect("store circuit witness")
}

/// Inserts batch `number`, picks its basic witness job and completes it with `per_type`
/// instances of each basic circuit type (circuit witnesses stored).
pub(crate) async fn batch_with_basic_jobs(
    dal: &Dal,
    store: &Store,
    number: u32,
    version: ProtocolSemanticVersion,
    per_type: &[(CircuitId, u32)],
) -> L1BatchId {
    let batch = insert_batch(dal, number, version).await;
    let job = dal
        .pick_basic_witness_job(version, "bwg")
        .await
        .expect("pick")
        .expect("a queued basic witness job");
    assert_eq!(job.meta.batch, batch);
    let mut prover_jobs = Vec::new();
    let mut leaf_jobs = Vec::new();
    for &(circuit_id, count) in per_type {
        for sequence_number in 0..count {
            let key = store_circuit(
                store,
                batch,
                AggregationRound::Basic,
                circuit_id,
                0,
                sequence_number,
            )
            .await;
            prover_jobs.push(NewBasicProverJob {
                circuit_id,
                sequence_number,
                circuit_blob_key: key,
            });
        }
        leaf_jobs.push(NewLeafWitnessJob {
            circuit_id,
            number_of_basic_circuits: count,
            closed_form_inputs_blob_key: format!("leaf_aggregation/270/{number}/{circuit_id}.bin"),
        });
    }
    let output = BasicWitnessOutput {
        prover_jobs,
        leaf_jobs,
        scheduler_partial_input_blob_key: format!(
            "scheduler_witness/270/{number}/partial_input.bin"
        ),
    };
    let outcome = dal
        .complete_basic_witness_job(batch, &output, SECOND)
        .await
        .expect("complete basic witness job");
    assert!(outcome.is_completed(), "{outcome:?}");
    batch
}

pub(crate) async fn pick_prover_job(
    dal: &Dal,
    version: ProtocolSemanticVersion,
) -> Option<ProverJob> {
    dal.pick_prover_job(
        version,
        ProverJobClass::Any,
        &HeavySet::default(),
        "prover-1",
    )
    .await
    .expect("pick prover job")
}

/// Proves a picked job: stores its proof and completes it.
pub(crate) async fn prove(dal: &Dal, store: &Store, job: &ProverJob) {
    let key = ObjectKey::Proof {
        chain: job.meta.batch.chain_id,
        job: job.id,
    };
    let path = store
        .put(&key, &ProofBytes::new(vec![9u8; 32]))
        .await
        .expect("store proof");
    let outcome = dal
        .complete_prover_job(job.id, &path, SECOND)
        .await
        .expect("complete prover job");
    assert!(outcome.is_completed(), "{outcome:?}");
}

/// Picks and proves every queued prover job of the version; returns how many.
pub(crate) async fn prove_all(dal: &Dal, store: &Store, version: ProtocolSemanticVersion) -> usize {
    let mut n = 0;
    while let Some(job) = pick_prover_job(dal, version).await {
        prove(dal, store, &job).await;
        n += 1;
    }
    n
}

/// Aggregation outputs at arity 2 for `proofs` proofs, with their circuits stored.
async fn aggregate(
    store: &Store,
    batch: L1BatchId,
    round: AggregationRound,
    circuit: CircuitId,
    depth: u32,
    proofs: usize,
) -> Vec<NewAggregationProverJob> {
    let mut jobs = Vec::new();
    for sequence_number in 0..proofs.div_ceil(2) as u32 {
        let key = store_circuit(store, batch, round, circuit, depth, sequence_number).await;
        jobs.push(NewAggregationProverJob {
            sequence_number,
            circuit_blob_key: key,
        });
    }
    jobs
}

/// Runs every worker of the version until nothing is left: the whole proof tree of every
/// batch whose basic witness generation is done, down to the compressed proof.
pub(crate) async fn drive_to_completion(
    dal: &Dal,
    store: &Store,
    version: ProtocolSemanticVersion,
) {
    loop {
        let mut progress = prove_all(dal, store, version).await > 0;
        if let Some(job) = dal.pick_leaf_witness_job(version, "lwg").await.unwrap() {
            let output = LeafWitnessOutput {
                prover_jobs: aggregate(
                    store,
                    job.meta.batch,
                    AggregationRound::Leaf,
                    job.circuit_id,
                    0,
                    job.basic_proofs.len(),
                )
                .await,
                node_aggregations_blob_key: Some(format!(
                    "node_aggregation/270/{}/{}/0.bin",
                    job.meta.batch.batch_number, job.circuit_id
                )),
            };
            let done = dal.complete_leaf_witness_job(job.id, &output, SECOND);
            assert!(done.await.unwrap().is_completed());
            progress = true;
        }
        if let Some(job) = dal.pick_node_witness_job(version, "nwg").await.unwrap() {
            let output = NodeWitnessOutput {
                prover_jobs: aggregate(
                    store,
                    job.meta.batch,
                    AggregationRound::Node,
                    job.circuit_id,
                    job.depth,
                    job.proofs.len(),
                )
                .await,
                next_aggregations_blob_key: Some(format!(
                    "node_aggregation/270/{}/{}/{}.bin",
                    job.meta.batch.batch_number,
                    job.circuit_id,
                    job.depth + 1
                )),
            };
            let done = dal.complete_node_witness_job(job.id, &output, SECOND);
            assert!(done.await.unwrap().is_completed());
            progress = true;
        }
        if let Some(job) = dal
            .pick_recursion_tip_witness_job(version, "rtwg")
            .await
            .unwrap()
        {
            let batch = job.meta.batch;
            let key = store_circuit(
                store,
                batch,
                AggregationRound::RecursionTip,
                CircuitId::RECURSION_TIP,
                0,
                0,
            )
            .await;
            let done = dal.complete_recursion_tip_witness_job(batch, &key, SECOND);
            assert!(done.await.unwrap().is_completed());
            progress = true;
        }
        if let Some(job) = dal
            .pick_scheduler_witness_job(version, "swg")
            .await
            .unwrap()
        {
            let batch = job.meta.batch;
            let key = store_circuit(
                store,
                batch,
                AggregationRound::Scheduler,
                CircuitId::SCHEDULER,
                0,
                0,
            )
            .await;
            let done = dal.complete_scheduler_witness_job(batch, &key, SECOND);
            assert!(done.await.unwrap().is_completed());
            progress = true;
        }
        if let Some(job) = dal
            .pick_compression_job(version, "compressor")
            .await
            .unwrap()
        {
            let batch = job.meta.batch;
            let key = format!("final_proofs/270/{}_{version}.bin", batch.batch_number);
            let done = dal.complete_compression_job(batch, &key, SECOND);
            assert!(done.await.unwrap().is_completed());
            progress = true;
        }
        if !progress {
            return;
        }
    }
}

/// Polls `check` every 20 ms until it holds or `within` passes.
pub(crate) async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
