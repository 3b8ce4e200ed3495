//! Every operation of the job database, written once and compiled once per backend.
//!
//! This module is mounted twice, as `postgres::ops` and `sqlite::ops` (`#[path]`), so `Db`,
//! `sql` and `begin_write` below are the parent backend's: the Rust logic is shared, the SQL
//! text and the transaction flavour are each backend's own. Public entry points are the
//! methods of [`crate::Dal`], which dispatch here.

use super::{begin_write, sql, Db};
use crate::error::{DalError, DalResult};
use crate::model::JobRef;
use crate::rows::{db_batch, status_col};
use zkfleet_types::JobStatus;

mod archive;
mod catch_up;
mod completion;
mod fleet_status;
mod operator;
mod picking;
mod reports;
mod requeue;
mod versions;
mod witness_output;

pub(crate) use archive::*;
pub(crate) use catch_up::*;
pub(crate) use completion::*;
pub(crate) use fleet_status::*;
pub(crate) use operator::*;
pub(crate) use picking::*;
pub(crate) use reports::*;
pub(crate) use requeue::*;
pub(crate) use versions::*;
pub(crate) use witness_output::*;

pub(crate) type Pool = sqlx::Pool<Db>;
type Tx = sqlx::Transaction<'static, Db>;

/// A row key as bound to `sql::key_condition`.
#[derive(Debug, Clone, Copy)]
enum Key {
    Id(i64),
    Batch(i64, i64),
}

impl Key {
    fn of(job: JobRef) -> DalResult<Self> {
        Ok(match job {
            JobRef::LeafWitness(id) => Self::Id(id.0),
            JobRef::NodeWitness(id) => Self::Id(id.0),
            JobRef::Prover(id) => Self::Id(id.0),
            JobRef::WitnessInput(b)
            | JobRef::RecursionTipWitness(b)
            | JobRef::SchedulerWitness(b)
            | JobRef::Compression(b) => {
                let (chain, batch) = db_batch(b)?;
                Self::Batch(chain, batch)
            }
        })
    }
}

/// Binds a [`Key`] to a query built on `sql::key_condition`.
macro_rules! bind_key {
    ($query:expr, $key:expr) => {
        match $key {
            Key::Id(id) => $query.bind(id),
            Key::Batch(chain, batch) => $query.bind(chain).bind(batch),
        }
    };
}
use bind_key;

/// The current status of a job, read inside `tx` (`None`: no such job).
async fn job_status(tx: &mut Tx, job: JobRef) -> DalResult<Option<JobStatus>> {
    let table = job.table();
    let key = Key::of(job)?;
    let query = sql::job_status(table);
    let status: Option<String> = bind_key!(sqlx::query_scalar(&query), key)
        .fetch_optional(&mut **tx)
        .await?;
    status
        .map(|s| status_col(table.table_name(), &s))
        .transpose()
}

/// The status a guarded transition found instead of the one it expected; a missing job is an
/// error. Rolls back `tx` (nothing was changed).
async fn unchanged_status(mut tx: Tx, job: JobRef) -> DalResult<JobStatus> {
    let status = job_status(&mut tx, job).await?;
    tx.rollback().await?;
    status.ok_or_else(|| DalError::NotFound(job.to_string()))
}
