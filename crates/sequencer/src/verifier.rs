//! Checking a final proof: the cryptographic check behind acceptance.
//!
//! [`FinalKeyVerifier`] is the real one: the final verifying key file (`*.final_vk.bin`) and
//! `zkfleet_circuits::pipeline::FinalVerifyingKey::verify`, the same check `zkfleet verify`
//! does. The [`ProofVerifier`] trait exists so that the sequencer's bookkeeping (ordering,
//! duplicates, restarts) can be tested without building circuits; the sequencer never accepts
//! anything that its verifier did not return as the attested output.

use std::path::{Path, PathBuf};

use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_types::{BatchPublicOutput, VkDigest};

/// Why a proof did not verify, or the key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// The key file could not be read.
    #[error("cannot read the final verifying key {path}: {source}")]
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not decode, or is not the key of the pinned digest.
    #[error("{path} is not the pinned final verifying key: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// The proof is not a valid proof under the key (malformed, or rejected by the verifier).
    #[error("{0}")]
    Rejected(String),
}

/// A check of final proof bytes that returns the batch public output they attest.
pub trait ProofVerifier: Send + Sync + 'static {
    /// The attested output if `proof` verifies; an error saying why otherwise. Must not panic
    /// on any input (it runs on bytes from the network).
    fn verify(&self, proof: &[u8]) -> Result<BatchPublicOutput, VerifierError>;
    /// Digest of the final verifying key (sent to the gateway as `final_vk_digest`).
    fn key_digest(&self) -> VkDigest;
}

/// The protocol's final verifying key.
#[derive(Debug)]
pub struct FinalKeyVerifier {
    key: FinalVerifyingKey,
}

impl FinalKeyVerifier {
    /// Reads the key file `zkfleet keys generate` writes, which must have the `pinned` digest
    /// (SHA-256 of every byte): any other file is refused before it is parsed.
    pub fn from_file(path: &Path, pinned: VkDigest) -> Result<Self, VerifierError> {
        let bytes = std::fs::read(path).map_err(|source| VerifierError::ReadKey {
            path: path.to_owned(),
            source,
        })?;
        let key = FinalVerifyingKey::from_pinned_bytes(&bytes, pinned).map_err(|e| {
            VerifierError::BadKey {
                path: path.to_owned(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self { key })
    }
}

impl ProofVerifier for FinalKeyVerifier {
    fn verify(&self, proof: &[u8]) -> Result<BatchPublicOutput, VerifierError> {
        // `FinalVerifyingKey::verify` bounds the size, accepts only the canonical encoding,
        // checks the proof's shape against the (pinned) key before verifying and turns a panic
        // inside plonky2 into an error, so hostile bytes give an error, never a crash.
        self.key
            .verify(proof)
            .map_err(|e| VerifierError::Rejected(e.to_string()))
    }

    fn key_digest(&self) -> VkDigest {
        self.key.digest()
    }
}
