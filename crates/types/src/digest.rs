//! 32-byte digests as they travel outside circuits.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::ParseError;

/// A 32-byte digest: usually a Poseidon digest, four Goldilocks field elements, each a canonical
/// `u64` (< p); the final verifying key's digest is a SHA-256, whose limbs may exceed p.
///
/// Outside circuits it is written as 64 hex digits: the four elements' little-endian bytes in
/// order, so that the same digest has one spelling in JSON, the database and logs.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashDigest(pub [u64; 4]);

impl HashDigest {
    /// The all-zero digest: a placeholder where no digest is known (the native executor's
    /// output leaves `recursion_tree_vk_digest` at zero; only the circuits know the keys).
    pub const ZERO: Self = Self([0; 4]);

    /// The 32-byte form: each element's little-endian bytes, in order.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, e) in self.0.iter().enumerate() {
            out[i * 8..(i + 1) * 8].copy_from_slice(&e.to_le_bytes());
        }
        out
    }

    /// Reads the 32-byte form written by [`HashDigest::to_bytes`]. Any bytes are accepted:
    /// limbs are not checked to be canonical field elements.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut e = [0u64; 4];
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            e[i] = u64::from_le_bytes(b);
        }
        Self(e)
    }

    /// The 64 lowercase hex digits of [`HashDigest::to_bytes`], without `0x` (`Display` adds it).
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }
}

impl fmt::Display for HashDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", self.to_hex())
    }
}

impl fmt::Debug for HashDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashDigest(0x{})", self.to_hex())
    }
}

impl FromStr for HashDigest {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_part = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(hex_part)
            .map_err(|e| ParseError::new("digest", s, format!("not hex: {e}")))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            ParseError::new("digest", s, format!("expected 32 bytes, got {}", b.len()))
        })?;
        Ok(Self::from_bytes(bytes))
    }
}

impl Serialize for HashDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HashDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let d = HashDigest([1, 2, u64::MAX - 5, 0x1234]);
        let s = d.to_string();
        assert_eq!(s.len(), 66);
        assert_eq!(s.parse::<HashDigest>().unwrap(), d);
        assert_eq!(
            serde_json::from_str::<HashDigest>(&serde_json::to_string(&d).unwrap()).unwrap(),
            d
        );
        assert!("0x12"
            .parse::<HashDigest>()
            .unwrap_err()
            .reason
            .contains("32 bytes"));
        assert!("zz"
            .parse::<HashDigest>()
            .unwrap_err()
            .reason
            .contains("not hex"));
    }
}
