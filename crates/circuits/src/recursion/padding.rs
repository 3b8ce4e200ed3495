//! One circuit shape for every leaf and the node.
//!
//! plonky2's recursive verifier is built for one `CommonCircuitData` (gate set, degree, number
//! of public inputs, ...). The node verifies leaf proofs of every basic type and node proofs,
//! so all of them must have the same common data: every leaf and the node add the union of
//! their gates to their gate set and are padded with no-op rows to one degree. That target is
//! found by a fixpoint over cheap "mock" builds (no polynomial commitments), see
//! `setup::converge_shape`.

use plonky2::gates::gate::GateRef;
use plonky2::gates::noop::NoopGate;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CommonCircuitData;

use super::{D, F};

/// Gates and degree every leaf and the node are padded to.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShapePadding {
    gates: Vec<GateRef<F, D>>,
    degree_bits: usize,
}

impl ShapePadding {
    /// Adds the gate set and the no-op rows. Call it last, after the circuit's own logic.
    pub(crate) fn apply(&self, builder: &mut CircuitBuilder<F, D>) {
        for gate in &self.gates {
            builder.add_gate_to_gate_set(gate.clone());
        }
        if self.degree_bits > 0 {
            // Padding to just over half the target makes the builder round up to exactly
            // 2^degree_bits (it adds its public-input and constant gates, then pads to a power of
            // two); a body larger than the target shows up as a larger degree and the fixpoint
            // grows the target.
            let min_rows = (1usize << (self.degree_bits - 1)) + 1;
            while builder.num_gates() < min_rows {
                builder.add_gate(NoopGate, vec![]);
            }
        }
    }

    /// Widens the target so that it covers `common`'s gates and degree. Returns whether anything
    /// changed.
    pub(crate) fn absorb(&mut self, common: &CommonCircuitData<F, D>) -> bool {
        let mut changed = false;
        for gate in &common.gates {
            if !self.gates.iter().any(|g| g.0.id() == gate.0.id()) {
                self.gates.push(gate.clone());
                changed = true;
            }
        }
        if common.degree_bits() > self.degree_bits {
            self.degree_bits = common.degree_bits();
            changed = true;
        }
        changed
    }

    /// log2 of the rows every leaf and the node are padded to.
    pub(crate) fn degree_bits(&self) -> usize {
        self.degree_bits
    }
}
