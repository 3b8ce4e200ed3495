//! What basic witness generation leaves in the object store for the later rounds, besides the
//! circuit witnesses themselves (those are the circuits crate's encoded bytes, stored raw).
//!
//! Each type is a postcard [`SerdeObject`] with its own payload version: change a field, bump
//! the version.

use serde::{Deserialize, Serialize};
use zkfleet_circuits::basic::ClosedFormInputs;
use zkfleet_circuits::pipeline::TypeSummary;
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

/// What the recursion-tip and scheduler rounds need from round 0, stored under
/// `ObjectKey::SchedulerInput`: the batch's public output, the geometry the instances were cut
/// for, and per basic type its run through the batch ([`TypeSummary`]: instance count, the
/// closed forms at both ends, items), which the tip commits to and the scheduler links the
/// types with. Node witness generation reads the instance counts to know how many proofs each
/// depth must aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerPartialInput {
    pub public_output: BatchPublicOutput,
    pub geometry: BasicGeometry,
    /// One entry per basic circuit type, in circuit id order, present or not
    /// (`zkfleet_circuits::pipeline::type_summaries`).
    pub types: Vec<TypeSummary>,
}

impl SchedulerPartialInput {
    /// The summary of one basic type.
    pub fn type_summary(&self, circuit: CircuitId) -> Option<&TypeSummary> {
        self.types.iter().find(|t| t.circuit_id == circuit)
    }
}

impl SerdeObject for SchedulerPartialInput {
    const KIND: BlobKind = BlobKind::SchedulerInput;
    /// Version 2: per-type [`TypeSummary`] (version 1 had a summary without the carried
    /// output, the item count and the closed form of absent types).
    const PAYLOAD_VERSION: u16 = 2;
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
