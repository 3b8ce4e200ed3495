//! Archiving finished batches' prover jobs, and forgetting old archive rows.

use std::time::Duration;

use chrono::Utc;
use zkfleet_types::ids::ProverJobId;

use super::{begin_write, sql, Pool};
use crate::error::DalResult;
use crate::model::{ArchivePolicy, ArchivedProverJob};
use crate::rows::{batch_col, cutoff};

#[derive(sqlx::FromRow)]
struct MovedRow {
    id: i64,
    chain_id: i64,
    batch_number: i64,
    circuit_blob_key: String,
    proof_blob_key: Option<String>,
}

/// Moves the prover jobs of batches whose compression job is done (per `policy`) and unchanged
/// for `policy.archive_after` to `prover_jobs_archive`, batch by batch in one transaction.
/// Returns the moved jobs with their object keys, for the store to collect.
pub(crate) async fn archive_prover_jobs(
    pool: &Pool,
    policy: ArchivePolicy,
) -> DalResult<Vec<ArchivedProverJob>> {
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let batches: Vec<(i64, i64)> = sqlx::query_as(sql::SELECT_BATCHES_TO_ARCHIVE)
        .bind(cutoff(now, policy.archive_after))
        .bind(policy.include_unsent)
        .fetch_all(&mut *tx)
        .await?;
    let mut moved = Vec::new();
    for (chain, number) in batches {
        sqlx::query(sql::COPY_BATCH_TO_ARCHIVE)
            .bind(chain)
            .bind(number)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let rows: Vec<MovedRow> = sqlx::query_as(sql::DELETE_ARCHIVED_BATCH)
            .bind(chain)
            .bind(number)
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            moved.push(ArchivedProverJob {
                id: ProverJobId(row.id),
                batch: batch_col("prover_jobs", row.chain_id, row.batch_number)?,
                circuit_blob_key: row.circuit_blob_key,
                proof_blob_key: row.proof_blob_key,
            });
        }
    }
    tx.commit().await?;
    moved.sort_by_key(|job| job.id);
    Ok(moved)
}

/// Deletes archive rows archived more than `older_than` ago; returns how many.
pub(crate) async fn delete_archived_prover_jobs(
    pool: &Pool,
    older_than: Duration,
) -> DalResult<u64> {
    let mut tx = begin_write(pool).await?;
    let n = sqlx::query(sql::DELETE_OLD_ARCHIVE_ROWS)
        .bind(cutoff(Utc::now(), older_than))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}
