//! Batch execution: apply a batch to a state, check every rule, and produce the new state, the
//! batch public output and the witness the basic circuits are built from (docs/rollup.md §4, §8).
//!
//! A batch is all or nothing: the first invalid operation rejects the whole batch before any
//! proving, with an error naming the operation (index and kind) and the broken rule, and the
//! state is rolled back to where it was. A prover cannot prove a batch with a hole in it, and a
//! sequencer that produced one must fix it, not have it silently shortened.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use zkfleet_types::{BatchNumber, BatchPublicOutput, ChainId, HashDigest};

use crate::batch::{Batch, MAX_OPERATIONS_PER_BATCH};
use crate::operation::{Operation, OperationKind};
use crate::signature::{recover_public_key, Signature, SignatureError};
use crate::spec::{
    deposits_step, digest_to_hash_digest, operations_step, pubdata_step, signed_operations_step,
    withdrawals_step, Digest, ZERO,
};
use crate::state::{Account, AccountId, AccountUpdate, StateError, StateTree};

/// Which account of an operation a balance rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// The account that signed a Transfer or Withdraw and pays amount + fee.
    Sender,
    /// The account a Deposit or Transfer credits.
    Recipient,
    /// The batch's operator, credited every signed operation's fee.
    Operator,
}

impl std::fmt::Display for AccountRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sender => "sender",
            Self::Recipient => "recipient",
            Self::Operator => "operator",
        })
    }
}

/// The rule an operation broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationError {
    /// A deposit skipped or repeated an entry of the L1 priority queue: deposits must carry
    /// consecutive serials starting at the batch's `first_priority_serial`.
    #[error("priority serial out of order: expected {expected}, got {got}")]
    PriorityOutOfOrder {
        /// The serial the next deposit must carry.
        expected: u64,
        /// The serial it carried.
        got: u64,
    },
    /// A deposit to an account that does not exist yet carries no public key to create it with.
    #[error("deposit would create account {account} without a public key")]
    DepositWithoutKey {
        /// The deposit's recipient.
        account: AccountId,
    },
    /// A deposit to an existing account names a public key other than the account's.
    #[error("deposit to existing account {account} carries a different public key")]
    DepositKeyMismatch {
        /// The deposit's recipient.
        account: AccountId,
    },
    /// A Transfer or Withdraw is signed for an account that does not exist.
    #[error("unknown sender: account {account} does not exist")]
    UnknownSender {
        /// The sender named by the operation.
        account: AccountId,
    },
    /// A Transfer pays an account that does not exist (only deposits create accounts).
    #[error("unknown recipient: account {account} does not exist")]
    UnknownRecipient {
        /// The recipient named by the operation.
        account: AccountId,
    },
    /// The batch's operator account, which collects the fees, does not exist.
    #[error("unknown operator: account {account} does not exist")]
    UnknownOperator {
        /// The batch's operator.
        account: AccountId,
    },
    /// A signed operation's nonce is not the sender's current nonce (a replay or a gap).
    #[error("nonce mismatch: account {account} expects nonce {expected}, got {got}")]
    NonceMismatch {
        /// The sender.
        account: AccountId,
        /// The sender's nonce in the state.
        expected: u32,
        /// The nonce the operation carries.
        got: u32,
    },
    /// The sender has used every one-time key of its key tree (the nonce indexes the keys).
    #[error("one-time keys exhausted: account {account} has nonce {nonce} but its key tree of height {height} has only {} keys", 1u64 << height)]
    OneTimeKeysExhausted {
        /// The sender.
        account: AccountId,
        /// The sender's nonce, the index of the key it would need.
        nonce: u32,
        /// The height of the signature's key tree (`2^height` one-time keys).
        height: usize,
    },
    /// The signature uses a one-time key below the nonce, already spent by an earlier
    /// operation: signing twice with a WOTS key leaks it.
    #[error(
        "reused one-time key: signed with key {key_index}, already used (account nonce {nonce})"
    )]
    OneTimeKeyReused {
        /// The one-time key the signature used.
        key_index: u32,
        /// The sender's nonce.
        nonce: u32,
    },
    /// The signature uses a one-time key above the nonce: the key must be exactly the nonce.
    #[error("signature uses one-time key {key_index}, but the nonce {nonce} selects key {nonce}")]
    OneTimeKeyNotNonce {
        /// The one-time key the signature used.
        key_index: u32,
        /// The sender's nonce.
        nonce: u32,
    },
    /// The signature does not verify against the sender's public key and the operation's
    /// message.
    #[error("invalid signature: {0}")]
    InvalidSignature(SignatureError),
    /// A signed operation's amount plus fee does not fit in a `u64`.
    #[error("amount {amount} plus fee {fee} overflows u64")]
    AmountPlusFeeOverflow {
        /// The operation's amount.
        amount: u64,
        /// The operation's fee.
        fee: u64,
    },
    /// The sender's balance is below amount + fee.
    #[error(
        "insufficient balance: account {account} has {balance}, needs {required} (amount + fee)"
    )]
    InsufficientBalance {
        /// The sender.
        account: AccountId,
        /// The sender's balance.
        balance: u64,
        /// Amount plus fee.
        required: u64,
    },
    /// Crediting an account would take its balance past `u64::MAX`.
    #[error(
        "balance overflow: {role} account {account} has {balance}, crediting {credit} exceeds u64"
    )]
    BalanceOverflow {
        /// Which account of the operation is credited.
        role: AccountRole,
        /// The account credited.
        account: AccountId,
        /// Its balance before the credit.
        balance: u64,
        /// The amount (or fee) credited.
        credit: u64,
    },
}

/// Why a batch was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The batch was built on another state than the one it is applied to (a batch out of
    /// order, or a wrong genesis).
    #[error("batch starts from state root {batch}, but the state's root is {state}")]
    PrevStateRootMismatch {
        /// The batch's `prev_state_root`.
        batch: HashDigest,
        /// The root of the state it was applied to.
        state: HashDigest,
    },
    /// The batch holds more than [`MAX_OPERATIONS_PER_BATCH`] operations.
    #[error("batch has {count} operations, at most {MAX_OPERATIONS_PER_BATCH} allowed")]
    TooManyOperations {
        /// How many it holds.
        count: usize,
    },
    /// An operation broke a rule; the batch is rejected whole.
    #[error("operation {index} ({kind}): {reason}")]
    Operation {
        /// The operation's position in the batch.
        index: usize,
        /// Deposit, Transfer or Withdraw.
        kind: OperationKind,
        /// The rule it broke.
        reason: OperationError,
    },
    /// The state tree itself failed (storage), not the batch.
    #[error(transparent)]
    State(#[from] StateError),
}

impl ExecutionError {
    /// The rule an operation broke, if that is why the batch was rejected.
    pub fn operation_error(&self) -> Option<&OperationError> {
        match self {
            Self::Operation { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// The running commitments and counters at one point of the batch (docs/rollup.md §5). Every
/// basic circuit instance starts from one of these and ends at another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningCommitments {
    /// Root of the state tree at this point.
    #[serde(with = "crate::digest_serde")]
    pub state_root: Digest,
    /// Hash chain over the operations so far (becomes `operations_commitment`).
    #[serde(with = "crate::digest_serde")]
    pub operations: Digest,
    /// Hash chain over the signed operations' (message, public key, key index), which ties
    /// the signature-verification circuits to the state-transition circuits.
    #[serde(with = "crate::digest_serde")]
    pub signed_operations: Digest,
    /// Hash chain over the deposits so far (becomes `deposits_commitment`).
    #[serde(with = "crate::digest_serde")]
    pub deposits: Digest,
    /// Hash chain over the withdrawals so far (becomes `withdrawals_commitment`).
    #[serde(with = "crate::digest_serde")]
    pub withdrawals: Digest,
    /// Hash chain over the pubdata so far (becomes `pubdata_commitment`).
    #[serde(with = "crate::digest_serde")]
    pub pubdata: Digest,
    /// Deposits consumed so far.
    pub deposits_count: u64,
    /// Priority serial the next deposit must carry.
    pub next_priority_serial: u64,
}

impl RunningCommitments {
    /// The start of a batch: every chain at `ZERO`.
    pub fn start(state_root: Digest, first_priority_serial: u64) -> Self {
        Self {
            state_root,
            operations: ZERO,
            signed_operations: ZERO,
            deposits: ZERO,
            withdrawals: ZERO,
            pubdata: ZERO,
            deposits_count: 0,
            next_priority_serial: first_priority_serial,
        }
    }
}

/// What the signature-verification circuit needs for one signed operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedWitness {
    /// The digest signed (docs/rollup.md §4).
    #[serde(with = "crate::digest_serde")]
    pub message_digest: Digest,
    /// The signer's public key, as read from the state.
    #[serde(with = "crate::digest_serde")]
    pub public_key: Digest,
    /// The one-time signature, whose key index is the sender's nonce.
    pub signature: Signature,
}

/// Everything about one executed operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationWitness {
    /// Position in the batch.
    pub index: usize,
    /// The operation as the batch holds it.
    pub operation: Operation,
    /// The item of the operations chain.
    #[serde(with = "crate::digest_serde")]
    pub operation_digest: Digest,
    /// The item of the pubdata chain.
    #[serde(with = "crate::digest_serde")]
    pub pubdata_digest: Digest,
    /// The item of the deposits chain (Deposit only).
    #[serde(with = "crate::digest_serde::option")]
    pub deposit_digest: Option<Digest>,
    /// The item of the withdrawals chain (Withdraw only).
    #[serde(with = "crate::digest_serde::option")]
    pub withdrawal_digest: Option<Digest>,
    /// Transfer and Withdraw only.
    pub signed: Option<SignedWitness>,
    /// Leaf updates in the order applied — Transfer: sender, recipient, operator; Withdraw:
    /// sender, operator; Deposit: recipient. Each starts from the previous one's root.
    pub updates: Vec<AccountUpdate>,
    /// The running commitments before the operation.
    pub before: RunningCommitments,
    /// The running commitments after it.
    pub after: RunningCommitments,
}

/// The witness of a whole batch: every operation in order, from which the circuits crate cuts
/// its basic circuit instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchWitness {
    /// The batch's chain.
    pub chain_id: ChainId,
    /// The batch's number.
    pub batch_number: BatchNumber,
    /// The account credited every signed operation's fee.
    pub operator: AccountId,
    /// Every operation, in batch order.
    pub operations: Vec<OperationWitness>,
    /// The running commitments before the first operation.
    pub start: RunningCommitments,
    /// The running commitments after the last operation (the public output's values).
    pub end: RunningCommitments,
}

/// A batch applied to a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutedBatch {
    /// The statement the final proof attests; `recursion_tree_vk_digest` is `ZERO` here, the
    /// scheduler fills it.
    pub public_output: BatchPublicOutput,
    /// The state root after the batch (the state now holds it).
    #[serde(with = "crate::digest_serde")]
    pub new_root: Digest,
    /// What the basic circuits are built from.
    pub witness: BatchWitness,
}

/// Apply `batch` to `state`. On success the state holds the new root (committed); on any error
/// it is unchanged.
pub fn execute_batch<S: StateTree + ?Sized>(
    state: &mut S,
    batch: &Batch,
) -> Result<ExecutedBatch, ExecutionError> {
    // Nothing may be staged from an earlier, abandoned use of the state.
    state.rollback();
    match run(state, batch) {
        Ok(executed) => {
            state.commit()?;
            Ok(executed)
        }
        Err(e) => {
            state.rollback();
            Err(e)
        }
    }
}

fn run<S: StateTree + ?Sized>(
    state: &mut S,
    batch: &Batch,
) -> Result<ExecutedBatch, ExecutionError> {
    if batch.operations.len() > MAX_OPERATIONS_PER_BATCH {
        return Err(ExecutionError::TooManyOperations {
            count: batch.operations.len(),
        });
    }
    let root = state.root()?;
    if root != batch.prev_state_root {
        return Err(ExecutionError::PrevStateRootMismatch {
            batch: digest_to_hash_digest(batch.prev_state_root),
            state: digest_to_hash_digest(root),
        });
    }
    let start = RunningCommitments::start(root, batch.first_priority_serial);
    let mut acc = start;
    let mut operations = Vec::with_capacity(batch.operations.len());
    let chain_id = batch.chain_id.0;
    let own: Vec<OwnDigests> = batch
        .operations
        .par_iter()
        .map(|op| OwnDigests::of(op, chain_id))
        .collect();
    for (index, (op, own)) in batch.operations.iter().zip(own).enumerate() {
        let witness = apply(state, batch, index, op, own, acc).map_err(|e| match e {
            Failure::Rule(reason) => ExecutionError::Operation {
                index,
                kind: op.kind(),
                reason,
            },
            Failure::State(e) => ExecutionError::State(e),
        })?;
        acc = witness.after;
        operations.push(witness);
    }
    let public_output = BatchPublicOutput {
        chain_id: batch.chain_id,
        batch_number: batch.number,
        prev_state_root: digest_to_hash_digest(start.state_root),
        new_state_root: digest_to_hash_digest(acc.state_root),
        operations_commitment: digest_to_hash_digest(acc.operations),
        deposits_consumed: acc.deposits_count,
        deposits_commitment: digest_to_hash_digest(acc.deposits),
        withdrawals_commitment: digest_to_hash_digest(acc.withdrawals),
        pubdata_commitment: digest_to_hash_digest(acc.pubdata),
        recursion_tree_vk_digest: HashDigest::ZERO,
    };
    Ok(ExecutedBatch {
        public_output,
        new_root: acc.state_root,
        witness: BatchWitness {
            chain_id: batch.chain_id,
            batch_number: batch.number,
            operator: batch.operator,
            operations,
            start,
            end: acc,
        },
    })
}

/// What an operation's own fields determine, whatever the state: its chain items and, for a
/// signed operation, its message digest and the public key its signature recovers (the costly
/// part: about 200 Poseidon permutations per signature). Computed for the whole batch at once,
/// on every core, before the operations are applied in order; the rules are then checked in
/// their order with these values, so that the outcome, every error included, is the one of
/// computing them in place.
struct OwnDigests {
    operation: Digest,
    pubdata: Digest,
    deposit: Option<Digest>,
    withdrawal: Option<Digest>,
    /// Transfer and Withdraw: the signed message's digest and [`recover_public_key`] of it.
    signed: Option<(Digest, Result<Digest, SignatureError>)>,
}

impl OwnDigests {
    fn of(op: &Operation, chain_id: u64) -> Self {
        let signed = match (op.message_digest(chain_id), op.signature()) {
            (Some(message), Some(signature)) => {
                Some((message, recover_public_key(message, signature)))
            }
            _ => None,
        };
        Self {
            operation: op.operation_digest(chain_id),
            pubdata: op.pubdata_digest(),
            deposit: op.deposit_digest(),
            withdrawal: op.withdrawal_digest(),
            signed,
        }
    }
}

enum Failure {
    Rule(OperationError),
    State(StateError),
}

impl From<OperationError> for Failure {
    fn from(e: OperationError) -> Self {
        Self::Rule(e)
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Self::State(e)
    }
}

fn apply<S: StateTree + ?Sized>(
    state: &mut S,
    batch: &Batch,
    index: usize,
    op: &Operation,
    own: OwnDigests,
    before: RunningCommitments,
) -> Result<OperationWitness, Failure> {
    let mut updates = Vec::new();
    let mut after = before;
    let mut signed = None;
    match op {
        Operation::Deposit(d) => {
            if d.priority_serial != before.next_priority_serial {
                return Err(OperationError::PriorityOutOfOrder {
                    expected: before.next_priority_serial,
                    got: d.priority_serial,
                }
                .into());
            }
            let account = match (state.account(d.to)?, d.public_key) {
                (None, None) => {
                    return Err(OperationError::DepositWithoutKey { account: d.to }.into())
                }
                (None, Some(pk)) => Account::new(pk),
                (Some(existing), Some(pk)) if existing.public_key != pk => {
                    return Err(OperationError::DepositKeyMismatch { account: d.to }.into())
                }
                (Some(existing), _) => existing,
            };
            let credited = credit(account, d.to, d.amount, AccountRole::Recipient)?;
            updates.push(state.set_account(d.to, credited)?);
            let deposit = own.deposit.unwrap_or_else(|| d.digest());
            after.deposits = deposits_step(before.deposits, deposit);
            after.deposits_count += 1;
            after.next_priority_serial += 1;
        }
        Operation::Transfer(t) => {
            let (sender, public_key, message_digest) = check_signed(
                state,
                batch,
                t.from,
                t.nonce,
                t.amount,
                t.fee,
                &t.signature,
                &own.signed,
            )?;
            // The recipient and operator must exist before anything is debited, so that an
            // unknown account is reported as such and not as a later effect.
            if state.account(t.to)?.is_none() {
                return Err(OperationError::UnknownRecipient { account: t.to }.into());
            }
            updates.push(state.set_account(t.from, sender)?);
            let recipient = state
                .account(t.to)?
                .ok_or(OperationError::UnknownRecipient { account: t.to })?;
            let recipient = credit(recipient, t.to, t.amount, AccountRole::Recipient)?;
            updates.push(state.set_account(t.to, recipient)?);
            updates.push(pay_operator(state, batch.operator, t.fee)?);
            signed = Some(SignedWitness {
                message_digest,
                public_key,
                signature: t.signature.clone(),
            });
        }
        Operation::Withdraw(w) => {
            let (sender, public_key, message_digest) = check_signed(
                state,
                batch,
                w.from,
                w.nonce,
                w.amount,
                w.fee,
                &w.signature,
                &own.signed,
            )?;
            updates.push(state.set_account(w.from, sender)?);
            updates.push(pay_operator(state, batch.operator, w.fee)?);
            signed = Some(SignedWitness {
                message_digest,
                public_key,
                signature: w.signature.clone(),
            });
        }
    }
    let operation_digest = own.operation;
    let pubdata_digest = own.pubdata;
    let withdrawal_digest = own.withdrawal;
    after.operations = operations_step(before.operations, operation_digest);
    after.pubdata = pubdata_step(before.pubdata, pubdata_digest);
    if let Some(w) = withdrawal_digest {
        after.withdrawals = withdrawals_step(before.withdrawals, w);
    }
    if let Some(s) = &signed {
        after.signed_operations = signed_operations_step(
            before.signed_operations,
            s.message_digest,
            s.public_key,
            s.signature.key_index,
        );
    }
    after.state_root = state.root()?;
    Ok(OperationWitness {
        index,
        operation: op.clone(),
        operation_digest,
        pubdata_digest,
        deposit_digest: own.deposit,
        withdrawal_digest,
        signed,
        updates,
        before,
        after,
    })
}

/// Check the rules of a signed operation's sender and return the sender after the debit and
/// nonce increment, its public key and the signed message's digest. Order: sender exists,
/// operator exists, nonce equals, keys not exhausted, key index is the nonce, signature
/// verifies, amount + fee fits, balance suffices. `signed` is the operation's message digest
/// and the key its signature recovers ([`OwnDigests`]): the signature verifies when that is
/// the sender's key, as [`crate::signature::verify`] decides.
#[allow(clippy::too_many_arguments)]
fn check_signed<S: StateTree + ?Sized>(
    state: &S,
    batch: &Batch,
    from: AccountId,
    nonce: u32,
    amount: u64,
    fee: u64,
    signature: &Signature,
    signed: &Option<(Digest, Result<Digest, SignatureError>)>,
) -> Result<(Account, Digest, Digest), Failure> {
    let sender = state
        .account(from)?
        .ok_or(OperationError::UnknownSender { account: from })?;
    if state.account(batch.operator)?.is_none() {
        return Err(OperationError::UnknownOperator {
            account: batch.operator,
        }
        .into());
    }
    if nonce != sender.nonce {
        return Err(OperationError::NonceMismatch {
            account: from,
            expected: sender.nonce,
            got: nonce,
        }
        .into());
    }
    let height = signature.height();
    if height < 64 && u64::from(nonce) >= 1u64 << height {
        return Err(OperationError::OneTimeKeysExhausted {
            account: from,
            nonce,
            height,
        }
        .into());
    }
    if signature.key_index < nonce {
        return Err(OperationError::OneTimeKeyReused {
            key_index: signature.key_index,
            nonce,
        }
        .into());
    }
    if signature.key_index != nonce {
        return Err(OperationError::OneTimeKeyNotNonce {
            key_index: signature.key_index,
            nonce,
        }
        .into());
    }
    let Some((message, recovered)) = signed else {
        return Err(OperationError::InvalidSignature(SignatureError::Mismatch).into());
    };
    match recovered {
        Ok(root) if *root == sender.public_key => {}
        Ok(_) => return Err(OperationError::InvalidSignature(SignatureError::Mismatch).into()),
        Err(e) => return Err(OperationError::InvalidSignature(e.clone()).into()),
    }
    let required = amount
        .checked_add(fee)
        .ok_or(OperationError::AmountPlusFeeOverflow { amount, fee })?;
    if sender.balance < required {
        return Err(OperationError::InsufficientBalance {
            account: from,
            balance: sender.balance,
            required,
        }
        .into());
    }
    Ok((
        Account {
            balance: sender.balance - required,
            nonce: nonce + 1,
            ..sender
        },
        sender.public_key,
        *message,
    ))
}

fn credit(
    account: Account,
    id: AccountId,
    amount: u64,
    role: AccountRole,
) -> Result<Account, OperationError> {
    let balance = account
        .balance
        .checked_add(amount)
        .ok_or(OperationError::BalanceOverflow {
            role,
            account: id,
            balance: account.balance,
            credit: amount,
        })?;
    Ok(Account { balance, ..account })
}

fn pay_operator<S: StateTree + ?Sized>(
    state: &mut S,
    operator: AccountId,
    fee: u64,
) -> Result<AccountUpdate, Failure> {
    let account = state
        .account(operator)?
        .ok_or(OperationError::UnknownOperator { account: operator })?;
    let paid = credit(account, operator, fee, AccountRole::Operator)?;
    Ok(state.set_account(operator, paid)?)
}
