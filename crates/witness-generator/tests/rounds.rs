//! The five rounds' orchestration at once (`--all-rounds`), on a SQLite file and on a fresh
//! PostgreSQL database, without proving: a stand-in prover completes every prover job through
//! the job database with placeholder proof bytes naming the job. The witness generator never
//! decodes a proof (the prover's witness-vector generator does), so the whole pipeline runs in
//! seconds and the test checks what it moves: per type and depth the number of prover jobs the
//! tree gives, and in every witness the placeholder bytes of exactly the right jobs in order.
//! The batch has no deposit, so the priority-operations type is absent: no leaf or node job for
//! it, and an absent slot in the recursion tip with round 0's constant closed form.
//!
//! A second scenario has two batches in flight at once, the newer one urgent: the urgent one
//! overtakes the older one in every round and is proven first.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::proving::{config, ARITY, GEOMETRY};
use common::{round_status, TestEnv, CHAIN, TREE_HEIGHT, VERSION};
use zkfleet_blobs::SchedulerPartialInput;
use zkfleet_circuits::pipeline::witness::TipSlotWitnessData;
use zkfleet_circuits::pipeline::AggregationWitness;
use zkfleet_dal::{HeavySet, JobRef, JobSummary, ProverJobClass};
use zkfleet_rollup::generate::{generate, Generated, GeneratorConfig};
use zkfleet_rollup::operation::Operation;
use zkfleet_runner::CancellationToken;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, ProofBytes};
use zkfleet_types::{AggregationRound, BatchNumber, CircuitId, JobStatus, L1BatchId};
use zkfleet_witness_generator::aggregation::tree::AggregationTree;
use zkfleet_witness_generator::{run, RoundReport, WitnessGeneratorError};

use AggregationRound::{Leaf, Node, RecursionTip, Scheduler};

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

on_both_backends!(every_round_at_once_with_an_absent_type: sqlite_every_round_at_once_with_an_absent_type, postgres_every_round_at_once_with_an_absent_type);
on_both_backends!(a_higher_priority_batch_overtakes_one_in_flight: sqlite_a_higher_priority_batch_overtakes_one_in_flight, postgres_a_higher_priority_batch_overtakes_one_in_flight);

/// 7 operations: 7 state-transition instances → 4 leaves → nodes 2, then 1 (two depths).
const OPERATIONS: usize = 7;

/// The first generated batch of [`OPERATIONS`] operations without a deposit.
fn batch_without_deposits() -> Generated {
    for seed in 0..500 {
        let generated = generate(&GeneratorConfig {
            accounts: 4,
            operations: OPERATIONS,
            seed,
            tree_height: TREE_HEIGHT,
            chain_id: CHAIN,
            batch_number: BatchNumber(1),
            invalid: None,
        })
        .expect("generate a batch");
        if !generated
            .batch
            .operations
            .iter()
            .any(|op| matches!(op, Operation::Deposit(_)))
        {
            return generated;
        }
    }
    panic!("no seed in 0..500 gives a batch without deposits");
}

/// What the stand-in prover stores as the proof of prover job `id`.
fn placeholder(id: i64) -> Vec<u8> {
    format!("placeholder proof of prover job {id}").into_bytes()
}

fn prover_id(job: &JobSummary) -> i64 {
    match job.job {
        JobRef::Prover(id) => id.0,
        other => panic!("{other} is not a prover job"),
    }
}

/// Completes every queued prover job with its placeholder proof; returns how many.
async fn complete_queued_with_placeholders(env: &TestEnv) -> usize {
    let mut completed = 0;
    while complete_one(env).await.is_some() {
        completed += 1;
    }
    completed
}

/// Starts every round's runner (`--all-rounds`); cancel the token to stop them.
fn run_every_round(
    env: &TestEnv,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<Vec<RoundReport>, WitnessGeneratorError>>,
) {
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(run(
        env.dal.clone(),
        env.store.clone(),
        config(&AggregationRound::ALL),
        cancel.clone(),
    ));
    (cancel, handle)
}

/// The decoded witness of a prover job.
async fn witness_of(env: &TestEnv, job: &JobSummary) -> AggregationWitness {
    let key = ObjectKey::parse(job.input_blob_key.as_deref().expect("circuit key"))
        .expect("the circuit key parses");
    let bytes = env
        .store
        .get::<CircuitWitnessBytes>(&key)
        .await
        .expect("the witness blob");
    AggregationWitness::from_bytes(&bytes.0).expect("the witness decodes")
}

/// Prover jobs of `round` by (circuit, depth, sequence).
fn by_position(jobs: &[JobSummary]) -> BTreeMap<(CircuitId, u32, u32), &JobSummary> {
    jobs.iter()
        .map(|j| {
            (
                (
                    j.circuit_id.expect("circuit"),
                    j.depth.expect("depth"),
                    j.sequence_number.expect("sequence"),
                ),
                j,
            )
        })
        .collect()
}

async fn every_round_at_once_with_an_absent_type(env: &TestEnv) {
    let generated = batch_without_deposits();
    let signed = generated.batch.operations.len() as u32;
    let instances = BTreeMap::from([
        (
            CircuitId::SIGNATURE_VERIFICATION,
            signed.div_ceil(GEOMETRY.signatures_per_instance),
        ),
        (
            CircuitId::STATE_TRANSITION,
            signed.div_ceil(GEOMETRY.operations_per_instance),
        ),
    ]);
    let trees: BTreeMap<CircuitId, AggregationTree> = instances
        .iter()
        .map(|(&c, &n)| (c, AggregationTree::of(n, ARITY).expect("tree")))
        .collect();
    assert_eq!(trees[&CircuitId::STATE_TRANSITION].nodes, [2, 1]);
    let id: L1BatchId = env.submit(&generated).await;

    // Every runner at once; the stand-in prover completes whatever gets queued until the
    // scheduler's prover job has a proof.
    let (cancel, handle) = run_every_round(env);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        complete_queued_with_placeholders(env).await;
        let status = env.status(id).await;
        if round_status(&status, Scheduler)
            .prover_jobs
            .iter()
            .any(|j| j.status == JobStatus::Successful)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the batch did not get through within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let reports = handle
        .await
        .expect("task")
        .expect("the witness generator runs");
    let succeeded: Vec<(AggregationRound, u64)> =
        reports.iter().map(|r| (r.round, r.succeeded)).collect();
    let nodes: u64 = trees.values().map(|t| t.nodes.len() as u64).sum();
    assert_eq!(
        succeeded,
        [
            (AggregationRound::Basic, 1),
            (Leaf, 2),
            (Node, nodes),
            (RecursionTip, 1),
            (Scheduler, 1)
        ]
    );

    let status = env.status(id).await;
    assert!(
        status.compression.is_some(),
        "the scheduler proof queues compression"
    );
    for round in &status.rounds {
        for job in &round.witness_jobs {
            assert_eq!(
                job.status,
                JobStatus::Successful,
                "{}: {:?}",
                job.job,
                job.error
            );
        }
    }
    let basic = by_position(&round_status(&status, AggregationRound::Basic).prover_jobs);
    let leaves = by_position(&round_status(&status, Leaf).prover_jobs);
    let node_jobs = by_position(&round_status(&status, Node).prover_jobs);

    // Leaves: per present type the tree's count, each with the placeholders of its chunk of
    // basic proofs in sequence order; none for the absent type.
    for (&circuit, tree) in &trees {
        let of_type: Vec<_> = leaves
            .iter()
            .filter(|((c, _, _), _)| *c == circuit)
            .collect();
        assert_eq!(of_type.len() as u32, tree.leaves, "leaves of {circuit}");
        for ((_, _, sequence), job) in of_type {
            let AggregationWitness::Leaf(leaf) = witness_of(env, job).await else {
                panic!("not a leaf witness")
            };
            for (k, child) in leaf.children.iter().enumerate() {
                let expected_sequence = sequence * ARITY + k as u32;
                assert_eq!(child.sequence, expected_sequence);
                let basic_job = basic[&(circuit, 0, expected_sequence)];
                assert_eq!(child.proof, placeholder(prover_id(basic_job)));
            }
        }
    }
    assert!(!leaves
        .keys()
        .chain(node_jobs.keys())
        .any(|(c, _, _)| *c == CircuitId::PRIORITY_OPERATIONS));

    // Nodes: per type and depth the tree's count, children the placeholders of the layer below.
    for (&circuit, tree) in &trees {
        for (depth, &count) in tree.nodes.iter().enumerate() {
            let depth = depth as u32;
            let of_depth: Vec<_> = node_jobs
                .iter()
                .filter(|((c, d, _), _)| *c == circuit && *d == depth)
                .collect();
            assert_eq!(of_depth.len() as u32, count, "{circuit} at depth {depth}");
            for ((_, _, sequence), job) in of_depth {
                let AggregationWitness::Node(node) = witness_of(env, job).await else {
                    panic!("not a node witness")
                };
                for (k, child) in node.children.iter().enumerate() {
                    let below_sequence = sequence * ARITY + k as u32;
                    let below = if depth == 0 {
                        leaves[&(circuit, 0, below_sequence)]
                    } else {
                        node_jobs[&(circuit, depth - 1, below_sequence)]
                    };
                    assert_eq!(child, &placeholder(prover_id(below)));
                }
            }
        }
    }

    // The tip: present types with their final node proof, the absent one with its constant
    // closed form from round 0.
    let partial: SchedulerPartialInput = env
        .store
        .get(&ObjectKey::SchedulerInput {
            chain: CHAIN,
            batch: id.batch_number,
        })
        .await
        .expect("scheduler partial input");
    let tip_jobs = &round_status(&status, RecursionTip).prover_jobs;
    assert_eq!(tip_jobs.len(), 1);
    let AggregationWitness::RecursionTip(tip) = witness_of(env, &tip_jobs[0]).await else {
        panic!("not a tip witness")
    };
    assert_eq!(tip.slots.len(), partial.types.len());
    let absent = tip
        .slots
        .iter()
        .filter(|slot| matches!(slot, TipSlotWitnessData::Absent { .. }))
        .count();
    assert_eq!(absent, 1, "one absent type");
    for (slot, summary) in tip.slots.iter().zip(&partial.types) {
        match slot {
            TipSlotWitnessData::Present {
                circuit_id,
                final_node_proof,
                ..
            } => {
                let tree = &trees[circuit_id];
                let final_job = node_jobs[&(*circuit_id, tree.final_depth(), 0)];
                assert_eq!(final_node_proof, &placeholder(prover_id(final_job)));
            }
            TipSlotWitnessData::Absent {
                circuit_id,
                closed_form,
            } => {
                assert_eq!(*circuit_id, CircuitId::PRIORITY_OPERATIONS);
                assert_eq!(summary.instances, 0);
                assert_eq!(closed_form, &summary.first_input);
            }
        }
    }

    // The scheduler: the tip's placeholder and round 0's summaries.
    let scheduler_jobs = &round_status(&status, Scheduler).prover_jobs;
    assert_eq!(scheduler_jobs.len(), 1);
    let AggregationWitness::Scheduler(scheduler) = witness_of(env, &scheduler_jobs[0]).await else {
        panic!("not a scheduler witness")
    };
    assert_eq!(scheduler.tip_proof, placeholder(prover_id(&tip_jobs[0])));
    assert_eq!(scheduler.types, partial.types);
    assert_eq!(scheduler.batch_number, id.batch_number.0);
}

/// Two batches in flight, every round running, one stand-in prover completing one job at a
/// time: the older batch is already under way when an urgent one (higher priority, sealed
/// later) arrives. From then on no job of the older batch is picked while one of the urgent
/// batch waits, and the urgent batch's scheduler proof comes first.
async fn a_higher_priority_batch_overtakes_one_in_flight(env: &TestEnv) {
    let generate_batch = |number: u32| {
        generate(&GeneratorConfig {
            accounts: 4,
            operations: OPERATIONS,
            seed: u64::from(number),
            tree_height: TREE_HEIGHT,
            chain_id: CHAIN,
            batch_number: BatchNumber(number),
            invalid: None,
        })
        .expect("generate a batch")
    };
    let minutes_ago = |m: i64| chrono::Utc::now() - chrono::Duration::minutes(m);
    let older = env
        .submit_with(&generate_batch(1), 0, minutes_ago(30))
        .await;

    let (cancel, handle) = run_every_round(env);
    // The older batch gets under way: its basic round is done and a few of its prover jobs
    // are proven before the urgent batch arrives.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut proven_before = 0;
    while proven_before < 3 {
        proven_before += complete_one(env).await.map_or(0, |_| 1);
        assert!(Instant::now() < deadline, "the older batch did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let urgent = env.submit_with(&generate_batch(2), 5, minutes_ago(0)).await;

    let scheduler_done = |status: &zkfleet_dal::BatchStatus| {
        round_status(status, Scheduler)
            .prover_jobs
            .iter()
            .any(|j| j.status == JobStatus::Successful)
    };
    let mut finished = Vec::new();
    let mut older_picks_while_urgent_waited = Vec::new();
    while finished.len() < 2 {
        // Only this stand-in proves, so a job queued now stays queued until it picks it.
        let urgent_waiting = queued_prover_jobs(&env.status(urgent).await);
        if let Some(job) = complete_one(env).await {
            if job.meta.batch == older && urgent_waiting > 0 {
                older_picks_while_urgent_waited.push((job.aggregation_round, job.circuit_id));
            }
        }
        for id in [urgent, older] {
            if !finished.contains(&id) && scheduler_done(&env.status(id).await) {
                finished.push(id);
            }
        }
        assert!(
            Instant::now() < deadline,
            "the two batches did not get through within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cancel.cancel();
    handle
        .await
        .expect("task")
        .expect("the witness generator runs");
    assert_eq!(
        older_picks_while_urgent_waited,
        [],
        "jobs of the older batch picked while the urgent batch had queued jobs"
    );
    assert_eq!(
        finished,
        [urgent, older],
        "the urgent batch is proven first"
    );
}

/// Prover jobs of a batch that are queued now.
fn queued_prover_jobs(status: &zkfleet_dal::BatchStatus) -> usize {
    status
        .rounds
        .iter()
        .flat_map(|r| &r.prover_jobs)
        .filter(|j| j.status == JobStatus::Queued)
        .count()
}

/// Picks one prover job (the database's order: priority, then age) and completes it with its
/// placeholder proof.
async fn complete_one(env: &TestEnv) -> Option<zkfleet_dal::ProverJob> {
    let job = env
        .dal
        .pick_prover_job(
            VERSION,
            ProverJobClass::Any,
            &HeavySet::default(),
            "stand-in",
        )
        .await
        .expect("pick a prover job")?;
    let key = ObjectKey::Proof {
        chain: CHAIN,
        job: job.id,
    };
    let path = env
        .store
        .put(&key, &ProofBytes::new(placeholder(job.id.0)))
        .await
        .expect("store the placeholder");
    let outcome = env
        .dal
        .complete_prover_job(job.id, &path, Duration::from_millis(1))
        .await
        .expect("complete the prover job");
    assert!(outcome.is_completed(), "{outcome:?}");
    Some(job)
}
