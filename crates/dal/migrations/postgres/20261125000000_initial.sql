-- zkfleet job database, PostgreSQL flavour (see docs/database.md).
--
-- Every integer column is BIGINT so that both backends decode every number as i64, and every
-- timestamp is written by the application (never a database default), so that SQLite and
-- PostgreSQL rows compare the same way.

CREATE TABLE protocol_versions (
    minor                    BIGINT      NOT NULL,
    patch                    BIGINT      NOT NULL,
    recursion_tree_vk_digest TEXT        NOT NULL,
    final_vk_digest          TEXT        NOT NULL,
    created_at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (minor, patch)
);

-- Round 0 witness generation: one row per batch.
CREATE TABLE witness_inputs (
    chain_id               BIGINT      NOT NULL,
    batch_number           BIGINT      NOT NULL,
    witness_input_blob_key TEXT        NOT NULL,
    protocol_version       BIGINT      NOT NULL,
    protocol_version_patch BIGINT      NOT NULL,
    status                 TEXT        NOT NULL,
    attempts               BIGINT      NOT NULL DEFAULT 0,
    error                  TEXT,
    picked_by              TEXT,
    priority               BIGINT      NOT NULL DEFAULT 0,
    batch_sealed_at        TIMESTAMPTZ NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    processing_started_at  TIMESTAMPTZ,
    time_taken_ms          BIGINT,
    PRIMARY KEY (chain_id, batch_number),
    FOREIGN KEY (protocol_version, protocol_version_patch) REFERENCES protocol_versions (minor, patch)
);
CREATE INDEX witness_inputs_queued_idx ON witness_inputs
    (protocol_version, protocol_version_patch, priority DESC, batch_sealed_at, chain_id, batch_number)
    WHERE status = 'queued';
CREATE INDEX witness_inputs_requeue_idx ON witness_inputs (status, processing_started_at)
    WHERE status IN ('in_progress', 'failed');

-- Round 1 witness generation: one row per (batch, basic circuit type present).
CREATE TABLE leaf_witness_jobs (
    id                          BIGSERIAL   PRIMARY KEY,
    chain_id                    BIGINT      NOT NULL,
    batch_number                BIGINT      NOT NULL,
    circuit_id                  BIGINT      NOT NULL,
    number_of_basic_circuits    BIGINT      NOT NULL,
    closed_form_inputs_blob_key TEXT        NOT NULL,
    protocol_version            BIGINT      NOT NULL,
    protocol_version_patch      BIGINT      NOT NULL,
    status                      TEXT        NOT NULL,
    attempts                    BIGINT      NOT NULL DEFAULT 0,
    error                       TEXT,
    picked_by                   TEXT,
    priority                    BIGINT      NOT NULL DEFAULT 0,
    batch_sealed_at             TIMESTAMPTZ NOT NULL,
    created_at                  TIMESTAMPTZ NOT NULL,
    updated_at                  TIMESTAMPTZ NOT NULL,
    processing_started_at       TIMESTAMPTZ,
    time_taken_ms               BIGINT,
    UNIQUE (chain_id, batch_number, circuit_id),
    FOREIGN KEY (protocol_version, protocol_version_patch) REFERENCES protocol_versions (minor, patch)
);
CREATE INDEX leaf_witness_jobs_queued_idx ON leaf_witness_jobs
    (protocol_version, protocol_version_patch, priority DESC, batch_sealed_at, circuit_id, id)
    WHERE status = 'queued';
CREATE INDEX leaf_witness_jobs_requeue_idx ON leaf_witness_jobs (status, processing_started_at)
    WHERE status IN ('in_progress', 'failed');
CREATE INDEX leaf_witness_jobs_waiting_idx ON leaf_witness_jobs (chain_id, batch_number)
    WHERE status = 'waiting_for_proofs';

-- Round 2 witness generation: one row per (batch, basic circuit type, depth).
CREATE TABLE node_witness_jobs (
    id                       BIGSERIAL   PRIMARY KEY,
    chain_id                 BIGINT      NOT NULL,
    batch_number             BIGINT      NOT NULL,
    circuit_id               BIGINT      NOT NULL,
    depth                    BIGINT      NOT NULL DEFAULT 0,
    aggregations_blob_key    TEXT,
    number_of_dependent_jobs BIGINT,
    protocol_version         BIGINT      NOT NULL,
    protocol_version_patch   BIGINT      NOT NULL,
    status                   TEXT        NOT NULL,
    attempts                 BIGINT      NOT NULL DEFAULT 0,
    error                    TEXT,
    picked_by                TEXT,
    priority                 BIGINT      NOT NULL DEFAULT 0,
    batch_sealed_at          TIMESTAMPTZ NOT NULL,
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL,
    processing_started_at    TIMESTAMPTZ,
    time_taken_ms            BIGINT,
    UNIQUE (chain_id, batch_number, circuit_id, depth),
    FOREIGN KEY (protocol_version, protocol_version_patch) REFERENCES protocol_versions (minor, patch)
);
CREATE INDEX node_witness_jobs_queued_idx ON node_witness_jobs
    (protocol_version, protocol_version_patch, priority DESC, batch_sealed_at, depth, circuit_id, id)
    WHERE status = 'queued';
CREATE INDEX node_witness_jobs_requeue_idx ON node_witness_jobs (status, processing_started_at)
    WHERE status IN ('in_progress', 'failed');
CREATE INDEX node_witness_jobs_waiting_idx ON node_witness_jobs (chain_id, batch_number)
    WHERE status = 'waiting_for_proofs';

-- Round 3 witness generation: one row per batch.
CREATE TABLE recursion_tip_witness_jobs (
    chain_id                  BIGINT      NOT NULL,
    batch_number              BIGINT      NOT NULL,
    number_of_final_node_jobs BIGINT      NOT NULL,
    protocol_version          BIGINT      NOT NULL,
    protocol_version_patch    BIGINT      NOT NULL,
    status                    TEXT        NOT NULL,
    attempts                  BIGINT      NOT NULL DEFAULT 0,
    error                     TEXT,
    picked_by                 TEXT,
    priority                  BIGINT      NOT NULL DEFAULT 0,
    batch_sealed_at           TIMESTAMPTZ NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL,
    processing_started_at     TIMESTAMPTZ,
    time_taken_ms             BIGINT,
    PRIMARY KEY (chain_id, batch_number),
    FOREIGN KEY (protocol_version, protocol_version_patch) REFERENCES protocol_versions (minor, patch)
);
CREATE INDEX recursion_tip_witness_jobs_queued_idx ON recursion_tip_witness_jobs
    (protocol_version, protocol_version_patch, priority DESC, batch_sealed_at, chain_id, batch_number)
    WHERE status = 'queued';
CREATE INDEX recursion_tip_witness_jobs_requeue_idx ON recursion_tip_witness_jobs (status, processing_started_at)
    WHERE status IN ('in_progress', 'failed');

-- Round 4 witness generation: one row per batch.
CREATE TABLE scheduler_witness_jobs (
    chain_id                         BIGINT      NOT NULL,
    batch_number                     BIGINT      NOT NULL,
    scheduler_partial_input_blob_key TEXT        NOT NULL,
    protocol_version                 BIGINT      NOT NULL,
    protocol_version_patch           BIGINT      NOT NULL,
    status                           TEXT        NOT NULL,
    attempts                         BIGINT      NOT NULL DEFAULT 0,
    error                            TEXT,
    picked_by                        TEXT,
    priority                         BIGINT      NOT NULL DEFAULT 0,
    batch_sealed_at                  TIMESTAMPTZ NOT NULL,
    created_at                       TIMESTAMPTZ NOT NULL,
    updated_at                       TIMESTAMPTZ NOT NULL,
    processing_started_at            TIMESTAMPTZ,
    time_taken_ms                    BIGINT,
    PRIMARY KEY (chain_id, batch_number),
    FOREIGN KEY (protocol_version, protocol_version_patch) REFERENCES protocol_versions (minor, patch)
);
CREATE INDEX scheduler_witness_jobs_queued_idx ON scheduler_witness_jobs
    (protocol_version, protocol_version_patch, priority DESC, batch_sealed_at, chain_id, batch_number)
    WHERE status = 'queued';
CREATE INDEX scheduler_witness_jobs_requeue_idx ON scheduler_witness_jobs (status, processing_started_at)
    WHERE status IN ('in_progress', 'failed');

-- One row per circuit to prove, every round.
CREATE TABLE prover_jobs (
    id                     BIGSERIAL   PRIMARY KEY,
    chain_id               BIGINT      NOT NULL,
    batch_number           BIGINT      NOT NULL,
    aggregation_round      BIGINT      NOT NULL,
    circuit_id             BIGINT      NOT NULL,
    depth                  BIGINT      NOT NULL DEFAULT 0,
    sequence_number        BIGINT      NOT NULL,
    circuit_blob_key       TEXT        NOT NULL,
    proof_blob_key         TEXT,
    is_node_final_proof    BOOLEAN     NOT NULL DEFAULT FALSE,
    protocol_version       BIGINT      NOT NULL,
    protocol_version_patch BIGINT      NOT NULL,
    status                 TEXT        NOT NULL,
    attempts               BIGINT      NOT NULL DEFAULT 0,
    error                  TEXT,
    picked_by              TEXT,
    priority               BIGINT      NOT NULL DEFAULT 0,
    batch_sealed_at        TIMESTAMPTZ NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    processing_started_at  TIMESTAMPTZ,
    time_taken_ms          BIGINT,
    UNIQUE (chain_id, batch_number, aggregation_round, circuit_id, depth, sequence_number),
    FOREIGN KEY (protocol_version, protocol_version_patch) REFERENCES protocol_versions (minor, patch)
);
-- The pick: equality on the version, then exactly the ORDER BY of the pick query.
CREATE INDEX prover_jobs_queued_idx ON prover_jobs
    (protocol_version, protocol_version_patch, priority DESC, batch_sealed_at, aggregation_round,
     circuit_id, depth, sequence_number, id)
    WHERE status = 'queued';
CREATE INDEX prover_jobs_requeue_idx ON prover_jobs (status, processing_started_at)
    WHERE status IN ('in_progress', 'failed');
-- Dependency counting and per-batch listing.
CREATE INDEX prover_jobs_batch_idx ON prover_jobs
    (chain_id, batch_number, aggregation_round, circuit_id, depth, status);

-- Prover jobs of finished batches. Columns are listed explicitly on every copy.
CREATE TABLE prover_jobs_archive (
    id                     BIGINT      PRIMARY KEY,
    chain_id               BIGINT      NOT NULL,
    batch_number           BIGINT      NOT NULL,
    aggregation_round      BIGINT      NOT NULL,
    circuit_id             BIGINT      NOT NULL,
    depth                  BIGINT      NOT NULL,
    sequence_number        BIGINT      NOT NULL,
    circuit_blob_key       TEXT        NOT NULL,
    proof_blob_key         TEXT,
    is_node_final_proof    BOOLEAN     NOT NULL,
    protocol_version       BIGINT      NOT NULL,
    protocol_version_patch BIGINT      NOT NULL,
    status                 TEXT        NOT NULL,
    attempts               BIGINT      NOT NULL,
    error                  TEXT,
    picked_by              TEXT,
    priority               BIGINT      NOT NULL,
    batch_sealed_at        TIMESTAMPTZ NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    processing_started_at  TIMESTAMPTZ,
    time_taken_ms          BIGINT,
    archived_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX prover_jobs_archive_archived_at_idx ON prover_jobs_archive (archived_at);
CREATE INDEX prover_jobs_archive_batch_idx ON prover_jobs_archive (chain_id, batch_number);

-- Compression of the scheduler proof: one row per batch.
CREATE TABLE proof_compression_jobs (
    chain_id                 BIGINT      NOT NULL,
    batch_number             BIGINT      NOT NULL,
    scheduler_proof_blob_key TEXT        NOT NULL,
    final_proof_blob_key     TEXT,
    protocol_version         BIGINT      NOT NULL,
    protocol_version_patch   BIGINT      NOT NULL,
    status                   TEXT        NOT NULL,
    attempts                 BIGINT      NOT NULL DEFAULT 0,
    error                    TEXT,
    picked_by                TEXT,
    priority                 BIGINT      NOT NULL DEFAULT 0,
    batch_sealed_at          TIMESTAMPTZ NOT NULL,
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL,
    processing_started_at    TIMESTAMPTZ,
    time_taken_ms            BIGINT,
    PRIMARY KEY (chain_id, batch_number),
    FOREIGN KEY (protocol_version, protocol_version_patch) REFERENCES protocol_versions (minor, patch)
);
CREATE INDEX proof_compression_jobs_queued_idx ON proof_compression_jobs
    (protocol_version, protocol_version_patch, priority DESC, batch_sealed_at, chain_id, batch_number)
    WHERE status = 'queued';
CREATE INDEX proof_compression_jobs_requeue_idx ON proof_compression_jobs (status, processing_started_at)
    WHERE status IN ('in_progress', 'failed');
CREATE INDEX proof_compression_jobs_archive_idx ON proof_compression_jobs (status, updated_at);
