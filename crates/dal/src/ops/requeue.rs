//! The monitor's safety nets: requeue jobs stuck in progress or failed, move those without
//! attempts left to the terminal `attempts_exhausted`, and count them.

use std::time::Duration;

use chrono::Utc;

use super::{begin_write, sql, Pool};
use crate::error::DalResult;
use crate::model::{JobSummary, JobTable, RequeueCounts, RetryBackoff};
use crate::rows::{cutoff, SummaryRow};

/// Jobs of `table` in progress for longer than `timeout`, or failed: back to `queued` while
/// attempts < `max_attempts`, to `attempts_exhausted` otherwise. One transaction, exhausted
/// first, so a job is moved by exactly one of the two statements.
pub(crate) async fn requeue_stuck_jobs(
    pool: &Pool,
    table: JobTable,
    timeout: Duration,
    max_attempts: u32,
    backoff: RetryBackoff,
) -> DalResult<RequeueCounts> {
    let now = Utc::now();
    let stuck_before = cutoff(now, timeout);
    // The failed-before cut-off of a job after 1, 2, 3, 4 and 5+ attempts.
    let failed_before: Vec<_> = (1..=5).map(|a| cutoff(now, backoff.delay(a))).collect();
    let mut tx = begin_write(pool).await?;
    let exhausted = sqlx::query(&sql::exhaust_stuck(table))
        .bind(now)
        .bind(stuck_before)
        .bind(i64::from(max_attempts))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let statement = sql::requeue_stuck(table);
    let mut requeue = sqlx::query(&statement)
        .bind(now)
        .bind(stuck_before)
        .bind(i64::from(max_attempts));
    for before in &failed_before {
        requeue = requeue.bind(*before);
    }
    let requeued = requeue.execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    if requeued + exhausted > 0 {
        tracing::info!(
            table = table.table_name(),
            requeued,
            exhausted,
            "requeued stuck jobs"
        );
    }
    Ok(RequeueCounts {
        requeued,
        exhausted,
    })
}

/// Jobs of `table` not done whose attempts reached `max_attempts` (a metric).
pub(crate) async fn count_jobs_at_max_attempts(
    pool: &Pool,
    table: JobTable,
    max_attempts: u32,
) -> DalResult<u64> {
    let n: i64 = sqlx::query_scalar(&sql::count_at_max_attempts(table))
        .bind(i64::from(max_attempts))
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Every job in the terminal `attempts_exhausted` state, table by table.
pub(crate) async fn exhausted_jobs(pool: &Pool) -> DalResult<Vec<JobSummary>> {
    let mut jobs = Vec::new();
    for table in JobTable::ALL {
        let rows: Vec<SummaryRow> = sqlx::query_as(&sql::summaries_with_status(table))
            .bind(zkfleet_types::JobStatus::AttemptsExhausted.as_str())
            .fetch_all(pool)
            .await?;
        for row in rows {
            jobs.push(row.into_summary(table)?);
        }
    }
    Ok(jobs)
}
