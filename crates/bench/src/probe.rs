//! Where a run's time goes: every database operation and store request of the workers is
//! timed and summed per kind, and the moment each stage of the tree finished is noted.
//!
//! Counters are atomics shared by all workers, so measuring costs two clock reads and two
//! atomic additions per operation, far below the operations measured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A timed operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    PickProverJob,
    CompleteProverJob,
    PickWitnessJob,
    CompleteWitnessJob,
    /// Basic witness generation's completion: inserts the whole tree's rows in one transaction.
    CompleteBasicWitnessJob,
    /// Basic witness generation writing all its blobs (wall time of the whole upload).
    WriteBasicWitnessBlobs,
    PickCompressionJob,
    CompleteCompressionJob,
    /// A pick that found nothing (an idle worker polling).
    EmptyPick,
    StoreGet,
    StorePut,
}

impl Op {
    const ALL: [Op; 11] = [
        Op::PickProverJob,
        Op::CompleteProverJob,
        Op::PickWitnessJob,
        Op::CompleteWitnessJob,
        Op::CompleteBasicWitnessJob,
        Op::WriteBasicWitnessBlobs,
        Op::PickCompressionJob,
        Op::CompleteCompressionJob,
        Op::EmptyPick,
        Op::StoreGet,
        Op::StorePut,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::PickProverJob => "db: pick prover job",
            Op::CompleteProverJob => "db: complete prover job (+ queue dependent)",
            Op::PickWitnessJob => "db: pick witness job (+ read its proofs' rows)",
            Op::CompleteWitnessJob => "db: complete leaf/node/tip/scheduler witness job",
            Op::CompleteBasicWitnessJob => {
                "db: complete basic witness job (inserts every prover, leaf, node, tip, scheduler job)"
            }
            Op::WriteBasicWitnessBlobs => {
                "store: basic witness generation writes all its blobs (wall time, 16 at a time)"
            }
            Op::PickCompressionJob => "db: pick compression job",
            Op::CompleteCompressionJob => "db: complete compression job",
            Op::EmptyPick => "db: pick finding nothing (idle poll)",
            Op::StoreGet => "store: get blob",
            Op::StorePut => "store: put blob",
        }
    }
}

/// The stages of the tree, in the order they finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    BasicWitness,
    BasicProofs,
    LeafWitness,
    LeafProofs,
    NodeWitness,
    NodeProofs,
    RecursionTipWitness,
    RecursionTipProof,
    SchedulerWitness,
    SchedulerProof,
    Compression,
}

impl Stage {
    const ALL: [Stage; 11] = [
        Stage::BasicWitness,
        Stage::BasicProofs,
        Stage::LeafWitness,
        Stage::LeafProofs,
        Stage::NodeWitness,
        Stage::NodeProofs,
        Stage::RecursionTipWitness,
        Stage::RecursionTipProof,
        Stage::SchedulerWitness,
        Stage::SchedulerProof,
        Stage::Compression,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::BasicWitness => "basic witness generation",
            Stage::BasicProofs => "basic proofs",
            Stage::LeafWitness => "leaf witness generation",
            Stage::LeafProofs => "leaf proofs",
            Stage::NodeWitness => "node witness generation",
            Stage::NodeProofs => "node proofs",
            Stage::RecursionTipWitness => "recursion tip witness generation",
            Stage::RecursionTipProof => "recursion tip proof",
            Stage::SchedulerWitness => "scheduler witness generation",
            Stage::SchedulerProof => "scheduler proof",
            Stage::Compression => "compression",
        }
    }
}

#[derive(Default)]
struct Sum {
    count: AtomicU64,
    nanos: AtomicU64,
}

/// The shared counters of one run.
pub(crate) struct Probe {
    /// The batch's insertion: stages are timed from here.
    started: OnceLock<Instant>,
    ops: [Sum; Op::ALL.len()],
    /// Nanoseconds after the start at which the last job of each stage completed.
    stages: [AtomicU64; Stage::ALL.len()],
}

impl Probe {
    pub(crate) fn new() -> Self {
        Self {
            started: OnceLock::new(),
            ops: Default::default(),
            stages: Default::default(),
        }
    }

    /// Sets the moment stages are timed from (the first call wins).
    pub(crate) fn start(&self, at: Instant) {
        let _ = self.started.set(at);
    }

    /// Adds one operation of `op` that began at `began`.
    pub(crate) fn record(&self, op: Op, began: Instant) {
        let sum = &self.ops[op as usize];
        sum.count.fetch_add(1, Ordering::Relaxed);
        sum.nanos
            .fetch_add(nanos(began.elapsed()), Ordering::Relaxed);
    }

    /// Notes that a job of `stage` completed now (the stage's time is its last completion).
    pub(crate) fn stage_done(&self, stage: Stage) {
        let since_start = self.started.get().map_or(0, |s| nanos(s.elapsed()));
        self.stages[stage as usize].fetch_max(since_start, Ordering::Relaxed);
    }

    /// Time per kind of operation over the run, the kinds that ran at all.
    pub(crate) fn operations(&self) -> Vec<OperationTime> {
        Op::ALL
            .iter()
            .map(|&op| {
                let sum = &self.ops[op as usize];
                let count = sum.count.load(Ordering::Relaxed);
                let total = Duration::from_nanos(sum.nanos.load(Ordering::Relaxed));
                OperationTime {
                    operation: op.name().to_owned(),
                    count,
                    total_seconds: round3(total.as_secs_f64()),
                    mean_ms: if count == 0 {
                        0.0
                    } else {
                        round3(total.as_secs_f64() * 1e3 / count as f64)
                    },
                }
            })
            .filter(|o| o.count > 0)
            .collect()
    }

    /// When each stage was done, in tree order. A stage is done when its own last job and
    /// every earlier stage are done: the times are each worker's view after its completion
    /// returned, and with wake-ups the next stage's worker can pick, finish and note its job
    /// a fraction of a millisecond before the previous stage's worker gets to note its own
    /// completion (committed earlier: the database orders them). The running maximum reports
    /// the order the database guarantees instead of that thread-scheduling noise.
    pub(crate) fn milestones(&self) -> Vec<Milestone> {
        let mut reached = 0u64;
        Stage::ALL
            .iter()
            .map(|&stage| {
                reached = reached.max(self.stages[stage as usize].load(Ordering::Relaxed));
                Milestone {
                    stage: stage.name().to_owned(),
                    done_after_seconds: round3(Duration::from_nanos(reached).as_secs_f64()),
                }
            })
            .collect()
    }
}

/// Time spent in one kind of operation over a run, summed over all workers (workers run
/// concurrently, so the sum can exceed the run's wall time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationTime {
    /// The operation, in words (`db: pick prover job`, `store: ...`).
    pub operation: String,
    /// How many times it ran.
    pub count: u64,
    /// Its time summed over every worker.
    pub total_seconds: f64,
    /// Mean time of one, in milliseconds.
    pub mean_ms: f64,
}

/// When the last job of a stage completed, counted from the batch's insertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Milestone {
    /// The stage, in words (`basic proofs`, `compression`...).
    pub stage: String,
    /// Seconds from the batch's insertion to the stage's last completion.
    pub done_after_seconds: f64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_noted_before_the_stage_it_depends_on_is_reported_after_it() {
        let probe = Probe::new();
        // Scheduler witness noted at 5 ms, the scheduler proof (which depends on it) at 4 ms.
        probe.stages[Stage::SchedulerWitness as usize].store(5_000_000, Ordering::Relaxed);
        probe.stages[Stage::SchedulerProof as usize].store(4_000_000, Ordering::Relaxed);
        probe.stages[Stage::Compression as usize].store(9_000_000, Ordering::Relaxed);
        let done: Vec<f64> = probe
            .milestones()
            .iter()
            .map(|m| m.done_after_seconds)
            .collect();
        assert_eq!(&done[8..], &[0.005, 0.005, 0.009]);
        assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    }
}
