//! The in-memory state: the non-empty nodes and the accounts in hash maps.

use std::collections::HashMap;

use rayon::prelude::*;

use super::staged::Staged;
use super::{empty_subtrees, Account, AccountId, StateError, StateTree};
use crate::spec::{two_to_one, Digest, STATE_TREE_DEPTH};

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

    /// A committed state holding `accounts` (for an id given twice, the later entry wins, as
    /// when they are set one after the other): the tree [`StateTree::set_account`] of each
    /// account in turn then [`StateTree::commit`] leave, node for node. Built level by level
    /// from the leaves, each node hashed once and each level's nodes on every core (rayon),
    /// where setting the accounts one by one hashes all 32 levels of every account's path —
    /// the upper levels, shared by every path, once per account. How witness inputs rebuild
    /// a batch's pre-state (intake and the witness generator both do).
    pub fn with_accounts(accounts: impl IntoIterator<Item = (AccountId, Account)>) -> Self {
        let mut sorted: Vec<(AccountId, Account)> = accounts.into_iter().collect();
        // Stable: the entries of one id keep their order, and the last of them is kept.
        sorted.sort_by_key(|(id, _)| *id);
        let mut unique: Vec<(AccountId, Account)> = Vec::with_capacity(sorted.len());
        for (id, account) in sorted {
            match unique.last_mut() {
                Some(last) if last.0 == id => last.1 = account,
                _ => unique.push((id, account)),
            }
        }
        let empty = empty_subtrees();
        // The stored nodes of one level, in index order: a node and its sibling, when both
        // are stored, are neighbours.
        let mut level: Vec<(u64, Digest)> = unique
            .par_iter()
            .map(|(id, account)| (u64::from(*id), account.leaf_hash()))
            .collect();
        let mut nodes = HashMap::with_capacity(2 * level.len() + STATE_TREE_DEPTH + 1);
        for (height, empty) in empty.iter().enumerate().take(STATE_TREE_DEPTH) {
            let parents: Vec<(u64, Digest)> = level
                .par_chunk_by(|a, b| a.0 >> 1 == b.0 >> 1)
                .map(|children| match children {
                    [(left, l), (_, r)] => (left >> 1, two_to_one(*l, *r)),
                    [(index, node)] if index & 1 == 0 => (index >> 1, two_to_one(*node, *empty)),
                    [(index, node)] => (index >> 1, two_to_one(*empty, *node)),
                    // Indices are unique, so a parent has one or two stored children.
                    _ => unreachable!("a parent has at most two children"),
                })
                .collect();
            nodes.extend(level.iter().map(|&(index, node)| ((height, index), node)));
            level = parents;
        }
        nodes.extend(
            level
                .iter()
                .map(|&(index, node)| ((STATE_TREE_DEPTH, index), node)),
        );
        Self {
            nodes,
            accounts: unique.into_iter().collect(),
            staged: Staged::default(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::F;
    use plonky2::field::types::Field;
    use plonky2::hash::hash_types::HashOut;

    fn account(seed: u64) -> Account {
        Account {
            public_key: HashOut {
                elements: [seed, seed + 1, seed * 3, 11].map(F::from_canonical_u64),
            },
            balance: seed * 7,
            nonce: (seed % 5) as u32,
        }
    }

    /// The state `set_account` one by one then `commit` leave.
    fn one_by_one(accounts: &[(AccountId, Account)]) -> MemoryState {
        let mut state = MemoryState::new();
        for (id, account) in accounts {
            state.set_account(*id, *account).expect("memory state");
        }
        state.commit().expect("memory state");
        state
    }

    #[test]
    fn with_accounts_is_the_tree_of_setting_them_one_by_one() {
        let sets: Vec<Vec<(AccountId, Account)>> = vec![
            vec![],
            vec![(0, account(1))],
            vec![(u32::MAX, account(2))],
            (0..8).map(|i| (i, account(u64::from(i) + 3))).collect(),
            // Out of order, neighbours, far apart, and an id given twice (the later wins).
            vec![
                (9, account(4)),
                (1, account(5)),
                (8, account(6)),
                (u32::MAX, account(7)),
                (1 << 20, account(8)),
                (u32::MAX - 1, account(9)),
                (1, account(10)),
            ],
            (0..300)
                .map(|i| (i * 37 % 1000, account(u64::from(i))))
                .collect(),
        ];
        for accounts in sets {
            let expected = one_by_one(&accounts);
            let built = MemoryState::with_accounts(accounts.iter().copied());
            assert_eq!(built.nodes, expected.nodes, "{} accounts", accounts.len());
            assert_eq!(built.accounts, expected.accounts);
            assert_eq!(built.root().unwrap(), expected.root().unwrap());
        }
    }
}
