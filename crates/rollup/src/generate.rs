//! The batch generator: a genesis state, the key seeds of its accounts and a batch that applies
//! to it — valid, or broken in exactly one way — for examples, tests and benchmarks.
//!
//! Everything derives from one `u64` seed through ChaCha20, so the same configuration always
//! gives the same files. Valid operations are produced by running each candidate through the
//! real executor against a shadow state, so a generated batch is valid by construction; an
//! invalid batch carries one operation that breaks the chosen rule (at index `operations / 2`),
//! and [`InvalidKind::matches`] tells whether a rejection is the one intended.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zkfleet_types::{BatchNumber, ChainId};

use crate::batch::{Batch, MAX_OPERATIONS_PER_BATCH};
use crate::encoding::{binary, json};
use crate::execute::{execute_batch, AccountRole, ExecutionError, OperationError};
use crate::genesis::{Genesis, GenesisAccount, GenesisError};
use crate::keyring::Keyring;
use crate::operation::{Deposit, L1Address, Operation, Transfer, Withdraw};
use crate::signature::{Signature, SignatureError, XmssKeyPair};
use crate::spec::{tx_message_digest, Digest, DEFAULT_XMSS_HEIGHT, MAX_XMSS_HEIGHT};
use crate::state::{AccountId, MemoryState, StateTree};

/// Operator account of generated batches (collects the fees).
pub const OPERATOR: AccountId = 0;

/// Most genesis accounts the generator makes: each needs a key generation (≈ 1 s at the
/// default height), and created and unused ids are allocated above them without overflow.
pub const MAX_GENERATED_ACCOUNTS: u32 = 1 << 20;

/// The rule a generated invalid batch breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// The batch claims the empty tree's root as its previous state root.
    PrevStateRoot,
    /// A deposit skips a priority serial.
    PrioritySerial,
    /// A deposit to a new account carries no public key.
    DepositWithoutKey,
    /// A deposit to an existing account carries another public key.
    DepositKeyMismatch,
    /// A transfer, correctly signed, from an account that does not exist.
    UnknownSender,
    /// A transfer to an account that does not exist.
    UnknownRecipient,
    /// The batch names an operator account that does not exist (a batch-level fault, hit by
    /// the first signed operation).
    UnknownOperator,
    /// A transfer whose nonce is one past the sender's.
    Nonce,
    /// A transfer signed with a one-time key the sender has already used.
    ReusedKey,
    /// A transfer signed with the one-time key after the nonce's.
    KeyNotNonce,
    /// A transfer from an account that has used every one-time key of its tree.
    KeysExhausted,
    /// A transfer whose amount was changed after signing.
    BadSignature,
    /// A transfer whose amount plus fee overflows `u64`.
    FeeOverflow,
    /// A transfer of the sender's whole balance plus a fee.
    InsufficientBalance,
    /// A deposit that takes the recipient's balance past `u64::MAX`.
    RecipientOverflow,
    /// A fee that takes the operator's balance past `u64::MAX`.
    OperatorOverflow,
}

impl InvalidKind {
    /// Every kind, e.g. for a test that generates and rejects one batch of each.
    pub const ALL: [InvalidKind; 16] = [
        Self::PrevStateRoot,
        Self::PrioritySerial,
        Self::DepositWithoutKey,
        Self::DepositKeyMismatch,
        Self::UnknownSender,
        Self::UnknownRecipient,
        Self::UnknownOperator,
        Self::Nonce,
        Self::ReusedKey,
        Self::KeyNotNonce,
        Self::KeysExhausted,
        Self::BadSignature,
        Self::FeeOverflow,
        Self::InsufficientBalance,
        Self::RecipientOverflow,
        Self::OperatorOverflow,
    ];

    /// The kebab-case name `zkfleet rollup generate --invalid` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::PrevStateRoot => "prev-state-root",
            Self::PrioritySerial => "priority-serial",
            Self::DepositWithoutKey => "deposit-without-key",
            Self::DepositKeyMismatch => "deposit-key-mismatch",
            Self::UnknownSender => "unknown-sender",
            Self::UnknownRecipient => "unknown-recipient",
            Self::UnknownOperator => "unknown-operator",
            Self::Nonce => "nonce",
            Self::ReusedKey => "reused-key",
            Self::KeyNotNonce => "key-not-nonce",
            Self::KeysExhausted => "keys-exhausted",
            Self::BadSignature => "bad-signature",
            Self::FeeOverflow => "fee-overflow",
            Self::InsufficientBalance => "insufficient-balance",
            Self::RecipientOverflow => "recipient-overflow",
            Self::OperatorOverflow => "operator-overflow",
        }
    }

    /// Whether `error` is the rejection this kind of invalid batch must produce.
    pub fn matches(self, error: &ExecutionError) -> bool {
        use OperationError as E;
        if self == Self::PrevStateRoot {
            return matches!(error, ExecutionError::PrevStateRootMismatch { .. });
        }
        let Some(e) = error.operation_error() else {
            return false;
        };
        match self {
            Self::PrevStateRoot => false,
            Self::PrioritySerial => matches!(e, E::PriorityOutOfOrder { .. }),
            Self::DepositWithoutKey => matches!(e, E::DepositWithoutKey { .. }),
            Self::DepositKeyMismatch => matches!(e, E::DepositKeyMismatch { .. }),
            Self::UnknownSender => matches!(e, E::UnknownSender { .. }),
            Self::UnknownRecipient => matches!(e, E::UnknownRecipient { .. }),
            Self::UnknownOperator => matches!(e, E::UnknownOperator { .. }),
            Self::Nonce => matches!(e, E::NonceMismatch { .. }),
            Self::ReusedKey => matches!(e, E::OneTimeKeyReused { .. }),
            Self::KeyNotNonce => matches!(e, E::OneTimeKeyNotNonce { .. }),
            Self::KeysExhausted => matches!(e, E::OneTimeKeysExhausted { .. }),
            Self::BadSignature => matches!(e, E::InvalidSignature(SignatureError::Mismatch)),
            Self::FeeOverflow => matches!(e, E::AmountPlusFeeOverflow { .. }),
            Self::InsufficientBalance => matches!(e, E::InsufficientBalance { .. }),
            Self::RecipientOverflow => matches!(
                e,
                E::BalanceOverflow {
                    role: AccountRole::Recipient,
                    ..
                }
            ),
            Self::OperatorOverflow => matches!(
                e,
                E::BalanceOverflow {
                    role: AccountRole::Operator,
                    ..
                }
            ),
        }
    }
}

impl fmt::Display for InvalidKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InvalidKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown invalid-batch kind {s:?}; one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Accounts in the genesis state (≥ 2; account 0 is the operator).
    pub accounts: u32,
    /// Operations in the batch.
    pub operations: usize,
    /// The seed everything derives from (keys, amounts, choices of accounts).
    pub seed: u64,
    /// Height of every account's one-time-key tree.
    pub tree_height: usize,
    /// The chain of the genesis and the batch.
    pub chain_id: ChainId,
    /// The batch's number.
    pub batch_number: BatchNumber,
    /// `None` for a valid batch; otherwise the one rule the batch breaks.
    pub invalid: Option<InvalidKind>,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            accounts: 8,
            operations: 16,
            seed: 0,
            tree_height: DEFAULT_XMSS_HEIGHT,
            chain_id: ChainId(270),
            batch_number: BatchNumber(1),
            invalid: None,
        }
    }
}

/// A generated genesis, keyring and batch.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The state the batch applies to.
    pub genesis: Genesis,
    /// The key seeds of the genesis accounts, to sign further batches.
    pub keyring: Keyring,
    /// The batch.
    pub batch: Batch,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Fewer than two accounts: the operator and at least one user are needed.
    #[error("need at least 2 accounts (the operator and one user), got {0}")]
    TooFewAccounts(u32),
    /// More accounts than [`MAX_GENERATED_ACCOUNTS`].
    #[error("{0} accounts requested, the generator makes at most {MAX_GENERATED_ACCOUNTS}")]
    TooManyAccounts(u32),
    /// More operations than a batch may hold.
    #[error("{0} operations requested, a batch holds at most {MAX_OPERATIONS_PER_BATCH}")]
    TooManyOperations(usize),
    /// An invalid batch was asked for with no operation to break.
    #[error("an invalid batch needs at least one operation")]
    NoOperations,
    /// The one-time-key tree height is outside what signatures allow.
    #[error("tree height {0} is outside 1..={MAX_XMSS_HEIGHT}")]
    TreeHeight(usize),
    /// Generating or using an account's key pair failed.
    #[error("key generation: {0}")]
    Key(#[from] SignatureError),
    /// The shadow state has no account fit for the next operation (all balances spent, say);
    /// the text says what was needed.
    #[error("no account in the generated state can {0}")]
    NoCandidate(&'static str),
    /// The generator looked up an account the shadow state does not hold.
    #[error("account {0} is not in the generated state")]
    MissingAccount(AccountId),
    /// Rebuilding an account's key pair from the keyring failed.
    #[error("keyring: {0}")]
    Keyring(#[from] crate::keyring::KeyringError),
    /// The executor rejected an operation meant to be valid: a bug in the generator.
    #[error("generator produced an operation the rules reject (a generator bug): {0}")]
    Rejected(ExecutionError),
    /// Building the genesis state failed.
    #[error("genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// The shadow state failed.
    #[error("state: {0}")]
    State(#[from] crate::state::StateError),
}

/// Files written by [`write_to_dir`].
#[derive(Debug, Clone)]
pub struct WrittenFiles {
    /// `genesis.json`.
    pub genesis: PathBuf,
    /// `keyring.json`.
    pub keyring: PathBuf,
    /// `batch.json`, the batch in its JSON encoding.
    pub batch_json: PathBuf,
    /// `batch.bin`, the batch in its binary encoding (what the gateway takes).
    pub batch_binary: PathBuf,
}

/// Write `genesis.json`, `keyring.json`, `batch.json` and `batch.bin` into `dir`.
pub fn write_to_dir(generated: &Generated, dir: &Path) -> std::io::Result<WrittenFiles> {
    std::fs::create_dir_all(dir)?;
    let files = WrittenFiles {
        genesis: dir.join("genesis.json"),
        keyring: dir.join("keyring.json"),
        batch_json: dir.join("batch.json"),
        batch_binary: dir.join("batch.bin"),
    };
    let bytes = binary::encode(&generated.batch)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    std::fs::write(&files.genesis, generated.genesis.to_json())?;
    std::fs::write(&files.keyring, generated.keyring.to_json())?;
    std::fs::write(&files.batch_json, json::encode(&generated.batch))?;
    std::fs::write(&files.batch_binary, bytes)?;
    Ok(files)
}

/// The generator's running state: the shadow state the batch has reached so far and the key
/// pairs of every account.
struct Generator {
    config: GeneratorConfig,
    rng: ChaCha20Rng,
    state: MemoryState,
    keys: HashMap<AccountId, XmssKeyPair>,
    keyring: Keyring,
    /// Accounts that exist, in creation order.
    accounts: Vec<AccountId>,
    /// Accounts never chosen as senders of valid operations (kept for one invalid operation).
    reserved: Option<AccountId>,
    next_serial: u64,
    next_new_id: AccountId,
    operations: Vec<Operation>,
}

/// Generate a genesis, a keyring and a batch per `config`.
pub fn generate(config: &GeneratorConfig) -> Result<Generated, GenerateError> {
    if config.accounts < 2 {
        return Err(GenerateError::TooFewAccounts(config.accounts));
    }
    if config.accounts > MAX_GENERATED_ACCOUNTS {
        return Err(GenerateError::TooManyAccounts(config.accounts));
    }
    if config.operations > MAX_OPERATIONS_PER_BATCH {
        return Err(GenerateError::TooManyOperations(config.operations));
    }
    if config.invalid.is_some() && config.operations == 0 {
        return Err(GenerateError::NoOperations);
    }
    if !(1..=MAX_XMSS_HEIGHT).contains(&config.tree_height) {
        return Err(GenerateError::TreeHeight(config.tree_height));
    }
    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let h = config.tree_height;
    let mut keyring = Keyring::new(h);
    let mut keys = HashMap::new();
    let mut genesis_accounts = Vec::new();
    for id in 0..config.accounts {
        let seed: [u8; 32] = rng.gen();
        // Special accounts for the invalid kinds that need a history: account 1 has used one
        // key (reused-key) or every key (keys-exhausted).
        let nonce = match config.invalid {
            Some(InvalidKind::ReusedKey) if id == 1 => 1,
            Some(InvalidKind::KeysExhausted) if id == 1 => 1u32 << h,
            _ => 0,
        };
        let pair = XmssKeyPair::generate_at(seed, h, nonce)?;
        let balance = match config.invalid {
            Some(InvalidKind::OperatorOverflow) if id == OPERATOR => u64::MAX - 5,
            _ => rng.gen_range(1_000_000..1_000_000_000),
        };
        genesis_accounts.push(GenesisAccount {
            id,
            public_key: pair.public_key_digest(),
            balance,
            nonce,
        });
        keyring.insert(id, &seed);
        keys.insert(id, pair);
    }
    let genesis = Genesis::new(config.chain_id, genesis_accounts);
    let state = genesis.to_memory_state()?;
    let genesis_root = state.root()?;
    let first_priority_serial = rng.gen_range(0..1_000);
    let reserved = match config.invalid {
        Some(InvalidKind::KeysExhausted) => Some(1),
        _ => None,
    };
    let mut g = Generator {
        config: config.clone(),
        rng,
        state,
        keys,
        keyring,
        accounts: (0..config.accounts).collect(),
        reserved,
        next_serial: first_priority_serial,
        next_new_id: config.accounts,
        operations: Vec::new(),
    };
    let invalid_at = config.operations / 2;
    for i in 0..config.operations {
        match config.invalid {
            Some(InvalidKind::PrevStateRoot) => g.valid_operation()?,
            // The operator is checked by signed operations only: make sure there is one.
            Some(InvalidKind::UnknownOperator) if i == invalid_at => {
                let from = g.sender()?;
                let op = g.transfer(from)?;
                g.try_apply(op).map_err(GenerateError::Rejected)?;
            }
            Some(kind) if i == invalid_at => {
                let op = g.invalid_operation(kind)?;
                g.operations.push(op);
            }
            _ => g.valid_operation()?,
        }
    }
    let mut batch = Batch {
        chain_id: config.chain_id,
        number: config.batch_number,
        prev_state_root: genesis_root,
        operator: OPERATOR,
        first_priority_serial,
        operations: g.operations,
    };
    match config.invalid {
        Some(InvalidKind::PrevStateRoot) => {
            batch.prev_state_root = crate::state::empty_subtrees()[crate::spec::STATE_TREE_DEPTH];
        }
        Some(InvalidKind::UnknownOperator) => batch.operator = g.next_new_id + 1_000,
        _ => {}
    }
    Ok(Generated {
        genesis,
        keyring: g.keyring,
        batch,
    })
}

impl Generator {
    fn operator_overflow_mode(&self) -> bool {
        self.config.invalid == Some(InvalidKind::OperatorOverflow)
    }

    /// Run `op` through the executor against the shadow state; keep it if valid.
    fn try_apply(&mut self, op: Operation) -> Result<(), ExecutionError> {
        let batch = Batch {
            chain_id: self.config.chain_id,
            number: self.config.batch_number,
            prev_state_root: self.state.root()?,
            operator: OPERATOR,
            first_priority_serial: self.next_serial,
            operations: vec![op.clone()],
        };
        execute_batch(&mut self.state, &batch)?;
        if let Operation::Deposit(_) = op {
            self.next_serial += 1;
        }
        self.operations.push(op);
        Ok(())
    }

    fn account(&self, id: AccountId) -> Result<crate::state::Account, GenerateError> {
        self.state
            .account(id)?
            .ok_or(GenerateError::MissingAccount(id))
    }

    fn pick_account(&mut self) -> AccountId {
        self.accounts[self.rng.gen_range(0..self.accounts.len())]
    }

    /// A sender that can sign and pay at least 1: not reserved, keys left, balance ≥ 1.
    fn pick_sender(&mut self) -> Result<Option<AccountId>, GenerateError> {
        let limit = 1u64 << self.config.tree_height;
        for _ in 0..32 {
            let id = self.pick_account();
            if Some(id) == self.reserved || (self.operator_overflow_mode() && id == OPERATOR) {
                continue;
            }
            let a = self.account(id)?;
            if a.balance >= 1 && u64::from(a.nonce) < limit {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn new_account_key(&mut self) -> Result<(AccountId, Digest), GenerateError> {
        let id = self.next_new_id;
        self.next_new_id += 1;
        let seed: [u8; 32] = self.rng.gen();
        let pair = XmssKeyPair::generate(seed, self.config.tree_height)?;
        let pk = pair.public_key_digest();
        self.keyring.insert(id, &seed);
        self.keys.insert(id, pair);
        Ok((id, pk))
    }

    fn valid_operation(&mut self) -> Result<(), GenerateError> {
        let roll = self.rng.gen_range(0..10);
        let sender = if roll >= 2 { self.pick_sender()? } else { None };
        let op = match sender {
            Some(from) if roll < 8 => self.transfer(from)?,
            Some(from) => self.withdraw(from)?,
            None => self.deposit()?,
        };
        self.try_apply(op).map_err(GenerateError::Rejected)
    }

    fn deposit(&mut self) -> Result<Operation, GenerateError> {
        let amount = self.rng.gen_range(1..1_000_000);
        let (to, public_key) = if self.rng.gen_bool(0.5) {
            let (id, pk) = self.new_account_key()?;
            self.accounts.push(id);
            (id, Some(pk))
        } else {
            let mut to = self.pick_account();
            if self.operator_overflow_mode() && to == OPERATOR {
                to = 1;
            }
            // Sometimes restate the existing key: allowed when it matches.
            let pk = if self.rng.gen_bool(0.25) {
                Some(self.account(to)?.public_key)
            } else {
                None
            };
            (to, pk)
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
        let fee = if self.operator_overflow_mode() {
            0
        } else {
            self.rng.gen_range(0..=(balance - amount).min(10))
        };
        (amount, fee)
    }

    /// Sign with the account's own key pair (which then refuses the key again), or — for an
    /// invalid operation that must not disturb later valid ones — with a copy regenerated from
    /// the keyring.
    fn sign(
        &mut self,
        from: AccountId,
        key_index: u32,
        message: Digest,
        detached: bool,
    ) -> Result<Signature, GenerateError> {
        if detached {
            let mut pair = self.keyring.key_pair(from, key_index)?;
            return Ok(pair.sign(key_index, message)?);
        }
        let pair = self
            .keys
            .get_mut(&from)
            .ok_or(GenerateError::MissingAccount(from))?;
        Ok(pair.sign(key_index, message)?)
    }

    #[allow(clippy::too_many_arguments)]
    fn signed_transfer(
        &mut self,
        from: AccountId,
        to: AccountId,
        amount: u64,
        fee: u64,
        nonce: u32,
        key_index: u32,
        detached: bool,
    ) -> Result<Operation, GenerateError> {
        let mut t = Transfer {
            from,
            to,
            amount,
            fee,
            nonce,
            signature: Signature::default(),
        };
        let message = tx_message_digest(&t.message(self.config.chain_id.0));
        t.signature = self.sign(from, key_index, message, detached)?;
        Ok(Operation::Transfer(t))
    }

    fn transfer(&mut self, from: AccountId) -> Result<Operation, GenerateError> {
        let sender = self.account(from)?;
        let (amount, fee) = self.amounts(sender.balance);
        let mut to = self.pick_account();
        if self.operator_overflow_mode() && to == OPERATOR {
            to = from;
        }
        self.signed_transfer(from, to, amount, fee, sender.nonce, sender.nonce, false)
    }

    fn withdraw(&mut self, from: AccountId) -> Result<Operation, GenerateError> {
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
        let message = tx_message_digest(&w.message(self.config.chain_id.0));
        w.signature = self.sign(from, sender.nonce, message, false)?;
        Ok(Operation::Withdraw(w))
    }

    fn sender(&mut self) -> Result<AccountId, GenerateError> {
        self.pick_sender()?
            .ok_or(GenerateError::NoCandidate("send a transfer"))
    }

    fn unused_id(&self) -> AccountId {
        self.next_new_id + 500
    }

    /// An operation that breaks `kind`'s rule in the current shadow state. It is not applied:
    /// later operations are generated as if it were absent.
    fn invalid_operation(&mut self, kind: InvalidKind) -> Result<Operation, GenerateError> {
        let serial = self.next_serial;
        let deposit = |to, public_key, amount, priority_serial| {
            Operation::Deposit(Deposit {
                priority_serial,
                to,
                public_key,
                amount,
            })
        };
        Ok(match kind {
            // Batch-level kinds are made in `generate`; here they get a valid operation's slot.
            InvalidKind::PrevStateRoot | InvalidKind::UnknownOperator => {
                return Err(GenerateError::NoCandidate(
                    "break a batch-level rule per operation",
                ))
            }
            InvalidKind::PrioritySerial => deposit(self.pick_account(), None, 1, serial + 1),
            InvalidKind::DepositWithoutKey => deposit(self.unused_id(), None, 1, serial),
            InvalidKind::DepositKeyMismatch => {
                let to = self.pick_account();
                let pk = self.account(to)?.public_key;
                deposit(to, Some(crate::spec::two_to_one(pk, pk)), 1, serial)
            }
            InvalidKind::RecipientOverflow => {
                let mut best = (OPERATOR, 0);
                for &id in &self.accounts {
                    let b = self.account(id)?.balance;
                    if b > best.1 {
                        best = (id, b);
                    }
                }
                if best.1 == 0 {
                    return Err(GenerateError::NoCandidate("overflow as a recipient"));
                }
                deposit(best.0, None, u64::MAX - best.1 + 1, serial)
            }
            InvalidKind::UnknownSender => {
                // Signed correctly, by a key that belongs to no account.
                let mut stranger = XmssKeyPair::generate(self.rng.gen(), self.config.tree_height)?;
                let mut t = Transfer {
                    from: self.unused_id(),
                    to: self.pick_account(),
                    amount: 1,
                    fee: 0,
                    nonce: 0,
                    signature: Signature::default(),
                };
                t.signature =
                    stranger.sign(0, tx_message_digest(&t.message(self.config.chain_id.0)))?;
                Operation::Transfer(t)
            }
            InvalidKind::UnknownRecipient => {
                let from = self.sender()?;
                let nonce = self.account(from)?.nonce;
                let to = self.unused_id();
                self.signed_transfer(from, to, 1, 0, nonce, nonce, true)?
            }
            InvalidKind::Nonce => {
                let from = self.sender()?;
                let nonce = self.account(from)?.nonce;
                let to = self.pick_account();
                // The rule fails before the signature is looked at; sign what is sent anyway.
                let mut op = self.signed_transfer(from, to, 1, 0, nonce, nonce, true)?;
                if let Operation::Transfer(t) = &mut op {
                    t.nonce = nonce + 1;
                }
                op
            }
            InvalidKind::ReusedKey => {
                let from = 1;
                let nonce = self.account(from)?.nonce;
                let to = self.pick_account();
                self.signed_transfer(from, to, 1, 0, nonce, nonce - 1, true)?
            }
            InvalidKind::KeyNotNonce => {
                let from = self.sender()?;
                let nonce = self.account(from)?.nonce;
                let to = self.pick_account();
                self.signed_transfer(from, to, 1, 0, nonce, nonce + 1, true)?
            }
            InvalidKind::KeysExhausted => {
                let from = 1;
                let nonce = self.account(from)?.nonce;
                let to = self.pick_account();
                self.signed_transfer(from, to, 1, 0, nonce, nonce - 1, true)?
            }
            InvalidKind::BadSignature => {
                let from = self.sender()?;
                let nonce = self.account(from)?.nonce;
                let to = self.pick_account();
                let mut op = self.signed_transfer(from, to, 1, 0, nonce, nonce, true)?;
                if let Operation::Transfer(t) = &mut op {
                    t.amount = 2;
                }
                op
            }
            InvalidKind::FeeOverflow => {
                let from = self.sender()?;
                let nonce = self.account(from)?.nonce;
                let to = self.pick_account();
                self.signed_transfer(from, to, u64::MAX, 1, nonce, nonce, true)?
            }
            InvalidKind::InsufficientBalance => {
                let from = self.sender()?;
                let sender = self.account(from)?;
                let to = self.pick_account();
                self.signed_transfer(
                    from,
                    to,
                    sender.balance,
                    1,
                    sender.nonce,
                    sender.nonce,
                    true,
                )?
            }
            InvalidKind::OperatorOverflow => {
                let from = self.sender()?;
                let sender = self.account(from)?;
                let fee = u64::MAX - self.account(OPERATOR)?.balance + 1;
                if sender.balance < fee + 1 {
                    return Err(GenerateError::NoCandidate(
                        "pay a fee that overflows the operator",
                    ));
                }
                self.signed_transfer(from, from, 1, fee, sender.nonce, sender.nonce, true)?
            }
        })
    }
}
