//! Making batches: signed operations against the current state, as users would send them.
//!
//! The genesis (accounts, balances, key seeds, first L1 priority serial) comes from the
//! rollup's own generator (`zkfleet_rollup::generate` with no operations), so a sequencer and
//! `zkfleet rollup generate` with the same seed start from the same state. That generator makes
//! one batch from a fresh genesis; a sequencer needs batch after batch on a state that moves
//! on, so the operations are made here, the same way: every candidate runs through the real
//! executor (`execute_batch`) against a scratch copy of the state and is kept only if valid,
//! so a produced batch is valid by construction.
//!
//! Everything is deterministic: batch `n`'s operations come from ChaCha20 seeded with the
//! chain's seed on stream `n`, and accounts created by deposits get key seeds derived from
//! (seed, account id). A restart that has to make a batch again makes the same one, and no
//! secret beyond the genesis keyring needs storing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkfleet_rollup::batch::Batch;
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::OPERATOR;
use zkfleet_rollup::keyring::Keyring;
use zkfleet_rollup::operation::{Deposit, L1Address, Operation, Transfer, Withdraw};
use zkfleet_rollup::signature::{Signature, XmssKeyPair};
use zkfleet_rollup::spec::{tx_message_digest, Digest};
use zkfleet_rollup::state::{Account, AccountId, MemoryState, StateTree};
use zkfleet_types::{BatchNumber, ChainId};

/// Stream of the key seeds of accounts created after genesis (batch streams are below 2^32).
const DERIVED_SEED_STREAM: u64 = 1 << 40;

/// Why a batch could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The rollup state could not be read.
    #[error("state: {0}")]
    State(String),
    /// An account's signing key could not be made or used.
    #[error("key of account {account}: {reason}")]
    Key {
        /// The account.
        account: AccountId,
        /// Why.
        reason: String,
    },
    /// An operation names an account the producer knows nothing of.
    #[error("account {0} is in neither the state nor the keyring")]
    MissingAccount(AccountId),
    /// The state tree has no free account id for a deposit to a new account.
    #[error("no account id left for a new account")]
    AccountsExhausted,
    /// The producer made an operation the rollup's rules refuse.
    #[error("an operation the rules reject was made (a producer bug): {0}")]
    Rejected(String),
}

/// Where a batch starts: the state after the previous one and the counters that go with it.
pub struct BatchStart<'a> {
    /// The chain.
    pub chain_id: ChainId,
    /// The number of the batch to make.
    pub number: BatchNumber,
    /// The state after the previous batch.
    pub state: &'a MemoryState,
    /// Ids `0..accounts` exist.
    pub accounts: u32,
    /// The L1 priority serial the batch's first deposit takes.
    pub first_priority_serial: u64,
}

/// A made batch and the counters after it.
#[derive(Debug, Clone)]
pub struct ProducedBatch {
    /// The batch.
    pub batch: Batch,
    /// Accounts after it: ids `0..accounts_after` exist.
    pub accounts_after: u32,
    /// The L1 priority serial the next batch's first deposit takes.
    pub next_priority_serial: u64,
}

/// Makes the operations of every batch of one chain.
pub struct OperationSource {
    seed: u64,
    tree_height: usize,
    /// The genesis accounts' seeds; later accounts' are derived.
    keyring: Keyring,
}

impl OperationSource {
    /// The source of a chain made from `seed`, with keys of `tree_height` and the genesis
    /// accounts' `keyring`.
    pub fn new(seed: u64, tree_height: usize, keyring: Keyring) -> Self {
        Self {
            seed,
            tree_height,
            keyring,
        }
    }

    /// The key seed of `account`: from the genesis keyring, else derived.
    fn account_seed(&self, account: AccountId) -> [u8; 32] {
        if let Ok(seed) = self.keyring.seed(account) {
            return seed;
        }
        let mut rng = ChaCha20Rng::seed_from_u64(self.seed);
        rng.set_stream(DERIVED_SEED_STREAM + u64::from(account));
        rng.gen()
    }

    /// The key pair of `account`, positioned to sign with one-time key `nonce`.
    fn key_pair(&self, account: AccountId, nonce: u32) -> Result<XmssKeyPair, ProduceError> {
        XmssKeyPair::generate_at(self.account_seed(account), self.tree_height, nonce).map_err(|e| {
            ProduceError::Key {
                account,
                reason: e.to_string(),
            }
        })
    }

    /// Makes a batch of `operations` valid operations starting at `start`.
    pub fn make_batch(
        &self,
        start: &BatchStart<'_>,
        operations: usize,
    ) -> Result<ProducedBatch, ProduceError> {
        let mut rng = ChaCha20Rng::seed_from_u64(self.seed);
        rng.set_stream(u64::from(start.number.0));
        let state_err = |e: zkfleet_rollup::state::StateError| ProduceError::State(e.to_string());
        let prev_state_root = start.state.root().map_err(state_err)?;
        let mut draft = Draft {
            source: self,
            chain_id: start.chain_id,
            number: start.number,
            rng,
            scratch: start.state.clone(),
            accounts: start.accounts,
            next_serial: start.first_priority_serial,
            operations: Vec::with_capacity(operations),
        };
        for _ in 0..operations {
            draft.add_operation()?;
        }
        Ok(ProducedBatch {
            batch: Batch {
                chain_id: start.chain_id,
                number: start.number,
                prev_state_root,
                operator: OPERATOR,
                first_priority_serial: start.first_priority_serial,
                operations: draft.operations,
            },
            accounts_after: draft.accounts,
            next_priority_serial: draft.next_serial,
        })
    }
}

/// A batch being made: the scratch state its operations so far lead to.
struct Draft<'a> {
    source: &'a OperationSource,
    chain_id: ChainId,
    number: BatchNumber,
    rng: ChaCha20Rng,
    scratch: MemoryState,
    accounts: u32,
    next_serial: u64,
    operations: Vec<Operation>,
}

impl Draft<'_> {
    fn account(&self, id: AccountId) -> Result<Account, ProduceError> {
        self.scratch
            .account(id)
            .map_err(|e| ProduceError::State(e.to_string()))?
            .ok_or(ProduceError::MissingAccount(id))
    }

    /// A sender that can sign (one-time keys left) and pay at least 1.
    fn pick_sender(&mut self) -> Result<Option<AccountId>, ProduceError> {
        let keys = 1u64 << self.source.tree_height;
        for _ in 0..32 {
            let id = self.rng.gen_range(0..self.accounts);
            let a = self.account(id)?;
            if a.balance >= 1 && u64::from(a.nonce) < keys {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Two in ten operations are deposits, the rest transfers and withdrawals (4:1); when no
    /// account can sign any more (one-time keys are few at small heights), a deposit to a new
    /// account brings fresh keys in.
    fn add_operation(&mut self) -> Result<(), ProduceError> {
        let roll = self.rng.gen_range(0..10);
        let sender = if roll >= 2 { self.pick_sender()? } else { None };
        let op = match sender {
            Some(from) if roll < 8 => self.transfer(from)?,
            Some(from) => self.withdraw(from)?,
            None => self.deposit()?,
        };
        self.apply(op)
    }

    /// Runs `op` through the executor against the scratch state; keeps it if valid.
    fn apply(&mut self, op: Operation) -> Result<(), ProduceError> {
        let single = Batch {
            chain_id: self.chain_id,
            number: self.number,
            prev_state_root: self
                .scratch
                .root()
                .map_err(|e| ProduceError::State(e.to_string()))?,
            operator: OPERATOR,
            first_priority_serial: self.next_serial,
            operations: vec![op.clone()],
        };
        execute_batch(&mut self.scratch, &single)
            .map_err(|e| ProduceError::Rejected(e.to_string()))?;
        if let Operation::Deposit(d) = &op {
            if d.to == self.accounts {
                self.accounts += 1;
            }
            self.next_serial += 1;
        }
        self.operations.push(op);
        Ok(())
    }

    fn deposit(&mut self) -> Result<Operation, ProduceError> {
        let amount = self.rng.gen_range(1..1_000_000);
        let (to, public_key) = if self.rng.gen_bool(0.5) {
            let id = self.accounts;
            if id == AccountId::MAX {
                return Err(ProduceError::AccountsExhausted);
            }
            let pair = self.source.key_pair(id, 0)?;
            (id, Some(pair.public_key_digest()))
        } else {
            (self.rng.gen_range(0..self.accounts), None)
        };
        Ok(Operation::Deposit(Deposit {
            priority_serial: self.next_serial,
            to,
            public_key,
            amount,
        }))
    }

    fn amounts(&mut self, balance: u64) -> (u64, u64) {
        let amount = self.rng.gen_range(1..=(balance / 4).max(1));
        let fee = self.rng.gen_range(0..=(balance - amount).min(10));
        (amount, fee)
    }

    fn sign(
        &self,
        from: AccountId,
        nonce: u32,
        message: Digest,
    ) -> Result<Signature, ProduceError> {
        let mut pair = self.source.key_pair(from, nonce)?;
        pair.sign(nonce, message).map_err(|e| ProduceError::Key {
            account: from,
            reason: e.to_string(),
        })
    }

    fn transfer(&mut self, from: AccountId) -> Result<Operation, ProduceError> {
        let sender = self.account(from)?;
        let (amount, fee) = self.amounts(sender.balance);
        let to = self.rng.gen_range(0..self.accounts);
        let mut t = Transfer {
            from,
            to,
            amount,
            fee,
            nonce: sender.nonce,
            signature: Signature::default(),
        };
        t.signature = self.sign(
            from,
            sender.nonce,
            tx_message_digest(&t.message(self.chain_id.0)),
        )?;
        Ok(Operation::Transfer(t))
    }

    fn withdraw(&mut self, from: AccountId) -> Result<Operation, ProduceError> {
        let sender = self.account(from)?;
        let (amount, fee) = self.amounts(sender.balance);
        let mut w = Withdraw {
            from,
            amount,
            fee,
            nonce: sender.nonce,
            l1_recipient: L1Address(self.rng.gen()),
            signature: Signature::default(),
        };
        w.signature = self.sign(
            from,
            sender.nonce,
            tx_message_digest(&w.message(self.chain_id.0)),
        )?;
        Ok(Operation::Withdraw(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkfleet_rollup::generate::{generate, GeneratorConfig};

    #[test]
    fn batches_are_valid_deterministic_and_keep_going_past_key_exhaustion() {
        let genesis = generate(&GeneratorConfig {
            accounts: 3,
            operations: 0,
            seed: 5,
            tree_height: 2,
            ..GeneratorConfig::default()
        })
        .expect("genesis");
        let source = OperationSource::new(5, 2, genesis.keyring.clone());
        let mut state = genesis.genesis.to_memory_state().expect("state");
        let mut accounts = 3;
        let mut serial = genesis.batch.first_priority_serial;
        // 3 accounts × 4 one-time keys: 20 batches of 3 operations need new accounts.
        for number in 1..=20 {
            let start = BatchStart {
                chain_id: ChainId(270),
                number: BatchNumber(number),
                state: &state,
                accounts,
                first_priority_serial: serial,
            };
            let made = source.make_batch(&start, 3).expect("batch");
            let again = source.make_batch(&start, 3).expect("batch");
            assert_eq!(made.batch, again.batch, "deterministic");
            assert_eq!(made.batch.operations.len(), 3);
            execute_batch(&mut state, &made.batch).expect("valid by construction");
            accounts = made.accounts_after;
            serial = made.next_priority_serial;
        }
        assert!(accounts > 3, "deposits created accounts");
    }
}
