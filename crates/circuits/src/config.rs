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

/// The fleet's default recursion arity: basic proofs per leaf, and leaf or node proofs per node.
///
/// The one definition every component's default reads (witness generator, circuit prover,
/// compressor, prover API, the CLI's `[proving]`): the witness generator cuts leaf and node jobs
/// for an arity and the circuit provers' recursion circuits are built for one, so components
/// that defaulted to different arities would not prove a batch together.
///
/// 3, from the geometry sweep with the batched hasher (docs/benchmarks.md, "Geometry sweep,
/// batched hasher"): at the default 2^15 geometry a leaf or node verifying three children still
/// fits 2^14 rows, as one verifying two does (the keystore's manifest), so it costs the same
/// ~3.2 CPU-s and covers half as many children again. The 1,024-operation batch took 0.221
/// CPU-s per operation at arity 3 against 0.263 at arity 2 (11 leaf and 6 node proofs against
/// 15 and 15), and the 8-operation sample batch 47.6 against 48.8 CPU-s (three leaves and three
/// nodes either way). Arity 4 was not measured at this geometry (on 2^13 children its node
/// needed 2^15 rows where arity 2 needed 2^13: docs/proofs.md, "Choosing the arity").
pub const DEFAULT_ARITY: u32 = 3;

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
    /// 2^15 (45 signatures: 32,624 gates, 46 would need 2^16; 163 operations: 32,735 gates, 164
    /// would need 2^16, tests/basic_circuits.rs checks it), priority operations at 2^12 (one
    /// instance holds a 1,024-operation batch's ~210 deposits; `cargo run --release -p
    /// zkfleet-bench --example cost_fill`). The geometry sweep with the batched hasher
    /// (docs/benchmarks.md, "Geometry sweep, batched hasher") chose it: the cheapest per
    /// operation whose sample batch (`zkfleet prove --example`, three full-size basic proofs
    /// whatever it holds) stays within issue 18's ≤ 30 s of proving on 2 cores: 0.263 CPU-s per
    /// operation on the 1,024-operation batch (0.342 at 2^13), 0.221 at arity 3; 2^16 instances
    /// cost no less at arity 3 (0.223) and make the sample batch dearer (61.5 CPU-s against 48.8).
    fn default() -> Self {
        Self {
            signatures_per_instance: 45,
            operations_per_instance: 163,
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
