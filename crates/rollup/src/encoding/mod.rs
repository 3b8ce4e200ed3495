//! Batch encodings: JSON for people, a compact binary for the pipeline; both versioned
//! (docs/rollup.md §7).

pub mod binary;
pub mod json;

/// Version of both batch encodings. A decoder refuses any other.
pub const BATCH_FORMAT_VERSION: u16 = 1;

/// Why bytes or text could not be decoded as a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a zkfleet batch: expected magic {expected:?}, found {found:?}")]
    BadMagic { expected: [u8; 4], found: Vec<u8> },
    #[error("unsupported batch format version {found} (this build reads version {supported})")]
    UnsupportedVersion { found: u64, supported: u16 },
    #[error("truncated batch: {what} at byte {offset} needs {needed} bytes, {available} left")]
    Truncated {
        what: String,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("invalid {what} at byte {offset}: {reason}")]
    Invalid {
        what: String,
        offset: usize,
        reason: String,
    },
    #[error("{count} trailing bytes after the batch at byte {offset}")]
    TrailingBytes { offset: usize, count: usize },
    #[error("invalid batch JSON: {0}")]
    Json(String),
}
