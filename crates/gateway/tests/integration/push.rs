//! Push mode: `POST /submit_request_for_proofs` and `POST /poll_generated_proofs`.

use reqwest::StatusCode;
use serde_json::{json, Value};
use zkfleet_gateway::TokenAuth;
use zkfleet_store::{ObjectKey, WitnessInputBytes};
use zkfleet_types::api::{PollGeneratedProofsResponse, ProofGenerationData};
use zkfleet_types::{HashDigest, JobStatus, ProtocolSemanticVersion, ProtocolVersion, VkDigest};

use crate::harness::{
    batch_id, final_proof, finish_compression, fleet_version, gateway_config, input, input_key,
    input_with, prove_until_compression, submission, verifier_config, RunningGateway, TestEnv,
    CHAIN, V1,
};

const SUBMIT: &str = "/submit_request_for_proofs";
const POLL: &str = "/poll_generated_proofs";

/// POSTs `body` (any JSON) and returns the status and the JSON answer.
pub(crate) async fn post(
    gateway: &RunningGateway,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    post_with(gateway, path, body, None).await
}

pub(crate) async fn post_with(
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

pub(crate) fn to_json(data: &ProofGenerationData) -> Value {
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
pub(crate) async fn assert_untouched(env: &TestEnv) {
    assert!(env.dal.protocol_versions().await.unwrap().is_empty());
    assert!(!env.dal.batch_status(batch_id(1)).await.unwrap().exists());
    assert_eq!(env.stored_files(), Vec::<String>::new());
}

pub(crate) async fn submit_stores_the_input_and_inserts_the_batch(env: &TestEnv) {
    let gateway = start(env).await;
    let input = input(1, 1);
    let (status, answer) = post(&gateway, SUBMIT, &to_json(&submission(1, &input))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "newly_inserted": true }));

    // Content-addressed: the key names the input's SHA-256.
    let key = input_key(1, &input);
    assert_eq!(env.stored_files(), [key.path()]);
    assert!(key.path().starts_with("witness_inputs/270/1/"), "{key}");
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
    assert_eq!(row.input_blob_key, Some(key.path()));
    assert_eq!(row.batch_sealed_at, submission(1, &input).batch_sealed_at);
    // A witness generator can pick it.
    let job = env.dal.pick_basic_witness_job(V1, "bwg").await.unwrap();
    assert_eq!(job.map(|j| j.meta.batch), Some(batch_id(1)));
}

pub(crate) async fn resubmission_is_idempotent_and_changes_nothing(env: &TestEnv) {
    let gateway = start(env).await;
    let input = input(1, 1);
    let body = to_json(&submission(1, &input));
    assert_eq!(
        post(&gateway, SUBMIT, &body).await,
        (StatusCode::OK, json!({ "newly_inserted": true }))
    );
    let blob = env.store_root.join(input_key(1, &input).path());
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
    assert_eq!(env.stored_files(), [input_key(1, &input).path()]);
}

pub(crate) async fn conflicting_resubmission_is_refused_with_409(env: &TestEnv) {
    let v2 = ProtocolVersion {
        version: ProtocolSemanticVersion::new(2, 0),
        recursion_tree_vk_digest: VkDigest(HashDigest([31, 32, 33, 34])),
        final_vk_digest: VkDigest(HashDigest([41, 42, 43, 44])),
    };
    let mut config = gateway_config();
    config.protocol_versions.push(v2);
    let gateway = RunningGateway::start(env.state(&config, TokenAuth::disabled())).await;
    let first = submission(1, &input(1, 1));
    assert_eq!(
        post(&gateway, SUBMIT, &to_json(&first)).await.0,
        StatusCode::OK
    );

    let (status, answer) = post(&gateway, SUBMIT, &to_json(&submission(1, &input(1, 2)))).await;
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

    // The first submission stands, and nothing of the others was stored.
    let stored: WitnessInputBytes = env.store.get(&input_key(1, &input(1, 1))).await.unwrap();
    assert_eq!(stored.0.as_ref(), input(1, 1).as_slice());
    assert_eq!(env.stored_files(), [input_key(1, &input(1, 1)).path()]);
    assert_eq!(env.dal.protocol_version(v2.version).await.unwrap(), None);
}

pub(crate) async fn oversized_bodies_and_inputs_are_refused_with_413(env: &TestEnv) {
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

    // At the limit it passes the size check, and goes on to be decoded (and refused: seven
    // sevens are not a witness input).
    let (status, answer) = post(
        &gateway,
        SUBMIT,
        &to_json(&submission(1, &vec![7u8; 32 * 1024])),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        error_of(&answer).contains("not a valid witness input"),
        "{answer}"
    );
    assert_untouched(env).await;
}

pub(crate) async fn malformed_requests_are_refused_with_a_message(env: &TestEnv) {
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

pub(crate) async fn unknown_versions_and_mismatched_digests_are_refused(env: &TestEnv) {
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

pub(crate) async fn poll_answers_null_until_the_proof_is_ready_then_the_proof(env: &TestEnv) {
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
        post(&gateway, SUBMIT, &to_json(&submission(1, &input(1, 1))))
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

pub(crate) async fn concurrent_submissions_of_one_batch_insert_it_once(env: &TestEnv) {
    let gateway = start(env).await;
    let (the_input, another) = (input(1, 1), input(1, 2));
    let same = to_json(&submission(1, &the_input));
    let different = to_json(&submission(1, &another));
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
    // Whichever input won, every submission of the other one is a conflict, and the row names
    // the winner's blob.
    let row = env
        .dal
        .batch_status(batch_id(1))
        .await
        .unwrap()
        .witness_input
        .expect("the batch row");
    let key = ObjectKey::parse(row.input_blob_key.as_deref().unwrap()).unwrap();
    let stored: WitnessInputBytes = env.store.get(&key).await.unwrap();
    let winner = if stored.0.as_ref() == the_input.as_slice() {
        6
    } else {
        assert_eq!(stored.0.as_ref(), another.as_slice());
        2
    };
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let conflicts = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflicts), (winner, 8 - winner), "{answers:?}");
}

/// Issue 15: several gateway processes (each its own connection pool, store client and HTTP
/// server, sharing nothing but the database and the store) and `insert-batch`'s intake path,
/// racing with many conflicting submissions of the same batches. For every batch exactly one
/// submission wins; every submission of the winner's input is "already known", every other
/// one 409; the row names the winner's blob, which holds the winner's input.
pub(crate) async fn gateway_processes_racing_agree_on_one_winner_per_batch(env: &TestEnv) {
    const GATEWAYS: usize = 3;
    const BATCHES: u32 = 3;
    const VARIANTS: u64 = 3;
    const ROUNDS: usize = 3;
    let mut gateways = Vec::new();
    let mut processes = Vec::new();
    for _ in 0..GATEWAYS {
        let (dal, store) = env.other_process().await;
        let state = zkfleet_gateway::GatewayState::new(
            dal.clone(),
            store.clone(),
            &gateway_config(),
            TokenAuth::disabled(),
        );
        gateways.push(RunningGateway::start(state).await);
        processes.push((dal, store));
    }
    // Inputs generated up front (memoised), so the race is not paced by key generation.
    for number in 1..=BATCHES * ROUNDS as u32 {
        for variant in 0..VARIANTS {
            input(number, variant);
        }
    }
    for round in 0..ROUNDS {
        let numbers: Vec<u32> = (1..=BATCHES).map(|b| b + round as u32 * BATCHES).collect();
        let mut http = Vec::new();
        let mut direct = Vec::new();
        for &number in &numbers {
            for variant in 0..VARIANTS {
                for copy in 0..2 {
                    let gateway = &gateways[(variant as usize + copy) % GATEWAYS];
                    let body = to_json(&submission(number, &input(number, variant)));
                    http.push(async move {
                        let answer = post(gateway, SUBMIT, &body).await;
                        (number, variant, answer)
                    });
                }
                // `zkfleet insert-batch` / `zkfleet prove` go through the same intake.
                let (dal, store) = processes[variant as usize % GATEWAYS].clone();
                direct.push(async move {
                    let bytes = input(number, variant);
                    let outcome = zkfleet_intake::submit(
                        &dal,
                        &store,
                        zkfleet_intake::Submission {
                            batch: batch_id(number),
                            protocol_version: V1,
                            witness_input: &bytes,
                            priority: 0,
                            batch_sealed_at: chrono::Utc::now(),
                        },
                    )
                    .await;
                    (number, variant, outcome)
                });
            }
        }
        // The version exists before the CLI path runs (insert-version); the gateways register
        // it themselves.
        env.dal
            .insert_protocol_version(&fleet_version())
            .await
            .unwrap();
        let (http, direct) = futures::future::join(
            futures::future::join_all(http),
            futures::future::join_all(direct),
        )
        .await;

        for &number in &numbers {
            let row = env
                .dal
                .batch_status(batch_id(number))
                .await
                .unwrap()
                .witness_input
                .expect("the batch row");
            let key = ObjectKey::parse(row.input_blob_key.as_deref().unwrap()).unwrap();
            let stored: WitnessInputBytes = env.store.get(&key).await.unwrap();
            let winner = (0..VARIANTS)
                .find(|v| input(number, *v).as_slice() == stored.0.as_ref())
                .unwrap_or_else(|| panic!("batch {number}: the stored input is nobody's"));
            assert_eq!(key, input_key(number, &input(number, winner)));

            let mut inserted = 0;
            for (_, variant, (status, answer)) in http.iter().filter(|(n, _, _)| *n == number) {
                if *variant == winner {
                    assert_eq!(*status, StatusCode::OK, "batch {number}: {answer}");
                    if answer["newly_inserted"] == json!(true) {
                        inserted += 1;
                    }
                } else {
                    assert_eq!(*status, StatusCode::CONFLICT, "batch {number}: {answer}");
                }
            }
            for (_, variant, outcome) in direct.iter().filter(|(n, _, _)| *n == number) {
                match outcome {
                    Ok(accepted) => {
                        assert_eq!(*variant, winner, "batch {number}: {accepted:?}");
                        if accepted.newly_inserted() {
                            inserted += 1;
                        }
                    }
                    Err(zkfleet_intake::IntakeError::ConflictingInput { .. }) => {
                        assert_ne!(*variant, winner, "batch {number}")
                    }
                    Err(e) => panic!("batch {number}: {e}"),
                }
            }
            assert_eq!(inserted, 1, "batch {number}: one submission inserts it");
        }
    }
}

/// Issue 15: what the fleet can never prove is refused at the door (422, with the reason) and
/// nothing is written: bytes that are no witness input, a truncated one, a valid input
/// labelled with another batch or chain, and batches that break a rule execution checks
/// (a bad signature, an overdraft).
pub(crate) async fn unprovable_inputs_are_refused_with_422(env: &TestEnv) {
    use zkfleet_rollup::generate::InvalidKind;
    let gateway = start(env).await;
    let valid = input(1, 1);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random bytes", vec![0x5a; 512], "not a valid witness input"),
        (
            "a truncated input",
            valid[..valid.len() / 2].to_vec(),
            "not a valid witness input",
        ),
        (
            "another batch's input",
            input(2, 1),
            "holds batch 2 of chain 270, not batch 1 of chain 270",
        ),
        (
            "another chain's input",
            input_with(1, 1, zkfleet_types::ChainId(271), None),
            "holds batch 1 of chain 271, not batch 1 of chain 270",
        ),
        (
            "a bad signature",
            input_with(1, 1, CHAIN, Some(InvalidKind::BadSignature)),
            "invalid signature",
        ),
        (
            "an overdraft",
            input_with(1, 1, CHAIN, Some(InvalidKind::InsufficientBalance)),
            "insufficient balance",
        ),
    ];
    for (what, bytes, expected) in cases {
        let (status, answer) = post(&gateway, SUBMIT, &to_json(&submission(1, &bytes))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {answer}");
        assert!(error_of(&answer).contains(expected), "{what}: {answer}");
    }
    assert_untouched(env).await;
    // The valid one still goes in.
    let (status, answer) = post(&gateway, SUBMIT, &to_json(&submission(1, &valid))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Issue 15: a batch that can never be proven is visible as failed: the poll answers 410 with
/// the failed job's state and error instead of `null` forever; an operator's requeue makes it
/// `null` again.
pub(crate) async fn poll_of_a_failed_batch_answers_410_with_the_failure(env: &TestEnv) {
    let gateway = start(env).await;
    let batch = batch_id(1);
    let poll = json!({ "l1_batch_id": batch });
    assert_eq!(
        post(&gateway, SUBMIT, &to_json(&submission(1, &input(1, 1))))
            .await
            .0,
        StatusCode::OK
    );
    env.dal
        .pick_basic_witness_job(V1, "bwg")
        .await
        .unwrap()
        .expect("a job");
    env.dal
        .fail_job_permanently(
            zkfleet_dal::JobRef::WitnessInput(batch),
            "witness input of batch 1 of chain 270: malformed",
        )
        .await
        .unwrap();
    let (status, answer) = post(&gateway, POLL, &poll).await;
    assert_eq!(status, StatusCode::GONE, "{answer}");
    let failure: zkfleet_types::api::BatchFailure = serde_json::from_value(answer).unwrap();
    assert_eq!(failure.l1_batch_id, batch);
    assert_eq!(failure.status, JobStatus::FailedPermanently);
    assert_eq!(
        failure.job_error.as_deref(),
        Some("witness input of batch 1 of chain 270: malformed")
    );
    assert!(
        failure.error.contains("cannot be proven"),
        "{}",
        failure.error
    );

    env.dal.requeue_batch(batch).await.unwrap();
    assert_eq!(
        post(&gateway, POLL, &poll).await,
        (StatusCode::OK, Value::Null)
    );
}
