//! The SQLite backend: the embedded default (one file, WAL mode), for `zkfleet prove` and for
//! every component running in one process.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;

use crate::connection::PoolOptions;
use crate::error::{DalError, DalResult};

pub(crate) type Db = Sqlite;

pub(crate) mod sql;

// The operations are shared with the other backend: the same file is mounted under each
// backend module, where `super::{Db, sql, begin_write}` resolve to that backend's own.
#[allow(clippy::duplicate_mod)]
#[path = "../ops/mod.rs"]
pub(crate) mod ops;

/// Largest number of bind parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER's default
/// since SQLite 3.32; the bundled library is newer).
pub(crate) const MAX_BIND_PARAMS: usize = 32_766;

/// How long a writer waits for the write lock before giving up with "database is locked".
/// Writers hold it for one short transaction, so this only runs out under pathological load.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Migrations of `migrations/sqlite`, embedded at compile time.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Begins a write transaction with `BEGIN IMMEDIATE`: the write lock is taken before the first
/// read, so the transaction's reads (which job is first in the queue, how many dependencies are
/// done) cannot be invalidated by another writer before it writes. A deferred transaction would
/// fail with SQLITE_BUSY_SNAPSHOT instead of waiting.
pub(crate) async fn begin_write(
    pool: &sqlx::Pool<Db>,
) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

pub(crate) async fn connect(url: &str, options: &PoolOptions) -> DalResult<sqlx::Pool<Db>> {
    let connect_options = SqliteConnectOptions::from_str(url)
        .map_err(|e| DalError::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode; only a power loss can roll
        // back the last transactions, which the requeuer recovers from.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    // An in-memory database lives and dies with its connection: one connection, kept forever.
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut pool_options = SqlitePoolOptions::new().acquire_timeout(options.acquire_timeout);
    pool_options = if in_memory {
        pool_options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        pool_options
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
    };
    pool_options
        .connect_with(connect_options)
        .await
        .map_err(DalError::Connection)
}

/// What identifies the database file of `url` among this process's connections, so every `Dal`
/// of one file shares its wake-ups: the file's canonical path (it exists once connected).
/// `None` for an in-memory database, which only its own `Dal` sees.
pub(crate) fn wake_key(url: &str) -> Option<String> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    Some(match std::fs::canonicalize(path) {
        Ok(canonical) => canonical.to_string_lossy().into_owned(),
        Err(_) => path.to_owned(),
    })
}

/// SQLite has no batched server-side completion (`sql::COMPLETE_PROVER_JOBS_IN_SERVER` is
/// `None`, so this is never called): SQLite binds no arrays.
pub(crate) async fn fetch_batched_completion(
    _conn: &mut sqlx::SqliteConnection,
    _statement: &str,
    _proofs: &[crate::model::ProofDone],
    _now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::rows::ServerCompletionRow>, sqlx::Error> {
    Err(sqlx::Error::Protocol(
        "SQLite completes batches of proofs from the application".to_owned(),
    ))
}
