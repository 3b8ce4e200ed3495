//! Round 0 by hand, for the tests of what comes after the witness generator (the circuit
//! prover, the prover API): the fixture batch cut into basic instances at the small test
//! geometry, and [`insert_basic_round`], which leaves the job database and the store as basic
//! witness generation would — the batch's round-0 prover jobs queued, their circuit witnesses
//! stored, the leaf jobs waiting for them — without running the witness generator.

use std::sync::OnceLock;
use std::time::Duration;

use zkfleet_circuits::basic::{split_batch, BasicWitnesses};
use zkfleet_dal::{
    BasicWitnessOutput, Dal, InsertOutcome, NewBasicProverJob, NewBatch, NewLeafWitnessJob,
};
use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_rollup::generate::GeneratorConfig;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, Store};
use zkfleet_types::{
    BatchNumber, ChainId, CircuitId, L1BatchId, ProtocolSemanticVersion, ProtocolVersion,
};

use crate::fixtures::{first_batch, SEEDS};
use crate::keys::GEOMETRY;

/// The protocol version the tests' batches are inserted under.
pub const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
/// The chain of the tests' batches.
pub const CHAIN: ChainId = ChainId(270);

/// The fixture batch, executed, and cut into basic instances at the small geometry.
pub struct BasicRoundFixture {
    /// The batch executed from its genesis state.
    pub executed: ExecutedBatch,
    /// Its basic circuit instances, each with its witness bytes.
    pub witnesses: BasicWitnesses,
}

/// The first generated batch (4 accounts, 8 operations) whose cut at the small geometry has
/// two or more instances of every basic type, so that every leaf aggregates and every type
/// is present. Found deterministically: every run and every crate proves the same batch.
/// Built once per test binary.
pub fn fixture() -> &'static BasicRoundFixture {
    static FIXTURE: OnceLock<BasicRoundFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let template = GeneratorConfig {
            accounts: 4,
            operations: 8,
            tree_height: GEOMETRY.xmss_height as usize,
            ..GeneratorConfig::default()
        };
        let two_of_every_type = |witnesses: &BasicWitnesses| {
            CircuitId::BASIC_TYPES.iter().all(|&circuit| {
                witnesses
                    .instances
                    .iter()
                    .filter(|i| i.circuit == circuit)
                    .count()
                    >= 2
            })
        };
        let found = first_batch(
            &template,
            SEEDS,
            "two instances of every basic type",
            |fixture| {
                let witnesses = split_batch(&fixture.executed, &GEOMETRY).expect("split the batch");
                two_of_every_type(&witnesses)
            },
        );
        let witnesses = split_batch(&found.executed, &GEOMETRY).expect("split the batch");
        BasicRoundFixture {
            executed: found.executed,
            witnesses,
        }
    })
}

/// Batch `number` of the tests' chain.
pub fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(CHAIN, BatchNumber(number))
}

/// Inserts `version` and batch `number` (with `priority`), stores every fixture instance's
/// witness at its [`ObjectKey::basic_circuit_witness`] and completes the basic witness job with the prover jobs and
/// leaf jobs the witness generator would insert. Returns the number of round-0 prover jobs.
pub async fn insert_basic_round(
    dal: &Dal,
    store: &Store,
    version: &ProtocolVersion,
    number: u32,
    priority: i32,
) -> usize {
    let batch = batch_id(number);
    dal.insert_protocol_version(version)
        .await
        .expect("insert the protocol version");
    let inserted = dal
        .insert_batch(&NewBatch {
            batch,
            protocol_version: version.version,
            witness_input_blob_key: ObjectKey::WitnessInput {
                chain: batch.chain_id,
                batch: batch.batch_number,
            }
            .path(),
            priority,
            batch_sealed_at: chrono::Utc::now(),
        })
        .await
        .expect("insert the batch");
    assert_eq!(inserted, InsertOutcome::Inserted);
    let picked = dal
        .pick_basic_witness_job(version.version, "test-witness-generator")
        .await
        .expect("pick the basic witness job")
        .expect("the batch's basic witness job is queued");
    assert_eq!(picked.meta.batch, batch);

    let mut prover_jobs = Vec::new();
    for instance in &fixture().witnesses.instances {
        let key = ObjectKey::basic_circuit_witness(batch, instance.circuit, instance.sequence);
        let path = store
            .put(&key, &CircuitWitnessBytes::new(instance.witness.clone()))
            .await
            .expect("store a circuit witness");
        prover_jobs.push(NewBasicProverJob {
            circuit_id: instance.circuit,
            sequence_number: instance.sequence,
            circuit_blob_key: path,
        });
    }
    let leaf_jobs = CircuitId::BASIC_TYPES
        .iter()
        .map(|&circuit| NewLeafWitnessJob {
            circuit_id: circuit,
            number_of_basic_circuits: prover_jobs
                .iter()
                .filter(|j| j.circuit_id == circuit)
                .count() as u32,
            closed_form_inputs_blob_key: ObjectKey::ClosedFormInputs {
                chain: batch.chain_id,
                batch: batch.batch_number,
                circuit,
            }
            .path(),
        })
        .collect();
    let count = prover_jobs.len();
    let outcome = dal
        .complete_basic_witness_job(
            batch,
            &BasicWitnessOutput {
                prover_jobs,
                leaf_jobs,
                scheduler_partial_input_blob_key: ObjectKey::SchedulerInput {
                    chain: batch.chain_id,
                    batch: batch.batch_number,
                }
                .path(),
            },
            Duration::from_secs(1),
        )
        .await
        .expect("complete the basic witness job");
    assert!(outcome.is_completed(), "{outcome:?}");
    count
}
