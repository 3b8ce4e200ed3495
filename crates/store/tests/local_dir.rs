//! The store suite against a local directory (the embedded default).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

// In a module of the backend's name, so the output names the backend (`local_dir::…`).
mod local_dir {
    use super::common;
    use super::common::local_store;

    crate::store_suite!(local_store);
}

/// Damage done to the file on disk, behind the store's back (bit rot, a partial copy).
#[tokio::test]
async fn damage_on_disk_is_reported_as_corrupt() {
    use zkfleet_store::{DecodeError, ObjectKey, ProofBytes, Store, StoreConfig, StoreError};
    use zkfleet_types::{ids::ProverJobId, ChainId};

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&StoreConfig::local(dir.path())).expect("open");
    let key = ObjectKey::Proof {
        chain: ChainId(1),
        job: ProverJobId(5),
    };
    store
        .put(&key, &ProofBytes::new(vec![42u8; 4096]))
        .await
        .expect("put");
    let file = dir.path().join(key.path());
    let mut bytes = std::fs::read(&file).expect("the blob is a file at root/{key}");
    bytes[100] ^= 0xFF;
    std::fs::write(&file, &bytes).expect("write");
    match store.get::<ProofBytes>(&key).await {
        Err(StoreError::Corrupt {
            reason: DecodeError::ChecksumMismatch { .. },
            ..
        }) => {}
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    std::fs::write(&file, &bytes[..1000]).expect("truncate");
    match store.get::<ProofBytes>(&key).await {
        Err(StoreError::Corrupt {
            reason: DecodeError::Truncated { found: 1000, .. },
            ..
        }) => {}
        other => panic!("expected truncated, got {other:?}"),
    }
}
