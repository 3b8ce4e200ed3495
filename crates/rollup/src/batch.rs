//! A batch: what the sequencer hands to the prover.

use serde::{Deserialize, Serialize};
use zkfleet_types::{BatchNumber, ChainId, L1BatchId};

use crate::operation::Operation;
use crate::spec::Digest;
use crate::state::AccountId;

/// Most operations one batch may hold. Bounds decoding (a length prefix cannot make the decoder
/// allocate without limit) and keeps a batch's witness within what a fleet proves in one go.
pub const MAX_OPERATIONS_PER_BATCH: usize = 1 << 16;

/// A batch of a chain: number, the state root it applies to, the operator account that collects
/// fees, the first L1 priority serial it consumes, and its operations in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub chain_id: ChainId,
    pub number: BatchNumber,
    #[serde(with = "crate::digest_serde")]
    pub prev_state_root: Digest,
    /// Account credited with every fee of the batch; must exist when a signed operation runs.
    pub operator: AccountId,
    /// Priority serial of the batch's first deposit; later deposits follow without gaps.
    pub first_priority_serial: u64,
    pub operations: Vec<Operation>,
}

impl Batch {
    pub fn id(&self) -> L1BatchId {
        L1BatchId::new(self.chain_id, self.number)
    }
}
