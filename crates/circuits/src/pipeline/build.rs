//! Building each aggregation round's job witnesses from the previous round's proofs: what the
//! witness generator runs. Pure functions over bytes and closed forms; no circuit data.

use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_types::CircuitId;

use super::witness::{
    AggregationWitness, BasicChild, LeafJobWitness, NodeChildren, NodeJobWitness,
    SchedulerJobWitness, TipJobWitness, TipSlotWitnessData, TypeSummary,
};
use super::PipelineError;
use crate::basic::{BasicCircuitKind, ClosedFormInputs};

/// `(closed-form input length, own public output length)` of a basic type: the carried output
/// is the own output followed by `input[own_output_len..]`.
fn closed_form_lengths(kind: BasicCircuitKind) -> (usize, usize) {
    use crate::basic::priority::{PRIORITY_INPUT_LEN, PRIORITY_OUTPUT_LEN};
    use crate::basic::signature::{SIGNATURE_INPUT_LEN, SIGNATURE_OUTPUT_LEN};
    use crate::basic::state::{STATE_INPUT_LEN, STATE_OUTPUT_LEN};
    match kind {
        BasicCircuitKind::SignatureVerification => (SIGNATURE_INPUT_LEN, SIGNATURE_OUTPUT_LEN),
        BasicCircuitKind::StateTransition => (STATE_INPUT_LEN, STATE_OUTPUT_LEN),
        BasicCircuitKind::PriorityOperations => (PRIORITY_INPUT_LEN, PRIORITY_OUTPUT_LEN),
    }
}

fn check_arity(arity: usize) -> Result<(), PipelineError> {
    let arity = u32::try_from(arity).unwrap_or(u32::MAX);
    crate::recursion::check_arity(arity).map_err(|e| PipelineError::InvalidInput(e.to_string()))
}

/// The carried closed-form output of an instance (see [`BasicChild::output`]).
fn carried_output(
    kind: BasicCircuitKind,
    input: &[u64],
    own_output: &[u64],
    sequence: u32,
) -> Result<Vec<u64>, PipelineError> {
    let (input_len, output_len) = closed_form_lengths(kind);
    if input.len() != input_len || own_output.len() != output_len {
        return Err(PipelineError::InvalidInput(format!(
            "{} instance {sequence}: closed form of {}/{} elements, the type has {input_len}/{output_len}",
            kind.name(),
            input.len(),
            own_output.len()
        )));
    }
    let mut out = own_output.to_vec();
    out.extend_from_slice(&input[output_len..]);
    Ok(out)
}

/// The leaf jobs of one type: its basic proofs (`proofs[i]` is instance `i`'s) cut into chunks
/// of `arity`, each with its instances' closed forms.
pub fn leaf_job_witnesses(
    closed_forms: &ClosedFormInputs,
    proofs: Vec<Vec<u8>>,
    arity: usize,
) -> Result<Vec<AggregationWitness>, PipelineError> {
    check_arity(arity)?;
    let kind = BasicCircuitKind::from_circuit_id(closed_forms.circuit)
        .map_err(|e| PipelineError::InvalidInput(e.to_string()))?;
    if proofs.len() != closed_forms.instances.len() || proofs.is_empty() {
        return Err(PipelineError::InvalidInput(format!(
            "{} basic proofs of {} for {} closed forms",
            proofs.len(),
            kind.name(),
            closed_forms.instances.len()
        )));
    }
    let mut children = Vec::with_capacity(proofs.len());
    for (i, (proof, form)) in proofs.into_iter().zip(&closed_forms.instances).enumerate() {
        if form.sequence as usize != i {
            return Err(PipelineError::InvalidInput(format!(
                "{} closed form {i} is of instance {}",
                kind.name(),
                form.sequence
            )));
        }
        children.push(BasicChild {
            sequence: form.sequence,
            proof,
            output: carried_output(kind, &form.input, &form.output, form.sequence)?,
            input: form.input.clone(),
            count: u64::from(form.item_count),
        });
    }
    let mut jobs = Vec::with_capacity(children.len().div_ceil(arity));
    let mut children = children.into_iter().peekable();
    while children.peek().is_some() {
        jobs.push(AggregationWitness::Leaf(LeafJobWitness {
            circuit_id: closed_forms.circuit,
            children: children.by_ref().take(arity).collect(),
        }));
    }
    Ok(jobs)
}

/// The node jobs of one type at one depth: the proofs of the layer below, in order, cut into
/// chunks of `arity`. One job means its proof is the type's final node proof.
pub fn node_job_witnesses(
    circuit_id: CircuitId,
    children_layer: NodeChildren,
    proofs: Vec<Vec<u8>>,
    arity: usize,
) -> Result<Vec<AggregationWitness>, PipelineError> {
    check_arity(arity)?;
    if proofs.is_empty() {
        return Err(PipelineError::InvalidInput(format!(
            "no proof to aggregate for circuit {circuit_id}"
        )));
    }
    let mut jobs = Vec::with_capacity(proofs.len().div_ceil(arity));
    let mut proofs = proofs.into_iter().peekable();
    while proofs.peek().is_some() {
        jobs.push(AggregationWitness::Node(NodeJobWitness {
            circuit_id,
            children_layer,
            children: proofs.by_ref().take(arity).collect(),
        }));
    }
    Ok(jobs)
}

/// The recursion-tip job: one slot per basic type (`summaries`, in circuit id order), present
/// types with their final node proof from `final_node_proofs`.
pub fn tip_job_witness(
    summaries: &[TypeSummary],
    final_node_proofs: Vec<(CircuitId, Vec<u8>)>,
) -> Result<AggregationWitness, PipelineError> {
    let mut proofs = final_node_proofs;
    let mut slots = Vec::with_capacity(summaries.len());
    for summary in summaries {
        if summary.is_present() {
            let at = proofs
                .iter()
                .position(|(id, _)| *id == summary.circuit_id)
                .ok_or_else(|| {
                    PipelineError::InvalidInput(format!(
                        "no final node proof for circuit {}, present in the batch",
                        summary.circuit_id
                    ))
                })?;
            let (_, proof) = proofs.swap_remove(at);
            slots.push(TipSlotWitnessData::Present {
                circuit_id: summary.circuit_id,
                final_node_proof: proof,
                first_input: summary.first_input.clone(),
                last_output: summary.last_output.clone(),
            });
        } else {
            slots.push(TipSlotWitnessData::Absent {
                circuit_id: summary.circuit_id,
                closed_form: summary.first_input.clone(),
            });
        }
    }
    if let Some((id, _)) = proofs.first() {
        return Err(PipelineError::InvalidInput(format!(
            "a final node proof for circuit {id}, which is absent from the batch or repeated"
        )));
    }
    Ok(AggregationWitness::RecursionTip(TipJobWitness { slots }))
}

/// The scheduler job: the tip proof and the per-type outputs it commits to.
pub fn scheduler_job_witness(
    summaries: &[TypeSummary],
    tip_proof: Vec<u8>,
    batch_number: u32,
) -> AggregationWitness {
    AggregationWitness::Scheduler(SchedulerJobWitness {
        batch_number,
        tip_proof,
        types: summaries.to_vec(),
    })
}

/// Every basic type's run through an executed batch (round 0 stores it for the tip and the
/// scheduler), in circuit id order.
pub fn type_summaries(
    executed: &ExecutedBatch,
    closed_forms: &[ClosedFormInputs],
) -> Result<Vec<TypeSummary>, PipelineError> {
    let mut out = Vec::with_capacity(BasicCircuitKind::ALL.len());
    for kind in BasicCircuitKind::ALL {
        let id = kind.circuit_id();
        let forms = closed_forms
            .iter()
            .find(|c| c.circuit == id)
            .map(|c| c.instances.as_slice())
            .unwrap_or_default();
        match (forms.first(), forms.last()) {
            (Some(first), Some(last)) => out.push(TypeSummary {
                circuit_id: id,
                instances: u32::try_from(forms.len()).map_err(|_| {
                    PipelineError::InvalidInput(format!("too many instances of {}", kind.name()))
                })?,
                first_input: first.input.clone(),
                last_output: carried_output(kind, &last.input, &last.output, last.sequence)?,
                count: forms.iter().map(|f| u64::from(f.item_count)).sum(),
            }),
            _ => {
                let closed_form: Vec<u64> = crate::recursion::absent_closed_form(kind, executed)
                    .iter()
                    .map(plonky2::field::types::PrimeField64::to_canonical_u64)
                    .collect();
                out.push(TypeSummary {
                    circuit_id: id,
                    instances: 0,
                    first_input: closed_form.clone(),
                    last_output: closed_form,
                    count: 0,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_chunk_by_arity_and_refuse_nothing() {
        let proofs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i]).collect();
        let jobs = node_job_witnesses(CircuitId(2), NodeChildren::Leaf, proofs, 2).expect("jobs");
        let sizes: Vec<usize> = jobs
            .iter()
            .map(|j| match j {
                AggregationWitness::Node(n) => n.children.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(node_job_witnesses(CircuitId(2), NodeChildren::Node, Vec::new(), 2).is_err());
        assert!(node_job_witnesses(CircuitId(2), NodeChildren::Node, vec![vec![1]], 1).is_err());
    }

    #[test]
    fn tip_needs_exactly_the_present_types_proofs() {
        let present = TypeSummary {
            circuit_id: CircuitId(1),
            instances: 2,
            first_input: vec![1],
            last_output: vec![2],
            count: 3,
        };
        let absent = TypeSummary {
            circuit_id: CircuitId(3),
            instances: 0,
            first_input: vec![9],
            last_output: vec![9],
            count: 0,
        };
        let summaries = [present, absent];
        assert!(tip_job_witness(&summaries, vec![(CircuitId(1), vec![7])]).is_ok());
        let missing = tip_job_witness(&summaries, Vec::new()).expect_err("missing");
        assert!(missing.to_string().contains("circuit 1"), "{missing}");
        let extra = tip_job_witness(
            &summaries,
            vec![(CircuitId(1), vec![7]), (CircuitId(3), vec![8])],
        )
        .expect_err("extra");
        assert!(extra.to_string().contains("circuit 3"), "{extra}");
    }
}
