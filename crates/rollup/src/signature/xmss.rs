//! XMSS-style many-time keys: 2^h WOTS one-time keys under a Poseidon Merkle tree.
//!
//! The account public key is the tree root. Key index `k` is the account nonce, so the state —
//! not the signer's memory — guarantees that no one-time key signs twice on chain; the key pair
//! still tracks the next unused index and refuses to sign with an older one, because two
//! signatures under one WOTS key let anyone forge a third.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use zkfleet_types::HashDigest;

use super::wots;
use crate::spec::{
    digest_to_hash_digest, merkle_root_from_path, seed_elements, two_to_one, Digest, F,
    MAX_XMSS_HEIGHT, WOTS_L,
};

/// Why a key could not be generated, a message could not be signed, or a signature does not
/// verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A key tree (asked for, or claimed by a signature's path) outside `1..=MAX_XMSS_HEIGHT`.
    #[error("one-time-key tree height {height} is outside 1..={MAX_XMSS_HEIGHT}")]
    HeightOutOfRange {
        /// The height.
        height: usize,
    },
    /// Signing with a one-time key past the tree's last one: the account's keys are spent.
    #[error("one-time key {key_index} does not exist: a tree of height {height} has {} keys", 1u64 << height)]
    KeyIndexOutOfRange {
        /// The key asked for.
        key_index: u64,
        /// The tree's height.
        height: usize,
    },
    /// Signing with a one-time key this pair has already used.
    #[error("one-time key {key_index} was already used (next unused key is {next_unused}); signing twice with one key would let anyone forge")]
    KeyIndexReused {
        /// The key asked for.
        key_index: u32,
        /// The lowest key still unused.
        next_unused: u32,
    },
    /// A signature without exactly `WOTS_L` chain values.
    #[error("signature has {got} chain values, expected {WOTS_L}")]
    WrongChainCount {
        /// How many it has.
        got: usize,
    },
    /// The signature is well formed but not of this message under this public key.
    #[error("signature does not verify under the public key")]
    Mismatch,
}

/// A signature: the one-time key index, the 133 WOTS chain values and the `h` siblings of the
/// one-time key's leaf (lowest level first). The default is the empty signature, which never
/// verifies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The one-time key used; must equal the sender's nonce.
    pub key_index: u32,
    /// The WOTS chain values (`WOTS_L` of them), from which the one-time public key is
    /// recomputed.
    #[serde(with = "crate::digest_serde::vec")]
    pub chain_values: Vec<Digest>,
    /// The siblings from the one-time key's leaf up to the account's public key (the root),
    /// lowest level first.
    #[serde(with = "crate::digest_serde::vec")]
    pub auth_path: Vec<Digest>,
}

impl Signature {
    /// Height of the one-time-key tree this signature claims (its authentication path length).
    pub fn height(&self) -> usize {
        self.auth_path.len()
    }
}

/// A key pair: the seed, the full one-time-key tree (so that signing needs no regeneration), and
/// the next unused one-time key.
#[derive(Clone)]
pub struct XmssKeyPair {
    seed: [u8; 32],
    seed_elements: [F; 4],
    /// `levels[0]` are the 2^h one-time public keys, `levels[h]` is `[root]`.
    levels: Vec<Vec<Digest>>,
    next_unused: u32,
}

impl std::fmt::Debug for XmssKeyPair {
    // The seed is secret: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmssKeyPair")
            .field("public_key", &self.public_key_digest())
            .field("height", &self.height())
            .field("next_unused", &self.next_unused)
            .finish()
    }
}

impl XmssKeyPair {
    /// Generate the key pair of `seed` with 2^`height` one-time keys. The one-time public keys
    /// are computed in parallel (rayon): at height 10 this is 1,024 × (133 + 399 + 67) Poseidon
    /// permutations.
    pub fn generate(seed: [u8; 32], height: usize) -> Result<Self, SignatureError> {
        if !(1..=MAX_XMSS_HEIGHT).contains(&height) {
            return Err(SignatureError::HeightOutOfRange { height });
        }
        let s = seed_elements(&seed);
        let leaves: Vec<Digest> = (0..1u32 << height)
            .into_par_iter()
            .map(|k| wots::public_key(&s, k))
            .collect();
        let mut levels = vec![leaves];
        while levels.last().map_or(0, Vec::len) > 1 {
            let below = &levels[levels.len() - 1];
            let above: Vec<Digest> = below
                .par_chunks(2)
                .map(|pair| two_to_one(pair[0], pair[1]))
                .collect();
            levels.push(above);
        }
        Ok(Self {
            seed,
            seed_elements: s,
            levels,
            next_unused: 0,
        })
    }

    /// Like [`generate`](Self::generate), for an account that has already used the one-time
    /// keys below `next_unused` (its nonce).
    pub fn generate_at(
        seed: [u8; 32],
        height: usize,
        next_unused: u32,
    ) -> Result<Self, SignatureError> {
        let mut pair = Self::generate(seed, height)?;
        pair.next_unused = next_unused;
        Ok(pair)
    }

    /// The secret seed the pair derives from (what a keyring stores).
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// Height of the one-time-key tree (`2^height` keys).
    pub fn height(&self) -> usize {
        self.levels.len() - 1
    }

    /// The next one-time key this pair will sign with.
    pub fn next_unused(&self) -> u32 {
        self.next_unused
    }

    /// The account public key: the root of the one-time-key tree.
    pub fn public_key_digest(&self) -> Digest {
        self.levels[self.height()][0]
    }

    /// The public key as it travels outside circuits.
    pub fn public_key(&self) -> HashDigest {
        digest_to_hash_digest(self.public_key_digest())
    }

    /// Sign `message` with one-time key `key_index` (the account nonce) and mark every key up to
    /// it used. Refuses a key that does not exist or was already used.
    pub fn sign(&mut self, key_index: u32, message: Digest) -> Result<Signature, SignatureError> {
        let height = self.height();
        if u64::from(key_index) >= 1u64 << height {
            return Err(SignatureError::KeyIndexOutOfRange {
                key_index: u64::from(key_index),
                height,
            });
        }
        if key_index < self.next_unused {
            return Err(SignatureError::KeyIndexReused {
                key_index,
                next_unused: self.next_unused,
            });
        }
        let chain_values = wots::sign(&self.seed_elements, key_index, message);
        let auth_path = (0..height)
            .map(|level| {
                let node = (key_index as usize >> level) ^ 1;
                self.levels[level][node]
            })
            .collect();
        self.next_unused = key_index + 1;
        Ok(Signature {
            key_index,
            chain_values: chain_values.to_vec(),
            auth_path,
        })
    }
}

/// Verify `signature` on `message` under `public_key`: recompute the one-time public key from
/// the chain values, walk the authentication path by the bits of the key index, compare roots.
pub fn verify(
    public_key: Digest,
    message: Digest,
    signature: &Signature,
) -> Result<(), SignatureError> {
    let root = recover_public_key(message, signature)?;
    if root == public_key {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The public key `signature` on `message` is valid under: the root its one-time public key
/// (recomputed from the chain values) and authentication path lead to. [`verify`] is this
/// compared with the signer's key; it needs no key, so a batch's signatures can be checked
/// all at once, in parallel, before the state says whose key each must be. Errors are the
/// signature's shape (height, key index, chain count), in [`verify`]'s order.
pub fn recover_public_key(
    message: Digest,
    signature: &Signature,
) -> Result<Digest, SignatureError> {
    let height = signature.height();
    if !(1..=MAX_XMSS_HEIGHT).contains(&height) {
        return Err(SignatureError::HeightOutOfRange { height });
    }
    if u64::from(signature.key_index) >= 1u64 << height {
        return Err(SignatureError::KeyIndexOutOfRange {
            key_index: u64::from(signature.key_index),
            height,
        });
    }
    let chain_values: &[Digest; WOTS_L] =
        signature.chain_values.as_slice().try_into().map_err(|_| {
            SignatureError::WrongChainCount {
                got: signature.chain_values.len(),
            }
        })?;
    let leaf = wots::public_key_from_signature(signature.key_index, message, chain_values);
    Ok(merkle_root_from_path(
        leaf,
        u64::from(signature.key_index),
        &signature.auth_path,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{tx_message_digest, TxMessage, KIND_TRANSFER, KIND_WITHDRAW};

    fn message(nonce: u32, amount: u64) -> Digest {
        tx_message_digest(&TxMessage {
            kind: KIND_TRANSFER,
            chain_id: 270,
            from: 3,
            to: 4,
            amount,
            fee: 2,
            nonce,
            l1_recipient: [0; 20],
        })
    }

    #[test]
    fn sign_and_verify_every_key_of_a_small_tree() {
        let mut pair = XmssKeyPair::generate([1; 32], 3).unwrap();
        let pk = pair.public_key_digest();
        for k in 0..8 {
            let m = message(k, 100 + u64::from(k));
            let sig = pair.sign(k, m).unwrap();
            assert_eq!(sig.height(), 3);
            assert_eq!(sig.chain_values.len(), WOTS_L);
            verify(pk, m, &sig).unwrap();
        }
        assert_eq!(
            pair.sign(8, message(8, 1)),
            Err(SignatureError::KeyIndexOutOfRange {
                key_index: 8,
                height: 3
            })
        );
    }

    #[test]
    fn wrong_message_wrong_key_and_tampering_are_rejected() {
        let mut pair = XmssKeyPair::generate([2; 32], 2).unwrap();
        let other = XmssKeyPair::generate([3; 32], 2).unwrap();
        let m = message(0, 5);
        let sig = pair.sign(0, m).unwrap();
        verify(pair.public_key_digest(), m, &sig).unwrap();

        assert_eq!(
            verify(pair.public_key_digest(), message(0, 6), &sig),
            Err(SignatureError::Mismatch)
        );
        let withdraw = tx_message_digest(&TxMessage {
            kind: KIND_WITHDRAW,
            chain_id: 270,
            from: 3,
            to: 4,
            amount: 5,
            fee: 2,
            nonce: 0,
            l1_recipient: [0; 20],
        });
        assert_eq!(
            verify(pair.public_key_digest(), withdraw, &sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(other.public_key_digest(), m, &sig),
            Err(SignatureError::Mismatch)
        );

        let mut moved = sig.clone();
        moved.key_index = 1;
        assert_eq!(
            verify(pair.public_key_digest(), m, &moved),
            Err(SignatureError::Mismatch)
        );
        let mut short = sig.clone();
        short.chain_values.pop();
        assert_eq!(
            verify(pair.public_key_digest(), m, &short),
            Err(SignatureError::WrongChainCount { got: WOTS_L - 1 })
        );
        let mut bad_path = sig.clone();
        bad_path.auth_path.swap(0, 1);
        assert_eq!(
            verify(pair.public_key_digest(), m, &bad_path),
            Err(SignatureError::Mismatch)
        );
        let mut too_far = sig;
        too_far.key_index = 4;
        assert!(matches!(
            verify(pair.public_key_digest(), m, &too_far),
            Err(SignatureError::KeyIndexOutOfRange { .. })
        ));
    }

    #[test]
    fn a_used_one_time_key_is_refused() {
        let mut pair = XmssKeyPair::generate([4; 32], 2).unwrap();
        pair.sign(1, message(1, 1)).unwrap();
        assert_eq!(
            pair.sign(1, message(1, 2)),
            Err(SignatureError::KeyIndexReused {
                key_index: 1,
                next_unused: 2
            })
        );
        assert_eq!(
            pair.sign(0, message(0, 2)),
            Err(SignatureError::KeyIndexReused {
                key_index: 0,
                next_unused: 2
            })
        );
        pair.sign(2, message(2, 2)).unwrap();
    }

    #[test]
    fn keygen_is_deterministic_and_seed_dependent() {
        let a = XmssKeyPair::generate([5; 32], 2).unwrap();
        let b = XmssKeyPair::generate([5; 32], 2).unwrap();
        let c = XmssKeyPair::generate([6; 32], 2).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
        assert_ne!(
            a.public_key(),
            XmssKeyPair::generate([5; 32], 3).unwrap().public_key()
        );
        assert!(matches!(
            XmssKeyPair::generate([5; 32], 0),
            Err(SignatureError::HeightOutOfRange { height: 0 })
        ));
        assert!(format!("{a:?}").find("seed").is_none());
    }

    /// Fixed vector: a change to any hash encoding of docs/rollup.md §3 changes this public key
    /// and signature. The circuits' tests check the same values.
    #[test]
    fn signature_vector() {
        let mut pair = XmssKeyPair::generate([7; 32], 2).unwrap();
        let m = message(1, 1000);
        let sig = pair.sign(1, m).unwrap();
        let pk = pair.public_key();
        verify(pair.public_key_digest(), m, &sig).unwrap();
        let vector = serde_json::json!({
            "public_key": pk,
            "message": digest_to_hash_digest(m),
            "first_chain_value": digest_to_hash_digest(sig.chain_values[0]),
        });
        assert_eq!(
            vector,
            serde_json::from_str::<serde_json::Value>(SIGNATURE_VECTOR).unwrap()
        );
    }

    const SIGNATURE_VECTOR: &str = include_str!("../../tests/vectors/signature.json");
}
