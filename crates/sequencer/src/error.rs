//! Errors: [`SequencerError`] for what stops the sequencer or one of its operations (storage,
//! configuration, a corrupt data directory), [`Refusal`] for a final proof that is not
//! accepted — a normal outcome, answered to the client and counted, never a crash.

use std::path::{Path, PathBuf};

use zkfleet_types::{BatchNumber, ProtocolSemanticVersion};

use crate::config::ConfigError;

/// A failure of the sequencer itself.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    /// The configuration cannot work (the error names the setting).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file of the data directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the data directory does not decode or contradicts the others.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The data directory was created for another chain or state than the configuration's.
    #[error(
        "the data directory {dir} belongs to another chain: it was created with {stored}, the \
         configuration says {configured}; use another data directory (or the original settings)"
    )]
    IdentityMismatch {
        /// The data directory.
        dir: PathBuf,
        /// The identity it was created with.
        stored: String,
        /// The identity the configuration gives.
        configured: String,
    },
    /// The rollup refused the sequencer's own state (a bug or a corrupt directory).
    #[error("the rollup state: {0}")]
    State(String),
    /// The next batch could not be generated.
    #[error("generating batch {batch}: {reason}")]
    Generate {
        /// The batch's number.
        batch: u32,
        /// The generator's error.
        reason: String,
    },
    /// The batch's witness input for the fleet could not be built.
    #[error("building the witness input of batch {batch}: {reason}")]
    WitnessInput {
        /// The batch's number.
        batch: u32,
        /// Why.
        reason: String,
    },
    /// The pinned final verifying key could not be loaded or does not match its digest.
    #[error("final verifying key: {0}")]
    Verifier(#[from] crate::verifier::VerifierError),
    /// The HTTP server's address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The configured address.
        address: std::net::SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// Push mode could not talk to the fleet's gateway.
    #[error("push mode: {0}")]
    Gateway(#[from] crate::push::GatewayError),
    /// The bearer tokens could not be read.
    #[error("sequencer tokens: {0}")]
    Tokens(#[from] zkfleet_service::TokenError),
    /// A background task (production, push, verification) ended abnormally.
    #[error("a background task failed: {0}")]
    Task(String),
}

impl SequencerError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn state(e: impl std::fmt::Display) -> Self {
        Self::State(e.to_string())
    }
}

/// Why a final proof was not accepted. Nothing changes when a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The batch number is beyond what this sequencer produced.
    #[error("batch {number} was never produced by this sequencer (latest produced: {latest})")]
    UnknownBatch {
        /// The batch number submitted.
        number: u32,
        /// The latest batch produced.
        latest: u32,
    },
    /// The URL's batch and the proof's batch differ.
    #[error("submitted for batch {path}, but the proof's public output is for batch {proof}")]
    BatchMismatch {
        /// The batch of the request's path.
        path: u32,
        /// The batch the proof's public output names.
        proof: BatchNumber,
    },
    /// The proof is of another protocol version than the sequencer's.
    #[error("the proof is for protocol version {got}, this sequencer's batches are proven under {expected}")]
    WrongProtocolVersion {
        /// The version the submission says.
        got: ProtocolSemanticVersion,
        /// The sequencer's version.
        expected: ProtocolSemanticVersion,
    },
    /// The proof does not verify under the pinned final key.
    #[error("the final proof of batch {number} does not verify: {reason}")]
    InvalidProof {
        /// The batch.
        number: u32,
        /// The verifier's error.
        reason: String,
    },
    /// The proof verifies, but the output sent beside it is not the one it attests.
    #[error(
        "the final proof of batch {number} verifies, but the public output sent beside it is \
         not the one it attests ({differences})"
    )]
    ClaimMismatch {
        /// The batch.
        number: u32,
        /// Which fields differ.
        differences: String,
    },
    /// The proof verifies, but attests another output than the batch the sequencer produced.
    #[error(
        "the final proof of batch {number} attests another output than the batch's ({differences})"
    )]
    WrongOutput {
        /// The batch.
        number: u32,
        /// Which fields differ.
        differences: String,
    },
    /// A later batch before the next one due: batches are accepted in order.
    #[error(
        "batch {number} cannot be accepted before batch {next}: batches are accepted in order \
         (proven up to {proven}); submit it again later"
    )]
    OutOfOrder {
        /// The batch submitted.
        number: u32,
        /// The batch accepted next.
        next: u32,
        /// The last batch proven.
        proven: u32,
    },
    /// The fleet skipped the batch's proof; this sequencer needs every proof.
    #[error("proof generation of batch {number} was skipped; this sequencer needs every proof")]
    Skipped {
        /// The batch.
        number: u32,
    },
}

impl Refusal {
    /// Every value [`Refusal::reason`] can return (the refusal counter is registered at 0 for
    /// each, so an alert on it reads 0 before the first refusal).
    pub const REASONS: [&'static str; 8] = [
        "unknown_batch",
        "batch_mismatch",
        "wrong_protocol_version",
        "invalid_proof",
        "claim_mismatch",
        "wrong_output",
        "out_of_order",
        "skipped",
    ];

    /// The metric label (`zkfleet_sequencer_proofs_refused_total{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownBatch { .. } => "unknown_batch",
            Self::BatchMismatch { .. } => "batch_mismatch",
            Self::WrongProtocolVersion { .. } => "wrong_protocol_version",
            Self::InvalidProof { .. } => "invalid_proof",
            Self::ClaimMismatch { .. } => "claim_mismatch",
            Self::WrongOutput { .. } => "wrong_output",
            Self::OutOfOrder { .. } => "out_of_order",
            Self::Skipped { .. } => "skipped",
        }
    }
}

/// A submitted proof that was not accepted: refused (the client's problem, nothing changed)
/// or not processed (the sequencer's problem: storage, a crashed verification task).
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The proof was refused; nothing changed.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The sequencer could not process the submission.
    #[error(transparent)]
    Internal(#[from] SequencerError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_reason_is_registered_once() {
        let version: ProtocolSemanticVersion = "0.1.0".parse().expect("version");
        let refusals = [
            Refusal::UnknownBatch {
                number: 1,
                latest: 0,
            },
            Refusal::BatchMismatch {
                path: 1,
                proof: BatchNumber(2),
            },
            Refusal::WrongProtocolVersion {
                got: version,
                expected: version,
            },
            Refusal::InvalidProof {
                number: 1,
                reason: String::new(),
            },
            Refusal::ClaimMismatch {
                number: 1,
                differences: String::new(),
            },
            Refusal::WrongOutput {
                number: 1,
                differences: String::new(),
            },
            Refusal::OutOfOrder {
                number: 2,
                next: 1,
                proven: 0,
            },
            Refusal::Skipped { number: 1 },
        ];
        let reasons: Vec<&str> = refusals.iter().map(Refusal::reason).collect();
        assert_eq!(reasons, Refusal::REASONS);
    }
}
