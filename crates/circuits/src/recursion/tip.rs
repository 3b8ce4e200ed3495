//! Round 3: the recursion tip.
//!
//! One slot per basic type of a fixed list. A slot verifies the type's final node proof
//! against the node key (a constant here, since the node is built before the tip), checks the
//! node key the proof claims against the same constant (closing the node layer's induction,
//! see `node`), and opens the statement with the type's raw first input and last output. A type
//! absent from the batch is marked so: its slot re-verifies another slot's node proof (masked,
//! like unused leaf and node slots) and its outputs are forced to the documented absent value:
//! `count = 0` and `first input = last output` (the type leaves its closed form unchanged).
//!
//! Public inputs (8 field elements):
//! - 0..4: `types_commitment = hash_no_pad(for each type in list order: present, circuit id,
//!   first input (n), last output (n), count)` — see [`TipOutput::commitment`]; a scheduler
//!   receives the values as witness and recomputes it ([`tip_commitment_target`]).
//! - 4..8: `recursion_vk_digest = hash_no_pad(for each type: circuit id, leaf key digest(4);
//!   node key digest(4))`, the keys the tip accepted.

use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::{HashOut, HashOutTarget};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitData, CommonCircuitData};
use plonky2::plonk::config::Hasher;
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use plonky2::util::serialization::{Buffer, Read, Write};
use zkfleet_types::CircuitId;

use super::codec;
use super::error::prove_guarded;
use super::node::NodeCircuit;
use super::proof::{RecursionLayer, RecursionProof};
use super::shape::{check_proof_shape, closed_form_digest};
use super::statement::{claimed_node_key, StatementTargets};
use super::vk::{verifying_key_digest, verifying_key_fields};
use super::{recursion_config, RecursionError, C, D, F};

const LAYER: &str = "recursion tip";

/// Public inputs of a tip proof.
pub const TIP_PUBLIC_INPUTS: usize = 8;

/// One basic type the tip has a slot for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TipType {
    /// The basic type.
    pub circuit_id: CircuitId,
    /// Length of the type's carried closed form (input and output alike).
    pub closed_form_len: usize,
}

/// What the tip is given for one type.
#[derive(Debug, Clone)]
pub enum TipSlot {
    /// The type has instances in the batch: its final node proof and the closed forms at both
    /// ends of the type's run.
    Present {
        /// The node proof covering every instance of the type.
        final_node: Box<RecursionProof>,
        /// Closed-form input of the first instance.
        first_input: Vec<F>,
        /// Carried closed-form output of the last instance.
        last_output: Vec<F>,
    },
    /// The type has no instance in the batch; its closed form stays `closed_form` throughout.
    Absent {
        /// The type's closed form, input and output alike.
        closed_form: Vec<F>,
    },
}

/// The per-type outputs a tip proof commits to, for the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeOutput {
    /// Whether the batch has instances of the type.
    pub present: bool,
    /// The basic type.
    pub circuit_id: CircuitId,
    /// Closed-form input of the type's first instance (an absent type: its constant form).
    pub first_input: Vec<F>,
    /// Carried closed-form output of its last instance (an absent type: as `first_input`).
    pub last_output: Vec<F>,
    /// Real items over all instances (0 for an absent type).
    pub count: u64,
}

/// Everything a tip proof's public inputs stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipOutput {
    /// One output per basic type, in the tip's type order.
    pub types: Vec<TypeOutput>,
    /// Digest of every key the tip accepted proofs under (leaf keys and node key).
    pub recursion_vk_digest: HashOut<F>,
}

impl TipOutput {
    /// `types_commitment`, computed natively (layout in the module docs).
    pub fn commitment(&self) -> HashOut<F> {
        let mut preimage = Vec::new();
        for t in &self.types {
            preimage.push(F::from_bool(t.present));
            preimage.push(F::from_canonical_u8(t.circuit_id.0));
            preimage.extend_from_slice(&t.first_input);
            preimage.extend_from_slice(&t.last_output);
            preimage.push(F::from_canonical_u64(t.count));
        }
        PoseidonHash::hash_no_pad(&preimage)
    }

    /// The tip proof's public inputs for this output.
    pub fn public_inputs(&self) -> Vec<F> {
        let mut out = self.commitment().elements.to_vec();
        out.extend_from_slice(&self.recursion_vk_digest.elements);
        out
    }
}

/// The per-type values as targets, in the order the commitment hashes them.
#[derive(Debug, Clone)]
pub struct TypeOutputTargets {
    /// [`TypeOutput::present`].
    pub present: BoolTarget,
    /// [`TypeOutput::circuit_id`].
    pub circuit_id: Target,
    /// [`TypeOutput::first_input`].
    pub first_input: Vec<Target>,
    /// [`TypeOutput::last_output`].
    pub last_output: Vec<Target>,
    /// [`TypeOutput::count`].
    pub count: Target,
}

/// `types_commitment` in circuit, for a scheduler that receives the per-type values as witness.
pub fn tip_commitment_target(
    builder: &mut CircuitBuilder<F, D>,
    types: &[TypeOutputTargets],
) -> HashOutTarget {
    let mut preimage = Vec::new();
    for t in types {
        preimage.push(t.present.target);
        preimage.push(t.circuit_id);
        preimage.extend_from_slice(&t.first_input);
        preimage.extend_from_slice(&t.last_output);
        preimage.push(t.count);
    }
    builder.hash_n_to_hash_no_pad::<PoseidonHash>(preimage)
}

/// `recursion_vk_digest` for a node circuit (layout in the module docs).
pub fn recursion_vk_digest(node: &NodeCircuit) -> HashOut<F> {
    let mut preimage = Vec::new();
    for key in node.leaf_keys() {
        preimage.push(F::from_canonical_u8(key.circuit_id.0));
        preimage.extend_from_slice(&verifying_key_digest(&key.verifier_only).elements);
    }
    preimage.extend_from_slice(&verifying_key_digest(node.verifier_only()).elements);
    PoseidonHash::hash_no_pad(&preimage)
}

#[derive(Debug, Clone)]
struct TipSlotTargets {
    proof: ProofWithPublicInputsTarget<D>,
    present: BoolTarget,
    first_input: Vec<Target>,
    last_output: Vec<Target>,
    /// The count the commitment takes for this slot (`present ? proof's count : 0`).
    count: Target,
}

/// What one tip slot is proven over (see [`RecursionTipCircuit::witness_for`]).
#[derive(Debug, Clone)]
pub struct TipSlotWitness {
    /// A final node proof: the type's own, or for an absent type any present type's.
    pub proof: ProofWithPublicInputs<F, C, D>,
    /// Whether the slot's type has instances in the batch.
    pub present: bool,
    /// Closed-form input the slot claims for the type's first instance.
    pub first_input: Vec<F>,
    /// Carried closed-form output the slot claims for its last instance.
    pub last_output: Vec<F>,
    /// The count the output claims (the circuit commits to the proof's count, or 0 if absent).
    pub count: u64,
}

/// A tip proof with the outputs it commits to.
#[derive(Debug, Clone)]
pub struct TipProof {
    /// The proof; its public inputs are `output`'s commitment and key digest.
    pub proof: ProofWithPublicInputs<F, C, D>,
    /// What the proof commits to.
    pub output: TipOutput,
}

/// The recursion-tip circuit.
#[derive(Debug)]
pub struct RecursionTipCircuit {
    types: Vec<TipType>,
    recursion_vk_digest: HashOut<F>,
    node_common: CommonCircuitData<F, D>,
    data: CircuitData<F, C, D>,
    slots: Vec<TipSlotTargets>,
}

impl RecursionTipCircuit {
    /// Builds the tip for `types` (distinct circuit ids, in the order the scheduler expects)
    /// over `node`'s proofs.
    pub fn build(types: &[TipType], node: &NodeCircuit) -> Result<Self, RecursionError> {
        if types.is_empty() {
            return Err(RecursionError::InvalidGeometry(
                "the tip needs at least one type".into(),
            ));
        }
        for (i, t) in types.iter().enumerate() {
            if types[..i].iter().any(|u| u.circuit_id == t.circuit_id) {
                return Err(RecursionError::InvalidGeometry(format!(
                    "circuit id {} listed twice in the tip",
                    t.circuit_id
                )));
            }
            if t.closed_form_len == 0 {
                return Err(RecursionError::InvalidGeometry(format!(
                    "circuit id {} has an empty closed form",
                    t.circuit_id
                )));
            }
        }
        let node_common = node.common().clone();
        let vk_digest = recursion_vk_digest(node);
        let mut builder = CircuitBuilder::<F, D>::new(recursion_config());
        let node_key = builder.constant_verifier_data(node.verifier_only());
        let node_key_fields: Vec<Target> = verifying_key_fields(node.verifier_only())
            .into_iter()
            .map(|v| builder.constant(v))
            .collect();
        let zero = builder.zero();
        let mut slots = Vec::with_capacity(types.len());
        let mut outputs = Vec::with_capacity(types.len());
        for t in types {
            let proof = builder.add_virtual_proof_with_pis(&node_common);
            builder.verify_proof::<C>(&proof, &node_key, &node_common);
            // Close the node induction: the proof's claimed node key is the real one.
            for (claimed, real) in claimed_node_key(&proof.public_inputs)
                .iter()
                .zip(&node_key_fields)
            {
                builder.connect(*claimed, *real);
            }
            let present = builder.add_virtual_bool_target_safe();
            let first_input = builder.add_virtual_targets(t.closed_form_len);
            let last_output = builder.add_virtual_targets(t.closed_form_len);
            let stmt = StatementTargets::from_public_inputs(&proof.public_inputs);

            let id = builder.constant(F::from_canonical_u8(t.circuit_id.0));
            builder.conditional_assert_eq(present.target, stmt.circuit_id, id);
            let first_digest = builder.hash_n_to_hash_no_pad::<PoseidonHash>(first_input.clone());
            let last_digest = builder.hash_n_to_hash_no_pad::<PoseidonHash>(last_output.clone());
            for k in 0..4 {
                builder.conditional_assert_eq(
                    present.target,
                    first_digest.elements[k],
                    stmt.first_input_digest.elements[k],
                );
                builder.conditional_assert_eq(
                    present.target,
                    last_digest.elements[k],
                    stmt.last_output_digest.elements[k],
                );
            }
            // Absent: the closed form is unchanged and nothing was counted.
            let absent = builder.not(present);
            for (a, b) in first_input.iter().zip(&last_output) {
                builder.conditional_assert_eq(absent.target, *a, *b);
            }
            let count = builder.select(present, stmt.count, zero);
            outputs.push(TypeOutputTargets {
                present,
                circuit_id: id,
                first_input: first_input.clone(),
                last_output: last_output.clone(),
                count,
            });
            slots.push(TipSlotTargets {
                proof,
                present,
                first_input,
                last_output,
                count,
            });
        }
        let commitment = tip_commitment_target(&mut builder, &outputs);
        builder.register_public_inputs(&commitment.elements);
        let vk = builder.constant_hash(vk_digest);
        builder.register_public_inputs(&vk.elements);
        let data = builder.build::<C>();
        Ok(Self {
            types: types.to_vec(),
            recursion_vk_digest: vk_digest,
            node_common,
            data,
            slots,
        })
    }

    /// The basic types the tip has slots for, in slot order.
    pub fn types(&self) -> &[TipType] {
        &self.types
    }

    /// The tip's plonky2 circuit data.
    pub fn circuit_data(&self) -> &CircuitData<F, C, D> {
        &self.data
    }

    /// [`recursion_vk_digest`] of the node the tip was built over: what every tip proof
    /// exposes.
    pub fn recursion_vk_digest(&self) -> HashOut<F> {
        self.recursion_vk_digest
    }

    /// The target of the count that `types_commitment` takes for slot `index` (for the
    /// soundness tests, which force it).
    #[doc(hidden)]
    pub fn slot_count_target(&self, index: usize) -> Target {
        self.slots[index].count
    }

    /// Proves the tip after checking the slots natively against `node` (each present proof is
    /// a genuine final node proof of its type whose ends match the given closed forms).
    pub fn prove(&self, node: &NodeCircuit, slots: &[TipSlot]) -> Result<TipProof, RecursionError> {
        self.check_slots(node, slots)?;
        let (pw, output) = self.assign_witness(&self.witness_for(slots)?)?;
        self.prove_witness(pw, output)
    }

    /// The native counterpart of the tip's checks: one slot per type, each present proof a
    /// genuine final node proof of its type whose ends match the given closed forms.
    pub fn check_slots(&self, node: &NodeCircuit, slots: &[TipSlot]) -> Result<(), RecursionError> {
        self.check_count(slots.len())?;
        for (i, (slot, t)) in slots.iter().zip(&self.types).enumerate() {
            let err = |reason: String| RecursionError::InvalidTipSlot {
                index: i,
                circuit_id: t.circuit_id,
                reason,
            };
            match slot {
                TipSlot::Present {
                    final_node,
                    first_input,
                    last_output,
                } => {
                    let stmt = node.verify(final_node).map_err(|e| err(e.to_string()))?;
                    if stmt.circuit_id != t.circuit_id {
                        return Err(err(format!(
                            "final node proof of circuit id {}",
                            stmt.circuit_id
                        )));
                    }
                    if closed_form_digest(first_input) != stmt.first_input_digest {
                        return Err(err("first input does not match the node proof".into()));
                    }
                    if closed_form_digest(last_output) != stmt.last_output_digest {
                        return Err(err("last output does not match the node proof".into()));
                    }
                }
                TipSlot::Absent { .. } => {}
            }
        }
        Ok(())
    }

    fn check_count(&self, got: usize) -> Result<(), RecursionError> {
        if got != self.types.len() {
            return Err(RecursionError::InvalidGeometry(format!(
                "the tip has {} type slots, got {got}",
                self.types.len()
            )));
        }
        Ok(())
    }

    /// The honest per-slot witness: present slots open their final node proof; absent slots
    /// re-verify some present type's final node proof (masked) and keep their closed form.
    pub fn witness_for(&self, slots: &[TipSlot]) -> Result<Vec<TipSlotWitness>, RecursionError> {
        self.check_count(slots.len())?;
        let filler = slots
            .iter()
            .find_map(|s| match s {
                TipSlot::Present { final_node, .. } => Some(&final_node.proof),
                TipSlot::Absent { .. } => None,
            })
            .ok_or_else(|| {
                RecursionError::InvalidGeometry("no basic type is present in the batch".into())
            })?;
        slots
            .iter()
            .zip(&self.types)
            .enumerate()
            .map(|(i, (slot, t))| match slot {
                TipSlot::Present {
                    final_node,
                    first_input,
                    last_output,
                } => {
                    let err = |reason: String| RecursionError::InvalidTipSlot {
                        index: i,
                        circuit_id: t.circuit_id,
                        reason,
                    };
                    if final_node.layer != RecursionLayer::Node {
                        return Err(err("present types take their final node proof".into()));
                    }
                    let stmt = final_node.statement().map_err(|e| err(e.to_string()))?;
                    Ok(TipSlotWitness {
                        proof: final_node.proof.clone(),
                        present: true,
                        first_input: first_input.clone(),
                        last_output: last_output.clone(),
                        count: stmt.count,
                    })
                }
                TipSlot::Absent { closed_form } => Ok(TipSlotWitness {
                    proof: filler.clone(),
                    present: false,
                    first_input: closed_form.clone(),
                    last_output: closed_form.clone(),
                    count: 0,
                }),
            })
            .collect()
    }

    /// Fills the witness with structural checks only, and returns the output the proof
    /// commits to if the circuit accepts the witness (each slot's `count` is taken as claimed).
    pub fn assign_witness(
        &self,
        slots: &[TipSlotWitness],
    ) -> Result<(PartialWitness<F>, TipOutput), RecursionError> {
        self.check_count(slots.len())?;
        let mut pw = PartialWitness::new();
        let set = |r: anyhow::Result<()>| r.map_err(|e| RecursionError::proving(LAYER, e));
        let mut types = Vec::with_capacity(slots.len());
        for (i, ((slot, targets), t)) in slots.iter().zip(&self.slots).zip(&self.types).enumerate()
        {
            let err = |reason: String| RecursionError::InvalidTipSlot {
                index: i,
                circuit_id: t.circuit_id,
                reason,
            };
            check_proof_shape(&slot.proof, &self.node_common).map_err(&err)?;
            if slot.first_input.len() != t.closed_form_len
                || slot.last_output.len() != t.closed_form_len
            {
                return Err(err(format!(
                    "closed form of {}/{} elements, the type has {}",
                    slot.first_input.len(),
                    slot.last_output.len(),
                    t.closed_form_len
                )));
            }
            set(pw.set_proof_with_pis_target(&targets.proof, &slot.proof))?;
            set(pw.set_bool_target(targets.present, slot.present))?;
            for (tg, v) in targets.first_input.iter().zip(&slot.first_input) {
                set(pw.set_target(*tg, *v))?;
            }
            for (tg, v) in targets.last_output.iter().zip(&slot.last_output) {
                set(pw.set_target(*tg, *v))?;
            }
            types.push(TypeOutput {
                present: slot.present,
                circuit_id: t.circuit_id,
                first_input: slot.first_input.clone(),
                last_output: slot.last_output.clone(),
                count: slot.count,
            });
        }
        Ok((
            pw,
            TipOutput {
                types,
                recursion_vk_digest: self.recursion_vk_digest,
            },
        ))
    }

    /// Proves from a witness; the proof is verified and its public inputs compared with
    /// `output` before it is returned.
    pub fn prove_witness(
        &self,
        witness: PartialWitness<F>,
        output: TipOutput,
    ) -> Result<TipProof, RecursionError> {
        let proof = prove_guarded(LAYER, &self.data, witness)?;
        let tip = TipProof { proof, output };
        self.verify(&tip)?;
        Ok(tip)
    }

    /// Verifies a tip proof and that its public inputs are those of `tip.output`.
    pub fn verify(&self, tip: &TipProof) -> Result<(), RecursionError> {
        self.data
            .verify(tip.proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        if tip.proof.public_inputs != tip.output.public_inputs() {
            return Err(RecursionError::verification(
                LAYER,
                "public inputs do not commit to the claimed per-type outputs",
            ));
        }
        Ok(())
    }

    /// Encodes the circuit (type list, node common data, circuit data, targets).
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecursionError> {
        const WHAT: &str = "recursion tip circuit";
        let mut out = Vec::new();
        codec::write_header(&mut out, b"TIP_");
        codec::write_usize(&mut out, self.types.len());
        for t in &self.types {
            out.push(t.circuit_id.0);
            codec::write_usize(&mut out, t.closed_form_len);
        }
        for e in self.recursion_vk_digest.elements {
            out.extend_from_slice(&e.to_canonical_u64().to_le_bytes());
        }
        codec::write_blob(&mut out, &codec::common_to_bytes(&self.node_common, WHAT)?);
        codec::write_blob(&mut out, &codec::circuit_data_to_bytes(&self.data, WHAT)?);
        let targets = codec::targets_to_bytes(WHAT, |buf| {
            for slot in &self.slots {
                buf.write_target_proof_with_public_inputs(&slot.proof)?;
                buf.write_target_bool(slot.present)?;
                buf.write_target_vec(&slot.first_input)?;
                buf.write_target_vec(&slot.last_output)?;
                buf.write_target(slot.count)?;
            }
            Ok(())
        })?;
        codec::write_blob(&mut out, &targets);
        Ok(out)
    }

    /// Reads a circuit written by [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecursionError> {
        const WHAT: &str = "recursion tip circuit";
        let ser = |e| RecursionError::serialization(WHAT, e);
        let mut buffer = Buffer::new(bytes);
        codec::read_header(&mut buffer, b"TIP_", WHAT)?;
        let num_types = codec::read_usize(&mut buffer, WHAT)?;
        let mut types = Vec::with_capacity(num_types.min(256));
        for _ in 0..num_types {
            let circuit_id = CircuitId(buffer.read_u8().map_err(ser)?);
            let closed_form_len = codec::read_usize(&mut buffer, WHAT)?;
            types.push(TipType {
                circuit_id,
                closed_form_len,
            });
        }
        let mut elements = [F::ZERO; 4];
        for e in &mut elements {
            let mut b = [0u8; 8];
            buffer.read_exact(&mut b).map_err(ser)?;
            let v = u64::from_le_bytes(b);
            *e = crate::field_element(v).map_err(|_| RecursionError::Serialization {
                what: WHAT,
                reason: format!("key digest element {v} is not a field element"),
            })?;
        }
        let node_common = codec::common_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let data = codec::circuit_data_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let target_bytes = codec::read_blob(&mut buffer, WHAT)?;
        codec::expect_end(&buffer, WHAT)?;
        let mut tb = Buffer::new(target_bytes);
        let mut slots = Vec::with_capacity(num_types);
        for _ in 0..num_types {
            slots.push(TipSlotTargets {
                proof: tb.read_target_proof_with_public_inputs().map_err(ser)?,
                present: tb.read_target_bool().map_err(ser)?,
                first_input: tb.read_target_vec().map_err(ser)?,
                last_output: tb.read_target_vec().map_err(ser)?,
                count: tb.read_target().map_err(ser)?,
            });
        }
        codec::expect_end(&tb, WHAT)?;
        Ok(Self {
            types,
            recursion_vk_digest: HashOut { elements },
            node_common,
            data,
            slots,
        })
    }
}
