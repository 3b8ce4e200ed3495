//! Completion of witness generation jobs: each marks its job successful and inserts what it
//! produced (prover jobs, the next round's witness jobs with their dependency counters) in one
//! transaction, so a batch is never half-inserted.

use std::time::Duration;

use chrono::{DateTime, Utc};
use zkfleet_types::ids::{LeafJobId, NodeJobId};
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use super::{begin_write, sql, unchanged_status, Db, Pool, Tx};
use crate::error::{DalError, DalResult};
use crate::model::{
    BasicWitnessOutput, CompleteOutcome, JobRef, LeafWitnessOutput, NodeWitnessOutput,
};
use crate::rows::{db_batch, db_millis, MetaRow};
use crate::validate;

/// One prover job row to insert (the batch columns come from the completed witness job).
struct NewProverJobRow {
    round: AggregationRound,
    circuit_id: CircuitId,
    depth: i64,
    sequence_number: u32,
    circuit_blob_key: String,
    is_node_final_proof: bool,
}

/// Inserts prover jobs `queued`, in multi-row statements sized to the backend's bind-parameter
/// limit (a batch has tens of thousands of basic circuits). Idempotent.
async fn insert_prover_jobs(
    tx: &mut Tx,
    meta: &MetaRow,
    jobs: &[NewProverJobRow],
    now: DateTime<Utc>,
) -> DalResult<u64> {
    let rows_per_statement = sql::MAX_BIND_PARAMS / sql::PROVER_JOB_INSERT_PARAMS;
    let mut inserted = 0;
    for chunk in jobs.chunks(rows_per_statement) {
        let mut builder = sqlx::QueryBuilder::<Db>::new(sql::INSERT_PROVER_JOBS_HEAD);
        builder.push_values(chunk, |mut row, job| {
            row.push_bind(meta.chain_id)
                .push_bind(meta.batch_number)
                .push_bind(i64::from(job.round.as_u8()))
                .push_bind(i64::from(job.circuit_id.0))
                .push_bind(job.depth)
                .push_bind(i64::from(job.sequence_number))
                .push_bind(job.circuit_blob_key.clone())
                .push_bind(job.is_node_final_proof)
                .push_bind(meta.protocol_version)
                .push_bind(meta.protocol_version_patch)
                .push_bind("queued")
                .push_bind(meta.priority)
                .push_bind(meta.batch_sealed_at)
                .push_bind(now)
                .push_bind(now);
        });
        builder.push(sql::INSERT_PROVER_JOBS_TAIL);
        inserted += builder.build().execute(&mut **tx).await?.rows_affected();
    }
    Ok(inserted)
}

/// Inserts a node job waiting for `dependents` proofs (`None`: count not known yet), or fills
/// in the count and input of a waiting one.
async fn upsert_node_job(
    tx: &mut Tx,
    meta: &MetaRow,
    circuit_id: i64,
    depth: i64,
    aggregations_blob_key: Option<&str>,
    dependents: Option<i64>,
    now: DateTime<Utc>,
) -> DalResult<()> {
    sqlx::query(sql::UPSERT_NODE_WITNESS_JOB)
        .bind(meta.chain_id)
        .bind(meta.batch_number)
        .bind(circuit_id)
        .bind(depth)
        .bind(aggregations_blob_key)
        .bind(dependents)
        .bind(meta.protocol_version)
        .bind(meta.protocol_version_patch)
        .bind(meta.priority)
        .bind(meta.batch_sealed_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Basic witness generation of a batch is done: insert its round-0 prover jobs (queued), its
/// leaf jobs (waiting for their basic proofs), a node job of depth 0 per type (count unknown
/// until the leaf generation), the recursion tip job (waiting for one final node proof per
/// type) and the scheduler job, and mark the witness input successful.
pub(crate) async fn complete_basic_witness_job(
    pool: &Pool,
    batch: L1BatchId,
    output: &BasicWitnessOutput,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    validate::basic_witness_output(&format!("basic witness output of {batch}"), output)?;
    let (chain, number) = db_batch(batch)?;
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let meta: Option<MetaRow> = sqlx::query_as(sql::COMPLETE_BASIC_WITNESS_JOB)
        .bind(chain)
        .bind(number)
        .bind(db_millis(time_taken))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(meta) = meta else {
        let status = unchanged_status(tx, JobRef::WitnessInput(batch)).await?;
        return Ok(CompleteOutcome::NotInProgress { status });
    };
    let jobs: Vec<NewProverJobRow> = output
        .prover_jobs
        .iter()
        .map(|job| NewProverJobRow {
            round: AggregationRound::Basic,
            circuit_id: job.circuit_id,
            depth: 0,
            sequence_number: job.sequence_number,
            circuit_blob_key: job.circuit_blob_key.clone(),
            is_node_final_proof: false,
        })
        .collect();
    insert_prover_jobs(&mut tx, &meta, &jobs, now).await?;
    for leaf in &output.leaf_jobs {
        sqlx::query(sql::INSERT_LEAF_WITNESS_JOB)
            .bind(chain)
            .bind(number)
            .bind(i64::from(leaf.circuit_id.0))
            .bind(i64::from(leaf.number_of_basic_circuits))
            .bind(&leaf.closed_form_inputs_blob_key)
            .bind(meta.protocol_version)
            .bind(meta.protocol_version_patch)
            .bind(meta.priority)
            .bind(meta.batch_sealed_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        upsert_node_job(
            &mut tx,
            &meta,
            i64::from(leaf.circuit_id.0),
            0,
            None,
            None,
            now,
        )
        .await?;
    }
    let types_present = i64::try_from(output.leaf_jobs.len()).unwrap_or(i64::MAX);
    sqlx::query(sql::INSERT_RECURSION_TIP_WITNESS_JOB)
        .bind(chain)
        .bind(number)
        .bind(types_present)
        .bind(meta.protocol_version)
        .bind(meta.protocol_version_patch)
        .bind(meta.priority)
        .bind(meta.batch_sealed_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(sql::INSERT_SCHEDULER_WITNESS_JOB)
        .bind(chain)
        .bind(number)
        .bind(&output.scheduler_partial_input_blob_key)
        .bind(meta.protocol_version)
        .bind(meta.protocol_version_patch)
        .bind(meta.priority)
        .bind(meta.batch_sealed_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(CompleteOutcome::Completed { queued: Vec::new() })
}

/// Leaf witness generation of one (batch, type) is done: insert the round-1 prover jobs and
/// tell the node job of depth 0 how many proofs it waits for.
pub(crate) async fn complete_leaf_witness_job(
    pool: &Pool,
    id: LeafJobId,
    output: &LeafWitnessOutput,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    validate::aggregation_prover_jobs(
        &format!("leaf witness output of job {id}"),
        &output.prover_jobs,
    )?;
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let completed: Option<CompletedLeafRow> = sqlx::query_as(sql::COMPLETE_LEAF_WITNESS_JOB)
        .bind(id.0)
        .bind(db_millis(time_taken))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(completed) = completed else {
        let status = unchanged_status(tx, JobRef::LeafWitness(id)).await?;
        return Ok(CompleteOutcome::NotInProgress { status });
    };
    let circuit_id = circuit(completed.circuit_id)?;
    let jobs: Vec<NewProverJobRow> = output
        .prover_jobs
        .iter()
        .map(|job| NewProverJobRow {
            round: AggregationRound::Leaf,
            circuit_id,
            depth: 0,
            sequence_number: job.sequence_number,
            circuit_blob_key: job.circuit_blob_key.clone(),
            is_node_final_proof: false,
        })
        .collect();
    insert_prover_jobs(&mut tx, &completed.meta, &jobs, now).await?;
    let count = i64::try_from(jobs.len()).unwrap_or(i64::MAX);
    upsert_node_job(
        &mut tx,
        &completed.meta,
        completed.circuit_id,
        0,
        output.node_aggregations_blob_key.as_deref(),
        Some(count),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(CompleteOutcome::Completed { queued: Vec::new() })
}

/// Node witness generation at depth d is done: insert its round-2 prover jobs at depth d. One
/// job is the type's final node proof; more need node job d + 1 to aggregate them.
pub(crate) async fn complete_node_witness_job(
    pool: &Pool,
    id: NodeJobId,
    output: &NodeWitnessOutput,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    validate::aggregation_prover_jobs(
        &format!("node witness output of job {id}"),
        &output.prover_jobs,
    )?;
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let completed: Option<CompletedNodeRow> = sqlx::query_as(sql::COMPLETE_NODE_WITNESS_JOB)
        .bind(id.0)
        .bind(db_millis(time_taken))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(completed) = completed else {
        let status = unchanged_status(tx, JobRef::NodeWitness(id)).await?;
        return Ok(CompleteOutcome::NotInProgress { status });
    };
    let circuit_id = circuit(completed.circuit_id)?;
    let is_final = output.prover_jobs.len() == 1;
    let jobs: Vec<NewProverJobRow> = output
        .prover_jobs
        .iter()
        .map(|job| NewProverJobRow {
            round: AggregationRound::Node,
            circuit_id,
            depth: completed.depth,
            sequence_number: job.sequence_number,
            circuit_blob_key: job.circuit_blob_key.clone(),
            is_node_final_proof: is_final,
        })
        .collect();
    insert_prover_jobs(&mut tx, &completed.meta, &jobs, now).await?;
    if !is_final {
        let count = i64::try_from(jobs.len()).unwrap_or(i64::MAX);
        upsert_node_job(
            &mut tx,
            &completed.meta,
            completed.circuit_id,
            completed.depth + 1,
            output.next_aggregations_blob_key.as_deref(),
            Some(count),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(CompleteOutcome::Completed { queued: Vec::new() })
}

/// Recursion tip witness generation is done: insert the round-3 prover job.
pub(crate) async fn complete_recursion_tip_witness_job(
    pool: &Pool,
    batch: L1BatchId,
    circuit_blob_key: &str,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    complete_batch_witness_job(
        pool,
        JobRef::RecursionTipWitness(batch),
        sql::COMPLETE_RECURSION_TIP_WITNESS_JOB,
        AggregationRound::RecursionTip,
        CircuitId::RECURSION_TIP,
        circuit_blob_key,
        time_taken,
    )
    .await
}

/// Scheduler witness generation is done: insert the round-4 prover job.
pub(crate) async fn complete_scheduler_witness_job(
    pool: &Pool,
    batch: L1BatchId,
    circuit_blob_key: &str,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    complete_batch_witness_job(
        pool,
        JobRef::SchedulerWitness(batch),
        sql::COMPLETE_SCHEDULER_WITNESS_JOB,
        AggregationRound::Scheduler,
        CircuitId::SCHEDULER,
        circuit_blob_key,
        time_taken,
    )
    .await
}

/// The recursion tip and scheduler rounds: one witness job and one prover job per batch.
async fn complete_batch_witness_job(
    pool: &Pool,
    job: JobRef,
    statement: &'static str,
    round: AggregationRound,
    circuit_id: CircuitId,
    circuit_blob_key: &str,
    time_taken: Duration,
) -> DalResult<CompleteOutcome> {
    let (JobRef::RecursionTipWitness(batch) | JobRef::SchedulerWitness(batch)) = job else {
        return Err(DalError::InvalidInput(format!(
            "{job} is not a per-batch witness job"
        )));
    };
    if circuit_blob_key.is_empty() {
        return Err(DalError::InvalidInput(format!(
            "{job}: empty circuit blob key"
        )));
    }
    let (chain, number) = db_batch(batch)?;
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let meta: Option<MetaRow> = sqlx::query_as(statement)
        .bind(chain)
        .bind(number)
        .bind(db_millis(time_taken))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(meta) = meta else {
        let status = unchanged_status(tx, job).await?;
        return Ok(CompleteOutcome::NotInProgress { status });
    };
    let jobs = [NewProverJobRow {
        round,
        circuit_id,
        depth: 0,
        sequence_number: 0,
        circuit_blob_key: circuit_blob_key.to_owned(),
        is_node_final_proof: false,
    }];
    insert_prover_jobs(&mut tx, &meta, &jobs, now).await?;
    tx.commit().await?;
    Ok(CompleteOutcome::Completed { queued: Vec::new() })
}

fn circuit(value: i64) -> DalResult<CircuitId> {
    crate::rows::circuit_col("prover_jobs", value)
}

#[derive(Debug, sqlx::FromRow)]
struct CompletedLeafRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    circuit_id: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct CompletedNodeRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    circuit_id: i64,
    depth: i64,
}
