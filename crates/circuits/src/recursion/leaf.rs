//! Round 1: the leaf circuit of one basic type.
//!
//! A leaf verifies up to A basic proofs of its type, in sequence order, against the type's
//! verifying key (a constant of the circuit), and checks that they form one contiguous run:
//!
//! - each slot opens its proof's public inputs: `hash_no_pad(input ‖ output ‖ [count])` is
//!   recomputed from the witness and must equal them;
//! - `1 ≤ count ≤ capacity` for each instance;
//! - `active` flags are monotone (`active[0] = 1`, then once 0 always 0); for every active slot
//!   after the first, its input equals the previous slot's output, and every active slot that is
//!   followed by another active slot is full (`count = capacity`);
//! - the statement exposed is (circuit id, digest of the first input, digest of the last
//!   active output, the sum of active counts, full), see `statement`.
//!
//! Unused slots are not verified against a dummy circuit: the prover repeats the first child's
//! proof there, the slot is verified like any other and its values are masked out by `active`.
//! Verifying a genuine proof and ignoring it attests nothing, so this is as sound as plonky2's
//! `conditionally_verify_proof_or_dummy`, and it saves the dummy circuit (built and proved at
//! setup, once per slot), its embedded proof, and the selection gates between the two proofs.

use plonky2::field::types::Field;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitData, CommonCircuitData};
use plonky2::plonk::proof::ProofWithPublicInputsTarget;
use plonky2::util::serialization::{Buffer, Read, Write};
use zkfleet_types::CircuitId;

use super::codec;
use super::error::prove_guarded;
use super::padding::ShapePadding;
use super::proof::{RecursionLayer, RecursionProof};
use super::shape::{
    basic_public_inputs, check_proof_shape, verify_under, BasicProof, BasicTypeShape,
};
use super::statement::{AggregateStatement, StatementTargets, VERIFYING_KEY_LEN};
use super::{recursion_config, RecursionError, C, D, F};

const LAYER: &str = "leaf";

/// Targets of one leaf slot.
#[derive(Debug, Clone)]
pub(crate) struct LeafSlot {
    proof: ProofWithPublicInputsTarget<D>,
    input: Vec<Target>,
    output: Vec<Target>,
    count: Target,
    active: BoolTarget,
}

/// The leaf circuit of one basic type.
#[derive(Debug)]
pub struct LeafCircuit {
    shape: BasicTypeShape,
    arity: usize,
    data: CircuitData<F, C, D>,
    slots: Vec<LeafSlot>,
}

/// Builds the leaf logic for `shape` into a fresh builder, padded to `padding`.
pub(crate) fn leaf_builder(
    shape: &BasicTypeShape,
    arity: usize,
    padding: &ShapePadding,
) -> (CircuitBuilder<F, D>, Vec<LeafSlot>) {
    let mut builder = CircuitBuilder::<F, D>::new(recursion_config());
    let n = shape.closed_form_len;
    let basic_key = builder.constant_verifier_data(&shape.verifier_only);
    let capacity = builder.constant(F::from_canonical_u64(shape.instance_capacity));
    let one = builder.one();
    // Bits that hold both `count - 1` and `capacity - count` for 1 ≤ count ≤ capacity.
    let count_bits = (64 - shape.instance_capacity.leading_zeros()) as usize;

    let mut slots: Vec<LeafSlot> = Vec::with_capacity(arity);
    for i in 0..arity {
        let proof = builder.add_virtual_proof_with_pis(&shape.common);
        builder.verify_proof::<C>(&proof, &basic_key, &shape.common);
        let input = builder.add_virtual_targets(n);
        let output = builder.add_virtual_targets(n);
        let count = builder.add_virtual_target();
        let active = builder.add_virtual_bool_target_safe();

        // Open the basic proof's public inputs: its own output is the carried output's head.
        let mut preimage = input.clone();
        preimage.extend_from_slice(&output[..shape.public_output_len]);
        preimage.push(count);
        let opened =
            builder.hash_n_to_hash_no_pad::<plonky2::hash::poseidon::PoseidonHash>(preimage);
        for (pi, h) in proof.public_inputs.iter().zip(opened.elements) {
            builder.connect(*pi, h);
        }

        // The carried output's tail is the input's tail: run constants pass through unchanged,
        // so continuity makes them equal in every instance of the type.
        for k in shape.public_output_len..n {
            builder.connect(output[k], input[k]);
        }

        // 1 ≤ count ≤ capacity.
        let count_minus_one = builder.sub(count, one);
        builder.range_check(count_minus_one, count_bits);
        let headroom = builder.sub(capacity, count);
        builder.range_check(headroom, count_bits);

        if i == 0 {
            builder.connect(active.target, one);
        } else {
            let prev = &slots[i - 1];
            // Monotone: active[i] ⇒ active[i-1].
            let both = builder.mul(active.target, prev.active.target);
            builder.connect(both, active.target);
            // Continuity: the instance continues the previous one's output.
            for (out, inp) in prev.output.iter().zip(&input) {
                builder.conditional_assert_eq(active.target, *out, *inp);
            }
            // Only the last instance of a run may be partly filled.
            builder.conditional_assert_eq(active.target, prev.count, capacity);
        }
        slots.push(LeafSlot {
            proof,
            input,
            output,
            count,
            active,
        });
    }

    // Statement of the run.
    let first_input_digest = builder
        .hash_n_to_hash_no_pad::<plonky2::hash::poseidon::PoseidonHash>(slots[0].input.clone());
    let mut last_output = slots[0].output.clone();
    let mut total = slots[0].count;
    for slot in &slots[1..] {
        last_output = slot
            .output
            .iter()
            .zip(&last_output)
            .map(|(new, old)| builder.select(slot.active, *new, *old))
            .collect();
        total = builder.mul_add(slot.active.target, slot.count, total);
    }
    let last_output_digest =
        builder.hash_n_to_hash_no_pad::<plonky2::hash::poseidon::PoseidonHash>(last_output);
    let last = &slots[arity - 1];
    let last_full = builder.is_equal(last.count, capacity);
    let full = builder.and(last.active, last_full);
    let circuit_id = builder.constant(F::from_canonical_u8(shape.circuit_id.0));
    StatementTargets {
        circuit_id,
        first_input_digest,
        last_output_digest,
        count: total,
        full,
    }
    .register(&mut builder);
    // A leaf claims no node key; the slots keep the public-input layout of node proofs.
    let zero = builder.zero();
    for _ in 0..VERIFYING_KEY_LEN {
        builder.register_public_input(zero);
    }
    padding.apply(&mut builder);
    (builder, slots)
}

impl LeafCircuit {
    /// Builds the leaf circuit of `shape` (full build, with commitments).
    pub(crate) fn build(shape: &BasicTypeShape, arity: usize, padding: &ShapePadding) -> Self {
        let (builder, slots) = leaf_builder(shape, arity, padding);
        let data = builder.build::<C>();
        Self {
            shape: shape.clone(),
            arity,
            data,
            slots,
        }
    }

    /// The basic type whose proofs this leaf verifies.
    pub fn circuit_id(&self) -> CircuitId {
        self.shape.circuit_id
    }

    /// Basic proofs one leaf verifies at most.
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// The basic type's shape (closed-form lengths, proof shape) the leaf is built for.
    pub fn shape(&self) -> &BasicTypeShape {
        &self.shape
    }

    /// The leaf's plonky2 circuit data.
    pub fn circuit_data(&self) -> &CircuitData<F, C, D> {
        &self.data
    }

    /// The leaf's common data: the same for every leaf and the node (see `padding`).
    pub fn common(&self) -> &CommonCircuitData<F, D> {
        &self.data.common
    }

    /// Proves a leaf over `children` (1..=A basic proofs of this type, in sequence order) after
    /// checking them natively, so that bad input gets an error naming the child at fault rather
    /// than an opaque proving failure.
    pub fn prove(&self, children: &[BasicProof]) -> Result<RecursionProof, RecursionError> {
        self.check_children(children)?;
        let witness = self.assign_witness(children)?;
        self.prove_witness(witness)
    }

    /// The native counterpart of every check the circuit makes.
    pub fn check_children(&self, children: &[BasicProof]) -> Result<(), RecursionError> {
        self.check_structure(children)?;
        let cap = self.shape.instance_capacity;
        for (i, child) in children.iter().enumerate() {
            let err = |reason: String| RecursionError::child(LAYER, i, reason);
            verify_under(&child.proof, &self.shape.verifier_only, &self.shape.common).map_err(
                |e| {
                    err(format!(
                        "basic proof does not verify under the key of type {}: {e:#}",
                        self.shape.circuit_id
                    ))
                },
            )?;
            let own = self.shape.public_output_len;
            if basic_public_inputs(&child.input, &child.output[..own], child.count).elements[..]
                != child.proof.public_inputs[..]
            {
                return Err(err(
                    "public inputs are not hash(input ‖ output ‖ count) of the given witness"
                        .into(),
                ));
            }
            if child.output[own..] != child.input[own..] {
                return Err(err(
                    "carried output does not repeat the input's run constants".into(),
                ));
            }
            if child.count == 0 || child.count > cap {
                return Err(err(format!("count {} outside 1..={cap}", child.count)));
            }
            if i > 0 {
                let prev = &children[i - 1];
                if prev.output != child.input {
                    return Err(err(format!(
                        "input does not continue child {}'s output (children out of order, \
                         dropped or duplicated?)",
                        i - 1
                    )));
                }
                if prev.count != cap {
                    return Err(RecursionError::child(
                        LAYER,
                        i - 1,
                        format!(
                            "partly filled ({} of {cap}) but not the last instance",
                            prev.count
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_structure(&self, children: &[BasicProof]) -> Result<(), RecursionError> {
        if children.is_empty() || children.len() > self.arity {
            return Err(RecursionError::ChildCount {
                layer: LAYER,
                arity: self.arity,
                got: children.len(),
            });
        }
        let n = self.shape.closed_form_len;
        for (i, child) in children.iter().enumerate() {
            check_proof_shape(&child.proof, &self.shape.common).map_err(|reason| {
                RecursionError::child(
                    LAYER,
                    i,
                    format!(
                        "not a proof of basic type {}: {reason}",
                        self.shape.circuit_id
                    ),
                )
            })?;
            if child.input.len() != n || child.output.len() != n {
                return Err(RecursionError::child(
                    LAYER,
                    i,
                    format!(
                        "closed form of {}/{} elements, type {} has {n}",
                        child.input.len(),
                        child.output.len(),
                        self.shape.circuit_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Fills the witness without the native semantic checks: only what is needed to place the
    /// children in the circuit (count, shapes, lengths). Whatever else is wrong is left for the
    /// circuit to reject, which is what the soundness tests exercise.
    pub fn assign_witness(
        &self,
        children: &[BasicProof],
    ) -> Result<PartialWitness<F>, RecursionError> {
        self.check_structure(children)?;
        let mut pw = PartialWitness::new();
        let set = |r: anyhow::Result<()>| r.map_err(|e| RecursionError::proving(LAYER, e));
        for (i, slot) in self.slots.iter().enumerate() {
            // Unused slots repeat the first child (see the module docs).
            let (child, active) = match children.get(i) {
                Some(child) => (child, true),
                None => (&children[0], false),
            };
            set(pw.set_proof_with_pis_target(&slot.proof, &child.proof))?;
            for (t, v) in slot.input.iter().zip(&child.input) {
                set(pw.set_target(*t, *v))?;
            }
            for (t, v) in slot.output.iter().zip(&child.output) {
                set(pw.set_target(*t, *v))?;
            }
            set(pw.set_target(slot.count, F::from_canonical_u64(child.count)))?;
            set(pw.set_bool_target(slot.active, active))?;
        }
        Ok(pw)
    }

    /// Proves from a filled witness and verifies the result: a proof that does not verify is
    /// never returned.
    pub fn prove_witness(
        &self,
        witness: PartialWitness<F>,
    ) -> Result<RecursionProof, RecursionError> {
        let proof = prove_guarded(LAYER, &self.data, witness)?;
        self.data
            .verify(proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        Ok(RecursionProof {
            layer: RecursionLayer::Leaf,
            proof,
        })
    }

    /// Verifies a leaf proof of this type and returns its statement.
    pub fn verify(&self, proof: &RecursionProof) -> Result<AggregateStatement, RecursionError> {
        if proof.layer != RecursionLayer::Leaf {
            return Err(RecursionError::verification(LAYER, "not a leaf proof"));
        }
        check_proof_shape(&proof.proof, &self.data.common)
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        self.data
            .verify(proof.proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        proof.statement()
    }

    /// Encodes the circuit (its shape, circuit data and targets) for the keystore.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecursionError> {
        const WHAT: &str = "leaf circuit";
        let mut out = Vec::new();
        codec::write_header(&mut out, b"LEAF");
        out.push(self.shape.circuit_id.0);
        codec::write_usize(&mut out, self.shape.closed_form_len);
        codec::write_usize(&mut out, self.shape.public_output_len);
        codec::write_usize(&mut out, self.shape.instance_capacity as usize);
        codec::write_usize(&mut out, self.arity);
        codec::write_blob(&mut out, &codec::common_to_bytes(&self.shape.common, WHAT)?);
        codec::write_blob(
            &mut out,
            &codec::verifier_only_to_bytes(&self.shape.verifier_only, WHAT)?,
        );
        codec::write_blob(&mut out, &codec::circuit_data_to_bytes(&self.data, WHAT)?);
        let targets = codec::targets_to_bytes(WHAT, |buf| {
            for slot in &self.slots {
                buf.write_target_proof_with_public_inputs(&slot.proof)?;
                buf.write_target_vec(&slot.input)?;
                buf.write_target_vec(&slot.output)?;
                buf.write_target(slot.count)?;
                buf.write_target_bool(slot.active)?;
            }
            Ok(())
        })?;
        codec::write_blob(&mut out, &targets);
        Ok(out)
    }

    /// Reads a circuit written by [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecursionError> {
        const WHAT: &str = "leaf circuit";
        let mut buffer = Buffer::new(bytes);
        codec::read_header(&mut buffer, b"LEAF", WHAT)?;
        let circuit_id = CircuitId(
            buffer
                .read_u8()
                .map_err(|e| RecursionError::serialization(WHAT, e))?,
        );
        let closed_form_len = codec::read_usize(&mut buffer, WHAT)?;
        let public_output_len = codec::read_usize(&mut buffer, WHAT)?;
        let instance_capacity = codec::read_usize(&mut buffer, WHAT)? as u64;
        let arity = codec::read_usize(&mut buffer, WHAT)?;
        let common = codec::common_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let verifier_only =
            codec::verifier_only_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let data = codec::circuit_data_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let target_bytes = codec::read_blob(&mut buffer, WHAT)?;
        codec::expect_end(&buffer, WHAT)?;
        let mut tb = Buffer::new(target_bytes);
        let mut slots = Vec::with_capacity(arity);
        for _ in 0..arity {
            let ser = |e| RecursionError::serialization(WHAT, e);
            slots.push(LeafSlot {
                proof: tb.read_target_proof_with_public_inputs().map_err(ser)?,
                input: tb.read_target_vec().map_err(ser)?,
                output: tb.read_target_vec().map_err(ser)?,
                count: tb.read_target().map_err(ser)?,
                active: tb.read_target_bool().map_err(ser)?,
            });
        }
        codec::expect_end(&tb, WHAT)?;
        let shape = BasicTypeShape {
            circuit_id,
            closed_form_len,
            public_output_len,
            instance_capacity,
            common,
            verifier_only,
        };
        shape.validate()?;
        Ok(Self {
            shape,
            arity,
            data,
            slots,
        })
    }
}
