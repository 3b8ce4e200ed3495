//! Membership and update proofs of the state tree, and their native verification.

use serde::{Deserialize, Serialize};

use super::{leaf_of, Account, AccountId};
use crate::spec::{merkle_root_from_path, Digest, STATE_TREE_DEPTH};

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The path is not as long as the tree is deep.
    #[error("proof for account {account_id} has {got} siblings, expected {STATE_TREE_DEPTH}")]
    WrongSiblingCount {
        /// The account the proof is about.
        account_id: AccountId,
        /// How many siblings it has.
        got: usize,
    },
    /// The leaf and path do not hash to the claimed root.
    #[error("proof for account {account_id}: the {which} leaf does not hash to the {which} root")]
    RootMismatch {
        /// The account the proof is about.
        account_id: AccountId,
        /// Which leaf and root: `proved` (membership), `old` or `new` (update).
        which: &'static str,
    },
}

fn check_siblings(account_id: AccountId, siblings: &[Digest]) -> Result<(), ProofError> {
    if siblings.len() == STATE_TREE_DEPTH {
        Ok(())
    } else {
        Err(ProofError::WrongSiblingCount {
            account_id,
            got: siblings.len(),
        })
    }
}

/// Leaf `account_id` holds `account` (`None`: the leaf is empty) in the tree with root `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipProof {
    /// The leaf index proved.
    pub account_id: AccountId,
    /// What the leaf holds (`None`: empty).
    pub account: Option<Account>,
    /// 32 siblings, lowest level first.
    #[serde(with = "crate::digest_serde::vec")]
    pub siblings: Vec<Digest>,
    /// The root the proof is against.
    #[serde(with = "crate::digest_serde")]
    pub root: Digest,
}

impl MembershipProof {
    /// Checks that the leaf and siblings hash to `root`.
    pub fn verify(&self) -> Result<(), ProofError> {
        check_siblings(self.account_id, &self.siblings)?;
        let leaf = leaf_of(self.account.as_ref());
        if merkle_root_from_path(leaf, u64::from(self.account_id), &self.siblings) == self.root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch {
                account_id: self.account_id,
                which: "proved",
            })
        }
    }
}

/// One leaf update and its proof: under the same 32 siblings, `leaf_before` hashes to
/// `root_before` and `leaf_after` to `root_after`. This is what the state-transition circuit
/// checks for every account an operation touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUpdate {
    /// The leaf index updated.
    pub account_id: AccountId,
    /// The account before the update; `None` if the leaf was empty (account creation).
    pub leaf_before: Option<Account>,
    /// The account after the update.
    pub leaf_after: Account,
    /// 32 siblings, lowest level first.
    #[serde(with = "crate::digest_serde::vec")]
    pub siblings: Vec<Digest>,
    /// The state root before the update.
    #[serde(with = "crate::digest_serde")]
    pub root_before: Digest,
    /// The state root after it.
    #[serde(with = "crate::digest_serde")]
    pub root_after: Digest,
}

impl AccountUpdate {
    /// Checks both sides: the old leaf hashes to `root_before` and the new one to
    /// `root_after`, under the same siblings.
    pub fn verify(&self) -> Result<(), ProofError> {
        check_siblings(self.account_id, &self.siblings)?;
        let index = u64::from(self.account_id);
        let before = leaf_of(self.leaf_before.as_ref());
        if merkle_root_from_path(before, index, &self.siblings) != self.root_before {
            return Err(ProofError::RootMismatch {
                account_id: self.account_id,
                which: "old",
            });
        }
        if merkle_root_from_path(self.leaf_after.leaf_hash(), index, &self.siblings)
            != self.root_after
        {
            return Err(ProofError::RootMismatch {
                account_id: self.account_id,
                which: "new",
            });
        }
        Ok(())
    }
}
