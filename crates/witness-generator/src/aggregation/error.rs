//! Why an aggregation job yields no witness. Every variant is final for the job as it stands:
//! the job is marked failed with the message (the requeuer retries it while attempts last, and
//! an operator reads what to fix).

use zkfleet_circuits::pipeline::PipelineError;
use zkfleet_store::StoreError;
use zkfleet_types::AggregationRound;

#[derive(Debug, thiserror::Error)]
pub enum AggregationError {
    /// A blob key of the row is not the key the row's identity gives: following it would
    /// aggregate another job's blob.
    #[error("{what}: the row's blob key {found:?} is not {expected} (the key its identity gives)")]
    KeyMismatch {
        what: String,
        found: String,
        expected: String,
    },
    /// A blob could not be read: missing, corrupt (the store's envelope checksum), of another
    /// kind, or the store failed after its retries. The store's message names the key.
    #[error("loading {what}: {source}")]
    Load {
        what: String,
        // Boxed: store errors are large and this enum travels in every `Result` of the round.
        #[source]
        source: Box<StoreError>,
    },
    /// The row, the proofs it lists and the blobs disagree (counts, order, circuit, batch).
    #[error("{0}")]
    Inconsistent(String),
    /// The circuits crate refused to build the witnesses from what was loaded.
    #[error("building the {round} witnesses: {source}")]
    Build {
        round: AggregationRound,
        #[source]
        source: Box<PipelineError>,
    },
    /// A built witness could not be encoded.
    #[error("encoding {round} witness {sequence}: {source}")]
    Encode {
        round: AggregationRound,
        sequence: u32,
        #[source]
        source: Box<PipelineError>,
    },
}
