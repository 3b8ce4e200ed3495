//! The faster hasher changes no byte: a basic circuit built under `FastPoseidonGoldilocksConfig`
//! has the same circuit data (serialized as the keystore writes it) as under plonky2's
//! `PoseidonGoldilocksConfig`, and proves the same witness into the same proof bytes, which
//! verify under either configuration.
//!
//! Both proofs come from one partition witness (witness generation puts random values on the
//! public-input gate's unused wires) on a one-thread pool (plonky2's FRI proof-of-work search,
//! `find_any` over rayon, returns whichever valid nonce a thread finds first).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use plonky2::iop::generator::generate_partial_witness;
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_data::CircuitData;
use plonky2::plonk::config::{GenericConfig, PoseidonGoldilocksConfig};
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::plonk::prover::prove_with_partition_witness;
use plonky2::util::serialization::{DefaultGateSerializer, DefaultGeneratorSerializer};
use plonky2::util::timing::TimingTree;
use zkfleet_circuits::basic::{define, split_batch, BasicCircuitKind};
use zkfleet_circuits::hasher::FastPoseidonGoldilocksConfig;
use zkfleet_circuits::{BasicGeometry, D, F};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};

type Old = PoseidonGoldilocksConfig;
type New = FastPoseidonGoldilocksConfig;

const GEOMETRY: BasicGeometry = BasicGeometry {
    signatures_per_instance: 3,
    operations_per_instance: 4,
    deposits_per_instance: 2,
    xmss_height: 2,
};

fn build<C: GenericConfig<D, F = F> + 'static>(kind: BasicCircuitKind) -> CircuitData<F, C, D>
where
    C::Hasher: plonky2::plonk::config::AlgebraicHasher<F>,
{
    let (builder, _) = define(kind, &GEOMETRY).expect("define");
    builder.build::<C>()
}

fn key_bytes<C: GenericConfig<D, F = F> + 'static + Default>(data: &CircuitData<F, C, D>) -> Vec<u8>
where
    C::Hasher: plonky2::plonk::config::AlgebraicHasher<F>,
{
    data.to_bytes(
        &DefaultGateSerializer,
        &DefaultGeneratorSerializer::<C, D>::default(),
    )
    .expect("serialize circuit data")
}

/// The first instance of `kind` of a generated batch, assigned to the circuit's targets.
fn witness(kind: BasicCircuitKind) -> PartialWitness<F> {
    let generated = generate(&GeneratorConfig {
        accounts: 6,
        operations: 10,
        seed: 18,
        tree_height: GEOMETRY.xmss_height as usize,
        ..GeneratorConfig::default()
    })
    .expect("generate");
    let mut state = generated.genesis.to_memory_state().expect("state");
    let executed = execute_batch(&mut state, &generated.batch).expect("execute");
    let split = split_batch(&executed, &GEOMETRY).expect("split");
    let instance = split
        .instances
        .iter()
        .find(|i| i.circuit == kind.circuit_id())
        .expect("an instance of the kind");
    let (_, layout) = define(kind, &GEOMETRY).expect("define");
    let circuit = zkfleet_circuits::basic::BasicCircuit::build(kind, &GEOMETRY).expect("build");
    let decoded = circuit.decode_witness(&instance.witness).expect("decode");
    layout.assign(&decoded).expect("assign")
}

#[test]
fn circuit_data_and_proofs_are_byte_identical_under_the_fast_hasher() {
    for kind in [
        BasicCircuitKind::PriorityOperations,
        BasicCircuitKind::StateTransition,
    ] {
        let old = build::<Old>(kind);
        let new = build::<New>(kind);
        let (old_key, new_key) = (key_bytes(&old), key_bytes(&new));
        assert!(old_key == new_key, "{}: circuit data differ", kind.name());

        // One partition witness for both: witness generation fills the public-input gate's
        // unused wires with random values (plonky2's `randomize_unused_pi_wires`).
        let partition = generate_partial_witness(witness(kind), &old.prover_only, &old.common)
            .expect("witness generation");
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("one-thread pool");
        let (old_proof, new_proof) = one_thread.install(|| {
            let mut timing = TimingTree::default();
            (
                prove_with_partition_witness(
                    &old.prover_only,
                    &old.common,
                    partition.clone(),
                    &mut timing,
                )
                .expect("prove (plonky2's hasher)"),
                prove_with_partition_witness(&new.prover_only, &new.common, partition, &mut timing)
                    .expect("prove (fast hasher)"),
            )
        });
        let (old_bytes, new_bytes) = (old_proof.to_bytes(), new_proof.to_bytes());
        let first_difference = old_bytes.iter().zip(&new_bytes).position(|(a, b)| a != b);
        assert!(
            old_bytes == new_bytes,
            "{}: proofs differ ({} and {} bytes, first difference at {first_difference:?})",
            kind.name(),
            old_bytes.len(),
            new_bytes.len()
        );

        // The fast proof verifies under plonky2's configuration, and the other way round.
        let as_old = ProofWithPublicInputs::<F, Old, D>::from_bytes(new_bytes, &old.common)
            .expect("decode under plonky2's config");
        old.verify(as_old)
            .expect("fast proof verifies under plonky2's config");
        let as_new = ProofWithPublicInputs::<F, New, D>::from_bytes(old_bytes, &new.common)
            .expect("decode under the fast config");
        new.verify(as_new)
            .expect("plonky2's proof verifies under the fast config");
    }
}
