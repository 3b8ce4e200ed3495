//! The formats of the blobs that one component writes and others read.
//!
//! Basic witness generation leaves, besides the circuit witnesses themselves (the circuits
//! crate's encoded bytes, stored raw), three structured blobs for the later rounds and the
//! compressor. Writer and readers are different components, and components never depend on
//! each other, so the formats live here, between the circuits crate and the components — as the
//! system we follow keeps its blob types in one types crate.
//!
//! Each type is a postcard [`SerdeObject`] with its own payload version: change a field, bump
//! the version (a reader refuses a layout it does not know, by kind and version, in the
//! store's envelope).
//!
//! | type | key | written by | read by |
//! |---|---|---|---|
//! | [`StoredClosedForms`] | `ObjectKey::ClosedFormInputs` | basic round | leaf round |
//! | [`SchedulerPartialInput`] | `ObjectKey::SchedulerInput` | basic round | node, recursion-tip, scheduler rounds |
//! | [`AuxOutput`] | `ObjectKey::AuxOutput` | basic round | scheduler round, compressor |
//!
//! The witness input of a batch (batch + pre-state) is the rollup's format
//! (`zkfleet_rollup::witness_input`), shared with intake and producers.

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
    /// The batch's public output as native execution computed it.
    pub public_output: BatchPublicOutput,
    /// The basic geometry the batch was cut with.
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
    /// The batch's public output as native execution computed it.
    pub public_output: BatchPublicOutput,
}

impl SerdeObject for AuxOutput {
    const KIND: BlobKind = BlobKind::AuxOutput;
    const PAYLOAD_VERSION: u16 = 1;
}

#[cfg(test)]
mod tests {
    use zkfleet_store::codec::{decode, encode};
    use zkfleet_store::{DecodeError, StoredObject};
    use zkfleet_types::{BatchNumber, ChainId, HashDigest};

    use super::*;

    fn output() -> BatchPublicOutput {
        let digest = |b: u64| HashDigest([b; 4]);
        BatchPublicOutput {
            chain_id: ChainId(270),
            batch_number: BatchNumber(7),
            prev_state_root: digest(1),
            new_state_root: digest(2),
            operations_commitment: digest(3),
            deposits_consumed: 4,
            deposits_commitment: digest(5),
            withdrawals_commitment: digest(6),
            pubdata_commitment: digest(7),
            recursion_tree_vk_digest: digest(0),
        }
    }

    /// Writes `value` as the store does (payload in its envelope), reads it back as `T`.
    fn round_trip<T: StoredObject>(value: &T) -> Result<T, DecodeError> {
        let blob = encode(
            <T as StoredObject>::KIND,
            <T as StoredObject>::PAYLOAD_VERSION,
            &value.encode_payload().unwrap(),
        );
        let envelope = decode(&blob, <T as StoredObject>::KIND)?;
        T::decode_payload(envelope.payload_version, envelope.payload)
    }

    #[test]
    fn aux_output_round_trips() {
        let aux = AuxOutput {
            public_output: output(),
        };
        assert_eq!(round_trip(&aux).unwrap(), aux);
    }

    #[test]
    fn a_blob_of_another_kind_is_refused() {
        let aux = AuxOutput {
            public_output: output(),
        };
        let blob = encode(
            <AuxOutput as SerdeObject>::KIND,
            <AuxOutput as SerdeObject>::PAYLOAD_VERSION,
            &aux.encode_payload().unwrap(),
        );
        assert!(decode(&blob, <SchedulerPartialInput as SerdeObject>::KIND).is_err());
    }

    #[test]
    fn the_obsolete_scheduler_input_layout_is_refused() {
        // Version 1 had a per-type summary without the carried output: a reader of version 2
        // must not take it for its own layout.
        assert!(<SchedulerPartialInput as StoredObject>::supports_payload_version(2));
        assert!(!<SchedulerPartialInput as StoredObject>::supports_payload_version(1));
    }

    #[test]
    fn each_format_has_its_own_kind() {
        let kinds = [
            <StoredClosedForms as SerdeObject>::KIND,
            <SchedulerPartialInput as SerdeObject>::KIND,
            <AuxOutput as SerdeObject>::KIND,
        ];
        for (i, a) in kinds.iter().enumerate() {
            for b in &kinds[..i] {
                assert_ne!(a, b);
            }
        }
    }
}
