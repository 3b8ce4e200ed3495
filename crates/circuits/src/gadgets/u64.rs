//! `u64` amounts as two range-checked 32-bit limbs (a `u64` may exceed p, docs/rollup.md §1).

use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;

use crate::error::CircuitError;
use crate::{D, F};

/// A `u64` as limbs `lo + 2^32 · hi`, each limb range-checked to 32 bits where it is created.
#[derive(Debug, Clone, Copy)]
pub struct U64Target {
    /// The low 32 bits.
    pub lo: Target,
    /// The high 32 bits.
    pub hi: Target,
}

impl U64Target {
    /// A new witness `u64`, both limbs range-checked.
    pub fn new_virtual(builder: &mut CircuitBuilder<F, D>) -> Self {
        let lo = builder.add_virtual_target();
        let hi = builder.add_virtual_target();
        builder.range_check(lo, 32);
        builder.range_check(hi, 32);
        Self { lo, hi }
    }

    /// The constant zero.
    pub fn zero(builder: &mut CircuitBuilder<F, D>) -> Self {
        let zero = builder.zero();
        Self { lo: zero, hi: zero }
    }

    /// The limbs in spec order `[lo, hi]`.
    pub fn limbs(&self) -> [Target; 2] {
        [self.lo, self.hi]
    }

    /// Assigns a value to a target made by [`U64Target::new_virtual`].
    pub fn set(&self, witness: &mut PartialWitness<F>, value: u64) -> Result<(), CircuitError> {
        set_target(witness, self.lo, value & 0xffff_ffff)?;
        set_target(witness, self.hi, value >> 32)
    }
}

/// Assigns a canonical value to a target, converting plonky2's error.
pub fn set_target(
    witness: &mut PartialWitness<F>,
    target: Target,
    value: u64,
) -> Result<(), CircuitError> {
    let element = crate::field_element(value).map_err(|_| {
        CircuitError::MalformedWitness(format!("value {value} is not a canonical field element"))
    })?;
    witness
        .set_target(target, element)
        .map_err(|e| CircuitError::MalformedWitness(e.to_string()))
}

/// Assigns a boolean target.
pub fn set_bool(
    witness: &mut PartialWitness<F>,
    target: BoolTarget,
    value: bool,
) -> Result<(), CircuitError> {
    set_target(witness, target.target, u64::from(value))
}

/// `a + b`, constrained not to overflow 64 bits. Both operands must be range-checked limbs.
pub fn add_no_overflow(
    builder: &mut CircuitBuilder<F, D>,
    a: U64Target,
    b: U64Target,
) -> U64Target {
    // lo: a.lo + b.lo < 2^33 splits into a 32-bit limb and a carry bit (both range-checked).
    let sum_lo = builder.add(a.lo, b.lo);
    let (lo, carry) = builder.split_low_high(sum_lo, 32, 33);
    // hi: < 2^33 + 1 in the field, so the 32-bit range check rules out any overflow.
    let sum_hi = builder.add(a.hi, b.hi);
    let hi = builder.add(sum_hi, carry);
    builder.range_check(hi, 32);
    U64Target { lo, hi }
}

/// `cond ? x : y`, limb-wise.
pub fn select(
    builder: &mut CircuitBuilder<F, D>,
    cond: BoolTarget,
    x: U64Target,
    y: U64Target,
) -> U64Target {
    U64Target {
        lo: builder.select(cond, x.lo, y.lo),
        hi: builder.select(cond, x.hi, y.hi),
    }
}

/// Enforces `x == y` when `cond` is 1.
pub fn conditional_assert_eq(
    builder: &mut CircuitBuilder<F, D>,
    cond: Target,
    x: U64Target,
    y: U64Target,
) {
    builder.conditional_assert_eq(cond, x.lo, y.lo);
    builder.conditional_assert_eq(cond, x.hi, y.hi);
}

/// `x · b` limb-wise for a boolean `b`: the value when `b`, zero otherwise.
pub fn mask(builder: &mut CircuitBuilder<F, D>, b: BoolTarget, x: U64Target) -> U64Target {
    U64Target {
        lo: builder.mul(b.target, x.lo),
        hi: builder.mul(b.target, x.hi),
    }
}
