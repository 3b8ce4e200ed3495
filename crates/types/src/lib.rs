//! Shared vocabulary of zkfleet.
//!
//! Every other crate speaks in these types: which batch of which chain, under which protocol
//! version, in which aggregation round, for which circuit, and in what state a job is. The crate
//! knows nothing about plonky2, SQL or object stores, so a second proving backend or a second
//! database can be added without touching it.
//!
//! - [`ids`]: batch numbers, chain ids, job ids.
//! - [`protocol`]: protocol versions and the verifying-key digests they stand for.
//! - [`round`]: aggregation rounds, proving stages and circuit ids.
//! - [`status`]: the job state machine shared by every job table.
//! - [`digest`]: 32-byte digests (four Goldilocks field elements) as they travel outside circuits.
//! - [`output`]: the batch public output, the statement a final proof attests.
//! - [`api`]: the gateway's HTTP wire types (push and pull mode).

pub mod api;
pub mod digest;
pub mod ids;
pub mod output;
pub mod protocol;
pub mod round;
pub mod status;

pub use digest::HashDigest;
pub use ids::{BatchNumber, ChainId, L1BatchId};
pub use output::BatchPublicOutput;
pub use protocol::{ProtocolSemanticVersion, ProtocolVersion, VkDigest};
pub use round::{AggregationRound, CircuitId, ProvingStage};
pub use status::{FailureKind, JobStatus};

/// Error for text that does not name a valid value of one of this crate's types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {input:?} ({reason})")]
pub struct ParseError {
    /// The type being parsed, in words ("protocol version", "job status", ...).
    pub what: &'static str,
    /// The text that was rejected.
    pub input: String,
    /// Why it was rejected.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}
