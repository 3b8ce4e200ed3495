//! The witness round (round 0, basic witness generation) of one batch, timed by phase: where
//! the seconds between a batch's insertion and its first basic proof go (issues 17 and 18;
//! docs/benchmarks.md, "Witness round").
//!
//! ```text
//! cargo run --release -p zkfleet-bench --example witness_round -- BATCH_DIR [RUNS] [OUT.json]
//! ```
//!
//! BATCH_DIR holds `batch.bin` and `genesis.json` as `zkfleet rollup generate` writes them
//! (e.g. `zkfleet rollup generate --operations 1024 --seed 7 --out BATCH_DIR`). Every run
//! measures, wall and process CPU time (user + system of every thread):
//!
//! - the round's steps one by one, as the executor and the uploader call them: decode the
//!   witness input, rebuild the pre-state (`prepare`; and a synthetic pre-state of 20,000
//!   accounts, in bulk as `prepare` builds it and one account at a time as it did before,
//!   roots compared), every signature's public key recovered
//!   (one thread, then rayon's pool: the part of execution that needs no state and that
//!   `execute_batch` spreads over every core), `execute_batch`, `plan_batch`,
//!   `type_summaries`, and building + encoding every circuit's witness (`BatchPlan::encode`,
//!   all instances, on the calling thread);
//! - the round itself, the witness generator's own picker, executor and saver (the runner
//!   minus its polling) against a fresh SQLite job database and local-directory store:
//!   pick + load the input, execute, save (upload every circuit, the closed forms, the
//!   scheduler's input, the aux output, then the completing transaction).
//!
//! Each run also prints a SHA-256 over every artifact the round left — every stored blob but
//! the input, as stored (envelope included), and the inserted prover jobs — so that a change
//! of the round's code can be shown to leave its outputs byte-identical. The threads used are
//! rayon's global pool (`RAYON_NUM_THREADS` sets it) and a multi-threaded tokio runtime.
//! Medians and every run go to OUT.json (default `witness-round.json`); a markdown table of
//! the medians to stdout.

// An example links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use zkfleet_bench::cost::process_cpu_time;
use zkfleet_circuits::basic::plan_batch;
use zkfleet_circuits::pipeline::type_summaries;
use zkfleet_circuits::BasicGeometry;
use zkfleet_dal::{Dal, NewBatch, PoolOptions};
use zkfleet_rollup::encoding::binary;
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::genesis::Genesis;
use zkfleet_rollup::signature::recover_public_key;
use zkfleet_rollup::state::{Account, AccountId, MemoryState, StateTree};
use zkfleet_runner::traits::{Executor, JobError, JobPicker, JobSaver};
use zkfleet_store::{ObjectKey, Store, StoreConfig, WitnessInputBytes};
use zkfleet_types::{
    BatchPublicOutput, HashDigest, ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};
use zkfleet_witness_generator::basic::{BasicExecutor, BasicPicker, BasicSaver};
use zkfleet_witness_generator::{BatchWitnessInput, WitnessGeneratorConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);

/// Accounts of the synthetic pre-state timed beside the batch's own (8 accounts).
const SYNTHETIC_ACCOUNTS: u32 = 20_000;

/// Wall and CPU seconds of one measured step.
#[derive(Debug, Clone, Copy, Serialize)]
struct Timing {
    wall_s: f64,
    cpu_s: f64,
}

/// Runs `f`, timing it.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Timing) {
    let (cpu, wall) = (process_cpu_time(), Instant::now());
    let out = f();
    (out, since(cpu, wall))
}

fn since(cpu: Duration, wall: Instant) -> Timing {
    Timing {
        wall_s: wall.elapsed().as_secs_f64(),
        cpu_s: (process_cpu_time().saturating_sub(cpu)).as_secs_f64(),
    }
}

/// One run: the steps, the round, and the digest of what the round stored.
#[derive(Debug, Serialize)]
struct Run {
    steps: Vec<(String, Timing)>,
    round: Vec<(String, Timing)>,
    circuits: usize,
    artifacts: usize,
    artifacts_sha256: String,
}

#[derive(Debug, Serialize)]
struct Median {
    phase: String,
    wall_s: f64,
    cpu_s: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    suite: &'static str,
    batch_dir: PathBuf,
    operations: usize,
    geometry: BasicGeometry,
    max_circuits_in_flight: usize,
    cpus: usize,
    rayon_threads: usize,
    runs: Vec<Run>,
    medians: Vec<Median>,
    public_output: BatchPublicOutput,
    command: String,
}

/// The round's steps one by one (no store, no database).
fn steps(input: &[u8], geometry: &BasicGeometry) -> Result<Vec<(String, Timing)>, BoxError> {
    let mut out = Vec::new();
    let (decoded, t) = timed(|| BatchWitnessInput::decode(input));
    out.push(("decode".to_owned(), t));
    let decoded = decoded?;
    let (prepared, t) = timed(|| decoded.prepare());
    out.push(("prepare (pre-state)".to_owned(), t));
    let mut prepared = prepared?;
    // The pre-state of a larger rollup: how `prepare` rebuilds it (in bulk) against setting
    // its accounts one by one (what it did before), on the same accounts.
    let accounts: Vec<(AccountId, Account)> = (0..SYNTHETIC_ACCOUNTS)
        .map(|id| {
            let mut account = Account::new(prepared.batch.prev_state_root);
            account.balance = u64::from(id) * 1_000;
            (id, account)
        })
        .collect();
    let (one_by_one, t) = timed(|| {
        let mut state = MemoryState::new();
        for (id, account) in &accounts {
            state.set_account(*id, *account)?;
        }
        state.commit()?;
        state.root()
    });
    out.push((
        format!("  pre-state of {SYNTHETIC_ACCOUNTS} accounts, one by one"),
        t,
    ));
    let (bulk, t) = timed(|| MemoryState::with_accounts(accounts.iter().copied()).root());
    out.push((
        format!("  pre-state of {SYNTHETIC_ACCOUNTS} accounts, in bulk (prepare)"),
        t,
    ));
    if one_by_one? != bulk? {
        return Err("the bulk-built pre-state's root differs from the one-by-one root".into());
    }
    // The part of execution that needs no state: every signature's public key recovered
    // (what execute_batch does on every core before applying the operations in order), on
    // one thread and on rayon's pool, to show how much of execute_batch can spread.
    let chain_id = prepared.batch.chain_id.0;
    let signed: Vec<_> = prepared
        .batch
        .operations
        .iter()
        .filter_map(|op| Some((op.message_digest(chain_id)?, op.signature()?)))
        .collect();
    let (recovered, t) = timed(|| {
        signed
            .iter()
            .map(|(message, signature)| recover_public_key(*message, signature))
            .collect::<Result<Vec<_>, _>>()
    });
    out.push(("  of which: recover signatures (one thread)".to_owned(), t));
    recovered?;
    let (recovered, t) = timed(|| {
        signed
            .par_iter()
            .map(|(message, signature)| recover_public_key(*message, signature))
            .collect::<Result<Vec<_>, _>>()
    });
    out.push(("  of which: recover signatures (rayon)".to_owned(), t));
    recovered?;
    let (executed, t) = timed(|| execute_batch(&mut prepared.state, &prepared.batch));
    out.push(("execute_batch".to_owned(), t));
    let executed = executed?;
    let (plan, t) = timed(|| plan_batch(&executed, geometry));
    out.push(("plan_batch".to_owned(), t));
    let plan = plan?;
    let (summaries, t) = timed(|| type_summaries(&executed, &plan.closed_forms));
    out.push(("type_summaries".to_owned(), t));
    summaries?;
    let (encoded, t) = timed(|| {
        plan.instances
            .iter()
            .map(|instance| plan.encode(&executed, instance).map(|i| i.witness.len()))
            .collect::<Result<Vec<_>, _>>()
    });
    out.push(("encode circuits (one thread)".to_owned(), t));
    encoded?;
    Ok(out)
}

/// The round through the witness generator's picker, executor and saver, on a fresh SQLite
/// database and local store under `dir`.
async fn round(
    dir: &Path,
    input: &[u8],
    batch: zkfleet_types::L1BatchId,
    config: &WitnessGeneratorConfig,
) -> Result<(Vec<(String, Timing)>, usize, usize, String), BoxError> {
    let store = Store::open(&StoreConfig::local(dir.join("store")))?;
    let url = format!("sqlite://{}", dir.join("jobs.db").display());
    let dal = Dal::connect_with(&url, &PoolOptions::default()).await?;
    dal.insert_protocol_version(&ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(HashDigest::ZERO),
        final_vk_digest: VkDigest(HashDigest::ZERO),
    })
    .await?;
    let input_key = ObjectKey::WitnessInput {
        chain: batch.chain_id,
        batch: batch.batch_number,
    };
    let input_path = store
        .put(&input_key, &WitnessInputBytes::new(input.to_vec()))
        .await?;
    dal.insert_batch(&NewBatch {
        batch,
        protocol_version: VERSION,
        witness_input_blob_key: input_path.clone(),
        priority: 0,
        batch_sealed_at: chrono::Utc::now(),
    })
    .await?;

    let mut picker = BasicPicker::new(
        dal.clone(),
        store.clone(),
        VERSION,
        "witness-round-bench".to_owned(),
    );
    let executor = BasicExecutor::new(config.geometry);
    let mut saver = BasicSaver::new(dal.clone(), store.clone(), config.max_circuits_in_flight);
    let mut out = Vec::new();
    let (cpu0, wall0) = (process_cpu_time(), Instant::now());

    let (cpu, wall) = (process_cpu_time(), Instant::now());
    let (loaded, meta) = picker
        .pick()
        .await?
        .ok_or("the batch's job was not picked")?;
    out.push(("pick + load input".to_owned(), since(cpu, wall)));

    // On a blocking thread, as the runner runs its executors.
    let (cpu, wall) = (process_cpu_time(), Instant::now());
    let (artifacts, meta) = tokio::task::spawn_blocking(move || {
        let artifacts = executor.execute(loaded, &meta);
        (artifacts, meta)
    })
    .await?;
    out.push(("execute (decode .. summaries)".to_owned(), since(cpu, wall)));
    let artifacts = artifacts?;

    let (cpu, wall) = (process_cpu_time(), Instant::now());
    saver
        .save(meta, Ok::<_, JobError<_>>(artifacts))
        .await
        .map_err(|e| format!("saving: {e}"))?;
    out.push(("save (uploads + DB)".to_owned(), since(cpu, wall)));
    out.push(("round total".to_owned(), since(cpu0, wall0)));

    // What the round left: every blob but the input, as stored, and the prover jobs.
    let status = dal.batch_status(batch).await?;
    let witness = status.witness_input.as_ref().ok_or("no witness job")?;
    if witness.status != zkfleet_types::JobStatus::Successful {
        return Err(format!(
            "the witness job ended {:?}: {:?}",
            witness.status, witness.error
        )
        .into());
    }
    let mut hasher = Sha256::new();
    let mut listed = store.list("").await?;
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    let mut artifacts = 0;
    for object in listed.iter().filter(|o| o.path != input_path) {
        let key = object
            .key
            .ok_or_else(|| format!("{} is not a zkfleet key", object.path))?;
        let bytes = store.get_raw(&key).await?;
        hasher.update(object.path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        artifacts += 1;
    }
    let mut circuits = 0;
    for round in &status.rounds {
        for job in &round.prover_jobs {
            hasher.update(
                format!(
                    "{:?} {:?} {:?} {:?}",
                    round.round, job.circuit_id, job.sequence_number, job.input_blob_key
                )
                .as_bytes(),
            );
            circuits += 1;
        }
    }
    dal.close().await;
    Ok((out, circuits, artifacts, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: witness_round BATCH_DIR [RUNS] [OUT.json]";
    let dir = PathBuf::from(args.first().ok_or(usage)?);
    let runs: usize = args.get(1).map_or(Ok(3), |r| r.parse())?;
    let out_path = PathBuf::from(args.get(2).map_or("witness-round.json", String::as_str));

    let batch = binary::decode(&std::fs::read(dir.join("batch.bin"))?)?;
    let genesis = Genesis::from_json(&std::fs::read_to_string(dir.join("genesis.json"))?)?;
    let input = BatchWitnessInput::from_genesis(&batch, &genesis)?.encode()?;
    let config = WitnessGeneratorConfig::default();
    let geometry = config.geometry;
    let id = batch.id();
    eprintln!(
        "{id}: {} operations, witness input {} bytes, geometry {geometry:?}, {} upload slots",
        batch.operations.len(),
        input.len(),
        config.max_circuits_in_flight
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut all = Vec::with_capacity(runs);
    let mut public_output = None;
    for run in 0..runs {
        let steps = steps(&input, &geometry)?;
        let work = tempfile::Builder::new()
            .prefix("zkfleet-witness-round-")
            .tempdir()?;
        let (round, circuits, artifacts, digest) =
            runtime.block_on(round(work.path(), &input, id, &config))?;
        if public_output.is_none() {
            let mut state = genesis.to_memory_state()?;
            public_output = Some(execute_batch(&mut state, &batch)?.public_output);
        }
        let total = round.last().map_or(0.0, |(_, t)| t.wall_s);
        eprintln!(
            "run {}: round {total:.3} s wall, {circuits} circuits, {artifacts} artifacts, sha256 {digest}",
            run + 1
        );
        all.push(Run {
            steps,
            round,
            circuits,
            artifacts,
            artifacts_sha256: digest,
        });
    }
    if let Some(first) = all.first() {
        if let Some(other) = all
            .iter()
            .find(|r| r.artifacts_sha256 != first.artifacts_sha256)
        {
            return Err(format!(
                "the runs' artifacts differ: {} against {}",
                first.artifacts_sha256, other.artifacts_sha256
            )
            .into());
        }
    }

    let mut medians = Vec::new();
    let phases = all.first().map_or_else(Vec::new, |r| {
        r.steps
            .iter()
            .chain(&r.round)
            .map(|(name, _)| name.clone())
            .collect()
    });
    for phase in phases {
        let pick = |f: fn(&Timing) -> f64| {
            median(
                all.iter()
                    .filter_map(|r| r.steps.iter().chain(&r.round).find(|(n, _)| *n == phase))
                    .map(|(_, t)| f(t))
                    .collect(),
            )
        };
        medians.push(Median {
            wall_s: pick(|t| t.wall_s),
            cpu_s: pick(|t| t.cpu_s),
            phase,
        });
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "| phase ({} operations, median of {runs}, {cpus} cpus) | wall (s) | CPU (s) |",
        batch.operations.len()
    );
    println!("|---|---:|---:|");
    for m in &medians {
        println!("| {} | {:.3} | {:.3} |", m.phase, m.wall_s, m.cpu_s);
    }
    let report = Report {
        suite: "witness_round",
        batch_dir: dir,
        operations: batch.operations.len(),
        geometry,
        max_circuits_in_flight: config.max_circuits_in_flight,
        cpus,
        rayon_threads: rayon::current_num_threads(),
        runs: all,
        medians,
        public_output: public_output.ok_or("no run")?,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    std::fs::write(&out_path, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("wrote {}", out_path.display());
    Ok(())
}
