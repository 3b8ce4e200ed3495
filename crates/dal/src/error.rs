//! The errors of the job database.

use zkfleet_types::{ProtocolSemanticVersion, ProtocolVersion};

/// The two sides of a protocol version inserted twice with different digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConflict {
    /// The version as the database holds it.
    pub stored: ProtocolVersion,
    /// The version as the caller gave it again.
    pub given: ProtocolVersion,
}

/// Everything that can go wrong talking to the job database.
///
/// A lost or refused connection is an error like any other (never a panic), so a worker can
/// back off and retry; constraint violations name the constraint, so a caller can tell a
/// duplicate from a dangling reference.
#[derive(Debug, thiserror::Error)]
pub enum DalError {
    /// The database URL is not one this crate understands.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, its password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The server cannot be reached, the connection dropped, or the pool is exhausted/closed.
    #[error("database connection failed: {0}")]
    Connection(#[source] sqlx::Error),

    /// A unique, foreign-key, not-null or check constraint rejected a write.
    #[error("constraint {constraint} violated: {message}")]
    ConstraintViolation {
        /// The constraint's name as the database reports it (PostgreSQL), or the kind of
        /// constraint with the columns involved (SQLite).
        constraint: String,
        /// The database's message.
        message: String,
    },

    /// A job or batch refers to a protocol version that was never inserted.
    #[error("unknown protocol version {0}: insert it first (`zkfleet insert-version`)")]
    UnknownProtocolVersion(ProtocolSemanticVersion),

    /// A protocol version is inserted again with other verifying-key digests than the stored ones.
    #[error(
        "protocol version {} already exists with other verifying-key digests (stored: recursion \
         tree {}, final {}; given: recursion tree {}, final {})",
        .0.stored.version,
        .0.stored.recursion_tree_vk_digest,
        .0.stored.final_vk_digest,
        .0.given.recursion_tree_vk_digest,
        .0.given.final_vk_digest
    )]
    ProtocolVersionConflict(Box<VersionConflict>),

    /// The job or batch an operation addresses does not exist.
    #[error("{0} not found")]
    NotFound(String),

    /// The caller passed something inconsistent (the message names what).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A stored value cannot be read back as the domain type (the database was edited by hand
    /// or by a newer version).
    #[error("corrupt row in {table}: {reason}")]
    CorruptRow {
        /// The table the row is in.
        table: &'static str,
        /// Which value cannot be read, and why.
        reason: String,
    },

    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    /// Any other error reported by the database driver.
    #[error("database query failed: {0}")]
    Query(#[source] sqlx::Error),

    /// A batched operation (one transaction for several jobs) failed as a whole, and this job
    /// with it: each job of the batch reports the one shared cause.
    #[error("the batched transaction this job was part of failed: {0}")]
    InBatch(#[source] std::sync::Arc<DalError>),
}

impl DalError {
    /// Whether retrying later may succeed (the connection, not the request, was the problem).
    pub fn is_connection_error(&self) -> bool {
        match self {
            Self::Connection(_) => true,
            Self::InBatch(cause) => cause.is_connection_error(),
            _ => false,
        }
    }

    pub(crate) fn corrupt(table: &'static str, reason: impl Into<String>) -> Self {
        Self::CorruptRow {
            table,
            reason: reason.into(),
        }
    }
}

impl From<sqlx::Error> for DalError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Connection(error),
            sqlx::Error::Database(db) => {
                use sqlx::error::ErrorKind;
                match db.kind() {
                    ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation => {
                        let constraint = db
                            .constraint()
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("{:?}", db.kind()));
                        Self::ConstraintViolation {
                            constraint,
                            message: db.message().to_owned(),
                        }
                    }
                    _ => Self::Query(sqlx::Error::Database(db)),
                }
            }
            other => Self::Query(other),
        }
    }
}

/// The result of every job database operation.
pub type DalResult<T> = Result<T, DalError>;
