//! Geometry of the basic circuits: how many items one instance of each type proves.
//!
//! Every basic proof of one type must have the same `CommonCircuitData` so that the leaf circuit
//! of the next round can verify any of them; the geometry fixes that shape. It is part of the
//! keystore's cache key (through [`BasicGeometry::digest`]) and of every serialized witness, so a
//! witness cut for one geometry is never proved against circuit data of another.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::CircuitError;

/// Largest XMSS height the circuits accept: the rollup's bound (key indices stay far below the
/// 32-bit nonce limit).
pub const MAX_XMSS_HEIGHT: u32 = zkfleet_rollup::spec::MAX_XMSS_HEIGHT as u32;

/// Items per instance of each basic circuit type, and the signature tree height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BasicGeometry {
    /// Signatures verified by one signature-verification instance.
    pub signatures_per_instance: u32,
    /// Operations applied by one state-transition instance.
    pub operations_per_instance: u32,
    /// Deposits consumed by one priority-operations instance.
    pub deposits_per_instance: u32,
    /// Height of every account's one-time-key tree (docs/rollup.md §3, `h`).
    pub xmss_height: u32,
}

impl Default for BasicGeometry {
    /// Defaults chosen from measured gate counts (about 725 rows per signature at height 10,
    /// 200 per operation with the operator's fees credited once per instance, 12.4 per
    /// deposit) to fill a power-of-two degree: signature verification and state transition at
    /// 2^13 (11 signatures: 7,977 gates, 12 would be 8,702; 40 operations: 8,096 gates, 41
    /// would need 2^14, tests/basic_circuits.rs checks it), priority operations at 2^12
    /// (`cargo run --release -p zkfleet-bench --example cost_fill`). 11 signatures instead of
    /// 10 cut the 1,024-operation batch from 109 to 101 basic proofs and 0.524 to 0.501
    /// CPU-s per operation (docs/benchmarks.md, "Geometry sweep"); larger instances are
    /// cheaper per operation still but make the sample batch dearer (same section).
    fn default() -> Self {
        Self {
            signatures_per_instance: 11,
            operations_per_instance: 40,
            deposits_per_instance: 256,
            xmss_height: zkfleet_rollup::spec::DEFAULT_XMSS_HEIGHT as u32,
        }
    }
}

impl BasicGeometry {
    /// Checks that every capacity is positive and the tree height is usable.
    pub fn validate(&self) -> Result<(), CircuitError> {
        let capacities = [
            ("signatures_per_instance", self.signatures_per_instance),
            ("operations_per_instance", self.operations_per_instance),
            ("deposits_per_instance", self.deposits_per_instance),
        ];
        for (name, value) in capacities {
            if value == 0 {
                return Err(CircuitError::InvalidGeometry(format!(
                    "{name} must be at least 1"
                )));
            }
            if value > 4096 {
                return Err(CircuitError::InvalidGeometry(format!(
                    "{name} = {value} exceeds 4096 items per instance"
                )));
            }
        }
        if self.xmss_height == 0 || self.xmss_height > MAX_XMSS_HEIGHT {
            return Err(CircuitError::InvalidGeometry(format!(
                "xmss_height = {} must be in 1..={MAX_XMSS_HEIGHT}",
                self.xmss_height
            )));
        }
        Ok(())
    }

    /// Digest of the geometry (SHA-256 of a domain tag and the four fields' little-endian
    /// bytes), used in the keystore's cache keys.
    pub fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"zkfleet-basic-geometry-v1");
        for value in [
            self.signatures_per_instance,
            self.operations_per_instance,
            self.deposits_per_instance,
            self.xmss_height,
        ] {
            hasher.update(value.to_le_bytes());
        }
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_depends_on_every_field() {
        let base = BasicGeometry::default();
        let variants = [
            BasicGeometry {
                signatures_per_instance: base.signatures_per_instance + 1,
                ..base
            },
            BasicGeometry {
                operations_per_instance: base.operations_per_instance + 1,
                ..base
            },
            BasicGeometry {
                deposits_per_instance: base.deposits_per_instance + 1,
                ..base
            },
            BasicGeometry {
                xmss_height: base.xmss_height + 1,
                ..base
            },
        ];
        for variant in variants {
            assert_ne!(variant.digest(), base.digest(), "{variant:?}");
        }
    }

    #[test]
    fn rejects_empty_capacities_and_bad_heights() {
        let base = BasicGeometry::default();
        assert!(BasicGeometry {
            deposits_per_instance: 0,
            ..base
        }
        .validate()
        .is_err());
        assert!(BasicGeometry {
            xmss_height: 0,
            ..base
        }
        .validate()
        .is_err());
        assert!(BasicGeometry {
            xmss_height: 33,
            ..base
        }
        .validate()
        .is_err());
        assert!(base.validate().is_ok());
    }
}
