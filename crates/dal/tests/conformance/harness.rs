//! Fresh databases for each test (the shared test support: a PostgreSQL database created on the
//! test server and dropped afterwards, or a SQLite file in a temporary directory, so that WAL is
//! exercised), the macro that runs each body on both, and the fixtures of the suite.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use zkfleet_dal::{NewBatch, PoolOptions};
use zkfleet_types::{
    BatchNumber, ChainId, HashDigest, L1BatchId, ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};

pub(crate) use zkfleet_test_support::database::{finish, TestDb};

/// Pools large enough for the racing tests (16 pickers).
pub(crate) fn pool_options() -> PoolOptions {
    PoolOptions {
        max_connections: 20,
        ..PoolOptions::default()
    }
}

/// Generates `postgres::<test>` and `sqlite::<test>` for every test body `<test>(&TestDb)`.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::harness::TestDb::postgres(
                        "t",
                        &$crate::harness::pool_options(),
                    )
                    .await;
                    let result = ::futures::FutureExt::catch_unwind(
                        ::std::panic::AssertUnwindSafe(super::$name(&db)),
                    )
                    .await;
                    $crate::harness::finish(db, result).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::harness::TestDb::sqlite(&$crate::harness::pool_options()).await;
                    let result = ::futures::FutureExt::catch_unwind(
                        ::std::panic::AssertUnwindSafe(super::$name(&db)),
                    )
                    .await;
                    $crate::harness::finish(db, result).await;
                }
            )*
        }
    };
}

// --- Fixtures ----------------------------------------------------------------------------------

pub(crate) const V1: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
pub(crate) const V2: ProtocolSemanticVersion = ProtocolSemanticVersion::new(2, 1);

pub(crate) fn protocol_version(version: ProtocolSemanticVersion, salt: u64) -> ProtocolVersion {
    ProtocolVersion {
        version,
        recursion_tree_vk_digest: VkDigest(HashDigest([1, 2, 3, salt])),
        final_vk_digest: VkDigest(HashDigest([5, 6, 7, salt])),
    }
}

pub(crate) fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(ChainId(270), BatchNumber(number))
}

/// A moment `minutes` before a fixed epoch (older batches have larger `minutes`).
pub(crate) fn sealed_minutes_ago(minutes: i64) -> DateTime<Utc> {
    let epoch = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("valid date")
        .with_timezone(&Utc);
    epoch - ChronoDuration::minutes(minutes)
}

pub(crate) fn new_batch(number: u32, version: ProtocolSemanticVersion) -> NewBatch {
    NewBatch {
        batch: batch_id(number),
        protocol_version: version,
        witness_input_blob_key: format!("witness_inputs/{number}"),
        priority: 0,
        batch_sealed_at: sealed_minutes_ago(i64::from(number)),
    }
}
