//! One module per command. Operator commands follow ZKsync's `prover_cli` (reference §7.2),
//! scoped to the chain given by `--chain-id` or the configuration.

pub mod bench;
pub mod components;
pub mod config_show;
pub mod delete;
pub mod file_info;
pub mod insert_batch;
pub mod insert_version;
pub mod keys;
pub mod prove;
pub mod requeue;
pub mod restart;
pub mod rollup;
pub mod sequencer;
pub mod stats;
pub mod status;
pub mod verify;

use zkfleet_types::{BatchNumber, L1BatchId};

use crate::fleet::Fleet;

/// The batch `number` of the fleet's chain.
pub fn batch_id(fleet: &Fleet, number: u32) -> L1BatchId {
    L1BatchId::new(fleet.chain_id(), BatchNumber(number))
}
