//! What goes in and out of the job database: jobs as workers see them, what a witness
//! generation produces, and the outcomes of guarded transitions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use zkfleet_types::ids::{LeafJobId, NodeJobId, ProverJobId};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus, L1BatchId, ProtocolSemanticVersion};

/// The seven job tables. Every job lives in exactly one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobTable {
    /// Round 0 witness generation (one per batch): `witness_inputs`.
    WitnessInputs,
    /// Round 1 witness generation: `leaf_witness_jobs`.
    LeafWitnessJobs,
    /// Round 2 witness generation: `node_witness_jobs`.
    NodeWitnessJobs,
    /// Round 3 witness generation: `recursion_tip_witness_jobs`.
    RecursionTipWitnessJobs,
    /// Round 4 witness generation: `scheduler_witness_jobs`.
    SchedulerWitnessJobs,
    /// Circuits to prove, every round: `prover_jobs`.
    ProverJobs,
    /// Compression of the scheduler proof: `proof_compression_jobs`.
    CompressionJobs,
}

impl JobTable {
    /// Every job table, in round order: the five witness generation tables, then prover and
    /// compression jobs.
    pub const ALL: [JobTable; 7] = [
        Self::WitnessInputs,
        Self::LeafWitnessJobs,
        Self::NodeWitnessJobs,
        Self::RecursionTipWitnessJobs,
        Self::SchedulerWitnessJobs,
        Self::ProverJobs,
        Self::CompressionJobs,
    ];

    /// The SQL table name.
    pub fn table_name(self) -> &'static str {
        match self {
            Self::WitnessInputs => "witness_inputs",
            Self::LeafWitnessJobs => "leaf_witness_jobs",
            Self::NodeWitnessJobs => "node_witness_jobs",
            Self::RecursionTipWitnessJobs => "recursion_tip_witness_jobs",
            Self::SchedulerWitnessJobs => "scheduler_witness_jobs",
            Self::ProverJobs => "prover_jobs",
            Self::CompressionJobs => "proof_compression_jobs",
        }
    }

    /// The `job_type` label of metrics (named after the worker that processes the table).
    pub fn job_type(self) -> &'static str {
        match self {
            Self::WitnessInputs => "basic_witness_generator",
            Self::LeafWitnessJobs => "leaf_witness_generator",
            Self::NodeWitnessJobs => "node_witness_generator",
            Self::RecursionTipWitnessJobs => "recursion_tip_witness_generator",
            Self::SchedulerWitnessJobs => "scheduler_witness_generator",
            Self::ProverJobs => "prover",
            Self::CompressionJobs => "proof_compressor",
        }
    }

    /// The witness generation table of a round.
    pub fn witness_table(round: AggregationRound) -> Self {
        match round {
            AggregationRound::Basic => Self::WitnessInputs,
            AggregationRound::Leaf => Self::LeafWitnessJobs,
            AggregationRound::Node => Self::NodeWitnessJobs,
            AggregationRound::RecursionTip => Self::RecursionTipWitnessJobs,
            AggregationRound::Scheduler => Self::SchedulerWitnessJobs,
        }
    }

    /// The round whose witness this table generates (`None` for prover and compression jobs).
    pub fn witness_round(self) -> Option<AggregationRound> {
        match self {
            Self::WitnessInputs => Some(AggregationRound::Basic),
            Self::LeafWitnessJobs => Some(AggregationRound::Leaf),
            Self::NodeWitnessJobs => Some(AggregationRound::Node),
            Self::RecursionTipWitnessJobs => Some(AggregationRound::RecursionTip),
            Self::SchedulerWitnessJobs => Some(AggregationRound::Scheduler),
            Self::ProverJobs | Self::CompressionJobs => None,
        }
    }

    /// Whether rows are keyed by an `id` column (otherwise by chain and batch).
    pub(crate) fn has_id(self) -> bool {
        matches!(
            self,
            Self::LeafWitnessJobs | Self::NodeWitnessJobs | Self::ProverJobs
        )
    }
}

impl std::fmt::Display for JobTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.table_name())
    }
}

/// One job of any table, as operators and monitors address it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "table", content = "key", rename_all = "snake_case")]
pub enum JobRef {
    /// The basic (round 0) witness job of a batch: its `witness_inputs` row.
    WitnessInput(L1BatchId),
    /// A leaf (round 1) witness job, one per basic circuit type of a batch.
    LeafWitness(LeafJobId),
    /// A node (round 2) witness job, one per circuit type and depth of a batch.
    NodeWitness(NodeJobId),
    /// The recursion tip (round 3) witness job of a batch.
    RecursionTipWitness(L1BatchId),
    /// The scheduler (round 4) witness job of a batch.
    SchedulerWitness(L1BatchId),
    /// A prover job: one circuit to prove, any round.
    Prover(ProverJobId),
    /// The compression job of a batch: its scheduler proof to the final proof.
    Compression(L1BatchId),
}

impl JobRef {
    /// The table the job lives in.
    pub fn table(self) -> JobTable {
        match self {
            Self::WitnessInput(_) => JobTable::WitnessInputs,
            Self::LeafWitness(_) => JobTable::LeafWitnessJobs,
            Self::NodeWitness(_) => JobTable::NodeWitnessJobs,
            Self::RecursionTipWitness(_) => JobTable::RecursionTipWitnessJobs,
            Self::SchedulerWitness(_) => JobTable::SchedulerWitnessJobs,
            Self::Prover(_) => JobTable::ProverJobs,
            Self::Compression(_) => JobTable::CompressionJobs,
        }
    }
}

impl JobRef {
    /// The prover job id, for a prover job.
    pub fn prover_id(self) -> Option<ProverJobId> {
        match self {
            Self::Prover(id) => Some(id),
            _ => None,
        }
    }

    /// The leaf witness job id, for a leaf witness job.
    pub fn leaf_id(self) -> Option<LeafJobId> {
        match self {
            Self::LeafWitness(id) => Some(id),
            _ => None,
        }
    }

    /// The node witness job id, for a node witness job.
    pub fn node_id(self) -> Option<NodeJobId> {
        match self {
            Self::NodeWitness(id) => Some(id),
            _ => None,
        }
    }
}

impl std::fmt::Display for JobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WitnessInput(b) => write!(f, "basic witness job of {b}"),
            Self::LeafWitness(id) => write!(f, "leaf witness job {id}"),
            Self::NodeWitness(id) => write!(f, "node witness job {id}"),
            Self::RecursionTipWitness(b) => write!(f, "recursion tip witness job of {b}"),
            Self::SchedulerWitness(b) => write!(f, "scheduler witness job of {b}"),
            Self::Prover(id) => write!(f, "prover job {id}"),
            Self::Compression(b) => write!(f, "compression job of {b}"),
        }
    }
}

/// The attempts counter of a job after an operator requeues it (`zkfleet requeue --batch N`):
/// the job gets a full set of attempts again.
pub const ATTEMPTS_AFTER_OPERATOR_REQUEUE: u32 = 0;

/// Result of an idempotent insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsertOutcome {
    /// The row is new.
    Inserted,
    /// An identical row was already there; nothing changed.
    AlreadyPresent,
}

/// How long a transiently `failed` job waits before the requeuer queues it again: `initial`
/// after its first attempt, doubling with every attempt, at most `max`. A store or network
/// outage then costs a few cheap retries spread over minutes instead of all attempts in a few
/// seconds. Permanent failures are never retried (`failed_permanently`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBackoff {
    /// The wait after a job's first failed attempt.
    pub initial: Duration,
    /// The longest wait, however many attempts failed.
    pub max: Duration,
}

impl RetryBackoff {
    /// No wait: a failed job is requeued at the next pass.
    pub const NONE: Self = Self {
        initial: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// The wait after `attempts` attempts (1 or more).
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(16);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// What [`crate::Dal::submit_batch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// This submission's row is the batch's row.
    Inserted,
    /// The batch was already there (inserted by another submission, maybe at the same moment).
    Present(SubmittedBatch),
}

/// The row of a batch already in the fleet, as intake compares a submission with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedBatch {
    /// The protocol version the batch was inserted under.
    pub protocol_version: ProtocolSemanticVersion,
    /// Object key of the winning submission's witness input.
    pub witness_input_blob_key: String,
    /// The digest of the winning input (`None` for rows inserted without one: older releases,
    /// [`crate::Dal::insert_batch`]).
    pub witness_input_digest: Option<String>,
    /// Status of the batch's basic witness job.
    pub status: JobStatus,
    /// Text of the basic witness job's last failure, if any.
    pub error: Option<String>,
}

/// A batch handed to the fleet (the gateway or `zkfleet insert-batch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBatch {
    /// The batch: chain and number.
    pub batch: L1BatchId,
    /// The protocol version every job of the batch is proven under (it must be inserted).
    pub protocol_version: ProtocolSemanticVersion,
    /// Object key of the batch's witness input.
    pub witness_input_blob_key: String,
    /// Higher is picked first, in every round of the batch (default 0).
    pub priority: i32,
    /// When the batch was sealed: older batches are picked first.
    pub batch_sealed_at: DateTime<Utc>,
}

/// What every picked job carries besides its own columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMeta {
    /// The batch the job belongs to.
    pub batch: L1BatchId,
    /// The protocol version the job is proven under.
    pub protocol_version: ProtocolSemanticVersion,
    /// Attempts so far, this pick included.
    pub attempts: u32,
    /// The batch's priority: higher is picked first.
    pub priority: i32,
    /// When the batch was sealed: older batches are picked first.
    pub batch_sealed_at: DateTime<Utc>,
}

/// A successful prover job whose proof another job consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRef {
    /// The prover job that produced the proof.
    pub prover_job_id: ProverJobId,
    /// The proven circuit's id (a leaf or node proof keeps the basic type it aggregates).
    pub circuit_id: CircuitId,
    /// Depth of a node proof in its type's node tree (0 for every other round).
    pub depth: u32,
    /// Position of the proof among its siblings: the aggregating job takes them in this order.
    pub sequence_number: u32,
    /// Object key of the proof.
    pub proof_blob_key: String,
}

/// A picked basic (round 0) witness generation job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicWitnessJob {
    /// Batch, version, attempts and pick order.
    pub meta: JobMeta,
    /// Object key of the batch's witness input (the batch and its pre-state).
    pub witness_input_blob_key: String,
}

/// A picked leaf (round 1) witness generation job, with the basic proofs it aggregates in
/// sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafWitnessJob {
    /// The job's row id.
    pub id: LeafJobId,
    /// Batch, version, attempts and pick order.
    pub meta: JobMeta,
    /// The basic circuit type whose proofs it aggregates.
    pub circuit_id: CircuitId,
    /// How many basic circuits of the type the batch has: the proofs the job waited for.
    pub number_of_basic_circuits: u32,
    /// Object key of the type's closed-form inputs, written by basic witness generation.
    pub closed_form_inputs_blob_key: String,
    /// The type's basic (round 0) proofs, in sequence order.
    pub basic_proofs: Vec<ProofRef>,
}

/// A picked node (round 2) witness generation job at some depth, with the proofs it aggregates
/// in sequence order: round-1 proofs at depth 0, round-2 proofs of depth − 1 otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeWitnessJob {
    /// The job's row id.
    pub id: NodeJobId,
    /// Batch, version, attempts and pick order.
    pub meta: JobMeta,
    /// The basic circuit type whose tree the node belongs to.
    pub circuit_id: CircuitId,
    /// The node's depth in the type's tree (0 aggregates leaf proofs).
    pub depth: u32,
    /// Object key of the aggregation input written by the round below (leaf witness generation
    /// or the node job of depth − 1), if it wrote one.
    pub aggregations_blob_key: Option<String>,
    /// The proofs it aggregates, in sequence order.
    pub proofs: Vec<ProofRef>,
}

/// A picked recursion tip (round 3) witness generation job, with the final node proof of every
/// basic circuit type present, in circuit id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursionTipWitnessJob {
    /// Batch, version, attempts and pick order.
    pub meta: JobMeta,
    /// How many final node proofs the job waited for: the basic circuit types present.
    pub number_of_final_node_jobs: u32,
    /// The final node proof of every type present, in circuit id order.
    pub final_node_proofs: Vec<ProofRef>,
}

/// A picked scheduler (round 4) witness generation job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerWitnessJob {
    /// Batch, version, attempts and pick order.
    pub meta: JobMeta,
    /// Object key of the scheduler's partial input, written by basic witness generation.
    pub scheduler_partial_input_blob_key: String,
    /// The batch's recursion tip (round 3) proof.
    pub recursion_tip_proof: ProofRef,
}

/// A picked prover job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProverJob {
    /// The job's row id; the proof's object key derives from it.
    pub id: ProverJobId,
    /// Batch, version, attempts and pick order.
    pub meta: JobMeta,
    /// The round of the circuit to prove.
    pub aggregation_round: AggregationRound,
    /// The circuit: the basic type of its branch in rounds 0–2, the recursion tip's or the
    /// scheduler's id in rounds 3 and 4.
    pub circuit_id: CircuitId,
    /// Depth in the type's node tree (node proofs; 0 otherwise).
    pub depth: u32,
    /// Position among the jobs of the same (round, circuit, depth) of the batch.
    pub sequence_number: u32,
    /// Object key of the circuit's witness, written by witness generation.
    pub circuit_blob_key: String,
    /// Whether this node proof is its type's last one, which the recursion tip waits for.
    pub is_node_final_proof: bool,
}

/// A picked compression job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressionJob {
    /// Batch, version, attempts and pick order.
    pub meta: JobMeta,
    /// Object key of the batch's scheduler proof, the one to compress.
    pub scheduler_proof_blob_key: String,
}

/// Which prover jobs a circuit prover takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProverJobClass {
    /// Never a heavy job.
    Light,
    /// Heavy jobs first; a light one when no heavy job is queued.
    Heavy,
    /// Any job, in the plain order.
    Any,
}

/// The prover jobs whose memory footprint calls for a heavy worker, as (round, circuit id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeavySet(Vec<(AggregationRound, CircuitId)>);

impl HeavySet {
    /// The set of these (round, circuit) pairs; order and duplicates do not matter.
    pub fn new(jobs: impl IntoIterator<Item = (AggregationRound, CircuitId)>) -> Self {
        let mut jobs: Vec<_> = jobs.into_iter().collect();
        jobs.sort();
        jobs.dedup();
        Self(jobs)
    }

    /// Whether a job of `round` and `circuit_id` is heavy.
    pub fn contains(&self, round: AggregationRound, circuit_id: CircuitId) -> bool {
        self.0.binary_search(&(round, circuit_id)).is_ok()
    }

    /// The heavy (round, circuit) pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (AggregationRound, CircuitId)> + '_ {
        self.0.iter().copied()
    }

    /// The set as the JSON array of `round * 256 + circuit_id` keys the pick queries take.
    pub(crate) fn to_json_keys(&self) -> String {
        let keys: Vec<String> = self
            .0
            .iter()
            .map(|(round, circuit)| {
                (i64::from(round.as_u8()) * 256 + i64::from(circuit.0)).to_string()
            })
            .collect();
        format!("[{}]", keys.join(","))
    }
}

/// A round-0 prover job produced by basic witness generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBasicProverJob {
    /// The basic circuit type of the instance.
    pub circuit_id: CircuitId,
    /// Position of the instance among the instances of its type (a leaf verifies in order).
    pub sequence_number: u32,
    /// Object key of the instance's circuit witness.
    pub circuit_blob_key: String,
}

/// A leaf witness job produced by basic witness generation: one per basic circuit type present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLeafWitnessJob {
    /// The basic circuit type it will aggregate.
    pub circuit_id: CircuitId,
    /// How many basic prover jobs of the type the batch has: the leaf is queued when that
    /// many are successful.
    pub number_of_basic_circuits: u32,
    /// Object key of the type's closed-form inputs.
    pub closed_form_inputs_blob_key: String,
}

/// Everything basic witness generation of one batch inserts, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicWitnessOutput {
    /// The round-0 prover jobs: every basic circuit instance of the batch.
    pub prover_jobs: Vec<NewBasicProverJob>,
    /// One leaf witness job per basic circuit type present.
    pub leaf_jobs: Vec<NewLeafWitnessJob>,
    /// Object key of the scheduler's partial input, for the scheduler witness job.
    pub scheduler_partial_input_blob_key: String,
}

/// A leaf or node prover job produced by leaf or node witness generation; the round, circuit id
/// and depth follow from the witness job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAggregationProverJob {
    /// Position among the jobs the witness job produces.
    pub sequence_number: u32,
    /// Object key of the aggregation circuit's witness.
    pub circuit_blob_key: String,
}

/// What leaf witness generation inserts: round-1 prover jobs, and the input of the node job of
/// depth 0 of the same type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafWitnessOutput {
    /// The round-1 prover jobs.
    pub prover_jobs: Vec<NewAggregationProverJob>,
    /// Object key of the depth-0 node job's aggregation input, if one was written.
    pub node_aggregations_blob_key: Option<String>,
}

/// What node witness generation at depth d inserts: round-2 prover jobs at depth d, and when
/// there is more than one, the input of node job d + 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeWitnessOutput {
    /// The round-2 prover jobs at depth d: exactly one makes it the type's final node proof.
    pub prover_jobs: Vec<NewAggregationProverJob>,
    /// Object key of node job d + 1's aggregation input, if one was written.
    pub next_aggregations_blob_key: Option<String>,
}

/// A dependent job queued by the transaction that completed its last dependency (or by the
/// monitor's catch-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueuedDependent {
    /// A leaf witness job: every basic proof of its type is successful.
    LeafWitness(LeafJobId),
    /// A node witness job: every proof of the round or depth below is successful.
    NodeWitness(NodeJobId),
    /// A batch's recursion tip witness job: every type's final node proof is successful.
    RecursionTipWitness(L1BatchId),
    /// A batch's scheduler witness job: the recursion tip proof is successful.
    SchedulerWitness(L1BatchId),
    /// The compression job, inserted queued when the scheduler proof completed.
    Compression(L1BatchId),
}

/// Result of a guarded completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// The job was `in_progress` and is now successful; dependents that became ready are listed.
    Completed {
        /// The dependents this completion queued (empty when siblings are still unproven).
        queued: Vec<QueuedDependent>,
    },
    /// The job was not `in_progress` (e.g. a duplicated worker after a requeue finished second):
    /// nothing changed.
    NotInProgress {
        /// The status the job was found in.
        status: JobStatus,
    },
}

impl CompleteOutcome {
    /// Whether this call completed the job.
    pub fn is_completed(&self) -> bool {
        matches!(self, Self::Completed { .. })
    }
}

/// Result of a guarded state change other than completion (fail, mark sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionOutcome {
    /// The job was in a state the transition applies to and has moved.
    Applied,
    /// The job was in a state the transition does not apply to; nothing changed.
    Unchanged {
        /// The status the job was found in.
        status: JobStatus,
    },
}

/// Rows moved by one requeue pass over a table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequeueCounts {
    /// In progress past the timeout, or failed, with attempts left: back to `queued`.
    pub requeued: u64,
    /// Same, without attempts left: to `attempts_exhausted`.
    pub exhausted: u64,
}

/// Rows moved by the monitor's dependency catch-up, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CatchUpCounts {
    /// Leaf witness jobs moved `waiting_for_proofs → queued`.
    pub leaf_witness_jobs: u64,
    /// Node witness jobs moved `waiting_for_proofs → queued`.
    pub node_witness_jobs: u64,
    /// Recursion tip witness jobs moved `waiting_for_proofs → queued`.
    pub recursion_tip_witness_jobs: u64,
    /// Scheduler witness jobs moved `waiting_for_proofs → queued`.
    pub scheduler_witness_jobs: u64,
    /// Compression jobs inserted for batches whose scheduler proof is successful.
    pub compression_jobs: u64,
}

impl CatchUpCounts {
    /// Rows moved or inserted in every table together.
    pub fn total(&self) -> u64 {
        self.leaf_witness_jobs
            + self.node_witness_jobs
            + self.recursion_tip_witness_jobs
            + self.scheduler_witness_jobs
            + self.compression_jobs
    }
}

/// Rows changed by an operator command on a batch, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchRowCounts(
    /// Rows changed per table; a table may appear more than once (its counts add up).
    pub Vec<(JobTable, u64)>,
);

impl BatchRowCounts {
    /// Rows changed in every table together.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    /// Rows changed in `table`.
    pub fn get(&self, table: JobTable) -> u64 {
        self.0
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }
}

/// When finished batches' prover jobs are archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePolicy {
    /// Archive a batch's prover jobs this long after its compression job last changed.
    pub archive_after: Duration,
    /// Also archive batches whose compression job is `successful` but not yet `sent_to_server`.
    pub include_unsent: bool,
}

/// A prover job moved to the archive, with the objects the store may now collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedProverJob {
    /// The job's id, kept in the archive.
    pub id: ProverJobId,
    /// The batch it belonged to.
    pub batch: L1BatchId,
    /// Object key of the circuit's witness, now collectable.
    pub circuit_blob_key: String,
    /// Object key of its proof, if it was proven.
    pub proof_blob_key: Option<String>,
}

/// One job of any table, with everything an operator wants to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobSummary {
    /// Which job: its table and key.
    pub job: JobRef,
    /// The batch it belongs to.
    pub batch: L1BatchId,
    /// The protocol version it is proven under.
    pub protocol_version: ProtocolSemanticVersion,
    /// The round the job belongs to (its witness round for witness jobs, `None` for compression).
    pub aggregation_round: Option<AggregationRound>,
    /// The circuit type (leaf, node and prover jobs; `None` for per-batch jobs).
    pub circuit_id: Option<CircuitId>,
    /// Depth in the node tree (node witness jobs and prover jobs).
    pub depth: Option<u32>,
    /// Position among its siblings (prover jobs).
    pub sequence_number: Option<u32>,
    /// Where the job stands in its state machine.
    pub status: JobStatus,
    /// Picks so far.
    pub attempts: u32,
    /// The batch's priority: higher is picked first.
    pub priority: i32,
    /// Text of the last failure or timeout.
    pub error: Option<String>,
    /// The worker that picked it last.
    pub picked_by: Option<String>,
    /// When the batch was sealed.
    pub batch_sealed_at: DateTime<Utc>,
    /// When the row was inserted.
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
    /// When its last pick started it.
    pub processing_started_at: Option<DateTime<Utc>>,
    /// How long the successful attempt took.
    pub time_taken: Option<Duration>,
    /// The object the job reads (witness input, closed-form inputs, circuit, scheduler proof...).
    pub input_blob_key: Option<String>,
    /// The object the job wrote (proof, final proof), once done.
    pub output_blob_key: Option<String>,
}

/// Number of jobs in one (table, version, round, circuit, status) cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    /// The table counted.
    pub table: JobTable,
    /// The jobs' protocol version.
    pub protocol_version: ProtocolSemanticVersion,
    /// The prover jobs' round, or a witness table's own round (`None` for compression jobs).
    pub aggregation_round: Option<AggregationRound>,
    /// The circuit type (`None` in tables without one).
    pub circuit_id: Option<CircuitId>,
    /// The jobs' status.
    pub status: JobStatus,
    /// How many jobs are in the cell.
    pub count: u64,
}

/// Queued and in-progress jobs of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    /// Jobs waiting for a worker.
    pub queued: u64,
    /// Jobs a worker has picked and not yet finished.
    pub in_progress: u64,
}

/// The queue of every table for one protocol version (the `/queue_report` entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueTables {
    /// Basic (round 0) witness jobs: `witness_inputs`.
    pub basic_witness_jobs: QueueCounts,
    /// Leaf (round 1) witness jobs.
    pub leaf_witness_jobs: QueueCounts,
    /// Node (round 2) witness jobs.
    pub node_witness_jobs: QueueCounts,
    /// Recursion tip (round 3) witness jobs.
    pub recursion_tip_witness_jobs: QueueCounts,
    /// Scheduler (round 4) witness jobs.
    pub scheduler_witness_jobs: QueueCounts,
    /// Prover jobs of every round.
    pub prover_jobs: QueueCounts,
    /// Compression jobs.
    pub proof_compressor_jobs: QueueCounts,
}

impl QueueTables {
    /// The counts of `table`, to fill in.
    pub fn table_mut(&mut self, table: JobTable) -> &mut QueueCounts {
        match table {
            JobTable::WitnessInputs => &mut self.basic_witness_jobs,
            JobTable::LeafWitnessJobs => &mut self.leaf_witness_jobs,
            JobTable::NodeWitnessJobs => &mut self.node_witness_jobs,
            JobTable::RecursionTipWitnessJobs => &mut self.recursion_tip_witness_jobs,
            JobTable::SchedulerWitnessJobs => &mut self.scheduler_witness_jobs,
            JobTable::ProverJobs => &mut self.prover_jobs,
            JobTable::CompressionJobs => &mut self.proof_compressor_jobs,
        }
    }
}

/// `{version, report}`: one element of the queue report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueReport {
    /// The protocol version the jobs are proven under.
    pub version: ProtocolSemanticVersion,
    /// Its queue, per table.
    pub report: QueueTables,
}

/// The oldest batch with an unproven prover job of one (round, circuit), per chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OldestUnproven {
    /// The prover jobs' round.
    pub aggregation_round: AggregationRound,
    /// The prover jobs' circuit.
    pub circuit_id: CircuitId,
    /// The oldest batch of the chain with a prover job of that round and circuit not yet
    /// successful.
    pub batch: L1BatchId,
}

/// The jobs of one round of a batch: its witness generation jobs and its prover jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundStatus {
    /// The round.
    pub round: AggregationRound,
    /// The round's witness generation jobs.
    pub witness_jobs: Vec<JobSummary>,
    /// The round's prover jobs (not those already archived).
    pub prover_jobs: Vec<JobSummary>,
}

impl RoundStatus {
    /// Prover jobs per status, in status order.
    pub fn prover_jobs_by_status(&self) -> Vec<(JobStatus, u64)> {
        count_by_status(&self.prover_jobs)
    }

    /// Witness jobs per status, in status order.
    pub fn witness_jobs_by_status(&self) -> Vec<(JobStatus, u64)> {
        count_by_status(&self.witness_jobs)
    }
}

fn count_by_status(jobs: &[JobSummary]) -> Vec<(JobStatus, u64)> {
    JobStatus::ALL
        .into_iter()
        .map(|s| (s, jobs.iter().filter(|j| j.status == s).count() as u64))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Everything about one batch, for `zkfleet status batch N [--verbose]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchStatus {
    /// The batch.
    pub batch: L1BatchId,
    /// The basic witness job (absent if the batch was never inserted).
    pub witness_input: Option<JobSummary>,
    /// Rounds 0 to 4, always five entries.
    pub rounds: Vec<RoundStatus>,
    /// The compression job, once the scheduler proof inserted it.
    pub compression: Option<JobSummary>,
    /// Prover jobs already moved to the archive.
    pub archived_prover_jobs: u64,
}

impl BatchStatus {
    /// Whether any row of the batch exists.
    pub fn exists(&self) -> bool {
        self.witness_input.is_some()
            || self.compression.is_some()
            || self.archived_prover_jobs > 0
            || self
                .rounds
                .iter()
                .any(|r| !r.witness_jobs.is_empty() || !r.prover_jobs.is_empty())
    }

    /// Every job of the batch still in the job tables: the basic witness job, then each
    /// round's witness and prover jobs, then the compression job.
    pub fn jobs(&self) -> impl Iterator<Item = &JobSummary> {
        self.witness_input
            .iter()
            .chain(
                self.rounds
                    .iter()
                    .flat_map(|r| r.witness_jobs.iter().chain(&r.prover_jobs)),
            )
            .chain(self.compression.iter())
    }
}

/// End-to-end proving time of one batch (`zkfleet stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchProvingTime {
    /// The batch.
    pub batch: L1BatchId,
    /// When the batch was inserted (its witness input row).
    pub inserted_at: DateTime<Utc>,
    /// When its compression job last changed (successful or sent to server).
    pub finished_at: DateTime<Utc>,
    /// From insertion to finish.
    pub duration: Duration,
}

/// Number of jobs of one table of one unfinished batch in one (round, status) cell (the job
/// monitor's status page: per-round progress of the batches in flight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchJobCount {
    /// The unfinished batch.
    pub batch: L1BatchId,
    /// The table counted.
    pub table: JobTable,
    /// The prover jobs' round; a witness table's own round; `None` for compression jobs.
    pub aggregation_round: Option<AggregationRound>,
    /// The jobs' status.
    pub status: JobStatus,
    /// How many jobs are in the cell.
    pub count: u64,
}

/// One proof of a batched completion ([`crate::Dal::complete_prover_jobs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofDone {
    /// The prover job the proof completes.
    pub id: ProverJobId,
    /// Object key under which the proof was stored.
    pub proof_blob_key: String,
    /// How long proving took (stored as `time_taken_ms`).
    pub time_taken: Duration,
}
