//! The serialized witness of one basic circuit instance, as stored in the object store.
//!
//! Encoded with postcard inside a versioned envelope that also records the circuit type and the
//! geometry it was cut for, so that a witness is never proved against other circuit data.

use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::witness::PartialWitness;
use serde::{Deserialize, Serialize};
use zkfleet_types::{CircuitId, HashDigest};

use crate::basic::priority::PriorityWitness;
use crate::basic::signature::SignatureWitness;
use crate::basic::state::StateWitness;
use crate::config::BasicGeometry;
use crate::error::CircuitError;
use crate::gadgets::u64::set_target;
use crate::F;

/// Current witness format version; bump on any change of the witness structs.
pub const WITNESS_FORMAT_VERSION: u16 = 2;

/// The witness of one basic instance, per circuit type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BasicWitness {
    /// A signature-verification instance's witness.
    SignatureVerification(SignatureWitness),
    /// A state-transition instance's witness.
    StateTransition(StateWitness),
    /// A priority-operations instance's witness.
    PriorityOperations(PriorityWitness),
}

impl BasicWitness {
    /// The circuit id of the type the witness is for.
    pub fn circuit_id(&self) -> CircuitId {
        match self {
            Self::SignatureVerification(_) => CircuitId::SIGNATURE_VERIFICATION,
            Self::StateTransition(_) => CircuitId::STATE_TRANSITION,
            Self::PriorityOperations(_) => CircuitId::PRIORITY_OPERATIONS,
        }
    }

    /// Active items in the witness.
    pub fn item_count(&self) -> usize {
        match self {
            Self::SignatureVerification(w) => w.slots.len(),
            Self::StateTransition(w) => w.slots.len(),
            Self::PriorityOperations(w) => w.slots.len(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    version: u16,
    geometry: BasicGeometry,
    witness: BasicWitness,
}

/// Encodes a witness cut for `geometry`.
pub fn encode_witness(
    geometry: &BasicGeometry,
    witness: &BasicWitness,
) -> Result<Vec<u8>, CircuitError> {
    let envelope = Envelope {
        version: WITNESS_FORMAT_VERSION,
        geometry: *geometry,
        witness: witness.clone(),
    };
    postcard::to_stdvec(&envelope).map_err(|e| CircuitError::MalformedWitness(e.to_string()))
}

/// Decodes a witness, returning the geometry it was cut for.
pub fn decode_witness(bytes: &[u8]) -> Result<(BasicGeometry, BasicWitness), CircuitError> {
    // The version comes first so an old witness is reported as such, not as garbage.
    let (version, _) = postcard::take_from_bytes::<u16>(bytes)
        .map_err(|e| CircuitError::MalformedWitness(format!("no version header: {e}")))?;
    if version != WITNESS_FORMAT_VERSION {
        return Err(CircuitError::WitnessVersion {
            found: version,
            expected: WITNESS_FORMAT_VERSION,
        });
    }
    let envelope: Envelope =
        postcard::from_bytes(bytes).map_err(|e| CircuitError::MalformedWitness(e.to_string()))?;
    Ok((envelope.geometry, envelope.witness))
}

/// Assigns a digest to a hash target.
pub(crate) fn set_digest(
    witness: &mut PartialWitness<F>,
    target: HashOutTarget,
    value: HashDigest,
) -> Result<(), CircuitError> {
    for (&t, &v) in target.elements.iter().zip(&value.0) {
        set_target(witness, t, v)?;
    }
    Ok(())
}
