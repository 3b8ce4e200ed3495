//! A state snapshot as JSON: the accounts a batch's state starts from.
//!
//! The generator writes one per generated batch (`genesis.json`); tests, examples and the
//! prover load it into a [`StateTree`] to execute the batch against.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use zkfleet_types::ChainId;

use crate::spec::Digest;
use crate::state::{Account, AccountId, MemoryState, StateError, StateTree};

/// Version of the genesis JSON format.
pub const GENESIS_FORMAT_VERSION: u16 = 1;

/// One account of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// The account's leaf index in the state tree.
    pub id: AccountId,
    /// The root of the account's one-time-key tree.
    #[serde(with = "crate::digest_serde")]
    pub public_key: Digest,
    /// The account's balance.
    pub balance: u64,
    /// The account's nonce: how many one-time keys it has used.
    pub nonce: u32,
}

/// A state snapshot: the chain and its accounts in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// [`GENESIS_FORMAT_VERSION`] when written; a reader refuses any other.
    pub version: u16,
    /// The chain whose state this is.
    pub chain_id: ChainId,
    /// The accounts, sorted by id, each id once.
    pub accounts: Vec<GenesisAccount>,
}

/// Why a snapshot could not be read or loaded.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The text is not a genesis's JSON.
    #[error("invalid genesis JSON: {0}")]
    Json(String),
    /// The file was written in a format version this build does not read.
    #[error("unsupported genesis format version {found} (this build reads version {GENESIS_FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The version the file declares.
        found: u16,
    },
    /// Two entries for one account id.
    #[error("genesis lists account {0} twice")]
    DuplicateAccount(AccountId),
    /// The state to load into already holds accounts.
    #[error("genesis can only be loaded into an empty state, whose root it is not")]
    StateNotEmpty,
    /// The state tree failed while loading.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Genesis {
    /// A snapshot of `accounts` of `chain_id`, in the current format (sorts the accounts).
    pub fn new(chain_id: ChainId, mut accounts: Vec<GenesisAccount>) -> Self {
        accounts.sort_by_key(|a| a.id);
        Self {
            version: GENESIS_FORMAT_VERSION,
            chain_id,
            accounts,
        }
    }

    /// The pretty-printed JSON of `genesis.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect(
            "a genesis has only string map keys and plain values: serialisation cannot fail",
        )
    }

    /// Reads `genesis.json`, refusing another format version or a repeated account.
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        let g: Self = serde_json::from_str(text).map_err(|e| GenesisError::Json(e.to_string()))?;
        if g.version != GENESIS_FORMAT_VERSION {
            return Err(GenesisError::UnsupportedVersion { found: g.version });
        }
        let mut seen = HashSet::new();
        for a in &g.accounts {
            if !seen.insert(a.id) {
                return Err(GenesisError::DuplicateAccount(a.id));
            }
        }
        Ok(g)
    }

    /// Write every account into an empty `state` and commit; returns the root.
    pub fn load_into<S: StateTree + ?Sized>(&self, state: &mut S) -> Result<Digest, GenesisError> {
        state.rollback();
        if state.root()? != crate::state::empty_subtrees()[crate::spec::STATE_TREE_DEPTH] {
            return Err(GenesisError::StateNotEmpty);
        }
        let mut seen = HashSet::new();
        for a in &self.accounts {
            if !seen.insert(a.id) {
                state.rollback();
                return Err(GenesisError::DuplicateAccount(a.id));
            }
            state.set_account(
                a.id,
                Account {
                    public_key: a.public_key,
                    balance: a.balance,
                    nonce: a.nonce,
                },
            )?;
        }
        state.commit()?;
        Ok(state.root()?)
    }

    /// The snapshot as an in-memory state.
    pub fn to_memory_state(&self) -> Result<MemoryState, GenesisError> {
        let mut seen = HashSet::new();
        if let Some(a) = self.accounts.iter().find(|a| !seen.insert(a.id)) {
            return Err(GenesisError::DuplicateAccount(a.id));
        }
        // Built in bulk: the tree `load_into` an empty memory state leaves, node for node.
        Ok(MemoryState::with_accounts(self.accounts.iter().map(|a| {
            (
                a.id,
                Account {
                    public_key: a.public_key,
                    balance: a.balance,
                    nonce: a.nonce,
                },
            )
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ZERO;

    fn account(id: AccountId) -> GenesisAccount {
        GenesisAccount {
            id,
            public_key: ZERO,
            balance: 5,
            nonce: 0,
        }
    }

    #[test]
    fn round_trip_and_checks() {
        let g = Genesis::new(ChainId(1), vec![account(3), account(1)]);
        assert_eq!(g.accounts[0].id, 1, "accounts are kept in id order");
        assert_eq!(Genesis::from_json(&g.to_json()).unwrap(), g);

        let mut dup = g.clone();
        dup.accounts.push(account(1));
        assert!(matches!(
            Genesis::from_json(&dup.to_json()),
            Err(GenesisError::DuplicateAccount(1))
        ));
        let mut v2 = g.clone();
        v2.version = 2;
        assert!(matches!(
            Genesis::from_json(&v2.to_json()),
            Err(GenesisError::UnsupportedVersion { found: 2 })
        ));
        let bad_digest = g.to_json().replace(
            "0x0000000000000000000000000000000000000000000000000000000000000000",
            "0xffffffffffffffff000000000000000000000000000000000000000000000000",
        );
        let err = Genesis::from_json(&bad_digest).unwrap_err().to_string();
        assert!(err.contains("not canonical"), "{err}");

        let mut state = g.to_memory_state().unwrap();
        assert_eq!(state.account(3).unwrap().map(|a| a.balance), Some(5));
        assert!(matches!(
            g.load_into(&mut state),
            Err(GenesisError::StateNotEmpty)
        ));
    }
}
