//! Witness generation for round 0: cuts an executed batch into basic circuit instances.
//!
//! Per type, the batch's items (signed operations, operations, deposits) are taken in batch
//! order and chunked by the geometry's capacity; every instance but the last of a type is full,
//! the last holds the remainder (padded inside the circuit). A type with no items has no
//! instances (the recursion tip treats it as absent). Alongside the serialized witnesses, the
//! ordered closed-form inputs/outputs of each type are produced from the running commitments
//! the native execution recorded, so the pipeline can store them for the aggregation rounds.
//!
//! Cutting is two steps so that round 0's memory does not hold every circuit of a batch at
//! once: [`plan_batch`] checks every operation, computes each type's closed forms and which
//! operations each instance takes (a few indices per instance), and [`BatchPlan::encode`]
//! builds one instance's witness bytes when the uploader is ready for it. [`split_batch`]
//! does both for callers that want every instance in memory (tests, benchmarks, the
//! in-process batch prover).

use serde::{Deserialize, Serialize};
use zkfleet_rollup::execute::{ExecutedBatch, OperationWitness, RunningCommitments};
use zkfleet_rollup::operation::Operation;
use zkfleet_rollup::spec::{
    digest_to_hash_digest, merkle_root_from_path, Digest, STATE_TREE_DEPTH,
};
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
    /// The instance's basic circuit type.
    pub circuit: CircuitId,
    /// 0-based position among the instances of its type, in batch order.
    pub sequence: u32,
    /// [`crate::basic::encode_witness`] bytes.
    pub witness: Vec<u8>,
}

/// Every basic instance of a batch and each type's closed forms, in type then sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicWitnesses {
    /// The geometry the batch was cut for.
    pub geometry: BasicGeometry,
    /// Every instance, type then sequence order.
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

/// One instance a batch will be cut into, before its witness is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedInstance {
    /// The instance's basic circuit type.
    pub kind: BasicCircuitKind,
    /// 0-based position among the instances of its type, in batch order.
    pub sequence: u32,
    /// The operations it takes, as indices into the executed batch's operation witnesses, in
    /// batch order (a type's items are a subsequence of the operations).
    operations: Vec<usize>,
}

impl PlannedInstance {
    /// The circuit id of the instance's type.
    pub fn circuit(&self) -> CircuitId {
        self.kind.circuit_id()
    }

    /// Items (signatures, operations or deposits) the instance holds.
    pub fn item_count(&self) -> usize {
        self.operations.len()
    }
}

/// How a batch is cut into basic instances, and every type's closed forms, without the
/// instances' witness bytes (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// The geometry the batch is cut for.
    pub geometry: BasicGeometry,
    /// Type then sequence order.
    pub instances: Vec<PlannedInstance>,
    /// One entry per basic type (also for types with no instance), in `CircuitId` order.
    pub closed_forms: Vec<ClosedFormInputs>,
    /// What identifies the executed batch the plan was made from, so that encoding against
    /// another batch is refused rather than producing circuits of mixed batches.
    operations: usize,
    new_root: Digest,
}

impl BatchPlan {
    /// The closed forms of one type.
    pub fn closed_forms_of(&self, circuit: CircuitId) -> Option<&ClosedFormInputs> {
        self.closed_forms.iter().find(|c| c.circuit == circuit)
    }

    /// Builds the witness bytes of `instance`, one of this plan's, from `batch`, the executed
    /// batch the plan was made from.
    pub fn encode(
        &self,
        batch: &ExecutedBatch,
        instance: &PlannedInstance,
    ) -> Result<BasicCircuitInstance, CircuitError> {
        let all = &batch.witness.operations;
        if all.len() != self.operations || batch.new_root != self.new_root {
            return Err(invalid(format!(
                "the plan is of another batch: it was made from {} operations ending at state \
                 root {}, this batch has {} ending at {}",
                self.operations,
                hd(self.new_root),
                all.len(),
                hd(batch.new_root)
            )));
        }
        let chunk = instance
            .operations
            .iter()
            .map(|&i| {
                all.get(i).ok_or_else(|| {
                    invalid(format!(
                        "{} instance {} takes operation {i}, but the batch has {} operations",
                        instance.kind.name(),
                        instance.sequence,
                        all.len()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let witness = match instance.kind {
            BasicCircuitKind::SignatureVerification => signature_witness(&chunk)?,
            BasicCircuitKind::StateTransition => state_witness(batch, &chunk)?,
            BasicCircuitKind::PriorityOperations => priority_witness(&chunk)?,
        };
        Ok(BasicCircuitInstance {
            circuit: instance.circuit(),
            sequence: instance.sequence,
            witness: encode_witness(&self.geometry, &witness)?,
        })
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

/// Cuts `batch` into basic circuit instances for `geometry`, every witness built.
pub fn split_batch(
    batch: &ExecutedBatch,
    geometry: &BasicGeometry,
) -> Result<BasicWitnesses, CircuitError> {
    let plan = plan_batch(batch, geometry)?;
    let instances = plan
        .instances
        .iter()
        .map(|instance| plan.encode(batch, instance))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BasicWitnesses {
        geometry: plan.geometry,
        instances,
        closed_forms: plan.closed_forms,
    })
}

/// Plans how `batch` is cut into basic circuit instances for `geometry`: checks every
/// operation's witness (so that encoding a planned instance later does not fail on the batch),
/// and computes every type's closed forms.
pub fn plan_batch(
    batch: &ExecutedBatch,
    geometry: &BasicGeometry,
) -> Result<BatchPlan, CircuitError> {
    geometry.validate()?;
    let witness = &batch.witness;
    for op in &witness.operations {
        check_operation(op, geometry)?;
    }
    let mut instances = Vec::new();
    let mut closed_forms = Vec::with_capacity(BasicCircuitKind::ALL.len());
    for kind in BasicCircuitKind::ALL {
        let items: Vec<usize> = witness
            .operations
            .iter()
            .enumerate()
            .filter(|(_, op)| takes(kind, op))
            .map(|(i, _)| i)
            .collect();
        let mut forms = Vec::new();
        for (sequence, chunk) in items.chunks(kind.capacity(geometry) as usize).enumerate() {
            let (first, last) = match (chunk.first(), chunk.last()) {
                (Some(&first), Some(&last)) => {
                    (&witness.operations[first], &witness.operations[last])
                }
                _ => return Err(invalid("empty chunk".into())),
            };
            let (input, output) = closed_form_ends(kind, batch, first, last);
            let sequence = u32::try_from(sequence)
                .map_err(|_| invalid(format!("sequence {sequence} overflows u32")))?;
            forms.push(ClosedForm {
                sequence,
                input,
                output,
                item_count: u32::try_from(chunk.len())
                    .map_err(|_| invalid(format!("{} items overflow u32", chunk.len())))?,
            });
            instances.push(PlannedInstance {
                kind,
                sequence,
                operations: chunk.to_vec(),
            });
        }
        closed_forms.push(ClosedFormInputs {
            circuit: kind.circuit_id(),
            instances: forms,
        });
    }
    Ok(BatchPlan {
        geometry: *geometry,
        instances,
        closed_forms,
        operations: witness.operations.len(),
        new_root: batch.new_root,
    })
}

/// Whether an instance of `kind` holds `op`: signature verification every signed operation,
/// state transition every operation, priority operations every deposit.
fn takes(kind: BasicCircuitKind, op: &OperationWitness) -> bool {
    match kind {
        BasicCircuitKind::SignatureVerification => op.signed.is_some(),
        BasicCircuitKind::StateTransition => true,
        BasicCircuitKind::PriorityOperations => matches!(op.operation, Operation::Deposit(_)),
    }
}

/// The checks a witness must pass before any instance is built from it.
fn check_operation(op: &OperationWitness, geometry: &BasicGeometry) -> Result<(), CircuitError> {
    if let Some(s) = &op.signed {
        if s.signature.auth_path.len() != geometry.xmss_height as usize {
            return Err(invalid(format!(
                "operation {}: signature tree height {} differs from the geometry's {}",
                op.index,
                s.signature.auth_path.len(),
                geometry.xmss_height
            )));
        }
    }
    check_updates(op)
}

/// An operation updates one account per lane it uses (Transfer: sender, recipient, operator;
/// Withdraw: sender, operator; Deposit: recipient).
fn check_updates(op: &OperationWitness) -> Result<(), CircuitError> {
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
    Ok(())
}

/// The closed-form input and output of an instance of `kind` running from `first` to `last`.
fn closed_form_ends(
    kind: BasicCircuitKind,
    batch: &ExecutedBatch,
    first: &OperationWitness,
    last: &OperationWitness,
) -> (Vec<u64>, Vec<u64>) {
    let mut input = Vec::new();
    let mut output = Vec::new();
    match kind {
        BasicCircuitKind::SignatureVerification => {
            push_digest(&mut input, first.before.signed_operations);
            push_digest(&mut output, last.after.signed_operations);
        }
        BasicCircuitKind::StateTransition => {
            for d in commitments(&first.before) {
                push_digest(&mut input, d);
            }
            push_u64(&mut input, batch.witness.chain_id.0);
            input.push(u64::from(batch.witness.operator));
            for d in commitments(&last.after) {
                push_digest(&mut output, d);
            }
        }
        BasicCircuitKind::PriorityOperations => {
            push_digest(&mut input, first.before.deposits);
            push_u64(&mut input, first.before.next_priority_serial);
            push_digest(&mut output, last.after.deposits);
            push_u64(&mut output, last.after.next_priority_serial);
        }
    }
    (input, output)
}

fn signature_witness(chunk: &[&OperationWitness]) -> Result<BasicWitness, CircuitError> {
    let (first, _) = ends(chunk)?;
    let mut slots = Vec::with_capacity(chunk.len());
    for op in chunk {
        let Some(s) = &op.signed else {
            return Err(invalid(format!(
                "operation {} is not signed but was planned into a signature instance",
                op.index
            )));
        };
        slots.push(SignatureSlot {
            message: hd(s.message_digest),
            public_key: hd(s.public_key),
            key_index: s.signature.key_index,
            chain_values: s.signature.chain_values.iter().copied().map(hd).collect(),
            auth_path: s.signature.auth_path.iter().copied().map(hd).collect(),
        });
    }
    Ok(BasicWitness::SignatureVerification(SignatureWitness {
        signed_operations_before: hd(first.before.signed_operations),
        slots,
    }))
}

fn state_witness(
    batch: &ExecutedBatch,
    chunk: &[&OperationWitness],
) -> Result<BasicWitness, CircuitError> {
    let (first, last) = ends(chunk)?;
    let mut fees = DeferredFees::new(batch.witness.operator);
    let slots = chunk
        .iter()
        .map(|op| fees.slot(op))
        .collect::<Result<Vec<_>, _>>()?;
    let operator_lane = fees.operator_lane(last.index)?;
    let b = &first.before;
    Ok(BasicWitness::StateTransition(StateWitness {
        chain_id: batch.witness.chain_id.0,
        operator: batch.witness.operator,
        before: StateCommitments {
            state_root: hd(b.state_root),
            operations: hd(b.operations),
            signed_operations: hd(b.signed_operations),
            deposits: hd(b.deposits),
            withdrawals: hd(b.withdrawals),
            pubdata: hd(b.pubdata),
        },
        slots,
        operator_lane,
    }))
}

fn priority_witness(chunk: &[&OperationWitness]) -> Result<BasicWitness, CircuitError> {
    let (first, _) = ends(chunk)?;
    let mut slots = Vec::with_capacity(chunk.len());
    for op in chunk {
        let Operation::Deposit(d) = &op.operation else {
            return Err(invalid(format!(
                "operation {} is not a deposit but was planned into a priority instance",
                op.index
            )));
        };
        slots.push(deposit_item(d));
    }
    Ok(BasicWitness::PriorityOperations(PriorityWitness {
        deposits_before: hd(first.before.deposits),
        next_priority_serial_before: first.before.next_priority_serial,
        slots,
    }))
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

/// An update's path has one sibling per level of the state tree.
fn check_siblings(index: usize, update: &AccountUpdate) -> Result<(), CircuitError> {
    if update.siblings.len() != STATE_TREE_DEPTH {
        return Err(invalid(format!(
            "operation {index}: account {}'s update has {} siblings, expected {STATE_TREE_DEPTH}",
            update.account_id,
            update.siblings.len()
        )));
    }
    Ok(())
}

/// The level at which the paths of two different leaves meet below a common parent: the
/// sibling of `a`'s path at that level is the subtree holding `b`.
fn meeting_level(a: u32, b: u32) -> usize {
    (31 - (a ^ b).leading_zeros()) as usize
}

/// Builds a state instance's lanes as the circuit's tree holds the accounts.
///
/// The native execution credits the operator's fee at every signed operation; the circuit
/// defers the fees (`pending`) to one credit at the end of the instance, or folds them into the
/// operator's account when a lane touches it (`state.rs`). So between credits the circuit's
/// tree differs from the rollup's in one leaf, the operator's, whose balance lacks `pending`,
/// and in that leaf's ancestors. A lane's witness is the native update's, except:
/// - a lane of the operator's own account holds the balance less `pending`; lane A (the
///   operator signs, or gets a deposit) folds `pending` into it, after which the two trees
///   agree again; lane B (the operator receives a transfer) leaves the fees pending;
/// - a lane of another account has one sibling that is an ancestor of the operator's leaf (the
///   subtree where the two paths meet); it is recomputed from the operator's leaf in the
///   circuit's tree and the operator's own siblings below it.
///
/// The operator's siblings are tracked along the native updates: each operator update gives
/// them, and an update of another account changes exactly one of them (its own ancestor at
/// the level where the two paths meet).
struct DeferredFees {
    operator: u32,
    /// Fees of this instance not yet credited in the circuit's tree.
    pending: u64,
    /// Whether the instance has had a signed operation (then the operator lane credits).
    signed: bool,
    /// The operator's account as the rollup last wrote it, and its current siblings (the same
    /// in both trees: none of them holds the operator's leaf). `None` until a native update of
    /// the operator's account in this instance.
    native_operator: Option<(Account, Vec<Digest>)>,
}

impl DeferredFees {
    fn new(operator: u32) -> Self {
        Self {
            operator,
            pending: 0,
            signed: false,
            native_operator: None,
        }
    }

    /// The operator's account in the circuit's tree (the rollup's, less the pending fees).
    fn circuit_operator(&self, index: usize) -> Result<(Account, &[Digest]), CircuitError> {
        let Some((account, siblings)) = &self.native_operator else {
            return Err(invalid(format!(
                "operation {index}: fees are pending but the operator's account was never \
                 updated"
            )));
        };
        let balance = account.balance.checked_sub(self.pending).ok_or_else(|| {
            invalid(format!(
                "operation {index}: the operator's balance {} is below its pending fees {}",
                account.balance, self.pending
            ))
        })?;
        Ok((
            Account {
                balance,
                ..*account
            },
            siblings,
        ))
    }

    /// The lane of one native update of a sender or recipient (not the fee credit), then the
    /// update applied to the tracked operator. `folds`: lane A, which folds the pending fees
    /// into the operator's account.
    fn lane(
        &mut self,
        index: usize,
        update: &AccountUpdate,
        folds: bool,
    ) -> Result<LaneWitness, CircuitError> {
        check_siblings(index, update)?;
        let mut lane = lane(update);
        if update.account_id == self.operator {
            // The circuit's leaf before lacks the pending fees. Lane A folds them (after it the
            // two trees agree again); lane B keeps them pending.
            if self.pending != 0 {
                let Some(account) = &mut lane.account else {
                    return Err(invalid(format!(
                        "operation {index}: fees are pending for an operator account that does \
                         not exist"
                    )));
                };
                account.balance = account.balance.checked_sub(self.pending).ok_or_else(|| {
                    invalid(format!(
                        "operation {index}: the operator's balance {} is below its pending \
                         fees {}",
                        account.balance, self.pending
                    ))
                })?;
                if folds {
                    self.pending = 0;
                }
            }
            self.native_operator = Some((update.leaf_after, update.siblings.clone()));
            return Ok(lane);
        }
        let level = meeting_level(update.account_id, self.operator);
        if self.pending != 0 {
            let (account, siblings) = self.circuit_operator(index)?;
            let leaf = account.leaf_hash();
            let subtree = merkle_root_from_path(leaf, u64::from(self.operator), &siblings[..level]);
            lane.siblings[level] = hd(subtree);
        }
        if let Some((_, siblings)) = &mut self.native_operator {
            // The updated account's ancestor at the meeting level is the operator's sibling.
            let leaf_after = update.leaf_after.leaf_hash();
            siblings[level] = merkle_root_from_path(
                leaf_after,
                u64::from(update.account_id),
                &update.siblings[..level],
            );
        }
        Ok(lane)
    }

    /// The fee credit of a signed operation: the circuit defers it.
    fn fee(&mut self, index: usize, fee: u64, update: &AccountUpdate) -> Result<(), CircuitError> {
        check_siblings(index, update)?;
        if update.account_id != self.operator {
            return Err(invalid(format!(
                "operation {index}: the fee goes to account {}, not the operator {}",
                update.account_id, self.operator
            )));
        }
        self.signed = true;
        self.pending = self
            .pending
            .checked_add(fee)
            .ok_or_else(|| invalid(format!("operation {index}: the pending fees overflow u64")))?;
        self.native_operator = Some((update.leaf_after, update.siblings.clone()));
        Ok(())
    }

    /// The state slot of one operation: its fields and a lane per sender or recipient update,
    /// in the order the rollup applied them (Transfer: sender, recipient; Withdraw: sender;
    /// Deposit: recipient); the operator's update is deferred.
    fn slot(&mut self, op: &OperationWitness) -> Result<StateSlot, CircuitError> {
        check_updates(op)?;
        let u = &op.updates;
        let i = op.index;
        Ok(match &op.operation {
            Operation::Deposit(d) => StateSlot {
                operation: SlotOperation::Deposit(deposit_item(d)),
                lane_a: self.lane(i, &u[0], true)?,
                lane_b: None,
            },
            Operation::Transfer(t) => {
                let lane_a = self.lane(i, &u[0], true)?;
                let lane_b = self.lane(i, &u[1], false)?;
                self.fee(i, t.fee, &u[2])?;
                StateSlot {
                    operation: SlotOperation::Transfer {
                        from: t.from,
                        to: t.to,
                        amount: t.amount,
                        fee: t.fee,
                        nonce: t.nonce,
                    },
                    lane_a,
                    lane_b: Some(lane_b),
                }
            }
            Operation::Withdraw(w) => {
                let lane_a = self.lane(i, &u[0], true)?;
                self.fee(i, w.fee, &u[1])?;
                StateSlot {
                    operation: SlotOperation::Withdraw {
                        from: w.from,
                        l1_recipient: w.l1_recipient.0,
                        amount: w.amount,
                        fee: w.fee,
                        nonce: w.nonce,
                    },
                    lane_a,
                    lane_b: None,
                }
            }
        })
    }

    /// The instance's single fee credit: the operator's account in the circuit's tree after the
    /// last slot (`None` when no signed operation was seen).
    fn operator_lane(&self, last: usize) -> Result<Option<Box<LaneWitness>>, CircuitError> {
        if !self.signed {
            return Ok(None);
        }
        let (account, siblings) = self.circuit_operator(last)?;
        Ok(Some(Box::new(LaneWitness {
            account: Some(account_fields(&account)),
            siblings: siblings.iter().copied().map(hd).collect(),
        })))
    }
}
