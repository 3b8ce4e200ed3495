//! The reference rollup, natively: the statement every zkfleet proof is about.
//!
//! An account-based payments rollup (docs/rollup.md): accounts in a depth-32 sparse Merkle tree
//! over plonky2's Poseidon, L2 transactions signed with hash-based (WOTS under XMSS-style
//! Merkle tree) signatures whose one-time key index is the account nonce, and three operations
//! — `Deposit` from the L1 priority queue, `Transfer` and `Withdraw`. This crate has no
//! circuits: it is the reference the circuits crate is checked against, the executor that
//! rejects invalid batches before any proving, and the source of the witness basic circuits
//! are built from.
//!
//! - [`spec`]: every binding hash encoding as a small pure function (tags, parameters, leaf,
//!   chains, digits, digests, running-commitment steps). The circuits mirror these.
//! - [`signature`]: WOTS one-time signatures and the XMSS-style key pair (keygen, sign, verify).
//! - [`state`]: the state tree trait, in-memory and redb-backed implementations, proofs.
//! - [`operation`], [`batch`]: what a batch holds; [`encoding`]: JSON and binary forms.
//! - [`execute`]: apply a batch — every rule, all-or-nothing — into the public output and the
//!   witness.
//! - [`genesis`], [`keyring`], [`generate`]: state snapshots, key seeds, and the batch
//!   generator behind `zkfleet rollup generate`.

pub mod batch;
pub mod digest_serde;
pub mod encoding;
pub mod execute;
pub mod generate;
pub mod genesis;
pub mod keyring;
pub mod operation;
pub mod signature;
pub mod spec;
pub mod state;
pub mod witness_input;
