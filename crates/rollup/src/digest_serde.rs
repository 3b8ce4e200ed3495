//! Serde adapters that write a Poseidon digest as `zkfleet_types::HashDigest` (`"0x"` + 64 hex
//! digits) and refuse, when reading, a digest whose elements are not canonical field elements.
//!
//! Use as `#[serde(with = "crate::digest_serde")]` on a `Digest`, or the `vec` / `option`
//! submodules on `Vec<Digest>` / `Option<Digest>`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zkfleet_types::HashDigest;

use crate::spec::{digest_to_hash_digest, hash_digest_to_digest, Digest};

fn from_hash_digest<E: serde::de::Error>(d: HashDigest) -> Result<Digest, E> {
    hash_digest_to_digest(d)
        .ok_or_else(|| E::custom(format!("digest {d} has an element ≥ p (not canonical)")))
}

/// Writes a digest as its `HashDigest` spelling.
pub fn serialize<S: Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
    digest_to_hash_digest(*d).serialize(s)
}

/// Reads a `HashDigest` spelling, refusing non-canonical elements.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
    from_hash_digest(HashDigest::deserialize(d)?)
}

/// The same adapter for `Vec<Digest>` (Merkle paths, signature chain values).
pub mod vec {
    use super::*;

    /// Writes each digest as its `HashDigest` spelling.
    pub fn serialize<S: Serializer>(v: &[Digest], s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<HashDigest> = v.iter().map(|d| digest_to_hash_digest(*d)).collect();
        v.serialize(s)
    }

    /// Reads a list of `HashDigest` spellings, refusing any non-canonical element.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Digest>, D::Error> {
        Vec::<HashDigest>::deserialize(d)?
            .into_iter()
            .map(from_hash_digest)
            .collect()
    }
}

/// The same adapter for `Option<Digest>` (a digest only some operations have).
pub mod option {
    use super::*;

    /// Writes `None` as null, a digest as its `HashDigest` spelling.
    pub fn serialize<S: Serializer>(v: &Option<Digest>, s: S) -> Result<S::Ok, S::Error> {
        v.map(digest_to_hash_digest).serialize(s)
    }

    /// Reads null or a `HashDigest` spelling, refusing non-canonical elements.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Digest>, D::Error> {
        Option::<HashDigest>::deserialize(d)?
            .map(from_hash_digest)
            .transpose()
    }
}
