//! Several provers on one card (issue 20): what a host with one circuit prover per card does
//! when two of them are pointed at the same card, and what one circuit prover with
//! `concurrent_proofs > 1` does with its one context.
//!
//! - `two_provers_share_one_card`: four threads prove at the same time through one shared
//!   `GpuCommit` (one context, a CUDA stream per call in flight: the circuit prover's concurrent
//!   proofs; the context must have made more than one stream, and every proof's memory must be
//!   given back), then two threads each through its own `GpuContext` on the same ordinal. Every proof must be byte for byte the
//!   proof plonky2 gives on one thread for the same generated witness. The device script also
//!   runs two processes of this binary at once on the same ordinal (two circuit provers sharing a
//!   card). Needs a GPU: skips, saying so, without one; `ZKFLEET_REQUIRE_GPU=1` makes that a
//!   failure.
//! - `a_proof_over_the_memory_budget_fails_clearly`: a `GpuCommit` with a budget smaller than
//!   one proof fails the proof with `GpuError::MemoryBudget` (transient, nothing evicted), and a
//!   commitment's device memory is what `memory::commit_bytes` counts. Needs a GPU, as above.
//! - `one_process_opens_one_backend_per_card`: `GpuCommit::shared` gives every caller of one
//!   process the same backend (one context, one budget) while any holds it. Needs a GPU, as above.
//! - `an_ordinal_that_does_not_exist_is_a_clear_error`: runs anywhere.
//!
//! `ZKFLEET_GPU_DEVICE` picks the ordinal (default 0), as the circuit prover's `gpu_device`.

// The crate's dependencies are the library's; each test binary uses a few of them.
#![allow(unused_crate_dependencies)]

use std::sync::Arc;

use plonky2::field::polynomial::PolynomialValues;
use plonky2::field::types::{Field, Sample};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::iop::witness::{PartialWitness, PartitionWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::util::timing::TimingTree;
use zkfleet_gpu::backend::{C, D};
use zkfleet_gpu::memory::{commit_bytes, proof_bytes, MemoryBudget};
use zkfleet_gpu::prover::{self, ProveError};
use zkfleet_gpu::{CommitBackend, GpuCommit, GpuContext, GpuError, F};

fn ordinal() -> usize {
    std::env::var("ZKFLEET_GPU_DEVICE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn gpu_required() -> bool {
    std::env::var("ZKFLEET_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// Opens the card, or says why the test is skipped (a failure with `ZKFLEET_REQUIRE_GPU=1`).
fn open_card() -> Option<GpuContext> {
    match GpuContext::with_ordinal(ordinal()) {
        Ok(g) => Some(g),
        Err(e) if e.is_unavailable() && !gpu_required() => {
            eprintln!("skipping GPU test: {e} (set ZKFLEET_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) => panic!("GPU unusable: {e}"),
    }
}

/// `hashes` chained Poseidon permutations and `muls` multiply-adds (Poseidon, arithmetic,
/// constant and public-input gates), with its generated witness.
fn circuit(hashes: usize, muls: usize) -> (CircuitData<F, C, D>, PartitionWitness<'static, F>) {
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let inputs = builder.add_virtual_targets(4);
    builder.register_public_inputs(&inputs);
    let mut state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(inputs.clone());
    for _ in 1..hashes {
        state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(state.elements.to_vec());
    }
    let mut acc = state.elements[0];
    for i in 0..muls {
        let c = builder.constant(F::from_canonical_u64(i as u64 + 3));
        acc = builder.mul_add(acc, inputs[i % 4], c);
    }
    builder.register_public_inputs(&state.elements);
    builder.register_public_input(acc);
    let data = builder.build::<C>();
    let mut pw = PartialWitness::new();
    for (t, v) in inputs.iter().zip(F::rand_vec(4)) {
        pw.set_target(*t, v).expect("fresh target");
    }
    let witness =
        generate_partial_witness(pw, &data.prover_only, &data.common).expect("witness generation");
    // The witness borrows the circuit's representative map; the circuit lives for the test.
    let witness = PartitionWitness {
        values: witness.values,
        representative_map: data.prover_only.representative_map.clone().leak(),
        num_wires: witness.num_wires,
        degree: witness.degree,
    };
    (data, witness)
}

fn one_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
}

struct Case {
    data: CircuitData<F, C, D>,
    witness: PartitionWitness<'static, F>,
    /// plonky2's proof on one thread.
    reference: Vec<u8>,
}

/// Proves every case `rounds` times on `commit`, on a one-thread pool, and returns how many
/// proofs equalled plonky2's byte for byte (the test asserts all of them).
fn prove_all(cases: &[Case], commit: &dyn CommitBackend, rounds: usize, who: &str) -> usize {
    let pool = one_thread();
    let mut equal = 0;
    for round in 0..rounds {
        for (i, case) in cases.iter().enumerate() {
            let proof = pool
                .install(|| {
                    prover::prove_with_partition_witness(
                        &case.data.prover_only,
                        &case.data.common,
                        case.witness.clone(),
                        commit,
                    )
                })
                .unwrap_or_else(|e| panic!("{who}: round {round}, circuit {i}: {e}"));
            assert!(
                proof.to_bytes() == case.reference,
                "{who}: round {round}, circuit {i} (2^{} rows): proof bytes differ from plonky2's",
                case.data.common.degree_bits()
            );
            equal += 1;
        }
    }
    equal
}

#[test]
fn two_provers_share_one_card() {
    let Some(gpu) = open_card() else { return };
    eprintln!(
        "device {} ({}), pid {}",
        ordinal(),
        gpu.device_name(),
        std::process::id()
    );
    let single = one_thread();
    // 2^11 and 2^13 rows (our basic, leaf and node circuits are 2^12-2^13).
    let cases: Vec<Case> = [(300, 2000), (6000, 0)]
        .into_iter()
        .map(|(hashes, muls)| {
            let (data, witness) = circuit(hashes, muls);
            let reference = single
                .install(|| {
                    plonky2::plonk::prover::prove_with_partition_witness(
                        &data.prover_only,
                        &data.common,
                        witness.clone(),
                        &mut TimingTree::default(),
                    )
                })
                .expect("plonky2 proves")
                .to_bytes();
            Case {
                data,
                witness,
                reference,
            }
        })
        .collect();
    let rounds = 2;

    // One context shared by four threads (the circuit prover's concurrent proofs).
    let shared: Arc<GpuCommit> = Arc::new(GpuCommit::new(gpu));
    eprintln!("memory budget: {}", shared.budget());
    let threads = 4;
    let started = std::time::Instant::now();
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let shared = Arc::clone(&shared);
                let cases = &cases;
                s.spawn(move || {
                    prove_all(
                        cases,
                        shared.as_ref(),
                        rounds,
                        &format!("shared, thread {t}"),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("prover thread"))
            .collect()
    });
    let streams = shared.context().streams_made();
    eprintln!(
        "one context, {threads} threads: {counts:?} proofs equal to plonky2's (one thread) byte for byte, {:.1} s, {streams} streams",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(counts, vec![rounds * cases.len(); threads]);
    // Calls in flight at once each took a stream of their own.
    assert!(
        streams > 1,
        "{threads} threads proving at once made {streams} stream(s)"
    );
    // Every proof gave its commitments and its reservation back; only setup data stays.
    assert_eq!(shared.resident_count(), 0, "commitments left on the card");
    assert_eq!(shared.budget().in_use(), shared.setup_bytes());
    drop(shared);

    // Two contexts on the same ordinal, one per thread.
    let started = std::time::Instant::now();
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let cases = &cases;
                s.spawn(move || {
                    let own = GpuCommit::new(
                        GpuContext::with_ordinal(ordinal()).expect("a second context"),
                    );
                    prove_all(cases, &own, rounds, &format!("own context, thread {t}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("prover thread"))
            .collect()
    });
    eprintln!(
        "two contexts, one per thread: {counts:?} proofs equal to plonky2's (one thread) byte for byte, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(counts, vec![rounds * cases.len(); 2]);
}

#[test]
fn a_proof_over_the_memory_budget_fails_clearly() {
    let Some(gpu) = open_card() else { return };
    // A commitment holds on the card exactly what the budget counts for it.
    let (width, log_n, rate_bits, cap_height) = (20, 12, 3, 4);
    let values: Vec<PolynomialValues<F>> = (0..width)
        .map(|_| PolynomialValues::new(F::rand_vec(1 << log_n)))
        .collect();
    let batch = gpu.upload(&values).expect("upload");
    let c = gpu
        .commit_device(&batch, rate_bits, cap_height)
        .expect("commit");
    assert_eq!(
        c.device_bytes() as u64,
        commit_bytes(width, log_n, rate_bits, cap_height, true, false).resident
    );
    drop((c, batch));

    let (data, witness) = circuit(300, 2000);
    let needed = proof_bytes(&data.common).total();
    let small = GpuCommit::with_budget(
        gpu,
        MemoryBudget::new(needed - 1, std::time::Duration::from_millis(100)),
    );
    let err =
        prover::prove_with_partition_witness(&data.prover_only, &data.common, witness, &small)
            .expect_err("a proof larger than the budget");
    match &err {
        ProveError::Commit {
            source: GpuError::MemoryBudget { needed: n, .. },
            ..
        } => assert_eq!(*n, needed),
        other => panic!("expected a memory-budget error, got: {other}"),
    }
    eprintln!("{err}");
    assert_eq!(small.budget().in_use(), 0);
    assert_eq!(small.resident_count(), 0);
}

#[test]
fn an_ordinal_that_does_not_exist_is_a_clear_error() {
    let ordinal = 4096;
    match GpuContext::with_ordinal(ordinal) {
        Ok(g) => panic!(
            "device {ordinal} opened ({}): not expected",
            g.device_name()
        ),
        // A host with cards: the ordinal is a misconfiguration, not "no GPU here".
        Err(e @ GpuError::NoDevice { count, .. }) if count > 0 => {
            assert!(!e.is_unavailable(), "{e}");
            let text = e.to_string();
            assert!(
                text.contains("4096") && text.contains("CUDA_VISIBLE_DEVICES"),
                "{text}"
            );
            eprintln!("{text}");
        }
        // No GPU here (this machine): unavailable, the circuit prover falls back to the CPU.
        Err(e) => {
            assert!(e.is_unavailable(), "expected 'no GPU usable', got: {e}");
            eprintln!("no GPU here: {e}");
        }
    }
}

#[test]
fn one_process_opens_one_backend_per_card() {
    let first = match GpuCommit::shared(ordinal()) {
        Ok(c) => c,
        Err(e) if e.is_unavailable() && !gpu_required() => {
            eprintln!("skipping GPU test: {e} (set ZKFLEET_REQUIRE_GPU=1 to fail instead)");
            return;
        }
        Err(e) => panic!("GPU unusable: {e}"),
    };
    // A circuit prover and a compressor of one process (`zkfleet prove`) both ask for it: the
    // second caller must get the same backend, and so the same memory budget.
    let second = GpuCommit::shared(ordinal()).expect("the card opened once already");
    assert!(Arc::ptr_eq(&first, &second), "a second backend was opened");
    assert!(Arc::ptr_eq(first.budget(), second.budget()));
    let first_address = Arc::as_ptr(&first) as usize;
    drop(first);
    drop(second);
    // Nobody holds it any more: the next caller opens a fresh one (its memory given back), and
    // a card that does not exist is still an error, not another card's backend.
    let fresh = GpuCommit::shared(ordinal()).expect("opens again");
    assert_eq!(fresh.budget().in_use(), 0);
    assert!(GpuCommit::shared(4096).is_err());
    eprintln!(
        "one backend per card: shared twice, reopened after release (first at {first_address:#x}, fresh at {:#x})",
        Arc::as_ptr(&fresh) as usize
    );
}
