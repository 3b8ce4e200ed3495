//! Shared setup of the prover API tests: a fresh job database per test (PostgreSQL from
//! `ZKFLEET_TEST_DATABASE_URL`, or a SQLite file), a local object store, the fixture batch's
//! round 0 done by hand, and the circuits of the small test configuration (the keystore shared
//! with the circuit prover's and compressor's tests, `target/tmp/test-keys-small-light`). All of
//! it comes from `zkfleet-test-support`; what is here is the prover API's own use of it.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::{Keystore, ProvingConfiguration};
use zkfleet_types::{ProtocolVersion, VkDigest};

pub(crate) use zkfleet_test_support::basic_round::{batch_id, insert_basic_round, CHAIN, VERSION};
pub(crate) use zkfleet_test_support::database::{Backend, TestDb, DATABASE_URL_VAR};
pub(crate) use zkfleet_test_support::store::local_store;

/// The small test configuration every proving test shares.
pub(crate) const PROVING: ProvingConfiguration = zkfleet_test_support::keys::SMALL;

/// Runs `body` on a fresh database of `backend`, drops the database, re-raises a panic.
pub(crate) async fn with_db<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    zkfleet_test_support::database::with_fresh_db(backend, "pa", 10, body).await;
}

/// The keystore directory shared by every test binary and run.
pub(crate) fn keys_dir() -> PathBuf {
    zkfleet_test_support::small_keys_dir!()
}

/// Every circuit of the small configuration, loaded once per test binary.
pub(crate) fn circuits() -> Arc<BatchCircuits> {
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

/// [`circuits`] from async code: the first call loads (or builds) the circuits, which must not
/// hold a runtime worker thread for minutes.
pub(crate) async fn circuits_async() -> Arc<BatchCircuits> {
    tokio::task::spawn_blocking(circuits)
        .await
        .expect("loading the circuits panicked")
}

/// The protocol version row of the test circuits: their final verifying-key digest.
pub(crate) async fn protocol_version() -> ProtocolVersion {
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
pub(crate) fn fake_version() -> ProtocolVersion {
    ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(Default::default()),
        final_vk_digest: VkDigest(Default::default()),
    }
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
