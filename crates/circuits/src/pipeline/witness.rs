//! The circuit witness of an aggregation-round prover job, as the witness generator stores it
//! under `ObjectKey::CircuitWitness` and a witness-vector generator reads it.
//!
//! A job's witness is self-contained: the child proofs it aggregates, in order, with the
//! closed forms the layer opens. No circuit data is needed to write one (the witness generator
//! stays light); everything is checked when the prover's witness-vector generator decodes it
//! against its circuit data (`BatchCircuits::witness_vector`), which names the child at fault.
//!
//! Encoding: `"ZKAW"`, a `u16` LE format version, then postcard of [`AggregationWitness`].

use serde::{Deserialize, Serialize};
use zkfleet_types::{AggregationRound, CircuitId};

use super::PipelineError;

const MAGIC: &[u8; 4] = b"ZKAW";
/// Version of the aggregation witness encoding; bump with any change to the types below.
pub const AGGREGATION_WITNESS_VERSION: u16 = 1;

/// The witness of one leaf, node, recursion-tip or scheduler prover job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggregationWitness {
    /// A leaf job (round 1): basic proofs of one type.
    Leaf(LeafJobWitness),
    /// A node job (round 2): leaf or node proofs of one type.
    Node(NodeJobWitness),
    /// The recursion-tip job (round 3): every type's final node proof.
    RecursionTip(TipJobWitness),
    /// The scheduler job (round 4): the tip proof and the batch's public output.
    Scheduler(SchedulerJobWitness),
}

/// Up to A basic proofs of one type, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafJobWitness {
    /// The basic type of the proofs.
    pub circuit_id: CircuitId,
    /// The basic proofs, consecutive instances of the type.
    pub children: Vec<BasicChild>,
}

/// One basic proof with the closed form the leaf opens its public inputs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicChild {
    /// Sequence number of the instance among its type's (for error texts).
    pub sequence: u32,
    /// plonky2's proof encoding.
    pub proof: Vec<u8>,
    /// Closed-form input (canonical field elements).
    pub input: Vec<u64>,
    /// Carried closed-form output: the instance's own output followed by the input's
    /// run-constant tail (see `recursion::BasicTypeShape`).
    pub output: Vec<u64>,
    /// Real items in the instance.
    pub count: u64,
}

/// Which layer a node job's children come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeChildren {
    /// Depth 0 aggregates leaf proofs.
    Leaf,
    /// Depth d > 0 aggregates node proofs of depth d − 1.
    Node,
}

/// Up to A leaf or node proofs of one type, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeJobWitness {
    /// The basic type of the branch.
    pub circuit_id: CircuitId,
    /// Whether the children are leaf or node proofs.
    pub children_layer: NodeChildren,
    /// The child proofs (plonky2's proof encoding), consecutive in the branch.
    pub children: Vec<Vec<u8>>,
}

/// One slot per basic type, in circuit id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipJobWitness {
    /// What the tip gets for each basic type.
    pub slots: Vec<TipSlotWitnessData>,
}

/// What the tip is given for one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TipSlotWitnessData {
    /// The type's final node proof and the closed forms at both ends of its run.
    Present {
        /// The basic type.
        circuit_id: CircuitId,
        /// The proof of the type's last node, covering every instance.
        final_node_proof: Vec<u8>,
        /// Closed-form input of the type's first instance.
        first_input: Vec<u64>,
        /// Carried closed-form output of its last instance.
        last_output: Vec<u64>,
    },
    /// The type has no instance; its closed form stays the same through the batch.
    Absent {
        /// The basic type.
        circuit_id: CircuitId,
        /// The type's closed form, input and output alike.
        closed_form: Vec<u64>,
    },
}

/// The recursion-tip proof and the per-type outputs it commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerJobWitness {
    /// The batch's number, which the scheduler puts in the public output.
    pub batch_number: u32,
    /// The recursion-tip proof (plonky2's proof encoding).
    pub tip_proof: Vec<u8>,
    /// Every basic type's run, in circuit id order.
    pub types: Vec<TypeSummary>,
}

/// One basic type's run through a batch, as round 0 computes it natively: what the tip
/// commits to for the type and what the scheduler links across types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeSummary {
    /// The basic type.
    pub circuit_id: CircuitId,
    /// Basic instances of the type (0: absent).
    pub instances: u32,
    /// Closed-form input of the first instance (an absent type: its constant closed form).
    pub first_input: Vec<u64>,
    /// Carried closed-form output of the last instance (an absent type: as `first_input`).
    pub last_output: Vec<u64>,
    /// Real items over all instances.
    pub count: u64,
}

impl TypeSummary {
    /// Whether the batch has at least one instance of the type.
    pub fn is_present(&self) -> bool {
        self.instances > 0
    }
}

impl AggregationWitness {
    /// The round whose prover proves this witness.
    pub fn round(&self) -> AggregationRound {
        match self {
            Self::Leaf(_) => AggregationRound::Leaf,
            Self::Node(_) => AggregationRound::Node,
            Self::RecursionTip(_) => AggregationRound::RecursionTip,
            Self::Scheduler(_) => AggregationRound::Scheduler,
        }
    }

    /// The circuit id of the prover job (the basic type for leaves and nodes).
    pub fn circuit_id(&self) -> CircuitId {
        match self {
            Self::Leaf(w) => w.circuit_id,
            Self::Node(w) => w.circuit_id,
            Self::RecursionTip(_) => CircuitId::RECURSION_TIP,
            Self::Scheduler(_) => CircuitId::SCHEDULER,
        }
    }

    /// The stored form: magic `ZKAW`, format version (u16 little-endian), then postcard.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PipelineError> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&AGGREGATION_WITNESS_VERSION.to_le_bytes());
        postcard::to_extend(self, out).map_err(|e| PipelineError::Encode {
            what: "aggregation witness",
            reason: e.to_string(),
        })
    }

    /// Decodes [`Self::to_bytes`]; truncated, trailing or foreign bytes are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PipelineError> {
        let malformed = |reason: String| PipelineError::MalformedWitness {
            what: "aggregation witness",
            reason,
        };
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(malformed(format!(
                "does not start with \"ZKAW\" ({} bytes)",
                bytes.len()
            )));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != AGGREGATION_WITNESS_VERSION {
            return Err(malformed(format!(
                "format version {version}, this build reads {AGGREGATION_WITNESS_VERSION}"
            )));
        }
        let (value, rest) =
            postcard::take_from_bytes::<Self>(&bytes[6..]).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes", rest.len())));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> AggregationWitness {
        AggregationWitness::Leaf(LeafJobWitness {
            circuit_id: CircuitId::STATE_TRANSITION,
            children: vec![BasicChild {
                sequence: 3,
                proof: vec![1, 2, 3],
                input: vec![4, 5],
                output: vec![6],
                count: 7,
            }],
        })
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let bytes = leaf().to_bytes().expect("encode");
        assert_eq!(
            AggregationWitness::from_bytes(&bytes).expect("decode"),
            leaf()
        );
        let truncated = &bytes[..bytes.len() - 1];
        assert!(AggregationWitness::from_bytes(truncated).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        let error = AggregationWitness::from_bytes(&trailing).expect_err("trailing");
        assert!(error.to_string().contains("trailing"), "{error}");
        let mut foreign = bytes.clone();
        foreign[0] = b'X';
        assert!(AggregationWitness::from_bytes(&foreign).is_err());
        let mut future = bytes;
        future[4] = 9;
        let error = AggregationWitness::from_bytes(&future).expect_err("version");
        assert!(error.to_string().contains("format version 9"), "{error}");
    }
}
