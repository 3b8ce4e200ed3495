//! What basic witness generation leaves in the object store for the later rounds, besides the
//! circuit witnesses themselves (those are the circuits crate's encoded bytes, stored raw).
//!
//! Each type is a postcard [`SerdeObject`] with its own payload version: change a field, bump
//! the version.

use serde::{Deserialize, Serialize};
use zkfleet_circuits::basic::ClosedFormInputs;
use zkfleet_circuits::BasicGeometry;
use zkfleet_store::{BlobKind, SerdeObject};
use zkfleet_types::{BatchPublicOutput, CircuitId};

/// The ordered closed-form inputs/outputs of every instance of one basic circuit type, stored
/// under `ObjectKey::ClosedFormInputs` for the leaf round (which checks each proof's public
/// input against them and their chaining).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoredClosedForms(pub ClosedFormInputs);

impl SerdeObject for StoredClosedForms {
    const KIND: BlobKind = BlobKind::ClosedFormInputs;
    const PAYLOAD_VERSION: u16 = 1;
}

/// What the scheduler round needs from round 0, stored under `ObjectKey::SchedulerInput`:
/// the batch's public output, the geometry the instances were cut for, and per basic type
/// the number of instances and the ends of its chain of closed forms (the scheduler checks
/// that types link up through equal commitments, and that absent types are absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerPartialInput {
    pub public_output: BatchPublicOutput,
    pub geometry: BasicGeometry,
    /// One entry per basic circuit type, in circuit id order, present or not.
    pub circuit_types: Vec<CircuitTypeSummary>,
}

impl SerdeObject for SchedulerPartialInput {
    const KIND: BlobKind = BlobKind::SchedulerInput;
    const PAYLOAD_VERSION: u16 = 1;
}

/// The closed forms of one basic type, summarised for the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitTypeSummary {
    pub circuit: CircuitId,
    /// Instances (basic prover jobs) of the type; 0 for an absent type.
    pub instances: u32,
    /// The closed-form input of the first instance (`None` for an absent type).
    pub first_input: Option<Vec<u64>>,
    /// The closed-form output of the last instance (`None` for an absent type).
    pub last_output: Option<Vec<u64>>,
}

impl CircuitTypeSummary {
    pub fn of(closed_forms: &ClosedFormInputs) -> Self {
        Self {
            circuit: closed_forms.circuit,
            instances: u32::try_from(closed_forms.instances.len()).unwrap_or(u32::MAX),
            first_input: closed_forms.instances.first().map(|c| c.input.clone()),
            last_output: closed_forms.instances.last().map(|c| c.output.clone()),
        }
    }
}

/// The auxiliary output of a batch, stored under `ObjectKey::AuxOutput`: the public output
/// as native execution computed it, which the scheduler and the compressor check the proofs
/// against (`recursion_tree_vk_digest` is still zero here; the scheduler fills it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuxOutput {
    pub public_output: BatchPublicOutput,
}

impl SerdeObject for AuxOutput {
    const KIND: BlobKind = BlobKind::AuxOutput;
    const PAYLOAD_VERSION: u16 = 1;
}
