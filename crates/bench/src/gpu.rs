//! The `gpu` suite (issue 17): the zkfleet prover with its GPU work (`zkfleet_gpu`: the three
//! batch commitments, and the quotient where every gate of the circuit has a kernel) against
//! plonky2's `prove_with_partition_witness` on every core of the same host, proof by proof, from
//! the same generated witness.
//!
//! - Per job kind of a generated batch, as the proving-cost suite walks it (basic types, leaf,
//!   node, recursion tip, scheduler), from the configured keystore (built where missing); then
//!   each step of the compression chain, from the scheduler's proof (each step's witness the
//!   previous step's verified GPU proof, as the compressor chains them).
//! - Synthetic Poseidon-chain circuits of 2^k rows (`synthetic_sizes`): Poseidon, arithmetic,
//!   constant and public-input gates, for the sizes our job kinds do not reach.
//!
//! Both sides prove from the generated `PartitionWitness` (witness generation is outside both
//! timings: the circuit prover's witness-vector generators do it on other cores); the GPU side's
//! first proof of each circuit is a warm-up (module, twiddle tables, the circuit's constants/
//! sigmas LDE put on the card) and is not timed. Every GPU proof is verified with plonky2's
//! verifier; the runs alternate sides.
//!
//! The suite needs no CUDA to build: `zkfleet-gpu` opens libcuda and libnvrtc at run time, and
//! on a machine without a GPU the suite stops with the reason before measuring anything.

use std::time::Instant;

use plonky2::field::types::Sample;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::iop::witness::{PartialWitness, PartitionWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::util::timing::TimingTree;
use serde::{Deserialize, Serialize};
use zkfleet_circuits::pipeline::{prove_sequentially_with, JobWitness, PipelineError};
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::{CircuitError, Keystore, ProvingConfiguration};
use zkfleet_gpu::backend::{C, D};
use zkfleet_gpu::prover::{self, PhaseTimes};
use zkfleet_gpu::{GpuCommit, GpuContext, F};
use zkfleet_types::AggregationRound;

use crate::error::BenchError;
use crate::figure::Figure;
use crate::machine;
use crate::real_batch::RealBatch;
use crate::report::MachineInfo;

/// What the suite measures.
#[derive(Debug, Clone)]
pub struct GpuOptions {
    /// The proving configuration of the generated batch's circuits.
    pub proving: ProvingConfiguration,
    /// The keystore the circuits are loaded from (built on a miss).
    pub keys_dir: std::path::PathBuf,
    /// Operations of the generated batch whose jobs are measured (0: no job kinds).
    pub operations: usize,
    /// log2 of the rows of each synthetic circuit.
    pub synthetic_sizes: Vec<usize>,
    /// Runs per circuit.
    pub runs: usize,
    /// CUDA ordinal of the card.
    pub gpu_device: usize,
}

/// The suite's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuReport {
    /// The machine, with its load before and after.
    pub machine: MachineInfo,
    /// The commit the binary was built from.
    pub git_commit: String,
    /// When the suite ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The card, as the driver names it.
    pub device: String,
    /// rayon threads of the plonky2 side (and of our CPU phases).
    pub cpu_threads: usize,
    /// The proving configuration of the circuits.
    pub configuration: ProvingConfiguration,
    /// Operations of the generated batch.
    pub operations: usize,
    /// Runs per circuit.
    pub runs: usize,
    /// One entry per job kind, then per synthetic circuit.
    pub circuits: Vec<GpuCircuitCost>,
}

/// One circuit: both provers' times and where ours spends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuCircuitCost {
    /// The job kind or synthetic circuit, in words.
    pub circuit: String,
    /// log2 of the circuit's rows.
    pub degree_bits: usize,
    /// plonky2's `prove_with_partition_witness` on every core (s).
    pub plonky2_prove_s: Figure,
    /// The zkfleet prover with the GPU backend (s).
    pub gpu_prove_s: Figure,
    /// plonky2 ÷ ours, of the medians.
    pub speedup: f64,
    /// Whether the quotient ran on the GPU (every gate has a kernel).
    pub quotient_on_gpu: bool,
    /// Phases of our median run (s).
    pub gpu_phases: PhaseTimes,
}

/// Runs the suite on card `options.gpu_device`.
pub fn run(options: &GpuOptions) -> Result<GpuReport, BenchError> {
    if options.runs == 0 {
        return Err(BenchError::InvalidOptions(
            "at least one run per circuit".into(),
        ));
    }
    let gpu = GpuContext::with_ordinal(options.gpu_device).map_err(|e| {
        BenchError::InvalidOptions(format!("the gpu suite needs a usable GPU: {e}"))
    })?;
    let device = gpu.device_name().to_owned();
    let backend = GpuCommit::new(gpu);
    let mut machine = machine::machine_info();
    let mut circuits = Vec::new();
    if options.operations > 0 {
        let loaded = Keystore::open(&options.keys_dir)
            .and_then(|keys| keys.batch_circuits(&options.proving))?;
        measure_job_kinds(&loaded.circuits, options, &backend, &mut circuits)?;
    }
    for &k in &options.synthetic_sizes {
        tracing::info!(rows = 1usize << k, "measuring a synthetic circuit");
        let (data, inputs) = poseidon_chain(k)?;
        let witness = generate_partial_witness(inputs, &data.prover_only, &data.common)
            .map_err(|e| proving_error(format!("witness of the synthetic circuit: {e}")))?;
        let (cost, _) = measure(
            format!("Poseidon chain 2^{k}"),
            &data,
            &witness,
            options.runs,
            &backend,
            |p| data.verify(p).map_err(|e| e.to_string()),
        )?;
        circuits.push(cost);
    }
    machine.load_average_after = machine::load_average();
    Ok(GpuReport {
        machine,
        git_commit: machine::git_commit(),
        date: machine::now(),
        device,
        cpu_threads: rayon::current_num_threads(),
        configuration: options.proving,
        operations: options.operations,
        runs: options.runs,
        circuits,
    })
}

fn proving_error(message: String) -> BenchError {
    BenchError::Proving(PipelineError::Circuit(CircuitError::Proving(message)))
}

/// Walks a generated batch job by job (as the proving-cost suite) and measures the first job of
/// each kind.
fn measure_job_kinds(
    circuits: &BatchCircuits,
    options: &GpuOptions,
    backend: &GpuCommit,
    out: &mut Vec<GpuCircuitCost>,
) -> Result<(), BenchError> {
    let batch = RealBatch::generate(options.operations, 1, options.proving.geometry.xmss_height)?;
    let walk = prove_sequentially_with(
        circuits,
        &batch.executed,
        options.proving.arity as usize,
        |job| {
            let name = crate::proving_cost::kind_name(job);
            if !out.iter().any(|c| c.circuit == name) {
                tracing::info!(job = %name, "measuring a job kind");
                let (cost, proof) = measure_job(circuits, job, name, options.runs, backend)
                    .map_err(Walk::Failed)?;
                out.push(cost);
                if job.round == AggregationRound::Scheduler {
                    measure_compression(circuits, proof, options.runs, backend, out)
                        .map_err(Walk::Failed)?;
                    return Err(Walk::Measured);
                }
            }
            Ok(())
        },
        |_| {},
    );
    match walk {
        Err(Walk::Failed(e)) => Err(e),
        Err(Walk::Measured) => Ok(()),
        Ok(_) => Err(BenchError::Inconsistent(
            "the gpu suite's batch was proven to the end without a scheduler job".into(),
        )),
    }
}

enum Walk {
    Measured,
    Failed(BenchError),
}

impl From<PipelineError> for Walk {
    fn from(e: PipelineError) -> Self {
        Self::Failed(e.into())
    }
}

/// Each step of the compression chain, from the scheduler's proof: each step's witness is the
/// previous step's proof (ours, verified), as the compressor proves them.
fn measure_compression(
    circuits: &BatchCircuits,
    scheduler_proof: Proof,
    runs: usize,
    backend: &GpuCommit,
    out: &mut Vec<GpuCircuitCost>,
) -> Result<(), BenchError> {
    let mut inner = scheduler_proof;
    for (i, step) in circuits.compression().steps().iter().enumerate() {
        let name = format!("compression step {} ({})", i + 1, step.name());
        tracing::info!(step = %name, "measuring a compression step");
        let data = step.circuit_data();
        let inputs = step.witness(&inner).map_err(PipelineError::from)?;
        let witness = generate_partial_witness(inputs, &data.prover_only, &data.common)
            .map_err(|e| proving_error(format!("witness of {name}: {e}")))?;
        let (cost, proof) = measure(name, data, &witness, runs, backend, |p| {
            data.verify(p).map_err(|e| e.to_string())
        })?;
        out.push(cost);
        inner = proof;
    }
    Ok(())
}

fn measure_job(
    circuits: &BatchCircuits,
    job: &JobWitness<'_>,
    name: String,
    runs: usize,
    backend: &GpuCommit,
) -> Result<(GpuCircuitCost, Proof), BenchError> {
    let data = circuits.circuit_data(job.round, job.circuit)?;
    let vector = circuits.witness_vector(job.round, job.circuit, job.witness)?;
    let witness = PartitionWitness {
        values: vector.values,
        representative_map: &data.prover_only.representative_map,
        num_wires: vector.num_wires,
        degree: vector.degree,
    };
    let round = job.round;
    measure(name, data, &witness, runs, backend, |p| match round {
        AggregationRound::Scheduler => circuits
            .scheduler()
            .verify(&p)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => data.verify(p).map_err(|e| e.to_string()),
    })
}

type Proof = plonky2::plonk::proof::ProofWithPublicInputs<F, C, D>;

fn measure(
    name: String,
    data: &CircuitData<F, C, D>,
    witness: &PartitionWitness<'_, F>,
    runs: usize,
    backend: &GpuCommit,
    verify: impl Fn(Proof) -> Result<(), String>,
) -> Result<(GpuCircuitCost, Proof), BenchError> {
    let ours = || -> Result<(f64, PhaseTimes, Proof), BenchError> {
        let started = Instant::now();
        let (proof, phases) =
            prover::prove_timed(&data.prover_only, &data.common, witness.clone(), backend)
                .map_err(|e| proving_error(format!("{name} on the GPU: {e}")))?;
        let elapsed = started.elapsed().as_secs_f64();
        verify(proof.clone())
            .map_err(|e| proving_error(format!("{name}: the GPU proof does not verify: {e}")))?;
        Ok((elapsed, phases, proof))
    };
    let plonky2 = || -> Result<f64, BenchError> {
        let started = Instant::now();
        plonky2::plonk::prover::prove_with_partition_witness(
            &data.prover_only,
            &data.common,
            witness.clone(),
            &mut TimingTree::default(),
        )
        .map_err(|e| proving_error(format!("{name} with plonky2: {e}")))?;
        Ok(started.elapsed().as_secs_f64())
    };
    ours()?; // warm-up
    let mut cpu = Vec::with_capacity(runs);
    let mut gpu = Vec::with_capacity(runs);
    for run in 0..runs {
        // Alternate the order: a load change during the pair then favours neither side.
        if run % 2 == 0 {
            gpu.push(ours()?);
            cpu.push(plonky2()?);
        } else {
            cpu.push(plonky2()?);
            gpu.push(ours()?);
        }
    }
    let plonky2_prove_s = Figure::of(cpu);
    let gpu_prove_s = Figure::of(gpu.iter().map(|(s, _, _)| *s).collect());
    let mut order: Vec<usize> = (0..gpu.len()).collect();
    order.sort_by(|&a, &b| gpu[a].0.total_cmp(&gpu[b].0));
    let (_, phases, _) = gpu[order[order.len() / 2]];
    let speedup = plonky2_prove_s.median / gpu_prove_s.median.max(1e-9);
    tracing::info!(
        circuit = %name,
        plonky2_s = plonky2_prove_s.median,
        gpu_s = gpu_prove_s.median,
        speedup,
        "measured"
    );
    // Every run's proof was verified; the last one is the next compression step's input.
    let proof = match gpu.pop() {
        Some((_, _, proof)) => proof,
        None => ours()?.2,
    };
    let cost = GpuCircuitCost {
        circuit: name,
        degree_bits: data.common.degree_bits(),
        plonky2_prove_s,
        gpu_prove_s,
        speedup,
        quotient_on_gpu: phases.quotient_on_device,
        gpu_phases: phases,
    };
    Ok((cost, proof))
}

/// A chain of Poseidon permutations filling 2^k rows (3/4 of them hashes), public inputs at
/// both ends.
fn poseidon_chain(k: usize) -> Result<(CircuitData<F, C, D>, PartialWitness<F>), BenchError> {
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let inputs = builder.add_virtual_targets(4);
    builder.register_public_inputs(&inputs);
    let mut state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(inputs.clone());
    for _ in 1..(1usize << k) * 3 / 4 {
        state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(state.elements.to_vec());
    }
    builder.register_public_inputs(&state.elements);
    let data = builder.build::<C>();
    if data.common.degree_bits() != k {
        return Err(BenchError::Inconsistent(format!(
            "the synthetic circuit has 2^{} rows, not 2^{k}",
            data.common.degree_bits()
        )));
    }
    let mut pw = PartialWitness::new();
    for (t, v) in inputs.iter().zip(F::rand_vec(4)) {
        pw.set_target(*t, v)
            .map_err(|e| proving_error(format!("synthetic inputs: {e}")))?;
    }
    Ok((data, pw))
}

/// The suite's section of docs/benchmarks.md.
pub fn section(report: &GpuReport, command: &str, json_name: &str) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Command: `{command}` on {} ({} cores, {}), commit {}, {}; plonky2 on {} rayon \
         threads; {} runs per circuit, medians (min–max); figures in `{json_name}`.\n\n",
        report.device,
        report.machine.cores,
        report.machine.cpu_model,
        report.git_commit,
        report.date,
        report.cpu_threads,
        report.runs,
    ));
    s.push_str(
        "| circuit | rows | plonky2, all cores (s) | zkfleet + GPU (s) | speedup | quotient on | \
         ours: commits / quotient / FRI / other (s) |\n|---|---|---|---|---|---|---|\n",
    );
    for c in &report.circuits {
        let p = &c.gpu_phases;
        s.push_str(&format!(
            "| {} | 2^{} | {} | {} | {:.1}x | {} | {:.3} / {:.3} / {:.3} / {:.3} |\n",
            c.circuit,
            c.degree_bits,
            c.plonky2_prove_s.display(3),
            c.gpu_prove_s.display(3),
            c.speedup,
            if c.quotient_on_gpu { "GPU" } else { "CPU" },
            p.commits_s(),
            p.quotient_s,
            p.fri_s,
            p.witness_s + p.partial_products_s + p.openings_s,
        ));
    }
    s
}
