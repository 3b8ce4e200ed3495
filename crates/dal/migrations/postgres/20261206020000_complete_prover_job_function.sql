-- A prover job's completion in one statement (issue 21; docs/database.md, "Dependency counters
-- and in-transaction queuing").
--
-- A completion marks the job successful, then locks the witness job that depends on it
-- (`FOR UPDATE`) before checking whether all the proofs it waits for are done: of two
-- transactions completing its last two dependencies, the second waits on that lock until the
-- first commits and then counts with a fresh snapshot, so exactly one of them queues it. Sent
-- from the application, that is five round trips (BEGIN, the update, the lock, the check,
-- COMMIT), and the lock is held across the last two: every completion of one circuit type of a
-- batch waits for the round trips of the one before it. Measured with the database suite
-- (docs/benchmarks.md, "Job database"): with 16 workers over 3 circuit types the lock statement
-- averaged 2.6 ms, 15x any other statement of the cycle, and the waits (Lock:tuple /
-- Lock:transactionid) were what the active server backends were doing.
--
-- This function runs the same steps, statement for statement, inside the server: a PL/pgSQL
-- statement in a volatile function takes a new snapshot (READ COMMITTED), exactly like the next
-- statement of the application's transaction did, so the lock-then-count argument is unchanged;
-- called outside an explicit transaction it commits with its statement, and the lock is held
-- for microseconds instead of two round trips. The statements mirror
-- crates/dal/src/portable_sql.rs (COMPLETE_PROVER_JOB, LOCK_*_DEPENDENT,
-- UNFINISHED_SIBLING_EXISTS, COUNT_SUCCESSFUL_*, QUEUE_*_JOB, INSERT_COMPRESSION_JOB), which
-- SQLite (one writer at a time, no row locks) keeps running from the application.
--
-- One row back: `completed` false with the job's `job_status` (NULL: no such job) when it was
-- not in progress (nothing changed); otherwise true, with the dependent it queued, if any
-- (`queued_table` a job table's name, `queued_id` its id for tables keyed by id) and the job's
-- batch.
CREATE FUNCTION zkfleet_complete_prover_job(
    p_id BIGINT,
    p_proof_blob_key TEXT,
    p_time_taken_ms BIGINT,
    p_now TIMESTAMPTZ
)
RETURNS TABLE (
    completed BOOLEAN,
    job_status TEXT,
    job_chain_id BIGINT,
    job_batch_number BIGINT,
    queued_table TEXT,
    queued_id BIGINT
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    j RECORD;
    d RECORD;
    v_round BIGINT;
    v_circuit BIGINT;
    v_depth BIGINT;
    v_done BIGINT;
BEGIN
    UPDATE prover_jobs p
       SET status = 'successful', proof_blob_key = p_proof_blob_key,
           time_taken_ms = p_time_taken_ms, updated_at = p_now, error = NULL
     WHERE p.id = p_id AND p.status = 'in_progress'
    RETURNING p.chain_id, p.batch_number, p.aggregation_round, p.circuit_id, p.depth,
              p.is_node_final_proof, p.proof_blob_key, p.protocol_version,
              p.protocol_version_patch, p.priority, p.batch_sealed_at
    INTO j;
    IF NOT FOUND THEN
        RETURN QUERY SELECT FALSE, (SELECT p.status FROM prover_jobs p WHERE p.id = p_id),
            NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::BIGINT;
        RETURN;
    END IF;

    -- The dependent, locked; (v_round, v_circuit, v_depth) the proofs it waits for.
    IF j.aggregation_round = 0 THEN
        SELECT l.id, l.number_of_basic_circuits AS expected, l.status INTO d
          FROM leaf_witness_jobs l
         WHERE l.chain_id = j.chain_id AND l.batch_number = j.batch_number
           AND l.circuit_id = j.circuit_id
           FOR UPDATE;
        v_round := 0; v_circuit := j.circuit_id; v_depth := 0;
    ELSIF j.aggregation_round = 1 OR (j.aggregation_round = 2 AND NOT j.is_node_final_proof) THEN
        -- A leaf proof is aggregated by the node job of depth 0, a node proof of depth d by
        -- the node job of depth d + 1.
        SELECT n.id, n.number_of_dependent_jobs AS expected, n.status INTO d
          FROM node_witness_jobs n
         WHERE n.chain_id = j.chain_id AND n.batch_number = j.batch_number
           AND n.circuit_id = j.circuit_id
           AND n.depth = CASE WHEN j.aggregation_round = 1 THEN 0 ELSE j.depth + 1 END
           FOR UPDATE;
        v_round := j.aggregation_round; v_circuit := j.circuit_id;
        v_depth := CASE WHEN j.aggregation_round = 1 THEN 0 ELSE j.depth END;
    ELSIF j.aggregation_round = 2 THEN
        SELECT NULL::BIGINT AS id, r.number_of_final_node_jobs AS expected, r.status INTO d
          FROM recursion_tip_witness_jobs r
         WHERE r.chain_id = j.chain_id AND r.batch_number = j.batch_number
           FOR UPDATE;
    ELSIF j.aggregation_round = 3 THEN
        SELECT NULL::BIGINT AS id, 1::BIGINT AS expected, s.status INTO d
          FROM scheduler_witness_jobs s
         WHERE s.chain_id = j.chain_id AND s.batch_number = j.batch_number
           FOR UPDATE;
        IF FOUND AND d.status = 'waiting_for_proofs' THEN
            UPDATE scheduler_witness_jobs s SET status = 'queued', updated_at = p_now
             WHERE s.chain_id = j.chain_id AND s.batch_number = j.batch_number
               AND s.status = 'waiting_for_proofs';
            IF FOUND THEN
                RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
                    'scheduler_witness_jobs'::TEXT, NULL::BIGINT;
                RETURN;
            END IF;
        END IF;
        RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
            NULL::TEXT, NULL::BIGINT;
        RETURN;
    ELSIF j.aggregation_round = 4 THEN
        INSERT INTO proof_compression_jobs (chain_id, batch_number, scheduler_proof_blob_key,
            protocol_version, protocol_version_patch, status, attempts, priority,
            batch_sealed_at, created_at, updated_at)
        VALUES (j.chain_id, j.batch_number, COALESCE(j.proof_blob_key, ''), j.protocol_version,
            j.protocol_version_patch, 'queued', 0, j.priority, j.batch_sealed_at, p_now, p_now)
        ON CONFLICT (chain_id, batch_number) DO NOTHING;
        RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
            CASE WHEN FOUND THEN 'proof_compression_jobs' END, NULL::BIGINT;
        RETURN;
    ELSE
        RAISE EXCEPTION 'prover_jobs: aggregation_round = % is not in 0..=4', j.aggregation_round
            USING ERRCODE = 'data_corrupted';
    END IF;

    -- Not waiting (already queued or further), or a node job whose count is not filled in
    -- yet (it waits for its leaf witness generation): nothing to queue.
    IF NOT FOUND OR d.status <> 'waiting_for_proofs' OR d.expected IS NULL THEN
        RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
            NULL::TEXT, NULL::BIGINT;
        RETURN;
    END IF;

    IF j.aggregation_round = 2 AND j.is_node_final_proof THEN
        SELECT COUNT(*) INTO v_done FROM prover_jobs p
         WHERE p.chain_id = j.chain_id AND p.batch_number = j.batch_number
           AND p.aggregation_round = 2 AND p.is_node_final_proof AND p.status = 'successful';
    ELSE
        -- Cheap first (the probe stops at the first hit): count only when this may be the last.
        IF EXISTS (SELECT 1 FROM prover_jobs p
                    WHERE p.chain_id = j.chain_id AND p.batch_number = j.batch_number
                      AND p.aggregation_round = v_round AND p.circuit_id = v_circuit
                      AND p.depth = v_depth
                      AND p.status IN ('queued', 'in_progress', 'failed', 'attempts_exhausted',
                                       'failed_permanently', 'waiting_for_proofs',
                                       'sent_to_server')) THEN
            RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
                NULL::TEXT, NULL::BIGINT;
            RETURN;
        END IF;
        SELECT COUNT(*) INTO v_done FROM prover_jobs p
         WHERE p.chain_id = j.chain_id AND p.batch_number = j.batch_number
           AND p.aggregation_round = v_round AND p.circuit_id = v_circuit
           AND p.depth = v_depth AND p.status = 'successful';
    END IF;
    IF v_done < d.expected THEN
        RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
            NULL::TEXT, NULL::BIGINT;
        RETURN;
    END IF;

    IF j.aggregation_round = 0 THEN
        UPDATE leaf_witness_jobs l SET status = 'queued', updated_at = p_now
         WHERE l.id = d.id AND l.status = 'waiting_for_proofs';
        RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
            CASE WHEN FOUND THEN 'leaf_witness_jobs' END, d.id;
    ELSIF j.aggregation_round = 2 AND j.is_node_final_proof THEN
        UPDATE recursion_tip_witness_jobs r SET status = 'queued', updated_at = p_now
         WHERE r.chain_id = j.chain_id AND r.batch_number = j.batch_number
           AND r.status = 'waiting_for_proofs';
        RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
            CASE WHEN FOUND THEN 'recursion_tip_witness_jobs' END, NULL::BIGINT;
    ELSE
        UPDATE node_witness_jobs n SET status = 'queued', updated_at = p_now
         WHERE n.id = d.id AND n.status = 'waiting_for_proofs';
        RETURN QUERY SELECT TRUE, 'successful'::TEXT, j.chain_id, j.batch_number,
            CASE WHEN FOUND THEN 'node_witness_jobs' END, d.id;
    END IF;
END;
$$;
