//! Protocol versions and batches: what the fleet may prove, and what it is asked to prove.

use chrono::Utc;
use zkfleet_types::{ProtocolSemanticVersion, ProtocolVersion};

use super::{begin_write, sql, Pool};
use crate::error::{DalError, DalResult};
use crate::model::{InsertOutcome, NewBatch};
use crate::rows::{db_batch, ProtocolVersionRow};

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
