-- Wake-up triggers, row-level (issue 21): the statement-level triggers of
-- 20261205190000_job_notifications.sql ran for every UPDATE and INSERT of a job table — every
-- pick and every completion — and each time PostgreSQL captured the statement's rows into a
-- transition table and called the PL/pgSQL function to look for a `queued` row, although a
-- pick or a completion leaves none. That work is on the hot path; its cost is suspected, not
-- established: the database suite's same-run comparison (`zkfleet bench --suites db`, the rows
-- with the triggers disabled) went both ways (docs/benchmarks.md, "Job database").
--
-- Row-level triggers with a WHEN condition test `NEW.status = 'queued'` in the executor, with
-- no function call and no transition table, and call the function only for a row that is
-- queued: the same rows notify as before (an insert of queued jobs, a dependent queued by a
-- completion, a requeue, an operator's restart or priority change of queued rows, a
-- hand-written UPDATE). PostgreSQL folds identical notifications of one transaction into one
-- (a hash table past 16), so the thousands of prover jobs a witness generation inserts still
-- cost one notification, delivered at commit.
CREATE FUNCTION zkfleet_notify_queued_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('zkfleet_jobs', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

DROP TRIGGER witness_inputs_notify_insert ON witness_inputs;
DROP TRIGGER witness_inputs_notify_update ON witness_inputs;
CREATE TRIGGER witness_inputs_notify_insert AFTER INSERT ON witness_inputs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();
CREATE TRIGGER witness_inputs_notify_update AFTER UPDATE ON witness_inputs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();

DROP TRIGGER leaf_witness_jobs_notify_insert ON leaf_witness_jobs;
DROP TRIGGER leaf_witness_jobs_notify_update ON leaf_witness_jobs;
CREATE TRIGGER leaf_witness_jobs_notify_insert AFTER INSERT ON leaf_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();
CREATE TRIGGER leaf_witness_jobs_notify_update AFTER UPDATE ON leaf_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();

DROP TRIGGER node_witness_jobs_notify_insert ON node_witness_jobs;
DROP TRIGGER node_witness_jobs_notify_update ON node_witness_jobs;
CREATE TRIGGER node_witness_jobs_notify_insert AFTER INSERT ON node_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();
CREATE TRIGGER node_witness_jobs_notify_update AFTER UPDATE ON node_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();

DROP TRIGGER recursion_tip_witness_jobs_notify_insert ON recursion_tip_witness_jobs;
DROP TRIGGER recursion_tip_witness_jobs_notify_update ON recursion_tip_witness_jobs;
CREATE TRIGGER recursion_tip_witness_jobs_notify_insert AFTER INSERT ON recursion_tip_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();
CREATE TRIGGER recursion_tip_witness_jobs_notify_update AFTER UPDATE ON recursion_tip_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();

DROP TRIGGER scheduler_witness_jobs_notify_insert ON scheduler_witness_jobs;
DROP TRIGGER scheduler_witness_jobs_notify_update ON scheduler_witness_jobs;
CREATE TRIGGER scheduler_witness_jobs_notify_insert AFTER INSERT ON scheduler_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();
CREATE TRIGGER scheduler_witness_jobs_notify_update AFTER UPDATE ON scheduler_witness_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();

DROP TRIGGER prover_jobs_notify_insert ON prover_jobs;
DROP TRIGGER prover_jobs_notify_update ON prover_jobs;
CREATE TRIGGER prover_jobs_notify_insert AFTER INSERT ON prover_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();
CREATE TRIGGER prover_jobs_notify_update AFTER UPDATE ON prover_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();

DROP TRIGGER proof_compression_jobs_notify_insert ON proof_compression_jobs;
DROP TRIGGER proof_compression_jobs_notify_update ON proof_compression_jobs;
CREATE TRIGGER proof_compression_jobs_notify_insert AFTER INSERT ON proof_compression_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();
CREATE TRIGGER proof_compression_jobs_notify_update AFTER UPDATE ON proof_compression_jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION zkfleet_notify_queued_row();

DROP FUNCTION zkfleet_notify_queued();
