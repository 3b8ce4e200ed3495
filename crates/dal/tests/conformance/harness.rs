//! Fresh databases for each test: a PostgreSQL database created on the test server (dropped
//! afterwards), or a SQLite file in a temporary directory (a file, so WAL is exercised).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use rand::Rng;
use sqlx::Connection;
use zkfleet_dal::{Dal, NewBatch, PoolOptions};
use zkfleet_types::{
    BatchNumber, ChainId, HashDigest, L1BatchId, ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};

pub const DATABASE_URL_VAR: &str = "ZKFLEET_TEST_DATABASE_URL";

/// A test's own database.
pub struct TestDb {
    pub dal: Dal,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres { admin_url: String, name: String },
    Sqlite { _dir: tempfile::TempDir },
}

fn pool_options() -> PoolOptions {
    PoolOptions {
        max_connections: 20,
        ..PoolOptions::default()
    }
}

/// `url` with its database name replaced.
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
    pub async fn postgres() -> Self {
        let admin_url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{DATABASE_URL_VAR} is not set: the PostgreSQL conformance tests need a real \
                 server. Run them with `scripts/test -p zkfleet-dal` (it starts one), or \
                 `source /tmp/devsvc/env.sh` in a dev session."
            )
        });
        let name = format!("zkfleet_t_{:016x}", rand::thread_rng().gen::<u64>());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        let dal = Dal::connect_with(&url, &pool_options())
            .await
            .expect("connect and migrate the test database");
        Self {
            dal,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("zkfleet.db").display());
        let dal = Dal::connect_with(&url, &pool_options())
            .await
            .expect("connect and migrate the test database");
        Self {
            dal,
            url,
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    async fn drop_database(self) {
        self.dal.close().await;
        if let Cleanup::Postgres { admin_url, name } = self.cleanup {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }

    /// Runs a statement behind the API's back (to fabricate states the API never produces).
    pub async fn execute_raw(&self, statement: &str) {
        if self.url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .expect(statement);
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .expect(statement);
        }
    }
}

/// Drops the database after the test body, then re-raises the body's panic, if any.
pub async fn finish(db: TestDb, result: std::thread::Result<()>) {
    db.drop_database().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
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
                    let db = $crate::harness::TestDb::postgres().await;
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
                    let db = $crate::harness::TestDb::sqlite().await;
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

pub const V1: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
pub const V2: ProtocolSemanticVersion = ProtocolSemanticVersion::new(2, 1);

pub fn protocol_version(version: ProtocolSemanticVersion, salt: u64) -> ProtocolVersion {
    ProtocolVersion {
        version,
        recursion_tree_vk_digest: VkDigest(HashDigest([1, 2, 3, salt])),
        final_vk_digest: VkDigest(HashDigest([5, 6, 7, salt])),
    }
}

pub fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(ChainId(270), BatchNumber(number))
}

/// A moment `minutes` before a fixed epoch (older batches have larger `minutes`).
pub fn sealed_minutes_ago(minutes: i64) -> DateTime<Utc> {
    let epoch = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("valid date")
        .with_timezone(&Utc);
    epoch - ChronoDuration::minutes(minutes)
}

pub fn new_batch(number: u32, version: ProtocolSemanticVersion) -> NewBatch {
    NewBatch {
        batch: batch_id(number),
        protocol_version: version,
        witness_input_blob_key: format!("witness_inputs/{number}"),
        priority: 0,
        batch_sealed_at: sealed_minutes_ago(i64::from(number)),
    }
}
