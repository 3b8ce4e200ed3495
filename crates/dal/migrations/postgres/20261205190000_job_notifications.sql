-- Wake-ups instead of polling (docs/database.md, "Wake-ups"): every statement that leaves a
-- row of a job table `queued` (an insert of queued jobs, a dependent queued by a completion, a
-- requeue, an operator's restart) notifies channel `zkfleet_jobs` with the table's name.
-- PostgreSQL delivers the notification when the transaction commits (never for a rolled-back
-- one) and folds identical notifications of one transaction into one, so whichever process
-- writes, every listening process learns that work appeared. Statement-level triggers with a
-- transition table: one check per statement, not per row (a basic witness job inserts
-- thousands of prover jobs in a few statements).
CREATE FUNCTION zkfleet_notify_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM zkfleet_new_rows WHERE status = 'queued') THEN
        PERFORM pg_notify('zkfleet_jobs', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END;
$$;

-- A trigger with a transition table may have only one event, hence two per table.
CREATE TRIGGER witness_inputs_notify_insert AFTER INSERT ON witness_inputs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
CREATE TRIGGER witness_inputs_notify_update AFTER UPDATE ON witness_inputs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();

CREATE TRIGGER leaf_witness_jobs_notify_insert AFTER INSERT ON leaf_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
CREATE TRIGGER leaf_witness_jobs_notify_update AFTER UPDATE ON leaf_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();

CREATE TRIGGER node_witness_jobs_notify_insert AFTER INSERT ON node_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
CREATE TRIGGER node_witness_jobs_notify_update AFTER UPDATE ON node_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();

CREATE TRIGGER recursion_tip_witness_jobs_notify_insert AFTER INSERT ON recursion_tip_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
CREATE TRIGGER recursion_tip_witness_jobs_notify_update AFTER UPDATE ON recursion_tip_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();

CREATE TRIGGER scheduler_witness_jobs_notify_insert AFTER INSERT ON scheduler_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
CREATE TRIGGER scheduler_witness_jobs_notify_update AFTER UPDATE ON scheduler_witness_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();

CREATE TRIGGER prover_jobs_notify_insert AFTER INSERT ON prover_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
CREATE TRIGGER prover_jobs_notify_update AFTER UPDATE ON prover_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();

CREATE TRIGGER proof_compression_jobs_notify_insert AFTER INSERT ON proof_compression_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
CREATE TRIGGER proof_compression_jobs_notify_update AFTER UPDATE ON proof_compression_jobs
    REFERENCING NEW TABLE AS zkfleet_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zkfleet_notify_queued();
