//! The gateway's metrics, read from an in-memory recorder installed for this thread (a
//! current-thread runtime keeps the server, the client and every emission on it).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

#[path = "integration/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::json;
use zkfleet_gateway::{AuthConfig, TokenAuth};

use harness::{gateway_config, input, submission, RunningGateway, TestEnv};

const TOKEN: &str = "metrics-test-token-0123456789";

#[test]
fn sqlite_requests_auth_failures_and_batches_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let env = TestEnv::sqlite().await;
            let auth = TokenAuth::from_config(&AuthConfig::default(), Some(&format!("ci={TOKEN}")))
                .expect("tokens");
            let gateway = RunningGateway::start(env.state(&gateway_config(), auth)).await;
            let client = reqwest::Client::new();
            let body = serde_json::to_value(submission(1, &input(1, 1))).expect("json");
            let submit = gateway.url("/submit_request_for_proofs");
            let refused = client.post(&submit).json(&body).send().await.expect("send");
            assert_eq!(refused.status(), 401);
            let wrong = client
                .post(&submit)
                .bearer_auth("not-the-token-0123456789")
                .json(&body)
                .send()
                .await
                .expect("send");
            assert_eq!(wrong.status(), 401);
            let accepted = client
                .post(&submit)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .expect("send");
            assert_eq!(accepted.status(), 200);
            let poll = client
                .post(gateway.url("/poll_generated_proofs"))
                .bearer_auth(TOKEN)
                .json(&json!({ "l1_batch_id": { "chain_id": 270, "batch_number": 1 } }))
                .send()
                .await
                .expect("send");
            assert_eq!(poll.status(), 200);
            let missing = client
                .get(gateway.url("/nowhere"))
                .send()
                .await
                .expect("send");
            assert_eq!(missing.status(), 404);
            drop(gateway);
            env.dal.close().await;
        })
    });

    let mut counters = BTreeMap::new();
    let mut histograms = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        match value {
            DebugValue::Counter(n) => {
                counters.insert(id, n);
            }
            DebugValue::Histogram(samples) => {
                histograms.insert(id, samples.len());
            }
            DebugValue::Gauge(_) => {}
        }
    }
    let counter = |id: &str| counters.get(id).copied().unwrap_or(0);
    let requests = "zkfleet_gateway_requests_total";
    assert_eq!(
        counter(&format!(
            "{requests}{{endpoint=/submit_request_for_proofs,status=401}}"
        )),
        2,
        "{counters:?}"
    );
    assert_eq!(
        counter(&format!(
            "{requests}{{endpoint=/submit_request_for_proofs,status=200}}"
        )),
        1
    );
    assert_eq!(
        counter(&format!(
            "{requests}{{endpoint=/poll_generated_proofs,status=200}}"
        )),
        1
    );
    assert_eq!(
        counter(&format!("{requests}{{endpoint=unmatched,status=404}}")),
        1
    );
    assert_eq!(
        counter("zkfleet_gateway_auth_failures_total{reason=missing}"),
        1
    );
    assert_eq!(
        counter("zkfleet_gateway_auth_failures_total{reason=invalid}"),
        1
    );
    assert_eq!(
        counter("zkfleet_gateway_batches_received_total{mode=push}"),
        1
    );
    assert_eq!(
        histograms
            .get("zkfleet_gateway_request_seconds{endpoint=/submit_request_for_proofs}")
            .copied(),
        Some(3),
        "{histograms:?}"
    );
}
