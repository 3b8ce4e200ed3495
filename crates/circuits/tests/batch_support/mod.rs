//! Small generated batches shared by the whole-batch tests (batch.rs, pipeline.rs): the small
//! configuration and fixture batches of the shared test support.

use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_rollup::generate::GeneratorConfig;

/// 1 operation, 2 signatures, 2 deposits per instance, XMSS height 2: circuits build in seconds.
pub(crate) use zkfleet_test_support::keys::GEOMETRY;
pub(crate) const ARITY: usize = zkfleet_test_support::keys::ARITY as usize;
/// Operations of the batch: 5 state instances → 3 leaves → nodes at depth 0 (2) and 1 (1).
pub(crate) const OPERATIONS: usize = 5;

/// The first batch from `seeds` with at least one deposit and one signed operation.
pub(crate) fn batch_with_every_type(seeds: std::ops::Range<u64>) -> ExecutedBatch {
    zkfleet_test_support::fixtures::batch_with_every_type(
        &GeneratorConfig {
            accounts: 4,
            operations: OPERATIONS,
            tree_height: GEOMETRY.xmss_height as usize,
            ..GeneratorConfig::default()
        },
        seeds,
    )
    .executed
}
