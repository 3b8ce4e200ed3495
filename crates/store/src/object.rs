//! Typed payloads: what a Rust value looks like inside an envelope.
//!
//! A type stored in the object store implements [`StoredObject`]: it names its [`BlobKind`] and
//! the version of its payload layout, and encodes/decodes that payload. Two ready-made shapes
//! cover what zkfleet stores:
//!
//! - structured values: implement [`SerdeObject`] (two constants) and get `StoredObject` for
//!   free; the payload is postcard (see [`postcard_encode`] for why postcard);
//! - bytes already serialized elsewhere (proofs and circuit witnesses come out of the circuits
//!   crate as bytes): [`RawPayload`], with an alias per kind ([`ProofBytes`], ...).

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{BlobKind, DecodeError};

/// Error from encoding a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {kind} payload: {reason}")]
pub struct EncodeError {
    /// The kind of blob being written.
    pub kind: BlobKind,
    /// The serializer's error.
    pub reason: String,
}

/// A value with a place in the object store.
pub trait StoredObject: Sized {
    /// The kind tag written in the envelope and checked on read.
    const KIND: BlobKind;
    /// The payload layout this build writes. Bump it when the encoding changes.
    const PAYLOAD_VERSION: u16;

    /// Serializes the payload (without the envelope).
    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError>;

    /// Deserializes a payload written with layout `payload_version`. The default layout check
    /// accepts only [`Self::PAYLOAD_VERSION`]; a type that can still read older layouts
    /// overrides [`Self::supports_payload_version`].
    fn decode_payload(payload_version: u16, payload: &[u8]) -> Result<Self, DecodeError>;

    /// Whether this build can read payload layout `version`.
    fn supports_payload_version(version: u16) -> bool {
        version == Self::PAYLOAD_VERSION
    }
}

/// A structured value stored as postcard. Implement this (two constants) on any
/// `Serialize + DeserializeOwned` type to store it.
pub trait SerdeObject: Serialize + DeserializeOwned {
    /// The kind tag written in the envelope and checked on read ([`StoredObject::KIND`]).
    const KIND: BlobKind;
    /// The payload layout this build writes; bump it whenever the type's serde shape changes
    /// (postcard is not self-describing, so an old blob would otherwise misread).
    const PAYLOAD_VERSION: u16;
}

impl<T: SerdeObject> StoredObject for T {
    const KIND: BlobKind = <T as SerdeObject>::KIND;
    const PAYLOAD_VERSION: u16 = <T as SerdeObject>::PAYLOAD_VERSION;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        postcard_encode(<T as SerdeObject>::KIND, self)
    }

    fn decode_payload(payload_version: u16, payload: &[u8]) -> Result<Self, DecodeError> {
        postcard_decode(<T as SerdeObject>::KIND, payload_version, payload)
    }
}

/// Encodes a serde value with postcard.
///
/// Why postcard: its wire format is specified and frozen for 1.x (a blob written today reads
/// with any later 1.x), it is compact (varint integers, no field names), it has no
/// configuration to get wrong between writer and reader, and it is actively maintained. bincode,
/// the usual alternative, changed its format between 1 and 2 and is no longer maintained.
/// Postcard is not self-describing: a change to a stored struct needs a payload version bump.
pub fn postcard_encode<T: Serialize + ?Sized>(
    kind: BlobKind,
    value: &T,
) -> Result<Vec<u8>, EncodeError> {
    postcard::to_stdvec(value).map_err(|e| EncodeError {
        kind,
        reason: e.to_string(),
    })
}

/// Decodes a postcard payload, refusing trailing bytes (they mean a layout mismatch).
pub fn postcard_decode<T: DeserializeOwned>(
    kind: BlobKind,
    version: u16,
    payload: &[u8],
) -> Result<T, DecodeError> {
    let payload_error = |reason: String| DecodeError::Payload {
        kind,
        version,
        reason,
    };
    let (value, rest) =
        postcard::take_from_bytes(payload).map_err(|e| payload_error(e.to_string()))?;
    if !rest.is_empty() {
        return Err(payload_error(format!(
            "{} bytes left over after the value",
            rest.len()
        )));
    }
    Ok(value)
}

/// Bytes serialized elsewhere, stored as they are under the kind tag `KIND`
/// (a [`BlobKind::tag`]). Use the aliases below rather than spelling the tag.
#[derive(Clone, PartialEq, Eq)]
pub struct RawPayload<const KIND: u16>(pub Bytes);

impl<const KIND: u16> RawPayload<KIND> {
    /// Wraps bytes produced elsewhere (a serialized proof or circuit witness).
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }

    /// The bytes, for the crate that knows their layout.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl<const KIND: u16> std::fmt::Debug for RawPayload<KIND> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Blobs are megabytes: print the kind and the size, never the bytes.
        write!(f, "RawPayload<{}>({} bytes)", Self::KIND, self.0.len())
    }
}

/// The payload version of raw blobs: the bytes are opaque to the store, their layout is the
/// producer's business (the circuits crate versions its own serialization).
pub const RAW_PAYLOAD_VERSION: u16 = 0;

impl<const KIND: u16> StoredObject for RawPayload<KIND> {
    const KIND: BlobKind = match BlobKind::from_tag(KIND) {
        Some(kind) => kind,
        None => panic!("RawPayload instantiated with a tag that is not a BlobKind"),
    };
    const PAYLOAD_VERSION: u16 = RAW_PAYLOAD_VERSION;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(self.0.to_vec())
    }

    fn decode_payload(_payload_version: u16, payload: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self(Bytes::copy_from_slice(payload)))
    }
}

/// A witness input already serialized by its producer.
pub type WitnessInputBytes = RawPayload<{ BlobKind::WitnessInput.tag() }>;
/// A circuit witness as serialized by the circuits crate.
pub type CircuitWitnessBytes = RawPayload<{ BlobKind::CircuitWitness.tag() }>;
/// Closed-form inputs as serialized by the circuits crate.
pub type ClosedFormInputsBytes = RawPayload<{ BlobKind::ClosedFormInputs.tag() }>;
/// An aggregation list as serialized by its producer.
pub type AggregationListBytes = RawPayload<{ BlobKind::AggregationList.tag() }>;
/// A scheduler partial input as serialized by the circuits crate.
pub type SchedulerInputBytes = RawPayload<{ BlobKind::SchedulerInput.tag() }>;
/// An aux output as serialized by its producer.
pub type AuxOutputBytes = RawPayload<{ BlobKind::AuxOutput.tag() }>;
/// A proof as serialized by the circuits crate.
pub type ProofBytes = RawPayload<{ BlobKind::Proof.tag() }>;
/// A final proof as serialized by the compressor.
pub type FinalProofBytes = RawPayload<{ BlobKind::FinalProof.tag() }>;
/// A verifying key as serialized by the circuits crate.
pub type VerifyingKeyBytes = RawPayload<{ BlobKind::VerifyingKey.tag() }>;

/// The final proof of a batch with what it proves, as the compressor stores it under
/// [`crate::ObjectKey::FinalProof`] and the gateway hands it out.
impl SerdeObject for zkfleet_types::api::FinalProof {
    const KIND: BlobKind = BlobKind::FinalProof;
    const PAYLOAD_VERSION: u16 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        batch: u32,
        circuits: Vec<u8>,
        name: String,
    }

    impl SerdeObject for Sample {
        const KIND: BlobKind = BlobKind::AggregationList;
        const PAYLOAD_VERSION: u16 = 2;
    }

    #[test]
    fn serde_objects_round_trip_and_refuse_leftovers() {
        let value = Sample {
            batch: 7,
            circuits: vec![1, 2, 3],
            name: "x".into(),
        };
        let mut payload = value.encode_payload().unwrap();
        assert_eq!(Sample::decode_payload(2, &payload).unwrap(), value);
        payload.push(0);
        let err = Sample::decode_payload(2, &payload).unwrap_err();
        assert!(err.to_string().contains("1 bytes left over"), "{err}");
        let err = Sample::decode_payload(2, &payload[..2]).unwrap_err();
        assert!(matches!(err, DecodeError::Payload { .. }), "{err}");
        assert!(Sample::supports_payload_version(2));
        assert!(!Sample::supports_payload_version(1));
    }

    #[test]
    fn raw_payloads_keep_their_bytes_and_kind() {
        assert_eq!(ProofBytes::KIND, BlobKind::Proof);
        assert_eq!(CircuitWitnessBytes::KIND, BlobKind::CircuitWitness);
        assert_eq!(VerifyingKeyBytes::KIND, BlobKind::VerifyingKey);
        let proof = ProofBytes::new(vec![9u8; 1000]);
        let payload = proof.encode_payload().unwrap();
        assert_eq!(ProofBytes::decode_payload(0, &payload).unwrap(), proof);
        assert_eq!(format!("{proof:?}"), "RawPayload<proof>(1000 bytes)");
    }
}
