//! A run's own database and store, created for the run and deleted after it: a SQLite file in
//! a temporary directory, or a fresh database on the PostgreSQL server the options name; the
//! store is always a local directory in a temporary directory. The benchmark never writes to
//! a database or store it did not create.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use zkfleet_dal::{Dal, PoolOptions};
use zkfleet_store::{Store, StoreConfig};

use crate::error::BenchError;

/// Which job database a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// A SQLite file (WAL mode) in a temporary directory: the embedded default.
    Sqlite,
    /// A fresh database per run on the PostgreSQL server of `server_url` (any database of the
    /// server; the role must be allowed to create databases). Dropped after the run.
    Postgres {
        /// A `postgres://` URL of the server (its database part is where the admin
        /// connection goes).
        server_url: String,
    },
}

impl DatabaseBackend {
    /// The backend as reports name it: `sqlite` or `postgresql`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres { .. } => "postgresql",
        }
    }
}

/// The server's durability settings, which decide what a commit costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostgresSettings {
    /// `SHOW server_version`.
    pub server_version: String,
    /// `SHOW fsync`: whether commits reach the disk.
    pub fsync: String,
    /// `SHOW synchronous_commit`: whether a commit waits for its WAL flush.
    pub synchronous_commit: String,
}

/// The database and store of one run.
pub(crate) struct RunEnvironment {
    pub(crate) dal: Dal,
    pub(crate) store: Store,
    /// Holds the SQLite file and the store directory; removed on drop.
    _dir: tempfile::TempDir,
    postgres: Option<PostgresDatabase>,
}

/// A database the benchmark created on a PostgreSQL server, for one run.
pub(crate) struct PostgresDatabase {
    server_url: String,
    name: String,
}

impl RunEnvironment {
    pub(crate) async fn create(
        backend: &DatabaseBackend,
        max_connections: u32,
    ) -> Result<Self, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("zkfleet-bench-")
            .tempdir()
            .map_err(|e| BenchError::io("creating the run's temporary directory", e))?;
        let store = Store::open(&StoreConfig::local(dir.path().join("store")))?;
        let pool = PoolOptions {
            max_connections,
            ..PoolOptions::default()
        };
        let (dal, postgres) = match backend {
            DatabaseBackend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
                (Dal::connect_with(&url, &pool).await?, None)
            }
            DatabaseBackend::Postgres { server_url } => {
                let database = PostgresDatabase::create(server_url, "orchestration").await?;
                match Dal::connect_with(&database.url(), &pool).await {
                    Ok(dal) => (dal, Some(database)),
                    Err(e) => {
                        database.drop_database().await?;
                        return Err(e.into());
                    }
                }
            }
        };
        Ok(Self {
            dal,
            store,
            _dir: dir,
            postgres,
        })
    }

    /// Closes the pool and deletes the database (the directory goes with `self`).
    pub(crate) async fn destroy(self) -> Result<(), BenchError> {
        self.dal.close().await;
        if let Some(database) = self.postgres {
            database.drop_database().await?;
        }
        Ok(())
    }
}

impl PostgresDatabase {
    /// Creates a fresh database on the server of `server_url`, named after the suite using it
    /// and a random suffix (runs never share one).
    pub(crate) async fn create(server_url: &str, suite: &str) -> Result<Self, BenchError> {
        let name = format!(
            "zkfleet_bench_{suite}_{:016x}",
            rand::thread_rng().gen::<u64>()
        );
        admin_statement(server_url, &format!("CREATE DATABASE {name}"), "create").await?;
        Ok(Self {
            server_url: server_url.to_owned(),
            name,
        })
    }

    /// The URL of this database (the server's URL with the database name replaced).
    pub(crate) fn url(&self) -> String {
        with_database(&self.server_url, &self.name)
    }

    pub(crate) async fn drop_database(&self) -> Result<(), BenchError> {
        admin_statement(
            &self.server_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            "drop",
        )
        .await
    }
}

async fn admin_statement(
    server_url: &str,
    statement: &str,
    what: &'static str,
) -> Result<(), BenchError> {
    let admin_error = |source| BenchError::PostgresAdmin { what, source };
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .map_err(admin_error)?;
    sqlx::query(statement)
        .execute(&mut admin)
        .await
        .map_err(admin_error)?;
    admin.close().await.map_err(admin_error)?;
    Ok(())
}

/// Reads the settings that decide what a commit costs on the server.
pub(crate) async fn postgres_settings(server_url: &str) -> Result<PostgresSettings, BenchError> {
    let admin_error = |source| BenchError::PostgresAdmin {
        what: "read settings",
        source,
    };
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .map_err(admin_error)?;
    let server_version = show(&mut admin, "server_version")
        .await
        .map_err(admin_error)?;
    let fsync = show(&mut admin, "fsync").await.map_err(admin_error)?;
    let synchronous_commit = show(&mut admin, "synchronous_commit")
        .await
        .map_err(admin_error)?;
    Ok(PostgresSettings {
        server_version,
        fsync,
        synchronous_commit,
    })
}

async fn show(admin: &mut sqlx::PgConnection, setting: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(&format!("SHOW {setting}"))
        .fetch_one(admin)
        .await
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name_only() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/zkfleet_test", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h:1/db?sslmode=disable", "x"),
            "postgres://h:1/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
    }
}
