//! Pull mode against a small upstream served in the test: it hands out batches and records
//! the proofs it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;
use zkfleet_gateway::pull::{poll_once, PollCounts};
use zkfleet_gateway::{GatewayConfig, GatewayMode, PullClient, PullConfig, TokenAuth};
use zkfleet_types::api::{
    ProofGenerationData, ProofGenerationDataRequest, ProofGenerationDataResponse,
    SubmitProofRequest, SubmitProofResponse,
};
use zkfleet_types::{BatchNumber, ChainId, JobStatus, L1BatchId};

use crate::harness::{
    batch_id, final_proof, finish_compression, gateway_config, input, input_key,
    prove_until_compression, submission, TestEnv, CHAIN,
};

/// How the upstream answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Normal,
    ServerError,
    Oversized,
    ReportsError,
}

#[derive(Clone)]
struct Upstream {
    pending: Arc<Mutex<Vec<ProofGenerationData>>>,
    submitted: Arc<Mutex<Vec<(u32, SubmitProofRequest)>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Upstream {
    fn new(batches: Vec<ProofGenerationData>) -> Self {
        Self {
            pending: Arc::new(Mutex::new(batches)),
            submitted: Arc::default(),
            behaviour: Arc::new(Mutex::new(Behaviour::Normal)),
        }
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn submitted(&self) -> Vec<(u32, SubmitProofRequest)> {
        self.submitted.lock().unwrap().clone()
    }

    fn offer(&self, batch: ProofGenerationData) {
        self.pending.lock().unwrap().push(batch);
    }

    /// Serves on 127.0.0.1:0 until `cancel`; returns the base URL.
    async fn serve(&self, cancel: CancellationToken) -> String {
        let app = Router::new()
            .route("/proof_generation_data", post(next_batch))
            .route("/submit_proof/{batch_number}", post(submit_proof))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await
        });
        url
    }
}

async fn next_batch(
    State(upstream): State<Upstream>,
    Json(_): Json<ProofGenerationDataRequest>,
) -> Response {
    let behaviour = *upstream.behaviour.lock().unwrap();
    match behaviour {
        Behaviour::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "database down").into_response()
        }
        Behaviour::Oversized => "x".repeat(1 << 20).into_response(),
        Behaviour::ReportsError => {
            Json(ProofGenerationDataResponse::Error("no batch locked".into())).into_response()
        }
        Behaviour::Normal => {
            let next = upstream.pending.lock().unwrap().pop();
            Json(ProofGenerationDataResponse::Success(next.map(Box::new))).into_response()
        }
    }
}

async fn submit_proof(
    State(upstream): State<Upstream>,
    Path(batch_number): Path<u32>,
    Json(request): Json<SubmitProofRequest>,
) -> Json<SubmitProofResponse> {
    if *upstream.behaviour.lock().unwrap() == Behaviour::ReportsError {
        return Json(SubmitProofResponse::Error("proof rejected".into()));
    }
    upstream
        .submitted
        .lock()
        .unwrap()
        .push((batch_number, request));
    Json(SubmitProofResponse::Success)
}

fn pull_config(upstream_url: &str) -> PullConfig {
    PullConfig {
        upstream_url: Some(upstream_url.to_owned()),
        poll_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
        max_response_bytes: 1024 * 1024,
        chain_id: Some(CHAIN),
        ..PullConfig::default()
    }
}

fn counts(batches_received: u32, proofs_submitted: u32, errors: u32) -> PollCounts {
    PollCounts {
        batches_received,
        proofs_submitted,
        errors,
    }
}

pub(crate) async fn pull_mode_fetches_batches_and_submits_proofs(env: &TestEnv) {
    let other_chain = {
        let mut data = submission(7, b"other chain");
        data.l1_batch_id = L1BatchId::new(ChainId(271), BatchNumber(7));
        data
    };
    // Popped from the end: batch 1 first, then the other chain's batch.
    let upstream = Upstream::new(vec![other_chain, submission(1, &input(1, 1))]);
    let cancel = CancellationToken::new();
    let url = upstream.serve(cancel.clone()).await;
    let config = pull_config(&url);
    let state = env.state(&gateway_config(), TokenAuth::disabled());
    let client = PullClient::new(&config, None).unwrap();

    // Batch 1 is stored and queued; the batch of chain 271 is refused (this gateway pulls for
    // chain 270 only).
    assert_eq!(poll_once(&state, &client, &config).await, counts(1, 0, 1));
    let row = env
        .dal
        .batch_status(batch_id(1))
        .await
        .unwrap()
        .witness_input
        .unwrap();
    assert_eq!(row.status, JobStatus::Queued);
    assert_eq!(env.stored_files(), [input_key(1, &input(1, 1)).path()]);
    assert!(!env
        .dal
        .batch_status(L1BatchId::new(ChainId(271), BatchNumber(7)))
        .await
        .unwrap()
        .exists());
    assert_eq!(poll_once(&state, &client, &config).await, counts(0, 0, 0));

    prove_until_compression(env, batch_id(1)).await;
    assert_eq!(poll_once(&state, &client, &config).await, counts(0, 0, 0));
    assert!(upstream.submitted().is_empty());
    finish_compression(env, batch_id(1)).await;
    assert_eq!(poll_once(&state, &client, &config).await, counts(0, 1, 0));
    assert_eq!(
        upstream.submitted(),
        [(
            1,
            SubmitProofRequest::Proof(Box::new(final_proof(batch_id(1))))
        )]
    );
    let compression = env
        .dal
        .batch_status(batch_id(1))
        .await
        .unwrap()
        .compression
        .unwrap();
    assert_eq!(compression.status, JobStatus::SentToServer);
    // Sent once only.
    assert_eq!(poll_once(&state, &client, &config).await, counts(0, 0, 0));
    assert_eq!(upstream.submitted().len(), 1);

    // The same through `run` in pull mode: its loop picks up the next batch by itself.
    upstream.offer(submission(2, &input(2, 1)));
    let run_config = GatewayConfig {
        mode: GatewayMode::Pull,
        pull: config.clone(),
        ..gateway_config()
    };
    let stop = CancellationToken::new();
    let gateway = tokio::spawn(zkfleet_gateway::run(
        env.dal.clone(),
        env.store.clone(),
        run_config,
        stop.clone(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !env.dal.batch_status(batch_id(2)).await.unwrap().exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pull loop did not fetch batch 2"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    gateway.await.unwrap().unwrap();
    cancel.cancel();
}

pub(crate) async fn pull_mode_survives_a_failing_upstream(env: &TestEnv) {
    let upstream = Upstream::new(vec![submission(1, &input(1, 1))]);
    let cancel = CancellationToken::new();
    let url = upstream.serve(cancel.clone()).await;
    let mut config = pull_config(&url);
    // Room for a real witness input (a few KiB), not for the oversized answer (1 MiB).
    config.max_response_bytes = 256 * 1024;
    let state = env.state(&gateway_config(), TokenAuth::disabled());
    let client = PullClient::new(&config, None).unwrap();

    for behaviour in [
        Behaviour::ServerError,
        Behaviour::Oversized,
        Behaviour::ReportsError,
    ] {
        upstream.set(behaviour);
        assert_eq!(
            poll_once(&state, &client, &config).await,
            counts(0, 0, 1),
            "{behaviour:?}"
        );
    }
    let err = client.next_batch().await.unwrap_err().to_string();
    assert!(err.contains("reported an error: no batch locked"), "{err}");
    upstream.set(Behaviour::Oversized);
    let err = client.next_batch().await.unwrap_err().to_string();
    assert!(err.contains("answered more than 262144 bytes"), "{err}");
    upstream.set(Behaviour::ServerError);
    let err = client.next_batch().await.unwrap_err().to_string();
    assert!(
        err.contains("500") && err.contains("database down"),
        "{err}"
    );

    // An unreachable upstream is an error like the others.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let unreachable_config = pull_config(&format!("http://{closed}"));
    let unreachable = PullClient::new(&unreachable_config, None).unwrap();
    assert_eq!(
        poll_once(&state, &unreachable, &unreachable_config).await,
        counts(0, 0, 1)
    );
    assert_eq!(env.stored_files(), Vec::<String>::new());

    // Back to normal: the batch arrives; a refused proof stays unsent and is retried.
    upstream.set(Behaviour::Normal);
    assert_eq!(poll_once(&state, &client, &config).await, counts(1, 0, 0));
    prove_until_compression(env, batch_id(1)).await;
    finish_compression(env, batch_id(1)).await;
    upstream.set(Behaviour::ReportsError);
    // One error for the batch request, one for the refused proof.
    assert_eq!(poll_once(&state, &client, &config).await, counts(0, 0, 2));
    let compression = env
        .dal
        .batch_status(batch_id(1))
        .await
        .unwrap()
        .compression
        .unwrap();
    assert_eq!(compression.status, JobStatus::Successful);
    upstream.set(Behaviour::Normal);
    assert_eq!(poll_once(&state, &client, &config).await, counts(0, 1, 0));
    let compression = env
        .dal
        .batch_status(batch_id(1))
        .await
        .unwrap()
        .compression
        .unwrap();
    assert_eq!(compression.status, JobStatus::SentToServer);
    cancel.cancel();
}
