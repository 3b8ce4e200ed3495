//! The compressor's `backend = "gpu"` path (`CommitProver`, `BatchCircuits::compress_with`'s
//! step prover) against plonky2's `prove`, on the default compression chain (shrink at blowup
//! 2^4, final at 2^7 with cap height 4) over a small inner proof:
//!
//! - with plonky2's CPU commitments (`CpuCommit`: runs everywhere, CI included), with the batched
//!   CPU commitments of `backend = "cpu"` (`HostBatchedCommit`, the default) and, where a GPU
//!   is usable (required with `ZKFLEET_REQUIRE_GPU=1`), with `GpuCommit`: on one thread every
//!   step's proof is plonky2's byte for byte for the same generated witness (both take the
//!   smallest proof-of-work nonce there), and the compressor's own step prover gives a chain
//!   whose final proof verifies and attests the inner proof's public inputs; with a GPU the
//!   test also prints each step's time on the default pool, plonky2 against ours;
//! - a backend that fails fails the compression with the transient `CompressorError::Gpu`;
//! - `select_backend`: `cpu` is the batched CPU prover, `plonky2` is plonky2's `prove`.

// The crate's dependencies are the library's; this binary uses a few of them.
#![allow(unused_crate_dependencies)]

use std::sync::Arc;
use std::time::Instant;

use plonky2::field::fft::FftRootTable;
use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::Field;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::util::timing::TimingTree;
use zkfleet_circuits::recursion::{
    default_compression_steps, CompressionChain, RecursionError, StepProver,
};
use zkfleet_compressor::backend::select_backend;
use zkfleet_compressor::CompressorBackend;
use zkfleet_compressor::{CommitProver, CompressorError};
use zkfleet_gpu::backend::{Batch, C, D};
use zkfleet_gpu::prover;
use zkfleet_gpu::{
    CommitBackend, CpuCommit, GpuCommit, GpuContext, GpuError, HostBatchedCommit, F,
};
use zkfleet_types::FailureKind;

type Proof = ProofWithPublicInputs<F, C, D>;

/// A small standard-configuration circuit (a Poseidon chain, public inputs at both ends) and
/// its proof: what the chain compresses.
fn inner() -> (CircuitData<F, C, D>, Proof) {
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let start = builder.add_virtual_targets(4);
    builder.register_public_inputs(&start);
    let mut state = start.clone();
    for _ in 0..100 {
        state = builder
            .hash_n_to_hash_no_pad::<PoseidonHash>(state)
            .elements
            .to_vec();
    }
    builder.register_public_inputs(&state);
    let data = builder.build::<C>();
    let mut pw = PartialWitness::new();
    for (i, &t) in start.iter().enumerate() {
        pw.set_target(t, F::from_canonical_u64(i as u64 + 7))
            .expect("witness");
    }
    let proof = data.prove(pw).expect("inner proof");
    (data, proof)
}

/// Which part of two proofs differs first, in the order the prover makes them.
fn first_difference(a: &Proof, b: &Proof) -> &'static str {
    let (p, q) = (&a.proof, &b.proof);
    let (f, g) = (&p.opening_proof, &q.opening_proof);
    if a.public_inputs != b.public_inputs {
        "public inputs"
    } else if p.wires_cap != q.wires_cap {
        "wires cap"
    } else if p.plonk_zs_partial_products_cap != q.plonk_zs_partial_products_cap {
        "Z / partial products cap"
    } else if p.quotient_polys_cap != q.quotient_polys_cap {
        "quotient cap"
    } else if p.openings != q.openings {
        "openings"
    } else if f.commit_phase_merkle_caps != g.commit_phase_merkle_caps {
        "FRI commit-phase caps"
    } else if f.final_poly != g.final_poly {
        "FRI final polynomial"
    } else if f.pow_witness != g.pow_witness {
        "proof-of-work nonce"
    } else {
        "FRI query rounds"
    }
}

fn compress(prover: &CommitProver, chain: &CompressionChain, inner: &Proof) -> Vec<Proof> {
    prover
        .with_step_prover(
            |step| chain.prove_with(inner, Some(step)),
            |e: RecursionError| CompressorError::Compress(e.into()),
        )
        .expect("compression through the zkfleet prover")
}

fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(f)
}

fn backends() -> Vec<Arc<dyn CommitBackend>> {
    // The device run sets ZKFLEET_GPU_ONLY=1: the CPU backend's one-thread proofs are CI's.
    let mut out: Vec<Arc<dyn CommitBackend>> =
        if std::env::var("ZKFLEET_GPU_ONLY").is_ok_and(|v| v == "1") {
            Vec::new()
        } else {
            vec![Arc::new(CpuCommit), Arc::new(HostBatchedCommit)]
        };
    let required = std::env::var("ZKFLEET_REQUIRE_GPU").is_ok_and(|v| v == "1");
    match GpuContext::new() {
        Ok(g) => out.push(Arc::new(GpuCommit::new(g))),
        Err(e) if e.is_unavailable() && !required => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "GPU backend skipped: {e} (set ZKFLEET_REQUIRE_GPU=1 to fail instead)"
            );
        }
        Err(e) => panic!("GPU unusable: {e}"),
    }
    out
}

/// Each step's witness is generated once (plonky2 randomises a few unused wires of the
/// public-input gate per witness generation, so two generations never give the same proof) and
/// proved by plonky2's `prove_with_partition_witness` and by ours on `commit`, on one thread:
/// the bytes must be equal. Returns the chain's proofs (ours).
fn compare_step_by_step(
    commit: &dyn CommitBackend,
    chain: &CompressionChain,
    inner: &Proof,
) -> Vec<Proof> {
    let step_prover: &StepProver<'_> = &|data, pw| {
        let witness = generate_partial_witness(pw, &data.prover_only, &data.common)
            .map_err(|e| e.to_string())?;
        let theirs = plonky2::plonk::prover::prove_with_partition_witness(
            &data.prover_only,
            &data.common,
            witness.clone(),
            &mut TimingTree::default(),
        )
        .map_err(|e| e.to_string())?;
        let ours =
            prover::prove_with_partition_witness(&data.prover_only, &data.common, witness, commit)
                .map_err(|e| e.to_string())?;
        assert!(
            ours.to_bytes() == theirs.to_bytes(),
            "{}: a compression step of 2^{} rows (blowup 2^{}, cap height {}) differs from \
             plonky2's proof: {}",
            commit.name(),
            data.common.degree_bits(),
            data.common.config.fri_config.rate_bits,
            data.common.config.fri_config.cap_height,
            first_difference(&ours, &theirs)
        );
        Ok(ours)
    };
    one_thread(|| chain.prove_with(inner, Some(step_prover))).expect("compression")
}

#[test]
fn compression_through_the_zkfleet_prover_is_plonky2_byte_for_byte() {
    let (inner_data, inner_proof) = inner();
    let chain = CompressionChain::build(
        &default_compression_steps(),
        &inner_data.common,
        &inner_data.verifier_only,
    )
    .expect("chain");
    // The configurations the task names: blowup 2^4 then 2^7, cap height 4.
    let rates: Vec<(usize, usize)> = chain
        .steps()
        .iter()
        .map(|s| {
            let fri = &s.circuit_data().common.config.fri_config;
            (fri.rate_bits, fri.cap_height)
        })
        .collect();
    assert_eq!(rates, vec![(4, 4), (7, 4)]);
    for commit in backends() {
        let name = commit.name();
        let ours = compare_step_by_step(commit.as_ref(), &chain, &inner_proof);
        chain
            .verify_final(ours.last().expect("a final proof"))
            .expect("the final proof verifies");
        // The compressor's own path (`CommitProver`, witness generated inside): every step
        // verified by the chain, the final proof attests the inner proof's public inputs.
        let prover = CommitProver::new(commit);
        let proofs = compress(&prover, &chain, &inner_proof);
        let publics = chain
            .verify_final(proofs.last().expect("a final proof"))
            .expect("the final proof verifies");
        assert_eq!(publics, inner_proof.public_inputs, "{name}");
        if name == "gpu" {
            // Timing on the default pool (the device host's threads): each step proved by
            // plonky2 and by ours on the card (with the step's verification), from the same
            // inner proof, after the warm-up above.
            let mut line = String::new();
            let mut previous = inner_proof.clone();
            for step in chain.steps() {
                let t = Instant::now();
                let theirs = step.prove(&previous).expect("plonky2 step");
                let plonky2_s = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let ours = prover
                    .with_step_prover(
                        |s| step.prove_with(&previous, Some(s)),
                        |e: RecursionError| CompressorError::Compress(e.into()),
                    )
                    .expect("our step");
                let ours_s = t.elapsed().as_secs_f64();
                line += &format!(
                    "{}: 2^{} rows, plonky2 {plonky2_s:.3} s, ours+GPU {ours_s:.3} s ({:.1}x); ",
                    step.name(),
                    step.circuit_data().common.degree_bits(),
                    plonky2_s / ours_s
                );
                previous = theirs;
                drop(ours);
            }
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "compression chain on {} threads (step proving and verification): {line}",
                rayon::current_num_threads()
            );
        }
    }
}

/// Fails every commitment, as a card that lost its device would.
struct Failing;

impl CommitBackend for Failing {
    fn commit_values(
        &self,
        _values: Vec<PolynomialValues<F>>,
        _rate_bits: usize,
        _cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        Err(GpuError::InvalidInput("injected device fault".into()))
    }

    fn commit_coeffs(
        &self,
        _coeffs: Vec<PolynomialCoeffs<F>>,
        _rate_bits: usize,
        _cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        Err(GpuError::InvalidInput("injected device fault".into()))
    }

    fn name(&self) -> &'static str {
        "gpu"
    }
}

#[test]
fn a_backend_fault_fails_the_compression_transiently() {
    let (inner_data, inner_proof) = inner();
    let chain = CompressionChain::build(
        &default_compression_steps(),
        &inner_data.common,
        &inner_data.verifier_only,
    )
    .expect("chain");
    let prover = CommitProver::new(Arc::new(Failing));
    let err = prover
        .with_step_prover(
            |step| chain.prove_with(&inner_proof, Some(step)),
            |e: RecursionError| CompressorError::Compress(e.into()),
        )
        .expect_err("a failing backend cannot compress");
    assert!(
        matches!(err, CompressorError::Gpu { .. }),
        "expected the GPU error, got {err}"
    );
    assert_eq!(err.failure_kind(), FailureKind::Transient);
    assert!(err.to_string().contains("injected device fault"), "{err}");
}

#[test]
fn cpu_backend_is_the_batched_prover_and_plonky2_is_plonky2s() {
    let cpu = select_backend(CompressorBackend::Cpu, 0)
        .expect("cpu starts")
        .expect("backend cpu proves with the zkfleet prover");
    assert_eq!(cpu.backend_name(), HostBatchedCommit.name());
    assert!(
        select_backend(CompressorBackend::Plonky2, 0)
            .expect("plonky2 starts")
            .is_none(),
        "backend plonky2 proves with plonky2's prove"
    );
    assert_eq!(CompressorBackend::default(), CompressorBackend::Cpu);
    for b in [
        CompressorBackend::Cpu,
        CompressorBackend::Plonky2,
        CompressorBackend::Gpu,
    ] {
        assert_eq!(b.to_string().parse::<CompressorBackend>(), Ok(b));
    }
}
