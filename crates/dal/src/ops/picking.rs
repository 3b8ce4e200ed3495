//! Picking: take the first queued job of a table, atomically, and mark it in progress.
//!
//! One statement per pick (`UPDATE … WHERE key = (SELECT … LIMIT 1 [FOR UPDATE SKIP LOCKED])
//! RETURNING …`) inside a write transaction; attempts are counted here, on pick. Witness-job
//! picks also read, in the same transaction, the proofs the job aggregates. Prover-job picks,
//! the hot path of a fleet, run outside an explicit transaction where the backend allows it
//! (`sql::PROVER_PICKS_IN_AUTOCOMMIT`: PostgreSQL), each statement committing by itself.

use chrono::Utc;
use zkfleet_types::ids::{LeafJobId, NodeJobId};
use zkfleet_types::{AggregationRound, ProtocolSemanticVersion};

use super::{begin_write, sql, Pool, Tx};
use crate::error::{DalError, DalResult};
use crate::model::{
    BasicWitnessJob, CompressionJob, HeavySet, LeafWitnessJob, NodeWitnessJob, ProverJob,
    ProverJobClass, RecursionTipWitnessJob, SchedulerWitnessJob,
};
use crate::rows::{
    circuit_col, into_proofs, BasicJobRow, CompressionJobRow, LeafJobRow, NodeJobRow, ProofRow,
    ProverJobRow, RecursionTipJobRow, SchedulerJobRow,
};

/// A connection of the backend: a transaction's (`&mut *tx`) or a pooled one outside any.
type Conn = <super::Db as sqlx::Database>::Connection;

/// Runs a pick statement ($1 minor, $2 patch, $3 picked_by, $4 now).
async fn pick_row<R>(
    conn: &mut Conn,
    statement: &str,
    version: ProtocolSemanticVersion,
    picked_by: &str,
) -> DalResult<Option<R>>
where
    R: for<'r> sqlx::FromRow<'r, <super::Db as sqlx::Database>::Row> + Send + Unpin,
{
    let row = sqlx::query_as::<_, R>(statement)
        .bind(i64::from(version.minor))
        .bind(i64::from(version.patch))
        .bind(picked_by)
        .bind(Utc::now())
        .fetch_optional(conn)
        .await?;
    Ok(row)
}

/// Successful prover jobs of one (batch, round, circuit, depth), in sequence order.
async fn proofs_of(
    tx: &mut Tx,
    chain_id: i64,
    batch_number: i64,
    round: i64,
    circuit_id: i64,
    depth: i64,
) -> DalResult<Vec<ProofRow>> {
    Ok(sqlx::query_as(sql::SELECT_PROOFS)
        .bind(chain_id)
        .bind(batch_number)
        .bind(round)
        .bind(circuit_id)
        .bind(depth)
        .fetch_all(&mut **tx)
        .await?)
}

/// A leaf or node witness-job pick and, read in the same transaction, the successful prover
/// jobs the picked row aggregates: `aggregated` names their (chain, batch, round, circuit,
/// depth).
async fn pick_with_proofs<R>(
    pool: &Pool,
    statement: &str,
    version: ProtocolSemanticVersion,
    picked_by: &str,
    aggregated: impl FnOnce(&R) -> (i64, i64, i64, i64, i64),
) -> DalResult<Option<(R, Vec<ProofRow>)>>
where
    R: for<'r> sqlx::FromRow<'r, <super::Db as sqlx::Database>::Row> + Send + Unpin,
{
    let mut tx = begin_write(pool).await?;
    let Some(row) = pick_row::<R>(&mut tx, statement, version, picked_by).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let (chain_id, batch_number, round, circuit_id, depth) = aggregated(&row);
    let proofs = proofs_of(&mut tx, chain_id, batch_number, round, circuit_id, depth).await?;
    tx.commit().await?;
    Ok(Some((row, proofs)))
}

pub(crate) async fn pick_basic_witness_job(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    picked_by: &str,
) -> DalResult<Option<BasicWitnessJob>> {
    let mut tx = begin_write(pool).await?;
    let row: Option<BasicJobRow> =
        pick_row(&mut tx, sql::PICK_BASIC_WITNESS_JOB, version, picked_by).await?;
    tx.commit().await?;
    row.map(|r| {
        Ok(BasicWitnessJob {
            meta: r.meta.into_meta("witness_inputs")?,
            witness_input_blob_key: r.witness_input_blob_key,
        })
    })
    .transpose()
}

pub(crate) async fn pick_leaf_witness_job(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    picked_by: &str,
) -> DalResult<Option<LeafWitnessJob>> {
    const T: &str = "leaf_witness_jobs";
    // A leaf aggregates the basic proofs (round 0) of its type.
    let aggregated = |r: &LeafJobRow| (r.meta.chain_id, r.meta.batch_number, 0, r.circuit_id, 0);
    let Some((row, proofs)) = pick_with_proofs(
        pool,
        sql::PICK_LEAF_WITNESS_JOB,
        version,
        picked_by,
        aggregated,
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(LeafWitnessJob {
        id: LeafJobId(row.id),
        circuit_id: circuit_col(T, row.circuit_id)?,
        number_of_basic_circuits: u32::try_from(row.number_of_basic_circuits).map_err(|_| {
            DalError::corrupt(
                T,
                format!(
                    "number_of_basic_circuits = {}",
                    row.number_of_basic_circuits
                ),
            )
        })?,
        closed_form_inputs_blob_key: row.closed_form_inputs_blob_key,
        meta: row.meta.into_meta(T)?,
        basic_proofs: into_proofs(proofs)?,
    }))
}

pub(crate) async fn pick_node_witness_job(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    picked_by: &str,
) -> DalResult<Option<NodeWitnessJob>> {
    const T: &str = "node_witness_jobs";
    // Depth 0 aggregates the leaf proofs of its type; depth d the node proofs of depth d - 1.
    let aggregated = |r: &NodeJobRow| {
        let (round, depth) = if r.depth == 0 {
            (1, 0)
        } else {
            (2, r.depth - 1)
        };
        (
            r.meta.chain_id,
            r.meta.batch_number,
            round,
            r.circuit_id,
            depth,
        )
    };
    let Some((row, proofs)) = pick_with_proofs(
        pool,
        sql::PICK_NODE_WITNESS_JOB,
        version,
        picked_by,
        aggregated,
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(NodeWitnessJob {
        id: NodeJobId(row.id),
        circuit_id: circuit_col(T, row.circuit_id)?,
        depth: u32::try_from(row.depth)
            .map_err(|_| DalError::corrupt(T, format!("depth = {}", row.depth)))?,
        aggregations_blob_key: row.aggregations_blob_key,
        meta: row.meta.into_meta(T)?,
        proofs: into_proofs(proofs)?,
    }))
}

pub(crate) async fn pick_recursion_tip_witness_job(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    picked_by: &str,
) -> DalResult<Option<RecursionTipWitnessJob>> {
    const T: &str = "recursion_tip_witness_jobs";
    let mut tx = begin_write(pool).await?;
    let Some(row) = pick_row::<RecursionTipJobRow>(
        &mut tx,
        sql::PICK_RECURSION_TIP_WITNESS_JOB,
        version,
        picked_by,
    )
    .await?
    else {
        tx.commit().await?;
        return Ok(None);
    };
    let proofs: Vec<ProofRow> = sqlx::query_as(sql::SELECT_FINAL_NODE_PROOFS)
        .bind(row.meta.chain_id)
        .bind(row.meta.batch_number)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(RecursionTipWitnessJob {
        number_of_final_node_jobs: u32::try_from(row.number_of_final_node_jobs).map_err(|_| {
            DalError::corrupt(
                T,
                format!(
                    "number_of_final_node_jobs = {}",
                    row.number_of_final_node_jobs
                ),
            )
        })?,
        meta: row.meta.into_meta(T)?,
        final_node_proofs: into_proofs(proofs)?,
    }))
}

pub(crate) async fn pick_scheduler_witness_job(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    picked_by: &str,
) -> DalResult<Option<SchedulerWitnessJob>> {
    const T: &str = "scheduler_witness_jobs";
    let mut tx = begin_write(pool).await?;
    let Some(row) =
        pick_row::<SchedulerJobRow>(&mut tx, sql::PICK_SCHEDULER_WITNESS_JOB, version, picked_by)
            .await?
    else {
        tx.commit().await?;
        return Ok(None);
    };
    let proof: Option<ProofRow> = sqlx::query_as(sql::SELECT_RECURSION_TIP_PROOF)
        .bind(row.meta.chain_id)
        .bind(row.meta.batch_number)
        .fetch_optional(&mut *tx)
        .await?;
    let meta = row.meta.into_meta(T)?;
    let Some(proof) = proof else {
        // Queued without its recursion tip proof: the row was edited by hand. Leave it queued.
        tx.rollback().await?;
        return Err(DalError::corrupt(
            T,
            format!(
                "{} is queued but has no successful recursion tip proof",
                meta.batch
            ),
        ));
    };
    tx.commit().await?;
    Ok(Some(SchedulerWitnessJob {
        meta,
        scheduler_partial_input_blob_key: row.scheduler_partial_input_blob_key,
        recursion_tip_proof: proof.into_proof()?,
    }))
}

pub(crate) async fn pick_prover_job(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    class: ProverJobClass,
    heavy: &HeavySet,
    rounds: &[AggregationRound],
    picked_by: &str,
) -> DalResult<Option<ProverJob>> {
    let Some(rounds) = RoundFilter::of(rounds) else {
        return Ok(None);
    };
    let heavy_keys = heavy.to_json_keys();
    let row = if sql::PROVER_PICKS_IN_AUTOCOMMIT {
        let mut conn = pool.acquire().await?;
        pick_prover_row(&mut conn, version, class, &heavy_keys, &rounds, picked_by).await?
    } else {
        let mut tx = begin_write(pool).await?;
        let row = pick_prover_row(&mut tx, version, class, &heavy_keys, &rounds, picked_by).await?;
        tx.commit().await?;
        row
    };
    row.map(ProverJobRow::into_job).transpose()
}

/// Up to `limit` prover jobs of one (round, circuit, depth), in one transaction: the first is
/// the job [`pick_prover_job`] would pick (class, priority, age: every rule of a single pick),
/// the others the next queued jobs of the same circuit in pick order, skipping rows other
/// pickers hold (PostgreSQL) — so a batch never waits for another picker and never makes a
/// picker see an empty queue while jobs are queued. Attempts are counted per job.
pub(crate) async fn pick_prover_jobs(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    class: ProverJobClass,
    heavy: &HeavySet,
    rounds: &[AggregationRound],
    picked_by: &str,
    limit: u32,
) -> DalResult<Vec<ProverJob>> {
    let Some(rounds) = RoundFilter::of(rounds) else {
        return Ok(Vec::new());
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let heavy_keys = heavy.to_json_keys();
    let picked = if sql::PROVER_PICKS_IN_AUTOCOMMIT {
        let mut conn = pool.acquire().await?;
        pick_prover_batch(
            &mut conn,
            version,
            class,
            &heavy_keys,
            &rounds,
            picked_by,
            limit,
        )
        .await?
    } else {
        let mut tx = begin_write(pool).await?;
        let picked = pick_prover_batch(
            &mut tx,
            version,
            class,
            &heavy_keys,
            &rounds,
            picked_by,
            limit,
        )
        .await?;
        tx.commit().await?;
        picked
    };
    let Some((first, more)) = picked else {
        return Ok(Vec::new());
    };
    let mut jobs = std::iter::once(first)
        .chain(more)
        .map(ProverJobRow::into_job)
        .collect::<DalResult<Vec<_>>>()?;
    // RETURNING has no order: restore the pick order (same round, circuit and depth).
    jobs.sort_by(|a, b| {
        b.meta
            .priority
            .cmp(&a.meta.priority)
            .then(a.meta.batch_sealed_at.cmp(&b.meta.batch_sealed_at))
            .then(a.sequence_number.cmp(&b.sequence_number))
            .then(a.id.0.cmp(&b.id.0))
    });
    Ok(jobs)
}

/// The statements of a batched pick on `conn`: the single pick, then up to `limit - 1` more
/// of its (round, circuit, depth). `None`: nothing was queued.
async fn pick_prover_batch(
    conn: &mut Conn,
    version: ProtocolSemanticVersion,
    class: ProverJobClass,
    heavy_keys: &str,
    rounds: &RoundFilter,
    picked_by: &str,
    limit: u32,
) -> DalResult<Option<(ProverJobRow, Vec<ProverJobRow>)>> {
    let Some(first) = pick_prover_row(conn, version, class, heavy_keys, rounds, picked_by).await?
    else {
        return Ok(None);
    };
    let more: Vec<ProverJobRow> = if limit > 1 {
        sqlx::query_as(sql::PICK_MORE_PROVER_JOBS)
            .bind(i64::from(version.minor))
            .bind(i64::from(version.patch))
            .bind(picked_by)
            .bind(Utc::now())
            .bind(first.aggregation_round)
            .bind(first.circuit_id)
            .bind(first.depth)
            .bind(i64::from(limit - 1))
            .fetch_all(&mut *conn)
            .await?
    } else {
        Vec::new()
    };
    Ok(Some((first, more)))
}

/// Which rounds a prover-job pick may take: every round (the pick statements as written), or
/// a subset, added to the candidate `SELECT` as a condition on `aggregation_round`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RoundFilter {
    Every,
    /// `aggregation_round IN (…)`, the rounds' codes: integers of the closed round enum,
    /// formatted here, never text from outside.
    Only(String),
}

impl RoundFilter {
    /// `None` for an empty list: nothing may be picked.
    fn of(rounds: &[AggregationRound]) -> Option<Self> {
        let mut codes: Vec<u8> = rounds.iter().map(|r| r.as_u8()).collect();
        codes.sort_unstable();
        codes.dedup();
        if codes.is_empty() {
            return None;
        }
        if codes.len() == AggregationRound::ALL.len() {
            return Some(Self::Every);
        }
        let list = codes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Some(Self::Only(format!(" AND aggregation_round IN ({list})")))
    }

    /// `statement` (one of the single prover-job picks) with the condition added to its
    /// candidate `SELECT`, whose `ORDER BY` is the statement's only one.
    fn restrict(&self, statement: &'static str) -> std::borrow::Cow<'static, str> {
        match self {
            Self::Every => std::borrow::Cow::Borrowed(statement),
            Self::Only(condition) => {
                debug_assert_eq!(statement.matches(" ORDER BY ").count(), 1);
                std::borrow::Cow::Owned(statement.replacen(
                    " ORDER BY ",
                    &format!("{condition} ORDER BY "),
                    1,
                ))
            }
        }
    }
}

/// The single pick of a prover job of `class`, on `conn` (a transaction's or not: each of its
/// statements is atomic by itself).
async fn pick_prover_row(
    conn: &mut Conn,
    version: ProtocolSemanticVersion,
    class: ProverJobClass,
    heavy_keys: &str,
    rounds: &RoundFilter,
    picked_by: &str,
) -> DalResult<Option<ProverJobRow>> {
    Ok(match class {
        ProverJobClass::Any => {
            let statement = rounds.restrict(sql::PICK_PROVER_JOB_ANY);
            pick_row::<ProverJobRow>(conn, &statement, version, picked_by).await?
        }
        ProverJobClass::Light => {
            pick_classed(
                conn,
                &rounds.restrict(sql::PICK_PROVER_JOB_LIGHT),
                version,
                heavy_keys,
                picked_by,
            )
            .await?
        }
        ProverJobClass::Heavy => {
            match pick_classed(
                &mut *conn,
                &rounds.restrict(sql::PICK_PROVER_JOB_HEAVY),
                version,
                heavy_keys,
                picked_by,
            )
            .await?
            {
                Some(row) => Some(row),
                None => {
                    pick_classed(
                        conn,
                        &rounds.restrict(sql::PICK_PROVER_JOB_LIGHT),
                        version,
                        heavy_keys,
                        picked_by,
                    )
                    .await?
                }
            }
        }
    })
}

/// A heavy-only or light-only pick ($5 = the heavy set's keys).
async fn pick_classed(
    conn: &mut Conn,
    statement: &str,
    version: ProtocolSemanticVersion,
    heavy_keys: &str,
    picked_by: &str,
) -> DalResult<Option<ProverJobRow>> {
    Ok(sqlx::query_as(statement)
        .bind(i64::from(version.minor))
        .bind(i64::from(version.patch))
        .bind(picked_by)
        .bind(Utc::now())
        .bind(heavy_keys)
        .fetch_optional(conn)
        .await?)
}

pub(crate) async fn pick_compression_job(
    pool: &Pool,
    version: ProtocolSemanticVersion,
    picked_by: &str,
) -> DalResult<Option<CompressionJob>> {
    let mut tx = begin_write(pool).await?;
    let row: Option<CompressionJobRow> =
        pick_row(&mut tx, sql::PICK_COMPRESSION_JOB, version, picked_by).await?;
    tx.commit().await?;
    row.map(CompressionJobRow::into_job).transpose()
}
