//! The distributed fleet end to end: the witness generator, two circuit provers, the compressor
//! and the job monitor as separate `zkfleet` processes against a real PostgreSQL database and
//! the real S3-compatible server, configured by one file plus environment variables.
//!
//! - `a_distributed_fleet_proves_a_batch_and_refuses_bad_input`: a generated batch whose state
//!   type needs three leaves and two node depths is proven and its final proof checked with
//!   `zkfleet verify`; beside it, a malformed batch blob, a batch with an invalid operation and a
//!   batch with a corrupted circuit blob each fail with a clear error while the rest goes on; a
//!   circuit prover of a protocol version whose digests are not its circuits' refuses to start.
//! - `a_fleet_killed_mid_job_finishes_the_same_proof`: a circuit prover is SIGKILLed in the
//!   middle of a proof and the witness generator in the middle of a round; after the monitor's
//!   requeue the batch completes with the same final proof as an undisturbed run, and every job
//!   is successful exactly once.
//!
//! Small circuits (1 operation, 2 signatures, 2 deposits per instance, XMSS height 2; arity 2;
//! light compression), built by `zkfleet keys generate` into the keystore the crates' tests share.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::TestFleet;
use zkfleet_dal::{BatchStatus, JobSummary, NewBatch};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig, InvalidKind};
use zkfleet_rollup::operation::Operation;
use zkfleet_store::{
    ObjectKey, S3Credentials, Store, StoreBackend, StoreConfig, WitnessInputBytes,
};
use zkfleet_types::api::FinalProof;
use zkfleet_types::{
    AggregationRound, BatchNumber, BatchPublicOutput, ChainId, JobStatus, L1BatchId,
    ProtocolSemanticVersion,
};
use zkfleet_witness_generator::BatchWitnessInput;

const CHAIN: u64 = 270;
const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
/// Longest a batch may take here (small circuits; the machine may be shared).
const BATCH_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The keystore of the small circuits, shared with the other crates' tests, generated once per
/// test binary by `zkfleet keys generate` (builds are deterministic: rewriting the shared files
/// gives the same bytes).
fn keys_dir() -> &'static Path {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-keys-small-light");
        let config = dir.with_extension("toml");
        std::fs::create_dir_all(&dir).expect("keys dir");
        std::fs::write(&config, proving_section(&dir)).expect("keys config");
        let output = Command::new(env!("CARGO_BIN_EXE_zkfleet"))
            .args([
                "--config",
                config.to_str().expect("utf-8"),
                "keys",
                "generate",
            ])
            .env_remove("ZKFLEET_CONFIG")
            .output()
            .expect("run zkfleet keys generate");
        assert!(
            output.status.success(),
            "keys generate failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
}

fn proving_section(keys: &Path) -> String {
    format!(
        r#"
[proving]
protocol_version = "{VERSION}"
keys_dir = "{}"
arity = 2
compression = "light"

[proving.geometry]
signatures_per_instance = 2
operations_per_instance = 1
deposits_per_instance = 2
xmss_height = 2
"#,
        keys.display()
    )
}

/// A fresh bucket on the test S3 server.
fn s3_bucket() -> (String, String) {
    let endpoint = std::env::var("ZKFLEET_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "ZKFLEET_TEST_S3_ENDPOINT is not set: the fleet tests need the S3-compatible server \
             (scripts/test starts one; `source /tmp/devsvc/env.sh` in a dev session)"
        )
    });
    let bucket = format!(
        "zkfleet-fleet-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
            % 1_000_000_000
    );
    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            reqwest::Client::new()
                .put(format!("{}/{bucket}", endpoint.trim_end_matches('/')))
                .send()
                .await
                .map(|r| r.status())
        })
        .unwrap_or_else(|e| panic!("cannot reach the S3 server at {endpoint}: {e}"));
    assert!(status.is_success(), "creating bucket {bucket}: {status}");
    (endpoint, bucket)
}

/// One distributed fleet: a fresh database, a fresh bucket, one configuration file.
struct Fleet {
    db: TestFleet,
    config: PathBuf,
    store: Store,
    children: Vec<(String, Child)>,
    /// The metrics port of every component started.
    metrics: Vec<(String, u16)>,
}

impl Fleet {
    fn new(name: &str) -> Self {
        let db = TestFleet::postgres();
        let (endpoint, bucket) = s3_bucket();
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let config = db.dir.path().join(format!("{name}.toml"));
        let text = format!(
            r#"chain_id = {CHAIN}

[store]
backend = "s3"
bucket = "{bucket}"
endpoint = "{endpoint}"
region = "{region}"
allow_http = true
max_retries = 2
retry_initial_backoff_ms = 100

[monitor.intervals]
dependency_queuer = "1s"
job_requeuer = "1s"

[monitor.timeouts]
basic_witness = "3s"
leaf_witness = "3s"
node_witness = "3s"
recursion_tip_witness = "3s"
scheduler_witness = "3s"
prover = "45s"
compression = "3m"
{}"#,
            proving_section(keys_dir())
        );
        std::fs::write(&config, text).expect("write the fleet configuration");
        let store = Store::open(&StoreConfig::with_backend(StoreBackend::S3 {
            bucket,
            endpoint: Some(endpoint),
            region,
            allow_http: true,
            virtual_hosted_style: false,
            credentials: S3Credentials::Environment,
        }))
        .expect("open the test bucket");
        Self {
            db,
            config,
            store,
            children: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// `zkfleet --config FILE …` with the database URL from the environment.
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
    fn spawn(&mut self, name: &str, args: &[&str]) -> u32 {
        let log =
            std::fs::File::create(self.db.dir.path().join(format!("{name}.log"))).expect("log");
        // Every component's metrics on a port of its own (two provers share a machine here).
        let port = free_port();
        self.metrics.push((name.to_owned(), port));
        let address = format!("127.0.0.1:{port}");
        let child = self
            .command()
            .env("ZKFLEET_METRICS__WITNESS_GENERATOR", &address)
            .env("ZKFLEET_METRICS__CIRCUIT_PROVER", &address)
            .env("ZKFLEET_METRICS__COMPRESSOR", &address)
            .env("ZKFLEET_MONITOR__LISTEN_ADDRESS", &address)
            .args(args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn zkfleet");
        let pid = child.id();
        self.children.push((name.to_owned(), child));
        pid
    }

    /// SIGKILL: no cleanup, no graceful stop.
    fn kill(&mut self, name: &str) {
        let at = self
            .children
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no component {name}"));
        let (_, mut child) = self.children.remove(at);
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.db.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.children {
            let text = self.log(name);
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {name} (last lines) ---\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    fn status(&self, batch: u32) -> BatchStatus {
        self.db
            .runtime
            .block_on(self.db.dal.batch_status(batch_id(batch)))
            .expect("batch status")
    }

    /// Waits until `done(status)` holds for the batch; fails (with the components' logs) past
    /// the deadline or when a component exits.
    fn wait_for(
        &mut self,
        batch: u32,
        what: &str,
        done: impl Fn(&BatchStatus) -> bool,
    ) -> BatchStatus {
        let deadline = Instant::now() + BATCH_DEADLINE;
        loop {
            let status = self.status(batch);
            if done(&status) {
                return status;
            }
            let exited =
                self.children
                    .iter_mut()
                    .find_map(|(name, child)| match child.try_wait() {
                        Ok(Some(exit)) => Some(format!("{name} exited ({exit})")),
                        _ => None,
                    });
            if let Some(exited) = exited {
                panic!("{exited} while waiting for {what}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "batch {batch}: {what} not reached in {BATCH_DEADLINE:?}\n{status:#?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
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

    /// Writes the stored final-proof blob to a file and checks it with `zkfleet verify`.
    fn verify_final_proof(&self, batch: u32) -> String {
        let key = ObjectKey::FinalProof {
            chain: ChainId(CHAIN),
            batch: BatchNumber(batch),
            protocol_version: VERSION,
        };
        let raw = self
            .db
            .runtime
            .block_on(self.store.get_raw(&key))
            .expect("final proof blob");
        let path = self.db.dir.path().join(format!("final-{batch}.bin"));
        std::fs::write(&path, raw).expect("write the final proof");
        let vk = final_vk_path();
        self.ok(&[
            "verify",
            "--proof",
            path.to_str().expect("utf-8"),
            "--vk",
            vk.to_str().expect("utf-8"),
        ])
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nothing listens on now (the component binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `GET http://127.0.0.1:PORT/metrics`.
fn scrape(port: u16) -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
                .await?
                .text()
                .await
        })
        .unwrap_or_else(|e| panic!("scraping 127.0.0.1:{port}/metrics: {e}"))
}

fn final_vk_path() -> PathBuf {
    std::fs::read_dir(keys_dir())
        .expect("keys dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".final_vk.bin"))
        .expect("the keystore has a final verifying key")
}

fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(ChainId(CHAIN), BatchNumber(number))
}

/// A batch of 5 operations with at least one deposit and one signed operation (5 state
/// instances: 3 leaves, node depths 0 and 1), as a witness input file; returns its path and
/// the public output the native execution computes.
fn write_good_batch(dir: &Path, number: u32) -> (PathBuf, BatchPublicOutput) {
    for seed in 0..200 {
        let generated = generate(&GeneratorConfig {
            accounts: 4,
            operations: 5,
            seed,
            tree_height: 2,
            chain_id: ChainId(CHAIN),
            batch_number: BatchNumber(number),
            invalid: None,
        })
        .expect("generate");
        let ops = &generated.batch.operations;
        let deposits = ops
            .iter()
            .filter(|o| matches!(o, Operation::Deposit(_)))
            .count();
        if deposits == 0 || deposits == ops.len() {
            continue;
        }
        let mut state = generated.genesis.to_memory_state().expect("genesis");
        let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
        let input = BatchWitnessInput::from_genesis(&generated.batch, &generated.genesis)
            .expect("witness input")
            .encode()
            .expect("encode");
        let path = dir.join(format!("batch-{number}.bin"));
        std::fs::write(&path, input).expect("write batch");
        return (path, executed.public_output);
    }
    panic!("no seed gives a batch with deposits and signed operations");
}

fn insert_good_batch(fleet: &Fleet, number: u32) -> BatchPublicOutput {
    let (path, output) = write_good_batch(fleet.db.dir.path(), number);
    fleet.ok(&[
        "insert-batch",
        "--number",
        &number.to_string(),
        "--version",
        &VERSION.to_string(),
        "--input",
        path.to_str().expect("utf-8"),
    ]);
    output
}

fn is_done(status: &BatchStatus) -> bool {
    status
        .compression
        .as_ref()
        .is_some_and(|c| c.status == JobStatus::Successful)
}

fn every_job(status: &BatchStatus) -> Vec<&JobSummary> {
    status
        .witness_input
        .iter()
        .chain(
            status
                .rounds
                .iter()
                .flat_map(|r| r.witness_jobs.iter().chain(&r.prover_jobs)),
        )
        .chain(status.compression.iter())
        .collect()
}

/// The fleet's components, as an operator starts them.
fn start_fleet(fleet: &mut Fleet) {
    fleet.spawn("witness-generator", &["witness-generator", "--all-rounds"]);
    fleet.spawn(
        "prover-a",
        &["circuit-prover", "--light", "1", "--heavy", "0"],
    );
    fleet.spawn(
        "prover-b",
        &["circuit-prover", "--light", "0", "--heavy", "1"],
    );
    fleet.spawn("compressor", &["compressor"]);
    fleet.spawn("job-monitor", &["job-monitor"]);
}

/// The undisturbed run's final proof of the good batch (number 1), shared by both tests.
fn undisturbed() -> &'static (FinalProof, BatchPublicOutput) {
    static RUN: OnceLock<(FinalProof, BatchPublicOutput)> = OnceLock::new();
    RUN.get_or_init(|| {
        let mut fleet = Fleet::new("undisturbed");
        fleet.ok(&[
            "insert-version",
            "--version",
            &VERSION.to_string(),
            "--from-keys",
        ]);
        let expected = insert_good_batch(&fleet, 1);
        start_fleet(&mut fleet);
        let status = fleet.wait_for(1, "the final proof", is_done);
        let node_depths = status.rounds[AggregationRound::Node as usize]
            .prover_jobs
            .iter()
            .map(|j| j.depth.unwrap_or(0))
            .max();
        assert_eq!(node_depths, Some(1), "two node depths for the state type");
        let verified = fleet.verify_final_proof(1);
        assert!(verified.contains("valid final proof"), "{verified}");
        // Every component serves its documented series (docs/job-monitor.md, "Metrics").
        for (component, series) in [
            (
                "witness-generator",
                &[
                    "zkfleet_witness_jobs_total",
                    "zkfleet_store_bytes_total",
                    "zkfleet_runner_jobs_picked_total",
                ][..],
            ),
            (
                "prover-a",
                &[
                    "zkfleet_prover_jobs_total",
                    "zkfleet_prove_seconds",
                    "zkfleet_witness_vector_seconds",
                ][..],
            ),
            (
                "compressor",
                &[
                    "zkfleet_compression_jobs_total",
                    "zkfleet_final_proof_bytes",
                ][..],
            ),
            (
                "job-monitor",
                &[
                    "zkfleet_prover_jobs",
                    "zkfleet_oldest_unproven_batch_age_seconds",
                ][..],
            ),
        ] {
            let port = fleet
                .metrics
                .iter()
                .find(|(n, _)| n == component)
                .map(|(_, p)| *p)
                .expect("component started");
            let text = scrape(port);
            for name in series {
                assert!(
                    text.contains(name),
                    "{component}'s /metrics lacks {name}:\n{text}"
                );
            }
        }
        (fleet.final_proof(1), expected)
    })
}

#[test]
fn a_distributed_fleet_proves_a_batch_and_refuses_bad_input() {
    let (proof, native) = undisturbed();
    // The proof attests exactly what native execution computed (the tree's key digest aside).
    let mut attested = proof.public_output;
    attested.recursion_tree_vk_digest = native.recursion_tree_vk_digest;
    assert_eq!(&attested, native);

    // Bad input beside a good batch, on a fresh fleet.
    let mut fleet = Fleet::new("bad-input");
    fleet.ok(&[
        "insert-version",
        "--version",
        &VERSION.to_string(),
        "--from-keys",
    ]);
    fleet.spawn("witness-generator", &["witness-generator", "--all-rounds"]);
    fleet.spawn("job-monitor", &["job-monitor"]);
    insert_good_batch(&fleet, 1);
    // 2: a malformed witness input blob (what a broken upload leaves), inserted past the CLI's
    // validation.
    fleet.db.runtime.block_on(async {
        let key = ObjectKey::WitnessInput {
            chain: ChainId(CHAIN),
            batch: BatchNumber(2),
        };
        let path = fleet
            .store
            .put(
                &key,
                &WitnessInputBytes::new(b"ZKWI not a witness input".to_vec()),
            )
            .await
            .expect("store");
        fleet
            .db
            .dal
            .insert_batch(&NewBatch {
                batch: batch_id(2),
                protocol_version: VERSION,
                witness_input_blob_key: path,
                priority: 0,
                batch_sealed_at: chrono::Utc::now(),
            })
            .await
            .expect("insert");
    });
    // 3: a batch with an invalid operation (a transfer over the sender's balance).
    let generated = generate(&GeneratorConfig {
        accounts: 4,
        operations: 4,
        seed: 3,
        tree_height: 2,
        chain_id: ChainId(CHAIN),
        batch_number: BatchNumber(3),
        invalid: Some(InvalidKind::InsufficientBalance),
    })
    .expect("generate an invalid batch");
    let input = BatchWitnessInput::from_genesis(&generated.batch, &generated.genesis)
        .expect("witness input")
        .encode()
        .expect("encode");
    let invalid = fleet.db.dir.path().join("batch-3.bin");
    std::fs::write(&invalid, input).expect("write");
    fleet.ok(&[
        "insert-batch",
        "--number",
        "3",
        "--version",
        &VERSION.to_string(),
        "--input",
        invalid.to_str().expect("utf-8"),
    ]);
    // 4: a good batch one of whose circuit blobs is corrupted before any prover runs.
    insert_good_batch(&fleet, 4);
    let status = fleet.wait_for(4, "round 0", |s| s.rounds[0].prover_jobs.len() > 1);
    let victim = &status.rounds[0].prover_jobs[0];
    let key =
        ObjectKey::parse(victim.input_blob_key.as_deref().expect("circuit key")).expect("key");
    fleet.db.runtime.block_on(async {
        let blob = fleet.store.get_raw(&key).await.expect("circuit blob");
        // What an interrupted upload leaves: the first half of the envelope.
        let truncated = blob.slice(..blob.len() / 2);
        fleet
            .store
            .put_raw(&key, truncated)
            .await
            .expect("overwrite with a truncated blob");
    });
    fleet.spawn(
        "prover-a",
        &["circuit-prover", "--light", "1", "--heavy", "1"],
    );
    fleet.spawn("compressor", &["compressor"]);

    let malformed = fleet.wait_for(2, "the malformed input's failure", |s| {
        s.witness_input.as_ref().is_some_and(|w| w.error.is_some())
    });
    let error = malformed
        .witness_input
        .and_then(|w| w.error)
        .unwrap_or_default();
    assert!(error.contains("witness input"), "{error}");
    let invalid = fleet.wait_for(3, "the invalid batch's failure", |s| {
        s.witness_input.as_ref().is_some_and(|w| w.error.is_some())
    });
    let error = invalid
        .witness_input
        .and_then(|w| w.error)
        .unwrap_or_default();
    assert!(
        error.contains("invalid") || error.contains("balance"),
        "{error}"
    );
    let corrupted = fleet.wait_for(4, "the corrupted circuit's failure", |s| {
        s.rounds[0].prover_jobs.iter().any(|j| j.error.is_some())
    });
    let failed = corrupted.rounds[0]
        .prover_jobs
        .iter()
        .find(|j| j.error.is_some())
        .expect("a failed job");
    let error = failed.error.clone().unwrap_or_default();
    assert_eq!(failed.job, victim.job);
    assert!(
        error.contains("truncated") || error.contains("checksum"),
        "{error}"
    );
    // The good batch is not held back by any of them.
    fleet.wait_for(1, "the good batch's final proof", is_done);
    let verified = fleet.verify_final_proof(1);
    assert!(verified.contains("valid final proof"), "{verified}");
    // Batch 4's other circuits were proven all the same: nothing else is lost.
    let batch4 = fleet.status(4);
    let proven = batch4.rounds[0]
        .prover_jobs
        .iter()
        .filter(|j| j.status == JobStatus::Successful)
        .count();
    assert_eq!(
        proven,
        batch4.rounds[0].prover_jobs.len() - 1,
        "{batch4:#?}"
    );

    // A prover configured for a protocol version whose digests are not its circuits' refuses
    // to start.
    fleet.ok(&[
        "insert-version",
        "--version",
        "0.2.0",
        "--recursion-tree-vk",
        "0x1111111111111111111111111111111111111111111111111111111111111111",
        "--final-vk",
        "0x2222222222222222222222222222222222222222222222222222222222222222",
    ]);
    let output = fleet
        .command()
        .env("ZKFLEET_PROVING__PROTOCOL_VERSION", "0.2.0")
        .args(["circuit-prover", "--light", "1", "--heavy", "0"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("0x2222"), "{stderr}");
}

#[test]
fn a_fleet_killed_mid_job_finishes_the_same_proof() {
    let mut fleet = Fleet::new("faults");
    fleet.ok(&[
        "insert-version",
        "--version",
        &VERSION.to_string(),
        "--from-keys",
    ]);
    let native = insert_good_batch(&fleet, 1);
    fleet.spawn("job-monitor", &["job-monitor"]);
    fleet.spawn("compressor", &["compressor"]);
    let prover_a = fleet.spawn(
        "prover-a",
        &["circuit-prover", "--light", "1", "--heavy", "0"],
    );
    fleet.spawn(
        "prover-b",
        &["circuit-prover", "--light", "0", "--heavy", "1"],
    );
    fleet.spawn("witness-generator", &["witness-generator", "--all-rounds"]);

    // Kill prover A while it holds a prover job.
    let held = fleet.wait_for(1, "a prover job in progress on prover A", |s| {
        s.rounds.iter().flat_map(|r| &r.prover_jobs).any(|j| {
            j.status == JobStatus::InProgress
                && j.picked_by
                    .as_deref()
                    .is_some_and(|p| p.ends_with(&format!("-{prover_a}")))
        })
    });
    let killed_job = held
        .rounds
        .iter()
        .flat_map(|r| &r.prover_jobs)
        .find(|j| {
            j.status == JobStatus::InProgress
                && j.picked_by
                    .as_deref()
                    .is_some_and(|p| p.ends_with(&format!("-{prover_a}")))
        })
        .expect("held job")
        .job;
    fleet.kill("prover-a");

    // Kill the witness generator while it holds a witness job of a later round (they are
    // short: watch closely; if the job finished before the kill landed, start another
    // generator and try again), then start another.
    let deadline = Instant::now() + BATCH_DEADLINE;
    let mut generation = 1;
    let killed_witness = loop {
        let status = fleet.status(1);
        assert!(
            !is_done(&status),
            "the batch finished before a witness job could be caught in progress"
        );
        assert!(
            Instant::now() < deadline,
            "no witness job seen in progress\n{}",
            fleet.logs()
        );
        let held = status
            .rounds
            .iter()
            .skip(1)
            .flat_map(|r| &r.witness_jobs)
            .find(|j| j.status == JobStatus::InProgress)
            .map(|j| j.job);
        let Some(job) = held else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let name = if generation == 1 {
            "witness-generator".to_owned()
        } else {
            format!("witness-generator-{generation}")
        };
        fleet.kill(&name);
        generation += 1;
        let after = fleet.status(1);
        let still_held = every_job(&after)
            .into_iter()
            .any(|j| j.job == job && j.status == JobStatus::InProgress);
        fleet.spawn(
            &format!("witness-generator-{generation}"),
            &["witness-generator", "--all-rounds"],
        );
        if still_held {
            break job;
        }
    };

    let status = fleet.wait_for(1, "the final proof after requeues", is_done);
    // Every job successful exactly once (one row each, successful), the killed ones retried.
    for job in every_job(&status) {
        assert_eq!(job.status, JobStatus::Successful, "{job:#?}");
        if job.job == killed_job {
            assert!(
                job.attempts >= 2,
                "the killed prover job was retried: {job:#?}"
            );
        }
    }
    let retried_witness = every_job(&status)
        .into_iter()
        .find(|j| j.job == killed_witness)
        .expect("the killed witness job");
    assert!(
        retried_witness.attempts >= 2,
        "the killed witness job was picked again: {retried_witness:#?}"
    );
    let verified = fleet.verify_final_proof(1);
    assert!(verified.contains("valid final proof"), "{verified}");

    // The same batch as the undisturbed run: the same public output. The bytes may differ:
    // plonky2 grinds its FRI proof-of-work nonce with a parallel `find_any`, so which valid
    // nonce a proof carries depends on thread timing (both proofs verify under the same key).
    let proof = fleet.final_proof(1);
    let (reference, reference_native) = undisturbed();
    assert_eq!(&native, reference_native);
    assert_eq!(proof.public_output, reference.public_output);
    eprintln!(
        "final proofs of the disturbed and undisturbed runs: {}",
        if proof.proof == reference.proof {
            "byte for byte equal"
        } else {
            "equal public output, different bytes (proof-of-work nonces)"
        }
    );
}
