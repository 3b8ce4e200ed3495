//! Test bodies shared by every backend.

use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use zkfleet_store::codec::{self, BlobKind, DecodeError};
use zkfleet_store::key::{batch_prefix, chain_prefix};
use zkfleet_store::object::*;
use zkfleet_store::{Bucket, ObjectKey, Store, StoreError, StoredObject};
use zkfleet_types::ids::ProverJobId;
use zkfleet_types::{AggregationRound, BatchNumber, ChainId, CircuitId, ProtocolSemanticVersion};

use super::pseudo_random_bytes;

const CHAIN: ChainId = ChainId(270);
const BATCH: BatchNumber = BatchNumber(42);

fn every_key() -> Vec<ObjectKey> {
    let mut keys = vec![
        ObjectKey::WitnessInput {
            chain: CHAIN,
            batch: BATCH,
        },
        ObjectKey::ClosedFormInputs {
            chain: CHAIN,
            batch: BATCH,
            circuit: CircuitId::SIGNATURE_VERIFICATION,
        },
        ObjectKey::AggregationList {
            chain: CHAIN,
            batch: BATCH,
            circuit: CircuitId::STATE_TRANSITION,
            depth: 1,
        },
        ObjectKey::SchedulerInput {
            chain: CHAIN,
            batch: BATCH,
        },
        ObjectKey::AuxOutput {
            chain: CHAIN,
            batch: BATCH,
        },
        ObjectKey::Proof {
            chain: CHAIN,
            job: ProverJobId(9001),
        },
        ObjectKey::FinalProof {
            chain: CHAIN,
            batch: BATCH,
            protocol_version: ProtocolSemanticVersion::new(1, 0),
        },
        ObjectKey::VerifyingKey {
            protocol_version: ProtocolSemanticVersion::new(1, 0),
            round: AggregationRound::Leaf,
            circuit: CircuitId::PRIORITY_OPERATIONS,
        },
    ];
    for round in AggregationRound::ALL {
        keys.push(ObjectKey::CircuitWitness {
            chain: CHAIN,
            batch: BATCH,
            round,
            circuit: CircuitId::STATE_TRANSITION,
            depth: 0,
            sequence: 3,
        });
    }
    keys
}

async fn round_trip<T: StoredObject + PartialEq + std::fmt::Debug>(
    store: &Store,
    key: &ObjectKey,
    value: T,
) {
    let path = store.put(key, &value).await.expect("put");
    assert_eq!(path, key.path());
    assert!(store.exists(key).await.expect("exists"), "{key}");
    let back: T = store.get(key).await.expect("get");
    assert_eq!(back, value, "{key}");
    // The stored bytes are an envelope of the key's kind.
    let raw = store.get_raw(key).await.expect("get_raw");
    let envelope = codec::inspect(&raw).expect("a valid envelope");
    assert_eq!(envelope.kind, key.kind());
}

async fn round_trip_raw(store: &Store, key: &ObjectKey, bytes: Vec<u8>) {
    match key.kind() {
        BlobKind::WitnessInput => round_trip(store, key, WitnessInputBytes::new(bytes)).await,
        BlobKind::CircuitWitness => round_trip(store, key, CircuitWitnessBytes::new(bytes)).await,
        BlobKind::ClosedFormInputs => {
            round_trip(store, key, ClosedFormInputsBytes::new(bytes)).await
        }
        BlobKind::AggregationList => round_trip(store, key, AggregationListBytes::new(bytes)).await,
        BlobKind::SchedulerInput => round_trip(store, key, SchedulerInputBytes::new(bytes)).await,
        BlobKind::AuxOutput => round_trip(store, key, AuxOutputBytes::new(bytes)).await,
        BlobKind::Proof => round_trip(store, key, ProofBytes::new(bytes)).await,
        BlobKind::FinalProof => round_trip(store, key, FinalProofBytes::new(bytes)).await,
        BlobKind::VerifyingKey => round_trip(store, key, VerifyingKeyBytes::new(bytes)).await,
    }
}

pub(crate) async fn round_trips_every_key(store: &Store) {
    let keys = every_key();
    for (i, key) in keys.iter().enumerate() {
        round_trip_raw(store, key, pseudo_random_bytes(1000 + i, i as u64)).await;
    }
    let listed = store.list("").await.expect("list everything");
    let mut paths: Vec<String> = keys.iter().map(ObjectKey::path).collect();
    paths.sort();
    assert_eq!(
        listed.iter().map(|o| o.path.clone()).collect::<Vec<_>>(),
        paths
    );
    for object in &listed {
        let key = object.key.expect("every listed path parses as a key");
        assert_eq!(key.path(), object.path);
        let index = keys.iter().position(|k| *k == key).expect("a key we wrote");
        assert_eq!(
            object.size,
            (1000 + index + codec::HEADER_LEN + codec::TRAILER_LEN) as u64
        );
    }
}

/// A structured payload, as a witness generator stores its aggregation lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AggregationList {
    pub circuit: u8,
    pub depth: u32,
    pub prover_job_ids: Vec<i64>,
    pub note: Option<String>,
}

impl SerdeObject for AggregationList {
    const KIND: BlobKind = BlobKind::AggregationList;
    const PAYLOAD_VERSION: u16 = 2;
}

/// The same kind, as an older build wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AggregationListV1 {
    pub prover_job_ids: Vec<i64>,
}

impl SerdeObject for AggregationListV1 {
    const KIND: BlobKind = BlobKind::AggregationList;
    const PAYLOAD_VERSION: u16 = 1;
}

fn aggregation_key() -> ObjectKey {
    ObjectKey::AggregationList {
        chain: CHAIN,
        batch: BATCH,
        circuit: CircuitId::STATE_TRANSITION,
        depth: 0,
    }
}

pub(crate) async fn round_trips_structured_objects(store: &Store) {
    let value = AggregationList {
        circuit: 2,
        depth: 0,
        prover_job_ids: (1..=64).map(|i| i * 1_000_003).collect(),
        note: Some("first chunk".into()),
    };
    round_trip(store, &aggregation_key(), value).await;
}

pub(crate) async fn round_trips_a_large_blob(store: &Store) {
    const SIZE: usize = 20 * 1024 * 1024;
    let key = ObjectKey::CircuitWitness {
        chain: CHAIN,
        batch: BATCH,
        round: AggregationRound::Basic,
        circuit: CircuitId::SIGNATURE_VERIFICATION,
        depth: 0,
        sequence: 1,
    };
    let blob = CircuitWitnessBytes::new(pseudo_random_bytes(SIZE, 7));
    let started = Instant::now();
    store.put(&key, &blob).await.expect("put 20 MB");
    let put = started.elapsed();
    let started = Instant::now();
    let back: CircuitWitnessBytes = store.get(&key).await.expect("get 20 MB");
    let get = started.elapsed();
    assert!(back == blob, "20 MB blob differs after the round trip");
    let mb = SIZE as f64 / (1024.0 * 1024.0);
    eprintln!(
        "20 MiB blob: put {put:?} ({:.0} MiB/s), get {get:?} ({:.0} MiB/s)",
        mb / put.as_secs_f64(),
        mb / get.as_secs_f64()
    );
}

fn proof_key() -> ObjectKey {
    ObjectKey::Proof {
        chain: CHAIN,
        job: ProverJobId(77),
    }
}

fn corrupt_reason(result: Result<ProofBytes, StoreError>) -> DecodeError {
    match result {
        Err(StoreError::Corrupt { key, reason }) => {
            assert_eq!(key, proof_key().path());
            reason
        }
        other => panic!("expected a corrupt-blob error, got {other:?}"),
    }
}

pub(crate) async fn not_found_and_corrupt_are_distinct(store: &Store) {
    let key = proof_key();
    match store.get::<ProofBytes>(&key).await {
        Err(StoreError::NotFound { key: k }) => assert_eq!(k, key.path()),
        other => panic!("expected not found, got {other:?}"),
    }
    assert!(!store.exists(&key).await.expect("exists"));

    store
        .put(&key, &ProofBytes::new(pseudo_random_bytes(5000, 1)))
        .await
        .expect("put");
    let good = store.get_raw(&key).await.expect("get_raw");

    // Truncated: an upload cut short.
    store
        .put_raw(&key, good.slice(..good.len() - 100))
        .await
        .expect("put_raw");
    let reason = corrupt_reason(store.get(&key).await);
    assert_eq!(
        reason,
        DecodeError::Truncated {
            expected: good.len() as u64,
            found: good.len() as u64 - 100
        }
    );

    // One flipped bit in the payload.
    let mut flipped = good.to_vec();
    flipped[2500] ^= 0x01;
    store
        .put_raw(&key, Bytes::from(flipped))
        .await
        .expect("put_raw");
    let err = store.get::<ProofBytes>(&key).await.unwrap_err();
    assert!(err.is_corrupt() && !err.is_not_found());
    assert!(
        err.to_string().contains("checksum mismatch"),
        "message names the defect: {err}"
    );

    // Not ours at all.
    store
        .put_raw(&key, Bytes::from_static(b"<Error>NoSuchKey</Error>"))
        .await
        .expect("put_raw");
    assert!(matches!(
        corrupt_reason(store.get(&key).await),
        DecodeError::WrongMagic { .. }
    ));

    // Restoring the good bytes makes it readable again.
    store.put_raw(&key, good).await.expect("put_raw");
    store.get::<ProofBytes>(&key).await.expect("good again");
}

pub(crate) async fn wrong_kind_is_refused(store: &Store) {
    let witness_key = ObjectKey::WitnessInput {
        chain: CHAIN,
        batch: BATCH,
    };
    // A proof envelope under a witness-input key (e.g. a blob copied to the wrong place).
    let proof_blob = codec::encode(BlobKind::Proof, RAW_PAYLOAD_VERSION, b"a proof");
    store
        .put_raw(&witness_key, Bytes::from(proof_blob))
        .await
        .expect("put_raw");
    match store.get::<WitnessInputBytes>(&witness_key).await {
        Err(StoreError::Corrupt { reason, .. }) => assert_eq!(
            reason,
            DecodeError::WrongKind {
                expected: BlobKind::WitnessInput,
                found: BlobKind::Proof
            }
        ),
        other => panic!("expected wrong kind, got {other:?}"),
    }
    // Asking for, or writing, a proof under a witness-input key is refused before any I/O.
    assert!(matches!(
        store.get::<ProofBytes>(&witness_key).await,
        Err(StoreError::KindMismatch {
            key_kind: BlobKind::WitnessInput,
            requested: BlobKind::Proof,
            ..
        })
    ));
    let other_batch = ObjectKey::WitnessInput {
        chain: CHAIN,
        batch: BatchNumber(43),
    };
    let err = store
        .put(&other_batch, &ProofBytes::new(vec![1, 2, 3]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::KindMismatch { .. }), "{err}");
    assert!(!store.exists(&other_batch).await.expect("exists"));
}

pub(crate) async fn unsupported_payload_version_is_refused(store: &Store) {
    let key = aggregation_key();
    store
        .put(
            &key,
            &AggregationListV1 {
                prover_job_ids: vec![1, 2, 3],
            },
        )
        .await
        .expect("put v1");
    match store.get::<AggregationList>(&key).await {
        Err(StoreError::Corrupt { reason, .. }) => assert_eq!(
            reason,
            DecodeError::UnsupportedPayloadVersion {
                kind: BlobKind::AggregationList,
                found: 1,
                supported: 2
            }
        ),
        other => panic!("expected unsupported payload version, got {other:?}"),
    }
}

pub(crate) async fn overwrite_is_idempotent(store: &Store) {
    let key = proof_key();
    let first = ProofBytes::new(pseudo_random_bytes(3000, 11));
    store.put(&key, &first).await.expect("put");
    // A re-executed job writes the same key again: one object, same content.
    store.put(&key, &first).await.expect("put again");
    let prefix = chain_prefix(Bucket::Proofs, CHAIN).expect("chain prefix");
    let listed = store.list(&prefix).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(store.get::<ProofBytes>(&key).await.expect("get"), first);
    // A different result replaces the old one.
    let second = ProofBytes::new(pseudo_random_bytes(2000, 12));
    store.put(&key, &second).await.expect("overwrite");
    assert_eq!(store.get::<ProofBytes>(&key).await.expect("get"), second);
    assert_eq!(store.list(&prefix).await.expect("list").len(), 1);
}

pub(crate) async fn lists_and_deletes(store: &Store) {
    assert!(store
        .list("prover_jobs")
        .await
        .expect("empty list")
        .is_empty());
    let witness = |batch: u32, sequence: u32| ObjectKey::CircuitWitness {
        chain: CHAIN,
        batch: BatchNumber(batch),
        round: AggregationRound::Basic,
        circuit: CircuitId::STATE_TRANSITION,
        depth: 0,
        sequence,
    };
    let batch_42: Vec<ObjectKey> = (1..=5).map(|s| witness(42, s)).collect();
    for key in batch_42
        .iter()
        .chain([witness(4, 1), witness(420, 1)].iter())
    {
        store
            .put(key, &CircuitWitnessBytes::new(key.path().into_bytes()))
            .await
            .expect("put");
    }
    // Another chain's blob must not show up under this chain's prefix.
    let other_chain = ObjectKey::CircuitWitness {
        chain: ChainId(271),
        batch: BATCH,
        round: AggregationRound::Basic,
        circuit: CircuitId::STATE_TRANSITION,
        depth: 0,
        sequence: 1,
    };
    store
        .put(&other_chain, &CircuitWitnessBytes::new(vec![0]))
        .await
        .expect("put");

    let prefix = batch_prefix(Bucket::ProverJobs, CHAIN, BATCH).expect("batch prefix");
    let listed = store.list(&prefix).await.expect("list batch");
    assert_eq!(
        listed.iter().filter_map(|o| o.key).collect::<Vec<_>>(),
        batch_42,
        "exactly batch 42's witnesses, in sequence order"
    );
    // Segment matching: the prefix of batch 4 does not list batches 42 or 420.
    let listed_4 = store.list("prover_jobs/270/4").await.expect("list batch 4");
    assert_eq!(listed_4.len(), 1);
    assert_eq!(listed_4[0].key, Some(witness(4, 1)));
    assert_eq!(store.list("prover_jobs/270").await.expect("list").len(), 7);
    assert_eq!(store.list("prover_jobs").await.expect("list").len(), 8);

    store.delete(&batch_42[0]).await.expect("delete");
    assert!(!store.exists(&batch_42[0]).await.expect("exists"));
    assert!(store
        .get_raw(&batch_42[0])
        .await
        .unwrap_err()
        .is_not_found());
    // Deleting again (a collector re-run) is not an error.
    store.delete(&batch_42[0]).await.expect("delete again");
    store
        .delete(&ObjectKey::Proof {
            chain: CHAIN,
            job: ProverJobId(123),
        })
        .await
        .expect("delete a key never written");
    assert_eq!(store.list(&prefix).await.expect("list").len(), 4);
}
