//! Adversarial tests of every aggregation link (leaf, node, recursion tip, scheduler).
//!
//! Each attack builds a *self-consistent* bad witness, so that only the constraint under test
//! stands between it and a proof: child proofs with an unusual statement are produced honestly
//! by the layer below (the toy basic types of `recursion_support::FreeToyType` prove any
//! statement, as a basic circuit with a bug would), and values no honest generator would write
//! are forced through `adversary::attack`. Every attack has a control through the same route
//! with honest values, which must be accepted, so that a harness failing for an unrelated
//! reason never passes as a rejection.
//!
//! Geometry: the three rollup types as toy types of the scheduler's circuit ids and closed-form
//! lengths (signature 4, state 27 of which 3 run constants, priority 6), capacity 2, arity 2.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod adversary;
mod recursion_support;

use std::sync::OnceLock;

use adversary::{attack, Outcome, Rejection};
use plonky2::field::types::{Field, PrimeField64};
use plonky2::iop::target::Target;
use recursion_support::{forged_proof_of_shape, FreeToyType};
use zkfleet_circuits::recursion::*;
use zkfleet_types::{BatchNumber, BatchPublicOutput, CircuitId, HashDigest};

const ARITY: usize = 2;
const CAPACITY: u64 = 2;
const BASIC_DEGREE_BITS: usize = 10;
const BATCH: BatchNumber = BatchNumber(7);

/// Slots of the three types in the tip (and the order of `RecursionCircuits::build`).
const SIG: usize = 0;
const STATE: usize = 1;
const PRIO: usize = 2;

/// State closed form (docs/rollup-circuits.md §3): root, operations, signed operations,
/// deposits, withdrawals, pubdata (4 each), chain id (lo, hi), operator.
const STATE_ROOT: usize = 0;
const STATE_OPERATIONS: usize = 4;
const STATE_SIGNED: usize = 8;
const STATE_DEPOSITS: usize = 12;
const STATE_WITHDRAWALS: usize = 16;
const STATE_PUBDATA: usize = 20;
const STATE_CHAIN_ID: usize = 24;
const STATE_OWN_OUTPUT: usize = 24;
/// Public inputs of the scheduler: deposits consumed (lo, hi).
const PI_DEPOSITS_LO: usize = 15;
const PI_DEPOSITS_HI: usize = 16;

struct Fixture {
    types: [FreeToyType; 3],
    circuits: RecursionCircuits,
    scheduler: SchedulerCircuit,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let types = [
            FreeToyType::build(
                CircuitId::SIGNATURE_VERIFICATION.0,
                4,
                4,
                CAPACITY,
                BASIC_DEGREE_BITS,
            ),
            FreeToyType::build(
                CircuitId::STATE_TRANSITION.0,
                27,
                STATE_OWN_OUTPUT,
                CAPACITY,
                BASIC_DEGREE_BITS,
            ),
            FreeToyType::build(
                CircuitId::PRIORITY_OPERATIONS.0,
                6,
                6,
                CAPACITY,
                BASIC_DEGREE_BITS,
            ),
        ];
        let shapes: Vec<_> = types.iter().map(|t| t.shape()).collect();
        let circuits = RecursionCircuits::build(&shapes, ARITY).expect("recursion circuits");
        let scheduler = SchedulerCircuit::build(&circuits).expect("scheduler");
        Fixture {
            types,
            circuits,
            scheduler,
        }
    })
}

fn fe(v: u64) -> F {
    F::from_canonical_u64(v)
}

fn fes(vs: &[u64]) -> Vec<F> {
    vs.iter().map(|v| fe(*v)).collect()
}

// ---------------------------------------------------------------------------------------------
// The honest batch: one instance per type, every link satisfied.
// ---------------------------------------------------------------------------------------------

/// A run of one type: the closed forms at both ends and the items counted.
#[derive(Clone, Debug)]
struct Run {
    first: Vec<F>,
    last: Vec<F>,
    count: u64,
}

const SIG_LAST: [u64; 4] = [11, 12, 13, 14];
const DEPOSITS: [u64; 4] = [31, 32, 33, 34];
const DEPOSITS_COUNT: u64 = 2;

fn honest_run(slot: usize) -> Run {
    match slot {
        SIG => Run {
            first: vec![F::ZERO; 4],
            last: fes(&SIG_LAST),
            count: 2,
        },
        STATE => {
            let mut first = fes(&[1, 2, 3, 4]);
            first.extend(vec![F::ZERO; 20]);
            first.extend(fes(&[77, 0, 5])); // chain id 77, operator 5
            let mut last = fes(&[5, 6, 7, 8, 21, 22, 23, 24]);
            last.extend(fes(&SIG_LAST));
            last.extend(fes(&DEPOSITS));
            last.extend(fes(&[41, 42, 43, 44, 51, 52, 53, 54]));
            last.extend_from_slice(&first[STATE_CHAIN_ID..]);
            Run {
                first,
                last,
                count: 2,
            }
        }
        PRIO => Run {
            first: fes(&[0, 0, 0, 0, 100, 0]),
            last: {
                let mut v = fes(&DEPOSITS);
                v.extend(fes(&[100 + DEPOSITS_COUNT, 0]));
                v
            },
            count: DEPOSITS_COUNT,
        },
        _ => unreachable!(),
    }
}

/// The final node proof of a run proven in one instance (one leaf, one node).
fn aggregate(f: &Fixture, slot: usize, run: &Run) -> TypeAggregate {
    let ty = &f.types[slot];
    let basic = ty.prove_instance(&run.first, &run.last, run.count);
    aggregate_type(&f.circuits, ty.circuit_id, &[basic]).expect("a genuine aggregate")
}

fn honest_aggregates() -> &'static [TypeAggregate; 3] {
    static AGGS: OnceLock<[TypeAggregate; 3]> = OnceLock::new();
    AGGS.get_or_init(|| {
        let f = fixture();
        [SIG, STATE, PRIO].map(|slot| aggregate(f, slot, &honest_run(slot)))
    })
}

fn honest_slots() -> Vec<TipSlot> {
    honest_aggregates()
        .iter()
        .map(|a| a.clone().into_tip_slot())
        .collect()
}

/// A genuine tip proof over `slots` (the tip's native checks pass: every present slot is a
/// genuine final node proof whose ends match).
fn tip_over(slots: &[TipSlot]) -> TipProof {
    let f = fixture();
    f.circuits
        .tip()
        .prove(f.circuits.node(), slots)
        .expect("a genuine tip proof")
}

/// The honest tip, proven through the tip's attack route with no override: it is also the
/// control of every tip attack on the honest slots.
fn honest_tip() -> &'static TipProof {
    static TIP: OnceLock<TipProof> = OnceLock::new();
    TIP.get_or_init(|| {
        let tip = fixture().circuits.tip();
        let (_, output) = tip.assign_witness(&honest_tip_witness()).unwrap();
        let proof =
            tip_attack(&honest_tip_witness(), &[]).assert_accepted("tip control (honest slots)");
        let tip_proof = TipProof { proof, output };
        tip.verify(&tip_proof)
            .expect("the honest tip commits to its outputs");
        tip_proof
    })
}

/// A genuine tip proof in which `slot` runs `run` instead of its honest run.
fn tip_with_run(slot: usize, run: &Run) -> TipProof {
    let f = fixture();
    let mut slots = honest_slots();
    slots[slot] = aggregate(f, slot, run).into_tip_slot();
    tip_over(&slots)
}

// ---------------------------------------------------------------------------------------------
// Routes: each layer's structural witness assignment, then the adversary.
// ---------------------------------------------------------------------------------------------

/// The lenient adversary: like `adversary::attack`, but the attacker completes the witness
/// however the circuit's generators fail to: a generator that panics is skipped with nothing it
/// wrote (plonky2's decomposition and Poseidon generators assert on values they cannot handle,
/// before any constraint is reached), a value a generator would write into a partition that
/// already holds another is dropped (the attacker's value stays), and wires nobody sets are 0.
/// The prover then proves whatever witness results, so only the constraints decide: such an
/// attack is rejected by the verifier, never by a generator. (Conflicting *inputs* still give
/// `CopyConstraint`: one partition cannot hold two values.)
fn attack_lenient(
    data: &plonky2::plonk::circuit_data::CircuitData<F, C, D>,
    inputs: plonky2::iop::witness::PartialWitness<F>,
    overrides: &[(Target, F)],
) -> Outcome {
    use plonky2::iop::generator::GeneratedValues;
    use plonky2::iop::witness::PartitionWitness;
    use plonky2::plonk::prover::prove_with_partition_witness;
    use plonky2::util::timing::TimingTree;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    let common = &data.common;
    let prover = &data.prover_only;
    let num_wires = common.config.num_wires;
    let degree = common.degree();
    let rep = |t: Target| prover.representative_map[t.index(num_wires, degree)];
    let mut witness = PartitionWitness::new(num_wires, degree, &prover.representative_map);
    let forced: std::collections::HashSet<usize> = overrides.iter().map(|(t, _)| rep(*t)).collect();
    for (t, v) in overrides {
        if let Err(e) = witness.set_target_returning_rep(*t, *v) {
            return Outcome::Rejected(Rejection::CopyConstraint(e.to_string()));
        }
    }
    for (t, v) in inputs.target_values {
        if forced.contains(&rep(t)) {
            continue;
        }
        if let Err(e) = witness.set_target_returning_rep(t, v) {
            return Outcome::Rejected(Rejection::CopyConstraint(e.to_string()));
        }
    }
    let generators = &prover.generators;
    let mut done = vec![false; generators.len()];
    let mut buffer = GeneratedValues::<F>::empty();
    let _quiet = QuietPanics::on();
    loop {
        let mut progress = false;
        for (i, g) in generators.iter().enumerate() {
            if done[i]
                || g.0
                    .watch_list()
                    .iter()
                    .any(|t| witness.values[rep(*t)].is_none())
            {
                continue;
            }
            let ran = catch_unwind(AssertUnwindSafe(|| g.0.run(&witness, &mut buffer)));
            let finished = match ran {
                Ok(finished) => finished,
                Err(_) => {
                    buffer.target_values.clear();
                    true
                }
            };
            if finished {
                done[i] = true;
                progress = true;
            }
            for (t, v) in buffer.target_values.drain(..) {
                let r = rep(t);
                if witness.values[r].is_none() {
                    witness.values[r] = Some(v);
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    let proved = catch_unwind(AssertUnwindSafe(|| {
        prove_with_partition_witness::<F, C, D>(prover, common, witness, &mut TimingTree::default())
    }));
    let proof = match proved {
        Ok(Ok(proof)) => proof,
        Ok(Err(e)) => return Outcome::Rejected(Rejection::Proving(e.to_string())),
        Err(_) => return Outcome::Rejected(Rejection::Proving("prover panicked".into())),
    };
    match data.verify(proof.clone()) {
        Ok(()) => Outcome::Accepted(Box::new(proof)),
        Err(e) => Outcome::Rejected(Rejection::Verification(e.to_string())),
    }
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Silences the panic hook on this thread while a lenient generation runs (its generators'
/// expected panics would each print a message and a backtrace); other threads, and this one
/// afterwards, keep the default hook.
struct QuietPanics;

impl QuietPanics {
    fn on() -> Self {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(|q| q.get()) {
                    previous(info)
                }
            }));
        });
        QUIET.with(|q| q.set(true));
        QuietPanics
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(false));
    }
}

/// A lenient attack must be stopped by the verifier (a constraint), not by the prover.
#[track_caller]
fn assert_refused_by_verifier(outcome: Outcome, what: &str) {
    let rejection = outcome.assert_rejected(what);
    assert!(
        matches!(rejection, Rejection::Verification(_)),
        "{what}: expected the verifier to refuse, got {rejection:?}"
    );
}

fn leaf_attack(slot: usize, children: &[BasicProof], overrides: &[(Target, F)]) -> Outcome {
    let f = fixture();
    let leaf = f.circuits.leaf(f.types[slot].circuit_id).unwrap();
    let pw = leaf.assign_witness(children).expect("structurally valid");
    attack(leaf.circuit_data(), pw, overrides)
}

fn node_attack(witness: &NodeWitness, overrides: &[(Target, F)]) -> Outcome {
    let node = fixture().circuits.node();
    let pw = node.assign_witness(witness).expect("structurally valid");
    attack(node.circuit_data(), pw, overrides)
}

fn tip_attack(slots: &[TipSlotWitness], overrides: &[(Target, F)]) -> Outcome {
    let tip = fixture().circuits.tip();
    let (pw, _) = tip.assign_witness(slots).expect("structurally valid");
    attack(tip.circuit_data(), pw, overrides)
}

fn scheduler_witness(tip: &TipProof) -> SchedulerWitness {
    SchedulerWitness {
        tip_proof: tip.proof.clone(),
        types: tip.output.types.clone(),
        batch_number: BATCH,
    }
}

fn scheduler_attack(witness: &SchedulerWitness, overrides: &[(Target, F)]) -> Outcome {
    let scheduler = &fixture().scheduler;
    let pw = scheduler
        .assign_witness(witness)
        .expect("structurally valid");
    attack(scheduler.circuit_data(), pw, overrides)
}

/// The control of every scheduler attack: the honest tip through the same route is accepted
/// and attests the native scheduler's output. Run once per binary.
fn scheduler_control() -> &'static BatchPublicOutput {
    static CONTROL: OnceLock<BatchPublicOutput> = OnceLock::new();
    CONTROL.get_or_init(|| {
        let f = fixture();
        let tip = honest_tip();
        let expected = f.scheduler.check(&tip.output, BATCH).expect("honest batch");
        let proof = scheduler_attack(&scheduler_witness(tip), &[])
            .assert_accepted("scheduler control (honest tip)");
        let got = decode_public_output(&proof.public_inputs).expect("canonical output");
        assert_eq!(got, expected);
        assert_eq!(got.deposits_consumed, DEPOSITS_COUNT);
        got
    })
}

/// A scheduler link attack over a genuine tip: the native scheduler refuses it on `link`, and
/// the circuit refuses it too (the control being accepted).
fn scheduler_rejects(what: &str, tip: &TipProof, link: &str) -> Rejection {
    scheduler_control();
    let f = fixture();
    match f.scheduler.check(&tip.output, BATCH) {
        Err(RecursionError::CrossTypeLink { link: got, .. }) => {
            assert_eq!(got, link, "{what}: the native scheduler names another link")
        }
        other => panic!("{what}: the native scheduler must refuse on {link}, got {other:?}"),
    }
    scheduler_attack(&scheduler_witness(tip), &[]).assert_rejected(what)
}

fn public_input_target(
    data: &plonky2::plonk::circuit_data::CircuitData<F, C, D>,
    i: usize,
) -> Target {
    data.prover_only.public_inputs[i]
}

// ---------------------------------------------------------------------------------------------
// Scheduler: deposits_consumed must be canonical (issue 14, part 1).
// ---------------------------------------------------------------------------------------------

#[test]
fn scheduler_accepts_the_honest_batch() {
    let out = scheduler_control();
    assert_eq!(out.batch_number, BATCH);
    assert_eq!(out.chain_id.0, 77);
}

/// `split_low_high(count, 32, 64)` alone lets a prover expose `(count + 1, 2^32 - 1)`, which is
/// `count + p` as an integer and `count` in the field.
#[test]
fn scheduler_rejects_non_canonical_deposits_consumed() {
    let out = scheduler_control();
    let f = fixture();
    let data = f.scheduler.circuit_data();
    let count = out.deposits_consumed;
    let lo = fe(count + 1);
    let hi = fe(u64::from(u32::MAX));
    let overrides = [
        (public_input_target(data, PI_DEPOSITS_LO), lo),
        (public_input_target(data, PI_DEPOSITS_HI), hi),
    ];
    // Control through the same route: forcing the honest limbs is accepted.
    scheduler_attack(
        &scheduler_witness(honest_tip()),
        &[
            (public_input_target(data, PI_DEPOSITS_LO), fe(count)),
            (public_input_target(data, PI_DEPOSITS_HI), F::ZERO),
        ],
    )
    .assert_accepted("deposits_consumed control (honest limbs forced)");
    // The lenient route (generators that refuse are skipped): its own control, then the attack,
    // which the verifier must refuse.
    let lenient = |overrides: &[(Target, F)]| {
        let pw = f
            .scheduler
            .assign_witness(&scheduler_witness(honest_tip()))
            .unwrap();
        attack_lenient(data, pw, overrides)
    };
    lenient(&[
        (public_input_target(data, PI_DEPOSITS_LO), fe(count)),
        (public_input_target(data, PI_DEPOSITS_HI), F::ZERO),
    ])
    .assert_accepted("deposits_consumed control (lenient route)");
    assert_refused_by_verifier(
        lenient(&overrides),
        "non-canonical deposits_consumed (lenient)",
    );
    match scheduler_attack(&scheduler_witness(honest_tip()), &overrides) {
        Outcome::Rejected(r) => eprintln!("non-canonical deposits_consumed: rejected ({r:?})"),
        Outcome::Accepted(proof) => panic!(
            "non-canonical deposits_consumed: the attack produced a valid proof; public inputs \
             15..17 = {:?}, decoded as {:?}",
            &proof.public_inputs[PI_DEPOSITS_LO..=PI_DEPOSITS_HI],
            decode_public_output(&proof.public_inputs).map(|o| o.deposits_consumed)
        ),
    }
}

#[test]
fn decoder_refuses_non_canonical_limbs() {
    let mut output = *scheduler_control();
    let honest = batch_public_inputs(&output).unwrap();
    assert_eq!(decode_public_output(&honest).unwrap(), output);

    // (count + 1, 2^32 - 1): count + p, which the field cannot tell from count.
    let mut forged = honest.clone();
    forged[PI_DEPOSITS_LO] = fe(output.deposits_consumed + 1);
    forged[PI_DEPOSITS_HI] = fe(u64::from(u32::MAX));
    let err = decode_public_output(&forged).unwrap_err();
    assert!(err.to_string().contains("deposits consumed"), "{err}");
    // Any non-zero high limb: the circuit exposes deposits_consumed < 2^32 with a zero high limb.
    let mut forged = honest.clone();
    forged[PI_DEPOSITS_HI] = F::ONE;
    let err = decode_public_output(&forged).unwrap_err();
    assert!(err.to_string().contains("deposits consumed"), "{err}");
    // A limb that is not 32-bit.
    let mut forged = honest.clone();
    forged[PI_DEPOSITS_LO] = fe(1 << 32);
    assert!(decode_public_output(&forged).is_err());
    // The encoder refuses what the circuit cannot expose.
    output.deposits_consumed = 1 << 32;
    assert!(batch_public_inputs(&output).is_err());
    // The native scheduler refuses a count the circuit cannot expose.
    let f = fixture();
    let mut tip = honest_tip().output.clone();
    tip.types[PRIO].count = 1 << 32;
    assert!(matches!(
        f.scheduler.check(&tip, BATCH),
        Err(RecursionError::CrossTypeLink {
            link: "deposits consumed",
            ..
        })
    ));
    // Chain id and batch number keep their checks.
    let mut forged = honest.clone();
    forged[0] = fe(1 << 32);
    assert!(decode_public_output(&forged).is_err());
    let mut forged = honest;
    forged[2] = fe(1 << 32);
    assert!(decode_public_output(&forged).is_err());
}

// ---------------------------------------------------------------------------------------------
// Scheduler: the cross-type links, each over a genuine tip that breaks only that link.
// ---------------------------------------------------------------------------------------------

/// The honest run of `slot` with `edit` applied to it.
fn edited_run(slot: usize, edit: impl FnOnce(&mut Run)) -> Run {
    let mut run = honest_run(slot);
    edit(&mut run);
    run
}

#[test]
fn scheduler_rejects_signature_chain_not_starting_at_zero() {
    let run = edited_run(SIG, |r| r.first[2] = fe(9));
    scheduler_rejects(
        "signature chain from non-ZERO",
        &tip_with_run(SIG, &run),
        "signatures start",
    );
}

/// Each of the state type's five chains, in turn, starts elsewhere (run in one test so the
/// shared fixture is built once; every case is still a separate genuine tip).
#[test]
fn scheduler_rejects_each_state_chain_not_starting_at_zero() {
    for (name, at) in [
        ("operations", STATE_OPERATIONS),
        ("signed operations", STATE_SIGNED),
        ("deposits", STATE_DEPOSITS),
        ("withdrawals", STATE_WITHDRAWALS),
        ("pubdata", STATE_PUBDATA),
    ] {
        let run = edited_run(STATE, |r| r.first[at + 3] = fe(1));
        scheduler_rejects(
            &format!("state {name} chain from non-ZERO"),
            &tip_with_run(STATE, &run),
            "state start",
        );
    }
}

#[test]
fn scheduler_rejects_priority_chain_not_starting_at_zero() {
    // The priority serial (elements 4, 5) is free; the deposits chain is not.
    let run = edited_run(PRIO, |r| r.first[0] = fe(3));
    scheduler_rejects(
        "priority deposits chain from non-ZERO",
        &tip_with_run(PRIO, &run),
        "deposits start",
    );
}

#[test]
fn scheduler_rejects_chain_id_limbs_out_of_range() {
    for k in 0..2 {
        let run = edited_run(STATE, |r| {
            r.first[STATE_CHAIN_ID + k] = fe(1 << 32);
            r.last[STATE_CHAIN_ID + k] = fe(1 << 32);
        });
        let rejection = scheduler_rejects(
            &format!("chain id limb {k} = 2^32"),
            &tip_with_run(STATE, &run),
            "chain id",
        );
        // No 32-bit decomposition of 2^32 exists: the range check's witness generation finds
        // none (and any limbs an attacker picks fail its gate).
        assert!(
            matches!(rejection, Rejection::CopyConstraint(_)),
            "{rejection:?}"
        );
    }
}

#[test]
fn scheduler_rejects_absent_state_type() {
    // The state type absent with a closed form that satisfies every other link: every chain
    // ZERO, the signature type present with nothing signed (its chain stays ZERO), no deposits.
    let f = fixture();
    let mut state_form = honest_run(STATE).first;
    state_form[STATE_ROOT..STATE_ROOT + 4].copy_from_slice(&fes(&[9, 9, 9, 9]));
    let sig = Run {
        first: vec![F::ZERO; 4],
        last: vec![F::ZERO; 4],
        count: 1,
    };
    let slots = vec![
        aggregate(f, SIG, &sig).into_tip_slot(),
        TipSlot::Absent {
            closed_form: state_form,
        },
        TipSlot::Absent {
            closed_form: fes(&[0, 0, 0, 0, 100, 0]),
        },
    ];
    scheduler_rejects("absent state type", &tip_over(&slots), "state present");
}

#[test]
fn scheduler_rejects_signatures_that_differ_from_the_state() {
    let run = edited_run(SIG, |r| r.last[0] += F::ONE);
    scheduler_rejects(
        "signature chain ≠ state's signed chain",
        &tip_with_run(SIG, &run),
        "signatures ↔ state",
    );
}

#[test]
fn scheduler_rejects_deposits_that_differ_from_the_state() {
    let run = edited_run(PRIO, |r| r.last[3] += F::ONE);
    scheduler_rejects(
        "priority deposits ≠ state's deposits",
        &tip_with_run(PRIO, &run),
        "deposits ↔ state",
    );
}

/// A genuine tip over a state chain that starts from another previous root. No constraint
/// can refuse it (the previous root is whatever the state chain starts from): the scheduler
/// proves it and exposes that root, so the verifier, which compares the public output with the
/// batch's expected one, refuses it.
#[test]
fn scheduler_exposes_the_previous_root_the_state_chain_starts_from() {
    let expected = *scheduler_control();
    let other_root = fes(&[101, 102, 103, 104]);
    let run = edited_run(STATE, |r| {
        r.first[STATE_ROOT..STATE_ROOT + 4].copy_from_slice(&other_root)
    });
    let tip = tip_with_run(STATE, &run);
    let proof = scheduler_attack(&scheduler_witness(&tip), &[])
        .assert_accepted("tip over another previous root");
    let got = decode_public_output(&proof.public_inputs).unwrap();
    assert_eq!(got.prev_state_root, to_hash_digest_of(&other_root));
    assert_ne!(got.prev_state_root, expected.prev_state_root);
    assert_ne!(got, expected, "the verifier's comparison must refuse it");
    assert_eq!(
        batch_public_inputs(&expected).unwrap()[3..7],
        fes(&[1, 2, 3, 4])[..]
    );
}

fn to_hash_digest_of(v: &[F]) -> HashDigest {
    HashDigest(std::array::from_fn(|k| v[k].to_canonical_u64()))
}

/// The tip's key is a constant of the scheduler: a proof of the tip's shape from another
/// circuit, exposing exactly the honest tip's public inputs, is refused.
#[test]
fn scheduler_rejects_a_tip_proof_under_another_key() {
    scheduler_control();
    let f = fixture();
    let tip_data = f.circuits.tip().circuit_data();
    let honest = honest_tip();
    let (forged, forged_data) =
        forged_proof_of_shape(&tip_data.common, &honest.proof.public_inputs);
    assert_ne!(forged_data.verifier_only, tip_data.verifier_only);
    forged_data
        .verify(forged.clone())
        .expect("valid under its own key");
    let witness = SchedulerWitness {
        tip_proof: forged,
        types: honest.output.types.clone(),
        batch_number: BATCH,
    };
    scheduler_attack(&witness, &[]).assert_rejected("tip proof under a foreign key");
}

/// The scheduler requires the tip's key digest (public inputs 4..8) to be this geometry's
/// `recursion_vk_digest`. A genuine tip exposes it as a constant, so no genuine tip proof
/// breaks this alone: the attack forces other values on the tip proof's public-input targets
/// inside the scheduler, which both this link and the in-circuit verification refuse.
#[test]
fn scheduler_rejects_another_recursion_vk_digest() {
    scheduler_control();
    let f = fixture();
    let honest = honest_tip();
    let other = fe(12345);
    // The scheduler's tip-proof public-input targets are not among its own public inputs; find
    // them through the witness assignment: the target set to the honest digest's first element.
    let digest = f.circuits.tip().recursion_vk_digest();
    let pw = f
        .scheduler
        .assign_witness(&scheduler_witness(honest))
        .unwrap();
    let targets: Vec<Target> = pw
        .target_values
        .iter()
        .filter(|(_, v)| **v == digest.elements[0])
        .map(|(t, _)| *t)
        .collect();
    assert!(!targets.is_empty());
    let overrides: Vec<(Target, F)> = targets.iter().map(|t| (*t, other)).collect();
    // Control: the same targets forced to their honest value.
    let control: Vec<(Target, F)> = targets.iter().map(|t| (*t, digest.elements[0])).collect();
    let lenient = |o: &[(Target, F)]| attack_lenient(f.scheduler.circuit_data(), pw.clone(), o);
    lenient(&control).assert_accepted("recursion_vk_digest control (lenient route)");
    assert_refused_by_verifier(lenient(&overrides), "another recursion_vk_digest");
    let mut tip = honest.output.clone();
    tip.recursion_vk_digest.elements[0] = other;
    assert!(matches!(
        f.scheduler.check(&tip, BATCH),
        Err(RecursionError::CrossTypeLink { link: "keys", .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Recursion tip.
// ---------------------------------------------------------------------------------------------

fn honest_tip_witness() -> Vec<TipSlotWitness> {
    fixture()
        .circuits
        .tip()
        .witness_for(&honest_slots())
        .unwrap()
}

/// Honest slots with the priority type absent (its closed form unchanged, ZERO deposits).
fn tip_witness_prio_absent() -> Vec<TipSlotWitness> {
    let mut slots = honest_slots();
    slots[PRIO] = TipSlot::Absent {
        closed_form: fes(&[0, 0, 0, 0, 100, 0]),
    };
    fixture().circuits.tip().witness_for(&slots).unwrap()
}

fn tip_control() {
    honest_tip();
}

/// The route of the absent-type attacks: the priority type absent, and the count the tip
/// commits to for it forced (to `count`). The control forces the honest 0.
fn absent_attack(witness: &[TipSlotWitness], count: u64) -> Outcome {
    let target = fixture().circuits.tip().slot_count_target(PRIO);
    tip_attack(witness, &[(target, fe(count))])
}

fn absent_control() {
    static CONTROL: OnceLock<()> = OnceLock::new();
    CONTROL.get_or_init(|| {
        let witness = tip_witness_prio_absent();
        // The masked proof in the absent slot has a non-zero count; the tip commits to 0.
        assert_ne!(
            AggregateStatement::from_public_inputs(&witness[PRIO].proof.public_inputs)
                .unwrap()
                .count,
            0
        );
        absent_attack(&witness, 0).assert_accepted("absent control (priority absent, 0 forced)");
    });
}

/// The node key is a constant of the tip: a proof of the node's shape from another circuit,
/// claiming the genuine node key and the honest statement, is refused.
#[test]
fn tip_rejects_a_node_proof_under_another_key() {
    tip_control();
    let f = fixture();
    let node = f.circuits.node();
    let honest = &honest_aggregates()[SIG].final_node.proof;
    let (forged, _) = forged_proof_of_shape(node.common(), &honest.public_inputs);
    let mut witness = honest_tip_witness();
    witness[SIG].proof = forged;
    tip_attack(&witness, &[]).assert_rejected("node-shaped proof under a foreign key (strict)");
    // The strict route stops in a generator of the in-circuit verifier; the lenient one lets
    // the attacker complete the witness, and the verifier refuses it.
    let tip = f.circuits.tip();
    let lenient = |w: &[TipSlotWitness]| {
        let (pw, _) = tip.assign_witness(w).unwrap();
        attack_lenient(tip.circuit_data(), pw, &[])
    };
    lenient(&honest_tip_witness()).assert_accepted("tip control (lenient route)");
    assert_refused_by_verifier(lenient(&witness), "node-shaped proof under a foreign key");
}

/// A genuine node proof (verifies under the node key) that claims another node key: only the
/// tip's `claimed key = node key` check stands.
#[test]
fn tip_rejects_a_node_proof_claiming_another_node_key() {
    tip_control();
    let f = fixture();
    let node = f.circuits.node();
    let leaf = f.circuits.leaf(f.types[SIG].circuit_id).unwrap();
    let run = honest_run(SIG);
    let basic = f.types[SIG].prove_instance(&run.first, &run.last, run.count);
    let leaf_proof = leaf.prove(&[basic]).unwrap();
    let rogue_key = f.circuits.leaves()[PRIO]
        .circuit_data()
        .verifier_only
        .clone();
    let rogue = node
        .prove_witness(&NodeWitness {
            children: vec![(leaf_proof.proof, leaf.circuit_data().verifier_only.clone())],
            claimed_node_key: rogue_key,
        })
        .expect("the node accepts leaf children whatever key it claims");
    assert!(node.verify(&rogue).is_err());
    let mut witness = honest_tip_witness();
    witness[SIG].proof = rogue.proof;
    tip_attack(&witness, &[]).assert_rejected("node proof claiming another node key");
}

#[test]
fn tip_rejects_absent_type_whose_closed_form_changes() {
    absent_control();
    let mut witness = tip_witness_prio_absent();
    witness[PRIO].last_output[0] = fe(5);
    absent_attack(&witness, 0).assert_rejected("absent type with first ≠ last");
}

#[test]
fn tip_rejects_absent_type_with_a_count() {
    absent_control();
    absent_attack(&tip_witness_prio_absent(), DEPOSITS_COUNT)
        .assert_rejected("absent type with a count");
}

// ---------------------------------------------------------------------------------------------
// Node.
// ---------------------------------------------------------------------------------------------

/// A state closed form: root `r`, every chain `c` (elements), chain id 77, operator 5.
fn state_form(r: u64, c: u64) -> Vec<F> {
    let mut v = vec![fe(r); 4];
    v.extend(vec![fe(c); 20]);
    v.extend(fes(&[77, 0, 5]));
    v
}

/// A genuine leaf of `slot` over instances `(input, output, count)`.
fn leaf_over(slot: usize, instances: &[(Vec<F>, Vec<F>, u64)]) -> RecursionProof {
    let f = fixture();
    let children: Vec<BasicProof> = instances
        .iter()
        .map(|(i, o, c)| f.types[slot].prove_instance(i, o, *c))
        .collect();
    f.circuits
        .leaf(f.types[slot].circuit_id)
        .unwrap()
        .prove(&children)
        .expect("a genuine leaf")
}

fn node_witness(children: &[&RecursionProof]) -> NodeWitness {
    let node = fixture().circuits.node();
    let children: Vec<RecursionProof> = children.iter().map(|c| (*c).clone()).collect();
    node.witness_for(&children).unwrap()
}

/// Full state leaf: state_form(0,0) → (1,1) → (2,2), both instances full.
fn full_state_leaf() -> &'static RecursionProof {
    static LEAF: OnceLock<RecursionProof> = OnceLock::new();
    LEAF.get_or_init(|| {
        leaf_over(
            STATE,
            &[
                (state_form(0, 0), state_form(1, 1), CAPACITY),
                (state_form(1, 1), state_form(2, 2), CAPACITY),
            ],
        )
    })
}

fn node_control() -> &'static () {
    static CONTROL: OnceLock<()> = OnceLock::new();
    CONTROL.get_or_init(|| {
        let next = leaf_over(STATE, &[(state_form(2, 2), state_form(3, 3), 1)]);
        node_attack(&node_witness(&[full_state_leaf(), &next]), &[])
            .assert_accepted("node control (full leaf, continuing leaf)");
    })
}

#[test]
fn node_rejects_a_child_under_a_key_outside_the_set() {
    node_control();
    let node = fixture().circuits.node();
    // A node-shaped proof from another circuit continuing the full leaf, posing as a leaf.
    let first = full_state_leaf().statement().unwrap();
    let claimed = AggregateStatement {
        circuit_id: CircuitId::STATE_TRANSITION,
        first_input_digest: first.last_output_digest,
        last_output_digest: closed_form_digest(&state_form(9, 9)),
        count: 1_000_000,
        full: true,
    };
    let mut pis = claimed.to_fields().to_vec();
    pis.resize(RECURSION_PUBLIC_INPUTS, F::ZERO);
    let (forged, forged_data) = forged_proof_of_shape(node.common(), &pis);
    let mut witness = node_witness(&[full_state_leaf()]);
    witness
        .children
        .push((forged, forged_data.verifier_only.clone()));
    node_attack(&witness, &[]).assert_rejected("child under a foreign key");
}

#[test]
fn node_rejects_children_of_two_circuit_ids() {
    // A full signature leaf, then a priority leaf whose first input hashes like the signature
    // leaf's last output (hash_no_pad ignores trailing zeros within one rate chunk): continuity
    // and fullness hold, only the circuit ids differ.
    let x = fes(&[1, 2, 3, 4]);
    let y = fes(&[5, 6, 7, 8]);
    let sig_leaf = leaf_over(
        SIG,
        &[
            (vec![F::ZERO; 4], x.clone(), CAPACITY),
            (x.clone(), y.clone(), CAPACITY),
        ],
    );
    let mut prio_first = y.clone();
    prio_first.extend([F::ZERO, F::ZERO]);
    assert_eq!(closed_form_digest(&prio_first), closed_form_digest(&y));
    let prio_leaf = leaf_over(PRIO, &[(prio_first, fes(&[1, 1, 1, 1, 1, 1]), 1)]);
    let same_type = leaf_over(SIG, &[(y.clone(), x.clone(), 1)]);
    node_attack(&node_witness(&[&sig_leaf, &same_type]), &[])
        .assert_accepted("two-types control (signature, signature)");
    node_attack(&node_witness(&[&sig_leaf, &prio_leaf]), &[])
        .assert_rejected("signature leaf then priority leaf");
}

#[test]
fn node_rejects_broken_continuity() {
    node_control();
    let elsewhere = leaf_over(STATE, &[(state_form(7, 7), state_form(8, 8), 1)]);
    node_attack(&node_witness(&[full_state_leaf(), &elsewhere]), &[])
        .assert_rejected("second child does not continue the first");
}

#[test]
fn node_rejects_a_partial_child_before_the_last() {
    node_control();
    // One full instance in a leaf of arity 2: the leaf is not full.
    let partial = leaf_over(STATE, &[(state_form(0, 0), state_form(1, 1), CAPACITY)]);
    assert!(!partial.statement().unwrap().full);
    let next = leaf_over(STATE, &[(state_form(1, 1), state_form(2, 2), CAPACITY)]);
    node_attack(&node_witness(&[&partial, &next]), &[])
        .assert_rejected("partial child followed by another");
}

// ---------------------------------------------------------------------------------------------
// Leaf (of the state type, which has run constants).
// ---------------------------------------------------------------------------------------------

fn state_instance(input: Vec<F>, output: Vec<F>, count: u64) -> BasicProof {
    fixture().types[STATE].prove_instance(&input, &output, count)
}

fn leaf_control() -> &'static () {
    static CONTROL: OnceLock<()> = OnceLock::new();
    CONTROL.get_or_init(|| {
        let a = state_instance(state_form(0, 0), state_form(1, 1), CAPACITY);
        let b = state_instance(state_form(1, 1), state_form(2, 2), 1);
        leaf_attack(STATE, &[a, b], &[]).assert_accepted("leaf control (full, then partial)");
    })
}

#[test]
fn leaf_rejects_run_constants_that_change() {
    leaf_control();
    // The basic proof binds only the own output (24 elements); the carried tail (chain id,
    // operator) is the leaf's witness, which must repeat the input's tail.
    let mut out = state_form(1, 1);
    out[STATE_CHAIN_ID] = fe(78);
    let child = state_instance(state_form(0, 0), out, 1);
    leaf_attack(STATE, &[child], &[]).assert_rejected("carried chain id differs from the input's");
}

/// The leaf's route for range checks: the lenient adversary (the range check's generator
/// refuses an out-of-range value; the attacker completes the witness anyway).
fn leaf_attack_lenient(children: &[BasicProof]) -> Outcome {
    let f = fixture();
    let leaf = f.circuits.leaf(f.types[STATE].circuit_id).unwrap();
    let pw = leaf.assign_witness(children).expect("structurally valid");
    attack_lenient(leaf.circuit_data(), pw, &[])
}

#[test]
fn leaf_rejects_count_zero() {
    leaf_control();
    let ok = state_instance(state_form(0, 0), state_form(1, 1), 1);
    leaf_attack_lenient(&[ok]).assert_accepted("count 1 control");
    let zero = state_instance(state_form(0, 0), state_form(1, 1), 0);
    leaf_attack(STATE, std::slice::from_ref(&zero), &[]).assert_rejected("count 0 (strict)");
    assert_refused_by_verifier(leaf_attack_lenient(&[zero]), "count 0");
}

#[test]
fn leaf_rejects_count_above_capacity() {
    leaf_control();
    let ok = state_instance(state_form(0, 0), state_form(1, 1), CAPACITY);
    leaf_attack_lenient(&[ok]).assert_accepted("count = capacity control");
    let over = state_instance(state_form(0, 0), state_form(1, 1), CAPACITY + 1);
    leaf_attack(STATE, std::slice::from_ref(&over), &[])
        .assert_rejected("count capacity + 1 (strict)");
    assert_refused_by_verifier(leaf_attack_lenient(&[over]), "count capacity + 1");
}

#[test]
fn leaf_rejects_broken_continuity() {
    leaf_control();
    let a = state_instance(state_form(0, 0), state_form(1, 1), CAPACITY);
    let b = state_instance(state_form(5, 5), state_form(6, 6), 1);
    leaf_attack(STATE, &[a, b], &[]).assert_rejected("second instance does not continue");
}

#[test]
fn leaf_rejects_a_partial_instance_before_the_last() {
    leaf_control();
    let a = state_instance(state_form(0, 0), state_form(1, 1), 1);
    let b = state_instance(state_form(1, 1), state_form(2, 2), 1);
    leaf_attack(STATE, &[a, b], &[]).assert_rejected("partial instance followed by another");
}
