//! Picks per second: pick + complete every prover job of a batch with 1, 4 and 16 concurrent
//! pickers, on SQLite (a WAL file in a temporary directory) and PostgreSQL (a fresh database
//! on the server named by `ZKFLEET_TEST_DATABASE_URL`).
//!
//! `cargo bench -p zkfleet-dal --bench picks` writes `docs/benchmarks/dal-picks.json` and the
//! `dal-picks` section of `docs/benchmarks.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::json;
use sqlx::Connection;
use zkfleet_dal::{
    BasicWitnessOutput, Dal, HeavySet, NewBasicProverJob, NewBatch, NewLeafWitnessJob, PoolOptions,
    ProofDone, ProverJobClass,
};
use zkfleet_types::{
    BatchNumber, ChainId, CircuitId, HashDigest, L1BatchId, ProtocolSemanticVersion,
    ProtocolVersion, VkDigest,
};

const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
const JOBS_PER_RUN: u32 = 2_000;
const REPETITIONS: usize = 5;
const CONCURRENCY: [usize; 3] = [1, 4, 16];
/// Jobs per pick and per completing transaction: 1 is the single-job API (`pick_prover_job`,
/// `complete_prover_job`), more the batched one (`pick_prover_jobs`, `complete_prover_jobs`).
const BATCH_SIZES: [u32; 2] = [1, 8];
const BEGIN_MARKER: &str = "<!-- BEGIN dal-picks -->";
const END_MARKER: &str = "<!-- END dal-picks -->";

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

struct Series {
    backend: &'static str,
    pickers: usize,
    batch: u32,
    /// Picks per second of each repetition.
    runs: Vec<f64>,
}

impl Series {
    fn sorted(&self) -> Vec<f64> {
        let mut runs = self.runs.clone();
        runs.sort_by(|a, b| a.total_cmp(b));
        runs
    }

    fn median(&self) -> f64 {
        let runs = self.sorted();
        let n = runs.len();
        if n % 2 == 1 {
            runs[n / 2]
        } else {
            (runs[n / 2 - 1] + runs[n / 2]) / 2.0
        }
    }

    fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(0.0)
    }

    fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(0.0)
    }
}

/// Inserts batch `number` with `JOBS_PER_RUN` queued basic prover jobs over three types.
async fn prepare_batch(dal: &Dal, number: u32) -> BenchResult<L1BatchId> {
    let batch = L1BatchId::new(ChainId(270), BatchNumber(number));
    dal.insert_batch(&NewBatch {
        batch,
        protocol_version: VERSION,
        witness_input_blob_key: format!("witness_inputs/{number}"),
        priority: 0,
        batch_sealed_at: chrono::Utc::now(),
    })
    .await?;
    dal.pick_basic_witness_job(VERSION, "bench")
        .await?
        .ok_or("the batch's basic witness job was not queued")?;
    let types = [CircuitId(1), CircuitId(2), CircuitId(3)];
    let mut prover_jobs = Vec::new();
    let mut per_type = [0u32; 3];
    for i in 0..JOBS_PER_RUN {
        let t = (i % 3) as usize;
        prover_jobs.push(NewBasicProverJob {
            circuit_id: types[t],
            sequence_number: per_type[t],
            circuit_blob_key: format!("circuits/{number}/{i}"),
        });
        per_type[t] += 1;
    }
    let leaf_jobs = types
        .iter()
        .zip(per_type)
        .map(|(&circuit_id, n)| NewLeafWitnessJob {
            circuit_id,
            number_of_basic_circuits: n,
            closed_form_inputs_blob_key: format!("closed_form/{number}/{circuit_id}"),
        })
        .collect();
    let output = BasicWitnessOutput {
        prover_jobs,
        leaf_jobs,
        scheduler_partial_input_blob_key: format!("scheduler/{number}"),
    };
    dal.complete_basic_witness_job(batch, &output, Duration::ZERO)
        .await?;
    Ok(batch)
}

/// Runs `pickers` concurrent pick + complete loops until the queue is empty; picks per second.
async fn run_once(dal: &Dal, pickers: usize, batch: u32) -> BenchResult<f64> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..pickers {
        let dal = dal.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("bench-{p}");
            let heavy = HeavySet::default();
            let mut done = 0u64;
            if batch == 1 {
                while let Some(job) = dal
                    .pick_prover_job(VERSION, ProverJobClass::Any, &heavy, &name)
                    .await?
                {
                    dal.complete_prover_job(job.id, &format!("proofs/{}", job.id), Duration::ZERO)
                        .await?;
                    done += 1;
                }
            } else {
                loop {
                    let jobs = dal
                        .pick_prover_jobs(VERSION, ProverJobClass::Any, &heavy, &name, batch)
                        .await?;
                    if jobs.is_empty() {
                        break;
                    }
                    let proofs: Vec<ProofDone> = jobs
                        .iter()
                        .map(|job| ProofDone {
                            id: job.id,
                            proof_blob_key: format!("proofs/{}", job.id),
                            time_taken: Duration::ZERO,
                        })
                        .collect();
                    dal.complete_prover_jobs(&proofs).await?;
                    done += jobs.len() as u64;
                }
            }
            Ok::<u64, zkfleet_dal::DalError>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    if total != u64::from(JOBS_PER_RUN) {
        return Err(format!("picked {total} jobs, expected {JOBS_PER_RUN}").into());
    }
    Ok(total as f64 / elapsed)
}

async fn bench_backend(
    backend: &'static str,
    dal: &Dal,
    batch_sizes: &[u32],
) -> BenchResult<Vec<Series>> {
    dal.insert_protocol_version(&ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(HashDigest::ZERO),
        final_vk_digest: VkDigest(HashDigest::ZERO),
    })
    .await?;
    let mut number = 0;
    let mut all = Vec::new();
    for &batch_size in batch_sizes {
        for pickers in CONCURRENCY {
            let mut series = Series {
                backend,
                pickers,
                batch: batch_size,
                runs: Vec::new(),
            };
            for _ in 0..REPETITIONS {
                number += 1;
                let batch = prepare_batch(dal, number).await?;
                series.runs.push(run_once(dal, pickers, batch_size).await?);
                // Keep the tables at one batch, so every repetition starts from the same state.
                dal.delete_batch(batch).await?;
            }
            eprintln!(
                "{backend:>10} {pickers:>2} pickers, batch {batch_size:>2}: median {:>8.0} picks/s (min {:.0}, max {:.0})",
                series.median(),
                series.min(),
                series.max()
            );
            all.push(series);
        }
    }
    Ok(all)
}

fn pool() -> PoolOptions {
    PoolOptions {
        max_connections: 20,
        ..PoolOptions::default()
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// The server's durability settings, which decide what a commit costs.
struct PostgresSettings {
    fsync: String,
    synchronous_commit: String,
}

async fn bench_postgres(admin_url: &str) -> BenchResult<(Vec<Series>, PostgresSettings)> {
    let name = format!("zkfleet_bench_{:016x}", rand::thread_rng().gen::<u64>());
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let settings = PostgresSettings {
        fsync: sqlx::query_scalar("SHOW fsync")
            .fetch_one(&mut admin)
            .await?,
        synchronous_commit: sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(&mut admin)
            .await?,
    };
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let result = async {
        let dal = Dal::connect_with(&with_database(admin_url, &name), &pool()).await?;
        let mut series = bench_backend("postgresql", &dal, &BATCH_SIZES).await?;
        // The single-job path once more with the wake-up triggers disabled: what announcing
        // work costs the hot path, measured in the same run.
        let mut conn = sqlx::PgConnection::connect(&with_database(admin_url, &name)).await?;
        for table in zkfleet_dal::JobTable::ALL {
            sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
                .execute(&mut conn)
                .await?;
        }
        series.extend(bench_backend("postgresql, wake-up triggers disabled", &dal, &[1]).await?);
        dal.close().await;
        Ok::<_, Box<dyn std::error::Error>>(series)
    }
    .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    Ok((result?, settings))
}

async fn bench_sqlite() -> BenchResult<Vec<Series>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let dal = Dal::connect_with(&url, &pool()).await?;
    let series = bench_backend("sqlite", &dal, &BATCH_SIZES).await;
    dal.close().await;
    series
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The 1-minute load average (the machine is shared: figures only mean something with it).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

const COMMAND: &str = "cargo bench -p zkfleet-dal --bench picks";

fn write_results(
    series: &[Series],
    postgres: &PostgresSettings,
    load_before: &str,
) -> BenchResult<()> {
    let load_after = load_average();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = cpu_model();
    let mut commit = command_output("git", &["rev-parse", "--short", "HEAD"]);
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    if !command_output("git", &["status", "--porcelain", "--", crate_dir]).is_empty() {
        // The measured code is not the commit's: say so.
        commit.push_str("+uncommitted changes to crates/dal");
    }
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let docs = docs_dir();
    std::fs::create_dir_all(docs.join("benchmarks"))?;
    let json = json!({
        "benchmark": "dal-picks",
        "what": "prover job pick + complete, concurrent pickers, picks per second",
        "command": COMMAND,
        "jobs_per_run": JOBS_PER_RUN,
        "repetitions": REPETITIONS,
        "machine": {
            "nproc": nproc,
            "cpu": cpu,
            "load_average_1m_before": load_before,
            "load_average_1m_after": load_after,
        },
        "postgres": { "fsync": postgres.fsync, "synchronous_commit": postgres.synchronous_commit },
        "git_commit": commit,
        "date": date,
        "results": series.iter().map(|s| json!({
            "backend": s.backend,
            "pickers": s.pickers,
            "batch": s.batch,
            "median_picks_per_second": s.median().round(),
            "min_picks_per_second": s.min().round(),
            "max_picks_per_second": s.max().round(),
            "runs_picks_per_second": s.runs.iter().map(|r| r.round()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        docs.join("benchmarks/dal-picks.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;

    let mut section = format!(
        "{BEGIN_MARKER}\n\
         Each run inserts one batch of {JOBS_PER_RUN} queued prover jobs, then N concurrent \
         pickers loop *pick (any class) + complete* until the queue is empty; picks/s = \
         {JOBS_PER_RUN} / wall time. {REPETITIONS} runs per cell; median and range (min–max). \
         SQLite: WAL file on local disk, synchronous = NORMAL (no flush per commit); PostgreSQL \
         on loopback with fsync = {fsync} and synchronous_commit = {sc}{flush_note}; pools of \
         20 connections. \
         Batch 1: a job costs two write transactions (pick; complete with its dependency \
         check), through `pick_prover_job` and `complete_prover_job`. Batch k: a worker picks up \
         to k jobs of one circuit in one transaction (`pick_prover_jobs`) and completes them in \
         one transaction (`complete_prover_jobs`, dependents queued in it as before), so k jobs \
         cost two transactions. The rows *postgresql, wake-up triggers disabled* repeat batch 1 \
         in the same run with the job tables' notification triggers disabled (`ALTER TABLE … \
         DISABLE TRIGGER USER`): what announcing work costs the single-job path. \
         SQLite serialises writers, so more pickers do not add \
         throughput; PostgreSQL pickers skip each other's locked rows and scale until the \
         machine's two cores are busy.\n\n\
         | backend | batch | pickers | median picks/s | min–max |\n|---|---:|---:|---:|---:|\n",
        fsync = postgres.fsync,
        sc = postgres.synchronous_commit,
        flush_note = if postgres.fsync == "off" || postgres.synchronous_commit == "off" {
            " (a commit waits for no disk flush: a production server's commits cost more)"
        } else {
            ""
        },
    );
    for s in series {
        section.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0}–{:.0} |\n",
            s.backend,
            s.batch,
            s.pickers,
            s.median(),
            s.min(),
            s.max()
        ));
    }
    section.push_str(&format!(
        "\nCommand: `{COMMAND}` (with `ZKFLEET_TEST_DATABASE_URL` set). Machine: {nproc} CPUs, \
         {cpu}, shared with other builds while measuring (1-minute load average {load_before} \
         before, {load_after} after). Commit `{commit}`, {date}. Raw \
         figures: [`benchmarks/dal-picks.json`](benchmarks/dal-picks.json).\n{END_MARKER}\n"
    ));

    let path = docs.join("benchmarks.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nMeasured figures of zkfleet's components. Each section is written by \
         the benchmark named in it; rerun the command to refresh it.\n"
            .to_owned()
    });
    let updated = match (existing.find(BEGIN_MARKER), existing.find(END_MARKER)) {
        (Some(begin), Some(end)) if end > begin => {
            let end = end + END_MARKER.len();
            let rest = existing[end..]
                .strip_prefix('\n')
                .unwrap_or(&existing[end..]);
            format!("{}{section}{rest}", &existing[..begin])
        }
        _ => format!(
            "{}\n{section}",
            existing.trim_end_matches('\n').to_owned() + "\n"
        ),
    };
    std::fs::write(&path, updated)?;
    eprintln!(
        "wrote {} and docs/benchmarks/dal-picks.json",
        path.display()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> BenchResult<()> {
    let Ok(postgres_url) = std::env::var("ZKFLEET_TEST_DATABASE_URL") else {
        return Err(
            "ZKFLEET_TEST_DATABASE_URL is not set: the benchmark measures PostgreSQL \
                    too (source /tmp/devsvc/env.sh, or start the services of scripts/test)"
                .into(),
        );
    };
    let load_before = load_average();
    let mut series = bench_sqlite().await?;
    let (postgres_series, settings) = bench_postgres(&postgres_url).await?;
    series.extend(postgres_series);
    write_results(&series, &settings, &load_before)
}
