//! Round 2: the node circuit, one for every basic type and every depth.
//!
//! A node verifies up to A children that are leaf proofs (of any type) or node proofs. All of
//! them share one common circuit data (see `padding`), so one circuit verifies them all, with
//! the child's verifying key as a witness that must belong to a set committed in the circuit:
//!
//! - the leaf keys of every basic type (constants), and
//! - the node's own key. It cannot be a constant of the node (it depends on the node), so the
//!   node exposes the key it claims as its last 68 public inputs (plonky2's cyclic-recursion
//!   layout) and checks children against that claim. A child verified under the claimed node
//!   key must itself claim the same node key.
//!
//! Whoever consumes a node proof checks that the claimed key is the real node key (the tip
//! does it in circuit; [`NodeCircuit::verify`] natively). By induction over the tree every proof
//! below was then verified under a genuine leaf key or under the genuine node key; a proof under
//! any other key (a foreign circuit of the same shape) is rejected. See docs/proofs.md.
//!
//! The node also checks that active children are of one circuit type, continue each other
//! (last output digest = next first input digest), and that every child followed by another is
//! full. Unused slots repeat the first child and are masked, as in the leaf.

use plonky2::hash::hash_types::HashOut;
use plonky2::iop::target::BoolTarget;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{
    CircuitData, CommonCircuitData, VerifierCircuitTarget, VerifierOnlyCircuitData,
};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use plonky2::recursion::cyclic_recursion::check_cyclic_proof_verifier_data;
use plonky2::util::serialization::{Buffer, Read, Write};
use zkfleet_types::CircuitId;

use super::codec;
use super::error::prove_guarded;
use super::padding::ShapePadding;
use super::proof::{RecursionLayer, RecursionProof};
use super::shape::{check_proof_shape, verify_under};
use super::statement::{
    claimed_node_key, AggregateStatement, StatementTargets, RECURSION_CAP_HEIGHT,
};
use super::vk::{
    digests_equal, verifying_key_digest, verifying_key_digest_target, verifying_key_targets,
};
use super::{recursion_config, RecursionError, C, D, F};

const LAYER: &str = "node";

#[derive(Debug, Clone)]
pub(crate) struct NodeSlot {
    proof: ProofWithPublicInputsTarget<D>,
    key: VerifierCircuitTarget,
    active: BoolTarget,
}

#[derive(Debug, Clone)]
pub(crate) struct NodeTargets {
    own_key: VerifierCircuitTarget,
    slots: Vec<NodeSlot>,
}

/// The leaf verifying key of one basic type, as the node's key set holds it.
#[derive(Debug, Clone)]
pub struct LeafKey {
    /// The basic type the leaf verifies.
    pub circuit_id: CircuitId,
    /// The leaf's verifying key.
    pub verifier_only: VerifierOnlyCircuitData<C, D>,
}

/// What a node proves over: each child with the key it is verified under, and the node key
/// the node claims. [`NodeCircuit::witness_for`] makes the honest one; tests make others.
#[derive(Debug, Clone)]
pub struct NodeWitness {
    /// The child proofs (leaf or node), each with the key it is verified under.
    pub children: Vec<(
        ProofWithPublicInputs<F, C, D>,
        VerifierOnlyCircuitData<C, D>,
    )>,
    /// The node's own verifying key as the node claims it (children that are node proofs
    /// are verified under it; the tip checks it is the real one).
    pub claimed_node_key: VerifierOnlyCircuitData<C, D>,
}

/// The node circuit.
#[derive(Debug)]
pub struct NodeCircuit {
    arity: usize,
    leaf_keys: Vec<LeafKey>,
    data: CircuitData<F, C, D>,
    targets: NodeTargets,
}

/// Builds the node logic into a fresh builder. `leaf_key_digests` are the digests of the leaf
/// keys (placeholders during the shape fixpoint, real ones for the final build).
pub(crate) fn node_builder(
    shape: &CommonCircuitData<F, D>,
    leaf_key_digests: &[HashOut<F>],
    arity: usize,
    padding: &ShapePadding,
) -> (CircuitBuilder<F, D>, NodeTargets) {
    let mut builder = CircuitBuilder::<F, D>::new(recursion_config());

    // Public inputs first: the statement (filled below), then the claimed node key, which
    // plonky2 requires to be the last public inputs.
    let out = StatementTargets {
        circuit_id: builder.add_virtual_target(),
        first_input_digest: builder.add_virtual_hash(),
        last_output_digest: builder.add_virtual_hash(),
        count: builder.add_virtual_target(),
        full: builder.add_virtual_bool_target_unsafe(),
    };
    out.register(&mut builder);
    let own_key = builder.add_verifier_data_public_inputs();
    let own_key_fields = verifying_key_targets(&own_key);
    let own_digest = verifying_key_digest_target(&mut builder, &own_key);
    let leaf_digests: Vec<_> = leaf_key_digests
        .iter()
        .map(|d| builder.constant_hash(*d))
        .collect();

    let one = builder.one();
    let zero = builder.zero();
    let mut slots: Vec<NodeSlot> = Vec::with_capacity(arity);
    let mut statements: Vec<StatementTargets> = Vec::with_capacity(arity);
    for i in 0..arity {
        let proof = builder.add_virtual_proof_with_pis(shape);
        let key = builder.add_virtual_verifier_data(RECURSION_CAP_HEIGHT);
        builder.verify_proof::<C>(&proof, &key, shape);
        let active = builder.add_virtual_bool_target_safe();

        // Key membership: the child's key is a leaf key or the claimed node key.
        let digest = verifying_key_digest_target(&mut builder, &key);
        let is_node = digests_equal(&mut builder, digest, own_digest);
        let mut none_matches = builder.not(is_node).target;
        for leaf in &leaf_digests {
            let is_leaf = digests_equal(&mut builder, digest, *leaf);
            let not_leaf = builder.not(is_leaf);
            none_matches = builder.mul(none_matches, not_leaf.target);
        }
        builder.connect(none_matches, zero);
        // A node child claims the same node key as this node.
        for (claimed, own) in claimed_node_key(&proof.public_inputs)
            .iter()
            .zip(&own_key_fields)
        {
            builder.conditional_assert_eq(is_node.target, *claimed, *own);
        }

        let stmt = StatementTargets::from_public_inputs(&proof.public_inputs);
        if i == 0 {
            builder.connect(active.target, one);
        } else {
            let prev_active = slots[i - 1].active;
            let prev = statements[i - 1];
            let both = builder.mul(active.target, prev_active.target);
            builder.connect(both, active.target);
            // One circuit type per node.
            builder.conditional_assert_eq(active.target, stmt.circuit_id, statements[0].circuit_id);
            // Continuity of the runs.
            for (a, b) in prev
                .last_output_digest
                .elements
                .iter()
                .zip(stmt.first_input_digest.elements)
            {
                builder.conditional_assert_eq(active.target, *a, b);
            }
            // Only the last run may be partial.
            builder.conditional_assert_eq(active.target, prev.full.target, one);
        }
        slots.push(NodeSlot { proof, key, active });
        statements.push(stmt);
    }

    let first = statements[0];
    builder.connect(out.circuit_id, first.circuit_id);
    builder.connect_hashes(out.first_input_digest, first.first_input_digest);
    let mut last = first.last_output_digest;
    let mut total = first.count;
    for (slot, stmt) in slots.iter().zip(&statements).skip(1) {
        for k in 0..4 {
            last.elements[k] = builder.select(
                slot.active,
                stmt.last_output_digest.elements[k],
                last.elements[k],
            );
        }
        total = builder.mul_add(slot.active.target, stmt.count, total);
    }
    builder.connect_hashes(out.last_output_digest, last);
    builder.connect(out.count, total);
    let last_slot = &slots[arity - 1];
    let full = builder.and(last_slot.active, statements[arity - 1].full);
    builder.connect(out.full.target, full.target);

    padding.apply(&mut builder);
    (builder, NodeTargets { own_key, slots })
}

impl NodeCircuit {
    pub(crate) fn build(
        shape: &CommonCircuitData<F, D>,
        leaf_keys: Vec<LeafKey>,
        arity: usize,
        padding: &ShapePadding,
    ) -> Self {
        let digests: Vec<_> = leaf_keys
            .iter()
            .map(|k| verifying_key_digest(&k.verifier_only))
            .collect();
        let (builder, targets) = node_builder(shape, &digests, arity, padding);
        let data = builder.build::<C>();
        Self {
            arity,
            leaf_keys,
            data,
            targets,
        }
    }

    /// Children one node verifies at most.
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// The node's plonky2 circuit data.
    pub fn circuit_data(&self) -> &CircuitData<F, C, D> {
        &self.data
    }

    /// The node's common data: the same as every leaf's (see `padding`).
    pub fn common(&self) -> &CommonCircuitData<F, D> {
        &self.data.common
    }

    /// The node's verifying key.
    pub fn verifier_only(&self) -> &VerifierOnlyCircuitData<C, D> {
        &self.data.verifier_only
    }

    /// The leaf keys the node accepts leaf children under, one per basic type.
    pub fn leaf_keys(&self) -> &[LeafKey] {
        &self.leaf_keys
    }

    /// The key a child of `layer` and `circuit_id` is verified under.
    pub fn key_for(
        &self,
        layer: RecursionLayer,
        circuit_id: CircuitId,
    ) -> Result<&VerifierOnlyCircuitData<C, D>, RecursionError> {
        match layer {
            RecursionLayer::Node => Ok(&self.data.verifier_only),
            RecursionLayer::Leaf => self
                .leaf_keys
                .iter()
                .find(|k| k.circuit_id == circuit_id)
                .map(|k| &k.verifier_only)
                .ok_or(RecursionError::UnknownCircuitType(circuit_id)),
        }
    }

    /// Proves a node over `children` (1..=A leaf or node proofs of one type, in sequence
    /// order) after checking them natively.
    pub fn prove(&self, children: &[RecursionProof]) -> Result<RecursionProof, RecursionError> {
        self.check_children(children)?;
        let witness = self.witness_for(children)?;
        self.prove_witness(&witness)
    }

    /// The native counterpart of the node's checks (each child verified, one type, continuity,
    /// fullness of all but the last).
    pub fn check_children(&self, children: &[RecursionProof]) -> Result<(), RecursionError> {
        self.check_count(children.len())?;
        let mut statements = Vec::with_capacity(children.len());
        for (i, child) in children.iter().enumerate() {
            let err = |reason: String| RecursionError::child(LAYER, i, reason);
            let stmt = child.statement().map_err(|e| err(e.to_string()))?;
            let key = self.key_for(child.layer, stmt.circuit_id)?;
            check_proof_shape(&child.proof, &self.data.common).map_err(&err)?;
            verify_under(&child.proof, key, &self.data.common).map_err(|e| {
                err(format!(
                    "{} proof does not verify: {e:#}",
                    child.layer.name()
                ))
            })?;
            if child.layer == RecursionLayer::Node {
                check_cyclic_proof_verifier_data(
                    &child.proof,
                    &self.data.verifier_only,
                    &self.data.common,
                )
                .map_err(|_| err("node proof claims a foreign node key".into()))?;
            }
            if let Some(prev) = statements.last() {
                let prev: &AggregateStatement = prev;
                if stmt.circuit_id != statements[0].circuit_id {
                    return Err(err(format!(
                        "circuit id {} in a node of circuit id {}",
                        stmt.circuit_id, statements[0].circuit_id
                    )));
                }
                if prev.last_output_digest != stmt.first_input_digest {
                    return Err(err(format!(
                        "does not continue child {} (children out of order, dropped or \
                         duplicated?)",
                        i - 1
                    )));
                }
                if !prev.full {
                    return Err(RecursionError::child(
                        LAYER,
                        i - 1,
                        "partial run followed by another child",
                    ));
                }
            }
            statements.push(stmt);
        }
        Ok(())
    }

    fn check_count(&self, got: usize) -> Result<(), RecursionError> {
        if got == 0 || got > self.arity {
            return Err(RecursionError::ChildCount {
                layer: LAYER,
                arity: self.arity,
                got,
            });
        }
        Ok(())
    }

    /// The honest witness: each child with the key of its layer and type, and the real node key.
    pub fn witness_for(&self, children: &[RecursionProof]) -> Result<NodeWitness, RecursionError> {
        let mut out = Vec::with_capacity(children.len());
        for (i, child) in children.iter().enumerate() {
            let stmt = child
                .statement()
                .map_err(|e| RecursionError::child(LAYER, i, e.to_string()))?;
            out.push((
                child.proof.clone(),
                self.key_for(child.layer, stmt.circuit_id)?.clone(),
            ));
        }
        Ok(NodeWitness {
            children: out,
            claimed_node_key: self.data.verifier_only.clone(),
        })
    }

    /// Fills the witness with structural checks only (count and proof shapes).
    pub fn assign_witness(
        &self,
        witness: &NodeWitness,
    ) -> Result<PartialWitness<F>, RecursionError> {
        self.check_count(witness.children.len())?;
        for (i, (proof, _)) in witness.children.iter().enumerate() {
            check_proof_shape(proof, &self.data.common)
                .map_err(|e| RecursionError::child(LAYER, i, e))?;
        }
        let mut pw = PartialWitness::new();
        let set = |r: anyhow::Result<()>| r.map_err(|e| RecursionError::proving(LAYER, e));
        set(pw.set_verifier_data_target(&self.targets.own_key, &witness.claimed_node_key))?;
        for (i, slot) in self.targets.slots.iter().enumerate() {
            let ((proof, key), active) = match witness.children.get(i) {
                Some(child) => (child, true),
                None => (&witness.children[0], false),
            };
            set(pw.set_proof_with_pis_target(&slot.proof, proof))?;
            set(pw.set_verifier_data_target(&slot.key, key))?;
            set(pw.set_bool_target(slot.active, active))?;
        }
        Ok(pw)
    }

    /// Proves from a witness and checks the result as a plonky2 proof (not the claimed key:
    /// a dishonest witness may claim a foreign one, which [`Self::verify`] rejects).
    pub fn prove_witness(&self, witness: &NodeWitness) -> Result<RecursionProof, RecursionError> {
        let pw = self.assign_witness(witness)?;
        let proof = prove_guarded(LAYER, &self.data, pw)?;
        self.data
            .verify(proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        Ok(RecursionProof {
            layer: RecursionLayer::Node,
            proof,
        })
    }

    /// Verifies a node proof: the plonky2 proof, and that the node key it claims is this
    /// circuit's key (without the latter a proof tree could hide a foreign circuit).
    pub fn verify(&self, proof: &RecursionProof) -> Result<AggregateStatement, RecursionError> {
        if proof.layer != RecursionLayer::Node {
            return Err(RecursionError::verification(LAYER, "not a node proof"));
        }
        check_proof_shape(&proof.proof, &self.data.common)
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        self.data
            .verify(proof.proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        check_cyclic_proof_verifier_data(&proof.proof, &self.data.verifier_only, &self.data.common)
            .map_err(|_| RecursionError::verification(LAYER, "claims a foreign node key"))?;
        proof.statement()
    }

    /// Encodes the circuit (leaf key set, circuit data, targets) for the keystore.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecursionError> {
        const WHAT: &str = "node circuit";
        let mut out = Vec::new();
        codec::write_header(&mut out, b"NODE");
        codec::write_usize(&mut out, self.arity);
        codec::write_usize(&mut out, self.leaf_keys.len());
        for key in &self.leaf_keys {
            out.push(key.circuit_id.0);
            codec::write_blob(
                &mut out,
                &codec::verifier_only_to_bytes(&key.verifier_only, WHAT)?,
            );
        }
        codec::write_blob(&mut out, &codec::circuit_data_to_bytes(&self.data, WHAT)?);
        let targets = codec::targets_to_bytes(WHAT, |buf| {
            buf.write_target_verifier_circuit(&self.targets.own_key)?;
            for slot in &self.targets.slots {
                buf.write_target_proof_with_public_inputs(&slot.proof)?;
                buf.write_target_verifier_circuit(&slot.key)?;
                buf.write_target_bool(slot.active)?;
            }
            Ok(())
        })?;
        codec::write_blob(&mut out, &targets);
        Ok(out)
    }

    /// Reads a circuit written by [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecursionError> {
        const WHAT: &str = "node circuit";
        let ser = |e| RecursionError::serialization(WHAT, e);
        let mut buffer = Buffer::new(bytes);
        codec::read_header(&mut buffer, b"NODE", WHAT)?;
        let arity = codec::read_usize(&mut buffer, WHAT)?;
        let num_keys = codec::read_usize(&mut buffer, WHAT)?;
        let mut leaf_keys = Vec::with_capacity(num_keys.min(256));
        for _ in 0..num_keys {
            let circuit_id = CircuitId(buffer.read_u8().map_err(ser)?);
            let verifier_only =
                codec::verifier_only_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
            leaf_keys.push(LeafKey {
                circuit_id,
                verifier_only,
            });
        }
        let data = codec::circuit_data_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let target_bytes = codec::read_blob(&mut buffer, WHAT)?;
        codec::expect_end(&buffer, WHAT)?;
        let mut tb = Buffer::new(target_bytes);
        let own_key = tb.read_target_verifier_circuit().map_err(ser)?;
        let mut slots = Vec::with_capacity(arity);
        for _ in 0..arity {
            slots.push(NodeSlot {
                proof: tb.read_target_proof_with_public_inputs().map_err(ser)?,
                key: tb.read_target_verifier_circuit().map_err(ser)?,
                active: tb.read_target_bool().map_err(ser)?,
            });
        }
        codec::expect_end(&tb, WHAT)?;
        Ok(Self {
            arity,
            leaf_keys,
            data,
            targets: NodeTargets { own_key, slots },
        })
    }
}
