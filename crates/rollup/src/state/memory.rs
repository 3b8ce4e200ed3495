//! The in-memory state: the non-empty nodes and the accounts in hash maps.

use std::collections::HashMap;

use super::staged::Staged;
use super::{Account, AccountId, StateError, StateTree};
use crate::spec::{Digest, STATE_TREE_DEPTH};

/// A state tree held in memory. Suits tests, the generator and states of up to a few million
/// accounts (≈ 33 nodes of 32 bytes per account).
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    nodes: HashMap<(usize, u64), Digest>,
    accounts: HashMap<AccountId, Account>,
    staged: Staged,
}

impl MemoryState {
    /// An empty state (root = the empty tree's root).
    pub fn new() -> Self {
        Self::default()
    }

    /// Committed accounts in id order.
    pub fn accounts(&self) -> Vec<(AccountId, Account)> {
        let mut out: Vec<_> = self.accounts.iter().map(|(id, a)| (*id, *a)).collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }
}

impl StateTree for MemoryState {
    fn stored_node(&self, level: usize, index: u64) -> Result<Option<Digest>, StateError> {
        Ok(self
            .staged
            .node(level, index)
            .or_else(|| self.nodes.get(&(level, index)).copied()))
    }

    fn stored_account(&self, id: AccountId) -> Result<Option<Account>, StateError> {
        Ok(self
            .staged
            .account(id)
            .or_else(|| self.accounts.get(&id).copied()))
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
        let staged = self.staged.take();
        self.nodes.extend(staged.nodes);
        self.accounts.extend(staged.accounts);
        Ok(())
    }

    fn rollback(&mut self) {
        self.staged.take();
    }
}
