//! Where a proof's batch commitments are made: plonky2's own CPU code or the GPU.
//!
//! The prover of this crate ([`crate::prover`]) calls a [`CommitBackend`] wherever plonky2's
//! `prove` calls `PolynomialBatch::from_values` / `from_coeffs`, and hands the returned
//! `PolynomialBatch` to plonky2's own CPU code (quotient, openings, FRI). So the GPU backend must
//! give back everything that code reads:
//!
//! - `polynomials` (the coefficients): the openings at zeta and FRI's combined polynomial;
//! - `merkle_tree.leaves` (the LDE rows in leaf order): the quotient reads them
//!   (`get_lde_values`) and FRI's query rounds open them;
//! - `merkle_tree.digests`, in plonky2's recursive layout: the query rounds' Merkle paths
//!   (`MerkleTree::prove`); the device keeps them level by level, reordered here;
//! - `merkle_tree.cap`: the transcript.

use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::Field;
use plonky2::fri::oracle::PolynomialBatch;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use plonky2::util::timing::TimingTree;
use plonky2_field::fft::FftRootTable;
use rayon::prelude::*;

use crate::context::GpuContext;
use crate::error::GpuError;
use crate::F;

/// The plonky2 configuration the backends commit for (Poseidon over Goldilocks, D = 2).
pub type C = PoseidonGoldilocksConfig;
/// The extension degree of [`C`].
pub const D: usize = 2;
/// plonky2's batch commitment under [`C`].
pub type Batch = PolynomialBatch<F, C, D>;

/// Makes the batch commitments of a proof (without blinding: our configurations are not
/// zero-knowledge, see [`crate::prover`]).
pub trait CommitBackend: Send + Sync {
    /// As `PolynomialBatch::from_values(values, rate_bits, false, cap_height, ..)`.
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError>;

    /// As `PolynomialBatch::from_coeffs(coeffs, rate_bits, false, cap_height, ..)`.
    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError>;

    /// A short name for logs ("cpu", "gpu").
    fn name(&self) -> &'static str;
}

/// plonky2's own CPU commitment (the reference the GPU backend must equal).
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuCommit;

impl CommitBackend for CpuCommit {
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        Ok(Batch::from_values(
            values,
            rate_bits,
            false,
            cap_height,
            &mut TimingTree::default(),
            fft_root_table,
        ))
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        Ok(Batch::from_coeffs(
            coeffs,
            rate_bits,
            false,
            cap_height,
            &mut TimingTree::default(),
            fft_root_table,
        ))
    }

    fn name(&self) -> &'static str {
        "cpu"
    }
}

/// The commitment on the GPU: interpolation, LDE and Merkle tree on the card, then the
/// coefficients, the leaves and every digest below the cap copied back for plonky2's CPU code.
pub struct GpuCommit {
    gpu: GpuContext,
}

impl GpuCommit {
    pub fn new(gpu: GpuContext) -> Self {
        Self { gpu }
    }

    pub fn context(&self) -> &GpuContext {
        &self.gpu
    }

    fn finish(
        &self,
        commitment: crate::DeviceCommitment,
        cap_height: usize,
    ) -> Result<Batch, GpuError> {
        let host = self.gpu.download(&commitment)?;
        let levels = self.gpu.download_digests(&commitment)?;
        drop(commitment);
        let log_leaves = host.degree_log + host.rate_bits;
        let digests = plonky2_digest_order(&levels, log_leaves, cap_height)?;
        let width = host.width;
        let leaves: Vec<Vec<F>> = host.leaves.par_chunks(width).map(|r| r.to_vec()).collect();
        Ok(Batch {
            polynomials: host.coeffs,
            merkle_tree: MerkleTree {
                leaves,
                digests,
                cap: host.cap,
            },
            degree_log: host.degree_log,
            rate_bits: host.rate_bits,
            blinding: false,
        })
    }
}

impl CommitBackend for GpuCommit {
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        let batch = self.gpu.upload(&values)?;
        drop(values);
        let c = self.gpu.commit_device(&batch, rate_bits, cap_height)?;
        drop(batch);
        self.finish(c, cap_height)
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        let batch = self.gpu.upload_coeffs(&coeffs)?;
        drop(coeffs);
        let c = self
            .gpu
            .commit_coeffs_device(&batch, rate_bits, cap_height)?;
        drop(batch);
        self.finish(c, cap_height)
    }

    fn name(&self) -> &'static str {
        "gpu"
    }
}

/// Reorders the digests the device keeps level by level (`levels`: the 2^log_leaves leaf
/// digests, then each level up to but not including the cap, 4 u64 each) into plonky2's
/// `MerkleTree::digests` layout: one block of `2 * (2^layers - 1)` digests per cap entry's
/// subtree, and inside it the recursive order `left subtree || left child || right child ||
/// right subtree`. Digest `j` of layer `i` of a subtree sits at
/// `2 * (((j >> 1) << (i + 1)) + (1 << i) - 1) + (j & 1)` (the inverse of plonky2's
/// `merkle_tree_prove` indexing).
pub fn plonky2_digest_order(
    levels: &[u64],
    log_leaves: usize,
    cap_height: usize,
) -> Result<Vec<HashOut<F>>, GpuError> {
    if cap_height > log_leaves {
        return Err(GpuError::InvalidInput(format!(
            "cap_height {cap_height} above log2 of the leaves {log_leaves}"
        )));
    }
    let layers = log_leaves - cap_height;
    let expected: usize = (0..layers).map(|i| 1usize << (log_leaves - i)).sum();
    if levels.len() != expected * 4 {
        return Err(GpuError::InvalidInput(format!(
            "{} digest words, expected {} for 2^{log_leaves} leaves and cap height {cap_height}",
            levels.len(),
            expected * 4
        )));
    }
    let num_digests = 2 * ((1usize << log_leaves) - (1usize << cap_height));
    let mut out = vec![HashOut::<F>::ZERO; num_digests];
    if layers == 0 {
        return Ok(out);
    }
    let tree_len = 2 * ((1usize << layers) - 1);
    let mut offset = 0usize;
    for i in 0..layers {
        let count = 1usize << (log_leaves - i);
        let per_tree = layers - i;
        let mask = (1usize << per_tree) - 1;
        for g in 0..count {
            let tree = g >> per_tree;
            let j = g & mask;
            let pos = tree * tree_len + 2 * (((j >> 1) << (i + 1)) + (1 << i) - 1) + (j & 1);
            let w = &levels[offset + 4 * g..offset + 4 * g + 4];
            out[pos] = HashOut {
                elements: [
                    F::from_noncanonical_u64(w[0]),
                    F::from_noncanonical_u64(w[1]),
                    F::from_noncanonical_u64(w[2]),
                    F::from_noncanonical_u64(w[3]),
                ],
            };
        }
        offset += count * 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use plonky2::field::types::{PrimeField64, Sample};
    use plonky2::hash::hash_types::RichField;
    use plonky2::hash::poseidon::PoseidonHash;
    use plonky2::plonk::config::Hasher as _;

    use super::*;

    /// Digests level by level as the device computes them, on the CPU.
    fn levels_of(leaves: &[Vec<F>], cap_height: usize) -> Vec<u64> {
        let mut level: Vec<HashOut<F>> = leaves
            .iter()
            .map(|l| PoseidonHash::hash_or_noop(l))
            .collect();
        let log_leaves = leaves.len().trailing_zeros() as usize;
        let mut out = Vec::new();
        for _ in 0..log_leaves - cap_height {
            out.extend(
                level
                    .iter()
                    .flat_map(|h| h.elements.map(|e| e.to_canonical_u64())),
            );
            level = level
                .chunks(2)
                .map(|p| PoseidonHash::two_to_one(p[0], p[1]))
                .collect();
        }
        out
    }

    fn check<Fr: RichField>(_: Fr) {}

    #[test]
    fn device_levels_reorder_to_plonky2_digests() {
        check(F::ZERO);
        for log_leaves in 0..=7usize {
            for cap_height in 0..=log_leaves.min(4) {
                for width in [1usize, 4, 7] {
                    let leaves: Vec<Vec<F>> =
                        (0..1 << log_leaves).map(|_| F::rand_vec(width)).collect();
                    let tree = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), cap_height);
                    let levels = levels_of(&leaves, cap_height);
                    let ours = plonky2_digest_order(&levels, log_leaves, cap_height).unwrap();
                    assert_eq!(
                        ours, tree.digests,
                        "2^{log_leaves} leaves, cap height {cap_height}, width {width}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_digest_count_is_an_error() {
        assert!(plonky2_digest_order(&[0; 8], 2, 0).is_err());
        assert!(plonky2_digest_order(&[], 2, 3).is_err());
    }
}
