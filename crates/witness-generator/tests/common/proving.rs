//! What the aggregation-round tests need besides the witness generator: the circuits of a
//! small configuration (cached in a keystore shared by every test run), a batch with every
//! basic type, and an in-test circuit prover that proves queued prover jobs through the job
//! database exactly as a circuit prover does (pick, load the circuit witness under its own
//! key, witness vector, prove and verify, store the proof, complete the job).

use std::time::Instant;

use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_dal::{HeavySet, ProverJob, ProverJobClass};
use zkfleet_rollup::generate::{Generated, GeneratorConfig};
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, ProofBytes};
use zkfleet_types::{AggregationRound, BatchNumber, ProtocolVersion, VkDigest};
use zkfleet_witness_generator::WitnessGeneratorConfig;

use super::{TestEnv, CHAIN, VERSION};

/// The small test configuration every crate's tests share (1 operation, 2 signatures, 2
/// deposits per instance, XMSS height 2; arity 2; light compression): the circuits build in a
/// minute or two and prove in seconds.
pub(crate) use zkfleet_test_support::keys::{ARITY, GEOMETRY};
/// 5 operations: 5 state-transition instances → 3 leaves → node depth 0 (2) and depth 1 (1).
pub(crate) const OPERATIONS: usize = 5;

/// Every circuit of the small configuration, from the keystore every crate's tests share
/// (built once, reused by later runs and other test binaries), loaded once per test binary.
/// Blocks for minutes the first time: call it from a blocking thread.
pub(crate) fn circuits() -> &'static BatchCircuits {
    zkfleet_test_support::keys::small_circuits(&zkfleet_test_support::small_keys_dir!())
}

/// [`circuits`] without blocking the runtime's workers.
pub(crate) async fn load_circuits() -> &'static BatchCircuits {
    tokio::task::spawn_blocking(circuits)
        .await
        .expect("loading the circuits")
}

/// The protocol version whose key digests are those of `circuits`.
pub(crate) fn protocol_version(circuits: &BatchCircuits) -> ProtocolVersion {
    ProtocolVersion {
        version: VERSION,
        recursion_tree_vk_digest: VkDigest(circuits.scheduler().tree_vk_digest()),
        final_vk_digest: FinalVerifyingKey::of(circuits)
            .expect("the final key encodes")
            .digest(),
    }
}

/// The witness generator configuration of the small configuration, running `rounds`.
pub(crate) fn config(rounds: &[AggregationRound]) -> WitnessGeneratorConfig {
    WitnessGeneratorConfig {
        rounds: rounds.to_vec(),
        picked_by: "wg-test".to_owned(),
        max_circuits_in_flight: 2,
        geometry: GEOMETRY,
        arity: ARITY,
        idle_backoff_initial_ms: 10,
        idle_backoff_max_ms: 50,
        ..WitnessGeneratorConfig::default()
    }
}

/// Batch `number`: the first generated batch of [`OPERATIONS`] operations with at least one
/// deposit and one signed operation, so that every basic type is present.
pub(crate) fn batch_with_every_type(number: u32) -> Generated {
    zkfleet_test_support::fixtures::batch_with_every_type(
        &GeneratorConfig {
            accounts: 4,
            operations: OPERATIONS,
            tree_height: GEOMETRY.xmss_height as usize,
            chain_id: CHAIN,
            batch_number: BatchNumber(number),
            ..GeneratorConfig::default()
        },
        zkfleet_test_support::fixtures::SEEDS,
    )
    .generated
}

/// A prover job the in-test prover proved.
#[derive(Debug, Clone)]
pub(crate) struct Proven {
    pub job: ProverJob,
    /// Where its proof is (`proofs/{chain}/{id}.bin`).
    pub proof_key: ObjectKey,
}

/// Proves every queued prover job, one at a time, as a circuit prover does; returns them in
/// the order proven.
pub(crate) async fn prove_queued(env: &TestEnv, circuits: &'static BatchCircuits) -> Vec<Proven> {
    let started_all = Instant::now();
    let mut proven = Vec::new();
    while let Some(job) = env
        .dal
        .pick_prover_job(
            VERSION,
            ProverJobClass::Any,
            &HeavySet::default(),
            "test-prover",
        )
        .await
        .expect("pick a prover job")
    {
        let started = Instant::now();
        let circuit_key = ObjectKey::CircuitWitness {
            chain: job.meta.batch.chain_id,
            batch: job.meta.batch.batch_number,
            round: job.aggregation_round,
            circuit: job.circuit_id,
            depth: job.depth,
            sequence: job.sequence_number,
        };
        assert_eq!(
            job.circuit_blob_key,
            circuit_key.path(),
            "prover job {}: the circuit key is the one its row gives",
            job.id
        );
        let witness = env
            .store
            .get::<CircuitWitnessBytes>(&circuit_key)
            .await
            .unwrap_or_else(|e| panic!("prover job {}: {e}", job.id));
        let (round, circuit, id) = (job.aggregation_round, job.circuit_id, job.id);
        let proof = tokio::task::spawn_blocking(move || {
            let vector = circuits
                .witness_vector(round, circuit, &witness.0)
                .unwrap_or_else(|e| panic!("prover job {id} ({round}, circuit {circuit}): {e}"));
            circuits
                .prove_job(round, circuit, vector)
                .unwrap_or_else(|e| panic!("prover job {id} ({round}, circuit {circuit}): {e}"))
        })
        .await
        .expect("the proving thread");
        let proof_key = ObjectKey::Proof {
            chain: job.meta.batch.chain_id,
            job: job.id,
        };
        let path = env
            .store
            .put(&proof_key, &ProofBytes::new(proof))
            .await
            .expect("store the proof");
        let outcome = env
            .dal
            .complete_prover_job(job.id, &path, started.elapsed())
            .await
            .expect("complete the prover job");
        assert!(outcome.is_completed(), "prover job {}: {outcome:?}", job.id);
        proven.push(Proven { job, proof_key });
    }
    let rounds: Vec<String> = proven
        .iter()
        .map(|p| p.job.aggregation_round.to_string())
        .collect();
    eprintln!(
        "proved {} prover jobs ({}) in {:.1} s",
        proven.len(),
        rounds.first().map(String::as_str).unwrap_or("none"),
        started_all.elapsed().as_secs_f64()
    );
    proven
}
