//! Every operation rule, the witness, and determinism of batch execution.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use zkfleet_rollup::batch::Batch;
use zkfleet_rollup::encoding::binary;
use zkfleet_rollup::execute::{execute_batch, AccountRole, ExecutionError, OperationError};
use zkfleet_rollup::genesis::{Genesis, GenesisAccount};
use zkfleet_rollup::operation::{Deposit, L1Address, Operation, OperationKind, Transfer, Withdraw};
use zkfleet_rollup::signature::{verify, SignatureError, XmssKeyPair};
use zkfleet_rollup::spec::{
    deposits_step, operations_step, pubdata_step, signed_operations_step, tx_message_digest,
    withdrawals_step, Digest, ZERO,
};
use zkfleet_rollup::state::{AccountId, DiskState, MemoryState, StateTree};
use zkfleet_types::{BatchNumber, ChainId, HashDigest};

const HEIGHT: usize = 3;
const CHAIN: ChainId = ChainId(270);
const OPERATOR: AccountId = 0;

/// Accounts 0 (operator), 1 and 2 with keys of height 3; account 2 has balance `u64::MAX - 10`.
struct World {
    keys: Vec<XmssKeyPair>,
    genesis: Genesis,
}

impl World {
    fn new() -> Self {
        let keys: Vec<_> = (0..3u8)
            .map(|i| XmssKeyPair::generate([i + 1; 32], HEIGHT).unwrap())
            .collect();
        let balances = [100, 1_000, u64::MAX - 10];
        let accounts = (0..3)
            .map(|i| GenesisAccount {
                id: i as AccountId,
                public_key: keys[i].public_key_digest(),
                balance: balances[i],
                nonce: 0,
            })
            .collect();
        Self {
            keys,
            genesis: Genesis::new(CHAIN, accounts),
        }
    }

    fn state(&self) -> MemoryState {
        self.genesis.to_memory_state().unwrap()
    }

    fn batch(&self, operations: Vec<Operation>) -> Batch {
        Batch {
            chain_id: CHAIN,
            number: BatchNumber(7),
            prev_state_root: self.state().root().unwrap(),
            operator: OPERATOR,
            first_priority_serial: 40,
            operations,
        }
    }

    fn transfer(
        &mut self,
        from: AccountId,
        to: AccountId,
        amount: u64,
        fee: u64,
        nonce: u32,
    ) -> Operation {
        let mut t = Transfer {
            from,
            to,
            amount,
            fee,
            nonce,
            signature: Default::default(),
        };
        let m = tx_message_digest(&t.message(CHAIN.0));
        t.signature = self.keys[from as usize].sign(nonce, m).unwrap();
        Operation::Transfer(t)
    }

    fn withdraw(&mut self, from: AccountId, amount: u64, fee: u64, nonce: u32) -> Operation {
        let mut w = Withdraw {
            from,
            amount,
            fee,
            nonce,
            l1_recipient: L1Address([0xab; 20]),
            signature: Default::default(),
        };
        let m = tx_message_digest(&w.message(CHAIN.0));
        w.signature = self.keys[from as usize].sign(nonce, m).unwrap();
        Operation::Withdraw(w)
    }
}

fn deposit(serial: u64, to: AccountId, public_key: Option<Digest>, amount: u64) -> Operation {
    Operation::Deposit(Deposit {
        priority_serial: serial,
        to,
        public_key,
        amount,
    })
}

/// Execute and expect the batch to be rejected at `index` for `reason`, leaving the state as
/// it was.
fn rejected(
    world: &World,
    ops: Vec<Operation>,
    index: usize,
    kind: OperationKind,
) -> OperationError {
    let mut state = world.state();
    let root = state.root().unwrap();
    let err = execute_batch(&mut state, &world.batch(ops)).unwrap_err();
    assert_eq!(
        state.root().unwrap(),
        root,
        "a rejected batch must leave the state untouched"
    );
    match err {
        ExecutionError::Operation {
            index: i,
            kind: k,
            reason,
        } => {
            assert_eq!(
                (i, k),
                (index, kind),
                "rejected at the wrong operation: {reason}"
            );
            let message = ExecutionError::Operation {
                index: i,
                kind: k,
                reason: reason.clone(),
            }
            .to_string();
            assert!(
                message.starts_with(&format!("operation {index} ({kind}): ")),
                "{message}"
            );
            reason
        }
        other => panic!("expected an operation error, got {other}"),
    }
}

#[test]
fn valid_batch_applies_every_rule_and_balances() {
    let mut w = World::new();
    let new_key = XmssKeyPair::generate([9; 32], HEIGHT).unwrap();
    let ops = vec![
        deposit(40, 5, Some(new_key.public_key_digest()), 50),
        w.transfer(1, 5, 300, 7, 0),
        w.withdraw(1, 100, 3, 1),
        deposit(41, 1, None, 1),
        deposit(42, 1, Some(w.keys[1].public_key_digest()), 1),
        w.transfer(1, 1, 10, 0, 2), // to oneself: allowed, only the fee and nonce change
    ];
    let mut state = w.state();
    let executed = execute_batch(&mut state, &w.batch(ops)).unwrap();
    let a = |id| state.account(id).unwrap().unwrap();
    assert_eq!(a(0).balance, 100 + 7 + 3);
    assert_eq!(a(1).balance, 1_000 - 307 - 103 + 2);
    assert_eq!(a(1).nonce, 3);
    assert_eq!(a(5).balance, 350);
    assert_eq!(a(5).public_key, new_key.public_key_digest());
    assert_eq!(executed.new_root, state.root().unwrap());
    let out = &executed.public_output;
    assert_eq!(out.deposits_consumed, 3);
    assert_eq!(out.recursion_tree_vk_digest, HashDigest::ZERO);
    assert_eq!(out.batch_number, BatchNumber(7));
}

#[test]
fn deposit_rules() {
    let w = World::new();
    let pk = w.keys[0].public_key_digest();
    assert_eq!(
        rejected(
            &w,
            vec![deposit(40, 1, None, 1), deposit(40, 1, None, 1)],
            1,
            OperationKind::Deposit
        ),
        OperationError::PriorityOutOfOrder {
            expected: 41,
            got: 40
        }
    );
    assert_eq!(
        rejected(&w, vec![deposit(41, 1, None, 1)], 0, OperationKind::Deposit),
        OperationError::PriorityOutOfOrder {
            expected: 40,
            got: 41
        }
    );
    assert_eq!(
        rejected(&w, vec![deposit(40, 9, None, 1)], 0, OperationKind::Deposit),
        OperationError::DepositWithoutKey { account: 9 }
    );
    assert_eq!(
        rejected(
            &w,
            vec![deposit(40, 1, Some(pk), 1)],
            0,
            OperationKind::Deposit
        ),
        OperationError::DepositKeyMismatch { account: 1 }
    );
    assert_eq!(
        rejected(
            &w,
            vec![deposit(40, 2, None, 11)],
            0,
            OperationKind::Deposit
        ),
        OperationError::BalanceOverflow {
            role: AccountRole::Recipient,
            account: 2,
            balance: u64::MAX - 10,
            credit: 11
        }
    );
}

#[test]
fn existence_rules() {
    let mut w = World::new();
    let ops = vec![w.transfer(1, 9, 1, 0, 0)];
    assert_eq!(
        rejected(&w, ops, 0, OperationKind::Transfer),
        OperationError::UnknownRecipient { account: 9 }
    );
    // A sender that does not exist: signed by account 1's key, claimed from account 8.
    let mut op = w.transfer(1, 2, 1, 0, 1);
    if let Operation::Transfer(t) = &mut op {
        t.from = 8;
    }
    assert_eq!(
        rejected(&w, vec![op], 0, OperationKind::Transfer),
        OperationError::UnknownSender { account: 8 }
    );
    let mut w = World::new();
    let op = w.withdraw(1, 1, 0, 0);
    let mut batch = w.batch(vec![op]);
    batch.operator = 77;
    let err = execute_batch(&mut w.state(), &batch).unwrap_err();
    assert_eq!(
        err.operation_error(),
        Some(&OperationError::UnknownOperator { account: 77 })
    );
}

#[test]
fn nonce_and_one_time_key_rules() {
    let mut w = World::new();
    // Nonce ahead of the account.
    let ops = vec![w.transfer(1, 2, 1, 0, 1)];
    assert_eq!(
        rejected(&w, ops, 0, OperationKind::Transfer),
        OperationError::NonceMismatch {
            account: 1,
            expected: 0,
            got: 1
        }
    );
    // Replaying an executed transfer: same nonce twice.
    let mut w = World::new();
    let t = w.transfer(1, 2, 1, 0, 0);
    assert_eq!(
        rejected(&w, vec![t.clone(), t], 1, OperationKind::Transfer),
        OperationError::NonceMismatch {
            account: 1,
            expected: 1,
            got: 0
        }
    );
    // A fresh message with the right nonce, signed with an already used one-time key.
    let mut w = World::new();
    let first = w.transfer(1, 2, 1, 0, 0);
    let mut signer = XmssKeyPair::generate([2; 32], HEIGHT).unwrap();
    let mut t = Transfer {
        from: 1,
        to: 2,
        amount: 5,
        fee: 0,
        nonce: 1,
        signature: Default::default(),
    };
    t.signature = signer
        .sign(0, tx_message_digest(&t.message(CHAIN.0)))
        .unwrap();
    assert_eq!(
        rejected(
            &w,
            vec![first, Operation::Transfer(t.clone())],
            1,
            OperationKind::Transfer
        ),
        OperationError::OneTimeKeyReused {
            key_index: 0,
            nonce: 1
        }
    );
    // Signed with a later key than the nonce.
    t.nonce = 0;
    t.signature = signer
        .sign(2, tx_message_digest(&t.message(CHAIN.0)))
        .unwrap();
    assert_eq!(
        rejected(&w, vec![Operation::Transfer(t)], 0, OperationKind::Transfer),
        OperationError::OneTimeKeyNotNonce {
            key_index: 2,
            nonce: 0
        }
    );
}

#[test]
fn one_time_keys_exhausted() {
    let mut w = World::new();
    let mut ops = Vec::new();
    for nonce in 0..(1u32 << HEIGHT) {
        ops.push(w.transfer(1, 2, 0, 1, nonce));
    }
    // Account 1's 8 keys are used; a ninth transfer cannot carry a valid key.
    let mut state = w.state();
    execute_batch(&mut state, &w.batch(ops.clone())).unwrap();
    let mut signer = XmssKeyPair::generate_at([2; 32], HEIGHT, 7).unwrap();
    let mut t = Transfer {
        from: 1,
        to: 2,
        amount: 0,
        fee: 1,
        nonce: 8,
        signature: Default::default(),
    };
    t.signature = signer
        .sign(7, tx_message_digest(&t.message(CHAIN.0)))
        .unwrap();
    ops.push(Operation::Transfer(t));
    assert_eq!(
        rejected(&w, ops, 8, OperationKind::Transfer),
        OperationError::OneTimeKeysExhausted {
            account: 1,
            nonce: 8,
            height: HEIGHT
        }
    );
}

#[test]
fn signature_rules() {
    let mut w = World::new();
    // Wrong message: amount changed after signing.
    let mut op = w.transfer(1, 2, 1, 0, 0);
    if let Operation::Transfer(t) = &mut op {
        t.amount = 2;
    }
    assert_eq!(
        rejected(&w, vec![op], 0, OperationKind::Transfer),
        OperationError::InvalidSignature(SignatureError::Mismatch)
    );
    // Wrong key: account 2 signs for account 1.
    let mut w = World::new();
    let mut t = Transfer {
        from: 1,
        to: 2,
        amount: 1,
        fee: 0,
        nonce: 0,
        signature: Default::default(),
    };
    t.signature = w.keys[2]
        .sign(0, tx_message_digest(&t.message(CHAIN.0)))
        .unwrap();
    assert_eq!(
        rejected(&w, vec![Operation::Transfer(t)], 0, OperationKind::Transfer),
        OperationError::InvalidSignature(SignatureError::Mismatch)
    );
    // Another chain's signature.
    let mut w = World::new();
    let mut t = Transfer {
        from: 1,
        to: 2,
        amount: 1,
        fee: 0,
        nonce: 0,
        signature: Default::default(),
    };
    t.signature = w.keys[1]
        .sign(0, tx_message_digest(&t.message(CHAIN.0 + 1)))
        .unwrap();
    assert_eq!(
        rejected(&w, vec![Operation::Transfer(t)], 0, OperationKind::Transfer),
        OperationError::InvalidSignature(SignatureError::Mismatch)
    );
    // A withdrawal whose recipient was changed after signing.
    let mut w = World::new();
    let mut op = w.withdraw(1, 1, 0, 0);
    if let Operation::Withdraw(x) = &mut op {
        x.l1_recipient = L1Address([0xcd; 20]);
    }
    assert_eq!(
        rejected(&w, vec![op], 0, OperationKind::Withdraw),
        OperationError::InvalidSignature(SignatureError::Mismatch)
    );
}

/// Signatures are checked for the whole batch before the operations are applied (on every
/// core); a batch is still rejected at its first broken rule in batch and rule order: a bad
/// signature after another broken rule is not the one reported, one before it is, and within
/// one operation the rules before the signature's (nonce) come first.
#[test]
fn the_first_broken_rule_is_reported_whatever_the_signatures_later() {
    // Operation 1 overdraws; operation 2's signature is bad: the overdraft is reported.
    let mut w = World::new();
    let first = w.transfer(1, 2, 1, 0, 0);
    let mut bad = w.transfer(1, 2, 1, 0, 1);
    if let Operation::Transfer(t) = &mut bad {
        t.amount = 2;
    }
    let ops = vec![first, w.withdraw(0, 1_000, 0, 0), bad];
    assert_eq!(
        rejected(&w, ops, 1, OperationKind::Withdraw),
        OperationError::InsufficientBalance {
            account: 0,
            balance: 100,
            required: 1_000
        }
    );
    // Operation 1's signature is bad and operation 2 overdraws: the signature is reported.
    let mut w = World::new();
    let first = w.transfer(1, 2, 1, 0, 0);
    let mut bad = w.transfer(1, 2, 1, 0, 1);
    if let Operation::Transfer(t) = &mut bad {
        t.amount = 2;
    }
    let ops = vec![first, bad, w.withdraw(0, 1_000, 0, 0)];
    assert_eq!(
        rejected(&w, ops, 1, OperationKind::Transfer),
        OperationError::InvalidSignature(SignatureError::Mismatch)
    );
    // One operation with a wrong nonce and a bad signature: the nonce comes first.
    let mut w = World::new();
    let mut bad = w.transfer(1, 2, 1, 0, 0);
    if let Operation::Transfer(t) = &mut bad {
        t.amount = 2;
        t.nonce = 1;
    }
    assert_eq!(
        rejected(&w, vec![bad], 0, OperationKind::Transfer),
        OperationError::NonceMismatch {
            account: 1,
            expected: 0,
            got: 1
        }
    );
    // A malformed signature (chains missing) is reported as such, at its operation.
    let mut w = World::new();
    let mut bad = w.transfer(1, 2, 1, 0, 0);
    if let Operation::Transfer(t) = &mut bad {
        t.signature.chain_values.pop();
    }
    assert!(matches!(
        rejected(&w, vec![bad], 0, OperationKind::Transfer),
        OperationError::InvalidSignature(SignatureError::WrongChainCount { .. })
    ));
}

#[test]
fn balance_rules() {
    let mut w = World::new();
    let ops = vec![w.transfer(1, 2, 1_000, 1, 0)];
    assert_eq!(
        rejected(&w, ops, 0, OperationKind::Transfer),
        OperationError::InsufficientBalance {
            account: 1,
            balance: 1_000,
            required: 1_001
        }
    );
    let mut w = World::new();
    let ops = vec![w.withdraw(1, u64::MAX, 1, 0)];
    assert_eq!(
        rejected(&w, ops, 0, OperationKind::Withdraw),
        OperationError::AmountPlusFeeOverflow {
            amount: u64::MAX,
            fee: 1
        }
    );
    let mut w = World::new();
    let ops = vec![w.transfer(1, 2, 11, 0, 0)];
    assert_eq!(
        rejected(&w, ops, 0, OperationKind::Transfer),
        OperationError::BalanceOverflow {
            role: AccountRole::Recipient,
            account: 2,
            balance: u64::MAX - 10,
            credit: 11
        }
    );
    // Operator overflow: account 2 is the operator and receives a fee it cannot hold.
    let mut w = World::new();
    let op = w.transfer(1, 1, 0, 11, 0);
    let mut batch = w.batch(vec![op]);
    batch.operator = 2;
    let err = execute_batch(&mut w.state(), &batch).unwrap_err();
    assert_eq!(
        err.operation_error(),
        Some(&OperationError::BalanceOverflow {
            role: AccountRole::Operator,
            account: 2,
            balance: u64::MAX - 10,
            credit: 11
        })
    );
}

#[test]
fn prev_state_root_must_match() {
    let w = World::new();
    let mut batch = w.batch(vec![]);
    batch.prev_state_root = ZERO;
    assert!(matches!(
        execute_batch(&mut w.state(), &batch),
        Err(ExecutionError::PrevStateRootMismatch { .. })
    ));
}

/// The witness is complete: updates chain root to root, every commitment recomputes from the
/// digests, and every signature verifies under the recorded key.
#[test]
fn witness_is_consistent() {
    let mut w = World::new();
    let new_key = XmssKeyPair::generate([9; 32], HEIGHT).unwrap();
    let ops = vec![
        w.transfer(1, 2, 5, 1, 0),
        deposit(40, 6, Some(new_key.public_key_digest()), 3),
        w.withdraw(1, 7, 2, 1),
        w.transfer(1, 0, 9, 0, 2),
    ];
    let mut state = w.state();
    let executed = execute_batch(&mut state, &w.batch(ops)).unwrap();
    let witness = &executed.witness;
    let mut acc = witness.start;
    assert_eq!(acc.operations, ZERO);
    let expected_updates = [vec![1, 2, 0], vec![6], vec![1, 0], vec![1, 0, 0]];
    for (i, op) in witness.operations.iter().enumerate() {
        assert_eq!(op.index, i);
        assert_eq!(op.before, acc);
        let ids: Vec<_> = op.updates.iter().map(|u| u.account_id).collect();
        assert_eq!(ids, expected_updates[i]);
        let mut root = op.before.state_root;
        for u in &op.updates {
            u.verify().unwrap();
            assert_eq!(u.root_before, root);
            root = u.root_after;
        }
        assert_eq!(root, op.after.state_root);
        assert_eq!(
            op.after.operations,
            operations_step(acc.operations, op.operation_digest)
        );
        assert_eq!(
            op.after.pubdata,
            pubdata_step(acc.pubdata, op.pubdata_digest)
        );
        match (&op.signed, op.deposit_digest, op.withdrawal_digest) {
            (Some(s), None, withdrawal) => {
                verify(s.public_key, s.message_digest, &s.signature).unwrap();
                assert_eq!(
                    op.after.signed_operations,
                    signed_operations_step(
                        acc.signed_operations,
                        s.message_digest,
                        s.public_key,
                        s.signature.key_index
                    )
                );
                assert_eq!(op.operation_digest, s.message_digest);
                match withdrawal {
                    Some(wd) => {
                        assert_eq!(op.after.withdrawals, withdrawals_step(acc.withdrawals, wd))
                    }
                    None => assert_eq!(op.after.withdrawals, acc.withdrawals),
                }
            }
            (None, Some(d), None) => {
                assert_eq!(op.after.deposits, deposits_step(acc.deposits, d));
                assert_eq!(op.after.deposits_count, acc.deposits_count + 1);
                assert_eq!(op.after.signed_operations, acc.signed_operations);
            }
            other => panic!("unexpected digests for operation {i}: {other:?}"),
        }
        acc = op.after;
    }
    assert_eq!(witness.end, acc);
    let out = &executed.public_output;
    assert_eq!(
        out.new_state_root,
        zkfleet_rollup::spec::digest_to_hash_digest(acc.state_root)
    );
    assert_eq!(
        out.withdrawals_commitment,
        zkfleet_rollup::spec::digest_to_hash_digest(acc.withdrawals)
    );
    assert_eq!(out.deposits_consumed, 1);
    // The witness survives JSON.
    let json = serde_json::to_string(&executed).unwrap();
    assert_eq!(
        serde_json::from_str::<zkfleet_rollup::execute::ExecutedBatch>(&json).unwrap(),
        executed
    );
}

/// Same input, identical output bytes — in memory and on disk.
#[test]
fn execution_is_deterministic_across_runs_and_backends() {
    let mut w = World::new();
    let ops = vec![
        w.transfer(1, 2, 5, 1, 0),
        deposit(40, 1, None, 3),
        w.withdraw(1, 7, 2, 1),
    ];
    let batch = w.batch(ops);
    let bytes = binary::encode(&batch).unwrap();
    let run_memory = || {
        let batch = binary::decode(&bytes).unwrap();
        serde_json::to_vec(&execute_batch(&mut w.state(), &batch).unwrap()).unwrap()
    };
    let first = run_memory();
    assert_eq!(first, run_memory());
    let dir = tempfile::tempdir().unwrap();
    let mut disk = DiskState::open(&dir.path().join("state.redb")).unwrap();
    w.genesis.load_into(&mut disk).unwrap();
    let on_disk = serde_json::to_vec(&execute_batch(&mut disk, &batch).unwrap()).unwrap();
    assert_eq!(first, on_disk);
}
