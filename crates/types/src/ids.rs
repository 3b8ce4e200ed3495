//! Identifiers: batches, chains and jobs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Number of a rollup batch (ZKsync's L1 batch number). Batches of one chain are proven in any
/// order, but older batches are picked first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BatchNumber(pub u32);

/// Chain a batch belongs to. One fleet proves for several chains; every table and object key
/// carries it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ChainId(pub u64);

/// A batch of a chain: the unit the fleet proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct L1BatchId {
    /// The chain the batch belongs to.
    pub chain_id: ChainId,
    /// The batch's number within its chain.
    pub batch_number: BatchNumber,
}

impl L1BatchId {
    /// Batch `batch_number` of chain `chain_id`.
    pub const fn new(chain_id: ChainId, batch_number: BatchNumber) -> Self {
        Self {
            chain_id,
            batch_number,
        }
    }
}

impl fmt::Display for BatchNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for L1BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch {} of chain {}", self.batch_number, self.chain_id)
    }
}

macro_rules! job_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

job_id!(
    /// Row id of a prover job (one circuit to prove, any round). Proof blobs are keyed by it.
    ProverJobId
);
job_id!(
    /// Row id of a leaf-aggregation witness job (one per batch and basic circuit type).
    LeafJobId
);
job_id!(
    /// Row id of a node-aggregation witness job (one per batch, circuit type and depth).
    NodeJobId
);
