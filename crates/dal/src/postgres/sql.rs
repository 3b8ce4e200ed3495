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
