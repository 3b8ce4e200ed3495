//! The on-disk state: nodes and accounts in a redb database.
//!
//! redb was chosen because it is a pure-Rust, actively maintained embedded key-value store with
//! ACID, crash-safe (copy-on-write B-tree) transactions and a stable file format: no C++ build
//! (RocksDB takes long to compile on small machines), and unlike sled it is not beta software.
//! A batch's staged updates go to the database in one write transaction on commit, so a crash
//! leaves either the old state or the new one.

use std::path::Path;

use redb::{Database, ReadOnlyTable, ReadableDatabase, TableDefinition};

use super::staged::Staged;
use super::{Account, AccountId, StateError, StateTree};
use crate::spec::{Digest, F, STATE_TREE_DEPTH};
use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::HashOut;

/// Node key `level << 32 | index`: at level `l` the index is below 2^(32 − l).
const NODES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("nodes");
/// Account: public key (32 bytes) ‖ balance (8, LE) ‖ nonce (4, LE).
const ACCOUNTS: TableDefinition<u32, [u8; 44]> = TableDefinition::new("accounts");

fn node_key(level: usize, index: u64) -> u64 {
    ((level as u64) << 32) | index
}

fn digest_bytes(d: &Digest) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, e) in d.elements.iter().enumerate() {
        out[i * 8..(i + 1) * 8].copy_from_slice(&e.to_canonical_u64().to_le_bytes());
    }
    out
}

fn digest_from_bytes(b: &[u8; 32]) -> Result<Digest, StateError> {
    let mut elements = [F::ZERO; 4];
    for (i, e) in elements.iter_mut().enumerate() {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i * 8..(i + 1) * 8]);
        let x = u64::from_le_bytes(x);
        *e = crate::spec::field_element(x).map_err(|_| {
            StateError::Corrupt(format!(
                "stored digest element {x:#x} is not a field element"
            ))
        })?;
    }
    Ok(HashOut { elements })
}

fn account_bytes(a: &Account) -> [u8; 44] {
    let mut out = [0u8; 44];
    out[..32].copy_from_slice(&digest_bytes(&a.public_key));
    out[32..40].copy_from_slice(&a.balance.to_le_bytes());
    out[40..].copy_from_slice(&a.nonce.to_le_bytes());
    out
}

fn account_from_bytes(b: &[u8; 44]) -> Result<Account, StateError> {
    let mut pk = [0u8; 32];
    pk.copy_from_slice(&b[..32]);
    let mut balance = [0u8; 8];
    balance.copy_from_slice(&b[32..40]);
    let mut nonce = [0u8; 4];
    nonce.copy_from_slice(&b[40..]);
    Ok(Account {
        public_key: digest_from_bytes(&pk)?,
        balance: u64::from_le_bytes(balance),
        nonce: u32::from_le_bytes(nonce),
    })
}

/// A state tree in a redb database file.
pub struct DiskState {
    db: Database,
    /// Read-only views of the last committed state, reopened after every commit: one read
    /// transaction serves all the reads of a batch instead of one per node.
    snapshot: Snapshot,
    staged: Staged,
}

struct Snapshot {
    nodes: ReadOnlyTable<u64, [u8; 32]>,
    accounts: ReadOnlyTable<u32, [u8; 44]>,
}

impl Snapshot {
    fn open(db: &Database) -> Result<Self, StateError> {
        let txn = db.begin_read().map_err(StateError::db)?;
        Ok(Self {
            nodes: txn.open_table(NODES).map_err(StateError::db)?,
            accounts: txn.open_table(ACCOUNTS).map_err(StateError::db)?,
        })
    }
}

impl std::fmt::Debug for DiskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskState")
            .field("staged_nodes", &self.staged.nodes.len())
            .finish()
    }
}

impl DiskState {
    /// Open the state at `path`, creating an empty one if the file does not exist.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let db = Database::create(path).map_err(StateError::db)?;
        // Create both tables so that reads of a fresh database find them.
        let txn = db.begin_write().map_err(StateError::db)?;
        txn.open_table(NODES).map_err(StateError::db)?;
        txn.open_table(ACCOUNTS).map_err(StateError::db)?;
        txn.commit().map_err(StateError::db)?;
        Ok(Self {
            snapshot: Snapshot::open(&db)?,
            db,
            staged: Staged::default(),
        })
    }
}

impl StateTree for DiskState {
    fn stored_node(&self, level: usize, index: u64) -> Result<Option<Digest>, StateError> {
        if let Some(d) = self.staged.node(level, index) {
            return Ok(Some(d));
        }
        match self
            .snapshot
            .nodes
            .get(node_key(level, index))
            .map_err(StateError::db)?
        {
            Some(v) => Ok(Some(digest_from_bytes(&v.value())?)),
            None => Ok(None),
        }
    }

    fn stored_account(&self, id: AccountId) -> Result<Option<Account>, StateError> {
        if let Some(a) = self.staged.account(id) {
            return Ok(Some(a));
        }
        match self.snapshot.accounts.get(id).map_err(StateError::db)? {
            Some(v) => Ok(Some(account_from_bytes(&v.value())?)),
            None => Ok(None),
        }
    }

    fn stage(
        &mut self,
        id: AccountId,
        account: Account,
        path: &[Digest; STATE_TREE_DEPTH + 1],
    ) -> Result<(), StateError> {
        self.staged.stage(id, account, path);
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        if self.staged.nodes.is_empty() && self.staged.accounts.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(StateError::db)?;
        {
            let mut nodes = txn.open_table(NODES).map_err(StateError::db)?;
            for ((level, index), d) in &self.staged.nodes {
                nodes
                    .insert(node_key(*level, *index), digest_bytes(d))
                    .map_err(StateError::db)?;
            }
            let mut accounts = txn.open_table(ACCOUNTS).map_err(StateError::db)?;
            for (id, a) in &self.staged.accounts {
                accounts
                    .insert(*id, account_bytes(a))
                    .map_err(StateError::db)?;
            }
        }
        txn.commit().map_err(StateError::db)?;
        self.staged.take();
        self.snapshot = Snapshot::open(&self.db)?;
        Ok(())
    }

    fn rollback(&mut self) {
        self.staged.take();
    }
}
