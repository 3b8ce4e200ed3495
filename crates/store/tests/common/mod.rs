//! Backends for the store test suites: a temporary local directory and the S3-compatible server
//! named by `ZKFLEET_TEST_S3_ENDPOINT`, each behind the same `Store` API.

#![allow(dead_code)] // each test binary uses part of this module

pub mod suite;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use zkfleet_store::config::S3Credentials;
use zkfleet_store::{Store, StoreBackend, StoreConfig};

/// Keeps a backend's resources alive for the duration of a test.
pub enum Guard {
    Dir(tempfile::TempDir),
    Bucket(String),
}

fn fast_retries(mut config: StoreConfig) -> StoreConfig {
    config.max_retries = 3;
    config.retry_initial_backoff_ms = 10;
    config.retry_max_backoff_ms = 100;
    config.request_timeout_secs = 60;
    config
}

pub async fn local_store() -> (Guard, Store) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    // A root that does not exist yet: opening the store creates it.
    let config = fast_retries(StoreConfig::local(dir.path().join("artifacts")));
    let store = Store::open(&config).expect("open the local store");
    (Guard::Dir(dir), store)
}

/// The S3 endpoint of the test server. Missing → the test fails: scripts/test starts the
/// server and exports the variable; a developer sources the same environment.
pub fn s3_endpoint() -> String {
    match std::env::var("ZKFLEET_TEST_S3_ENDPOINT") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "ZKFLEET_TEST_S3_ENDPOINT is not set: these tests need an S3-compatible server. \
             Run them through scripts/test (which starts moto on loopback), or start one \
             (`python3 -m pip install 'moto[server]'; moto_server -p 5000`) and export \
             ZKFLEET_TEST_S3_ENDPOINT=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=test \
             AWS_SECRET_ACCESS_KEY=test"
        ),
    }
}

/// A fresh bucket per test, so tests run in parallel and leave each other alone.
pub async fn s3_store() -> (Guard, Store) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let endpoint = s3_endpoint();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let bucket = format!(
        "zkfleet-store-test-{}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    // object_store has no bucket-creation call; a plain PUT on the bucket creates it. moto
    // accepts unsigned requests.
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
    // Credentials from the environment; moto accepts any, but the variables must be set.
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(
            std::env::var(var).is_ok_and(|v| !v.is_empty()),
            "{var} is not set: export the credentials of the test S3 server (any value works with moto)"
        );
    }
    let config = fast_retries(StoreConfig::with_backend(StoreBackend::S3 {
        bucket: bucket.clone(),
        endpoint: Some(endpoint),
        region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        allow_http: true,
        virtual_hosted_style: false,
        credentials: S3Credentials::Environment,
    }));
    let store = Store::open(&config).expect("open the S3 store");
    (Guard::Bucket(bucket), store)
}

/// Deterministic pseudo-random bytes (xorshift), so large blobs are not trivially compressible
/// and a mix-up of two blobs is visible.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Generates one `#[tokio::test]` per suite body for a backend constructor.
#[macro_export]
macro_rules! store_suite {
    ($open:path) => {
        $crate::store_suite!(@tests $open;
            round_trips_every_key,
            round_trips_structured_objects,
            round_trips_a_large_blob,
            not_found_and_corrupt_are_distinct,
            wrong_kind_is_refused,
            unsupported_payload_version_is_refused,
            overwrite_is_idempotent,
            lists_and_deletes,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_guard, store) = $open().await;
                common::suite::$name(&store).await;
            }
        )*
    };
}
