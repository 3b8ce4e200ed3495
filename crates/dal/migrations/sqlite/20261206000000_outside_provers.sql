-- Outside provers (docs/prover-api.md): provers the operator does not trust, registered by an
-- Ed25519 public key, that take prover jobs through the prover API under leases. Timestamps are
-- bound by the application, as everywhere else.

-- One row per registered outside prover. status: 'active' | 'suspended'.
CREATE TABLE outside_provers (
    name              TEXT        PRIMARY KEY,
    public_key        TEXT        NOT NULL UNIQUE,   -- 64 hex digits (Ed25519)
    status            TEXT        NOT NULL,
    status_reason     TEXT,
    status_changed_at TEXT NOT NULL,   -- auto-suspension counts penalties after this
    created_at        TEXT NOT NULL
);

-- Login challenges: single use (consumed by a DELETE ... RETURNING) and expiring.
CREATE TABLE outside_prover_challenges (
    challenge   TEXT        PRIMARY KEY,
    prover_name TEXT        NOT NULL REFERENCES outside_provers (name) ON DELETE CASCADE,
    expires_at  TEXT NOT NULL
);

-- Sessions: the SHA-256 of the bearer token handed out at login, never the token itself.
CREATE TABLE outside_prover_sessions (
    token_hash  TEXT        PRIMARY KEY,
    prover_name TEXT        NOT NULL REFERENCES outside_provers (name) ON DELETE CASCADE,
    expires_at  TEXT NOT NULL
);

-- Leases: one prover job handed to one outside prover until a deadline. fencing_token is the
-- job's attempts after the lease's pick: a lease whose token is no longer the job's attempts
-- (the job was requeued and picked again) can no longer extend or requeue anything.
-- status: 'active' | 'accepted' | 'refused' | 'expired' | 'superseded' | 'released'.
CREATE TABLE outside_prover_leases (
    id                INTEGER     PRIMARY KEY AUTOINCREMENT,
    prover_job_id     BIGINT      NOT NULL,
    prover_name       TEXT        NOT NULL,
    fencing_token     BIGINT      NOT NULL,
    aggregation_round BIGINT      NOT NULL,
    circuit_id        BIGINT      NOT NULL,
    status            TEXT        NOT NULL,
    leased_at         TEXT NOT NULL,
    deadline          TEXT NOT NULL,
    settled_at        TEXT,
    UNIQUE (prover_job_id, fencing_token)
);
CREATE INDEX outside_prover_leases_active_idx ON outside_prover_leases (status, deadline);
CREATE INDEX outside_prover_leases_prover_idx ON outside_prover_leases (prover_name, status);
CREATE INDEX outside_prover_leases_job_idx ON outside_prover_leases (prover_job_id, prover_name);

-- The ledger: one row per thing that happened to a prover. kind: 'leased' | 'accepted' |
-- 'refused' | 'missed'. reason: the refusal's code; penalized: whether it counts towards
-- auto-suspension. No foreign key: the ledger outlives a removed prover.
CREATE TABLE outside_prover_events (
    id            INTEGER     PRIMARY KEY AUTOINCREMENT,
    prover_name   TEXT        NOT NULL,
    lease_id      BIGINT,
    prover_job_id BIGINT,
    kind          TEXT        NOT NULL,
    reason        TEXT,
    detail        TEXT,
    penalized     BOOLEAN     NOT NULL DEFAULT FALSE,
    proving_ms    BIGINT      NOT NULL DEFAULT 0,
    earnings      BIGINT      NOT NULL DEFAULT 0,
    at            TEXT NOT NULL
);
CREATE INDEX outside_prover_events_prover_idx ON outside_prover_events (prover_name, kind, at);
