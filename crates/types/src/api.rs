//! Wire types of the gateway's HTTP API (`../shared/reference/zksync-prover.md` §6).
//!
//! Push mode (the client calls the gateway): `POST /submit_request_for_proofs` with
//! [`ProofGenerationData`], then `POST /poll_generated_proofs` with
//! [`PollGeneratedProofsRequest`] until it answers a [`PollGeneratedProofsResponse`].
//!
//! Pull mode (the gateway calls an upstream): `POST {upstream}/proof_generation_data` with
//! [`ProofGenerationDataRequest`] answers a [`ProofGenerationDataResponse`]; the final proof goes
//! back with `POST {upstream}/submit_proof/{batch_number}` and a [`SubmitProofRequest`].
//!
//! Binary payloads travel as base64 inside JSON ([`Base64Bytes`]).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{BatchPublicOutput, L1BatchId, ProtocolSemanticVersion, VkDigest};

/// Bytes carried as standard base64 in JSON.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Base64Bytes(pub Vec<u8>);

impl std::fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Base64Bytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// The verifying key the client expects the batch to be proven under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1VerifierConfig {
    /// Digest of the final (compression) verifying key.
    pub final_vk_digest: VkDigest,
    /// Digest of every verifying key of the recursion tree.
    pub recursion_tree_vk_digest: VkDigest,
}

/// One batch to prove: `POST /submit_request_for_proofs` body (push mode) and the payload of a
/// pull-mode answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofGenerationData {
    /// The batch to prove; the gateway's idempotency key (a second submission of the same
    /// batch changes nothing).
    pub l1_batch_id: L1BatchId,
    /// When the batch was sealed; older batches are proven first.
    #[serde(default = "Utc::now")]
    pub batch_sealed_at: DateTime<Utc>,
    /// The protocol version the batch must be proven under; only workers holding that
    /// version's keys pick its jobs.
    pub protocol_version: ProtocolSemanticVersion,
    /// The verifying-key digests the client expects; the gateway refuses the batch unless they
    /// are this fleet's for `protocol_version`, so no batch is proven under keys its verifier
    /// would reject.
    pub l1_verifier_config: L1VerifierConfig,
    /// The batch input blob (the rollup's versioned binary batch encoding).
    pub witness_input: Base64Bytes,
}

/// Answer to `POST /submit_request_for_proofs`: the batch is stored and queued (or was already).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitProofGenerationDataResponse {
    /// `false` when the batch had been submitted before and nothing changed.
    pub newly_inserted: bool,
}

/// `POST /poll_generated_proofs` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollGeneratedProofsRequest {
    /// The batch whose final proof the client waits for.
    pub l1_batch_id: L1BatchId,
}

/// A final proof with what it proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalProof {
    /// The protocol version whose final verifying key checks `proof`.
    pub protocol_version: ProtocolSemanticVersion,
    /// The statement the proof attests about the batch (its public inputs).
    pub public_output: BatchPublicOutput,
    /// The serialized final proof (compression layer), verifiable with the final verifying key.
    pub proof: Base64Bytes,
}

/// Answer to `POST /poll_generated_proofs` when the proof is ready (the gateway answers JSON
/// `null` while it is not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollGeneratedProofsResponse {
    /// The batch the proof is for (the one the request named).
    pub l1_batch_id: L1BatchId,
    /// The batch's final proof and what it attests.
    pub proof: FinalProof,
}

/// Answer to `POST /poll_generated_proofs` (HTTP 410 Gone) for a batch that cannot be proven
/// without an operator: one of its jobs failed permanently or used up its attempts. The client
/// stops polling and alerts; the answer goes back to `null` if an operator requeues the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchFailure {
    /// A sentence for people: which batch, which job, why.
    pub error: String,
    /// The batch that cannot be proven.
    pub l1_batch_id: L1BatchId,
    /// The state of the batch's failed job (`failed_permanently` or `attempts_exhausted`).
    pub status: crate::JobStatus,
    /// The failed job, in words (e.g. `basic witness job of batch 42 of chain 270`).
    pub failed_job: String,
    /// The job's recorded error.
    pub job_error: Option<String>,
}

/// Pull mode: the gateway asks its upstream for the next batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofGenerationDataRequest {}

/// Pull mode: the upstream's answer, a batch or nothing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProofGenerationDataResponse {
    /// The next batch to prove, or `None` when the upstream has nothing to hand out now.
    Success(Option<Box<ProofGenerationData>>),
    /// The upstream could not hand out a batch; the message says why.
    Error(String),
}

/// Pull mode: the gateway hands a final proof back (`POST /submit_proof/{batch_number}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubmitProofRequest {
    /// The batch's final proof.
    Proof(Box<FinalProof>),
    /// The batch was not proven (ZKsync's variant, kept for wire compatibility); an upstream
    /// that needs every proof refuses it.
    SkippedProofGeneration,
}

/// Pull mode: the upstream's answer to a submitted proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubmitProofResponse {
    /// The proof was accepted.
    Success,
    /// The proof was refused (wrong output, out of order, skipped...); the message says why.
    Error(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchNumber, ChainId, HashDigest};

    #[test]
    fn proof_generation_data_round_trips_as_json() {
        let data = ProofGenerationData {
            l1_batch_id: L1BatchId::new(ChainId(270), BatchNumber(7)),
            batch_sealed_at: Utc::now(),
            protocol_version: ProtocolSemanticVersion::new(1, 0),
            l1_verifier_config: L1VerifierConfig {
                final_vk_digest: VkDigest(HashDigest([1, 2, 3, 4])),
                recursion_tree_vk_digest: VkDigest(HashDigest([5, 6, 7, 8])),
            },
            witness_input: Base64Bytes(vec![0, 1, 2, 255]),
        };
        let json = serde_json::to_string(&data).unwrap();
        assert!(json.contains("\"AAEC/w==\""), "{json}");
        assert_eq!(
            serde_json::from_str::<ProofGenerationData>(&json).unwrap(),
            data
        );
        let bad = json.replace("AAEC/w==", "!!");
        assert!(serde_json::from_str::<ProofGenerationData>(&bad)
            .unwrap_err()
            .to_string()
            .contains("invalid base64"));
    }
}
