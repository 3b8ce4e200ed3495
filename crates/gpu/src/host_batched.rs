//! A CPU commit backend that hashes its Merkle trees eight leaves at a time
//! ([`crate::poseidon_x8`]: AVX-512 where the CPU has it, else plonky2's scalar code;
//! `ZKFLEET_POSEIDON=scalar|avx2|avx512` forces one).
//!
//! plonky2's `PolynomialBatch::from_values` / `from_coeffs` spend most of a proof's commitment
//! time in the Merkle tree over the LDE rows, hashing one leaf at a time with scalar Poseidon.
//! [`HostBatchedCommit`] does everything else as plonky2 does (the inverse FFT, the coset LDE
//! with the same root table, the transpose and bit-reversal into leaf order) and builds the tree
//! with [`crate::poseidon_x8::merkle_tree`], whose digests and cap equal `MerkleTree::new`'s.
//! So every commitment, and therefore every proof of [`crate::prover`] through it, is byte for
//! byte plonky2's (tests/host_batched.rs).
//!
//! [`HostBatchedCommit`] hashes on the process's path ([`crate::poseidon_x8::selected_path`]);
//! [`HostBatchedCommitWith`] on the path it is given, for tests and benchmarks that compare the
//! paths in one process.

use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::Field;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::util::{log2_strict, reverse_index_bits_in_place, transpose};
use plonky2_field::fft::FftRootTable;
use rayon::prelude::*;

use crate::backend::{check_tree_shape, Batch, CommitBackend};
use crate::error::GpuError;
use crate::poseidon_x8::{merkle_tree_with, selected_path, HasherPath};
use crate::{Hasher, F};

/// plonky2's CPU commitment with the batched Merkle tree builder (see the module docs), hashing
/// on [`selected_path`].
#[derive(Debug, Default, Clone, Copy)]
pub struct HostBatchedCommit;

/// [`HostBatchedCommit`] hashing on the given path, FRI's commit-phase trees included.
#[derive(Debug, Clone, Copy)]
pub struct HostBatchedCommitWith(pub HasherPath);

/// Checks what plonky2 would assert on: columns present, of one power-of-two length, and a
/// cap no higher than the LDE's tree.
fn check_shape(
    lens: impl Iterator<Item = usize>,
    rate_bits: usize,
    cap_height: usize,
) -> Result<usize, GpuError> {
    let mut lens = lens.peekable();
    let Some(&len) = lens.peek() else {
        return Err(GpuError::InvalidInput(
            "a commitment of no polynomials".into(),
        ));
    };
    if let Some((i, other)) = lens.enumerate().find(|(_, l)| *l != len) {
        return Err(GpuError::InvalidInput(format!(
            "polynomial {i} has {other} values or coefficients, polynomial 0 has {len}"
        )));
    }
    if !len.is_power_of_two() {
        return Err(GpuError::InvalidInput(format!(
            "polynomials of {len} values or coefficients, not a power of two"
        )));
    }
    let lde_bits = len.trailing_zeros() as usize + rate_bits;
    if cap_height > lde_bits {
        return Err(GpuError::InvalidInput(format!(
            "cap height {cap_height} above the LDE's tree height {lde_bits}"
        )));
    }
    Ok(len)
}

impl CommitBackend for HostBatchedCommit {
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        HostBatchedCommitWith(selected_path()).commit_values(
            values,
            rate_bits,
            cap_height,
            fft_root_table,
        )
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        HostBatchedCommitWith(selected_path()).commit_coeffs(
            coeffs,
            rate_bits,
            cap_height,
            fft_root_table,
        )
    }

    fn name(&self) -> &'static str {
        "host-batched"
    }
}

impl CommitBackend for HostBatchedCommitWith {
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        check_shape(values.iter().map(|v| v.len()), rate_bits, cap_height)?;
        let coeffs = values.into_par_iter().map(|v| v.ifft()).collect();
        self.commit_coeffs(coeffs, rate_bits, cap_height, fft_root_table)
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        let degree = check_shape(coeffs.iter().map(|c| c.len()), rate_bits, cap_height)?;
        // As plonky2's `PolynomialBatch::lde_values` (no blinding).
        let lde: Vec<Vec<F>> = coeffs
            .par_iter()
            .map(|p| {
                p.lde(rate_bits)
                    .coset_fft_with_options(F::coset_shift(), Some(rate_bits), fft_root_table)
                    .values
            })
            .collect();
        let mut leaves = transpose(&lde);
        drop(lde);
        reverse_index_bits_in_place(&mut leaves);
        Ok(Batch {
            polynomials: coeffs,
            merkle_tree: merkle_tree_with(self.0, leaves, cap_height),
            degree_log: log2_strict(degree),
            rate_bits,
            blinding: false,
        })
    }

    fn name(&self) -> &'static str {
        "host-batched"
    }

    /// FRI's commit-phase trees on this backend's path too (the trait's default uses the
    /// process's path).
    fn merkle_tree(
        &self,
        leaves: Vec<Vec<F>>,
        cap_height: usize,
    ) -> Result<MerkleTree<F, Hasher>, GpuError> {
        check_tree_shape(leaves.len(), cap_height)?;
        Ok(merkle_tree_with(self.0, leaves, cap_height))
    }
}
