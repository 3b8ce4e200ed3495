//! Prover keys: Ed25519 key files, public keys as hex, session tokens and their hashes.

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A prover's key file: its registered name and its Ed25519 secret key (JSON, chmod 600).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProverKeyFile {
    /// The name the operator registers the prover under.
    pub prover: String,
    /// 64 hex digits: the Ed25519 seed.
    pub secret_key: String,
}

impl std::fmt::Debug for ProverKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProverKeyFile")
            .field("prover", &self.prover)
            .finish_non_exhaustive()
    }
}

/// Why a key file, public key or signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
    #[error("reading key file {path}: {source}")]
    Read {
        /// The key file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a prover key file (JSON, or the secret key, is malformed).
    #[error("key file {path} is not a prover key file: {reason}")]
    Malformed {
        /// The key file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not an Ed25519 public key as 64 hex digits.
    #[error("invalid public key {key:?}: {reason}")]
    PublicKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signature is malformed or does not verify.
    #[error("invalid signature: {0}")]
    Signature(String),
}

/// A prover's name and signing key.
pub struct ProverKey {
    /// The registered name the key logs in as.
    pub prover: String,
    key: SigningKey,
}

impl std::fmt::Debug for ProverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProverKey({}, {})", self.prover, self.public_key_hex())
    }
}

impl ProverKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate(prover: &str) -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self {
            prover: prover.to_owned(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads a key file ([`ProverKeyFile`], JSON); every failure names the file.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: ProverKeyFile = serde_json::from_str(&text).map_err(|e| KeyError::Malformed {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Self::from_key_file(&file).map_err(|reason| KeyError::Malformed {
            path: shown,
            reason,
        })
    }

    /// The key of a key file's contents: its seed (64 hex digits) and name are checked.
    pub fn from_key_file(file: &ProverKeyFile) -> Result<Self, String> {
        let bytes = hex::decode(file.secret_key.trim()).map_err(|e| format!("secret_key: {e}"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("secret_key is {} bytes, not 32", b.len()))?;
        validate_prover_name(&file.prover)?;
        Ok(Self {
            prover: file.prover.clone(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key file's contents for this key (its secret: write it where only the prover reads).
    pub fn to_key_file(&self) -> ProverKeyFile {
        ProverKeyFile {
            prover: self.prover.clone(),
            secret_key: hex::encode(self.key.to_bytes()),
        }
    }

    /// The Ed25519 public key as 64 lowercase hex digits: what the operator registers
    /// (`zkfleet provers add`).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Hex of the signature of `message`.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.key.sign(message).to_bytes())
    }
}

/// Names are what operators type and what metrics carry as labels: short and plain.
pub fn validate_prover_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("prover name {name:?} must be 1 to 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "prover name {name:?} may hold only ASCII letters, digits and -_."
        ));
    }
    Ok(())
}

/// Parses a public key as registered (64 hex digits), normalised to lowercase.
pub fn parse_public_key(hex_key: &str) -> Result<(VerifyingKey, String), KeyError> {
    let err = |reason: String| KeyError::PublicKey {
        key: hex_key.to_owned(),
        reason,
    };
    let bytes = hex::decode(hex_key.trim()).map_err(|e| err(e.to_string()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| err(format!("{} bytes, an Ed25519 key has 32", b.len())))?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|e| err(e.to_string()))?;
    if key.is_weak() {
        return Err(err("a weak (small-order) key".into()));
    }
    Ok((key, hex::encode(bytes)))
}

/// Checks `signature_hex` over `message` under `key` (strict: no malleable signatures).
pub(crate) fn verify_signature(
    key: &VerifyingKey,
    message: &[u8],
    signature_hex: &str,
) -> Result<(), KeyError> {
    let bytes =
        hex::decode(signature_hex.trim()).map_err(|e| KeyError::Signature(e.to_string()))?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
        KeyError::Signature(format!("{} bytes, an Ed25519 signature has 64", b.len()))
    })?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| KeyError::Signature("it does not verify under the prover's key".into()))
}

/// 32 random bytes as hex: challenges and session tokens.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database stores of a session token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_and_refuse_other_messages() {
        let key = ProverKey::generate("alice");
        let (public, hex_key) = parse_public_key(&key.public_key_hex()).unwrap();
        assert_eq!(hex_key, key.public_key_hex());
        let sig = key.sign_hex(b"hello");
        verify_signature(&public, b"hello", &sig).unwrap();
        assert!(verify_signature(&public, b"hullo", &sig).is_err());
        assert!(verify_signature(&public, b"hello", "00").is_err());
        let file = key.to_key_file();
        let back = ProverKey::from_key_file(&file).unwrap();
        assert_eq!(back.public_key_hex(), key.public_key_hex());
        assert!(parse_public_key("zz").is_err());
        assert!(validate_prover_name("a b").is_err());
    }
}
