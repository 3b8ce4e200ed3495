//! SQL that PostgreSQL and SQLite both accept unchanged.
//!
//! Each backend's `sql` module re-exports this one with a glob import and defines the
//! statements that differ (picks with `FOR UPDATE SKIP LOCKED`, dependent-row locks) under the
//! same names, which shadow these. Placeholders are `$N`, which both drivers bind by number.
//! Timestamps are always bound by the application (`now`, cut-offs), never taken from the
//! database clock, so both backends store and compare them the same way.

use crate::model::JobTable;

/// Columns every pick returns ([`crate::rows::MetaRow`]).
macro_rules! meta_cols {
    () => {
        "chain_id, batch_number, protocol_version, protocol_version_patch, attempts, priority, \
         batch_sealed_at"
    };
}
pub(crate) use meta_cols;

/// `SET` list of a pick: $picked_by, $now are the last two parameters of every pick (3 and 4).
macro_rules! pick_set {
    () => {
        "status = 'in_progress', attempts = attempts + 1, picked_by = $3, \
         processing_started_at = $4, updated_at = $4"
    };
}
pub(crate) use pick_set;

/// `RETURNING` list of a prover-job pick ([`crate::rows::ProverJobRow`]).
macro_rules! prover_job_cols {
    () => {
        concat!(
            "id, ",
            crate::portable_sql::meta_cols!(),
            ", aggregation_round, circuit_id, depth, sequence_number, circuit_blob_key, \
             is_node_final_proof"
        )
    };
}
pub(crate) use prover_job_cols;

/// The order in which prover jobs are picked (the partial index `prover_jobs_queued_idx`
/// follows it key for key).
macro_rules! prover_job_order {
    () => {
        "priority DESC, batch_sealed_at ASC, aggregation_round ASC, circuit_id ASC, depth ASC, \
         sequence_number ASC, id ASC"
    };
}
pub(crate) use prover_job_order;

// ---------------------------------------------------------------------------------------------
// The statements that differ between the dialects, from one template
// ---------------------------------------------------------------------------------------------

/// The first queued row of a table keyed by batch, in pick order.
macro_rules! pick_by_batch {
    ($skip_locked:literal, $table:literal, $returning:literal) => {
        concat!(
            "UPDATE ", $table, " SET ",
            $crate::portable_sql::pick_set!(),
            " WHERE (chain_id, batch_number) IN ( \
                SELECT chain_id, batch_number FROM ", $table, " \
                WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
                ORDER BY priority DESC, batch_sealed_at ASC, chain_id ASC, batch_number ASC \
                LIMIT 1", $skip_locked, ") \
             RETURNING ",
            $crate::portable_sql::meta_cols!(),
            ", ", $returning
        )
    };
}
pub(crate) use pick_by_batch;

/// The first queued row of a table keyed by id, in the given order.
macro_rules! pick_by_id {
    ($skip_locked:literal, $table:literal, $order:literal, $returning:literal) => {
        concat!(
            "UPDATE ", $table, " SET ",
            $crate::portable_sql::pick_set!(),
            " WHERE id = ( \
                SELECT id FROM ", $table, " \
                WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2 \
                ORDER BY ", $order, " \
                LIMIT 1", $skip_locked, ") \
             RETURNING id, ",
            $crate::portable_sql::meta_cols!(),
            ", ", $returning
        )
    };
}
pub(crate) use pick_by_id;

/// A prover job: the first queued one of the version matching `$class` (a condition,
/// empty for any), or up to `$limit` of them.
macro_rules! pick_prover {
    ($skip_locked:literal, $key:literal, $class:expr, $limit:literal) => {
        concat!(
            "UPDATE prover_jobs SET ",
            $crate::portable_sql::pick_set!(),
            " WHERE id ", $key, " ( \
                SELECT id FROM prover_jobs \
                WHERE status = 'queued' AND protocol_version = $1 AND protocol_version_patch = $2",
            $class,
            " ORDER BY ",
            $crate::portable_sql::prover_job_order!(),
            " LIMIT ", $limit, $skip_locked, ") \
             RETURNING ",
            $crate::portable_sql::prover_job_cols!()
        )
    };
}
pub(crate) use pick_prover;

/// Defines, in the calling backend's `sql` module, every pick and dependent-lock statement
/// from one text, with the three places where the dialects differ filled in:
///
/// - `skip_locked`: what ends a pick's candidate `SELECT` (PostgreSQL: `FOR UPDATE SKIP LOCKED`,
///   so concurrent pickers skip each other's candidates; SQLite: nothing, the write lock taken
///   by `BEGIN IMMEDIATE` serialises picks);
/// - `lock`: what ends the `SELECT` of a dependent row (PostgreSQL: `FOR UPDATE`; SQLite:
///   nothing, for the same reason);
/// - `heavy_keys`: a `SELECT` of the heavy set's keys from the JSON array bound as `$5`.
///
/// Picks: `$1` protocol minor, `$2` patch, `$3` picked_by, `$4` now (see `pick_set!`).
macro_rules! dialect_statements {
    (skip_locked: $skip_locked:literal, lock: $lock:literal, heavy_keys: $heavy_keys:literal $(,)?) => {
        pub(crate) const PICK_BASIC_WITNESS_JOB: &str =
            $crate::portable_sql::pick_by_batch!($skip_locked, "witness_inputs", "witness_input_blob_key");

        pub(crate) const PICK_LEAF_WITNESS_JOB: &str = $crate::portable_sql::pick_by_id!(
            $skip_locked,
            "leaf_witness_jobs",
            "priority DESC, batch_sealed_at ASC, circuit_id ASC, id ASC",
            "circuit_id, number_of_basic_circuits, closed_form_inputs_blob_key"
        );

        pub(crate) const PICK_NODE_WITNESS_JOB: &str = $crate::portable_sql::pick_by_id!(
            $skip_locked,
            "node_witness_jobs",
            "priority DESC, batch_sealed_at ASC, depth ASC, circuit_id ASC, id ASC",
            "circuit_id, depth, aggregations_blob_key"
        );

        pub(crate) const PICK_RECURSION_TIP_WITNESS_JOB: &str =
            $crate::portable_sql::pick_by_batch!($skip_locked, "recursion_tip_witness_jobs", "number_of_final_node_jobs");

        pub(crate) const PICK_SCHEDULER_WITNESS_JOB: &str =
            $crate::portable_sql::pick_by_batch!($skip_locked, "scheduler_witness_jobs", "scheduler_partial_input_blob_key");

        pub(crate) const PICK_COMPRESSION_JOB: &str =
            $crate::portable_sql::pick_by_batch!($skip_locked, "proof_compression_jobs", "scheduler_proof_blob_key");

        /// Any prover job of the version.
        pub(crate) const PICK_PROVER_JOB_ANY: &str = $crate::portable_sql::pick_prover!($skip_locked, "=", "", "1");

        /// A prover job of the heavy set; $5 is the set as a JSON array of
        /// `round * 256 + circuit_id`.
        pub(crate) const PICK_PROVER_JOB_HEAVY: &str = $crate::portable_sql::pick_prover!(
            $skip_locked,
            "=",
            concat!(" AND (aggregation_round * 256 + circuit_id) IN ( ", $heavy_keys, ")"),
            "1"
        );

        /// A prover job outside the heavy set ($5, as above).
        pub(crate) const PICK_PROVER_JOB_LIGHT: &str = $crate::portable_sql::pick_prover!(
            $skip_locked,
            "=",
            concat!(" AND (aggregation_round * 256 + circuit_id) NOT IN ( ", $heavy_keys, ")"),
            "1"
        );

        /// Batched picks: up to $8 more queued prover jobs of the (round $5, circuit $6, depth
        /// $7) of the job the same transaction just picked with one of the statements above,
        /// in pick order.
        pub(crate) const PICK_MORE_PROVER_JOBS: &str = $crate::portable_sql::pick_prover!(
            $skip_locked,
            "IN",
            " AND aggregation_round = $5 AND circuit_id = $6 AND depth = $7",
            "$8"
        );

        /// $1 chain, $2 batch, $3 circuit.
        pub(crate) const LOCK_LEAF_DEPENDENT: &str = concat!(
            "SELECT id, number_of_basic_circuits AS expected, status FROM leaf_witness_jobs \
             WHERE chain_id = $1 AND batch_number = $2 AND circuit_id = $3",
            $lock
        );

        /// $1 chain, $2 batch, $3 circuit, $4 depth.
        pub(crate) const LOCK_NODE_DEPENDENT: &str = concat!(
            "SELECT id, number_of_dependent_jobs AS expected, status FROM node_witness_jobs \
             WHERE chain_id = $1 AND batch_number = $2 AND circuit_id = $3 AND depth = $4",
            $lock
        );

        /// $1 chain, $2 batch.
        pub(crate) const LOCK_RECURSION_TIP_DEPENDENT: &str = concat!(
            "SELECT CAST(NULL AS BIGINT) AS id, number_of_final_node_jobs AS expected, status \
             FROM recursion_tip_witness_jobs WHERE chain_id = $1 AND batch_number = $2",
            $lock
        );

        /// $1 chain, $2 batch.
        pub(crate) const LOCK_SCHEDULER_DEPENDENT: &str = concat!(
            "SELECT CAST(NULL AS BIGINT) AS id, CAST(1 AS BIGINT) AS expected, status \
             FROM scheduler_witness_jobs WHERE chain_id = $1 AND batch_number = $2",
            $lock
        );
    };
}
pub(crate) use dialect_statements;

// ---------------------------------------------------------------------------------------------
// Protocol versions and batches
// ---------------------------------------------------------------------------------------------

pub(crate) const INSERT_PROTOCOL_VERSION: &str = "\
    INSERT INTO protocol_versions (minor, patch, recursion_tree_vk_digest, final_vk_digest, created_at) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (minor, patch) DO NOTHING";

pub(crate) const SELECT_PROTOCOL_VERSION: &str = "\
    SELECT minor, patch, recursion_tree_vk_digest, final_vk_digest FROM protocol_versions \
    WHERE minor = $1 AND patch = $2";

pub(crate) const SELECT_PROTOCOL_VERSIONS: &str = "\
    SELECT minor, patch, recursion_tree_vk_digest, final_vk_digest FROM protocol_versions \
    ORDER BY minor, patch";

/// Intake's insert: the same row with the digest of its input. The row is the arbiter between
/// concurrent submissions (any number of gateways and CLIs): exactly one insert of a batch
/// succeeds, the others read the winner's digest with [`SELECT_SUBMITTED_BATCH`].
pub(crate) const INSERT_SUBMITTED_WITNESS_INPUT: &str = "\
    INSERT INTO witness_inputs (chain_id, batch_number, witness_input_blob_key, protocol_version, \
        protocol_version_patch, status, attempts, priority, batch_sealed_at, created_at, updated_at, \
        witness_input_digest) \
    VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8, $9) \
    ON CONFLICT (chain_id, batch_number) DO NOTHING";

/// The batch row intake compares a submission with.
pub(crate) const SELECT_SUBMITTED_BATCH: &str = "\
    SELECT protocol_version, protocol_version_patch, witness_input_blob_key, witness_input_digest, \
        status, error \
    FROM witness_inputs WHERE chain_id = $1 AND batch_number = $2";

pub(crate) const INSERT_WITNESS_INPUT: &str = "\
    INSERT INTO witness_inputs (chain_id, batch_number, witness_input_blob_key, protocol_version, \
        protocol_version_patch, status, attempts, priority, batch_sealed_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) \
    ON CONFLICT (chain_id, batch_number) DO NOTHING";

// ---------------------------------------------------------------------------------------------
// Dependencies read by the witness-job picks
// ---------------------------------------------------------------------------------------------

/// Successful prover jobs of one (batch, round, circuit, depth), in sequence order.
pub(crate) const SELECT_PROOFS: &str = "\
    SELECT id, circuit_id, depth, sequence_number, proof_blob_key FROM prover_jobs \
    WHERE chain_id = $1 AND batch_number = $2 AND aggregation_round = $3 AND circuit_id = $4 \
      AND depth = $5 AND status = 'successful' \
    ORDER BY sequence_number";

/// The successful final node proofs of a batch, in circuit id order.
pub(crate) const SELECT_FINAL_NODE_PROOFS: &str = "\
    SELECT id, circuit_id, depth, sequence_number, proof_blob_key FROM prover_jobs \
    WHERE chain_id = $1 AND batch_number = $2 AND aggregation_round = 2 \
      AND is_node_final_proof AND status = 'successful' \
    ORDER BY circuit_id";

/// The successful recursion tip proof of a batch.
pub(crate) const SELECT_RECURSION_TIP_PROOF: &str = "\
    SELECT id, circuit_id, depth, sequence_number, proof_blob_key FROM prover_jobs \
    WHERE chain_id = $1 AND batch_number = $2 AND aggregation_round = 3 AND status = 'successful' \
    ORDER BY id LIMIT 1";

// ---------------------------------------------------------------------------------------------
// Completion and dependent queuing
// ---------------------------------------------------------------------------------------------

pub(crate) const COMPLETE_PROVER_JOB: &str = concat!(
    "UPDATE prover_jobs SET status = 'successful', proof_blob_key = $2, time_taken_ms = $3, \
         updated_at = $4, error = NULL \
     WHERE id = $1 AND status = 'in_progress' \
     RETURNING ",
    meta_cols!(),
    ", aggregation_round, circuit_id, depth, is_node_final_proof, proof_blob_key"
);

/// Successful prover jobs of one (batch, round, circuit, depth).
pub(crate) const COUNT_SUCCESSFUL_PROOFS: &str = "\
    SELECT COUNT(*) FROM prover_jobs \
    WHERE chain_id = $1 AND batch_number = $2 AND aggregation_round = $3 AND circuit_id = $4 \
      AND depth = $5 AND status = 'successful'";

/// Whether a prover job of one (batch, round, circuit, depth) is not successful yet. Cheap
/// (the index probe stops at the first hit), so a completion only counts its siblings when it
/// may be the last one: counting on every completion is quadratic in the batch's size.
pub(crate) const UNFINISHED_SIBLING_EXISTS: &str = "\
    SELECT EXISTS (SELECT 1 FROM prover_jobs \
        WHERE chain_id = $1 AND batch_number = $2 AND aggregation_round = $3 AND circuit_id = $4 \
          AND depth = $5 AND status IN ('queued', 'in_progress', 'failed', 'attempts_exhausted', \
                                        'failed_permanently', 'waiting_for_proofs', \
                                        'sent_to_server'))";

pub(crate) const COUNT_SUCCESSFUL_FINAL_NODE_PROOFS: &str = "\
    SELECT COUNT(*) FROM prover_jobs \
    WHERE chain_id = $1 AND batch_number = $2 AND aggregation_round = 2 \
      AND is_node_final_proof AND status = 'successful'";

pub(crate) const QUEUE_LEAF_JOB: &str = "\
    UPDATE leaf_witness_jobs SET status = 'queued', updated_at = $2 \
    WHERE id = $1 AND status = 'waiting_for_proofs'";

pub(crate) const QUEUE_NODE_JOB: &str = "\
    UPDATE node_witness_jobs SET status = 'queued', updated_at = $2 \
    WHERE id = $1 AND status = 'waiting_for_proofs'";

pub(crate) const QUEUE_RECURSION_TIP_JOB: &str = "\
    UPDATE recursion_tip_witness_jobs SET status = 'queued', updated_at = $3 \
    WHERE chain_id = $1 AND batch_number = $2 AND status = 'waiting_for_proofs'";

pub(crate) const QUEUE_SCHEDULER_JOB: &str = "\
    UPDATE scheduler_witness_jobs SET status = 'queued', updated_at = $3 \
    WHERE chain_id = $1 AND batch_number = $2 AND status = 'waiting_for_proofs'";

pub(crate) const INSERT_COMPRESSION_JOB: &str = "\
    INSERT INTO proof_compression_jobs (chain_id, batch_number, scheduler_proof_blob_key, \
        protocol_version, protocol_version_patch, status, attempts, priority, batch_sealed_at, \
        created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) \
    ON CONFLICT (chain_id, batch_number) DO NOTHING";

pub(crate) const COMPLETE_COMPRESSION_JOB: &str = "\
    UPDATE proof_compression_jobs SET status = 'successful', final_proof_blob_key = $3, \
        time_taken_ms = $4, updated_at = $5, error = NULL \
    WHERE chain_id = $1 AND batch_number = $2 AND status = 'in_progress'";

pub(crate) const MARK_COMPRESSION_SENT: &str = "\
    UPDATE proof_compression_jobs SET status = 'sent_to_server', updated_at = $3 \
    WHERE chain_id = $1 AND batch_number = $2 AND status = 'successful'";

// ---------------------------------------------------------------------------------------------
// Witness generation outputs
// ---------------------------------------------------------------------------------------------

/// `RETURNING` list of a witness job marked successful: what its outputs inherit.
macro_rules! completed_witness_cols {
    () => {
        concat!("RETURNING ", crate::portable_sql::meta_cols!())
    };
}

pub(crate) const COMPLETE_BASIC_WITNESS_JOB: &str = concat!(
    "UPDATE witness_inputs SET status = 'successful', time_taken_ms = $3, updated_at = $4, \
         error = NULL \
     WHERE chain_id = $1 AND batch_number = $2 AND status = 'in_progress' ",
    completed_witness_cols!()
);

pub(crate) const COMPLETE_LEAF_WITNESS_JOB: &str = concat!(
    "UPDATE leaf_witness_jobs SET status = 'successful', time_taken_ms = $2, updated_at = $3, \
         error = NULL \
     WHERE id = $1 AND status = 'in_progress' ",
    completed_witness_cols!(),
    ", circuit_id"
);

pub(crate) const COMPLETE_NODE_WITNESS_JOB: &str = concat!(
    "UPDATE node_witness_jobs SET status = 'successful', time_taken_ms = $2, updated_at = $3, \
         error = NULL \
     WHERE id = $1 AND status = 'in_progress' ",
    completed_witness_cols!(),
    ", circuit_id, depth"
);

pub(crate) const COMPLETE_RECURSION_TIP_WITNESS_JOB: &str = concat!(
    "UPDATE recursion_tip_witness_jobs SET status = 'successful', time_taken_ms = $3, \
         updated_at = $4, error = NULL \
     WHERE chain_id = $1 AND batch_number = $2 AND status = 'in_progress' ",
    completed_witness_cols!()
);

pub(crate) const COMPLETE_SCHEDULER_WITNESS_JOB: &str = concat!(
    "UPDATE scheduler_witness_jobs SET status = 'successful', time_taken_ms = $3, \
         updated_at = $4, error = NULL \
     WHERE chain_id = $1 AND batch_number = $2 AND status = 'in_progress' ",
    completed_witness_cols!()
);

/// Start of the multi-row prover job insert; the values follow (15 per row).
pub(crate) const INSERT_PROVER_JOBS_HEAD: &str = "\
    INSERT INTO prover_jobs (chain_id, batch_number, aggregation_round, circuit_id, depth, \
        sequence_number, circuit_blob_key, is_node_final_proof, protocol_version, \
        protocol_version_patch, status, priority, batch_sealed_at, created_at, updated_at) ";

pub(crate) const INSERT_PROVER_JOBS_TAIL: &str = " ON CONFLICT (chain_id, batch_number, \
    aggregation_round, circuit_id, depth, sequence_number) DO NOTHING";

/// Bind parameters per row of [`INSERT_PROVER_JOBS_HEAD`].
pub(crate) const PROVER_JOB_INSERT_PARAMS: usize = 15;

pub(crate) const INSERT_LEAF_WITNESS_JOB: &str = "\
    INSERT INTO leaf_witness_jobs (chain_id, batch_number, circuit_id, number_of_basic_circuits, \
        closed_form_inputs_blob_key, protocol_version, protocol_version_patch, status, priority, \
        batch_sealed_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting_for_proofs', $8, $9, $10, $10) \
    ON CONFLICT (chain_id, batch_number, circuit_id) DO NOTHING";

/// Inserts a node job waiting for `number_of_dependent_jobs` proofs (NULL: not known yet), or
/// fills in a waiting one's count and input.
pub(crate) const UPSERT_NODE_WITNESS_JOB: &str = "\
    INSERT INTO node_witness_jobs (chain_id, batch_number, circuit_id, depth, \
        aggregations_blob_key, number_of_dependent_jobs, protocol_version, protocol_version_patch, \
        status, priority, batch_sealed_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting_for_proofs', $9, $10, $11, $11) \
    ON CONFLICT (chain_id, batch_number, circuit_id, depth) DO UPDATE SET \
        aggregations_blob_key = COALESCE(excluded.aggregations_blob_key, \
                                         node_witness_jobs.aggregations_blob_key), \
        number_of_dependent_jobs = COALESCE(excluded.number_of_dependent_jobs, \
                                            node_witness_jobs.number_of_dependent_jobs), \
        updated_at = excluded.updated_at \
    WHERE node_witness_jobs.status = 'waiting_for_proofs'";

pub(crate) const INSERT_RECURSION_TIP_WITNESS_JOB: &str = "\
    INSERT INTO recursion_tip_witness_jobs (chain_id, batch_number, number_of_final_node_jobs, \
        protocol_version, protocol_version_patch, status, priority, batch_sealed_at, created_at, \
        updated_at) \
    VALUES ($1, $2, $3, $4, $5, 'waiting_for_proofs', $6, $7, $8, $8) \
    ON CONFLICT (chain_id, batch_number) DO NOTHING";

pub(crate) const INSERT_SCHEDULER_WITNESS_JOB: &str = "\
    INSERT INTO scheduler_witness_jobs (chain_id, batch_number, scheduler_partial_input_blob_key, \
        protocol_version, protocol_version_patch, status, priority, batch_sealed_at, created_at, \
        updated_at) \
    VALUES ($1, $2, $3, $4, $5, 'waiting_for_proofs', $6, $7, $8, $8) \
    ON CONFLICT (chain_id, batch_number) DO NOTHING";

// ---------------------------------------------------------------------------------------------
// Monitor: dependency catch-up
// ---------------------------------------------------------------------------------------------

pub(crate) const CATCH_UP_LEAF_JOBS: &str = "\
    UPDATE leaf_witness_jobs SET status = 'queued', updated_at = $1 \
    WHERE status = 'waiting_for_proofs' AND number_of_basic_circuits <= ( \
        SELECT COUNT(*) FROM prover_jobs p \
        WHERE p.chain_id = leaf_witness_jobs.chain_id \
          AND p.batch_number = leaf_witness_jobs.batch_number \
          AND p.aggregation_round = 0 AND p.circuit_id = leaf_witness_jobs.circuit_id \
          AND p.depth = 0 AND p.status = 'successful')";

pub(crate) const CATCH_UP_NODE_JOBS: &str = "\
    UPDATE node_witness_jobs SET status = 'queued', updated_at = $1 \
    WHERE status = 'waiting_for_proofs' AND number_of_dependent_jobs IS NOT NULL \
      AND number_of_dependent_jobs <= ( \
        SELECT COUNT(*) FROM prover_jobs p \
        WHERE p.chain_id = node_witness_jobs.chain_id \
          AND p.batch_number = node_witness_jobs.batch_number \
          AND p.circuit_id = node_witness_jobs.circuit_id AND p.status = 'successful' \
          AND ((node_witness_jobs.depth = 0 AND p.aggregation_round = 1 AND p.depth = 0) \
            OR (node_witness_jobs.depth > 0 AND p.aggregation_round = 2 \
                AND p.depth = node_witness_jobs.depth - 1)))";

pub(crate) const CATCH_UP_RECURSION_TIP_JOBS: &str = "\
    UPDATE recursion_tip_witness_jobs SET status = 'queued', updated_at = $1 \
    WHERE status = 'waiting_for_proofs' AND number_of_final_node_jobs <= ( \
        SELECT COUNT(*) FROM prover_jobs p \
        WHERE p.chain_id = recursion_tip_witness_jobs.chain_id \
          AND p.batch_number = recursion_tip_witness_jobs.batch_number \
          AND p.aggregation_round = 2 AND p.is_node_final_proof AND p.status = 'successful')";

pub(crate) const CATCH_UP_SCHEDULER_JOBS: &str = "\
    UPDATE scheduler_witness_jobs SET status = 'queued', updated_at = $1 \
    WHERE status = 'waiting_for_proofs' AND EXISTS ( \
        SELECT 1 FROM prover_jobs p \
        WHERE p.chain_id = scheduler_witness_jobs.chain_id \
          AND p.batch_number = scheduler_witness_jobs.batch_number \
          AND p.aggregation_round = 3 AND p.status = 'successful')";

pub(crate) const CATCH_UP_COMPRESSION_JOBS: &str = "\
    INSERT INTO proof_compression_jobs (chain_id, batch_number, scheduler_proof_blob_key, \
        protocol_version, protocol_version_patch, status, attempts, priority, batch_sealed_at, \
        created_at, updated_at) \
    SELECT p.chain_id, p.batch_number, p.proof_blob_key, p.protocol_version, \
        p.protocol_version_patch, 'queued', 0, p.priority, p.batch_sealed_at, $1, $1 \
    FROM prover_jobs p \
    WHERE p.aggregation_round = 4 AND p.status = 'successful' AND p.proof_blob_key IS NOT NULL \
      AND NOT EXISTS (SELECT 1 FROM proof_compression_jobs c \
                      WHERE c.chain_id = p.chain_id AND c.batch_number = p.batch_number) \
    ON CONFLICT (chain_id, batch_number) DO NOTHING";

// ---------------------------------------------------------------------------------------------
// Archive
// ---------------------------------------------------------------------------------------------

/// Batches whose prover jobs may be archived: $1 cut-off, $2 whether `successful` counts.
pub(crate) const SELECT_BATCHES_TO_ARCHIVE: &str = "\
    SELECT c.chain_id, c.batch_number FROM proof_compression_jobs c \
    WHERE (c.status = 'sent_to_server' OR ($2 AND c.status = 'successful')) \
      AND c.updated_at < $1 \
      AND EXISTS (SELECT 1 FROM prover_jobs p \
                  WHERE p.chain_id = c.chain_id AND p.batch_number = c.batch_number) \
    ORDER BY c.chain_id, c.batch_number";

macro_rules! prover_job_all_cols {
    () => {
        "id, chain_id, batch_number, aggregation_round, circuit_id, depth, sequence_number, \
         circuit_blob_key, proof_blob_key, is_node_final_proof, protocol_version, \
         protocol_version_patch, status, attempts, error, picked_by, priority, batch_sealed_at, \
         created_at, updated_at, processing_started_at, time_taken_ms"
    };
}

/// Copies a batch's prover jobs to the archive; columns are named on both sides, so the two
/// tables may evolve column order independently.
pub(crate) const COPY_BATCH_TO_ARCHIVE: &str = concat!(
    "INSERT INTO prover_jobs_archive (",
    prover_job_all_cols!(),
    ", archived_at) SELECT ",
    prover_job_all_cols!(),
    ", $3 FROM prover_jobs WHERE chain_id = $1 AND batch_number = $2 \
     ON CONFLICT (id) DO NOTHING"
);

pub(crate) const DELETE_ARCHIVED_BATCH: &str = "\
    DELETE FROM prover_jobs WHERE chain_id = $1 AND batch_number = $2 \
    RETURNING id, chain_id, batch_number, circuit_blob_key, proof_blob_key";

pub(crate) const DELETE_OLD_ARCHIVE_ROWS: &str =
    "DELETE FROM prover_jobs_archive WHERE archived_at < $1";

pub(crate) const COUNT_ARCHIVED_OF_BATCH: &str =
    "SELECT COUNT(*) FROM prover_jobs_archive WHERE chain_id = $1 AND batch_number = $2";

pub(crate) const DELETE_ARCHIVE_OF_BATCH: &str =
    "DELETE FROM prover_jobs_archive WHERE chain_id = $1 AND batch_number = $2";

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

pub(crate) const OLDEST_UNPROVEN_BATCHES: &str = "\
    SELECT aggregation_round, circuit_id, chain_id, MIN(batch_number) AS batch_number \
    FROM prover_jobs WHERE status <> 'successful' \
    GROUP BY aggregation_round, circuit_id, chain_id \
    ORDER BY aggregation_round, circuit_id, chain_id";

pub(crate) const OLDEST_UNCOMPRESSED_BATCH: &str = "\
    SELECT w.chain_id, w.batch_number FROM witness_inputs w \
    LEFT JOIN proof_compression_jobs c \
      ON c.chain_id = w.chain_id AND c.batch_number = w.batch_number \
    WHERE c.status IS NULL OR c.status NOT IN ('successful', 'sent_to_server') \
    ORDER BY w.batch_sealed_at, w.chain_id, w.batch_number LIMIT 1";

pub(crate) const BATCH_PROVING_TIMES: &str = "\
    SELECT w.chain_id, w.batch_number, w.created_at AS inserted_at, c.updated_at AS finished_at \
    FROM witness_inputs w JOIN proof_compression_jobs c \
      ON c.chain_id = w.chain_id AND c.batch_number = w.batch_number \
    WHERE c.status IN ('successful', 'sent_to_server') AND c.updated_at >= $1 \
    ORDER BY c.updated_at";

// ---------------------------------------------------------------------------------------------
// Statements over any job table
// ---------------------------------------------------------------------------------------------

/// `WHERE` condition selecting one row of `table` by its key: `id = $1`, or
/// `chain_id = $1 AND batch_number = $2`.
pub(crate) fn key_condition(table: JobTable) -> &'static str {
    if table.has_id() {
        "id = $1"
    } else {
        "chain_id = $1 AND batch_number = $2"
    }
}

/// Number of parameters [`key_condition`] uses.
pub(crate) fn key_params(table: JobTable) -> usize {
    if table.has_id() {
        1
    } else {
        2
    }
}

/// The uniform projection of a table into [`crate::rows::SummaryRow`], without `WHERE`.
pub(crate) fn summary_select(table: JobTable) -> &'static str {
    macro_rules! summary {
        ($id:literal, $round:literal, $circuit:literal, $depth:literal, $seq:literal,
         $input:literal, $output:literal, $table:literal) => {
            concat!(
                "SELECT ", $id, " AS id, chain_id, batch_number, protocol_version, \
                 protocol_version_patch, ", $round, " AS aggregation_round, ", $circuit,
                " AS circuit_id, ", $depth, " AS depth, ", $seq, " AS sequence_number, \
                 status, attempts, priority, error, picked_by, batch_sealed_at, created_at, \
                 updated_at, processing_started_at, time_taken_ms, ", $input,
                " AS input_blob_key, ", $output, " AS output_blob_key FROM ", $table
            )
        };
    }
    match table {
        JobTable::WitnessInputs => summary!(
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "witness_input_blob_key",
            "CAST(NULL AS TEXT)",
            "witness_inputs"
        ),
        JobTable::LeafWitnessJobs => summary!(
            "id",
            "CAST(NULL AS BIGINT)",
            "circuit_id",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "closed_form_inputs_blob_key",
            "CAST(NULL AS TEXT)",
            "leaf_witness_jobs"
        ),
        JobTable::NodeWitnessJobs => summary!(
            "id",
            "CAST(NULL AS BIGINT)",
            "circuit_id",
            "depth",
            "CAST(NULL AS BIGINT)",
            "aggregations_blob_key",
            "CAST(NULL AS TEXT)",
            "node_witness_jobs"
        ),
        JobTable::RecursionTipWitnessJobs => summary!(
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "recursion_tip_witness_jobs"
        ),
        JobTable::SchedulerWitnessJobs => summary!(
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "scheduler_partial_input_blob_key",
            "CAST(NULL AS TEXT)",
            "scheduler_witness_jobs"
        ),
        JobTable::ProverJobs => summary!(
            "id",
            "aggregation_round",
            "circuit_id",
            "depth",
            "sequence_number",
            "circuit_blob_key",
            "proof_blob_key",
            "prover_jobs"
        ),
        JobTable::CompressionJobs => summary!(
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS BIGINT)",
            "scheduler_proof_blob_key",
            "final_proof_blob_key",
            "proof_compression_jobs"
        ),
    }
}

/// The natural listing order of a table's rows within a batch.
pub(crate) fn summary_order(table: JobTable) -> &'static str {
    match table {
        JobTable::LeafWitnessJobs => " ORDER BY chain_id, batch_number, circuit_id",
        JobTable::NodeWitnessJobs => " ORDER BY chain_id, batch_number, depth, circuit_id",
        JobTable::ProverJobs => {
            " ORDER BY chain_id, batch_number, aggregation_round, circuit_id, depth, \
             sequence_number, id"
        }
        _ => " ORDER BY chain_id, batch_number",
    }
}

/// Rows per (version, round, circuit, status) of a table.
pub(crate) fn status_counts(table: JobTable) -> String {
    let (round, circuit, group) = match table {
        JobTable::ProverJobs => (
            "aggregation_round",
            "circuit_id",
            ", aggregation_round, circuit_id",
        ),
        JobTable::LeafWitnessJobs | JobTable::NodeWitnessJobs => {
            ("CAST(NULL AS BIGINT)", "circuit_id", ", circuit_id")
        }
        _ => ("CAST(NULL AS BIGINT)", "CAST(NULL AS BIGINT)", ""),
    };
    format!(
        "SELECT protocol_version, protocol_version_patch, {round} AS aggregation_round, \
         {circuit} AS circuit_id, status, COUNT(*) AS count FROM {t} \
         GROUP BY protocol_version, protocol_version_patch{group}, status",
        t = table.table_name()
    )
}

/// Moves jobs out of `in_progress` past the cut-off ($2) or `failed` to `attempts_exhausted`
/// when they have no attempts left ($3 = max attempts). $1 = now.
pub(crate) fn exhaust_stuck(table: JobTable) -> String {
    format!(
        "UPDATE {t} SET status = 'attempts_exhausted', updated_at = $1, \
             error = CASE WHEN status = 'in_progress' \
                          THEN 'timed out in progress (picked by ' || COALESCE(picked_by, 'unknown') || ')' \
                          ELSE error END \
         WHERE attempts >= $3 \
           AND (status = 'failed' OR (status = 'in_progress' AND processing_started_at < $2))",
        t = table.table_name()
    )
}

/// Same selection as [`exhaust_stuck`], with attempts left: back to `queued`. A `failed` job
/// waits out its retry backoff first: it failed at `updated_at`, and is requeued once that is
/// before the cut-off for its attempts so far ($4 after 1 attempt, $5 after 2, ... $8 after 5
/// or more; see `RetryBackoff`). A timed-out job is requeued at once: its timeout was its wait.
pub(crate) fn requeue_stuck(table: JobTable) -> String {
    format!(
        "UPDATE {t} SET status = 'queued', updated_at = $1, \
             error = CASE WHEN status = 'in_progress' \
                          THEN 'timed out in progress (picked by ' || COALESCE(picked_by, 'unknown') || ')' \
                          ELSE error END \
         WHERE attempts < $3 \
           AND ((status = 'failed' AND updated_at <= CASE WHEN attempts <= 1 THEN $4 \
                                                        WHEN attempts = 2 THEN $5 \
                                                        WHEN attempts = 3 THEN $6 \
                                                        WHEN attempts = 4 THEN $7 \
                                                        ELSE $8 END) \
                OR (status = 'in_progress' AND processing_started_at < $2))",
        t = table.table_name()
    )
}

/// Non-done jobs that used up their attempts ($1 = max attempts).
pub(crate) fn count_at_max_attempts(table: JobTable) -> String {
    format!(
        "SELECT COUNT(*) FROM {t} WHERE attempts >= $1 \
         AND status NOT IN ('successful', 'sent_to_server')",
        t = table.table_name()
    )
}

/// Operator requeue of a batch's exhausted, permanently failed and failed jobs: $1 chain, $2
/// batch, $3 now, $4 the attempts they restart from.
pub(crate) fn requeue_batch(table: JobTable) -> String {
    format!(
        "UPDATE {t} SET status = 'queued', attempts = $4, updated_at = $3, \
             error = 'manually requeued after: ' || COALESCE(error, 'no recorded error') \
         WHERE chain_id = $1 AND batch_number = $2 \
           AND status IN ('attempts_exhausted', 'failed_permanently', 'failed')",
        t = table.table_name()
    )
}

/// Fails a job that is in progress. Key parameters first (see [`key_condition`]), then error
/// and now.
pub(crate) fn fail_job(table: JobTable) -> String {
    let n = key_params(table);
    format!(
        "UPDATE {t} SET status = 'failed', error = ${e}, updated_at = ${now} \
         WHERE {key} AND status = 'in_progress'",
        t = table.table_name(),
        key = key_condition(table),
        e = n + 1,
        now = n + 2,
    )
}

/// Fails a job that is in progress for good: `failed_permanently`, which the requeuer never
/// touches. Parameters as [`fail_job`].
pub(crate) fn fail_job_permanently(table: JobTable) -> String {
    let n = key_params(table);
    format!(
        "UPDATE {t} SET status = 'failed_permanently', error = ${e}, updated_at = ${now} \
         WHERE {key} AND status = 'in_progress'",
        t = table.table_name(),
        key = key_condition(table),
        e = n + 1,
        now = n + 2,
    )
}

/// Puts a job back to `queued` with fresh attempts (operator restart). Jobs still waiting for
/// their dependencies are left alone: queuing them would hand out incomplete work.
pub(crate) fn restart_job(table: JobTable) -> String {
    let n = key_params(table);
    format!(
        "UPDATE {t} SET status = 'queued', attempts = 0, error = NULL, picked_by = NULL, \
             processing_started_at = NULL, updated_at = ${now} \
         WHERE {key} AND status <> 'waiting_for_proofs'",
        t = table.table_name(),
        key = key_condition(table),
        now = n + 1,
    )
}

/// The status of one job by key.
pub(crate) fn job_status(table: JobTable) -> String {
    format!(
        "SELECT status FROM {t} WHERE {key}",
        t = table.table_name(),
        key = key_condition(table)
    )
}

/// One job's summary by key.
pub(crate) fn job_summary(table: JobTable) -> String {
    format!("{} WHERE {}", summary_select(table), key_condition(table))
}

/// All of a batch's rows of a table.
pub(crate) fn batch_summaries(table: JobTable) -> String {
    format!(
        "{} WHERE chain_id = $1 AND batch_number = $2{}",
        summary_select(table),
        summary_order(table)
    )
}

/// Every row of a table in a status ($1).
pub(crate) fn summaries_with_status(table: JobTable) -> String {
    format!(
        "{} WHERE status = $1{}",
        summary_select(table),
        summary_order(table)
    )
}

pub(crate) fn delete_batch_rows(table: JobTable) -> String {
    format!(
        "DELETE FROM {t} WHERE chain_id = $1 AND batch_number = $2",
        t = table.table_name()
    )
}

pub(crate) fn set_batch_priority(table: JobTable) -> String {
    format!(
        "UPDATE {t} SET priority = $3, updated_at = $4 WHERE chain_id = $1 AND batch_number = $2",
        t = table.table_name()
    )
}

pub(crate) const RESTART_WITNESS_INPUT: &str = "\
    UPDATE witness_inputs SET status = 'queued', attempts = 0, error = NULL, picked_by = NULL, \
        processing_started_at = NULL, time_taken_ms = NULL, updated_at = $3 \
    WHERE chain_id = $1 AND batch_number = $2";

// ---------------------------------------------------------------------------------------------
// Fleet status (the job monitor's status page)
// ---------------------------------------------------------------------------------------------

/// `j` (a job table's alias) belongs to a batch whose final proof is not done yet.
macro_rules! unfinished_batch_of_j {
    () => {
        "NOT EXISTS (SELECT 1 FROM proof_compression_jobs c \
             WHERE c.chain_id = j.chain_id AND c.batch_number = j.batch_number \
               AND c.status IN ('successful', 'sent_to_server'))"
    };
}

/// The witness inputs of the batches whose final proof is not done, oldest sealed first;
/// $1 = limit.
pub(crate) fn unfinished_batches() -> String {
    format!(
        "{} j WHERE {} ORDER BY batch_sealed_at, chain_id, batch_number LIMIT $1",
        summary_select(JobTable::WitnessInputs),
        unfinished_batch_of_j!()
    )
}

/// Rows of `table` per (batch, round, status), for the batches whose final proof is not done.
pub(crate) fn unfinished_batch_job_counts(table: JobTable) -> String {
    let (round, group) = match table {
        JobTable::ProverJobs => ("aggregation_round", ", aggregation_round"),
        _ => ("CAST(NULL AS BIGINT)", ""),
    };
    format!(
        "SELECT chain_id, batch_number, {round} AS aggregation_round, status, COUNT(*) AS count \
         FROM {t} j WHERE {unfinished} \
         GROUP BY chain_id, batch_number{group}, status",
        t = table.table_name(),
        unfinished = unfinished_batch_of_j!(),
    )
}

/// The jobs of `table` in progress, longest running first; $1 = limit.
pub(crate) fn jobs_in_progress(table: JobTable) -> String {
    format!(
        "{} WHERE status = 'in_progress' \
         ORDER BY processing_started_at, chain_id, batch_number LIMIT $1",
        summary_select(table)
    )
}

/// The jobs of `table` whose last attempt failed (an error is recorded and the job is not
/// done), most recently changed first; $1 = limit.
pub(crate) fn recent_failures(table: JobTable) -> String {
    format!(
        "{} WHERE error IS NOT NULL AND status NOT IN ('successful', 'sent_to_server') \
         ORDER BY updated_at DESC, chain_id, batch_number LIMIT $1",
        summary_select(table)
    )
}

#[cfg(test)]
mod tests {
    use crate::{postgres, sqlite};

    /// Each backend's picks and dependent-row statements, in one order.
    macro_rules! dialect_set {
        ($sql:path) => {{
            use $sql as sql;
            [
                sql::PICK_BASIC_WITNESS_JOB,
                sql::PICK_LEAF_WITNESS_JOB,
                sql::PICK_NODE_WITNESS_JOB,
                sql::PICK_RECURSION_TIP_WITNESS_JOB,
                sql::PICK_SCHEDULER_WITNESS_JOB,
                sql::PICK_COMPRESSION_JOB,
                sql::PICK_PROVER_JOB_ANY,
                sql::PICK_PROVER_JOB_HEAVY,
                sql::PICK_PROVER_JOB_LIGHT,
                sql::PICK_MORE_PROVER_JOBS,
                sql::LOCK_LEAF_DEPENDENT,
                sql::LOCK_NODE_DEPENDENT,
                sql::LOCK_RECURSION_TIP_DEPENDENT,
                sql::LOCK_SCHEDULER_DEPENDENT,
            ]
        }};
    }

    /// The template's promise: the two dialects differ in their lock clauses and in how the
    /// heavy set's JSON is read, nowhere else; every PostgreSQL pick skips locked rows and
    /// every dependent read locks its row.
    #[test]
    fn dialects_differ_only_in_locks_and_json() {
        let pg = dialect_set!(postgres::sql);
        let lite = dialect_set!(sqlite::sql);
        for (pg, lite) in pg.iter().zip(lite) {
            if pg.starts_with("UPDATE") {
                assert_eq!(pg.matches(" FOR UPDATE SKIP LOCKED").count(), 1, "{pg}");
            } else {
                assert!(pg.ends_with(" FOR UPDATE"), "{pg}");
            }
            assert!(!lite.contains("FOR UPDATE"), "{lite}");
            let unlocked = pg
                .replace(" FOR UPDATE SKIP LOCKED", "")
                .replace(" FOR UPDATE", "")
                .replace(
                    "SELECT CAST(k AS BIGINT) FROM jsonb_array_elements_text(CAST($5 AS TEXT)::jsonb) AS k",
                    "SELECT value FROM json_each($5)",
                );
            assert_eq!(unlocked, lite);
        }
    }
}
