//! SQLite statements. Everything both dialects accept comes from [`crate::portable_sql`]; the
//! statements below are the SQLite side of what PostgreSQL does with row locks. SQLite has no
//! row locks: every write transaction of this crate starts with `BEGIN IMMEDIATE`, which takes
//! the database's single write lock up front, so a pick (select the first queued row, mark it
//! in progress) and a completion with its dependent queuing each run alone. Readers are not
//! blocked (WAL mode).

pub(crate) use crate::portable_sql::*;

pub(crate) use super::MAX_BIND_PARAMS;

// ---------------------------------------------------------------------------------------------
// Picks: $1 protocol minor, $2 patch, $3 picked_by, $4 now (see `pick_set!`).
// ---------------------------------------------------------------------------------------------

pub(crate) const PICK_BASIC_WITNESS_JOB: &str = concat!(
    "UPDATE witness_inputs SET ",
    pick_set!(),
    " WHERE (chain_id, batch_number) IN ( \
        SELECT chain_id, batch_number FROM witness_inputs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
        ORDER BY priority DESC, batch_sealed_at ASC, chain_id ASC, batch_number ASC \
        LIMIT 1) \
     RETURNING ",
    meta_cols!(),
    ", witness_input_blob_key"
);

pub(crate) const PICK_LEAF_WITNESS_JOB: &str = concat!(
    "UPDATE leaf_witness_jobs SET ",
    pick_set!(),
    " WHERE id = ( \
        SELECT id FROM leaf_witness_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
        ORDER BY priority DESC, batch_sealed_at ASC, circuit_id ASC, id ASC \
        LIMIT 1) \
     RETURNING id, ",
    meta_cols!(),
    ", circuit_id, number_of_basic_circuits, closed_form_inputs_blob_key"
);

pub(crate) const PICK_NODE_WITNESS_JOB: &str = concat!(
    "UPDATE node_witness_jobs SET ",
    pick_set!(),
    " WHERE id = ( \
        SELECT id FROM node_witness_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
        ORDER BY priority DESC, batch_sealed_at ASC, depth ASC, circuit_id ASC, id ASC \
        LIMIT 1) \
     RETURNING id, ",
    meta_cols!(),
    ", circuit_id, depth, aggregations_blob_key"
);

pub(crate) const PICK_RECURSION_TIP_WITNESS_JOB: &str = concat!(
    "UPDATE recursion_tip_witness_jobs SET ",
    pick_set!(),
    " WHERE (chain_id, batch_number) IN ( \
        SELECT chain_id, batch_number FROM recursion_tip_witness_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
        ORDER BY priority DESC, batch_sealed_at ASC, chain_id ASC, batch_number ASC \
        LIMIT 1) \
     RETURNING ",
    meta_cols!(),
    ", number_of_final_node_jobs"
);

pub(crate) const PICK_SCHEDULER_WITNESS_JOB: &str = concat!(
    "UPDATE scheduler_witness_jobs SET ",
    pick_set!(),
    " WHERE (chain_id, batch_number) IN ( \
        SELECT chain_id, batch_number FROM scheduler_witness_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
        ORDER BY priority DESC, batch_sealed_at ASC, chain_id ASC, batch_number ASC \
        LIMIT 1) \
     RETURNING ",
    meta_cols!(),
    ", scheduler_partial_input_blob_key"
);

pub(crate) const PICK_COMPRESSION_JOB: &str = concat!(
    "UPDATE proof_compression_jobs SET ",
    pick_set!(),
    " WHERE (chain_id, batch_number) IN ( \
        SELECT chain_id, batch_number FROM proof_compression_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
        ORDER BY priority DESC, batch_sealed_at ASC, chain_id ASC, batch_number ASC \
        LIMIT 1) \
     RETURNING ",
    meta_cols!(),
    ", scheduler_proof_blob_key"
);

/// Any prover job of the version.
pub(crate) const PICK_PROVER_JOB_ANY: &str = concat!(
    "UPDATE prover_jobs SET ",
    pick_set!(),
    " WHERE id = ( \
        SELECT id FROM prover_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
        ORDER BY ",
    prover_job_order!(),
    " LIMIT 1) \
     RETURNING ",
    prover_job_cols!()
);

/// A prover job of the heavy set; $5 is the set as a JSON array of `round * 256 + circuit_id`.
pub(crate) const PICK_PROVER_JOB_HEAVY: &str = concat!(
    "UPDATE prover_jobs SET ",
    pick_set!(),
    " WHERE id = ( \
        SELECT id FROM prover_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
          AND (aggregation_round * 256 + circuit_id) IN ( \
              SELECT value FROM json_each($5)) \
        ORDER BY ",
    prover_job_order!(),
    " LIMIT 1) \
     RETURNING ",
    prover_job_cols!()
);

/// A prover job outside the heavy set ($5, as above).
pub(crate) const PICK_PROVER_JOB_LIGHT: &str = concat!(
    "UPDATE prover_jobs SET ",
    pick_set!(),
    " WHERE id = ( \
        SELECT id FROM prover_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
          AND (aggregation_round * 256 + circuit_id) NOT IN ( \
              SELECT value FROM json_each($5)) \
        ORDER BY ",
    prover_job_order!(),
    " LIMIT 1) \
     RETURNING ",
    prover_job_cols!()
);

/// Batched picks: up to $8 more queued prover jobs of the (round $5, circuit $6, depth $7) of
/// the job the same transaction just picked with one of the statements above, in pick order.
pub(crate) const PICK_MORE_PROVER_JOBS: &str = concat!(
    "UPDATE prover_jobs SET ",
    pick_set!(),
    " WHERE id IN ( \
        SELECT id FROM prover_jobs \
        WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
          AND aggregation_round = $5 AND circuit_id = $6 AND depth = $7 \
        ORDER BY ",
    prover_job_order!(),
    " LIMIT $8) \
     RETURNING ",
    prover_job_cols!()
);

// ---------------------------------------------------------------------------------------------
// Dependent rows. The completing transaction already holds the write lock (BEGIN IMMEDIATE),
// so no other transaction can complete a sibling dependency between this read and the count.
// ---------------------------------------------------------------------------------------------

/// $1 chain, $2 batch, $3 circuit.
pub(crate) const LOCK_LEAF_DEPENDENT: &str = "\
    SELECT id, number_of_basic_circuits AS expected, status FROM leaf_witness_jobs \
    WHERE chain_id = $1 AND batch_number = $2 AND circuit_id = $3";

/// $1 chain, $2 batch, $3 circuit, $4 depth.
pub(crate) const LOCK_NODE_DEPENDENT: &str = "\
    SELECT id, number_of_dependent_jobs AS expected, status FROM node_witness_jobs \
    WHERE chain_id = $1 AND batch_number = $2 AND circuit_id = $3 AND depth = $4";

/// $1 chain, $2 batch.
pub(crate) const LOCK_RECURSION_TIP_DEPENDENT: &str = "\
    SELECT CAST(NULL AS BIGINT) AS id, number_of_final_node_jobs AS expected, status \
    FROM recursion_tip_witness_jobs WHERE chain_id = $1 AND batch_number = $2";

/// $1 chain, $2 batch.
pub(crate) const LOCK_SCHEDULER_DEPENDENT: &str = "\
    SELECT CAST(NULL AS BIGINT) AS id, CAST(1 AS BIGINT) AS expected, status \
    FROM scheduler_witness_jobs WHERE chain_id = $1 AND batch_number = $2";
