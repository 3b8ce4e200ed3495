-- Intake arbitration (docs/database.md, "Submissions"): the SHA-256 of a batch's witness input,
-- written by the insert that wins the batch. A later or concurrent submission compares its own
-- digest with this one: equal is "already known", different is a conflict. NULL for rows
-- inserted before intake recorded it (they are compared by reading their blob).
ALTER TABLE witness_inputs ADD COLUMN witness_input_digest TEXT;
