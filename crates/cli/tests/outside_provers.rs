//! Outside provers with separate processes on PostgreSQL and S3 (issue 19): the prover API
//! (`zkfleet provers serve`) and two honest `zkfleet remote-prover` processes prove a batch's
//! round 0 while a forger and a hoarder (this test, over HTTP) get nowhere; the operator's
//! commands (`zkfleet provers keygen|add|list|stats`) run as processes too.
//!
//! Not covered here: the rest of the batch (rounds 1-4 and compression by the fleet's own
//! components) and the comparison of its final public output with an all-trusted run.

#[path = "../../prover-api/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zkfleet_prover_api::wire::Capabilities;
use zkfleet_prover_api::{ApiClient, ProverKey};
use zkfleet_store::{Store, StoreConfig};
use zkfleet_types::{AggregationRound, JobStatus};

struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn zkfleet(dir: &Path, database_url: &str, config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
    for (name, _) in std::env::vars() {
        if name.starts_with("ZKFLEET_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("ZKFLEET_DATABASE_URL", database_url)
        .arg("--config")
        .arg(config);
    command
}

fn ok(mut command: Command) -> String {
    let output = command.output().expect("run zkfleet");
    assert!(
        output.status.success(),
        "zkfleet failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn s3_store_section() -> String {
    let endpoint = std::env::var("ZKFLEET_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("ZKFLEET_TEST_S3_ENDPOINT is not set: this test needs the S3-compatible server (scripts/test starts one)")
    });
    let bucket = format!("zkfleet-outside-{}", std::process::id());
    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::Client::new()
                .put(format!("{}/{bucket}", endpoint.trim_end_matches('/')))
                .send()
                .await
                .map(|r| r.status())
        })
        .expect("reach the S3 server");
    assert!(status.is_success(), "creating bucket {bucket}: {status}");
    format!(
        "[store]\nbackend = \"s3\"\nbucket = \"{bucket}\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\nallow_http = true\n"
    )
}

async fn post(base: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outside_provers_prove_round_zero_in_separate_processes() {
    let store_section = tokio::task::spawn_blocking(s3_store_section).await.unwrap();
    let db = common::TestDb::new(common::Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet_config = dir.path().join("fleet.toml");
    std::fs::write(&fleet_config, &store_section).unwrap();
    let store_config: StoreConfig = toml::from_str::<toml::Table>(&store_section).unwrap()["store"]
        .clone()
        .try_into()
        .unwrap();
    let store = Store::open(&store_config).unwrap();
    let version = common::protocol_version().await;
    let jobs = common::insert_basic_round(&db.dal, &store, &version, 1, 0).await;

    // The operator registers two honest provers by the keys they made, and two bad actors.
    let cmd = || zkfleet(dir.path(), &db.url, &fleet_config);
    let mut keys = Vec::new();
    for name in ["alice", "bob"] {
        let file = dir.path().join(format!("{name}.key"));
        let public = ok({
            let mut c = cmd();
            c.args(["provers", "keygen", name, "--out"]).arg(&file);
            c
        });
        ok({
            let mut c = cmd();
            c.args(["provers", "add", name, "--public-key", public.trim()]);
            c
        });
        keys.push(file);
    }
    let mallory = ProverKey::generate("mallory");
    let hoarder = ProverKey::generate("hoarder");
    for key in [&mallory, &hoarder] {
        ok({
            let mut c = cmd();
            c.args([
                "provers",
                "add",
                &key.prover,
                "--public-key",
                &key.public_key_hex(),
            ]);
            c
        });
    }
    let listed = ok({
        let mut c = cmd();
        c.args(["provers", "list"]);
        c
    });
    for name in ["alice", "bob", "mallory", "hoarder"] {
        assert!(listed.contains(name), "{listed}");
    }

    // The prover API, a process of its own.
    let port = free_port();
    let api_config = dir.path().join("prover-api.toml");
    std::fs::write(
        &api_config,
        format!(
            r#"listen_address = "127.0.0.1:{port}"
protocol_version = "{}"
keys_dir = "{}"
lease_duration = "8s"
sweep_interval = "300ms"
max_active_leases_per_prover = 2

[proving]
arity = {}
compression = "light"
[proving.geometry]
signatures_per_instance = {}
operations_per_instance = {}
deposits_per_instance = {}
xmss_height = {}

[prices]
basic = 3

[suspension]
max_refusals = 2
max_misses = 2
"#,
            common::VERSION,
            common::keys_dir().display(),
            common::PROVING.arity,
            common::PROVING.geometry.signatures_per_instance,
            common::PROVING.geometry.operations_per_instance,
            common::PROVING.geometry.deposits_per_instance,
            common::PROVING.geometry.xmss_height,
        ),
    )
    .unwrap();
    let log = |name: &str| std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
    let mut children = Children(Vec::new());
    let mut serve = cmd();
    serve
        .args(["provers", "serve", "--api-config"])
        .arg(&api_config)
        .env("RUST_LOG", "info")
        .stdout(log("api"))
        .stderr(log("api-err"));
    children
        .0
        .push(("api".into(), serve.spawn().expect("start the API")));
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the API did not start: {}",
            std::fs::read_to_string(dir.path().join("api-err.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The hoarder takes two jobs and disappears.
    let any = Capabilities {
        memory_mib: 1 << 20,
        ..Capabilities::default()
    };
    let mut hoarder_client = ApiClient::new(
        &base,
        ProverKey::from_key_file(&hoarder.to_key_file()).unwrap(),
    )
    .unwrap();
    for _ in 0..2 {
        assert!(hoarder_client.lease(&any).await.unwrap().lease.is_some());
    }
    // The forger submits garbage and a forged "proof" for its leases.
    let mut mallory_client = ApiClient::new(
        &base,
        ProverKey::from_key_file(&mallory.to_key_file()).unwrap(),
    )
    .unwrap();
    mallory_client.login().await.unwrap();
    let token = mallory_client.session_token().unwrap().to_owned();
    let lease = mallory_client.lease(&any).await.unwrap().lease.unwrap();
    let (status, body) = post(
        &base,
        &format!("/v1/leases/{}/proof", lease.lease_id),
        &token,
        &json!({"fencing_token": lease.fencing_token, "proof": "BwcH".repeat(1024)}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_proof")),
        "{body}"
    );
    let lease = mallory_client.lease(&any).await.unwrap().lease.unwrap();
    let (status, body) = post(
        &base,
        &format!("/v1/leases/{}/proof", lease.lease_id),
        &token,
        &json!({"fencing_token": lease.fencing_token, "proof": "%%%"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("malformed_submission")),
        "{body}"
    );
    let (status, _) = post(&base, "/v1/lease", &token, &json!({"capabilities": {}})).await;
    assert_eq!(status, 401, "suspended: its session ended");
    // A replayed login of the forger is refused too.
    let challenge: Value = reqwest::Client::new()
        .post(format!("{base}/v1/login/challenge"))
        .json(&json!({"prover": "mallory"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(challenge["code"], "suspended", "{challenge}");

    // Two honest remote provers, processes of their own.
    for (i, key) in keys.iter().enumerate() {
        let mut prover = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
        prover
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .args(["remote-prover", "--api", &base, "--key"])
            .arg(key)
            .arg("--keys-dir")
            .arg(common::keys_dir())
            .env("RUST_LOG", "info")
            .stdout(log(&format!("prover{i}")))
            .stderr(log(&format!("prover{i}-err")));
        children.0.push((
            format!("prover{i}"),
            prover.spawn().expect("start a remote prover"),
        ));
    }

    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let status = db.dal.batch_status(common::batch_id(1)).await.unwrap();
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
        for (name, child) in &mut children.0 {
            if let Ok(Some(exit)) = child.try_wait() {
                panic!(
                    "{name} exited early ({exit}): {}",
                    std::fs::read_to_string(dir.path().join(format!("{name}-err.log")))
                        .unwrap_or_default()
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "round 0 not proven: {:?}",
            basic.prover_jobs
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Leaf witness jobs are queued: the fleet's own witness generator takes it from here.
    let status = db.dal.batch_status(common::batch_id(1)).await.unwrap();
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
    // Wait for the hoarder's misses to be swept (its deadlines are long past by now).
    let started = Instant::now();
    while db
        .dal
        .outside_prover("hoarder")
        .await
        .unwrap()
        .unwrap()
        .status
        != zkfleet_dal::OutsideProverStatus::Suspended
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "hoarder not suspended"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(children);

    let stats: Value = serde_json::from_str(&ok({
        let mut c = cmd();
        c.args(["provers", "stats", "--json"]);
        c
    }))
    .unwrap();
    let of = |name: &str| {
        stats
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let (alice, bob, mallory_s, hoarder_s) = (of("alice"), of("bob"), of("mallory"), of("hoarder"));
    let accepted = alice["accepted"].as_u64().unwrap() + bob["accepted"].as_u64().unwrap();
    assert_eq!(
        accepted, jobs as u64,
        "every round-0 job proven once, by the honest provers"
    );
    assert_eq!(
        alice["earnings"].as_u64().unwrap() + bob["earnings"].as_u64().unwrap(),
        3 * jobs as u64
    );
    assert_eq!(
        alice["refused"].as_u64().unwrap() + bob["refused"].as_u64().unwrap(),
        0
    );
    assert_eq!(
        (
            mallory_s["leased"].as_u64(),
            mallory_s["refused"].as_u64(),
            mallory_s["status"].as_str()
        ),
        (Some(2), Some(2), Some("suspended"))
    );
    assert_eq!(
        (
            hoarder_s["leased"].as_u64(),
            hoarder_s["missed"].as_u64(),
            hoarder_s["accepted"].as_u64(),
            hoarder_s["status"].as_str()
        ),
        (Some(2), Some(2), Some(0), Some("suspended"))
    );
    let table = ok({
        let mut c = cmd();
        c.args(["provers", "stats"]);
        c
    });
    assert!(
        table.contains("invalid_proof: 1") && table.contains("malformed_submission: 1"),
        "{table}"
    );
}
