//! A toy circuit for proving tests and benchmarks of this crate (tests/host_batched.rs,
//! examples/poseidon_paths.rs include it with `#[path]`).

use plonky2::field::types::{Field, Sample};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use zkfleet_gpu::backend::{C, D};
use zkfleet_gpu::F;

/// `hashes` chained Poseidon hashes and `muls` multiply-adds (as tests/prover.rs's toy circuit),
/// on the standard recursion configuration (135 wires), with random public inputs.
pub(crate) fn toy_circuit(hashes: usize, muls: usize) -> (CircuitData<F, C, D>, PartialWitness<F>) {
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let inputs = builder.add_virtual_targets(4);
    builder.register_public_inputs(&inputs);
    let mut state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(inputs.clone());
    for _ in 1..hashes {
        state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(state.elements.to_vec());
    }
    let mut acc = state.elements[0];
    for i in 0..muls {
        let c = builder.constant(F::from_canonical_u64(i as u64 + 3));
        acc = builder.mul_add(acc, inputs[i % 4], c);
    }
    builder.register_public_inputs(&state.elements);
    builder.register_public_input(acc);
    let data = builder.build::<C>();
    let mut pw = PartialWitness::new();
    for (t, v) in inputs.iter().zip(F::rand_vec(4)) {
        pw.set_target(*t, v).expect("fresh target");
    }
    (data, pw)
}
