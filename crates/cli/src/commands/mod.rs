//! One module per command. Operator commands follow ZKsync's `prover_cli` (reference §7.2),
//! scoped to the chain given by `--chain-id` or the configuration.

pub(crate) mod bench;
pub(crate) mod components;
pub(crate) mod config_show;
pub(crate) mod delete;
pub(crate) mod file_info;
pub(crate) mod insert_batch;
pub(crate) mod insert_version;
pub(crate) mod keys;
pub(crate) mod prove;
pub(crate) mod requeue;
pub(crate) mod restart;
pub(crate) mod rollup;
pub(crate) mod sequencer;
pub(crate) mod stats;
pub(crate) mod status;
pub(crate) mod verify;

use zkfleet_types::{BatchNumber, L1BatchId};

use crate::fleet::Fleet;

/// The batch `number` of the fleet's chain.
pub(crate) fn batch_id(fleet: &Fleet, number: u32) -> L1BatchId {
    L1BatchId::new(fleet.chain_id(), BatchNumber(number))
}
