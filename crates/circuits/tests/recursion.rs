//! Recursion layers end to end on toy basic types: a batch whose type A needs three leaves and
//! two node depths, type B one leaf, type C absent; the tip over all three, the compression
//! chain, and the soundness cases (each must fail to give an accepted proof, and each goes
//! through the circuit, not only through the native pre-checks).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod recursion_support;

use std::sync::OnceLock;

use plonky2::field::types::Field;
use plonky2::gates::noop::NoopGate;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitData, CommonCircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use recursion_support::ToyType;
use zkfleet_circuits::recursion::*;

const ARITY: usize = 2;

/// Items of type A: 13 items at capacity 3 → 5 instances (the last partial) → 3 leaves →
/// nodes at depth 0 (2) and depth 1 (1).
const ITEMS_A: [u64; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const ITEMS_B: [u64; 3] = [21, 22, 23];

struct Fixture {
    a: ToyType,
    b: ToyType,
    c: ToyType,
    circuits: RecursionCircuits,
    basic_a: Vec<BasicProof>,
    leaves_a: Vec<RecursionProof>,
    agg_a: TypeAggregate,
    agg_b: TypeAggregate,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // A and C have equal closed-form length, capacity and degree, so that a C proof fits
        // every slot an A proof fits: only keys and circuit ids tell them apart.
        let a = ToyType::build(1, 2, 3, 12);
        let b = ToyType::build(2, 3, 2, 13);
        let c = ToyType::build(3, 2, 3, 12);
        let circuits =
            RecursionCircuits::build(&[a.shape(), b.shape(), c.shape()], ARITY).expect("build");
        let basic_a = a.prove_chain(&a.genesis(), &ITEMS_A);
        let leaf_a = circuits.leaf(a.circuit_id).expect("leaf A");
        let leaves_a: Vec<RecursionProof> = basic_a
            .chunks(ARITY)
            .map(|chunk| leaf_a.prove(chunk).expect("leaf A proves"))
            .collect();
        let agg_a = aggregate_type(&circuits, a.circuit_id, &basic_a).expect("aggregate A");
        let basic_b = b.prove_chain(&b.genesis(), &ITEMS_B);
        let agg_b = aggregate_type(&circuits, b.circuit_id, &basic_b).expect("aggregate B");
        Fixture {
            a,
            b,
            c,
            circuits,
            basic_a,
            leaves_a,
            agg_a,
            agg_b,
        }
    })
}

fn honest_tip_slots(f: &Fixture) -> Vec<TipSlot> {
    vec![
        f.agg_a.clone().into_tip_slot(),
        f.agg_b.clone().into_tip_slot(),
        TipSlot::Absent {
            closed_form: f.c.genesis(),
        },
    ]
}

/// The tip proof of the honest slots, proven once for the tests that start from it (the
/// aggregation test checks it, the compression tests compress it).
fn honest_tip() -> &'static TipProof {
    static TIP: OnceLock<TipProof> = OnceLock::new();
    TIP.get_or_init(|| {
        let f = fixture();
        prove_tip(f.circuits.tip(), f.circuits.node(), &honest_tip_slots(f)).expect("tip proves")
    })
}

/// Asserts that a layer given a dishonest witness yields no accepted proof: proving fails, or
/// the proof it returns does not verify.
fn assert_no_accepted_proof<T: std::fmt::Debug>(
    what: &str,
    proved: Result<T, RecursionError>,
    verify: impl FnOnce(&T) -> Result<(), RecursionError>,
) {
    match proved {
        Err(RecursionError::Proving { .. } | RecursionError::Verification { .. }) => {}
        Err(other) => panic!("{what}: expected the circuit to reject, got input error {other}"),
        Ok(proof) => assert!(verify(&proof).is_err(), "{what}: a proof was accepted"),
    }
}

fn leaf_rejects(f: &Fixture, what: &str, children: &[BasicProof]) {
    let leaf = f.circuits.leaf(f.a.circuit_id).unwrap();
    assert!(
        leaf.check_children(children).is_err(),
        "{what}: native checks accepted"
    );
    let witness = leaf.assign_witness(children).expect("structurally valid");
    assert_no_accepted_proof(what, leaf.prove_witness(witness), |p| {
        leaf.verify(p).map(|_| ())
    });
}

fn node_rejects(f: &Fixture, what: &str, children: &[RecursionProof]) {
    let node = f.circuits.node();
    assert!(
        node.check_children(children).is_err(),
        "{what}: native checks accepted"
    );
    let witness = node.witness_for(children).expect("keys resolve");
    assert_no_accepted_proof(what, node.prove_witness(&witness), |p| {
        node.verify(p).map(|_| ())
    });
}

#[test]
fn batch_aggregates_through_the_tip() {
    let f = fixture();
    // The tree of type A: 5 instances, 3 leaves, two node depths.
    assert_eq!(f.basic_a.len(), 5);
    assert_eq!(f.agg_a.leaves, 3);
    assert_eq!(f.agg_a.nodes_per_depth, vec![2, 1]);
    assert_eq!(f.agg_b.leaves, 1);
    assert_eq!(f.agg_b.nodes_per_depth, vec![1]);

    let node = f.circuits.node();
    let stmt = node
        .verify(&f.agg_a.final_node)
        .expect("final node of A verifies");
    assert_eq!(stmt.circuit_id, f.a.circuit_id);
    assert_eq!(stmt.count, ITEMS_A.len() as u64);
    assert!(!stmt.full, "the last instance of A is partial");
    assert_eq!(stmt.first_input_digest, closed_form_digest(&f.a.genesis()));
    let expected_out = f.a.advance(&f.a.genesis(), &ITEMS_A);
    assert_eq!(stmt.last_output_digest, closed_form_digest(&expected_out));
    assert_eq!(f.agg_a.last_output, expected_out);

    // The first leaf covers two full instances: full, 6 items.
    let leaf = f.circuits.leaf(f.a.circuit_id).unwrap();
    let first_leaf = leaf.verify(&f.leaves_a[0]).unwrap();
    assert!(first_leaf.full);
    assert_eq!(first_leaf.count, 6);

    let tip = honest_tip();
    f.circuits.tip().verify(tip).expect("tip verifies");
    let out = &tip.output;
    assert_eq!(
        out.recursion_vk_digest,
        f.circuits.tip().recursion_vk_digest()
    );
    assert_eq!(out.types.len(), 3);
    assert!(out.types[0].present && out.types[1].present && !out.types[2].present);
    assert_eq!(out.types[0].count, 13);
    assert_eq!(out.types[1].count, 3);
    assert_eq!(out.types[2].count, 0);
    assert_eq!(out.types[2].first_input, out.types[2].last_output);
    assert_eq!(
        &tip.proof.public_inputs[..4],
        &out.commitment().elements[..]
    );
}

/// A lighter chain than the default one, to keep the suite within minutes in a dev build: the
/// `light` profile (one standard shrink step, then one high-rate step: blowup 2^6, 14 queries,
/// 16 PoW bits: 6·14 + 16 = 100 bits, cap height 0). The default chain is proven by the ignored
/// test below and by the compression benchmark.
fn test_compression_steps() -> Vec<CompressionStep> {
    light_compression_steps()
}

fn compress_and_check(steps: &[CompressionStep]) {
    let f = fixture();
    let tip = honest_tip();
    let data = f.circuits.tip().circuit_data();
    let chain =
        CompressionChain::build(steps, &data.common, &data.verifier_only).expect("chain builds");
    let proofs = prove_compression(&chain, &tip.proof).expect("compression proves");
    let final_proof = proofs.last().unwrap();
    let pis = chain
        .verify_final(final_proof)
        .expect("final proof verifies");
    assert_eq!(pis, tip.output.public_inputs());
    let tip_size = proof_size(&tip.proof, data).unwrap();
    let final_size = proof_size(final_proof, chain.final_circuit().circuit_data()).unwrap();
    assert!(
        final_size.bytes < tip_size.bytes,
        "final proof {final_size:?} not smaller than the tip's {tip_size:?}"
    );
    // A final proof with altered public inputs is rejected.
    let mut forged = final_proof.clone();
    forged.public_inputs[0] += F::ONE;
    assert!(chain.verify_final(&forged).is_err());
}

#[test]
fn compressed_proof_verifies_and_keeps_the_tip_outputs() {
    compress_and_check(&test_compression_steps());
}

#[test]
#[ignore = "the default chain takes minutes in a dev build; the recursion benchmark runs it"]
fn default_compression_chain_verifies() {
    compress_and_check(&default_compression_steps());
}

#[test]
fn compression_refuses_weak_configurations() {
    let f = fixture();
    let mut steps = default_compression_steps();
    let last = steps.len() - 1;
    steps[last].config.fri_config.num_query_rounds = 8; // 7·8 + 16 = 72 bits
    let data = f.circuits.tip().circuit_data();
    let err = CompressionChain::build(&steps, &data.common, &data.verifier_only).unwrap_err();
    assert!(
        matches!(
            err,
            RecursionError::InsufficientSecurity { step, bits: 72, .. } if step == last
        ),
        "{err}"
    );
}

#[test]
fn leaf_rejects_reordered_children() {
    let f = fixture();
    leaf_rejects(
        f,
        "reordered",
        &[f.basic_a[1].clone(), f.basic_a[0].clone()],
    );
}

#[test]
fn leaf_rejects_dropped_child() {
    let f = fixture();
    // Instances 0 and 2: instance 1 is missing between them.
    leaf_rejects(f, "dropped", &[f.basic_a[0].clone(), f.basic_a[2].clone()]);
}

#[test]
fn leaf_rejects_duplicated_child() {
    let f = fixture();
    leaf_rejects(
        f,
        "duplicated",
        &[f.basic_a[0].clone(), f.basic_a[0].clone()],
    );
}

#[test]
fn leaf_rejects_wrong_previous_output() {
    let f = fixture();
    // A genuine instance that starts from a closed form other than its predecessor's output
    // (the analogue of a wrong previous state root).
    let mut wrong_start = f.basic_a[0].output.clone();
    wrong_start[1] += F::ONE;
    let broken = f.a.prove_instance(&wrong_start, &[4, 5, 6]);
    leaf_rejects(f, "broken continuity", &[f.basic_a[0].clone(), broken]);
}

#[test]
fn leaf_rejects_partial_instance_before_the_last() {
    let f = fixture();
    let partial = f.a.prove_instance(&f.a.genesis(), &[1]);
    let next = f.a.prove_instance(&partial.output, &[2, 3, 4]);
    leaf_rejects(f, "partial then more", &[partial, next]);
}

#[test]
fn leaf_rejects_basic_proof_of_another_type() {
    let f = fixture();
    // A genuine type-C instance, same shape as A's: only A's key in the leaf rejects it.
    let foreign = f.c.prove_instance(&f.a.genesis(), &[1, 2, 3]);
    leaf_rejects(f, "basic proof of type C in leaf A", &[foreign]);
}

#[test]
fn leaf_rejects_witness_that_does_not_open_the_public_inputs() {
    let f = fixture();
    let mut lying = f.basic_a[0].clone();
    lying.count = 2; // the proof says 3
    leaf_rejects(f, "wrong count witness", &[lying]);
}

#[test]
fn node_rejects_reordered_dropped_and_duplicated_children() {
    let f = fixture();
    let l = &f.leaves_a;
    node_rejects(f, "reordered", &[l[1].clone(), l[0].clone()]);
    node_rejects(f, "dropped", &[l[0].clone(), l[2].clone()]);
    node_rejects(f, "duplicated", &[l[0].clone(), l[0].clone()]);
}

#[test]
fn node_rejects_children_of_two_types() {
    let f = fixture();
    // A type-C run that starts exactly where A's first leaf ends, so continuity holds and only
    // the circuit-id check can reject the pair.
    let start = f.basic_a[1].output.clone();
    let c_basic = f.c.prove_chain(&start, &[7, 8, 9]);
    let c_leaf = f
        .circuits
        .leaf(f.c.circuit_id)
        .unwrap()
        .prove(&c_basic)
        .unwrap();
    node_rejects(f, "mixed types", &[f.leaves_a[0].clone(), c_leaf]);
}

#[test]
fn node_rejects_partial_child_before_the_last() {
    let f = fixture();
    // Leaf 2 of A holds the partial last instance; a node that continues after it must fail.
    // Reuse it as a first child followed by a run from its output.
    let after = f.a.prove_chain(&f.basic_a[4].output, &[1, 2, 3]);
    let next_leaf = f
        .circuits
        .leaf(f.a.circuit_id)
        .unwrap()
        .prove(&after)
        .unwrap();
    node_rejects(f, "partial then more", &[f.leaves_a[2].clone(), next_leaf]);
}

/// A circuit of exactly the leaf/node shape that verifies nothing and exposes whatever public
/// inputs its prover likes: the "foreign verifying key" adversary.
fn forged_recursion_proof(
    shape: &CommonCircuitData<F, D>,
    public_inputs: &[F],
) -> (ProofWithPublicInputs<F, C, D>, CircuitData<F, C, D>) {
    let mut b = CircuitBuilder::<F, D>::new(recursion_config());
    let pis: Vec<_> = (0..shape.num_public_inputs)
        .map(|_| b.add_virtual_public_input())
        .collect();
    // One random access, whose gate carries spare constant slots: like the leaf and node, the
    // forged circuit then needs no separate constant gate (which their shape does not have).
    let table = b.add_virtual_targets(16);
    let index = b.add_virtual_target();
    b.random_access(index, table.clone());
    for gate in &shape.gates {
        b.add_gate_to_gate_set(gate.clone());
    }
    while b.num_gates() < (1 << (shape.degree_bits() - 1)) + 1 {
        b.add_gate(NoopGate, vec![]);
    }
    let data = b.build::<C>();
    assert_eq!(
        &data.common, shape,
        "forged circuit must have the recursion shape"
    );
    let mut pw = PartialWitness::new();
    pw.set_target(index, F::ZERO).unwrap();
    for t in &table {
        pw.set_target(*t, F::ZERO).unwrap();
    }
    for (t, v) in pis.iter().zip(public_inputs) {
        pw.set_target(*t, *v).unwrap();
    }
    (data.prove(pw).unwrap(), data)
}

#[test]
fn node_and_tip_reject_a_proof_under_a_foreign_key() {
    let f = fixture();
    let node = f.circuits.node();
    let shape = node.common().clone();
    // Claims to continue leaf 0 of A with a million items.
    let first = f.leaves_a[0].statement().unwrap();
    let claimed = AggregateStatement {
        circuit_id: f.a.circuit_id,
        first_input_digest: first.last_output_digest,
        last_output_digest: closed_form_digest(&[F::ONE, F::TWO]),
        count: 1_000_000,
        full: true,
    };

    // 1. As a leaf-like child with the honest node key: the key is in no set.
    let mut pis = claimed.to_fields().to_vec();
    pis.resize(RECURSION_PUBLIC_INPUTS, F::ZERO);
    let (forged, forged_data) = forged_recursion_proof(&shape, &pis);
    let witness = NodeWitness {
        children: vec![
            (
                f.leaves_a[0].proof.clone(),
                f.circuits
                    .leaf(f.a.circuit_id)
                    .unwrap()
                    .circuit_data()
                    .verifier_only
                    .clone(),
            ),
            (forged.clone(), forged_data.verifier_only.clone()),
        ],
        claimed_node_key: node.verifier_only().clone(),
    };
    assert_no_accepted_proof("foreign key child", node.prove_witness(&witness), |p| {
        node.verify(p).map(|_| ())
    });

    // 2. The forged circuit posing as the node itself: the node claims the forged key as its
    //    own, the forged child claims it too. plonky2 accepts the node proof, but the claimed
    //    key is not the node's: the native node verifier and the tip both refuse it.
    let mut pis = claimed.to_fields().to_vec();
    pis.extend(forged_key_fields(&forged_data));
    let (forged, forged_data) = {
        // The key fields depend on the circuit, not on the public-input values, so the circuit
        // built above with other values has the same key.
        let (p, d) = forged_recursion_proof(&shape, &pis);
        assert_eq!(d.verifier_only, forged_data.verifier_only);
        (p, d)
    };
    let witness = NodeWitness {
        children: vec![
            (
                f.leaves_a[0].proof.clone(),
                f.circuits
                    .leaf(f.a.circuit_id)
                    .unwrap()
                    .circuit_data()
                    .verifier_only
                    .clone(),
            ),
            (forged, forged_data.verifier_only.clone()),
        ],
        claimed_node_key: forged_data.verifier_only.clone(),
    };
    let rogue_node = node
        .prove_witness(&witness)
        .expect("plonky2 accepts a node claiming a foreign key (the tip must not)");
    assert!(
        node.verify(&rogue_node).is_err(),
        "native node verifier accepted a foreign key"
    );

    let tip = f.circuits.tip();
    let slots = vec![
        TipSlot::Present {
            final_node: Box::new(rogue_node),
            first_input: f.a.genesis(),
            last_output: vec![F::ONE, F::TWO],
        },
        f.agg_b.clone().into_tip_slot(),
        TipSlot::Absent {
            closed_form: f.c.genesis(),
        },
    ];
    assert!(tip.prove(node, &slots).is_err(), "tip pre-checks accepted");
    let (pw, output) = tip
        .assign_witness(&tip.witness_for(&slots).unwrap())
        .expect("structurally valid");
    assert_no_accepted_proof(
        "tip over a foreign node key",
        tip.prove_witness(pw, output),
        |p| tip.verify(p),
    );
}

fn forged_key_fields(data: &CircuitData<F, C, D>) -> Vec<F> {
    let mut out = data.verifier_only.circuit_digest.elements.to_vec();
    for h in &data.verifier_only.constants_sigmas_cap.0 {
        out.extend_from_slice(&h.elements);
    }
    out
}

#[test]
fn tip_rejects_a_final_node_of_the_wrong_type() {
    let f = fixture();
    // A genuine final node proof of type C, given (with its own consistent closed forms) to
    // the slot of type A.
    let c_basic = f.c.prove_chain(&f.c.genesis(), &[1, 2]);
    let agg_c = aggregate_type(&f.circuits, f.c.circuit_id, &c_basic).unwrap();
    let slots = vec![
        agg_c.into_tip_slot(),
        f.agg_b.clone().into_tip_slot(),
        TipSlot::Absent {
            closed_form: f.c.genesis(),
        },
    ];
    let tip = f.circuits.tip();
    assert!(tip.prove(f.circuits.node(), &slots).is_err());
    let (pw, output) = tip
        .assign_witness(&tip.witness_for(&slots).unwrap())
        .unwrap();
    assert_no_accepted_proof("type C in slot A", tip.prove_witness(pw, output), |p| {
        tip.verify(p)
    });
}

#[test]
fn tip_rejects_an_absent_type_claiming_output() {
    let f = fixture();
    let tip = f.circuits.tip();
    // An absent type whose closed form changes.
    let slots = honest_tip_slots(f);
    let mut witness = tip.witness_for(&slots).unwrap();
    witness[2].last_output[0] += F::ONE;
    let (pw, output) = tip.assign_witness(&witness).unwrap();
    assert_no_accepted_proof(
        "absent type with changed closed form",
        tip.prove_witness(pw, output),
        |p| tip.verify(p),
    );

    // An absent type claiming a count: the circuit commits to 0, so the claim does not match.
    let mut witness = tip.witness_for(&slots).unwrap();
    witness[2].count = 5;
    let (pw, output) = tip.assign_witness(&witness).unwrap();
    assert_no_accepted_proof(
        "absent type with a count",
        tip.prove_witness(pw, output),
        |p| tip.verify(p),
    );
}

#[test]
fn circuits_round_trip_through_bytes() {
    let f = fixture();
    let bytes = f.circuits.to_bytes().expect("serialize");
    let back = RecursionCircuits::from_bytes(&bytes).expect("deserialize");
    assert_eq!(back.recursion_vk_digest(), f.circuits.recursion_vk_digest());
    assert_eq!(
        back.node().verifier_only(),
        f.circuits.node().verifier_only()
    );
    for (x, y) in back.leaves().iter().zip(f.circuits.leaves()) {
        assert_eq!(
            x.circuit_data().verifier_only,
            y.circuit_data().verifier_only
        );
        assert_eq!(x.common(), y.common());
    }
    // The deserialized circuits prove, and the originals accept their proofs.
    let leaf = back
        .leaf(f.a.circuit_id)
        .unwrap()
        .prove(&f.basic_a[..2])
        .unwrap();
    f.circuits
        .leaf(f.a.circuit_id)
        .unwrap()
        .verify(&leaf)
        .unwrap();
    let node = back.node().prove(&[leaf]).unwrap();
    f.circuits.node().verify(&node).unwrap();
    let tip = back.tip().prove(back.node(), &honest_tip_slots(f)).unwrap();
    f.circuits.tip().verify(&tip).unwrap();

    // Truncated or foreign bytes are refused with an error.
    assert!(RecursionCircuits::from_bytes(&bytes[..bytes.len() / 2]).is_err());
    assert!(LeafCircuit::from_bytes(&f.circuits.node().to_bytes().unwrap()).is_err());
}

#[test]
fn compression_circuit_round_trips_through_bytes() {
    let f = fixture();
    let data = f.circuits.tip().circuit_data();
    let step = &default_compression_steps()[0];
    let circuit =
        CompressionCircuit::build(step.name, &step.config, &data.common, &data.verifier_only);
    let back = CompressionCircuit::from_bytes(&circuit.to_bytes().unwrap()).unwrap();
    assert_eq!(
        back.circuit_data().verifier_only,
        circuit.circuit_data().verifier_only
    );
    assert_eq!(back.circuit_data().common, circuit.circuit_data().common);
    assert_eq!(back.name(), "shrink");
}

#[test]
fn input_errors_name_the_fault() {
    let f = fixture();
    let leaf = f.circuits.leaf(f.a.circuit_id).unwrap();
    let err = leaf.prove(&[]).unwrap_err();
    assert!(
        matches!(err, RecursionError::ChildCount { got: 0, .. }),
        "{err}"
    );
    let err = leaf.prove(&f.basic_a[..3]).unwrap_err();
    assert!(
        matches!(err, RecursionError::ChildCount { got: 3, .. }),
        "{err}"
    );
    let err = leaf
        .prove(&[f.basic_a[1].clone(), f.basic_a[0].clone()])
        .unwrap_err();
    assert!(err.to_string().contains("child 1"), "{err}");
    // A type-B proof has another shape: refused before the circuit.
    let b_proof = f.b.prove_instance(&f.b.genesis(), &[1]);
    let err = leaf.assign_witness(&[b_proof]).unwrap_err();
    assert!(
        err.to_string().contains("not a proof of basic type 1"),
        "{err}"
    );
    assert!(matches!(
        f.circuits.leaf(zkfleet_types::CircuitId(99)),
        Err(RecursionError::UnknownCircuitType(_))
    ));
}
