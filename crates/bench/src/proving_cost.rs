//! Proving cost (issue #7, item 4): for each kind of prover job of a small real batch — every
//! basic type, the leaf of every type, the node, the recursion tip, the scheduler — the time of
//! our prover path against plonky2's own `CircuitData::prove` on the same circuit data and the
//! same witness, with the circuit's degree, the proof's size and the peak memory.
//!
//! *Our path* is what a circuit prover runs per job (`BatchCircuits::witness_vector`: decode the
//! stored witness, check it natively, generate the witness vector; then
//! `BatchCircuits::prove_job`: prove from the vector, verify). *plonky2* is
//! `CircuitData::prove` on the very inputs our path assigns (`pipeline::plonky2_baseline`).
//! Each run measures both, alternating which goes first so that a drift of the shared
//! machine's load does not favour one side; ratio = ours ÷ plonky2 per run.
//!
//! The batch is proven job by job (`pipeline::prove_sequentially_with`); the first job of each
//! kind is measured `runs` times before the walk proves it and moves on. The walk ends at the
//! last kind measured (the scheduler; the node when only recursion per child is wanted): the
//! proofs after it and the batch's compression would measure nothing.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use zkfleet_circuits::pipeline::{prove_sequentially_with, JobWitness};
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::{Keystore, ProvingConfiguration};
use zkfleet_types::AggregationRound;

use crate::error::BenchError;
use crate::figure::Figure;
use crate::machine;
use crate::memory;
use crate::real_batch::RealBatch;
use crate::report::MachineInfo;

/// The target of issue #7: our path at most 5 % slower than plonky2's `prove`.
pub const TARGET_RATIO: f64 = 1.05;

/// Which kinds of job to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKinds {
    /// Every kind (the proving-cost suite).
    Every,
    /// The node only (the recursion-per-child suite alone).
    Node,
}

/// What [`run`] measures.
#[derive(Debug, Clone)]
pub struct ProvingCostOptions {
    /// The proving configuration of the circuits measured.
    pub proving: ProvingConfiguration,
    /// The keystore the circuits are loaded from (built there where missing).
    pub keys_dir: PathBuf,
    /// Operations of the generated batch: enough for every basic type to be present.
    pub operations: usize,
    /// Runs per job kind.
    pub runs: usize,
    /// Which job kinds to measure.
    pub kinds: JobKinds,
}

/// What the suite measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvingCostReport {
    /// The machine, with its load before and after.
    pub machine: MachineInfo,
    /// The commit the binary was built from.
    pub git_commit: String,
    /// When the suite ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The proving configuration of the circuits.
    pub configuration: ProvingConfiguration,
    /// Operations of the generated batch.
    pub operations: usize,
    /// Runs per job kind.
    pub runs: usize,
    /// Loading (or building) the configuration's circuits, once.
    pub circuit_loading_s: f64,
    /// One per job kind measured.
    pub jobs: Vec<JobCost>,
    /// Where the ratio target stands.
    pub target: RatioTarget,
}

/// One kind of prover job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCost {
    /// `basic signature_verification`, `leaf state_transition`, `node`, `recursion tip`...
    pub job: String,
    /// The job's round.
    pub round: AggregationRound,
    /// log2 of the circuit's rows.
    pub degree_bits: usize,
    /// Size of one proof, in bytes.
    pub proof_bytes: usize,
    /// Our whole path: witness vector + prove + verify (s).
    pub ours_s: Figure,
    /// Of which the witness vector (decode, native checks, witness generation) (s).
    pub ours_witness_vector_s: Figure,
    /// plonky2's `CircuitData::prove` (s).
    pub plonky2_prove_s: Figure,
    /// plonky2's `CircuitData::verify` of its proof, which `prove` does not include (s).
    pub plonky2_verify_s: Figure,
    /// ours ÷ plonky2 per run.
    pub ratio: Figure,
    /// Peak resident memory of the process during our path (MiB; absent where it cannot be
    /// measured, see `memory`).
    pub ours_peak_rss_mib: Option<Figure>,
    /// That peak above the process's resident memory at the path's start (MiB).
    pub ours_job_memory_mib: Option<Figure>,
    /// Peak resident memory of the process during plonky2's `prove` (MiB).
    pub plonky2_peak_rss_mib: Option<Figure>,
    /// That peak above the process's resident memory at its start (MiB).
    pub plonky2_job_memory_mib: Option<Figure>,
}

/// Where the ≤ 1.05 target stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioTarget {
    /// The largest ratio (ours ÷ plonky2) the target allows.
    pub target_ratio: f64,
    /// Every kind's median ratio at or below the target.
    pub met: bool,
    /// The kind with the largest median ratio, and that ratio.
    pub worst: Option<(String, f64)>,
}

/// The name of a job kind; one circuit per (round, type) below the node, one node circuit.
pub(crate) fn kind_name(job: &JobWitness<'_>) -> String {
    let basic_name = || {
        zkfleet_circuits::BasicCircuitKind::from_circuit_id(job.circuit)
            .map(|k| k.name().to_owned())
            .unwrap_or_else(|_| job.circuit.to_string())
    };
    match job.round {
        AggregationRound::Basic => format!("basic {}", basic_name()),
        AggregationRound::Leaf => format!("leaf {}", basic_name()),
        // One node circuit aggregates every type at every depth.
        AggregationRound::Node => "node".to_owned(),
        AggregationRound::RecursionTip => "recursion tip".to_owned(),
        AggregationRound::Scheduler => "scheduler".to_owned(),
    }
}

/// Loads the circuits, proves a generated batch job by job and measures each kind of job.
pub fn run(options: &ProvingCostOptions) -> Result<ProvingCostReport, BenchError> {
    if options.runs == 0 {
        return Err(BenchError::InvalidOptions(
            "at least one run per job".into(),
        ));
    }
    let mut machine = machine::machine_info();
    let loaded =
        Keystore::open(&options.keys_dir).and_then(|keys| keys.batch_circuits(&options.proving))?;
    let circuits = loaded.circuits;
    let batch = RealBatch::generate(options.operations, 1, options.proving.geometry.xmss_height)?;
    let mut jobs: Vec<JobCost> = Vec::new();
    let arity = options.proving.arity as usize;
    // The last kind the suite measures: past it the walk's proofs (and the compression that
    // ends `prove_sequentially_with`) would be thrown away, so the walk stops there.
    let last = match options.kinds {
        JobKinds::Every => AggregationRound::Scheduler,
        JobKinds::Node => AggregationRound::Node,
    };
    let walk = prove_sequentially_with(
        &circuits,
        &batch.executed,
        arity,
        |job| {
            let name = kind_name(job);
            let wanted = options.kinds == JobKinds::Every || job.round == AggregationRound::Node;
            if wanted && !jobs.iter().any(|j| j.job == name) {
                tracing::info!(job = %name, runs = options.runs, "measuring");
                jobs.push(measure_job(&circuits, job, name, options.runs).map_err(Walk::Failed)?);
                if job.round == last {
                    return Err(Walk::Measured);
                }
            }
            Ok(())
        },
        |_| {},
    );
    match walk {
        Err(Walk::Failed(e)) => return Err(e),
        // Every wanted kind measured (the walk stopped after the last one).
        Err(Walk::Measured) => {}
        Ok(_) => {
            return Err(BenchError::Inconsistent(format!(
                "the proving-cost batch was proven to the end without a {} job",
                last.name()
            )))
        }
    }
    machine.load_average_after = machine::load_average();
    let target = RatioTarget::assess(&jobs);
    Ok(ProvingCostReport {
        machine,
        git_commit: machine::git_commit(),
        date: machine::now(),
        configuration: options.proving,
        operations: options.operations,
        runs: options.runs,
        circuit_loading_s: loaded.elapsed.as_secs_f64(),
        jobs,
        target,
    })
}

/// Why the job-by-job walk stopped early: every wanted kind is measured, or an error.
enum Walk {
    Measured,
    Failed(BenchError),
}

impl From<zkfleet_circuits::pipeline::PipelineError> for Walk {
    fn from(e: zkfleet_circuits::pipeline::PipelineError) -> Self {
        Self::Failed(e.into())
    }
}

/// One run of each path.
struct PairedRun {
    ours_s: f64,
    ours_witness_vector_s: f64,
    plonky2_prove_s: f64,
    plonky2_verify_s: f64,
    ours_memory: Option<memory::MemoryPeak>,
    plonky2_memory: Option<memory::MemoryPeak>,
    proof_bytes: usize,
    degree_bits: usize,
}

fn measure_job(
    circuits: &BatchCircuits,
    job: &JobWitness<'_>,
    name: String,
    runs: usize,
) -> Result<JobCost, BenchError> {
    let ours = || -> Result<(f64, f64, usize), BenchError> {
        let started = Instant::now();
        let vector = circuits.witness_vector(job.round, job.circuit, job.witness)?;
        let witness_vector_s = started.elapsed().as_secs_f64();
        let proof = circuits.prove_job(job.round, job.circuit, vector)?;
        Ok((
            started.elapsed().as_secs_f64(),
            witness_vector_s,
            proof.len(),
        ))
    };
    let plonky2 = || circuits.prove_with_plonky2(job.round, job.circuit, job.witness);
    let mut measured = Vec::with_capacity(runs);
    for run in 0..runs {
        // Alternate the order: a load change during the pair then favours neither path.
        let ((ours_result, ours_memory), (plonky2_result, plonky2_memory)) = if run % 2 == 0 {
            let a = memory::measure(ours);
            (a, memory::measure(plonky2))
        } else {
            let b = memory::measure(plonky2);
            (memory::measure(ours), b)
        };
        let (ours_s, ours_witness_vector_s, proof_bytes) = ours_result?;
        let direct = plonky2_result?;
        measured.push(PairedRun {
            ours_s,
            ours_witness_vector_s,
            plonky2_prove_s: direct.prove.as_secs_f64(),
            plonky2_verify_s: direct.verify.as_secs_f64(),
            ours_memory,
            plonky2_memory,
            proof_bytes,
            degree_bits: direct.degree_bits,
        });
    }
    let figure = |f: &dyn Fn(&PairedRun) -> f64| Figure::of(measured.iter().map(f).collect());
    let memory_figure = |f: &dyn Fn(&PairedRun) -> Option<f64>| {
        measured
            .iter()
            .map(f)
            .collect::<Option<Vec<f64>>>()
            .map(Figure::of)
    };
    Ok(JobCost {
        job: name,
        round: job.round,
        degree_bits: measured.first().map_or(0, |r| r.degree_bits),
        proof_bytes: measured.first().map_or(0, |r| r.proof_bytes),
        ours_s: figure(&|r| r.ours_s),
        ours_witness_vector_s: figure(&|r| r.ours_witness_vector_s),
        plonky2_prove_s: figure(&|r| r.plonky2_prove_s),
        plonky2_verify_s: figure(&|r| r.plonky2_verify_s),
        ratio: Figure::of(
            measured
                .iter()
                .map(|r| r.ours_s / r.plonky2_prove_s)
                .collect(),
        ),
        ours_peak_rss_mib: memory_figure(&|r| r.ours_memory.map(|m| m.peak_mib)),
        ours_job_memory_mib: memory_figure(&|r| r.ours_memory.map(|m| m.above_start_mib)),
        plonky2_peak_rss_mib: memory_figure(&|r| r.plonky2_memory.map(|m| m.peak_mib)),
        plonky2_job_memory_mib: memory_figure(&|r| r.plonky2_memory.map(|m| m.above_start_mib)),
    })
}

impl RatioTarget {
    /// Judges the target on every kind's median ratio.
    pub fn assess(jobs: &[JobCost]) -> Self {
        let worst = jobs
            .iter()
            .max_by(|a, b| a.ratio.median.total_cmp(&b.ratio.median))
            .map(|j| (j.job.clone(), j.ratio.median));
        Self {
            target_ratio: TARGET_RATIO,
            met: !jobs.is_empty() && jobs.iter().all(|j| j.ratio.median <= TARGET_RATIO),
            worst,
        }
    }
}
