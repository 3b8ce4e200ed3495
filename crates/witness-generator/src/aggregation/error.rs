//! Why an aggregation job yields no witness. Each variant says whether a retry can help
//! ([`AggregationError::failure_kind`]): a blob that is missing or corrupt, rows that disagree
//! or a witness the circuits refuse fail the same way every time and end the job
//! (`failed_permanently`); a store outage is retried while attempts last.

use zkfleet_circuits::pipeline::PipelineError;
use zkfleet_store::StoreError;
use zkfleet_types::{AggregationRound, FailureKind};

#[derive(Debug, thiserror::Error)]
/// Why an aggregation job yields no witness (see the module documentation for which retry can
/// help).
pub enum AggregationError {
    /// A blob key of the row is not the key the row's identity gives: following it would
    /// aggregate another job's blob.
    #[error("{what}: the row's blob key {found:?} is not {expected} (the key its identity gives)")]
    KeyMismatch {
        /// Which blob ("basic proof 1 of circuit 2 …", "the closed forms").
        what: String,
        /// The key the row gives.
        found: String,
        /// The key the row's identity gives.
        expected: String,
    },
    /// A blob could not be read: missing, corrupt (the store's envelope checksum), of another
    /// kind, or the store failed after its retries. The store's message names the key.
    #[error("loading {what}: {source}")]
    Load {
        /// Which blob.
        what: String,
        // Boxed: store errors are large and this enum travels in every `Result` of the round.
        /// The store's error.
        #[source]
        source: Box<StoreError>,
    },
    /// The row, the proofs it lists and the blobs disagree (counts, order, circuit, batch).
    #[error("{0}")]
    Inconsistent(String),
    /// The circuits crate refused to build the witnesses from what was loaded.
    #[error("building the {round} witnesses: {source}")]
    Build {
        /// The round whose witnesses were being built.
        round: AggregationRound,
        /// The circuits crate's error.
        #[source]
        source: Box<PipelineError>,
    },
    /// A built witness could not be encoded.
    #[error("encoding {round} witness {sequence}: {source}")]
    Encode {
        /// The witness's round.
        round: AggregationRound,
        /// Its sequence number among the job's witnesses.
        sequence: u32,
        /// The circuits crate's error.
        #[source]
        source: Box<PipelineError>,
    },
}

impl AggregationError {
    /// Wraps the circuits crate's refusal to build `round`'s witnesses (for `map_err`).
    pub fn building(round: AggregationRound) -> impl FnOnce(PipelineError) -> Self {
        move |source| Self::Build {
            round,
            source: Box::new(source),
        }
    }

    /// Whether a retry can help: keys that disagree and inconsistent rows never; a load
    /// error as the store classifies it; a build or encode error as the circuits crate does.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::KeyMismatch { .. } | Self::Inconsistent(_) => FailureKind::Permanent,
            Self::Load { source, .. } => source.failure_kind(),
            Self::Build { source, .. } | Self::Encode { source, .. } => source.failure_kind(),
        }
    }
}
