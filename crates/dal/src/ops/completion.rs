//! Completion and failure, and the queuing of dependent jobs in the completing transaction.
//!
//! Completion is guarded: only an `in_progress` job completes, so a duplicated worker (the job
//! was requeued after a timeout while its first worker was still alive) finds the job already
//! successful and changes nothing, and no dependency is ever counted twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use zkfleet_types::ids::{LeafJobId, NodeJobId, ProverJobId};
use zkfleet_types::{AggregationRound, JobStatus, L1BatchId};

use super::{begin_write, bind_key, job_status, sql, unchanged_status, Key, Pool, Tx};
use crate::error::{DalError, DalResult};
use crate::model::{CompleteOutcome, JobRef, ProofDone, QueuedDependent, TransitionOutcome};
use crate::rows::{
    batch_col, db_batch, db_millis, round_col, status_col, CompletedProverJobRow, DependentRow,
    ServerCompletionRow,
};

pub(crate) async fn complete_prover_job(
    pool: &Pool,
    id: ProverJobId,
    proof_blob_key: &str,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    if proof_blob_key.is_empty() {
        return Err(DalError::InvalidInput(format!(
            "prover job {id}: empty proof blob key"
        )));
    }
    let now = Utc::now();
    if let Some(statement) = sql::COMPLETE_PROVER_JOB_IN_SERVER {
        // No explicit transaction: the statement commits on its own (see the constant).
        let row: ServerCompletionRow = sqlx::query_as(statement)
            .bind(id.0)
            .bind(proof_blob_key)
            .bind(db_millis(time_taken))
            .bind(now)
            .fetch_one(pool)
            .await?;
        return server_outcome(JobRef::Prover(id), row);
    }
    let mut tx = begin_write(pool).await?;
    let row: Option<CompletedProverJobRow> = sqlx::query_as(sql::COMPLETE_PROVER_JOB)
        .bind(id.0)
        .bind(proof_blob_key)
        .bind(db_millis(time_taken))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        let status = unchanged_status(tx, JobRef::Prover(id)).await?;
        return Ok(CompleteOutcome::NotInProgress { status });
    };
    let queued = queue_dependents_of_proof(&mut tx, &row, now).await?;
    tx.commit().await?;
    Ok(CompleteOutcome::Completed { queued })
}

/// The outcome [`complete_prover_job`] reports, from the server-side completion's row.
fn server_outcome(job: JobRef, row: ServerCompletionRow) -> DalResult<CompleteOutcome> {
    const T: &str = "prover_jobs";
    if !row.completed {
        let status = row
            .job_status
            .ok_or_else(|| DalError::NotFound(job.to_string()))?;
        return Ok(CompleteOutcome::NotInProgress {
            status: status_col(T, &status)?,
        });
    }
    let Some(table) = row.queued_table else {
        return Ok(CompleteOutcome::Completed { queued: Vec::new() });
    };
    let batch = || {
        batch_col(
            T,
            row.job_chain_id.unwrap_or_default(),
            row.job_batch_number.unwrap_or_default(),
        )
    };
    let id = || {
        row.queued_id
            .ok_or_else(|| DalError::corrupt(T, format!("queued {table} row without its id")))
    };
    let queued = match table.as_str() {
        "leaf_witness_jobs" => QueuedDependent::LeafWitness(LeafJobId(id()?)),
        "node_witness_jobs" => QueuedDependent::NodeWitness(NodeJobId(id()?)),
        "recursion_tip_witness_jobs" => QueuedDependent::RecursionTipWitness(batch()?),
        "scheduler_witness_jobs" => QueuedDependent::SchedulerWitness(batch()?),
        "proof_compression_jobs" => QueuedDependent::Compression(batch()?),
        other => {
            return Err(DalError::corrupt(
                T,
                format!("the server-side completion queued an unknown table {other}"),
            ))
        }
    };
    Ok(CompleteOutcome::Completed {
        queued: vec![queued],
    })
}

/// Several proofs in one transaction: each completes exactly as [`complete_prover_job`] would
/// (guarded on `in_progress`; its dependent queued when it was the last dependency), and the
/// outcomes come back in the order of `proofs`. Every job row is marked first, then the
/// dependents are locked and checked in one global order (table, chain, batch, circuit, depth),
/// so two batched completions never wait for each other in a cycle; siblings completed in the
/// same batch are all visible to the check, and the dependent is queued once.
pub(crate) async fn complete_prover_jobs(
    pool: &Pool,
    proofs: &[ProofDone],
) -> DalResult<Vec<CompleteOutcome>> {
    if let Some(empty) = proofs.iter().find(|p| p.proof_blob_key.is_empty()) {
        return Err(DalError::InvalidInput(format!(
            "prover job {}: empty proof blob key",
            empty.id
        )));
    }
    if proofs.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    if let Some(statement) = sql::COMPLETE_PROVER_JOBS_IN_SERVER {
        return complete_in_server(pool, statement, proofs, now).await;
    }
    let mut tx = begin_write(pool).await?;
    let mut outcomes: Vec<Option<CompleteOutcome>> = proofs.iter().map(|_| None).collect();
    let mut completed = Vec::with_capacity(proofs.len());
    for (i, proof) in proofs.iter().enumerate() {
        let row: Option<CompletedProverJobRow> = sqlx::query_as(sql::COMPLETE_PROVER_JOB)
            .bind(proof.id.0)
            .bind(&proof.proof_blob_key)
            .bind(db_millis(proof.time_taken))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        match row {
            Some(row) => completed.push((i, row)),
            None => {
                let job = JobRef::Prover(proof.id);
                let status = job_status(&mut tx, job)
                    .await?
                    .ok_or_else(|| DalError::NotFound(job.to_string()))?;
                outcomes[i] = Some(CompleteOutcome::NotInProgress { status });
            }
        }
    }
    completed.sort_by_key(|(_, row)| dependent_lock_order(row));
    for (i, row) in &completed {
        let queued = queue_dependents_of_proof(&mut tx, row, now).await?;
        outcomes[*i] = Some(CompleteOutcome::Completed { queued });
    }
    tx.commit().await?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every proof has an outcome"))
        .collect())
}

/// [`complete_prover_jobs`] as one statement of the server-side completion per proof, inside
/// one transaction (all or nothing: a proof naming no job rolls every one back).
async fn complete_in_server(
    pool: &Pool,
    statement: &str,
    proofs: &[ProofDone],
    now: DateTime<Utc>,
) -> DalResult<Vec<CompleteOutcome>> {
    let mut tx = begin_write(pool).await?;
    let rows = super::super::fetch_batched_completion(&mut tx, statement, proofs, now).await?;
    let mut outcomes: Vec<Option<CompleteOutcome>> = proofs.iter().map(|_| None).collect();
    for row in rows {
        let slot = row
            .position
            .and_then(|p| usize::try_from(p).ok())
            .and_then(|p| p.checked_sub(1))
            .filter(|&i| i < proofs.len())
            .ok_or_else(|| {
                DalError::corrupt(
                    "prover_jobs",
                    format!("batched completion answered position {:?}", row.position),
                )
            })?;
        let job = JobRef::Prover(proofs[slot].id);
        // Rolls back every completion of the batch (the transaction is dropped).
        outcomes[slot] = Some(server_outcome(job, row)?);
    }
    let outcomes = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.ok_or_else(|| {
                DalError::corrupt(
                    "prover_jobs",
                    format!("batched completion answered nothing for {}", proofs[i].id),
                )
            })
        })
        .collect::<DalResult<Vec<_>>>()?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Where the dependent a completed proof may queue sits in the global lock order: (table,
/// chain, batch, circuit, depth), tables in round order (leaf, node, recursion tip, scheduler,
/// compression).
fn dependent_lock_order(job: &CompletedProverJobRow) -> (u8, i64, i64, i64, i64) {
    let (chain, batch) = (job.meta.chain_id, job.meta.batch_number);
    match job.aggregation_round {
        0 => (0, chain, batch, job.circuit_id, 0),
        1 => (1, chain, batch, job.circuit_id, 0),
        2 if job.is_node_final_proof => (2, chain, batch, 0, 0),
        2 => (1, chain, batch, job.circuit_id, job.depth + 1),
        3 => (3, chain, batch, 0, 0),
        _ => (4, chain, batch, 0, 0),
    }
}

/// What a just-completed proof may have made ready. Each dependent row is locked (PostgreSQL)
/// or the whole database is (SQLite) before its finished dependencies are counted, so of two
/// transactions completing its last two dependencies exactly one sees the full count.
async fn queue_dependents_of_proof(
    tx: &mut Tx,
    job: &CompletedProverJobRow,
    now: DateTime<Utc>,
) -> DalResult<Vec<QueuedDependent>> {
    let (chain, batch) = (job.meta.chain_id, job.meta.batch_number);
    let mut queued = Vec::new();
    match round_col("prover_jobs", job.aggregation_round)? {
        AggregationRound::Basic => {
            let dependent: Option<DependentRow> = sqlx::query_as(sql::LOCK_LEAF_DEPENDENT)
                .bind(chain)
                .bind(batch)
                .bind(job.circuit_id)
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(id) =
                ready(tx, dependent, chain, batch, Some((0, job.circuit_id, 0))).await?
            {
                if queue_by_id(tx, sql::QUEUE_LEAF_JOB, id, now).await? {
                    queued.push(QueuedDependent::LeafWitness(LeafJobId(id)));
                }
            }
        }
        AggregationRound::Leaf => {
            let dependent: Option<DependentRow> = sqlx::query_as(sql::LOCK_NODE_DEPENDENT)
                .bind(chain)
                .bind(batch)
                .bind(job.circuit_id)
                .bind(0_i64)
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(id) =
                ready(tx, dependent, chain, batch, Some((1, job.circuit_id, 0))).await?
            {
                if queue_by_id(tx, sql::QUEUE_NODE_JOB, id, now).await? {
                    queued.push(QueuedDependent::NodeWitness(NodeJobId(id)));
                }
            }
        }
        AggregationRound::Node if job.is_node_final_proof => {
            let dependent: Option<DependentRow> = sqlx::query_as(sql::LOCK_RECURSION_TIP_DEPENDENT)
                .bind(chain)
                .bind(batch)
                .fetch_optional(&mut **tx)
                .await?;
            if ready(tx, dependent, chain, batch, None).await?.is_some()
                && queue_by_batch(tx, sql::QUEUE_RECURSION_TIP_JOB, chain, batch, now).await?
            {
                queued.push(QueuedDependent::RecursionTipWitness(batch_col(
                    "prover_jobs",
                    chain,
                    batch,
                )?));
            }
        }
        AggregationRound::Node => {
            // A node proof of depth d is aggregated by the node job of depth d + 1.
            let dependent: Option<DependentRow> = sqlx::query_as(sql::LOCK_NODE_DEPENDENT)
                .bind(chain)
                .bind(batch)
                .bind(job.circuit_id)
                .bind(job.depth + 1)
                .fetch_optional(&mut **tx)
                .await?;
            let proofs = Some((2, job.circuit_id, job.depth));
            if let Some(id) = ready(tx, dependent, chain, batch, proofs).await? {
                if queue_by_id(tx, sql::QUEUE_NODE_JOB, id, now).await? {
                    queued.push(QueuedDependent::NodeWitness(NodeJobId(id)));
                }
            }
        }
        AggregationRound::RecursionTip => {
            let dependent: Option<DependentRow> = sqlx::query_as(sql::LOCK_SCHEDULER_DEPENDENT)
                .bind(chain)
                .bind(batch)
                .fetch_optional(&mut **tx)
                .await?;
            let waiting =
                dependent.is_some_and(|d| d.status == JobStatus::WaitingForProofs.as_str());
            if waiting && queue_by_batch(tx, sql::QUEUE_SCHEDULER_JOB, chain, batch, now).await? {
                queued.push(QueuedDependent::SchedulerWitness(batch_col(
                    "prover_jobs",
                    chain,
                    batch,
                )?));
            }
        }
        AggregationRound::Scheduler => {
            let proof_blob_key = job.proof_blob_key.as_deref().unwrap_or_default();
            let inserted = sqlx::query(sql::INSERT_COMPRESSION_JOB)
                .bind(chain)
                .bind(batch)
                .bind(proof_blob_key)
                .bind(job.meta.protocol_version)
                .bind(job.meta.protocol_version_patch)
                .bind(job.meta.priority)
                .bind(job.meta.batch_sealed_at)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if inserted == 1 {
                queued.push(QueuedDependent::Compression(batch_col(
                    "prover_jobs",
                    chain,
                    batch,
                )?));
            }
        }
    }
    Ok(queued)
}

/// Whether a locked dependent is waiting and all the proofs it expects are successful.
/// `proofs` = (round, circuit, depth) of the proofs it waits for; `None` = the batch's final
/// node proofs. Returns the dependent's id (0 for tables keyed by batch).
async fn ready(
    tx: &mut Tx,
    dependent: Option<DependentRow>,
    chain: i64,
    batch: i64,
    proofs: Option<(i64, i64, i64)>,
) -> DalResult<Option<i64>> {
    let Some(dependent) = dependent else {
        return Ok(None);
    };
    if dependent.status != JobStatus::WaitingForProofs.as_str() {
        return Ok(None);
    }
    // A node job whose count is not filled in yet (NULL) waits for its leaf witness generation.
    let Some(expected) = dependent.expected else {
        return Ok(None);
    };
    let done: i64 = match proofs {
        Some((round, circuit, depth)) => {
            let unfinished: bool = sqlx::query_scalar(sql::UNFINISHED_SIBLING_EXISTS)
                .bind(chain)
                .bind(batch)
                .bind(round)
                .bind(circuit)
                .bind(depth)
                .fetch_one(&mut **tx)
                .await?;
            if unfinished {
                return Ok(None);
            }
            sqlx::query_scalar(sql::COUNT_SUCCESSFUL_PROOFS)
                .bind(chain)
                .bind(batch)
                .bind(round)
                .bind(circuit)
                .bind(depth)
                .fetch_one(&mut **tx)
                .await?
        }
        None => {
            sqlx::query_scalar(sql::COUNT_SUCCESSFUL_FINAL_NODE_PROOFS)
                .bind(chain)
                .bind(batch)
                .fetch_one(&mut **tx)
                .await?
        }
    };
    Ok((done >= expected).then_some(dependent.id.unwrap_or(0)))
}

async fn queue_by_id(tx: &mut Tx, statement: &str, id: i64, now: DateTime<Utc>) -> DalResult<bool> {
    let n = sqlx::query(statement)
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

async fn queue_by_batch(
    tx: &mut Tx,
    statement: &str,
    chain: i64,
    batch: i64,
    now: DateTime<Utc>,
) -> DalResult<bool> {
    let n = sqlx::query(statement)
        .bind(chain)
        .bind(batch)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub(crate) async fn complete_compression_job(
    pool: &Pool,
    batch: L1BatchId,
    final_proof_blob_key: &str,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    if final_proof_blob_key.is_empty() {
        return Err(DalError::InvalidInput(format!(
            "compression job of {batch}: empty final proof blob key"
        )));
    }
    let (chain, number) = db_batch(batch)?;
    let mut tx = begin_write(pool).await?;
    let n = sqlx::query(sql::COMPLETE_COMPRESSION_JOB)
        .bind(chain)
        .bind(number)
        .bind(final_proof_blob_key)
        .bind(db_millis(time_taken))
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        let status = unchanged_status(tx, JobRef::Compression(batch)).await?;
        return Ok(CompleteOutcome::NotInProgress { status });
    }
    tx.commit().await?;
    Ok(CompleteOutcome::Completed { queued: Vec::new() })
}

/// `successful` → `sent_to_server`: the final proof was handed to the client.
pub(crate) async fn mark_compression_job_sent(
    pool: &Pool,
    batch: L1BatchId,
) -> DalResult<TransitionOutcome> {
    let (chain, number) = db_batch(batch)?;
    let mut tx = begin_write(pool).await?;
    let n = sqlx::query(sql::MARK_COMPRESSION_SENT)
        .bind(chain)
        .bind(number)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        let status = unchanged_status(tx, JobRef::Compression(batch)).await?;
        return Ok(TransitionOutcome::Unchanged { status });
    }
    tx.commit().await?;
    Ok(TransitionOutcome::Applied)
}

/// `in_progress` → `failed` with the error text; any other status is left alone (a successful
/// job is never overwritten, a requeued one stays queued).
pub(crate) async fn fail_job(
    pool: &Pool,
    job: JobRef,
    error: &str,
) -> DalResult<TransitionOutcome> {
    fail_job_with(pool, job, error, sql::fail_job(job.table())).await
}

pub(crate) async fn fail_job_permanently(
    pool: &Pool,
    job: JobRef,
    error: &str,
) -> DalResult<TransitionOutcome> {
    fail_job_with(pool, job, error, sql::fail_job_permanently(job.table())).await
}

async fn fail_job_with(
    pool: &Pool,
    job: JobRef,
    error: &str,
    statement: String,
) -> DalResult<TransitionOutcome> {
    let key = Key::of(job)?;
    let mut tx = begin_write(pool).await?;
    let n = bind_key!(sqlx::query(&statement), key)
        .bind(error)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        let status = unchanged_status(tx, job).await?;
        return Ok(TransitionOutcome::Unchanged { status });
    }
    tx.commit().await?;
    Ok(TransitionOutcome::Applied)
}
