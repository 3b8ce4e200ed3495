//! Test harness: a fresh job database (PostgreSQL from `ZKFLEET_TEST_DATABASE_URL`, or a
//! SQLite file), a local-directory store behind a wrapper that measures concurrent circuit
//! uploads, tiny generated batches, and a way to run the witness generator until the batches
//! are done.

#![allow(dead_code)]

pub(crate) mod counting_store;
pub(crate) mod proving;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use zkfleet_circuits::BasicGeometry;
use zkfleet_dal::{BatchStatus, Dal, NewBatch, PoolOptions, RoundStatus};
use zkfleet_rollup::generate::{generate, Generated, GeneratorConfig, InvalidKind};
use zkfleet_runner::CancellationToken;
use zkfleet_store::{ObjectKey, RetryPolicy, Store, WitnessInputBytes};
use zkfleet_test_support::database::TestDb;
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, HashDigest, JobStatus, L1BatchId,
    ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};
use zkfleet_witness_generator::{run, BatchWitnessInput, RoundReport, WitnessGeneratorConfig};

use counting_store::CountingStore;

pub(crate) const CHAIN: ChainId = ChainId(270);
pub(crate) const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
/// Signature tree height of the generated accounts (small: key generation is per account).
pub(crate) const TREE_HEIGHT: usize = 2;

/// Small capacities so that a batch of a few operations has several instances of each type.
pub(crate) fn geometry() -> BasicGeometry {
    BasicGeometry {
        signatures_per_instance: 2,
        operations_per_instance: 3,
        deposits_per_instance: 2,
        xmss_height: TREE_HEIGHT as u32,
    }
}

pub(crate) fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(CHAIN, BatchNumber(number))
}

pub(crate) struct TestEnv {
    pub dal: Dal,
    pub store: Store,
    pub uploads: Arc<CountingStore>,
    db: TestDb,
    _store_dir: tempfile::TempDir,
}

impl TestEnv {
    /// A fresh PostgreSQL database with the tests' protocol version (zero key digests).
    pub(crate) async fn postgres() -> Self {
        Self::postgres_with(zero_digest_version()).await
    }

    /// A fresh PostgreSQL database with `version` registered.
    pub(crate) async fn postgres_with(version: ProtocolVersion) -> Self {
        Self::finish(
            TestDb::postgres("wg", &PoolOptions::default()).await,
            version,
        )
        .await
    }

    /// A SQLite file in a temporary directory with the tests' protocol version.
    pub(crate) async fn sqlite() -> Self {
        Self::finish(
            TestDb::sqlite(&PoolOptions::default()).await,
            zero_digest_version(),
        )
        .await
    }

    async fn finish(db: TestDb, version: ProtocolVersion) -> Self {
        let store_dir = tempfile::tempdir().expect("temporary directory");
        let uploads = CountingStore::new(store_dir.path());
        let store = Store::new(
            uploads.clone(),
            RetryPolicy::default(),
            Duration::from_secs(30),
        );
        db.dal
            .insert_protocol_version(&version)
            .await
            .expect("insert the protocol version");
        Self {
            dal: db.dal.clone(),
            store,
            uploads,
            db,
            _store_dir: store_dir,
        }
    }

    /// Drops the PostgreSQL database (SQLite files go with the temporary directory).
    pub(crate) async fn close(self) {
        self.db.close().await;
    }

    /// Stores `bytes` as the witness input of batch `number` and hands the batch to the fleet.
    pub(crate) async fn submit_bytes(&self, number: u32, bytes: Vec<u8>) -> L1BatchId {
        let id = batch_id(number);
        let path = self.store_input(id, bytes).await;
        self.insert(id, path).await;
        id
    }

    /// Stores `bytes` as the witness input of `id`; returns its key.
    async fn store_input(&self, id: L1BatchId, bytes: Vec<u8>) -> String {
        let key = ObjectKey::WitnessInput {
            chain: id.chain_id,
            batch: id.batch_number,
        };
        self.store
            .put(&key, &WitnessInputBytes::new(bytes))
            .await
            .expect("store the witness input")
    }

    /// Hands batch `number` to the fleet with `blob_key` as its witness input location.
    pub(crate) async fn insert(&self, id: L1BatchId, blob_key: String) {
        self.insert_with(id, blob_key, 0, Utc::now()).await;
    }

    /// [`Self::insert`] with a priority and a sealing time.
    pub(crate) async fn insert_with(
        &self,
        id: L1BatchId,
        blob_key: String,
        priority: i32,
        batch_sealed_at: chrono::DateTime<Utc>,
    ) {
        self.dal
            .insert_batch(&NewBatch {
                batch: id,
                protocol_version: VERSION,
                witness_input_blob_key: blob_key,
                priority,
                batch_sealed_at,
            })
            .await
            .expect("insert the batch");
    }

    /// Stores a generated batch's input (batch + pre-state) and hands it to the fleet.
    pub(crate) async fn submit(&self, generated: &Generated) -> L1BatchId {
        self.submit_with(generated, 0, Utc::now()).await
    }

    /// [`Self::submit`] with a priority and a sealing time.
    pub(crate) async fn submit_with(
        &self,
        generated: &Generated,
        priority: i32,
        batch_sealed_at: chrono::DateTime<Utc>,
    ) -> L1BatchId {
        let input = BatchWitnessInput::from_genesis(&generated.batch, &generated.genesis)
            .expect("build the witness input");
        let id = generated.batch.id();
        let path = self
            .store_input(id, input.encode().expect("encode the witness input"))
            .await;
        self.insert_with(id, path, priority, batch_sealed_at).await;
        id
    }

    pub(crate) async fn status(&self, id: L1BatchId) -> BatchStatus {
        self.dal.batch_status(id).await.expect("batch status")
    }

    /// The status of a batch's basic witness job.
    pub(crate) async fn witness_status(&self, id: L1BatchId) -> (JobStatus, Option<String>) {
        let status = self.status(id).await;
        let job = status
            .witness_input
            .expect("the batch's witness job exists");
        (job.status, job.error)
    }

    /// Runs the witness generator until every batch in `batches` has left `queued` and
    /// `in_progress`, then stops it and returns its reports.
    pub(crate) async fn run_until_done(
        &self,
        config: WitnessGeneratorConfig,
        batches: &[L1BatchId],
    ) -> Vec<RoundReport> {
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(run(
            self.dal.clone(),
            self.store.clone(),
            config,
            cancel.clone(),
        ));
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut done = true;
            for &id in batches {
                let (status, _) = self.witness_status(id).await;
                if matches!(status, JobStatus::Queued | JobStatus::InProgress) {
                    done = false;
                }
            }
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "batches {batches:?} not done within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cancel.cancel();
        handle
            .await
            .expect("the witness generator task")
            .expect("the witness generator runs")
    }
}

impl TestEnv {
    /// Runs the witness generator with `config` until `done` holds for the status of `batch`,
    /// then stops it and returns its reports.
    pub(crate) async fn run_until(
        &self,
        config: WitnessGeneratorConfig,
        batch: L1BatchId,
        done: impl Fn(&BatchStatus) -> bool,
    ) -> Vec<RoundReport> {
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(run(
            self.dal.clone(),
            self.store.clone(),
            config,
            cancel.clone(),
        ));
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done(&self.status(batch).await) {
            assert!(
                !handle.is_finished(),
                "the witness generator stopped on its own: {:?}",
                handle.await
            );
            assert!(Instant::now() < deadline, "{batch}: not done within 120 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cancel.cancel();
        handle
            .await
            .expect("the witness generator task")
            .expect("the witness generator runs")
    }

    /// Runs `config`'s rounds until no witness job of `round` of `batch` is queued or in
    /// progress (at least one must be queued when called).
    pub(crate) async fn run_round(
        &self,
        config: WitnessGeneratorConfig,
        batch: L1BatchId,
        round: AggregationRound,
    ) -> Vec<RoundReport> {
        let queued = round_status(&self.status(batch).await, round)
            .witness_jobs
            .iter()
            .filter(|j| j.status == JobStatus::Queued)
            .count();
        assert!(queued > 0, "{batch}: no {round} witness job is queued");
        self.run_until(config, batch, |status| {
            round_status(status, round)
                .witness_jobs
                .iter()
                .all(|j| !matches!(j.status, JobStatus::Queued | JobStatus::InProgress))
        })
        .await
    }
}

/// The jobs of one round in a batch's status.
pub(crate) fn round_status(status: &BatchStatus, round: AggregationRound) -> &RoundStatus {
    status
        .rounds
        .iter()
        .find(|r| r.round == round)
        .expect("every round is reported")
}

/// The tests' protocol version, with zero key digests (tests that do not prove).
pub(crate) fn zero_digest_version() -> ProtocolVersion {
    ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(HashDigest::ZERO),
        final_vk_digest: VkDigest(HashDigest::ZERO),
    }
}

/// The witness generator configuration of the tests.
pub(crate) fn config(max_circuits_in_flight: usize) -> WitnessGeneratorConfig {
    WitnessGeneratorConfig {
        picked_by: "wg-test".to_owned(),
        max_circuits_in_flight,
        geometry: geometry(),
        idle_backoff_initial_ms: 10,
        idle_backoff_max_ms: 50,
        ..WitnessGeneratorConfig::default()
    }
}

/// A tiny batch `number` (valid unless `invalid`).
pub(crate) fn generated(number: u32, operations: usize, invalid: Option<InvalidKind>) -> Generated {
    generate(&GeneratorConfig {
        accounts: 4,
        operations,
        seed: u64::from(number),
        tree_height: TREE_HEIGHT,
        chain_id: CHAIN,
        batch_number: BatchNumber(number),
        invalid,
    })
    .expect("generate a batch")
}
