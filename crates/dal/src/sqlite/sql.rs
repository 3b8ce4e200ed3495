//! SQLite statements. Everything both dialects accept comes from [`crate::portable_sql`]; the
//! picks and dependent-row reads come from its one template (`dialect_statements!`) with no
//! lock clauses: SQLite has no row locks. Every write transaction of this crate starts with
//! `BEGIN IMMEDIATE`, which takes the database's single write lock up front, so a pick (select
//! the first queued row, mark it in progress) and a completion with its dependent queuing each
//! run alone, and no other transaction can complete a sibling dependency between a dependent's
//! read and its count. Readers are not blocked (WAL mode).

pub(crate) use crate::portable_sql::*;

pub(crate) use super::MAX_BIND_PARAMS;

crate::portable_sql::dialect_statements! {
    skip_locked: "",
    lock: "",
    heavy_keys: "SELECT value FROM json_each($5)",
}

/// Picks keep `BEGIN IMMEDIATE`: the write lock is the only thing that orders SQLite's pickers,
/// and a batched pick's statements see one another's result.
pub(crate) const PROVER_PICKS_IN_AUTOCOMMIT: bool = false;

/// SQLite completes from the application (`ops::completion`): one writer holds the database
/// at a time, so there is no row lock to hold across round trips.
pub(crate) const COMPLETE_PROVER_JOB_IN_SERVER: Option<&str> = None;

/// See [`COMPLETE_PROVER_JOB_IN_SERVER`].
pub(crate) const COMPLETE_PROVER_JOBS_IN_SERVER: Option<&str> = None;
