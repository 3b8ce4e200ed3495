//! The basic round's outputs, pinned byte for byte: a SHA-256 over everything round 0 leaves
//! for a generated batch (every stored blob as stored, envelope included, and every job row it
//! inserts), against the value the round produced before it was parallelised (issue 18: the
//! round is made faster without changing one byte of its outputs).
//!
//! A change of this digest is a change of what the fleet stores and proves: of the circuits'
//! witnesses, the closed forms, the scheduler's input or the aux output. If such a change is
//! intended (a new witness format, another geometry), say so in its commit and record the new
//! value here; if not, the change is a bug.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use common::{config, generated, TestEnv};
use sha2::{Digest as _, Sha256};
use zkfleet_types::{JobStatus, L1BatchId};

/// The digest of [`round_outputs`] for batch 5 of 24 generated operations at the tests'
/// geometry, computed by the round as of commit 13f88b5 (sequential execution and encoding).
const PINNED: &str = "239bcab185c2a5373d1b9439e40059591ab84e574b4219e667cc1571bd06e5aa";

/// SHA-256 over every blob of the store but the witness input (sorted by path: path, length,
/// bytes as stored) and every job row of the batch (round, circuit, depth, sequence, status,
/// blob key).
async fn round_outputs(env: &TestEnv, id: L1BatchId) -> (String, usize) {
    let status = env.status(id).await;
    let witness = status.witness_input.as_ref().expect("witness job");
    assert_eq!(witness.status, JobStatus::Successful, "{:?}", witness.error);
    let mut hasher = Sha256::new();
    let mut listed = env.store.list("").await.expect("list the store");
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    let mut blobs = 0;
    for object in listed
        .iter()
        .filter(|o| !o.path.starts_with("witness_inputs/"))
    {
        let key = object.key.expect("a zkfleet key");
        let bytes = env.store.get_raw(&key).await.expect("read the blob");
        hasher.update(object.path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        blobs += 1;
    }
    for round in &status.rounds {
        for job in round.prover_jobs.iter().chain(&round.witness_jobs) {
            hasher.update(
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?}\n",
                    round.round,
                    job.circuit_id,
                    job.depth,
                    job.sequence_number,
                    job.status,
                    job.input_blob_key
                )
                .as_bytes(),
            );
        }
    }
    let digest = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (digest, blobs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_round_zero_outputs_are_byte_for_byte_the_pinned_ones() {
    let env = TestEnv::sqlite().await;
    let batch = generated(5, 24, None);
    let id = env.submit(&batch).await;
    env.run_until_done(config(4), &[id]).await;
    let (digest, blobs) = round_outputs(&env, id).await;
    // Circuits of three types, their closed forms, the scheduler's input and the aux output.
    assert!(blobs > 10, "only {blobs} blobs stored");
    assert_eq!(
        digest, PINNED,
        "round 0's outputs changed ({blobs} blobs hashed): see the module documentation"
    );
    env.close().await;
}
