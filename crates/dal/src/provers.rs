//! Outside provers: provers the operator does not trust, registered by an Ed25519 public key,
//! that take prover jobs through the prover API (`zkfleet-prover-api`, docs/prover-api.md)
//! instead of touching this database.
//!
//! Tables (migration `20261206000000_outside_provers.sql`, both backends):
//! - `outside_provers`: name, public key, `active` | `suspended`;
//! - `outside_prover_challenges`: login challenges, single use (consumed by one `DELETE …
//!   RETURNING`) and expiring;
//! - `outside_prover_sessions`: the SHA-256 of each session token handed out at login;
//! - `outside_prover_leases`: a prover job handed to one prover until a deadline, with a
//!   **fencing token** = the job's `attempts` after the lease's pick. Only a lease whose token
//!   is still the job's attempts (nobody picked the job since) may extend its deadline or put the
//!   job back in the queue: a stale lease changes nothing;
//! - `outside_prover_events`: the ledger (leased, accepted, refused with reason, missed), from
//!   which every count, proving time and earning is computed.
//!
//! A lease is a pick of the `prover_jobs` row like a fleet prover's (`in_progress`, attempts + 1,
//! `picked_by = "outside:<name>"`), so the fleet's own requeuer and completion rules apply
//! unchanged. The operations are written once, in a macro instantiated for each backend.

use chrono::{DateTime, Utc};
use serde::Serialize;
use zkfleet_types::ids::ProverJobId;
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, CircuitId, JobStatus, L1BatchId,
    ProtocolSemanticVersion,
};

use crate::dal::{Backend, Dal};
use crate::error::{DalError, DalResult};
use crate::model::{JobTable, ProverJob};

/// Whether an outside prover may log in and lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsideProverStatus {
    /// May log in and lease prover jobs.
    Active,
    /// Refused at login and lease (by an operator, or automatically for too many penalties).
    Suspended,
}

impl OutsideProverStatus {
    /// The status as stored in `outside_provers.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    fn parse(value: &str) -> DalResult<Self> {
        match value {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            other => Err(DalError::corrupt(
                "outside_provers",
                format!("unknown status {other:?}"),
            )),
        }
    }
}

/// A registered outside prover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutsideProver {
    /// The name the operator registered it under (unique).
    pub name: String,
    /// The Ed25519 public key, 64 lowercase hex digits.
    pub public_key: String,
    /// Whether it may log in and lease.
    pub status: OutsideProverStatus,
    /// Why the status was last changed (an operator's or the auto-suspension's words).
    pub status_reason: Option<String>,
    /// When the status last changed: penalties towards auto-suspension count from here.
    pub status_changed_at: DateTime<Utc>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// What registering a prover did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProverRegistration {
    /// The prover is new, registered `active`.
    Inserted,
    /// The same name with the same key was already registered: nothing changed.
    AlreadyPresent,
}

/// What a login challenge turned out to be when the prover answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeCheck {
    /// It existed for this prover and had not expired; it is now consumed.
    Valid,
    /// Never issued to this prover, or already used (a replayed login).
    Unknown,
    /// Issued, but past its expiry (consumed all the same).
    Expired,
}

/// Which jobs an outside prover may lease: the operator's policy intersected with what the
/// prover says it can prove.
#[derive(Debug, Clone)]
pub struct LeaseRequest<'a> {
    /// The outside prover's registered name.
    pub prover: &'a str,
    /// The protocol version the prover API serves: only its jobs are leased.
    pub version: ProtocolSemanticVersion,
    /// (round, circuit) pairs that may be leased; empty: nothing.
    pub allowed: &'a [(AggregationRound, CircuitId)],
    /// Jobs of batches with a priority above this stay with the fleet (`None`: no limit).
    pub max_priority: Option<i32>,
    /// Percent (0..=100) of prover jobs that may go outside, chosen by job id (`id % 100 <
    /// share`): stable, so a job never flips between eligible and not.
    pub share_percent: u8,
    /// A job picked this many times already stays with the fleet, so outside provers can never
    /// exhaust a job's attempts (set it below the job monitor's `max_attempts`).
    pub max_job_attempts: u32,
    /// Most unsettled leases one prover may hold at once (a hoarder gets no more).
    pub max_active_leases: u32,
    /// When the lease expires unless extended.
    pub deadline: DateTime<Utc>,
    /// The lease's start (the pick's `processing_started_at`).
    pub now: DateTime<Utc>,
}

/// A job handed to an outside prover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideLease {
    /// The lease's row id.
    pub lease_id: i64,
    /// The job's attempts after this lease's pick.
    pub fencing_token: i64,
    /// The prover job, picked as a fleet prover would pick it.
    pub job: ProverJob,
    /// When the lease began.
    pub leased_at: DateTime<Utc>,
    /// When the lease expires unless extended.
    pub deadline: DateTime<Utc>,
}

/// What a lease request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// A job was picked and leased to the prover.
    Leased(Box<OutsideLease>),
    /// No queued job the prover may take.
    NoJob,
    /// The prover is suspended (or was removed meanwhile).
    NotActive,
    /// The prover already holds `limit` unsettled leases.
    TooManyLeases {
        /// The prover's unsettled leases.
        active: u64,
        /// The most it may hold ([`LeaseRequest::max_active_leases`]).
        limit: u32,
    },
}

/// The state of a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseStatus {
    /// Handed out, deadline not yet passed (or passed but not yet swept).
    Active,
    /// Its proof was verified and completed the job.
    Accepted,
    /// Its proof was refused; the job went back to the queue.
    Refused,
    /// The deadline passed; the job went back to the queue (a late valid proof is still taken).
    Expired,
    /// The job was completed by someone else first.
    Superseded,
    /// Given back without a proof (the prover was suspended or removed).
    Released,
}

impl LeaseStatus {
    /// The status as stored in `outside_prover_leases.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::Expired => "expired",
            Self::Superseded => "superseded",
            Self::Released => "released",
        }
    }

    fn parse(value: &str) -> DalResult<Self> {
        Ok(match value {
            "active" => Self::Active,
            "accepted" => Self::Accepted,
            "refused" => Self::Refused,
            "expired" => Self::Expired,
            "superseded" => Self::Superseded,
            "released" => Self::Released,
            other => {
                return Err(DalError::corrupt(
                    "outside_prover_leases",
                    format!("unknown status {other:?}"),
                ))
            }
        })
    }

    /// Whether a proof may still settle the lease (accepted, refused or superseded).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Active | Self::Expired)
    }
}

/// A lease with its job as it stands now: what a proof submission is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseContext {
    /// The lease's row id.
    pub lease_id: i64,
    /// The outside prover holding it.
    pub prover: String,
    /// The job's attempts after the lease's pick: the lease still holds the job while they
    /// are equal.
    pub fencing_token: i64,
    /// Where the lease stands.
    pub status: LeaseStatus,
    /// When the lease began.
    pub leased_at: DateTime<Utc>,
    /// When it expires (or expired) unless extended.
    pub deadline: DateTime<Utc>,
    /// The leased prover job.
    pub job_id: ProverJobId,
    /// The job's round, as recorded with the lease.
    pub round: AggregationRound,
    /// The job's circuit, as recorded with the lease.
    pub circuit: CircuitId,
    /// `None`: the job row is gone (archived or deleted).
    pub job: Option<LeasedJobState>,
}

/// The leased prover job's row as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedJobState {
    /// The batch the job belongs to.
    pub batch: L1BatchId,
    /// The job's status now (another worker may have picked or completed it since).
    pub status: JobStatus,
    /// The job's attempts now: the lease still holds the job if they equal its fencing token.
    pub attempts: i64,
    /// Object key of the circuit's witness: the prover's input.
    pub circuit_blob_key: String,
    /// The worker that picked the job last (`outside:<name>` for a lease).
    pub picked_by: Option<String>,
}

/// What a request to extend a lease's deadline did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendOutcome {
    /// The deadline is now this instant.
    Extended(DateTime<Utc>),
    /// No such lease of this prover.
    NotFound,
    /// The token is not the lease's, or the job was picked again since (a stale lease).
    Stale,
    /// The lease is settled or expired: nothing to extend.
    Closed(LeaseStatus),
}

/// How a lease ends when a proof (or the lack of one) settles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseSettlement {
    /// The proof completed the job: pay `earnings` for `proving_ms` of work.
    Accepted {
        /// Lease-to-acceptance time, in milliseconds.
        proving_ms: i64,
        /// What the proof earns (the operator's price of the job's round).
        earnings: i64,
    },
    /// Someone else completed the job first; nothing is paid or held against the prover.
    Superseded,
    /// Given back without a proof and without penalty (the API could not hand out the input):
    /// the job goes back to the queue if this lease still holds it.
    Released {
        /// Why it was given back: the job's error text if it is requeued.
        reason: String,
    },
    /// The proof was refused. The job goes back to the queue if this lease still holds it.
    Refused {
        /// The refusal's reason code (`invalid_proof`, `wrong_public_inputs`, …).
        reason: String,
        /// The refusal in words, for the ledger and the job's error text.
        detail: String,
        /// Whether it counts towards the prover's auto-suspension.
        penalized: bool,
    },
}

/// A lease whose deadline passed, as the sweep found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    /// The lease's row id.
    pub lease_id: i64,
    /// The outside prover that held it; it is charged a miss.
    pub prover: String,
    /// The leased prover job.
    pub job_id: ProverJobId,
    /// Whether the job was still held by this lease and went back to the queue.
    pub requeued: bool,
}

/// Penalties counted towards auto-suspension, since the prover's last status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProverPenalties {
    /// Penalised refusals of its proofs.
    pub refused: u64,
    /// Lease deadlines it missed.
    pub missed: u64,
}

/// The ledger of one prover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutsideProverStats {
    /// The prover's name.
    pub name: String,
    /// `None`: the prover was removed; its ledger stays.
    pub status: Option<OutsideProverStatus>,
    /// Leases it was handed.
    pub leased: u64,
    /// Its proofs that were verified and completed their job.
    pub accepted: u64,
    /// Its proofs that were refused, penalised or not.
    pub refused: u64,
    /// Refusals by reason code, sorted by reason.
    pub refused_by_reason: Vec<(String, u64)>,
    /// Lease deadlines it missed.
    pub missed: u64,
    /// Sum over accepted proofs of lease-to-acceptance time.
    pub proving_ms: u64,
    /// Sum of the accepted proofs' earnings.
    pub earnings: u64,
    /// Leases it holds now, unsettled.
    pub active_leases: u64,
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProverEvent {
    /// The outside prover the row is about.
    pub prover: String,
    /// The lease concerned, if any.
    pub lease_id: Option<i64>,
    /// The prover job concerned, if any.
    pub job_id: Option<i64>,
    /// `leased`, `accepted`, `refused` or `missed`.
    pub kind: String,
    /// A refusal's reason code.
    pub reason: Option<String>,
    /// A refusal in words.
    pub detail: Option<String>,
    /// Whether it counts towards auto-suspension.
    pub penalized: bool,
    /// An acceptance's lease-to-acceptance time, in milliseconds (0 otherwise).
    pub proving_ms: i64,
    /// An acceptance's earnings (0 otherwise).
    pub earnings: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
}

fn picked_by_marker(prover: &str) -> String {
    format!("outside:{prover}")
}

fn pair_code(round: AggregationRound, circuit: CircuitId) -> i64 {
    i64::from(round.as_u8()) * 256 + i64::from(circuit.0)
}

fn round_of(value: i64) -> DalResult<AggregationRound> {
    u8::try_from(value)
        .ok()
        .and_then(AggregationRound::from_u8)
        .ok_or_else(|| {
            DalError::corrupt(
                "outside_prover_leases",
                format!("aggregation_round {value}"),
            )
        })
}

fn circuit_of(value: i64) -> DalResult<CircuitId> {
    u8::try_from(value)
        .map(CircuitId)
        .map_err(|_| DalError::corrupt("outside_prover_leases", format!("circuit_id {value}")))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The operations, once per backend: `$lock` is the row-lock clause of the pick (PostgreSQL's
/// `FOR UPDATE SKIP LOCKED`; nothing on SQLite, whose `BEGIN IMMEDIATE` serialises writers).
macro_rules! provers_ops {
    ($module:ident, $db:ty, $lock:literal, $row_lock:literal, $begin:path) => {
        mod $module {
            use super::*;
            use crate::rows::ProverJobRow;
            use sqlx::Row;

            type Pool = sqlx::Pool<$db>;
            type Tx = sqlx::Transaction<'static, $db>;

            fn prover_from_row(row: &<$db as sqlx::Database>::Row) -> DalResult<OutsideProver> {
                let status: String = row.try_get("status")?;
                Ok(OutsideProver {
                    name: row.try_get("name")?,
                    public_key: row.try_get("public_key")?,
                    status: OutsideProverStatus::parse(&status)?,
                    status_reason: row.try_get("status_reason")?,
                    status_changed_at: row.try_get("status_changed_at")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            const PROVER_COLUMNS: &str =
                "name, public_key, status, status_reason, status_changed_at, created_at";

            pub(crate) async fn register_prover(
                pool: &Pool,
                name: &str,
                public_key: &str,
                now: DateTime<Utc>,
            ) -> DalResult<ProverRegistration> {
                let mut tx = $begin(pool).await?;
                let existing: Option<String> =
                    sqlx::query_scalar("SELECT public_key FROM outside_provers WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(key) = existing {
                    tx.rollback().await?;
                    return if key == public_key {
                        Ok(ProverRegistration::AlreadyPresent)
                    } else {
                        Err(DalError::InvalidInput(format!(
                            "outside prover {name} is already registered with another public \
                             key ({key}); remove it first to change its key"
                        )))
                    };
                }
                let owner: Option<String> =
                    sqlx::query_scalar("SELECT name FROM outside_provers WHERE public_key = $1")
                        .bind(public_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(owner) = owner {
                    tx.rollback().await?;
                    return Err(DalError::InvalidInput(format!(
                        "public key {public_key} is already registered to outside prover {owner}"
                    )));
                }
                sqlx::query(
                    "INSERT INTO outside_provers (name, public_key, status, status_reason, \
                     status_changed_at, created_at) VALUES ($1, $2, 'active', NULL, $3, $3)",
                )
                .bind(name)
                .bind(public_key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ProverRegistration::Inserted)
            }

            pub(crate) async fn outside_provers(pool: &Pool) -> DalResult<Vec<OutsideProver>> {
                let rows = sqlx::query(&format!(
                    "SELECT {PROVER_COLUMNS} FROM outside_provers ORDER BY name"
                ))
                .fetch_all(pool)
                .await?;
                rows.iter().map(prover_from_row).collect()
            }

            pub(crate) async fn outside_prover(
                pool: &Pool,
                name: &str,
            ) -> DalResult<Option<OutsideProver>> {
                let row = sqlx::query(&format!(
                    "SELECT {PROVER_COLUMNS} FROM outside_provers WHERE name = $1"
                ))
                .bind(name)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(prover_from_row).transpose()
            }

            pub(crate) async fn set_prover_status(
                pool: &Pool,
                name: &str,
                status: OutsideProverStatus,
                reason: &str,
                now: DateTime<Utc>,
            ) -> DalResult<Option<u64>> {
                let mut tx = $begin(pool).await?;
                let changed = sqlx::query(
                    "UPDATE outside_provers SET status = $2, status_reason = $3, \
                     status_changed_at = $4 WHERE name = $1",
                )
                .bind(name)
                .bind(status.as_str())
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let released = if status == OutsideProverStatus::Suspended {
                    sqlx::query("DELETE FROM outside_prover_sessions WHERE prover_name = $1")
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                    release_leases(&mut tx, name, &format!("outside prover {name} suspended: {reason}"), now)
                        .await?
                } else {
                    0
                };
                tx.commit().await?;
                Ok(Some(released))
            }

            pub(crate) async fn remove_prover(
                pool: &Pool,
                name: &str,
                now: DateTime<Utc>,
            ) -> DalResult<Option<u64>> {
                let mut tx = $begin(pool).await?;
                let released =
                    release_leases(&mut tx, name, &format!("outside prover {name} removed"), now)
                        .await?;
                let deleted = sqlx::query("DELETE FROM outside_provers WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                tx.commit().await?;
                Ok(Some(released))
            }

            /// Gives back every open lease of `prover`; the jobs still held go back to the queue.
            async fn release_leases(
                tx: &mut Tx,
                prover: &str,
                reason: &str,
                now: DateTime<Utc>,
            ) -> DalResult<u64> {
                let leases: Vec<(i64, i64, i64)> = sqlx::query_as(
                    "SELECT id, prover_job_id, fencing_token FROM outside_prover_leases \
                     WHERE prover_name = $1 AND status = 'active' ORDER BY prover_job_id",
                )
                .bind(prover)
                .fetch_all(&mut **tx)
                .await?;
                for &(lease_id, job_id, token) in &leases {
                    requeue_held(tx, job_id, token, reason, now).await?;
                    close_lease(tx, lease_id, LeaseStatus::Released, now).await?;
                }
                Ok(leases.len() as u64)
            }

            /// Puts a job back in the queue if the lease of `token` still holds it.
            async fn requeue_held(
                tx: &mut Tx,
                job_id: i64,
                token: i64,
                reason: &str,
                now: DateTime<Utc>,
            ) -> DalResult<bool> {
                let moved = sqlx::query(
                    "UPDATE prover_jobs SET status = 'queued', error = $3, updated_at = $4 \
                     WHERE id = $1 AND status = 'in_progress' AND attempts = $2",
                )
                .bind(job_id)
                .bind(token)
                .bind(reason)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                Ok(moved > 0)
            }

            async fn close_lease(
                tx: &mut Tx,
                lease_id: i64,
                status: LeaseStatus,
                now: DateTime<Utc>,
            ) -> DalResult<bool> {
                let changed = sqlx::query(
                    "UPDATE outside_prover_leases SET status = $2, settled_at = $3 \
                     WHERE id = $1 AND status IN ('active', 'expired')",
                )
                .bind(lease_id)
                .bind(status.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                Ok(changed > 0)
            }

            #[allow(clippy::too_many_arguments)]
            async fn event(
                tx: &mut Tx,
                prover: &str,
                lease_id: Option<i64>,
                job_id: Option<i64>,
                kind: &str,
                reason: Option<&str>,
                detail: Option<&str>,
                penalized: bool,
                proving_ms: i64,
                earnings: i64,
                now: DateTime<Utc>,
            ) -> DalResult<()> {
                sqlx::query(
                    "INSERT INTO outside_prover_events (prover_name, lease_id, prover_job_id, \
                     kind, reason, detail, penalized, proving_ms, earnings, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(prover)
                .bind(lease_id)
                .bind(job_id)
                .bind(kind)
                .bind(reason)
                .bind(detail)
                .bind(penalized)
                .bind(proving_ms)
                .bind(earnings)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            pub(crate) async fn insert_login_challenge(
                pool: &Pool,
                prover: &str,
                challenge: &str,
                expires_at: DateTime<Utc>,
            ) -> DalResult<()> {
                sqlx::query(
                    "INSERT INTO outside_prover_challenges (challenge, prover_name, expires_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(challenge)
                .bind(prover)
                .bind(expires_at)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn consume_login_challenge(
                pool: &Pool,
                prover: &str,
                challenge: &str,
                now: DateTime<Utc>,
            ) -> DalResult<ChallengeCheck> {
                let expires: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "DELETE FROM outside_prover_challenges WHERE challenge = $1 \
                     AND prover_name = $2 RETURNING expires_at",
                )
                .bind(challenge)
                .bind(prover)
                .fetch_optional(pool)
                .await?;
                Ok(match expires {
                    None => ChallengeCheck::Unknown,
                    Some(at) if at <= now => ChallengeCheck::Expired,
                    Some(_) => ChallengeCheck::Valid,
                })
            }

            pub(crate) async fn insert_session(
                pool: &Pool,
                token_hash: &str,
                prover: &str,
                expires_at: DateTime<Utc>,
            ) -> DalResult<()> {
                sqlx::query(
                    "INSERT INTO outside_prover_sessions (token_hash, prover_name, expires_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(token_hash)
                .bind(prover)
                .bind(expires_at)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn session_prover(
                pool: &Pool,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> DalResult<Option<OutsideProver>> {
                let row = sqlx::query(
                    "SELECT p.name, p.public_key, p.status, p.status_reason, \
                     p.status_changed_at, p.created_at FROM outside_prover_sessions s \
                     JOIN outside_provers p ON p.name = s.prover_name \
                     WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(prover_from_row).transpose()
            }

            pub(crate) async fn purge_expired_logins(
                pool: &Pool,
                now: DateTime<Utc>,
            ) -> DalResult<u64> {
                let a = sqlx::query("DELETE FROM outside_prover_challenges WHERE expires_at <= $1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected();
                let b = sqlx::query("DELETE FROM outside_prover_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected();
                Ok(a + b)
            }

            pub(crate) async fn lease_prover_job(
                pool: &Pool,
                request: &LeaseRequest<'_>,
            ) -> DalResult<LeaseOutcome> {
                if request.allowed.is_empty() || request.share_percent == 0 {
                    return Ok(LeaseOutcome::NoJob);
                }
                let mut tx = $begin(pool).await?;
                // The prover's row is locked for the transaction (PostgreSQL): two concurrent
                // leases of one prover are counted one after the other against its limit.
                let status: Option<String> = sqlx::query_scalar(concat!(
                    "SELECT status FROM outside_provers WHERE name = $1",
                    $row_lock
                ))
                .bind(request.prover)
                .fetch_optional(&mut *tx)
                .await?;
                if status.as_deref() != Some("active") {
                    tx.rollback().await?;
                    return Ok(LeaseOutcome::NotActive);
                }
                let active: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM outside_prover_leases \
                     WHERE prover_name = $1 AND status = 'active'",
                )
                .bind(request.prover)
                .fetch_one(&mut *tx)
                .await?;
                if count(active) >= u64::from(request.max_active_leases) {
                    tx.rollback().await?;
                    return Ok(LeaseOutcome::TooManyLeases {
                        active: count(active),
                        limit: request.max_active_leases,
                    });
                }
                // The allowed pairs are integers computed here, never text from a request.
                let pairs = request
                    .allowed
                    .iter()
                    .map(|&(round, circuit)| pair_code(round, circuit).to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let statement = format!(
                    "UPDATE prover_jobs SET status = 'in_progress', attempts = attempts + 1, \
                     picked_by = $1, processing_started_at = $2, updated_at = $2 \
                     WHERE id = (SELECT id FROM prover_jobs j \
                       WHERE status = 'queued' AND protocol_version = $3 \
                       AND protocol_version_patch = $4 \
                       AND aggregation_round * 256 + circuit_id IN ({pairs}) \
                       AND attempts < $5 AND priority <= $6 AND id % 100 < $7 \
                       AND NOT EXISTS (SELECT 1 FROM outside_prover_leases l \
                         WHERE l.prover_job_id = j.id AND l.prover_name = $8 \
                         AND l.status IN ('refused', 'expired', 'released')) \
                       ORDER BY priority DESC, batch_sealed_at, aggregation_round, circuit_id, \
                         depth, sequence_number, id \
                       LIMIT 1{}) \
                     RETURNING id, chain_id, batch_number, protocol_version, \
                       protocol_version_patch, attempts, priority, batch_sealed_at, \
                       aggregation_round, circuit_id, depth, sequence_number, circuit_blob_key, \
                       is_node_final_proof",
                    $lock
                );
                let row: Option<ProverJobRow> = sqlx::query_as(&statement)
                    .bind(picked_by_marker(request.prover))
                    .bind(request.now)
                    .bind(i64::from(request.version.minor))
                    .bind(i64::from(request.version.patch))
                    .bind(i64::from(request.max_job_attempts))
                    .bind(request.max_priority.map(i64::from).unwrap_or(i64::MAX))
                    .bind(i64::from(request.share_percent.min(100)))
                    .bind(request.prover)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(LeaseOutcome::NoJob);
                };
                let job = row.into_job()?;
                let token = i64::from(job.meta.attempts);
                let lease_id: i64 = sqlx::query_scalar(
                    "INSERT INTO outside_prover_leases (prover_job_id, prover_name, \
                     fencing_token, aggregation_round, circuit_id, status, leased_at, deadline) \
                     VALUES ($1, $2, $3, $4, $5, 'active', $6, $7) RETURNING id",
                )
                .bind(job.id.0)
                .bind(request.prover)
                .bind(token)
                .bind(i64::from(job.aggregation_round.as_u8()))
                .bind(i64::from(job.circuit_id.0))
                .bind(request.now)
                .bind(request.deadline)
                .fetch_one(&mut *tx)
                .await?;
                event(
                    &mut tx,
                    request.prover,
                    Some(lease_id),
                    Some(job.id.0),
                    "leased",
                    None,
                    None,
                    false,
                    0,
                    0,
                    request.now,
                )
                .await?;
                tx.commit().await?;
                Ok(LeaseOutcome::Leased(Box::new(OutsideLease {
                    lease_id,
                    fencing_token: token,
                    job,
                    leased_at: request.now,
                    deadline: request.deadline,
                })))
            }

            pub(crate) async fn lease_context(
                pool: &Pool,
                lease_id: i64,
                prover: &str,
            ) -> DalResult<Option<LeaseContext>> {
                let row = sqlx::query(
                    "SELECT l.id, l.prover_name, l.fencing_token, l.status, l.leased_at, \
                     l.deadline, l.prover_job_id, l.aggregation_round, l.circuit_id, \
                     j.status AS job_status, j.attempts, j.circuit_blob_key, j.picked_by, \
                     j.chain_id, j.batch_number \
                     FROM outside_prover_leases l \
                     LEFT JOIN prover_jobs j ON j.id = l.prover_job_id \
                     WHERE l.id = $1 AND l.prover_name = $2",
                )
                .bind(lease_id)
                .bind(prover)
                .fetch_optional(pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let status: String = row.try_get("status")?;
                let job_status: Option<String> = row.try_get("job_status")?;
                let job = match job_status {
                    None => None,
                    Some(s) => Some(LeasedJobState {
                        batch: {
                            let chain: i64 = row.try_get("chain_id")?;
                            let number: i64 = row.try_get("batch_number")?;
                            L1BatchId::new(
                                ChainId(u64::try_from(chain).map_err(|_| {
                                    DalError::corrupt("prover_jobs", "negative chain_id")
                                })?),
                                BatchNumber(u32::try_from(number).map_err(|_| {
                                    DalError::corrupt("prover_jobs", "batch_number out of range")
                                })?),
                            )
                        },
                        status: s.parse().map_err(|_| {
                            DalError::corrupt("prover_jobs", format!("unknown status {s:?}"))
                        })?,
                        attempts: row.try_get("attempts")?,
                        circuit_blob_key: row.try_get("circuit_blob_key")?,
                        picked_by: row.try_get("picked_by")?,
                    }),
                };
                Ok(Some(LeaseContext {
                    lease_id: row.try_get("id")?,
                    prover: row.try_get("prover_name")?,
                    fencing_token: row.try_get("fencing_token")?,
                    status: LeaseStatus::parse(&status)?,
                    leased_at: row.try_get("leased_at")?,
                    deadline: row.try_get("deadline")?,
                    job_id: ProverJobId(row.try_get("prover_job_id")?),
                    round: round_of(row.try_get("aggregation_round")?)?,
                    circuit: circuit_of(row.try_get("circuit_id")?)?,
                    job,
                }))
            }

            pub(crate) async fn extend_lease(
                pool: &Pool,
                lease_id: i64,
                prover: &str,
                token: i64,
                deadline: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> DalResult<ExtendOutcome> {
                let mut tx = $begin(pool).await?;
                let row: Option<(i64, String, DateTime<Utc>, Option<i64>, Option<String>)> =
                    sqlx::query_as(
                        "SELECT l.fencing_token, l.status, l.deadline, j.attempts, j.status \
                         FROM outside_prover_leases l \
                         LEFT JOIN prover_jobs j ON j.id = l.prover_job_id \
                         WHERE l.id = $1 AND l.prover_name = $2",
                    )
                    .bind(lease_id)
                    .bind(prover)
                    .fetch_optional(&mut *tx)
                    .await?;
                let outcome = match row {
                    None => ExtendOutcome::NotFound,
                    Some((lease_token, status, old_deadline, attempts, job_status)) => {
                        let status = LeaseStatus::parse(&status)?;
                        if lease_token != token {
                            ExtendOutcome::Stale
                        } else if status != LeaseStatus::Active || old_deadline <= now {
                            ExtendOutcome::Closed(if status == LeaseStatus::Active {
                                LeaseStatus::Expired
                            } else {
                                status
                            })
                        } else if attempts != Some(token)
                            || job_status.as_deref() != Some("in_progress")
                        {
                            ExtendOutcome::Stale
                        } else {
                            let new_deadline = deadline.max(old_deadline);
                            sqlx::query(
                                "UPDATE outside_prover_leases SET deadline = $2 WHERE id = $1",
                            )
                            .bind(lease_id)
                            .bind(new_deadline)
                            .execute(&mut *tx)
                            .await?;
                            // Keep the fleet's requeuer off the job while the lease lives: it
                            // measures a job's age from processing_started_at.
                            sqlx::query(
                                "UPDATE prover_jobs SET processing_started_at = $2, \
                                 updated_at = $2 WHERE id = (SELECT prover_job_id FROM \
                                 outside_prover_leases WHERE id = $1)",
                            )
                            .bind(lease_id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                            ExtendOutcome::Extended(new_deadline)
                        }
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            pub(crate) async fn claim_job_for_proof(
                pool: &Pool,
                job_id: ProverJobId,
                prover: &str,
                now: DateTime<Utc>,
            ) -> DalResult<Option<JobStatus>> {
                let mut tx = $begin(pool).await?;
                sqlx::query(
                    "UPDATE prover_jobs SET status = 'in_progress', picked_by = $2, \
                     processing_started_at = COALESCE(processing_started_at, $3), \
                     updated_at = $3 WHERE id = $1 AND status IN ('queued', 'failed')",
                )
                .bind(job_id.0)
                .bind(picked_by_marker(prover))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM prover_jobs WHERE id = $1")
                        .bind(job_id.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.commit().await?;
                status
                    .map(|s| {
                        s.parse().map_err(|_| {
                            DalError::corrupt("prover_jobs", format!("unknown status {s:?}"))
                        })
                    })
                    .transpose()
            }

            pub(crate) async fn settle_lease(
                pool: &Pool,
                lease_id: i64,
                settlement: &LeaseSettlement,
                now: DateTime<Utc>,
            ) -> DalResult<bool> {
                let mut tx = $begin(pool).await?;
                let row: Option<(String, i64, i64)> = sqlx::query_as(
                    "SELECT prover_name, prover_job_id, fencing_token FROM outside_prover_leases \
                     WHERE id = $1",
                )
                .bind(lease_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((prover, job_id, token)) = row else {
                    tx.rollback().await?;
                    return Err(DalError::NotFound(format!("outside lease {lease_id}")));
                };
                let status = match settlement {
                    LeaseSettlement::Accepted { .. } => LeaseStatus::Accepted,
                    LeaseSettlement::Superseded => LeaseStatus::Superseded,
                    LeaseSettlement::Released { .. } => LeaseStatus::Released,
                    LeaseSettlement::Refused { .. } => LeaseStatus::Refused,
                };
                if !close_lease(&mut tx, lease_id, status, now).await? {
                    tx.rollback().await?;
                    return Ok(false);
                }
                match settlement {
                    LeaseSettlement::Accepted {
                        proving_ms,
                        earnings,
                    } => {
                        event(
                            &mut tx, &prover, Some(lease_id), Some(job_id), "accepted", None,
                            None, false, *proving_ms, *earnings, now,
                        )
                        .await?
                    }
                    LeaseSettlement::Superseded => {}
                    LeaseSettlement::Released { reason } => {
                        requeue_held(&mut tx, job_id, token, reason, now).await?;
                    }
                    LeaseSettlement::Refused {
                        reason,
                        detail,
                        penalized,
                    } => {
                        let why = format!(
                            "proof of outside prover {prover} (lease {lease_id}) refused: {detail}"
                        );
                        requeue_held(&mut tx, job_id, token, &why, now).await?;
                        event(
                            &mut tx, &prover, Some(lease_id), Some(job_id), "refused",
                            Some(reason), Some(detail), *penalized, 0, 0, now,
                        )
                        .await?
                    }
                }
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn record_refusal(
                pool: &Pool,
                prover: &str,
                lease_id: Option<i64>,
                reason: &str,
                detail: &str,
                penalized: bool,
                now: DateTime<Utc>,
            ) -> DalResult<()> {
                let mut tx = $begin(pool).await?;
                let job_id: Option<i64> = match lease_id {
                    Some(id) => sqlx::query_scalar(
                        "SELECT prover_job_id FROM outside_prover_leases WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?,
                    None => None,
                };
                event(
                    &mut tx, prover, lease_id, job_id, "refused", Some(reason), Some(detail),
                    penalized, 0, 0, now,
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn expire_leases(
                pool: &Pool,
                now: DateTime<Utc>,
            ) -> DalResult<Vec<ExpiredLease>> {
                let mut tx = $begin(pool).await?;
                let due: Vec<(i64, String, i64, i64)> = sqlx::query_as(
                    "SELECT id, prover_name, prover_job_id, fencing_token \
                     FROM outside_prover_leases WHERE status = 'active' AND deadline <= $1 \
                     ORDER BY prover_job_id",
                )
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                let mut expired = Vec::with_capacity(due.len());
                for (lease_id, prover, job_id, token) in due {
                    let job_status: Option<String> =
                        sqlx::query_scalar("SELECT status FROM prover_jobs WHERE id = $1")
                            .bind(job_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if job_status.as_deref() == Some("successful") {
                        // Done by someone else (or by this lease, its settlement lost in a
                        // crash): not a miss.
                        close_lease(&mut tx, lease_id, LeaseStatus::Superseded, now).await?;
                        continue;
                    }
                    let why = format!(
                        "outside prover {prover} missed the deadline of lease {lease_id}"
                    );
                    // Guarded on 'active': of two sweeps racing (two API replicas), one
                    // expires the lease and charges the miss, the other changes nothing.
                    let claimed = sqlx::query(
                        "UPDATE outside_prover_leases SET status = 'expired' \
                         WHERE id = $1 AND status = 'active'",
                    )
                    .bind(lease_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if claimed == 0 {
                        continue;
                    }
                    let requeued = requeue_held(&mut tx, job_id, token, &why, now).await?;
                    event(
                        &mut tx, &prover, Some(lease_id), Some(job_id), "missed",
                        Some("deadline"), Some(&why), true, 0, 0, now,
                    )
                    .await?;
                    expired.push(ExpiredLease {
                        lease_id,
                        prover,
                        job_id: ProverJobId(job_id),
                        requeued,
                    });
                }
                tx.commit().await?;
                Ok(expired)
            }

            pub(crate) async fn prover_penalties(
                pool: &Pool,
                prover: &str,
            ) -> DalResult<ProverPenalties> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT e.kind, COUNT(*) FROM outside_prover_events e \
                     JOIN outside_provers p ON p.name = e.prover_name \
                     WHERE e.prover_name = $1 AND e.penalized = TRUE \
                     AND e.at >= p.status_changed_at GROUP BY e.kind",
                )
                .bind(prover)
                .fetch_all(pool)
                .await?;
                let mut penalties = ProverPenalties::default();
                for (kind, n) in rows {
                    match kind.as_str() {
                        "refused" => penalties.refused = count(n),
                        "missed" => penalties.missed = count(n),
                        _ => {}
                    }
                }
                Ok(penalties)
            }

            pub(crate) async fn outside_prover_stats(
                pool: &Pool,
            ) -> DalResult<Vec<OutsideProverStats>> {
                use std::collections::BTreeMap;
                let mut stats: BTreeMap<String, OutsideProverStats> = BTreeMap::new();
                let blank = |name: &str| OutsideProverStats {
                    name: name.to_owned(),
                    status: None,
                    leased: 0,
                    accepted: 0,
                    refused: 0,
                    refused_by_reason: Vec::new(),
                    missed: 0,
                    proving_ms: 0,
                    earnings: 0,
                    active_leases: 0,
                };
                for prover in outside_provers(pool).await? {
                    let mut entry = blank(&prover.name);
                    entry.status = Some(prover.status);
                    stats.insert(prover.name, entry);
                }
                let rows: Vec<(String, String, Option<String>, i64, i64, i64)> = sqlx::query_as(
                    "SELECT prover_name, kind, reason, COUNT(*), \
                     CAST(COALESCE(SUM(proving_ms), 0) AS BIGINT), \
                     CAST(COALESCE(SUM(earnings), 0) AS BIGINT) \
                     FROM outside_prover_events GROUP BY prover_name, kind, reason \
                     ORDER BY prover_name, kind, reason",
                )
                .fetch_all(pool)
                .await?;
                for (name, kind, reason, n, ms, earned) in rows {
                    let entry = stats.entry(name.clone()).or_insert_with(|| blank(&name));
                    match kind.as_str() {
                        "leased" => entry.leased += count(n),
                        "accepted" => {
                            entry.accepted += count(n);
                            entry.proving_ms += count(ms);
                            entry.earnings += count(earned);
                        }
                        "refused" => {
                            entry.refused += count(n);
                            entry
                                .refused_by_reason
                                .push((reason.unwrap_or_default(), count(n)));
                        }
                        "missed" => entry.missed += count(n),
                        _ => {}
                    }
                }
                let active: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT prover_name, COUNT(*) FROM outside_prover_leases \
                     WHERE status = 'active' GROUP BY prover_name",
                )
                .fetch_all(pool)
                .await?;
                for (name, n) in active {
                    if let Some(entry) = stats.get_mut(&name) {
                        entry.active_leases = count(n);
                    }
                }
                Ok(stats.into_values().collect())
            }

            pub(crate) async fn prover_events(
                pool: &Pool,
                prover: Option<&str>,
            ) -> DalResult<Vec<ProverEvent>> {
                let rows = sqlx::query(
                    "SELECT prover_name, lease_id, prover_job_id, kind, reason, detail, \
                     penalized, proving_ms, earnings, at FROM outside_prover_events \
                     WHERE $1 IS NULL OR prover_name = $1 ORDER BY id",
                )
                .bind(prover)
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(ProverEvent {
                            prover: row.try_get("prover_name")?,
                            lease_id: row.try_get("lease_id")?,
                            job_id: row.try_get("prover_job_id")?,
                            kind: row.try_get("kind")?,
                            reason: row.try_get("reason")?,
                            detail: row.try_get("detail")?,
                            penalized: row.try_get("penalized")?,
                            proving_ms: row.try_get("proving_ms")?,
                            earnings: row.try_get("earnings")?,
                            at: row.try_get("at")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

provers_ops!(
    pg_ops,
    sqlx::Postgres,
    " FOR UPDATE SKIP LOCKED",
    " FOR UPDATE",
    crate::postgres::begin_write
);
provers_ops!(sqlite_ops, sqlx::Sqlite, "", "", crate::sqlite::begin_write);

/// Calls the same operation on whichever backend the handle holds.
macro_rules! on_backend {
    ($self:ident . $op:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.backend {
            Backend::Postgres(pool) => pg_ops::$op(pool, $($arg),*).await,
            Backend::Sqlite(pool) => sqlite_ops::$op(pool, $($arg),*).await,
        }
    };
}

/// Outside provers (docs/prover-api.md): registration, login, leases and the ledger.
impl Dal {
    /// Registers an outside prover, `active`. The same name and key again: `AlreadyPresent`;
    /// the name with another key, or the key under another name: [`DalError::InvalidInput`].
    pub async fn register_outside_prover(
        &self,
        name: &str,
        public_key_hex: &str,
    ) -> DalResult<ProverRegistration> {
        on_backend!(self.register_prover(name, public_key_hex, Utc::now()))
    }

    /// Every registered outside prover, by name.
    pub async fn outside_provers(&self) -> DalResult<Vec<OutsideProver>> {
        on_backend!(self.outside_provers())
    }

    /// The outside prover registered as `name`, if any.
    pub async fn outside_prover(&self, name: &str) -> DalResult<Option<OutsideProver>> {
        on_backend!(self.outside_prover(name))
    }

    /// Suspends (its sessions end, its open leases are given back and their jobs requeued) or
    /// re-activates a prover. Penalties for auto-suspension count from this change on.
    /// `None`: no such prover; otherwise how many leases were given back.
    pub async fn set_outside_prover_status(
        &self,
        name: &str,
        status: OutsideProverStatus,
        reason: &str,
    ) -> DalResult<Option<u64>> {
        let released = on_backend!(self.set_prover_status(name, status, reason, Utc::now()))?;
        if released.unwrap_or(0) > 0 {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(released)
    }

    /// Removes a prover (its open leases are given back first). Its ledger stays.
    pub async fn remove_outside_prover(&self, name: &str) -> DalResult<Option<u64>> {
        let released = on_backend!(self.remove_prover(name, Utc::now()))?;
        if released.unwrap_or(0) > 0 {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(released)
    }

    /// Records a login challenge issued to `prover`, valid until `expires_at` and good for one
    /// answer.
    pub async fn insert_login_challenge(
        &self,
        prover: &str,
        challenge: &str,
        expires_at: DateTime<Utc>,
    ) -> DalResult<()> {
        on_backend!(self.insert_login_challenge(prover, challenge, expires_at))
    }

    /// Consumes a challenge: whatever the answer, it can never be used again.
    pub async fn consume_login_challenge(
        &self,
        prover: &str,
        challenge: &str,
    ) -> DalResult<ChallengeCheck> {
        on_backend!(self.consume_login_challenge(prover, challenge, Utc::now()))
    }

    /// Records a session handed out to `prover` at login, by the SHA-256 of its token (the token
    /// itself is never stored), valid until `expires_at`.
    pub async fn insert_prover_session(
        &self,
        token_hash: &str,
        prover: &str,
        expires_at: DateTime<Utc>,
    ) -> DalResult<()> {
        on_backend!(self.insert_session(token_hash, prover, expires_at))
    }

    /// The prover of an unexpired session (whatever its status: the caller checks it).
    pub async fn prover_of_session(&self, token_hash: &str) -> DalResult<Option<OutsideProver>> {
        on_backend!(self.session_prover(token_hash, Utc::now()))
    }

    /// Deletes expired challenges and sessions; returns how many.
    pub async fn purge_expired_prover_logins(&self) -> DalResult<u64> {
        on_backend!(self.purge_expired_logins(Utc::now()))
    }

    /// Leases the first queued job the request allows (the fleet's pick order), in one
    /// transaction with the lease row and its ledger entry.
    pub async fn lease_prover_job(&self, request: &LeaseRequest<'_>) -> DalResult<LeaseOutcome> {
        on_backend!(self.lease_prover_job(request))
    }

    /// A lease of `prover` with its job as it stands now (`None`: no such lease of this prover).
    pub async fn outside_lease(
        &self,
        lease_id: i64,
        prover: &str,
    ) -> DalResult<Option<LeaseContext>> {
        on_backend!(self.lease_context(lease_id, prover))
    }

    /// Moves an active lease's deadline to `deadline` (never earlier), if `token` is its token
    /// and still the job's attempts.
    pub async fn extend_outside_lease(
        &self,
        lease_id: i64,
        prover: &str,
        token: i64,
        deadline: DateTime<Utc>,
    ) -> DalResult<ExtendOutcome> {
        on_backend!(self.extend_lease(lease_id, prover, token, deadline, Utc::now()))
    }

    /// Before completing a job with a verified proof: a job back in the queue (its lease
    /// expired) is taken back to `in_progress` for `prover`, so that
    /// [`Dal::complete_prover_job`] completes it. Returns the job's status afterwards (`None`:
    /// no such job). A job `in_progress` under someone else stays theirs, and the first
    /// completion wins.
    pub async fn claim_job_for_outside_proof(
        &self,
        job_id: ProverJobId,
        prover: &str,
    ) -> DalResult<Option<JobStatus>> {
        on_backend!(self.claim_job_for_proof(job_id, prover, Utc::now()))
    }

    /// Settles an open (active or expired) lease; `false`: it was already settled, nothing
    /// changed. A refusal puts the job back in the queue if the lease still held it.
    pub async fn settle_outside_lease(
        &self,
        lease_id: i64,
        settlement: &LeaseSettlement,
    ) -> DalResult<bool> {
        let settled = on_backend!(self.settle_lease(lease_id, settlement, Utc::now()))?;
        if settled
            && matches!(
                settlement,
                LeaseSettlement::Refused { .. } | LeaseSettlement::Released { .. }
            )
        {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(settled)
    }

    /// A refusal that settles no lease (e.g. a proof for a lease already settled).
    pub async fn record_outside_refusal(
        &self,
        prover: &str,
        lease_id: Option<i64>,
        reason: &str,
        detail: &str,
        penalized: bool,
    ) -> DalResult<()> {
        on_backend!(self.record_refusal(prover, lease_id, reason, detail, penalized, Utc::now()))
    }

    /// Expires every active lease past its deadline: its job goes back to the queue if the lease
    /// still held it, and the prover is charged a miss.
    pub async fn expire_outside_leases(&self) -> DalResult<Vec<ExpiredLease>> {
        let expired = on_backend!(self.expire_leases(Utc::now()))?;
        if expired.iter().any(|e| e.requeued) {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(expired)
    }

    /// Penalised refusals and misses since the prover's last status change.
    pub async fn outside_prover_penalties(&self, prover: &str) -> DalResult<ProverPenalties> {
        on_backend!(self.prover_penalties(prover))
    }

    /// The ledger summed per prover (removed provers included, with status `None`).
    pub async fn outside_prover_stats(&self) -> DalResult<Vec<OutsideProverStats>> {
        on_backend!(self.outside_prover_stats())
    }

    /// The ledger's rows, oldest first, of one prover or all.
    pub async fn outside_prover_events(&self, prover: Option<&str>) -> DalResult<Vec<ProverEvent>> {
        on_backend!(self.prover_events(prover))
    }
}
