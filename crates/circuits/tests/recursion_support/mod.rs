//! Toy basic circuit types with the binding public-input layout of round 0, standing in for the
//! real basic circuits in the recursion tests and the recursion benchmark.
//!
//! A "power-sum counter" instance takes up to `capacity` items and advances a closed form of
//! `n ≥ 2` elements: `[sequence, Σ item, Σ item², …, Σ itemⁿ⁻¹]`. The sequence element counts
//! items, so no two instances of a chain share an input (a duplicated or reordered instance
//! cannot continue its predecessor). Public inputs: `hash_no_pad(input ‖ output ‖ [count])`.

#![allow(dead_code)] // Each test binary and the benchmark use a different part of it.

use plonky2::field::types::Field;
use plonky2::gates::noop::NoopGate;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CircuitData;
use zkfleet_circuits::recursion::{recursion_config, BasicProof, BasicTypeShape, C, D, F};
use zkfleet_types::CircuitId;

/// A toy basic type and its circuit.
pub(crate) struct ToyType {
    pub circuit_id: CircuitId,
    pub closed_form_len: usize,
    pub capacity: usize,
    data: CircuitData<F, C, D>,
    input: Vec<Target>,
    items: Vec<Target>,
    active: Vec<BoolTarget>,
}

impl ToyType {
    /// Builds the type's circuit, padded to 2^`degree_bits` rows. The circuit id is a constant
    /// of the circuit, so two types of equal parameters still have different verifying keys.
    pub(crate) fn build(
        circuit_id: u8,
        closed_form_len: usize,
        capacity: usize,
        degree_bits: usize,
    ) -> Self {
        assert!(closed_form_len >= 2 && capacity >= 1);
        let mut b = CircuitBuilder::<F, D>::new(recursion_config());
        let input = b.add_virtual_targets(closed_form_len);
        let items = b.add_virtual_targets(capacity);
        let active: Vec<BoolTarget> = (0..capacity)
            .map(|_| b.add_virtual_bool_target_safe())
            .collect();
        let one = b.one();
        b.connect(active[0].target, one);
        for j in 1..capacity {
            let both = b.mul(active[j].target, active[j - 1].target);
            b.connect(both, active[j].target);
        }
        let count = b.add_many(active.iter().map(|a| a.target));
        let mut output = vec![b.add(input[0], count)];
        for (k, start) in input.iter().enumerate().skip(1) {
            let mut acc = *start;
            for (item, a) in items.iter().zip(&active) {
                let mut power = *item;
                for _ in 1..k {
                    power = b.mul(power, *item);
                }
                acc = b.mul_add(a.target, power, acc);
            }
            output.push(acc);
        }
        // The type's identity, as a constant of the circuit.
        // (mul_const puts it in an arithmetic gate's constants, which the key commits to).
        b.mul_const(F::from_canonical_u8(circuit_id), input[0]);
        let mut preimage = input.clone();
        preimage.extend_from_slice(&output);
        preimage.push(count);
        let digest = b.hash_n_to_hash_no_pad::<PoseidonHash>(preimage);
        b.register_public_inputs(&digest.elements);
        while b.num_gates() < (1 << (degree_bits - 1)) + 1 {
            b.add_gate(NoopGate, vec![]);
        }
        let data = b.build::<C>();
        assert_eq!(
            data.common.degree_bits(),
            degree_bits,
            "toy circuit larger than asked"
        );
        Self {
            circuit_id: CircuitId(circuit_id),
            closed_form_len,
            capacity,
            data,
            input,
            items,
            active,
        }
    }

    pub(crate) fn shape(&self) -> BasicTypeShape {
        BasicTypeShape {
            circuit_id: self.circuit_id,
            closed_form_len: self.closed_form_len,
            public_output_len: self.closed_form_len,
            instance_capacity: self.capacity as u64,
            common: self.data.common.clone(),
            verifier_only: self.data.verifier_only.clone(),
        }
    }

    /// The closed form every chain of this type starts from.
    pub(crate) fn genesis(&self) -> Vec<F> {
        vec![F::ZERO; self.closed_form_len]
    }

    /// The closed form after `items` from `input`.
    pub(crate) fn advance(&self, input: &[F], items: &[u64]) -> Vec<F> {
        let mut out = input.to_vec();
        out[0] += F::from_canonical_usize(items.len());
        for (k, o) in out.iter_mut().enumerate().skip(1) {
            for item in items {
                *o += F::from_canonical_u64(*item).exp_u64(k as u64);
            }
        }
        out
    }

    /// Proves one instance over `items` (1..=capacity) from `input`.
    pub(crate) fn prove_instance(&self, input: &[F], items: &[u64]) -> BasicProof {
        assert!(!items.is_empty() && items.len() <= self.capacity);
        let mut pw = PartialWitness::new();
        for (t, v) in self.input.iter().zip(input) {
            pw.set_target(*t, *v).unwrap();
        }
        for (j, (t, a)) in self.items.iter().zip(&self.active).enumerate() {
            let value = items.get(j).copied().unwrap_or(0);
            pw.set_target(*t, F::from_canonical_u64(value)).unwrap();
            pw.set_bool_target(*a, j < items.len()).unwrap();
        }
        let proof = self.data.prove(pw).expect("toy instance proves");
        BasicProof {
            proof,
            input: input.to_vec(),
            output: self.advance(input, items),
            count: items.len() as u64,
        }
    }

    /// Cuts `items` into instances of `capacity` (the last one possibly partial) chained from
    /// `start`, and proves them in order.
    pub(crate) fn prove_chain(&self, start: &[F], items: &[u64]) -> Vec<BasicProof> {
        let mut input = start.to_vec();
        items
            .chunks(self.capacity)
            .map(|chunk| {
                let proof = self.prove_instance(&input, chunk);
                input = proof.output.clone();
                proof
            })
            .collect()
    }
}

/// A toy basic type whose circuit constrains nothing but its public inputs: an instance proves
/// `hash_no_pad(input ‖ output' ‖ [count])` for whatever input, own output `output'` (the first
/// `public_output_len` elements of the carried output) and count its prover chooses. The
/// recursion layers must enforce their own rules whatever the basic circuits below them allow,
/// so the soundness tests use it to produce *genuine* basic proofs of unusual statements (a
/// count of 0, a chain that does not start at `ZERO`, …) rather than forging them.
pub(crate) struct FreeToyType {
    pub circuit_id: CircuitId,
    pub closed_form_len: usize,
    pub public_output_len: usize,
    pub capacity: u64,
    data: CircuitData<F, C, D>,
    input: Vec<Target>,
    output: Vec<Target>,
    count: Target,
}

impl FreeToyType {
    /// Builds the type's circuit, padded to 2^`degree_bits` rows; the circuit id is a constant
    /// of the circuit, so types of equal parameters have different keys.
    pub(crate) fn build(
        circuit_id: u8,
        closed_form_len: usize,
        public_output_len: usize,
        capacity: u64,
        degree_bits: usize,
    ) -> Self {
        assert!(public_output_len >= 1 && public_output_len <= closed_form_len);
        let mut b = CircuitBuilder::<F, D>::new(recursion_config());
        let input = b.add_virtual_targets(closed_form_len);
        let output = b.add_virtual_targets(public_output_len);
        let count = b.add_virtual_target();
        b.mul_const(F::from_canonical_u8(circuit_id), input[0]);
        let mut preimage = input.clone();
        preimage.extend_from_slice(&output);
        preimage.push(count);
        let digest = b.hash_n_to_hash_no_pad::<PoseidonHash>(preimage);
        b.register_public_inputs(&digest.elements);
        while b.num_gates() < (1 << (degree_bits - 1)) + 1 {
            b.add_gate(NoopGate, vec![]);
        }
        let data = b.build::<C>();
        assert_eq!(
            data.common.degree_bits(),
            degree_bits,
            "toy circuit larger than asked"
        );
        Self {
            circuit_id: CircuitId(circuit_id),
            closed_form_len,
            public_output_len,
            capacity,
            data,
            input,
            output,
            count,
        }
    }

    pub(crate) fn shape(&self) -> BasicTypeShape {
        BasicTypeShape {
            circuit_id: self.circuit_id,
            closed_form_len: self.closed_form_len,
            public_output_len: self.public_output_len,
            instance_capacity: self.capacity,
            common: self.data.common.clone(),
            verifier_only: self.data.verifier_only.clone(),
        }
    }

    /// Proves one instance from `input` to the carried `output` (full length; its tail beyond
    /// `public_output_len` is not in the proof) with `count` items.
    pub(crate) fn prove_instance(&self, input: &[F], output: &[F], count: u64) -> BasicProof {
        assert_eq!(input.len(), self.closed_form_len);
        assert_eq!(output.len(), self.closed_form_len);
        let mut pw = PartialWitness::new();
        for (t, v) in self.input.iter().zip(input) {
            pw.set_target(*t, *v).unwrap();
        }
        for (t, v) in self.output.iter().zip(output) {
            pw.set_target(*t, *v).unwrap();
        }
        pw.set_target(self.count, F::from_canonical_u64(count))
            .unwrap();
        let proof = self.data.prove(pw).expect("free toy instance proves");
        BasicProof {
            proof,
            input: input.to_vec(),
            output: output.to_vec(),
            count,
        }
    }
}

/// A circuit of exactly the common data `shape` (the leaf/node shape) that verifies nothing and
/// exposes whatever public inputs its prover likes: the "foreign verifying key" adversary.
/// Returns the proof of `public_inputs` and the circuit (its key is the same for any values).
pub(crate) fn forged_proof_of_shape(
    shape: &plonky2::plonk::circuit_data::CommonCircuitData<F, D>,
    public_inputs: &[F],
) -> (
    plonky2::plonk::proof::ProofWithPublicInputs<F, C, D>,
    CircuitData<F, C, D>,
) {
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
    assert_eq!(&data.common, shape, "forged circuit must have the shape");
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
