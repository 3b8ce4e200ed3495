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
    /// The chain the batch belongs to; bound into every signed message, so a transaction
    /// cannot be replayed on another chain.
    pub chain_id: ChainId,
    /// The batch's number within its chain.
    pub number: BatchNumber,
    /// The state root the batch applies to (the previous batch's new root); execution
    /// refuses the batch on any other state.
    #[serde(with = "crate::digest_serde")]
    pub prev_state_root: Digest,
    /// Account credited with every fee of the batch; must exist when a signed operation runs.
    pub operator: AccountId,
    /// Priority serial of the batch's first deposit; later deposits follow without gaps.
    pub first_priority_serial: u64,
    /// The operations, applied in this order (at most [`MAX_OPERATIONS_PER_BATCH`]).
    pub operations: Vec<Operation>,
}

impl Batch {
    /// The batch's identity in the fleet (chain and number): what jobs and keys name it by.
    pub fn id(&self) -> L1BatchId {
        L1BatchId::new(self.chain_id, self.number)
    }
}
