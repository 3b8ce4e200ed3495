//! Protocol versions: which circuits a fleet can prove.
//!
//! A protocol version names one set of circuits. Every job row carries the version it must be
//! proven under and a worker only picks jobs of the version whose keys it holds, so two fleets
//! of different versions can share a database during an upgrade (as ZKsync's do).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::{HashDigest, ParseError};

/// Semantic protocol version `0.minor.patch` (the major is always 0, as in ZKsync).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolSemanticVersion {
    /// The minor version: a new set of circuits.
    pub minor: u16,
    /// The patch version within the minor.
    pub patch: u16,
}

impl ProtocolSemanticVersion {
    /// Version `0.minor.patch`.
    pub const fn new(minor: u16, patch: u16) -> Self {
        Self { minor, patch }
    }
}

impl fmt::Display for ProtocolSemanticVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0.{}.{}", self.minor, self.patch)
    }
}

impl FromStr for ProtocolSemanticVersion {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ParseError::new("protocol version", s, reason);
        let parts: Vec<&str> = s.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(err("expected 0.MINOR.PATCH"));
        };
        if *major != "0" {
            return Err(err("major version must be 0"));
        }
        let minor = minor
            .parse()
            .map_err(|_| err("minor is not a number in 0..=65535"))?;
        let patch = patch
            .parse()
            .map_err(|_| err("patch is not a number in 0..=65535"))?;
        Ok(Self { minor, patch })
    }
}

impl Serialize for ProtocolSemanticVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ProtocolSemanticVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Digest of a verifying key (or of a set of them), as recorded per protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VkDigest(pub HashDigest);

impl fmt::Display for VkDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for VkDigest {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(VkDigest)
    }
}

/// A protocol version and the verifying keys it stands for.
///
/// `recursion_tree_vk_digest` commits to every verifying key of the recursion tree (basic,
/// leaf, node, recursion tip, scheduler); the scheduler exposes it as part of the batch public
/// output. `final_vk_digest` is the SHA-256 of the final verifying key file (every byte of the
/// compression circuit's key, common data included), the only
/// key a third party needs to check a final proof (ZKsync records its SNARK-wrapper key hash the
/// same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProtocolVersion {
    /// The version jobs carry and workers match on.
    pub version: ProtocolSemanticVersion,
    /// Digest of every verifying key of the recursion tree (basic to scheduler).
    pub recursion_tree_vk_digest: VkDigest,
    /// SHA-256 of the final (compression) verifying key file.
    pub final_vk_digest: VkDigest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let v: ProtocolSemanticVersion = "0.31.2".parse().unwrap();
        assert_eq!(v, ProtocolSemanticVersion::new(31, 2));
        assert_eq!(v.to_string(), "0.31.2");
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"0.31.2\"");
        for bad in ["1.2.3", "0.2", "0.x.1", "0.70000.0", ""] {
            assert!(bad.parse::<ProtocolSemanticVersion>().is_err(), "{bad}");
        }
        assert!(ProtocolSemanticVersion::new(1, 9) < ProtocolSemanticVersion::new(2, 0));
    }
}
