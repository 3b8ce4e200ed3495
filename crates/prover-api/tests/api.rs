//! The prover API end to end in one process, on SQLite and a local store, with the real circuits
//! of the small test configuration: honest outside provers prove a batch's round 0 through the
//! API; every bad actor of issue 19 is refused with a clear error, none of them stalls the work,
//! and the ledger's counts equal what happened.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{
    batch_id, circuits_async, insert_basic_round, local_store, protocol_version, TestDb, CHAIN,
    PROVING, VERSION,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use zkfleet_dal::{JobRef, OutsideProverStatus};
use zkfleet_prover_api::wire::{Capabilities, SubmissionOutcome};
use zkfleet_prover_api::{
    run_remote_prover, ApiClient, ApiState, ClientError, ProverApiConfig, ProverKey,
    RemoteProverOptions,
};
use zkfleet_store::{ObjectKey, ProofBytes};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Api {
    base: String,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(db: &TestDb, store: &zkfleet_store::Store, config: ProverApiConfig) -> Api {
    let state = ApiState::new(
        db.dal.clone(),
        store.clone(),
        config,
        circuits_async().await,
    )
    .await
    .expect("start the API");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(zkfleet_prover_api::serve(state, listener, cancel.clone()));
    Api { base, cancel, task }
}

impl Api {
    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.unwrap().unwrap();
    }
}

fn config() -> ProverApiConfig {
    let mut config = ProverApiConfig {
        protocol_version: VERSION,
        proving: PROVING,
        keys_dir: common::keys_dir(),
        lease_duration: Duration::from_secs(6),
        max_lease_duration: Duration::from_secs(600),
        sweep_interval: Duration::from_millis(200),
        max_request_body_bytes: 1 << 20,
        rate_limit_per_second: 200.0,
        rate_limit_burst: 400,
        max_active_leases_per_prover: 2,
        ..ProverApiConfig::default()
    };
    config.suspension.max_refusals = 3;
    config.suspension.max_misses = 2;
    config.prices.insert(AggregationRound::Basic, 10);
    config
}

async fn register(db: &TestDb, name: &str) -> ProverKey {
    let key = ProverKey::generate(name);
    db.dal
        .register_outside_prover(name, &key.public_key_hex())
        .await
        .expect("register");
    key
}

fn key_copy(key: &ProverKey) -> ProverKey {
    ProverKey::from_key_file(&key.to_key_file()).unwrap()
}

async fn post(base: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

fn only(circuit: CircuitId) -> Capabilities {
    Capabilities {
        rounds: vec![AggregationRound::Basic],
        circuits: vec![circuit.0],
        memory_mib: 1 << 20,
        cpu_cores: 2,
        gpu: false,
    }
}

async fn job_status(db: &TestDb, id: i64) -> JobStatus {
    db.dal
        .job(JobRef::Prover(zkfleet_types::ids::ProverJobId(id)))
        .await
        .unwrap()
        .unwrap()
        .status
}

/// Logs in by hand and returns the session token.
async fn login(base: &str, key: &ProverKey) -> String {
    let mut client = ApiClient::new(base, key_copy(key)).unwrap();
    client.login().await.expect("login");
    client.session_token().unwrap().to_owned()
}

async fn outside_provers_on_sqlite(db: Arc<TestDb>) {
    let store = local_store();
    let version = protocol_version().await;
    let jobs = insert_basic_round(&db.dal, &store.store, &version, 1, 0).await;
    let alice = register(&db, "alice").await;
    let bob = register(&db, "bob").await;
    let mallory = register(&db, "mallory").await;
    let hoarder = register(&db, "hoarder").await;
    let eve = register(&db, "eve").await;
    let api = start(&db, &store.store, config()).await;
    let base = api.base.clone();

    // --- Login: wrong signature, unknown key, replayed login, suspended key. -------------------
    let (status, body) = post(
        &base,
        "/v1/login/challenge",
        None,
        &json!({"prover": "alice"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let challenge = body["challenge"].as_str().unwrap().to_owned();
    let message = zkfleet_prover_api::wire::login_message("alice", &challenge);
    let forged = mallory.sign_hex(&message);
    let (status, body) = post(
        &base,
        "/v1/login",
        None,
        &json!({"prover": "alice", "challenge": challenge, "signature": forged}),
    )
    .await;
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    assert!(
        error(&body).contains("does not verify under the prover's key"),
        "{body}"
    );
    // The challenge was consumed by the failed attempt: even the right signature is refused now.
    let (status, body) = post(
        &base,
        "/v1/login",
        None,
        &json!({"prover": "alice", "challenge": challenge, "signature": alice.sign_hex(&message)}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(error(&body).contains("already used"), "{body}");
    // A good login, replayed.
    let (_, body) = post(
        &base,
        "/v1/login/challenge",
        None,
        &json!({"prover": "alice"}),
    )
    .await;
    let challenge = body["challenge"].as_str().unwrap().to_owned();
    let signed = json!({"prover": "alice", "challenge": challenge,
        "signature": alice.sign_hex(&zkfleet_prover_api::wire::login_message("alice", &challenge))});
    let (status, body) = post(&base, "/v1/login", None, &signed).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&base, "/v1/login", None, &signed).await;
    assert_eq!(status, 401, "replayed login: {body}");
    assert!(error(&body).contains("already used"), "{body}");
    // Unknown key.
    let (status, body) = post(
        &base,
        "/v1/login/challenge",
        None,
        &json!({"prover": "nobody"}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        error(&body).contains("unknown outside prover nobody"),
        "{body}"
    );
    // Suspended key.
    let eve_token = login(&base, &eve).await;
    db.dal
        .set_outside_prover_status("eve", OutsideProverStatus::Suspended, "operator test")
        .await
        .unwrap();
    let (status, body) = post(
        &base,
        "/v1/login/challenge",
        None,
        &json!({"prover": "eve"}),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "suspended"), "{body}");
    assert!(error(&body).contains("operator test"), "{body}");
    let (status, body) = post(
        &base,
        "/v1/lease",
        Some(&eve_token),
        &json!({"capabilities": {}}),
    )
    .await;
    assert_eq!(status, 401, "a suspended prover's sessions end: {body}");
    // No session, a made-up session.
    let (status, _) = post(&base, "/v1/lease", None, &json!({"capabilities": {}})).await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &base,
        "/v1/lease",
        Some("deadbeef"),
        &json!({"capabilities": {}}),
    )
    .await;
    assert_eq!(status, 401);

    // --- An honest proof: alice proves one job of circuit 1 with the client. ------------------
    let circuits = circuits_async().await;
    let mut alice_client = ApiClient::new(&base, key_copy(&alice)).unwrap();
    let summary = run_remote_prover(
        &mut alice_client,
        circuits.clone(),
        &RemoteProverOptions {
            capabilities: only(CircuitId(1)),
            idle_wait: Duration::from_millis(100),
            max_jobs: Some(1),
        },
        CancellationToken::new(),
    )
    .await
    .expect("alice proves");
    assert_eq!((summary.accepted, summary.earnings), (1, 10), "{summary:?}");
    let events = db.dal.outside_prover_events(Some("alice")).await.unwrap();
    let proven = events.iter().find(|e| e.kind == "accepted").unwrap();
    let proven_job = proven.job_id.unwrap();
    let proven_lease = proven.lease_id.unwrap();
    assert_eq!(job_status(&db, proven_job).await, JobStatus::Successful);
    let stored: ProofBytes = store
        .store
        .get(&ObjectKey::Proof {
            chain: CHAIN,
            job: zkfleet_types::ids::ProverJobId(proven_job),
        })
        .await
        .unwrap();
    let alice_proof = stored.into_bytes().to_vec();
    // Submitting it again changes nothing.
    let again = alice_client
        .submit(proven_lease, 1, &alice_proof)
        .await
        .unwrap();
    assert_eq!(
        (again.outcome, again.earnings),
        (SubmissionOutcome::AlreadyAccepted, 0)
    );
    let (status, body) = post(
        &base,
        &format!("/v1/leases/{proven_lease}/proof"),
        Some(&login(&base, &alice).await),
        &json!({"fencing_token": 99, "proof": B64.encode(&alice_proof)}),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "wrong_token"), "{body}");

    // --- Mallory: a proof of another job, a proof of another circuit, garbage. ----------------
    let mut mallory_client = ApiClient::new(&base, key_copy(&mallory)).unwrap();
    let lease = mallory_client
        .lease(&only(CircuitId(1)))
        .await
        .unwrap()
        .lease
        .expect("a job");
    assert_ne!(lease.job.id, proven_job);
    // Someone else's lease is not hers to submit to.
    let err = mallory_client
        .submit(proven_lease, 1, &alice_proof)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { status: 404, .. }),
        "{err}"
    );
    let err = mallory_client
        .submit(lease.lease_id, lease.fencing_token, &alice_proof)
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("wrong_public_inputs"), "{err}");
    assert!(err.to_string().contains("a proof of another job"), "{err}");
    assert_eq!(
        job_status(&db, lease.job.id).await,
        JobStatus::Queued,
        "back in the queue at once"
    );
    let lease = mallory_client
        .lease(&only(CircuitId(2)))
        .await
        .unwrap()
        .lease
        .expect("a job");
    let err = mallory_client
        .submit(lease.lease_id, lease.fencing_token, &alice_proof)
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("invalid_proof"), "{err}");
    let lease = mallory_client
        .lease(&only(CircuitId(3)))
        .await
        .unwrap()
        .lease
        .expect("a job");
    let token = mallory_client.session_token().unwrap().to_owned();
    let (status, body) = post(
        &base,
        &format!("/v1/leases/{}/proof", lease.lease_id),
        Some(&token),
        &json!({"fencing_token": lease.fencing_token, "proof": "not base64 !!"}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (422, "malformed_submission"),
        "{body}"
    );
    // Three penalised refusals: suspended, and refused from then on.
    let mallory_row = db.dal.outside_prover("mallory").await.unwrap().unwrap();
    assert_eq!(mallory_row.status, OutsideProverStatus::Suspended);
    assert!(mallory_row
        .status_reason
        .unwrap()
        .contains("3 refused proofs"));
    let err = mallory_client.lease(&only(CircuitId(1))).await.unwrap_err();
    assert!(matches!(err, ClientError::Api { status: 403, .. }), "{err}");

    // --- An oversized body. -------------------------------------------------------------------
    let bob_token = login(&base, &bob).await;
    let huge = "A".repeat(2 << 20);
    let (status, body) = post(
        &base,
        "/v1/leases/1/proof",
        Some(&bob_token),
        &json!({"fencing_token": 1, "proof": huge}),
    )
    .await;
    assert_eq!((status, code(&body)), (413, "body_too_large"), "{body}");
    let (status, body) = post(
        &base,
        "/v1/lease",
        Some(&bob_token),
        &json!({"capabilities": {"gpus": 3}}),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
    assert!(error(&body).contains("gpus"), "{body}");

    // --- The hoarder: takes leases, never answers. ---------------------------------------------
    let mut hoarder_client = ApiClient::new(&base, key_copy(&hoarder)).unwrap();
    let any = Capabilities {
        memory_mib: 1 << 20,
        ..Capabilities::default()
    };
    let h1 = hoarder_client
        .lease(&any)
        .await
        .unwrap()
        .lease
        .expect("a job");
    let h2 = hoarder_client
        .lease(&any)
        .await
        .unwrap()
        .lease
        .expect("a job");
    let err = hoarder_client.lease(&any).await.unwrap_err();
    assert_eq!(err.api_code(), Some("rate_limited"), "{err}");
    assert!(
        err.to_string().contains("holds 2 unsettled leases"),
        "{err}"
    );
    // The deadlines pass: the jobs go back to the queue, two misses suspend the hoarder.
    tokio::time::sleep(Duration::from_secs(8)).await;
    for h in [&h1, &h2] {
        assert_ne!(
            job_status(&db, h.job.id).await,
            JobStatus::InProgress,
            "lease {} requeued",
            h.lease_id
        );
    }
    assert_eq!(
        db.dal
            .outside_prover("hoarder")
            .await
            .unwrap()
            .unwrap()
            .status,
        OutsideProverStatus::Suspended
    );
    // Its stale token extends nothing.
    let err = hoarder_client
        .extend(h1.lease_id, h1.fencing_token)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Api {
                status: 401 | 403 | 409,
                ..
            }
        ),
        "{err}"
    );

    // --- A late but valid proof is still taken while the job is open. --------------------------
    let mut bob_client = ApiClient::new(&base, key_copy(&bob)).unwrap();
    let late = bob_client
        .lease(&only(CircuitId(2)))
        .await
        .unwrap()
        .lease
        .expect("a job");
    let input = bob_client.input(&late).await.unwrap();
    let (round, circuit) = (late.job.round, CircuitId(late.job.circuit_id));
    let c = circuits.clone();
    let proof = tokio::task::spawn_blocking(move || {
        let v = c.witness_vector(round, circuit, &input)?;
        c.prove_job(round, circuit, v)
    })
    .await
    .unwrap()
    .unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await; // past the deadline, swept
    assert_eq!(job_status(&db, late.job.id).await, JobStatus::Queued);
    let answer = bob_client
        .submit(late.lease_id, late.fencing_token, &proof)
        .await
        .unwrap();
    assert_eq!(answer.outcome, SubmissionOutcome::Accepted);
    assert!(answer.late);
    assert_eq!(job_status(&db, late.job.id).await, JobStatus::Successful);

    // --- The honest provers finish the round; the fleet loses nothing. -------------------------
    let remaining = jobs - 2;
    let cancel = CancellationToken::new();
    let options = RemoteProverOptions {
        capabilities: any.clone(),
        idle_wait: Duration::from_millis(200),
        max_jobs: None,
    };
    let (alice_run, bob_run) = {
        let (c1, c2) = (circuits.clone(), circuits.clone());
        let (o1, o2) = (options.clone(), options.clone());
        let (k1, k2) = (cancel.clone(), cancel.clone());
        let b1 = base.clone();
        let b2 = base.clone();
        let (a, b) = (key_copy(&alice), key_copy(&bob));
        (
            tokio::spawn(async move {
                run_remote_prover(&mut ApiClient::new(&b1, a).unwrap(), c1, &o1, k1).await
            }),
            tokio::spawn(async move {
                run_remote_prover(&mut ApiClient::new(&b2, b).unwrap(), c2, &o2, k2).await
            }),
        )
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let status = db.dal.batch_status(batch_id(1)).await.unwrap();
        let basic = status
            .rounds
            .iter()
            .find(|r| r.round == AggregationRound::Basic)
            .unwrap();
        if basic
            .prover_jobs
            .iter()
            .all(|j| j.status == JobStatus::Successful)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "round 0 not proven: {:?}",
            basic.prover_jobs
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    cancel.cancel();
    let a = alice_run.await.unwrap().unwrap();
    let b = bob_run.await.unwrap().unwrap();
    assert_eq!(a.accepted + b.accepted, remaining as u64, "{a:?} {b:?}");
    // Every leaf witness job is queued: the round completed through the usual completion path.
    let status = db.dal.batch_status(batch_id(1)).await.unwrap();
    let leaf = status
        .rounds
        .iter()
        .find(|r| r.round == AggregationRound::Leaf)
        .unwrap();
    assert!(
        leaf.witness_jobs
            .iter()
            .all(|j| j.status == JobStatus::Queued),
        "{:?}",
        leaf.witness_jobs
    );

    // --- The ledger equals what happened. ------------------------------------------------------
    let stats = db.dal.outside_prover_stats().await.unwrap();
    let of = |name: &str| stats.iter().find(|s| s.name == name).unwrap().clone();
    let (alice_s, bob_s, mallory_s, hoarder_s) =
        (of("alice"), of("bob"), of("mallory"), of("hoarder"));
    assert_eq!(alice_s.accepted + bob_s.accepted, jobs as u64);
    assert_eq!(alice_s.accepted, 1 + a.accepted);
    assert_eq!(bob_s.accepted, 1 + b.accepted);
    assert_eq!(alice_s.earnings + bob_s.earnings, 10 * jobs as u64);
    assert_eq!(
        (mallory_s.leased, mallory_s.accepted, mallory_s.refused),
        (3, 0, 3)
    );
    assert_eq!(
        mallory_s.refused_by_reason,
        vec![
            ("invalid_proof".to_owned(), 1),
            ("malformed_submission".to_owned(), 1),
            ("wrong_public_inputs".to_owned(), 1)
        ]
    );
    assert_eq!(
        (hoarder_s.leased, hoarder_s.missed, hoarder_s.accepted),
        (2, 2, 0)
    );
    assert_eq!(bob_s.missed, 1, "the late lease was a miss, then accepted");
    assert_eq!(alice_s.refused + bob_s.refused, 0);
    api.stop().await;
}

/// A flood from one prover is answered 429 and does not slow another prover.
async fn flood_is_rate_limited(db: Arc<TestDb>) {
    let store = local_store();
    let version = protocol_version().await;
    insert_basic_round(&db.dal, &store.store, &version, 1, 0).await;
    let flooder = register(&db, "flooder").await;
    let calm = register(&db, "calm").await;
    let mut config = config();
    config.rate_limit_per_second = 1.0;
    config.rate_limit_burst = 5;
    let api = start(&db, &store.store, config).await;
    let token = login(&api.base, &flooder).await;
    let mut limited = 0;
    for _ in 0..20 {
        let (status, body) = post(
            &api.base,
            "/v1/lease",
            Some(&token),
            &json!({"capabilities": {"rounds": ["leaf"]}}),
        )
        .await;
        if status == 429 {
            assert_eq!(code(&body), "rate_limited");
            assert!(error(&body).contains("over its rate limit"), "{body}");
            limited += 1;
        } else {
            assert_eq!(status, 200, "{body}");
        }
    }
    assert!(limited >= 14, "{limited} of 20 refused");
    let calm_token = login(&api.base, &calm).await;
    let (status, body) = post(
        &api.base,
        "/v1/lease",
        Some(&calm_token),
        &json!({"capabilities": {}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["lease"].is_object(), "{body}");
    api.stop().await;
}

/// The API refuses to start with circuits of another configuration than the version's.
async fn refuses_other_keys(db: Arc<TestDb>) {
    let store = local_store();
    let mut version = protocol_version().await;
    version.final_vk_digest = zkfleet_types::VkDigest(Default::default());
    db.dal.insert_protocol_version(&version).await.unwrap();
    let err = ApiState::new(
        db.dal.clone(),
        store.store.clone(),
        config(),
        circuits_async().await,
    )
    .await
    .err()
    .expect("refused");
    assert!(
        err.to_string()
            .contains("refusing to verify proofs with keys of another configuration"),
        "{err}"
    );
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn outside_provers() {
        common::with_db(common::Backend::Sqlite, outside_provers_on_sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flood() {
        common::with_db(common::Backend::Sqlite, flood_is_rate_limited).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_keys() {
        common::with_db(common::Backend::Sqlite, refuses_other_keys).await;
    }
}
