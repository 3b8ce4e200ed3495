//! In-circuit building blocks mirroring the native functions of `zkfleet_rollup::spec`.
//!
//! Each gadget computes exactly what its native counterpart computes (tests compare them value
//! by value); the basic circuits in [`crate::basic`] are assembled from them.

pub mod hash;
pub mod merkle;
pub mod u64;
pub mod xmss;
