//! The compressor against a real PostgreSQL job database, a local object store and real
//! circuits: a genuine scheduler proof of a small batch, queued as a compression job through
//! the job database, is compressed into a final proof that decodes, verifies under the final
//! verifying key the keystore wrote, and attests the batch's output; a corrupted scheduler
//! proof, one that cannot be loaded, or a batch output that differs from the aux output, fails
//! the job with a clear error and stores nothing; keys of another digest are refused at start.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use zkfleet_blobs::AuxOutput;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::Keystore;
use zkfleet_compressor::{CancellationToken, CompressionJobMeta, CompressorError};
use zkfleet_dal::{Dal, JobRef, JobSummary};
use zkfleet_runner::RunReport;
use zkfleet_store::{ObjectKey, ProofBytes, Store};
use zkfleet_types::api::FinalProof;
use zkfleet_types::{HashDigest, JobStatus, ProtocolVersion, VkDigest};

use common::*;

/// Generous: the first test of a binary may build the circuits, and tests share two cores.
const TIMEOUT: Duration = Duration::from_secs(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_compresses_a_scheduler_proof_into_a_verifying_final_proof() {
    with_db(|db| async move { compresses_a_scheduler_proof(&db.dal).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_corrupted_scheduler_proof_fails_the_job() {
    with_db(|db| async move { corrupted_scheduler_proof_fails_the_job(&db.dal).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_scheduler_proof_that_cannot_be_loaded_fails_the_job() {
    with_db(|db| async move { unloadable_scheduler_proof_fails_the_job(&db.dal).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_output_other_than_the_aux_output_fails_the_job() {
    with_db(|db| async move { output_mismatch_fails_the_job(&db.dal).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keys_of_another_digest_are_refused() {
    with_db(|db| async move { keys_of_another_digest_are_refused(&db.dal).await }).await;
}

async fn compression_job(dal: &Dal, fixture: &Fixture) -> JobSummary {
    dal.job(JobRef::Compression(fixture.batch()))
        .await
        .expect("read the compression job")
        .expect("the compression job exists")
}

/// Runs the compressor (with the fixture's circuits) until `done`, then cancels it and returns
/// its report. Panics after [`TIMEOUT`].
async fn run_until<F, Fut>(dal: &Dal, store: &Store, mut done: F) -> RunReport<CompressionJobMeta>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let fixture = fixture_async().await;
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(zkfleet_compressor::run_with_circuits(
        dal.clone(),
        store.clone(),
        fixture.circuits.clone(),
        config(),
        cancel.clone(),
    ));
    let started = Instant::now();
    while !done().await {
        if started.elapsed() > TIMEOUT || handle.is_finished() {
            cancel.cancel();
            let outcome = handle.await;
            panic!("the compressor did not get there within {TIMEOUT:?}; it returned {outcome:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cancel.cancel();
    handle
        .await
        .expect("the compressor task panicked")
        .expect("the compressor ran")
}

async fn settled(dal: &Dal, fixture: &Fixture) -> bool {
    matches!(
        compression_job(dal, fixture).await.status,
        JobStatus::Successful | JobStatus::Failed | JobStatus::FailedPermanently
    )
}

fn final_proof_key(fixture: &Fixture) -> ObjectKey {
    let batch = fixture.batch();
    ObjectKey::FinalProof {
        chain: batch.chain_id,
        batch: batch.batch_number,
        protocol_version: VERSION,
    }
}

async fn compresses_a_scheduler_proof(dal: &Dal) {
    let fixture = fixture_async().await;
    let store = local_store();
    let proof_key =
        queue_compression_job(dal, &store.store, fixture, fixture.scheduler_proof.clone()).await;
    let queued = compression_job(dal, fixture).await;
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!(queued.input_blob_key, Some(proof_key.path()));

    let started = Instant::now();
    let report = run_until(dal, &store.store, || settled(dal, fixture)).await;
    let elapsed = started.elapsed();

    let job = compression_job(dal, fixture).await;
    assert_eq!(job.status, JobStatus::Successful, "{job:?}");
    assert_eq!(job.error, None);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.picked_by.as_deref(), Some("test-compressor"));
    assert!(job.time_taken.is_some(), "{job:?}");
    let key = final_proof_key(fixture);
    assert_eq!(job.output_blob_key, Some(key.path()));
    assert_eq!((report.picked, report.succeeded, report.failed), (1, 1, 0));

    // The stored final proof decodes and verifies under the key file the keystore wrote (what
    // a third party holds), attesting the batch's output with the recursion-tree key digest.
    let final_proof: FinalProof = store.store.get(&key).await.expect("the final proof blob");
    assert_eq!(final_proof.protocol_version, VERSION);
    let keystore = Keystore::open(keys_dir()).expect("keystore");
    let vk_bytes = std::fs::read(keystore.final_vk_path(&config().proving_configuration()))
        .expect("the final verifying key file");
    let vk = FinalVerifyingKey::from_pinned_bytes(&vk_bytes, fixture.final_vk_digest())
        .expect("the final verifying key");
    assert_eq!(vk.digest(), fixture.final_vk_digest());
    let attested = vk
        .verify(&final_proof.proof.0)
        .expect("the final proof verifies");
    let mut expected = fixture.executed.public_output;
    expected.recursion_tree_vk_digest = fixture.circuits.scheduler().tree_vk_digest();
    assert_ne!(expected.recursion_tree_vk_digest, HashDigest([0; 4]));
    assert_eq!(attested, expected);
    assert_eq!(final_proof.public_output, expected);
    // Altered proof bytes do not verify.
    let mut tampered = final_proof.proof.0.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    assert!(vk.verify(&tampered).is_err());
    eprintln!(
        "compressed {} in {elapsed:.1?} (job time {:?}); final proof {} bytes",
        fixture.batch(),
        job.time_taken,
        final_proof.proof.0.len()
    );
}

/// Asserts the job failed once with an error naming the job and containing `cause`, and that
/// no final proof was stored.
async fn assert_failed_with(dal: &Dal, store: &TestStore, fixture: &Fixture, cause: &str) {
    let job = compression_job(dal, fixture).await;
    // A refused scheduler proof or a missing aux output fails the same way every time:
    // terminal on the first attempt (issue 15).
    assert_eq!(job.status, JobStatus::FailedPermanently, "{job:?}");
    assert_eq!(job.attempts, 1);
    let error = job.error.as_deref().expect("an error text");
    for part in [
        format!("compression job of {}", fixture.batch()),
        cause.to_owned(),
    ] {
        assert!(error.contains(&part), "error {error:?} lacks {part:?}");
    }
    assert!(!store
        .store
        .exists(&final_proof_key(fixture))
        .await
        .expect("exists"));
}

async fn corrupted_scheduler_proof_fails_the_job(dal: &Dal) {
    let fixture = fixture_async().await;
    let store = local_store();
    // A well-formed blob whose proof bytes are damaged: plonky2 cannot read it as a proof of
    // the scheduler circuit (or it does not verify).
    let mut corrupted = fixture.scheduler_proof.clone();
    let cut = corrupted.len() / 3;
    corrupted.truncate(cut);
    let key = queue_compression_job(dal, &store.store, fixture, corrupted).await;
    let stored: ProofBytes = store.store.get(&key).await.expect("stored");
    assert_eq!(stored.into_bytes().len(), cut);

    let report = run_until(dal, &store.store, || settled(dal, fixture)).await;
    assert_eq!((report.picked, report.succeeded, report.failed), (1, 0, 1));
    assert!(report.left_in_progress.is_empty());
    assert_failed_with(dal, &store, fixture, "compressing the scheduler proof").await;
    assert_failed_with(dal, &store, fixture, "scheduler proof").await;
}

/// The runner's convention for an input that cannot be loaded: a scheduler proof blob cut
/// short on disk (the store's envelope refuses it) goes with its job from picker to saver,
/// which fails the job with the store's error; the runner counts one failed job, not a pick
/// error, and leaves nothing in progress.
async fn unloadable_scheduler_proof_fails_the_job(dal: &Dal) {
    let fixture = fixture_async().await;
    let store = local_store();
    let key =
        queue_compression_job(dal, &store.store, fixture, fixture.scheduler_proof.clone()).await;
    let file = store.file_of(&key);
    let length = std::fs::metadata(&file).expect("the stored proof").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_len(length / 2))
        .expect("truncate the stored proof");

    let report = run_until(dal, &store.store, || settled(dal, fixture)).await;
    assert_eq!(
        (
            report.picked,
            report.succeeded,
            report.failed,
            report.pick_errors,
            report.save_errors
        ),
        (1, 0, 1, 0, 0),
        "{report:?}"
    );
    assert!(report.left_in_progress.is_empty());
    assert_failed_with(dal, &store, fixture, "loading the scheduler proof failed").await;
    assert_failed_with(dal, &store, fixture, &key.path()).await;
    assert_failed_with(dal, &store, fixture, "is corrupt").await;
}

async fn output_mismatch_fails_the_job(dal: &Dal) {
    let fixture = fixture_async().await;
    let store = local_store();
    queue_compression_job(dal, &store.store, fixture, fixture.scheduler_proof.clone()).await;
    // The aux output says another new state root: the genuine final proof attests the real
    // one and must not be stored.
    let batch = fixture.batch();
    let mut other = fixture.executed.public_output;
    other.new_state_root.0[0] ^= 1;
    store
        .store
        .put(
            &ObjectKey::AuxOutput {
                chain: batch.chain_id,
                batch: batch.batch_number,
            },
            &AuxOutput {
                public_output: other,
            },
        )
        .await
        .expect("overwrite the aux output");

    run_until(dal, &store.store, || settled(dal, fixture)).await;
    assert_failed_with(dal, &store, fixture, "batch's aux output").await;
}

async fn keys_of_another_digest_are_refused(dal: &Dal) {
    let fixture = fixture_async().await;
    let store = local_store();
    let other = VkDigest(HashDigest([5, 6, 7, 8]));
    dal.insert_protocol_version(&ProtocolVersion {
        final_vk_digest: other,
        ..fixture.protocol_version()
    })
    .await
    .expect("insert the protocol version");
    let error = zkfleet_compressor::run_with_circuits(
        dal.clone(),
        store.store.clone(),
        fixture.circuits.clone(),
        config(),
        CancellationToken::new(),
    )
    .await
    .expect_err("keys of another digest are refused");
    assert!(
        matches!(error, CompressorError::FinalKeyMismatch { .. }),
        "{error}"
    );
    let message = error.to_string();
    for part in [other.to_string(), fixture.final_vk_digest().to_string()] {
        assert!(message.contains(&part), "{message:?} lacks {part:?}");
    }

    // A version the database does not have, through the public `run` (which loads the
    // circuits from the keystore itself).
    let mut unknown = config();
    unknown.protocol_version = zkfleet_types::ProtocolSemanticVersion::new(9, 0);
    let error = zkfleet_compressor::run(
        dal.clone(),
        store.store.clone(),
        unknown,
        CancellationToken::new(),
    )
    .await
    .expect_err("an unknown version is refused");
    assert!(
        matches!(error, CompressorError::UnknownProtocolVersion(_)),
        "{error}"
    );
    assert!(error.to_string().contains("0.9.0"), "{error}");
}
