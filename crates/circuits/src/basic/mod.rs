//! The basic circuits (round 0): one file per circuit type, plus the instance splitter.
//!
//! A [`BasicCircuit`] is the built circuit data of one type at one geometry together with the
//! layout of its witness targets. The layout is a deterministic function of (type, geometry), so
//! the keystore can pair cached circuit data with a freshly defined layout without rebuilding.

pub mod closed_form;
pub mod priority;
pub mod signature;
mod slots;
pub mod split;
pub mod state;
pub mod witness;

use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use serde::{Deserialize, Serialize};
use zkfleet_types::CircuitId;

use crate::config::BasicGeometry;
use crate::error::CircuitError;
use crate::proving::{self, WitnessVector};
use crate::{C, D, F};

pub use closed_form::{ClosedForm, ClosedFormInputs};
pub use split::{
    plan_batch, split_batch, BasicCircuitInstance, BasicWitnesses, BatchPlan, PlannedInstance,
};
pub use witness::{decode_witness, encode_witness, BasicWitness, WITNESS_FORMAT_VERSION};

/// The three basic circuit types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BasicCircuitKind {
    /// Verifies the WOTS+XMSS signatures of signed operations (the heavy type).
    SignatureVerification,
    /// Applies operations to the state tree: Merkle updates, balance and nonce rules, fees.
    StateTransition,
    /// Consumes deposits from the L1 priority queue, in serial order.
    PriorityOperations,
}

impl BasicCircuitKind {
    /// The three types, in circuit-id order.
    pub const ALL: [Self; 3] = [
        Self::SignatureVerification,
        Self::StateTransition,
        Self::PriorityOperations,
    ];

    /// The id jobs, keys and blobs name this type by.
    pub fn circuit_id(self) -> CircuitId {
        match self {
            Self::SignatureVerification => CircuitId::SIGNATURE_VERIFICATION,
            Self::StateTransition => CircuitId::STATE_TRANSITION,
            Self::PriorityOperations => CircuitId::PRIORITY_OPERATIONS,
        }
    }

    /// The type of a basic circuit id; an error for the ids of other rounds.
    pub fn from_circuit_id(id: CircuitId) -> Result<Self, CircuitError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.circuit_id() == id)
            .ok_or(CircuitError::NotABasicCircuit(id))
    }

    /// Items one instance holds at `geometry`.
    pub fn capacity(self, geometry: &BasicGeometry) -> u32 {
        match self {
            Self::SignatureVerification => geometry.signatures_per_instance,
            Self::StateTransition => geometry.operations_per_instance,
            Self::PriorityOperations => geometry.deposits_per_instance,
        }
    }

    /// The circuit id's name, for logs and labels.
    pub fn name(self) -> &'static str {
        self.circuit_id().name()
    }
}

#[derive(Debug, Clone)]
enum Layout {
    Signature(signature::SignatureLayout),
    State(Box<state::StateLayout>),
    Priority(priority::PriorityLayout),
}

/// The single configuration of every basic circuit: the recursion-friendly standard config, so
/// the next round's leaf circuits verify basic proofs cheaply.
pub fn basic_circuit_config() -> CircuitConfig {
    CircuitConfig::standard_recursion_config()
}

/// Defines the circuit of `kind` at `geometry` on a fresh builder (no `build()` yet). Public
/// so that the same circuit can be built under another proof configuration (the hasher's
/// byte-identity test and benchmark).
#[doc(hidden)]
pub fn define(
    kind: BasicCircuitKind,
    geometry: &BasicGeometry,
) -> Result<(CircuitBuilder<F, D>, BasicLayout), CircuitError> {
    geometry.validate()?;
    let mut builder = CircuitBuilder::<F, D>::new(basic_circuit_config());
    let layout = match kind {
        BasicCircuitKind::SignatureVerification => {
            Layout::Signature(signature::SignatureLayout::define(&mut builder, geometry))
        }
        BasicCircuitKind::StateTransition => {
            Layout::State(Box::new(state::StateLayout::define(&mut builder, geometry)))
        }
        BasicCircuitKind::PriorityOperations => {
            Layout::Priority(priority::PriorityLayout::define(&mut builder, geometry))
        }
    };
    Ok((
        builder,
        BasicLayout {
            kind,
            geometry: *geometry,
            layout,
        },
    ))
}

/// Where a basic circuit's witness goes: the targets of one type at one geometry.
#[derive(Debug, Clone)]
pub struct BasicLayout {
    kind: BasicCircuitKind,
    geometry: BasicGeometry,
    layout: Layout,
}

impl BasicLayout {
    /// The state-transition targets, if this is that type (soundness tests set them directly).
    #[doc(hidden)]
    pub fn state(&self) -> Option<&state::StateLayout> {
        match &self.layout {
            Layout::State(layout) => Some(layout),
            _ => None,
        }
    }

    /// The signature-verification targets, if this is that type.
    #[doc(hidden)]
    pub fn signature(&self) -> Option<&signature::SignatureLayout> {
        match &self.layout {
            Layout::Signature(layout) => Some(layout),
            _ => None,
        }
    }

    /// The priority-operations targets, if this is that type.
    #[doc(hidden)]
    pub fn priority(&self) -> Option<&priority::PriorityLayout> {
        match &self.layout {
            Layout::Priority(layout) => Some(layout),
            _ => None,
        }
    }

    /// Assigns a witness to the circuit's input targets (items in the first slots).
    pub fn assign(&self, witness: &BasicWitness) -> Result<PartialWitness<F>, CircuitError> {
        self.assign_with_activity(witness, None)
    }

    /// Assigns a witness with the items placed in the slots `activity` marks active. The
    /// circuit accepts only monotone marks (items first, padding last); soundness tests use this
    /// to check that a gap is rejected.
    pub fn assign_with_activity(
        &self,
        witness: &BasicWitness,
        activity: Option<&[bool]>,
    ) -> Result<PartialWitness<F>, CircuitError> {
        let mut pw = PartialWitness::new();
        match (&self.layout, witness) {
            (Layout::Signature(layout), BasicWitness::SignatureVerification(w)) => {
                layout.set(&mut pw, w, activity)?
            }
            (Layout::State(layout), BasicWitness::StateTransition(w)) => {
                layout.set(&mut pw, w, activity)?
            }
            (Layout::Priority(layout), BasicWitness::PriorityOperations(w)) => {
                layout.set(&mut pw, w, activity)?
            }
            _ => {
                return Err(CircuitError::WitnessMismatch {
                    expected: self.kind.name().to_string(),
                    found: witness.circuit_id().name().to_string(),
                })
            }
        }
        Ok(pw)
    }
}

/// Built circuit data of one basic type at one geometry, with its witness layout.
pub struct BasicCircuit {
    /// Which of the three types.
    pub kind: BasicCircuitKind,
    /// The geometry it was built for (instances of another geometry are refused).
    pub geometry: BasicGeometry,
    layout: BasicLayout,
    /// plonky2's prover and verifier data of the circuit.
    pub data: CircuitData<F, C, D>,
}

impl std::fmt::Debug for BasicCircuit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCircuit")
            .field("kind", &self.kind)
            .field("geometry", &self.geometry)
            .field("degree_bits", &self.degree_bits())
            .finish()
    }
}

impl BasicCircuit {
    /// Defines and builds the circuit (seconds; use the keystore to build once).
    pub fn build(kind: BasicCircuitKind, geometry: &BasicGeometry) -> Result<Self, CircuitError> {
        let (builder, layout) = define(kind, geometry)?;
        let data = builder.build::<C>();
        Ok(Self {
            kind,
            geometry: *geometry,
            layout,
            data,
        })
    }

    /// Pairs cached circuit data with the layout defined for (kind, geometry).
    pub(crate) fn from_parts(layout: BasicLayout, data: CircuitData<F, C, D>) -> Self {
        Self {
            kind: layout.kind,
            geometry: layout.geometry,
            layout,
            data,
        }
    }

    /// The circuit id of the circuit's type.
    pub fn circuit_id(&self) -> CircuitId {
        self.kind.circuit_id()
    }

    /// log2 of the number of rows.
    pub fn degree_bits(&self) -> usize {
        self.data.common.degree_bits()
    }

    /// Items one instance holds.
    pub fn capacity(&self) -> u32 {
        self.kind.capacity(&self.geometry)
    }

    /// Decodes a stored instance witness and checks it was cut for this circuit.
    pub fn decode_witness(&self, bytes: &[u8]) -> Result<BasicWitness, CircuitError> {
        let (geometry, witness) = decode_witness(bytes)?;
        if geometry != self.geometry || witness.circuit_id() != self.circuit_id() {
            return Err(CircuitError::WitnessMismatch {
                expected: format!("{} at {:?}", self.kind.name(), self.geometry),
                found: format!("{} at {geometry:?}", witness.circuit_id().name()),
            });
        }
        Ok(witness)
    }

    /// The witness layout (for callers that assign witnesses themselves).
    pub fn layout(&self) -> &BasicLayout {
        &self.layout
    }

    /// Runs witness generation on already-assigned inputs.
    pub fn generate_witness_vector_from(
        &self,
        inputs: PartialWitness<F>,
    ) -> Result<WitnessVector, CircuitError> {
        proving::generate_witness_vector(&self.data.prover_only, &self.data.common, inputs)
    }

    /// Runs witness generation: the first half of proving, producing a [`WitnessVector`].
    pub fn generate_witness_vector(
        &self,
        witness: &BasicWitness,
    ) -> Result<WitnessVector, CircuitError> {
        let inputs = self.layout.assign(witness)?;
        proving::generate_witness_vector(&self.data.prover_only, &self.data.common, inputs)
    }

    /// Proves a witness vector made by [`BasicCircuit::generate_witness_vector`].
    pub fn prove_witness_vector(
        &self,
        witness_vector: WitnessVector,
    ) -> Result<ProofWithPublicInputs<F, C, D>, CircuitError> {
        proving::prove_witness_vector(&self.data.prover_only, &self.data.common, witness_vector)
    }

    /// Witness generation and proving in one call.
    pub fn prove(
        &self,
        witness: &BasicWitness,
    ) -> Result<ProofWithPublicInputs<F, C, D>, CircuitError> {
        let witness_vector = self.generate_witness_vector(witness)?;
        self.prove_witness_vector(witness_vector)
    }

    /// Verifies a proof of this circuit.
    pub fn verify(&self, proof: ProofWithPublicInputs<F, C, D>) -> Result<(), CircuitError> {
        self.data
            .verify(proof)
            .map_err(|e| CircuitError::Verification(e.to_string()))
    }
}
