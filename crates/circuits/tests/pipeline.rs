//! The pipeline's view of the circuits: a small batch proven one job at a time through stored
//! bytes (round-0 circuit witnesses, `AggregationWitness` blobs of every aggregation round,
//! proof bytes between them), exactly as the distributed fleet runs it, with circuits loaded
//! through the keystore. The final proof must attest the native batch output and verify under
//! the final verifying key file alone. Bad inputs must be refused with errors that name them.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod batch_support;

use std::collections::BTreeMap;

use batch_support::{batch_with_every_type, ARITY, GEOMETRY};
use zkfleet_circuits::basic::split_batch;
use zkfleet_circuits::pipeline::witness::{AggregationWitness, NodeChildren};
use zkfleet_circuits::pipeline::{
    leaf_job_witnesses, node_job_witnesses, scheduler_job_witness, tip_job_witness, type_summaries,
    FinalVerifyingKey, PipelineError,
};
use zkfleet_circuits::recursion::{BatchCircuits, CompressionProfile};
use zkfleet_circuits::{CircuitError, Keystore, ProvingConfiguration};
use zkfleet_types::{AggregationRound, CircuitId};

const CONFIG: ProvingConfiguration = ProvingConfiguration {
    geometry: GEOMETRY,
    arity: ARITY as u32,
    compression: CompressionProfile::Light,
};

fn prove(
    circuits: &BatchCircuits,
    round: AggregationRound,
    circuit: CircuitId,
    witness: &[u8],
) -> Vec<u8> {
    let vector = circuits
        .witness_vector(round, circuit, witness)
        .unwrap_or_else(|e| panic!("witness vector of {round} {circuit}: {e}"));
    circuits
        .prove_job(round, circuit, vector)
        .unwrap_or_else(|e| panic!("proving {round} {circuit}: {e}"))
}

#[test]
fn a_batch_proven_job_by_job_attests_its_output_and_bad_inputs_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = Keystore::open(dir.path()).expect("keystore");

    // Keys: generate, then load from the cache, and the final key file matches the manifest.
    let (_, entries) = keystore.generate(&CONFIG).expect("keys generate");
    assert_eq!(
        entries.len(),
        4,
        "three basic entries and the aggregation entry"
    );
    let loaded = keystore.batch_circuits(&CONFIG).expect("keys load");
    assert!(
        loaded
            .sources
            .iter()
            .all(|(_, s)| *s == zkfleet_circuits::keystore::KeySource::Cached),
        "{:?}",
        loaded.sources
    );
    let circuits = loaded.circuits;
    let vk_bytes = std::fs::read(keystore.final_vk_path(&CONFIG)).expect("final vk file");
    let pinned = entries[3]
        .final_vk_digest
        .as_deref()
        .expect("the aggregation entry records the final key digest")
        .parse()
        .expect("a digest");
    let final_key =
        FinalVerifyingKey::from_pinned_bytes(&vk_bytes, pinned).expect("final vk decodes");
    assert_eq!(
        entries[3].final_vk_digest.as_deref(),
        Some(final_key.digest().to_string().as_str())
    );
    assert!(
        vk_bytes.len() < 16 * 1024,
        "final vk is {} bytes",
        vk_bytes.len()
    );

    // Round 0.
    let executed = batch_with_every_type(0..200);
    let witnesses = split_batch(&executed, &GEOMETRY).expect("split");
    let summaries = type_summaries(&executed, &witnesses.closed_forms).expect("summaries");
    let mut basic: BTreeMap<CircuitId, Vec<(u32, Vec<u8>)>> = BTreeMap::new();
    for instance in &witnesses.instances {
        let proof = prove(
            &circuits,
            AggregationRound::Basic,
            instance.circuit,
            &instance.witness,
        );
        basic
            .entry(instance.circuit)
            .or_default()
            .push((instance.sequence, proof));
    }

    // Rounds 1 and 2, per type.
    let mut final_nodes = Vec::new();
    let mut node_depths = BTreeMap::new();
    for (circuit, mut proofs) in basic {
        proofs.sort_by_key(|(s, _)| *s);
        let forms = witnesses.closed_forms_of(circuit).expect("closed forms");
        let leaves = leaf_job_witnesses(forms, proofs.into_iter().map(|(_, p)| p).collect(), ARITY)
            .expect("leaf witnesses");
        let mut level: Vec<Vec<u8>> = leaves
            .iter()
            .map(|w| {
                prove(
                    &circuits,
                    AggregationRound::Leaf,
                    circuit,
                    &w.to_bytes().expect("encode"),
                )
            })
            .collect();
        let mut layer = NodeChildren::Leaf;
        let mut depth = 0;
        loop {
            let jobs = node_job_witnesses(circuit, layer, level, ARITY).expect("node witnesses");
            level = jobs
                .iter()
                .map(|w| {
                    prove(
                        &circuits,
                        AggregationRound::Node,
                        circuit,
                        &w.to_bytes().expect("encode"),
                    )
                })
                .collect();
            layer = NodeChildren::Node;
            depth += 1;
            if level.len() == 1 {
                break;
            }
        }
        node_depths.insert(circuit, depth);
        final_nodes.push((circuit, level.remove(0)));
    }
    assert!(
        node_depths[&CircuitId::STATE_TRANSITION] >= 2,
        "the state type needs several node depths: {node_depths:?}"
    );

    // Rounds 3 and 4, then compression.
    let tip = tip_job_witness(&summaries, final_nodes).expect("tip witness");
    let tip_proof = prove(
        &circuits,
        AggregationRound::RecursionTip,
        CircuitId::RECURSION_TIP,
        &tip.to_bytes().expect("encode"),
    );
    let scheduler = scheduler_job_witness(&summaries, tip_proof, executed.witness.batch_number.0);
    let scheduler_bytes = scheduler.to_bytes().expect("encode");
    let scheduler_proof = prove(
        &circuits,
        AggregationRound::Scheduler,
        CircuitId::SCHEDULER,
        &scheduler_bytes,
    );
    let compressed = circuits.compress(&scheduler_proof).expect("compression");
    let mut expected = executed.public_output;
    expected.recursion_tree_vk_digest = circuits.scheduler().tree_vk_digest();
    assert_eq!(compressed.public_output, expected);
    assert_eq!(
        final_key.verify(&compressed.proof_bytes).expect("verifies"),
        expected
    );

    // A tampered final proof is refused by the key alone.
    let mut tampered = compressed.proof_bytes.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x40;
    assert!(final_key.verify(&tampered).is_err());
    assert!(final_key.verify(&compressed.proof_bytes[..100]).is_err());

    // A scheduler witness claiming another batch number, or another type count, is refused
    // natively with the link named.
    let AggregationWitness::Scheduler(mut job) = scheduler else {
        unreachable!()
    };
    job.types[1].count += 1;
    let error = circuits
        .witness_vector(
            AggregationRound::Scheduler,
            CircuitId::SCHEDULER,
            &AggregationWitness::Scheduler(job)
                .to_bytes()
                .expect("encode"),
        )
        .expect_err("a type count the tip did not commit to");
    assert!(error.to_string().contains("tip commitment"), "{error}");

    // Leaf children out of order: refused before proving, naming the child.
    let state_forms = witnesses
        .closed_forms_of(CircuitId::STATE_TRANSITION)
        .expect("forms");
    let mut state_proofs: Vec<Vec<u8>> = witnesses
        .instances
        .iter()
        .filter(|i| i.circuit == CircuitId::STATE_TRANSITION)
        .take(2)
        .map(|i| prove(&circuits, AggregationRound::Basic, i.circuit, &i.witness))
        .collect();
    let mut forms = state_forms.clone();
    forms.instances.truncate(2);
    let leaf = leaf_job_witnesses(&forms, state_proofs.clone(), ARITY).expect("leaf");
    let AggregationWitness::Leaf(mut swapped) = leaf[0].clone() else {
        unreachable!()
    };
    swapped.children.swap(0, 1);
    let error = circuits
        .witness_vector(
            AggregationRound::Leaf,
            CircuitId::STATE_TRANSITION,
            &AggregationWitness::Leaf(swapped)
                .to_bytes()
                .expect("encode"),
        )
        .expect_err("swapped children");
    assert!(error.to_string().contains("child"), "{error}");

    // A witness of another job, truncated bytes and a corrupted proof inside a witness.
    let leaf_bytes = leaf[0].to_bytes().expect("encode");
    let error = circuits
        .witness_vector(
            AggregationRound::Node,
            CircuitId::STATE_TRANSITION,
            &leaf_bytes,
        )
        .expect_err("a leaf witness given to a node job");
    assert!(matches!(error, PipelineError::WrongJob { .. }), "{error}");
    assert!(matches!(
        circuits.witness_vector(
            AggregationRound::Leaf,
            CircuitId::STATE_TRANSITION,
            &leaf_bytes[..leaf_bytes.len() - 3]
        ),
        Err(PipelineError::MalformedWitness { .. })
    ));
    state_proofs[0][200] ^= 1;
    let corrupted = leaf_job_witnesses(&forms, state_proofs, ARITY).expect("leaf");
    let error = circuits
        .witness_vector(
            AggregationRound::Leaf,
            CircuitId::STATE_TRANSITION,
            &corrupted[0].to_bytes().expect("encode"),
        )
        .expect_err("a corrupted basic proof");
    assert!(error.to_string().contains("child 0"), "{error}");

    // The keystore checks its files against the code, and refuses a tampered entry.
    keystore.verify_against_code(&CONFIG).expect("keys verify");
    let aggregation = dir
        .path()
        .read_dir()
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            name.starts_with("aggregation_") && name.ends_with(".bin") && !name.contains("final_vk")
        })
        .expect("aggregation entry");
    let mut bytes = std::fs::read(&aggregation).expect("read");
    let at = bytes.len() / 3;
    bytes[at] ^= 1;
    std::fs::write(&aggregation, bytes).expect("write");
    match keystore.batch_circuits(&CONFIG) {
        Err(CircuitError::KeystoreDigestMismatch { path, .. }) => assert_eq!(path, aggregation),
        other => panic!(
            "a tampered aggregation entry must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
    assert!(keystore.verify_against_code(&CONFIG).is_err());
}
