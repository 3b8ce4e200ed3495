//! A dishonest prover for the soundness tests.
//!
//! The honest path (`layout().assign` then plonky2's `generate_partial_witness`) recomputes
//! every hint from the witness, so changing one input of an honest witness is mostly caught by
//! a hint that disagrees with it, not by the constraint a test means to attack. This prover
//! runs the circuit's own witness generators, but a value a generator would write into the
//! copy-constraint partition of an *overridden* target is dropped and the attacker's value is
//! used instead. Everything downstream is computed from the attacker's values, so the witness
//! is self-consistent and only the constraints stand between it and a proof.
//!
//! Each attack is classified by where it was stopped ([`Outcome`]). Tests assert
//! `Outcome::Rejected(_)` for an attack and, as a control, `Outcome::Accepted(_)` for the same
//! route with honest values, so a harness that fails for an unrelated reason cannot pass as a
//! rejection.

#![allow(dead_code)] // Each test binary uses a different part of it.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use plonky2::iop::generator::GeneratedValues;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, PartitionWitness};
use plonky2::plonk::circuit_data::CircuitData;
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::plonk::prover::prove_with_partition_witness;
use plonky2::util::timing::TimingTree;
use zkfleet_circuits::{C, D, F};

/// Where an attack ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// No valid proof: the stage that stopped it and why.
    Rejected(Rejection),
    /// A proof that plonky2's verifier accepts under the circuit's own key.
    Accepted(Box<ProofWithPublicInputs<F, C, D>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// A copy constraint (`connect`) contradicted: two values for one partition.
    CopyConstraint(String),
    /// The prover failed or panicked.
    Proving(String),
    /// A proof came out (plonky2's prover checks no gate constraint) and the verifier refused it.
    Verification(String),
}

impl Outcome {
    #[track_caller]
    pub(crate) fn assert_rejected(self, what: &str) -> Rejection {
        match self {
            Outcome::Rejected(r) => {
                eprintln!("{what}: rejected ({r:?})");
                r
            }
            Outcome::Accepted(_) => panic!("{what}: the attack produced a valid proof"),
        }
    }

    #[track_caller]
    pub(crate) fn assert_accepted(self, what: &str) -> ProofWithPublicInputs<F, C, D> {
        match self {
            Outcome::Accepted(p) => *p,
            Outcome::Rejected(r) => panic!("{what}: the control was rejected: {r:?}"),
        }
    }
}

/// Runs `data`'s witness generators over `inputs` with `overrides` forced (see the module
/// docs), proves, and verifies.
pub(crate) fn attack(
    data: &CircuitData<F, C, D>,
    inputs: PartialWitness<F>,
    overrides: &[(Target, F)],
) -> Outcome {
    let witness = match generate_with_overrides(data, inputs, overrides) {
        Ok(w) => w,
        Err(reason) => return Outcome::Rejected(Rejection::CopyConstraint(reason)),
    };
    let proved = catch_unwind(AssertUnwindSafe(|| {
        prove_with_partition_witness::<F, C, D>(
            &data.prover_only,
            &data.common,
            witness,
            &mut TimingTree::default(),
        )
    }));
    let proof = match proved {
        Ok(Ok(proof)) => proof,
        Ok(Err(e)) => return Outcome::Rejected(Rejection::Proving(e.to_string())),
        Err(panic) => return Outcome::Rejected(Rejection::Proving(panic_text(&panic))),
    };
    match data.verify(proof.clone()) {
        Ok(()) => Outcome::Accepted(Box::new(proof)),
        Err(e) => Outcome::Rejected(Rejection::Verification(e.to_string())),
    }
}

/// The generation loop of plonky2's `generate_partial_witness`, without its watch-list
/// scheduling (every pending generator runs each pass) and with the overrides applied.
pub(crate) fn generate_with_overrides<'a>(
    data: &'a CircuitData<F, C, D>,
    inputs: PartialWitness<F>,
    overrides: &[(Target, F)],
) -> Result<PartitionWitness<'a, F>, String> {
    let common = &data.common;
    let prover = &data.prover_only;
    let num_wires = common.config.num_wires;
    let degree = common.degree();
    let rep = |t: Target| prover.representative_map[t.index(num_wires, degree)];
    let mut witness = PartitionWitness::new(num_wires, degree, &prover.representative_map);
    let forced: HashSet<usize> = overrides.iter().map(|(t, _)| rep(*t)).collect();
    for (t, v) in overrides {
        witness
            .set_target_returning_rep(*t, *v)
            .map_err(|e| e.to_string())?;
    }
    for (t, v) in inputs.target_values {
        if forced.contains(&rep(t)) {
            continue;
        }
        witness
            .set_target_returning_rep(t, v)
            .map_err(|e| e.to_string())?;
    }
    let generators = &prover.generators;
    let mut done = vec![false; generators.len()];
    let mut remaining = generators.len();
    let mut buffer = GeneratedValues::<F>::empty();
    loop {
        let before = remaining;
        let mut wrote = false;
        for (i, g) in generators.iter().enumerate() {
            if done[i] {
                continue;
            }
            // A generator whose inputs are not all set yet panics in some plonky2 gadgets
            // rather than returning false; only run those whose watch list is complete.
            if g.0
                .watch_list()
                .iter()
                .any(|t| witness.values[rep(*t)].is_none())
            {
                continue;
            }
            let finished = catch_unwind(AssertUnwindSafe(|| g.0.run(&witness, &mut buffer)))
                .map_err(|p| format!("generator {} panicked: {}", g.0.id(), panic_text(&p)))?;
            if finished {
                done[i] = true;
                remaining -= 1;
            }
            for (t, v) in buffer.target_values.drain(..) {
                if forced.contains(&rep(t)) {
                    continue;
                }
                if witness
                    .set_target_returning_rep(t, v)
                    .map_err(|e| e.to_string())?
                    .is_some()
                {
                    wrote = true;
                }
            }
        }
        if remaining == 0 {
            return Ok(witness);
        }
        if remaining == before && !wrote {
            return Err(format!("{remaining} witness generators could not run"));
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// The values honest witness generation gives `targets` from `inputs`: the controls override
/// the targets an attack overrides with these, so attack and control take the same route.
/// Panics if generation fails (an honest witness must generate).
pub(crate) fn honest_values(
    data: &CircuitData<F, C, D>,
    inputs: PartialWitness<F>,
    targets: &[Target],
) -> Vec<F> {
    use plonky2::iop::witness::Witness;
    let witness = generate_with_overrides(data, inputs, &[])
        .unwrap_or_else(|e| panic!("honest witness generation failed: {e}"));
    targets.iter().map(|&t| witness.get_target(t)).collect()
}

/// The sum wire of the `BaseSumGate` that holds the bit `bit` of a `split_le` (the gate's
/// generator derives the bits from it, so an attack on a decomposition overrides both).
pub(crate) fn split_sum_of(bit: Target) -> Target {
    // `BaseSumGate::WIRE_SUM` is crate-private in plonky2 1.1.0; it is wire 0, the limbs follow.
    const WIRE_SUM: usize = 0;
    match bit {
        Target::Wire(w) => Target::wire(w.row, WIRE_SUM),
        Target::VirtualTarget { .. } => panic!("{bit:?} is not a split_le bit"),
    }
}
