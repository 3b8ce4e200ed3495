//! Errors of the circuits crate.
//!
//! plonky2 reports failures as `anyhow::Error`; they are converted here, at the crate boundary,
//! into variants that name what was being done, so callers can tell bad input from a failed proof.

use std::path::PathBuf;

use zkfleet_types::CircuitId;

/// Everything that can go wrong while building, caching, cutting, proving or verifying circuits.
#[derive(Debug, thiserror::Error)]
pub enum CircuitError {
    /// A [`crate::BasicGeometry`] with an empty or oversized capacity or an unusable tree
    /// height.
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),

    /// An arity (proofs aggregated per leaf and per node) the recursion circuits are not built
    /// for.
    #[error("arity {0} is outside 2..={max}", max = crate::recursion::MAX_ARITY)]
    InvalidArity(u32),

    /// A basic circuit was asked for with the id of the recursion tip, the scheduler or
    /// compression.
    #[error("circuit id {0} is not a basic circuit type")]
    NotABasicCircuit(CircuitId),

    /// An executed batch's witness cannot be cut into basic circuit instances, or the
    /// instances do not match their closed forms.
    #[error("batch witness does not fit the basic circuits: {0}")]
    InvalidBatchWitness(String),

    /// Stored circuit-witness bytes do not decode.
    #[error("circuit witness is malformed: {0}")]
    MalformedWitness(String),

    /// A circuit witness written by a build with another witness format.
    #[error("circuit witness has format version {found}, this build reads version {expected}")]
    WitnessVersion {
        /// The version the witness carries.
        found: u16,
        /// The version this build reads.
        expected: u16,
    },

    /// A witness cut for another circuit type or geometry than the circuit it is proved with.
    #[error("witness was cut for {found}, the circuit is {expected}")]
    WitnessMismatch {
        /// The circuit (and geometry) doing the proving.
        expected: String,
        /// The circuit (and geometry) the witness was cut for.
        found: String,
    },

    /// Witness-vector bytes (the prover's input) do not decode or do not fit the circuit.
    #[error("witness vector is malformed: {0}")]
    MalformedWitnessVector(String),

    /// plonky2 could not fill the witness: some constraint fails, so the statement is false.
    #[error("witness generation failed (the witness does not satisfy the circuit): {0}")]
    WitnessGeneration(String),

    /// plonky2's prover failed on a complete witness.
    #[error("proving failed: {0}")]
    Proving(String),

    /// A proof was checked against a verifying key and refused.
    #[error("proof does not verify: {0}")]
    Verification(String),

    /// Proof bytes do not decode as a proof of the circuit.
    #[error("proof bytes are malformed: {0}")]
    MalformedProof(String),

    /// Circuit data could not be serialized or deserialized for the keystore.
    #[error("circuit data serialization failed for {key}: {reason}")]
    Serialization {
        /// The keystore entry.
        key: String,
        /// plonky2's or the codec's error.
        reason: String,
    },

    /// A keystore file does not hash to the digest its manifest records.
    #[error(
        "keystore file {path} has digest {found}, the manifest records {expected}; \
         the file is corrupt or from another build"
    )]
    KeystoreDigestMismatch {
        /// The file.
        path: PathBuf,
        /// The digest the manifest records.
        expected: String,
        /// The digest of the file's bytes.
        found: String,
    },

    /// A keystore manifest cannot be read or written as JSON.
    #[error("keystore manifest {path} is malformed: {reason}")]
    KeystoreManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Reading or writing a keystore file failed.
    #[error("keystore I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
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
