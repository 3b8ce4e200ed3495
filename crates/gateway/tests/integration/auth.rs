//! Authentication: refused requests change nothing; revoked tokens stop working without a
//! restart.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use zkfleet_gateway::{AuthConfig, TokenAuth};

use crate::harness::{batch_id, gateway_config, input, submission, RunningGateway, TestEnv};
use crate::push::{assert_untouched, post_with, to_json};

const SEQUENCER: &str = "sequencer-token-0123456789abcdef";
const EXPLORER: &str = "explorer-token-0123456789abcdef";
const SUBMIT: &str = "/submit_request_for_proofs";
const POLL: &str = "/poll_generated_proofs";

fn write_tokens(path: &std::path::Path, lines: &str) {
    // Write-then-rename, as an operator's editor or config management would: a reload never
    // sees a half-written file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, lines).expect("write tokens file");
    std::fs::rename(&tmp, path).expect("replace tokens file");
}

pub(crate) async fn requests_without_a_valid_token_get_401_and_change_nothing(env: &TestEnv) {
    let auth = TokenAuth::from_config(
        &AuthConfig::default(),
        Some(&format!("sequencer={SEQUENCER}")),
    )
    .unwrap();
    assert!(auth.is_required());
    let gateway = RunningGateway::start(env.state(&gateway_config(), auth)).await;
    let body = to_json(&submission(1, &input(1, 1)));
    let client = reqwest::Client::new();

    let cases: [(&str, Option<&str>, &str); 4] = [
        ("missing", None, "Bearer realm=\"zkfleet\""),
        (
            "wrong",
            Some("Bearer sequencer-token-0123456789abcdeX"),
            "Bearer realm=\"zkfleet\", error=\"invalid_token\"",
        ),
        (
            "malformed",
            Some(&*format!("Basic {SEQUENCER}")),
            "Bearer realm=\"zkfleet\", error=\"invalid_request\"",
        ),
        (
            "empty",
            Some("Bearer "),
            "Bearer realm=\"zkfleet\", error=\"invalid_request\"",
        ),
    ];
    for (case, header, challenge) in cases {
        for path in [SUBMIT, POLL] {
            let mut request = client.post(gateway.url(path)).json(&body);
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case} {path}");
            assert_eq!(
                response.headers()["www-authenticate"].to_str().unwrap(),
                challenge,
                "{case}"
            );
            let answer: Value = response.json().await.unwrap();
            assert!(
                answer["error"].as_str().unwrap().len() > 10,
                "{case}: {answer}"
            );
        }
    }
    assert_untouched(env).await;

    // Auth is checked before the body is read: an oversized body without a token is a 401.
    let response = client
        .post(gateway.url(SUBMIT))
        .json(&to_json(&submission(1, &vec![1u8; 70 * 1024])))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Its body was left unread, so the gateway closes the connection and says so; without the
    // header the client would reuse the connection and its next request would hit a broken pipe.
    assert_eq!(response.headers()["connection"], "close");

    // The health check needs no token; the valid token passes.
    let health = client.get(gateway.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let (status, answer) = post_with(&gateway, SUBMIT, &body, Some(SEQUENCER)).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "newly_inserted": true }))
    );
    assert!(env.dal.batch_status(batch_id(1)).await.unwrap().exists());
}

pub(crate) async fn revoked_tokens_are_refused_after_reload(env: &TestEnv) {
    let tokens_file = env.dir().join("gateway-tokens");
    write_tokens(
        &tokens_file,
        &format!(
            "# clients of this gateway\nsequencer {SEQUENCER}\nexplorer {EXPLORER} # read-only\n"
        ),
    );
    let config = AuthConfig {
        tokens_file: Some(tokens_file.clone()),
        reload_interval: Duration::from_millis(50),
        ..AuthConfig::default()
    };
    let auth = TokenAuth::from_config(&config, None).unwrap();
    let gateway = RunningGateway::start(env.state(&gateway_config(), auth.clone())).await;
    let poll = json!({ "l1_batch_id": batch_id(1) });
    let status_for = |token: &'static str| {
        let poll = poll.clone();
        let gateway = &gateway;
        async move { post_with(gateway, POLL, &poll, Some(token)).await.0 }
    };
    // Both clients are let in (the batch is unknown: 404 comes from the handler).
    assert_eq!(status_for(SEQUENCER).await, StatusCode::NOT_FOUND);
    assert_eq!(status_for(EXPLORER).await, StatusCode::NOT_FOUND);

    // Revoke the explorer, reload explicitly (what SIGHUP triggers).
    write_tokens(&tokens_file, &format!("sequencer {SEQUENCER}\n"));
    assert_eq!(auth.reload().unwrap().clients, 1);
    assert_eq!(status_for(EXPLORER).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_for(SEQUENCER).await, StatusCode::NOT_FOUND);

    // A broken file keeps the tokens in force.
    write_tokens(&tokens_file, "sequencer\n");
    assert!(auth.reload().is_err());
    assert_eq!(status_for(SEQUENCER).await, StatusCode::NOT_FOUND);

    // The watcher notices a change of the file by itself.
    let cancel = CancellationToken::new();
    let watcher = tokio::spawn(auth.clone().watch(cancel.clone()));
    write_tokens(&tokens_file, &format!("explorer {EXPLORER}\n"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status_for(SEQUENCER).await != StatusCode::UNAUTHORIZED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher did not reload the changed tokens file"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status_for(EXPLORER).await, StatusCode::NOT_FOUND);
    cancel.cancel();
    watcher.await.unwrap();
    assert_untouched(env).await;
}
