//! State transition: applies a chunk of operations to the state tree.
//!
//! Each slot applies one operation, selected by one-hot flags (Deposit / Transfer / Withdraw),
//! through two *lanes* of sparse-Merkle leaf updates against the running state root:
//!
//! | lane | Deposit | Transfer | Withdraw |
//! |---|---|---|---|
//! | A | recipient `to` (created if empty) | sender `from` | sender `from` |
//! | B | — | recipient `to` | — |
//!
//! The operator's fees are not a Merkle update per operation: the instance sums them (`pending`,
//! a `u64` that must not overflow) and credits the sum once, after the last slot, through one
//! *operator lane* (enabled when the instance holds a signed operation; the operator must then
//! exist). The rollup credits every fee as it goes (docs/rollup.md §4), so between credits the
//! circuit's tree holds the operator's balance less `pending`. Where lane A touches the
//! operator's account (the operator signs, or gets a deposit, mid-instance), the lane first
//! *folds* `pending` into the balance it checks and writes, and `pending` restarts at zero: a
//! sender's balance check then sees the balance the rollup sees. A credit (lane B, the
//! operator as a transfer's recipient) needs no fold: between debits the operator's balance
//! only grows, so the overflow check of the next fold or of the final credit covers every
//! intermediate sum the rollup checks. The instance therefore ends at the rollup's root and
//! accepts exactly the rollup's operations. One more rule keeps the rollup's "the operator
//! exists at every signed operation": a deposit may create the operator's account only before
//! the instance's first signed operation (the final credit checks that it exists at the end,
//! and accounts are never deleted).
//!
//! Lane account ids are derived in-circuit from the operation (and the operator id of the
//! closed-form input), never taken from the witness. A lane's account before the update is a
//! witness (its leaf is recomputed and checked against the running root), the account after is
//! computed by the rules: the sender's nonce equals the signed nonce and increments, the sender
//! pays `amount + fee` without underflow, the recipient and operator are credited without
//! overflow, a deposit to an empty leaf creates the account with the deposit's key. Amounts are
//! `u64` as range-checked 32-bit limbs. Fields an operation kind does not use are constrained to
//! zero, so every operation has one encoding.
//!
//! Running commitments advanced per slot (inactive slots change nothing): operations (every
//! op), signed operations (Transfer/Withdraw: `H(acc, msg, signer pk, nonce)`, the signer key
//! taken from the sender's leaf), deposits (Deposit: deposit digest), withdrawals (Withdraw:
//! withdrawal digest) and pubdata (every op).
//!
//! Closed form: input = state root, operations, signed operations, deposits, withdrawals, pubdata
//! (4 each), chain id (lo, hi), operator account id (27 elements); output = the six commitments
//! after (24 elements).

use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use serde::{Deserialize, Serialize};
use zkfleet_rollup::spec::{
    l1_recipient_limbs, DOMAIN_ACCOUNT, DOMAIN_PUBDATA, DOMAIN_TX, DOMAIN_WITHDRAWAL,
    L1_RECIPIENT_LIMBS, STATE_TREE_DEPTH,
};
use zkfleet_types::HashDigest;

use crate::basic::closed_form::register_closed_form;
use crate::basic::priority::{DepositItem, DepositTargets};
use crate::basic::slots::{active_flags, slot_plan};
use crate::basic::witness::set_digest;
use crate::config::BasicGeometry;
use crate::error::CircuitError;
use crate::gadgets::hash::{chain_step_if, constant, hash, select_digest, zero_digest};
use crate::gadgets::merkle::{account_index_bits, update_leaf};
use crate::gadgets::u64::{self as u64g, add_no_overflow, set_bool, set_target, U64Target};
use crate::{D, F};

/// Closed-form input length: six commitments, chain id limbs, operator id.
pub const STATE_INPUT_LEN: usize = 27;
/// Closed-form output length: six commitments.
pub const STATE_OUTPUT_LEN: usize = 24;

/// The running commitments a state-transition instance carries, in closed-form order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCommitments {
    /// The state tree's root.
    pub state_root: HashDigest,
    /// The operations chain.
    pub operations: HashDigest,
    /// The signed-operations chain, which the signature-verification instances must end at
    /// too (it binds each verified signature to the operation applied here).
    pub signed_operations: HashDigest,
    /// The deposits chain.
    pub deposits: HashDigest,
    /// The withdrawals chain.
    pub withdrawals: HashDigest,
    /// The pubdata chain.
    pub pubdata: HashDigest,
}

impl StateCommitments {
    /// The six digests in closed-form order (root, operations, signed operations, deposits,
    /// withdrawals, pubdata).
    pub fn to_array(&self) -> [HashDigest; 6] {
        [
            self.state_root,
            self.operations,
            self.signed_operations,
            self.deposits,
            self.withdrawals,
            self.pubdata,
        ]
    }
}

/// An account as a lane sees it before its update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFields {
    /// The root of the account's one-time-key tree.
    pub public_key: HashDigest,
    /// The balance (for the operator, less the fees not yet credited).
    pub balance: u64,
    /// The nonce: the next one-time key the account signs with.
    pub nonce: u32,
}

/// One lane's witness: the account before the update (`None`: empty leaf) and its 32 siblings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneWitness {
    /// The account in the leaf before the update; `None` for an empty leaf.
    pub account: Option<AccountFields>,
    /// The leaf's 32 Merkle siblings, lowest level first.
    pub siblings: Vec<HashDigest>,
}

impl LaneWitness {
    fn unused() -> Self {
        Self {
            account: None,
            siblings: vec![HashDigest::ZERO; STATE_TREE_DEPTH],
        }
    }
}

/// The operation a slot applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotOperation {
    /// A deposit from the L1 priority queue (the same item the priority-operations circuit
    /// consumes).
    Deposit(DepositItem),
    /// A signed transfer.
    Transfer {
        /// The sender (lane A).
        from: u32,
        /// The recipient (lane B).
        to: u32,
        /// The amount moved.
        amount: u64,
        /// The fee, added to the instance's pending operator credit.
        fee: u64,
        /// The signed nonce (the sender's nonce before the operation).
        nonce: u32,
    },
    /// A signed withdrawal to L1.
    Withdraw {
        /// The sender (lane A).
        from: u32,
        /// Who receives the amount on L1.
        l1_recipient: [u8; 20],
        /// The amount leaving the rollup.
        amount: u64,
        /// The fee, added to the instance's pending operator credit.
        fee: u64,
        /// The signed nonce (the sender's nonce before the operation).
        nonce: u32,
    },
}

/// One operation and its lanes (A, and B for a transfer), as the circuit's tree holds the
/// accounts: an operator's balance there lacks the fees not yet credited (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSlot {
    /// The operation applied.
    pub operation: SlotOperation,
    /// The lane-A account: a deposit's recipient, a transfer's or withdrawal's sender.
    pub lane_a: LaneWitness,
    /// The lane-B account, a transfer's recipient (`None` for other kinds).
    pub lane_b: Option<LaneWitness>,
}

/// Witness of one state-transition instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateWitness {
    /// The batch's chain, bound into every signed message.
    pub chain_id: u64,
    /// The batch's operator account, credited the instance's fees.
    pub operator: u32,
    /// The running commitments the instance starts from (the previous instance's output).
    pub before: StateCommitments,
    /// The operations, at most `operations_per_instance`; the remaining slots are inactive.
    pub slots: Vec<StateSlot>,
    /// The operator's account before the instance's fees are credited, after the last slot
    /// (`None` when the instance holds no signed operation: nothing is credited). Boxed to keep
    /// `BasicWitness`'s variants of similar size.
    pub operator_lane: Option<Box<LaneWitness>>,
}

/// Witness targets of one lane (the account before its update and its Merkle siblings);
/// public for the soundness tests (`tests/soundness_basic.rs`).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct LaneTargets {
    pub exists: BoolTarget,
    pub public_key: HashOutTarget,
    pub balance: U64Target,
    pub nonce: Target,
    pub siblings: Vec<HashOutTarget>,
}

impl LaneTargets {
    /// Witness fields of a lane; an absent account has all-zero fields.
    fn new_virtual(builder: &mut CircuitBuilder<F, D>) -> Self {
        let exists = builder.add_virtual_bool_target_safe();
        let public_key = builder.add_virtual_hash();
        let balance = U64Target::new_virtual(builder);
        let nonce = builder.add_virtual_target();
        builder.range_check(nonce, 32);
        let siblings = builder.add_virtual_hashes(STATE_TREE_DEPTH);
        let absent = builder.not(exists);
        for &field in public_key
            .elements
            .iter()
            .chain(&balance.limbs())
            .chain([&nonce])
        {
            let stray = builder.mul(absent.target, field);
            builder.assert_zero(stray);
        }
        Self {
            exists,
            public_key,
            balance,
            nonce,
            siblings,
        }
    }

    /// The lane's leaf before: `H(DOMAIN_ACCOUNT, …)` or `ZERO` for an empty leaf.
    fn leaf_before(&self, builder: &mut CircuitBuilder<F, D>) -> HashOutTarget {
        let leaf = account_leaf(builder, self.public_key, self.balance, self.nonce);
        let zero = zero_digest(builder);
        select_digest(builder, self.exists, leaf, zero)
    }

    fn set(&self, pw: &mut PartialWitness<F>, lane: &LaneWitness) -> Result<(), CircuitError> {
        if lane.siblings.len() != STATE_TREE_DEPTH {
            return Err(CircuitError::MalformedWitness(format!(
                "lane has {} siblings, expected {STATE_TREE_DEPTH}",
                lane.siblings.len()
            )));
        }
        let account = lane.account.unwrap_or(AccountFields {
            public_key: HashDigest::ZERO,
            balance: 0,
            nonce: 0,
        });
        set_bool(pw, self.exists, lane.account.is_some())?;
        set_digest(pw, self.public_key, account.public_key)?;
        self.balance.set(pw, account.balance)?;
        set_target(pw, self.nonce, u64::from(account.nonce))?;
        for (&t, &v) in self.siblings.iter().zip(&lane.siblings) {
            set_digest(pw, t, v)?;
        }
        Ok(())
    }
}

/// `spec::account_leaf_hash` in-circuit (one permutation).
fn account_leaf(
    builder: &mut CircuitBuilder<F, D>,
    public_key: HashOutTarget,
    balance: U64Target,
    nonce: Target,
) -> HashOutTarget {
    let tag = constant(builder, DOMAIN_ACCOUNT);
    let pk = public_key.elements;
    hash(
        builder,
        vec![
            tag, pk[0], pk[1], pk[2], pk[3], balance.lo, balance.hi, nonce,
        ],
    )
}

/// Targets of one operation slot: its witness inputs and, for the soundness tests
/// (`tests/soundness_basic.rs`), the digests and running commitments computed from them.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct StateSlotTargets {
    pub active: BoolTarget,
    pub is_deposit: BoolTarget,
    pub is_transfer: BoolTarget,
    pub is_withdraw: BoolTarget,
    pub from: Target,
    pub amount: U64Target,
    pub fee: U64Target,
    pub nonce: Target,
    pub l1_recipient: [Target; L1_RECIPIENT_LIMBS],
    /// `to`, priority serial, key and amount of a deposit; `to` doubles as a transfer's
    /// recipient and `amount` as every kind's amount.
    pub deposit: DepositTargets,
    /// Sender's balance after paying (a hint checked by `after + amount + fee = before`).
    pub sender_balance_after: U64Target,
    pub lane_a: LaneTargets,
    pub lane_b: LaneTargets,
    /// Computed: the fees not yet credited after this slot.
    pub pending_after: U64Target,
    /// Computed: signed message, deposit, withdrawal and pubdata digests of the slot.
    pub message: HashOutTarget,
    pub deposit_digest: HashOutTarget,
    pub withdrawal_digest: HashOutTarget,
    pub pubdata_digest: HashOutTarget,
    /// Computed: the operations, signed-operations, deposits, withdrawals and pubdata chains
    /// after this slot (closed-form order without the root).
    pub chains_after: [HashOutTarget; 5],
}

/// Targets of the state-transition circuit.
#[derive(Debug, Clone)]
pub struct StateLayout {
    before: [HashOutTarget; 6],
    chain_id: U64Target,
    operator: Target,
    slots: Vec<StateSlotTargets>,
    operator_lane: LaneTargets,
    root_after: HashOutTarget,
}

/// Enforces `flag · x = 0` for each `x` (a field unused by the operation kind is zero).
fn assert_unused(builder: &mut CircuitBuilder<F, D>, flag: Target, fields: &[Target]) {
    for &x in fields {
        let product = builder.mul(flag, x);
        builder.assert_zero(product);
    }
}

impl StateLayout {
    pub(crate) fn define(builder: &mut CircuitBuilder<F, D>, geometry: &BasicGeometry) -> Self {
        let capacity = geometry.operations_per_instance as usize;
        let before: [HashOutTarget; 6] = std::array::from_fn(|_| builder.add_virtual_hash());
        let chain_id = U64Target::new_virtual(builder);
        let operator = builder.add_virtual_target();
        let operator_bits = account_index_bits(builder, operator);
        let (actives, count) = active_flags(builder, capacity);

        let [mut root, mut operations, mut signed_operations, mut deposits, mut withdrawals, mut pubdata] =
            before;
        let mut slots = Vec::with_capacity(capacity);
        // Fees not yet credited to the operator, and whether a signed operation was seen.
        let mut pending = U64Target::zero(builder);
        let mut seen_signed = builder._false();
        for active in actives {
            let is_deposit = builder.add_virtual_bool_target_safe();
            let is_transfer = builder.add_virtual_bool_target_safe();
            let is_withdraw = builder.add_virtual_bool_target_safe();
            let kinds =
                builder.add_many([is_deposit.target, is_transfer.target, is_withdraw.target]);
            builder.connect(kinds, active.target);
            // One-hot flags: at most one is set, so their sum is boolean.
            let signed =
                BoolTarget::new_unsafe(builder.add(is_transfer.target, is_withdraw.target));
            let not_withdraw = builder.not(is_withdraw);

            let from = builder.add_virtual_target();
            builder.range_check(from, 32);
            let nonce = builder.add_virtual_target();
            builder.range_check(nonce, 32);
            let fee = U64Target::new_virtual(builder);
            let l1_recipient: [Target; L1_RECIPIENT_LIMBS] = std::array::from_fn(|_| {
                let limb = builder.add_virtual_target();
                builder.range_check(limb, 32);
                limb
            });
            let deposit = DepositTargets::new_virtual(builder);
            let to = deposit.to;
            let amount = deposit.amount;

            // One encoding per operation: fields the kind does not use are zero.
            assert_unused(builder, is_deposit.target, &[from, nonce, fee.lo, fee.hi]);
            assert_unused(builder, not_withdraw.target, &l1_recipient);
            assert_unused(builder, is_withdraw.target, &[to]);
            assert_unused(
                builder,
                signed.target,
                &[
                    deposit.priority_serial.lo,
                    deposit.priority_serial.hi,
                    deposit.has_key.target,
                ],
            );

            // Digests (spec.rs): the signed message, deposit, withdrawal and pubdata.
            let two = F::TWO;
            let three = F::from_canonical_u64(3);
            let kind = builder.mul_const_add(two, is_transfer.target, is_deposit.target);
            let kind = builder.mul_const_add(three, is_withdraw.target, kind);
            let tx_tag = constant(builder, DOMAIN_TX);
            let mut message_inputs = vec![tx_tag, kind, chain_id.lo, chain_id.hi, from, to];
            message_inputs.extend_from_slice(&amount.limbs());
            message_inputs.extend_from_slice(&fee.limbs());
            message_inputs.push(nonce);
            message_inputs.extend_from_slice(&l1_recipient);
            let message = hash(builder, message_inputs);
            let deposit_digest = deposit.digest(builder);
            let withdrawal_tag = constant(builder, DOMAIN_WITHDRAWAL);
            let mut withdrawal_inputs = vec![withdrawal_tag, from];
            withdrawal_inputs.extend_from_slice(&l1_recipient);
            withdrawal_inputs.extend_from_slice(&amount.limbs());
            let withdrawal_digest = hash(builder, withdrawal_inputs);
            // Pubdata: a = from (signed) or to (deposit); b = to (transfer); x = recipient
            // (withdraw) or key and has_key (deposit). Unused fields are zero, so sums select.
            let account_a = builder.mul_add(is_deposit.target, to, from);
            let account_b = builder.mul(is_transfer.target, to);
            let pk = deposit.public_key.elements;
            let pubdata_tag = constant(builder, DOMAIN_PUBDATA);
            let mut pubdata_inputs = vec![pubdata_tag, kind, account_a, account_b];
            pubdata_inputs.extend_from_slice(&amount.limbs());
            pubdata_inputs.extend_from_slice(&fee.limbs());
            for (&limb, &key) in l1_recipient.iter().zip(&pk) {
                pubdata_inputs.push(builder.add(limb, key));
            }
            pubdata_inputs.push(builder.add(l1_recipient[4], deposit.has_key.target));
            let pubdata_digest = hash(builder, pubdata_inputs);
            let operation_digest = select_digest(builder, is_deposit, deposit_digest, message);

            // Lane A: the sender of a signed operation, the recipient of a deposit.
            let lane_a = LaneTargets::new_virtual(builder);
            let sender_balance_after = U64Target::new_virtual(builder);
            let folds_a;
            {
                // The operator's account: its pending fees join the balance first.
                let is_operator = builder.is_equal(account_a, operator);
                folds_a = builder.and(active, is_operator);
                let owed = u64g::mask(builder, folds_a, pending);
                let balance_before = add_no_overflow(builder, lane_a.balance, owed);
                let keeps = builder.not(folds_a);
                pending = u64g::mask(builder, keeps, pending);

                let absent = builder.not(lane_a.exists);
                // A signer must exist and sign with its current nonce (= one-time key index).
                assert_unused(builder, signed.target, &[absent.target]);
                builder.conditional_assert_eq(signed.target, lane_a.nonce, nonce);
                // A deposit to an empty leaf creates the account: it must carry a key.
                let creates = builder.and(is_deposit, absent);
                let no_key = builder.not(deposit.has_key);
                assert_unused(builder, creates.target, &[no_key.target]);
                // The operator's account is created before the first signed operation or
                // never in this instance (the rollup refuses a signed operation while the
                // operator does not exist; the final credit sees only the end).
                let creates_operator = builder.and(creates, folds_a);
                assert_unused(builder, seen_signed.target, &[creates_operator.target]);
                // A deposit to an existing account may name its key, but not another one.
                let tops_up = builder.and(is_deposit, lane_a.exists);
                let names_key = builder.and(tops_up, deposit.has_key);
                crate::gadgets::hash::conditional_assert_digest_eq(
                    builder,
                    names_key.target,
                    deposit.public_key,
                    lane_a.public_key,
                );

                // Sender: after + (amount + fee) = before, no overflow anywhere.
                let paid = add_no_overflow(builder, amount, fee);
                let paid = u64g::mask(builder, signed, paid);
                let kept = u64g::mask(builder, signed, sender_balance_after);
                let recomposed = add_no_overflow(builder, kept, paid);
                u64g::conditional_assert_eq(builder, signed.target, recomposed, balance_before);
                // Deposit recipient: before + amount (before = 0 for a new account).
                let credited = u64g::mask(builder, is_deposit, amount);
                let deposited = add_no_overflow(builder, balance_before, credited);
                let balance_after = u64g::select(builder, signed, sender_balance_after, deposited);
                let nonce_after = builder.add(lane_a.nonce, signed.target);
                builder.range_check(nonce_after, 32);
                let key_after =
                    select_digest(builder, creates, deposit.public_key, lane_a.public_key);

                let leaf_before = lane_a.leaf_before(builder);
                let leaf_after = account_leaf(builder, key_after, balance_after, nonce_after);
                let bits = account_index_bits(builder, account_a);
                root = update_leaf(
                    builder,
                    active,
                    root,
                    &bits,
                    &lane_a.siblings,
                    leaf_before,
                    leaf_after,
                );
            }

            // Lane B: the recipient of a transfer, credited `amount`.
            let lane_b = LaneTargets::new_virtual(builder);
            {
                // The operator's account as recipient keeps its pending fees pending: a credit
                // needs no fold, the final credit's overflow check covers both (sums only grow).
                let absent = builder.not(lane_b.exists);
                assert_unused(builder, is_transfer.target, &[absent.target]);
                let credited = u64g::mask(builder, is_transfer, amount);
                let balance_after = add_no_overflow(builder, lane_b.balance, credited);
                let leaf_before = lane_b.leaf_before(builder);
                let leaf_after =
                    account_leaf(builder, lane_b.public_key, balance_after, lane_b.nonce);
                let bits = account_index_bits(builder, to);
                root = update_leaf(
                    builder,
                    is_transfer,
                    root,
                    &bits,
                    &lane_b.siblings,
                    leaf_before,
                    leaf_after,
                );
            }

            // The fee waits for the instance's single credit.
            let fee_due = u64g::mask(builder, signed, fee);
            pending = add_no_overflow(builder, pending, fee_due);
            seen_signed = builder.or(seen_signed, signed);

            // Running commitments.
            operations = chain_step_if(builder, active, operations, operation_digest);
            let mut signed_inputs = signed_operations.elements.to_vec();
            signed_inputs.extend_from_slice(&message.elements);
            signed_inputs.extend_from_slice(&lane_a.public_key.elements);
            signed_inputs.push(nonce);
            let signed_next = hash(builder, signed_inputs);
            signed_operations = select_digest(builder, signed, signed_next, signed_operations);
            deposits = chain_step_if(builder, is_deposit, deposits, deposit_digest);
            withdrawals = chain_step_if(builder, is_withdraw, withdrawals, withdrawal_digest);
            pubdata = chain_step_if(builder, active, pubdata, pubdata_digest);

            slots.push(StateSlotTargets {
                active,
                is_deposit,
                is_transfer,
                is_withdraw,
                from,
                amount,
                fee,
                nonce,
                l1_recipient,
                deposit,
                sender_balance_after,
                lane_a,
                lane_b,
                pending_after: pending,
                message,
                deposit_digest,
                withdrawal_digest,
                pubdata_digest,
                chains_after: [
                    operations,
                    signed_operations,
                    deposits,
                    withdrawals,
                    pubdata,
                ],
            });
        }

        // The operator, credited the instance's fees once (when it holds a signed operation).
        let operator_lane = LaneTargets::new_virtual(builder);
        {
            let absent = builder.not(operator_lane.exists);
            assert_unused(builder, seen_signed.target, &[absent.target]);
            let balance_after = add_no_overflow(builder, operator_lane.balance, pending);
            let leaf_before = operator_lane.leaf_before(builder);
            let leaf_after = account_leaf(
                builder,
                operator_lane.public_key,
                balance_after,
                operator_lane.nonce,
            );
            root = update_leaf(
                builder,
                seen_signed,
                root,
                &operator_bits,
                &operator_lane.siblings,
                leaf_before,
                leaf_after,
            );
        }

        let mut input: Vec<Target> = before.iter().flat_map(|d| d.elements).collect();
        input.extend_from_slice(&chain_id.limbs());
        input.push(operator);
        let output: Vec<Target> = [
            root,
            operations,
            signed_operations,
            deposits,
            withdrawals,
            pubdata,
        ]
        .iter()
        .flat_map(|d| d.elements)
        .collect();
        debug_assert_eq!(input.len(), STATE_INPUT_LEN);
        debug_assert_eq!(output.len(), STATE_OUTPUT_LEN);
        register_closed_form(builder, &input, &output, count);
        Self {
            before,
            chain_id,
            operator,
            slots,
            operator_lane,
            root_after: root,
        }
    }

    /// The closed-form input targets: the six commitments before, chain id, operator id.
    #[doc(hidden)]
    pub fn inputs(&self) -> (&[HashOutTarget; 6], U64Target, Target) {
        (&self.before, self.chain_id, self.operator)
    }

    /// Every slot's targets, for the soundness tests.
    #[doc(hidden)]
    pub fn slots(&self) -> &[StateSlotTargets] {
        &self.slots
    }

    /// The operator lane's witness targets (the instance's single fee credit), for the
    /// soundness tests.
    #[doc(hidden)]
    pub fn operator_lane(&self) -> &LaneTargets {
        &self.operator_lane
    }

    /// The state root the instance outputs (computed), for the soundness tests.
    #[doc(hidden)]
    pub fn root_after(&self) -> HashOutTarget {
        self.root_after
    }

    pub(crate) fn set(
        &self,
        pw: &mut PartialWitness<F>,
        witness: &StateWitness,
        activity: Option<&[bool]>,
    ) -> Result<(), CircuitError> {
        let plan = slot_plan(self.slots.len(), witness.slots.len(), activity)?;
        for (&target, value) in self.before.iter().zip(witness.before.to_array()) {
            set_digest(pw, target, value)?;
        }
        self.chain_id.set(pw, witness.chain_id)?;
        set_target(pw, self.operator, u64::from(witness.operator))?;
        let unused = LaneWitness::unused();
        let padding = StateSlot {
            operation: SlotOperation::Deposit(crate::basic::priority::PADDING_DEPOSIT),
            lane_a: unused.clone(),
            lane_b: None,
        };
        // The fees not yet credited, as the circuit sums them: the sender hint below needs the
        // balance a lane sees after folding them into the operator's account.
        let mut pending: u64 = 0;
        for (targets, planned) in self.slots.iter().zip(plan) {
            let (active, slot) = match planned {
                Some(index) => (true, &witness.slots[index]),
                None => (false, &padding),
            };
            set_bool(pw, targets.active, active)?;
            let zero_deposit = crate::basic::priority::PADDING_DEPOSIT;
            let (flags, from, fee, nonce, recipient, deposit) = match &slot.operation {
                SlotOperation::Deposit(item) => {
                    ([active, false, false], 0, 0, 0, [0u8; 20], item.clone())
                }
                SlotOperation::Transfer {
                    from,
                    to,
                    amount,
                    fee,
                    nonce,
                } => (
                    [false, true, false],
                    *from,
                    *fee,
                    *nonce,
                    [0u8; 20],
                    DepositItem {
                        to: *to,
                        amount: *amount,
                        ..zero_deposit
                    },
                ),
                SlotOperation::Withdraw {
                    from,
                    l1_recipient,
                    amount,
                    fee,
                    nonce,
                } => (
                    [false, false, true],
                    *from,
                    *fee,
                    *nonce,
                    *l1_recipient,
                    DepositItem {
                        amount: *amount,
                        ..zero_deposit
                    },
                ),
            };
            set_bool(pw, targets.is_deposit, flags[0])?;
            set_bool(pw, targets.is_transfer, flags[1])?;
            set_bool(pw, targets.is_withdraw, flags[2])?;
            set_target(pw, targets.from, u64::from(from))?;
            targets.fee.set(pw, fee)?;
            set_target(pw, targets.nonce, u64::from(nonce))?;
            for (&t, limb) in targets
                .l1_recipient
                .iter()
                .zip(l1_recipient_limbs(&recipient))
            {
                set_target(pw, t, limb.to_canonical_u64())?;
            }
            targets.deposit.set(pw, &deposit)?;
            debug_assert_eq!(targets.amount.lo, targets.deposit.amount.lo);
            // The hint: what the sender keeps, from the balance lane A sees (its account's,
            // plus the pending fees if it is the operator's). Wrapping keeps a bad witness
            // provable-to-fail rather than a panic; the circuit's recomposition check rejects
            // it.
            let operator = witness.operator;
            let (account_a, fee_due) = match &slot.operation {
                SlotOperation::Deposit(item) => (item.to, 0),
                SlotOperation::Transfer { from, fee, .. }
                | SlotOperation::Withdraw { from, fee, .. } => (*from, *fee),
            };
            let owed_a = if active && account_a == operator {
                std::mem::take(&mut pending)
            } else {
                0
            };
            let kept = match (&slot.operation, slot.lane_a.account) {
                (SlotOperation::Transfer { amount, fee, .. }, Some(sender))
                | (SlotOperation::Withdraw { amount, fee, .. }, Some(sender)) => sender
                    .balance
                    .wrapping_add(owed_a)
                    .wrapping_sub(*amount)
                    .wrapping_sub(*fee),
                _ => 0,
            };
            pending = pending.wrapping_add(fee_due);
            targets.sender_balance_after.set(pw, kept)?;
            targets.lane_a.set(pw, &slot.lane_a)?;
            targets
                .lane_b
                .set(pw, slot.lane_b.as_ref().unwrap_or(&unused))?;
        }
        self.operator_lane
            .set(pw, witness.operator_lane.as_deref().unwrap_or(&unused))?;
        Ok(())
    }
}
