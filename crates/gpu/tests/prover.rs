//! The zkfleet prover (`zkfleet_gpu::prover`) against plonky2's `prove`, on the CPU commit
//! backend everywhere and on the GPU backend where a GPU is usable (required with
//! `ZKFLEET_REQUIRE_GPU=1`, as the device script sets).
//!
//! - On one thread both provers find the same proof-of-work nonce (the smallest), so the proofs
//!   must be byte for byte equal.
//! - On the default pool, plonky2's nonce search (`find_any`) may pick another nonce; every
//!   commitment cap, every opening, the FRI commit-phase caps and the final polynomial (all fixed
//!   before the grinding) must still be equal, and the proof must verify.

// The crate's dependencies are the library's; each test binary uses a few of them.
#![allow(unused_crate_dependencies)]

use plonky2::field::types::{Field, Sample};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::iop::witness::{PartialWitness, PartitionWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::util::timing::TimingTree;
use zkfleet_gpu::backend::{C, D};
use zkfleet_gpu::prover::{self, ProveError};
use zkfleet_gpu::{CommitBackend, CpuCommit, GpuCommit, GpuContext, F};

type Proof = ProofWithPublicInputs<F, C, D>;

fn backends() -> Vec<Box<dyn CommitBackend>> {
    let mut out: Vec<Box<dyn CommitBackend>> =
        vec![Box::new(CpuCommit), Box::new(HostKept::default())];
    let required = std::env::var("ZKFLEET_REQUIRE_GPU").is_ok_and(|v| v == "1");
    match GpuContext::new() {
        Ok(g) => out.push(Box::new(GpuCommit::new(g))),
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

/// A circuit of `hashes` Poseidon permutations chained, plus `muls` multiply-adds, with public
/// inputs at both ends: Poseidon, arithmetic, constant and public-input gates.
fn toy_circuit(hashes: usize, muls: usize) -> (CircuitData<F, C, D>, PartialWitness<F>) {
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
    (data, pw)
}

/// A circuit that verifies a proof of `inner` (the recursion gadgets our leaf/node circuits
/// use: Poseidon, Poseidon MDS, arithmetic and multiplication extension, random access, reducing,
/// coset interpolation, base sum gates).
fn recursive_circuit(
    inner: &CircuitData<F, C, D>,
    inner_proof: &Proof,
) -> (CircuitData<F, C, D>, PartialWitness<F>) {
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let proof_t = builder.add_virtual_proof_with_pis(&inner.common);
    let vd = builder.constant_verifier_data(&inner.verifier_only);
    builder.verify_proof::<C>(&proof_t, &vd, &inner.common);
    builder.register_public_inputs(&proof_t.public_inputs);
    let data = builder.build::<C>();
    let mut pw = PartialWitness::new();
    pw.set_proof_with_pis_target(&proof_t, inner_proof)
        .expect("fresh targets");
    (data, pw)
}

fn assert_same_before_grinding(ours: &Proof, theirs: &Proof, what: &str) {
    assert_eq!(
        ours.public_inputs, theirs.public_inputs,
        "{what}: public inputs"
    );
    let (a, b) = (&ours.proof, &theirs.proof);
    assert_eq!(a.wires_cap, b.wires_cap, "{what}: wires cap");
    assert_eq!(
        a.plonk_zs_partial_products_cap, b.plonk_zs_partial_products_cap,
        "{what}: Z / partial products cap"
    );
    assert_eq!(
        a.quotient_polys_cap, b.quotient_polys_cap,
        "{what}: quotient cap"
    );
    assert_eq!(a.openings, b.openings, "{what}: openings");
    assert_eq!(
        a.opening_proof.commit_phase_merkle_caps, b.opening_proof.commit_phase_merkle_caps,
        "{what}: FRI commit-phase caps"
    );
    assert_eq!(
        a.opening_proof.final_poly, b.opening_proof.final_poly,
        "{what}: FRI final polynomial"
    );
}

fn plonky2_prove(data: &CircuitData<F, C, D>, witness: &PartitionWitness<F>) -> Proof {
    plonky2::plonk::prover::prove_with_partition_witness(
        &data.prover_only,
        &data.common,
        witness.clone(),
        &mut TimingTree::default(),
    )
    .expect("plonky2 proves")
}

/// Proves one generated witness with plonky2 and with ours on every backend, single-threaded
/// (byte-identical) and on the default pool (equal up to the grinding), and verifies ours.
///
/// The witness is generated once: plonky2's circuits put random values into the public-input
/// gate's unused wires during witness generation (`randomize_unused_pi_wires`), so `prove` from
/// a `PartialWitness` is not deterministic; from the generated witness (what a witness-vector
/// generator hands the prover) it is.
///
/// `device_quotient`: whether the GPU backend (and `HostKept`, its CPU stand-in) must evaluate
/// the quotient itself (every gate of the circuit has a kernel); the CPU backend never does.
fn check_circuit(
    data: &CircuitData<F, C, D>,
    pw: &PartialWitness<F>,
    what: &str,
    device_quotient: bool,
) {
    let witness = generate_partial_witness(pw.clone(), &data.prover_only, &data.common)
        .expect("witness generation");
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let reference = single.install(|| plonky2_prove(data, &witness));
    let reference_bytes = reference.to_bytes();
    let again = single.install(|| plonky2_prove(data, &witness));
    assert!(
        again.to_bytes() == reference_bytes,
        "{what}: plonky2 itself is not deterministic on one thread"
    );
    let parallel_reference = plonky2_prove(data, &witness);
    for backend in backends() {
        let label = format!("{what}, {} backend", backend.name());
        let (ours, phases) = single.install(|| {
            prover::prove_timed(
                &data.prover_only,
                &data.common,
                witness.clone(),
                backend.as_ref(),
            )
            .expect("ours proves")
        });
        assert_eq!(
            phases.quotient_on_device,
            device_quotient && backend.name() != "cpu",
            "{label}: where the quotient was evaluated"
        );
        assert_eq!(
            phases.quotient_ifft_on_device,
            device_quotient && backend.name() == "gpu",
            "{label}: where the quotient was interpolated"
        );
        assert_eq!(
            phases.permutation_on_device,
            backend.name() == "gpu",
            "{label}: where Z and the partial products were computed"
        );
        assert_eq!(
            phases.fri_commit_on_device,
            backend.name() == "gpu",
            "{label}: where FRI's folding and its layers ran"
        );
        assert_same_before_grinding(&ours, &reference, &label);
        assert!(
            ours.to_bytes() == reference_bytes,
            "{label}: one thread, proof bytes differ from plonky2's"
        );
        data.verify(ours).expect("ours verifies (one thread)");

        let ours = prover::prove_with_partition_witness(
            &data.prover_only,
            &data.common,
            witness.clone(),
            backend.as_ref(),
        )
        .expect("ours proves");
        assert_same_before_grinding(&ours, &parallel_reference, &label);
        data.verify(ours.clone()).expect("ours verifies");
        eprintln!(
            "{label}: 2^{} rows, {} proof bytes, quotient on the {}, equal to plonky2 (one thread: byte for byte)",
            data.common.degree_bits(),
            ours.to_bytes().len(),
            if phases.quotient_on_device { "backend" } else { "prover's CPU code" },
        );
    }
}

#[test]
fn toy_circuits_prove_like_plonky2() {
    for (hashes, muls) in [(1, 0), (40, 100), (300, 2000)] {
        let (data, pw) = toy_circuit(hashes, muls);
        check_circuit(
            &data,
            &pw,
            &format!("toy {hashes} hashes {muls} muls"),
            true,
        );
    }
}

#[test]
fn recursive_circuit_proves_like_plonky2() {
    let (inner, pw) = toy_circuit(20, 50);
    let inner_proof = inner.prove(pw).expect("inner proves");
    let (outer, pw) = recursive_circuit(&inner, &inner_proof);
    // Extension-field, interpolation, reducing, random-access, ... gates (those of our leaf and
    // node circuits): the quotient runs on the card too.
    check_circuit(&outer, &pw, "recursive verifier", true);
}

/// The proof-of-work search before this change: plonky2's `Challenger` cloned per candidate,
/// chunks of 2^12 in order, the first hit of a chunk (what `fri.rs` did until the transcript).
fn pow_with_plonky2_challenger(
    challenger: &plonky2::iop::challenger::Challenger<F, PoseidonHash>,
    bits: u32,
) -> u64 {
    use plonky2::field::types::PrimeField64;
    use rayon::prelude::*;
    let mut start = 0u64;
    loop {
        let found = (start..start + (1 << 12)).into_par_iter().find_first(|&c| {
            let mut t = challenger.clone();
            t.observe_element(F::from_canonical_u64(c));
            t.get_challenge().to_canonical_u64().leading_zeros() >= bits
        });
        if let Some(n) = found {
            return n;
        }
        start += 1 << 12;
    }
}

/// FRI's proof-of-work nonce from our transcript, searched on the host and (where a GPU is
/// usable) on the card, equals the smallest nonce plonky2's own challenger accepts, found the
/// way the prover searched before the transcript; prints the three searches' median times at
/// plonky2's 16 bits on the card's machine (12 bits without a GPU, to keep CI short).
#[test]
fn pow_search_gives_the_smallest_nonce_on_host_and_card() {
    use zkfleet_gpu::challenger::{search_cpu, Transcript};
    let required = std::env::var("ZKFLEET_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let gpu = match GpuContext::new() {
        Ok(g) => Some(g),
        Err(e) if e.is_unavailable() && !required => None,
        Err(e) => panic!("GPU unusable: {e}"),
    };
    let (bits, rounds) = if gpu.is_some() { (16, 9) } else { (12, 3) };
    let mut theirs = plonky2::iop::challenger::Challenger::<F, PoseidonHash>::new();
    let mut ours = Transcript::new();
    let (mut before, mut host, mut card) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(g) = &gpu {
        // Warm-up: the first launch loads the module's kernel.
        g.pow_search(&ours.pow_start(), 1)
            .expect("pow search on the card");
    }
    for round in 0..rounds {
        let e = F::rand_vec(round % 11 + 1);
        theirs.observe_elements(&e);
        ours.observe_elements(&e);
        let start = ours.pow_start();
        let t = std::time::Instant::now();
        let expected = pow_with_plonky2_challenger(&theirs, bits);
        before.push(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        assert_eq!(
            search_cpu(&start, bits),
            Some(expected),
            "round {round}: host"
        );
        host.push(t.elapsed().as_secs_f64());
        if let Some(g) = &gpu {
            let t = std::time::Instant::now();
            let n = g.pow_search(&start, bits).expect("pow search on the card");
            card.push(t.elapsed().as_secs_f64());
            assert_eq!(n, expected, "round {round}: card");
        }
    }
    let med = |v: &mut Vec<f64>| {
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "pow search, {bits} bits, {rounds} transcripts, {} threads: plonky2 challenger clones \
         (before) median {:.4} s, transcript on the host {:.4} s, on the card {:.5} s",
        rayon::current_num_threads(),
        med(&mut before),
        med(&mut host),
        med(&mut card),
    );
}

#[test]
fn unsatisfied_witness_is_an_error_not_a_panic() {
    // x * x == y with a wrong y: plonky2's witness generation accepts the assignment (y is not
    // generated), the quotient does not divide and the prover says so.
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let x = builder.add_virtual_target();
    let y = builder.add_virtual_target();
    let xx = builder.mul(x, x);
    builder.connect(xx, y);
    builder.register_public_input(y);
    let data = builder.build::<C>();
    let mut pw = PartialWitness::new();
    pw.set_target(x, F::from_canonical_u64(3)).unwrap();
    pw.set_target(y, F::from_canonical_u64(10)).unwrap();
    for backend in backends() {
        let r = prover::prove(
            &data.prover_only,
            &data.common,
            pw.clone(),
            backend.as_ref(),
        );
        assert!(
            matches!(r, Err(ProveError::Witness(_)) | Err(ProveError::Proving(_))),
            "{}: {r:?}",
            backend.name()
        );
    }
}

#[test]
fn zero_knowledge_configurations_are_refused() {
    let config = CircuitConfig {
        zero_knowledge: true,
        ..CircuitConfig::standard_recursion_config()
    };
    let mut builder = CircuitBuilder::<F, D>::new(config);
    let x = builder.add_virtual_target();
    builder.register_public_input(x);
    let data = builder.build::<C>();
    let mut pw = PartialWitness::new();
    pw.set_target(x, F::ONE).unwrap();
    let r = prover::prove(&data.prover_only, &data.common, pw, &CpuCommit);
    assert!(matches!(r, Err(ProveError::Unsupported(_))), "{r:?}");
}

/// Records what the prover asks of its commitment backend (plonky2's CPU commitments below);
/// with `fail_at: Some(k)`, the k-th commitment (from 1) fails as a lost device would.
#[derive(Default)]
struct Recorder {
    calls: std::sync::Mutex<Vec<String>>,
    fail_at: Option<usize>,
}

impl Recorder {
    fn fail_now(&self) -> Result<(), zkfleet_gpu::GpuError> {
        let commits = self
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with("commit"))
            .count();
        if self.fail_at == Some(commits) {
            return Err(zkfleet_gpu::GpuError::InvalidInput(
                "injected failure".into(),
            ));
        }
        Ok(())
    }
}

impl Recorder {
    fn push(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

impl CommitBackend for Recorder {
    fn commit_values(
        &self,
        values: Vec<plonky2::field::polynomial::PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        roots: Option<&plonky2::field::fft::FftRootTable<F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        self.push("commit".into());
        self.fail_now()?;
        CpuCommit.commit_values(values, rate_bits, cap_height, roots)
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<plonky2::field::polynomial::PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        roots: Option<&plonky2::field::fft::FftRootTable<F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        self.push("commit coeffs".into());
        self.fail_now()?;
        CpuCommit.commit_coeffs(coeffs, rate_bits, cap_height, roots)
    }

    fn name(&self) -> &'static str {
        "recorder"
    }

    fn quotient_values(
        &self,
        _: &zkfleet_gpu::backend::QuotientInputs<'_>,
    ) -> Option<Result<Vec<plonky2::field::polynomial::PolynomialValues<F>>, zkfleet_gpu::GpuError>>
    {
        self.push("quotient".into());
        None
    }

    fn release(&self, caps: &[&plonky2::hash::merkle_tree::MerkleCap<F, PoseidonHash>]) {
        self.push(format!("release {}", caps.len()));
    }
}

type Cap = plonky2::hash::merkle_tree::MerkleCap<F, PoseidonHash>;

/// The GPU backend's contract on the CPU: `*_resident` commits keep plonky2's full batch here
/// and hand the prover only the coefficients and the cap (no rows, no digests), the quotient is
/// evaluated here from the kept rows, and FRI's queries open the kept trees
/// (`open_rows`), as `GpuCommit` does on the card.
#[derive(Default)]
struct HostKept {
    kept: std::sync::Mutex<Vec<zkfleet_gpu::backend::Batch>>,
    opened: std::sync::atomic::AtomicUsize,
}

impl HostKept {
    fn keep(&self, full: zkfleet_gpu::backend::Batch) -> zkfleet_gpu::backend::Batch {
        let lean = zkfleet_gpu::backend::Batch {
            polynomials: full.polynomials.clone(),
            merkle_tree: plonky2::hash::merkle_tree::MerkleTree {
                leaves: Vec::new(),
                digests: Vec::new(),
                cap: full.merkle_tree.cap.clone(),
            },
            degree_log: full.degree_log,
            rate_bits: full.rate_bits,
            blinding: false,
        };
        self.kept.lock().unwrap().push(full);
        lean
    }

    fn find(&self, cap: &Cap) -> Option<zkfleet_gpu::backend::Batch> {
        let kept = self.kept.lock().unwrap();
        kept.iter()
            .find(|b| &b.merkle_tree.cap == cap)
            .map(|b| zkfleet_gpu::backend::Batch {
                polynomials: b.polynomials.clone(),
                merkle_tree: b.merkle_tree.clone(),
                degree_log: b.degree_log,
                rate_bits: b.rate_bits,
                blinding: false,
            })
    }
}

impl CommitBackend for HostKept {
    fn commit_values(
        &self,
        values: Vec<plonky2::field::polynomial::PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        roots: Option<&plonky2::field::fft::FftRootTable<F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        CpuCommit.commit_values(values, rate_bits, cap_height, roots)
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<plonky2::field::polynomial::PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        roots: Option<&plonky2::field::fft::FftRootTable<F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        CpuCommit.commit_coeffs(coeffs, rate_bits, cap_height, roots)
    }

    fn name(&self) -> &'static str {
        "host-kept"
    }

    fn commit_values_resident(
        &self,
        values: Vec<plonky2::field::polynomial::PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        roots: Option<&plonky2::field::fft::FftRootTable<F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        let full = CpuCommit.commit_values(values, rate_bits, cap_height, roots)?;
        Ok(self.keep(full))
    }

    fn commit_coeffs_resident(
        &self,
        coeffs: Vec<plonky2::field::polynomial::PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        roots: Option<&plonky2::field::fft::FftRootTable<F>>,
    ) -> Result<zkfleet_gpu::backend::Batch, zkfleet_gpu::GpuError> {
        let full = CpuCommit.commit_coeffs(coeffs, rate_bits, cap_height, roots)?;
        Ok(self.keep(full))
    }

    fn quotient_values(
        &self,
        q: &zkfleet_gpu::backend::QuotientInputs<'_>,
    ) -> Option<Result<Vec<plonky2::field::polynomial::PolynomialValues<F>>, zkfleet_gpu::GpuError>>
    {
        let wires = self.find(q.wires_cap).expect("wires kept");
        let zs = self.find(q.zs_cap).expect("zs kept");
        Some(
            prover::quotient_values_on_cpu(q, &wires, &zs)
                .map_err(|e| zkfleet_gpu::GpuError::InvalidInput(e.to_string())),
        )
    }

    fn open_rows(
        &self,
        cap: &Cap,
        indices: &[usize],
    ) -> Result<
        Vec<(
            Vec<F>,
            plonky2::hash::merkle_proofs::MerkleProof<F, PoseidonHash>,
        )>,
        zkfleet_gpu::GpuError,
    > {
        let full = self
            .find(cap)
            .ok_or_else(|| zkfleet_gpu::GpuError::InvalidInput("not kept".into()))?;
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(indices
            .iter()
            .map(|&i| (full.merkle_tree.get(i).to_vec(), full.merkle_tree.prove(i)))
            .collect())
    }

    fn release(&self, caps: &[&Cap]) {
        let mut kept = self.kept.lock().unwrap();
        for cap in caps {
            if let Some(at) = kept.iter().position(|b| &b.merkle_tree.cap == *cap) {
                kept.remove(at);
            }
        }
    }
}

/// A backend keeps a proof's commitments for its quotient only where the card can evaluate it:
/// for a circuit the kernel cannot take (here 5 challenges; the kernel takes 1 to 4), each
/// commitment is released right after it is made and the backend is never asked for the
/// quotient; for one it can take, both stay until the quotient is done.
#[test]
fn commitments_are_kept_for_the_quotient_only_where_the_card_can_evaluate_it() {
    let prove = |config: CircuitConfig| {
        let mut builder = CircuitBuilder::<F, D>::new(config);
        let x = builder.add_virtual_target();
        let h = builder.hash_n_to_hash_no_pad::<PoseidonHash>(vec![x]);
        builder.register_public_inputs(&h.elements);
        let data = builder.build::<C>();
        let mut pw = PartialWitness::new();
        pw.set_target(x, F::ONE).unwrap();
        let recorder = Recorder::default();
        let proof =
            prover::prove(&data.prover_only, &data.common, pw, &recorder).expect("ours proves");
        data.verify(proof).expect("verifies");
        recorder.calls.into_inner().unwrap()
    };
    let standard = CircuitConfig::standard_recursion_config();
    assert_eq!(
        prove(standard.clone()),
        ["commit", "commit", "quotient", "commit coeffs", "release 3"]
    );
    let five = CircuitConfig {
        num_challenges: 5,
        ..standard
    };
    assert_eq!(
        prove(five),
        [
            "commit",
            "release 1",
            "commit",
            "release 1",
            "commit coeffs"
        ]
    );
}

/// A commitment that fails after an earlier one was kept on the device (here the Z / partial
/// products commitment after the wires') still releases what was kept: the proof's error path
/// leaks no device copy.
#[test]
fn a_failed_commitment_releases_what_the_proof_kept() {
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let x = builder.add_virtual_target();
    let h = builder.hash_n_to_hash_no_pad::<PoseidonHash>(vec![x]);
    builder.register_public_inputs(&h.elements);
    let data = builder.build::<C>();
    for (fail_at, expected) in [
        (2, &["commit", "commit", "release 1"][..]),
        (
            3,
            &["commit", "commit", "quotient", "commit coeffs", "release 2"][..],
        ),
    ] {
        let mut pw = PartialWitness::new();
        pw.set_target(x, F::ONE).unwrap();
        let recorder = Recorder {
            fail_at: Some(fail_at),
            ..Recorder::default()
        };
        let r = prover::prove(&data.prover_only, &data.common, pw, &recorder);
        assert!(matches!(r, Err(ProveError::Commit { .. })), "{r:?}");
        assert_eq!(recorder.calls.into_inner().unwrap(), expected);
    }
}

/// The prover's path for a backend that keeps rows and trees off the host, on the CPU: every
/// proof of `HostKept` equals plonky2's (in `check_circuit`), its query rounds opened the kept
/// trees, and every kept commitment was released when its proof ended.
#[test]
fn kept_commitments_are_opened_by_the_backend_and_released() {
    let (data, pw) = toy_circuit(40, 100);
    let backend = HostKept::default();
    let (proof, phases) = prover::prove_timed(
        &data.prover_only,
        &data.common,
        generate_partial_witness(pw, &data.prover_only, &data.common).unwrap(),
        &backend,
    )
    .expect("proves");
    assert!(phases.quotient_on_device);
    data.verify(proof).expect("verifies");
    assert_eq!(
        backend.opened.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "wires, Z and quotient trees opened through the backend"
    );
    assert!(backend.kept.lock().unwrap().is_empty(), "all released");
}

/// A bench circuit: name, circuit data, inputs, seconds to build.
type BenchCircuit = (String, CircuitData<F, C, D>, PartialWitness<F>, f64);

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The `gpu` prove bench (run by `scripts/device-run.sh` on the GPU machine): for each circuit,
/// plonky2's `prove_with_partition_witness` on the default pool (`RAYON_NUM_THREADS`) against
/// ours with the GPU commitments, same generated witness, medians; every GPU proof is checked
/// against plonky2's (caps, openings, FRI commit caps) and verified. Circuits: a recursive
/// verifier (the shape of our leaf/node circuits) and Poseidon chains of 2^k rows, k from
/// `ZKFLEET_GPU_PROVE_SIZES` (default "16,18"). JSON to `$ZKFLEET_GPU_PROVE_BENCH_JSON`.
#[test]
#[ignore = "benchmark: needs a GPU and minutes of CPU time (scripts/device-prove.sh runs it)"]
fn bench_prove() {
    let Some(gpu) = backends().into_iter().find(|b| b.name() == "gpu") else {
        return;
    };
    let runs: usize = std::env::var("ZKFLEET_GPU_PROVE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let sizes: Vec<usize> = std::env::var("ZKFLEET_GPU_PROVE_SIZES")
        .unwrap_or_else(|_| "16,18".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut circuits: Vec<BenchCircuit> = Vec::new();
    let t = std::time::Instant::now();
    let (inner, pw) = toy_circuit(20, 50);
    let inner_proof = inner.prove(pw).expect("inner proves");
    let (outer, pw) = recursive_circuit(&inner, &inner_proof);
    circuits.push((
        "recursive verifier".into(),
        outer,
        pw,
        t.elapsed().as_secs_f64(),
    ));
    for &k in &sizes {
        let t = std::time::Instant::now();
        let (data, pw) = toy_circuit((1usize << k) * 3 / 4, 0);
        assert_eq!(data.common.degree_bits(), k, "synthetic circuit size");
        circuits.push((
            format!("poseidon chain 2^{k}"),
            data,
            pw,
            t.elapsed().as_secs_f64(),
        ));
    }
    let mut results = Vec::new();
    for (name, data, pw, build_s) in &circuits {
        let witness = generate_partial_witness(pw.clone(), &data.prover_only, &data.common)
            .expect("witness generation");
        let mut cpu = Vec::new();
        let mut reference = None;
        // Each prover takes its witness by value: the clone is made before the clock starts, on
        // both sides (a prover in production is handed the witness, not a copy of it; until
        // the per-proof step of issue 17 both sides' times included the clone).
        for _ in 0..runs {
            let input = witness.clone();
            let t = std::time::Instant::now();
            let p = plonky2::plonk::prover::prove_with_partition_witness(
                &data.prover_only,
                &data.common,
                input,
                &mut TimingTree::default(),
            )
            .expect("plonky2 proves");
            cpu.push(t.elapsed().as_secs_f64());
            reference = Some(p);
        }
        let reference = reference.expect("runs >= 1");
        // Warm-up: module, twiddle tables and pinned buffers for this size.
        prover::prove_with_partition_witness(
            &data.prover_only,
            &data.common,
            witness.clone(),
            gpu.as_ref(),
        )
        .expect("gpu proves");
        let mut gpu_times = Vec::new();
        let mut phases = Vec::new();
        for _ in 0..runs {
            let input = witness.clone();
            let t = std::time::Instant::now();
            let (p, ph) = prover::prove_timed(&data.prover_only, &data.common, input, gpu.as_ref())
                .expect("gpu proves");
            gpu_times.push(t.elapsed().as_secs_f64());
            phases.push(ph);
            assert_same_before_grinding(&p, &reference, name);
            data.verify(p).expect("gpu proof verifies");
        }
        let cpu_runs = cpu.clone();
        let gpu_runs = gpu_times.clone();
        let cpu_med = median(&mut cpu);
        let gpu_med = median(&mut gpu_times);
        let mid = gpu_runs
            .iter()
            .position(|&x| x == gpu_med)
            .expect("median is a run");
        let ph = phases[mid];
        let phases_sum = ph.witness_s
            + ph.commits_s()
            + ph.partial_products_s
            + ph.quotient_s
            + ph.openings_s
            + ph.fri_s
            + ph.release_s;
        eprintln!(
            "{name}: 2^{} rows: plonky2 {cpu_med:.3} s {cpu_runs:?}, ours+GPU {gpu_med:.3} s {gpu_runs:?}, {:.2}x; GPU run phases: commits {:.3} s (wires {:.3}, Z {:.3}, quotient {:.3}), witness columns {:.3} s, Z/partial products {:.3} s (on the {}), quotient {:.3} s (on the {}; coset iFFT on the {}, host part {:.3} s), openings {:.3} s, FRI {:.3} s (combination+LDE {:.3}, commit phase on the {} {:.3}, PoW {:.4}, queries {:.3}), release {:.3} s, outside the phases (freeing the commitments) {:.3} s",
            data.common.degree_bits(),
            cpu_med / gpu_med,
            ph.commits_s(),
            ph.wires_commit_s,
            ph.zs_commit_s,
            ph.quotient_commit_s,
            ph.witness_s,
            ph.partial_products_s,
            if ph.permutation_on_device { "GPU" } else { "CPU" },
            ph.quotient_s,
            if ph.quotient_on_device { "GPU" } else { "CPU" },
            if ph.quotient_ifft_on_device { "GPU" } else { "CPU" },
            ph.quotient_ifft_s,
            ph.openings_s,
            ph.fri_s,
            ph.fri_combine_s,
            if ph.fri_commit_on_device { "GPU" } else { "CPU" },
            ph.fri_commit_phase_s,
            ph.pow_s,
            ph.fri_queries_s,
            ph.release_s,
            gpu_med - phases_sum,
        );
        results.push(serde_json::json!({
            "circuit": name,
            "degree_bits": data.common.degree_bits(),
            "build_s": build_s,
            "plonky2_prove_runs_s": cpu_runs,
            "plonky2_prove_median_s": cpu_med,
            "gpu_prove_runs_s": gpu_runs,
            "gpu_prove_median_s": gpu_med,
            "speedup": cpu_med / gpu_med,
            "gpu_median_run_phases_s": ph,
        }));
    }
    let json = serde_json::json!({
        "bench": "gpu prove: plonky2 prove_with_partition_witness vs zkfleet prover with GPU commitments",
        "rayon_threads": rayon::current_num_threads(),
        "witness_clone_timed": false,
        "runs": runs,
        "results": results,
    });
    let text = serde_json::to_string_pretty(&json).expect("json");
    println!("{text}");
    if let Ok(path) = std::env::var("ZKFLEET_GPU_PROVE_BENCH_JSON") {
        std::fs::write(path, text).expect("write bench json");
    }
}
