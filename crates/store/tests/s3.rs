//! The store suite against a real S3-compatible server (moto on loopback, started by
//! scripts/test; `ZKFLEET_TEST_S3_ENDPOINT` names it). Fails when the variable is missing.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

// In a module of the backend's name, so the output names the backend (`s3::…`).
mod s3 {
    use super::common;
    use super::common::s3_store;

    crate::store_suite!(s3_store);
}

/// An unreachable endpoint is a transient backend error, retried and then reported.
#[tokio::test]
async fn unreachable_server_is_a_backend_error_after_retries() {
    use zkfleet_store::config::S3Credentials;
    use zkfleet_store::{ObjectKey, ProofBytes, Store, StoreBackend, StoreConfig, StoreError};
    use zkfleet_types::{ids::ProverJobId, ChainId};

    // Fail loudly without the variable, like every test of this file.
    zkfleet_test_support::store::s3_endpoint();
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut config = StoreConfig::with_backend(StoreBackend::S3 {
        bucket: "nowhere".into(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".into(),
        allow_http: true,
        virtual_hosted_style: false,
        credentials: S3Credentials::Environment,
    });
    config.max_retries = 2;
    config.retry_initial_backoff_ms = 5;
    let store = Store::open(&config).expect("open");
    let key = ObjectKey::Proof {
        chain: ChainId(1),
        job: ProverJobId(1),
    };
    match store.put(&key, &ProofBytes::new(vec![1])).await {
        Err(StoreError::Backend {
            attempts,
            transient,
            ..
        }) => {
            assert!(transient, "connection refused is transient");
            assert_eq!(attempts, 3, "1 attempt + 2 retries");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}
