//! Aggregating all basic proofs of one type into its final node proof, level by level.
//!
//! This is what an in-process prover of a whole batch calls per type; the distributed pipeline
//! runs the same `LeafCircuit::prove` / `NodeCircuit::prove` steps as separate jobs.

use zkfleet_types::CircuitId;

use super::proof::RecursionProof;
use super::setup::RecursionCircuits;
use super::shape::BasicProof;
use super::tip::TipSlot;
use super::{RecursionError, F};

/// The final node proof of one type and what the tip needs with it.
#[derive(Debug, Clone)]
pub struct TypeAggregate {
    /// The basic type.
    pub circuit_id: CircuitId,
    /// The node proof covering every instance of the type.
    pub final_node: RecursionProof,
    /// Closed-form input of the type's first instance.
    pub first_input: Vec<F>,
    /// Carried closed-form output of its last instance.
    pub last_output: Vec<F>,
    /// Real items over all instances.
    pub count: u64,
    /// Number of leaf proofs made.
    pub leaves: usize,
    /// Number of node proofs made at each depth (depth 0 aggregates leaves).
    pub nodes_per_depth: Vec<usize>,
}

impl TypeAggregate {
    /// The tip slot this aggregate fills.
    pub fn into_tip_slot(self) -> TipSlot {
        TipSlot::Present {
            final_node: Box::new(self.final_node),
            first_input: self.first_input,
            last_output: self.last_output,
        }
    }
}

/// Proves leaves over chunks of A basic proofs (in sequence order), then node levels over chunks
/// of A proofs, until one node proof remains. There is always at least one node level, so the
/// tip receives node proofs only (a single leaf is wrapped by one node).
pub fn aggregate_type(
    circuits: &RecursionCircuits,
    circuit_id: CircuitId,
    basic: &[BasicProof],
) -> Result<TypeAggregate, RecursionError> {
    let leaf = circuits.leaf(circuit_id)?;
    let (first, last) = match (basic.first(), basic.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => {
            return Err(RecursionError::ChildCount {
                layer: "leaf",
                arity: circuits.arity(),
                got: 0,
            })
        }
    };
    let arity = circuits.arity();
    let mut level: Vec<RecursionProof> = basic
        .chunks(arity)
        .map(|chunk| leaf.prove(chunk))
        .collect::<Result<_, _>>()?;
    let leaves = level.len();
    let mut nodes_per_depth = Vec::new();
    loop {
        level = level
            .chunks(arity)
            .map(|chunk| circuits.node().prove(chunk))
            .collect::<Result<_, _>>()?;
        nodes_per_depth.push(level.len());
        if level.len() == 1 {
            break;
        }
    }
    let final_node = level.remove(0);
    let count = final_node.statement()?.count;
    Ok(TypeAggregate {
        circuit_id,
        final_node,
        first_input: first.input.clone(),
        last_output: last.output.clone(),
        count,
        leaves,
        nodes_per_depth,
    })
}
