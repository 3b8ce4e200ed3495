//! The witness input of a batch (batch + pre-state, magic `ZKWI`). The format is shared with
//! intake and producers, so it lives in `zkfleet_rollup::witness_input`; re-exported here for
//! the witness generator's users.

pub use zkfleet_rollup::witness_input::*;
