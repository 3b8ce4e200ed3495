//! The fleet at one moment, as `/status.json` serves it and the status page shows it: batches in
//! flight with their progress per proving stage, queue depths per round and circuit, recent
//! failures, and which worker holds which job.
//!
//! Everything is read from the job database in one pass of a few bounded queries (see
//! [`StatusSnapshot::read`]); nothing is cached, so two refreshes of the page never disagree
//! with the database by more than the time between them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use zkfleet_dal::{BatchJobCount, Dal, DalError, JobSummary, JobTable, StatusCount};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus, L1BatchId, ProvingStage};

use crate::config::StatusPageConfig;
use crate::tasks::circuit_label;

/// Everything the status page shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusSnapshot {
    /// When the database was read.
    pub generated_at: DateTime<Utc>,
    /// `postgres` or `sqlite`.
    pub database: &'static str,
    /// The batches whose final proof is not done yet.
    pub batches: BatchesInFlight,
    /// Prover, witness and compression queues with jobs queued or in progress.
    pub queues: Vec<QueueDepth>,
    /// Jobs whose last attempt failed, most recent first.
    pub failures: Listed<Failure>,
    /// Jobs in progress and the workers (`picked_by`) that hold them.
    pub workers: Listed<WorkerActivity>,
}

/// The batches whose final proof is not done, oldest sealed first.
#[derive(Debug, Clone, Serialize)]
pub struct BatchesInFlight {
    /// The batches listed, at most `limit`.
    pub listed: Vec<BatchProgress>,
    /// The configured cut (`status_page.max_batches`).
    pub limit: u32,
    /// More batches are in flight than listed.
    pub truncated: bool,
}

/// A list cut at a configured limit.
#[derive(Debug, Clone, Serialize)]
pub struct Listed<T> {
    /// The entries, at most `limit`.
    pub listed: Vec<T>,
    /// The configured cut.
    pub limit: u32,
    /// The list reached its limit: there may be more.
    pub truncated: bool,
}

impl<T> Listed<T> {
    fn new(listed: Vec<T>, limit: u32) -> Self {
        let truncated = listed.len() >= limit as usize;
        Self {
            listed,
            limit,
            truncated,
        }
    }
}

/// One batch in flight.
#[derive(Debug, Clone, Serialize)]
pub struct BatchProgress {
    /// The batch's chain.
    pub chain_id: u64,
    /// The batch's number on its chain.
    pub batch_number: u32,
    /// The protocol version it is proven under (`0.1.0`).
    pub protocol_version: String,
    /// Its priority (higher is picked first).
    pub priority: i32,
    /// When the sequencer sealed it.
    pub sealed_at: DateTime<Utc>,
    /// When the batch was handed to the fleet (its witness input row).
    pub inserted_at: DateTime<Utc>,
    /// Seconds since `inserted_at`.
    pub age_seconds: i64,
    /// Basic, leaf, node, recursion tip, scheduler, compression: always six entries.
    pub stages: Vec<StageProgress>,
}

/// Jobs of one proving stage of one batch. For a round: its witness generation jobs and its
/// prover jobs; for compression: the compression job. Counts grow as the batch goes on (a
/// round's jobs are inserted by the round before it).
#[derive(Debug, Clone, Serialize)]
pub struct StageProgress {
    /// `basic`, `leaf`, `node`, `recursion_tip`, `scheduler`, `compression`.
    #[serde(serialize_with = "stage_name")]
    pub stage: ProvingStage,
    /// The stage's witness generation jobs (none for compression).
    pub witness_jobs: JobProgress,
    /// Prover jobs, or the compression job.
    pub proof_jobs: JobProgress,
    /// Both together.
    pub all: JobProgress,
}

/// Jobs by where they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobProgress {
    /// `successful` or `sent_to_server`.
    pub successful: u64,
    /// `in_progress`.
    pub in_progress: u64,
    /// `failed` (waiting for the requeuer), `attempts_exhausted` or `failed_permanently`
    /// (waiting for an operator).
    pub failed: u64,
    /// Every job of the stage, whatever its status (queued and waiting included).
    pub total: u64,
}

impl JobProgress {
    fn add(&mut self, status: JobStatus, count: u64) {
        match status {
            JobStatus::Successful | JobStatus::SentToServer => self.successful += count,
            JobStatus::InProgress => self.in_progress += count,
            JobStatus::Failed | JobStatus::AttemptsExhausted | JobStatus::FailedPermanently => {
                self.failed += count
            }
            JobStatus::Queued | JobStatus::WaitingForProofs => {}
        }
        self.total += count;
    }

    fn plus(self, other: Self) -> Self {
        Self {
            successful: self.successful + other.successful,
            in_progress: self.in_progress + other.in_progress,
            failed: self.failed + other.failed,
            total: self.total + other.total,
        }
    }
}

/// Queued and in-progress jobs of one table, round, circuit and protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    /// The job table the jobs are in.
    pub table: JobTable,
    /// The stage the jobs belong to (`compression` for compression jobs).
    #[serde(serialize_with = "stage_name")]
    pub stage: ProvingStage,
    /// The circuit's name (its id if it has none); `None` for per-batch tables.
    pub circuit: Option<String>,
    /// The circuit's numeric id; `None` for per-batch tables.
    pub circuit_id: Option<u8>,
    /// The protocol version the jobs are of.
    pub protocol_version: String,
    /// Jobs waiting for a worker.
    pub queued: u64,
    /// Jobs a worker holds.
    pub in_progress: u64,
}

/// A job whose last attempt failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Which job.
    #[serde(flatten)]
    pub job: JobLine,
    /// Its status now: `failed` (the requeuer will retry it), `attempts_exhausted` or
    /// `failed_permanently` (an operator must act), or requeued since.
    pub status: JobStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// The error text its last attempt recorded.
    pub error: String,
    /// When the job last changed (failed, or was requeued after the failure).
    pub at: DateTime<Utc>,
}

/// A job in progress and its worker.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerActivity {
    /// The worker's name as it picked (`hostname/component-pid` by default).
    pub picked_by: String,
    /// Which job.
    #[serde(flatten)]
    pub job: JobLine,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When the worker picked the job.
    pub since: Option<DateTime<Utc>>,
    /// Seconds since `since`.
    pub running_seconds: Option<i64>,
}

/// Which job, in words and in fields.
#[derive(Debug, Clone, Serialize)]
pub struct JobLine {
    /// `prover job 12`, `basic witness job of batch 5 of chain 270`, ...
    pub job: String,
    /// The job's table.
    pub table: JobTable,
    /// The batch's chain.
    pub chain_id: u64,
    /// The batch's number.
    pub batch_number: u32,
    /// The proving stage the job belongs to.
    #[serde(serialize_with = "stage_name")]
    pub stage: ProvingStage,
    /// The circuit's name, for jobs of one circuit.
    pub circuit: Option<String>,
    /// Node depth, for node jobs.
    pub depth: Option<u32>,
    /// Position among its siblings, for prover jobs.
    pub sequence_number: Option<u32>,
}

impl JobLine {
    fn of(job: &JobSummary) -> Self {
        Self {
            job: job.job.to_string(),
            table: job.job.table(),
            chain_id: job.batch.chain_id.0,
            batch_number: job.batch.batch_number.0,
            stage: stage_of(job.job.table(), job.aggregation_round),
            circuit: job.circuit_id.map(circuit_label),
            depth: job.depth,
            sequence_number: job.sequence_number,
        }
    }
}

/// The proving stage of a job of `table` in `round` (a witness table's rows carry their own
/// round; compression jobs have none).
fn stage_of(table: JobTable, round: Option<AggregationRound>) -> ProvingStage {
    match round.or(table.witness_round()) {
        Some(round) if table != JobTable::CompressionJobs => ProvingStage::Round(round),
        _ => ProvingStage::Compression,
    }
}

/// A stage as its name (`recursion_tip`), as metrics label it.
fn stage_name<S: serde::Serializer>(
    stage: &ProvingStage,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(stage.name())
}

/// The six stages of a batch, in proving order.
fn stages() -> impl Iterator<Item = ProvingStage> {
    AggregationRound::ALL
        .into_iter()
        .map(ProvingStage::Round)
        .chain([ProvingStage::Compression])
}

impl StatusSnapshot {
    /// Reads the fleet's state through five `Dal` calls (29 statements, one per job table and
    /// view): each is cut at its configured limit or is an aggregate, so the cost follows the
    /// number of batches, queues and workers shown, not the number of jobs.
    pub async fn read(dal: &Dal, limits: &StatusPageConfig) -> Result<Self, DalError> {
        // One more than shown, to know whether the list was cut.
        let mut unfinished = dal
            .unfinished_batches(limits.max_batches.saturating_add(1))
            .await?;
        let truncated = unfinished.len() > limits.max_batches as usize;
        unfinished.truncate(limits.max_batches as usize);
        let counts = dal.unfinished_batch_job_counts().await?;
        let status_counts = dal.status_counts().await?;
        let failures = dal.recent_failures(limits.max_failures).await?;
        let in_progress = dal.jobs_in_progress(limits.max_jobs_in_progress).await?;
        let now = Utc::now();

        Ok(Self {
            generated_at: now,
            database: dal.backend().name(),
            batches: BatchesInFlight {
                listed: batch_progress(&unfinished, &counts, now),
                limit: limits.max_batches,
                truncated,
            },
            queues: queue_depths(&status_counts),
            failures: Listed::new(
                failures.iter().filter_map(failure).collect(),
                limits.max_failures,
            ),
            workers: Listed::new(
                in_progress.iter().map(|job| activity(job, now)).collect(),
                limits.max_jobs_in_progress,
            ),
        })
    }
}

fn batch_progress(
    unfinished: &[JobSummary],
    counts: &[BatchJobCount],
    now: DateTime<Utc>,
) -> Vec<BatchProgress> {
    // (batch, stage) -> (witness jobs, proof jobs)
    let mut cells: BTreeMap<(L1BatchId, ProvingStage), (JobProgress, JobProgress)> =
        BTreeMap::new();
    for count in counts {
        let stage = stage_of(count.table, count.aggregation_round);
        let cell = cells.entry((count.batch, stage)).or_default();
        match count.table {
            JobTable::ProverJobs | JobTable::CompressionJobs => {
                cell.1.add(count.status, count.count)
            }
            _ => cell.0.add(count.status, count.count),
        }
    }
    unfinished
        .iter()
        .map(|input| BatchProgress {
            chain_id: input.batch.chain_id.0,
            batch_number: input.batch.batch_number.0,
            protocol_version: input.protocol_version.to_string(),
            priority: input.priority,
            sealed_at: input.batch_sealed_at,
            inserted_at: input.created_at,
            age_seconds: (now - input.created_at).num_seconds().max(0),
            stages: stages()
                .map(|stage| {
                    let (witness_jobs, proof_jobs) = cells
                        .get(&(input.batch, stage))
                        .copied()
                        .unwrap_or_default();
                    StageProgress {
                        stage,
                        witness_jobs,
                        proof_jobs,
                        all: witness_jobs.plus(proof_jobs),
                    }
                })
                .collect(),
        })
        .collect()
}

fn queue_depths(counts: &[StatusCount]) -> Vec<QueueDepth> {
    // Keyed in the page's order: proving stage, witness generation before the proofs of the
    // same round (table order), circuit, protocol version.
    type Cell = (ProvingStage, JobTable, Option<u8>, String);
    let mut cells: BTreeMap<Cell, (u64, u64)> = BTreeMap::new();
    for count in counts {
        let (queued, in_progress) = match count.status {
            JobStatus::Queued => (count.count, 0),
            JobStatus::InProgress => (0, count.count),
            _ => continue,
        };
        let key = (
            stage_of(count.table, count.aggregation_round),
            count.table,
            count.circuit_id.map(|c| c.0),
            count.protocol_version.to_string(),
        );
        let cell = cells.entry(key).or_default();
        cell.0 += queued;
        cell.1 += in_progress;
    }
    cells
        .into_iter()
        .map(
            |((stage, table, circuit_id, protocol_version), (queued, in_progress))| QueueDepth {
                table,
                stage,
                circuit: circuit_id.map(|c| circuit_label(CircuitId(c))),
                circuit_id,
                protocol_version,
                queued,
                in_progress,
            },
        )
        .collect()
}

fn failure(job: &JobSummary) -> Option<Failure> {
    Some(Failure {
        job: JobLine::of(job),
        status: job.status,
        attempts: job.attempts,
        error: job.error.clone()?,
        at: job.updated_at,
    })
}

fn activity(job: &JobSummary, now: DateTime<Utc>) -> WorkerActivity {
    WorkerActivity {
        picked_by: job
            .picked_by
            .clone()
            .unwrap_or_else(|| "(unknown)".to_owned()),
        job: JobLine::of(job),
        attempts: job.attempts,
        since: job.processing_started_at,
        running_seconds: job
            .processing_started_at
            .map(|since| (now - since).num_seconds().max(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_done_running_and_failed() {
        let mut p = JobProgress::default();
        p.add(JobStatus::Successful, 3);
        p.add(JobStatus::SentToServer, 1);
        p.add(JobStatus::InProgress, 2);
        p.add(JobStatus::Failed, 1);
        p.add(JobStatus::AttemptsExhausted, 1);
        p.add(JobStatus::Queued, 5);
        p.add(JobStatus::WaitingForProofs, 1);
        assert_eq!(
            p,
            JobProgress {
                successful: 4,
                in_progress: 2,
                failed: 2,
                total: 14
            }
        );
    }

    #[test]
    fn six_stages_in_proving_order() {
        let names: Vec<_> = stages().map(ProvingStage::name).collect();
        assert_eq!(
            names,
            [
                "basic",
                "leaf",
                "node",
                "recursion_tip",
                "scheduler",
                "compression"
            ]
        );
    }
}
