//! Proving one prover job of any round with the circuits of one configuration: what a
//! circuit prover's witness-vector generators and prover run, and what the compressor runs.
//!
//! [`BatchCircuits::witness_vector`] decodes a job's stored witness, checks it natively against
//! the circuit data (each child proof verified under its key, continuity, counts; an error names
//! the child at fault) and runs witness generation. [`BatchCircuits::prove_job`] proves the vector
//! and **verifies** the proof before returning its bytes: a proof that does not verify is never
//! stored. Both prove with the default [`CpuProver`] (zkfleet's prover over the batched Merkle
//! hasher, byte for byte plonky2's proofs); [`BatchCircuits::prove_job_with`] and
//! [`BatchCircuits::compress_on`] take plonky2's own `prove` where asked (`backend = "plonky2"`).

use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_data::CircuitData;
use plonky2::plonk::proof::ProofWithPublicInputs;
use zkfleet_types::{AggregationRound, BatchNumber, BatchPublicOutput, CircuitId};

use super::cpu_prover::{batched_step_prover, CpuProver};
use super::witness::{AggregationWitness, NodeChildren, TipSlotWitnessData, TypeSummary};
use super::PipelineError;
use crate::basic::BasicCircuitKind;
use crate::proving::{generate_witness_vector, WitnessVector};
use crate::recursion::{
    BasicProof, BatchCircuits, RecursionLayer, RecursionProof, SchedulerWitness, StepProver,
    TipSlot, TypeOutput,
};
use crate::{C, D, F};

/// A compressed final proof with the batch output it attests.
#[derive(Debug, Clone)]
pub struct CompressedProof {
    /// plonky2's encoding of the last compression step's proof.
    pub proof_bytes: Vec<u8>,
    /// The batch public output the proof's public inputs carry.
    pub public_output: BatchPublicOutput,
}

fn elements(values: &[u64], what: &str) -> Result<Vec<F>, PipelineError> {
    values
        .iter()
        .map(|&v| {
            crate::field_element(v).map_err(|_| {
                PipelineError::InvalidInput(format!(
                    "{what}: element {v} is not a canonical field element"
                ))
            })
        })
        .collect()
}

fn decode_proof(
    bytes: &[u8],
    data: &CircuitData<F, C, D>,
    what: &str,
) -> Result<ProofWithPublicInputs<F, C, D>, PipelineError> {
    ProofWithPublicInputs::from_bytes(bytes.to_vec(), &data.common).map_err(|e| {
        PipelineError::InvalidInput(format!("{what} is not a proof of its circuit: {e}"))
    })
}

fn vector_of(
    data: &CircuitData<F, C, D>,
    pw: PartialWitness<F>,
) -> Result<WitnessVector, PipelineError> {
    Ok(generate_witness_vector(
        &data.prover_only,
        &data.common,
        pw,
    )?)
}

impl BatchCircuits {
    /// The circuit data of a job's (round, circuit).
    pub fn circuit_data(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
    ) -> Result<&CircuitData<F, C, D>, PipelineError> {
        let unknown = || PipelineError::UnknownCircuit { round, circuit };
        match round {
            AggregationRound::Basic => {
                let kind = BasicCircuitKind::from_circuit_id(circuit).map_err(|_| unknown())?;
                Ok(&self.basic(kind).data)
            }
            AggregationRound::Leaf => Ok(self
                .recursion()
                .leaf(circuit)
                .map_err(|_| unknown())?
                .circuit_data()),
            AggregationRound::Node => {
                self.recursion().leaf(circuit).map_err(|_| unknown())?;
                Ok(self.recursion().node().circuit_data())
            }
            AggregationRound::RecursionTip if circuit == CircuitId::RECURSION_TIP => {
                Ok(self.recursion().tip().circuit_data())
            }
            AggregationRound::Scheduler if circuit == CircuitId::SCHEDULER => {
                Ok(self.scheduler().circuit_data())
            }
            _ => Err(unknown()),
        }
    }

    /// Decodes a stored job witness of `(round, circuit)`, checks it natively and generates
    /// its witness vector.
    pub fn witness_vector(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        witness: &[u8],
    ) -> Result<WitnessVector, PipelineError> {
        let inputs = self.assign_job(round, circuit, witness)?;
        vector_of(self.circuit_data(round, circuit)?, inputs)
    }

    /// Decodes a stored job witness of `(round, circuit)`, checks it natively and assigns it to
    /// the circuit's input targets: everything [`BatchCircuits::witness_vector`] does before
    /// plonky2's witness generation. Separate so that a benchmark can hand exactly these inputs
    /// to plonky2's own `CircuitData::prove` (`pipeline::plonky2_baseline`).
    pub fn assign_job(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        witness: &[u8],
    ) -> Result<PartialWitness<F>, PipelineError> {
        if round == AggregationRound::Basic {
            let kind = BasicCircuitKind::from_circuit_id(circuit)
                .map_err(|_| PipelineError::UnknownCircuit { round, circuit })?;
            let basic = self.basic(kind);
            let decoded = basic.decode_witness(witness)?;
            return Ok(basic.layout().assign(&decoded)?);
        }
        let decoded = AggregationWitness::from_bytes(witness)?;
        if decoded.round() != round || decoded.circuit_id() != circuit {
            return Err(PipelineError::WrongJob {
                expected: (round, circuit),
                found: (decoded.round(), decoded.circuit_id()),
            });
        }
        match decoded {
            AggregationWitness::Leaf(leaf) => {
                let kind = BasicCircuitKind::from_circuit_id(circuit)
                    .map_err(|_| PipelineError::UnknownCircuit { round, circuit })?;
                let basic_data = &self.basic(kind).data;
                let leaf_circuit = self.recursion().leaf(circuit)?;
                let mut children = Vec::with_capacity(leaf.children.len());
                for child in &leaf.children {
                    let what = format!("basic proof of instance {}", child.sequence);
                    children.push(BasicProof {
                        proof: decode_proof(&child.proof, basic_data, &what)?,
                        input: elements(&child.input, &what)?,
                        output: elements(&child.output, &what)?,
                        count: child.count,
                    });
                }
                leaf_circuit.check_children(&children)?;
                Ok(leaf_circuit.assign_witness(&children)?)
            }
            AggregationWitness::Node(node) => {
                let layer = match node.children_layer {
                    NodeChildren::Leaf => RecursionLayer::Leaf,
                    NodeChildren::Node => RecursionLayer::Node,
                };
                let node_circuit = self.recursion().node();
                let children = node
                    .children
                    .iter()
                    .enumerate()
                    .map(|(i, bytes)| {
                        let proof = decode_proof(
                            bytes,
                            node_circuit.circuit_data(),
                            &format!("{} proof {i}", layer.name()),
                        )?;
                        Ok(RecursionProof { layer, proof })
                    })
                    .collect::<Result<Vec<_>, PipelineError>>()?;
                node_circuit.check_children(&children)?;
                for (i, child) in children.iter().enumerate() {
                    let stmt = child.statement()?;
                    if stmt.circuit_id != circuit {
                        return Err(PipelineError::InvalidInput(format!(
                            "{} proof {i} is of circuit {}, the job aggregates circuit {circuit}",
                            layer.name(),
                            stmt.circuit_id
                        )));
                    }
                }
                let witness = node_circuit.witness_for(&children)?;
                Ok(node_circuit.assign_witness(&witness)?)
            }
            AggregationWitness::RecursionTip(tip) => {
                let node = self.recursion().node();
                let slots = tip
                    .slots
                    .iter()
                    .map(|slot| match slot {
                        TipSlotWitnessData::Present {
                            circuit_id,
                            final_node_proof,
                            first_input,
                            last_output,
                        } => {
                            let what = format!("final node proof of circuit {circuit_id}");
                            Ok(TipSlot::Present {
                                final_node: Box::new(RecursionProof {
                                    layer: RecursionLayer::Node,
                                    proof: decode_proof(
                                        final_node_proof,
                                        node.circuit_data(),
                                        &what,
                                    )?,
                                }),
                                first_input: elements(first_input, &what)?,
                                last_output: elements(last_output, &what)?,
                            })
                        }
                        TipSlotWitnessData::Absent {
                            circuit_id,
                            closed_form,
                        } => Ok(TipSlot::Absent {
                            closed_form: elements(
                                closed_form,
                                &format!("closed form of absent circuit {circuit_id}"),
                            )?,
                        }),
                    })
                    .collect::<Result<Vec<_>, PipelineError>>()?;
                let tip_circuit = self.recursion().tip();
                for (slot, t) in tip.slots.iter().zip(tip_circuit.types()) {
                    let id = match slot {
                        TipSlotWitnessData::Present { circuit_id, .. }
                        | TipSlotWitnessData::Absent { circuit_id, .. } => *circuit_id,
                    };
                    if id != t.circuit_id {
                        return Err(PipelineError::InvalidInput(format!(
                            "tip slot of circuit {id} where the tip has circuit {}",
                            t.circuit_id
                        )));
                    }
                }
                tip_circuit.check_slots(node, &slots)?;
                let (pw, _) = tip_circuit.assign_witness(&tip_circuit.witness_for(&slots)?)?;
                Ok(pw)
            }
            AggregationWitness::Scheduler(job) => {
                let witness =
                    self.scheduler_witness(&job.types, &job.tip_proof, job.batch_number)?;
                let scheduler = self.scheduler();
                scheduler.check_witness(&witness)?;
                Ok(scheduler.assign_witness(&witness)?)
            }
        }
    }

    fn scheduler_witness(
        &self,
        types: &[TypeSummary],
        tip_proof: &[u8],
        batch_number: u32,
    ) -> Result<SchedulerWitness, PipelineError> {
        let tip_data = self.recursion().tip().circuit_data();
        let tip_proof = decode_proof(tip_proof, tip_data, "recursion-tip proof")?;
        tip_data.verify(tip_proof.clone()).map_err(|e| {
            PipelineError::InvalidInput(format!("the recursion-tip proof does not verify: {e}"))
        })?;
        let types = types
            .iter()
            .map(|t| {
                let what = format!("type output of circuit {}", t.circuit_id);
                Ok(TypeOutput {
                    present: t.is_present(),
                    circuit_id: t.circuit_id,
                    first_input: elements(&t.first_input, &what)?,
                    last_output: elements(&t.last_output, &what)?,
                    count: t.count,
                })
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        Ok(SchedulerWitness {
            tip_proof,
            types,
            batch_number: BatchNumber(batch_number),
        })
    }

    /// Proves a witness vector of `(round, circuit)` with the default [`CpuProver`], verifies
    /// the proof and returns its bytes.
    pub fn prove_job(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        witness_vector: WitnessVector,
    ) -> Result<Vec<u8>, PipelineError> {
        self.prove_job_with(round, circuit, witness_vector, CpuProver::default())
    }

    /// [`Self::prove_job`] with the CPU prover `cpu` (plonky2's own `prove` for
    /// [`CpuProver::Plonky2`]); the proof is verified by plonky2's verifier either way.
    pub fn prove_job_with(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
        witness_vector: WitnessVector,
        cpu: CpuProver,
    ) -> Result<Vec<u8>, PipelineError> {
        let data = self.circuit_data(round, circuit)?;
        let proof = cpu.prove_vector(&data.prover_only, &data.common, witness_vector)?;
        let bytes = proof.to_bytes();
        match round {
            AggregationRound::Scheduler => {
                self.scheduler().verify(&proof)?;
            }
            _ => data
                .verify(proof)
                .map_err(|e| PipelineError::ProofRejected {
                    round,
                    circuit,
                    reason: e.to_string(),
                })?,
        }
        Ok(bytes)
    }

    /// Runs the compression chain over a scheduler proof with the default [`CpuProver`],
    /// verifies the final proof and returns it with the batch output it attests.
    pub fn compress(&self, scheduler_proof: &[u8]) -> Result<CompressedProof, PipelineError> {
        self.compress_on(scheduler_proof, CpuProver::default())
    }

    /// [`Self::compress`] with the CPU prover `cpu` proving each step.
    pub fn compress_on(
        &self,
        scheduler_proof: &[u8],
        cpu: CpuProver,
    ) -> Result<CompressedProof, PipelineError> {
        match cpu {
            CpuProver::Batched => self.compress_with(scheduler_proof, Some(batched_step_prover())),
            CpuProver::Plonky2 => self.compress_with(scheduler_proof, None),
        }
    }

    /// [`Self::compress`], each compression step proved by `prover` where one is given (the
    /// compressor's GPU backend, the batched CPU prover), by plonky2's `prove` where none is;
    /// the scheduler proof and the final proof are verified the same.
    pub fn compress_with(
        &self,
        scheduler_proof: &[u8],
        prover: Option<&StepProver<'_>>,
    ) -> Result<CompressedProof, PipelineError> {
        let proof = decode_proof(
            scheduler_proof,
            self.scheduler().circuit_data(),
            "scheduler proof",
        )?;
        self.scheduler().verify(&proof)?;
        let proofs = self.compression().prove_with(&proof, prover)?;
        let last = proofs.last().ok_or_else(|| {
            PipelineError::InvalidInput("the compression chain has no step".into())
        })?;
        let proof_bytes = last.to_bytes();
        let public_output = self.verify_final(&proof_bytes)?;
        Ok(CompressedProof {
            proof_bytes,
            public_output,
        })
    }
}
