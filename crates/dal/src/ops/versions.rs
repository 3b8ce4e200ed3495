//! Protocol versions and batches: what the fleet may prove, and what it is asked to prove.

use chrono::Utc;
use zkfleet_types::{L1BatchId, ProtocolSemanticVersion, ProtocolVersion};

use super::{begin_write, sql, Pool};
use crate::error::{DalError, DalResult};
use crate::model::{InsertOutcome, NewBatch, SubmitOutcome, SubmittedBatch};
use crate::rows::{db_batch, status_col, version_col, ProtocolVersionRow};

pub(crate) async fn insert_protocol_version(
    pool: &Pool,
    version: &ProtocolVersion,
) -> DalResult<InsertOutcome> {
    let v = version.version;
    let mut tx = begin_write(pool).await?;
    let inserted = sqlx::query(sql::INSERT_PROTOCOL_VERSION)
        .bind(i64::from(v.minor))
        .bind(i64::from(v.patch))
        .bind(version.recursion_tree_vk_digest.to_string())
        .bind(version.final_vk_digest.to_string())
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if inserted == 1 {
        tx.commit().await?;
        return Ok(InsertOutcome::Inserted);
    }
    let stored: ProtocolVersionRow = sqlx::query_as(sql::SELECT_PROTOCOL_VERSION)
        .bind(i64::from(v.minor))
        .bind(i64::from(v.patch))
        .fetch_one(&mut *tx)
        .await?;
    tx.rollback().await?;
    let stored = stored.into_version()?;
    if stored == *version {
        Ok(InsertOutcome::AlreadyPresent)
    } else {
        Err(DalError::ProtocolVersionConflict(Box::new(
            crate::error::VersionConflict {
                stored,
                given: *version,
            },
        )))
    }
}

pub(crate) async fn protocol_version(
    pool: &Pool,
    version: ProtocolSemanticVersion,
) -> DalResult<Option<ProtocolVersion>> {
    let row: Option<ProtocolVersionRow> = sqlx::query_as(sql::SELECT_PROTOCOL_VERSION)
        .bind(i64::from(version.minor))
        .bind(i64::from(version.patch))
        .fetch_optional(pool)
        .await?;
    row.map(ProtocolVersionRow::into_version).transpose()
}

pub(crate) async fn protocol_versions(pool: &Pool) -> DalResult<Vec<ProtocolVersion>> {
    let rows: Vec<ProtocolVersionRow> = sqlx::query_as(sql::SELECT_PROTOCOL_VERSIONS)
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(ProtocolVersionRow::into_version)
        .collect()
}

pub(crate) async fn insert_batch(pool: &Pool, batch: &NewBatch) -> DalResult<InsertOutcome> {
    if batch.witness_input_blob_key.is_empty() {
        return Err(DalError::InvalidInput(format!(
            "{}: empty witness input blob key",
            batch.batch
        )));
    }
    let (chain, number) = db_batch(batch.batch)?;
    let v = batch.protocol_version;
    let mut tx = begin_write(pool).await?;
    // Checked first so that the caller gets "unknown protocol version", not a foreign key name.
    let known: Option<ProtocolVersionRow> = sqlx::query_as(sql::SELECT_PROTOCOL_VERSION)
        .bind(i64::from(v.minor))
        .bind(i64::from(v.patch))
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        tx.rollback().await?;
        return Err(DalError::UnknownProtocolVersion(v));
    }
    let inserted = sqlx::query(sql::INSERT_WITNESS_INPUT)
        .bind(chain)
        .bind(number)
        .bind(&batch.witness_input_blob_key)
        .bind(i64::from(v.minor))
        .bind(i64::from(v.patch))
        .bind(i64::from(batch.priority))
        .bind(batch.batch_sealed_at)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(if inserted == 1 {
        InsertOutcome::Inserted
    } else {
        InsertOutcome::AlreadyPresent
    })
}

/// See [`crate::Dal::submit_batch`]. One write transaction: the version check, the insert
/// (`ON CONFLICT DO NOTHING`) and, when the batch was there, the read of the row that won.
/// On PostgreSQL a concurrent insert of the same key makes ours wait until it commits, then
/// do nothing; the following read (a new snapshot under read committed) sees the winner.
/// SQLite has one writer, so the transaction runs alone.
pub(crate) async fn submit_batch(
    pool: &Pool,
    batch: &NewBatch,
    witness_input_digest: &str,
) -> DalResult<SubmitOutcome> {
    if batch.witness_input_blob_key.is_empty() || witness_input_digest.is_empty() {
        return Err(DalError::InvalidInput(format!(
            "{}: empty witness input blob key or digest",
            batch.batch
        )));
    }
    let (chain, number) = db_batch(batch.batch)?;
    let v = batch.protocol_version;
    let mut tx = begin_write(pool).await?;
    let known: Option<ProtocolVersionRow> = sqlx::query_as(sql::SELECT_PROTOCOL_VERSION)
        .bind(i64::from(v.minor))
        .bind(i64::from(v.patch))
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        tx.rollback().await?;
        return Err(DalError::UnknownProtocolVersion(v));
    }
    let inserted = sqlx::query(sql::INSERT_SUBMITTED_WITNESS_INPUT)
        .bind(chain)
        .bind(number)
        .bind(&batch.witness_input_blob_key)
        .bind(i64::from(v.minor))
        .bind(i64::from(v.patch))
        .bind(i64::from(batch.priority))
        .bind(batch.batch_sealed_at)
        .bind(Utc::now())
        .bind(witness_input_digest)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if inserted == 1 {
        tx.commit().await?;
        return Ok(SubmitOutcome::Inserted);
    }
    let row: Option<SubmittedRow> = sqlx::query_as(sql::SELECT_SUBMITTED_BATCH)
        .bind(chain)
        .bind(number)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    // The insert found a row and the read found none: it was deleted in between (an operator's
    // `zkfleet delete`). Rare and harmless to report; the client submits again.
    let row = row.ok_or_else(|| {
        DalError::InvalidInput(format!(
            "{} was deleted while it was being submitted; submit it again",
            batch.batch
        ))
    })?;
    Ok(SubmitOutcome::Present(submitted(row)?))
}

/// `protocol_version, protocol_version_patch, witness_input_blob_key, witness_input_digest,
/// status, error` of a witness_inputs row.
type SubmittedRow = (i64, i64, String, Option<String>, String, Option<String>);

fn submitted(row: SubmittedRow) -> DalResult<SubmittedBatch> {
    const TABLE: &str = "witness_inputs";
    let (minor, patch, key, digest, status, error) = row;
    Ok(SubmittedBatch {
        protocol_version: version_col(TABLE, minor, patch)?,
        witness_input_blob_key: key,
        witness_input_digest: digest,
        status: status_col(TABLE, &status)?,
        error,
    })
}

/// The row of a batch as intake compares a submission with it (`None`: not submitted).
pub(crate) async fn submitted_batch(
    pool: &Pool,
    batch: L1BatchId,
) -> DalResult<Option<SubmittedBatch>> {
    let (chain, number) = db_batch(batch)?;
    let row: Option<SubmittedRow> = sqlx::query_as(sql::SELECT_SUBMITTED_BATCH)
        .bind(chain)
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.map(submitted).transpose()
}
