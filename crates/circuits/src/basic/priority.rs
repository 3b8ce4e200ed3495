//! Priority operations: consumes a chunk of the L1 deposit (priority) queue.
//!
//! Each slot takes the next deposit of the queue: its priority serial must equal the running
//! next serial (so no deposit is skipped or repeated), its digest `spec::deposit_digest` is
//! computed from its fields (amount limbs and recipient range-checked, the public key zero when
//! absent), and the deposits chain advances with `H2(acc, digest)`. The state-transition circuit
//! hashes the digest of every Deposit it applies, recomputed from the same fields, into its own
//! deposits chain; the scheduler checks both chains end equal, which ties the deposits applied
//! to the state to the L1 queue, in order.
//!
//! Closed form: input = deposits chain before (4), next priority serial before (lo, hi);
//! output = deposits chain after (4), next priority serial after (lo, hi).

use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use serde::{Deserialize, Serialize};
use zkfleet_rollup::spec::DOMAIN_DEPOSIT;
use zkfleet_types::HashDigest;

use crate::basic::closed_form::register_closed_form;
use crate::basic::slots::{active_flags, slot_plan};
use crate::basic::witness::set_digest;
use crate::config::BasicGeometry;
use crate::error::CircuitError;
use crate::gadgets::hash::{chain_step_if, constant, hash};
use crate::gadgets::u64::{self as u64g, add_no_overflow, set_bool, set_target, U64Target};
use crate::{D, F};

/// Closed-form input length: deposits chain (4) + next priority serial (2).
pub const PRIORITY_INPUT_LEN: usize = 6;
/// Closed-form output length: deposits chain (4) + next priority serial (2).
pub const PRIORITY_OUTPUT_LEN: usize = 6;

/// One deposit of the L1 priority queue, as the queue records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositItem {
    /// Position in the L1 priority queue; consecutive across a batch's deposits.
    pub priority_serial: u64,
    /// The account credited.
    pub to: u32,
    /// The key of the account to create, if the deposit carries one.
    pub public_key: Option<HashDigest>,
    /// The amount credited.
    pub amount: u64,
}

/// Witness of one priority-operations instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityWitness {
    /// The deposits chain the instance starts from (the previous instance's output).
    pub deposits_before: HashDigest,
    /// The serial the instance's first deposit must carry.
    pub next_priority_serial_before: u64,
    /// The deposits, at most `deposits_per_instance`; the remaining slots are inactive.
    pub slots: Vec<DepositItem>,
}

/// Targets of one deposit's fields, shared with the state-transition circuit.
#[derive(Debug, Clone, Copy)]
pub struct DepositTargets {
    /// The deposit's priority serial, as two 32-bit limbs.
    pub priority_serial: U64Target,
    /// The recipient's account id (range-checked to 32 bits).
    pub to: Target,
    /// Whether the deposit carries a public key.
    pub has_key: BoolTarget,
    /// The public key (all zero when `has_key` is false).
    pub public_key: HashOutTarget,
    /// The amount, as two 32-bit limbs.
    pub amount: U64Target,
}

impl DepositTargets {
    /// New witness fields, range-checked, with the key forced to zero when absent.
    pub fn new_virtual(builder: &mut CircuitBuilder<F, D>) -> Self {
        let priority_serial = U64Target::new_virtual(builder);
        let to = builder.add_virtual_target();
        builder.range_check(to, 32);
        let has_key = builder.add_virtual_bool_target_safe();
        let public_key = builder.add_virtual_hash();
        let no_key = builder.not(has_key);
        for &e in &public_key.elements {
            let stray = builder.mul(no_key.target, e);
            builder.assert_zero(stray);
        }
        let amount = U64Target::new_virtual(builder);
        Self {
            priority_serial,
            to,
            has_key,
            public_key,
            amount,
        }
    }

    /// `spec::deposit_digest`.
    pub fn digest(&self, builder: &mut CircuitBuilder<F, D>) -> HashOutTarget {
        let tag = constant(builder, DOMAIN_DEPOSIT);
        let pk = self.public_key.elements;
        hash(
            builder,
            vec![
                tag,
                self.priority_serial.lo,
                self.priority_serial.hi,
                self.to,
                self.has_key.target,
                pk[0],
                pk[1],
                pk[2],
                pk[3],
                self.amount.lo,
                self.amount.hi,
            ],
        )
    }

    /// Assigns `item` to these targets.
    pub fn set(&self, pw: &mut PartialWitness<F>, item: &DepositItem) -> Result<(), CircuitError> {
        self.priority_serial.set(pw, item.priority_serial)?;
        set_target(pw, self.to, u64::from(item.to))?;
        set_bool(pw, self.has_key, item.public_key.is_some())?;
        set_digest(
            pw,
            self.public_key,
            item.public_key.unwrap_or(HashDigest::ZERO),
        )?;
        self.amount.set(pw, item.amount)
    }
}

/// The padding deposit of an inactive slot.
pub(crate) const PADDING_DEPOSIT: DepositItem = DepositItem {
    priority_serial: 0,
    to: 0,
    public_key: None,
    amount: 0,
};

/// Targets of one deposit slot: its witness inputs and, for the soundness tests
/// (`tests/soundness_basic.rs`), the running commitments after it.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct PrioritySlotTargets {
    pub active: BoolTarget,
    pub deposit: DepositTargets,
    /// The deposits chain after this slot.
    pub chain_after: HashOutTarget,
    /// The next priority serial after this slot.
    pub next_serial_after: U64Target,
}

/// Targets of the priority-operations circuit.
#[derive(Debug, Clone)]
pub struct PriorityLayout {
    deposits_before: HashOutTarget,
    next_serial_before: U64Target,
    slots: Vec<PrioritySlotTargets>,
}

impl PriorityLayout {
    pub(crate) fn define(builder: &mut CircuitBuilder<F, D>, geometry: &BasicGeometry) -> Self {
        let capacity = geometry.deposits_per_instance as usize;
        let deposits_before = builder.add_virtual_hash();
        let next_serial_before = U64Target::new_virtual(builder);
        let one = U64Target {
            lo: builder.one(),
            hi: builder.zero(),
        };
        let (actives, count) = active_flags(builder, capacity);
        let mut chain = deposits_before;
        let mut next_serial = next_serial_before;
        let mut slots = Vec::with_capacity(capacity);
        for active in actives {
            let deposit = DepositTargets::new_virtual(builder);
            u64g::conditional_assert_eq(
                builder,
                active.target,
                deposit.priority_serial,
                next_serial,
            );
            let digest = deposit.digest(builder);
            chain = chain_step_if(builder, active, chain, digest);
            // Serials are u64: the queue can never wrap, so the increment must not overflow.
            let incremented = add_no_overflow(builder, next_serial, one);
            next_serial = u64g::select(builder, active, incremented, next_serial);
            slots.push(PrioritySlotTargets {
                active,
                deposit,
                chain_after: chain,
                next_serial_after: next_serial,
            });
        }
        let mut input = deposits_before.elements.to_vec();
        input.extend_from_slice(&next_serial_before.limbs());
        let mut output = chain.elements.to_vec();
        output.extend_from_slice(&next_serial.limbs());
        register_closed_form(builder, &input, &output, count);
        Self {
            deposits_before,
            next_serial_before,
            slots,
        }
    }

    /// The closed-form input targets: deposits chain and next serial before the first slot.
    #[doc(hidden)]
    pub fn before(&self) -> (HashOutTarget, U64Target) {
        (self.deposits_before, self.next_serial_before)
    }

    /// Every slot's targets, for the soundness tests.
    #[doc(hidden)]
    pub fn slots(&self) -> &[PrioritySlotTargets] {
        &self.slots
    }

    pub(crate) fn set(
        &self,
        pw: &mut PartialWitness<F>,
        witness: &PriorityWitness,
        activity: Option<&[bool]>,
    ) -> Result<(), CircuitError> {
        let plan = slot_plan(self.slots.len(), witness.slots.len(), activity)?;
        set_digest(pw, self.deposits_before, witness.deposits_before)?;
        self.next_serial_before
            .set(pw, witness.next_priority_serial_before)?;
        for (targets, planned) in self.slots.iter().zip(plan) {
            let (active, item) = match planned {
                Some(index) => (true, &witness.slots[index]),
                None => (false, &PADDING_DEPOSIT),
            };
            set_bool(pw, targets.active, active)?;
            targets.deposit.set(pw, item)?;
        }
        Ok(())
    }
}
