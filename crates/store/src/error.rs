//! What can go wrong with a store operation, in the terms a caller acts on: the blob is not
//! there (`NotFound`), it is there but unusable (`Corrupt`), or the backend failed (`Backend`,
//! after retries if the failure was transient).

use std::fmt;
use std::time::Duration;

use crate::codec::{BlobKind, DecodeError};
use crate::config::ConfigError;
use crate::object::EncodeError;

/// The operation that failed, also the `op` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Writing a blob.
    Put,
    /// Reading a blob.
    Get,
    /// Asking whether a blob is there, without reading it.
    Exists,
    /// Deleting a blob (garbage collection of proven batches).
    Delete,
    /// Listing the keys under a prefix.
    List,
}

impl Operation {
    /// The `op` metric label and the verb in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
            Self::Exists => "exists",
            Self::Delete => "delete",
            Self::List => "list",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one attempt against the backend failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendFailure {
    /// The backend answered with an error ([`crate::retry::is_transient`] says whether it is
    /// worth retrying).
    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),
    /// The attempt ran past the configured request timeout (transient).
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// Error of a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No blob under this key.
    #[error("object {key} not found")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// A blob is under this key but it is not a valid object of the requested type: damaged,
    /// truncated, of another kind, or written by an incompatible version.
    #[error("object {key} is corrupt: {reason}")]
    Corrupt {
        /// The blob's key.
        key: String,
        /// What the codec found wrong.
        reason: DecodeError,
    },
    /// The caller asked to store or read a type under a key meant for another kind of blob
    /// (a programming error; nothing was written).
    #[error("object {key} holds {key_kind} blobs, not {requested}")]
    KindMismatch {
        /// The key.
        key: String,
        /// The kind of blob the key names.
        key_kind: BlobKind,
        /// The kind of the type the caller stores or reads.
        requested: BlobKind,
    },
    /// The value could not be serialized.
    #[error("object {key}: {source}")]
    Encode {
        /// The key the value was meant for.
        key: String,
        /// The serializer's error.
        source: EncodeError,
    },
    /// The backend failed. `transient` says whether the last failure was of the retryable sort
    /// (then the retries ran out), `attempts` how many requests were made.
    #[error("{op} {key} failed after {attempts} attempt(s){}: {source}",
        if *transient { " (transient, retries exhausted)" } else { "" })]
    Backend {
        /// The operation that failed.
        op: Operation,
        /// The key (or listing prefix) it was for.
        key: String,
        /// Requests made, the first one included.
        attempts: u32,
        /// Whether the last failure was retryable (so the retries ran out).
        transient: bool,
        /// The last attempt's failure.
        source: BackendFailure,
    },
    /// A listing prefix that is not a valid object path.
    #[error("invalid listing prefix {prefix:?}: {source}")]
    InvalidPrefix {
        /// The prefix given.
        prefix: String,
        /// Why `object_store` refused it as a path.
        source: object_store::path::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl StoreError {
    /// Whether no blob is under the key (a reader may treat it as "not written yet").
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Whether a blob is under the key but cannot be read as the requested type.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Self::Corrupt { .. })
    }

    /// Whether reading or writing this object again can never succeed without someone
    /// changing the store: the blob is missing, damaged or of another kind, or the value
    /// cannot be encoded. Backend failures (network, throttling, permissions an operator can
    /// fix) are not: a job that hit one is worth retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. }
                | Self::Corrupt { .. }
                | Self::KindMismatch { .. }
                | Self::Encode { .. }
                | Self::InvalidPrefix { .. }
        )
    }

    /// Whether a job that failed on this error can succeed on a retry (see
    /// [`Self::is_permanent`]): the one classification of store errors every component uses.
    pub fn failure_kind(&self) -> zkfleet_types::FailureKind {
        if self.is_permanent() {
            zkfleet_types::FailureKind::Permanent
        } else {
            zkfleet_types::FailureKind::Transient
        }
    }
}
