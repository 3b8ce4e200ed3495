//! The protocol's requests and responses (JSON; bytes as standard base64; docs/prover-api.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zkfleet_circuits::ProvingConfiguration;
use zkfleet_types::{AggregationRound, ProtocolSemanticVersion};

/// The domain-separated message a prover signs to log in: never a bare challenge, so that a
/// signature made for anything else can never log anyone in.
pub fn login_message(prover: &str, challenge: &str) -> Vec<u8> {
    format!("zkfleet prover login v1\nprover: {prover}\nchallenge: {challenge}\n").into_bytes()
}

/// `GET /v1/info`: what a prover needs to prove this fleet's jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiInfo {
    pub protocol_version: ProtocolSemanticVersion,
    /// The proving configuration; a prover builds (or loads) these circuits.
    pub proving: ProvingConfiguration,
    /// `0x` + hex SHA-256 of the final verifying key of these circuits: the prover checks that
    /// its own circuits have the same before it proves anything.
    pub final_vk_digest: String,
    pub max_request_body_bytes: usize,
    pub lease_duration_secs: u64,
}

/// `POST /v1/login/challenge`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    pub prover: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// 64 hex digits, single use.
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/login`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub prover: String,
    pub challenge: String,
    /// Ed25519 signature of [`login_message`], 128 hex digits.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// `Authorization: Bearer <session_token>` on every other request.
    pub session_token: String,
    pub expires_at: DateTime<Utc>,
}

/// What a prover can prove: the API hands it only jobs that fit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    /// Rounds it proves (empty: any).
    pub rounds: Vec<AggregationRound>,
    /// Circuit ids it proves (empty: any).
    pub circuits: Vec<u8>,
    pub memory_mib: u64,
    pub cpu_cores: u32,
    pub gpu: bool,
}

/// `POST /v1/lease`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequestBody {
    pub capabilities: Capabilities,
}

/// The job of a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasedJobInfo {
    pub id: i64,
    pub chain_id: u64,
    pub batch_number: u32,
    pub round: AggregationRound,
    pub circuit_id: u8,
    pub depth: u32,
    pub sequence_number: u32,
    pub protocol_version: ProtocolSemanticVersion,
}

/// A job's input: the stored circuit witness, inline or behind a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobInput {
    /// Base64 of the witness bytes.
    Inline(String),
    /// `GET` this path (relative to the API) with the session token, while the lease is open.
    Link {
        path: String,
        expires_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub lease_id: i64,
    /// Sent back with every extension and with the proof.
    pub fencing_token: i64,
    pub job: LeasedJobInfo,
    pub input: JobInput,
    pub input_bytes: u64,
    pub deadline: DateTime<Utc>,
    /// What an accepted proof earns.
    pub price: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseResponse {
    /// `None`: no job for this prover now; ask again after `retry_after_ms`.
    pub lease: Option<Lease>,
    pub retry_after_ms: u64,
}

/// `POST /v1/leases/{id}/extend`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    pub fencing_token: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendResponse {
    pub deadline: DateTime<Utc>,
}

/// `POST /v1/leases/{id}/proof`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofSubmission {
    pub fencing_token: i64,
    /// Base64 of plonky2's proof encoding (with public inputs).
    pub proof: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionOutcome {
    /// Verified; it completed the job.
    Accepted,
    /// This lease's proof was accepted before: nothing changed.
    AlreadyAccepted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionResponse {
    pub outcome: SubmissionOutcome,
    pub earnings: u64,
    /// Whether the proof arrived after the lease's deadline (still accepted: the job was open).
    pub late: bool,
}

/// Every error answer: `{"error": "...", "code": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub code: String,
}
