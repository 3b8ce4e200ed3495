//! In-circuit and native signature verification agree, on valid and invalid vectors.
//!
//! A small circuit recovers the public key from (message, signature) with the same gadget the
//! signature-verification circuit uses and exposes `recovered == public key` as a public bit;
//! for each vector the proven bit must equal `zkfleet_rollup::signature::verify(..).is_ok()`.
//! A key index outside the tree (which native verification rejects) cannot be proven at all.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::sync::OnceLock;

use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::BoolTarget;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CircuitData;
use zkfleet_circuits::basic::basic_circuit_config;
use zkfleet_circuits::gadgets::xmss::{recover_public_key, SignatureTargets};
use zkfleet_circuits::{C, D, F};
use zkfleet_rollup::signature::{verify, Signature, XmssKeyPair};
use zkfleet_rollup::spec::{hash_digest_to_digest, Digest};
use zkfleet_types::HashDigest;

const HEIGHT: usize = 3;

struct Verifier {
    data: CircuitData<F, C, D>,
    message: HashOutTarget,
    public_key: HashOutTarget,
    signature: SignatureTargets,
}

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let mut builder = CircuitBuilder::<F, D>::new(basic_circuit_config());
        let message = builder.add_virtual_hash();
        let public_key = builder.add_virtual_hash();
        let signature = SignatureTargets::new_virtual(&mut builder, HEIGHT);
        let recovered = recover_public_key(&mut builder, message, &signature);
        let mut valid: BoolTarget = builder._true();
        for (&got, &expected) in recovered.elements.iter().zip(&public_key.elements) {
            let equal = builder.is_equal(got, expected);
            valid = builder.and(valid, equal);
        }
        builder.register_public_input(valid.target);
        Verifier {
            data: builder.build::<C>(),
            message,
            public_key,
            signature,
        }
    })
}

fn set_digest(pw: &mut PartialWitness<F>, target: HashOutTarget, value: Digest) {
    pw.set_hash_target(target, value).expect("set");
}

/// The in-circuit verdict: `Some(bit)` from a verified proof, `None` if no proof can be made.
fn circuit_verdict(public_key: Digest, message: Digest, signature: &Signature) -> Option<bool> {
    let v = verifier();
    let mut pw = PartialWitness::new();
    set_digest(&mut pw, v.message, message);
    set_digest(&mut pw, v.public_key, public_key);
    pw.set_target(
        v.signature.key_index,
        F::from_canonical_u32(signature.key_index),
    )
    .expect("set");
    for (&t, &value) in v.signature.chain_values.iter().zip(&signature.chain_values) {
        set_digest(&mut pw, t, value);
    }
    for (&t, &value) in v.signature.auth_path.iter().zip(&signature.auth_path) {
        set_digest(&mut pw, t, value);
    }
    let proof = v.data.prove(pw).ok()?;
    let bit = proof.public_inputs[0].to_canonical_u64();
    v.data.verify(proof).ok()?;
    Some(bit == 1)
}

fn digest(values: [u64; 4]) -> Digest {
    hash_digest_to_digest(HashDigest(values)).expect("canonical")
}

#[test]
fn circuit_and_native_verification_agree() {
    let mut signer = XmssKeyPair::generate([7; 32], HEIGHT).expect("keys");
    let other = XmssKeyPair::generate([8; 32], HEIGHT).expect("keys");
    let pk = signer.public_key_digest();
    // Small digest elements exercise the canonical decomposition (x < 2^32 − 1 has a second,
    // non-canonical 64-bit decomposition x + p).
    let message = digest([5, 0xffff_fffe, 1 << 40, u64::MAX - (1 << 32)]);
    let other_message = digest([6, 0xffff_fffe, 1 << 40, u64::MAX - (1 << 32)]);
    let signature = signer.sign(2, message).expect("sign");
    let later = signer.sign(5, other_message).expect("sign");

    let mut wrong_index = signature.clone();
    wrong_index.key_index = 3;
    let mut forged_chain = signature.clone();
    forged_chain.chain_values[130].elements[0] += F::ONE;
    let mut forged_path = signature.clone();
    forged_path.auth_path[1].elements[3] += F::ONE;

    let vectors: Vec<(&str, Digest, Digest, &Signature)> = vec![
        ("valid", pk, message, &signature),
        ("valid, another key index", pk, other_message, &later),
        ("wrong message", pk, other_message, &signature),
        (
            "wrong public key",
            other.public_key_digest(),
            message,
            &signature,
        ),
        ("wrong key index", pk, message, &wrong_index),
        ("forged chain value", pk, message, &forged_chain),
        ("forged authentication path", pk, message, &forged_path),
    ];
    let mut valid_seen = 0;
    for (name, public_key, message, signature) in vectors {
        let native = verify(public_key, message, signature).is_ok();
        let in_circuit = circuit_verdict(public_key, message, signature);
        assert_eq!(
            in_circuit,
            Some(native),
            "{name}: native says {native}, circuit {in_circuit:?}"
        );
        valid_seen += usize::from(native);
    }
    assert_eq!(valid_seen, 2, "exactly the two honest vectors are valid");
}

#[test]
fn key_index_outside_the_tree_cannot_be_proven() {
    let mut signer = XmssKeyPair::generate([9; 32], HEIGHT).expect("keys");
    let pk = signer.public_key_digest();
    let message = digest([1, 2, 3, 4]);
    let mut signature = signer.sign(1, message).expect("sign");
    // Index 1 + 2^h walks the same path bits but is not a key of the tree.
    signature.key_index += 1 << HEIGHT;
    assert!(verify(pk, message, &signature).is_err());
    assert_eq!(circuit_verdict(pk, message, &signature), None);
}

#[test]
fn message_digits_match_native() {
    let mut builder = CircuitBuilder::<F, D>::new(basic_circuit_config());
    let message = builder.add_virtual_hash();
    let digits = zkfleet_circuits::gadgets::xmss::message_digits(&mut builder, message);
    for digit in &digits {
        let value = builder.mul_const_add(F::TWO, digit.high.target, digit.low.target);
        builder.register_public_input(value);
    }
    let data = builder.build::<C>();
    for values in [
        [0, 0, 0, 0],
        [5, 0xffff_fffe, 1 << 40, u64::MAX - (1 << 32)],
        [1, 2, 3, 4],
    ] {
        let m = digest(values);
        let mut pw = PartialWitness::new();
        set_digest(&mut pw, message, m);
        let proof = data.prove(pw).expect("prove");
        let in_circuit: Vec<u64> = proof
            .public_inputs
            .iter()
            .map(|x| x.to_canonical_u64())
            .collect();
        let native: Vec<u64> = zkfleet_rollup::spec::message_digits(m)
            .iter()
            .map(|&d| u64::from(d))
            .collect();
        assert_eq!(in_circuit, native, "digits of {values:?}");
        data.verify(proof).expect("verify");
    }
}
