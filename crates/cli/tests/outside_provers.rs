//! Outside provers end to end (issue 19), every component a process of its own on PostgreSQL
//! and the S3-compatible server:
//!
//! - the fleet: witness generator (every round), a circuit prover configured with
//!   `[circuit_prover] rounds = ["leaf", "node", "recursion_tip", "scheduler"]` (no prover of
//!   its own for round 0), the compressor and the job monitor;
//! - the prover API (`zkfleet provers serve`), whose policy lets only round 0 go outside;
//! - two honest `zkfleet remote-prover` processes (one asks for `--backend gpu`: the circuit
//!   prover's GPU backend, which falls back to the CPU with a warning on a machine without one);
//! - a forger (this test, over HTTP) that submits a valid proof of another job (mismatched
//!   public inputs) and a forged proof, and a hoarder that leases two jobs and disappears.
//!
//! The batch completes through rounds 1-4 and compression, its final proof attests the same
//! public output as an all-trusted run of the same batch (`zkfleet prove`, a process on its own
//! SQLite database), both dishonest provers are suspended automatically, and the ledger
//! (`zkfleet provers stats --json`) has exactly the leases, acceptances, refusals (with their
//! reasons) and misses that happened.
//!
//! Small circuits (the keystore every CLI test shares).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::small_keys::{keys_dir, proving_section, CONFIG as PROVING};
use support::{TestFleet, CHAIN, FAST_POLLING, VERSION};
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_dal::{BatchStatus, JobRef, OutsideProverStatus};
use zkfleet_prover_api::wire::Capabilities;
use zkfleet_prover_api::{ApiClient, ClientError, ProverKey};
use zkfleet_test_support::store::S3Bucket;
use zkfleet_types::ids::ProverJobId;
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, CircuitId, JobStatus, L1BatchId, VkDigest,
};

/// Longest the batch may take here (small circuits; the machine may be shared).
const DEADLINE: Duration = Duration::from_secs(20 * 60);
/// What an accepted round-0 proof earns (the API's `[prices] basic`).
const PRICE: u64 = 3;

/// Child processes, killed when the test ends (passing or not).
struct Children {
    dir: PathBuf,
    running: Vec<(String, Child)>,
}

impl Children {
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.running {
            let text = self.log(name);
            let tail: Vec<&str> = text.lines().rev().take(12).collect();
            out.push_str(&format!("--- {name} (last lines) ---\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Panics (with the logs) if a long-running process exited.
    fn check_running(&mut self, except: &[&str]) {
        let exited = self.running.iter_mut().find_map(|(name, child)| {
            if except.contains(&name.as_str()) {
                return None;
            }
            match child.try_wait() {
                Ok(Some(exit)) => Some(format!("{name} exited ({exit})")),
                _ => None,
            }
        });
        if let Some(exited) = exited {
            panic!("{exited}:\n{}", self.logs());
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `zkfleet --config CONFIG …` in `dir`, with none of the caller's `ZKFLEET_*` settings.
fn zkfleet(dir: &Path, config: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
    for (name, _) in std::env::vars() {
        if name.starts_with("ZKFLEET_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("RUST_LOG", "info")
        .arg("--config")
        .arg(config);
    if let Some(url) = database_url {
        command.env("ZKFLEET_DATABASE_URL", url);
    }
    command
}

fn ok(mut command: Command) -> String {
    let output = command.output().expect("run zkfleet");
    assert!(
        output.status.success(),
        "zkfleet failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn batch_id() -> L1BatchId {
    L1BatchId::new(ChainId(CHAIN), BatchNumber(1))
}

/// The keystore's final verifying key file whose digest is `pinned` (the shared keystore may
/// hold entries of other builds beside it).
fn final_vk_path(pinned: VkDigest) -> PathBuf {
    std::fs::read_dir(keys_dir())
        .expect("keys dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".final_vk.bin"))
        .find(|p| {
            let bytes = std::fs::read(p).expect("read a final key");
            FinalVerifyingKey::from_pinned_bytes(&bytes, pinned).is_ok()
        })
        .expect("the keystore has the version's final verifying key")
}

/// The public output a final proof attests, as `zkfleet verify --json` prints it (read from
/// the proof's public inputs under the pinned final key).
fn attested_output(dir: &Path, config: &Path, proof: &Path, digest: VkDigest) -> Value {
    let printed = ok({
        let mut c = zkfleet(dir, config, None);
        c.arg("verify")
            .arg("--proof")
            .arg(proof)
            .arg("--vk")
            .arg(final_vk_path(digest))
            .args(["--expect-vk-digest", &digest.to_string(), "--json"]);
        c
    });
    serde_json::from_str(&printed).unwrap_or_else(|e| panic!("verify --json: {e}: {printed}"))
}

/// The status and code of a refusal by the API.
fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, code, .. }) => (status, code),
        Ok(answer) => panic!("accepted: {answer:?}"),
        Err(e) => panic!("not an answer of the API: {e}"),
    }
}

fn round_jobs(status: &BatchStatus, round: AggregationRound) -> Vec<zkfleet_dal::JobSummary> {
    status
        .rounds
        .iter()
        .find(|r| r.round == round)
        .map(|r| r.prover_jobs.clone())
        .unwrap_or_default()
}

#[test]
fn outside_provers_and_the_fleet_prove_a_batch_like_an_all_trusted_run() {
    let fleet = TestFleet::postgres();
    let url = fleet.url.clone().expect("postgres");
    let dir = fleet.dir.path().to_owned();
    let bucket = S3Bucket::create_blocking("outside");
    let keys = keys_dir();
    let proving = proving_section(keys);

    // The fleet's configuration: no circuit prover of its own for round 0.
    let config = dir.join("fleet.toml");
    std::fs::write(
        &config,
        format!(
            r#"chain_id = {CHAIN}

[store]
backend = "s3"
bucket = "{}"
endpoint = "{}"
region = "{}"
allow_http = true

[circuit_prover]
rounds = ["leaf", "node", "recursion_tip", "scheduler"]

[monitor.timeouts]
prover = "5m"
compression = "5m"
{proving}{FAST_POLLING}"#,
            bucket.bucket, bucket.endpoint, bucket.region
        ),
    )
    .unwrap();
    let cmd = || zkfleet(&dir, &config, Some(&url));
    let (batch_file, _) = fleet.write_batch(1);
    // The forger's circuits (this process), loaded while the fleet starts.
    let circuits_loaded =
        std::thread::spawn(move || zkfleet_test_support::keys::small_circuits(keys));

    let mut children = Children {
        dir: dir.clone(),
        running: Vec::new(),
    };
    let spawn = |children: &mut Children, name: &str, mut command: Command| {
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log");
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        command
            .env("ZKFLEET_METRICS__WITNESS_GENERATOR", &address)
            .env("ZKFLEET_METRICS__CIRCUIT_PROVER", &address)
            .env("ZKFLEET_METRICS__COMPRESSOR", &address)
            .env("ZKFLEET_MONITOR__LISTEN_ADDRESS", &address)
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = command.spawn().expect("spawn zkfleet");
        children.running.push((name.to_owned(), child));
    };

    // The all-trusted run of the same batch, beside the fleet: one `zkfleet prove` process on
    // its own SQLite database and local store, every job proven by the fleet's own code. It
    // asks for the GPU backend: `zkfleet prove` must apply `[circuit_prover] backend` as the
    // circuit-prover subcommand does (it once ignored it), on the GPU where there is one and on
    // the CPU, saying so, where there is none — either way the same public output.
    let trusted_config = dir.join("trusted.toml");
    std::fs::write(
        &trusted_config,
        format!(
            "chain_id = {CHAIN}\n{proving}{FAST_POLLING}\n[circuit_prover]\nbackend = \"gpu\"\n"
        ),
    )
    .unwrap();
    let trusted_dir = dir.join("trusted");
    spawn(&mut children, "trusted", {
        let mut c = zkfleet(&dir, &trusted_config, None);
        c.arg("--data-dir")
            .arg(&trusted_dir)
            .arg("prove")
            .arg(&batch_file);
        c
    });

    ok({
        let mut c = cmd();
        c.args(["insert-version", "--version", VERSION, "--from-keys"]);
        c
    });
    let digest = fleet
        .runtime
        .block_on(fleet.dal.protocol_version(support::V1))
        .unwrap()
        .expect("inserted")
        .final_vk_digest;

    // The operator registers two honest provers by the keys they made, and two bad actors.
    let mut key_files = Vec::new();
    for name in ["alice", "bob"] {
        let file = dir.join(format!("{name}.key"));
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
        key_files.push(file);
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

    // The fleet, and the prover API with its policy: only round 0 goes outside.
    ok({
        let mut c = cmd();
        c.args([
            "insert-batch",
            "--number",
            "1",
            "--version",
            VERSION,
            "--input",
        ])
        .arg(&batch_file);
        c
    });
    for (name, args) in [
        (
            "witness-generator",
            &["witness-generator", "--all-rounds"][..],
        ),
        (
            "prover-fleet",
            &["circuit-prover", "--light", "1", "--heavy", "0"][..],
        ),
        ("compressor", &["compressor"][..]),
        ("job-monitor", &["job-monitor"][..]),
    ] {
        spawn(&mut children, name, {
            let mut c = cmd();
            c.args(args);
            c
        });
    }
    let port = free_port();
    let api_config = dir.join("prover-api.toml");
    let g = PROVING.geometry;
    std::fs::write(
        &api_config,
        format!(
            r#"listen_address = "127.0.0.1:{port}"
protocol_version = "{VERSION}"
keys_dir = "{}"
lease_duration = "5s"
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

[policy]
rounds = ["basic"]

[prices]
basic = {PRICE}

[suspension]
max_refusals = 2
max_misses = 2
"#,
            keys.display(),
            PROVING.arity,
            g.signatures_per_instance,
            g.operations_per_instance,
            g.deposits_per_instance,
            g.xmss_height,
        ),
    )
    .unwrap();
    spawn(&mut children, "api", {
        let mut c = cmd();
        c.args(["provers", "serve", "--api-config"])
            .arg(&api_config);
        c
    });
    let base = format!("http://127.0.0.1:{port}");
    let rt = &fleet.runtime;
    let started = Instant::now();
    while !rt.block_on(async {
        reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
    }) {
        children.check_running(&["trusted"]);
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the API did not start:\n{}",
            children.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Round 0's jobs, once basic witness generation has queued them.
    let basic_jobs = loop {
        let status = rt.block_on(fleet.dal.batch_status(batch_id())).unwrap();
        let jobs = round_jobs(&status, AggregationRound::Basic);
        if !jobs.is_empty() {
            break jobs;
        }
        children.check_running(&["trusted"]);
        assert!(
            started.elapsed() < DEADLINE,
            "no round-0 job:\n{}",
            children.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let total = basic_jobs.len() as u64;
    assert!(
        total >= 5,
        "the test needs five round-0 jobs (two for each bad actor): {basic_jobs:?}"
    );

    let any = Capabilities {
        memory_mib: 1 << 20,
        ..Capabilities::default()
    };
    // The hoarder leases two jobs and disappears.
    let mut hoarder_client = ApiClient::new(
        &base,
        ProverKey::from_key_file(&hoarder.to_key_file()).unwrap(),
    )
    .unwrap();
    let hoarded: Vec<i64> = (0..2)
        .map(|_| {
            rt.block_on(hoarder_client.lease(&any))
                .unwrap()
                .lease
                .expect("a round-0 job for the hoarder")
                .job
                .id
        })
        .collect();
    // The policy keeps rounds 1-4 inside: the hoarder's leases are round 0 jobs.
    assert_eq!(
        basic_jobs
            .iter()
            .filter(|j| hoarded
                .iter()
                .any(|&id| j.job == JobRef::Prover(ProverJobId(id))))
            .count(),
        2,
        "{hoarded:?}"
    );

    // The forger leases two jobs of one circuit, proves the second honestly and submits that
    // proof for the first (a valid proof of another job: mismatched public inputs), then a
    // forged proof for the second.
    let status = rt.block_on(fleet.dal.batch_status(batch_id())).unwrap();
    let mut queued_by_circuit: BTreeMap<u8, usize> = BTreeMap::new();
    for job in round_jobs(&status, AggregationRound::Basic) {
        if job.status == JobStatus::Queued {
            *queued_by_circuit
                .entry(job.circuit_id.expect("a prover job has a circuit").0)
                .or_default() += 1;
        }
    }
    let circuit = *queued_by_circuit
        .iter()
        .find(|(_, n)| **n >= 2)
        .unwrap_or_else(|| panic!("no circuit with two queued jobs: {queued_by_circuit:?}"))
        .0;
    let of_circuit = Capabilities {
        circuits: vec![circuit],
        ..any.clone()
    };
    let mut forger = ApiClient::new(
        &base,
        ProverKey::from_key_file(&mallory.to_key_file()).unwrap(),
    )
    .unwrap();
    let first = rt
        .block_on(forger.lease(&of_circuit))
        .unwrap()
        .lease
        .expect("a job");
    let second = rt
        .block_on(forger.lease(&of_circuit))
        .unwrap()
        .lease
        .expect("a second job of the circuit");
    let input = rt.block_on(forger.input(&second)).unwrap();
    let circuits = circuits_loaded.join().expect("loading the circuits");
    let round = second.job.round;
    // Proving takes longer than a lease under load: the forger extends both leases meanwhile,
    // as any prover does.
    let proof_of_second = rt.block_on(async {
        let mut proving = tokio::task::spawn_blocking(move || {
            let vector = circuits.witness_vector(round, CircuitId(circuit), &input)?;
            circuits.prove_job(round, CircuitId(circuit), vector)
        });
        loop {
            tokio::select! {
                proven = &mut proving => {
                    break proven.unwrap().expect("a valid proof of the second job");
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    for lease in [&first, &second] {
                        forger
                            .extend(lease.lease_id, lease.fencing_token)
                            .await
                            .expect("the forger extends its leases");
                    }
                }
            }
        }
    });
    assert_eq!(
        refused(rt.block_on(forger.submit(first.lease_id, first.fencing_token, &proof_of_second))),
        (422, "wrong_public_inputs".to_owned())
    );
    let mut forged = proof_of_second.clone();
    let middle = forged.len() / 2;
    forged[middle] ^= 0x5a;
    assert_eq!(
        refused(rt.block_on(forger.submit(second.lease_id, second.fencing_token, &forged))),
        (422, "invalid_proof".to_owned())
    );
    // Two penalised refusals: suspended, its session ended, its login refused.
    assert_eq!(
        rt.block_on(fleet.dal.outside_prover("mallory"))
            .unwrap()
            .unwrap()
            .status,
        OutsideProverStatus::Suspended
    );
    let (status, code) = refused(rt.block_on(forger.lease(&any)));
    assert!(
        (status, code.as_str()) == (401, "unauthorized")
            || (status, code.as_str()) == (403, "suspended"),
        "{status} {code}"
    );
    let mut again = ApiClient::new(
        &base,
        ProverKey::from_key_file(&mallory.to_key_file()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        refused(rt.block_on(again.login())),
        (403, "suspended".to_owned())
    );

    // Two honest remote provers, processes of their own; alice asks for the GPU backend.
    for (name, key) in ["alice", "bob"].iter().zip(&key_files) {
        spawn(&mut children, &format!("remote-{name}"), {
            let mut c = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
            for (var, _) in std::env::vars() {
                if var.starts_with("ZKFLEET_") {
                    c.env_remove(var);
                }
            }
            c.current_dir(&dir)
                .stdin(Stdio::null())
                .env("RUST_LOG", "info")
                .args(["remote-prover", "--api", &base, "--key"])
                .arg(key)
                .arg("--keys-dir")
                .arg(keys);
            if *name == "alice" {
                c.args(["--backend", "gpu", "--gpu-device", "0"]);
            }
            c
        });
    }

    // The batch completes: round 0 by the outside provers, the rest by the fleet.
    let status = loop {
        let status = rt.block_on(fleet.dal.batch_status(batch_id())).unwrap();
        if status
            .compression
            .as_ref()
            .is_some_and(|c| c.status == JobStatus::Successful)
        {
            break status;
        }
        children.check_running(&["trusted"]);
        assert!(
            started.elapsed() < DEADLINE,
            "the batch did not complete:\n{status:#?}\n{}",
            children.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    for job in round_jobs(&status, AggregationRound::Basic) {
        assert_eq!(job.status, JobStatus::Successful, "{job:?}");
        let by = job.picked_by.as_deref().unwrap_or_default();
        assert!(
            by == "outside:alice" || by == "outside:bob",
            "round 0 is proven outside, by the honest provers: {job:?}"
        );
    }
    for round in &AggregationRound::ALL[1..] {
        let jobs = round_jobs(&status, *round);
        assert!(!jobs.is_empty(), "no job of {round}");
        for job in jobs {
            assert_eq!(job.status, JobStatus::Successful, "{job:?}");
            let by = job.picked_by.as_deref().unwrap_or_default();
            assert!(
                by.starts_with("circuit-prover@"),
                "rounds 1-4 are the fleet's: {job:?}"
            );
        }
    }
    // The GPU backend was asked for: the GPU proved, or (no GPU here) the CPU, saying so.
    let alice_log = children.log("remote-alice");
    assert!(
        alice_log.contains("no GPU is usable here")
            || alice_log.contains("batch commitments on the GPU"),
        "{alice_log}"
    );

    // The hoarder's leases expired long ago: two misses, suspended.
    let waited = Instant::now();
    while rt
        .block_on(fleet.dal.outside_prover("hoarder"))
        .unwrap()
        .unwrap()
        .status
        != OutsideProverStatus::Suspended
    {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "hoarder not suspended"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The same public output as the all-trusted run, read from each final proof.
    let fleet_proof = dir.join("fleet-final.bin");
    let raw = rt
        .block_on(
            bucket
                .open()
                .get_raw(&zkfleet_store::ObjectKey::FinalProof {
                    chain: ChainId(CHAIN),
                    batch: BatchNumber(1),
                    protocol_version: support::V1,
                }),
        )
        .expect("the fleet's final proof");
    std::fs::write(&fleet_proof, raw).unwrap();
    let trusted_at = children
        .running
        .iter()
        .position(|(n, _)| n == "trusted")
        .expect("the trusted run");
    let (_, mut trusted) = children.running.remove(trusted_at);
    let waited = Instant::now();
    let exit = loop {
        if let Some(exit) = trusted.try_wait().expect("trusted run") {
            break exit;
        }
        assert!(
            waited.elapsed() < DEADLINE,
            "the all-trusted run did not finish:\n{}",
            children.log("trusted")
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        exit.success(),
        "the all-trusted run failed:\n{}",
        children.log("trusted")
    );
    let trusted_log = children.log("trusted");
    assert!(
        trusted_log.contains("circuit prover backend: gpu (card 0)")
            || trusted_log
                .contains("circuit prover backend: cpu (gpu requested, no GPU usable here"),
        "zkfleet prove did not apply [circuit_prover] backend = \"gpu\":\n{trusted_log}"
    );
    let trusted_proof = std::fs::read_dir(trusted_dir.join("proofs"))
        .expect("the all-trusted run wrote its final proof")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("one final proof");
    let outside = attested_output(&dir, &trusted_config, &fleet_proof, digest);
    let reference = attested_output(&dir, &trusted_config, &trusted_proof, digest);
    assert_eq!(outside, reference);
    drop(children);

    // The ledger equals what happened.
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
            .unwrap_or_else(|| panic!("{name} in {stats}"))
            .clone()
    };
    let count =
        |s: &Value, field: &str| s[field].as_u64().unwrap_or_else(|| panic!("{field}: {s}"));
    let (alice, bob, mallory_s, hoarder_s) = (of("alice"), of("bob"), of("mallory"), of("hoarder"));
    // Every round-0 job was accepted once, from the honest provers, each lease of theirs
    // accepted (their leases are extended while they prove: no miss, no refusal).
    assert_eq!(
        count(&alice, "accepted") + count(&bob, "accepted"),
        total,
        "{stats}"
    );
    for honest in [&alice, &bob] {
        assert_eq!(
            count(honest, "leased"),
            count(honest, "accepted"),
            "{honest}"
        );
        assert_eq!(
            (count(honest, "refused"), count(honest, "missed")),
            (0, 0),
            "{honest}"
        );
        assert_eq!(count(honest, "earnings"), PRICE * count(honest, "accepted"));
        assert_eq!(honest["status"], "active");
    }
    assert_eq!(
        (
            count(&mallory_s, "leased"),
            count(&mallory_s, "accepted"),
            count(&mallory_s, "refused"),
            count(&mallory_s, "missed"),
            count(&mallory_s, "earnings"),
        ),
        (2, 0, 2, 0, 0),
        "{mallory_s}"
    );
    assert_eq!(
        mallory_s["refused_by_reason"],
        serde_json::json!([["invalid_proof", 1], ["wrong_public_inputs", 1]])
    );
    assert_eq!(mallory_s["status"], "suspended");
    assert_eq!(
        (
            count(&hoarder_s, "leased"),
            count(&hoarder_s, "accepted"),
            count(&hoarder_s, "refused"),
            count(&hoarder_s, "missed"),
        ),
        (2, 0, 0, 2),
        "{hoarder_s}"
    );
    assert_eq!(hoarder_s["status"], "suspended");
}
