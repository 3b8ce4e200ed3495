//! The job database: one API over PostgreSQL (the distributed engine) and SQLite (the embedded
//! default, WAL mode).
//!
//! The database is the fleet's only coordinator. Every job of every round is a row; workers
//! *pick* a row (atomically: two workers never get the same job, attempts are counted on pick),
//! do the work, and *complete* or *fail* it. Completion is guarded (only an `in_progress` job
//! completes, a duplicate completion changes nothing) and queues, in the same transaction, the
//! dependent job whose last dependency it was. The job monitor requeues stuck jobs, moves jobs
//! past their attempts to the terminal `attempts_exhausted`, catches up on dependents, archives
//! finished batches and reports queue sizes. `docs/database.md` describes the tables, state
//! machines and the differences between the two backends.
//!
//! Layout:
//! - [`Dal`] (`dal.rs`): the handle and its operations, whatever the backend;
//! - `model.rs`: jobs, witness generation outputs, outcomes and reports;
//! - `postgres/`, `sqlite/`: connection, migrations and the dialect's own SQL;
//! - `ops/`: the operations, written once and compiled once per backend;
//! - `portable_sql.rs`: the SQL both dialects accept; `rows.rs`: row decoding;
//! - `wake.rs`: wake-ups for idle workers (`LISTEN/NOTIFY` on PostgreSQL, in-process on SQLite).
//!
//! ```no_run
//! # async fn demo() -> Result<(), zkfleet_dal::DalError> {
//! use zkfleet_dal::{Dal, HeavySet, ProverJobClass};
//! use zkfleet_types::ProtocolSemanticVersion;
//!
//! let dal = Dal::connect("sqlite://zkfleet.db").await?;
//! let version = ProtocolSemanticVersion::new(1, 0);
//! if let Some(job) = dal
//!     .pick_prover_job(version, ProverJobClass::Any, &HeavySet::default(), "prover-1")
//!     .await?
//! {
//!     // ... prove job.circuit_blob_key, store the proof ...
//!     let key = format!("proofs/{}", job.id);
//!     dal.complete_prover_job(job.id, &key, std::time::Duration::from_secs(3)).await?;
//! }
//! # Ok(()) }
//! ```

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod connection;
mod dal;
mod error;
mod model;
mod portable_sql;
mod postgres;
mod provers;
mod rows;
mod sqlite;
mod validate;
mod wake;

pub use connection::{redact, BackendKind, PoolOptions};
pub use dal::Dal;
pub use error::{DalError, DalResult, VersionConflict};
pub use model::*;
pub use provers::*;
pub use wake::{JobWakeups, WakeScope, CROSS_PROCESS_SAFETY_POLL, NOTIFY_CHANNEL};
