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
    /// The protocol version whose prover jobs the API leases.
    pub protocol_version: ProtocolSemanticVersion,
    /// The proving configuration; a prover builds (or loads) these circuits.
    pub proving: ProvingConfiguration,
    /// `0x` + hex SHA-256 of the final verifying key of these circuits: the prover checks that
    /// its own circuits have the same before it proves anything.
    pub final_vk_digest: String,
    /// Largest request body the API takes: a proof submission must fit.
    pub max_request_body_bytes: usize,
    /// A lease's first deadline, in seconds from the lease.
    pub lease_duration_secs: u64,
}

/// `POST /v1/login/challenge`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The name the operator registered the prover under.
    pub prover: String,
}

/// The answer to `POST /v1/login/challenge`: what the prover signs to log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// 64 hex digits, single use.
    pub challenge: String,
    /// After this the challenge no longer logs anyone in.
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/login`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The registered name, as in the challenge request.
    pub prover: String,
    /// The challenge the API issued to this prover.
    pub challenge: String,
    /// Ed25519 signature of [`login_message`], 128 hex digits.
    pub signature: String,
}

/// The answer to a login that succeeded: the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// `Authorization: Bearer <session_token>` on every other request.
    pub session_token: String,
    /// When the session ends (the prover logs in again).
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
    /// Memory it has for proving, in MiB (checked against a round's `min_memory_mib`).
    pub memory_mib: u64,
    /// CPU cores it has (reported; no requirement reads it).
    pub cpu_cores: u32,
    /// Whether it has a GPU (rounds configured `gpu = true` need one).
    pub gpu: bool,
}

/// `POST /v1/lease`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequestBody {
    /// What the prover can prove; the lease is a job that fits it and the operator's policy.
    pub capabilities: Capabilities,
}

/// The job of a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasedJobInfo {
    /// The prover job's id in the fleet's job database.
    pub id: i64,
    /// The chain of the job's batch.
    pub chain_id: u64,
    /// The job's batch.
    pub batch_number: u32,
    /// The round of the circuit to prove.
    pub round: AggregationRound,
    /// The circuit to prove (its basic type in rounds 0–2).
    pub circuit_id: u8,
    /// Depth in the node tree (node proofs; 0 otherwise).
    pub depth: u32,
    /// Position among the batch's jobs of the same round, circuit and depth.
    pub sequence_number: u32,
    /// The protocol version the job is proven under.
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
        /// The input route of the lease (`/v1/leases/{id}/input`).
        path: String,
        /// The lease's deadline: the link serves while the lease is active.
        expires_at: DateTime<Utc>,
    },
}

/// A prover job leased to the prover until a deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The lease's id, in the routes `/v1/leases/{id}/…`.
    pub lease_id: i64,
    /// Sent back with every extension and with the proof.
    pub fencing_token: i64,
    /// The job to prove.
    pub job: LeasedJobInfo,
    /// The job's input: its stored circuit witness.
    pub input: JobInput,
    /// Size of the input, in bytes.
    pub input_bytes: u64,
    /// When the lease expires unless extended; the job then goes back to the queue.
    pub deadline: DateTime<Utc>,
    /// What an accepted proof earns.
    pub price: u64,
}

/// The answer to `POST /v1/lease`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseResponse {
    /// `None`: no job for this prover now; ask again after `retry_after_ms`.
    pub lease: Option<Lease>,
    /// How long to wait before asking again when no job was leased (0 with a lease).
    pub retry_after_ms: u64,
}

/// `POST /v1/leases/{id}/extend`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// The lease's fencing token, as leased.
    pub fencing_token: i64,
}

/// The answer to an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendResponse {
    /// The lease's new deadline: now + the lease duration, never past the longest lease.
    pub deadline: DateTime<Utc>,
}

/// `POST /v1/leases/{id}/proof`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofSubmission {
    /// The lease's fencing token, as leased.
    pub fencing_token: i64,
    /// Base64 of plonky2's proof encoding (with public inputs).
    pub proof: String,
}

/// What became of a proof the API took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionOutcome {
    /// Verified; it completed the job.
    Accepted,
    /// This lease's proof was accepted before: nothing changed.
    AlreadyAccepted,
}

/// The answer to a proof submission that was not refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionResponse {
    /// Accepted now, or accepted before.
    pub outcome: SubmissionOutcome,
    /// What this submission earned (the round's price; 0 for `already_accepted`).
    pub earnings: u64,
    /// Whether the proof arrived after the lease's deadline (still accepted: the job was open).
    pub late: bool,
}

/// Every error answer: `{"error": "...", "code": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A sentence naming what is wrong.
    pub error: String,
    /// The stable code (`bad_request`, `wrong_token`, `invalid_proof`, …).
    pub code: String,
}
