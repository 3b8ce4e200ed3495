//! Basic circuits end to end: a generated batch is executed natively, cut into instances, and
//! every instance proves and verifies with the public inputs the native closed forms predict;
//! tampered witnesses cannot produce a valid proof.
//!
//! Circuits are built once per test binary (small geometry: 3 signatures, 4 operations,
//! 2 deposits per instance, XMSS height 2) and shared through `basic_support`.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::sync::OnceLock;

use plonky2::field::types::PrimeField64 as _;

use zkfleet_circuits::basic::priority::PriorityWitness;
use zkfleet_circuits::basic::signature::SignatureWitness;
use zkfleet_circuits::basic::state::{SlotOperation, StateWitness};
use zkfleet_circuits::basic::{
    decode_witness, encode_witness, split_batch, BasicCircuit, BasicCircuitKind, BasicWitness,
    BasicWitnesses,
};
use zkfleet_circuits::proving::{proof_from_bytes, proof_to_bytes};
use zkfleet_circuits::{CircuitError, WitnessVector};
use zkfleet_rollup::execute::{execute_batch, ExecutedBatch};
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_rollup::operation::Operation;
use zkfleet_rollup::spec::digest_to_hash_digest;
use zkfleet_types::{CircuitId, HashDigest};

mod basic_support;

use basic_support::GEOMETRY;

struct Fixture {
    executed: ExecutedBatch,
    witnesses: BasicWitnesses,
}

impl Fixture {
    fn circuit(&self, kind: BasicCircuitKind) -> &'static BasicCircuit {
        basic_support::circuit(kind)
    }

    /// Decoded witnesses of one type, in sequence order.
    fn witnesses_of(&self, kind: BasicCircuitKind) -> Vec<BasicWitness> {
        self.witnesses
            .instances
            .iter()
            .filter(|i| i.circuit == kind.circuit_id())
            .map(|i| {
                self.circuit(kind)
                    .decode_witness(&i.witness)
                    .expect("decodes")
            })
            .collect()
    }
}

fn counts(executed: &ExecutedBatch) -> (usize, usize, usize) {
    let ops = &executed.witness.operations;
    let deposits = ops
        .iter()
        .filter(|o| matches!(o.operation, Operation::Deposit(_)))
        .count();
    let transfers = ops
        .iter()
        .filter(|o| matches!(o.operation, Operation::Transfer(_)))
        .count();
    let withdrawals = ops
        .iter()
        .filter(|o| matches!(o.operation, Operation::Withdraw(_)))
        .count();
    (deposits, transfers, withdrawals)
}

/// The first seed whose batch has every operation kind, a deposit creating an account, and a
/// partly filled last instance of every type: the batch the tests need, found deterministically.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        for seed in 0..200 {
            let generated = generate(&GeneratorConfig {
                accounts: 4,
                operations: 11,
                seed,
                tree_height: GEOMETRY.xmss_height as usize,
                ..GeneratorConfig::default()
            })
            .expect("generator");
            let mut state = generated.genesis.to_memory_state().expect("genesis");
            let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
            let (deposits, transfers, withdrawals) = counts(&executed);
            let signed = transfers + withdrawals;
            let creates = executed.witness.operations.iter().any(|o| {
                matches!(o.operation, Operation::Deposit(_)) && o.updates[0].leaf_before.is_none()
            });
            let partial = |n: usize, cap: u32| !n.is_multiple_of(cap as usize);
            if deposits >= 3
                && transfers >= 1
                && withdrawals >= 1
                && creates
                && partial(signed, GEOMETRY.signatures_per_instance)
                && partial(deposits, GEOMETRY.deposits_per_instance)
                && partial(
                    executed.witness.operations.len(),
                    GEOMETRY.operations_per_instance,
                )
            {
                let witnesses = split_batch(&executed, &GEOMETRY).expect("split");
                return Fixture {
                    executed,
                    witnesses,
                };
            }
        }
        panic!("no seed in 0..200 gives a batch with every kind and partial instances");
    })
}

/// Asserts that a tampered witness yields no valid proof: witness generation fails (a copy
/// constraint is contradicted), proving fails, or — plonky2's prover does not check constraints —
/// the proof does not verify. Logs which stage caught it.
fn assert_rejected(
    circuit: &BasicCircuit,
    inputs: plonky2::iop::witness::PartialWitness<zkfleet_circuits::F>,
) {
    let vector = match circuit.generate_witness_vector_from(inputs) {
        Err(CircuitError::WitnessGeneration(reason)) => {
            eprintln!("rejected at witness generation: {reason}");
            return;
        }
        Err(other) => panic!("unexpected error kind: {other}"),
        Ok(vector) => vector,
    };
    let proof = match circuit.prove_witness_vector(vector) {
        Err(reason) => {
            eprintln!("rejected at proving: {reason}");
            return;
        }
        Ok(proof) => proof,
    };
    let result = circuit.verify(proof);
    assert!(
        matches!(result, Err(CircuitError::Verification(_))),
        "a tampered witness produced a valid proof"
    );
    eprintln!("rejected at verification");
}

fn assert_witness_rejected(circuit: &BasicCircuit, witness: &BasicWitness) {
    let inputs = circuit.layout().assign(witness).expect("assigns");
    assert_rejected(circuit, inputs);
}

#[test]
fn every_instance_proves_and_verifies_with_the_native_closed_forms() {
    let f = fixture();
    for kind in BasicCircuitKind::ALL {
        let circuit = f.circuit(kind);
        let forms = f
            .witnesses
            .closed_forms_of(kind.circuit_id())
            .expect("closed forms");
        let instances: Vec<_> = f
            .witnesses
            .instances
            .iter()
            .filter(|i| i.circuit == kind.circuit_id())
            .collect();
        assert!(
            instances.len() >= 2,
            "{}: want several instances, got {}",
            kind.name(),
            instances.len()
        );
        assert_eq!(instances.len(), forms.instances.len());
        let capacity = kind.capacity(&GEOMETRY);
        for (position, (instance, form)) in instances.iter().zip(&forms.instances).enumerate() {
            assert_eq!(instance.sequence as usize, position);
            assert_eq!(form.sequence as usize, position);
            let last = position + 1 == instances.len();
            if last {
                assert!(
                    form.item_count < capacity,
                    "{}: last instance should be partial",
                    kind.name()
                );
            } else {
                assert_eq!(
                    form.item_count,
                    capacity,
                    "{}: only the last instance may be partial",
                    kind.name()
                );
            }
            if position > 0 {
                let previous = &forms.instances[position - 1];
                let carried = previous.output.len().min(form.input.len());
                assert_eq!(
                    &form.input[..carried],
                    &previous.output[..carried],
                    "{}: chain continuity",
                    kind.name()
                );
            }

            let witness = circuit.decode_witness(&instance.witness).expect("decode");
            assert_eq!(witness.item_count() as u32, form.item_count);
            // Witness generation and proving split across a serialized witness vector.
            let vector = circuit
                .generate_witness_vector(&witness)
                .expect("witness generation");
            let vector = WitnessVector::from_bytes(&vector.to_bytes()).expect("vector round trip");
            let proof = circuit.prove_witness_vector(vector).expect("prove");
            let proof = proof_from_bytes(proof_to_bytes(&proof), &circuit.data.common)
                .expect("proof bytes");
            let expected = form.public_input_hash().expect("closed form");
            let public: Vec<u64> = proof
                .public_inputs
                .iter()
                .map(|x| x.to_canonical_u64())
                .collect();
            assert_eq!(
                HashDigest([public[0], public[1], public[2], public[3]]),
                expected
            );
            circuit.verify(proof).expect("verify");
        }
    }
}

#[test]
fn closed_forms_end_at_the_batch_public_output() {
    let f = fixture();
    let out = &f.executed.public_output;
    let last_output = |id: CircuitId| {
        f.witnesses
            .closed_forms_of(id)
            .and_then(|c| c.instances.last())
            .map(|c| c.output.clone())
            .expect("instances")
    };
    let digest = |v: &[u64], at: usize| HashDigest([v[at], v[at + 1], v[at + 2], v[at + 3]]);
    let state = last_output(CircuitId::STATE_TRANSITION);
    assert_eq!(digest(&state, 0), out.new_state_root);
    assert_eq!(digest(&state, 4), out.operations_commitment);
    assert_eq!(digest(&state, 12), out.deposits_commitment);
    assert_eq!(digest(&state, 16), out.withdrawals_commitment);
    assert_eq!(digest(&state, 20), out.pubdata_commitment);
    // The cross-type links the scheduler checks.
    let signatures = last_output(CircuitId::SIGNATURE_VERIFICATION);
    assert_eq!(digest(&signatures, 0), digest(&state, 8));
    let priority = last_output(CircuitId::PRIORITY_OPERATIONS);
    assert_eq!(digest(&priority, 0), digest(&state, 12));
    let first_state = &f
        .witnesses
        .closed_forms_of(CircuitId::STATE_TRANSITION)
        .expect("state")
        .instances[0];
    assert_eq!(digest(&first_state.input, 0), out.prev_state_root);
    assert_eq!(
        digest_to_hash_digest(f.executed.new_root),
        out.new_state_root,
        "native sanity"
    );
}

#[test]
fn witnesses_round_trip_and_refuse_other_circuits() {
    let f = fixture();
    let instance = &f.witnesses.instances[0];
    let (geometry, witness) = decode_witness(&instance.witness).expect("decode");
    assert_eq!(geometry, GEOMETRY);
    assert_eq!(
        encode_witness(&geometry, &witness).expect("encode"),
        instance.witness
    );
    let other = BasicCircuitKind::ALL
        .into_iter()
        .find(|k| k.circuit_id() != instance.circuit)
        .expect("kind");
    assert!(matches!(
        f.circuit(other).decode_witness(&instance.witness),
        Err(CircuitError::WitnessMismatch { .. })
    ));
    let mut old = instance.witness.clone();
    old[0] = 0x7f; // a different format version (postcard varint)
    assert!(matches!(
        decode_witness(&old),
        Err(CircuitError::WitnessVersion { .. })
    ));
}

fn state_witness_with<F: Fn(&StateWitness) -> bool>(f: &Fixture, pick: F) -> StateWitness {
    f.witnesses_of(BasicCircuitKind::StateTransition)
        .into_iter()
        .filter_map(|w| match w {
            BasicWitness::StateTransition(s) => Some(s),
            _ => None,
        })
        .find(|s| pick(s))
        .expect("an instance with the wanted operation")
}

fn transfer_slot(w: &StateWitness) -> Option<usize> {
    w.slots
        .iter()
        .position(|s| matches!(s.operation, SlotOperation::Transfer { .. }))
}

#[test]
fn wrong_balance_is_rejected() {
    let f = fixture();
    let mut w = state_witness_with(f, |w| transfer_slot(w).is_some());
    let i = transfer_slot(&w).expect("transfer");
    // The sender's leaf claims one more unit than the tree holds.
    if let Some(account) = w.slots[i].lane_a.account.as_mut() {
        account.balance += 1;
    }
    assert_witness_rejected(
        f.circuit(BasicCircuitKind::StateTransition),
        &BasicWitness::StateTransition(w),
    );
}

#[test]
fn overdraft_is_rejected() {
    let f = fixture();
    let mut w = state_witness_with(f, |w| transfer_slot(w).is_some());
    let i = transfer_slot(&w).expect("transfer");
    let balance = w.slots[i].lane_a.account.expect("sender exists").balance;
    if let SlotOperation::Transfer { amount, fee, .. } = &mut w.slots[i].operation {
        *amount = balance - *fee + 1;
    }
    assert_witness_rejected(
        f.circuit(BasicCircuitKind::StateTransition),
        &BasicWitness::StateTransition(w),
    );
}

#[test]
fn wrong_merkle_sibling_is_rejected() {
    let f = fixture();
    let mut w = state_witness_with(f, |w| !w.slots.is_empty());
    w.slots[0].lane_a.siblings[3].0[0] ^= 1;
    assert_witness_rejected(
        f.circuit(BasicCircuitKind::StateTransition),
        &BasicWitness::StateTransition(w),
    );
}

#[test]
fn skipped_nonce_is_rejected() {
    let f = fixture();
    let mut w = state_witness_with(f, |w| transfer_slot(w).is_some());
    let i = transfer_slot(&w).expect("transfer");
    if let SlotOperation::Transfer { nonce, .. } = &mut w.slots[i].operation {
        *nonce += 1;
    }
    assert_witness_rejected(
        f.circuit(BasicCircuitKind::StateTransition),
        &BasicWitness::StateTransition(w),
    );
}

#[test]
fn forged_signature_is_rejected() {
    let f = fixture();
    let mut w: SignatureWitness = f
        .witnesses_of(BasicCircuitKind::SignatureVerification)
        .into_iter()
        .find_map(|w| match w {
            BasicWitness::SignatureVerification(s) => Some(s),
            _ => None,
        })
        .expect("a signature instance");
    // One chain value of the first signature is replaced: the recovered key differs.
    w.slots[0].chain_values[7].0[2] ^= 1;
    assert_witness_rejected(
        f.circuit(BasicCircuitKind::SignatureVerification),
        &BasicWitness::SignatureVerification(w),
    );
}

#[test]
fn signature_of_another_message_is_rejected() {
    let f = fixture();
    let mut w: SignatureWitness = f
        .witnesses_of(BasicCircuitKind::SignatureVerification)
        .into_iter()
        .find_map(|w| match w {
            BasicWitness::SignatureVerification(s) => Some(s),
            _ => None,
        })
        .expect("a signature instance");
    w.slots[0].message.0[0] ^= 4;
    assert_witness_rejected(
        f.circuit(BasicCircuitKind::SignatureVerification),
        &BasicWitness::SignatureVerification(w),
    );
}

#[test]
fn inactive_slot_followed_by_an_active_one_is_rejected() {
    let f = fixture();
    let w: PriorityWitness = f
        .witnesses_of(BasicCircuitKind::PriorityOperations)
        .into_iter()
        .find_map(|w| match w {
            BasicWitness::PriorityOperations(p) if p.slots.len() == 1 => Some(p),
            _ => None,
        })
        .expect("the partial last priority instance");
    let circuit = f.circuit(BasicCircuitKind::PriorityOperations);
    let witness = BasicWitness::PriorityOperations(w);
    // Sanity: the same witness with items first proves.
    let honest = circuit.layout().assign(&witness).expect("assign");
    let vector = circuit
        .generate_witness_vector_from(honest)
        .expect("honest witness");
    circuit
        .verify(circuit.prove_witness_vector(vector).expect("prove"))
        .expect("honest verifies");
    // The deposit moved behind a padding slot.
    let gap = circuit
        .layout()
        .assign_with_activity(&witness, Some(&[false, true]))
        .expect("assign");
    assert_rejected(circuit, gap);
}

#[test]
fn deposit_out_of_queue_order_is_rejected() {
    let f = fixture();
    let mut w: PriorityWitness = f
        .witnesses_of(BasicCircuitKind::PriorityOperations)
        .into_iter()
        .find_map(|w| match w {
            BasicWitness::PriorityOperations(p) => Some(p),
            _ => None,
        })
        .expect("a priority instance");
    w.slots[0].priority_serial += 1;
    assert_witness_rejected(
        f.circuit(BasicCircuitKind::PriorityOperations),
        &BasicWitness::PriorityOperations(w),
    );
}

#[test]
fn verification_rejects_altered_public_inputs_and_foreign_proofs() {
    let f = fixture();
    let circuit = f.circuit(BasicCircuitKind::PriorityOperations);
    let witness = &f.witnesses_of(BasicCircuitKind::PriorityOperations)[0];
    let proof = circuit.prove(witness).expect("prove");
    circuit
        .verify(proof.clone())
        .expect("honest proof verifies");
    // The verifier is real: the same proof claiming another closed form fails.
    let mut altered = proof.clone();
    altered.public_inputs[2] += <zkfleet_circuits::F as plonky2::field::types::Field>::ONE;
    assert!(matches!(
        circuit.verify(altered),
        Err(CircuitError::Verification(_))
    ));
    // A proof of another circuit type does not verify as this one.
    let other = f.circuit(BasicCircuitKind::StateTransition);
    let bytes = proof_to_bytes(&proof);
    match proof_from_bytes(bytes, &other.data.common) {
        Err(_) => {}
        Ok(foreign) => assert!(other.verify(foreign).is_err()),
    }
}

#[test]
fn witness_vector_tampered_after_generation_fails_verification() {
    // Bypasses every witness generator: the honest vector is altered on the wire that carries
    // the first public input (the output of the closed-form Poseidon gate). The prover does not
    // check constraints, so a proof comes out; the verifier must reject it.
    let f = fixture();
    let circuit = f.circuit(BasicCircuitKind::StateTransition);
    let witness = &f.witnesses_of(BasicCircuitKind::StateTransition)[0];
    let mut vector = circuit
        .generate_witness_vector(witness)
        .expect("honest witness");
    let common = &circuit.data.common;
    let target = circuit.data.prover_only.public_inputs[0];
    let index = target.index(common.config.num_wires, common.degree());
    let representative = circuit.data.prover_only.representative_map[index];
    let value = vector.values[representative].expect("public input is set");
    vector.values[representative] =
        Some(value + <zkfleet_circuits::F as plonky2::field::types::Field>::ONE);
    match circuit.prove_witness_vector(vector) {
        Err(reason) => panic!("the prover checks nothing, it should still prove: {reason}"),
        Ok(proof) => assert!(matches!(
            circuit.verify(proof),
            Err(CircuitError::Verification(_))
        )),
    }
}

/// The state-transition circuit holding `operations` slots at the default geometry, defined
/// (no `build` yet).
fn state_builder(
    operations: u32,
) -> plonky2::plonk::circuit_builder::CircuitBuilder<zkfleet_circuits::F, { zkfleet_circuits::D }> {
    let geometry = zkfleet_circuits::BasicGeometry {
        operations_per_instance: operations,
        ..zkfleet_circuits::BasicGeometry::default()
    };
    zkfleet_circuits::basic::define(BasicCircuitKind::StateTransition, &geometry)
        .expect("define")
        .0
}

/// Gates of the state-transition circuit holding `operations` slots, before plonky2 pads it to a
/// power of two (the closed-form hash and constants included).
fn state_gates(operations: u32) -> usize {
    state_builder(operations).num_gates()
}

/// The degree plonky2's `build` gives the state-transition circuit at `operations` per
/// instance: its gates plus those `build` adds (the public-input hash, constant gates), padded to
/// a power of two. `mock_build` is that same build without the constants/sigmas commitment (the
/// LDE and Merkle tree that cost most of a build), so a 2^15 or 2^16 default is checked in
/// seconds instead of minutes.
fn state_degree(operations: u32) -> usize {
    state_builder(operations)
        .mock_build::<zkfleet_circuits::C>()
        .common
        .degree_bits()
}

/// The degree of the default geometry's state-transition circuit (`BasicGeometry::default()`'s
/// doc comment and docs/benchmarks.md, "Geometry sweep").
const DEFAULT_STATE_DEGREE_BITS: usize = 15;

/// The default geometry's state-transition instance fills its degree: its operations fit in
/// 2^15 rows once built, and one more operation would not (a geometry that wastes rows, or one
/// that spills into the next degree, fails here). The fill is read from gate counts (the next
/// operation's gates alone overflow the degree, so no build is needed for it) and from one mock
/// build at the default (`state_degree`): no 2^15+ circuit is committed to. Prints the rows per
/// operation for docs/rollup-circuits.md.
#[test]
fn default_state_geometry_fills_its_degree() {
    let geometry = zkfleet_circuits::BasicGeometry::default();
    let ops = geometry.operations_per_instance;
    let (one, two) = (state_gates(1), state_gates(2));
    let (gates, one_more) = (state_gates(ops), state_gates(ops + 1));
    eprintln!(
        "ROWS state transition: 1 op {one}, 2 ops {two}, {ops} ops {gates}, {} ops {one_more} \
         gates before build; {} rows per operation",
        ops + 1,
        two - one
    );
    // The degree the default's own gates need, before `build` adds any.
    let bits = gates.next_power_of_two().trailing_zeros() as usize;
    assert_eq!(
        bits, DEFAULT_STATE_DEGREE_BITS,
        "{ops} operations need 2^{bits} rows ({gates} gates), not the documented \
         2^{DEFAULT_STATE_DEGREE_BITS}"
    );
    // One more operation's gates overflow 2^bits before `build` adds anything: no build fits
    // them, so the default leaves less than an operation's rows unused.
    assert!(
        one_more > 1 << bits,
        "{} operations ({one_more} gates) still fit 2^{bits} rows: the default wastes rows",
        ops + 1
    );
    // And the rows `build` adds (public-input hash, constants) still fit beside the default's.
    assert_eq!(
        state_degree(ops),
        bits,
        "{ops} operations ({gates} gates) spill out of 2^{bits} rows once built"
    );
}

/// The operator's fees are credited once per state instance (docs/rollup-circuits.md §3), while
/// the rollup credits each at once: on real batches where the operator signs an operation and
/// receives a transfer after fees earned earlier in the same instance, every state instance
/// proves with the closed forms the native execution recorded (so the instance's output root,
/// and the batch's public output, are the rollup's).
#[test]
fn operator_active_mid_instance_keeps_the_native_closed_forms() {
    let capacity = GEOMETRY.operations_per_instance as usize;
    let kind = BasicCircuitKind::StateTransition;
    let mut found = None;
    for seed in 0..400 {
        let generated = generate(&GeneratorConfig {
            accounts: 3,
            operations: 12,
            seed,
            tree_height: GEOMETRY.xmss_height as usize,
            ..GeneratorConfig::default()
        })
        .expect("generator");
        let mut state = generated.genesis.to_memory_state().expect("genesis");
        let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
        let operator = executed.witness.operator;
        // In some instance, after a signed operation (a fee pending): the operator signs, and
        // the operator receives a transfer.
        let (mut signs, mut receives) = (false, false);
        for chunk in executed.witness.operations.chunks(capacity) {
            let mut fee_pending = false;
            for op in chunk {
                match &op.operation {
                    Operation::Transfer(t) => {
                        signs |= fee_pending && t.from == operator;
                        receives |= fee_pending && t.to == operator && t.from != operator;
                        fee_pending = true;
                    }
                    Operation::Withdraw(w) => {
                        signs |= fee_pending && w.from == operator;
                        fee_pending = true;
                    }
                    Operation::Deposit(_) => {}
                }
            }
        }
        if signs && receives {
            found = Some(executed);
            break;
        }
    }
    let executed = found.expect("a seed in 0..400 has the operator active mid-instance");
    let witnesses = split_batch(&executed, &GEOMETRY).expect("split");
    let forms = witnesses
        .closed_forms_of(kind.circuit_id())
        .expect("closed forms");
    let circuit = basic_support::circuit(kind);
    let instances: Vec<_> = witnesses
        .instances
        .iter()
        .filter(|i| i.circuit == kind.circuit_id())
        .collect();
    assert_eq!(instances.len(), forms.instances.len());
    for (instance, form) in instances.iter().zip(&forms.instances) {
        let witness = circuit.decode_witness(&instance.witness).expect("decode");
        let proof = circuit.prove(&witness).expect("prove");
        let public: Vec<u64> = proof
            .public_inputs
            .iter()
            .map(|x| x.to_canonical_u64())
            .collect();
        assert_eq!(
            HashDigest([public[0], public[1], public[2], public[3]]),
            form.public_input_hash().expect("closed form"),
            "state instance {}",
            instance.sequence
        );
        circuit.verify(proof).expect("verify");
    }
    let last = forms.instances.last().expect("an instance");
    assert_eq!(
        HashDigest([
            last.output[0],
            last.output[1],
            last.output[2],
            last.output[3]
        ]),
        digest_to_hash_digest(executed.new_root),
        "the last instance ends at the batch's new root"
    );
}
