//! What the basic-circuit test binaries share: the small geometry and the circuits built once
//! per binary.
//!
//! Each circuit type is built on first use behind its own `OnceLock`, so tests of one type do not
//! wait for another type's build (tests of one binary run in parallel threads).

#![allow(dead_code)] // Each test binary uses a different part of it.

use std::sync::OnceLock;

use zkfleet_circuits::basic::{BasicCircuit, BasicCircuitKind};
use zkfleet_circuits::BasicGeometry;

/// 3 signatures, 4 operations, 2 deposits per instance, XMSS height 2: every code path of the
/// basic circuits at the smallest useful size.
pub(crate) const GEOMETRY: BasicGeometry = BasicGeometry {
    signatures_per_instance: 3,
    operations_per_instance: 4,
    deposits_per_instance: 2,
    xmss_height: 2,
};

/// The circuit of `kind` at [`GEOMETRY`], built once per test binary.
pub(crate) fn circuit(kind: BasicCircuitKind) -> &'static BasicCircuit {
    static CIRCUITS: [OnceLock<BasicCircuit>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = BasicCircuitKind::ALL
        .iter()
        .position(|&k| k == kind)
        .expect("every kind is in ALL");
    CIRCUITS[slot].get_or_init(|| BasicCircuit::build(kind, &GEOMETRY).expect("build"))
}
