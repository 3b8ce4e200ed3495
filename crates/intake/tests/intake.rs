//! Intake on its own: the checks (no database), and submit on an embedded SQLite database and
//! a local-directory store (the races across processes are the gateway's and the DAL's
//! conformance suites).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use chrono::Utc;
use zkfleet_dal::Dal;
use zkfleet_intake::{
    check_witness_input, submit, unwrap_stored_input, Accepted, InputError, IntakeError,
    IntakeErrorKind, Submission,
};
use zkfleet_rollup::generate::{generate, GeneratorConfig, InvalidKind};
use zkfleet_rollup::witness_input::BatchWitnessInput;
use zkfleet_store::codec::{self, BlobKind};
use zkfleet_store::{ContentDigest, ObjectKey, Store, StoreConfig, WitnessInputBytes};
use zkfleet_types::{
    BatchNumber, ChainId, HashDigest, JobStatus, L1BatchId, ProtocolSemanticVersion,
    ProtocolVersion, VkDigest,
};

const V1: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);

fn batch(number: u32) -> L1BatchId {
    L1BatchId::new(ChainId(270), BatchNumber(number))
}

fn input(number: u32, seed: u64, invalid: Option<InvalidKind>, operations: usize) -> Vec<u8> {
    let generated = generate(&GeneratorConfig {
        accounts: 3,
        operations,
        seed,
        tree_height: 2,
        chain_id: ChainId(270),
        batch_number: BatchNumber(number),
        invalid,
    })
    .expect("generate");
    BatchWitnessInput::from_genesis(&generated.batch, &generated.genesis)
        .expect("input")
        .encode()
        .expect("encode")
}

#[test]
fn checks_refuse_what_can_never_be_proven() {
    let valid = input(1, 1, None, 3);
    let checked = check_witness_input(batch(1), &valid).expect("a valid input");
    assert_eq!(checked.batch, batch(1));
    assert_eq!(checked.operations, 3);
    assert_eq!(checked.digest, ContentDigest::of(&valid));

    let refused = |bytes: &[u8], expected: &str| {
        let err = check_witness_input(batch(1), bytes).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} lacks {expected:?}"
        );
        err
    };
    assert!(matches!(refused(&[], "empty"), InputError::Empty));
    refused(b"random bytes, not an input", "not a valid witness input");
    refused(&valid[..valid.len() - 7], "not a valid witness input");
    assert!(matches!(
        refused(
            &input(2, 1, None, 3),
            "holds batch 2 of chain 270, not batch 1"
        ),
        InputError::WrongBatch { .. }
    ));
    refused(
        &input(1, 1, Some(InvalidKind::BadSignature), 3),
        "invalid signature",
    );
    refused(
        &input(1, 1, Some(InvalidKind::InsufficientBalance), 3),
        "insufficient balance",
    );
    refused(&input(1, 1, Some(InvalidKind::Nonce), 3), "nonce");
}

#[test]
fn a_stored_envelope_unwraps_to_the_input() {
    let valid = input(1, 1, None, 3);
    assert_eq!(unwrap_stored_input(&valid).unwrap(), valid.as_slice());
    let envelope = codec::encode(BlobKind::WitnessInput, 1, &valid);
    assert_eq!(unwrap_stored_input(&envelope).unwrap(), valid.as_slice());
    let proof = codec::encode(BlobKind::Proof, 1, &valid);
    let err = unwrap_stored_input(&proof).unwrap_err();
    assert!(err.to_string().contains("proof"), "{err}");
    let mut damaged = envelope.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    assert!(unwrap_stored_input(&damaged).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_inserts_once_refuses_conflicts_and_restores_a_lost_blob() {
    let dir = tempfile::tempdir().unwrap();
    let dal = Dal::connect(&format!(
        "sqlite://{}",
        dir.path().join("db.sqlite").display()
    ))
    .await
    .unwrap();
    let store = Store::open(&StoreConfig::local(dir.path().join("store"))).unwrap();
    let (first, second) = (input(1, 1, None, 3), input(1, 2, None, 3));
    let submission = |bytes: &'static [u8], version| Submission {
        batch: batch(1),
        protocol_version: version,
        witness_input: bytes,
        priority: 0,
        batch_sealed_at: Utc::now(),
    };
    let first: &'static [u8] = Box::leak(first.into_boxed_slice());
    let second: &'static [u8] = Box::leak(second.into_boxed_slice());

    // No version yet: refused, nothing stored.
    let err = submit(&dal, &store, submission(first, V1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntakeError::UnknownProtocolVersion(v) if v == V1),
        "{err}"
    );
    dal.insert_protocol_version(&ProtocolVersion {
        version: V1,
        recursion_tree_vk_digest: VkDigest(HashDigest([1, 2, 3, 4])),
        final_vk_digest: VkDigest(HashDigest([5, 6, 7, 8])),
    })
    .await
    .unwrap();

    let accepted = submit(&dal, &store, submission(first, V1)).await.unwrap();
    let Accepted::Inserted { key, .. } = accepted else {
        panic!("{accepted:?}")
    };
    assert_eq!(
        key,
        ObjectKey::WitnessInputContent {
            chain: ChainId(270),
            batch: BatchNumber(1),
            digest: ContentDigest::of(first),
        }
    );
    let row = dal.submitted_batch(batch(1)).await.unwrap().unwrap();
    assert_eq!(row.witness_input_blob_key, key.path());
    assert_eq!(
        row.witness_input_digest,
        Some(ContentDigest::of(first).to_hex())
    );

    // The same again: already known, with the job's state.
    let again = submit(&dal, &store, submission(first, V1)).await.unwrap();
    assert!(
        matches!(
            again,
            Accepted::AlreadyKnown {
                status: JobStatus::Queued,
                ..
            }
        ),
        "{again:?}"
    );
    // Another input: a conflict, and its blob is not written.
    let err = submit(&dal, &store, submission(second, V1))
        .await
        .unwrap_err();
    assert!(matches!(err, IntakeError::ConflictingInput { .. }), "{err}");
    assert_eq!(err.kind(), IntakeErrorKind::Conflict);
    let other_key = ObjectKey::WitnessInputContent {
        chain: ChainId(270),
        batch: BatchNumber(1),
        digest: ContentDigest::of(second),
    };
    assert!(!store.exists(&other_key).await.unwrap());
    // Another version: a conflict too.
    let err = submit(
        &dal,
        &store,
        submission(first, ProtocolSemanticVersion::new(2, 0)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, IntakeError::ConflictingVersion { .. }),
        "{err}"
    );

    // The blob is lost (a wiped bucket): the same input puts it back; another cannot.
    store.delete(&key).await.unwrap();
    let err = submit(&dal, &store, submission(second, V1))
        .await
        .unwrap_err();
    assert!(matches!(err, IntakeError::ConflictingInput { .. }), "{err}");
    assert!(!store.exists(&key).await.unwrap());
    submit(&dal, &store, submission(first, V1)).await.unwrap();
    let restored: WitnessInputBytes = store.get(&key).await.unwrap();
    assert_eq!(restored.0.as_ref(), first);

    // An invalid input is refused before anything is read or written.
    let invalid: &'static [u8] =
        Box::leak(input(2, 1, Some(InvalidKind::InsufficientBalance), 3).into_boxed_slice());
    let err = submit(
        &dal,
        &store,
        Submission {
            batch: batch(2),
            ..submission(invalid, V1)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), IntakeErrorKind::Unprocessable, "{err}");
    assert_eq!(dal.submitted_batch(batch(2)).await.unwrap(), None);
}
