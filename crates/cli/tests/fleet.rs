//! The distributed fleet end to end: the witness generator, two circuit provers, the compressor
//! and the job monitor as separate `zkfleet` processes against a real PostgreSQL database and
//! the real S3-compatible server, configured by one file plus environment variables.
//!
//! - `a_distributed_fleet_proves_a_batch_and_refuses_bad_input`: a generated batch whose state
//!   type needs three leaves and two node depths is submitted through the gateway (push mode,
//!   bearer token), proven, its final proof checked with `zkfleet verify` and delivered by the
//!   gateway's poll; the real Prometheus server (Debian's package) scrapes every component with
//!   a configuration derived from `deploy/prometheus/prometheus.yml`, every target is up and
//!   its query API returns the monitor's queue series with the database's counts; every
//!   component's `/metrics` page carries exactly the series docs/operations.md lists for it;
//!   `zkfleet file-info` reads the batch's real blobs of every kind; the monitor archives the
//!   delivered batch and collects its blobs. Beside it, a malformed batch blob, a batch with an invalid operation and a
//!   batch with a corrupted circuit blob each fail with a clear error while the rest goes on; a
//!   circuit prover of a protocol version whose digests are not its circuits' refuses to start.
//! - `a_fleet_killed_mid_job_finishes_the_same_proof`: a circuit prover is SIGKILLed in the
//!   middle of a proof and the witness generator in the middle of a round; after the monitor's
//!   requeue the batch completes with the same final proof as an undisturbed run, and every job
//!   is successful exactly once.
//!
//! Small circuits (1 operation, 2 signatures, 2 deposits per instance, XMSS height 2; arity 2;
//! light compression), built by `zkfleet keys generate` into the keystore the crates' tests share.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod metrics_docs;
mod prometheus;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::small_keys::{generated_keys_dir as keys_dir, proving_section};
use support::TestFleet;
use zkfleet_dal::{BatchStatus, JobSummary, NewBatch};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig, InvalidKind};
use zkfleet_rollup::operation::Operation;
use zkfleet_store::{ObjectKey, Store, WitnessInputBytes};
use zkfleet_test_support::store::S3Bucket;
use zkfleet_types::api::{Base64Bytes, FinalProof, PollGeneratedProofsResponse};
use zkfleet_types::{
    AggregationRound, BatchNumber, BatchPublicOutput, ChainId, CircuitId, JobStatus, L1BatchId,
    ProtocolSemanticVersion,
};
use zkfleet_witness_generator::BatchWitnessInput;

const CHAIN: u64 = 270;
const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
/// Longest a batch may take here (small circuits; the machine may be shared).
const BATCH_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// One distributed fleet: a fresh database, a fresh bucket, one configuration file.
struct Fleet {
    db: TestFleet,
    config: PathBuf,
    store: Store,
    children: Vec<(String, Child)>,
    /// The metrics port of every component started.
    metrics: Vec<(String, u16)>,
    /// The gateway's API port and bearer token, once configured.
    gateway: Option<(u16, String)>,
}

impl Fleet {
    fn new(name: &str) -> Self {
        let db = TestFleet::postgres();
        let bucket = S3Bucket::create_blocking("fleet");
        let (endpoint, region) = (&bucket.endpoint, &bucket.region);
        let config = db.dir.path().join(format!("{name}.toml"));
        let text = format!(
            r#"chain_id = {CHAIN}

[store]
backend = "s3"
bucket = "{}"
endpoint = "{endpoint}"
region = "{region}"
allow_http = true
max_retries = 2
retry_initial_backoff_ms = 100

# A batch whose final proof was delivered is archived (and its blobs collected) at once.
[monitor]
archive_after = "1s"

[monitor.intervals]
dependency_queuer = "1s"
job_requeuer = "1s"
prover_job_archiver = "2s"

[monitor.timeouts]
basic_witness = "3s"
leaf_witness = "3s"
node_witness = "3s"
recursion_tip_witness = "3s"
scheduler_witness = "3s"
# A small-circuit proof takes seconds on a quiet machine but over 45 s under a load of 15-20,
# where 45 s exhausted node jobs' attempts; 90 s keeps a margin and bounds the wait for a killed
# prover's job.
prover = "90s"
compression = "3m"
{}{}"#,
            bucket.bucket,
            proving_section(keys_dir()),
            support::FAST_POLLING
        );
        std::fs::write(&config, text).expect("write the fleet configuration");
        let store = bucket.open();
        Self {
            db,
            config,
            store,
            children: Vec::new(),
            metrics: Vec::new(),
            gateway: None,
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
        self.spawn_with(name, args, &[])
    }

    /// [`Self::spawn`] with extra environment variables.
    fn spawn_with(&mut self, name: &str, args: &[&str], env: &[(&str, &str)]) -> u32 {
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
            .env("ZKFLEET_METRICS__GATEWAY", &address)
            .env("ZKFLEET_MONITOR__LISTEN_ADDRESS", &address)
            .envs(env.iter().copied())
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
        // The digest `insert-version --from-keys` recorded: what an operator pins.
        let pinned = self
            .db
            .runtime
            .block_on(self.db.dal.protocol_version(VERSION))
            .expect("read the protocol version")
            .expect("insert-version ran first")
            .final_vk_digest
            .to_string();
        let printed = self.ok(&[
            "verify",
            "--proof",
            path.to_str().expect("utf-8"),
            "--vk",
            vk.to_str().expect("utf-8"),
            "--expect-vk-digest",
            &pinned,
        ]);
        assert!(
            printed.contains(&format!("digest {pinned}")),
            "verify names the digest it checked: {printed}"
        );
        printed
    }
}

impl Fleet {
    /// Adds the `[gateway]` section (the protocol version's digests as the database records
    /// them after `insert-version --from-keys`) to the configuration and starts the gateway
    /// with a bearer token; waits until it answers.
    fn start_gateway(&mut self) {
        let version = self
            .db
            .runtime
            .block_on(self.db.dal.protocol_version(VERSION))
            .expect("read the protocol version")
            .expect("insert-version ran first");
        let port = free_port();
        let section = format!(
            r#"
[gateway]
listen_address = "127.0.0.1:{port}"

[[gateway.protocol_versions]]
version = "{VERSION}"
recursion_tree_vk_digest = "{}"
final_vk_digest = "{}"
"#,
            version.recursion_tree_vk_digest, version.final_vk_digest
        );
        let mut text = std::fs::read_to_string(&self.config).expect("read the configuration");
        text.push_str(&section);
        std::fs::write(&self.config, text).expect("write the configuration");
        let token = format!("fleet-test-token-{:016x}", std::process::id());
        let tokens = format!("fleet-test={token}");
        self.spawn_with(
            "gateway",
            &["gateway"],
            &[("ZKFLEET_GATEWAY_TOKENS", tokens.as_str())],
        );
        self.gateway = Some((port, token));
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.gateway_request("GET", "/healthz", None, None).0 != 200 {
            assert!(
                Instant::now() < deadline,
                "the gateway did not answer /healthz:\n{}",
                self.log("gateway")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A request to the gateway's API: (status, body); status 0 when it cannot be reached.
    fn gateway_request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (u16, String) {
        let (port, _) = self.gateway.as_ref().expect("the gateway is started");
        let url = format!("http://127.0.0.1:{port}{path}");
        self.db.runtime.block_on(async {
            let client = reqwest::Client::new();
            let mut request = match method {
                "GET" => client.get(&url),
                _ => client.post(&url),
            };
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(body.to_string());
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    (status, response.text().await.unwrap_or_default())
                }
                Err(_) => (0, String::new()),
            }
        })
    }

    fn token(&self) -> String {
        self.gateway
            .as_ref()
            .expect("the gateway is started")
            .1
            .clone()
    }

    /// The processes started as `component` (a `zkfleet` subcommand), with their metrics ports.
    fn processes_of(&self, component: &str) -> Vec<(String, u16)> {
        self.metrics
            .iter()
            .filter(|(name, _)| component_of(name) == component)
            .cloned()
            .collect()
    }

    fn pid_of(&self, name: &str) -> u32 {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.id())
            .unwrap_or_else(|| panic!("no component {name}"))
    }
}

/// The subcommand a process of the tests runs, from the name it was started under.
fn component_of(name: &str) -> &'static str {
    match name {
        n if n.starts_with("witness-generator") => "witness-generator",
        n if n.starts_with("prover-") => "circuit-prover",
        "compressor" => "compressor",
        "job-monitor" => "job-monitor",
        "gateway" => "gateway",
        other => panic!("unknown process {other}"),
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
    status.jobs().collect()
}

/// The fleet's components, as an operator starts them. The two circuit provers prove with
/// different provers, as a fleet of GPU and CPU hosts does (issue 17): prover-a with the
/// default (zkfleet's prover, the GPU backend's code over host commitments), prover-b with
/// plonky2's own `prove`. prover-b alone takes the heavy jobs (basic signature verification),
/// so its proofs are children of leaves the other may prove, and the batch's final proof must
/// still attest exactly what native execution computed.
fn start_fleet(fleet: &mut Fleet) {
    fleet.spawn("witness-generator", &["witness-generator", "--all-rounds"]);
    fleet.spawn(
        "prover-a",
        &["circuit-prover", "--light", "1", "--heavy", "0"],
    );
    fleet.spawn(
        "prover-b",
        &[
            "circuit-prover",
            "--light",
            "0",
            "--heavy",
            "1",
            "--backend",
            "plonky2",
        ],
    );
    fleet.spawn("compressor", &["compressor"]);
    fleet.spawn("job-monitor", &["job-monitor"]);
}

/// The undisturbed run's final proof of the good batch (number 1), shared by both tests.
///
/// The batch comes in through the gateway and its final proof goes out through it; Prometheus
/// scrapes the whole run.
fn undisturbed() -> &'static (FinalProof, BatchPublicOutput) {
    static RUN: OnceLock<(FinalProof, BatchPublicOutput)> = OnceLock::new();
    RUN.get_or_init(|| {
        // Before anything starts: a missing Prometheus fails the test at once.
        let prometheus_binary = prometheus::binary();
        let mut fleet = Fleet::new("undisturbed");
        fleet.ok(&[
            "insert-version",
            "--version",
            &VERSION.to_string(),
            "--from-keys",
        ]);
        fleet.start_gateway();
        start_fleet(&mut fleet);
        let prometheus = start_prometheus(&fleet, &prometheus_binary);

        // The batch through the gateway: refused without a token, accepted with one.
        let (path, expected) = write_good_batch(fleet.db.dir.path(), 1);
        let input = std::fs::read(&path).expect("read the batch");
        let version = fleet
            .db
            .runtime
            .block_on(fleet.db.dal.protocol_version(VERSION))
            .expect("read the protocol version")
            .expect("inserted");
        let submission = serde_json::json!({
            "l1_batch_id": {"chain_id": CHAIN, "batch_number": 1},
            "protocol_version": VERSION.to_string(),
            "l1_verifier_config": {
                "final_vk_digest": version.final_vk_digest.to_string(),
                "recursion_tree_vk_digest": version.recursion_tree_vk_digest.to_string(),
            },
            "witness_input": Base64Bytes(input),
        });
        let (status, body) = fleet.gateway_request(
            "POST",
            "/submit_request_for_proofs",
            None,
            Some(&submission),
        );
        assert_eq!(status, 401, "{body}");
        let token = fleet.token();
        let (status, body) = fleet.gateway_request(
            "POST",
            "/submit_request_for_proofs",
            Some(&token),
            Some(&submission),
        );
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"newly_inserted":true}"#),
            "{}",
            fleet.log("gateway")
        );

        let status = fleet.wait_for(1, "the final proof", is_done);
        let node_depths = status.rounds[AggregationRound::Node as usize]
            .prover_jobs
            .iter()
            .map(|j| j.depth.unwrap_or(0))
            .max();
        assert_eq!(node_depths, Some(1), "two node depths for the state type");
        let verified = fleet.verify_final_proof(1);
        assert!(verified.contains("valid final proof"), "{verified}");
        // The heavy jobs can only have gone to prover-b, the plonky2 prover: the batch was
        // proven by a fleet of two different provers.
        let plonky2_suffix = format!("-{}", fleet.pid_of("prover-b"));
        let heavy: Vec<_> = status.rounds[AggregationRound::Basic as usize]
            .prover_jobs
            .iter()
            .filter(|j| j.circuit_id == Some(CircuitId::SIGNATURE_VERIFICATION))
            .collect();
        assert!(!heavy.is_empty(), "the batch has no heavy job");
        for job in heavy {
            assert!(
                job.picked_by
                    .as_deref()
                    .is_some_and(|p| p.ends_with(&plonky2_suffix)),
                "a heavy job was proven by {:?}, not prover-b",
                job.picked_by
            );
        }
        // Each prover says at start which prover proves (CpuProver::describe).
        let reference = "plonky2's prove (the reference)";
        assert!(
            fleet.log("prover-b").contains(reference),
            "{}",
            fleet.log("prover-b")
        );
        assert!(
            !fleet.log("prover-a").contains(reference),
            "{}",
            fleet.log("prover-a")
        );

        check_prometheus(&fleet, &prometheus, &status);
        check_file_info_of_every_blob_kind(&fleet, &status, &expected);

        // The gateway delivers the final proof, and the batch is then done for the fleet.
        let poll = serde_json::json!({"l1_batch_id": {"chain_id": CHAIN, "batch_number": 1}});
        let (code, body) =
            fleet.gateway_request("POST", "/poll_generated_proofs", Some(&token), Some(&poll));
        assert_eq!(code, 200, "{body}");
        let delivered: PollGeneratedProofsResponse =
            serde_json::from_str(&body).expect("a final proof");
        let stored = fleet.final_proof(1);
        assert_eq!(delivered.proof, stored);
        let compression = fleet.status(1).compression.expect("compression job");
        assert_eq!(compression.status, JobStatus::SentToServer);

        // The monitor archives the delivered batch's prover jobs and collects their circuit
        // and proof blobs: Prometheus sees both counters reach the batch's job count.
        let prover_jobs = status
            .rounds
            .iter()
            .map(|r| r.prover_jobs.len())
            .sum::<usize>() as f64;
        let total = |samples: &[prometheus::Sample]| samples.first().map(|s| s.value);
        prometheus.query_until(
            "sum(zkfleet_archived_prover_jobs_total)",
            Duration::from_secs(120),
            |a| total(a) == Some(prover_jobs),
        );
        prometheus.query_until(
            "sum(zkfleet_collected_blobs_total)",
            Duration::from_secs(120),
            |a| total(a) == Some(2.0 * prover_jobs),
        );
        let errors = prometheus.query("sum(zkfleet_blob_collection_errors_total)");
        assert_eq!(total(&errors), Some(0.0), "{errors:?}");

        check_documented_series(&fleet, &status);
        drop(prometheus);
        (stored, expected)
    })
}

/// Starts Prometheus with deploy/prometheus/prometheus.yml's jobs pointed at this fleet's
/// processes, scraping every second.
fn start_prometheus(fleet: &Fleet, binary: &Path) -> prometheus::Prometheus {
    let targets: BTreeMap<String, Vec<String>> = prometheus::JOBS
        .iter()
        .map(|(component, job, _)| {
            let processes = fleet.processes_of(component);
            assert!(!processes.is_empty(), "no {component} started");
            (
                (*job).to_owned(),
                processes
                    .iter()
                    .map(|(_, port)| format!("127.0.0.1:{port}"))
                    .collect(),
            )
        })
        .collect();
    let config = prometheus::scrape_config(&targets, "1s");
    prometheus::Prometheus::start(
        binary,
        &fleet.db.dir.path().join("prometheus"),
        &config,
        free_port(),
    )
}

/// What Prometheus holds once the batch is proven: every target up, the monitor's queue series
/// with the database's counts per round, the provers' counter of proofs with one per prover
/// job, and a non-zero proof rate.
fn check_prometheus(fleet: &Fleet, prometheus: &prometheus::Prometheus, status: &BatchStatus) {
    let expected_up: BTreeMap<(String, String), f64> = prometheus::JOBS
        .iter()
        .flat_map(|(component, job, _)| {
            fleet
                .processes_of(component)
                .into_iter()
                .map(move |(_, port)| (((*job).to_owned(), format!("127.0.0.1:{port}")), 1.0))
        })
        .collect();
    let by_target = |samples: &[prometheus::Sample]| -> BTreeMap<(String, String), f64> {
        samples
            .iter()
            .map(|s| {
                (
                    (s.labels["job"].clone(), s.labels["instance"].clone()),
                    s.value,
                )
            })
            .collect()
    };
    let up = prometheus.query_until("up", Duration::from_secs(60), |a| {
        by_target(a) == expected_up
    });
    // The deploy file's `component` label is on every target.
    for sample in &up {
        let job = &sample.labels["job"];
        let component = job.trim_start_matches("zkfleet-").replace('-', "_");
        assert_eq!(
            sample.labels.get("component"),
            Some(&component),
            "{sample:?}"
        );
    }

    // The queue series: successful prover jobs per round, as the database counts them.
    let expected: BTreeMap<String, f64> = status
        .rounds
        .iter()
        .filter(|r| !r.prover_jobs.is_empty())
        .map(|r| {
            let round = r.prover_jobs[0]
                .aggregation_round
                .expect("a prover job has a round");
            let successful = r
                .prover_jobs
                .iter()
                .filter(|j| j.status == JobStatus::Successful)
                .count();
            (round.name().to_owned(), successful as f64)
        })
        .collect();
    assert_eq!(
        expected.len(),
        5,
        "prover jobs in every round: {expected:?}"
    );
    let query = format!(
        "sum by (round) (zkfleet_prover_jobs{{job=\"zkfleet-job-monitor\",status=\"successful\",protocol_version=\"{VERSION}\"}})"
    );
    prometheus.query_until(&query, Duration::from_secs(90), |answer| {
        let got: BTreeMap<String, f64> = answer
            .iter()
            .map(|s| (s.labels["round"].clone(), s.value))
            .collect();
        got == expected
    });
    // Nothing of this batch is left queued.
    let queued = prometheus.query(&format!(
        "sum(zkfleet_prover_jobs{{status=\"queued\",protocol_version=\"{VERSION}\"}})"
    ));
    assert!(queued.iter().all(|s| s.value == 0.0), "{queued:?}");

    // Proofs per second is a counter Prometheus rates: one increment per prover job, over
    // both provers.
    let prover_jobs: f64 = expected.values().sum();
    prometheus.query_until(
        "sum(zkfleet_prover_jobs_total{outcome=\"successful\"})",
        Duration::from_secs(30),
        |a| a.first().map(|s| s.value) == Some(prover_jobs),
    );
    let rate = prometheus.query("sum(rate(zkfleet_prover_jobs_total{outcome=\"successful\"}[1h]))");
    assert!(
        rate.first().is_some_and(|s| s.value > 0.0),
        "proofs per second: {rate:?}"
    );
}

/// `zkfleet file-info` on the batch's real blobs, downloaded from S3 to a path that mirrors
/// their object key (so the key is inferred as in a local store): the witness input, a
/// circuit witness and a proof of each round, the final proof.
fn check_file_info_of_every_blob_kind(
    fleet: &Fleet,
    status: &BatchStatus,
    expected: &BatchPublicOutput,
) {
    let download = |key: &ObjectKey| -> PathBuf {
        let raw = fleet
            .db
            .runtime
            .block_on(fleet.store.get_raw(key))
            .unwrap_or_else(|e| panic!("download {}: {e}", key.path()));
        let path = fleet.db.dir.path().join("blobs").join(key.path());
        std::fs::create_dir_all(path.parent().expect("parent")).expect("blob dir");
        std::fs::write(&path, raw).expect("write the blob");
        path
    };
    let info = |key: &ObjectKey, kind: &str| -> String {
        let path = download(key);
        let out = fleet.ok(&["file-info", path.to_str().expect("utf-8")]);
        assert!(
            out.contains(&format!("object key:       {} ({kind})", key.path())),
            "{out}"
        );
        assert!(out.contains("checksum:         ok"), "{out}");
        assert!(
            out.contains(&format!("kind:             {kind} (tag")),
            "{out}"
        );
        assert!(!out.contains("warning"), "{out}");
        out
    };

    // Intake stores inputs under content-addressed keys: the row names it.
    let input_key = fleet
        .status(1)
        .witness_input
        .and_then(|w| w.input_blob_key)
        .map(|k| ObjectKey::parse(&k).expect("the row's input key"))
        .expect("batch 1's input key");
    let out = info(&input_key, "witness input");
    assert!(
        out.contains("batch:            batch 1 of chain 270"),
        "{out}"
    );
    assert!(out.contains("operations:       5"), "{out}");
    assert!(
        out.contains(&format!("prev state root:  {}", expected.prev_state_root)),
        "{out}"
    );

    for round in &status.rounds {
        let job = round.prover_jobs.first().expect("a prover job per round");
        for (blob, kind) in [
            (&job.input_blob_key, "circuit witness"),
            (&job.output_blob_key, "proof"),
        ] {
            let key = ObjectKey::parse(blob.as_deref().expect("a blob key")).expect("a key");
            let out = info(&key, kind);
            assert!(out.contains(&format!("bytes of {kind}")), "{out}");
        }
    }

    let out = info(
        &ObjectKey::FinalProof {
            chain: ChainId(CHAIN),
            batch: BatchNumber(1),
            protocol_version: VERSION,
        },
        "final proof",
    );
    assert!(
        out.contains(&format!("protocol version: {VERSION}")),
        "{out}"
    );
    assert!(out.contains("batch number:             1"), "{out}");
    assert!(
        out.contains(&format!(
            "new state root:           {}",
            expected.new_state_root
        )),
        "{out}"
    );
}

/// Every process's `/metrics` page against docs/operations.md: each series listed for its
/// component is there with its type and labels, and nothing unlisted. A circuit prover's
/// series are labelled by round and circuit, so they exist only on a prover that proved a
/// job: the provers checked are those the database names as having proved one (at least one).
fn check_documented_series(fleet: &Fleet, status: &BatchStatus) {
    let proved_by: Vec<String> = status
        .rounds
        .iter()
        .flat_map(|r| &r.prover_jobs)
        .filter_map(|j| j.picked_by.clone())
        .collect();
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for (name, port) in &fleet.metrics {
        let component = component_of(name);
        if component == "circuit-prover" {
            let suffix = format!("-{}", fleet.pid_of(name));
            if !proved_by.iter().any(|p| p.ends_with(&suffix)) {
                eprintln!("{name} proved no job: its page is not checked");
                continue;
            }
        }
        problems.extend(metrics_docs::check_page(component, &scrape(*port)));
        checked.push(component);
    }
    for component in metrics_docs::FLEET_COMPONENTS {
        assert!(
            checked.contains(&component),
            "no {component} page checked ({checked:?})"
        );
    }
    assert!(
        problems.is_empty(),
        "the /metrics pages differ from docs/operations.md:\n{}",
        problems.join("\n")
    );
    // The gateway's page counts what the test did through it.
    let gateway = fleet.processes_of("gateway")[0].1;
    let page = metrics_docs::parse_page(&scrape(gateway)).expect("the gateway's page");
    let value = |name: &str, labels: &[(&str, &str)]| {
        page.samples
            .iter()
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    };
    assert_eq!(
        value(
            "zkfleet_gateway_batches_received_total",
            &[("mode", "push")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "zkfleet_gateway_proofs_delivered_total",
            &[("mode", "push")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "zkfleet_gateway_auth_failures_total",
            &[("reason", "missing")]
        ),
        Some(1.0)
    );
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
    std::fs::write(&invalid, &input).expect("write");
    // Intake executes the batch and refuses it at the door (issue 15)...
    let refused = fleet
        .command()
        .args(["insert-batch", "--number", "3", "--version"])
        .arg(VERSION.to_string())
        .arg("--input")
        .arg(&invalid)
        .output()
        .expect("run insert-batch");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("insufficient balance"), "{stderr}");
    // ...so it is inserted past intake, as a broken producer could, to see the witness
    // generator end it on its first attempt.
    fleet.db.runtime.block_on(async {
        let key = ObjectKey::WitnessInput {
            chain: ChainId(CHAIN),
            batch: BatchNumber(3),
        };
        let path = fleet
            .store
            .put(&key, &WitnessInputBytes::new(input.clone()))
            .await
            .expect("store");
        fleet
            .db
            .dal
            .insert_batch(&NewBatch {
                batch: batch_id(3),
                protocol_version: VERSION,
                witness_input_blob_key: path,
                priority: 0,
                batch_sealed_at: chrono::Utc::now(),
            })
            .await
            .expect("insert");
    });
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
    // Typed failures (issue 15): a malformed input and an invalid batch fail the same way on
    // every attempt, so the first one is terminal.
    for number in [2, 3] {
        let row = fleet.status(number).witness_input.expect("the row");
        assert_eq!(row.status, JobStatus::FailedPermanently, "{row:#?}");
        assert_eq!(row.attempts, 1, "{row:#?}");
    }
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
