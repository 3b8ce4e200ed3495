//! GPU kernels for plonky2's batch commitment, the first piece of zkfleet's GPU circuit prover
//! (issue 17).
//!
//! [`GpuContext::commit_polynomials`] does on an NVIDIA GPU what plonky2 1.1.0's
//! `PolynomialBatch::from_values(values, rate_bits, blinding = false, cap_height, ..)` does on the
//! CPU, with the same results bit for bit:
//!
//! 1. the inverse NTT of every column of values to its coefficients;
//! 2. the low-degree extension onto plonky2's coset (`F::coset_shift()`, blowup `2^rate_bits`),
//!    laid out in the bit-reversed row order plonky2 uses for the Merkle leaves;
//! 3. the Merkle tree over the LDE rows with plonky2's Poseidon (`hash_or_noop` leaves,
//!    `two_to_one` nodes) up to the cap of `2^cap_height` digests.
//!
//! Goldilocks arithmetic, the NTTs and the Poseidon permutation are CUDA C++ of this crate
//! (`kernels/`), embedded with `include_str!` and compiled at run time with NVRTC for the card
//! found. plonky2's own Poseidon round constants and MDS entries are written into the source
//! before compilation, so the two provers cannot disagree on them.
//!
//! libcuda and libnvrtc are opened with `dlopen` on first use (`cudarc`'s dynamic loading), so
//! this crate builds, and its CPU-side tests run, on machines with neither the CUDA toolkit nor a
//! driver: [`GpuContext::new`] then returns [`GpuError::DriverNotFound`] or
//! [`GpuError::NvrtcNotFound`] instead of panicking.
//!
//! The field is plonky2's `GoldilocksField`; values on the device are always canonical (< p).
//! See `docs/gpu.md` for what runs on the GPU so far, the measured figures and what remains.

/// Prints why a test skips, straight to the process's stderr: the test harness captures
/// `eprintln!` of passing tests, and a skip should be visible in a plain `cargo test`.
#[cfg(test)]
macro_rules! skip_note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod backend;
pub mod challenger;
mod context;
mod error;
mod fri;
mod host_batched;
pub mod host_check;
#[cfg(test)]
mod host_compiled;
pub mod memory;
#[cfg(test)]
mod model;
mod openings;
mod permutation;
pub mod poseidon_x8;
mod pow;
pub mod prover;
pub mod quotient;
mod source;

pub use backend::{CommitBackend, CpuCommit, GpuCommit};
pub use context::{
    CommitPhases, DeviceBatch, DeviceCommitment, DeviceFriLayers, FriCommitPhase, GpuCommitment,
    GpuContext, RowAndPath,
};
pub use error::GpuError;
pub use host_batched::{HostBatchedCommit, HostBatchedCommitWith};
pub use prover::ProveError;
pub use source::kernel_source;

/// The field every kernel works in.
pub type F = plonky2::field::goldilocks_field::GoldilocksField;
/// The hasher whose digests the Merkle kernels reproduce.
pub type Hasher = plonky2::hash::poseidon::PoseidonHash;
