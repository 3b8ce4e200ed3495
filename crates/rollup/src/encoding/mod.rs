//! Batch encodings: JSON for people, a compact binary for the pipeline; both versioned
//! (docs/rollup.md §7).

pub mod binary;
pub mod json;

/// Version of both batch encodings. A decoder refuses any other.
pub const BATCH_FORMAT_VERSION: u16 = 1;

/// Why bytes or text could not be decoded as a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not start with the binary format's magic: not a batch.
    #[error("not a zkfleet batch: expected magic {expected:?}, found {found:?}")]
    BadMagic {
        /// The magic of the binary format.
        expected: [u8; 4],
        /// The first bytes found (up to four).
        found: Vec<u8>,
    },
    /// The batch was written in a format version this build does not read.
    #[error("unsupported batch format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version the input declares (JSON may carry any number).
        found: u64,
        /// [`BATCH_FORMAT_VERSION`].
        supported: u16,
    },
    /// The binary input ends inside a field.
    #[error("truncated batch: {what} at byte {offset} needs {needed} bytes, {available} left")]
    Truncated {
        /// The field being read.
        what: String,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// A binary field holds a value no batch can have (an unknown operation kind, a
    /// non-canonical field element, an out-of-range count...).
    #[error("invalid {what} at byte {offset}: {reason}")]
    Invalid {
        /// The field.
        what: String,
        /// Where it starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The binary input goes on after the last operation.
    #[error("{count} trailing bytes after the batch at byte {offset}")]
    TrailingBytes {
        /// Where the batch ends.
        offset: usize,
        /// How many bytes follow.
        count: usize,
    },
    /// The JSON form does not parse, or does not describe a batch.
    #[error("invalid batch JSON: {0}")]
    Json(String),
}
