//! The basic round end to end against a real job database (SQLite file, and PostgreSQL from
//! `ZKFLEET_TEST_DATABASE_URL`) and a local-directory store: valid batches, re-execution,
//! failures that must not stop the runner, bounded uploads, and round 0 holding at most the
//! upload bound of encoded circuits in memory.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{config, generated, geometry, TestEnv, CHAIN};
use zkfleet_blobs::{AuxOutput, SchedulerPartialInput, StoredClosedForms};
use zkfleet_circuits::basic::{decode_witness, plan_batch, split_batch};
use zkfleet_circuits::pipeline::type_summaries;
use zkfleet_dal::{JobRef, TransitionOutcome};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{Generated, InvalidKind};
use zkfleet_rollup::operation::Operation;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus, L1BatchId};
use zkfleet_witness_generator::basic::upload_circuits;
use zkfleet_witness_generator::input::{WITNESS_INPUT_FORMAT_VERSION, WITNESS_INPUT_MAGIC};
use zkfleet_witness_generator::BatchWitnessInput;

/// Runs a scenario against both backends, as `sqlite_<scenario>` and `postgres_<scenario>`.
macro_rules! on_both_backends {
    ($scenario:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let env = TestEnv::sqlite().await;
            $scenario(&env).await;
            env.close().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let env = TestEnv::postgres().await;
            $scenario(&env).await;
            env.close().await;
        }
    };
}

on_both_backends!(valid_batch_and_reexecution: sqlite_valid_batch_and_reexecution, postgres_valid_batch_and_reexecution);
on_both_backends!(failures_do_not_stop_the_runner: sqlite_failures_do_not_stop_the_runner, postgres_failures_do_not_stop_the_runner);
on_both_backends!(uploads_are_bounded: sqlite_uploads_are_bounded, postgres_uploads_are_bounded);

/// Instances per basic type the test geometry must give for `generated`'s batch, counted from
/// the operations themselves (not from the splitter).
fn expected_instances(generated: &Generated) -> BTreeMap<CircuitId, u32> {
    let g = geometry();
    let ops = &generated.batch.operations;
    let deposits = ops
        .iter()
        .filter(|op| matches!(op, Operation::Deposit(_)))
        .count() as u32;
    let signed = ops.len() as u32 - deposits;
    let mut expected = BTreeMap::new();
    for (circuit, items, capacity) in [
        (
            CircuitId::SIGNATURE_VERIFICATION,
            signed,
            g.signatures_per_instance,
        ),
        (
            CircuitId::STATE_TRANSITION,
            ops.len() as u32,
            g.operations_per_instance,
        ),
        (
            CircuitId::PRIORITY_OPERATIONS,
            deposits,
            g.deposits_per_instance,
        ),
    ] {
        if items > 0 {
            expected.insert(circuit, items.div_ceil(capacity));
        }
    }
    expected
}

/// Checks every row and blob basic witness generation of `generated` must leave.
async fn check_outputs(env: &TestEnv, generated: &Generated) {
    let id = generated.batch.id();
    let expected = expected_instances(generated);
    let status = env.status(id).await;
    let witness = status.witness_input.as_ref().expect("witness job");
    assert_eq!(witness.status, JobStatus::Successful, "{:?}", witness.error);

    let round = |r: AggregationRound| {
        status
            .rounds
            .iter()
            .find(|s| s.round == r)
            .expect("every round is reported")
    };

    // Round-0 prover jobs: the right count per type, sequences 0..n, every circuit decodable.
    let basic = round(AggregationRound::Basic);
    let mut per_type: BTreeMap<CircuitId, Vec<u32>> = BTreeMap::new();
    for job in &basic.prover_jobs {
        assert_eq!(job.status, JobStatus::Queued);
        let circuit = job.circuit_id.expect("prover job circuit");
        per_type
            .entry(circuit)
            .or_default()
            .push(job.sequence_number.expect("sequence"));
        let path = job.input_blob_key.as_deref().expect("circuit blob key");
        let key = ObjectKey::parse(path).expect("circuit key parses");
        assert!(matches!(
            key,
            ObjectKey::CircuitWitness {
                round: AggregationRound::Basic,
                depth: 0,
                ..
            }
        ));
        let bytes = env
            .store
            .get::<CircuitWitnessBytes>(&key)
            .await
            .expect("circuit blob present");
        let (blob_geometry, witness) = decode_witness(&bytes.0).expect("circuit decodes");
        assert_eq!(blob_geometry, geometry());
        assert_eq!(witness.circuit_id(), circuit);
        assert!(witness.item_count() > 0);
    }
    let counts: BTreeMap<CircuitId, u32> = per_type
        .iter_mut()
        .map(|(circuit, sequences)| {
            sequences.sort_unstable();
            let n = sequences.len() as u32;
            assert_eq!(*sequences, (0..n).collect::<Vec<_>>(), "{circuit}");
            (*circuit, n)
        })
        .collect();
    assert_eq!(counts, expected, "basic prover jobs per type");
    assert!(
        expected.len() >= 2,
        "the test batch should exercise several circuit types"
    );

    // One leaf job per type present, reading that type's closed forms.
    let leaves = &round(AggregationRound::Leaf).witness_jobs;
    assert_eq!(leaves.len(), expected.len(), "leaf jobs");
    for leaf in leaves {
        assert_eq!(leaf.status, JobStatus::WaitingForProofs);
        let circuit = leaf.circuit_id.expect("leaf circuit");
        let key = ObjectKey::parse(leaf.input_blob_key.as_deref().expect("closed forms key"))
            .expect("closed forms key parses");
        let forms = env
            .store
            .get::<StoredClosedForms>(&key)
            .await
            .expect("closed forms present and decodable");
        assert_eq!(forms.0.circuit, circuit);
        assert_eq!(forms.0.instances.len() as u32, expected[&circuit]);
    }
    // Node depth 0 per type, one recursion tip, one scheduler.
    assert_eq!(
        round(AggregationRound::Node).witness_jobs.len(),
        expected.len(),
        "node jobs of depth 0"
    );
    assert_eq!(round(AggregationRound::RecursionTip).witness_jobs.len(), 1);
    assert_eq!(round(AggregationRound::Scheduler).witness_jobs.len(), 1);

    // The scheduler's partial input and the aux output carry the natively computed output.
    let mut state = generated.genesis.to_memory_state().expect("genesis");
    let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
    let native = executed.public_output;
    let scheduler: SchedulerPartialInput = env
        .store
        .get(&ObjectKey::SchedulerInput {
            chain: CHAIN,
            batch: id.batch_number,
        })
        .await
        .expect("scheduler input");
    assert_eq!(scheduler.public_output, native);
    assert_eq!(scheduler.geometry, geometry());
    let types: Vec<CircuitId> = scheduler.types.iter().map(|t| t.circuit_id).collect();
    assert_eq!(types, CircuitId::BASIC_TYPES);
    for summary in &scheduler.types {
        assert_eq!(
            summary.instances,
            expected.get(&summary.circuit_id).copied().unwrap_or(0)
        );
    }
    // The summaries are what the circuits crate computes from the executed batch (absent
    // types included, with their constant closed form).
    let split = split_batch(&executed, &geometry()).expect("split");
    assert_eq!(
        scheduler.types,
        type_summaries(&executed, &split.closed_forms).expect("summaries")
    );
    let aux: AuxOutput = env
        .store
        .get(&ObjectKey::AuxOutput {
            chain: CHAIN,
            batch: id.batch_number,
        })
        .await
        .expect("aux output");
    assert_eq!(aux.public_output, native);
}

/// Rows of every table and blobs of the batch, to compare before and after a re-execution.
async fn footprint(
    env: &TestEnv,
    id: L1BatchId,
) -> (Vec<(AggregationRound, usize, usize)>, Vec<String>) {
    let status = env.status(id).await;
    let rows = status
        .rounds
        .iter()
        .map(|r| (r.round, r.witness_jobs.len(), r.prover_jobs.len()))
        .collect();
    let blobs = env
        .store
        .list("")
        .await
        .expect("list the store")
        .into_iter()
        .map(|o| o.path)
        .collect();
    (rows, blobs)
}

async fn valid_batch_and_reexecution(env: &TestEnv) {
    let batch = generated(1, 10, None);
    let id = env.submit(&batch).await;
    let reports = env.run_until_done(config(4), &[id]).await;
    assert_eq!(reports.len(), 1);
    assert_eq!((reports[0].picked, reports[0].succeeded), (1, 1));
    check_outputs(env, &batch).await;
    let before = footprint(env, id).await;

    // Re-execution after a requeue: the same blobs are overwritten, no row is duplicated.
    let restarted = env
        .dal
        .restart_job(JobRef::WitnessInput(id))
        .await
        .expect("restart the witness job");
    assert_eq!(restarted, TransitionOutcome::Applied);
    let reports = env.run_until_done(config(4), &[id]).await;
    assert_eq!((reports[0].picked, reports[0].succeeded), (1, 1));
    check_outputs(env, &batch).await;
    assert_eq!(footprint(env, id).await, before);
}

async fn failures_do_not_stop_the_runner(env: &TestEnv) {
    // Not a witness input at all.
    let malformed = env
        .submit_bytes(1, b"definitely not a witness input".to_vec())
        .await;
    // A batch breaking a rule (the generator's --invalid kind).
    let invalid = env
        .submit(&generated(2, 6, Some(InvalidKind::InsufficientBalance)))
        .await;
    // A valid batch with a pre-state that is not the one it applies to.
    let wrong_state = {
        let g = generated(3, 6, None);
        let mut pre_state = g.genesis.accounts.clone();
        pre_state[1].balance += 1;
        let input = BatchWitnessInput::unchecked(&g.batch, pre_state).expect("input");
        env.submit_bytes(3, input.encode().expect("encode")).await
    };
    // A batch whose input blob is missing from the store.
    let missing = common::batch_id(4);
    env.insert(
        missing,
        ObjectKey::WitnessInput {
            chain: CHAIN,
            batch: missing.batch_number,
        }
        .path(),
    )
    .await;
    // The input of batch 6 filed under batch 5.
    let mislabelled = {
        let g = generated(6, 4, None);
        let input = BatchWitnessInput::from_genesis(&g.batch, &g.genesis).expect("input");
        env.submit_bytes(5, input.encode().expect("encode")).await
    };
    // An input written by a newer fleet, in a format version this build does not read.
    let future_format = {
        let g = generated(8, 4, None);
        let input = BatchWitnessInput::from_genesis(&g.batch, &g.genesis).expect("input");
        let mut bytes = input.encode().expect("encode");
        let version = WITNESS_INPUT_MAGIC.len();
        bytes[version..version + 2]
            .copy_from_slice(&(WITNESS_INPUT_FORMAT_VERSION + 1).to_le_bytes());
        env.submit_bytes(8, bytes).await
    };
    // And a valid batch after all of them.
    let valid = generated(7, 8, None);
    let valid_id = env.submit(&valid).await;

    let all = [
        malformed,
        invalid,
        wrong_state,
        missing,
        mislabelled,
        future_format,
        valid_id,
    ];
    let reports = env.run_until_done(config(4), &all).await;
    // Every job went from picker to saver: the one whose input is missing from the store is a
    // failed job of the runner (the runner's convention for an input that cannot be loaded),
    // not a pick error nor a job failed behind the runner's back.
    assert_eq!(
        (
            reports[0].picked,
            reports[0].succeeded,
            reports[0].failed,
            reports[0].panicked,
            reports[0].pick_errors,
            reports[0].save_errors
        ),
        (7, 1, 6, 0, 0, 0),
        "{reports:?}"
    );

    for (id, expected) in [
        (malformed, "not a witness input"),
        (invalid, "is invalid: operation"),
        (wrong_state, "is not the batch's previous state root"),
        (missing, "loading the witness input of"),
        (mislabelled, "holds batch"),
        (future_format, "unsupported witness input format version 2"),
    ] {
        let (status, error) = env.witness_status(id).await;
        // Each fails the same way every time: terminal on the first attempt (issue 15).
        assert_eq!(status, JobStatus::FailedPermanently, "{id}");
        let error = error.unwrap_or_default();
        assert!(
            error.contains(expected),
            "{id}: {error:?} should say {expected:?}"
        );
    }
    let (_, error) = env.witness_status(invalid).await;
    assert!(
        error.unwrap_or_default().contains("insufficient balance"),
        "the rollup's error names the broken rule"
    );
    for id in [
        malformed,
        invalid,
        wrong_state,
        missing,
        mislabelled,
        future_format,
    ] {
        let status = env.status(id).await;
        assert!(
            status.rounds.iter().all(|r| r.prover_jobs.is_empty()),
            "{id}: a failed batch inserts no prover jobs"
        );
    }
    check_outputs(env, &valid).await;
}

async fn uploads_are_bounded(env: &TestEnv) {
    for (number, limit) in [(1, 1usize), (2, 3)] {
        let batch = generated(number, 12, None);
        let circuits: u32 = expected_instances(&batch).values().sum();
        assert!(circuits as usize > limit, "more circuits than the bound");
        let id = env.submit(&batch).await;
        env.uploads.reset();
        env.run_until_done(config(limit), &[id]).await;
        check_outputs(env, &batch).await;
        assert_eq!(env.uploads.circuit_puts(), circuits as usize);
        assert_eq!(
            env.uploads.max_concurrent_circuit_puts(),
            limit,
            "uploads run up to, and never beyond, max_circuits_in_flight = {limit}"
        );
    }
}

/// Round 0 builds a circuit's witness only when an upload slot is free: however many circuits
/// the batch has, at most `max_circuits_in_flight` encoded ones are held at once (the store
/// holds each upload open, so uploads allowed to overlap do). Had the batch been split into all
/// its circuits first, the peak would be the batch's circuit count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_round_zero_holds_at_most_the_upload_bound_of_encoded_circuits() {
    let env = TestEnv::sqlite().await;
    let batch = generated(9, 16, None);
    let id = batch.batch.id();
    let mut state = batch.genesis.to_memory_state().expect("genesis");
    let executed = Arc::new(execute_batch(&mut state, &batch.batch).expect("valid batch"));
    let plan = Arc::new(plan_batch(&executed, &geometry()).expect("plan"));
    let split = split_batch(&executed, &geometry()).expect("split");
    assert_eq!(plan.closed_forms, split.closed_forms);
    assert_eq!(plan.instances.len(), split.instances.len());
    for limit in [1usize, 3] {
        assert!(
            plan.instances.len() > 2 * limit,
            "far more circuits than the bound"
        );
        env.uploads.reset();
        let uploaded = upload_circuits(&env.store, id, &executed, &plan, limit)
            .await
            .expect("upload");
        assert_eq!(
            uploaded.peak_encoded, limit,
            "encoded circuits held at once reach, and never pass, the bound {limit}"
        );
        assert_eq!(env.uploads.circuit_puts(), plan.instances.len());
        // Every blob is the circuit the all-at-once split builds at that (type, sequence).
        assert_eq!(uploaded.jobs.len(), split.instances.len());
        for instance in &split.instances {
            let job = uploaded
                .jobs
                .iter()
                .find(|j| {
                    j.circuit_id == instance.circuit && j.sequence_number == instance.sequence
                })
                .expect("a job per instance");
            let key = ObjectKey::parse(&job.circuit_blob_key).expect("key");
            let stored = env
                .store
                .get::<CircuitWitnessBytes>(&key)
                .await
                .expect("stored circuit");
            assert_eq!(
                stored.0, instance.witness,
                "{} {}",
                instance.circuit, instance.sequence
            );
        }
    }
    // A plan applied to another batch is refused by name, not mis-encoded.
    let other = generated(10, 2, None);
    let mut other_state = other.genesis.to_memory_state().expect("genesis");
    let smaller = Arc::new(execute_batch(&mut other_state, &other.batch).expect("valid batch"));
    let error = upload_circuits(&env.store, id, &smaller, &plan, 2)
        .await
        .expect_err("plan of another batch");
    assert!(
        error.to_string().contains("the plan is of another batch"),
        "{error}"
    );
    env.close().await;
}
