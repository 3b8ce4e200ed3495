//! [`Dal`]: the one handle every component holds, whatever the backend.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zkfleet_types::ids::{LeafJobId, NodeJobId, ProverJobId};
use zkfleet_types::{
    AggregationRound, JobStatus, L1BatchId, ProtocolSemanticVersion, ProtocolVersion,
};

use crate::connection::{BackendKind, PoolOptions};
use crate::error::DalResult;
use crate::model::*;
use crate::wake::{JobWakeups, WakeHub};
use crate::{postgres, sqlite};

/// A pool of connections to the job database. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Dal {
    pub(crate) backend: Backend,
    /// Wake-ups for idle workers (see [`Dal::job_wakeups`]).
    wake: Arc<WakeHub>,
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// Calls the same operation on whichever backend the handle holds.
macro_rules! dispatch {
    ($self:ident . $op:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.backend {
            Backend::Postgres(pool) => postgres::ops::$op(pool, $($arg),*).await,
            Backend::Sqlite(pool) => sqlite::ops::$op(pool, $($arg),*).await,
        }
    };
}

impl Dal {
    /// Connects with default pool options and applies pending migrations.
    pub async fn connect(url: &str) -> DalResult<Self> {
        Self::connect_with(url, &PoolOptions::default()).await
    }

    /// Connects (the scheme chooses the backend; a SQLite file is created if missing, in WAL
    /// mode with foreign keys and a busy timeout) and applies pending migrations.
    pub async fn connect_with(url: &str, options: &PoolOptions) -> DalResult<Self> {
        let dal = Self::connect_without_migrating(url, options).await?;
        dal.migrate().await?;
        Ok(dal)
    }

    /// Connects without touching the schema (for tools that must not migrate).
    pub async fn connect_without_migrating(url: &str, options: &PoolOptions) -> DalResult<Self> {
        let kind = BackendKind::of_url(url)?;
        let (backend, wake) = match kind {
            BackendKind::Postgres => {
                // The listener may need another route than the pool (a pooler in transaction
                // mode cannot carry LISTEN): `listen_url`, checked to be PostgreSQL too.
                let listen_url = match &options.listen_url {
                    Some(listen) => {
                        if BackendKind::of_url(listen)? != BackendKind::Postgres {
                            return Err(crate::DalError::InvalidUrl {
                                url: crate::connection::redact(listen),
                                reason: "the listen URL of a PostgreSQL database must be a \
                                         postgres:// URL"
                                    .to_owned(),
                            });
                        }
                        listen.as_str()
                    }
                    None => url,
                };
                (
                    Backend::Postgres(postgres::connect(url, options).await?),
                    WakeHub::postgres(listen_url),
                )
            }
            BackendKind::Sqlite => (
                Backend::Sqlite(sqlite::connect(url, options).await?),
                WakeHub::sqlite(sqlite::wake_key(url)),
            ),
        };
        tracing::debug!(backend = kind.name(), "connected to the job database");
        Ok(Self { backend, wake })
    }

    /// Wake-ups for a worker picking from `table`: the receiver changes when work may have been
    /// queued there (PostgreSQL: by any process, through `LISTEN/NOTIFY` on a connection of its
    /// own, started by the first subscription; SQLite: by this process). A hint, never a job:
    /// keep polling as the safety net, every [`JobWakeups::idle_ceiling`] at most. Call it inside a tokio
    /// runtime (outside one there are no wake-ups on PostgreSQL).
    pub fn job_wakeups(&self, table: JobTable) -> JobWakeups {
        self.wake.subscribe(table)
    }

    /// Wakes this process's subscribers of `tables` after a committed change that may have
    /// queued work there. SQLite only: on PostgreSQL the job tables' triggers notify every
    /// process at commit, this one included.
    pub(crate) fn woke(&self, tables: impl IntoIterator<Item = JobTable>) {
        if let Backend::Sqlite(_) = self.backend {
            for table in tables {
                self.wake.wake(table);
            }
        }
    }

    /// Applies the backend's pending migrations (idempotent; concurrent callers on PostgreSQL
    /// serialise on sqlx's advisory lock).
    pub async fn migrate(&self) -> DalResult<()> {
        match &self.backend {
            Backend::Postgres(pool) => postgres::MIGRATOR.run(pool).await?,
            Backend::Sqlite(pool) => sqlite::MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Which engine this `Dal` talks to (chosen by the URL's scheme at connect).
    pub fn backend(&self) -> BackendKind {
        match self.backend {
            Backend::Postgres(_) => BackendKind::Postgres,
            Backend::Sqlite(_) => BackendKind::Sqlite,
        }
    }

    /// Closes every connection of the pool (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.wake.stop_listener();
        match &self.backend {
            Backend::Postgres(pool) => pool.close().await,
            Backend::Sqlite(pool) => pool.close().await,
        }
    }

    // --- Protocol versions and batches -------------------------------------------------------

    /// Registers a protocol version. Again with the same digests: `AlreadyPresent`; with other
    /// digests: [`crate::DalError::ProtocolVersionConflict`].
    pub async fn insert_protocol_version(
        &self,
        version: &ProtocolVersion,
    ) -> DalResult<InsertOutcome> {
        dispatch!(self.insert_protocol_version(version))
    }

    /// The registered version `version` with its key digests; `None` if it was never inserted.
    pub async fn protocol_version(
        &self,
        version: ProtocolSemanticVersion,
    ) -> DalResult<Option<ProtocolVersion>> {
        dispatch!(self.protocol_version(version))
    }

    /// All registered versions, oldest first.
    pub async fn protocol_versions(&self) -> DalResult<Vec<ProtocolVersion>> {
        dispatch!(self.protocol_versions())
    }

    /// Hands a batch to the fleet: its basic witness job, queued. A second insert of the same
    /// batch changes nothing and says `AlreadyPresent`.
    pub async fn insert_batch(&self, batch: &NewBatch) -> DalResult<InsertOutcome> {
        let outcome = dispatch!(self.insert_batch(batch))?;
        if outcome == InsertOutcome::Inserted {
            self.woke([JobTable::WitnessInputs]);
        }
        Ok(outcome)
    }

    /// Intake's insert: the batch row with the digest of its input, arbitrated by the row
    /// itself. Exactly one of any number of concurrent submissions of a batch (across
    /// processes) gets [`SubmitOutcome::Inserted`]; every other one gets the row that won, to
    /// compare its digest and version with its own. `witness_input_digest` must not be empty.
    pub async fn submit_batch(
        &self,
        batch: &NewBatch,
        witness_input_digest: &str,
    ) -> DalResult<SubmitOutcome> {
        let outcome = dispatch!(self.submit_batch(batch, witness_input_digest))?;
        if matches!(outcome, SubmitOutcome::Inserted) {
            self.woke([JobTable::WitnessInputs]);
        }
        Ok(outcome)
    }

    /// The row of a submitted batch with the digest of its input (`None`: never submitted).
    pub async fn submitted_batch(&self, batch: L1BatchId) -> DalResult<Option<SubmittedBatch>> {
        dispatch!(self.submitted_batch(batch))
    }

    // --- Picking -----------------------------------------------------------------------------

    /// Takes the first queued basic witness job of `version` (priority, then batch age) and
    /// marks it in progress for `picked_by`, counting an attempt; `None` when none is queued.
    pub async fn pick_basic_witness_job(
        &self,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<BasicWitnessJob>> {
        dispatch!(self.pick_basic_witness_job(version, picked_by))
    }

    /// Takes the first queued leaf witness job of `version`, as
    /// [`Dal::pick_basic_witness_job`], with the basic proofs it aggregates (read in the same
    /// transaction, in sequence order).
    pub async fn pick_leaf_witness_job(
        &self,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<LeafWitnessJob>> {
        dispatch!(self.pick_leaf_witness_job(version, picked_by))
    }

    /// Takes the first queued node witness job of `version`, as
    /// [`Dal::pick_basic_witness_job`], with the proofs it aggregates: the leaf proofs of its
    /// type at depth 0, the node proofs of depth d - 1 at depth d.
    pub async fn pick_node_witness_job(
        &self,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<NodeWitnessJob>> {
        dispatch!(self.pick_node_witness_job(version, picked_by))
    }

    /// Takes the first queued recursion tip witness job of `version`, as
    /// [`Dal::pick_basic_witness_job`], with its batch's final node proofs in circuit order.
    pub async fn pick_recursion_tip_witness_job(
        &self,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<RecursionTipWitnessJob>> {
        dispatch!(self.pick_recursion_tip_witness_job(version, picked_by))
    }

    /// Takes the first queued scheduler witness job of `version`, as
    /// [`Dal::pick_basic_witness_job`], with its batch's recursion tip proof. A queued job
    /// without that proof (a row edited by hand) is an error and stays queued.
    pub async fn pick_scheduler_witness_job(
        &self,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<SchedulerWitnessJob>> {
        dispatch!(self.pick_scheduler_witness_job(version, picked_by))
    }

    /// The next prover job of the version for a worker of `class` (see [`ProverJobClass`]).
    pub async fn pick_prover_job(
        &self,
        version: ProtocolSemanticVersion,
        class: ProverJobClass,
        heavy: &HeavySet,
        picked_by: &str,
    ) -> DalResult<Option<ProverJob>> {
        dispatch!(self.pick_prover_job(version, class, heavy, &AggregationRound::ALL, picked_by))
    }

    /// [`Dal::pick_prover_job`] restricted to jobs of `rounds` (a circuit prover that leaves
    /// some rounds to others, e.g. to outside provers; docs/circuit-prover.md). An empty list
    /// picks nothing.
    pub async fn pick_prover_job_in_rounds(
        &self,
        version: ProtocolSemanticVersion,
        class: ProverJobClass,
        heavy: &HeavySet,
        rounds: &[AggregationRound],
        picked_by: &str,
    ) -> DalResult<Option<ProverJob>> {
        dispatch!(self.pick_prover_job(version, class, heavy, rounds, picked_by))
    }

    /// Up to `limit` prover jobs of one (round, circuit, depth) in one transaction: the first
    /// is the job [`Dal::pick_prover_job`] would pick (class, priority, age), the others the
    /// next queued jobs of the same circuit, skipping jobs other pickers hold. Empty: nothing
    /// queued for this class. For a worker that proves several circuits at once (a GPU); each
    /// job counts an attempt and is requeued on its own if the worker dies.
    pub async fn pick_prover_jobs(
        &self,
        version: ProtocolSemanticVersion,
        class: ProverJobClass,
        heavy: &HeavySet,
        picked_by: &str,
        limit: u32,
    ) -> DalResult<Vec<ProverJob>> {
        dispatch!(self.pick_prover_jobs(
            version,
            class,
            heavy,
            &AggregationRound::ALL,
            picked_by,
            limit
        ))
    }

    /// [`Dal::pick_prover_jobs`] restricted to jobs of `rounds` (the batch is of the first
    /// job's round, so of `rounds` too). An empty list picks nothing.
    pub async fn pick_prover_jobs_in_rounds(
        &self,
        version: ProtocolSemanticVersion,
        class: ProverJobClass,
        heavy: &HeavySet,
        rounds: &[AggregationRound],
        picked_by: &str,
        limit: u32,
    ) -> DalResult<Vec<ProverJob>> {
        dispatch!(self.pick_prover_jobs(version, class, heavy, rounds, picked_by, limit))
    }

    /// Takes the first queued compression job of `version`, as
    /// [`Dal::pick_basic_witness_job`].
    pub async fn pick_compression_job(
        &self,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<CompressionJob>> {
        dispatch!(self.pick_compression_job(version, picked_by))
    }

    // --- Completion --------------------------------------------------------------------------

    /// Basic witness generation done: inserts everything the batch needs down to the scheduler
    /// job, in one transaction (see [`BasicWitnessOutput`]).
    pub async fn complete_basic_witness_job(
        &self,
        batch: L1BatchId,
        output: &BasicWitnessOutput,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let outcome = dispatch!(self.complete_basic_witness_job(batch, output, time_taken))?;
        // Witness generation queues the prover jobs it produced.
        if outcome.is_completed() {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(outcome)
    }

    /// Leaf witness generation done: marks the job successful and, in the same transaction,
    /// inserts its round-1 prover jobs (queued) and fills in the depth-0 node job's count and
    /// input (see [`LeafWitnessOutput`]). Guarded on `in_progress`.
    pub async fn complete_leaf_witness_job(
        &self,
        id: LeafJobId,
        output: &LeafWitnessOutput,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let outcome = dispatch!(self.complete_leaf_witness_job(id, output, time_taken))?;
        // Witness generation queues the prover jobs it produced.
        if outcome.is_completed() {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(outcome)
    }

    /// Node witness generation done: marks the job successful and, in the same transaction,
    /// inserts its round-2 prover jobs (queued) and, unless it produced the type's final node
    /// proof, the node job of the next depth (see [`NodeWitnessOutput`]). Guarded on
    /// `in_progress`.
    pub async fn complete_node_witness_job(
        &self,
        id: NodeJobId,
        output: &NodeWitnessOutput,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let outcome = dispatch!(self.complete_node_witness_job(id, output, time_taken))?;
        // Witness generation queues the prover jobs it produced.
        if outcome.is_completed() {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(outcome)
    }

    /// Recursion tip witness generation done: marks the job successful and queues its single
    /// round-3 prover job (circuit input at `circuit_blob_key`) in the same transaction.
    /// Guarded on `in_progress`.
    pub async fn complete_recursion_tip_witness_job(
        &self,
        batch: L1BatchId,
        circuit_blob_key: &str,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let outcome = dispatch!(self.complete_recursion_tip_witness_job(
            batch,
            circuit_blob_key,
            time_taken
        ))?;
        // Witness generation queues the prover jobs it produced.
        if outcome.is_completed() {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(outcome)
    }

    /// Scheduler witness generation done: marks the job successful and queues its single
    /// round-4 prover job (circuit input at `circuit_blob_key`) in the same transaction.
    /// Guarded on `in_progress`.
    pub async fn complete_scheduler_witness_job(
        &self,
        batch: L1BatchId,
        circuit_blob_key: &str,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let outcome =
            dispatch!(self.complete_scheduler_witness_job(batch, circuit_blob_key, time_taken))?;
        // Witness generation queues the prover jobs it produced.
        if outcome.is_completed() {
            self.woke([JobTable::ProverJobs]);
        }
        Ok(outcome)
    }

    /// A proof is done. In the same transaction, queues the dependent witness job whose last
    /// dependency this was (or inserts the compression job after the scheduler proof).
    pub async fn complete_prover_job(
        &self,
        id: ProverJobId,
        proof_blob_key: &str,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let outcome = dispatch!(self.complete_prover_job(id, proof_blob_key, time_taken))?;
        if let CompleteOutcome::Completed { queued } = &outcome {
            self.woke(queued.iter().map(dependent_table));
        }
        Ok(outcome)
    }

    /// Several proofs done, in one transaction: each outcome (in the order given) is what
    /// [`Dal::complete_prover_job`] would have answered, dependents queued in the same
    /// transaction. One failed statement fails them all (nothing is recorded): complete them
    /// one by one then, or leave them to the requeuer.
    pub async fn complete_prover_jobs(
        &self,
        proofs: &[ProofDone],
    ) -> DalResult<Vec<CompleteOutcome>> {
        let outcomes = dispatch!(self.complete_prover_jobs(proofs))?;
        for outcome in &outcomes {
            if let CompleteOutcome::Completed { queued } = outcome {
                self.woke(queued.iter().map(dependent_table));
            }
        }
        Ok(outcomes)
    }

    /// The final proof is at `final_proof_blob_key`: `in_progress` → `successful`; any other
    /// status is reported and left alone.
    pub async fn complete_compression_job(
        &self,
        batch: L1BatchId,
        final_proof_blob_key: &str,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        dispatch!(self.complete_compression_job(batch, final_proof_blob_key, time_taken))
    }

    /// The final proof was delivered: `successful` → `sent_to_server`.
    pub async fn mark_compression_job_sent(
        &self,
        batch: L1BatchId,
    ) -> DalResult<TransitionOutcome> {
        dispatch!(self.mark_compression_job_sent(batch))
    }

    /// An attempt failed: `in_progress` → `failed` with the error text (nothing else changes).
    /// The requeuer retries it while attempts last: for transient failures.
    pub async fn fail_job(&self, job: JobRef, error: &str) -> DalResult<TransitionOutcome> {
        dispatch!(self.fail_job(job, error))
    }

    /// An attempt failed: [`Dal::fail_job`] for a transient failure,
    /// [`Dal::fail_job_permanently`] for a permanent one.
    pub async fn record_failure(
        &self,
        job: JobRef,
        kind: zkfleet_types::FailureKind,
        error: &str,
    ) -> DalResult<TransitionOutcome> {
        match kind {
            zkfleet_types::FailureKind::Transient => self.fail_job(job, error).await,
            zkfleet_types::FailureKind::Permanent => self.fail_job_permanently(job, error).await,
        }
    }

    /// An attempt failed in a way no retry can cure: `in_progress` → `failed_permanently`
    /// (terminal; the requeuer leaves it, an operator may requeue it after fixing the cause).
    pub async fn fail_job_permanently(
        &self,
        job: JobRef,
        error: &str,
    ) -> DalResult<TransitionOutcome> {
        dispatch!(self.fail_job_permanently(job, error))
    }

    // --- Monitor -----------------------------------------------------------------------------

    /// Requeues `table`'s jobs in progress longer than `timeout` or failed, while attempts <
    /// `max_attempts`; moves the others to `attempts_exhausted`.
    pub async fn requeue_stuck_jobs(
        &self,
        table: JobTable,
        timeout: Duration,
        max_attempts: u32,
    ) -> DalResult<RequeueCounts> {
        self.requeue_stuck_jobs_with_backoff(table, timeout, max_attempts, RetryBackoff::NONE)
            .await
    }

    /// [`Dal::requeue_stuck_jobs`], where a `failed` job (a transient failure) is requeued only
    /// once its [`RetryBackoff`] has passed since it failed. Jobs past `max_attempts` go to
    /// `attempts_exhausted` at once (nothing will retry them anyway); `failed_permanently`
    /// jobs are never touched.
    pub async fn requeue_stuck_jobs_with_backoff(
        &self,
        table: JobTable,
        timeout: Duration,
        max_attempts: u32,
        backoff: RetryBackoff,
    ) -> DalResult<RequeueCounts> {
        let counts = dispatch!(self.requeue_stuck_jobs(table, timeout, max_attempts, backoff))?;
        if counts.requeued > 0 {
            self.woke([table]);
        }
        Ok(counts)
    }

    /// Queues every waiting job whose dependencies are all done (and inserts missing
    /// compression jobs): the safety net behind in-transaction queuing.
    pub async fn queue_ready_dependents(&self) -> DalResult<CatchUpCounts> {
        let counts = dispatch!(self.queue_ready_dependents())?;
        if counts.total() > 0 {
            self.woke(JobTable::ALL);
        }
        Ok(counts)
    }

    /// Moves the prover jobs of batches whose compression job is done and unchanged for
    /// `policy.archive_after` to `prover_jobs_archive`; returns them with their circuit and
    /// proof blob keys, for the store to collect.
    pub async fn archive_prover_jobs(
        &self,
        policy: ArchivePolicy,
    ) -> DalResult<Vec<ArchivedProverJob>> {
        dispatch!(self.archive_prover_jobs(policy))
    }

    /// Deletes archived prover jobs archived more than `older_than` ago; how many.
    pub async fn delete_archived_prover_jobs(&self, older_than: Duration) -> DalResult<u64> {
        dispatch!(self.delete_archived_prover_jobs(older_than))
    }

    // --- Reports -----------------------------------------------------------------------------

    /// Rows per (table, version, round, circuit, status) of every job table.
    pub async fn status_counts(&self) -> DalResult<Vec<StatusCount>> {
        dispatch!(self.status_counts())
    }

    /// The `/queue_report` content: queued and in-progress jobs per table and version.
    pub async fn queue_report(&self) -> DalResult<Vec<QueueReport>> {
        dispatch!(self.queue_report())
    }

    /// Per chain and (round, circuit): the oldest batch with an unproven prover job (lag).
    pub async fn oldest_unproven_batches(&self) -> DalResult<Vec<OldestUnproven>> {
        dispatch!(self.oldest_unproven_batches())
    }

    /// The oldest inserted batch whose final proof is not done yet.
    pub async fn oldest_uncompressed_batch(&self) -> DalResult<Option<L1BatchId>> {
        dispatch!(self.oldest_uncompressed_batch())
    }

    /// Jobs of `table` not done that have used `max_attempts` or more attempts.
    pub async fn count_jobs_at_max_attempts(
        &self,
        table: JobTable,
        max_attempts: u32,
    ) -> DalResult<u64> {
        dispatch!(self.count_jobs_at_max_attempts(table, max_attempts))
    }

    /// Every job in the terminal `attempts_exhausted` state.
    pub async fn exhausted_jobs(&self) -> DalResult<Vec<JobSummary>> {
        dispatch!(self.exhausted_jobs())
    }

    /// One job's row, whatever its table; `None` if there is no such job.
    pub async fn job(&self, job: JobRef) -> DalResult<Option<JobSummary>> {
        dispatch!(self.job(job))
    }

    /// Everything about one batch, round by round.
    pub async fn batch_status(&self, batch: L1BatchId) -> DalResult<BatchStatus> {
        dispatch!(self.batch_status(batch))
    }

    /// Every compression job in `status`, by batch.
    pub async fn compression_jobs_with_status(
        &self,
        status: JobStatus,
    ) -> DalResult<Vec<JobSummary>> {
        dispatch!(self.compression_jobs_with_status(status))
    }

    /// End-to-end time of the batches finished since `since`.
    pub async fn batch_proving_times(
        &self,
        since: DateTime<Utc>,
    ) -> DalResult<Vec<BatchProvingTime>> {
        dispatch!(self.batch_proving_times(since))
    }

    // --- Fleet status (the job monitor's status page) ---------------------------------------

    /// The witness inputs of up to `limit` batches whose final proof is not done yet (the
    /// batches in flight), oldest sealed first.
    pub async fn unfinished_batches(&self, limit: u32) -> DalResult<Vec<JobSummary>> {
        dispatch!(self.unfinished_batches(limit))
    }

    /// Jobs per (batch, table, round, status) of every batch whose final proof is not done:
    /// the per-round progress of the batches in flight, without reading every job row.
    pub async fn unfinished_batch_job_counts(&self) -> DalResult<Vec<BatchJobCount>> {
        dispatch!(self.unfinished_batch_job_counts())
    }

    /// Up to `limit` jobs in progress over every table (who works on what), longest running
    /// first.
    pub async fn jobs_in_progress(&self, limit: u32) -> DalResult<Vec<JobSummary>> {
        dispatch!(self.jobs_in_progress(limit))
    }

    /// Up to `limit` jobs whose last attempt failed (an error is recorded and the job is not
    /// done: failed, requeued after a failure or a timeout, retried, or attempts exhausted),
    /// most recently changed first.
    pub async fn recent_failures(&self, limit: u32) -> DalResult<Vec<JobSummary>> {
        dispatch!(self.recent_failures(limit))
    }

    // --- Operator commands -------------------------------------------------------------------

    /// Moves the batch's `attempts_exhausted` and `failed` jobs back to `queued` with
    /// [`ATTEMPTS_AFTER_OPERATOR_REQUEUE`] attempts.
    pub async fn requeue_batch(&self, batch: L1BatchId) -> DalResult<BatchRowCounts> {
        let counts = dispatch!(self.requeue_batch(batch))?;
        self.woke(JobTable::ALL);
        Ok(counts)
    }

    /// Deletes everything downstream of the batch's witness input and queues it again.
    pub async fn restart_batch(&self, batch: L1BatchId) -> DalResult<BatchRowCounts> {
        let counts = dispatch!(self.restart_batch(batch))?;
        self.woke(JobTable::ALL);
        Ok(counts)
    }

    /// Sets one job `queued` with fresh attempts (not a job still waiting for proofs).
    pub async fn restart_job(&self, job: JobRef) -> DalResult<TransitionOutcome> {
        let outcome = dispatch!(self.restart_job(job))?;
        if outcome == TransitionOutcome::Applied {
            self.woke([job.table()]);
        }
        Ok(outcome)
    }

    /// Removes every row of the batch, archive included.
    pub async fn delete_batch(&self, batch: L1BatchId) -> DalResult<BatchRowCounts> {
        dispatch!(self.delete_batch(batch))
    }

    /// Sets the priority of every job of the batch (higher is picked first).
    pub async fn set_batch_priority(
        &self,
        batch: L1BatchId,
        priority: i32,
    ) -> DalResult<BatchRowCounts> {
        dispatch!(self.set_batch_priority(batch, priority))
    }
}

/// The table a dependent queued by a completion lives in.
fn dependent_table(dependent: &QueuedDependent) -> JobTable {
    match dependent {
        QueuedDependent::LeafWitness(_) => JobTable::LeafWitnessJobs,
        QueuedDependent::NodeWitness(_) => JobTable::NodeWitnessJobs,
        QueuedDependent::RecursionTipWitness(_) => JobTable::RecursionTipWitnessJobs,
        QueuedDependent::SchedulerWitness(_) => JobTable::SchedulerWitnessJobs,
        QueuedDependent::Compression(_) => JobTable::CompressionJobs,
    }
}
