//! The sequencer's bookkeeping without circuits: ordering, duplicates, every refusal, restart
//! resumption and crash recovery, pull-mode hand-out and the HTTP answers.
//!
//! Proofs here are checked by [`FakeVerifier`]: a "proof" is `FAKE` followed by the JSON of the
//! output it attests, anything else is rejected. The real cryptographic check (the final
//! verifying key) is exercised by the end-to-end tests of `zkfleet-cli` (tests/sequencer.rs),
//! which submit real and tampered final proofs.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use zkfleet_rollup::witness_input::BatchWitnessInput;
use zkfleet_sequencer::{
    Acceptance, ChainParameters, ProofVerifier, Refusal, Sequencer, SequencerConfig,
    SequencerError, SubmitError, VerifierError,
};
use zkfleet_types::api::{Base64Bytes, FinalProof, ProofGenerationDataResponse};
use zkfleet_types::{
    BatchNumber, BatchPublicOutput, ChainId, HashDigest, ProtocolSemanticVersion, VkDigest,
};

const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
const TREE_DIGEST: VkDigest = VkDigest(HashDigest([11, 12, 13, 14]));

struct FakeVerifier;

impl ProofVerifier for FakeVerifier {
    fn verify(&self, proof: &[u8]) -> Result<BatchPublicOutput, VerifierError> {
        let json = proof
            .strip_prefix(b"FAKE")
            .ok_or_else(|| VerifierError::Rejected("not a fake proof".into()))?;
        serde_json::from_slice(json).map_err(|e| VerifierError::Rejected(e.to_string()))
    }

    fn key_digest(&self) -> VkDigest {
        VkDigest(HashDigest([1, 2, 3, 4]))
    }
}

fn params() -> ChainParameters {
    ChainParameters {
        chain_id: ChainId(270),
        protocol_version: VERSION,
        tree_height: 2,
        recursion_tree_vk_digest: TREE_DIGEST,
    }
}

fn config() -> SequencerConfig {
    SequencerConfig {
        accounts: 3,
        operations_per_batch: 2,
        seed: 9,
        ..SequencerConfig::default()
    }
}

fn open_with(dir: &Path, config: SequencerConfig) -> Result<Sequencer, SequencerError> {
    Sequencer::open(dir.to_owned(), config, params(), Arc::new(FakeVerifier))
}

fn open(dir: &Path) -> Sequencer {
    open_with(dir, config()).expect("open the sequencer")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A fake proof attesting `output`, sent with `output` as its claimed output.
fn proof_of(output: &BatchPublicOutput) -> FinalProof {
    let mut bytes = b"FAKE".to_vec();
    bytes.extend(serde_json::to_vec(output).expect("json"));
    FinalProof {
        protocol_version: VERSION,
        public_output: *output,
        proof: Base64Bytes(bytes),
    }
}

async fn produce(sequencer: &Sequencer, n: u32) -> Vec<BatchPublicOutput> {
    let mut outputs = Vec::new();
    for _ in 0..n {
        let record = sequencer
            .produce_if_due()
            .await
            .expect("produce")
            .expect("a batch is due");
        outputs.push(record.expected_output);
    }
    outputs
}

fn refusal(result: Result<Acceptance, SubmitError>) -> Refusal {
    match result {
        Err(SubmitError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn proofs_are_accepted_in_order_and_every_bad_one_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rt = runtime();
    rt.block_on(async {
        let sequencer = open(tmp.path());
        let outputs = produce(&sequencer, 3).await;
        for (i, out) in outputs.iter().enumerate() {
            assert_eq!(out.batch_number, BatchNumber(i as u32 + 1));
            assert_eq!(out.recursion_tree_vk_digest, TREE_DIGEST.0);
            if i > 0 {
                assert_eq!(out.prev_state_root, outputs[i - 1].new_state_root);
            }
        }
        let before = sequencer.status().await.expect("status");
        assert_eq!(before.latest_produced_batch, 3);
        assert_eq!(before.latest_proven_batch, 0);
        assert_eq!(before.proven_state_root, before.genesis_state_root);
        assert_eq!(before.proven_state_root, outputs[0].prev_state_root);

        // Batch 2 before batch 1: refused, valid as it is.
        let r = refusal(sequencer.submit_proof(2, &proof_of(&outputs[1])).await);
        assert!(
            matches!(
                r,
                Refusal::OutOfOrder {
                    number: 2,
                    next: 1,
                    ..
                }
            ),
            "{r}"
        );
        // Not a proof.
        let mut garbage = proof_of(&outputs[0]);
        garbage.proof.0[0] ^= 1;
        let r = refusal(sequencer.submit_proof(1, &garbage).await);
        assert_eq!(r.reason(), "invalid_proof", "{r}");
        // A valid proof of another output (another new state root).
        let mut other = outputs[0];
        other.new_state_root = HashDigest([7, 7, 7, 7]);
        let r = refusal(sequencer.submit_proof(1, &proof_of(&other)).await);
        assert!(matches!(r, Refusal::WrongOutput { .. }), "{r}");
        assert!(r.to_string().contains("new_state_root"), "{r}");
        // The right proof, sent beside an output it does not attest.
        let mut claimed = proof_of(&outputs[0]);
        claimed.public_output.deposits_consumed += 1;
        let r = refusal(sequencer.submit_proof(1, &claimed).await);
        assert!(matches!(r, Refusal::ClaimMismatch { .. }), "{r}");
        // Another protocol version, another batch in the path, a batch never produced.
        let mut version = proof_of(&outputs[0]);
        version.protocol_version = ProtocolSemanticVersion::new(2, 0);
        let r = refusal(sequencer.submit_proof(1, &version).await);
        assert_eq!(r.reason(), "wrong_protocol_version");
        let r = refusal(sequencer.submit_proof(3, &proof_of(&outputs[0])).await);
        assert_eq!(r.reason(), "batch_mismatch");
        let r = refusal(sequencer.submit_proof(4, &proof_of(&outputs[0])).await);
        assert!(
            matches!(
                r,
                Refusal::UnknownBatch {
                    number: 4,
                    latest: 3
                }
            ),
            "{r}"
        );

        let after_refusals = sequencer.status().await.expect("status");
        assert_eq!(after_refusals.proofs_refused, 7);
        assert_eq!(after_refusals.proofs_accepted, 0);
        assert_eq!(after_refusals.latest_proven_batch, 0);
        assert_eq!(after_refusals.proven_state_root, before.proven_state_root);

        // In order: each acceptance moves the proven root to the batch's new root.
        for (i, out) in outputs.iter().enumerate() {
            let n = i as u32 + 1;
            let outcome = sequencer
                .submit_proof(n, &proof_of(out))
                .await
                .expect("accepted");
            assert_eq!(outcome, Acceptance::Accepted);
            let status = sequencer.status().await.expect("status");
            assert_eq!(status.latest_proven_batch, n);
            assert_eq!(status.proven_state_root, out.new_state_root);
        }
        // A duplicate of a proven batch: success, nothing moves, nothing counted.
        let again = sequencer.submit_proof(1, &proof_of(&outputs[0])).await;
        assert_eq!(again.expect("idempotent"), Acceptance::AlreadyProven);
        let status = sequencer.status().await.expect("status");
        assert_eq!(status.proofs_accepted, 3);
        assert_eq!(status.latest_proven_batch, 3);
        assert_eq!(status.proven_state_root, outputs[2].new_state_root);
        // A duplicate that does not verify is still refused.
        let r = refusal(sequencer.submit_proof(1, &garbage).await);
        assert_eq!(r.reason(), "invalid_proof");
    });
}

#[test]
fn a_restart_resumes_and_refuses_another_chain_identity() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rt = runtime();
    let (outputs, status) = rt.block_on(async {
        let sequencer = open(tmp.path());
        let outputs = produce(&sequencer, 2).await;
        sequencer
            .submit_proof(1, &proof_of(&outputs[0]))
            .await
            .expect("accept 1");
        (outputs, sequencer.status().await.expect("status"))
    });
    rt.block_on(async {
        let sequencer = open(tmp.path());
        let reopened = sequencer.status().await.expect("status");
        assert_eq!(reopened.latest_produced_batch, 2);
        assert_eq!(reopened.latest_proven_batch, 1);
        assert_eq!(reopened.proven_state_root, outputs[0].new_state_root);
        assert_eq!(reopened.head_state_root, status.head_state_root);
        // Batch 2 is still acceptable, and batch 3 continues from batch 2's state.
        sequencer
            .submit_proof(2, &proof_of(&outputs[1]))
            .await
            .expect("accept 2 after the restart");
        let third = produce(&sequencer, 1).await;
        assert_eq!(third[0].batch_number, BatchNumber(3));
        assert_eq!(third[0].prev_state_root, outputs[1].new_state_root);
    });
    // The same seed in a fresh directory makes the same batches (nothing random is stored).
    let fresh = tempfile::tempdir().expect("tmp");
    let replay = rt.block_on(async { produce(&open(fresh.path()), 2).await });
    assert_eq!(replay, outputs);
    // Another seed (or chain, or keys) on the same directory is refused, naming both.
    let err = open_with(
        tmp.path(),
        SequencerConfig {
            seed: 10,
            ..config()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, SequencerError::IdentityMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("seed: 10"), "{err}");
}

#[test]
fn an_interrupted_production_is_finished_at_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rt = runtime();
    let head = tmp.path().join("sequencer.json");
    let state = tmp.path().join("state.redb");
    // Crash after the record and the state, before the head.
    let (head_before, state_before, first) = rt.block_on(async {
        let sequencer = open(tmp.path());
        let head_before = std::fs::read(&head).expect("head");
        let state_before = std::fs::read(&state).expect("state");
        let first = produce(&sequencer, 1).await;
        (head_before, state_before, first[0])
    });
    std::fs::write(&head, &head_before).expect("old head");
    rt.block_on(async {
        let status = open(tmp.path()).status().await.expect("status");
        assert_eq!(status.latest_produced_batch, 1);
        assert_eq!(status.head_state_root, first.new_state_root);
    });
    // Crash after the record, before the state and the head: the state is rolled forward.
    std::fs::write(&head, &head_before).expect("old head");
    std::fs::write(&state, &state_before).expect("old state");
    rt.block_on(async {
        let sequencer = open(tmp.path());
        let status = sequencer.status().await.expect("status");
        assert_eq!(status.latest_produced_batch, 1);
        assert_eq!(status.head_state_root, first.new_state_root);
        let second = produce(&sequencer, 1).await;
        assert_eq!(second[0].prev_state_root, first.new_state_root);
    });
}

#[test]
fn pull_mode_hands_each_batch_out_once_per_retry_period_as_a_valid_witness_input() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rt = runtime();
    rt.block_on(async {
        let sequencer = open(tmp.path());
        assert!(sequencer.next_for_prover().await.expect("next").is_none());
        let outputs = produce(&sequencer, 2).await;
        for expected in 1..=2u32 {
            let data = sequencer
                .next_for_prover()
                .await
                .expect("next")
                .expect("a batch");
            assert_eq!(data.l1_batch_id.batch_number, BatchNumber(expected));
            assert_eq!(data.protocol_version, VERSION);
            assert_eq!(
                data.l1_verifier_config.recursion_tree_vk_digest,
                TREE_DIGEST
            );
            // Exactly what the fleet's witness generator reads: batch + pre-state, root checked.
            let prepared = BatchWitnessInput::decode(&data.witness_input.0)
                .expect("decode")
                .prepare()
                .expect("pre-state matches");
            assert_eq!(prepared.batch.number, BatchNumber(expected));
            assert_eq!(prepared.batch.operations.len(), 2);
        }
        assert!(sequencer.next_for_prover().await.expect("next").is_none());
        sequencer
            .submit_proof(1, &proof_of(&outputs[0]))
            .await
            .expect("accept");
        // Proven batches are never handed out again; unproven ones after `handout_retry`.
        let eager = tempfile::tempdir().expect("tmp");
        let eager = open_with(
            eager.path(),
            SequencerConfig {
                handout_retry: Duration::ZERO,
                ..config()
            },
        )
        .expect("open");
        produce(&eager, 1).await;
        for _ in 0..2 {
            let data = eager.next_for_prover().await.expect("next").expect("again");
            assert_eq!(data.l1_batch_id.batch_number, BatchNumber(1));
        }
    });
}

#[test]
fn backpressure_and_max_batches_stop_production() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rt = runtime();
    rt.block_on(async {
        let sequencer = open_with(
            tmp.path(),
            SequencerConfig {
                max_pending_batches: 2,
                max_batches: Some(3),
                ..config()
            },
        )
        .expect("open");
        let outputs = produce(&sequencer, 2).await;
        assert!(sequencer.produce_if_due().await.expect("produce").is_none());
        sequencer
            .submit_proof(1, &proof_of(&outputs[0]))
            .await
            .expect("accept");
        produce(&sequencer, 1).await;
        sequencer
            .submit_proof(2, &proof_of(&outputs[1]))
            .await
            .expect("accept");
        // Pending is 1 again, but batch 3 was the last.
        assert!(sequencer.produce_if_due().await.expect("produce").is_none());
        assert_eq!(
            sequencer
                .status()
                .await
                .expect("status")
                .latest_produced_batch,
            3
        );
    });
}

#[test]
fn the_http_api_answers_the_wire_types_and_clear_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rt = runtime();
    rt.block_on(async {
        let sequencer = Arc::new(
            open_with(
                tmp.path(),
                SequencerConfig {
                    max_request_body_bytes: 4096,
                    ..config()
                },
            )
            .expect("open"),
        );
        let outputs = produce(&sequencer, 1).await;
        let app = zkfleet_sequencer::server::router(
            sequencer.clone(),
            zkfleet_service::TokenAuth::disabled(),
            None,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();

        let data: ProofGenerationDataResponse = http
            .post(format!("{base}/proof_generation_data"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert!(
            matches!(&data, ProofGenerationDataResponse::Success(Some(d)) if d.l1_batch_id.batch_number == BatchNumber(1)),
            "{data:?}"
        );

        // Not JSON: 400 with {"Error": …}.
        let response = http
            .post(format!("{base}/submit_proof/1"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = response.json().await.expect("json");
        assert!(body["Error"].is_string(), "{body}");
        // Not a number in the path: 400.
        let response = http
            .post(format!("{base}/submit_proof/first"))
            .json(&serde_json::json!({"Proof": proof_of(&outputs[0])}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 400);
        // Over the body limit: 413.
        let response = http
            .post(format!("{base}/submit_proof/1"))
            .header("content-type", "application/json")
            .body(vec![b' '; 8192])
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 413);
        // A refused proof: the protocol's {"Error": …}, nothing advanced.
        let mut bad = proof_of(&outputs[0]);
        bad.proof.0.truncate(10);
        let answer: serde_json::Value = http
            .post(format!("{base}/submit_proof/1"))
            .json(&serde_json::json!({"Proof": bad}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert!(
            answer["Error"]
                .as_str()
                .is_some_and(|e| e.contains("does not verify")),
            "{answer}"
        );
        // The good one: "Success".
        let answer: serde_json::Value = http
            .post(format!("{base}/submit_proof/1"))
            .json(&serde_json::json!({"Proof": proof_of(&outputs[0])}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(answer, serde_json::json!("Success"));
        let status: serde_json::Value = http
            .get(format!("{base}/status"))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(status["latest_proven_batch"], 1, "{status}");
        assert_eq!(status["proofs_refused"], 1, "{status}");
        assert_eq!(
            status["proven_state_root"],
            serde_json::to_value(outputs[0].new_state_root).expect("json")
        );
        server.abort();
    });
}
