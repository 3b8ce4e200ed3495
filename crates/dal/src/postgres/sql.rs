//! PostgreSQL statements. Everything both dialects accept comes from [`crate::portable_sql`];
//! the picks and dependent-row locks come from its one template (`dialect_statements!`), with
//! PostgreSQL's row locks filled in: picks lock their candidate with `FOR UPDATE SKIP LOCKED`
//! (concurrent pickers skip it and take the next one), and dependent queuing locks the
//! dependent row with `FOR UPDATE` before counting its finished dependencies. A second
//! transaction completing a sibling dependency waits on that lock until the first commits, then
//! counts again with a fresh snapshot (READ COMMITTED), so exactly one of them sees the full
//! count.

pub(crate) use crate::portable_sql::*;

pub(crate) use super::MAX_BIND_PARAMS;

crate::portable_sql::dialect_statements! {
    skip_locked: " FOR UPDATE SKIP LOCKED",
    lock: " FOR UPDATE",
    heavy_keys: "SELECT CAST(k AS BIGINT) FROM jsonb_array_elements_text(CAST($5 AS TEXT)::jsonb) AS k",
}

/// Prover-job picks run outside an explicit transaction: each is one statement (the candidate
/// `SELECT … FOR UPDATE SKIP LOCKED` and its `UPDATE`), atomic on its own, so `BEGIN` and
/// `COMMIT` were two round trips of the three a pick cost (issue 21). A batched pick's second
/// statement commits separately from its first; a worker killed between them holds the first
/// job in progress until the requeuer's timeout, as one killed after a single pick does.
pub(crate) const PROVER_PICKS_IN_AUTOCOMMIT: bool = true;

/// A prover job's completion with its dependent queuing, in one statement: the server-side
/// function of migration 20261206020000 runs the statements of `ops::completion` in order,
/// each with its own snapshot, so the dependent's row lock is held for the function's
/// microseconds instead of the application's last two round trips. $1 id, $2 proof blob key,
/// $3 time taken (ms), $4 now; one [`crate::rows::ServerCompletionRow`].
pub(crate) const COMPLETE_PROVER_JOB_IN_SERVER: Option<&str> = Some(
    "SELECT completed, job_status, job_chain_id, job_batch_number, queued_table, queued_id \
     FROM zkfleet_complete_prover_job($1, $2, $3, $4)",
);

/// Several completions in one statement (run inside the batched completion's transaction): the
/// server-side completion of each proof, one after the other, in the global order in which
/// dependents are locked (`ops::completion::dependent_lock_order`: table in round order, chain,
/// batch, circuit, depth), so two batched completions never wait for each other in a cycle.
/// $1 ids, $2 proof blob keys, $3 times taken (ms): arrays of one length; $4 now. One
/// [`crate::rows::ServerCompletionRow`] per proof, with `position` its 1-based place in $1.
pub(crate) const COMPLETE_PROVER_JOBS_IN_SERVER: Option<&str> = Some(
    "SELECT s.position, f.completed, f.job_status, f.job_chain_id, f.job_batch_number, \
         f.queued_table, f.queued_id \
     FROM (SELECT u.position, u.id, u.proof_blob_key, u.time_taken_ms \
           FROM unnest(CAST($1 AS BIGINT[]), CAST($2 AS TEXT[]), CAST($3 AS BIGINT[])) \
                WITH ORDINALITY AS u(id, proof_blob_key, time_taken_ms, position) \
           LEFT JOIN prover_jobs p ON p.id = u.id \
           ORDER BY CASE WHEN p.aggregation_round = 2 AND p.is_node_final_proof THEN 2 \
                         WHEN p.aggregation_round = 2 THEN 1 \
                         ELSE p.aggregation_round END, \
                    p.chain_id, p.batch_number, \
                    CASE WHEN p.aggregation_round IN (0, 1) \
                           OR (p.aggregation_round = 2 AND NOT p.is_node_final_proof) \
                         THEN p.circuit_id ELSE 0 END, \
                    CASE WHEN p.aggregation_round = 2 AND NOT p.is_node_final_proof \
                         THEN p.depth + 1 ELSE 0 END, \
                    u.position) s \
     CROSS JOIN LATERAL zkfleet_complete_prover_job(s.id, s.proof_blob_key, s.time_taken_ms, $4) f",
);
