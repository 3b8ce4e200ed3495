//! The benchmark's workers: one [`Round`] per kind of job, each run by a real
//! [`zkfleet_runner::JobRunner`] through the picker → executor → saver split every component of
//! the fleet uses.
//!
//! A round says how to claim a job in the database, which blobs to read, what to "execute"
//! (build placeholders — never a circuit, never a proof) and how to record the result. The
//! adapters below turn it into the runner's three roles and do the measuring and the failure
//! handling once for all rounds:
//!
//! - picker: claim (one database pick, timed) → read the job's input blobs (timed per read);
//! - executor: build the output placeholders on the blocking pool;
//! - saver: write the output blobs, then complete the job in the database (timed); a job whose
//!   completion finds it no longer in progress ran twice, which fails the run.
//!
//! Batches: a round may claim several jobs in one statement and complete several in one
//! transaction ([`Round::claim_many`], [`Round::complete_many`]; the prover round does, through
//! `Dal::pick_prover_jobs` / `Dal::complete_prover_jobs`). [`start`] gives a runner `batch`
//! executor slots and lets it pick and save up to `batch` jobs at once; with a batch of 1 every
//! job is picked and completed on its own, as before batching.

mod basic;
mod compression;
mod leaf;
mod node;
mod prover;
mod recursion_tip;
mod scheduler;

pub(crate) use basic::BasicWitnessRound;
pub(crate) use compression::CompressionRound;
pub(crate) use leaf::LeafWitnessRound;
pub(crate) use node::NodeWitnessRound;
pub(crate) use prover::ProverRound;
pub(crate) use recursion_tip::RecursionTipWitnessRound;
pub(crate) use scheduler::SchedulerWitnessRound;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinHandle;
use zkfleet_dal::{CompleteOutcome, DalResult, JobRef, ProofRef};
use zkfleet_runner::traits::Picked;
use zkfleet_runner::{
    CancellationToken, Executor, FinishedJob, JobError, JobPicker, JobRunner, JobRunnerConfig,
    JobSaver, PickedMany, RunReport,
};
use zkfleet_store::ObjectKey;

use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::probe::{Op, Stage};

/// What a job's execution produced: blobs to write, then what the completion records.
pub(crate) struct Produced<R> {
    pub(crate) blobs: Vec<(ObjectKey, Bytes)>,
    pub(crate) record: R,
}

/// One kind of job of the tree.
pub(crate) trait Round: Send + Sync + Sized + 'static {
    /// Runner name (metrics label, logs).
    const NAME: &'static str;
    /// The probe's name for this round's picks and completions.
    const PICK: Op;
    const COMPLETE: Op;
    /// When set, the wall time of writing a job's output blobs is recorded under this name.
    const WRITE: Option<Op> = None;

    /// The job row as the database hands it out.
    type Claimed: Send;
    /// The claimed job with its input blobs read.
    type Input: Send + 'static;
    /// What completion records besides the blobs.
    type Record: Send + 'static;
    /// What identifies the job from pick to save.
    type Meta: Clone + fmt::Debug + Send + Sync + 'static;

    /// One pick in the database.
    fn claim(
        fleet: &Fleet,
        worker: &str,
    ) -> impl Future<Output = DalResult<Option<Self::Claimed>>> + Send;

    /// Reads the job's input blobs.
    fn load(
        fleet: &Fleet,
        claimed: Self::Claimed,
    ) -> impl Future<Output = Result<(Self::Input, Self::Meta), BenchError>> + Send;

    /// Builds the output placeholders (on a blocking thread: the executor's place).
    fn execute(
        fleet: &Fleet,
        input: Self::Input,
        meta: &Self::Meta,
    ) -> Result<Produced<Self::Record>, BenchError>;

    /// Completes the job in the database, once its blobs are written.
    fn complete(
        fleet: &Fleet,
        meta: &Self::Meta,
        record: Self::Record,
        time_taken: Duration,
    ) -> impl Future<Output = DalResult<CompleteOutcome>> + Send;

    /// Up to `limit` picks in one statement. The default claims one job.
    fn claim_many(
        fleet: &Fleet,
        worker: &str,
        limit: usize,
    ) -> impl Future<Output = DalResult<Vec<Self::Claimed>>> + Send {
        let _ = limit;
        async move { Ok(Self::claim(fleet, worker).await?.into_iter().collect()) }
    }

    /// Completes several jobs, their blobs written, in one transaction; one outcome per job,
    /// in order. The default completes them one by one.
    fn complete_many(
        fleet: &Fleet,
        jobs: Vec<(Self::Meta, Self::Record, Duration)>,
    ) -> impl Future<Output = DalResult<Vec<CompleteOutcome>>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(jobs.len());
            for (meta, record, time_taken) in jobs {
                outcomes.push(Self::complete(fleet, &meta, record, time_taken).await?);
            }
            Ok(outcomes)
        }
    }

    fn job(meta: &Self::Meta) -> JobRef;

    /// The stage a completed job of this round belongs to.
    fn stage(meta: &Self::Meta) -> Stage;

    /// After a successful completion (the compression round signals the end of the run).
    fn after_completion(_fleet: &Fleet, _meta: &Self::Meta) {}
}

/// A job between picker and saver, with the moment it was picked.
#[derive(Debug, Clone)]
pub(crate) struct Tracked<M> {
    pub(crate) meta: M,
    pub(crate) picked_at: Instant,
}

pub(crate) struct RoundPicker<R> {
    fleet: Fleet,
    worker: String,
    round: PhantomData<fn() -> R>,
}

impl<R: Round> RoundPicker<R> {
    async fn try_pick(&mut self) -> Result<Option<(R::Input, Tracked<R::Meta>)>, BenchError> {
        let began = Instant::now();
        let claimed = R::claim(&self.fleet, &self.worker).await?;
        let Some(claimed) = claimed else {
            self.fleet.probe.record(Op::EmptyPick, began);
            return Ok(None);
        };
        self.fleet.probe.record(R::PICK, began);
        let picked_at = Instant::now();
        let (input, meta) = R::load(&self.fleet, claimed).await?;
        Ok(Some((input, Tracked { meta, picked_at })))
    }
}

impl<R: Round> RoundPicker<R> {
    async fn try_pick_many(
        &mut self,
        limit: usize,
    ) -> Result<Vec<(R::Input, Tracked<R::Meta>)>, BenchError> {
        let began = Instant::now();
        let claimed = R::claim_many(&self.fleet, &self.worker, limit).await?;
        if claimed.is_empty() {
            self.fleet.probe.record(Op::EmptyPick, began);
            return Ok(Vec::new());
        }
        self.fleet.probe.record(R::PICK, began);
        let picked_at = Instant::now();
        let mut picked = Vec::with_capacity(claimed.len());
        for claimed in claimed {
            let (input, meta) = R::load(&self.fleet, claimed).await?;
            picked.push((input, Tracked { meta, picked_at }));
        }
        Ok(picked)
    }
}

impl<R: Round> JobPicker for RoundPicker<R> {
    type Input = R::Input;
    type Metadata = Tracked<R::Meta>;
    type Error = BenchError;

    async fn pick(&mut self) -> Picked<Self> {
        let picked = self.try_pick().await;
        if let Err(e) = &picked {
            self.fleet.fail(&self.worker, e);
        }
        picked
    }

    async fn pick_many(&mut self, limit: usize) -> PickedMany<Self> {
        let picked = self.try_pick_many(limit).await;
        if let Err(e) = &picked {
            self.fleet.fail(&self.worker, e);
        }
        picked
    }
}

pub(crate) struct RoundExecutor<R> {
    fleet: Fleet,
    round: PhantomData<fn() -> R>,
}

impl<R: Round> Executor for RoundExecutor<R> {
    type Input = R::Input;
    type Output = Produced<R::Record>;
    type Metadata = Tracked<R::Meta>;
    type Error = BenchError;

    fn execute(
        &self,
        input: Self::Input,
        metadata: &Self::Metadata,
    ) -> Result<Self::Output, Self::Error> {
        R::execute(&self.fleet, input, &metadata.meta)
    }
}

pub(crate) struct RoundSaver<R> {
    fleet: Fleet,
    worker: String,
    round: PhantomData<fn() -> R>,
}

impl<R: Round> RoundSaver<R> {
    async fn save_output(
        &self,
        tracked: &Tracked<R::Meta>,
        produced: Produced<R::Record>,
    ) -> Result<(), BenchError> {
        let began = Instant::now();
        self.fleet.put_all(produced.blobs).await?;
        if let Some(op) = R::WRITE {
            self.fleet.probe.record(op, began);
        }
        let began = Instant::now();
        let outcome = R::complete(
            &self.fleet,
            &tracked.meta,
            produced.record,
            tracked.picked_at.elapsed(),
        )
        .await?;
        self.fleet.probe.record(R::COMPLETE, began);
        match outcome {
            CompleteOutcome::Completed { .. } => {
                self.fleet.probe.stage_done(R::stage(&tracked.meta));
                R::after_completion(&self.fleet, &tracked.meta);
                Ok(())
            }
            CompleteOutcome::NotInProgress { status } => Err(BenchError::CompletedTwice {
                job: R::job(&tracked.meta).to_string(),
                status: status.to_string(),
            }),
        }
    }
}

/// A job of round `R` that ran, with what it produced.
type ProducedJob<R> = (Tracked<<R as Round>::Meta>, Produced<<R as Round>::Record>);

impl<R: Round> RoundSaver<R> {
    /// Writes every job's blobs, then completes them all in one transaction.
    async fn save_outputs(&self, produced: Vec<ProducedJob<R>>) -> Result<(), BenchError> {
        let began = Instant::now();
        let mut blobs = Vec::new();
        let mut jobs = Vec::with_capacity(produced.len());
        for (tracked, produced) in produced {
            blobs.extend(produced.blobs);
            jobs.push((tracked, produced.record));
        }
        self.fleet.put_all(blobs).await?;
        if let Some(op) = R::WRITE {
            self.fleet.probe.record(op, began);
        }
        let began = Instant::now();
        let metas: Vec<R::Meta> = jobs.iter().map(|(t, _)| t.meta.clone()).collect();
        let outcomes = R::complete_many(
            &self.fleet,
            jobs.into_iter()
                .map(|(tracked, record)| {
                    let time_taken = tracked.picked_at.elapsed();
                    (tracked.meta, record, time_taken)
                })
                .collect(),
        )
        .await?;
        self.fleet.probe.record(R::COMPLETE, began);
        for (meta, outcome) in metas.iter().zip(outcomes) {
            match outcome {
                CompleteOutcome::Completed { .. } => {
                    self.fleet.probe.stage_done(R::stage(meta));
                    R::after_completion(&self.fleet, meta);
                }
                CompleteOutcome::NotInProgress { status } => {
                    return Err(BenchError::CompletedTwice {
                        job: R::job(meta).to_string(),
                        status: status.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}

impl<R: Round> JobSaver for RoundSaver<R> {
    type Output = Produced<R::Record>;
    type Metadata = Tracked<R::Meta>;
    type ExecutorError = BenchError;
    type Error = BenchError;

    async fn save(
        &mut self,
        metadata: Self::Metadata,
        result: Result<Self::Output, JobError<BenchError>>,
    ) -> Result<(), BenchError> {
        let saved = match result {
            Ok(produced) => self.save_output(&metadata, produced).await,
            Err(error) => {
                // Recorded like any worker records a failed attempt, then the run stops: a
                // benchmark with a failed job measures nothing.
                let job = R::job(&metadata.meta);
                let text = error.to_string();
                self.fleet.dal.fail_job(job, &text).await?;
                Err(BenchError::WorkerFailed {
                    worker: self.worker.clone(),
                    reason: format!("{job}: {text}"),
                })
            }
        };
        if let Err(e) = &saved {
            self.fleet.fail(&self.worker, e);
        }
        saved
    }

    /// Jobs that finished together: completed in one transaction when all succeeded; a batch
    /// with a failed job is saved job by job (the run then stops anyway).
    async fn save_many(&mut self, finished: Vec<FinishedJob<Self>>) -> Vec<Result<(), BenchError>> {
        if finished.iter().any(|(_, result)| result.is_err()) {
            let mut results = Vec::with_capacity(finished.len());
            for (metadata, result) in finished {
                results.push(self.save(metadata, result).await);
            }
            return results;
        }
        let count = finished.len();
        let produced = finished
            .into_iter()
            .filter_map(|(tracked, result)| result.ok().map(|produced| (tracked, produced)))
            .collect();
        match self.save_outputs(produced).await {
            Ok(()) => (0..count).map(|_| Ok(())).collect(),
            Err(e) => {
                self.fleet.fail(&self.worker, &e);
                let text = e.to_string();
                (0..count)
                    .map(|_| {
                        Err(BenchError::WorkerFailed {
                            worker: self.worker.clone(),
                            reason: text.clone(),
                        })
                    })
                    .collect()
            }
        }
    }
}

/// Idle waits of the benchmark's runners. The fleet's defaults (1 s, growing to 5 s) suit
/// production, where a job takes seconds to minutes; here a job takes microseconds, and an
/// idle wait of seconds at each round transition would be all the benchmark measured. With
/// these, a round transition costs at most [`IDLE_BACKOFF_MAX`] of idle waiting.
pub(crate) const IDLE_BACKOFF_INITIAL: Duration = Duration::from_millis(2);
pub(crate) const IDLE_BACKOFF_MAX: Duration = Duration::from_millis(50);

/// Starts `runner_name`'s job runner for round `R` with `batch` executor slots, picking and
/// saving up to `batch` jobs at once: every runner stands for one worker process of a fleet,
/// with its own picker and saver (a batch of 1: one job at a time).
pub(crate) fn start<R: Round>(
    fleet: &Fleet,
    runner_name: String,
    batch: usize,
    cancel: CancellationToken,
) -> Result<JoinHandle<RunReport<Tracked<R::Meta>>>, BenchError> {
    let mut config = JobRunnerConfig::new(format!("bench_{}", R::NAME), batch);
    config.pick_batch = batch;
    config.save_batch = batch;
    config.idle_backoff_initial = IDLE_BACKOFF_INITIAL;
    config.idle_backoff_max = IDLE_BACKOFF_MAX;
    let runner = JobRunner::new(
        RoundPicker::<R> {
            fleet: fleet.clone(),
            worker: runner_name.clone(),
            round: PhantomData,
        },
        RoundExecutor::<R> {
            fleet: fleet.clone(),
            round: PhantomData,
        },
        RoundSaver::<R> {
            fleet: fleet.clone(),
            worker: runner_name,
            round: PhantomData,
        },
        config,
    )?;
    // Idle, a worker waits for its table's wake-ups (polling stays the safety net), as the
    // fleet's components do. The round names are the tables' `job_type`s.
    // `ZKFLEET_BENCH_NO_WAKE=1` polls only, as before wake-ups (to compare in one session).
    let no_wake = std::env::var("ZKFLEET_BENCH_NO_WAKE").is_ok_and(|v| v == "1");
    let runner = match zkfleet_dal::JobTable::ALL
        .into_iter()
        .find(|table| table.job_type() == R::NAME)
    {
        Some(table) if !no_wake => {
            let wake = fleet.dal.job_wakeups(table);
            runner.with_wake(wake.receiver.clone(), wake.idle_ceiling())
        }
        _ => runner,
    };
    Ok(runner.run(cancel))
}

/// Reads the proofs a witness job aggregates and checks they are the `expected` proofs of
/// one sequence, in order (0, 1, 2, ...), as the database promises.
pub(crate) async fn read_proofs(
    fleet: &Fleet,
    what: &str,
    proofs: &[ProofRef],
    expected: u32,
) -> Result<(), BenchError> {
    if proofs.len() != expected as usize {
        return Err(BenchError::Inconsistent(format!(
            "{what} aggregates {} proofs, expected {expected}",
            proofs.len()
        )));
    }
    for (position, proof) in (0u32..).zip(proofs) {
        if proof.sequence_number != position {
            return Err(BenchError::Inconsistent(format!(
                "{what}: proof {position} in order has sequence number {}",
                proof.sequence_number
            )));
        }
    }
    fleet
        .get_all(proofs.iter().map(|p| p.proof_blob_key.clone()).collect())
        .await?;
    Ok(())
}

/// A placeholder for `key` with an empty body, ready to write.
pub(crate) fn placeholder(key: ObjectKey) -> Result<(ObjectKey, Bytes), BenchError> {
    let payload = crate::placeholder::encode(&key, &[])?;
    Ok((key, payload))
}
