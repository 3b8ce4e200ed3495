//! The final verifying key is authenticated, and the final proof is read safely.
//!
//! Issue 14's second finding: plonky2's circuit digest does not cover the common circuit data,
//! and its verifier obeys the FRI parameters it is given, so a key file edited to zero
//! challenges and zero query rounds accepts an all-zero proof of any statement. These tests show
//! the attack against plonky2 itself, then that `FinalVerifyingKey` refuses it: every byte of the
//! file is covered by the pinned digest (checked before parsing), and the verification rules are
//! fixed in code. They also show that no mutation of a key or a proof makes loading or
//! verifying panic or run unbounded.
//!
//! The fixture is a small circuit with the batch output's 33 public inputs, compressed by the
//! real `light` compression chain, so the final key and proof are of a real final circuit
//! without proving a batch.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use plonky2::field::types::Field;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::util::serialization::DefaultGateSerializer;
use sha2::{Digest as _, Sha256};
use zkfleet_circuits::pipeline::{final_vk_file_digest, FinalKeyError, FinalVerifyingKey};
use zkfleet_circuits::recursion::{batch_public_inputs, CompressionChain, CompressionProfile};
use zkfleet_circuits::{C, D, F};
use zkfleet_types::{BatchNumber, BatchPublicOutput, ChainId, HashDigest};

struct Fixture {
    output: BatchPublicOutput,
    /// The final key file's bytes and the final proof's.
    key_file: Vec<u8>,
    proof: Vec<u8>,
    /// A circuit unrelated to the final key, with the same 33 public inputs, and its proof.
    other: CircuitData<F, C, D>,
    other_proof: ProofWithPublicInputs<F, C, D>,
}

fn output() -> BatchPublicOutput {
    let d = |k: u64| HashDigest([k, k + 1, k + 2, k + 3]);
    BatchPublicOutput {
        chain_id: ChainId(270),
        batch_number: BatchNumber(7),
        prev_state_root: d(10),
        new_state_root: d(20),
        operations_commitment: d(30),
        deposits_consumed: 2,
        deposits_commitment: d(40),
        withdrawals_commitment: d(50),
        pubdata_commitment: d(60),
        recursion_tree_vk_digest: d(70),
    }
}

/// A circuit exposing 33 public inputs; `salt` makes two such circuits differ.
fn statement_circuit(salt: u64) -> CircuitData<F, C, D> {
    let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let inputs = b.add_virtual_targets(33);
    let salt = b.constant(F::from_canonical_u64(salt));
    let sum = b.add_many(inputs.iter().copied());
    let _ = b.mul(sum, salt);
    b.register_public_inputs(&inputs);
    b.build::<C>()
}

fn prove_statement(data: &CircuitData<F, C, D>, values: &[F]) -> ProofWithPublicInputs<F, C, D> {
    let mut pw = PartialWitness::new();
    for (t, v) in data.prover_only.public_inputs.iter().zip(values) {
        pw.set_target(*t, *v).expect("set a public input");
    }
    data.prove(pw).expect("the statement circuit proves")
}

fn file_bytes(data: &VerifierCircuitData<F, C, D>) -> Vec<u8> {
    let mut out = b"ZKVK".to_vec();
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend(data.to_bytes(&DefaultGateSerializer).expect("encode"));
    out
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let output = output();
        let values = batch_public_inputs(&output).expect("a canonical output");
        let inner = statement_circuit(1);
        let inner_proof = prove_statement(&inner, &values);
        let chain = CompressionChain::build(
            &CompressionProfile::Light.steps(),
            &inner.common,
            &inner.verifier_only,
        )
        .expect("the light chain builds");
        let proofs = chain.prove(&inner_proof).expect("the chain proves");
        let final_proof = proofs.last().expect("a final proof").to_bytes();
        let key = FinalVerifyingKey::of_final_circuit(chain.final_circuit().circuit_data())
            .expect("the key encodes");
        let other = statement_circuit(2);
        let other_proof = prove_statement(&other, &values);
        Fixture {
            output,
            key_file: key.to_bytes().to_vec(),
            proof: final_proof,
            other,
            other_proof,
        }
    })
}

fn pinned() -> zkfleet_types::VkDigest {
    final_vk_file_digest(&fixture().key_file)
}

#[test]
fn the_pinned_key_is_the_sha256_of_the_file_and_verifies_the_final_proof() {
    let f = fixture();
    assert_eq!(
        pinned().0.to_hex(),
        hex::encode(Sha256::digest(&f.key_file)),
        "the digest operators pin is `sha256sum final_vk.bin`"
    );
    let key = FinalVerifyingKey::from_pinned_bytes(&f.key_file, pinned()).expect("pinned key");
    assert_eq!(key.digest(), pinned());
    assert_eq!(
        key.verify(&f.proof).expect("the final proof verifies"),
        f.output
    );
}

#[test]
fn every_single_byte_change_of_the_key_file_is_refused_before_parsing() {
    let f = fixture();
    for offset in 0..f.key_file.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut edited = f.key_file.clone();
            edited[offset] ^= flip;
            match FinalVerifyingKey::from_pinned_bytes(&edited, pinned()) {
                Err(FinalKeyError::NotPinned { expected, found }) => {
                    assert_eq!(expected, pinned());
                    assert_ne!(found, pinned());
                }
                other => panic!("byte {offset} ^ {flip:#x}: {other:?}"),
            }
        }
    }
    let mut longer = f.key_file.clone();
    longer.push(0);
    let shorter = &f.key_file[..f.key_file.len() - 1];
    for edited in [&longer[..], shorter, &[][..]] {
        assert!(matches!(
            FinalVerifyingKey::from_pinned_bytes(edited, pinned()),
            Err(FinalKeyError::NotPinned { .. })
        ));
    }
    let huge = vec![0u8; 10 * 1024 * 1024];
    assert!(matches!(
        FinalVerifyingKey::from_pinned_bytes(&huge, pinned()),
        Err(FinalKeyError::KeyTooLarge { .. })
    ));
}

/// The key of the finding: the genuine final key with no challenges, no query rounds and no
/// proof of work, and an all-zero proof that claims `claimed` as its public inputs.
fn weakened_key_and_forged_proof(claimed: &[F]) -> (Vec<u8>, Vec<u8>) {
    let f = fixture();
    let mut data = VerifierCircuitData::<F, C, D>::from_bytes(
        f.key_file[6..].to_vec(),
        &DefaultGateSerializer,
    )
    .expect("the genuine key decodes");
    for config in [
        &mut data.common.config.fri_config,
        &mut data.common.fri_params.config,
    ] {
        config.num_query_rounds = 0;
        config.proof_of_work_bits = 0;
    }
    data.common.config.num_challenges = 0;
    // An all-zero proof of the weakened shape: the shortest zero buffer plonky2 decodes as a
    // proof (with no public inputs), then the claimed public inputs.
    let proof_len = (0..64 * 1024)
        .find(|&n| ProofWithPublicInputs::<F, C, D>::from_bytes(vec![0; n], &data.common).is_ok())
        .expect("an all-zero proof decodes")
        - 8;
    let mut forged = vec![0u8; proof_len];
    forged.extend_from_slice(&(claimed.len() as u64).to_le_bytes());
    for v in claimed {
        forged.extend_from_slice(
            &plonky2::field::types::PrimeField64::to_canonical_u64(v).to_le_bytes(),
        );
    }
    let parsed = ProofWithPublicInputs::<F, C, D>::from_bytes(forged.clone(), &data.common)
        .expect("the forged proof decodes");
    assert!(
        data.verify(parsed).is_ok(),
        "plonky2's verifier obeys the key's weakened rules and accepts the all-zero proof: the \
         attack this test exists for"
    );
    (file_bytes(&data), forged)
}

#[test]
fn a_key_weakened_to_no_queries_is_refused_even_when_its_own_digest_is_pinned() {
    let f = fixture();
    let mut lie = output();
    lie.new_state_root = HashDigest([666, 0, 0, 0]);
    let (weak_file, forged) =
        weakened_key_and_forged_proof(&batch_public_inputs(&lie).expect("canonical"));
    // Against the genuine pin: refused before parsing.
    assert!(matches!(
        FinalVerifyingKey::from_pinned_bytes(&weak_file, pinned()),
        Err(FinalKeyError::NotPinned { .. })
    ));
    // Even pinned by mistake, the rules fixed in code refuse it.
    match FinalVerifyingKey::from_pinned_bytes(&weak_file, final_vk_file_digest(&weak_file)) {
        Err(FinalKeyError::Policy(reason)) => eprintln!("refused: {reason}"),
        other => panic!("the weakened key was not refused by the policy: {other:?}"),
    }
    // And the forged proof is nothing under the genuine key.
    let key = FinalVerifyingKey::from_pinned_bytes(&f.key_file, pinned()).expect("pinned key");
    assert!(key.verify(&forged).is_err());
}

#[test]
fn keys_and_proofs_of_an_unrelated_circuit_are_refused() {
    let f = fixture();
    // The other circuit's key, pinned by its own digest: not a final compression step.
    let other_file = file_bytes(&f.other.verifier_data());
    assert!(matches!(
        FinalVerifyingKey::from_pinned_bytes(&other_file, final_vk_file_digest(&other_file)),
        Err(FinalKeyError::Policy(_))
    ));
    // Its proof (same 33 public inputs) under the genuine final key.
    let key = FinalVerifyingKey::from_pinned_bytes(&f.key_file, pinned()).expect("pinned key");
    assert!(key.verify(&f.other_proof.to_bytes()).is_err());
}

/// Runs `check` on another thread and fails if it has not returned within `limit`: a hang
/// detector (the verifications here take milliseconds), not a speed measurement.
fn within<T: Send + 'static>(
    limit: Duration,
    what: String,
    check: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(check());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_truncated_and_extended_proofs_are_refused_without_panic_or_hang() {
    let f = fixture();
    let key = std::sync::Arc::new(
        FinalVerifyingKey::from_pinned_bytes(&f.key_file, pinned()).expect("pinned key"),
    );
    let limit = Duration::from_secs(60);
    let check = |what: String, bytes: Vec<u8>| {
        let key = std::sync::Arc::clone(&key);
        let result = within(limit, what.clone(), move || key.verify(&bytes));
        assert!(result.is_err(), "{what}: accepted");
    };
    let mut appended = f.proof.clone();
    appended.push(0);
    check("one byte appended".into(), appended);
    check(
        "last byte dropped".into(),
        f.proof[..f.proof.len() - 1].to_vec(),
    );
    check("empty".into(), Vec::new());
    check("megabytes of zeros".into(), vec![0; 2 * 1024 * 1024]);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let mut bytes = f.proof.clone();
        let offset = (rng.next() as usize) % bytes.len();
        let flip = (rng.next() as u8) | 1;
        bytes[offset] ^= flip;
        check(format!("round {round}: byte {offset} ^ {flip:#x}"), bytes);
    }
    for round in 0..100 {
        let len = (rng.next() as usize) % (2 * f.proof.len());
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(format!("round {round}: {len} random bytes"), bytes);
    }
    // Non-canonical field element: the first public input plus p decodes to the same value.
    let canonical = key.verify(&f.proof).expect("the genuine proof verifies");
    assert_eq!(canonical, f.output);
    let pi_at = f.proof.len() - 33 * 8;
    let mut bytes = f.proof.clone();
    let first = u64::from_le_bytes(bytes[pi_at..pi_at + 8].try_into().expect("8 bytes"));
    let unreduced = first + 0xffff_ffff_0000_0001;
    bytes[pi_at..pi_at + 8].copy_from_slice(&unreduced.to_le_bytes());
    // A release build decodes it and refuses the re-encoding; a build with debug assertions
    // (the tests') panics inside plonky2's decoder, which must come back as the same refusal.
    match key.verify(&bytes) {
        Err(FinalKeyError::MalformedProof(reason)) => assert!(
            reason.contains("canonical") || reason.contains("panicked"),
            "{reason}"
        ),
        other => panic!("an unreduced public input was not refused as malformed: {other:?}"),
    }
}
