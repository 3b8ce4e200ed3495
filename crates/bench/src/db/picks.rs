//! Picks per second: every prover job of a batch picked and completed by N concurrent workers,
//! one job per statement (`pick_prover_job` + `complete_prover_job`) or k at a time
//! (`pick_prover_jobs` + `complete_prover_jobs`: k jobs of one circuit in one statement, their
//! proofs completed in one transaction with the dependents queued in it).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zkfleet_dal::{
    BasicWitnessOutput, Dal, HeavySet, NewBasicProverJob, NewBatch, NewLeafWitnessJob, ProofDone,
    ProverJobClass,
};
use zkfleet_types::{BatchNumber, ChainId, CircuitId, L1BatchId};

use super::{one_minute_load, BENCH_VERSION};
use crate::error::BenchError;
use crate::figure::Figure;

/// What one backend's picks are measured with.
#[derive(Debug, Clone, PartialEq)]
pub struct PicksOptions {
    /// Queued prover jobs per run (three circuit types, one batch).
    pub jobs_per_run: u32,
    /// Runs per cell.
    pub runs: usize,
    /// Concurrent workers, each cell.
    pub workers: Vec<usize>,
    /// Jobs per pick and per completing transaction; 1 is the single-job API.
    pub batches: Vec<u32>,
}

/// One (backend, batch, workers) cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PicksCell {
    /// `sqlite`, `postgresql`, or `postgresql, wake-up triggers disabled`.
    pub backend: String,
    /// Jobs per pick statement and per completing transaction.
    pub batch: u32,
    /// Concurrent workers picking and completing.
    pub workers: usize,
    /// Picks (each completed) per second, one value per run.
    pub picks_per_s: Figure,
    /// The 1-minute load average when the cell started (the machine is shared).
    pub load_1m: String,
}

/// Every cell of `options` on one database, in order batch → workers. `vacuum_url`: a
/// PostgreSQL database to vacuum after every run (see [`vacuum_job_tables`]).
pub(super) async fn measure(
    backend: &str,
    dal: &Dal,
    options: &PicksOptions,
    batches: &[u32],
    next_batch: &mut u32,
    vacuum_url: Option<&str>,
) -> Result<Vec<PicksCell>, BenchError> {
    let mut cells = Vec::new();
    for &batch in batches {
        for &workers in &options.workers {
            let load_1m = one_minute_load();
            let mut runs = Vec::with_capacity(options.runs);
            for _ in 0..options.runs {
                *next_batch += 1;
                let id = queue_batch(dal, *next_batch, options.jobs_per_run).await?;
                runs.push(drain(dal, workers, batch, options.jobs_per_run).await?);
                // One batch in the tables at a time: every run starts from the same state.
                dal.delete_batch(id).await?;
                if let Some(url) = vacuum_url {
                    vacuum_job_tables(url).await?;
                }
            }
            let cell = PicksCell {
                backend: backend.to_owned(),
                batch,
                workers,
                picks_per_s: Figure::of(runs),
                load_1m,
            };
            tracing::info!(
                backend,
                batch,
                workers,
                picks_per_s = cell.picks_per_s.median,
                load = %cell.load_1m,
                "db suite: picks"
            );
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// `VACUUM (ANALYZE)` of the tables a run churns. A run leaves ~3 dead row versions per job
/// (pick, completion, deletion) and the pick walks the queued index past the dead entries
/// until they are vacuumed: measured with pgbench on this machine, six 2,000-job runs in a
/// row without vacuum went from 4,120 to 2,029 picks + completions per second. Autovacuum
/// visits a database once a minute (`autovacuum_naptime`), at a moment unrelated to the
/// runs, so without this a cell's figure depended on how long ago it had last run — the 2x
/// swings between runs of this suite before issue 21's measurements.
async fn vacuum_job_tables(url: &str) -> Result<(), BenchError> {
    use sqlx::Connection;
    let error = |source| BenchError::PostgresAdmin {
        what: "vacuum the job tables between runs",
        source,
    };
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(error)?;
    sqlx::query(
        "VACUUM (ANALYZE) prover_jobs, leaf_witness_jobs, witness_inputs, node_witness_jobs",
    )
    .execute(&mut conn)
    .await
    .map_err(error)?;
    conn.close().await.map_err(error)?;
    Ok(())
}

/// Inserts batch `number` with `jobs` queued basic prover jobs over three circuit types, as
/// its basic witness job's completion does.
pub(super) async fn queue_batch(
    dal: &Dal,
    number: u32,
    jobs: u32,
) -> Result<L1BatchId, BenchError> {
    let batch = L1BatchId::new(ChainId(270), BatchNumber(number));
    dal.insert_batch(&NewBatch {
        batch,
        protocol_version: BENCH_VERSION,
        witness_input_blob_key: format!("witness_inputs/{number}"),
        priority: 0,
        batch_sealed_at: chrono::Utc::now(),
    })
    .await?;
    dal.pick_basic_witness_job(BENCH_VERSION, "bench-db")
        .await?
        .ok_or_else(|| {
            BenchError::Inconsistent(format!("batch {number}'s basic witness job was not queued"))
        })?;
    let types = [CircuitId(1), CircuitId(2), CircuitId(3)];
    let mut prover_jobs = Vec::with_capacity(jobs as usize);
    let mut per_type = [0u32; 3];
    for i in 0..jobs {
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
        .filter(|(_, n)| *n > 0)
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

/// `workers` concurrent pick + complete loops until the queue is empty; picks per second.
async fn drain(dal: &Dal, workers: usize, batch: u32, expected: u32) -> Result<f64, BenchError> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| tokio::spawn(worker(dal.clone(), format!("bench-db-{w}"), batch)))
        .collect();
    let mut total = 0u64;
    for (w, task) in tasks.into_iter().enumerate() {
        total += task.await.map_err(|e| BenchError::WorkerFailed {
            worker: format!("bench-db-{w}"),
            reason: e.to_string(),
        })??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    if total != u64::from(expected) {
        return Err(BenchError::Inconsistent(format!(
            "{workers} workers completed {total} jobs, {expected} were queued"
        )));
    }
    Ok(total as f64 / elapsed)
}

/// One worker: picks (1 or up to `batch` jobs) and completes what it picked, until nothing is
/// queued; the number of jobs it completed.
async fn worker(dal: Dal, name: String, batch: u32) -> Result<u64, BenchError> {
    let heavy = HeavySet::default();
    let mut done = 0u64;
    if batch == 1 {
        while let Some(job) = dal
            .pick_prover_job(BENCH_VERSION, ProverJobClass::Any, &heavy, &name)
            .await?
        {
            dal.complete_prover_job(job.id, &format!("proofs/{}", job.id), Duration::ZERO)
                .await?;
            done += 1;
        }
        return Ok(done);
    }
    loop {
        let jobs = dal
            .pick_prover_jobs(BENCH_VERSION, ProverJobClass::Any, &heavy, &name, batch)
            .await?;
        if jobs.is_empty() {
            return Ok(done);
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
