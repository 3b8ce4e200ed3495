//! FRI's commit phase on the card (`kernels/fri.cu`): plonky2's `fri_committed_trees` with
//! every layer's values, leaves and tree made and kept on the card. Only each layer's cap comes
//! back (the transcript draws beta from it on the host), then the final polynomial's
//! coefficients; the query rounds open the layers' rows and paths with `gather_openings`.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, PushKernelArg};
use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::merkle_tree::MerkleCap;

use super::{cap_from_u64, grid, guarded, GpuContext, RowAndPath, BLOCK};
use crate::error::{During, GpuError};
use crate::{Hasher, F};

/// One commit-phase layer kept on the card: its leaves (column-major, `2 * arity` columns of
/// extension-value components) and its digests (level by level up to the cap).
struct DeviceFriLayer {
    leaves: CudaSlice<u64>,
    digests: CudaSlice<u64>,
    width: usize,
    log_leaves: u32,
    cap_height: u32,
}

/// FRI's commit-phase trees kept on the card (from [`GpuContext::fri_commit_phase`]); freed
/// when dropped.
pub struct DeviceFriLayers<'a> {
    gpu: &'a GpuContext,
    layers: Vec<DeviceFriLayer>,
}

impl DeviceFriLayers<'_> {
    /// Number of layers (one per reduction arity).
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers (FRI without reductions).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The rows at leaf `indices` of layer `layer` with their Merkle paths (siblings bottom
    /// first), as plonky2's `MerkleTree::get(i)` and `MerkleTree::prove(i)` of that layer's tree.
    pub fn open(&self, layer: usize, indices: &[usize]) -> Result<Vec<RowAndPath>, GpuError> {
        let l = self.layers.get(layer).ok_or_else(|| {
            GpuError::InvalidInput(format!(
                "FRI layer {layer} of {} kept on the card",
                self.layers.len()
            ))
        })?;
        self.gpu.gather(
            &l.leaves,
            &l.digests,
            l.width,
            l.log_leaves,
            l.cap_height,
            indices,
        )
    }

    /// Device bytes the layers hold.
    pub fn device_bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|l| 8 * (l.leaves.len() + l.digests.len()))
            .sum()
    }
}

/// What [`GpuContext::fri_commit_phase`] gives back.
pub struct FriCommitPhase<'a> {
    /// Each layer's Merkle cap, in order (`FriProof::commit_phase_merkle_caps`).
    pub caps: Vec<MerkleCap<F, Hasher>>,
    /// The final polynomial's coefficients, truncated to `len >> rate_bits` as plonky2 does: the
    /// two components of each coefficient (`to_basefield_array`), `[c0, c1]`.
    pub final_coeffs: Vec<[F; 2]>,
    /// The layers' trees, for the query rounds.
    pub layers: DeviceFriLayers<'a>,
}

impl GpuContext {
    /// plonky2's `fri_committed_trees` on the card. `coeffs`: the combined polynomial's LDE
    /// coefficients (`lde_final_poly` of `prove_openings`, zero-padded to the LDE's size
    /// `2^log_n`), the first component of every coefficient, then the second (canonical).
    /// `reduction_arity_bits`, `cap_height` and `rate_bits` as in `FriParams`. `beta(cap)` is
    /// called once per layer, in order, with the layer's cap: it observes the cap in the
    /// transcript and returns the layer's beta's two components.
    ///
    /// Per layer: the values are the coset FFT of the coefficients with shift
    /// `g^(arity_0 * .. * arity_{i-1})` (`g` = `F::MULTIPLICATIVE_GROUP_GENERATOR`), in
    /// bit-reversed order; the tree's leaves are `arity` consecutive values flattened; after beta
    /// the coefficients fold into `sum_k beta^k c[i * arity + k]`. Unlike plonky2, the last
    /// folded polynomial is not evaluated (nothing reads those values).
    pub fn fri_commit_phase(
        &self,
        coeffs: &[u64],
        log_n: u32,
        reduction_arity_bits: &[usize],
        cap_height: usize,
        rate_bits: usize,
        beta: &mut dyn FnMut(&MerkleCap<F, Hasher>) -> [u64; 2],
    ) -> Result<FriCommitPhase<'_>, GpuError> {
        // The layers' NTTs need a 2^log_n-th root of unity, which exists up to the field's
        // two-adicity (plonky2's `primitive_root_of_unity` asserts it): beyond, an input error.
        if log_n as usize > F::TWO_ADICITY || coeffs.len() != 2usize << log_n {
            return Err(GpuError::InvalidInput(format!(
                "{} coefficient words for FRI's commit phase, expected 2 * 2^{log_n} (log_n at \
                 most {})",
                coeffs.len(),
                F::TWO_ADICITY
            )));
        }
        // Each layer's tree needs at least 2^cap_height leaves (plonky2's `MerkleTree::new`
        // asserts it), and the final polynomial at least one coefficient after the truncation.
        let mut log_cur = log_n as usize;
        for (i, &bits) in reduction_arity_bits.iter().enumerate() {
            // (The fold's loop counts the arity in an int: 2^16 is far beyond any FRI shape.)
            if bits == 0 || bits > 16 || bits > log_cur || log_cur - bits < cap_height {
                return Err(GpuError::InvalidInput(format!(
                    "FRI layer {i}: arity 2^{bits} on 2^{log_cur} values with a cap of height \
                     {cap_height}"
                )));
            }
            log_cur -= bits;
        }
        if rate_bits > log_cur {
            return Err(GpuError::InvalidInput(format!(
                "a final polynomial of 2^{log_cur} coefficients cannot lose 2^{rate_bits}x"
            )));
        }
        let lane = self.lane()?;
        guarded("FRI's commit phase", || {
            let s = Arc::clone(lane.stream());
            let mut cur = s.clone_htod(coeffs).during("copying FRI's coefficients")?;
            let mut log_cur = log_n;
            let mut shift = F::MULTIPLICATIVE_GROUP_GENERATOR;
            let mut caps = Vec::with_capacity(reduction_arity_bits.len());
            let mut layers = Vec::with_capacity(reduction_arity_bits.len());
            for &bits in reduction_arity_bits {
                let arity_bits = bits as u32;
                let n = 1usize << log_cur;
                let total = (2 * n) as u64;
                // The layer's values: coset FFT of a copy (the coefficients fold below).
                let mut vals = s.clone_dtod(&cur).during("copying FRI's coefficients")?;
                let shift_u64 = shift.to_canonical_u64();
                let mut b = s.launch_builder(&self.kernels.coset_scale);
                b.arg(&mut vals).arg(&shift_u64).arg(&log_cur).arg(&total);
                unsafe { b.launch(grid(total, BLOCK)?) }.during("launching coset_scale")?;
                // Only the forward twiddles of 2^log_cur are read; the tables of rate 0 are the
                // smallest entry of the cache that holds them.
                let tables = self.tables(&s, log_cur, 0)?;
                self.ntt_dif(&s, &mut vals, &tables.tw_fwd, log_cur, 2)?;
                let mut leaves =
                    unsafe { s.alloc::<u64>(2 * n) }.during("allocating FRI's leaves")?;
                let mut b = s.launch_builder(&self.kernels.fri_leaves);
                b.arg(&vals)
                    .arg(&mut leaves)
                    .arg(&log_cur)
                    .arg(&arity_bits)
                    .arg(&total);
                unsafe { b.launch(grid(total, BLOCK)?) }.during("launching fri_leaves")?;
                drop(vals);
                let width = 2usize << arity_bits;
                let log_leaves = log_cur - arity_bits;
                let (digests, cap_raw) =
                    self.hash_tree(&s, &leaves, width, log_leaves, cap_height as u32)?;
                let cap = cap_from_u64(&cap_raw);
                let [beta_a, beta_b] = beta(&cap);
                caps.push(cap);
                layers.push(DeviceFriLayer {
                    leaves,
                    digests,
                    width,
                    log_leaves,
                    cap_height: cap_height as u32,
                });
                let folded = 1u64 << log_leaves;
                let mut next =
                    unsafe { s.alloc::<u64>(2 * folded as usize) }.during("allocating")?;
                let mut b = s.launch_builder(&self.kernels.fri_fold);
                b.arg(&cur)
                    .arg(&mut next)
                    .arg(&log_cur)
                    .arg(&arity_bits)
                    .arg(&beta_a)
                    .arg(&beta_b)
                    .arg(&folded);
                unsafe { b.launch(grid(folded, BLOCK)?) }.during("launching fri_fold")?;
                cur = next;
                log_cur = log_leaves;
                shift = shift.exp_u64(1u64 << arity_bits);
            }
            // plonky2 truncates the final polynomial to len >> rate_bits coefficients (those
            // removed are zero); only the kept ones come back.
            let n = 1usize << log_cur;
            let keep = n >> rate_bits;
            let mut raw = vec![0u64; 2 * keep];
            let (c0, c1) = raw.split_at_mut(keep);
            s.memcpy_dtoh(&cur.slice(..keep), c0)
                .during("copying the final polynomial back")?;
            s.memcpy_dtoh(&cur.slice(n..n + keep), c1)
                .during("copying the final polynomial back")?;
            s.synchronize().during("FRI's commit phase")?;
            let final_coeffs = c0
                .iter()
                .zip(c1.iter())
                .map(|(&a, &b)| [F::from_canonical_u64(a), F::from_canonical_u64(b)])
                .collect();
            Ok(FriCommitPhase {
                caps,
                final_coeffs,
                layers: DeviceFriLayers { gpu: self, layers },
            })
        })
    }
}
