//! A whole batch proven job by job, one proof at a time, exactly as the pipeline's jobs prove
//! it (same witnesses, same `witness_vector` + `prove_job` per job, same compression), with
//! every job timed in isolation: the reference the pipeline's efficiency is measured against
//! (the batch-layers and pipeline benchmarks). [`prove_sequentially_with`] also shows every
//! job's stored witness to the caller before proving it (the proving-cost benchmark measures
//! each kind of job there).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_types::{AggregationRound, CircuitId};

use super::build::{
    leaf_job_witnesses, node_job_witnesses, scheduler_job_witness, tip_job_witness, type_summaries,
};
use super::cpu_prover::CpuProver;
use super::prove::CompressedProof;
use super::witness::NodeChildren;
use super::PipelineError;
use crate::basic::split_batch;
use crate::recursion::BatchCircuits;

/// One job proven: which, how long (witness vector + proof + verification), how big.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedJob {
    /// The job's round.
    pub round: AggregationRound,
    /// The job's circuit id (the basic type for rounds 0–2).
    pub circuit: CircuitId,
    /// Node depth (0 elsewhere).
    pub depth: u32,
    /// Witness vector, proof and verification, in isolation.
    pub elapsed: Duration,
    /// Size of the proof's encoding.
    pub proof_bytes: usize,
}

/// The final proof and every job's isolated time; the compression step is timed separately.
#[derive(Debug, Clone)]
pub struct SequentialRun {
    /// Every job, in the order proven (round by round).
    pub jobs: Vec<TimedJob>,
    /// Time of the compression chain.
    pub compression: Duration,
    /// The batch's final proof.
    pub proof: CompressedProof,
}

impl SequentialRun {
    /// Sum of every job's isolated time and the compression's.
    pub fn isolated_sum(&self) -> Duration {
        self.jobs.iter().map(|j| j.elapsed).sum::<Duration>() + self.compression
    }
}

/// A job about to be proven: which, and its witness exactly as the prover job stores it.
#[derive(Debug, Clone, Copy)]
pub struct JobWitness<'a> {
    /// The job's round.
    pub round: AggregationRound,
    /// The job's circuit id (the basic type for rounds 0–2).
    pub circuit: CircuitId,
    /// Node depth (0 elsewhere).
    pub depth: u32,
    /// The stored witness bytes (a basic witness in round 0, an aggregation witness above).
    pub witness: &'a [u8],
}

/// Proves one job at a time and keeps its timing.
struct Timer<'a, I, P> {
    circuits: &'a BatchCircuits,
    cpu: CpuProver,
    jobs: Vec<TimedJob>,
    inspect: I,
    progress: P,
}

impl<E, I, P> Timer<'_, I, P>
where
    E: From<PipelineError>,
    I: FnMut(&JobWitness<'_>) -> Result<(), E>,
    P: FnMut(&TimedJob),
{
    fn prove(
        &mut self,
        (round, circuit, depth): (AggregationRound, CircuitId, u32),
        witness: &[u8],
    ) -> Result<Vec<u8>, E> {
        (self.inspect)(&JobWitness {
            round,
            circuit,
            depth,
            witness,
        })?;
        let started = Instant::now();
        let vector = self.circuits.witness_vector(round, circuit, witness)?;
        let proof = self
            .circuits
            .prove_job_with(round, circuit, vector, self.cpu)?;
        let job = TimedJob {
            round,
            circuit,
            depth,
            elapsed: started.elapsed(),
            proof_bytes: proof.len(),
        };
        (self.progress)(&job);
        self.jobs.push(job);
        Ok(proof)
    }
}

/// Proves `executed` job by job at `arity`; `progress` hears of every job as it finishes.
pub fn prove_sequentially(
    circuits: &BatchCircuits,
    executed: &ExecutedBatch,
    arity: usize,
    progress: impl FnMut(&TimedJob),
) -> Result<SequentialRun, PipelineError> {
    prove_sequentially_with(circuits, executed, arity, |_| Ok(()), progress)
}

/// [`prove_sequentially`], with `inspect` shown every job's witness before it is proven (its
/// time is not counted in the job's); an error of `inspect` stops the run.
pub fn prove_sequentially_with<E: From<PipelineError>>(
    circuits: &BatchCircuits,
    executed: &ExecutedBatch,
    arity: usize,
    inspect: impl FnMut(&JobWitness<'_>) -> Result<(), E>,
    progress: impl FnMut(&TimedJob),
) -> Result<SequentialRun, E> {
    prove_sequentially_on(
        circuits,
        executed,
        arity,
        CpuProver::default(),
        inspect,
        progress,
    )
}

/// [`prove_sequentially_with`], every job and the compression proved by `cpu` (plonky2's own
/// `prove` for [`CpuProver::Plonky2`]: the cost benchmark's reference).
pub fn prove_sequentially_on<E: From<PipelineError>>(
    circuits: &BatchCircuits,
    executed: &ExecutedBatch,
    arity: usize,
    cpu: CpuProver,
    inspect: impl FnMut(&JobWitness<'_>) -> Result<(), E>,
    progress: impl FnMut(&TimedJob),
) -> Result<SequentialRun, E> {
    let witnesses = split_batch(executed, circuits.geometry()).map_err(PipelineError::from)?;
    let summaries = type_summaries(executed, &witnesses.closed_forms)?;
    let mut timer = Timer {
        circuits,
        cpu,
        jobs: Vec::new(),
        inspect,
        progress,
    };
    let mut per_type: BTreeMap<CircuitId, Vec<(u32, Vec<u8>)>> = BTreeMap::new();
    for instance in &witnesses.instances {
        let key = (AggregationRound::Basic, instance.circuit, 0);
        let proof = timer.prove(key, &instance.witness)?;
        per_type
            .entry(instance.circuit)
            .or_default()
            .push((instance.sequence, proof));
    }
    let mut finals = Vec::new();
    for (circuit, mut proofs) in per_type {
        proofs.sort_by_key(|(s, _)| *s);
        let forms = witnesses.closed_forms_of(circuit).ok_or_else(|| {
            PipelineError::InvalidInput(format!("no closed forms for circuit {circuit}"))
        })?;
        let leaves =
            leaf_job_witnesses(forms, proofs.into_iter().map(|(_, p)| p).collect(), arity)?;
        let mut level = Vec::with_capacity(leaves.len());
        for leaf in &leaves {
            let key = (AggregationRound::Leaf, circuit, 0);
            level.push(timer.prove(key, &leaf.to_bytes()?)?);
        }
        let (mut children, mut depth) = (NodeChildren::Leaf, 0u32);
        loop {
            let nodes = node_job_witnesses(circuit, children, level, arity)?;
            level = Vec::with_capacity(nodes.len());
            for node in &nodes {
                let key = (AggregationRound::Node, circuit, depth);
                level.push(timer.prove(key, &node.to_bytes()?)?);
            }
            children = NodeChildren::Node;
            depth += 1;
            if level.len() == 1 {
                break;
            }
        }
        finals.push((circuit, level.remove(0)));
    }
    let tip = tip_job_witness(&summaries, finals)?;
    let key = (AggregationRound::RecursionTip, CircuitId::RECURSION_TIP, 0);
    let tip_proof = timer.prove(key, &tip.to_bytes()?)?;
    let scheduler = scheduler_job_witness(&summaries, tip_proof, executed.witness.batch_number.0);
    let key = (AggregationRound::Scheduler, CircuitId::SCHEDULER, 0);
    let scheduler_proof = timer.prove(key, &scheduler.to_bytes()?)?;
    let started = Instant::now();
    let proof = circuits.compress_on(&scheduler_proof, cpu)?;
    Ok(SequentialRun {
        jobs: timer.jobs,
        compression: started.elapsed(),
        proof,
    })
}
