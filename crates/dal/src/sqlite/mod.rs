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
        .after_release(|conn, _| Box::pin(release_outside_transaction(conn)))
        .connect_with(connect_options)
        .await
        .map_err(DalError::Connection)
}

/// Runs as a connection goes back to the pool: it must go back outside any transaction.
///
/// SQLite rolls a transaction back by itself after some errors (a full disk, an I/O error,
/// out of memory). sqlx does not see that: it still counts the connection as inside the
/// transaction, the rollback on drop then fails ("no transaction is active") and leaves the
/// count at one, and every later `BEGIN IMMEDIATE` on that connection is refused with
/// "attempted to call begin_with at non-zero transaction depth" — one full disk would wedge the
/// pool for good. So: wait for the drop's rollback (the worker runs commands in order, so a
/// ping returns after it), and if the count is still not zero, open a transaction for it to
/// close and roll that back, which brings the count to zero. A connection that cannot be
/// repaired is closed instead of reused (`Ok(false)`); the pool opens a fresh one.
async fn release_outside_transaction(
    conn: &mut sqlx::SqliteConnection,
) -> Result<bool, sqlx::Error> {
    use sqlx::{Connection, TransactionManager};
    type Manager = <Db as sqlx::Database>::TransactionManager;

    conn.ping().await?;
    if Manager::get_transaction_depth(conn) == 0 {
        return Ok(true);
    }
    // sqlx counts one transaction; a savepoint at that depth starts a transaction in SQLite
    // when there is none (and nests when there is one), so rolling back to it and then rolling
    // back the outer level leaves SQLite outside any transaction and the count at zero.
    let repaired = Manager::begin(conn, None).await.is_ok()
        && Manager::rollback(conn).await.is_ok()
        && Manager::rollback(conn).await.is_ok()
        && Manager::get_transaction_depth(conn) == 0;
    tracing::warn!(
        repaired,
        "an SQLite connection came back inside a transaction SQLite had already ended \
         (an I/O error or a full disk rolls it back); {}",
        if repaired {
            "rolled back, connection reused"
        } else {
            "connection closed"
        }
    );
    Ok(repaired)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite ends a transaction by itself after a full disk or an I/O error; a `ROLLBACK`
    /// statement run inside the transaction does the same to the connection without needing a
    /// broken disk. The next write transaction on the pool's only connection must still begin.
    #[tokio::test]
    async fn a_transaction_sqlite_ended_by_itself_does_not_wedge_the_pool() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        let options = PoolOptions {
            max_connections: 1,
            ..PoolOptions::default()
        };
        let pool = connect(&url, &options).await.expect("connect");
        sqlx::raw_sql("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .expect("create");

        let mut tx = begin_write(&pool).await.expect("first transaction");
        sqlx::raw_sql("INSERT INTO t VALUES (1); ROLLBACK")
            .execute(&mut *tx)
            .await
            .expect("insert, then the transaction ends under sqlx");
        drop(tx);

        for x in 2..4 {
            let mut tx = begin_write(&pool)
                .await
                .expect("a write transaction begins after the ended one");
            sqlx::query("INSERT INTO t VALUES (?)")
                .bind(x)
                .execute(&mut *tx)
                .await
                .expect("insert");
            tx.commit().await.expect("commit");
        }
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT x FROM t ORDER BY x")
            .fetch_all(&pool)
            .await
            .expect("read back");
        assert_eq!(
            rows,
            vec![(2,), (3,)],
            "the ended transaction's insert is gone, the later ones are kept"
        );
    }
}
