//! The small test keystore: one proving configuration whose circuits build in a minute or two
//! and prove in seconds (1 operation, 2 signatures, 2 deposits per basic instance, XMSS height
//! 2; arity 2; light compression), cached in one directory that every crate's tests share
//! (`target/tmp/test-keys-small-light`): the first test binary that needs it builds it, the
//! others load it (the keystore checks each cached file against its manifest).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use zkfleet_circuits::recursion::{BatchCircuits, CompressionProfile};
use zkfleet_circuits::{BasicGeometry, Keystore, ProvingConfiguration};

/// Basic-instance capacities of the small configuration.
pub const GEOMETRY: BasicGeometry = BasicGeometry {
    signatures_per_instance: 2,
    operations_per_instance: 1,
    deposits_per_instance: 2,
    xmss_height: 2,
};
/// Proofs aggregated per leaf and node.
pub const ARITY: u32 = 2;
/// The light compression chain (faster to build and prove than the standard one).
pub const COMPRESSION: CompressionProfile = CompressionProfile::Light;

/// The small configuration as the keystore names it.
pub const SMALL: ProvingConfiguration = ProvingConfiguration {
    geometry: GEOMETRY,
    arity: ARITY,
    compression: COMPRESSION,
};

/// The shared keystore directory under a test's `CARGO_TARGET_TMPDIR` (use
/// [`small_keys_dir!`](crate::small_keys_dir), which passes it).
pub fn small_keys_dir_in(target_tmpdir: impl AsRef<Path>) -> PathBuf {
    target_tmpdir.as_ref().join("test-keys-small-light")
}

/// The shared small keystore directory of the calling test crate's target directory.
#[macro_export]
macro_rules! small_keys_dir {
    () => {
        $crate::keys::small_keys_dir_in(env!("CARGO_TARGET_TMPDIR"))
    };
}

/// Whether every entry of the small configuration is in `dir` and matches its manifest.
pub fn is_cached(dir: &Path) -> bool {
    Keystore::open(dir)
        .map(|keystore| SMALL.keys().iter().all(|key| keystore.check(key).is_ok()))
        .unwrap_or(false)
}

/// Every circuit of the small configuration from the keystore `dir` (built there where
/// missing), loaded once per test binary. Blocks for minutes the first time: call it from a
/// blocking thread in async code.
pub fn small_circuits(dir: &Path) -> &'static BatchCircuits {
    static CIRCUITS: OnceLock<BatchCircuits> = OnceLock::new();
    CIRCUITS.get_or_init(|| {
        let keystore = Keystore::open(dir)
            .unwrap_or_else(|e| panic!("open the test keystore {}: {e}", dir.display()));
        let loaded = keystore.batch_circuits(&SMALL).unwrap_or_else(|e| {
            panic!("load or build the test circuits in {}: {e}", dir.display())
        });
        eprintln!(
            "test circuits from {} in {:.1} s: {:?}",
            dir.display(),
            loaded.elapsed.as_secs_f64(),
            loaded.sources
        );
        loaded.circuits
    })
}
