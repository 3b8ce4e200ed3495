//! Read-only views of the fleet at one moment, for the job monitor's status page: the batches
//! in flight and their progress per round, the jobs in progress (who works on what) and the
//! jobs whose last attempt failed.
//!
//! Each view is bounded (a limit, or an aggregate per batch), so a status page refreshed every
//! few seconds costs a few small queries, not a read of every job row.

use super::{sql, Pool};
use crate::error::DalResult;
use crate::model::{BatchJobCount, JobSummary, JobTable};
use crate::rows::{batch_col, round_col, status_col, SummaryRow};

/// The witness inputs of the batches whose final proof is not done, oldest sealed first.
pub(crate) async fn unfinished_batches(pool: &Pool, limit: u32) -> DalResult<Vec<JobSummary>> {
    let table = JobTable::WitnessInputs;
    let rows: Vec<SummaryRow> = sqlx::query_as(&sql::unfinished_batches())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(|r| r.into_summary(table)).collect()
}

/// Jobs per (batch, table, round, status) of every batch whose final proof is not done.
pub(crate) async fn unfinished_batch_job_counts(pool: &Pool) -> DalResult<Vec<BatchJobCount>> {
    let mut counts = Vec::new();
    for table in JobTable::ALL {
        let t = table.table_name();
        let rows: Vec<(i64, i64, Option<i64>, String, i64)> =
            sqlx::query_as(&sql::unfinished_batch_job_counts(table))
                .fetch_all(pool)
                .await?;
        for (chain, number, round, status, count) in rows {
            counts.push(BatchJobCount {
                batch: batch_col(t, chain, number)?,
                table,
                aggregation_round: match round {
                    Some(round) => Some(round_col(t, round)?),
                    None => table.witness_round(),
                },
                status: status_col(t, &status)?,
                count: u64::try_from(count).unwrap_or(0),
            });
        }
    }
    Ok(counts)
}

/// Up to `limit` jobs in progress over every table, longest running first.
pub(crate) async fn jobs_in_progress(pool: &Pool, limit: u32) -> DalResult<Vec<JobSummary>> {
    let mut jobs = per_table(pool, sql::jobs_in_progress, limit).await?;
    // `processing_started_at` is set by every pick; a row edited by hand without it sorts last.
    jobs.sort_by_key(|j| (j.processing_started_at.is_none(), j.processing_started_at));
    jobs.truncate(limit as usize);
    Ok(jobs)
}

/// Up to `limit` jobs whose last attempt failed (error recorded, not done) over every table,
/// most recently changed first.
pub(crate) async fn recent_failures(pool: &Pool, limit: u32) -> DalResult<Vec<JobSummary>> {
    let mut jobs = per_table(pool, sql::recent_failures, limit).await?;
    jobs.sort_by_key(|j| std::cmp::Reverse(j.updated_at));
    jobs.truncate(limit as usize);
    Ok(jobs)
}

/// Runs `statement(table)` (one `$1 = limit` parameter) on every table and collects the rows.
async fn per_table(
    pool: &Pool,
    statement: fn(JobTable) -> String,
    limit: u32,
) -> DalResult<Vec<JobSummary>> {
    let mut jobs = Vec::new();
    for table in JobTable::ALL {
        let rows: Vec<SummaryRow> = sqlx::query_as(&statement(table))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
        for row in rows {
            jobs.push(row.into_summary(table)?);
        }
    }
    Ok(jobs)
}
