//! The PostgreSQL backend: the distributed engine, shared by every machine of a fleet.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Postgres;

use crate::connection::PoolOptions;
use crate::error::{DalError, DalResult};

pub(crate) type Db = Postgres;

pub(crate) mod sql;

// The operations are shared with the other backend: the same file is mounted under each
// backend module, where `super::{Db, sql, begin_write}` resolve to that backend's own.
#[allow(clippy::duplicate_mod)]
#[path = "../ops/mod.rs"]
pub(crate) mod ops;

/// Largest number of bind parameters in one statement (PostgreSQL's wire protocol counts them
/// in an unsigned 16-bit integer).
pub(crate) const MAX_BIND_PARAMS: usize = 65_535;

/// Migrations of `migrations/postgres`, embedded at compile time.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Begins a write transaction. READ COMMITTED: row locks (`FOR UPDATE [SKIP LOCKED]`) provide
/// the isolation the job transitions need.
pub(crate) async fn begin_write(
    pool: &sqlx::Pool<Db>,
) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

pub(crate) async fn connect(url: &str, options: &PoolOptions) -> DalResult<sqlx::Pool<Db>> {
    let connect_options = PgConnectOptions::from_str(url).map_err(|e| DalError::InvalidUrl {
        url: crate::connection::redact(url),
        reason: e.to_string(),
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .min_connections(options.min_connections)
        .acquire_timeout(options.acquire_timeout)
        // No ping on every acquire: it is one more round trip (and a wake-up of the server's
        // backend) per transaction — 2 of the 12 a job's pick + completion cost, on the hot
        // path of every worker (issue 21). sqlx still pings each connection when it goes back
        // to the pool and closes it if that fails, so a dead connection is caught there; one
        // that dies while idle fails its next operation once, with the transient connection
        // error a server restart gives today.
        .test_before_acquire(false)
        .connect_with(connect_options)
        .await
        .map_err(DalError::Connection)?;
    Ok(pool)
}

/// Runs `sql::COMPLETE_PROVER_JOBS_IN_SERVER` on `conn`: the proofs as three arrays ($1 ids,
/// $2 proof blob keys, $3 times taken in ms) and $4 now.
pub(crate) async fn fetch_batched_completion(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    proofs: &[crate::model::ProofDone],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::rows::ServerCompletionRow>, sqlx::Error> {
    let ids: Vec<i64> = proofs.iter().map(|p| p.id.0).collect();
    let keys: Vec<&str> = proofs.iter().map(|p| p.proof_blob_key.as_str()).collect();
    let millis: Vec<i64> = proofs
        .iter()
        .map(|p| crate::rows::db_millis(p.time_taken))
        .collect();
    sqlx::query_as(statement)
        .bind(ids)
        .bind(keys)
        .bind(millis)
        .bind(now)
        .fetch_all(conn)
        .await
}
