//! JSON and binary batch encodings: round trips, versions, and malformed input giving errors,
//! never panics.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkfleet_rollup::batch::Batch;
use zkfleet_rollup::encoding::binary::{self, EncodeError, MAGIC};
use zkfleet_rollup::encoding::{json, DecodeError};
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_rollup::operation::Operation;

fn sample() -> Batch {
    generate(&GeneratorConfig {
        accounts: 4,
        operations: 12,
        seed: 11,
        tree_height: 2,
        ..GeneratorConfig::default()
    })
    .unwrap()
    .batch
}

#[test]
fn round_trips() {
    let batch = sample();
    let bytes = binary::encode(&batch).unwrap();
    assert_eq!(&bytes[..4], &MAGIC);
    assert_eq!(binary::decode(&bytes).unwrap(), batch);
    let text = json::encode(&batch);
    assert!(text.contains("\"version\": 1"));
    assert_eq!(json::decode(&text).unwrap(), batch);
}

#[test]
fn binary_size_is_compact() {
    let batch = sample();
    let bytes = binary::encode(&batch).unwrap();
    let signed = batch
        .operations
        .iter()
        .filter(|o| o.signature().is_some())
        .count();
    // A signature is 4 + 1 + 133·32 + h·32 bytes; everything else is small.
    let signatures = signed * (5 + 133 * 32 + 2 * 32);
    assert!(
        bytes.len() < signatures + 64 + batch.operations.len() * 80,
        "{} bytes",
        bytes.len()
    );
    assert!(bytes.len() * 2 < json::encode(&batch).len());
}

#[test]
fn versions_and_magic_are_checked() {
    let batch = sample();
    let mut bytes = binary::encode(&batch).unwrap();
    bytes[4] = 2;
    assert_eq!(
        binary::decode(&bytes).unwrap_err(),
        DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    bytes[0] = b'X';
    assert!(matches!(
        binary::decode(&bytes),
        Err(DecodeError::BadMagic { .. })
    ));
    let text = json::encode(&batch).replace("\"version\": 1", "\"version\": 9");
    assert_eq!(
        json::decode(&text).unwrap_err(),
        DecodeError::UnsupportedVersion {
            found: 9,
            supported: 1
        }
    );
    assert!(matches!(
        json::decode("{\"version\": 1}"),
        Err(DecodeError::Json(_))
    ));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = binary::encode(&sample()).unwrap();
    for len in 0..bytes.len() {
        let err = binary::decode(&bytes[..len]).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Truncated { .. } | DecodeError::Invalid { .. }
            ),
            "prefix of {len} bytes: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        binary::decode(&longer).unwrap_err(),
        DecodeError::TrailingBytes {
            offset: bytes.len(),
            count: 1
        }
    );
}

#[test]
fn malformed_fields_are_named() {
    let batch = Batch {
        operations: sample().operations.into_iter().take(1).collect(),
        ..sample()
    };
    let bytes = binary::encode(&batch).unwrap();
    // Header: magic 4, version 2, chain 8, number 4, root 32, operator 4, serial 8, count 4.
    let header = 4 + 2 + 8 + 4 + 32 + 4 + 8;
    let mut huge = bytes.clone();
    huge[header..header + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = binary::decode(&huge).unwrap_err();
    assert!(err.to_string().contains("operation count"), "{err}");

    let mut kind = bytes.clone();
    kind[header + 4] = 9;
    let err = binary::decode(&kind).unwrap_err();
    assert!(
        err.to_string().contains("unknown operation kind 9"),
        "{err}"
    );

    let mut root = bytes.clone();
    root[4 + 2 + 8 + 4..4 + 2 + 8 + 4 + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = binary::decode(&root).unwrap_err();
    assert!(err.to_string().contains("previous state root"), "{err}");
}

/// Random mutations of a valid encoding: decoding returns, with a batch or an error.
#[test]
fn random_mutations_never_panic() {
    let bytes = binary::encode(&sample()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut errors = 0;
    for _ in 0..3_000 {
        let mut m = bytes.clone();
        for _ in 0..rng.gen_range(1..6) {
            let i = rng.gen_range(0..m.len());
            match rng.gen_range(0..4) {
                0 => m[i] = rng.gen(),
                1 => m[i] ^= 1 << rng.gen_range(0..8),
                2 => m.truncate(i),
                _ => m.insert(i, rng.gen()),
            }
            if m.is_empty() {
                break;
            }
        }
        if binary::decode(&m).is_err() {
            errors += 1;
        }
    }
    assert!(
        errors > 1_000,
        "most mutations must be caught, {errors} were"
    );
}

#[test]
fn unrepresentable_batches_are_refused_by_the_encoder() {
    let mut batch = sample();
    let index = batch
        .operations
        .iter()
        .position(|o| o.signature().is_some())
        .unwrap();
    match &mut batch.operations[index] {
        Operation::Transfer(t) => t.signature.chain_values.pop(),
        Operation::Withdraw(w) => w.signature.chain_values.pop(),
        Operation::Deposit(_) => unreachable!(),
    };
    assert_eq!(
        binary::encode(&batch).unwrap_err(),
        EncodeError::ChainValueCount { index, got: 132 }
    );
}
