//! Building the leaf, node and tip circuits of one recursion geometry together.

use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::circuit_data::CommonCircuitData;
use plonky2::plonk::config::Hasher;
use plonky2::util::serialization::Buffer;
use rayon::prelude::*;
use zkfleet_types::{CircuitId, VkDigest};

use super::codec;
use super::leaf::{leaf_builder, LeafCircuit};
use super::node::{node_builder, LeafKey, NodeCircuit};
use super::padding::ShapePadding;
use super::shape::BasicTypeShape;
use super::statement::{RECURSION_CAP_HEIGHT, RECURSION_PUBLIC_INPUTS};
use super::tip::{RecursionTipCircuit, TipType};
use super::vk::to_vk_digest;
use super::{recursion_config, RecursionError, C, D, F};

/// Most shape-fixpoint rounds before giving up (two or three suffice in practice).
const MAX_SHAPE_ROUNDS: usize = 6;

/// Largest arity accepted: a node of arity 16 is a 2^16-row circuit already.
pub const MAX_ARITY: usize = 16;

/// Checks an arity (proofs one leaf or node aggregates) against what the recursion circuits
/// are built for: 2..=[`MAX_ARITY`]. Every component's configuration checks it with this, before
/// it loads circuits, so all of them refuse the same values with the same message.
pub fn check_arity(arity: u32) -> Result<(), crate::CircuitError> {
    if (2..=MAX_ARITY).contains(&(arity as usize)) {
        Ok(())
    } else {
        Err(crate::CircuitError::InvalidArity(arity))
    }
}

/// Leaf circuits of every basic type, the node circuit and the recursion tip of one geometry.
#[derive(Debug)]
pub struct RecursionCircuits {
    leaves: Vec<LeafCircuit>,
    node: NodeCircuit,
    tip: RecursionTipCircuit,
}

/// Finds the gate set and degree every leaf and the node share, by mock builds (no
/// commitments) until all of them produce one common circuit data.
pub(crate) fn converge_shape(
    shapes: &[BasicTypeShape],
    arity: usize,
) -> Result<(ShapePadding, CommonCircuitData<F, D>), RecursionError> {
    // The node's key set holds leaf-key digests; their values do not change the shape but
    // their number of distinct constants does, so stand-ins must be distinct random-looking
    // values like real digests.
    let stand_ins: Vec<HashOut<F>> = (0..shapes.len())
        .map(|i| PoseidonHash::hash_no_pad(&[F::from_canonical_usize(0x5EED_0000 + i)]))
        .collect();
    let mut padding = ShapePadding::default();
    for _ in 0..MAX_SHAPE_ROUNDS {
        let mut commons: Vec<CommonCircuitData<F, D>> = shapes
            .iter()
            .map(|s| leaf_builder(s, arity, &padding).0.mock_build::<C>().common)
            .collect();
        let candidate = commons[0].clone();
        let (node, _) = node_builder(&candidate, &stand_ins, arity, &padding);
        commons.push(node.mock_build::<C>().common);
        if commons.iter().all(|c| *c == candidate) {
            return Ok((padding, candidate));
        }
        for c in &commons {
            padding.absorb(c);
        }
    }
    Err(RecursionError::ShapeMismatch(format!(
        "no common shape after {MAX_SHAPE_ROUNDS} rounds (degree 2^{})",
        padding.degree_bits()
    )))
}

impl RecursionCircuits {
    /// Builds everything for `shapes` (the basic types, in the order the tip lists them) at
    /// leaf/node arity `arity`.
    pub fn build(shapes: &[BasicTypeShape], arity: usize) -> Result<Self, RecursionError> {
        if !(1..=MAX_ARITY).contains(&arity) {
            return Err(RecursionError::InvalidGeometry(format!(
                "arity must be in 1..={MAX_ARITY}, got {arity}"
            )));
        }
        if shapes.is_empty() {
            return Err(RecursionError::InvalidGeometry("no basic type".into()));
        }
        if recursion_config().fri_config.cap_height != RECURSION_CAP_HEIGHT {
            return Err(RecursionError::InvalidGeometry(
                "recursion config cap height differs from the public-input layout".into(),
            ));
        }
        for (i, s) in shapes.iter().enumerate() {
            s.validate()?;
            if shapes[..i].iter().any(|t| t.circuit_id == s.circuit_id) {
                return Err(RecursionError::InvalidGeometry(format!(
                    "circuit id {} listed twice",
                    s.circuit_id
                )));
            }
        }
        let (padding, shape) = converge_shape(shapes, arity)?;
        let leaves: Vec<LeafCircuit> = shapes
            .iter()
            .map(|s| LeafCircuit::build(s, arity, &padding))
            .collect();
        for leaf in &leaves {
            if *leaf.common() != shape {
                return Err(RecursionError::ShapeMismatch(format!(
                    "leaf of circuit id {} differs from the converged shape",
                    leaf.circuit_id()
                )));
            }
        }
        let leaf_keys = leaves
            .iter()
            .map(|l| LeafKey {
                circuit_id: l.circuit_id(),
                verifier_only: l.circuit_data().verifier_only.clone(),
            })
            .collect();
        let node = NodeCircuit::build(&shape, leaf_keys, arity, &padding);
        if *node.common() != shape {
            return Err(RecursionError::ShapeMismatch(
                "node differs from the converged shape".into(),
            ));
        }
        debug_assert_eq!(shape.num_public_inputs, RECURSION_PUBLIC_INPUTS);
        let types: Vec<TipType> = shapes
            .iter()
            .map(|s| TipType {
                circuit_id: s.circuit_id,
                closed_form_len: s.closed_form_len,
            })
            .collect();
        let tip = RecursionTipCircuit::build(&types, &node)?;
        Ok(Self { leaves, node, tip })
    }

    /// The leaf circuits, one per basic type.
    pub fn leaves(&self) -> &[LeafCircuit] {
        &self.leaves
    }

    /// The leaf circuit of basic type `circuit_id`.
    pub fn leaf(&self, circuit_id: CircuitId) -> Result<&LeafCircuit, RecursionError> {
        self.leaves
            .iter()
            .find(|l| l.circuit_id() == circuit_id)
            .ok_or(RecursionError::UnknownCircuitType(circuit_id))
    }

    /// The node circuit (every depth).
    pub fn node(&self) -> &NodeCircuit {
        &self.node
    }

    /// The recursion-tip circuit.
    pub fn tip(&self) -> &RecursionTipCircuit {
        &self.tip
    }

    /// Children one leaf or node verifies at most.
    pub fn arity(&self) -> usize {
        self.node.arity()
    }

    /// Digest of every key the tip accepts (leaf keys of all types and the node key), as the
    /// tip exposes it.
    pub fn recursion_vk_digest(&self) -> VkDigest {
        to_vk_digest(self.tip.recursion_vk_digest())
    }

    /// Encodes every circuit of the geometry.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecursionError> {
        let mut out = Vec::new();
        codec::write_header(&mut out, b"RECS");
        codec::write_usize(&mut out, self.leaves.len());
        for leaf in &self.leaves {
            codec::write_blob(&mut out, &leaf.to_bytes()?);
        }
        codec::write_blob(&mut out, &self.node.to_bytes()?);
        codec::write_blob(&mut out, &self.tip.to_bytes()?);
        Ok(out)
    }

    /// Reads circuits written by [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecursionError> {
        const WHAT: &str = "recursion circuits";
        let mut buffer = Buffer::new(bytes);
        codec::read_header(&mut buffer, b"RECS", WHAT)?;
        let n = codec::read_usize(&mut buffer, WHAT)?;
        let mut leaf_blobs = Vec::with_capacity(n.min(256));
        for _ in 0..n {
            leaf_blobs.push(codec::read_blob(&mut buffer, WHAT)?);
        }
        let node_blob = codec::read_blob(&mut buffer, WHAT)?;
        let tip_blob = codec::read_blob(&mut buffer, WHAT)?;
        codec::expect_end(&buffer, WHAT)?;
        // Each circuit's prover data deserialises on one thread: all of them at once.
        let ((leaves, node), tip) = rayon::join(
            || {
                rayon::join(
                    || {
                        leaf_blobs
                            .par_iter()
                            .map(|blob| LeafCircuit::from_bytes(blob))
                            .collect::<Result<Vec<_>, _>>()
                    },
                    || NodeCircuit::from_bytes(node_blob),
                )
            },
            || RecursionTipCircuit::from_bytes(tip_blob),
        );
        let (leaves, node, tip) = (leaves?, node?, tip?);
        // The parts must belong together: the node's key set holds exactly these leaves' keys
        // and the tip accepts exactly this node.
        let inconsistent = |reason: &str| RecursionError::Serialization {
            what: WHAT,
            reason: reason.to_owned(),
        };
        if node.leaf_keys().len() != leaves.len() {
            return Err(inconsistent("node key set and leaves differ in number"));
        }
        for leaf in &leaves {
            let key = node.key_for(super::proof::RecursionLayer::Leaf, leaf.circuit_id())?;
            if *key != leaf.circuit_data().verifier_only || *leaf.common() != *node.common() {
                return Err(inconsistent(
                    "a leaf does not match the node's key set or shape",
                ));
            }
        }
        if tip.recursion_vk_digest() != super::tip::recursion_vk_digest(&node) {
            return Err(inconsistent("the tip was built for another node"));
        }
        Ok(Self { leaves, node, tip })
    }
}
