//! The statement a leaf or node proof attests, and the public-input layout both share.
//!
//! Layout of the public inputs of every leaf and node proof ([`RECURSION_PUBLIC_INPUTS`] = 79
//! field elements):
//!
//! | index  | content                                                                  |
//! |--------|--------------------------------------------------------------------------|
//! | 0      | circuit id of the basic type aggregated                                  |
//! | 1..5   | digest of the first closed-form input (`hash_no_pad(input)`)             |
//! | 5..9   | digest of the last closed-form output                                    |
//! | 9      | number of real items aggregated (sum of the basic instances' counts)     |
//! | 10     | `full`: 1 iff every instance below is full and every slot was used       |
//! | 11..79 | node verifying key claimed by the proof (circuit digest ‖ 16 cap hashes); |
//! |        | zero in leaf proofs                                                      |
//!
//! The statement is exposed in clear rather than hashed: plonky2 already binds all public inputs
//! into the proof, and a parent reads its children's statements directly from their public
//! inputs, so no in-circuit hash per child is needed. Closed forms are carried as digests so
//! that one node circuit serves basic types whose closed forms have different lengths.

use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::{HashOut, HashOutTarget};
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use zkfleet_types::CircuitId;

use super::{RecursionError, D, F};

/// Field elements of the statement proper (indices 0..11).
pub const STATEMENT_LEN: usize = 11;
/// Cap height of the recursion configuration (`standard_recursion_config`).
pub(crate) const RECURSION_CAP_HEIGHT: usize = 4;
/// Field elements of a verifying key as public inputs: circuit digest and 2^4 cap hashes.
pub const VERIFYING_KEY_LEN: usize = 4 + 4 * (1 << RECURSION_CAP_HEIGHT);
/// Public inputs of every leaf and node proof.
pub const RECURSION_PUBLIC_INPUTS: usize = STATEMENT_LEN + VERIFYING_KEY_LEN;

/// What a leaf or node proof attests about a contiguous run of basic instances of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateStatement {
    /// The basic type of the run.
    pub circuit_id: CircuitId,
    /// Digest of the closed-form input of the first instance of the run.
    pub first_input_digest: HashOut<F>,
    /// Digest of the closed-form output of the last instance of the run.
    pub last_output_digest: HashOut<F>,
    /// Real items in the run.
    pub count: u64,
    /// Every instance of the run is full and every slot of every layer was used: only such a
    /// run may be followed by another one of the same type.
    pub full: bool,
}

impl AggregateStatement {
    /// Reads the statement from a leaf or node proof's public inputs.
    pub fn from_public_inputs(public_inputs: &[F]) -> Result<Self, RecursionError> {
        let bad = |reason: String| RecursionError::Verification {
            layer: "leaf/node",
            reason,
        };
        if public_inputs.len() != RECURSION_PUBLIC_INPUTS {
            return Err(bad(format!(
                "{} public inputs, expected {RECURSION_PUBLIC_INPUTS}",
                public_inputs.len()
            )));
        }
        let id = public_inputs[0].to_canonical_u64();
        let circuit_id = u8::try_from(id)
            .map(CircuitId)
            .map_err(|_| bad(format!("circuit id {id} out of range")))?;
        let digest = |at: usize| HashOut {
            elements: [
                public_inputs[at],
                public_inputs[at + 1],
                public_inputs[at + 2],
                public_inputs[at + 3],
            ],
        };
        let full = match public_inputs[10].to_canonical_u64() {
            0 => false,
            1 => true,
            other => return Err(bad(format!("full flag is {other}, not a bit"))),
        };
        Ok(Self {
            circuit_id,
            first_input_digest: digest(1),
            last_output_digest: digest(5),
            count: public_inputs[9].to_canonical_u64(),
            full,
        })
    }

    /// The statement as the first [`STATEMENT_LEN`] public inputs.
    pub fn to_fields(&self) -> [F; STATEMENT_LEN] {
        let mut out = [F::ZERO; STATEMENT_LEN];
        out[0] = F::from_canonical_u8(self.circuit_id.0);
        out[1..5].copy_from_slice(&self.first_input_digest.elements);
        out[5..9].copy_from_slice(&self.last_output_digest.elements);
        out[9] = F::from_canonical_u64(self.count);
        out[10] = F::from_bool(self.full);
        out
    }
}

/// The statement inside a circuit.
#[derive(Debug, Clone, Copy)]
pub struct StatementTargets {
    /// [`AggregateStatement::circuit_id`].
    pub circuit_id: Target,
    /// [`AggregateStatement::first_input_digest`].
    pub first_input_digest: HashOutTarget,
    /// [`AggregateStatement::last_output_digest`].
    pub last_output_digest: HashOutTarget,
    /// [`AggregateStatement::count`].
    pub count: Target,
    /// A bit: the producing circuit constrains it, so a parent may use it as a boolean.
    pub full: BoolTarget,
}

impl StatementTargets {
    /// Views a verified child's public inputs as its statement.
    ///
    /// `full` is taken as a bit without a new constraint: every circuit that may produce a
    /// child (leaf and node, checked by verifying-key membership) constrains it to be one.
    pub fn from_public_inputs(public_inputs: &[Target]) -> Self {
        let digest = |at: usize| HashOutTarget {
            elements: [
                public_inputs[at],
                public_inputs[at + 1],
                public_inputs[at + 2],
                public_inputs[at + 3],
            ],
        };
        Self {
            circuit_id: public_inputs[0],
            first_input_digest: digest(1),
            last_output_digest: digest(5),
            count: public_inputs[9],
            full: BoolTarget::new_unsafe(public_inputs[10]),
        }
    }

    /// Registers the statement as the first public inputs of the circuit being built.
    pub fn register(&self, builder: &mut CircuitBuilder<F, D>) {
        builder.register_public_input(self.circuit_id);
        builder.register_public_inputs(&self.first_input_digest.elements);
        builder.register_public_inputs(&self.last_output_digest.elements);
        builder.register_public_input(self.count);
        builder.register_public_input(self.full.target);
    }
}

/// The verifying-key part (indices 11..79) of a leaf or node proof's public inputs.
pub(crate) fn claimed_node_key(public_inputs: &[Target]) -> &[Target] {
    &public_inputs[STATEMENT_LEN..RECURSION_PUBLIC_INPUTS]
}
