//! The job state machine shared by every job table.
//!
//! ```text
//!  waiting_for_proofs ──(last dependency done)──► queued ──(pick, attempts+1)──► in_progress
//!                                                   ▲                          │        │
//!                       (requeue: timeout or failed,│                          ▼        ▼
//!                        attempts < max)            └──────────────────── failed    successful
//!                                                                          │            │
//!                      (attempts ≥ max) ──► attempts_exhausted             │   (compression only)
//!                      (operator requeue) ──► queued                       │      sent_to_server
//!
//!  in_progress ──(permanent error: bad input, corrupt artifact, unsatisfiable witness)──►
//!      failed_permanently   (terminal at once, no attempt is spent again; operator requeue
//!                            after fixing the cause)
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::ParseError;

/// The state of a job (a witness, prover or compression job) in the diagram above; every job
/// table's `status` column holds one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Inserted, but some of the proofs it aggregates are not done yet.
    WaitingForProofs,
    /// Ready to be picked.
    Queued,
    /// Picked by a worker (`picked_by`) at `processing_started_at`.
    InProgress,
    /// Done; its outputs are in the object store.
    Successful,
    /// The last attempt failed (`error` says why); the requeuer retries it while attempts < max.
    Failed,
    /// Failed or timed out on every allowed attempt. Terminal: nothing retries it until an
    /// operator requeues it (`zkfleet requeue`).
    AttemptsExhausted,
    /// Compression jobs only: the final proof was handed to the client.
    SentToServer,
    /// Failed with an error no retry can cure (an input that does not decode or is for
    /// another batch, a corrupt blob, an unsatisfiable witness): terminal on the first such
    /// failure, `error` says why. Nothing retries it until an operator requeues it.
    FailedPermanently,
}

impl JobStatus {
    /// Every status, for parsing and for metrics that report a count per status.
    pub const ALL: [JobStatus; 8] = [
        Self::WaitingForProofs,
        Self::Queued,
        Self::InProgress,
        Self::Successful,
        Self::Failed,
        Self::AttemptsExhausted,
        Self::SentToServer,
        Self::FailedPermanently,
    ];

    /// The spelling stored in the database's `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WaitingForProofs => "waiting_for_proofs",
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Successful => "successful",
            Self::Failed => "failed",
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::SentToServer => "sent_to_server",
            Self::FailedPermanently => "failed_permanently",
        }
    }

    /// Whether nothing will retry the job without an operator: it failed permanently or used
    /// up its attempts. The batch it belongs to cannot finish.
    pub fn is_terminal_failure(self) -> bool {
        matches!(self, Self::AttemptsExhausted | Self::FailedPermanently)
    }

    /// Whether the job's work is done (its outputs exist).
    pub fn is_done(self) -> bool {
        matches!(self, Self::Successful | Self::SentToServer)
    }
}

/// Whether retrying a failed job can help: the type every component's job errors answer with,
/// so that a failure goes to the right state (docs/architecture.md, "Failures").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The same work on the same inputs may succeed: a connection or store backend failure, a
    /// timeout, a lost or crashed process, a process without the circuit. The job goes to
    /// `failed`; the requeuer retries it, with backoff, while attempts last.
    Transient,
    /// It never will: an input that does not decode or is for another batch, a missing or
    /// corrupt blob, a witness the circuits refuse, a proof that does not verify. The job goes
    /// to `failed_permanently` on the first such failure.
    Permanent,
}

impl FailureKind {
    /// The name used in logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ParseError::new("job status", s, "not a known status"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("done".parse::<JobStatus>().is_err());
    }
}
