//! Updates written but not yet committed: the overlay both state backends read through.

use std::collections::HashMap;

use super::{Account, AccountId};
use crate::spec::{Digest, STATE_TREE_DEPTH};

/// Staged nodes and accounts, newest value per key.
#[derive(Debug, Default, Clone)]
pub(crate) struct Staged {
    pub(crate) nodes: HashMap<(usize, u64), Digest>,
    pub(crate) accounts: HashMap<AccountId, Account>,
}

impl Staged {
    pub(crate) fn node(&self, level: usize, index: u64) -> Option<Digest> {
        self.nodes.get(&(level, index)).copied()
    }

    pub(crate) fn account(&self, id: AccountId) -> Option<Account> {
        self.accounts.get(&id).copied()
    }

    pub(crate) fn stage(
        &mut self,
        id: AccountId,
        account: Account,
        path: &[Digest; STATE_TREE_DEPTH + 1],
    ) {
        self.accounts.insert(id, account);
        for (level, node) in path.iter().enumerate() {
            self.nodes.insert((level, u64::from(id) >> level), *node);
        }
    }

    pub(crate) fn take(&mut self) -> Staged {
        std::mem::take(self)
    }
}
