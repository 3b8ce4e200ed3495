//! One run: a fresh database and store, the fleet's runners started, one batch inserted, the
//! clock stopped when its compression job is successful, then the tree checked job by job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use zkfleet_dal::{JobSummary, NewBatch};
use zkfleet_runner::{CancellationToken, RunReport};
use zkfleet_store::ObjectKey;
use zkfleet_types::{
    AggregationRound, BatchNumber, ChainId, JobStatus, L1BatchId, ProtocolVersion,
};

use crate::environment::{DatabaseBackend, RunEnvironment};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::{
    self, encode_witness_input_body, BENCHMARK_PROTOCOL_VERSION, BENCHMARK_VK_DIGEST,
};
use crate::probe::{round3, Milestone, OperationTime, Probe};
use crate::rounds::{
    self, BasicWitnessRound, CompressionRound, LeafWitnessRound, NodeWitnessRound, ProverRound,
    RecursionTipWitnessRound, Round, SchedulerWitnessRound, Tracked,
};
use crate::shape::{JobCounts, TreeShape};

/// The batch every run proves: numbered after the mainnet batch whose shape it has. Chain and
/// batch only matter inside the run's own database and store.
pub const BENCHMARK_BATCH: L1BatchId = L1BatchId::new(ChainId(324), BatchNumber(496_134));

/// What one run measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunMeasurement {
    /// From the batch's insertion to its compression job's completion.
    pub seconds: f64,
    /// Every job of the tree (prover, witness, compression) per second.
    pub jobs_per_second: f64,
    /// When the last job of each stage completed.
    pub milestones: Vec<Milestone>,
    /// Time in database operations and store requests, summed over workers.
    pub operations: Vec<OperationTime>,
}

/// Runs the tree of `shape` once on `backend` with `workers` prover workers, each picking,
/// running and completing up to `prover_batch` jobs at once.
pub(crate) async fn run_once(
    backend: &DatabaseBackend,
    shape: &TreeShape,
    workers: usize,
    prover_batch: usize,
    limit: Duration,
) -> Result<RunMeasurement, BenchError> {
    // Each runner holds at most two connections (its picker's and its saver's).
    let runners = workers + 6;
    let max_connections = u32::try_from(2 * runners + 2).unwrap_or(u32::MAX);
    let environment = RunEnvironment::create(backend, max_connections).await?;
    let result = measure(&environment, shape, workers, prover_batch, limit).await;
    let destroyed = environment.destroy().await;
    let measurement = result?;
    destroyed?;
    Ok(measurement)
}

async fn measure(
    environment: &RunEnvironment,
    shape: &TreeShape,
    workers: usize,
    prover_batch: usize,
    limit: Duration,
) -> Result<RunMeasurement, BenchError> {
    let dal = &environment.dal;
    dal.insert_protocol_version(&ProtocolVersion {
        version: BENCHMARK_PROTOCOL_VERSION,
        recursion_tree_vk_digest: BENCHMARK_VK_DIGEST,
        final_vk_digest: BENCHMARK_VK_DIGEST,
    })
    .await?;
    let probe = Arc::new(Probe::new());
    let fleet = Fleet::new(
        dal.clone(),
        environment.store.clone(),
        Arc::clone(&probe),
        shape.arity,
    );
    let witness_input = ObjectKey::WitnessInput {
        chain: BENCHMARK_BATCH.chain_id,
        batch: BENCHMARK_BATCH.batch_number,
    };
    let types: Vec<_> = shape
        .types
        .iter()
        .map(|t| (t.circuit_id, t.instances))
        .collect();
    let body = encode_witness_input_body(&types);
    fleet
        .put(&witness_input, placeholder::encode(&witness_input, &body)?)
        .await?;

    let stop = CancellationToken::new();
    let fleet_runners = FleetRunners::start(&fleet, workers, prover_batch, &stop)?;
    let started = Instant::now();
    probe.start(started);
    dal.insert_batch(&NewBatch {
        batch: BENCHMARK_BATCH,
        protocol_version: BENCHMARK_PROTOCOL_VERSION,
        witness_input_blob_key: witness_input.path(),
        priority: 0,
        batch_sealed_at: chrono::Utc::now(),
    })
    .await?;
    let finished = tokio::select! {
        () = fleet.done.notified() => Ok(started.elapsed()),
        () = fleet.abort.cancelled() => Err(None),
        () = tokio::time::sleep(limit) => Err(Some(limit)),
    };
    stop.cancel();
    let tallies = fleet_runners.stop().await;
    let elapsed = match finished {
        Ok(elapsed) => elapsed,
        Err(limit) => {
            if let Some(failure) = fleet.failure() {
                return Err(failure);
            }
            let progress = progress(environment).await;
            return Err(BenchError::TimedOut {
                limit: limit.unwrap_or_default(),
                progress,
            });
        }
    };
    if let Some(failure) = fleet.failure() {
        return Err(failure);
    }
    let expected = shape.job_counts();
    check_tallies(&tallies, &expected)?;
    check_tree(environment, &expected).await?;
    let seconds = elapsed.as_secs_f64();
    Ok(RunMeasurement {
        seconds: round3(seconds),
        jobs_per_second: (expected.all_jobs() as f64 / seconds).round(),
        milestones: probe.milestones(),
        operations: probe.operations(),
    })
}

/// What the runners of one kind did.
#[derive(Debug, Default)]
struct Tally {
    succeeded: u64,
    /// Failed or panicked executions, save and pick errors.
    errors: u64,
}

impl Tally {
    fn add<M>(&mut self, report: &RunReport<M>) {
        self.succeeded += report.succeeded;
        self.errors += report.failed + report.panicked + report.save_errors + report.pick_errors;
    }
}

type Handle<R> = JoinHandle<RunReport<Tracked<<R as Round>::Meta>>>;

/// The fleet of one run: one runner per witness round, `workers` prover runners, one
/// compressor, as separate processes of a fleet would be.
struct FleetRunners {
    basic: Handle<BasicWitnessRound>,
    leaf: Handle<LeafWitnessRound>,
    node: Handle<NodeWitnessRound>,
    recursion_tip: Handle<RecursionTipWitnessRound>,
    scheduler: Handle<SchedulerWitnessRound>,
    compression: Handle<CompressionRound>,
    provers: Vec<Handle<ProverRound>>,
}

/// Succeeded jobs per runner kind after the run.
#[derive(Debug, Default)]
struct Tallies {
    witness: [Tally; 5],
    compression: Tally,
    provers: Tally,
}

impl FleetRunners {
    fn start(
        fleet: &Fleet,
        workers: usize,
        prover_batch: usize,
        stop: &CancellationToken,
    ) -> Result<Self, BenchError> {
        Ok(Self {
            basic: rounds::start::<BasicWitnessRound>(
                fleet,
                "bench-wg-basic".into(),
                1,
                stop.clone(),
            )?,
            leaf: rounds::start::<LeafWitnessRound>(
                fleet,
                "bench-wg-leaf".into(),
                1,
                stop.clone(),
            )?,
            node: rounds::start::<NodeWitnessRound>(
                fleet,
                "bench-wg-node".into(),
                1,
                stop.clone(),
            )?,
            recursion_tip: rounds::start::<RecursionTipWitnessRound>(
                fleet,
                "bench-wg-recursion-tip".into(),
                1,
                stop.clone(),
            )?,
            scheduler: rounds::start::<SchedulerWitnessRound>(
                fleet,
                "bench-wg-scheduler".into(),
                1,
                stop.clone(),
            )?,
            compression: rounds::start::<CompressionRound>(
                fleet,
                "bench-compressor".into(),
                1,
                stop.clone(),
            )?,
            provers: (0..workers)
                .map(|i| {
                    rounds::start::<ProverRound>(
                        fleet,
                        format!("bench-prover-{i}"),
                        prover_batch,
                        stop.clone(),
                    )
                })
                .collect::<Result<_, _>>()?,
        })
    }

    /// Waits for every runner to stop (the caller has cancelled them).
    async fn stop(self) -> Tallies {
        let mut tallies = Tallies::default();
        let witness = [
            report(self.basic).await,
            report(self.leaf).await,
            report(self.node).await,
            report(self.recursion_tip).await,
            report(self.scheduler).await,
        ];
        for (tally, (succeeded, errors)) in tallies.witness.iter_mut().zip(witness) {
            tally.succeeded = succeeded;
            tally.errors = errors;
        }
        let (succeeded, errors) = report(self.compression).await;
        tallies.compression = Tally { succeeded, errors };
        for prover in self.provers {
            let (succeeded, errors) = report(prover).await;
            tallies.provers.succeeded += succeeded;
            tallies.provers.errors += errors;
        }
        tallies
    }
}

/// (succeeded, errors) of a stopped runner; a runner that died counts as one error.
async fn report<M>(handle: JoinHandle<RunReport<M>>) -> (u64, u64) {
    match handle.await {
        Ok(report) => {
            let mut tally = Tally::default();
            tally.add(&report);
            (tally.succeeded, tally.errors)
        }
        Err(_) => (0, 1),
    }
}

/// Every job was saved exactly once by the runners, and nothing failed.
fn check_tallies(tallies: &Tallies, expected: &JobCounts) -> Result<(), BenchError> {
    let witness_expected = [
        expected.basic_witness_jobs,
        expected.leaf_witness_jobs,
        expected.node_witness_jobs,
        expected.recursion_tip_witness_jobs,
        expected.scheduler_witness_jobs,
    ];
    let mut problems = Vec::new();
    for ((round, tally), want) in AggregationRound::ALL
        .iter()
        .zip(&tallies.witness)
        .zip(witness_expected)
    {
        if tally.succeeded != want || tally.errors != 0 {
            problems.push(format!(
                "{round} witness runner saved {} jobs with {} errors, expected {want}",
                tally.succeeded, tally.errors
            ));
        }
    }
    for (what, tally, want) in [
        ("prover runners", &tallies.provers, expected.prover_jobs()),
        (
            "compressor",
            &tallies.compression,
            expected.compression_jobs,
        ),
    ] {
        if tally.succeeded != want || tally.errors != 0 {
            problems.push(format!(
                "{what} saved {} jobs with {} errors, expected {want}",
                tally.succeeded, tally.errors
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Incomplete(problems.join("; ")))
    }
}

/// The database holds the whole tree, every job successful after exactly one attempt, and the
/// store holds a proof per prover job and the final proof.
async fn check_tree(environment: &RunEnvironment, expected: &JobCounts) -> Result<(), BenchError> {
    let status = environment.dal.batch_status(BENCHMARK_BATCH).await?;
    let mut problems = Vec::new();
    let mut check_jobs = |what: String, jobs: &[&JobSummary], want: u64| {
        if jobs.len() as u64 != want {
            problems.push(format!("{} {what}, expected {want}", jobs.len()));
        }
        let unfinished = jobs
            .iter()
            .filter(|j| j.status != JobStatus::Successful || j.attempts != 1)
            .count();
        if unfinished > 0 {
            problems.push(format!(
                "{unfinished} {what} not successful after exactly one attempt"
            ));
        }
    };
    let witness_input: Vec<&JobSummary> = status.witness_input.iter().collect();
    check_jobs(
        "basic witness jobs".into(),
        &witness_input,
        expected.basic_witness_jobs,
    );
    for round in &status.rounds {
        let (witness_want, prover_want) = match round.round {
            AggregationRound::Basic => (0, expected.basic_prover_jobs),
            AggregationRound::Leaf => (expected.leaf_witness_jobs, expected.leaf_prover_jobs),
            AggregationRound::Node => (expected.node_witness_jobs, expected.node_prover_jobs),
            AggregationRound::RecursionTip => (
                expected.recursion_tip_witness_jobs,
                expected.recursion_tip_prover_jobs,
            ),
            AggregationRound::Scheduler => (
                expected.scheduler_witness_jobs,
                expected.scheduler_prover_jobs,
            ),
        };
        // Round 0's witness job is the witness input, checked above.
        if round.round != AggregationRound::Basic {
            let witness: Vec<&JobSummary> = round.witness_jobs.iter().collect();
            check_jobs(
                format!("{} witness jobs", round.round),
                &witness,
                witness_want,
            );
        }
        let provers: Vec<&JobSummary> = round.prover_jobs.iter().collect();
        check_jobs(
            format!("{} prover jobs", round.round),
            &provers,
            prover_want,
        );
    }
    let compression: Vec<&JobSummary> = status.compression.iter().collect();
    check_jobs(
        "compression jobs".into(),
        &compression,
        expected.compression_jobs,
    );

    let chain = BENCHMARK_BATCH.chain_id;
    let proofs = environment
        .store
        .list(&format!("{}/{chain}/", zkfleet_store::Bucket::Proofs))
        .await?
        .len() as u64;
    if proofs != expected.prover_jobs() {
        problems.push(format!(
            "the store holds {proofs} proofs, expected {}",
            expected.prover_jobs()
        ));
    }
    let final_proof = ObjectKey::FinalProof {
        chain,
        batch: BENCHMARK_BATCH.batch_number,
        protocol_version: BENCHMARK_PROTOCOL_VERSION,
    };
    if !environment.store.exists(&final_proof).await? {
        problems.push(format!("no final proof at {final_proof}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Incomplete(problems.join("; ")))
    }
}

/// Jobs per table and status, for the message of a run that did not finish.
async fn progress(environment: &RunEnvironment) -> String {
    match environment.dal.status_counts().await {
        Ok(counts) => counts
            .iter()
            .map(|c| {
                let round = c
                    .aggregation_round
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default();
                format!("{}{round} {}: {}", c.table, c.status, c.count)
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("(cannot read the job counts: {e})"),
    }
}
