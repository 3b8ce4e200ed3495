//! Errors of the circuits crate.
//!
//! plonky2 reports failures as `anyhow::Error`; they are converted here, at the crate boundary,
//! into variants that name what was being done, so callers can tell bad input from a failed proof.

use std::path::PathBuf;

use zkfleet_types::CircuitId;

/// Everything that can go wrong while building, caching, cutting, proving or verifying circuits.
#[derive(Debug, thiserror::Error)]
pub enum CircuitError {
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),

    #[error("circuit id {0} is not a basic circuit type")]
    NotABasicCircuit(CircuitId),

    #[error("batch witness does not fit the basic circuits: {0}")]
    InvalidBatchWitness(String),

    #[error("circuit witness is malformed: {0}")]
    MalformedWitness(String),

    #[error("circuit witness has format version {found}, this build reads version {expected}")]
    WitnessVersion { found: u16, expected: u16 },

    #[error("witness was cut for {found}, the circuit is {expected}")]
    WitnessMismatch { expected: String, found: String },

    #[error("witness vector is malformed: {0}")]
    MalformedWitnessVector(String),

    #[error("witness generation failed (the witness does not satisfy the circuit): {0}")]
    WitnessGeneration(String),

    #[error("proving failed: {0}")]
    Proving(String),

    #[error("proof does not verify: {0}")]
    Verification(String),

    #[error("proof bytes are malformed: {0}")]
    MalformedProof(String),

    #[error("circuit data serialization failed for {key}: {reason}")]
    Serialization { key: String, reason: String },

    #[error(
        "keystore file {path} has digest {found}, the manifest records {expected}; \
         the file is corrupt or from another build"
    )]
    KeystoreDigestMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error("keystore manifest {path} is malformed: {reason}")]
    KeystoreManifest { path: PathBuf, reason: String },

    #[error("keystore I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CircuitError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
