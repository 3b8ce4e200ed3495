//! Push mode: `POST /submit_request_for_proofs` and `POST /poll_generated_proofs`.

use reqwest::StatusCode;
use serde_json::{json, Value};
use zkfleet_gateway::TokenAuth;
use zkfleet_store::{ObjectKey, WitnessInputBytes};
use zkfleet_types::api::{PollGeneratedProofsResponse, ProofGenerationData};
use zkfleet_types::{HashDigest, JobStatus, ProtocolSemanticVersion, ProtocolVersion, VkDigest};

use crate::harness::{
    batch_id, final_proof, finish_compression, fleet_version, gateway_config,
    prove_until_compression, submission, verifier_config, RunningGateway, TestEnv, V1,
};

const SUBMIT: &str = "/submit_request_for_proofs";
const POLL: &str = "/poll_generated_proofs";

/// POSTs `body` (any JSON) and returns the status and the JSON answer.
pub async fn post(gateway: &RunningGateway, path: &str, body: &Value) -> (StatusCode, Value) {
    post_with(gateway, path, body, None).await
}

pub async fn post_with(
    gateway: &RunningGateway,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(gateway.url(path)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request reaches the gateway");
    let status = response.status();
    let text = response.text().await.expect("response body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {status} {text:?}"));
    (status, value)
}

pub fn to_json(data: &ProofGenerationData) -> Value {
    serde_json::to_value(data).expect("serialize submission")
}

fn error_of(answer: &Value) -> &str {
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {answer}"))
}

async fn start(env: &TestEnv) -> RunningGateway {
    RunningGateway::start(env.state(&gateway_config(), TokenAuth::disabled())).await
}

/// Nothing reached the database or the store.
pub async fn assert_untouched(env: &TestEnv) {
    assert!(env.dal.protocol_versions().await.unwrap().is_empty());
    assert!(!env.dal.batch_status(batch_id(1)).await.unwrap().exists());
    assert_eq!(env.stored_files(), Vec::<String>::new());
}

pub async fn submit_stores_the_input_and_inserts_the_batch(env: &TestEnv) {
    let gateway = start(env).await;
    let input = b"batch one, version 1 encoding".to_vec();
    let (status, answer) = post(&gateway, SUBMIT, &to_json(&submission(1, &input))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "newly_inserted": true }));

    let key = ObjectKey::WitnessInput {
        chain: batch_id(1).chain_id,
        batch: batch_id(1).batch_number,
    };
    assert_eq!(env.stored_files(), ["witness_inputs/270/1.bin"]);
    let stored: WitnessInputBytes = env.store.get(&key).await.unwrap();
    assert_eq!(stored.0.as_ref(), input.as_slice());
    assert_eq!(
        env.dal.protocol_version(V1).await.unwrap(),
        Some(fleet_version())
    );
    let row = env
        .dal
        .batch_status(batch_id(1))
        .await
        .unwrap()
        .witness_input
        .expect("the batch row");
    assert_eq!(row.status, JobStatus::Queued);
    assert_eq!(row.protocol_version, V1);
    assert_eq!(
        row.input_blob_key.as_deref(),
        Some("witness_inputs/270/1.bin")
    );
    assert_eq!(row.batch_sealed_at, submission(1, &input).batch_sealed_at);
    // A witness generator can pick it.
    let job = env.dal.pick_basic_witness_job(V1, "bwg").await.unwrap();
    assert_eq!(job.map(|j| j.meta.batch), Some(batch_id(1)));
}

pub async fn resubmission_is_idempotent_and_changes_nothing(env: &TestEnv) {
    let gateway = start(env).await;
    let body = to_json(&submission(1, b"the input"));
    assert_eq!(
        post(&gateway, SUBMIT, &body).await,
        (StatusCode::OK, json!({ "newly_inserted": true }))
    );
    let blob = env.store_root.join("witness_inputs/270/1.bin");
    let modified = std::fs::metadata(&blob).unwrap().modified().unwrap();
    let row = env
        .dal
        .batch_status(batch_id(1))
        .await
        .unwrap()
        .witness_input;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    for _ in 0..2 {
        assert_eq!(
            post(&gateway, SUBMIT, &body).await,
            (StatusCode::OK, json!({ "newly_inserted": false }))
        );
    }
    assert_eq!(
        std::fs::metadata(&blob).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(
        env.dal
            .batch_status(batch_id(1))
            .await
            .unwrap()
            .witness_input,
        row
    );
    assert_eq!(env.stored_files(), ["witness_inputs/270/1.bin"]);
}

pub async fn conflicting_resubmission_is_refused_with_409(env: &TestEnv) {
    let v2 = ProtocolVersion {
        version: ProtocolSemanticVersion::new(2, 0),
        recursion_tree_vk_digest: VkDigest(HashDigest([31, 32, 33, 34])),
        final_vk_digest: VkDigest(HashDigest([41, 42, 43, 44])),
    };
    let mut config = gateway_config();
    config.protocol_versions.push(v2);
    let gateway = RunningGateway::start(env.state(&config, TokenAuth::disabled())).await;
    let first = submission(1, b"first input");
    assert_eq!(
        post(&gateway, SUBMIT, &to_json(&first)).await.0,
        StatusCode::OK
    );

    let (status, answer) = post(&gateway, SUBMIT, &to_json(&submission(1, b"other input"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(
        error_of(&answer),
        "batch 1 of chain 270 was already submitted with a different witness_input"
    );

    let mut other_version = first.clone();
    other_version.protocol_version = v2.version;
    other_version.l1_verifier_config = verifier_config(&v2);
    let (status, answer) = post(&gateway, SUBMIT, &to_json(&other_version)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        error_of(&answer).contains("under protocol version 0.1.0, not 0.2.0"),
        "{answer}"
    );

    // The first submission stands.
    let stored: WitnessInputBytes = env
        .store
        .get(&ObjectKey::WitnessInput {
            chain: batch_id(1).chain_id,
            batch: batch_id(1).batch_number,
        })
        .await
        .unwrap();
    assert_eq!(stored.0.as_ref(), b"first input");
    assert_eq!(env.dal.protocol_version(v2.version).await.unwrap(), None);
}

pub async fn oversized_bodies_and_inputs_are_refused_with_413(env: &TestEnv) {
    let gateway = start(env).await;
    // The body limit is 64 KiB: a 70 KiB input is about 93 KiB of base64.
    let (status, answer) = post(
        &gateway,
        SUBMIT,
        &to_json(&submission(1, &vec![7u8; 70 * 1024])),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(error_of(&answer), "request body too large");

    // Within the body limit but over the 32 KiB input limit.
    let (status, answer) = post(
        &gateway,
        SUBMIT,
        &to_json(&submission(1, &vec![7u8; 40 * 1024])),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(
        error_of(&answer),
        "witness_input is 40960 bytes, more than the limit of 32768 bytes"
    );
    assert_untouched(env).await;

    // At the limit it passes.
    let (status, answer) = post(
        &gateway,
        SUBMIT,
        &to_json(&submission(1, &vec![7u8; 32 * 1024])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

pub async fn malformed_requests_are_refused_with_a_message(env: &TestEnv) {
    let gateway = start(env).await;
    let client = reqwest::Client::new();

    // Not JSON at all.
    let response = client
        .post(gateway.url(SUBMIT))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert!(
        error_of(&answer).contains("Failed to parse the request body as JSON"),
        "{answer}"
    );

    // Not declared as JSON.
    let response = client
        .post(gateway.url(SUBMIT))
        .header("content-type", "text/plain")
        .body(to_json(&submission(1, b"x")).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let answer: Value = response.json().await.unwrap();
    assert!(error_of(&answer).contains("application/json"), "{answer}");

    // JSON of the wrong shape: the field is named.
    let mut body = to_json(&submission(1, b"x"));
    body.as_object_mut().unwrap().remove("l1_batch_id");
    let (status, answer) = post(&gateway, SUBMIT, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&answer).contains("missing field `l1_batch_id`"),
        "{answer}"
    );

    let mut body = to_json(&submission(1, b"x"));
    body["witness_input"] = json!("not base64!");
    let (status, answer) = post(&gateway, SUBMIT, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&answer).contains("invalid base64"), "{answer}");

    let mut body = to_json(&submission(1, b"x"));
    body["protocol_version"] = json!("1.0.0");
    let (status, answer) = post(&gateway, SUBMIT, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&answer).contains("major version must be 0"),
        "{answer}"
    );

    let mut body = to_json(&submission(1, b"x"));
    body["l1_batch_id"]["chain_id"] = json!(u64::MAX);
    let (status, answer) = post(&gateway, SUBMIT, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&answer).contains("chain_id 18446744073709551615 is out of range"),
        "{answer}"
    );

    let (status, answer) = post(&gateway, SUBMIT, &to_json(&submission(1, b""))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(&answer), "witness_input is empty");

    let (status, answer) = post(&gateway, POLL, &json!({ "batch": 1 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&answer).contains("missing field `l1_batch_id`"),
        "{answer}"
    );

    assert_untouched(env).await;
}

pub async fn unknown_versions_and_mismatched_digests_are_refused(env: &TestEnv) {
    let gateway = start(env).await;
    let mut unknown = submission(1, b"x");
    unknown.protocol_version = ProtocolSemanticVersion::new(9, 0);
    let (status, answer) = post(&gateway, SUBMIT, &to_json(&unknown)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&answer),
        "protocol_version 0.9.0 is not one this fleet can prove (it proves: 0.1.0)"
    );

    let mut mismatched = submission(1, b"x");
    let wrong = VkDigest(HashDigest([99, 0, 0, 0]));
    mismatched.l1_verifier_config.final_vk_digest = wrong;
    let (status, answer) = post(&gateway, SUBMIT, &to_json(&mismatched)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = error_of(&answer);
    assert!(
        message.contains(&format!("submitted final_vk_digest {wrong}")),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "the fleet's are final_vk_digest {}",
            fleet_version().final_vk_digest
        )),
        "{message}"
    );
    assert_untouched(env).await;
}

pub async fn poll_answers_null_until_the_proof_is_ready_then_the_proof(env: &TestEnv) {
    let gateway = start(env).await;
    let batch = batch_id(1);
    let poll = json!({ "l1_batch_id": batch });

    let (status, answer) = post(&gateway, POLL, &poll).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        error_of(&answer),
        "batch 1 of chain 270 was never submitted"
    );

    assert_eq!(
        post(&gateway, SUBMIT, &to_json(&submission(1, b"input")))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        post(&gateway, POLL, &poll).await,
        (StatusCode::OK, Value::Null)
    );
    prove_until_compression(env, batch).await;
    assert_eq!(
        post(&gateway, POLL, &poll).await,
        (StatusCode::OK, Value::Null)
    );
    finish_compression(env, batch).await;

    let expected = PollGeneratedProofsResponse {
        l1_batch_id: batch,
        proof: final_proof(batch),
    };
    for _ in 0..2 {
        let (status, answer) = post(&gateway, POLL, &poll).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let answer: PollGeneratedProofsResponse = serde_json::from_value(answer).unwrap();
        assert_eq!(answer, expected);
        let compression = env
            .dal
            .batch_status(batch)
            .await
            .unwrap()
            .compression
            .unwrap();
        assert_eq!(compression.status, JobStatus::SentToServer);
    }
}

pub async fn concurrent_submissions_of_one_batch_insert_it_once(env: &TestEnv) {
    let gateway = start(env).await;
    let same = to_json(&submission(1, b"the input"));
    let different = to_json(&submission(1, b"another input"));
    let requests = (0..8).map(|i| {
        let body = if i % 4 == 3 { &different } else { &same };
        post(&gateway, SUBMIT, body)
    });
    let answers = futures::future::join_all(requests).await;
    let inserted: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, answer)| answer)
        .filter(|answer| answer["newly_inserted"] == json!(true))
        .collect();
    assert_eq!(inserted.len(), 1, "{answers:?}");
    // Whichever input won, every submission of the other one is a conflict, and the stored
    // blob is the winner's.
    let stored: WitnessInputBytes = env
        .store
        .get(&ObjectKey::WitnessInput {
            chain: batch_id(1).chain_id,
            batch: batch_id(1).batch_number,
        })
        .await
        .unwrap();
    let winner = if stored.0.as_ref() == b"the input" {
        6
    } else {
        2
    };
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let conflicts = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflicts), (winner, 8 - winner), "{answers:?}");
}
