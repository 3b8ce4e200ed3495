//! Connecting: the backend is chosen by the URL's scheme.

use std::time::Duration;

use crate::error::{DalError, DalResult};

/// Pool sizing. The defaults suit one component process; `zkfleet prove` (everything in one
/// process) and benchmarks raise `max_connections`.
#[derive(Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections the pool opens (each worker holds one while it picks or completes).
    pub max_connections: u32,
    /// Connections the pool keeps open even when idle.
    pub min_connections: u32,
    /// How long an operation waits for a free connection before failing with
    /// [`DalError::Connection`].
    pub acquire_timeout: Duration,
    /// PostgreSQL: where the wake-up listener's connection goes (`LISTEN` needs a session of
    /// its own). `None`: the pool's URL. Set it when the pool goes through a pooler in
    /// transaction mode (PgBouncer's `pool_mode = transaction`), which cannot carry `LISTEN`:
    /// point it at the server itself, or at a session-mode pool. Ignored on SQLite.
    pub listen_url: Option<String>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(30),
            listen_url: None,
        }
    }
}

impl std::fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The listen URL may hold a password: only its redacted form is printed.
        f.debug_struct("PoolOptions")
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("listen_url", &self.listen_url.as_deref().map(redact))
            .finish()
    }
}

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// PostgreSQL: the distributed engine, shared by any number of machines.
    Postgres,
    /// SQLite: the embedded default, one file in WAL mode.
    Sqlite,
}

impl BackendKind {
    /// `postgres://…`/`postgresql://…` or `sqlite://path`/`sqlite:path`/`sqlite::memory:`.
    pub fn of_url(url: &str) -> DalResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(DalError::InvalidUrl {
                url: redact(url),
                reason: "expected postgres://, postgresql:// or sqlite:".to_owned(),
            })
        }
    }

    /// The engine's name in reports and logs: `postgresql` or `sqlite`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgresql",
            Self::Sqlite => "sqlite",
        }
    }
}

/// The URL without its password, for error messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_backend_by_scheme() {
        assert_eq!(
            BackendKind::of_url("postgres://u@h/db").unwrap(),
            BackendKind::Postgres
        );
        assert_eq!(
            BackendKind::of_url("postgresql://h/db").unwrap(),
            BackendKind::Postgres
        );
        assert_eq!(
            BackendKind::of_url("sqlite://a/b.db").unwrap(),
            BackendKind::Sqlite
        );
        assert_eq!(
            BackendKind::of_url("sqlite::memory:").unwrap(),
            BackendKind::Sqlite
        );
        let err = BackendKind::of_url("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected postgres://"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn pool_options_never_print_the_listen_password() {
        let options = PoolOptions {
            listen_url: Some("postgres://u:hunter2@db:5432/zkfleet".into()),
            ..PoolOptions::default()
        };
        let printed = format!("{options:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            printed.contains("postgres://u:***@db:5432/zkfleet"),
            "{printed}"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:pw@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
