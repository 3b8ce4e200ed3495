//! Witness generation for round 0: cuts an executed batch into basic circuit instances.
//!
//! Per type, the batch's items (signed operations, operations, deposits) are taken in batch
//! order and chunked by the geometry's capacity; every instance but the last of a type is full,
//! the last holds the remainder (padded inside the circuit). A type with no items has no
//! instances (the recursion tip treats it as absent). Alongside the serialized witnesses, the
//! ordered closed-form inputs/outputs of each type are produced from the running commitments
//! the native execution recorded, so the pipeline can store them for the aggregation rounds.

use serde::{Deserialize, Serialize};
use zkfleet_rollup::execute::{ExecutedBatch, OperationWitness, RunningCommitments};
use zkfleet_rollup::operation::Operation;
use zkfleet_rollup::spec::{digest_to_hash_digest, Digest};
use zkfleet_rollup::state::{Account, AccountUpdate};
use zkfleet_types::{CircuitId, HashDigest};

use crate::basic::closed_form::{ClosedForm, ClosedFormInputs};
use crate::basic::priority::{DepositItem, PriorityWitness};
use crate::basic::signature::{SignatureSlot, SignatureWitness};
use crate::basic::state::{
    AccountFields, LaneWitness, SlotOperation, StateCommitments, StateSlot, StateWitness,
};
use crate::basic::witness::{encode_witness, BasicWitness};
use crate::basic::BasicCircuitKind;
use crate::config::BasicGeometry;
use crate::error::CircuitError;

/// One basic circuit instance as the pipeline stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicCircuitInstance {
    pub circuit: CircuitId,
    /// 0-based position among the instances of its type, in batch order.
    pub sequence: u32,
    /// [`crate::basic::encode_witness`] bytes.
    pub witness: Vec<u8>,
}

/// Every basic instance of a batch and each type's closed forms, in type then sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicWitnesses {
    pub geometry: BasicGeometry,
    pub instances: Vec<BasicCircuitInstance>,
    /// One entry per basic type (also for types with no instance), in `CircuitId` order.
    pub closed_forms: Vec<ClosedFormInputs>,
}

impl BasicWitnesses {
    /// The closed forms of one type.
    pub fn closed_forms_of(&self, circuit: CircuitId) -> Option<&ClosedFormInputs> {
        self.closed_forms.iter().find(|c| c.circuit == circuit)
    }
}

fn hd(d: Digest) -> HashDigest {
    digest_to_hash_digest(d)
}

fn push_digest(out: &mut Vec<u64>, d: Digest) {
    out.extend_from_slice(&hd(d).0);
}

fn push_u64(out: &mut Vec<u64>, value: u64) {
    out.push(value & 0xffff_ffff);
    out.push(value >> 32);
}

fn invalid(message: String) -> CircuitError {
    CircuitError::InvalidBatchWitness(message)
}

/// Cuts `batch` into basic circuit instances for `geometry`.
pub fn split_batch(
    batch: &ExecutedBatch,
    geometry: &BasicGeometry,
) -> Result<BasicWitnesses, CircuitError> {
    geometry.validate()?;
    let witness = &batch.witness;
    let mut instances = Vec::new();
    let mut closed_forms = Vec::new();

    // Signature verification: every signed operation.
    let signed: Vec<&OperationWitness> = witness
        .operations
        .iter()
        .filter(|op| op.signed.is_some())
        .collect();
    let mut forms = Vec::new();
    for (sequence, chunk) in signed
        .chunks(geometry.signatures_per_instance as usize)
        .enumerate()
    {
        let mut slots = Vec::with_capacity(chunk.len());
        for op in chunk {
            let Some(s) = &op.signed else { continue };
            if s.signature.auth_path.len() != geometry.xmss_height as usize {
                return Err(invalid(format!(
                    "operation {}: signature tree height {} differs from the geometry's {}",
                    op.index,
                    s.signature.auth_path.len(),
                    geometry.xmss_height
                )));
            }
            slots.push(SignatureSlot {
                message: hd(s.message_digest),
                public_key: hd(s.public_key),
                key_index: s.signature.key_index,
                chain_values: s.signature.chain_values.iter().copied().map(hd).collect(),
                auth_path: s.signature.auth_path.iter().copied().map(hd).collect(),
            });
        }
        let (first, last) = ends(chunk)?;
        let before = first.before.signed_operations;
        let after = last.after.signed_operations;
        let mut input = Vec::new();
        push_digest(&mut input, before);
        let mut output = Vec::new();
        push_digest(&mut output, after);
        forms.push(closed_form(sequence, input, output, slots.len())?);
        let w = BasicWitness::SignatureVerification(SignatureWitness {
            signed_operations_before: hd(before),
            slots,
        });
        instances.push(instance(
            BasicCircuitKind::SignatureVerification,
            sequence,
            geometry,
            &w,
        )?);
    }
    closed_forms.push(ClosedFormInputs {
        circuit: CircuitId::SIGNATURE_VERIFICATION,
        instances: forms,
    });

    // State transition: every operation.
    let all: Vec<&OperationWitness> = witness.operations.iter().collect();
    let mut forms = Vec::new();
    for (sequence, chunk) in all
        .chunks(geometry.operations_per_instance as usize)
        .enumerate()
    {
        let slots = chunk
            .iter()
            .map(|op| state_slot(op))
            .collect::<Result<Vec<_>, _>>()?;
        let (first, last) = ends(chunk)?;
        let mut input = Vec::new();
        for d in commitments(&first.before) {
            push_digest(&mut input, d);
        }
        push_u64(&mut input, witness.chain_id.0);
        input.push(u64::from(witness.operator));
        let mut output = Vec::new();
        for d in commitments(&last.after) {
            push_digest(&mut output, d);
        }
        forms.push(closed_form(sequence, input, output, slots.len())?);
        let b = &first.before;
        let w = BasicWitness::StateTransition(StateWitness {
            chain_id: witness.chain_id.0,
            operator: witness.operator,
            before: StateCommitments {
                state_root: hd(b.state_root),
                operations: hd(b.operations),
                signed_operations: hd(b.signed_operations),
                deposits: hd(b.deposits),
                withdrawals: hd(b.withdrawals),
                pubdata: hd(b.pubdata),
            },
            slots,
        });
        instances.push(instance(
            BasicCircuitKind::StateTransition,
            sequence,
            geometry,
            &w,
        )?);
    }
    closed_forms.push(ClosedFormInputs {
        circuit: CircuitId::STATE_TRANSITION,
        instances: forms,
    });

    // Priority operations: every deposit, in queue order.
    let deposits: Vec<&OperationWitness> = witness
        .operations
        .iter()
        .filter(|op| matches!(op.operation, Operation::Deposit(_)))
        .collect();
    let mut forms = Vec::new();
    for (sequence, chunk) in deposits
        .chunks(geometry.deposits_per_instance as usize)
        .enumerate()
    {
        let mut slots = Vec::with_capacity(chunk.len());
        for op in chunk {
            if let Operation::Deposit(d) = &op.operation {
                slots.push(deposit_item(d));
            }
        }
        let (first, last) = ends(chunk)?;
        let mut input = Vec::new();
        push_digest(&mut input, first.before.deposits);
        push_u64(&mut input, first.before.next_priority_serial);
        let mut output = Vec::new();
        push_digest(&mut output, last.after.deposits);
        push_u64(&mut output, last.after.next_priority_serial);
        forms.push(closed_form(sequence, input, output, slots.len())?);
        let w = BasicWitness::PriorityOperations(PriorityWitness {
            deposits_before: hd(first.before.deposits),
            next_priority_serial_before: first.before.next_priority_serial,
            slots,
        });
        instances.push(instance(
            BasicCircuitKind::PriorityOperations,
            sequence,
            geometry,
            &w,
        )?);
    }
    closed_forms.push(ClosedFormInputs {
        circuit: CircuitId::PRIORITY_OPERATIONS,
        instances: forms,
    });

    Ok(BasicWitnesses {
        geometry: *geometry,
        instances,
        closed_forms,
    })
}

fn ends<'a>(
    chunk: &[&'a OperationWitness],
) -> Result<(&'a OperationWitness, &'a OperationWitness), CircuitError> {
    match (chunk.first(), chunk.last()) {
        (Some(first), Some(last)) => Ok((first, last)),
        _ => Err(invalid("empty chunk".into())),
    }
}

fn commitments(c: &RunningCommitments) -> [Digest; 6] {
    [
        c.state_root,
        c.operations,
        c.signed_operations,
        c.deposits,
        c.withdrawals,
        c.pubdata,
    ]
}

fn closed_form(
    sequence: usize,
    input: Vec<u64>,
    output: Vec<u64>,
    items: usize,
) -> Result<ClosedForm, CircuitError> {
    Ok(ClosedForm {
        sequence: u32::try_from(sequence)
            .map_err(|_| invalid(format!("sequence {sequence} overflows u32")))?,
        input,
        output,
        item_count: u32::try_from(items)
            .map_err(|_| invalid(format!("{items} items overflow u32")))?,
    })
}

fn instance(
    kind: BasicCircuitKind,
    sequence: usize,
    geometry: &BasicGeometry,
    witness: &BasicWitness,
) -> Result<BasicCircuitInstance, CircuitError> {
    Ok(BasicCircuitInstance {
        circuit: kind.circuit_id(),
        sequence: u32::try_from(sequence)
            .map_err(|_| invalid(format!("sequence {sequence} overflows u32")))?,
        witness: encode_witness(geometry, witness)?,
    })
}

fn deposit_item(d: &zkfleet_rollup::operation::Deposit) -> DepositItem {
    DepositItem {
        priority_serial: d.priority_serial,
        to: d.to,
        public_key: d.public_key.map(hd),
        amount: d.amount,
    }
}

fn account_fields(account: &Account) -> AccountFields {
    AccountFields {
        public_key: hd(account.public_key),
        balance: account.balance,
        nonce: account.nonce,
    }
}

fn lane(update: &AccountUpdate) -> LaneWitness {
    LaneWitness {
        account: update.leaf_before.as_ref().map(account_fields),
        siblings: update.siblings.iter().copied().map(hd).collect(),
    }
}

/// The state slot of one operation: its fields and a lane per account update, in the order the
/// rollup applied them (Transfer: sender, recipient, operator; Withdraw: sender, operator;
/// Deposit: recipient).
fn state_slot(op: &OperationWitness) -> Result<StateSlot, CircuitError> {
    let expected = match op.operation {
        Operation::Deposit(_) => 1,
        Operation::Transfer(_) => 3,
        Operation::Withdraw(_) => 2,
    };
    if op.updates.len() != expected {
        return Err(invalid(format!(
            "operation {} ({}) has {} account updates, expected {expected}",
            op.index,
            op.operation.kind(),
            op.updates.len()
        )));
    }
    let u = &op.updates;
    Ok(match &op.operation {
        Operation::Deposit(d) => StateSlot {
            operation: SlotOperation::Deposit(deposit_item(d)),
            lane_a: lane(&u[0]),
            lane_b: None,
            lane_c: None,
        },
        Operation::Transfer(t) => StateSlot {
            operation: SlotOperation::Transfer {
                from: t.from,
                to: t.to,
                amount: t.amount,
                fee: t.fee,
                nonce: t.nonce,
            },
            lane_a: lane(&u[0]),
            lane_b: Some(lane(&u[1])),
            lane_c: Some(lane(&u[2])),
        },
        Operation::Withdraw(w) => StateSlot {
            operation: SlotOperation::Withdraw {
                from: w.from,
                l1_recipient: w.l1_recipient.0,
                amount: w.amount,
                fee: w.fee,
                nonce: w.nonce,
            },
            lane_a: lane(&u[0]),
            lane_b: None,
            lane_c: Some(lane(&u[1])),
        },
    })
}
