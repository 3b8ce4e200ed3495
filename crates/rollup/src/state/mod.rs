//! The state: a sparse Merkle tree of depth 32 over Poseidon, account id = leaf index
//! (docs/rollup.md §2).
//!
//! [`StateTree`] holds the tree logic once — roots, membership proofs, updates with their proofs
//! — over a handful of storage primitives; [`MemoryState`] keeps the non-empty nodes in hash
//! maps, [`DiskState`] in a redb database for states too large for memory. Both stage updates
//! and make them durable only on [`StateTree::commit`], so that a rejected batch leaves the
//! state untouched ([`StateTree::rollback`]).

mod disk;
mod memory;
mod proof;
mod staged;

pub use disk::DiskState;
pub use memory::MemoryState;
pub use proof::{AccountUpdate, MembershipProof, ProofError};

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use crate::spec::{account_leaf_hash, empty_subtree_hashes, Digest, STATE_TREE_DEPTH};

/// Account id: the leaf index in the state tree.
pub type AccountId = u32;

/// An account: the leaf preimage `(public key, balance, nonce)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    /// Root of the account's one-time-key tree.
    #[serde(with = "crate::digest_serde")]
    pub public_key: Digest,
    /// The account's balance.
    pub balance: u64,
    /// Index of the next one-time key the account signs with.
    pub nonce: u32,
}

impl Account {
    /// A fresh account: zero balance, nonce 0.
    pub fn new(public_key: Digest) -> Self {
        Self {
            public_key,
            balance: 0,
            nonce: 0,
        }
    }

    /// The leaf `H(DOMAIN_ACCOUNT, pk, balance_lo, balance_hi, nonce)`.
    pub fn leaf_hash(&self) -> Digest {
        account_leaf_hash(self.public_key, self.balance, self.nonce)
    }
}

/// The leaf of an optional account: `ZERO` if there is none.
pub fn leaf_of(account: Option<&Account>) -> Digest {
    account.map_or(crate::spec::ZERO, Account::leaf_hash)
}

/// A failure of the storage under a state tree.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database under a [`DiskState`] failed (open, read, write or commit).
    #[error("state database: {0}")]
    Database(String),
    /// The database holds a value no state tree writes.
    #[error("state database is corrupt: {0}")]
    Corrupt(String),
}

impl StateError {
    pub(crate) fn db(e: impl std::fmt::Display) -> Self {
        Self::Database(e.to_string())
    }
}

/// The empty-subtree hash of every height, computed once.
pub fn empty_subtrees() -> &'static [Digest; STATE_TREE_DEPTH + 1] {
    static EMPTY: OnceLock<[Digest; STATE_TREE_DEPTH + 1]> = OnceLock::new();
    EMPTY.get_or_init(empty_subtree_hashes)
}

/// The sparse Merkle tree of accounts over a storage backend.
///
/// Level 0 holds the leaves, level 32 the root; node `(level, index)` has children
/// `(level − 1, 2·index)` and `(level − 1, 2·index + 1)`. A node that was never written is the
/// empty subtree of its height. Implementors provide storage (read through the staged
/// updates, stage, commit, roll back); the tree logic is the provided methods.
pub trait StateTree {
    /// Stored node, or `None` if its subtree is empty.
    fn stored_node(&self, level: usize, index: u64) -> Result<Option<Digest>, StateError>;
    /// Stored account, or `None` if the leaf is empty.
    fn stored_account(&self, id: AccountId) -> Result<Option<Account>, StateError>;
    /// Stage an account and the 33 nodes of its path (leaf to root).
    fn stage(
        &mut self,
        id: AccountId,
        account: Account,
        path: &[Digest; STATE_TREE_DEPTH + 1],
    ) -> Result<(), StateError>;
    /// Make the staged updates durable.
    fn commit(&mut self) -> Result<(), StateError>;
    /// Drop the staged updates.
    fn rollback(&mut self);

    /// Node `(level, index)`, the empty-subtree hash if nothing is stored.
    fn node(&self, level: usize, index: u64) -> Result<Digest, StateError> {
        Ok(self
            .stored_node(level, index)?
            .unwrap_or(empty_subtrees()[level]))
    }

    /// The state root.
    fn root(&self) -> Result<Digest, StateError> {
        self.node(STATE_TREE_DEPTH, 0)
    }

    /// The account at `id`, if it exists.
    fn account(&self, id: AccountId) -> Result<Option<Account>, StateError> {
        self.stored_account(id)
    }

    /// The 32 siblings of leaf `id`, lowest level first.
    fn siblings(&self, id: AccountId) -> Result<Vec<Digest>, StateError> {
        (0..STATE_TREE_DEPTH)
            .map(|level| self.node(level, (u64::from(id) >> level) ^ 1))
            .collect()
    }

    /// Proof that leaf `id` holds `account` (or is empty) under the current root.
    fn membership_proof(&self, id: AccountId) -> Result<MembershipProof, StateError> {
        Ok(MembershipProof {
            account_id: id,
            account: self.account(id)?,
            siblings: self.siblings(id)?,
            root: self.root()?,
        })
    }

    /// Write `account` at `id` (staged) and return the update proof: old and new leaf under the
    /// same siblings, old and new root.
    fn set_account(
        &mut self,
        id: AccountId,
        account: Account,
    ) -> Result<AccountUpdate, StateError> {
        let before = self.account(id)?;
        let siblings = self.siblings(id)?;
        let root_before = self.root()?;
        let mut path = [crate::spec::ZERO; STATE_TREE_DEPTH + 1];
        path[0] = account.leaf_hash();
        for level in 0..STATE_TREE_DEPTH {
            let node = path[level];
            path[level + 1] = if (u64::from(id) >> level) & 1 == 0 {
                crate::spec::two_to_one(node, siblings[level])
            } else {
                crate::spec::two_to_one(siblings[level], node)
            };
        }
        self.stage(id, account, &path)?;
        Ok(AccountUpdate {
            account_id: id,
            leaf_before: before,
            leaf_after: account,
            siblings,
            root_before,
            root_after: path[STATE_TREE_DEPTH],
        })
    }
}

#[cfg(test)]
mod tests;
