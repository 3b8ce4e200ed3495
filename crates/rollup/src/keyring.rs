//! The secret side of generated accounts: each account's 32-byte key seed (`keyring.json`), so
//! that later batches of the same accounts can be signed.

use serde::{Deserialize, Serialize};

use crate::signature::{SignatureError, XmssKeyPair};
use crate::state::AccountId;

/// Version of the keyring JSON format.
pub const KEYRING_FORMAT_VERSION: u16 = 1;

/// One account's key seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringEntry {
    /// The account the seed signs for.
    pub account_id: AccountId,
    /// 32 bytes as 64 hex digits.
    pub seed: String,
}

/// Key seeds of accounts, all with one-time-key trees of `tree_height`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyring {
    /// [`KEYRING_FORMAT_VERSION`] when written; a reader refuses any other.
    pub version: u16,
    /// Height of every account's one-time-key tree (`2^tree_height` signatures per account).
    pub tree_height: usize,
    /// One entry per account, sorted by account id.
    pub keys: Vec<KeyringEntry>,
}

/// Why a keyring could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The text is not a keyring's JSON.
    #[error("invalid keyring JSON: {0}")]
    Json(String),
    /// The keyring was written in a format version this build does not read.
    #[error("unsupported keyring format version {found} (this build reads version {KEYRING_FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The version the file declares.
        found: u16,
    },
    /// No seed for the account asked for.
    #[error("keyring has no seed for account {0}")]
    UnknownAccount(AccountId),
    /// An entry's seed is not 64 hex digits.
    #[error("seed of account {account} is not 32 bytes of hex: {reason}")]
    BadSeed {
        /// The entry's account.
        account: AccountId,
        /// What is wrong with the seed.
        reason: String,
    },
    /// The key pair could not be rebuilt from the seed (e.g. the nonce is past the tree's
    /// keys).
    #[error("key of account {account}: {source}")]
    Key {
        /// The account.
        account: AccountId,
        /// The signature scheme's error.
        source: SignatureError,
    },
}

impl Keyring {
    /// An empty keyring for accounts with one-time-key trees of `tree_height`.
    pub fn new(tree_height: usize) -> Self {
        Self {
            version: KEYRING_FORMAT_VERSION,
            tree_height,
            keys: Vec::new(),
        }
    }

    /// Records `account_id`'s seed, replacing any earlier one; entries stay sorted by account.
    pub fn insert(&mut self, account_id: AccountId, seed: &[u8; 32]) {
        self.keys.retain(|k| k.account_id != account_id);
        self.keys.push(KeyringEntry {
            account_id,
            seed: hex::encode(seed),
        });
        self.keys.sort_by_key(|k| k.account_id);
    }

    /// The 32-byte key seed of `account_id`.
    pub fn seed(&self, account_id: AccountId) -> Result<[u8; 32], KeyringError> {
        let entry = self
            .keys
            .iter()
            .find(|k| k.account_id == account_id)
            .ok_or(KeyringError::UnknownAccount(account_id))?;
        let bytes = hex::decode(&entry.seed).map_err(|e| KeyringError::BadSeed {
            account: account_id,
            reason: e.to_string(),
        })?;
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyringError::BadSeed {
                account: account_id,
                reason: format!("{} bytes", b.len()),
            })
    }

    /// The key pair of `account_id`, ready to sign with one-time key `nonce`.
    pub fn key_pair(&self, account_id: AccountId, nonce: u32) -> Result<XmssKeyPair, KeyringError> {
        XmssKeyPair::generate_at(self.seed(account_id)?, self.tree_height, nonce).map_err(
            |source| KeyringError::Key {
                account: account_id,
                source,
            },
        )
    }

    /// The pretty-printed JSON of `keyring.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect(
            "a keyring has only string map keys and plain values: serialisation cannot fail",
        )
    }

    /// Reads `keyring.json`, refusing another format version.
    pub fn from_json(text: &str) -> Result<Self, KeyringError> {
        let k: Self = serde_json::from_str(text).map_err(|e| KeyringError::Json(e.to_string()))?;
        if k.version != KEYRING_FORMAT_VERSION {
            return Err(KeyringError::UnsupportedVersion { found: k.version });
        }
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_round_trip_and_errors_name_the_account() {
        let mut k = Keyring::new(2);
        k.insert(4, &[7; 32]);
        k.insert(2, &[9; 32]);
        let k = Keyring::from_json(&k.to_json()).unwrap();
        assert_eq!(k.seed(4).unwrap(), [7; 32]);
        assert_eq!(k.keys[0].account_id, 2);
        let pair = k.key_pair(4, 1).unwrap();
        assert_eq!(pair.next_unused(), 1);
        assert_eq!(
            pair.public_key(),
            XmssKeyPair::generate([7; 32], 2).unwrap().public_key()
        );
        assert!(matches!(k.seed(5), Err(KeyringError::UnknownAccount(5))));

        let mut bad = k.clone();
        bad.keys[0].seed = "abcd".into();
        assert!(matches!(
            bad.seed(2),
            Err(KeyringError::BadSeed { account: 2, .. })
        ));
        let mut tall = k;
        tall.tree_height = 40;
        assert!(matches!(
            tall.key_pair(4, 0),
            Err(KeyringError::Key { account: 4, .. })
        ));
    }
}
