//! The keystore builds circuit data once, serves it from disk afterwards (without rebuilding,
//! measurably faster), and refuses cached files whose digests do not match.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::fs;

use zkfleet_circuits::basic::priority::{DepositItem, PriorityWitness};
use zkfleet_circuits::basic::{BasicCircuitKind, BasicWitness};
use zkfleet_circuits::keystore::{KeySource, ManifestEntry};
use zkfleet_circuits::{BasicGeometry, CircuitError, CircuitKey, Keystore};
use zkfleet_types::HashDigest;

const GEOMETRY: BasicGeometry = BasicGeometry {
    signatures_per_instance: 1,
    operations_per_instance: 1,
    deposits_per_instance: 4,
    xmss_height: 2,
};

fn witness() -> BasicWitness {
    BasicWitness::PriorityOperations(PriorityWitness {
        deposits_before: HashDigest::ZERO,
        next_priority_serial_before: 41,
        slots: vec![
            DepositItem {
                priority_serial: 41,
                to: 3,
                public_key: Some(HashDigest([1, 2, 3, 4])),
                amount: 500,
            },
            DepositItem {
                priority_serial: 42,
                to: 3,
                public_key: None,
                amount: u64::MAX - 7,
            },
        ],
    })
}

fn key() -> CircuitKey {
    CircuitKey::Basic {
        kind: BasicCircuitKind::PriorityOperations,
        geometry: GEOMETRY,
    }
}

#[test]
fn second_load_comes_from_disk_and_proves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = Keystore::open(dir.path()).expect("open");
    let built = keystore
        .basic_circuit(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect("build");
    assert_eq!(built.source, KeySource::Built);

    // A fresh keystore on the same directory, as another process would open it.
    let reopened = Keystore::open(dir.path()).expect("open");
    let cached = reopened
        .basic_circuit(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect("load");
    assert_eq!(cached.source, KeySource::Cached);
    assert!(
        cached.elapsed < built.elapsed,
        "loading ({:?}) should be faster than building ({:?})",
        cached.elapsed,
        built.elapsed
    );
    assert_eq!(
        cached.circuit.data.verifier_only,
        built.circuit.data.verifier_only
    );
    assert_eq!(cached.circuit.data.common, built.circuit.data.common);

    // The cached data proves, and its proof verifies against the freshly built verifier.
    let proof = cached
        .circuit
        .prove(&witness())
        .expect("prove with cached data");
    built.circuit.verify(proof).expect("verify");

    let manifest: Vec<ManifestEntry> = reopened.manifest().expect("manifest");
    assert_eq!(manifest.len(), 1);
    assert_eq!(manifest[0].key, key());
    assert_eq!(manifest[0].key_digest, key().digest());
    assert_eq!(manifest[0].degree_bits, built.circuit.degree_bits());
}

#[test]
fn tampered_or_foreign_entries_are_refused_until_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = Keystore::open(dir.path()).expect("open");
    keystore
        .build_basic(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect("build");
    let stem = key().file_stem();
    let data_path = dir.path().join(format!("{stem}.bin"));
    let manifest_path = dir.path().join(format!("{stem}.manifest.json"));

    // One flipped byte in the circuit data.
    let original = fs::read(&data_path).expect("read");
    let mut damaged = original.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    fs::write(&data_path, &damaged).expect("write");
    let err = keystore
        .load_basic(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect_err("refused");
    assert!(
        matches!(err, CircuitError::KeystoreDigestMismatch { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&stem),
        "the error names the file: {err}"
    );
    assert!(matches!(
        keystore.check(&key()),
        Err(CircuitError::KeystoreDigestMismatch { .. })
    ));
    // basic_circuit refuses too: it never silently rebuilds over a mismatch.
    assert!(keystore
        .basic_circuit(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .is_err());
    fs::write(&data_path, &original).expect("restore");
    assert_eq!(keystore.check(&key()).expect("intact").key, key());
    assert!(keystore
        .load_basic(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect("load")
        .is_some());

    // A manifest written for another key digest (another build or crate version).
    let text = fs::read_to_string(&manifest_path).expect("read");
    let mut entry: ManifestEntry = serde_json::from_str(&text).expect("json");
    entry.key_digest = "00".repeat(32);
    fs::write(&manifest_path, serde_json::to_string(&entry).expect("json")).expect("write");
    let err = keystore
        .load_basic(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect_err("refused");
    assert!(
        matches!(err, CircuitError::KeystoreDigestMismatch { .. }),
        "{err}"
    );

    // Rebuilding (what `keys generate` does) replaces the entry.
    keystore
        .build_basic(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect("rebuild");
    let loaded = keystore
        .load_basic(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect("load");
    assert!(loaded.is_some());
}

#[test]
fn keys_differ_per_geometry_and_kind() {
    let other_geometry = BasicGeometry {
        deposits_per_instance: 5,
        ..GEOMETRY
    };
    let a = key();
    let b = CircuitKey::Basic {
        kind: BasicCircuitKind::PriorityOperations,
        geometry: other_geometry,
    };
    let c = CircuitKey::Basic {
        kind: BasicCircuitKind::StateTransition,
        geometry: GEOMETRY,
    };
    assert_ne!(a.digest(), b.digest());
    assert_ne!(a.digest(), c.digest());
    assert_ne!(a.file_stem(), b.file_stem());
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = Keystore::open(dir.path()).expect("open");
    assert!(keystore
        .load_basic(BasicCircuitKind::PriorityOperations, &GEOMETRY)
        .expect("empty")
        .is_none());
}
