//! The permutation argument's Z and partial products (plonky2's
//! `wires_permutation_partial_products_and_zs`, crate-private there), all challenges in one pass
//! over the rows.
//!
//! plonky2 inverts every denominator `w + beta sigma + gamma` of a row (a batch inverse per row
//! and challenge), multiplies each numerator by its inverse, then multiplies the quotients chunk
//! by chunk and scans the rows on one thread. Here each chunk's numerators and denominators are
//! multiplied apart and only the chunk's denominator product is inverted (one batch inverse per
//! block of rows), the prefix products within a row are made on rayon's threads, and the scan
//! over the rows multiplies one product per row. The field is exact, so the values are plonky2's:
//! `prod n_j / prod d_j = prod (n_j / d_j)` and the order of a product does not change it.
//!
//! This is the host path (`CpuCommit`, `HostBatchedCommit`); `GpuCommit` computes the same
//! values on the card (`kernels/permutation.cu`, `CommitBackend::zs_and_partial_products`),
//! checked against this code and plonky2's in the tests below.

use plonky2::field::polynomial::PolynomialValues;
use plonky2::field::types::Field;
use plonky2::plonk::circuit_data::{CommonCircuitData, ProverOnlyCircuitData};
use rayon::prelude::*;

use crate::backend::{C, D};
use crate::prover::ProveError;
use crate::F;

/// Rows per task (and per batch inverse).
const BLOCK: usize = 512;

/// Z of each challenge, then the partial products of challenge 0, of challenge 1, ... (the
/// order of plonky2's `zs_range` and `partial_products_range`), from the routed wire columns.
pub(crate) fn zs_and_partial_products(
    routed_wires: &[PolynomialValues<F>],
    betas: &[F],
    gammas: &[F],
    prover_data: &ProverOnlyCircuitData<F, C, D>,
    common_data: &CommonCircuitData<F, D>,
) -> Result<Vec<PolynomialValues<F>>, ProveError> {
    let num_routed = common_data.config.num_routed_wires;
    if routed_wires.len() != num_routed || common_data.k_is.len() < num_routed {
        return Err(ProveError::Proving(format!(
            "{} routed wire columns and {} k_i for {num_routed} routed wires",
            routed_wires.len(),
            common_data.k_is.len()
        )));
    }
    zs_and_partial_products_of(
        routed_wires,
        &prover_data.sigmas,
        &prover_data.subgroup,
        &common_data.k_is[..num_routed],
        common_data.quotient_degree_factor,
        common_data.num_partial_products,
        betas,
        gammas,
    )
}

/// [`zs_and_partial_products`] on its inputs: `sigmas[row][wire]`, the subgroup's points `x`,
/// `k_is[wire]`, chunks of `degree_factor` wires.
#[allow(clippy::too_many_arguments)]
fn zs_and_partial_products_of(
    wires: &[PolynomialValues<F>],
    sigmas: &[Vec<F>],
    subgroup: &[F],
    k_is: &[F],
    degree_factor: usize,
    num_prods: usize,
    betas: &[F],
    gammas: &[F],
) -> Result<Vec<PolynomialValues<F>>, ProveError> {
    let n = subgroup.len();
    let num_routed = wires.len();
    let challenges = betas.len();
    let chunks = num_routed.div_ceil(degree_factor.max(1));
    if degree_factor == 0 || chunks != num_prods + 1 || gammas.len() != challenges {
        return Err(ProveError::Proving(format!(
            "{num_routed} routed wires in chunks of {degree_factor} for {num_prods} partial \
             products, {challenges} betas and {} gammas",
            gammas.len()
        )));
    }
    if sigmas.len() != n
        || sigmas.iter().any(|row| row.len() < num_routed)
        || wires.iter().any(|w| w.values.len() != n)
    {
        return Err(ProveError::Proving(format!(
            "the permutation's rows disagree: {n} points, {} sigma rows, wire columns of {:?} rows",
            sigmas.len(),
            wires.iter().map(|w| w.values.len()).min()
        )));
    }
    // prefix[(row * challenges + c) * chunks + k]: the product of the quotients of chunks 0..=k.
    let per_row = challenges * chunks;
    let mut prefix = vec![F::ONE; n * per_row];
    prefix
        .par_chunks_mut(BLOCK * per_row)
        .enumerate()
        .try_for_each(|(block, prefix)| -> Result<(), ProveError> {
            let start = block * BLOCK;
            let rows = prefix.len() / per_row;
            let mut dens = vec![F::ONE; prefix.len()];
            // `prefix` holds the numerators' products until the division.
            for (j, wire) in wires.iter().enumerate() {
                let k = j / degree_factor;
                for (t, &w) in wire.values[start..start + rows].iter().enumerate() {
                    let row = start + t;
                    let s_id = k_is[j] * subgroup[row];
                    let sigma = sigmas[row][j];
                    for c in 0..challenges {
                        let at = (t * challenges + c) * chunks + k;
                        prefix[at] *= w + betas[c] * s_id + gammas[c];
                        dens[at] *= w + betas[c] * sigma + gammas[c];
                    }
                }
            }
            if dens.iter().any(|d| d.is_zero()) {
                return Err(ProveError::Proving(
                    "a permutation denominator w + beta sigma + gamma is zero".into(),
                ));
            }
            let inverses = F::batch_multiplicative_inverse(&dens);
            for (row, inverses) in prefix
                .chunks_exact_mut(chunks)
                .zip(inverses.chunks_exact(chunks))
            {
                let mut acc = F::ONE;
                for (slot, &inverse) in row.iter_mut().zip(inverses) {
                    acc *= *slot * inverse;
                    *slot = acc;
                }
            }
            Ok(())
        })?;
    // Z(x_0) = 1, Z(x_{i+1}) = Z(x_i) * (the product of row i's quotients): a scan, one
    // multiplication per row and challenge.
    let zs: Vec<Vec<F>> = (0..challenges)
        .into_par_iter()
        .map(|c| {
            let mut z = Vec::with_capacity(n);
            let mut acc = F::ONE;
            for row in 0..n {
                z.push(acc);
                acc *= prefix[(row * challenges + c) * chunks + chunks - 1];
            }
            z
        })
        .collect();
    // Partial product k of row i: Z(x_i) times the quotients of chunks 0..=k.
    let partials: Vec<PolynomialValues<F>> = (0..challenges * num_prods)
        .into_par_iter()
        .map(|column| {
            let (c, k) = (column / num_prods, column % num_prods);
            let z = &zs[c];
            PolynomialValues::new(
                (0..n)
                    .map(|row| z[row] * prefix[(row * challenges + c) * chunks + k])
                    .collect(),
            )
        })
        .collect();
    Ok(zs
        .into_iter()
        .map(PolynomialValues::new)
        .chain(partials)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::mem::swap;

    use plonky2::field::types::Sample;
    use plonky2::util::transpose;

    use super::*;

    /// plonky2 1.1.0's `wires_permutation_partial_products_and_zs` line for line (the witness
    /// read from columns), one challenge: the partial products, then Z.
    #[allow(clippy::too_many_arguments)]
    fn plonky2_reference(
        wires: &[PolynomialValues<F>],
        sigmas: &[Vec<F>],
        subgroup: &[F],
        k_is: &[F],
        degree: usize,
        num_prods: usize,
        beta: F,
        gamma: F,
    ) -> Vec<PolynomialValues<F>> {
        let num_routed = wires.len();
        let all_quotient_chunk_products: Vec<Vec<F>> = subgroup
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let s_sigmas = &sigmas[i];
                let denominators: Vec<F> = (0..num_routed)
                    .map(|j| wires[j].values[i] + beta * s_sigmas[j] + gamma)
                    .collect();
                let denominator_invs = F::batch_multiplicative_inverse(&denominators);
                let quotient_values: Vec<F> = (0..num_routed)
                    .map(|j| wires[j].values[i] + beta * (k_is[j] * x) + gamma)
                    .zip(denominator_invs)
                    .map(|(num, den_inv)| num * den_inv)
                    .collect();
                quotient_values
                    .chunks(degree)
                    .map(|chunk| chunk.iter().copied().product())
                    .collect()
            })
            .collect();
        let mut z_x = F::ONE;
        let mut all = Vec::with_capacity(all_quotient_chunk_products.len());
        for quotient_chunk_products in all_quotient_chunk_products {
            let mut acc = z_x;
            let mut partial_products_and_z_gx = Vec::with_capacity(quotient_chunk_products.len());
            for p in quotient_chunk_products {
                acc *= p;
                partial_products_and_z_gx.push(acc);
            }
            swap(&mut z_x, &mut partial_products_and_z_gx[num_prods]);
            all.push(partial_products_and_z_gx);
        }
        transpose(&all)
            .into_iter()
            .map(PolynomialValues::new)
            .collect()
    }

    /// Every challenge's Z then every challenge's partial products (the prover's order), each
    /// from [`plonky2_reference`].
    #[allow(clippy::too_many_arguments)]
    fn plonky2_all(
        wires: &[PolynomialValues<F>],
        sigmas: &[Vec<F>],
        subgroup: &[F],
        k_is: &[F],
        degree: usize,
        num_prods: usize,
        betas: &[F],
        gammas: &[F],
    ) -> Vec<PolynomialValues<F>> {
        let mut references: Vec<Vec<PolynomialValues<F>>> = betas
            .iter()
            .zip(gammas)
            .map(|(&beta, &gamma)| {
                plonky2_reference(
                    wires, sigmas, subgroup, k_is, degree, num_prods, beta, gamma,
                )
            })
            .collect();
        let zs: Vec<PolynomialValues<F>> = references
            .iter_mut()
            .map(|v| v.pop().expect("Z is last"))
            .collect();
        [zs, references.concat()].concat()
    }

    /// `num_routed` random wire columns of `n` rows and `n` random sigma rows.
    fn random_wires_and_sigmas(
        n: usize,
        num_routed: usize,
    ) -> (Vec<PolynomialValues<F>>, Vec<Vec<F>>) {
        let wires = (0..num_routed)
            .map(|_| PolynomialValues::new(F::rand_vec(n)))
            .collect();
        let sigmas = (0..n).map(|_| F::rand_vec(num_routed)).collect();
        (wires, sigmas)
    }

    #[test]
    fn zs_and_partial_products_are_plonky2s() {
        // Rows across several blocks (and a short last block); routed wires that fill the last
        // chunk and that do not; one and two challenges.
        for (n, num_routed, degree, challenges) in [
            (1300usize, 80usize, 8usize, 2usize),
            (64, 27, 8, 1),
            (BLOCK, 9, 4, 3),
        ] {
            let num_prods = num_routed.div_ceil(degree) - 1;
            let (wires, sigmas) = random_wires_and_sigmas(n, num_routed);
            let g = F::primitive_root_of_unity(11);
            let subgroup: Vec<F> = g.powers().take(n).collect();
            let k_is = F::rand_vec(num_routed);
            let betas = F::rand_vec(challenges);
            let gammas = F::rand_vec(challenges);
            let ours = zs_and_partial_products_of(
                &wires, &sigmas, &subgroup, &k_is, degree, num_prods, &betas, &gammas,
            )
            .unwrap();
            let expected = plonky2_all(
                &wires, &sigmas, &subgroup, &k_is, degree, num_prods, &betas, &gammas,
            );
            assert_eq!(
                ours.len(),
                expected.len(),
                "2^? rows {n}, {num_routed} wires"
            );
            for (i, (a, b)) in ours.iter().zip(&expected).enumerate() {
                assert!(
                    a.values == b.values,
                    "polynomial {i} ({n} rows, {num_routed} wires)"
                );
            }
        }
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let wires = vec![PolynomialValues::new(F::rand_vec(8)); 9];
        let sigmas = vec![F::rand_vec(9); 8];
        let subgroup = F::rand_vec(8);
        let k_is = F::rand_vec(9);
        let (b, g) = (F::rand_vec(2), F::rand_vec(2));
        // 9 wires in chunks of 4 are 3 chunks: 2 partial products, not 3.
        assert!(
            zs_and_partial_products_of(&wires, &sigmas, &subgroup, &k_is, 4, 3, &b, &g).is_err()
        );
        // A sigma row short of a wire.
        let short = vec![F::rand_vec(8); 8];
        assert!(
            zs_and_partial_products_of(&wires, &short, &subgroup, &k_is, 4, 2, &b, &g).is_err()
        );
        assert!(
            zs_and_partial_products_of(&wires, &sigmas, &subgroup, &k_is, 4, 2, &b, &g).is_ok()
        );
    }

    /// `kernels/permutation.cu` compiled for the host and run thread by thread (threads past
    /// the end included), with the host step between the launches, as
    /// `GpuContext::permutation_launch` runs it.
    const KERNEL_MAIN: &str = r#"
#include <cstdio>
#include <vector>
static FILE* in;
static u64 rd() { u64 v = 0; if (fread(&v, 8, 1, in) != 1) { fprintf(stderr, "short\n"); exit(2); } return v; }
static std::vector<u64> rdv(size_t n) { std::vector<u64> v(n); for (auto& x : v) x = rd(); return v; }
template <class F> static void threads(u64 total, F f) {
    blockDim.x = 256;
    for (u64 t = 0; t < total + 300; t++) { blockIdx.x = t / 256; threadIdx.x = t % 256; f(); }
}
int main(int argc, char** argv) {
    in = fopen(argv[1], "rb");
    if (!in) return 3;
    u32 log_n = rd(), num_routed = rd(), degree = rd(), ch = rd(), num_prods = rd(), log_block = rd();
    u64 generator = rd();
    u64 n = 1ULL << log_n;
    auto wires = rdv(num_routed * n), sigmas = rdv(n * num_routed), k_is = rdv(num_routed);
    auto betas = rdv(ch), gammas = rdv(ch);
    fclose(in);
    u32 chunks = (num_routed + degree - 1) / degree;
    std::vector<u64> prefix(ch * chunks * n, 0);
    u32 zero = 0;
    threads(ch * n, [&] { perm_chunk_quotients(wires.data(), sigmas.data(), k_is.data(), betas.data(),
        gammas.data(), generator, log_n, num_routed, degree, ch, prefix.data(), &zero); });
    FILE* o = fopen(argv[2], "wb");
    if (!o) return 4;
    u64 z64 = zero;
    fwrite(&z64, 8, 1, o);
    if (!zero) {
        u64 blocks = n >> log_block;
        std::vector<u64> totals(ch * blocks), carries(ch * blocks);
        threads(ch * blocks, [&] { perm_block_products(prefix.data(), log_n, chunks, ch, log_block, totals.data()); });
        for (u64 c = 0; c < ch; c++) {
            u64 acc = 1;
            for (u64 b = 0; b < blocks; b++) { carries[c * blocks + b] = acc; acc = gl_mul(acc, totals[c * blocks + b]); }
        }
        std::vector<u64> out(ch * (1 + num_prods) * n, 0);
        threads(ch * blocks, [&] { perm_zs(prefix.data(), carries.data(), log_n, chunks, ch, log_block, out.data()); });
        threads(ch * num_prods * n, [&] { perm_partials(prefix.data(), log_n, chunks, ch, num_prods, out.data()); });
        fwrite(out.data(), 8, out.size(), o);
    }
    fclose(o);
    return 0;
}
"#;

    #[test]
    fn permutation_kernels_on_the_host_are_plonky2s() {
        use plonky2::field::types::PrimeField64;
        let Some(program) = crate::host_check::HostProgram::build(
            "perm",
            &format!(
                "#include <cstdlib>\n{}",
                crate::source::permutation_source()
            ),
            KERNEL_MAIN,
        ) else {
            skip_note!("skipping: no C++ compiler found (c++, g++, clang++)");
            return;
        };
        let canon = |v: &[F]| v.iter().map(|x| x.to_canonical_u64()).collect::<Vec<_>>();
        // Ok(values) or Err(()) for a zero denominator.
        #[allow(clippy::too_many_arguments)]
        let run = |log_n: usize,
                   wires: &[PolynomialValues<F>],
                   sigmas: &[Vec<F>],
                   generator: F,
                   k_is: &[F],
                   degree: usize,
                   num_prods: usize,
                   betas: &[F],
                   gammas: &[F]|
         -> Result<Vec<PolynomialValues<F>>, ()> {
            let n = 1usize << log_n;
            let log_block = (log_n as u32).min(crate::context::PERM_LOG_BLOCK);
            let mut input: Vec<u64> = vec![
                log_n as u64,
                wires.len() as u64,
                degree as u64,
                betas.len() as u64,
                num_prods as u64,
                log_block as u64,
                generator.to_canonical_u64(),
            ];
            for w in wires {
                input.extend(canon(&w.values));
            }
            for row in sigmas {
                input.extend(canon(&row[..wires.len()]));
            }
            input.extend(canon(k_is));
            input.extend(canon(betas));
            input.extend(canon(gammas));
            let out = program.run(&input);
            if out[0] != 0 {
                return Err(());
            }
            Ok(out[1..]
                .chunks_exact(n)
                .map(|c| {
                    PolynomialValues::new(c.iter().map(|&v| F::from_canonical_u64(v)).collect())
                })
                .collect())
        };
        // Several scan blocks of 2^6 rows, one block, a block shorter than 2^6 and a single
        // row; routed wires that fill the last chunk and that do not; 1-3 challenges.
        for (log_n, num_routed, degree, challenges) in [
            (11usize, 80usize, 8usize, 2usize),
            (6, 27, 8, 1),
            (9, 9, 4, 3),
            (3, 80, 8, 2),
            (0, 5, 2, 2),
        ] {
            let n = 1usize << log_n;
            let num_prods = num_routed.div_ceil(degree) - 1;
            let (wires, sigmas) = random_wires_and_sigmas(n, num_routed);
            let g = F::primitive_root_of_unity(log_n);
            let subgroup: Vec<F> = g.powers().take(n).collect();
            let k_is = F::rand_vec(num_routed);
            let betas = F::rand_vec(challenges);
            let gammas = F::rand_vec(challenges);
            let ours = run(
                log_n, &wires, &sigmas, g, &k_is, degree, num_prods, &betas, &gammas,
            )
            .expect("no zero denominator");
            let host = zs_and_partial_products_of(
                &wires, &sigmas, &subgroup, &k_is, degree, num_prods, &betas, &gammas,
            )
            .unwrap();
            let expected = plonky2_all(
                &wires, &sigmas, &subgroup, &k_is, degree, num_prods, &betas, &gammas,
            );
            assert_eq!(
                ours.len(),
                expected.len(),
                "2^{log_n} rows, {num_routed} wires"
            );
            for (i, ((a, b), h)) in ours.iter().zip(&expected).zip(&host).enumerate() {
                assert!(
                    a.values == b.values && a.values == h.values,
                    "polynomial {i} (2^{log_n} rows, {num_routed} wires)"
                );
            }
            // A denominator w + beta sigma + gamma of zero (row n - 1, wire 3, the last
            // challenge) is reported, not inverted.
            let mut bad = gammas.clone();
            let c = challenges - 1;
            bad[c] = -(wires[3].values[n - 1] + betas[c] * sigmas[n - 1][3]);
            assert!(
                run(log_n, &wires, &sigmas, g, &k_is, degree, num_prods, &betas, &bad).is_err(),
                "zero denominator at 2^{log_n} rows"
            );
        }
    }

    #[test]
    fn block_carries_are_exclusive_prefix_products() {
        use plonky2::field::types::PrimeField64;
        let totals = F::rand_vec(12);
        let raw: Vec<u64> = totals.iter().map(|x| x.to_canonical_u64()).collect();
        let carries = crate::context::block_carries(&raw, 4);
        for c in 0..3 {
            let mut acc = F::ONE;
            for b in 0..4 {
                assert_eq!(
                    carries[c * 4 + b],
                    acc.to_canonical_u64(),
                    "challenge {c} block {b}"
                );
                acc *= totals[c * 4 + b];
            }
        }
    }
}
