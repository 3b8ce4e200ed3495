//! A throwaway job database per test: a PostgreSQL database created on the test server (named
//! by `ZKFLEET_TEST_DATABASE_URL`, dropped afterwards), or a SQLite file in a temporary
//! directory (a file, so that WAL is exercised). Either way the schema is migrated by
//! `Dal::connect_with`, as a component would do.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use rand::Rng;
use sqlx::Connection;
use zkfleet_dal::{Dal, PoolOptions};

/// The variable naming the test PostgreSQL server (any database on it: each test creates its
/// own).
pub const DATABASE_URL_VAR: &str = "ZKFLEET_TEST_DATABASE_URL";

/// Which engine a test's database runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A database of its own on the test PostgreSQL server.
    Postgres,
    /// A SQLite file in a temporary directory.
    Sqlite,
}

/// The URL of the test PostgreSQL server. Unset → panics with how to run the suite (tests
/// fail, never skip, when their service is missing).
pub fn admin_url() -> String {
    std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
        let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "CRATE".to_owned());
        panic!(
            "{DATABASE_URL_VAR} is not set: the PostgreSQL tests need a real server. Run them \
             with `scripts/test -p {package}` (it starts one), or `source /tmp/devsvc/env.sh` \
             in a dev session."
        )
    })
}

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// A database of its own on the test PostgreSQL server. Not dropped by `Drop` (that needs a
/// connection): call [`PgDatabase::drop_database`] when done.
#[derive(Debug, Clone)]
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates `zkfleet_{prefix}_{random}` on the test server; nothing is migrated yet.
    pub async fn create(prefix: &str) -> Self {
        let admin_url = admin_url();
        let name = format!("zkfleet_{prefix}_{:016x}", rand::thread_rng().gen::<u64>());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("create the test database {name}: {e}"));
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// The URL of this database (what a component under test is given).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's URL (to reach it without this database, e.g. to terminate its backends).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Drops the database, closing whatever connections are still open on it.
    pub async fn drop_database(&self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
            admin.close().await.ok();
        }
    }
}

/// A test's own database, migrated, with a connection pool on it.
pub struct TestDb {
    /// The job database's API on the test's database.
    pub dal: Dal,
    /// The database's URL, for more connection pools (more "processes").
    pub url: String,
    postgres: Option<PgDatabase>,
    _sqlite_dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database of `backend`; `prefix` names PostgreSQL databases after the suite.
    pub async fn new(backend: Backend, prefix: &str, options: &PoolOptions) -> Self {
        match backend {
            Backend::Postgres => Self::postgres(prefix, options).await,
            Backend::Sqlite => Self::sqlite(options).await,
        }
    }

    /// A fresh PostgreSQL database (see [`PgDatabase::create`]).
    pub async fn postgres(prefix: &str, options: &PoolOptions) -> Self {
        let database = PgDatabase::create(prefix).await;
        let dal = Dal::connect_with(database.url(), options)
            .await
            .expect("connect and migrate the test database");
        Self {
            dal,
            url: database.url().to_owned(),
            postgres: Some(database),
            _sqlite_dir: None,
        }
    }

    /// A fresh SQLite file in a temporary directory.
    pub async fn sqlite(options: &PoolOptions) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("zkfleet.db").display());
        let dal = Dal::connect_with(&url, options)
            .await
            .expect("connect and migrate the test database");
        Self {
            dal,
            url,
            postgres: None,
            _sqlite_dir: Some(dir),
        }
    }

    /// The engine this database runs on.
    pub fn backend(&self) -> Backend {
        if self.postgres.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The PostgreSQL database (None on SQLite).
    pub fn postgres_database(&self) -> Option<&PgDatabase> {
        self.postgres.as_ref()
    }

    /// Closes the pool and drops the PostgreSQL database (a SQLite file goes with its
    /// temporary directory).
    pub async fn close(self) {
        self.close_shared().await;
    }

    /// [`TestDb::close`] through a shared reference (a test body may still hold a clone of an
    /// `Arc<TestDb>` in a task of its own).
    pub async fn close_shared(&self) {
        self.dal.close().await;
        if let Some(database) = &self.postgres {
            database.drop_database().await;
        }
    }

    /// The server's URL and this test's database name (PostgreSQL only).
    pub fn postgres_admin(&self) -> Option<(&str, &str)> {
        self.postgres
            .as_ref()
            .map(|database| (database.admin_url(), database.name()))
    }

    /// Runs a statement behind the API's back (to fabricate states the API never produces).
    pub async fn execute_raw(&self, statement: &str) {
        // One branch per backend: a function generic over the connection type makes the
        // future not `Send` for every lifetime (sqlx's executor bound), and tests await this
        // inside spawned tasks.
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .expect(statement);
            conn.close().await.ok();
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .expect(statement);
            conn.close().await.ok();
        }
    }
}

/// Closes `db` (dropping a PostgreSQL database) after a test body, then re-raises the body's
/// panic, if any.
pub async fn finish(db: TestDb, result: std::thread::Result<()>) {
    db.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `body` with `db`, then [`finish`]es: the database is dropped whether the body passes
/// or panics.
pub async fn with_db<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = Arc::new(db);
    let result = AssertUnwindSafe(body(Arc::clone(&db))).catch_unwind().await;
    match Arc::try_unwrap(db) {
        Ok(db) => finish(db, result).await,
        Err(_) => {
            eprintln!("test database still shared after the test; not dropped");
            if let Err(panic) = result {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Runs `body` on a fresh database of `backend` (named after `prefix` on PostgreSQL, with a
/// pool of at most `max_connections`), then drops the database whether the body passes or
/// panics, and re-raises its panic.
pub async fn with_fresh_db<F, Fut>(backend: Backend, prefix: &str, max_connections: u32, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    let options = PoolOptions {
        max_connections,
        ..PoolOptions::default()
    };
    with_db(TestDb::new(backend, prefix, &options).await, body).await;
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database(
                "postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable",
                "t1"
            ),
            "postgres://u:p@127.0.0.1:5432/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://127.0.0.1:5432", "t2"),
            "postgres://127.0.0.1:5432/t2"
        );
    }
}
