//! The prover backends over the real circuits of the test configuration.
//!
//! - `backend = "cpu"` (the default: zkfleet's prover with the batched Merkle hasher) returns
//!   plonky2's proof bytes (`backend = "plonky2"`) for a job of every basic type and of every
//!   aggregation round above it that the fixture reaches, on one thread, and the same bytes on
//!   the default pool (its proof-of-work nonce is the smallest: deterministic); plonky2's own
//!   backend still proves and verifies.
//! - The zkfleet prover (`crate::backend`'s `CommitCircuitProver`), here with plonky2's CPU
//!   commitments, returns the same proof bytes as plonky2's `prove` (the CPU backend) for a job
//!   of every basic type, from the same witness vector, on one thread (plonky2's proof-of-work
//!   search is `find_any`: on several threads the nonce may differ, docs/gpu.md). The GPU
//!   backend is the same prover with the GPU's commitments (checked on the GPU machine,
//!   `crates/gpu/tests/prover.rs`).
//! - `backend = "gpu"` on a machine without a GPU proves on the CPU and says so.
//! - `backend = "gpu"` on a machine with a GPU (the device machine; required there with
//!   `ZKFLEET_REQUIRE_GPU=1`): the circuit prover's GPU backend gives plonky2's proof bytes for a
//!   job of every basic type on one thread, with the quotient evaluated on the card, and proves
//!   and verifies on the default pool.
//! - The GPU's quotient kernel, compiled for the host, equals the CPU prover on our circuits, and
//!   every gate of every circuit we prove has a GPU evaluator (no GPU needed).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::sync::Arc;

use plonky2::iop::witness::PartitionWitness;
use zkfleet_circuit_prover::{
    install_commit_backend, install_cpu, select_backend, CircuitRegistry, ProverBackend,
};
use zkfleet_circuits::pipeline::CpuProver;
use zkfleet_gpu::prover;
use zkfleet_gpu::{CpuCommit, GpuCommit, GpuContext};
use zkfleet_types::{AggregationRound, CircuitId};

/// The test registry with plonky2's own `prove` (`backend = "plonky2"`): the reference.
fn plonky2_registry() -> CircuitRegistry {
    let mut reference = (*common::registry()).clone();
    let active = select_backend(&mut reference, ProverBackend::Plonky2, 0).expect("plonky2");
    assert_eq!(active, ProverBackend::Plonky2);
    reference
}

#[test]
fn cpu_backend_gives_plonky2_proof_bytes_on_one_thread_and_is_deterministic() {
    let reference = plonky2_registry();
    let mut batched = (*common::registry()).clone();
    let active = select_backend(&mut batched, ProverBackend::Cpu, 0).expect("cpu");
    assert_eq!(active, ProverBackend::Cpu);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for &circuit in &CircuitId::BASIC_TYPES {
        let instance = common::witnesses()
            .instances
            .iter()
            .find(|i| i.circuit == circuit)
            .expect("the fixture has every type");
        let plonky2 = reference
            .get(AggregationRound::Basic, circuit)
            .expect("registered");
        let ours = batched
            .get(AggregationRound::Basic, circuit)
            .expect("registered");
        let vector = ours
            .witness_vector(&instance.witness)
            .expect("witness vector");
        // Both verify the proof before returning it (plonky2's verifier).
        let theirs = single
            .install(|| plonky2.prove(vector.clone()))
            .expect("backend plonky2 proves and verifies");
        let mine = single
            .install(|| ours.prove(vector.clone()))
            .expect("backend cpu proves and verifies");
        assert!(
            mine == theirs,
            "{}: backend cpu's proof bytes differ from plonky2's ({} vs {} bytes)",
            circuit.name(),
            mine.len(),
            theirs.len()
        );
        // On the default pool: the same bytes (the smallest nonce, whatever the threads).
        let pooled = ours.prove(vector).expect("proves on the default pool");
        assert!(
            pooled == mine,
            "{}: backend cpu's proof differs between one thread and the default pool",
            circuit.name()
        );
    }
    // The registry's own default (`from_circuits`, no backend applied) is the batched prover
    // too, and `install_cpu` switches a registry either way.
    let mut switched = (*common::registry()).clone();
    install_cpu(&mut switched, CpuProver::Plonky2);
    install_cpu(&mut switched, CpuProver::Batched);
    let circuit = CircuitId::BASIC_TYPES[0];
    let instance = common::witnesses()
        .instances
        .iter()
        .find(|i| i.circuit == circuit)
        .expect("the fixture has every type");
    let vector = common::registry()
        .get(AggregationRound::Basic, circuit)
        .expect("registered")
        .witness_vector(&instance.witness)
        .expect("witness vector");
    let default = common::registry()
        .get(AggregationRound::Basic, circuit)
        .expect("registered")
        .prove(vector.clone())
        .expect("the default proves");
    let again = switched
        .get(AggregationRound::Basic, circuit)
        .expect("registered")
        .prove(vector)
        .expect("proves");
    assert!(
        default == again,
        "the default prover is not the batched one"
    );
}

#[test]
fn zkfleet_prover_gives_plonky2_proof_bytes_for_every_basic_type() {
    let registry = plonky2_registry();
    let mut ours = registry.clone();
    install_commit_backend(&mut ours, Arc::new(CpuCommit));
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for &circuit in &CircuitId::BASIC_TYPES {
        let instance = common::witnesses()
            .instances
            .iter()
            .find(|i| i.circuit == circuit)
            .expect("the fixture has every type");
        let cpu = registry
            .get(AggregationRound::Basic, circuit)
            .expect("registered");
        let zk = ours
            .get(AggregationRound::Basic, circuit)
            .expect("registered");
        assert!(
            !Arc::ptr_eq(cpu, zk),
            "the zkfleet prover replaced the CPU one"
        );
        let vector = cpu
            .witness_vector(&instance.witness)
            .expect("witness vector");
        let theirs = single
            .install(|| cpu.prove(vector.clone()))
            .expect("plonky2 proves");
        let mine = single
            .install(|| zk.prove(vector.clone()))
            .expect("the zkfleet prover proves and verifies");
        assert!(
            mine == theirs,
            "{}: proof bytes differ from plonky2's ({} vs {} bytes)",
            circuit.name(),
            mine.len(),
            theirs.len()
        );
        // On the default pool: a proof that verifies (checked inside `prove`).
        zk.prove(vector).expect("proves on the default pool");
    }
}

#[test]
fn gpu_backend_on_a_gpu_gives_plonky2_proof_bytes_for_every_basic_type() {
    let required = std::env::var("ZKFLEET_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let commit = match GpuContext::new() {
        Ok(gpu) => GpuCommit::new(gpu),
        Err(e) if e.is_unavailable() && !required => {
            eprintln!("skipping GPU test: {e} (set ZKFLEET_REQUIRE_GPU=1 to fail instead)");
            return;
        }
        Err(e) => panic!("GPU unusable: {e}"),
    };
    let registry = plonky2_registry();
    let mut selected = registry.clone();
    let active = select_backend(&mut selected, ProverBackend::Gpu, 0).expect("gpu starts");
    assert_eq!(active, ProverBackend::Gpu);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for &circuit in &CircuitId::BASIC_TYPES {
        let instance = common::witnesses()
            .instances
            .iter()
            .find(|i| i.circuit == circuit)
            .expect("the fixture has every type");
        let cpu = registry
            .get(AggregationRound::Basic, circuit)
            .expect("registered");
        let gpu = selected
            .get(AggregationRound::Basic, circuit)
            .expect("registered");
        assert!(
            !Arc::ptr_eq(cpu, gpu),
            "the GPU prover replaced the CPU one"
        );
        let vector = cpu
            .witness_vector(&instance.witness)
            .expect("witness vector");
        let theirs = single
            .install(|| cpu.prove(vector.clone()))
            .expect("plonky2 proves");
        let started = std::time::Instant::now();
        let mine = single
            .install(|| gpu.prove(vector.clone()))
            .expect("the GPU backend proves and verifies");
        let one_thread = started.elapsed();
        assert!(
            mine == theirs,
            "{}: proof bytes differ from plonky2's ({} vs {} bytes)",
            circuit.name(),
            mine.len(),
            theirs.len()
        );
        // The same prover through its phases: the quotient of our basic circuits ran on the card
        // (every gate has a kernel), and the proof is still plonky2's byte for byte.
        let data = registry
            .batch_circuits()
            .circuit_data(AggregationRound::Basic, circuit)
            .expect("circuit data");
        let partition = PartitionWitness {
            values: vector.values.clone(),
            representative_map: &data.prover_only.representative_map,
            num_wires: vector.num_wires,
            degree: vector.degree,
        };
        let (proof, phases) = single
            .install(|| prover::prove_timed(&data.prover_only, &data.common, partition, &commit))
            .expect("the GPU prover proves");
        assert!(
            phases.quotient_on_device,
            "{}: the quotient was evaluated on the CPU",
            circuit.name()
        );
        assert!(
            proof.to_bytes() == theirs,
            "{}: proof bytes with the quotient on the card differ from plonky2's",
            circuit.name()
        );
        let started = std::time::Instant::now();
        gpu.prove(vector).expect("proves on the default pool");
        eprintln!(
            "{}: GPU backend equal to plonky2 byte for byte, quotient on the card ({} bytes; \
             {:.3} s on one thread, {:.3} s on the default pool)",
            circuit.name(),
            mine.len(),
            one_thread.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn gpu_backend_without_a_gpu_proves_on_the_cpu() {
    if GpuContext::new().is_ok() {
        eprintln!("a GPU is usable here: the fallback is not exercised");
        return;
    }
    // From plonky2's backend: the fallback installs the default CPU backend (batched).
    let mut selected = plonky2_registry();
    let active = select_backend(&mut selected, ProverBackend::Gpu, 0).expect("falls back");
    assert_eq!(active, ProverBackend::Cpu);
    // Any ordinal: with no GPU at all there is no card to be wrong about.
    let active = select_backend(&mut selected, ProverBackend::Gpu, 7).expect("falls back");
    assert_eq!(active, ProverBackend::Cpu);
    // The fallback's proof: the batched CPU prover's, i.e. the default registry's, bytes (both
    // deterministic), and a proof that verifies (checked inside `prove`).
    let circuit = CircuitId::BASIC_TYPES[0];
    let instance = common::witnesses()
        .instances
        .iter()
        .find(|i| i.circuit == circuit)
        .expect("the fixture has every type");
    let default = common::registry();
    let prover = default
        .get(AggregationRound::Basic, circuit)
        .expect("registered");
    let vector = prover
        .witness_vector(&instance.witness)
        .expect("witness vector");
    let expected = prover.prove(vector.clone()).expect("the default proves");
    let fallback = selected
        .get(AggregationRound::Basic, circuit)
        .expect("registered")
        .prove(vector)
        .expect("the fallback proves");
    assert!(
        fallback == expected,
        "the fallback is not the batched prover"
    );
    let active = select_backend(&mut selected, ProverBackend::Cpu, 0).expect("cpu");
    assert_eq!(active, ProverBackend::Cpu);
}

/// A commitment backend whose device fails, as a card that runs out of memory or is lost does:
/// the job's error names the GPU and is transient, so the job monitor requeues the job.
struct FaultyDevice;

impl zkfleet_gpu::CommitBackend for FaultyDevice {
    fn commit_values(
        &self,
        _: Vec<plonky2::field::polynomial::PolynomialValues<zkfleet_gpu::F>>,
        _: usize,
        _: usize,
        _: Option<&plonky2::field::fft::FftRootTable<zkfleet_gpu::F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        Err(zkfleet_gpu::GpuError::Library {
            during: "committing",
            message: "device lost (injected)".into(),
        })
    }

    fn commit_coeffs(
        &self,
        _: Vec<plonky2::field::polynomial::PolynomialCoeffs<zkfleet_gpu::F>>,
        _: usize,
        _: usize,
        _: Option<&plonky2::field::fft::FftRootTable<zkfleet_gpu::F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        unreachable!("the wires commitment fails first")
    }

    fn name(&self) -> &'static str {
        "faulty"
    }
}

#[test]
fn a_gpu_fault_fails_the_job_as_transient() {
    let registry = common::registry();
    let mut faulty = (*registry).clone();
    install_commit_backend(&mut faulty, Arc::new(FaultyDevice));
    let circuit = CircuitId::BASIC_TYPES[0];
    let instance = common::witnesses()
        .instances
        .iter()
        .find(|i| i.circuit == circuit)
        .expect("the fixture has every type");
    let prover = faulty
        .get(AggregationRound::Basic, circuit)
        .expect("registered");
    let vector = prover
        .witness_vector(&instance.witness)
        .expect("witness vector");
    let error = prover.prove(vector).expect_err("the device fails");
    assert!(
        matches!(error, zkfleet_circuit_prover::ProverError::Gpu { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.failure_kind(),
        zkfleet_types::FailureKind::Transient,
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("GPU prover failed") && text.contains("device lost (injected)"),
        "{text}"
    );
}

/// Every circuit the circuit prover proves (basic, leaf, node, recursion tip, scheduler, and the
/// compression steps) has a GPU evaluator for each of its gates, so the GPU backend evaluates
/// their quotients on the card (docs/gpu.md, "The quotient on the GPU").
#[test]
fn every_circuit_of_ours_has_gpu_gate_evaluators() {
    let registry = common::registry();
    let circuits = registry.batch_circuits();
    let mut all: Vec<(String, &plonky2::plonk::circuit_data::CircuitData<_, _, 2>)> = registry
        .circuits()
        .map(|(round, circuit)| {
            (
                format!("{round} {}", circuit.name()),
                circuits.circuit_data(round, circuit).expect("registered"),
            )
        })
        .collect();
    for (i, step) in circuits.compression().steps().iter().enumerate() {
        all.push((format!("compression step {i}"), step.circuit_data()));
    }
    let mut missing = Vec::new();
    for (name, data) in all {
        let common = &data.common;
        let gates: Vec<String> = common.gates.iter().map(|g| g.0.id()).collect();
        eprintln!(
            "{name}: 2^{} rows, {} selectors, quotient degree {}, gates {gates:?}",
            common.degree_bits(),
            common.selectors_info.num_selectors(),
            common.quotient_degree_factor
        );
        if let Err(e) = zkfleet_gpu::quotient::gate_table_for(common) {
            missing.push(format!("{name}: {e}"));
        }
    }
    assert!(
        missing.is_empty(),
        "gates without a GPU evaluator: {missing:#?}"
    );
}

/// The GPU's quotient kernel, compiled for the host (`zkfleet_gpu::host_check`), gives the CPU
/// prover's quotient values on our own circuits: the basic state-transition circuit and the
/// state-transition leaf (whose gates are those of every leaf, node, tip, scheduler and
/// compression circuit), on random wires, Z and partial products and random challenges. Needs no
/// GPU; skips, saying so, without a C++ compiler.
#[test]
fn gpu_quotient_kernel_equals_the_cpu_prover_on_our_circuits() {
    let registry = common::registry();
    let circuits = registry.batch_circuits();
    for round in [AggregationRound::Basic, AggregationRound::Leaf] {
        let circuit = CircuitId::STATE_TRANSITION;
        let data = circuits.circuit_data(round, circuit).expect("registered");
        match zkfleet_gpu::host_check::quotient_kernel_on_host(data) {
            Ok(Some(check)) => eprintln!(
                "{round} {}: 2^{} rows, quotient kernel on the host equal to the CPU prover: {check:?}",
                circuit.name(),
                data.common.degree_bits()
            ),
            Ok(None) => {
                eprintln!("skipping: no C++ compiler to build the quotient kernel for the host");
                return;
            }
            Err(e) => panic!("{round} {}: {e}", circuit.name()),
        }
    }
}
