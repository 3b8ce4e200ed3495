//! Errors: [`SequencerError`] for what stops the sequencer or one of its operations (storage,
//! configuration, a corrupt data directory), [`Refusal`] for a final proof that is not
//! accepted — a normal outcome, answered to the client and counted, never a crash.

use std::path::{Path, PathBuf};

use zkfleet_types::{BatchNumber, ProtocolSemanticVersion};

use crate::config::ConfigError;

/// A failure of the sequencer itself.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the data directory {dir} belongs to another chain: it was created with {stored}, the \
         configuration says {configured}; use another data directory (or the original settings)"
    )]
    IdentityMismatch {
        dir: PathBuf,
        stored: String,
        configured: String,
    },
    #[error("the rollup state: {0}")]
    State(String),
    #[error("generating batch {batch}: {reason}")]
    Generate { batch: u32, reason: String },
    #[error("building the witness input of batch {batch}: {reason}")]
    WitnessInput { batch: u32, reason: String },
    #[error("final verifying key: {0}")]
    Verifier(#[from] crate::verifier::VerifierError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("push mode: {0}")]
    Gateway(#[from] crate::push::GatewayError),
    #[error("sequencer tokens: {0}")]
    Tokens(#[from] zkfleet_service::TokenError),
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
    #[error("batch {number} was never produced by this sequencer (latest produced: {latest})")]
    UnknownBatch { number: u32, latest: u32 },
    #[error("submitted for batch {path}, but the proof's public output is for batch {proof}")]
    BatchMismatch { path: u32, proof: BatchNumber },
    #[error("the proof is for protocol version {got}, this sequencer's batches are proven under {expected}")]
    WrongProtocolVersion {
        got: ProtocolSemanticVersion,
        expected: ProtocolSemanticVersion,
    },
    #[error("the final proof of batch {number} does not verify: {reason}")]
    InvalidProof { number: u32, reason: String },
    #[error(
        "the final proof of batch {number} verifies, but the public output sent beside it is \
         not the one it attests ({differences})"
    )]
    ClaimMismatch { number: u32, differences: String },
    #[error(
        "the final proof of batch {number} attests another output than the batch's ({differences})"
    )]
    WrongOutput { number: u32, differences: String },
    #[error(
        "batch {number} cannot be accepted before batch {next}: batches are accepted in order \
         (proven up to {proven}); submit it again later"
    )]
    OutOfOrder { number: u32, next: u32, proven: u32 },
    #[error("proof generation of batch {number} was skipped; this sequencer needs every proof")]
    Skipped { number: u32 },
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
    #[error(transparent)]
    Refused(#[from] Refusal),
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
