//! Backends for the store test suites: a temporary local directory and the S3-compatible server
//! named by `ZKFLEET_TEST_S3_ENDPOINT`, each behind the same `Store` API.

#![allow(dead_code)] // each test binary uses part of this module

pub(crate) mod suite;

use zkfleet_store::{Store, StoreConfig};
use zkfleet_test_support::store::S3Bucket;

/// Keeps a backend's resources alive for the duration of a test.
pub(crate) enum Guard {
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

pub(crate) async fn local_store() -> (Guard, Store) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    // A root that does not exist yet: opening the store creates it.
    let config = fast_retries(StoreConfig::local(dir.path().join("artifacts")));
    let store = Store::open(&config).expect("open the local store");
    (Guard::Dir(dir), store)
}

/// A fresh bucket per test (the shared test support's), so tests run in parallel and leave
/// each other alone.
pub(crate) async fn s3_store() -> (Guard, Store) {
    let bucket = S3Bucket::create("store-test").await;
    let store = Store::open(&fast_retries(bucket.config())).expect("open the S3 store");
    (Guard::Bucket(bucket.bucket), store)
}

/// Deterministic pseudo-random bytes (xorshift), so large blobs are not trivially compressible
/// and a mix-up of two blobs is visible.
pub(crate) fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
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
