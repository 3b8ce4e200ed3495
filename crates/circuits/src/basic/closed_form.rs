//! Closed-form inputs and outputs of basic circuit instances, and their public-input commitment.
//!
//! Every basic instance exposes exactly four public inputs: `H(input ‖ output ‖ item_count)`
//! (Poseidon `hash_no_pad`), where `input` and `output` are fixed-length vectors of field
//! elements whose layout per circuit type is documented in docs/rollup-circuits.md and in the
//! `*_LEN` constants of each type's module. The aggregation rounds take these vectors as
//! witnesses, check the hash against the proof's public inputs, and check that each instance's
//! `input` equals the previous instance's `output`.

use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::Target;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::config::Hasher;
use serde::{Deserialize, Serialize};
use zkfleet_rollup::spec::{digest_to_hash_digest, Digest};
use zkfleet_types::{CircuitId, HashDigest};

use crate::error::CircuitError;
use crate::{D, F};

/// The closed-form input and output of one instance, as canonical field elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedForm {
    /// Sequence number of the instance within its circuit type (0-based, batch order).
    pub sequence: u32,
    /// The closed-form input: the running commitments the instance starts from (the previous
    /// instance's output) and, for the state type, the run's constants (chain id, operator).
    pub input: Vec<u64>,
    /// The closed-form output: the running commitments after the instance's items.
    pub output: Vec<u64>,
    /// Active (non-padding) items of the instance.
    pub item_count: u32,
}

impl ClosedForm {
    /// The elements the public input commits to: `input ‖ output ‖ item_count`.
    pub fn committed_elements(&self) -> Result<Vec<F>, CircuitError> {
        let mut out = Vec::with_capacity(self.input.len() + self.output.len() + 1);
        for &value in self.input.iter().chain(&self.output) {
            out.push(crate::field_element(value).map_err(|_| {
                CircuitError::MalformedWitness(format!(
                    "closed-form element {value} is not canonical"
                ))
            })?);
        }
        out.push(F::from_canonical_u32(self.item_count));
        Ok(out)
    }

    /// The instance's public input: `H(input ‖ output ‖ item_count)`.
    pub fn public_input_hash(&self) -> Result<HashDigest, CircuitError> {
        let digest: Digest = PoseidonHash::hash_no_pad(&self.committed_elements()?);
        Ok(digest_to_hash_digest(digest))
    }
}

/// The ordered closed forms of every instance of one circuit type in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedFormInputs {
    /// The basic circuit type.
    pub circuit: CircuitId,
    /// Every instance's closed form, in sequence order.
    pub instances: Vec<ClosedForm>,
}

/// Hashes `input ‖ output ‖ count` in-circuit and registers the digest as the public inputs.
pub(crate) fn register_closed_form(
    builder: &mut CircuitBuilder<F, D>,
    input: &[Target],
    output: &[Target],
    item_count: Target,
) -> HashOutTarget {
    let mut elements = Vec::with_capacity(input.len() + output.len() + 1);
    elements.extend_from_slice(input);
    elements.extend_from_slice(output);
    elements.push(item_count);
    let digest = builder.hash_n_to_hash_no_pad::<PoseidonHash>(elements);
    builder.register_public_inputs(&digest.elements);
    digest
}
