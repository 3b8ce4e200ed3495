//! A CPU transcription of the kernels' schedule (same tables, same butterflies, same index
//! arithmetic), checked against plonky2 on machines without a GPU. It pins down the part most
//! likely to go wrong, the mapping from coset blocks and DIF output order to plonky2's leaf
//! order, so that a device run only has the CUDA transcription left to prove.

use plonky2::field::polynomial::PolynomialValues;
use plonky2::field::types::Field;

use crate::F;

fn reverse_bits(i: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        i.reverse_bits() >> (usize::BITS - bits)
    }
}

/// `ntt_dif_stage` for every stage, as the kernels run it (the shared-memory kernel performs the
/// same butterflies for the small stages).
fn dif(data: &mut [F], tw: &[F], log_n: u32) {
    let n = 1usize << log_n;
    for poly in data.chunks_exact_mut(n) {
        for log_h in (0..log_n).rev() {
            let h = 1usize << log_h;
            for b in 0..n / 2 {
                let (blk, off) = (b >> log_h, b & (h - 1));
                let i = (blk << (log_h + 1)) + off;
                let (u, v) = (poly[i], poly[i + h]);
                poly[i] = u + v;
                poly[i + h] = (u - v) * tw[off << (log_n - 1 - log_h)];
            }
        }
    }
}

/// The leaves (row-major) the kernels produce for `values`.
pub(crate) fn model_leaves(values: &[PolynomialValues<F>], rate_bits: u32) -> Vec<F> {
    let width = values.len();
    let n = values[0].len();
    let log_n = n.trailing_zeros();
    let log_big_n = log_n + rate_bits;
    let w_n = F::primitive_root_of_unity(log_n as usize);
    let w_big = F::primitive_root_of_unity(log_big_n as usize);
    let tw_fwd: Vec<F> = w_n.powers().take((n / 2).max(1)).collect();
    let tw_inv: Vec<F> = w_n.inverse().powers().take((n / 2).max(1)).collect();

    let mut work: Vec<F> = values.iter().flat_map(|v| v.values.clone()).collect();
    dif(&mut work, &tw_inv, log_n);
    let n_inv = F::from_canonical_usize(n).inverse();
    let mut coeffs = vec![F::ZERO; width * n];
    for (t, c) in coeffs.iter_mut().enumerate() {
        let (poly, i) = (t >> log_n, t & (n - 1));
        *c = work[(poly << log_n) + reverse_bits(i, log_n)] * n_inv;
    }

    let blocks = 1usize << rate_bits;
    let mut coset_pows = vec![F::ZERO; n * blocks];
    for jb in 0..blocks {
        let g = F::coset_shift() * w_big.exp_u64(reverse_bits(jb, rate_bits) as u64);
        for (i, p) in g.powers().take(n).enumerate() {
            coset_pows[jb * n + i] = p;
        }
    }
    let big_n = n << rate_bits;
    let mut lde = vec![F::ZERO; width * big_n];
    for (t, x) in lde.iter_mut().enumerate() {
        let (col, rem) = (t >> log_big_n, t & (big_n - 1));
        *x = coeffs[(col << log_n) + (rem & (n - 1))] * coset_pows[rem];
    }
    dif(&mut lde, &tw_fwd, log_n);

    let mut rows = vec![F::ZERO; width * big_n];
    for c in 0..width {
        for r in 0..big_n {
            rows[r * width + c] = lde[c * big_n + r];
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use plonky2::field::types::Sample;
    use plonky2::fri::oracle::PolynomialBatch;
    use plonky2::plonk::config::PoseidonGoldilocksConfig;
    use plonky2::util::timing::TimingTree;

    use super::*;

    #[test]
    fn schedule_gives_plonky2_leaf_order() {
        for (log_n, width, rate_bits) in [(0, 2, 1), (1, 3, 2), (3, 2, 1), (5, 3, 3), (8, 2, 2)] {
            let values: Vec<PolynomialValues<F>> = (0..width)
                .map(|_| PolynomialValues::new(F::rand_vec(1 << log_n)))
                .collect();
            let ours = model_leaves(&values, rate_bits);
            let batch = PolynomialBatch::<F, PoseidonGoldilocksConfig, 2>::from_values(
                values,
                rate_bits as usize,
                false,
                0,
                &mut TimingTree::default(),
                None,
            );
            let theirs: Vec<F> = batch.merkle_tree.leaves.concat();
            assert_eq!(
                ours, theirs,
                "log_n={log_n} width={width} rate_bits={rate_bits}"
            );
        }
    }
}
