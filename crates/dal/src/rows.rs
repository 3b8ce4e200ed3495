//! Rows as the database returns them, and their conversion to the domain types.
//!
//! Every integer column is BIGINT (i64) on both backends, so these structs decode the same way
//! from PostgreSQL and SQLite rows; the conversions check ranges and spellings and report a
//! [`DalError::CorruptRow`] rather than panicking on a row edited by hand.

use std::time::Duration;

use chrono::{DateTime, Utc};
use zkfleet_types::ids::{LeafJobId, NodeJobId, ProverJobId};
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, CircuitId, JobStatus, L1BatchId,
    ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};

use crate::error::{DalError, DalResult};
use crate::model::{
    CompressionJob, JobMeta, JobRef, JobSummary, JobTable, ProofRef, ProverJob, StatusCount,
};

/// The chain id as stored (BIGINT). Chain ids above `i64::MAX` cannot be stored.
pub(crate) fn db_chain_id(chain_id: ChainId) -> DalResult<i64> {
    i64::try_from(chain_id.0).map_err(|_| {
        DalError::InvalidInput(format!(
            "chain id {chain_id} does not fit the database's signed 64-bit column"
        ))
    })
}

/// Chain id and batch number as stored.
pub(crate) fn db_batch(batch: L1BatchId) -> DalResult<(i64, i64)> {
    Ok((
        db_chain_id(batch.chain_id)?,
        i64::from(batch.batch_number.0),
    ))
}

/// A duration as stored in `time_taken_ms` (saturating: no job takes 292 million years).
pub(crate) fn db_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `now - age` as the cut-off of a "older than" query.
pub(crate) fn cutoff(now: DateTime<Utc>, age: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn u32_col(table: &'static str, column: &str, value: i64) -> DalResult<u32> {
    u32::try_from(value)
        .map_err(|_| DalError::corrupt(table, format!("{column} = {value} is not in 0..2^32")))
}

fn i32_col(table: &'static str, column: &str, value: i64) -> DalResult<i32> {
    i32::try_from(value)
        .map_err(|_| DalError::corrupt(table, format!("{column} = {value} does not fit i32")))
}

pub(crate) fn circuit_col(table: &'static str, value: i64) -> DalResult<CircuitId> {
    u8::try_from(value)
        .map(CircuitId)
        .map_err(|_| DalError::corrupt(table, format!("circuit_id = {value} is not in 0..=255")))
}

pub(crate) fn round_col(table: &'static str, value: i64) -> DalResult<AggregationRound> {
    u8::try_from(value)
        .ok()
        .and_then(AggregationRound::from_u8)
        .ok_or_else(|| {
            DalError::corrupt(
                table,
                format!("aggregation_round = {value} is not in 0..=4"),
            )
        })
}

pub(crate) fn status_col(table: &'static str, value: &str) -> DalResult<JobStatus> {
    value
        .parse()
        .map_err(|_| DalError::corrupt(table, format!("unknown status {value:?}")))
}

pub(crate) fn batch_col(
    table: &'static str,
    chain_id: i64,
    batch_number: i64,
) -> DalResult<L1BatchId> {
    let chain = u64::try_from(chain_id)
        .map_err(|_| DalError::corrupt(table, format!("chain_id = {chain_id} is negative")))?;
    let number = u32_col(table, "batch_number", batch_number)?;
    Ok(L1BatchId::new(ChainId(chain), BatchNumber(number)))
}

pub(crate) fn version_col(
    table: &'static str,
    minor: i64,
    patch: i64,
) -> DalResult<ProtocolSemanticVersion> {
    let minor = u16::try_from(minor).map_err(|_| {
        DalError::corrupt(table, format!("protocol_version = {minor} is not a u16"))
    })?;
    let patch = u16::try_from(patch).map_err(|_| {
        DalError::corrupt(
            table,
            format!("protocol_version_patch = {patch} is not a u16"),
        )
    })?;
    Ok(ProtocolSemanticVersion::new(minor, patch))
}

/// Columns every picked job returns (the pick queries' `RETURNING` lists include them).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MetaRow {
    pub chain_id: i64,
    pub batch_number: i64,
    pub protocol_version: i64,
    pub protocol_version_patch: i64,
    pub attempts: i64,
    pub priority: i64,
    pub batch_sealed_at: DateTime<Utc>,
}

impl MetaRow {
    pub(crate) fn into_meta(self, table: &'static str) -> DalResult<JobMeta> {
        Ok(JobMeta {
            batch: batch_col(table, self.chain_id, self.batch_number)?,
            protocol_version: version_col(
                table,
                self.protocol_version,
                self.protocol_version_patch,
            )?,
            attempts: u32_col(table, "attempts", self.attempts)?,
            priority: i32_col(table, "priority", self.priority)?,
            batch_sealed_at: self.batch_sealed_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BasicJobRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub witness_input_blob_key: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LeafJobRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub circuit_id: i64,
    pub number_of_basic_circuits: i64,
    pub closed_form_inputs_blob_key: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct NodeJobRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub circuit_id: i64,
    pub depth: i64,
    pub aggregations_blob_key: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RecursionTipJobRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub number_of_final_node_jobs: i64,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SchedulerJobRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub scheduler_partial_input_blob_key: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProverJobRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub aggregation_round: i64,
    pub circuit_id: i64,
    pub depth: i64,
    pub sequence_number: i64,
    pub circuit_blob_key: String,
    pub is_node_final_proof: bool,
}

impl ProverJobRow {
    pub(crate) fn into_job(self) -> DalResult<ProverJob> {
        const T: &str = "prover_jobs";
        Ok(ProverJob {
            id: ProverJobId(self.id),
            meta: self.meta.into_meta(T)?,
            aggregation_round: round_col(T, self.aggregation_round)?,
            circuit_id: circuit_col(T, self.circuit_id)?,
            depth: u32_col(T, "depth", self.depth)?,
            sequence_number: u32_col(T, "sequence_number", self.sequence_number)?,
            circuit_blob_key: self.circuit_blob_key,
            is_node_final_proof: self.is_node_final_proof,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CompressionJobRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub scheduler_proof_blob_key: String,
}

impl CompressionJobRow {
    pub(crate) fn into_job(self) -> DalResult<CompressionJob> {
        Ok(CompressionJob {
            meta: self.meta.into_meta("proof_compression_jobs")?,
            scheduler_proof_blob_key: self.scheduler_proof_blob_key,
        })
    }
}

/// A successful prover job as a dependency of a witness job.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProofRow {
    pub id: i64,
    pub circuit_id: i64,
    pub depth: i64,
    pub sequence_number: i64,
    pub proof_blob_key: Option<String>,
}

impl ProofRow {
    pub(crate) fn into_proof(self) -> DalResult<ProofRef> {
        const T: &str = "prover_jobs";
        let proof_blob_key = self.proof_blob_key.ok_or_else(|| {
            DalError::corrupt(
                T,
                format!("successful job {} has no proof_blob_key", self.id),
            )
        })?;
        Ok(ProofRef {
            prover_job_id: ProverJobId(self.id),
            circuit_id: circuit_col(T, self.circuit_id)?,
            depth: u32_col(T, "depth", self.depth)?,
            sequence_number: u32_col(T, "sequence_number", self.sequence_number)?,
            proof_blob_key,
        })
    }
}

pub(crate) fn into_proofs(rows: Vec<ProofRow>) -> DalResult<Vec<ProofRef>> {
    rows.into_iter().map(ProofRow::into_proof).collect()
}

/// The prover job a completion just marked successful: what dependent queuing needs.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CompletedProverJobRow {
    #[sqlx(flatten)]
    pub meta: MetaRow,
    pub aggregation_round: i64,
    pub circuit_id: i64,
    pub depth: i64,
    pub is_node_final_proof: bool,
    pub proof_blob_key: Option<String>,
}

/// What PostgreSQL's server-side completion (`zkfleet_complete_prover_job`) answers: whether
/// the job was in progress (else its status, `None` for no such job), its batch, and the
/// dependent it queued (`queued_table`, with `queued_id` for tables keyed by id).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ServerCompletionRow {
    /// Batched completions only: the proof's 1-based place in the request.
    #[sqlx(default)]
    pub position: Option<i64>,
    pub completed: bool,
    pub job_status: Option<String>,
    pub job_chain_id: Option<i64>,
    pub job_batch_number: Option<i64>,
    pub queued_table: Option<String>,
    pub queued_id: Option<i64>,
}

/// A dependent witness job locked for counting: its id (if keyed by id), the number of proofs
/// it waits for (NULL for a node job not yet filled in) and its status.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DependentRow {
    pub id: Option<i64>,
    pub expected: Option<i64>,
    pub status: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProtocolVersionRow {
    pub minor: i64,
    pub patch: i64,
    pub recursion_tree_vk_digest: String,
    pub final_vk_digest: String,
}

impl ProtocolVersionRow {
    pub(crate) fn into_version(self) -> DalResult<ProtocolVersion> {
        const T: &str = "protocol_versions";
        let digest = |column: &str, text: &str| -> DalResult<VkDigest> {
            text.parse()
                .map_err(|e| DalError::corrupt(T, format!("{column} {text:?}: {e}")))
        };
        Ok(ProtocolVersion {
            version: version_col(T, self.minor, self.patch)?,
            recursion_tree_vk_digest: digest(
                "recursion_tree_vk_digest",
                &self.recursion_tree_vk_digest,
            )?,
            final_vk_digest: digest("final_vk_digest", &self.final_vk_digest)?,
        })
    }
}

/// One row of any table in the uniform shape of [`JobSummary`] (see `sql::summary_select`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SummaryRow {
    pub id: Option<i64>,
    pub chain_id: i64,
    pub batch_number: i64,
    pub protocol_version: i64,
    pub protocol_version_patch: i64,
    pub aggregation_round: Option<i64>,
    pub circuit_id: Option<i64>,
    pub depth: Option<i64>,
    pub sequence_number: Option<i64>,
    pub status: String,
    pub attempts: i64,
    pub priority: i64,
    pub error: Option<String>,
    pub picked_by: Option<String>,
    pub batch_sealed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub processing_started_at: Option<DateTime<Utc>>,
    pub time_taken_ms: Option<i64>,
    pub input_blob_key: Option<String>,
    pub output_blob_key: Option<String>,
}

impl SummaryRow {
    pub(crate) fn into_summary(self, table: JobTable) -> DalResult<JobSummary> {
        let t = table.table_name();
        let batch = batch_col(t, self.chain_id, self.batch_number)?;
        let id = || {
            self.id
                .ok_or_else(|| DalError::corrupt(t, "row without id".to_owned()))
        };
        let job = match table {
            JobTable::WitnessInputs => JobRef::WitnessInput(batch),
            JobTable::LeafWitnessJobs => JobRef::LeafWitness(LeafJobId(id()?)),
            JobTable::NodeWitnessJobs => JobRef::NodeWitness(NodeJobId(id()?)),
            JobTable::RecursionTipWitnessJobs => JobRef::RecursionTipWitness(batch),
            JobTable::SchedulerWitnessJobs => JobRef::SchedulerWitness(batch),
            JobTable::ProverJobs => JobRef::Prover(ProverJobId(id()?)),
            JobTable::CompressionJobs => JobRef::Compression(batch),
        };
        let aggregation_round = match self.aggregation_round {
            Some(round) => Some(round_col(t, round)?),
            None => table.witness_round(),
        };
        Ok(JobSummary {
            job,
            batch,
            protocol_version: version_col(t, self.protocol_version, self.protocol_version_patch)?,
            aggregation_round,
            circuit_id: self.circuit_id.map(|c| circuit_col(t, c)).transpose()?,
            depth: self.depth.map(|d| u32_col(t, "depth", d)).transpose()?,
            sequence_number: self
                .sequence_number
                .map(|s| u32_col(t, "sequence_number", s))
                .transpose()?,
            status: status_col(t, &self.status)?,
            attempts: u32_col(t, "attempts", self.attempts)?,
            priority: i32_col(t, "priority", self.priority)?,
            error: self.error,
            picked_by: self.picked_by,
            batch_sealed_at: self.batch_sealed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            processing_started_at: self.processing_started_at,
            time_taken: self
                .time_taken_ms
                .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            input_blob_key: self.input_blob_key,
            output_blob_key: self.output_blob_key,
        })
    }
}

/// One cell of the status counts (see `sql::status_counts`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CountRow {
    pub protocol_version: i64,
    pub protocol_version_patch: i64,
    pub aggregation_round: Option<i64>,
    pub circuit_id: Option<i64>,
    pub status: String,
    pub count: i64,
}

impl CountRow {
    pub(crate) fn into_count(self, table: JobTable) -> DalResult<StatusCount> {
        let t = table.table_name();
        Ok(StatusCount {
            table,
            protocol_version: version_col(t, self.protocol_version, self.protocol_version_patch)?,
            aggregation_round: match self.aggregation_round {
                Some(r) => Some(round_col(t, r)?),
                None => table.witness_round(),
            },
            circuit_id: self.circuit_id.map(|c| circuit_col(t, c)).transpose()?,
            status: status_col(t, &self.status)?,
            count: u64::try_from(self.count).unwrap_or(0),
        })
    }
}
