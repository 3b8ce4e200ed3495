//! Operator commands on batches and jobs: requeue, restart, delete, reprioritise.

use chrono::Utc;
use zkfleet_types::L1BatchId;

use super::{begin_write, bind_key, sql, unchanged_status, Key, Pool};
use crate::error::{DalError, DalResult};
use crate::model::{
    BatchRowCounts, JobRef, JobTable, TransitionOutcome, ATTEMPTS_AFTER_OPERATOR_REQUEUE,
};
use crate::rows::db_batch;

/// The batch's `attempts_exhausted` and `failed` jobs, every table, back to `queued` with
/// their attempts reset to [`ATTEMPTS_AFTER_OPERATOR_REQUEUE`].
pub(crate) async fn requeue_batch(pool: &Pool, batch: L1BatchId) -> DalResult<BatchRowCounts> {
    let (chain, number) = db_batch(batch)?;
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let mut counts = Vec::new();
    for table in JobTable::ALL {
        let n = sqlx::query(&sql::requeue_batch(table))
            .bind(chain)
            .bind(number)
            .bind(now)
            .bind(i64::from(ATTEMPTS_AFTER_OPERATOR_REQUEUE))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        counts.push((table, n));
    }
    tx.commit().await?;
    Ok(BatchRowCounts(counts))
}

/// Start the batch over: delete everything downstream of its witness input (witness jobs of
/// rounds 1–4, prover jobs, compression job) and queue the witness input with fresh attempts.
/// Archived prover jobs are left in the archive. Returns the rows deleted per table.
pub(crate) async fn restart_batch(pool: &Pool, batch: L1BatchId) -> DalResult<BatchRowCounts> {
    let (chain, number) = db_batch(batch)?;
    let mut tx = begin_write(pool).await?;
    let reset = sqlx::query(sql::RESTART_WITNESS_INPUT)
        .bind(chain)
        .bind(number)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if reset == 0 {
        tx.rollback().await?;
        return Err(DalError::NotFound(format!("{batch}")));
    }
    let mut counts = Vec::new();
    for table in JobTable::ALL {
        if table == JobTable::WitnessInputs {
            continue;
        }
        let n = sqlx::query(&sql::delete_batch_rows(table))
            .bind(chain)
            .bind(number)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        counts.push((table, n));
    }
    tx.commit().await?;
    Ok(BatchRowCounts(counts))
}

/// One job back to `queued` with fresh attempts. A job still waiting for its dependencies is
/// left as it is (`Unchanged`).
pub(crate) async fn restart_job(pool: &Pool, job: JobRef) -> DalResult<TransitionOutcome> {
    let key = Key::of(job)?;
    let statement = sql::restart_job(job.table());
    let mut tx = begin_write(pool).await?;
    let n = bind_key!(sqlx::query(&statement), key)
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

/// Every row of the batch, in every table and in the archive. Returns rows deleted per table
/// (the archive is counted under [`JobTable::ProverJobs`]).
pub(crate) async fn delete_batch(pool: &Pool, batch: L1BatchId) -> DalResult<BatchRowCounts> {
    let (chain, number) = db_batch(batch)?;
    let mut tx = begin_write(pool).await?;
    let mut counts = Vec::new();
    for table in JobTable::ALL {
        let n = sqlx::query(&sql::delete_batch_rows(table))
            .bind(chain)
            .bind(number)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        counts.push((table, n));
    }
    let archived = sqlx::query(sql::DELETE_ARCHIVE_OF_BATCH)
        .bind(chain)
        .bind(number)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    counts.push((JobTable::ProverJobs, archived));
    tx.commit().await?;
    Ok(BatchRowCounts(counts))
}

/// Sets the priority of every job of the batch, present and future rows inherit it from the
/// job that inserts them. Returns rows changed per table.
pub(crate) async fn set_batch_priority(
    pool: &Pool,
    batch: L1BatchId,
    priority: i32,
) -> DalResult<BatchRowCounts> {
    let (chain, number) = db_batch(batch)?;
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let mut counts = Vec::new();
    for table in JobTable::ALL {
        let n = sqlx::query(&sql::set_batch_priority(table))
            .bind(chain)
            .bind(number)
            .bind(i64::from(priority))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        counts.push((table, n));
    }
    tx.commit().await?;
    Ok(BatchRowCounts(counts))
}
