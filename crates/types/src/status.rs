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
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::ParseError;

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
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        Self::WaitingForProofs,
        Self::Queued,
        Self::InProgress,
        Self::Successful,
        Self::Failed,
        Self::AttemptsExhausted,
        Self::SentToServer,
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
        }
    }

    /// Whether the job's work is done (its outputs exist).
    pub fn is_done(self) -> bool {
        matches!(self, Self::Successful | Self::SentToServer)
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
