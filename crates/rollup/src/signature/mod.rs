//! Hash-based signatures over Poseidon (docs/rollup.md §3).
//!
//! [`wots`] is the Winternitz one-time signature (w = 4, 133 chains); [`xmss`] puts 2^h
//! one-time keys under a Merkle tree whose root is the account public key, and the one-time key
//! index is the account nonce. Everything hashes through [`crate::spec`], the functions the
//! circuits mirror.

pub mod wots;
pub mod xmss;

pub use xmss::{recover_public_key, verify, Signature, SignatureError, XmssKeyPair};
