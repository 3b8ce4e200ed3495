//! Slot activity flags shared by every basic circuit type.
//!
//! An instance has a fixed number of slots; slot `i` is active when it carries an item. Flags
//! are monotone (an inactive slot is followed only by inactive slots), so the active items are
//! exactly the first `item_count` slots and the padding cannot hide an item between gaps.

use plonky2::iop::target::{BoolTarget, Target};
use plonky2::plonk::circuit_builder::CircuitBuilder;

use crate::{D, F};

/// `capacity` boolean witness flags, constrained monotone, and their sum (the item count).
pub(crate) fn active_flags(
    builder: &mut CircuitBuilder<F, D>,
    capacity: usize,
) -> (Vec<BoolTarget>, Target) {
    let flags: Vec<BoolTarget> = (0..capacity)
        .map(|_| builder.add_virtual_bool_target_safe())
        .collect();
    for pair in flags.windows(2) {
        // active[i+1] ⇒ active[i]:  active[i+1] · (1 − active[i]) = 0.
        let gap = builder.mul_sub(pair[1].target, pair[0].target, pair[1].target);
        builder.assert_zero(gap);
    }
    let count = builder.add_many(flags.iter().map(|f| f.target));
    (flags, count)
}

/// Which item each slot carries (`None`: padding).
///
/// Normally items fill the first slots. `activity`, when given, places the items in the slots
/// marked active instead — which the circuit rejects unless the marks are monotone; it exists so
/// soundness tests can try a gap.
pub(crate) fn slot_plan(
    capacity: usize,
    items: usize,
    activity: Option<&[bool]>,
) -> Result<Vec<Option<usize>>, crate::error::CircuitError> {
    use crate::error::CircuitError;
    if items > capacity {
        return Err(CircuitError::MalformedWitness(format!(
            "{items} items for an instance of {capacity} slots"
        )));
    }
    match activity {
        None => Ok((0..capacity).map(|i| (i < items).then_some(i)).collect()),
        Some(flags) => {
            if flags.len() != capacity || flags.iter().filter(|&&f| f).count() != items {
                return Err(CircuitError::MalformedWitness(format!(
                    "activity marks {} of {} slots for {items} items",
                    flags.iter().filter(|&&f| f).count(),
                    flags.len()
                )));
            }
            let mut next = 0;
            Ok(flags
                .iter()
                .map(|&active| {
                    active.then(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect())
        }
    }
}
