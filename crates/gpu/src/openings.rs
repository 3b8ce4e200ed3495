//! The openings at zeta and g·zeta (plonky2's `OpeningSet::new`, no lookups).
//!
//! plonky2 evaluates each polynomial by Horner's rule in the extension field (a copy of the
//! polynomial into the extension first, then one extension multiplication per coefficient), and
//! evaluates every Z and partial-product polynomial at g·zeta although only the Zs are kept.
//! Here the powers of each point are computed once, on rayon's threads, and each polynomial's
//! value is `sum_i c_i z^i`: two base-field multiplications per coefficient, no copy; only the Zs
//! are evaluated at g·zeta. The field is exact, so the values are plonky2's.

use plonky2::field::extension::{Extendable, FieldExtension};
use plonky2::field::polynomial::PolynomialCoeffs;
use plonky2::field::types::Field;
use plonky2::plonk::circuit_data::CommonCircuitData;
use plonky2::plonk::proof::OpeningSet;
use rayon::prelude::*;

use crate::backend::{Batch, D};
use crate::F;

type Ext = <F as Extendable<D>>::Extension;

/// Powers per task when the powers of a point are made.
const POWERS_BLOCK: usize = 1 << 12;

/// plonky2's `OpeningSet::new(zeta, g, constants_sigmas, wires, zs_partial_products, quotient,
/// common_data)` for circuits without lookups.
pub(crate) fn opening_set(
    zeta: Ext,
    g: Ext,
    constants_sigmas: &Batch,
    wires: &Batch,
    zs_partial_products: &Batch,
    quotient: &Batch,
    common_data: &CommonCircuitData<F, D>,
) -> OpeningSet<F, D> {
    let zs_range = common_data.zs_range();
    let at_zeta: Vec<&PolynomialCoeffs<F>> = constants_sigmas
        .polynomials
        .iter()
        .chain(&wires.polynomials)
        .chain(&zs_partial_products.polynomials)
        .chain(&quotient.polynomials)
        .collect();
    let at_next: Vec<&PolynomialCoeffs<F>> = zs_partial_products.polynomials[zs_range.clone()]
        .iter()
        .collect();
    let mut values = evaluate(&at_zeta, zeta).into_iter();
    let next = evaluate(&at_next, g * zeta);
    let mut take = |count: usize| -> Vec<Ext> { values.by_ref().take(count).collect() };
    let constants_sigmas_eval = take(constants_sigmas.polynomials.len());
    let wires_eval = take(wires.polynomials.len());
    let zs_eval = take(zs_partial_products.polynomials.len());
    let quotient_eval = take(quotient.polynomials.len());
    OpeningSet {
        constants: constants_sigmas_eval[common_data.constants_range()].to_vec(),
        plonk_sigmas: constants_sigmas_eval[common_data.sigmas_range()].to_vec(),
        wires: wires_eval,
        plonk_zs: zs_eval[zs_range].to_vec(),
        plonk_zs_next: next,
        partial_products: zs_eval[common_data.partial_products_range()].to_vec(),
        quotient_polys: quotient_eval,
        lookup_zs: Vec::new(),
        lookup_zs_next: Vec::new(),
    }
}

/// Each polynomial's value at `point`.
fn evaluate(polys: &[&PolynomialCoeffs<F>], point: Ext) -> Vec<Ext> {
    let len = polys.iter().map(|p| p.coeffs.len()).max().unwrap_or(0);
    let powers = powers(point, len);
    polys
        .par_iter()
        .map(|poly| {
            let (mut a, mut b) = (F::ZERO, F::ZERO);
            for (&c, power) in poly.coeffs.iter().zip(&powers) {
                a += c * power[0];
                b += c * power[1];
            }
            Ext::from_basefield_array([a, b])
        })
        .collect()
}

/// `point^0 .. point^(len-1)`, each as its base-field coordinates.
fn powers(point: Ext, len: usize) -> Vec<[F; D]> {
    let mut out = vec![[F::ZERO; D]; len];
    out.par_chunks_mut(POWERS_BLOCK)
        .enumerate()
        .for_each(|(block, slots)| {
            let mut power = point.exp_u64((block * POWERS_BLOCK) as u64);
            for slot in slots {
                *slot = power.to_basefield_array();
                power *= point;
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use plonky2::field::types::Sample;

    use super::*;

    #[test]
    fn values_are_horners() {
        let point = Ext::rand();
        // Lengths below, at and across the powers' blocks, and empty.
        let polys: Vec<PolynomialCoeffs<F>> = [0usize, 1, 7, POWERS_BLOCK, 3 * POWERS_BLOCK + 5]
            .iter()
            .map(|&n| PolynomialCoeffs::new(F::rand_vec(n)))
            .collect();
        let refs: Vec<&PolynomialCoeffs<F>> = polys.iter().collect();
        let ours = evaluate(&refs, point);
        for (poly, value) in polys.iter().zip(ours) {
            // plonky2's `OpeningSet::new` evaluation.
            assert_eq!(
                value,
                poly.to_extension::<D>().eval(point),
                "{} coefficients",
                poly.len()
            );
        }
    }
}
