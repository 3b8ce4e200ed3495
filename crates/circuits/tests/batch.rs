//! A whole batch end to end: a generated batch is executed natively and proven through every
//! layer (basic → leaf → node … → tip → scheduler → compression); the final proof verifies
//! and attests the native batch output. The soundness cases each give the scheduler a tip or a
//! witness that breaks one cross-type link and assert that the native scheduler refuses AND the
//! circuit refuses (proving fails or verification fails).
//!
//! Small geometry (1 operation, 2 signatures, 2 deposits per instance, XMSS height 2), arity 2
//! and the light two-step compression chain of the recursion tests; the circuits and the
//! honest proofs up to the tip are built once per test binary.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::sync::OnceLock;

use plonky2::field::types::Field;
use zkfleet_circuits::basic::{split_batch, BasicCircuitKind};
use zkfleet_circuits::recursion::*;
use zkfleet_circuits::BasicCircuit;
use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_types::{BatchNumber, CircuitId, HashDigest};

mod batch_support;

use batch_support::{batch_with_every_type, ARITY, GEOMETRY};

struct Fixture {
    circuits: &'static BatchCircuits,
    executed: ExecutedBatch,
    stage: TipStage,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // The small configuration of every crate's tests, from the keystore they share (built
        // by the first test binary that needs it, loaded by the others): this binary tests
        // what the circuits do with a batch, not how they are built.
        assert_eq!(
            (GEOMETRY, ARITY as u32),
            (
                zkfleet_test_support::keys::GEOMETRY,
                zkfleet_test_support::keys::ARITY
            )
        );
        let circuits =
            zkfleet_test_support::keys::small_circuits(&zkfleet_test_support::small_keys_dir!());
        let executed = batch_with_every_type(0..200);
        let stage = prove_to_tip(circuits, &executed).expect("batch proves up to the tip");
        Fixture {
            circuits,
            executed,
            stage,
        }
    })
}

fn slot_index(id: CircuitId) -> usize {
    BasicCircuitKind::ALL
        .iter()
        .position(|k| k.circuit_id() == id)
        .expect("rollup type")
}

/// Asserts that the native scheduler refuses `witness` and that the circuit refuses it too.
fn assert_scheduler_refuses(f: &Fixture, witness: &SchedulerWitness, link: &str) {
    let scheduler = f.circuits.scheduler();
    match scheduler.check_witness(witness) {
        Err(RecursionError::CrossTypeLink { link: got, .. }) => assert_eq!(got, link),
        other => panic!("the native scheduler must refuse on {link}, got {other:?}"),
    }
    match scheduler.prove_witness(witness) {
        Err(RecursionError::Proving { .. } | RecursionError::Verification { .. }) => {}
        Err(other) => panic!("the circuit must refuse while proving, got {other}"),
        Ok(proof) => panic!(
            "the scheduler circuit accepted a broken {link} link: {:?}",
            proof.output
        ),
    }
}

fn tip_over(f: &Fixture, slots: &[TipSlot]) -> TipProof {
    f.circuits
        .recursion()
        .tip()
        .prove(f.circuits.recursion().node(), slots)
        .expect("every slot is a genuine aggregate, so the tip proves")
}

fn witness_of(tip: &TipProof, batch_number: BatchNumber) -> SchedulerWitness {
    SchedulerWitness {
        tip_proof: tip.proof.clone(),
        types: tip.output.types.clone(),
        batch_number,
    }
}

#[test]
fn a_batch_proves_end_to_end_and_the_final_proof_attests_its_output() {
    let f = fixture();
    let timings = &f.stage.timings;
    // The state type needed three leaves and two node depths.
    assert!(timings.leaf_proofs >= 5, "leaves: {}", timings.leaf_proofs);
    assert!(
        timings.node_proofs_per_depth.len() >= 2,
        "node depths: {:?}",
        timings.node_proofs_per_depth
    );
    let proof = prove_from_tip(f.circuits, f.stage.clone(), &f.executed).expect("batch proves");
    let mut expected = f.executed.public_output;
    expected.recursion_tree_vk_digest = f.circuits.scheduler().tree_vk_digest();
    assert_ne!(expected.recursion_tree_vk_digest, HashDigest([0; 4]));
    assert_eq!(proof.public_output, expected);
    assert_eq!(
        f.circuits
            .verify_final(&proof.proof_bytes)
            .expect("final proof verifies"),
        expected
    );
    assert!(expected.deposits_consumed >= 1);
    // Altered proof bytes do not verify.
    let mut tampered = proof.proof_bytes.clone();
    tampered[0] ^= 1;
    assert!(f.circuits.verify_final(&tampered).is_err());
    // The public inputs round-trip through the documented encoding.
    let encoded = batch_public_inputs(&expected).expect("encodes");
    assert_eq!(encoded.len(), SCHEDULER_PUBLIC_INPUTS);
    assert_eq!(decode_public_output(&encoded).expect("decodes"), expected);
    // Every circuit above round 0 round-trips through bytes and still verifies the proof.
    let bytes = f.circuits.to_bytes().expect("batch circuits encode");
    let basic = BasicCircuitKind::ALL
        .into_iter()
        .map(|kind| BasicCircuit::build(kind, &GEOMETRY).expect("basic circuit"))
        .collect();
    let read = BatchCircuits::from_bytes(basic, &bytes).expect("batch circuits decode");
    assert_eq!(
        read.verify_final(&proof.proof_bytes)
            .expect("the final proof verifies under the decoded circuits"),
        expected
    );
    eprintln!(
        "batch of {} operations: {:?}, final proof {} bytes",
        f.executed.witness.operations.len(),
        proof.timings,
        proof.proof_bytes.len()
    );
}

#[test]
fn a_wrong_previous_state_root_is_refused() {
    let f = fixture();
    let mut witness = witness_of(&f.stage.tip, f.executed.witness.batch_number);
    let state = slot_index(CircuitId::STATE_TRANSITION);
    witness.types[state].first_input[0] += F::ONE;
    assert_scheduler_refuses(f, &witness, "tip commitment");
}

#[test]
fn a_signature_aggregate_of_another_batch_is_refused() {
    let f = fixture();
    // Another batch with signed operations, proven at the same geometry: its signature
    // aggregate is a genuine final node proof of the same shape, for other operations.
    let other = batch_with_every_type(200..400);
    let witnesses = split_batch(&other, &GEOMETRY).expect("split");
    let circuit = f.circuits.basic(BasicCircuitKind::SignatureVerification);
    let forms = &witnesses
        .closed_forms_of(CircuitId::SIGNATURE_VERIFICATION)
        .expect("signature closed forms")
        .instances;
    let basic: Vec<BasicProof> = witnesses
        .instances
        .iter()
        .filter(|i| i.circuit == CircuitId::SIGNATURE_VERIFICATION)
        .zip(forms)
        .map(|(instance, form)| {
            let w = circuit.decode_witness(&instance.witness).expect("witness");
            BasicProof {
                proof: circuit.prove(&w).expect("basic proof"),
                input: form
                    .input
                    .iter()
                    .map(|&v| F::from_canonical_u64(v))
                    .collect(),
                output: form
                    .output
                    .iter()
                    .map(|&v| F::from_canonical_u64(v))
                    .collect(),
                count: u64::from(form.item_count),
            }
        })
        .collect();
    let aggregate = aggregate_type(
        f.circuits.recursion(),
        CircuitId::SIGNATURE_VERIFICATION,
        &basic,
    )
    .expect("aggregate of the other batch");
    let mut slots = f.stage.slots.clone();
    slots[slot_index(CircuitId::SIGNATURE_VERIFICATION)] = aggregate.into_tip_slot();
    let tip = tip_over(f, &slots);
    assert_scheduler_refuses(
        f,
        &witness_of(&tip, f.executed.witness.batch_number),
        "signatures ↔ state",
    );
}

#[test]
fn skipped_signature_verification_is_refused() {
    let f = fixture();
    // The signature type claimed absent although the state applied signed operations.
    let mut slots = f.stage.slots.clone();
    slots[slot_index(CircuitId::SIGNATURE_VERIFICATION)] = TipSlot::Absent {
        closed_form: vec![F::ZERO; 4],
    };
    let tip = tip_over(f, &slots);
    assert_scheduler_refuses(
        f,
        &witness_of(&tip, f.executed.witness.batch_number),
        "signatures ↔ state",
    );
}

#[test]
fn a_deposits_chain_mismatch_is_refused() {
    let f = fixture();
    // The priority queue claimed empty although the state applied deposits.
    let mut slots = f.stage.slots.clone();
    let mut closed_form = vec![F::ZERO; 6];
    closed_form[4] = F::from_canonical_u64(f.executed.witness.start.next_priority_serial);
    slots[slot_index(CircuitId::PRIORITY_OPERATIONS)] = TipSlot::Absent { closed_form };
    let tip = tip_over(f, &slots);
    assert_scheduler_refuses(
        f,
        &witness_of(&tip, f.executed.witness.batch_number),
        "deposits ↔ state",
    );
}

#[test]
fn an_absent_state_type_is_refused() {
    let f = fixture();
    // No state transition at all: the previous root would be a free witness.
    let mut slots = f.stage.slots.clone();
    let mut closed_form = vec![F::ZERO; 27];
    closed_form[0] = F::from_canonical_u64(f.executed.public_output.new_state_root.0[0]);
    slots[slot_index(CircuitId::STATE_TRANSITION)] = TipSlot::Absent { closed_form };
    let tip = tip_over(f, &slots);
    assert_scheduler_refuses(
        f,
        &witness_of(&tip, f.executed.witness.batch_number),
        "state present",
    );
}

#[test]
fn the_scheduler_circuit_round_trips_through_bytes() {
    let f = fixture();
    let bytes = f.circuits.scheduler().to_bytes().expect("encodes");
    let read = SchedulerCircuit::from_bytes(&bytes).expect("decodes");
    assert_eq!(
        read.tree_vk_digest(),
        f.circuits.scheduler().tree_vk_digest()
    );
    assert_eq!(
        read.circuit_data().verifier_only,
        f.circuits.scheduler().circuit_data().verifier_only
    );
    let mut truncated = bytes.clone();
    truncated.truncate(bytes.len() / 2);
    assert!(SchedulerCircuit::from_bytes(&truncated).is_err());
}
