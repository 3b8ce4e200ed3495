//! Adversarial soundness tests of the basic circuits (issue 14, part 3).
//!
//! The tests of `basic_circuits.rs` tamper with a typed witness and go through the honest
//! witness generators, which recompute every hint, so a bad value is mostly caught by a hint
//! that disagrees with it rather than by the rule it breaks. Here every attack is a
//! *self-consistent* bad witness: all witness inputs are written directly (not through
//! `layout().assign`), Merkle siblings come from a native model of the tree that applies the
//! circuit's own arithmetic (so every enabled lane's root check holds, whatever the attack
//! does to the leaves), and hint outputs the attack needs (bit decompositions, chain values,
//! digests) are forced with `adversary::attack`'s overrides. Only the rule under test stands
//! between the witness and a proof.
//!
//! Every test first runs a CONTROL through the same route with honest values (the same
//! targets overridden with the values honest generation gives them) and requires a valid
//! proof, so a harness that fails for another reason cannot pass as a rejection.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod adversary;
mod basic_support;

use std::collections::BTreeMap;

use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hash_types::{HashOut, HashOutTarget};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::config::Hasher;

use adversary::{attack, honest_values, split_sum_of, Outcome, Rejection};
use basic_support::{circuit, GEOMETRY};
use zkfleet_circuits::basic::priority::PriorityLayout;
use zkfleet_circuits::basic::signature::SignatureLayout;
use zkfleet_circuits::basic::state::{StateLayout, StateSlotTargets};
use zkfleet_circuits::basic::BasicCircuitKind;
use zkfleet_circuits::F;
use zkfleet_rollup::spec::{self, STATE_TREE_DEPTH, WOTS_L, WOTS_L1};

type Digest = HashOut<F>;

// ---------------------------------------------------------------------------------------------
// Values.
// ---------------------------------------------------------------------------------------------

fn f(x: u64) -> F {
    F::from_canonical_u64(x)
}

fn limbs(x: u64) -> [F; 2] {
    spec::u64_limbs(x)
}

/// A pseudo-random digest standing for a public key or an unrelated commitment.
fn digest(seed: u64) -> Digest {
    PoseidonHash::hash_no_pad(&[f(seed), f(0x5eed)])
}

fn set(pw: &mut PartialWitness<F>, t: Target, v: F) {
    pw.set_target(t, v).expect("each input target is set once");
}

fn set_hash(pw: &mut PartialWitness<F>, t: HashOutTarget, v: Digest) {
    for (&t, &v) in t.elements.iter().zip(&v.elements) {
        set(pw, t, v);
    }
}

/// Overrides of a digest target.
fn digest_overrides(t: HashOutTarget, v: Digest) -> Vec<(Target, F)> {
    t.elements.iter().copied().zip(v.elements).collect()
}

/// Where and how an attack must be stopped. A copy-constraint rejection names the partition
/// and the value the attack gave it, which identifies the constraint: the rule under test,
/// not another one the attack happened to break.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A constraint `x = 0` (`assert_zero`, `conditional_assert_eq`, `assert_bool`, a
    /// `connect`) met this value of `x`.
    Conflict(u64),
    /// Bit `i` of a `split_le` range check (`BaseSumGate` limb column `1 + i`), asserted zero
    /// above the checked width, was 1: the value did not fit.
    RangeBit(usize),
    /// Some copy constraint (the conflicting value is not predictable, e.g. a digest
    /// difference).
    AnyConflict,
    /// Only the verifier sees it: a gate constraint (Poseidon, arithmetic) fails.
    Verification,
}

impl Expect {
    #[track_caller]
    fn check(self, what: &str, rejection: &Rejection) {
        let ok = match (self, rejection) {
            (Expect::Conflict(value), Rejection::CopyConstraint(m)) => {
                m.ends_with(&format!(" 0 != {value}"))
            }
            (Expect::RangeBit(bit), Rejection::CopyConstraint(m)) => {
                m.contains(&format!("column: {} }})", 1 + bit)) && m.ends_with(" 0 != 1")
            }
            (Expect::AnyConflict, Rejection::CopyConstraint(_)) => true,
            (Expect::Verification, Rejection::Verification(_)) => true,
            _ => false,
        };
        assert!(ok, "{what}: expected {self:?}, stopped by {rejection:?}");
    }
}

/// The conflict value of a constraint `x = 0` met with `x = −1`.
fn minus_one() -> u64 {
    F::NEG_ONE.to_canonical_u64()
}

/// Runs an attack and its control: the control must be accepted, the attack rejected where
/// `expect` says. Returns the rejection (its stage is logged for the report).
#[track_caller]
fn expect_rejected(what: &str, expect: Expect, control: Outcome, attack: Outcome) -> Rejection {
    control.assert_accepted(&format!("{what} (control)"));
    let rejection = attack.assert_rejected(what);
    eprintln!("STAGE {what}: {}", stage(&rejection));
    expect.check(what, &rejection);
    rejection
}

fn stage(r: &Rejection) -> &'static str {
    match r {
        Rejection::CopyConstraint(_) => "copy-constraint",
        Rejection::Proving(_) => "proving",
        Rejection::Verification(_) => "verification",
    }
}

// ---------------------------------------------------------------------------------------------
// A native model of the state tree and of one state slot, in the circuit's own arithmetic.
// ---------------------------------------------------------------------------------------------

/// An account's leaf fields as field elements (an attack may hold values no `u64`/`u32` has,
/// e.g. a nonce incremented to 2^32).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Account {
    public_key: [F; 4],
    balance: [F; 2],
    nonce: F,
}

impl Account {
    fn new(public_key: Digest, balance: u64, nonce: u32) -> Self {
        Self {
            public_key: public_key.elements,
            balance: limbs(balance),
            nonce: f(u64::from(nonce)),
        }
    }

    const ZERO: Self = Self {
        public_key: [F::ZERO; 4],
        balance: [F::ZERO; 2],
        nonce: F::ZERO,
    };

    /// `H(DOMAIN_ACCOUNT, pk, balance_lo, balance_hi, nonce)`, as the circuit hashes it.
    fn leaf(&self) -> Digest {
        let pk = self.public_key;
        PoseidonHash::hash_no_pad(&[
            f(spec::DOMAIN_ACCOUNT),
            pk[0],
            pk[1],
            pk[2],
            pk[3],
            self.balance[0],
            self.balance[1],
            self.nonce,
        ])
    }
}

/// A sparse state tree holding a few accounts (depth 32, empty leaf `ZERO`).
#[derive(Debug, Clone)]
struct Tree {
    accounts: BTreeMap<u64, Account>,
    empty: [Digest; STATE_TREE_DEPTH + 1],
}

impl Tree {
    fn new(accounts: &[(u64, Account)]) -> Self {
        Self {
            accounts: accounts.iter().copied().collect(),
            empty: spec::empty_subtree_hashes(),
        }
    }

    /// The node at `level` (0 = leaves) and `index`; only non-empty subtrees are hashed.
    fn node(&self, level: usize, index: u64) -> Digest {
        let start = index << level;
        let end = (index + 1) << level;
        if self.accounts.range(start..end).next().is_none() {
            return self.empty[level];
        }
        if level == 0 {
            return self.accounts[&index].leaf();
        }
        spec::two_to_one(
            self.node(level - 1, 2 * index),
            self.node(level - 1, 2 * index + 1),
        )
    }

    fn root(&self) -> Digest {
        self.node(STATE_TREE_DEPTH, 0)
    }

    fn leaf(&self, index: u64) -> Digest {
        self.node(0, index)
    }

    fn siblings(&self, index: u64) -> Vec<Digest> {
        (0..STATE_TREE_DEPTH)
            .map(|level| self.node(level, (index >> level) ^ 1))
            .collect()
    }

    /// The lane witness an honest prover gives for account `index`.
    fn lane(&self, index: u64) -> Lane {
        match self.accounts.get(&index) {
            Some(&account) => Lane {
                exists: F::ONE,
                account,
                siblings: self.siblings(index),
            },
            None => Lane {
                exists: F::ZERO,
                account: Account::ZERO,
                siblings: self.siblings(index),
            },
        }
    }
}

#[derive(Debug, Clone)]
struct Lane {
    exists: F,
    account: Account,
    siblings: Vec<Digest>,
}

impl Lane {
    fn unused() -> Self {
        Self {
            exists: F::ZERO,
            account: Account::ZERO,
            siblings: vec![spec::ZERO; STATE_TREE_DEPTH],
        }
    }

    /// `select(exists, leaf, ZERO)` in the circuit's arithmetic.
    fn leaf_before(&self) -> Digest {
        HashOut {
            elements: self.account.leaf().elements.map(|e| e * self.exists),
        }
    }
}

/// Every witness input of one state slot, as raw field elements.
#[derive(Debug, Clone)]
struct Op {
    active: F,
    is_deposit: F,
    is_transfer: F,
    is_withdraw: F,
    from: F,
    to: F,
    amount: [F; 2],
    fee: [F; 2],
    nonce: F,
    l1_recipient: [F; 5],
    priority_serial: [F; 2],
    has_key: F,
    key: [F; 4],
    /// The sender-balance-after hint; `None`: what an honest prover computes (wrapping).
    sender_after: Option<[F; 2]>,
}

impl Op {
    fn padding() -> Self {
        Self {
            active: F::ZERO,
            is_deposit: F::ZERO,
            is_transfer: F::ZERO,
            is_withdraw: F::ZERO,
            from: F::ZERO,
            to: F::ZERO,
            amount: [F::ZERO; 2],
            fee: [F::ZERO; 2],
            nonce: F::ZERO,
            l1_recipient: [F::ZERO; 5],
            priority_serial: [F::ZERO; 2],
            has_key: F::ZERO,
            key: [F::ZERO; 4],
            sender_after: None,
        }
    }

    fn transfer(from: u64, to: u64, amount: u64, fee: u64, nonce: u32) -> Self {
        Self {
            active: F::ONE,
            is_transfer: F::ONE,
            from: f(from),
            to: f(to),
            amount: limbs(amount),
            fee: limbs(fee),
            nonce: f(u64::from(nonce)),
            ..Self::padding()
        }
    }

    fn withdraw(from: u64, recipient: [u8; 20], amount: u64, fee: u64, nonce: u32) -> Self {
        Self {
            active: F::ONE,
            is_withdraw: F::ONE,
            from: f(from),
            amount: limbs(amount),
            fee: limbs(fee),
            nonce: f(u64::from(nonce)),
            l1_recipient: spec::l1_recipient_limbs(&recipient),
            ..Self::padding()
        }
    }

    fn deposit(serial: u64, to: u64, key: Option<Digest>, amount: u64) -> Self {
        Self {
            active: F::ONE,
            is_deposit: F::ONE,
            to: f(to),
            amount: limbs(amount),
            priority_serial: limbs(serial),
            has_key: if key.is_some() { F::ONE } else { F::ZERO },
            key: key.map_or([F::ZERO; 4], |k| k.elements),
            ..Self::padding()
        }
    }
}

/// `add_no_overflow`'s values: the low sum split as `LowHighGenerator` splits it, the high limb
/// as the field sum (no range check here: the circuit's is what the attacks meet).
fn add_u64(a: [F; 2], b: [F; 2]) -> [F; 2] {
    let low = (a[0] + b[0]).to_canonical_u64();
    [f(low & 0xffff_ffff), a[1] + b[1] + f(low >> 32)]
}

fn mask(b: F, x: [F; 2]) -> [F; 2] {
    [b * x[0], b * x[1]]
}

/// plonky2's `select(b, x, y) = b·x − (b·y − y)`.
fn select(b: F, x: F, y: F) -> F {
    b * x - (b * y - y)
}

fn as_u64(x: [F; 2]) -> u64 {
    x[0].to_canonical_u64() + (x[1].to_canonical_u64() << 32)
}

/// A state-transition instance: its closed-form inputs, its slots with their lanes (A, B) and
/// the operator lane that credits the instance's fees once.
#[derive(Debug, Clone)]
struct StateCase {
    before: [Digest; 6],
    chain_id: u64,
    operator: u64,
    slots: Vec<(Op, [Lane; 2])>,
    operator_lane: Lane,
    /// The root the model's tree ends at.
    root_after: Digest,
}

/// `tamper`'s lane number for the operator lane (slot = the number of operations).
const OPERATOR_LANE: usize = 2;

/// Applies `ops` to `tree` as the circuit does and returns the instance, each lane's witness
/// being what the tree holds — after `tamper(slot, lane, &mut lane)` lets an attack change it
/// (lane 0 = A, 1 = B; the operator lane is `(ops.len(), OPERATOR_LANE)`).
///
/// The model checks every enabled lane's leaf against the tree (the circuit's root check), so
/// an attack that is not self-consistent fails here, in the test, not in the circuit.
fn state_case(
    tree: &Tree,
    operator: u64,
    ops: Vec<Op>,
    tamper: impl Fn(usize, usize, &mut Lane),
) -> StateCase {
    state_case_crediting(tree, operator, operator, ops, tamper)
}

/// [`state_case`] whose model credits the instance's fees to account `credit_to` (the honest
/// prover's is the operator).
fn state_case_crediting(
    tree: &Tree,
    operator: u64,
    credit_to: u64,
    ops: Vec<Op>,
    tamper: impl Fn(usize, usize, &mut Lane),
) -> StateCase {
    let mut tree = tree.clone();
    // Fees not yet credited, and whether a signed operation was seen (the circuit's sums).
    let mut pending = [F::ZERO; 2];
    let mut seen_signed = F::ZERO;
    let mut before = [spec::ZERO; 6];
    before[0] = tree.root();
    for (i, b) in before.iter_mut().enumerate().skip(1) {
        *b = digest(100 + i as u64);
    }
    let mut slots = Vec::new();
    for (i, mut op) in ops.into_iter().enumerate() {
        let signed = op.is_transfer + op.is_withdraw;
        // Lane A: sender of a signed operation, recipient of a deposit.
        let index_a = (op.is_deposit * op.to + op.from).to_canonical_u64();
        let mut a = tree.lane(index_a);
        tamper(i, 0, &mut a);
        // Lane A of the operator's account folds the pending fees into the balance it sees.
        let folds_a = if index_a == operator {
            op.active
        } else {
            F::ZERO
        };
        let balance_a = add_u64(a.account.balance, mask(folds_a, pending));
        pending = mask(F::ONE - folds_a, pending);
        let sender_after = *op.sender_after.get_or_insert_with(|| {
            if signed == F::ONE {
                let paid = as_u64(op.amount).wrapping_add(as_u64(op.fee));
                limbs(as_u64(balance_a).wrapping_sub(paid))
            } else {
                [F::ZERO; 2]
            }
        });
        let deposited = add_u64(balance_a, mask(op.is_deposit, op.amount));
        let creates = op.is_deposit * (F::ONE - a.exists);
        let after_a = Account {
            public_key: std::array::from_fn(|k| {
                select(creates, op.key[k], a.account.public_key[k])
            }),
            balance: std::array::from_fn(|k| select(signed, sender_after[k], deposited[k])),
            nonce: a.account.nonce + signed,
        };
        update(&mut tree, op.active, index_a, &a, after_a);

        // Lane B: recipient of a transfer.
        let index_b = op.to.to_canonical_u64();
        let mut b = tree.lane(index_b);
        tamper(i, 1, &mut b);
        let after_b = Account {
            balance: add_u64(b.account.balance, mask(op.is_transfer, op.amount)),
            ..b.account
        };
        update(&mut tree, op.is_transfer, index_b, &b, after_b);

        // The fee waits for the instance's single credit.
        pending = add_u64(pending, mask(signed, op.fee));
        seen_signed = seen_signed + signed - seen_signed * signed;
        slots.push((op, [a, b]));
    }
    // The operator lane: the instance's fees, credited once.
    let mut c = tree.lane(credit_to);
    tamper(slots.len(), OPERATOR_LANE, &mut c);
    let after_c = Account {
        balance: add_u64(c.account.balance, pending),
        ..c.account
    };
    update(&mut tree, seen_signed, credit_to, &c, after_c);
    StateCase {
        before,
        chain_id: 0x1_0000_0007,
        operator,
        slots,
        operator_lane: c,
        root_after: tree.root(),
    }
}

/// One lane's Merkle update, when `enabled`: the lane's leaf must be the tree's (the root check
/// holds), and the account after replaces it.
fn update(tree: &mut Tree, enabled: F, index: u64, lane: &Lane, after: Account) {
    assert!(
        lane.siblings == tree.siblings(index),
        "model: siblings are taken from the tree"
    );
    if enabled == F::ZERO {
        return;
    }
    assert_eq!(
        enabled,
        F::ONE,
        "model: a lane's enable flag must be boolean"
    );
    let expected = tree.leaf(index);
    assert_eq!(
        lane.leaf_before(),
        expected,
        "model: the attack is not self-consistent (lane leaf of account {index} is not the tree's)"
    );
    tree.accounts.insert(index, after);
}

fn write_lane(
    pw: &mut PartialWitness<F>,
    t: &zkfleet_circuits::basic::state::LaneTargets,
    lane: &Lane,
) {
    set(pw, t.exists.target, lane.exists);
    set_hash(
        pw,
        t.public_key,
        HashOut {
            elements: lane.account.public_key,
        },
    );
    set(pw, t.balance.lo, lane.account.balance[0]);
    set(pw, t.balance.hi, lane.account.balance[1]);
    set(pw, t.nonce, lane.account.nonce);
    for (&t, &v) in t.siblings.iter().zip(&lane.siblings) {
        set_hash(pw, t, v);
    }
}

fn write_op(pw: &mut PartialWitness<F>, t: &StateSlotTargets, op: &Op, lanes: &[Lane; 2]) {
    set(pw, t.active.target, op.active);
    set(pw, t.is_deposit.target, op.is_deposit);
    set(pw, t.is_transfer.target, op.is_transfer);
    set(pw, t.is_withdraw.target, op.is_withdraw);
    set(pw, t.from, op.from);
    set(pw, t.deposit.to, op.to);
    // `amount` is the deposit's amount target (one target for every kind).
    set(pw, t.deposit.amount.lo, op.amount[0]);
    set(pw, t.deposit.amount.hi, op.amount[1]);
    set(pw, t.fee.lo, op.fee[0]);
    set(pw, t.fee.hi, op.fee[1]);
    set(pw, t.nonce, op.nonce);
    for (&t, &v) in t.l1_recipient.iter().zip(&op.l1_recipient) {
        set(pw, t, v);
    }
    set(pw, t.deposit.priority_serial.lo, op.priority_serial[0]);
    set(pw, t.deposit.priority_serial.hi, op.priority_serial[1]);
    set(pw, t.deposit.has_key.target, op.has_key);
    set_hash(pw, t.deposit.public_key, HashOut { elements: op.key });
    let after = op.sender_after.unwrap_or([F::ZERO; 2]);
    set(pw, t.sender_balance_after.lo, after[0]);
    set(pw, t.sender_balance_after.hi, after[1]);
    write_lane(pw, &t.lane_a, &lanes[0]);
    write_lane(pw, &t.lane_b, &lanes[1]);
}

fn state_layout() -> &'static StateLayout {
    circuit(BasicCircuitKind::StateTransition)
        .layout()
        .state()
        .expect("state layout")
}

fn state_inputs(case: &StateCase) -> PartialWitness<F> {
    let layout = state_layout();
    let mut pw = PartialWitness::new();
    let (before, chain_id, operator) = layout.inputs();
    for (&t, &v) in before.iter().zip(&case.before) {
        set_hash(&mut pw, t, v);
    }
    set(&mut pw, chain_id.lo, limbs(case.chain_id)[0]);
    set(&mut pw, chain_id.hi, limbs(case.chain_id)[1]);
    set(&mut pw, operator, f(case.operator));
    let padding = (Op::padding(), [Lane::unused(), Lane::unused()]);
    for (i, t) in layout.slots().iter().enumerate() {
        let (op, lanes) = case.slots.get(i).unwrap_or(&padding);
        write_op(&mut pw, t, op, lanes);
    }
    write_lane(&mut pw, layout.operator_lane(), &case.operator_lane);
    pw
}

fn run_state(case: &StateCase, overrides: &[(Target, F)]) -> Outcome {
    attack(
        &circuit(BasicCircuitKind::StateTransition).data,
        state_inputs(case),
        overrides,
    )
}

/// The honest values of `targets` for `case` (the control of an override attack).
fn state_honest(case: &StateCase, targets: &[Target]) -> Vec<(Target, F)> {
    let values = honest_values(
        &circuit(BasicCircuitKind::StateTransition).data,
        state_inputs(case),
        targets,
    );
    targets.iter().copied().zip(values).collect()
}

fn no_tamper(_: usize, _: usize, _: &mut Lane) {}

// The world the state attacks run in.
const ALICE: u64 = 1;
const OPERATOR: u64 = 7;
const MAX_NONCE: u64 = 12;
const RICH: u64 = 13;
const EMPTY: u64 = 5;
const BOB: u64 = 3_000_000_011;
const L1: [u8; 20] = [0xab; 20];

fn pk(id: u64) -> Digest {
    digest(1000 + id)
}

/// Alice 1,000 (nonce 3), Bob 50, the operator 10, an account at the nonce limit, one at the
/// balance limit less 20; account 5 (and 0) empty.
fn world() -> Tree {
    Tree::new(&[
        (ALICE, Account::new(pk(ALICE), 1_000, 3)),
        (BOB, Account::new(pk(BOB), 50, 0)),
        (OPERATOR, Account::new(pk(OPERATOR), 10, 0)),
        (MAX_NONCE, Account::new(pk(MAX_NONCE), 1_000, u32::MAX)),
        (RICH, Account::new(pk(RICH), u64::MAX - 20, 0)),
    ])
}

fn case(ops: Vec<Op>) -> StateCase {
    state_case(&world(), OPERATOR, ops, no_tamper)
}

/// A control and an attack without overrides (the attack is all in the inputs).
#[track_caller]
fn state_rule(what: &str, expect: Expect, control: StateCase, attack: StateCase) -> Rejection {
    expect_rejected(
        what,
        expect,
        run_state(&control, &[]),
        run_state(&attack, &[]),
    )
}

// ---------------------------------------------------------------------------------------------
// State transition: accounts must exist.
// ---------------------------------------------------------------------------------------------

#[test]
fn state_sender_must_exist() {
    // A zero-value transfer from an empty leaf: the empty leaf's all-zero fields pay 0 + 0, and
    // the leaf after would become an account with a zero key and nonce 1.
    state_rule(
        "sender must exist",
        Expect::Conflict(1),
        case(vec![Op::transfer(ALICE, BOB, 0, 0, 3)]),
        case(vec![Op::transfer(EMPTY, BOB, 0, 0, 0)]),
    );
}

#[test]
fn state_transfer_recipient_must_exist() {
    // Crediting an empty leaf would create a keyless account holding the amount.
    state_rule(
        "transfer recipient must exist",
        Expect::Conflict(1),
        case(vec![Op::transfer(ALICE, BOB, 100, 5, 3)]),
        case(vec![Op::transfer(ALICE, EMPTY, 100, 5, 3)]),
    );
}

#[test]
fn state_operator_must_exist() {
    let op = || vec![Op::transfer(ALICE, BOB, 100, 5, 3)];
    state_rule(
        "operator must exist",
        Expect::Conflict(1),
        state_case(&world(), OPERATOR, op(), no_tamper),
        state_case(&world(), EMPTY, op(), no_tamper),
    );
}

#[test]
fn state_empty_leaf_holds_nothing() {
    // A deposit to an empty leaf whose witness claims a balance of 1,000 behind the empty leaf
    // (`exists = 0`, so the leaf checked against the root is still ZERO): the account would be
    // created with 1,000 more than deposited. Same for a signed operation's sender.
    let key = Some(digest(77));
    let balance = |slot: usize, lane: usize, l: &mut Lane| {
        if slot == 0 && lane == 0 {
            l.account.balance = limbs(1_000);
        }
    };
    state_rule(
        "an empty leaf's fields are zero (deposit recipient)",
        Expect::Conflict(1_000),
        case(vec![Op::deposit(0, EMPTY, key, 10)]),
        state_case(
            &world(),
            OPERATOR,
            vec![Op::deposit(0, EMPTY, key, 10)],
            balance,
        ),
    );
    // The operator lane with a claimed balance behind an empty leaf, in an instance of deposits
    // only (the lane is disabled there, so only the zero-fields rule applies to it).
    let operator_balance = |slot: usize, lane: usize, l: &mut Lane| {
        if slot == 1 && lane == OPERATOR_LANE {
            l.account.balance = limbs(1_000);
        }
    };
    state_rule(
        "an empty leaf's fields are zero (disabled operator lane)",
        Expect::Conflict(1_000),
        state_case(
            &world(),
            EMPTY,
            vec![Op::deposit(0, ALICE, None, 10)],
            no_tamper,
        ),
        state_case(
            &world(),
            EMPTY,
            vec![Op::deposit(0, ALICE, None, 10)],
            operator_balance,
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// State transition: nonce and balance rules.
// ---------------------------------------------------------------------------------------------

#[test]
fn state_signed_nonce_must_be_the_account_nonce() {
    state_rule(
        "signed nonce = account nonce",
        Expect::Conflict(minus_one()),
        case(vec![Op::transfer(ALICE, BOB, 100, 5, 3)]),
        case(vec![Op::transfer(ALICE, BOB, 100, 5, 4)]),
    );
}

#[test]
fn state_lane_leaf_must_be_under_the_running_root() {
    // Alice's lane claims 2,000 where the tree holds 1,000 (the sender-after hint follows the
    // claim): the claimed leaf is not under the running root.
    let mut forged = case(vec![Op::transfer(ALICE, BOB, 100, 5, 3)]);
    let (op, lanes) = &mut forged.slots[0];
    lanes[0].account.balance = limbs(2_000);
    op.sender_after = Some(limbs(2_000 - 105));
    state_rule(
        "a lane's leaf before is the tree's",
        Expect::AnyConflict,
        case(vec![Op::transfer(ALICE, BOB, 100, 5, 3)]),
        forged,
    );
}

#[test]
fn state_nonce_increment_must_not_overflow() {
    // The account at nonce 2^32 − 1 signs with it; its nonce after would be 2^32.
    state_rule(
        "nonce increment does not overflow",
        Expect::RangeBit(32),
        case(vec![Op::transfer(ALICE, BOB, 100, 5, 3)]),
        case(vec![Op::transfer(MAX_NONCE, BOB, 100, 5, u32::MAX)]),
    );
}

#[test]
fn state_amount_plus_fee_must_not_overflow() {
    // amount + fee = 2^64 + 5: wrapped, the sender would pay 5 and Bob receive 2^63.
    let amount = 1u64 << 63;
    let fee = (1u64 << 63) + 5;
    state_rule(
        "amount + fee does not overflow",
        Expect::RangeBit(32),
        case(vec![Op::transfer(RICH, BOB, 1, 1, 0)]),
        case(vec![Op::transfer(RICH, BOB, amount, fee, 0)]),
    );
}

#[test]
fn state_balance_must_cover_amount_plus_fee() {
    // Alice holds 1,000: 995 + 5 is exactly affordable, 996 + 5 is not (her balance after
    // would wrap to 2^64 − 1).
    state_rule(
        "balance >= amount + fee (transfer)",
        Expect::RangeBit(32),
        case(vec![Op::transfer(ALICE, BOB, 995, 5, 3)]),
        case(vec![Op::transfer(ALICE, BOB, 996, 5, 3)]),
    );
    state_rule(
        "balance >= amount + fee (withdraw)",
        Expect::RangeBit(32),
        case(vec![Op::withdraw(ALICE, L1, 995, 5, 3)]),
        case(vec![Op::withdraw(ALICE, L1, 995, 6, 3)]),
    );
}

#[test]
fn state_credits_must_not_overflow() {
    // The rich account holds 2^64 − 21: 20 more is the limit.
    state_rule(
        "transfer recipient balance does not overflow",
        Expect::RangeBit(32),
        case(vec![Op::transfer(ALICE, RICH, 20, 5, 3)]),
        case(vec![Op::transfer(ALICE, RICH, 21, 5, 3)]),
    );
    state_rule(
        "operator balance does not overflow",
        Expect::RangeBit(32),
        state_case(
            &world(),
            RICH,
            vec![Op::transfer(ALICE, BOB, 100, 20, 3)],
            no_tamper,
        ),
        state_case(
            &world(),
            RICH,
            vec![Op::transfer(ALICE, BOB, 100, 21, 3)],
            no_tamper,
        ),
    );
    state_rule(
        "deposit recipient balance does not overflow",
        Expect::RangeBit(32),
        case(vec![Op::deposit(0, RICH, None, 20)]),
        case(vec![Op::deposit(0, RICH, None, 21)]),
    );
}

// ---------------------------------------------------------------------------------------------
// State transition: deposit keys.
// ---------------------------------------------------------------------------------------------

#[test]
fn state_deposit_creating_an_account_needs_a_key() {
    state_rule(
        "deposit creating an account carries a key",
        Expect::Conflict(1),
        case(vec![Op::deposit(0, EMPTY, Some(digest(77)), 10)]),
        case(vec![Op::deposit(0, EMPTY, None, 10)]),
    );
}

#[test]
fn state_deposit_key_must_match_the_account() {
    // The L1 deposit names key 78 for Alice's account: the circuit must not credit her.
    let key_difference = (digest(78).elements[0] - pk(ALICE).elements[0]).to_canonical_u64();
    state_rule(
        "deposit key = existing account's key",
        Expect::Conflict(key_difference),
        case(vec![Op::deposit(0, ALICE, Some(pk(ALICE)), 10)]),
        case(vec![Op::deposit(0, ALICE, Some(digest(78)), 10)]),
    );
}

// ---------------------------------------------------------------------------------------------
// State transition: one encoding per operation.
// ---------------------------------------------------------------------------------------------

#[test]
fn state_unused_fields_must_be_zero() {
    let deposit = || Op::deposit(0, ALICE, None, 10);
    let transfer = || Op::transfer(ALICE, BOB, 100, 5, 3);
    let withdraw = || Op::withdraw(ALICE, L1, 100, 5, 3);
    for control in [deposit(), transfer(), withdraw()] {
        run_state(&case(vec![control.clone()]), &[])
            .assert_accepted(&format!("unused fields (control {control:?})"));
    }
    // Each attack is stopped by `flag · field = 0` meeting the field's value.
    let attacks: Vec<(&str, Op, u64)> = vec![
        // from = 6 moves the deposit's lane to account 1 + 6 = 7 (the operator).
        (
            "deposit with from != 0",
            Op {
                from: f(OPERATOR - ALICE),
                ..deposit()
            },
            OPERATOR - ALICE,
        ),
        (
            "deposit with a fee",
            Op {
                fee: limbs(3),
                ..deposit()
            },
            3,
        ),
        (
            "deposit with a nonce",
            Op {
                nonce: f(3),
                ..deposit()
            },
            3,
        ),
        (
            "transfer with an L1 recipient",
            Op {
                l1_recipient: spec::l1_recipient_limbs(&L1),
                ..transfer()
            },
            spec::l1_recipient_limbs(&L1)[0].to_canonical_u64(),
        ),
        (
            "withdraw with a recipient account",
            Op {
                to: f(BOB),
                ..withdraw()
            },
            BOB,
        ),
        (
            "transfer with a priority serial",
            Op {
                priority_serial: limbs(9),
                ..transfer()
            },
            9,
        ),
        (
            "withdraw with a deposit key",
            Op {
                has_key: F::ONE,
                key: digest(79).elements,
                ..withdraw()
            },
            1,
        ),
    ];
    for (what, op, value) in attacks {
        let rejection = run_state(&case(vec![op]), &[]).assert_rejected(what);
        eprintln!("STAGE unused fields: {what}: {}", stage(&rejection));
        Expect::Conflict(value).check(what, &rejection);
    }
}

#[test]
fn state_operation_kinds_are_one_hot() {
    // A padding slot flagged as a deposit: the deposits chain would take the deposit while
    // the slot changes no root and the item count omits it.
    let ghost = Op {
        active: F::ZERO,
        ..Op::deposit(1, ALICE, None, 10)
    };
    state_rule(
        "kind flags sum to active (padding slot)",
        Expect::Conflict(1),
        case(vec![Op::deposit(0, ALICE, None, 10), Op::padding()]),
        case(vec![Op::deposit(0, ALICE, None, 10), ghost]),
    );
    // is_deposit = is_transfer = 1, is_withdraw = −1: the flags sum to 1 and no signed rule
    // applies (signed = 0), but lane B is enabled and credits the deposit's recipient a second
    // time. `to` must be 0 (withdraw·to = 0 with withdraw = −1), so the deposit creates
    // account 0 and lane B then credits it again.
    let double = Op {
        is_transfer: F::ONE,
        is_withdraw: F::NEG_ONE,
        ..Op::deposit(0, 0, Some(digest(80)), 10)
    };
    state_rule(
        "kind flags are boolean (double credit)",
        Expect::Conflict(2),
        case(vec![Op::deposit(0, 0, Some(digest(80)), 10)]),
        case(vec![double]),
    );
}

// ---------------------------------------------------------------------------------------------
// State transition: the operator's fees, credited once per instance.
// ---------------------------------------------------------------------------------------------

/// The root the rollup's own rules give (docs/rollup.md §4: every signed operation credits its
/// fee to the operator at once), computed without the circuit's deferral: what an instance
/// must output, whatever it defers. Panics on an operation the rollup refuses.
fn rollup_root(tree: &Tree, operator: u64, ops: &[Op]) -> Digest {
    let mut tree = tree.clone();
    let balance = |t: &Tree, id: u64| as_u64(t.accounts[&id].balance);
    let set_balance = |t: &mut Tree, id: u64, value: u64| {
        t.accounts.get_mut(&id).expect("account exists").balance = limbs(value);
    };
    for op in ops {
        let (from, to) = (op.from.to_canonical_u64(), op.to.to_canonical_u64());
        let (amount, fee) = (as_u64(op.amount), as_u64(op.fee));
        if op.is_deposit == F::ONE {
            let account = tree.accounts.entry(to).or_insert(Account {
                public_key: op.key,
                ..Account::ZERO
            });
            account.balance = limbs(as_u64(account.balance).checked_add(amount).expect("fits"));
            continue;
        }
        let paid = amount.checked_add(fee).expect("amount + fee fits");
        let left = balance(&tree, from).checked_sub(paid).expect("affordable");
        set_balance(&mut tree, from, left);
        let sender = tree.accounts.get_mut(&from).expect("sender exists");
        sender.nonce += F::ONE;
        if op.is_transfer == F::ONE {
            let credited = balance(&tree, to).checked_add(amount).expect("fits");
            set_balance(&mut tree, to, credited);
        }
        let credited = balance(&tree, operator).checked_add(fee).expect("fits");
        set_balance(&mut tree, operator, credited);
    }
    tree.root()
}

/// The state root the circuit outputs for `case` (honest witness generation).
fn circuit_root(case: &StateCase) -> Digest {
    let values: Vec<F> = state_honest(case, &state_layout().root_after().elements)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    HashOut {
        elements: [values[0], values[1], values[2], values[3]],
    }
}

#[test]
fn state_fees_are_credited_once_to_the_operator() {
    // Alice holds 1,000 at nonce 3, the operator 10 at nonce 0.
    let cases: Vec<(&str, Vec<Op>)> = vec![
        (
            "two fees",
            vec![
                Op::transfer(ALICE, BOB, 100, 5, 3),
                Op::withdraw(ALICE, L1, 50, 7, 4),
            ],
        ),
        (
            "the operator spends its fee mid-instance",
            vec![
                Op::transfer(ALICE, BOB, 100, 5, 3),
                Op::transfer(OPERATOR, BOB, 15, 0, 0),
                Op::withdraw(ALICE, L1, 10, 3, 4),
            ],
        ),
        (
            "the operator receives mid-instance",
            vec![
                Op::transfer(ALICE, BOB, 100, 5, 3),
                Op::transfer(ALICE, OPERATOR, 20, 2, 4),
                Op::withdraw(OPERATOR, L1, 30, 1, 0),
            ],
        ),
        (
            "the operator pays itself",
            vec![
                Op::transfer(ALICE, BOB, 1, 5, 3),
                Op::transfer(OPERATOR, OPERATOR, 3, 4, 0),
            ],
        ),
        (
            "a deposit to the operator mid-instance",
            vec![
                Op::withdraw(ALICE, L1, 1, 5, 3),
                Op::deposit(0, OPERATOR, None, 9),
                Op::transfer(ALICE, BOB, 1, 2, 4),
            ],
        ),
        ("deposits only", vec![Op::deposit(0, ALICE, None, 10)]),
    ];
    for (what, ops) in cases {
        let instance = case(ops.clone());
        run_state(&instance, &[]).assert_accepted(what);
        let expected = rollup_root(&world(), OPERATOR, &ops);
        assert_eq!(instance.root_after, expected, "{what}: the test's model");
        assert_eq!(circuit_root(&instance), expected, "{what}: the circuit");
    }
}

#[test]
fn state_operator_spends_only_fees_already_earned() {
    // The operator (10) has earned 5 by Alice's transfer: 15 is affordable, 16 is not. The
    // sender rule `after + (amount + fee) = before` stops it: here its equality (the recomposed
    // high limb is 2^32, the wrapped hint plus what is paid; the balance's is 0), below its
    // range check on the same limb, whichever plonky2's generators meet first.
    state_rule(
        "the operator's pending fees count in its balance (not more)",
        Expect::Conflict(1 << 32),
        case(vec![
            Op::transfer(ALICE, BOB, 100, 5, 3),
            Op::withdraw(OPERATOR, L1, 15, 0, 0),
        ]),
        case(vec![
            Op::transfer(ALICE, BOB, 100, 5, 3),
            Op::withdraw(OPERATOR, L1, 16, 0, 0),
        ]),
    );
    // A fee earned later in the instance does not pay for an earlier withdrawal, although the
    // instance credits its fees only at its end.
    state_rule(
        "a fee earned later does not pay an earlier debit",
        Expect::RangeBit(32),
        case(vec![
            Op::withdraw(OPERATOR, L1, 10, 0, 0),
            Op::transfer(ALICE, BOB, 100, 5, 3),
        ]),
        case(vec![
            Op::withdraw(OPERATOR, L1, 15, 0, 0),
            Op::transfer(ALICE, BOB, 100, 5, 3),
        ]),
    );
}

#[test]
fn state_operator_must_exist_at_every_signed_operation() {
    // The operator's account (5, empty) is created by a deposit: before the transfer the rollup
    // accepts it, after the transfer it refuses the transfer (unknown operator), although the
    // account exists when the instance credits its fees.
    let key = Some(digest(82));
    let instance = |ops| state_case(&world(), EMPTY, ops, no_tamper);
    state_rule(
        "the operator is not created after a signed operation",
        Expect::Conflict(1),
        instance(vec![
            Op::deposit(0, EMPTY, key, 10),
            Op::transfer(ALICE, BOB, 100, 5, 3),
        ]),
        instance(vec![
            Op::transfer(ALICE, BOB, 100, 5, 3),
            Op::deposit(0, EMPTY, key, 10),
        ]),
    );
}

#[test]
fn state_fees_cannot_go_elsewhere_or_twice() {
    let ops = || {
        vec![
            Op::transfer(ALICE, BOB, 100, 5, 3),
            Op::transfer(OPERATOR, BOB, 15, 0, 0),
            Op::withdraw(ALICE, L1, 10, 3, 4),
        ]
    };
    // The fees credited to Bob: the operator lane's leaf and siblings are Bob's, consistent
    // with the tree, but the lane's path is the operator's.
    state_rule(
        "fees are credited to the operator's account",
        Expect::AnyConflict,
        case(ops()),
        state_case_crediting(&world(), OPERATOR, BOB, ops(), no_tamper),
    );
    let honest = case(ops());
    let slots = state_layout().slots();
    let pending_after = |slot: usize| {
        let p = slots[slot].pending_after;
        let values = state_honest(&honest, &[p.lo, p.hi]);
        (p, as_u64([values[0].1, values[1].1]))
    };
    // The operator spent its pending fee (slot 1): the sum kept instead of restarting at zero
    // would credit that fee a second time at the end.
    let (p, kept) = pending_after(1);
    assert_eq!(kept, 0, "the fold restarts the sum");
    state_override_rule(
        "a folded fee is not credited again",
        Expect::AnyConflict,
        &honest,
        vec![(p.lo, f(5)), (p.hi, F::ZERO)],
    );
    // The instance's sum forged one higher at the last slot.
    let (p, sum) = pending_after(2);
    assert_eq!(sum, 3, "the fees after the fold");
    state_override_rule(
        "the fee sum is the fees' sum",
        Expect::AnyConflict,
        &honest,
        vec![(p.lo, f(sum + 1)), (p.hi, F::ZERO)],
    );
}

// ---------------------------------------------------------------------------------------------
// State transition: running commitments.
// ---------------------------------------------------------------------------------------------

/// The attack overrides `targets` with `values`; the control overrides them with their honest
/// values, on the same witness.
#[track_caller]
fn state_override_rule(
    what: &str,
    expect: Expect,
    case: &StateCase,
    overrides: Vec<(Target, F)>,
) -> Rejection {
    let targets: Vec<Target> = overrides.iter().map(|(t, _)| *t).collect();
    let honest = state_honest(case, &targets);
    assert_ne!(honest, overrides, "{what}: the attack changes nothing");
    expect_rejected(
        what,
        expect,
        run_state(case, &honest),
        run_state(case, &overrides),
    )
}

#[test]
fn state_chains_record_every_operation() {
    let slot = &state_layout().slots()[0];
    let slot1 = &state_layout().slots()[1];
    let [operations, signed, deposits, withdrawals, pubdata] = slot.chains_after;
    let transfer = case(vec![Op::transfer(ALICE, BOB, 100, 5, 3)]);
    let withdraw = case(vec![Op::withdraw(ALICE, L1, 100, 5, 3)]);
    let deposit = case(vec![Op::deposit(0, ALICE, None, 10)]);
    // An operation left out of a chain: the chain after the slot is the chain before.
    let dropped =
        |c: &StateCase, target: HashOutTarget, k: usize| digest_overrides(target, c.before[k]);
    state_override_rule(
        "operations chain records every operation",
        Expect::Verification,
        &transfer,
        dropped(&transfer, operations, 1),
    );
    state_override_rule(
        "signed-operations chain records every signed operation",
        Expect::Verification,
        &transfer,
        dropped(&transfer, signed, 2),
    );
    state_override_rule(
        "deposits chain records every deposit",
        Expect::Verification,
        &deposit,
        dropped(&deposit, deposits, 3),
    );
    state_override_rule(
        "withdrawals chain records every withdrawal",
        Expect::Verification,
        &withdraw,
        dropped(&withdraw, withdrawals, 4),
    );
    state_override_rule(
        "pubdata chain records every operation",
        Expect::Verification,
        &transfer,
        dropped(&transfer, pubdata, 5),
    );
    // A transfer recorded as a withdrawal (L1 would pay out what the user transferred on L2).
    let forged = spec::withdrawals_step(
        transfer.before[4],
        spec::withdrawal_digest(ALICE as u32, &L1, 100),
    );
    state_override_rule(
        "withdrawals chain takes withdrawals only",
        Expect::Verification,
        &transfer,
        digest_overrides(withdrawals, forged),
    );
    // The withdrawal paid to another L1 address than the one signed.
    state_override_rule(
        "withdrawal digest is the signed one",
        Expect::Verification,
        &withdraw,
        digest_overrides(
            slot.withdrawal_digest,
            spec::withdrawal_digest(ALICE as u32, &[0xcd; 20], 100),
        ),
    );
    // A padding slot advancing the operations chain (an operation nobody applied).
    let two = case(vec![Op::transfer(ALICE, BOB, 100, 5, 3), Op::padding()]);
    let honest_0: Vec<F> = state_honest(&two, &operations.elements)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let injected = spec::operations_step(
        HashOut {
            elements: [honest_0[0], honest_0[1], honest_0[2], honest_0[3]],
        },
        digest(81),
    );
    state_override_rule(
        "operations chain does not advance on padding",
        Expect::Verification,
        &two,
        digest_overrides(slot1.chains_after[0], injected),
    );
}

// ---------------------------------------------------------------------------------------------
// Signature verification.
// ---------------------------------------------------------------------------------------------

/// A WOTS key tree of height `GEOMETRY.xmss_height` whose leaf `j` is the one-time key of key
/// index `index_of(j)` (honest: `j`).
struct Xmss {
    seed: [F; 4],
    leaves: Vec<Digest>,
}

impl Xmss {
    fn new(seed: u64, index_of: impl Fn(u32) -> u32) -> Self {
        let seed = [f(seed), f(2), f(3), f(4)];
        let leaves = (0..1u32 << GEOMETRY.xmss_height)
            .map(|j| {
                let k = index_of(j);
                let ends: [Digest; WOTS_L] = std::array::from_fn(|c| {
                    let start = spec::sk_chain_start(&seed, k, c as u32);
                    spec::chain_advance(start, k, c as u32, 0, 3)
                });
                spec::one_time_public_key(k, &ends)
            })
            .collect();
        Self { seed, leaves }
    }

    fn public_key(&self) -> Digest {
        let mut level = self.leaves.clone();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| spec::two_to_one(p[0], p[1]))
                .collect();
        }
        level[0]
    }

    fn auth_path(&self, position: usize) -> Vec<Digest> {
        let mut level = self.leaves.clone();
        let mut index = position;
        let mut path = Vec::new();
        while level.len() > 1 {
            path.push(level[index ^ 1]);
            level = level
                .chunks(2)
                .map(|p| spec::two_to_one(p[0], p[1]))
                .collect();
            index >>= 1;
        }
        path
    }

    /// Chain values signing `digits` with key index `k`.
    fn sign_digits(&self, k: u32, digits: &[u8; WOTS_L]) -> Vec<Digest> {
        (0..WOTS_L)
            .map(|c| {
                let start = spec::sk_chain_start(&self.seed, k, c as u32);
                spec::chain_advance(start, k, c as u32, 0, u32::from(digits[c]))
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct SigSlot {
    active: F,
    message: Digest,
    public_key: Digest,
    key_index: F,
    chain_values: Vec<Digest>,
    auth_path: Vec<Digest>,
}

impl SigSlot {
    fn padding() -> Self {
        Self {
            active: F::ZERO,
            message: spec::ZERO,
            public_key: spec::ZERO,
            key_index: F::ZERO,
            chain_values: vec![spec::ZERO; WOTS_L],
            auth_path: vec![spec::ZERO; GEOMETRY.xmss_height as usize],
        }
    }

    /// An honest signature of `message` by leaf `position` of `key` with key index `k`.
    fn signed(key: &Xmss, position: usize, k: u32, message: Digest) -> Self {
        Self::with_digits(key, position, k, message, &spec::message_digits(message))
    }

    /// A signature of `message` whose chains sit at `digits` (an attack's digits).
    fn with_digits(
        key: &Xmss,
        position: usize,
        k: u32,
        message: Digest,
        digits: &[u8; WOTS_L],
    ) -> Self {
        Self {
            active: F::ONE,
            message,
            public_key: key.public_key(),
            key_index: f(u64::from(k)),
            chain_values: key.sign_digits(k, digits),
            auth_path: key.auth_path(position),
        }
    }
}

fn signature_layout() -> &'static SignatureLayout {
    circuit(BasicCircuitKind::SignatureVerification)
        .layout()
        .signature()
        .expect("signature layout")
}

fn signature_inputs(before: Digest, slots: &[SigSlot]) -> PartialWitness<F> {
    let layout = signature_layout();
    let mut pw = PartialWitness::new();
    set_hash(&mut pw, layout.chain_before(), before);
    let padding = SigSlot::padding();
    for (i, t) in layout.slots().iter().enumerate() {
        let s = slots.get(i).unwrap_or(&padding);
        set(&mut pw, t.active.target, s.active);
        set_hash(&mut pw, t.message, s.message);
        set_hash(&mut pw, t.public_key, s.public_key);
        set(&mut pw, t.signature.key_index, s.key_index);
        for (&t, &v) in t.signature.chain_values.iter().zip(&s.chain_values) {
            set_hash(&mut pw, t, v);
        }
        for (&t, &v) in t.signature.auth_path.iter().zip(&s.auth_path) {
            set_hash(&mut pw, t, v);
        }
    }
    pw
}

fn run_signature(slots: &[SigSlot], overrides: &[(Target, F)]) -> Outcome {
    attack(
        &circuit(BasicCircuitKind::SignatureVerification).data,
        signature_inputs(digest(200), slots),
        overrides,
    )
}

fn signature_honest(slots: &[SigSlot], targets: &[Target]) -> Vec<(Target, F)> {
    let values = honest_values(
        &circuit(BasicCircuitKind::SignatureVerification).data,
        signature_inputs(digest(200), slots),
        targets,
    );
    targets.iter().copied().zip(values).collect()
}

/// Overrides setting the bits `targets` (with their `BaseSumGate` sum wires) to the bits of
/// `value`, the sums being what `split_le` would hold for it: bit `i` lives in gate `i / 63`.
fn bits_overrides(bits: &[Target], value: u128) -> Vec<(Target, F)> {
    let mut out: Vec<(Target, F)> = bits
        .iter()
        .enumerate()
        .map(|(i, &b)| (b, f(((value >> i) & 1) as u64)))
        .collect();
    let mut sums: Vec<Target> = bits.iter().map(|&b| split_sum_of(b)).collect();
    sums.dedup();
    for (gate, sum) in sums.into_iter().enumerate() {
        let part = (value >> (63 * gate)) & ((1u128 << 63) - 1);
        // A gate's sum is < 2^63 < p, so it is a canonical element.
        out.push((sum, f(part as u64)));
    }
    out
}

/// The 64 bit targets of message element `e` (digits 32e..32e+32, low bit first).
fn element_bits(slot: usize, e: usize) -> Vec<Target> {
    signature_layout().slots()[slot].digits[32 * e..32 * e + 32]
        .iter()
        .flat_map(|d| [d.low.target, d.high.target])
        .collect()
}

fn checksum_bits(slot: usize) -> Vec<Target> {
    signature_layout().slots()[slot].digits[WOTS_L1..]
        .iter()
        .flat_map(|d| [d.low.target, d.high.target])
        .collect()
}

/// The digits of a message whose element `e` is read as the 64-bit integer `value`.
fn digits_with(message: Digest, e: usize, value: u64) -> [u8; WOTS_L] {
    let mut digits = spec::message_digits(message);
    for j in 0..32 {
        digits[32 * e + j] = ((value >> (2 * j)) & 3) as u8;
    }
    let checksum: u64 = digits[..WOTS_L1].iter().map(|&d| 3 - u64::from(d)).sum();
    for j in 0..WOTS_L - WOTS_L1 {
        digits[WOTS_L1 + j] = ((checksum >> (2 * j)) & 3) as u8;
    }
    digits
}

#[test]
fn signature_forged_chain_value_is_rejected() {
    let key = Xmss::new(1, |j| j);
    let message = digest(300);
    let honest = SigSlot::signed(&key, 1, 1, message);
    let mut forged = honest.clone();
    forged.chain_values[7] = digest(301);
    expect_rejected(
        "WOTS chains recover the signer's key",
        Expect::AnyConflict,
        run_signature(&[honest], &[]),
        run_signature(&[forged], &[]),
    );
}

#[test]
fn signature_of_another_message_is_rejected() {
    // A valid signature presented for a message one digit above the signed one: that chain can
    // be advanced one step by anyone, only the checksum (whose chains cannot go back) stops it.
    // The attack keeps the checksum digits of the signed message (overriding the checksum's
    // bit decomposition), so every chain recomputes the signer's one-time key.
    let key = Xmss::new(2, |j| j);
    let signed = digest(310);
    let digits = spec::message_digits(signed);
    let c = (0..WOTS_L1)
        .find(|&c| digits[c] < 3)
        .expect("a digit below 3");
    let e = c / 32;
    let mut raised = signed;
    let value = raised.elements[e].to_canonical_u64() + (1u64 << (2 * (c % 32)));
    raised.elements[e] = f(value);
    let raised_digits = spec::message_digits(raised);
    assert_eq!(raised_digits[c], digits[c] + 1);
    let mut forged = SigSlot::signed(&key, 2, 2, signed);
    forged.message = raised;
    forged.chain_values[c] =
        spec::chain_step(forged.chain_values[c], 2, c as u32, u32::from(digits[c]));
    let checksum_of = |d: &[u8; WOTS_L]| -> u128 {
        (0..WOTS_L - WOTS_L1)
            .map(|j| u128::from(d[WOTS_L1 + j]) << (2 * j))
            .sum()
    };
    let bits = checksum_bits(0);
    // Control: an honest signature of the raised message, checksum bits overridden with
    // their honest values.
    let honest = SigSlot::signed(&key, 2, 2, raised);
    let control_overrides = signature_honest(std::slice::from_ref(&honest), &bits_and_sums(&bits));
    assert_eq!(
        control_overrides,
        bits_overrides(&bits, checksum_of(&raised_digits)),
        "the override helper reproduces honest decompositions"
    );
    expect_rejected(
        "WOTS checksum (message digits raised)",
        Expect::Verification,
        run_signature(&[honest], &control_overrides),
        run_signature(&[forged], &bits_overrides(&bits, checksum_of(&digits))),
    );
}

fn bits_and_sums(bits: &[Target]) -> Vec<Target> {
    let mut out = bits.to_vec();
    let mut sums: Vec<Target> = bits.iter().map(|&b| split_sum_of(b)).collect();
    sums.dedup();
    out.extend(sums);
    out
}

#[test]
fn signature_message_decomposition_is_canonical() {
    // Element 0 of the message is x < 2^32 − 1; read as x + p (64 bits, top half all ones) it
    // gives other digits. The attacker signs those digits (and their checksum) with its own
    // key and overrides the bit decomposition with x + p: only canonicity stops it.
    let key = Xmss::new(3, |j| j);
    let x = 12_345u64;
    let mut message = digest(320);
    message.elements[0] = f(x);
    let p = F::ORDER;
    let bits = element_bits(0, 0);
    let honest = SigSlot::signed(&key, 0, 0, message);
    let control_overrides = signature_honest(std::slice::from_ref(&honest), &bits_and_sums(&bits));
    assert_eq!(control_overrides, bits_overrides(&bits, u128::from(x)));
    let forged = SigSlot::with_digits(&key, 0, 0, message, &digits_with(message, 0, x + p));
    expect_rejected(
        "message decomposition is canonical (x + p)",
        Expect::Conflict(x + 1),
        run_signature(&[honest], &control_overrides),
        run_signature(&[forged], &bits_overrides(&bits, u128::from(x + p))),
    );
}

#[test]
fn signature_key_index_is_below_two_to_the_height() {
    // Key index 1 + 2^h walks the tree as leaf 1: the attacker's tree holds at leaf 1 the
    // one-time key of index 5, signed with index 5.
    let height = GEOMETRY.xmss_height;
    let alias = 1 + (1u32 << height);
    let message = digest(330);
    let honest_key = Xmss::new(4, |j| j);
    let alias_key = Xmss::new(4, |j| if j == 1 { alias } else { j });
    expect_rejected(
        "key index < 2^h",
        Expect::RangeBit(2),
        run_signature(&[SigSlot::signed(&honest_key, 1, 1, message)], &[]),
        run_signature(&[SigSlot::signed(&alias_key, 1, alias, message)], &[]),
    );
}

#[test]
fn signature_chain_records_every_verified_signature() {
    let key = Xmss::new(5, |j| j);
    let slots = [SigSlot::signed(&key, 0, 0, digest(340)), SigSlot::padding()];
    let layout = signature_layout();
    // An active slot left out of the chain.
    signature_override_rule(
        "signed-operations chain advances on every verified signature",
        Expect::Verification,
        &slots,
        digest_overrides(layout.slots()[0].chain_after, digest(200)),
    );
    // A padding slot (whose signature is not checked) advancing the chain with an unverified
    // signed operation.
    let after_0: Vec<F> = signature_honest(&slots, &layout.slots()[0].chain_after.elements)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let injected = spec::signed_operations_step(
        HashOut {
            elements: [after_0[0], after_0[1], after_0[2], after_0[3]],
        },
        digest(341),
        key.public_key(),
        1,
    );
    signature_override_rule(
        "signed-operations chain does not advance on padding",
        Expect::Verification,
        &slots,
        digest_overrides(layout.slots()[1].chain_after, injected),
    );
}

#[track_caller]
fn signature_override_rule(
    what: &str,
    expect: Expect,
    slots: &[SigSlot],
    overrides: Vec<(Target, F)>,
) -> Rejection {
    let targets: Vec<Target> = overrides.iter().map(|(t, _)| *t).collect();
    let honest = signature_honest(slots, &targets);
    assert_ne!(honest, overrides, "{what}: the attack changes nothing");
    expect_rejected(
        what,
        expect,
        run_signature(slots, &honest),
        run_signature(slots, &overrides),
    )
}

// ---------------------------------------------------------------------------------------------
// Priority operations.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct DepSlot {
    active: F,
    serial: [F; 2],
    to: F,
    has_key: F,
    key: [F; 4],
    amount: [F; 2],
}

impl DepSlot {
    fn new(serial: u64, to: u64, key: Option<Digest>, amount: u64) -> Self {
        Self {
            active: F::ONE,
            serial: limbs(serial),
            to: f(to),
            has_key: if key.is_some() { F::ONE } else { F::ZERO },
            key: key.map_or([F::ZERO; 4], |k| k.elements),
            amount: limbs(amount),
        }
    }

    fn padding() -> Self {
        Self {
            active: F::ZERO,
            ..Self::new(0, 0, None, 0)
        }
    }
}

fn priority_layout() -> &'static PriorityLayout {
    circuit(BasicCircuitKind::PriorityOperations)
        .layout()
        .priority()
        .expect("priority layout")
}

fn priority_inputs(next_serial: [F; 2], slots: &[DepSlot]) -> PartialWitness<F> {
    let layout = priority_layout();
    let mut pw = PartialWitness::new();
    let (chain, serial) = layout.before();
    set_hash(&mut pw, chain, digest(400));
    set(&mut pw, serial.lo, next_serial[0]);
    set(&mut pw, serial.hi, next_serial[1]);
    let padding = DepSlot::padding();
    for (i, t) in layout.slots().iter().enumerate() {
        let s = slots.get(i).unwrap_or(&padding);
        set(&mut pw, t.active.target, s.active);
        set(&mut pw, t.deposit.priority_serial.lo, s.serial[0]);
        set(&mut pw, t.deposit.priority_serial.hi, s.serial[1]);
        set(&mut pw, t.deposit.to, s.to);
        set(&mut pw, t.deposit.has_key.target, s.has_key);
        set_hash(&mut pw, t.deposit.public_key, HashOut { elements: s.key });
        set(&mut pw, t.deposit.amount.lo, s.amount[0]);
        set(&mut pw, t.deposit.amount.hi, s.amount[1]);
    }
    pw
}

fn run_priority(next_serial: u64, slots: &[DepSlot], overrides: &[(Target, F)]) -> Outcome {
    attack(
        &circuit(BasicCircuitKind::PriorityOperations).data,
        priority_inputs(limbs(next_serial), slots),
        overrides,
    )
}

#[track_caller]
fn priority_rule(
    what: &str,
    expect: Expect,
    control: (u64, Vec<DepSlot>),
    attack: (u64, Vec<DepSlot>),
) -> Rejection {
    expect_rejected(
        what,
        expect,
        run_priority(control.0, &control.1, &[]),
        run_priority(attack.0, &attack.1, &[]),
    )
}

#[test]
fn priority_serials_follow_the_queue() {
    priority_rule(
        "deposit serial = next serial (skip)",
        Expect::Conflict(1),
        (40, vec![DepSlot::new(40, ALICE, None, 10)]),
        (40, vec![DepSlot::new(41, ALICE, None, 10)]),
    );
    priority_rule(
        "deposit serial = next serial (repeat)",
        Expect::Conflict(minus_one()),
        (
            40,
            vec![
                DepSlot::new(40, ALICE, None, 10),
                DepSlot::new(41, BOB, None, 5),
            ],
        ),
        (
            40,
            vec![
                DepSlot::new(40, ALICE, None, 10),
                DepSlot::new(40, BOB, None, 5),
            ],
        ),
    );
}

#[test]
fn priority_serial_increment_must_not_overflow() {
    priority_rule(
        "next serial does not overflow",
        Expect::RangeBit(32),
        // Full instances: in a padding slot after the serial reached 2^64 − 1 the increment,
        // computed before the select, would overflow as well (see the report).
        (
            u64::MAX - 2,
            vec![
                DepSlot::new(u64::MAX - 2, ALICE, None, 10),
                DepSlot::new(u64::MAX - 1, ALICE, None, 10),
            ],
        ),
        (
            u64::MAX - 1,
            vec![
                DepSlot::new(u64::MAX - 1, ALICE, None, 10),
                DepSlot::new(u64::MAX, ALICE, None, 10),
            ],
        ),
    );
}

#[test]
fn priority_deposit_fields_have_one_encoding() {
    priority_rule(
        "deposit key is zero without has_key",
        Expect::Conflict(digest(81).elements[0].to_canonical_u64()),
        (0, vec![DepSlot::new(0, ALICE, None, 10)]),
        (
            0,
            vec![DepSlot {
                key: digest(81).elements,
                ..DepSlot::new(0, ALICE, None, 10)
            }],
        ),
    );
    // 2^32 as limbs (2^32, 0) instead of (0, 1).
    priority_rule(
        "deposit amount limbs are 32-bit",
        Expect::RangeBit(32),
        (0, vec![DepSlot::new(0, ALICE, None, 1 << 32)]),
        (
            0,
            vec![DepSlot {
                amount: [f(1 << 32), F::ZERO],
                ..DepSlot::new(0, ALICE, None, 0)
            }],
        ),
    );
    priority_rule(
        "activity flags are monotone",
        Expect::Conflict(minus_one()),
        (
            0,
            vec![DepSlot::new(0, ALICE, None, 10), DepSlot::padding()],
        ),
        (
            0,
            vec![DepSlot::padding(), DepSlot::new(0, ALICE, None, 10)],
        ),
    );
}

#[test]
fn priority_chain_records_every_deposit() {
    let slots = vec![DepSlot::new(0, ALICE, None, 10), DepSlot::padding()];
    let layout = priority_layout();
    let run = |what: &str, overrides: Vec<(Target, F)>| {
        let targets: Vec<Target> = overrides.iter().map(|(t, _)| *t).collect();
        let values = honest_values(
            &circuit(BasicCircuitKind::PriorityOperations).data,
            priority_inputs(limbs(0), &slots),
            &targets,
        );
        let honest: Vec<(Target, F)> = targets.iter().copied().zip(values).collect();
        assert_ne!(honest, overrides, "{what}: the attack changes nothing");
        expect_rejected(
            what,
            Expect::Verification,
            run_priority(0, &slots, &honest),
            run_priority(0, &slots, &overrides),
        )
    };
    run(
        "deposits chain advances on every deposit",
        digest_overrides(layout.slots()[0].chain_after, digest(400)),
    );
    let after_0 = honest_values(
        &circuit(BasicCircuitKind::PriorityOperations).data,
        priority_inputs(limbs(0), &slots),
        &layout.slots()[0].chain_after.elements,
    );
    let injected = spec::deposits_step(
        HashOut {
            elements: [after_0[0], after_0[1], after_0[2], after_0[3]],
        },
        spec::deposit_digest(1, ALICE as u32, None, 1_000_000),
    );
    run(
        "deposits chain does not advance on padding",
        digest_overrides(layout.slots()[1].chain_after, injected),
    );
    // The serial after an active slot kept (the next instance would repeat the deposit).
    run(
        "next serial advances on every deposit",
        vec![
            (layout.slots()[0].next_serial_after.lo, F::ZERO),
            (layout.slots()[0].next_serial_after.hi, F::ZERO),
        ],
    );
}
