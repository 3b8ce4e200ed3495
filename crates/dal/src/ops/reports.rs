//! Read-only reports: status counts for metrics and the queue report, per-batch status for the
//! CLI, lag and proving-time figures.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use zkfleet_types::{AggregationRound, JobStatus, L1BatchId, ProtocolSemanticVersion};

use super::{bind_key, sql, Key, Pool};
use crate::error::DalResult;
use crate::model::{
    BatchProvingTime, BatchStatus, JobRef, JobSummary, JobTable, OldestUnproven, QueueReport,
    QueueTables, RoundStatus, StatusCount,
};
use crate::rows::{batch_col, circuit_col, db_batch, round_col, CountRow, SummaryRow};

/// Jobs per (table, protocol version, round, circuit, status).
pub(crate) async fn status_counts(pool: &Pool) -> DalResult<Vec<StatusCount>> {
    let mut counts = Vec::new();
    for table in JobTable::ALL {
        let rows: Vec<CountRow> = sqlx::query_as(&sql::status_counts(table))
            .fetch_all(pool)
            .await?;
        for row in rows {
            counts.push(row.into_count(table)?);
        }
    }
    Ok(counts)
}

/// Queued and in-progress jobs of every table, per protocol version.
pub(crate) async fn queue_report(pool: &Pool) -> DalResult<Vec<QueueReport>> {
    let mut per_version: BTreeMap<ProtocolSemanticVersion, QueueTables> = BTreeMap::new();
    for count in status_counts(pool).await? {
        let entry = per_version
            .entry(count.protocol_version)
            .or_default()
            .table_mut(count.table);
        match count.status {
            JobStatus::Queued => entry.queued += count.count,
            JobStatus::InProgress => entry.in_progress += count.count,
            _ => {}
        }
    }
    Ok(per_version
        .into_iter()
        .map(|(version, report)| QueueReport { version, report })
        .collect())
}

pub(crate) async fn oldest_unproven_batches(pool: &Pool) -> DalResult<Vec<OldestUnproven>> {
    const T: &str = "prover_jobs";
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(sql::OLDEST_UNPROVEN_BATCHES)
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|(round, circuit, chain, batch)| {
            Ok(OldestUnproven {
                aggregation_round: round_col(T, round)?,
                circuit_id: circuit_col(T, circuit)?,
                batch: batch_col(T, chain, batch)?,
            })
        })
        .collect()
}

pub(crate) async fn oldest_uncompressed_batch(pool: &Pool) -> DalResult<Option<L1BatchId>> {
    let row: Option<(i64, i64)> = sqlx::query_as(sql::OLDEST_UNCOMPRESSED_BATCH)
        .fetch_optional(pool)
        .await?;
    row.map(|(chain, batch)| batch_col("witness_inputs", chain, batch))
        .transpose()
}

pub(crate) async fn job(pool: &Pool, job: JobRef) -> DalResult<Option<JobSummary>> {
    let table = job.table();
    let key = Key::of(job)?;
    let statement = sql::job_summary(table);
    let row: Option<SummaryRow> = bind_key!(sqlx::query_as(&statement), key)
        .fetch_optional(pool)
        .await?;
    row.map(|r| r.into_summary(table)).transpose()
}

/// Every row of the batch in `table`, in its natural order.
async fn batch_rows(pool: &Pool, table: JobTable, batch: L1BatchId) -> DalResult<Vec<JobSummary>> {
    let (chain, number) = db_batch(batch)?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&sql::batch_summaries(table))
        .bind(chain)
        .bind(number)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(|r| r.into_summary(table)).collect()
}

pub(crate) async fn batch_status(pool: &Pool, batch: L1BatchId) -> DalResult<BatchStatus> {
    let (chain, number) = db_batch(batch)?;
    let witness_input = batch_rows(pool, JobTable::WitnessInputs, batch)
        .await?
        .pop();
    let compression = batch_rows(pool, JobTable::CompressionJobs, batch)
        .await?
        .pop();
    let prover_jobs = batch_rows(pool, JobTable::ProverJobs, batch).await?;
    let mut rounds = Vec::new();
    for round in AggregationRound::ALL {
        let witness_jobs = match round {
            // The basic round's witness job is the witness input, reported on its own.
            AggregationRound::Basic => Vec::new(),
            _ => batch_rows(pool, JobTable::witness_table(round), batch).await?,
        };
        rounds.push(RoundStatus {
            round,
            witness_jobs,
            prover_jobs: prover_jobs
                .iter()
                .filter(|j| j.aggregation_round == Some(round))
                .cloned()
                .collect(),
        });
    }
    let archived: i64 = sqlx::query_scalar(sql::COUNT_ARCHIVED_OF_BATCH)
        .bind(chain)
        .bind(number)
        .fetch_one(pool)
        .await?;
    Ok(BatchStatus {
        batch,
        witness_input,
        rounds,
        compression,
        archived_prover_jobs: u64::try_from(archived).unwrap_or(0),
    })
}

/// Compression jobs in a status (e.g. the successful ones the gateway has to deliver), oldest
/// batch first.
pub(crate) async fn compression_jobs_with_status(
    pool: &Pool,
    status: JobStatus,
) -> DalResult<Vec<JobSummary>> {
    let table = JobTable::CompressionJobs;
    let rows: Vec<SummaryRow> = sqlx::query_as(&sql::summaries_with_status(table))
        .bind(status.as_str())
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(|r| r.into_summary(table)).collect()
}

pub(crate) async fn batch_proving_times(
    pool: &Pool,
    since: DateTime<Utc>,
) -> DalResult<Vec<BatchProvingTime>> {
    let rows: Vec<(i64, i64, DateTime<Utc>, DateTime<Utc>)> =
        sqlx::query_as(sql::BATCH_PROVING_TIMES)
            .bind(since)
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(chain, batch, inserted_at, finished_at)| {
            Ok(BatchProvingTime {
                batch: batch_col("witness_inputs", chain, batch)?,
                inserted_at,
                finished_at,
                duration: (finished_at - inserted_at).to_std().unwrap_or_default(),
            })
        })
        .collect()
}
