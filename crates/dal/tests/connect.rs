//! Connecting: URL schemes, SQLite file creation, and errors instead of panics.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use zkfleet_dal::{BackendKind, Dal, DalError, PoolOptions};

#[tokio::test]
async fn unreachable_postgres_is_a_connection_error() {
    let options = PoolOptions {
        acquire_timeout: std::time::Duration::from_secs(2),
        ..PoolOptions::default()
    };
    // Port 1 on loopback: nothing listens there.
    let err = Dal::connect_with("postgres://zkfleet:secret@127.0.0.1:1/zkfleet", &options)
        .await
        .unwrap_err();
    assert!(err.is_connection_error(), "{err:?}");
}

#[tokio::test]
async fn unknown_scheme_is_rejected_without_leaking_the_password() {
    let err = Dal::connect("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(err, DalError::InvalidUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn sqlite_file_is_created_and_migrated_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.db");
    let url = format!("sqlite://{}", path.display());
    let dal = Dal::connect(&url).await.unwrap();
    assert_eq!(dal.backend(), BackendKind::Sqlite);
    assert!(path.exists());
    assert!(dal.protocol_versions().await.unwrap().is_empty());
    // Migrating again is a no-op.
    dal.migrate().await.unwrap();
    dal.close().await;
    // WAL mode leaves its mark on the file header (bytes 18 and 19 are 2 in WAL mode).
    let header = std::fs::read(&path).unwrap();
    assert_eq!((header[18], header[19]), (2, 2));
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let dal = Dal::connect("sqlite::memory:").await.unwrap();
    assert!(dal.queue_report().await.unwrap().is_empty());
}

#[tokio::test]
async fn closed_pool_is_an_error_not_a_panic() {
    let dal = Dal::connect("sqlite::memory:").await.unwrap();
    dal.close().await;
    let err = dal.protocol_versions().await.unwrap_err();
    assert!(err.is_connection_error(), "{err:?}");
}
