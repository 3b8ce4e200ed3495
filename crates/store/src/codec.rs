//! The envelope every blob is stored in: a versioned, self-describing, checksummed frame.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "ZKFL"
//!      4     2  envelope version (u16 LE), currently 1
//!      6     2  blob kind (u16 LE), see `BlobKind`
//!      8     2  payload format version (u16 LE), owned by the payload type
//!     10     8  payload length N (u64 LE)
//!     18     N  payload
//!   18+N     4  CRC-32C (Castagnoli, u32 LE) of bytes 0 .. 18+N
//! ```
//!
//! The kind tag lets `zkfleet file-info` say what a blob is and lets a reader refuse a blob of
//! the wrong kind instead of misinterpreting it; the payload version lets a payload type change
//! its layout while still reading (or clearly refusing) old blobs; the length and checksum turn
//! truncated uploads and bit rot into errors instead of garbage proofs.

use std::fmt;

/// The four bytes every envelope starts with.
pub const MAGIC: [u8; 4] = *b"ZKFL";
/// The envelope layout this crate writes and reads.
pub const ENVELOPE_VERSION: u16 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 18;
/// Bytes after the payload (the checksum).
pub const TRAILER_LEN: usize = 4;

/// What a blob holds. The discriminant is the tag written in the envelope: never reuse or
/// renumber one, only append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum BlobKind {
    /// A batch's witness input (the batch and what proving it needs).
    WitnessInput = 1,
    /// The witness of one circuit instance, input of one prover job.
    CircuitWitness = 2,
    /// Closed-form inputs of the basic circuits of one type (input of leaf aggregation).
    ClosedFormInputs = 3,
    /// The list of proofs one node-aggregation job aggregates.
    AggregationList = 4,
    /// The scheduler's partial input, written by the basic witness generator.
    SchedulerInput = 5,
    /// Auxiliary output of the batch, read by the scheduler and the compressor.
    AuxOutput = 6,
    /// A proof of one prover job.
    Proof = 7,
    /// A batch's final compressed proof with its public output.
    FinalProof = 8,
    /// A verifying key.
    VerifyingKey = 9,
}

impl BlobKind {
    /// Every kind, in tag order.
    pub const ALL: [BlobKind; 9] = [
        Self::WitnessInput,
        Self::CircuitWitness,
        Self::ClosedFormInputs,
        Self::AggregationList,
        Self::SchedulerInput,
        Self::AuxOutput,
        Self::Proof,
        Self::FinalProof,
        Self::VerifyingKey,
    ];

    /// The tag written in the envelope.
    pub const fn tag(self) -> u16 {
        self as u16
    }

    /// The kind a tag stands for, `None` for a tag this version does not know.
    pub const fn from_tag(tag: u16) -> Option<Self> {
        Some(match tag {
            1 => Self::WitnessInput,
            2 => Self::CircuitWitness,
            3 => Self::ClosedFormInputs,
            4 => Self::AggregationList,
            5 => Self::SchedulerInput,
            6 => Self::AuxOutput,
            7 => Self::Proof,
            8 => Self::FinalProof,
            9 => Self::VerifyingKey,
            _ => return None,
        })
    }

    /// The kind in words, as errors and `zkfleet file-info` print it.
    pub fn name(self) -> &'static str {
        match self {
            Self::WitnessInput => "witness input",
            Self::CircuitWitness => "circuit witness",
            Self::ClosedFormInputs => "closed-form inputs",
            Self::AggregationList => "aggregation list",
            Self::SchedulerInput => "scheduler input",
            Self::AuxOutput => "aux output",
            Self::Proof => "proof",
            Self::FinalProof => "final proof",
            Self::VerifyingKey => "verifying key",
        }
    }
}

impl fmt::Display for BlobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a blob could not be read as the object asked for. Each case names what was expected and
/// what was found, so an operator can tell a truncated upload from a version skew.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The blob does not start with [`MAGIC`]: it was not written by zkfleet (or not by
    /// this codec).
    #[error("not a zkfleet blob: magic bytes are {found:02x?}, expected \"ZKFL\"")]
    WrongMagic {
        /// The blob's first bytes (up to four).
        found: Vec<u8>,
    },
    /// The envelope was written by a build with another envelope layout.
    #[error("unsupported envelope version {found} (this build reads version {ENVELOPE_VERSION})")]
    UnsupportedEnvelopeVersion {
        /// The envelope version the blob carries.
        found: u16,
    },
    /// The blob is shorter than its header (or its recorded payload length) says: a cut-off
    /// upload or read.
    #[error("truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The length the envelope needs, in bytes.
        expected: u64,
        /// The blob's length, in bytes.
        found: u64,
    },
    /// The blob goes on after its checksum: two writes concatenated, or a corrupt length.
    #[error("{extra} unexpected bytes after the checksum (expected {expected} bytes in all)")]
    TrailingBytes {
        /// The length the envelope's header announces, in bytes.
        expected: u64,
        /// How many bytes follow it.
        extra: u64,
    },
    /// The CRC-32C does not match the bytes: bit rot or a corrupted write.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// The checksum in the envelope's trailer.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// A checksummed envelope with a kind tag this build does not know (written by a newer
    /// build).
    #[error("unknown blob kind tag {tag}")]
    UnknownKind {
        /// The tag found.
        tag: u16,
    },
    /// A valid blob of another kind than the reader asked for (e.g. a proof where a circuit
    /// witness was expected).
    #[error("wrong kind: expected {expected}, found {found}")]
    WrongKind {
        /// The kind the reader asked for.
        expected: BlobKind,
        /// The kind the envelope carries.
        found: BlobKind,
    },
    /// The payload's layout version is not the one the payload type reads.
    #[error("unsupported {kind} payload version {found} (this build reads {supported})")]
    UnsupportedPayloadVersion {
        /// The blob's kind.
        kind: BlobKind,
        /// The payload version the envelope carries.
        found: u16,
        /// The payload version this build reads.
        supported: u16,
    },
    /// The envelope is sound but its payload does not decode as the payload type.
    #[error("invalid {kind} payload (version {version}): {reason}")]
    Payload {
        /// The blob's kind.
        kind: BlobKind,
        /// The payload version the envelope carries.
        version: u16,
        /// The payload decoder's error.
        reason: String,
    },
}

/// The header fields of a decoded envelope, and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// What the blob holds.
    pub kind: BlobKind,
    /// The payload's layout version, owned by the payload type.
    pub payload_version: u16,
    /// The payload bytes, checksum verified.
    pub payload: &'a [u8],
}

/// Frames `payload` in an envelope.
pub fn encode(kind: BlobKind, payload_version: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&ENVELOPE_VERSION.to_le_bytes());
    out.extend_from_slice(&kind.tag().to_le_bytes());
    out.extend_from_slice(&payload_version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let checksum = crc32c::crc32c(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Checks an envelope and returns its fields, whatever its kind (what `file-info` needs).
///
/// The checks run in the order that gives the most precise error: magic, envelope version,
/// length, checksum, and only then the kind tag (a flipped bit in the tag is reported as a
/// checksum mismatch, not as an unknown kind).
pub fn inspect(blob: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let found = blob.len() as u64;
    if blob.len() < MAGIC.len() || blob[..MAGIC.len()] != MAGIC {
        let prefix = &blob[..blob.len().min(MAGIC.len())];
        if blob.len() < MAGIC.len() && MAGIC.starts_with(prefix) {
            return Err(DecodeError::Truncated {
                expected: (HEADER_LEN + TRAILER_LEN) as u64,
                found,
            });
        }
        return Err(DecodeError::WrongMagic {
            found: prefix.to_vec(),
        });
    }
    if blob.len() < 6 {
        return Err(DecodeError::Truncated {
            expected: (HEADER_LEN + TRAILER_LEN) as u64,
            found,
        });
    }
    let envelope_version = u16_at(blob, 4);
    if envelope_version != ENVELOPE_VERSION {
        return Err(DecodeError::UnsupportedEnvelopeVersion {
            found: envelope_version,
        });
    }
    if blob.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            expected: (HEADER_LEN + TRAILER_LEN) as u64,
            found,
        });
    }
    let payload_len = u64::from_le_bytes(array_at(blob, 10));
    // Saturating: a corrupted length field must produce an error, not an overflow.
    let expected = payload_len.saturating_add((HEADER_LEN + TRAILER_LEN) as u64);
    if found < expected {
        return Err(DecodeError::Truncated { expected, found });
    }
    if found > expected {
        return Err(DecodeError::TrailingBytes {
            expected,
            extra: found - expected,
        });
    }
    let body_end = blob.len() - TRAILER_LEN;
    let stored = u32::from_le_bytes(array_at(blob, body_end));
    let computed = crc32c::crc32c(&blob[..body_end]);
    if stored != computed {
        return Err(DecodeError::ChecksumMismatch { stored, computed });
    }
    let tag = u16_at(blob, 6);
    let kind = BlobKind::from_tag(tag).ok_or(DecodeError::UnknownKind { tag })?;
    Ok(Envelope {
        kind,
        payload_version: u16_at(blob, 8),
        payload: &blob[HEADER_LEN..body_end],
    })
}

/// Checks an envelope and that it holds a blob of `expected` kind.
pub fn decode(blob: &[u8], expected: BlobKind) -> Result<Envelope<'_>, DecodeError> {
    let envelope = inspect(blob)?;
    if envelope.kind != expected {
        return Err(DecodeError::WrongKind {
            expected,
            found: envelope.kind,
        });
    }
    Ok(envelope)
}

fn u16_at(blob: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(array_at(blob, offset))
}

/// `N` bytes at `offset`; callers have checked the length.
fn array_at<const N: usize>(blob: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&blob[offset..offset + N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        for kind in BlobKind::ALL {
            assert_eq!(BlobKind::from_tag(kind.tag()), Some(kind));
            let blob = encode(kind, 3, b"payload bytes");
            assert_eq!(blob.len(), HEADER_LEN + 13 + TRAILER_LEN);
            let envelope = decode(&blob, kind).unwrap();
            assert_eq!(envelope.kind, kind);
            assert_eq!(envelope.payload_version, 3);
            assert_eq!(envelope.payload, b"payload bytes");
        }
        assert_eq!(BlobKind::from_tag(0), None);
        assert_eq!(BlobKind::from_tag(10), None);
    }

    #[test]
    fn header_layout_is_as_documented() {
        let blob = encode(BlobKind::Proof, 0x0102, &[0xAA, 0xBB]);
        assert_eq!(&blob[0..4], b"ZKFL");
        assert_eq!(&blob[4..6], &[1, 0]);
        assert_eq!(&blob[6..8], &[7, 0]);
        assert_eq!(&blob[8..10], &[0x02, 0x01]);
        assert_eq!(&blob[10..18], &[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&blob[18..20], &[0xAA, 0xBB]);
        let crc = crc32c::crc32c(&blob[..20]);
        assert_eq!(&blob[20..24], &crc.to_le_bytes());
    }

    #[test]
    fn empty_payload_is_valid() {
        let blob = encode(BlobKind::AuxOutput, 1, &[]);
        assert_eq!(decode(&blob, BlobKind::AuxOutput).unwrap().payload, b"");
    }

    #[test]
    fn each_defect_has_its_own_error() {
        let blob = encode(BlobKind::CircuitWitness, 1, &[7u8; 100]);

        let mut wrong_magic = blob.clone();
        wrong_magic[0] = b'X';
        assert!(matches!(
            inspect(&wrong_magic),
            Err(DecodeError::WrongMagic { .. })
        ));
        assert!(matches!(
            inspect(b"{\"json\": true}"),
            Err(DecodeError::WrongMagic { .. })
        ));

        let mut newer = blob.clone();
        newer[4] = 2;
        assert_eq!(
            inspect(&newer),
            Err(DecodeError::UnsupportedEnvelopeVersion { found: 2 })
        );

        assert_eq!(
            inspect(&blob[..60]),
            Err(DecodeError::Truncated {
                expected: 122,
                found: 60
            })
        );
        assert!(matches!(
            inspect(&blob[..2]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            inspect(&blob[..10]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(inspect(&[]), Err(DecodeError::Truncated { .. })));

        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(
            inspect(&longer),
            Err(DecodeError::TrailingBytes {
                expected: 122,
                extra: 1
            })
        );

        let mut flipped = blob.clone();
        flipped[50] ^= 0x10;
        assert!(matches!(
            inspect(&flipped),
            Err(DecodeError::ChecksumMismatch { .. })
        ));
        // A flipped kind tag is caught by the checksum, not mistaken for another kind.
        let mut flipped_kind = blob.clone();
        flipped_kind[6] = BlobKind::Proof.tag() as u8;
        assert!(matches!(
            inspect(&flipped_kind),
            Err(DecodeError::ChecksumMismatch { .. })
        ));

        assert_eq!(
            decode(&blob, BlobKind::Proof),
            Err(DecodeError::WrongKind {
                expected: BlobKind::Proof,
                found: BlobKind::CircuitWitness
            })
        );

        // A huge length field must not overflow.
        let mut huge = blob.clone();
        huge[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(inspect(&huge), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn unknown_kind_with_valid_checksum() {
        let mut blob = encode(BlobKind::Proof, 1, b"x");
        blob[6] = 0xEE;
        let end = blob.len() - TRAILER_LEN;
        let crc = crc32c::crc32c(&blob[..end]);
        blob[end..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(inspect(&blob), Err(DecodeError::UnknownKind { tag: 0xEE }));
    }

    #[test]
    fn errors_read_well() {
        let e = DecodeError::WrongKind {
            expected: BlobKind::Proof,
            found: BlobKind::WitnessInput,
        };
        assert_eq!(
            e.to_string(),
            "wrong kind: expected proof, found witness input"
        );
        let e = DecodeError::Truncated {
            expected: 10,
            found: 4,
        };
        assert_eq!(e.to_string(), "truncated: expected 10 bytes, found 4");
    }
}
