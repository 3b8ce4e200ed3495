//! One small batch through all five witness generation rounds, against a real PostgreSQL job
//! database (`ZKFLEET_TEST_DATABASE_URL`, a fresh database) and a local-directory store, with
//! the proving done in the test through the job database as a circuit prover does it.
//!
//! Each round is run alone, on the rows the previous round left, and checked before its prover
//! jobs are proven: every witness job successful, one prover job per expected circuit under the
//! key its identity gives, every witness decoding as the round's `AggregationWitness` with the
//! right children (the very proof bytes of the layer below, in sequence order). The batch has
//! every basic type and 5 state-transition instances, so the node round runs two depths. At the
//! end the scheduler proof is compressed and the batch output it attests is the native one.
//! Re-running a leaf job and the scheduler job after they completed changes no row and no blob.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::collections::BTreeMap;

use common::proving::{
    batch_with_every_type, config, load_circuits, protocol_version, prove_queued, Proven, ARITY,
    GEOMETRY,
};
use common::{round_status, TestEnv, CHAIN};
use zkfleet_blobs::{AuxOutput, SchedulerPartialInput};
use zkfleet_circuits::pipeline::witness::{NodeChildren, TipSlotWitnessData};
use zkfleet_circuits::pipeline::{AggregationWitness, FinalVerifyingKey};
use zkfleet_dal::{JobRef, JobSummary, TransitionOutcome};
use zkfleet_rollup::generate::Generated;
use zkfleet_rollup::operation::Operation;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, ProofBytes};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus, L1BatchId};
use zkfleet_witness_generator::aggregation::tree::AggregationTree;

use AggregationRound::{Basic, Leaf, Node, RecursionTip, Scheduler};

/// Basic instances per type for the small geometry, counted from the operations.
fn expected_instances(generated: &Generated) -> BTreeMap<CircuitId, u32> {
    let ops = &generated.batch.operations;
    let deposits = ops
        .iter()
        .filter(|op| matches!(op, Operation::Deposit(_)))
        .count() as u32;
    let signed = ops.len() as u32 - deposits;
    BTreeMap::from([
        (
            CircuitId::SIGNATURE_VERIFICATION,
            signed.div_ceil(GEOMETRY.signatures_per_instance),
        ),
        (
            CircuitId::STATE_TRANSITION,
            (ops.len() as u32).div_ceil(GEOMETRY.operations_per_instance),
        ),
        (
            CircuitId::PRIORITY_OPERATIONS,
            deposits.div_ceil(GEOMETRY.deposits_per_instance),
        ),
    ])
}

/// Proof bytes of proven jobs by (circuit, depth, sequence).
async fn proofs_by_position(
    env: &TestEnv,
    proven: &[Proven],
) -> BTreeMap<(CircuitId, u32, u32), Vec<u8>> {
    let mut out = BTreeMap::new();
    for p in proven {
        let bytes = env
            .store
            .get::<ProofBytes>(&p.proof_key)
            .await
            .expect("a proven job's proof");
        out.insert(
            (p.job.circuit_id, p.job.depth, p.job.sequence_number),
            bytes.0.to_vec(),
        );
    }
    out
}

/// The prover jobs of `round` (at `depth`, if given), each with its decoded witness, sorted by
/// (circuit, depth, sequence); checks that each row's circuit key is its identity's and that
/// the witness is of the row's round and circuit.
async fn witnesses_of(
    env: &TestEnv,
    id: L1BatchId,
    round: AggregationRound,
    depth: Option<u32>,
) -> Vec<(JobSummary, AggregationWitness)> {
    let status = env.status(id).await;
    let mut jobs: Vec<JobSummary> = round_status(&status, round)
        .prover_jobs
        .iter()
        .filter(|j| depth.is_none() || j.depth == depth)
        .cloned()
        .collect();
    jobs.sort_by_key(|j| (j.circuit_id, j.depth, j.sequence_number));
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let circuit = job.circuit_id.expect("circuit");
        let key = ObjectKey::CircuitWitness {
            chain: CHAIN,
            batch: id.batch_number,
            round,
            circuit,
            depth: job.depth.expect("depth"),
            sequence: job.sequence_number.expect("sequence"),
        };
        assert_eq!(job.input_blob_key.as_deref(), Some(key.path().as_str()));
        let bytes = env
            .store
            .get::<CircuitWitnessBytes>(&key)
            .await
            .expect("the witness blob");
        let witness = AggregationWitness::from_bytes(&bytes.0).expect("the witness decodes");
        assert_eq!((witness.round(), witness.circuit_id()), (round, circuit));
        out.push((job, witness));
    }
    out
}

/// Prints the `time_taken` of `round`'s witness jobs (the figures docs/witness-generator.md
/// quotes).
async fn report_generation(env: &TestEnv, id: L1BatchId, round: AggregationRound) {
    let status = env.status(id).await;
    let times: Vec<String> = round_status(&status, round)
        .witness_jobs
        .iter()
        .filter_map(|j| j.time_taken)
        .map(|t| format!("{:.0} ms", t.as_secs_f64() * 1000.0))
        .collect();
    eprintln!("{round} witness jobs took {}", times.join(", "));
}

/// Every witness job of `round` is successful.
async fn assert_round_successful(env: &TestEnv, id: L1BatchId, round: AggregationRound) {
    let status = env.status(id).await;
    for job in &round_status(&status, round).witness_jobs {
        assert_eq!(
            job.status,
            JobStatus::Successful,
            "{}: {:?}",
            job.job,
            job.error
        );
    }
}

/// Rows of every round (without attempts and timings) and every circuit witness blob's bytes.
async fn footprint(env: &TestEnv, id: L1BatchId) -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    let status = env.status(id).await;
    let mut rows = Vec::new();
    for round in &status.rounds {
        for job in round.witness_jobs.iter().chain(&round.prover_jobs) {
            rows.push(format!(
                "{} {:?} {:?} {:?} {:?} {:?}",
                job.job,
                job.status,
                job.circuit_id,
                job.depth,
                job.sequence_number,
                job.input_blob_key
            ));
        }
    }
    let mut blobs = Vec::new();
    for object in env.store.list("prover_jobs").await.expect("list") {
        let key = ObjectKey::parse(&object.path).expect("key");
        let bytes = env.store.get_raw(&key).await.expect("blob");
        blobs.push((object.path, bytes.to_vec()));
    }
    blobs.sort();
    (rows, blobs)
}

/// Restarts a completed witness job and runs its round again: no row, no blob changes.
async fn rerun_is_idempotent(env: &TestEnv, id: L1BatchId, job: JobRef, round: AggregationRound) {
    let before = footprint(env, id).await;
    assert_eq!(
        env.dal.restart_job(job).await.expect("restart"),
        TransitionOutcome::Applied
    );
    let reports = env.run_round(config(&[round]), id, round).await;
    assert_eq!((reports[0].picked, reports[0].succeeded), (1, 1), "{job}");
    assert_eq!(footprint(env, id).await, before, "re-running {job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_batch_through_every_round() {
    let circuits = load_circuits().await;
    let env = TestEnv::postgres_with(protocol_version(circuits)).await;
    let generated = batch_with_every_type(1);
    let instances = expected_instances(&generated);
    assert!(instances.values().all(|&n| n > 0), "{instances:?}");
    let trees: BTreeMap<CircuitId, AggregationTree> = instances
        .iter()
        .map(|(&c, &n)| (c, AggregationTree::of(n, ARITY).expect("tree")))
        .collect();
    assert_eq!(
        trees[&CircuitId::STATE_TRANSITION].nodes,
        [2, 1],
        "the state type must need two node depths"
    );
    let id = env.submit(&generated).await;

    // Round 0, then its proofs.
    env.run_until(config(&[Basic]), id, |status| {
        status
            .witness_input
            .as_ref()
            .is_some_and(|j| j.status == JobStatus::Successful)
    })
    .await;
    let basic_time = env
        .status(id)
        .await
        .witness_input
        .and_then(|j| j.time_taken);
    eprintln!("basic witness job took {basic_time:?}");
    let partial: SchedulerPartialInput = env
        .store
        .get(&ObjectKey::SchedulerInput {
            chain: CHAIN,
            batch: id.batch_number,
        })
        .await
        .expect("scheduler partial input");
    for summary in &partial.types {
        assert_eq!(summary.instances, instances[&summary.circuit_id]);
    }
    let basic = prove_queued(&env, circuits).await;
    assert_eq!(basic.len() as u32, instances.values().sum::<u32>());
    assert!(basic.iter().all(|p| p.job.aggregation_round == Basic));
    let basic_proofs = proofs_by_position(&env, &basic).await;

    // Round 1: one leaf job per type.
    let reports = env.run_round(config(&[Leaf]), id, Leaf).await;
    assert_eq!(reports[0].succeeded, 3, "{reports:?}");
    assert_round_successful(&env, id, Leaf).await;
    report_generation(&env, id, Leaf).await;
    let leaves = witnesses_of(&env, id, Leaf, None).await;
    for (&circuit, tree) in &trees {
        let of_type: Vec<_> = leaves
            .iter()
            .filter(|(job, _)| job.circuit_id == Some(circuit))
            .collect();
        assert_eq!(of_type.len() as u32, tree.leaves, "leaves of {circuit}");
        for (i, (job, witness)) in of_type.iter().enumerate() {
            assert_eq!(job.depth, Some(0));
            assert_eq!(job.status, JobStatus::Queued);
            let AggregationWitness::Leaf(leaf) = witness else {
                panic!("not a leaf witness")
            };
            let first = i as u32 * ARITY;
            let expected: Vec<u32> = (first..(first + ARITY).min(instances[&circuit])).collect();
            let sequences: Vec<u32> = leaf.children.iter().map(|c| c.sequence).collect();
            assert_eq!(sequences, expected, "leaf {i} of {circuit}");
            for child in &leaf.children {
                assert_eq!(child.proof, basic_proofs[&(circuit, 0, child.sequence)]);
            }
        }
    }
    let leaf_job = round_status(&env.status(id).await, Leaf).witness_jobs[0].job;
    rerun_is_idempotent(&env, id, leaf_job, Leaf).await;
    let leaf_proven = prove_queued(&env, circuits).await;
    assert_eq!(leaf_proven.len(), leaves.len());
    let mut below = proofs_by_position(&env, &leaf_proven).await;

    // Round 2, depth by depth until every type has its final node proof.
    let mut final_node_proofs = BTreeMap::new();
    for depth in 0.. {
        env.run_round(config(&[Node]), id, Node).await;
        // This depth's jobs are done; the next depth's (if any) wait for their proofs.
        for job in &round_status(&env.status(id).await, Node).witness_jobs {
            let expected = if job.depth.expect("node depth") <= depth {
                JobStatus::Successful
            } else {
                JobStatus::WaitingForProofs
            };
            assert_eq!(job.status, expected, "{}: {:?}", job.job, job.error);
        }
        report_generation(&env, id, Node).await;
        let nodes = witnesses_of(&env, id, Node, Some(depth)).await;
        for (&circuit, tree) in &trees {
            let of_type: Vec<_> = nodes
                .iter()
                .filter(|(job, _)| job.circuit_id == Some(circuit))
                .collect();
            let expected = tree.nodes.get(depth as usize).copied().unwrap_or(0);
            assert_eq!(of_type.len() as u32, expected, "{circuit} at depth {depth}");
            let children_below: Vec<&Vec<u8>> = below
                .iter()
                .filter(|((c, _, _), _)| *c == circuit)
                .map(|(_, bytes)| bytes)
                .collect();
            for (i, (_, witness)) in of_type.iter().enumerate() {
                let AggregationWitness::Node(node) = witness else {
                    panic!("not a node witness")
                };
                let layer = if depth == 0 {
                    NodeChildren::Leaf
                } else {
                    NodeChildren::Node
                };
                assert_eq!(node.children_layer, layer);
                let chunk: Vec<&Vec<u8>> = children_below
                    .iter()
                    .skip(i * ARITY as usize)
                    .take(ARITY as usize)
                    .copied()
                    .collect();
                assert_eq!(node.children.iter().collect::<Vec<_>>(), chunk);
            }
        }
        let proven = prove_queued(&env, circuits).await;
        assert_eq!(proven.len(), nodes.len());
        for p in &proven {
            let circuit = p.job.circuit_id;
            let is_final = trees[&circuit].final_depth() == depth;
            assert_eq!(p.job.is_node_final_proof, is_final, "{circuit} at {depth}");
        }
        below = proofs_by_position(&env, &proven).await;
        for ((circuit, d, _), bytes) in &below {
            if trees[circuit].final_depth() == *d {
                final_node_proofs.insert(*circuit, bytes.clone());
            }
        }
        let status = env.status(id).await;
        let waiting = round_status(&status, Node)
            .witness_jobs
            .iter()
            .any(|j| j.status != JobStatus::Successful);
        if !waiting {
            assert_eq!(depth, 1, "two node depths");
            break;
        }
    }
    assert_eq!(final_node_proofs.len(), 3);

    // Round 3: the recursion tip over the three final node proofs.
    env.run_round(config(&[RecursionTip]), id, RecursionTip)
        .await;
    assert_round_successful(&env, id, RecursionTip).await;
    report_generation(&env, id, RecursionTip).await;
    let tips = witnesses_of(&env, id, RecursionTip, None).await;
    assert_eq!(tips.len(), 1);
    let AggregationWitness::RecursionTip(tip) = &tips[0].1 else {
        panic!("not a tip witness")
    };
    assert_eq!(tip.slots.len(), partial.types.len());
    for (slot, summary) in tip.slots.iter().zip(&partial.types) {
        match slot {
            TipSlotWitnessData::Present {
                circuit_id,
                final_node_proof,
                first_input,
                last_output,
            } => {
                assert_eq!(*circuit_id, summary.circuit_id);
                assert_eq!(final_node_proof, &final_node_proofs[circuit_id]);
                assert_eq!(first_input, &summary.first_input);
                assert_eq!(last_output, &summary.last_output);
            }
            TipSlotWitnessData::Absent { circuit_id, .. } => {
                panic!("circuit {circuit_id} is present in the batch")
            }
        }
    }
    let tip_proven = prove_queued(&env, circuits).await;
    assert_eq!(tip_proven.len(), 1);
    let tip_proof = proofs_by_position(&env, &tip_proven).await;

    // Round 4: the scheduler.
    env.run_round(config(&[Scheduler]), id, Scheduler).await;
    assert_round_successful(&env, id, Scheduler).await;
    report_generation(&env, id, Scheduler).await;
    let schedulers = witnesses_of(&env, id, Scheduler, None).await;
    assert_eq!(schedulers.len(), 1);
    let AggregationWitness::Scheduler(scheduler) = &schedulers[0].1 else {
        panic!("not a scheduler witness")
    };
    assert_eq!(scheduler.batch_number, id.batch_number.0);
    assert_eq!(scheduler.types, partial.types);
    assert_eq!(Some(&scheduler.tip_proof), tip_proof.values().next());
    rerun_is_idempotent(&env, id, JobRef::SchedulerWitness(id), Scheduler).await;
    let scheduler_proven = prove_queued(&env, circuits).await;
    assert_eq!(scheduler_proven.len(), 1);

    // The scheduler proof completes the batch: a compression job is queued, and compressing
    // the proof attests the natively computed output with the recursion tree's key digest.
    let compression = env.status(id).await.compression.expect("compression job");
    assert_eq!(compression.status, JobStatus::Queued);
    let scheduler_proof = env
        .store
        .get::<ProofBytes>(&scheduler_proven[0].proof_key)
        .await
        .expect("scheduler proof");
    let compressing = std::time::Instant::now();
    let compressed = tokio::task::spawn_blocking(move || circuits.compress(&scheduler_proof.0))
        .await
        .expect("the compression thread")
        .expect("the scheduler proof compresses");
    eprintln!(
        "compressed the scheduler proof in {:.1} s ({} bytes)",
        compressing.elapsed().as_secs_f64(),
        compressed.proof_bytes.len()
    );
    let aux: AuxOutput = env
        .store
        .get(&ObjectKey::AuxOutput {
            chain: CHAIN,
            batch: id.batch_number,
        })
        .await
        .expect("aux output");
    let mut expected = aux.public_output;
    expected.recursion_tree_vk_digest = circuits.scheduler().tree_vk_digest();
    assert_eq!(compressed.public_output, expected);
    let verified = FinalVerifyingKey::of(circuits)
        .expect("the final key encodes")
        .verify(&compressed.proof_bytes)
        .expect("the final proof verifies against the final key alone");
    assert_eq!(verified, expected);
    env.close().await;
}
