//! Test object stores: a local directory that goes away with the test, and a fresh bucket on
//! the S3-compatible test server named by `ZKFLEET_TEST_S3_ENDPOINT` (moto, started by
//! `scripts/test`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use zkfleet_store::{ObjectKey, S3Credentials, Store, StoreBackend, StoreConfig};

/// The variable naming the test S3 server.
pub const S3_ENDPOINT_VAR: &str = "ZKFLEET_TEST_S3_ENDPOINT";

/// A local-directory store in a temporary directory (removed on drop).
pub struct TestStore {
    /// The store on the directory.
    pub store: Store,
    /// The directory (removed on drop).
    pub root: tempfile::TempDir,
}

impl TestStore {
    /// Where the local backend keeps `key`'s blob.
    pub fn file_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.path().join(key.path())
    }
}

/// A fresh local-directory store with the default retry policy.
pub fn local_store() -> TestStore {
    let root = tempfile::tempdir().expect("store directory");
    let store = open_local(root.path());
    TestStore { store, root }
}

/// A local-directory store on `root` (another "process" on the same blobs).
pub fn open_local(root: &Path) -> Store {
    Store::open(&StoreConfig::local(root)).expect("open the local store")
}

/// The S3 endpoint of the test server. Unset → panics with how to run the suite.
pub fn s3_endpoint() -> String {
    match std::env::var(S3_ENDPOINT_VAR) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{S3_ENDPOINT_VAR} is not set: these tests need an S3-compatible server. Run them \
             through scripts/test (which starts moto on loopback), or start one (`python3 -m \
             pip install 'moto[server]'; moto_server -p 5000`) and export \
             {S3_ENDPOINT_VAR}=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=test \
             AWS_SECRET_ACCESS_KEY=test"
        ),
    }
}

/// A fresh bucket on the test S3 server, so that tests run in parallel and leave each other
/// alone.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    /// The S3 server's URL (`ZKFLEET_TEST_S3_ENDPOINT`).
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
    /// The region the store is configured with.
    pub region: String,
}

impl S3Bucket {
    /// Creates `zkfleet-{prefix}-{pid}-{nanos}-{n}` (object_store has no bucket call; a plain
    /// PUT on the bucket creates it, and moto accepts it unsigned). Checks that the
    /// credentials the store reads from the environment are set (moto accepts any).
    pub async fn create(prefix: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let endpoint = s3_endpoint();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let bucket = format!(
            "zkfleet-{prefix}-{}-{}-{}",
            std::process::id(),
            nanos % 1_000_000_000,
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", endpoint.trim_end_matches('/')))
            .send()
            .await
            .unwrap_or_else(|e| panic!("cannot reach the S3 server at {endpoint}: {e}"));
        assert!(
            response.status().is_success(),
            "creating bucket {bucket} at {endpoint} failed: {}",
            response.status()
        );
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            assert!(
                std::env::var(var).is_ok_and(|v| !v.is_empty()),
                "{var} is not set: export the credentials of the test S3 server (any value \
                 works with moto)"
            );
        }
        Self {
            endpoint,
            bucket,
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        }
    }

    /// [`S3Bucket::create`] from synchronous code (a test that drives processes).
    pub fn create_blocking(prefix: &str) -> Self {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(Self::create(prefix))
    }

    /// The store configuration of this bucket (path-style, plain HTTP, credentials from the
    /// environment), with the default retry policy.
    pub fn config(&self) -> StoreConfig {
        StoreConfig::with_backend(StoreBackend::S3 {
            bucket: self.bucket.clone(),
            endpoint: Some(self.endpoint.clone()),
            region: self.region.clone(),
            allow_http: true,
            virtual_hosted_style: false,
            credentials: S3Credentials::Environment,
        })
    }

    /// A store client on this bucket.
    pub fn open(&self) -> Store {
        Store::open(&self.config()).expect("open the test bucket")
    }
}
