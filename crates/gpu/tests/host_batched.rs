//! The batched CPU commit backend (`HostBatchedCommit`: plonky2's LDE, the Merkle tree hashed
//! eight leaves at a time) makes plonky2's commitments, and proofs through it are plonky2's:
//!
//! - its batches equal `PolynomialBatch::from_values` / `from_coeffs` (coefficients, every
//!   leaf, every digest, the cap) for several shapes;
//! - the zkfleet prover with it proves circuits into the bytes of plonky2's `prove` (one
//!   thread: the same proof-of-work nonce) and, on the default pool, into proofs equal up to the
//!   grinding that verify;
//! - shapes plonky2 would assert on are typed errors;
//! - the same with the hasher forced onto each path this CPU has (`HostBatchedCommitWith`:
//!   scalar, AVX2, AVX-512), FRI's trees included: batches equal plonky2's and proofs are the
//!   bytes of plonky2's.

// The crate's dependencies are the library's; each test binary uses a few of them.
#![allow(unused_crate_dependencies)]

use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::Sample;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::util::timing::TimingTree;
use zkfleet_gpu::backend::Batch;
use zkfleet_gpu::poseidon_x8::{avx512_available, selected_path, HasherPath, Isa};
use zkfleet_gpu::{
    prover, CommitBackend, CpuCommit, GpuError, HostBatchedCommit, HostBatchedCommitWith, F,
};

#[path = "support/toy.rs"]
mod toy;
use toy::toy_circuit;

fn single_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
}

fn assert_same_batch(ours: &Batch, theirs: &Batch, what: &str) {
    assert_eq!(ours.polynomials, theirs.polynomials, "{what}: coefficients");
    assert_eq!(ours.merkle_tree, theirs.merkle_tree, "{what}: Merkle tree");
    assert_eq!(
        (ours.degree_log, ours.rate_bits, ours.blinding),
        (theirs.degree_log, theirs.rate_bits, theirs.blinding),
        "{what}: shape"
    );
}

#[test]
fn batches_equal_plonky2s() {
    // (log2 of the column length, columns, rate bits, cap height): leaves of fewer than five
    // elements (their own digest), of one sponge chunk and of several; trees all cap.
    for (log2, columns, rate_bits, cap_height) in [
        (0, 1, 1, 0),
        (2, 3, 1, 3),
        (3, 8, 2, 0),
        (4, 9, 3, 4),
        (6, 20, 1, 2),
        (8, 135, 3, 4),
    ] {
        let values: Vec<PolynomialValues<F>> = (0..columns)
            .map(|_| PolynomialValues::new(F::rand_vec(1 << log2)))
            .collect();
        let what = format!("2^{log2} x {columns}, rate bits {rate_bits}, cap height {cap_height}");
        let theirs = CpuCommit
            .commit_values(values.clone(), rate_bits, cap_height, None)
            .expect("plonky2 commits");
        let ours = HostBatchedCommit
            .commit_values(values, rate_bits, cap_height, None)
            .expect("batched commit");
        assert_same_batch(&ours, &theirs, &what);
        let coeffs = theirs.polynomials.clone();
        let theirs = CpuCommit
            .commit_coeffs(coeffs.clone(), rate_bits, cap_height, None)
            .expect("plonky2 commits");
        let ours = HostBatchedCommit
            .commit_coeffs(coeffs, rate_bits, cap_height, None)
            .expect("batched commit");
        assert_same_batch(&ours, &theirs, &format!("{what}, from coefficients"));
    }
}

#[test]
fn shapes_plonky2_asserts_on_are_errors() {
    let column = |n: usize| PolynomialValues::new(F::rand_vec(n));
    let cases: [(Vec<PolynomialValues<F>>, usize, &str); 4] = [
        (vec![], 0, "no polynomials"),
        (vec![column(8), column(4)], 0, "polynomial 1 has 4"),
        (vec![column(6)], 0, "not a power of two"),
        (vec![column(8)], 6, "cap height 6"),
    ];
    for (values, cap_height, expected) in cases {
        let coeffs: Vec<PolynomialCoeffs<F>> = values
            .iter()
            .map(|v| PolynomialCoeffs::new(v.values.clone()))
            .collect();
        for result in [
            HostBatchedCommit.commit_values(values, 2, cap_height, None),
            HostBatchedCommit.commit_coeffs(coeffs, 2, cap_height, None),
        ] {
            match result {
                Err(GpuError::InvalidInput(message)) => {
                    assert!(message.contains(expected), "{message:?} names {expected:?}")
                }
                other => panic!("expected InvalidInput({expected}), got {:?}", other.err()),
            }
        }
    }
}

#[test]
fn proofs_through_it_are_plonky2s() {
    eprintln!(
        "hasher path: {} (AVX-512 on this CPU: {})",
        selected_path().isa(),
        avx512_available()
    );
    for (hashes, muls) in [(1, 0), (300, 2000), (1000, 0)] {
        let (data, pw) = toy_circuit(hashes, muls);
        let what = format!(
            "toy {hashes} hashes {muls} muls, 2^{} rows",
            data.common.degree_bits()
        );
        let witness = generate_partial_witness(pw, &data.prover_only, &data.common)
            .expect("witness generation");
        let prove_plonky2 = || {
            plonky2::plonk::prover::prove_with_partition_witness(
                &data.prover_only,
                &data.common,
                witness.clone(),
                &mut TimingTree::default(),
            )
            .expect("plonky2 proves")
        };
        let prove_ours = || {
            prover::prove_with_partition_witness(
                &data.prover_only,
                &data.common,
                witness.clone(),
                &HostBatchedCommit,
            )
            .expect("ours proves")
        };
        let single = single_thread();
        let (theirs, ours) = single.install(|| (prove_plonky2(), prove_ours()));
        assert!(
            ours.to_bytes() == theirs.to_bytes(),
            "{what}: one thread, proof bytes differ from plonky2's"
        );
        data.verify(ours).expect("ours verifies (one thread)");

        // The default pool: plonky2 may pick another proof-of-work nonce, everything before
        // the grinding is fixed.
        let (theirs, ours) = (prove_plonky2(), prove_ours());
        assert_eq!(ours.proof.wires_cap, theirs.proof.wires_cap, "{what}");
        assert_eq!(
            ours.proof.plonk_zs_partial_products_cap, theirs.proof.plonk_zs_partial_products_cap,
            "{what}"
        );
        assert_eq!(
            ours.proof.quotient_polys_cap, theirs.proof.quotient_polys_cap,
            "{what}"
        );
        assert_eq!(ours.proof.openings, theirs.proof.openings, "{what}");
        assert_eq!(
            ours.proof.opening_proof.commit_phase_merkle_caps,
            theirs.proof.opening_proof.commit_phase_merkle_caps,
            "{what}"
        );
        data.verify(ours).expect("ours verifies");
    }
}

#[test]
fn batches_and_proofs_on_each_forced_path_are_plonky2s() {
    let (data, pw) = toy_circuit(300, 2000);
    let witness =
        generate_partial_witness(pw, &data.prover_only, &data.common).expect("witness generation");
    let single = single_thread();
    let theirs = single.install(|| {
        plonky2::plonk::prover::prove_with_partition_witness(
            &data.prover_only,
            &data.common,
            witness.clone(),
            &mut TimingTree::default(),
        )
        .expect("plonky2 proves")
    });
    let values: Vec<PolynomialValues<F>> = (0..135)
        .map(|_| PolynomialValues::new(F::rand_vec(1 << 7)))
        .collect();
    let plonky2_batch = CpuCommit
        .commit_values(values.clone(), 3, 4, None)
        .expect("plonky2 commits");
    let mut ran = Vec::new();
    for isa in Isa::ALL {
        let Ok(path) = HasherPath::new(isa) else {
            eprintln!("skipped: this CPU has no {isa} path");
            continue;
        };
        let backend = HostBatchedCommitWith(path);
        let ours = backend
            .commit_values(values.clone(), 3, 4, None)
            .expect("batched commit");
        assert_same_batch(
            &ours,
            &plonky2_batch,
            &format!("{isa}: 2^7 x 135, rate bits 3"),
        );
        let proof = single.install(|| {
            prover::prove_with_partition_witness(
                &data.prover_only,
                &data.common,
                witness.clone(),
                &backend,
            )
            .expect("ours proves")
        });
        assert!(
            proof.to_bytes() == theirs.to_bytes(),
            "{isa}: one thread, proof bytes differ from plonky2's"
        );
        data.verify(proof).expect("ours verifies");
        ran.push(isa);
    }
    eprintln!("paths proved on: {ran:?}");
    // The scalar path always runs; the build's x86-64-v3 baseline promises AVX2 on x86-64.
    assert!(ran.contains(&Isa::Scalar));
    #[cfg(target_arch = "x86_64")]
    assert!(ran.contains(&Isa::Avx2));
}
