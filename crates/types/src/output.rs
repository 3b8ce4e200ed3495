//! The batch public output: what a final proof attests about a batch.

use serde::{Deserialize, Serialize};

use crate::{BatchNumber, ChainId, HashDigest};

/// The statement L1 would check for a batch (DESIGN.md §3).
///
/// The scheduler circuit exposes these values as public inputs and the compression circuit
/// carries them to the final proof unchanged; a verifier that accepts the final proof under the
/// protocol's final verifying key learns exactly this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchPublicOutput {
    /// The chain the batch belongs to; a proof for one chain cannot be replayed on another.
    pub chain_id: ChainId,
    /// The batch's number within its chain.
    pub batch_number: BatchNumber,
    /// State root the batch starts from (the previous batch's `new_state_root`).
    pub prev_state_root: HashDigest,
    /// State root after every operation of the batch.
    pub new_state_root: HashDigest,
    /// Hash chain over the batch's operations, in order.
    pub operations_commitment: HashDigest,
    /// How many L1 deposits (priority operations) the batch consumed.
    pub deposits_consumed: u64,
    /// Hash chain over the consumed deposits, as the L1 priority queue computes it.
    pub deposits_commitment: HashDigest,
    /// Hash chain over the batch's withdrawals (what L1 pays out).
    pub withdrawals_commitment: HashDigest,
    /// Hash chain over the batch's pubdata (what data availability publishes).
    pub pubdata_commitment: HashDigest,
    /// Digest of every verifying key of the recursion tree.
    pub recursion_tree_vk_digest: HashDigest,
}
