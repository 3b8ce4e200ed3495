//! The whole flow with the reference sequencer: `zkfleet sequencer`, `zkfleet gateway` and the
//! fleet (witness generator, circuit prover, compressor, job monitor) as separate processes
//! against a real PostgreSQL database and the S3-compatible server.
//!
//! - `postgres_sequencer_pull_mode_three_batches_proven_and_accepted`: the sequencer is the
//!   gateway's upstream (gateway `mode = "pull"`, bearer token on the sequencer's side); three
//!   consecutive batches are produced, proven, submitted back and accepted, and the sequencer's
//!   `/status` shows its proven state root advance batch after batch.
//! - `postgres_sequencer_push_mode_three_batches_proven_and_accepted`: the same with the
//!   sequencer as the gateway's client (gateway `mode = "push"` with a token). Both check the
//!   sequencer's `/metrics` page against docs/operations.md's "Sequencer" table.
//! - `postgres_sequencer_refuses_tampered_and_mismatched_final_proofs`: a real final proof of
//!   the pull run with one byte flipped, the real proof sent beside a wrong public output, and
//!   the real proof given to a sequencer whose batch is another are each refused with
//!   `{"Error": …}` and nothing advances; the genuine proof is then accepted.
//!
//! Small circuits (1 operation, 2 signatures, 2 deposits per instance, XMSS height 2; arity 2;
//! light compression) from the keystore the crate's tests share (`test-keys-small-light`), and
//! 1-operation batches, to keep the suite short.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod metrics_docs;
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::small_keys::{keys_dir, proving_section};
use support::TestFleet;
use zkfleet_store::{ObjectKey, Store};
use zkfleet_test_support::store::S3Bucket;
use zkfleet_types::api::FinalProof;
use zkfleet_types::{BatchNumber, ChainId, JobStatus, L1BatchId, ProtocolSemanticVersion};

const CHAIN: u64 = 270;
const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
const BATCHES: u32 = 3;
/// Longest the three batches may take here (small circuits; the machine may be shared).
const DEADLINE: Duration = Duration::from_secs(20 * 60);
const SEQUENCER_SEED: u64 = 7;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// A port nothing listens on now (the component binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(ChainId(CHAIN), BatchNumber(number))
}

/// Which side calls which.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Pull,
    Push,
}

/// One flow: database, bucket, configuration file, processes.
struct Flow {
    db: TestFleet,
    config: PathBuf,
    store: Store,
    children: Vec<(String, Child)>,
    sequencer_port: u16,
}

impl Flow {
    /// A fresh database and bucket, the protocol version of the shared keys registered, and a
    /// configuration for the gateway in `mode` and a sequencer of `seed` (its other side).
    fn new(name: &str, mode: Mode, seed: u64) -> Self {
        let db = TestFleet::postgres();
        let bucket = S3Bucket::create_blocking(&format!("seq-{name}"));
        let (endpoint, region) = (&bucket.endpoint, &bucket.region);
        let config = db.dir.path().join(format!("{name}.toml"));
        let base = format!(
            r#"chain_id = {CHAIN}

[store]
backend = "s3"
bucket = "{}"
endpoint = "{endpoint}"
region = "{region}"
allow_http = true
max_retries = 2
retry_initial_backoff_ms = 100

[monitor.intervals]
dependency_queuer = "1s"
job_requeuer = "1s"
{}{}"#,
            bucket.bucket,
            proving_section(keys_dir()),
            support::FAST_POLLING
        );
        std::fs::write(&config, &base).expect("write the configuration");
        let store = bucket.open();
        let flow = Self {
            db,
            config,
            store,
            children: Vec::new(),
            sequencer_port: free_port(),
        };
        flow.ok(&[
            "insert-version",
            "--version",
            &VERSION.to_string(),
            "--from-keys",
        ]);
        let version = flow
            .db
            .runtime
            .block_on(flow.db.dal.protocol_version(VERSION))
            .expect("read the protocol version")
            .expect("inserted");
        let gateway_port = free_port();
        let sequencer = format!("127.0.0.1:{}", flow.sequencer_port);
        let (gateway_mode, sequencer_mode) = match mode {
            Mode::Pull => ("pull", "pull"),
            Mode::Push => ("push", "push"),
        };
        let text = format!(
            r#"{base}
[gateway]
mode = "{gateway_mode}"
listen_address = "127.0.0.1:{gateway_port}"

[[gateway.protocol_versions]]
version = "{VERSION}"
recursion_tree_vk_digest = "{}"
final_vk_digest = "{}"

[gateway.pull]
upstream_url = "http://{sequencer}"
poll_interval = "1s"
chain_id = {CHAIN}

[sequencer]
mode = "{sequencer_mode}"
listen_address = "{sequencer}"
data_dir = "{}"
final_vk_digest = "{}"
operations_per_batch = 1
batch_interval = "1s"
accounts = 3
seed = {seed}
max_batches = {BATCHES}

[sequencer.push]
gateway_url = "http://127.0.0.1:{gateway_port}"
poll_interval = "1s"
"#,
            version.recursion_tree_vk_digest,
            version.final_vk_digest,
            flow.db.dir.path().join("sequencer").display(),
            version.final_vk_digest,
        );
        std::fs::write(&flow.config, text).expect("write the configuration");
        flow
    }

    /// `zkfleet --config FILE …` with the database URL and the tokens of both sides.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
        for (name, _) in std::env::vars() {
            if name.starts_with("ZKFLEET_") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(self.db.dir.path())
            .env(
                "ZKFLEET_DATABASE_URL",
                self.db.url.as_deref().expect("postgres"),
            )
            // Pull: the gateway presents this to its upstream, the sequencer requires it.
            .env("ZKFLEET_GATEWAY_UPSTREAM_TOKEN", UPSTREAM_TOKEN)
            .env(
                "ZKFLEET_SEQUENCER_TOKENS",
                format!("gateway={UPSTREAM_TOKEN}"),
            )
            // Push: the sequencer presents this to the gateway, which requires it.
            .env("ZKFLEET_SEQUENCER_GATEWAY_TOKEN", GATEWAY_TOKEN)
            .env(
                "ZKFLEET_GATEWAY_TOKENS",
                format!("sequencer={GATEWAY_TOKEN}"),
            )
            .env("RUST_LOG", "info")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null());
        command
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().expect("run zkfleet");
        assert!(
            output.status.success(),
            "zkfleet {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts a component; its logs go to `DIR/NAME.log`, its metrics to a free port.
    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log =
            std::fs::File::create(self.db.dir.path().join(format!("{name}.log"))).expect("log");
        let address = format!("127.0.0.1:{}", free_port());
        let child = self
            .command()
            .env("ZKFLEET_METRICS__WITNESS_GENERATOR", &address)
            .env("ZKFLEET_METRICS__CIRCUIT_PROVER", &address)
            .env("ZKFLEET_METRICS__COMPRESSOR", &address)
            .env("ZKFLEET_METRICS__GATEWAY", &address)
            .env("ZKFLEET_MONITOR__LISTEN_ADDRESS", &address)
            .args(args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn zkfleet");
        self.children.push((name.to_owned(), child));
    }

    /// The fleet, the gateway and the sequencer, as an operator starts them.
    fn start_everything(&mut self) {
        self.spawn("sequencer", &["sequencer"]);
        self.spawn("gateway", &["gateway"]);
        self.spawn("witness-generator", &["witness-generator", "--all-rounds"]);
        self.spawn(
            "circuit-prover",
            &["circuit-prover", "--light", "1", "--heavy", "1"],
        );
        self.spawn("compressor", &["compressor"]);
        self.spawn("job-monitor", &["job-monitor"]);
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.children {
            let text = std::fs::read_to_string(self.db.dir.path().join(format!("{name}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {name} (last lines) ---\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Fails with the logs if a component exited.
    fn check_alive(&mut self, what: &str) {
        let exited = self
            .children
            .iter_mut()
            .find_map(|(name, child)| match child.try_wait() {
                Ok(Some(exit)) => Some(format!("{name} exited ({exit})")),
                _ => None,
            });
        if let Some(exited) = exited {
            panic!("{exited} while waiting for {what}:\n{}", self.logs());
        }
    }

    fn sequencer_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.sequencer_port)
    }

    /// `GET /status` of the sequencer (`None` while it is not listening yet).
    fn status(&self) -> Option<serde_json::Value> {
        block_on(async {
            reqwest::get(self.sequencer_url("/status"))
                .await
                .ok()?
                .json()
                .await
                .ok()
        })
    }

    /// Waits for the sequencer's `/status` to satisfy `done`, recording every distinct
    /// (latest proven batch, proven state root) on the way.
    fn wait_for_status(
        &mut self,
        what: &str,
        seen: &mut Vec<(u64, String)>,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.check_alive(what);
            if let Some(status) = self.status() {
                let proven = (
                    status["latest_proven_batch"].as_u64().unwrap_or(0),
                    status["proven_state_root"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                if seen.last() != Some(&proven) {
                    seen.push(proven);
                }
                if done(&status) {
                    return status;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{what} not reached in {DEADLINE:?}; seen {seen:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn final_proof(&self, batch: u32) -> FinalProof {
        self.db
            .runtime
            .block_on(self.store.get::<FinalProof>(&ObjectKey::FinalProof {
                chain: ChainId(CHAIN),
                batch: BatchNumber(batch),
                protocol_version: VERSION,
            }))
            .expect("final proof in the store")
    }

    fn compression_status(&self, batch: u32) -> Option<JobStatus> {
        self.db
            .runtime
            .block_on(self.db.dal.batch_status(batch_id(batch)))
            .expect("batch status")
            .compression
            .map(|c| c.status)
    }

    fn metrics(&self) -> String {
        block_on(async {
            reqwest::get(self.sequencer_url("/metrics"))
                .await?
                .text()
                .await
        })
        .expect("scrape the sequencer's /metrics")
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const UPSTREAM_TOKEN: &str = "upstream-token-0123456789abcdef";
const GATEWAY_TOKEN: &str = "gateway-token-0123456789abcdef";

/// The value of a series in Prometheus text (`name{labels} value`), 0 when absent.
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name_and_labels)?;
            rest.strip_prefix(' ')?.trim().parse().ok()
        })
        .unwrap_or(0.0)
}

/// Runs one flow to three accepted batches and checks what the sequencer and the fleet say.
fn three_batches(name: &str, mode: Mode) -> Flow {
    let started = Instant::now();
    let mut flow = Flow::new(name, mode, SEQUENCER_SEED);
    flow.start_everything();
    let mut seen = Vec::new();
    let status = flow.wait_for_status("three accepted batches", &mut seen, |s| {
        s["latest_proven_batch"].as_u64() == Some(u64::from(BATCHES))
    });
    eprintln!(
        "{name}: {BATCHES} batches proven and accepted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(status["latest_produced_batch"], BATCHES, "{status}");
    assert_eq!(status["proofs_accepted"], BATCHES, "{status}");
    // The proven root moved three times: genesis → batch 1's new root → 2's → 3's, each the
    // new state root of the batch's final proof, and the chain of roots is unbroken.
    let genesis = status["genesis_state_root"]
        .as_str()
        .expect("genesis root")
        .to_owned();
    let mut previous = genesis.clone();
    let mut roots = vec![genesis.clone()];
    for batch in 1..=BATCHES {
        let proof = flow.final_proof(batch);
        let output = proof.public_output;
        assert_eq!(output.batch_number, BatchNumber(batch));
        assert_eq!(
            output.prev_state_root.to_string(),
            previous,
            "batch {batch}"
        );
        previous = output.new_state_root.to_string();
        assert!(!roots.contains(&previous), "batch {batch} changed the root");
        roots.push(previous.clone());
    }
    assert_eq!(status["proven_state_root"], previous, "{status}");
    // Every root /status showed is one of those, in order (polling may miss an intermediate
    // one when two proofs are accepted between two polls).
    let mut last_index = 0;
    for (proven, root) in &seen {
        let index = roots
            .iter()
            .position(|r| r == root)
            .unwrap_or_else(|| panic!("/status showed unknown root {root}: {seen:?}"));
        assert_eq!(index as u64, *proven, "{seen:?}");
        assert!(index >= last_index, "the proven root went back: {seen:?}");
        last_index = index;
    }
    let metrics = flow.metrics();
    let problems = metrics_docs::check_page("sequencer", &metrics);
    assert!(
        problems.is_empty(),
        "the sequencer's /metrics differs from docs/operations.md:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        series(&metrics, "zkfleet_sequencer_batches_produced_total"),
        f64::from(BATCHES),
        "{metrics}"
    );
    assert_eq!(
        series(&metrics, "zkfleet_sequencer_proofs_accepted_total"),
        f64::from(BATCHES),
        "{metrics}"
    );
    // Nothing refused, except possibly a proof the pull-mode gateway submitted before its
    // predecessor's (it submits every finished proof at each poll, and retries). Every reason
    // is on the page from the start, at 0.
    for reason in zkfleet_sequencer::Refusal::REASONS {
        let name = format!("zkfleet_sequencer_proofs_refused_total{{reason=\"{reason}\"}}");
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} is not registered\n{metrics}"
        );
        if reason != "out_of_order" {
            assert_eq!(series(&metrics, &name), 0.0, "{status}\n{metrics}");
        }
    }
    // The gateway delivered every proof: the compression job's last state (a pull-mode
    // gateway marks it once the sequencer's "Success" is back, a moment after the acceptance).
    let deadline = Instant::now() + Duration::from_secs(60);
    for batch in 1..=BATCHES {
        while flow.compression_status(batch) != Some(JobStatus::SentToServer) {
            assert!(
                Instant::now() < deadline,
                "batch {batch}: compression job {:?}, not sent_to_server\n{}",
                flow.compression_status(batch),
                flow.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    flow
}

/// The pull run's genuine final proof of batch 1 (for the tampering test).
fn pull_run() -> &'static FinalProof {
    static RUN: OnceLock<FinalProof> = OnceLock::new();
    RUN.get_or_init(|| three_batches("pull", Mode::Pull).final_proof(1))
}

#[test]
fn postgres_sequencer_pull_mode_three_batches_proven_and_accepted() {
    let proof = pull_run();
    assert_eq!(proof.public_output.batch_number, BatchNumber(1));
}

#[test]
fn postgres_sequencer_push_mode_three_batches_proven_and_accepted() {
    three_batches("push", Mode::Push);
}

/// `POST /submit_proof/1` to a sequencer of `flow` with `proof`: the JSON answer.
fn submit(flow: &Flow, proof: &FinalProof) -> serde_json::Value {
    block_on(async {
        reqwest::Client::new()
            .post(flow.sequencer_url("/submit_proof/1"))
            .bearer_auth(UPSTREAM_TOKEN)
            .json(&serde_json::json!({ "Proof": proof }))
            .send()
            .await?
            .json()
            .await
    })
    .expect("submit a proof")
}

/// Starts only the sequencer of `flow` and waits until it produced batch 1.
fn sequencer_alone(flow: &mut Flow) -> serde_json::Value {
    flow.spawn("sequencer", &["sequencer"]);
    let mut seen = Vec::new();
    flow.wait_for_status("batch 1 produced", &mut seen, |s| {
        s["latest_produced_batch"].as_u64() >= Some(1)
    })
}

fn assert_nothing_advanced(flow: &Flow, before: &serde_json::Value, refused: u64) {
    let status = flow.status().expect("status");
    assert_eq!(status["latest_proven_batch"], 0, "{status}");
    assert_eq!(
        status["proven_state_root"], before["proven_state_root"],
        "{status}"
    );
    assert_eq!(status["proofs_accepted"], 0, "{status}");
    assert_eq!(status["proofs_refused"], refused, "{status}");
}

#[test]
fn postgres_sequencer_refuses_tampered_and_mismatched_final_proofs() {
    let genuine = pull_run().clone();

    // The same seed and chain: this sequencer's batch 1 is the pull run's batch 1.
    let mut same = Flow::new("tamper", Mode::Pull, SEQUENCER_SEED);
    let before = sequencer_alone(&mut same);
    assert_eq!(
        before["genesis_state_root"].as_str(),
        Some(genuine.public_output.prev_state_root.to_string().as_str())
    );

    // One byte of the proof flipped.
    let mut flipped = genuine.clone();
    let middle = flipped.proof.0.len() / 2;
    flipped.proof.0[middle] ^= 0x01;
    let answer = submit(&same, &flipped);
    let error = answer["Error"].as_str().unwrap_or_default();
    assert!(error.contains("does not verify"), "{answer}");
    assert_nothing_advanced(&same, &before, 1);

    // The genuine proof sent beside a public output it does not attest.
    let mut wrong_claim = genuine.clone();
    wrong_claim.public_output.new_state_root = wrong_claim.public_output.prev_state_root;
    let answer = submit(&same, &wrong_claim);
    let error = answer["Error"].as_str().unwrap_or_default();
    assert!(error.contains("not the one it attests"), "{answer}");
    assert_nothing_advanced(&same, &before, 2);

    let metrics = same.metrics();
    assert_eq!(
        series(
            &metrics,
            "zkfleet_sequencer_proofs_refused_total{reason=\"invalid_proof\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        series(
            &metrics,
            "zkfleet_sequencer_proofs_refused_total{reason=\"claim_mismatch\"}"
        ),
        1.0,
        "{metrics}"
    );

    // Another seed: this sequencer's batch 1 is another batch, so the genuine, valid proof
    // attests an output it did not compute.
    let mut other = Flow::new("other", Mode::Pull, SEQUENCER_SEED + 1);
    let other_before = sequencer_alone(&mut other);
    let answer = submit(&other, &genuine);
    let error = answer["Error"].as_str().unwrap_or_default();
    assert!(error.contains("attests another output"), "{answer}");
    assert_nothing_advanced(&other, &other_before, 1);

    // The genuine proof, unchanged, is accepted where it belongs: the refusals were about the
    // tampering, not about the proof.
    let answer = submit(&same, &genuine);
    assert_eq!(answer, serde_json::json!("Success"), "{answer}");
    let status = same.status().expect("status");
    assert_eq!(status["latest_proven_batch"], 1, "{status}");
    assert_eq!(
        status["proven_state_root"],
        genuine.public_output.new_state_root.to_string(),
        "{status}"
    );
}
