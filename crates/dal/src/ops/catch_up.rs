//! The monitor's dependency catch-up: the in-transaction queuing of completions, in bulk.
//!
//! Completions queue their dependents themselves; this pass repairs what they could not (a
//! row edited by hand, a node count filled in after its proofs were done, a crash between
//! two versions of this code). Every statement is guarded on `waiting_for_proofs`, so a row a
//! completion queued concurrently is not queued twice.

use chrono::{DateTime, Utc};

use super::{begin_write, sql, Pool, Tx};
use crate::error::DalResult;
use crate::model::CatchUpCounts;

pub(crate) async fn queue_ready_dependents(pool: &Pool) -> DalResult<CatchUpCounts> {
    let now = Utc::now();
    let mut tx = begin_write(pool).await?;
    let counts = CatchUpCounts {
        leaf_witness_jobs: run(&mut tx, sql::CATCH_UP_LEAF_JOBS, now).await?,
        node_witness_jobs: run(&mut tx, sql::CATCH_UP_NODE_JOBS, now).await?,
        recursion_tip_witness_jobs: run(&mut tx, sql::CATCH_UP_RECURSION_TIP_JOBS, now).await?,
        scheduler_witness_jobs: run(&mut tx, sql::CATCH_UP_SCHEDULER_JOBS, now).await?,
        compression_jobs: run(&mut tx, sql::CATCH_UP_COMPRESSION_JOBS, now).await?,
    };
    tx.commit().await?;
    if counts.total() > 0 {
        tracing::info!(?counts, "catch-up queued dependent jobs");
    }
    Ok(counts)
}

/// Runs one catch-up statement ($1 = now) and returns the rows it moved.
async fn run(tx: &mut Tx, statement: &'static str, now: DateTime<Utc>) -> DalResult<u64> {
    Ok(sqlx::query(statement)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}
