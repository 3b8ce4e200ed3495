//! The prover API's costs (issue 19), on SQLite and, where `ZKFLEET_TEST_DATABASE_URL` names a
//! server, PostgreSQL; a local object store; the real circuits of the small test keystore; the
//! API served in this process on a loopback port, its clients speaking HTTP to it.
//!
//! 1. **Lease-to-accept overhead per job.** The round-0 jobs of a batch proven one after the
//!    other the trusted way — what the fleet's circuit prover does per job: pick it from the
//!    job database, load its circuit witness from the store, witness vector, prove (plonky2
//!    verifies the proof before returning it), store the proof, complete the job — and the
//!    jobs of an identical batch (same witnesses, so the same work) through the API by one
//!    outside prover: lease, input (inline), the same witness vector and proof, submit; the
//!    API verifies the proof and computes the job's expected public inputs before it stores
//!    the proof and completes the job. Per job: both wall times, paired by (circuit, sequence);
//!    the overhead is their difference.
//! 2. **Jobs per second on loopback.** Proofs made in advance (the trusted pass's, valid for
//!    every batch with the same witnesses), `batches` identical batches queued, then 1 and 4
//!    outside provers each looping lease → submit the ready proof → accepted until no job is
//!    left: every accepted job is leased, verified, its expected public inputs computed,
//!    stored and completed; no proving. Jobs accepted / wall time.
//!
//! `cargo bench -p zkfleet-prover-api --bench lease [-- --runs N --batches M --out FILE]`:
//! writes the JSON report (default `docs/benchmarks/prover-api.json`) and prints the
//! docs/benchmarks.md table.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    circuits_async, insert_basic_round, local_store, protocol_version, Backend, TestDb, PROVING,
    VERSION,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_dal::{HeavySet, ProverJobClass};
use zkfleet_prover_api::wire::{Capabilities, SubmissionOutcome};
use zkfleet_prover_api::{ApiClient, ApiState, ProverApiConfig, ProverKey};
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, ProofBytes, Store};
use zkfleet_types::{AggregationRound, CircuitId};

/// (circuit id, sequence number): a job's place in the batch, the same in identical batches.
type Slot = (u8, u32);

struct Options {
    runs: usize,
    batches: u32,
    out: std::path::PathBuf,
}

fn options() -> Options {
    let mut options = Options {
        runs: 3,
        batches: 4,
        out: std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/benchmarks/prover-api.json"
        )),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || {
            args.get(i + 1)
                .unwrap_or_else(|| panic!("{} needs a value", args[i]))
        };
        match args[i].as_str() {
            "--runs" => options.runs = value().parse().expect("--runs N"),
            "--batches" => options.batches = value().parse().expect("--batches M"),
            "--out" => options.out = value().into(),
            // cargo bench passes --bench; other harness flags are not ours.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    assert!(options.runs > 0 && options.batches > 0);
    options
}

/// Median, min and max of `values`.
fn stats(values: &[f64]) -> serde_json::Value {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    json!({"median": median, "min": sorted[0], "max": sorted[n - 1], "n": n, "values": values})
}

fn median(values: &[f64]) -> f64 {
    stats(values)["median"].as_f64().unwrap()
}

fn api_config() -> ProverApiConfig {
    let mut config = ProverApiConfig {
        protocol_version: VERSION,
        proving: PROVING,
        keys_dir: common::keys_dir(),
        lease_duration: Duration::from_secs(600),
        max_lease_duration: Duration::from_secs(3600),
        // Nothing expires during a run: the sweep only refreshes the gauges.
        sweep_interval: Duration::from_secs(5),
        rate_limit_per_second: 1e6,
        rate_limit_burst: 1_000_000,
        max_active_leases_per_prover: 4,
        max_concurrent_verifications: 2,
        ..ProverApiConfig::default()
    };
    config.prices.insert(AggregationRound::Basic, 1);
    config
}

struct Api {
    base: String,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_api(db: &TestDb, store: &Store) -> Api {
    let state = ApiState::new(
        db.dal.clone(),
        store.clone(),
        api_config(),
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

async fn client(db: &TestDb, api: &Api, name: &str) -> ApiClient {
    let key = ProverKey::generate(name);
    db.dal
        .register_outside_prover(name, &key.public_key_hex())
        .await
        .expect("register");
    let mut client = ApiClient::new(&api.base, key).unwrap();
    client.login().await.expect("login");
    client
}

async fn prove(
    circuits: &Arc<BatchCircuits>,
    round: AggregationRound,
    circuit: u8,
    input: Vec<u8>,
) -> Vec<u8> {
    let circuits = circuits.clone();
    tokio::task::spawn_blocking(move || {
        let vector = circuits.witness_vector(round, CircuitId(circuit), &input)?;
        circuits.prove_job(round, CircuitId(circuit), vector)
    })
    .await
    .unwrap()
    .expect("prove")
}

/// Every queued job proven the fleet's way, one after the other: (slot → seconds, proof).
async fn trusted_pass(
    db: &TestDb,
    store: &Store,
    circuits: &Arc<BatchCircuits>,
) -> BTreeMap<Slot, (f64, Vec<u8>)> {
    let mut done = BTreeMap::new();
    loop {
        let started = Instant::now();
        let Some(job) = db
            .dal
            .pick_prover_job(
                VERSION,
                ProverJobClass::Any,
                &HeavySet::default(),
                "trusted",
            )
            .await
            .unwrap()
        else {
            return done;
        };
        let key = ObjectKey::parse(&job.circuit_blob_key).unwrap();
        let witness: CircuitWitnessBytes = store.get(&key).await.unwrap();
        let proof = prove(
            circuits,
            job.aggregation_round,
            job.circuit_id.0,
            witness.into_bytes().to_vec(),
        )
        .await;
        let path = store
            .put(
                &ObjectKey::Proof {
                    chain: job.meta.batch.chain_id,
                    job: job.id,
                },
                &ProofBytes::new(proof.clone()),
            )
            .await
            .unwrap();
        let outcome = db
            .dal
            .complete_prover_job(job.id, &path, started.elapsed())
            .await
            .unwrap();
        assert!(outcome.is_completed(), "{outcome:?}");
        done.insert(
            (job.circuit_id.0, job.sequence_number),
            (started.elapsed().as_secs_f64(), proof),
        );
    }
}

/// Every queued job through the API by one prover that proves it: slot → (seconds, proving s).
async fn outside_pass(
    client: &mut ApiClient,
    circuits: &Arc<BatchCircuits>,
) -> BTreeMap<Slot, (f64, f64)> {
    let mut done = BTreeMap::new();
    loop {
        let started = Instant::now();
        let Some(lease) = client.lease(&Capabilities::default()).await.unwrap().lease else {
            return done;
        };
        let input = client.input(&lease).await.unwrap();
        let proving = Instant::now();
        let proof = prove(circuits, lease.job.round, lease.job.circuit_id, input).await;
        let proving = proving.elapsed().as_secs_f64();
        let answer = client
            .submit(lease.lease_id, lease.fencing_token, &proof)
            .await
            .unwrap();
        assert_eq!(answer.outcome, SubmissionOutcome::Accepted);
        done.insert(
            (lease.job.circuit_id, lease.job.sequence_number),
            (started.elapsed().as_secs_f64(), proving),
        );
    }
}

/// `provers` clients submit ready proofs until no job is left; jobs accepted and wall seconds.
async fn throughput_pass(
    db: &TestDb,
    api: &Api,
    proofs: &Arc<BTreeMap<Slot, Vec<u8>>>,
    provers: usize,
    run: usize,
) -> (u64, f64) {
    let mut clients = Vec::new();
    for p in 0..provers {
        clients.push(client(db, api, &format!("fast-{provers}-{run}-{p}")).await);
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let proofs = Arc::clone(proofs);
            tokio::spawn(async move {
                let mut accepted = 0u64;
                while let Some(lease) = client.lease(&Capabilities::default()).await.unwrap().lease
                {
                    let proof = &proofs[&(lease.job.circuit_id, lease.job.sequence_number)];
                    let answer = client
                        .submit(lease.lease_id, lease.fencing_token, proof)
                        .await
                        .unwrap();
                    assert_eq!(answer.outcome, SubmissionOutcome::Accepted);
                    accepted += 1;
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await.unwrap();
    }
    (accepted, started.elapsed().as_secs_f64())
}

async fn measure(db: &TestDb, backend: Backend, options: &Options) -> serde_json::Value {
    let store = local_store();
    let version = protocol_version().await;
    let circuits = circuits_async().await;
    let mut next_batch = 1;
    let mut trusted = Vec::new();
    let mut outside = Vec::new();
    let mut outside_proving = Vec::new();
    let mut overhead = Vec::new();
    let mut proofs = BTreeMap::new();
    db.dal
        .insert_protocol_version(&version)
        .await
        .expect("insert the protocol version");
    let api = start_api(db, &store.store).await;
    let mut prover = client(db, &api, "paired").await;
    for _ in 0..options.runs {
        insert_basic_round(&db.dal, &store.store, &version, next_batch, 0).await;
        next_batch += 1;
        let direct = trusted_pass(db, &store.store, &circuits).await;
        insert_basic_round(&db.dal, &store.store, &version, next_batch, 0).await;
        next_batch += 1;
        let through = outside_pass(&mut prover, &circuits).await;
        assert_eq!(
            direct.keys().collect::<Vec<_>>(),
            through.keys().collect::<Vec<_>>()
        );
        for (slot, (seconds, proof)) in direct {
            let (api_seconds, proving) = through[&slot];
            trusted.push(seconds * 1e3);
            outside.push(api_seconds * 1e3);
            outside_proving.push(proving * 1e3);
            overhead.push((api_seconds - seconds) * 1e3);
            proofs.insert(slot, proof);
        }
    }
    let jobs_per_batch = proofs.len() as u64;
    let proofs = Arc::new(proofs);
    let mut throughput = serde_json::Map::new();
    for provers in [1usize, 4] {
        let mut rates = Vec::new();
        for run in 0..options.runs {
            for _ in 0..options.batches {
                insert_basic_round(&db.dal, &store.store, &version, next_batch, 0).await;
                next_batch += 1;
            }
            let (accepted, seconds) = throughput_pass(db, &api, &proofs, provers, run).await;
            assert_eq!(accepted, jobs_per_batch * u64::from(options.batches));
            rates.push(accepted as f64 / seconds);
        }
        throughput.insert(format!("{provers}"), stats(&rates));
    }
    api.cancel.cancel();
    api.task.await.unwrap().unwrap();
    json!({
        "backend": match backend { Backend::Postgres => "postgresql", Backend::Sqlite => "sqlite" },
        "jobs_per_batch": jobs_per_batch,
        "overhead": {
            "trusted_ms": stats(&trusted),
            "outside_ms": stats(&outside),
            "outside_proving_ms": stats(&outside_proving),
            "overhead_ms": stats(&overhead),
            "ratio_outside_to_trusted": median(&outside) / median(&trusted),
        },
        "accepted_jobs_per_second": {
            "batches_per_run": options.batches,
            "jobs_per_run": jobs_per_batch * u64::from(options.batches),
            "by_provers": throughput,
        },
    })
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let mut backends = vec![Backend::Sqlite];
    if std::env::var(common::DATABASE_URL_VAR).is_ok() {
        backends.push(Backend::Postgres);
    }
    let load_before = load();
    let results: Vec<_> = backends
        .iter()
        .map(|&backend| {
            // On a fresh database, dropped afterwards (PostgreSQL).
            let result = Arc::new(std::sync::Mutex::new(None));
            let slot = Arc::clone(&result);
            let options = &options;
            runtime.block_on(common::with_db(backend, move |db| async move {
                let measured = measure(&db, backend, options).await;
                *slot.lock().unwrap() = Some(measured);
            }));
            let measured = result.lock().unwrap().take().expect("measured");
            measured
        })
        .collect();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let report = json!({
        "suite": "prover-api",
        "runs": options.runs,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "load_before": load_before,
        "load_after": load(),
        "commit": commit,
        "proving": format!("{PROVING:?}"),
        "results": results,
    });
    if let Some(parent) = options.out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&options.out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", options.out.display());
    println!("| backend | trusted ms/job | through the API ms/job | overhead ms/job | ratio | accepted jobs/s, 1 prover | 4 provers |");
    println!("|---|---|---|---|---|---|---|");
    for r in &results {
        let m = |v: &serde_json::Value| v["median"].as_f64().unwrap();
        let o = &r["overhead"];
        let t = &r["accepted_jobs_per_second"]["by_provers"];
        println!(
            "| {} | {:.0} | {:.0} | {:.0} (min {:.0}, max {:.0}) | {:.2} | {:.1} | {:.1} |",
            r["backend"].as_str().unwrap(),
            m(&o["trusted_ms"]),
            m(&o["outside_ms"]),
            m(&o["overhead_ms"]),
            o["overhead_ms"]["min"].as_f64().unwrap(),
            o["overhead_ms"]["max"].as_f64().unwrap(),
            o["ratio_outside_to_trusted"].as_f64().unwrap(),
            m(&t["1"]),
            m(&t["4"]),
        );
    }
    println!("load before {load_before}, after {}", load());
}
